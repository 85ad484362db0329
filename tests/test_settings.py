"""The settings file (settings.yaml in the config folder): parsed once into exact values, and
every problem in it reported as one line naming the file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import call

from assistant.cli import main
from assistant.commands import Command, Intent
from assistant.errors import SettingsError
from assistant.settings import Settings, load_settings


@pytest.fixture
def settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The settings file the program reads, with XDG folders in tmp_path."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    folder = tmp_path / "config" / "exercise-assistant"
    folder.mkdir(parents=True)
    return folder / "settings.yaml"


RATE = "rate: expected a whole number from 80 to 400 (words per minute)"
PAUSE_LIMIT = "pause_limit: expected a duration from 10s to 24h (such as 45s, 2m or 1m30s)"


def problem(path: Path, content: str | bytes) -> str:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    return str(caught.value)


def test_a_missing_or_empty_settings_file_gives_the_defaults(settings_file: Path) -> None:
    """No file, an empty file and a comment-only file all give Settings() exactly."""
    assert load_settings(settings_file) == Settings()
    settings_file.write_text("")
    assert load_settings(settings_file) == Settings()
    settings_file.write_text("# nothing yet\n")
    assert load_settings(settings_file) == Settings()


def test_every_setting_is_parsed_into_its_exact_value(settings_file: Path) -> None:
    """Each documented key becomes its typed value; synonyms are normalized phrases mapped to
    commands, and the vocabulary then hears them as those commands."""
    settings_file.write_text(
        "voice: en-us\nrate: 160\nvolume: 0.9\nengine: pocketsphinx\nmodel: ~/models/small\n"
        "input_device: pulse\noutput_device: '7'\npause_limit: 1m30s\n"
        "synonyms:\n  Hang on: pause\n  onwards: next\n"
    )
    settings = load_settings(settings_file)
    assert settings == Settings(
        voice="en-us", rate=160, volume=0.9, engine="pocketsphinx",
        model=Path("~/models/small").expanduser(), input_device="pulse", output_device="7",
        pause_limit=90.0, synonyms={"hang on": Command.PAUSE, "onwards": Command.NEXT},
    )
    vocabulary = settings.vocabulary()
    assert vocabulary.parse("hang on") == Intent(Command.PAUSE)
    assert vocabulary.parse("onwards") == Intent(Command.NEXT)


def test_command_line_values_override_the_file_and_none_means_not_given(
        settings_file: Path) -> None:
    """override() replaces only the values that were given (not None)."""
    settings_file.write_text("rate: 160\nvoice: en-gb\n")
    settings = load_settings(settings_file).override(rate=200, voice=None, volume=None)
    assert (settings.rate, settings.voice, settings.volume) == (200, "en-gb", None)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("rate: 160\nbogus: 1\n", "2:1: unknown setting 'bogus'; known settings: engine, "
         "input_device, model, music, music_duck, music_volume, output_device, pause_limit, "
         "rate, synonyms, voice, volume"),
        ("rate: 5\n", f"1:7: {RATE}, got 5"),
        ("rate: fast\n", f"1:7: {RATE}, got 'fast'"),
        ("rate: 150.5\n", f"1:7: {RATE}, got 150.5"),
        ("rate: true\n", f"1:7: {RATE}, got true (a true/false value)"),
        ("volume: 2\n", "1:9: volume: expected a number from 0 to 1 (0 is silent, 1 is full), "
         "got 2"),
        ("pause_limit: 1s\n", f"1:14: {PAUSE_LIMIT}, got '1s'"),
        ("pause_limit: soon\n", f"1:14: {PAUSE_LIMIT}, got 'soon'"),
        ("pause_limit: 2001-01-01\n", f"1:14: {PAUSE_LIMIT}, got '2001-01-01'"),
        ("pause_limit: ~\n", f"1:14: {PAUSE_LIMIT}, got nothing"),
        ("voice: ~\n", "1:8: voice: expected text, got nothing"),
        ("engine: whispr\n", "1:9: engine: expected one of whisper, pocketsphinx, vosk, "
         "openai-whisper, got 'whispr'"),
        ("model: [1]\n", "1:8: model: expected text, got a list"),
        ("rate: 150\nrate: 160\n", "2:1: duplicate key 'rate' (first at line 1)"),
        ("- rate\n", "1:1: settings must be a mapping of key: value"),
        ("synonyms:\n  hang on: dance\n", "2:12: unknown command 'dance'; use one of pause, "
         "resume, next, back, repeat, skip, slower, faster, status, help, end, louder, "
         "quieter, pain, yes, no"),
        ("synonyms:\n  hang on: number\n", "2:12: unknown command 'number'; use one of pause, "
         "resume, next, back, repeat, skip, slower, faster, status, help, end, louder, "
         "quieter, pain, yes, no"),
        ("synonyms:\n  next: pause\n", "2:3: 'next' already means next"),
        ("synonyms:\n  Go Back: skip\n", "2:3: 'go back' already means back"),
        ("synonyms:\n  one two three four five: pause\n", "2:3: a synonym is one to four words"),
        ("synonyms: [pause]\n", "1:11: synonyms: expected a mapping of phrases to commands, "
         "got a list"),
        ("synonyms:\n  [a]: pause\n", "2:3: a key must be a plain name, not a list"),
        ("rate: 150\nvoice: [\n", "3:1: invalid YAML: did not find expected node content "
         "(while parsing a flow node at line 3)"),
        ("rate: 150\n  voice: x\n", "2:8: invalid YAML: mapping values are not allowed in this "
         "context"),
        ("rate: 150\nvoice: a\x00b\n", "2:9: the file holds the control character U+0000; "
         "a settings file is plain text"),
        ("synonyms: " + "[" * 5000 + "]" * 5000 + "\n",
         "1:14: nesting is deeper than 4 levels; settings need 2"),
    ],
)
def test_each_settings_problem_is_one_line_naming_file_line_and_column(
        settings_file: Path, content: str, expected: str) -> None:
    """A settings problem is a SettingsError whose message is FILE:LINE:COL: and the reason."""
    assert problem(settings_file, content) == f"{settings_file}:{expected}"


def test_a_binary_settings_file_is_located_at_its_first_bad_byte(settings_file: Path) -> None:
    """Bytes that are not UTF-8 are reported at the line and column of the first bad byte."""
    message = problem(settings_file, b"rate: 150\nvoice: ab\xff\xfe\n")
    assert message == (f"{settings_file}:2:10: the file is not UTF-8 text (byte 0xff cannot be "
                       "read); save it as UTF-8")


def test_settings_problems_stop_a_command_that_acts_with_one_line_on_stderr(
        settings_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Through the CLI, an unknown key and binary junk in the settings file each stop
    `render` with exit 1 and exactly one stderr line naming the file and line, and no
    stdout."""
    for content, where in ((b"rate: 150\nspeed: 3\n", ":2:1: unknown setting 'speed'"),
                           (bytes(range(128, 256)) * 8,
                            ":1:1: the file is not UTF-8 text (byte 0x80")):
        settings_file.write_bytes(content)
        with pytest.raises(SystemExit) as exited:
            main(["render", "desk-break", "-o", str(tmp_path / "out.wav")])
        out = capsys.readouterr()
        assert exited.value.code == 1
        assert out.out == ""
        assert len(out.err.splitlines()) == 1
        assert out.err.startswith(f"exercise-assistant: {settings_file}{where}")


def test_music_settings_are_read_and_a_bad_duck_is_one_line(tmp_path: Path) -> None:
    """`music`, `music_volume` and `music_duck` are read as a path (with ~ expanded), a
    number and a number; a music_duck of 50 says its range."""
    path = tmp_path / "settings.yaml"
    path.write_text("music: ~/Music/workout\nmusic_volume: 0.8\nmusic_duck: 15\n")
    settings = load_settings(path)
    assert (settings.music, settings.music_volume, settings.music_duck) == (
        Path("~/Music/workout").expanduser(), 0.8, 15.0)
    path.write_text("music_duck: 50\n")
    with pytest.raises(SettingsError, match=r"music_duck: expected a number from 0 to 40 \(dB "
                       "the music drops while the assistant speaks\\), got 50"):
        load_settings(path)


BROKEN = "rate: fast\nvolum: 80\nengine: siri\nsynonyms:\n  hang on: dance\n"


def test_every_problem_of_a_settings_file_is_reported_at_once(
        settings_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file with a bad rate, a misspelt key, an unknown engine and a bad synonym stops a
    live `start` with four lines, each FILE:LINE:COL, the misspelt key with "did you mean
    volume?"."""
    path = settings_file
    path.write_text(BROKEN)
    assert call(["start", "--no-listen", "--no-journal"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(": ", 2)[1] for line in lines] == [f"{path}:1:7", f"{path}:2:1",
                                                          f"{path}:3:9", f"{path}:5:12"]
    assert "unknown setting 'volum'; did you mean volume? known settings:" in lines[1]


@pytest.mark.parametrize("argv", [["list"], ["show", "desk-break"],
                                  ["start", "desk-break", "--simulate", "--no-listen"]])
def test_a_broken_settings_file_warns_once_and_reading_commands_use_the_defaults(
        argv: list[str], settings_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`list`, `show` and `start --simulate` with that file succeed, printing its four
    problems and then that the defaults are used, once."""
    settings_file.write_text(BROKEN)
    assert call(argv) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 5 and err[-1] == ("exercise-assistant: the settings file is ignored: "
                                         "using the defaults"), err


def test_a_model_set_in_the_file_is_named_as_the_file_names_it(
        settings_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`model: /nonexistent/model` in the file: `start` says "FILE: model: ...", not
    "--model"."""
    path = settings_file
    path.write_text("model: /nonexistent/model\n")
    assert call(["start", "--no-journal"]) == 1
    assert capsys.readouterr().err == (f"exercise-assistant: {path}: model: "
                                       "/nonexistent/model: no such file or folder\n")


def test_validate_does_not_read_the_settings_file(
        settings_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`validate` checks routine files only: with that broken settings file it still says
    "1 file valid." with exit 0 and nothing on stderr (no settings, so nothing to warn of)."""
    settings_file.write_text(BROKEN)
    bundled = Path(__file__).parent.parent / "assistant/exercises/desk-break.yaml"
    assert call(["validate", str(bundled)]) == 0
    out = capsys.readouterr()
    assert (out.out, out.err) == ("1 file valid.\n", "")
