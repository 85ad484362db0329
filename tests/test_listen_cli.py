"""`listen`: its summary line over a recording, and its stdout contract kept."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from assistant.audio import write_wav
from assistant.cli import main
from assistant.voice.tts import SAMPLE_RATE, Synthesizer


def quiet(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32)


def test_listen_file_with_nothing_said_ends_with_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three seconds of silence: nothing on stdout, and one summary line on stderr saying
    that no utterance was heard."""
    wav = tmp_path / "quiet.wav"
    write_wav(wav, quiet(3.0))
    main(["listen", "--file", str(wav)])
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [f"{wav}: 3.0 s of audio, 0 utterances heard: 0 commands, "
                                "0 rejected."]


def test_listen_file_json_keeps_stdout_to_commands_and_counts_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], synth: Synthesizer
) -> None:
    """With --json, stdout is exactly one JSON line per command; stderr ends with the
    summary, whose command count is that number of lines."""
    wav = tmp_path / "said.wav"
    parts = [quiet(1.0), synth.render("pause"), quiet(1.5), synth.render("next"), quiet(1.0)]
    write_wav(wav, np.concatenate(parts))
    main(["listen", "--file", str(wav), "--json"])
    out, err = capsys.readouterr()
    heard = [json.loads(line) for line in out.splitlines()]
    assert [h["command"] for h in heard] == ["pause", "next"]
    assert all(set(h) == {"command", "text", "confidence", "start", "end"} for h in heard)
    last = err.splitlines()[-1]
    match = re.fullmatch(rf"{re.escape(str(wav))}: \d+\.\d s of audio, (\d+) utterances "
                         r"heard: 2 commands, (\d+) rejected(?: \(--verbose shows why\))?\.",
                         last)
    assert match, last
    assert int(match[1]) == 2 + int(match[2])


def said(tmp_path: Path, synth: Synthesizer, *phrases: str) -> Path:
    """A recording of `phrases` said one after another, 1.5 s apart."""
    wav = tmp_path / "said.wav"
    parts = [quiet(1.0)]
    for phrase in phrases:
        parts += [synth.render(phrase), quiet(1.5)]
    write_wav(wav, np.concatenate(parts))
    return wav


def heard_commands(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    main(argv)
    return [json.loads(line)["command"] for line in capsys.readouterr().out.splitlines()]


def test_listen_expect_hears_a_recording_as_the_session_does_at_that_moment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], synth: Synthesizer
) -> None:
    """Of "yes", "six", "pause" and "resume", `--expect commands` hears only pause and
    resume (as during a set), `question` yes too, `rating` the number six too, and no
    --expect all four."""
    wav = said(tmp_path, synth, "yes", "six", "pause", "resume")
    base = ["listen", "--file", str(wav), "--json"]
    assert heard_commands(base, capsys) == ["yes", "number", "pause", "resume"]
    assert heard_commands([*base, "--expect", "commands"], capsys) == ["pause", "resume"]
    assert heard_commands([*base, "--expect", "question"], capsys) == ["yes", "pause", "resume"]
    assert heard_commands([*base, "--expect", "rating"], capsys) == ["number", "pause", "resume"]


def test_listen_expect_uses_the_sessions_own_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands `--expect X` narrows the ear to are exactly the session's EXPECTED[X],
    the sets `Session.expecting` returns, for each of commands, question and rating."""
    from assistant import listening, session
    from assistant.commands import Command

    assert listening.expected(None) is None
    for context in ("commands", "question", "rating"):
        assert listening.expected(context) is session.EXPECTED[context]
    assert {Command.PAUSE, Command.RESUME} <= session.EXPECTED["commands"]
    assert session.EXPECTED["question"] - session.EXPECTED["commands"] == {Command.YES,
                                                                           Command.NO}
    assert session.EXPECTED["rating"] - session.EXPECTED["commands"] == {Command.NUMBER}


def test_listen_help_explains_expect(capsys: pytest.CaptureFixture[str]) -> None:
    """`listen --help` names --expect with its three moments and says what each hears."""
    main(["listen", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--expect [commands|question|rating]" in text
    assert ("Hear as the session does at one moment: commands (during a set: the commands "
            "only), question (plus yes and no), rating (plus the numbers 0-10); without it, "
            "everything.") in text


def test_listen_expect_with_a_bad_moment_is_a_usage_error(
    capsys: pytest.CaptureFixture[str]
) -> None:
    """`--expect maybe` exits 2 with one line naming the choices, and no traceback."""
    with pytest.raises(SystemExit) as exit_:
        main(["listen", "--expect", "maybe"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("exercise-assistant: Invalid value for '--expect': 'maybe' is not "
                             "one of 'commands', 'question', 'rating'")


def test_listen_verbose_shows_what_was_heard_in_a_rejected_utterance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], synth: Synthesizer
) -> None:
    """A word that is no command ("hello"), with --verbose: its rejected line says the
    text Whisper heard, in the human output ('hello') and in JSON ("text": "hello")."""
    wav = said(tmp_path, synth, "hello")
    main(["listen", "--file", str(wav), "--verbose"])
    err = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r" +\d+\.\d\d- +\d+\.\d\ds  rejected: not a command 'hello'", err[0]), err
    main(["listen", "--file", str(wav), "--verbose", "--json"])
    rejected = json.loads(capsys.readouterr().err.splitlines()[0])["rejected"]
    assert (rejected["reason"], rejected["text"]) == ("not a command", "hello")


def test_listen_file_decides_in_a_second_process_and_prints_the_same_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], synth: Synthesizer,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands, other words and a sentence too long to be one: `listen --file --json
    --verbose` hands every utterance but the too-long one to the worker process, and
    prints exactly the lines (stdout and stderr) it prints deciding each one as live."""
    from assistant import listening
    from assistant.ear.pipeline import WhisperPipeline

    wav = said(tmp_path, synth, "pause", "hello", "six",
               "I will call my sister next week, and we will go to the park together", "next")
    argv = ["listen", "--file", str(wav), "--json", "--verbose"]
    submitted: list[int] = []
    submit = WhisperPipeline.submit

    def counted(self: WhisperPipeline, *, over_speech: bool) -> object:
        submitted.append(1)
        return submit(self, over_speech=over_speech)

    monkeypatch.setattr(WhisperPipeline, "submit", counted)
    main(argv)
    fast = capsys.readouterr()
    monkeypatch.setattr(listening, "PIPELINE", False)
    main(argv)
    live = capsys.readouterr()
    assert (fast.out, fast.err) == (live.out, live.err)
    assert [json.loads(line)["command"] for line in live.out.splitlines()] == [
        "pause", "number", "next"]
    rejected = [json.loads(line)["rejected"]["reason"] for line in live.err.splitlines()[:-1]]
    assert rejected.count("too long") == 1
    assert len(submitted) == 3 + len(rejected) - 1


def test_listen_file_shows_a_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    """With stderr a terminal, `listen --file` draws a progress bar ("listening", a percent)
    there; with stderr a pipe, stderr holds the summary line alone."""
    import os
    import pty
    import subprocess
    import sys

    wav = tmp_path / "quiet.wav"
    write_wav(wav, quiet(3.0))
    argv = [sys.executable, "-m", "assistant", "listen", "--file", str(wav), "--engine",
            "pocketsphinx"]
    root = Path(__file__).resolve().parents[1]
    master, slave = pty.openpty()
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=slave, cwd=root, timeout=120)
    os.close(slave)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    assert done.returncode == 0 and done.stdout == b""
    text = drawn.decode("utf-8", "replace")
    assert "listening" in text and "%" in text, text
    piped = subprocess.run(argv, capture_output=True, text=True, cwd=root, timeout=120)
    assert piped.stderr.splitlines() == [f"{wav}: 3.0 s of audio, 0 utterances heard: "
                                         "0 commands, 0 rejected."]
