"""Fuzzing what a person types and writes into the CLI: argument lists built from the real
option names with random values, random commands files and random settings files. Whatever
comes in, `main()` never shows a traceback or an internal error, and a non-zero exit comes
with exactly one line on stderr (an invalid routine gives one FILE:LINE:COL line per problem).

Runs in-process through `assistant.cli.main(argv)`; XDG folders point into a temporary folder.
The live session and the microphone are replaced by stubs that record the call (the fuzz is
about arguments, never about devices), and `start` always gets --no-listen so no recognizer
is loaded."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from assistant import cli, listening, live

FUZZ = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

TINY = "name: Tiny\nexercises:\n  - name: Neck turns\n    reps: 2\n    tempo: 1s\n"
LOCATED = re.compile(r"^.+:\d+:\d+: \S")
SCRIPT_LINE = re.compile(r"^exercise-assistant: .+:\d+: \S")
SUMMARY = re.compile(r"^\d+ of \d+ files valid\.$")


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        (root / "tiny.yaml").write_text(TINY)
        (root / "bad.yaml").write_text("name: x\nexercises:\n  - name: a\n    reps: -1\n")
        (root / "junk.bin").write_bytes(bytes(range(256)))
        (root / "folder").mkdir()
        yield root


@pytest.fixture
def sandbox(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(folder / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder / "config"))
    monkeypatch.delenv("EXERCISE_ASSISTANT_DEBUG", raising=False)

    def no_live(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(live, "run_live", no_live)
    monkeypatch.setattr(listening, "listen_microphone", no_live)
    return folder


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        cli.main(argv)
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out = capsys.readouterr()
    return status, out.out, out.err


def check(argv: list[str], status: int, out: str, err: str) -> None:
    """The fuzz contract: no traceback or internal error; a failure is one stderr line, except
    `validate`, which reports its FILE:LINE:COL problems on stdout like a linter."""
    assert "Traceback" not in err + out, (argv, err)
    assert "internal error" not in err, (argv, err)
    if status == 0:
        return
    if argv[0] == "validate" and status == 1 and not err:
        lines = out.splitlines()
        if SUMMARY.match(lines[-1]):  # "N of M files valid." after several files
            lines.pop()
        assert lines and all(LOCATED.match(line) for line in lines), (argv, out)
        return
    lines = err.splitlines()
    assert lines, (argv, status)
    if len(lines) > 1:  # an invalid routine or commands file lists every located problem
        assert (all(LOCATED.match(line) for line in lines)
                or all(SCRIPT_LINE.match(line) for line in lines)), (argv, err)
    else:
        assert lines[0].startswith("exercise-assistant: ") or LOCATED.match(lines[0]), (argv, err)


# --- argument lists from the real option names ----------------------------------------------

TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
               max_size=12)
NUMBER = st.one_of(st.integers(-1000, 100_000).map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(str))
DURATION = st.one_of(NUMBER, st.sampled_from(["45s", "2m", "1m30s", "1h", "0", "-3s", "1e9",
                                              "30m", "abc", "", " "]))
ECHO = st.one_of(st.builds(lambda g, d: f"{g}:{d}", NUMBER, NUMBER), TEXT,
                 st.sampled_from(["0.5:30", "1:2:3", ":", "nan:5", "inf:0"]))


def paths(root: Path) -> st.SearchStrategy[str]:
    return st.sampled_from([str(root / name) for name in (
        "tiny.yaml", "bad.yaml", "junk.bin", "folder", "missing.yaml", "no/such/dir/x.wav",
        "out.wav", "ev.jsonl",
    )])


def option_values(root: Path) -> dict[str, st.SearchStrategy[str]]:
    return {
        "--events": paths(root), "--commands": paths(root), "--mic-file": paths(root),
        "--speaker-file": st.sampled_from([str(root / "folder"),
                                           str(root / "no/such/dir/x.wav")]),
        "--echo": ECHO, "--pause-limit": DURATION, "--voice": TEXT, "--rate": NUMBER,
        "--volume": NUMBER, "--engine": TEXT, "--model": paths(root),
        "--input-device": TEXT, "--output-device": TEXT,
        "-o": paths(root), "--output": paths(root), "--file": paths(root),
        "--weeks": NUMBER, "--at": TEXT, "--routine": TEXT,
    }


FLAGS = ["--simulate", "--no-journal", "--json", "--csv", "--verbose", "--status", "--help",
         "--version", "--bogus", "-x"]
COMMANDS = ["start", "validate", "list", "show", "new", "render", "listen", "history",
            "remind", "nonsense"]


@st.composite
def argv_lists(draw: st.DrawFn, root: Path) -> list[str]:
    command = draw(st.sampled_from(COMMANDS))
    values = option_values(root)
    argv = [command]
    positional = st.one_of(paths(root), st.sampled_from(["upper-back", "nosuch", "tiny"]), TEXT)
    if command in ("start", "show", "render", "validate", "new") and draw(st.booleans()):
        argv.append(draw(positional))
    elif command == "start":  # a short routine, never the default 40 minutes
        argv.append(str(root / "tiny.yaml"))
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.booleans()):
            name = draw(st.sampled_from(sorted(values)))
            argv += [name, draw(values[name])]
        elif draw(st.booleans()):
            argv.append(draw(st.sampled_from(FLAGS)))
        else:
            argv.append(draw(st.one_of(TEXT, positional)))
    if command == "start":  # never a recognizer
        argv.append("--no-listen")
    if command == "render" and "-o" not in argv and "--output" not in argv:
        argv += ["-o", str(root / "folder")]  # a bad output: no slow speech synthesis
    if command == "remind":
        argv = [a for a in argv if a not in ("--install", "--yes", "-y", "--remove")]
    if command == "history":
        argv = [a for a in argv if a != "--plot"]
    return argv


@FUZZ
@given(data=st.data())
def test_random_argument_lists_never_show_a_traceback(
        data: st.DataObject, sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Any argument list from the real option names and random values: no traceback, no
    internal error, and a non-zero exit comes with one stderr line."""
    argv = data.draw(argv_lists(sandbox))
    status, out, err = run(argv, capsys)
    event(f"{argv[0]} exit {status}")
    check(argv, status, out, err)


# --- random commands files ------------------------------------------------------------------

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6),
                         st.floats(allow_nan=False, allow_infinity=False), TEXT,
                         st.sampled_from(["pause", "resume", "end workout", "yes", "number",
                                          "next", "hang on"]))
LINE = st.one_of(
    st.fixed_dictionaries({"t": st.one_of(JSON_SCALARS, st.floats(0, 60))},
                          optional={"command": JSON_SCALARS, "say": JSON_SCALARS,
                                    "value": JSON_SCALARS, "extra": JSON_SCALARS}),
    st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3), max_leaves=5),
).map(lambda item: __import__("json").dumps(item, allow_nan=True))
COMMANDS_FILE = st.one_of(
    st.lists(st.one_of(LINE, TEXT), max_size=8).map(lambda lines: "\n".join(lines).encode()),
    st.binary(max_size=200),
)


@FUZZ
@given(content=COMMANDS_FILE)
def test_random_commands_files_never_show_a_traceback(
        content: bytes, sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Any commands file: the simulation runs or stops with one line, never a traceback."""
    path = sandbox / "cmds.jsonl"
    path.write_bytes(content)
    argv = ["start", str(sandbox / "tiny.yaml"), "--simulate", "--no-listen", "--no-journal",
            "--commands", str(path)]
    status, out, err = run(argv, capsys)
    event(f"{argv[0]} exit {status}")
    check(argv, status, out, err)
    assert status in (0, 1), (content, err)


# --- random settings files ------------------------------------------------------------------

KEYS = ["voice", "rate", "volume", "engine", "model", "input_device", "output_device",
        "pause_limit", "synonyms", "bogus", "Rate"]
YAML_VALUES = st.one_of(
    st.sampled_from(["~", "true", "160", "0.5", "2001-01-01", "[1, 2]", "{a: b}", "30m", "5s",
                     ".inf", "-.nan", "0x10", "'text'", "!!binary aGk=", "&a x", "*a", "|\n  x",
                     "\n  hang on: pause\n  next: skip", "\n  - a", "\"\\x00\""]),
    TEXT.map(lambda s: s.replace("\n", " ")),
)
SETTINGS_FILE = st.one_of(
    st.lists(st.tuples(st.sampled_from(KEYS), YAML_VALUES), max_size=6).map(
        lambda pairs: "".join(f"{k}: {v}\n" for k, v in pairs).encode()),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
)


@FUZZ
@given(content=SETTINGS_FILE)
def test_random_settings_files_never_show_a_traceback(
        content: bytes, sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Any settings file: `show` works or stops with exit 1 and one line naming the file."""
    folder = sandbox / "config" / "exercise-assistant"
    folder.mkdir(parents=True, exist_ok=True)
    settings_path = folder / "settings.yaml"
    settings_path.write_bytes(content)
    try:
        argv = ["show", str(sandbox / "tiny.yaml")]
        status, out, err = run(argv, capsys)
    finally:
        settings_path.unlink()
    event(f"show exit {status}")
    check(argv, status, out, err)
    if status != 0:
        assert status == 1
        assert err.startswith(f"exercise-assistant: {settings_path}"), (content, err)
