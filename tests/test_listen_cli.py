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
