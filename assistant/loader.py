"""Load and validate routine files (DESIGN section 4) into immutable `Routine` values.

Loading is strict and safe:

- The YAML is parsed into events by libyaml (PyYAML's CSafeLoader when available) and
  composed into nodes here, so every message points at the node's FILE:LINE:COL.
- No tag can build an object, aliases are refused (so an alias bomb costs nothing), and
  the size of the file, the depth of nesting and the number of values are bounded.
- Every problem is collected and raised at once as `RoutineErrors`; no other exception
  escapes `load_routine` or `load_routine_text`, for any input.

The allowed keys and ranges are module constants, so the JSON Schema
(`routine.schema.json`) and its tests can be kept in step with this module.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode

from assistant.errors import RoutineError, RoutineErrors
from assistant.routine import (
    DEFAULT_COUNTDOWN,
    DEFAULT_REST,
    DEFAULT_TEMPO,
    Cue,
    Exercise,
    Routine,
    Sides,
    Target,
    Tempo,
    TempoPhase,
    Voice,
    parse_duration,
    template_problems,
)

# --- keys ------------------------------------------------------------------------------

#: Keys of the top-level mapping, in the order they are listed in messages.
ROUTINE_KEYS: tuple[str, ...] = (
    "name",
    "description",
    "safety",
    "voice",
    "checkin",
    "defaults",
    "exercises",
)
ROUTINE_REQUIRED: tuple[str, ...] = ("name", "exercises")
#: Keys of one exercise.
EXERCISE_KEYS: tuple[str, ...] = (
    "name",
    "instructions",
    "position",
    "sets",
    "reps",
    "duration",
    "sides",
    "tempo",
    "hold",
    "rest",
    "countdown",
    "cues",
    "target",
)
EXERCISE_REQUIRED: tuple[str, ...] = ("name",)
#: Keys of `defaults`: the per-exercise settings that are not specific to one exercise.
DEFAULTS_KEYS: tuple[str, ...] = ("sets", "sides", "tempo", "hold", "rest", "countdown")
VOICE_KEYS: tuple[str, ...] = ("name", "rate", "volume")
CUE_KEYS: tuple[str, ...] = ("every", "at", "say")
TARGET_KEYS: tuple[str, ...] = ("days_per_week",)
SIDES: tuple[str, ...] = tuple(s.value for s in Sides)
CHECKINS: tuple[str, ...] = ("pain",)

# --- limits and ranges (inclusive) -------------------------------------------------------

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 20  # a routine needs 5: routine > exercises > exercise > cues > cue
MAX_VALUES = 10_000  # scalars, lists and mappings in one file
MAX_ERRORS = 100  # reported per file; junk would otherwise give thousands
MAX_NUMBER_CHARS = 32  # a number written with more characters is refused unread
MAX_EXERCISES = 200
MAX_CUES = 20  # per exercise
MAX_TEMPO_PHASES = 6
MAX_TEXT_CHARS = 2000  # description, safety, instructions, cue text
MAX_NAME_CHARS = 100  # routine and exercise names, position, voice name
MAX_PHASE_WORD_CHARS = 30

SETS_RANGE = (1, 20)
REPS_RANGE = (1, 200)  # per side when sides is alternate or each
DURATION_RANGE = (1.0, 4 * 3600.0)  # a timed exercise, per set (and per side with `each`)
TEMPO_RANGE = (0.3, 60.0)  # seconds per rep, or per named phase
MAX_REP_SECONDS = 120.0  # one rep: the whole tempo plus the hold
HOLD_RANGE = (0.0, 120.0)
REST_RANGE = (0.0, 3600.0)
COUNTDOWN_RANGE = (0, 10)
CUE_EVERY_RANGE = (5.0, 4 * 3600.0)
CUE_AT_RANGE = (0.0, 4 * 3600.0)  # and not after the end of a set
CUE_PERCENT_RANGE = (0.0, 100.0)  # exclusive at 0: 0 < percent <= 100
DAYS_PER_WEEK_RANGE = (1, 7)
VOICE_RATE_RANGE = (80, 400)  # words per minute
VOICE_VOLUME_RANGE = (0.0, 1.0)

#: A duration written as text: 45s, 2m, 1m30s, 1h, 1.5m, or a plain number of seconds.
DURATION_PATTERN = (
    r"^ *(?=[0-9])(?:[0-9]+(?:\.[0-9]+)? *h)? *(?:[0-9]+(?:\.[0-9]+)? *m)?"
    r" *(?:[0-9]+(?:\.[0-9]+)? *s)? *$|^ *[0-9]+(?:\.[0-9]+)? *$"
)
#: A cue time as a share of the set: "50%".
PERCENT_PATTERN = r"^ *[0-9]+(?:\.[0-9]+)? *% *$"
#: A spoken tempo phase word: "raise", "lower", "breathe in".
PHASE_WORD_PATTERN = r"^[A-Za-z][A-Za-z' -]*$"

_DURATION_RE = re.compile(DURATION_PATTERN)
_AT_EXPECTED = "a share of the set above 0% and up to 100%, or a duration such as 45s or 1m30s"
_PERCENT_RE = re.compile(PERCENT_PATTERN)
_PHASE_WORD_RE = re.compile(PHASE_WORD_PATTERN)
#: Characters YAML does not allow in a file (also what marks binary junk).
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
#: Characters not allowed inside spoken text: control characters other than tab and
#: newline, and lone surrogates (from escapes in double-quoted strings).
_BAD_TEXT_CHAR = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

_YAML_TAG = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset(
    _YAML_TAG + t for t in ("str", "int", "float", "bool", "null", "seq", "map")
)
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = SafeConstructor()


# --- public API ------------------------------------------------------------------------


def load_routine(path: str | Path) -> Routine:
    """The routine in the file at `path`; raises RoutineErrors listing every problem."""
    source = str(path)
    data = _read(source)
    return load_routine_text(data, source)


def load_routine_text(text: str | bytes, source: str) -> Routine:
    """The routine in `text` (named `source` in messages and in `Routine.source`).

    Raises RoutineErrors listing every problem, and nothing else, for any input."""
    checker = _Checker(source)
    try:
        routine = _load(text, checker)
    except _Stop:
        routine = None
    except RecursionError:  # pragma: no cover - nothing here recurses deeper than MAX_DEPTH
        checker.error(1, 1, "the file is nested too deeply to read")
        routine = None
    except Exception as exc:  # pragma: no cover - a safety net; tests look for this text
        checker.error(1, 1, f"internal error while reading the routine: {exc!r}")
        routine = None
    if checker.errors or routine is None:
        raise RoutineErrors(checker.sorted_errors())
    return routine


def validate_paths(paths: Iterable[str | Path]) -> list[RoutineError]:
    """Every problem in every file, in order; empty when all are valid routines."""
    errors: list[RoutineError] = []
    for path in paths:
        try:
            load_routine(path)
        except RoutineErrors as exc:
            errors.extend(exc.errors)
    return errors


# --- reading -----------------------------------------------------------------------------


class _Stop(Exception):
    """Raised after a problem that makes reading any further pointless."""


def _read(source: str) -> bytes:
    def fail(message: str) -> RoutineErrors:
        return RoutineErrors([RoutineError(source, 1, 1, message)])

    try:
        info = os.stat(source)
        if stat.S_ISDIR(info.st_mode):
            raise fail("this is a folder, not a routine file")
        if not stat.S_ISREG(info.st_mode):
            raise fail("this is not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise fail(_too_big_message())
        with open(source, "rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise fail("no such file") from None
    except PermissionError:
        raise fail("permission denied: cannot read this file") from None
    except IsADirectoryError:
        raise fail("this is a folder, not a routine file") from None
    except OSError as exc:
        raise fail(f"cannot read this file: {exc.strerror or exc}") from None
    except ValueError as exc:  # such as a NUL character in the path
        raise fail(f"cannot read this file: {exc}") from None


def _too_big_message() -> str:
    return (
        f"the file is larger than {MAX_FILE_BYTES // 1_000_000} MB; a routine file is much smaller"
    )


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of the character at `index`."""
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, col


def _decode(data: str | bytes, checker: _Checker) -> str:
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            line, col = _position(data, exc.start)
            checker.error(
                line, col, f"the text holds U+{ord(data[exc.start]):04X}, not valid Unicode"
            )
            raise _Stop from None
    else:
        raw = bytes(data)
    if len(raw) > MAX_FILE_BYTES:
        checker.error(1, 1, _too_big_message())
        raise _Stop
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
        line, col = _position(raw[start : exc.start].decode("utf-8"), exc.start - start)
        checker.error(
            line,
            col,
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} cannot be read); "
            "save it as UTF-8",
        )
        raise _Stop from None
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        line, col = _position(text, bad.start())
        checker.error(
            line,
            col,
            f"the file holds the control character U+{ord(bad.group()):04X}; "
            "a routine file is plain text",
        )
        raise _Stop
    return text


# --- composing YAML events into located nodes ---------------------------------------------


class _Node:
    """A YAML value with its 1-based position. Scalars share empty `items` and `pairs`,
    so a file of many small values allocates little."""

    __slots__ = ("bad", "col", "items", "kind", "line", "pairs", "text", "value")

    def __init__(
        self, kind: str, line: int, col: int, value: Any = None, text: str = "", bad: bool = False
    ) -> None:
        self.kind = kind  # "scalar", "seq" or "map"
        self.line = line
        self.col = col
        self.value = value  # a scalar's value: str, int, float, bool or None
        self.text = text  # a scalar as written
        scalar = kind == "scalar"
        # a list's items; a mapping's keys and values, until paired up
        self.items: list[_Node] = _NO_ITEMS if scalar else []
        self.pairs: dict[str, tuple[_Node, _Node]] = _NO_PAIRS if scalar else {}
        self.bad = bad  # already reported (a refused tag, an alias, a huge number)


_NO_ITEMS: list[_Node] = []  # shared by all scalars; never changed
_NO_PAIRS: dict[str, tuple[_Node, _Node]] = {}


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[RoutineError] = []
        self.stopped: RoutineError | None = None  # the last line when there were too many

    def error(self, line: int, col: int, message: str) -> None:
        if len(self.errors) >= MAX_ERRORS:
            self.stopped = RoutineError(
                self.source, line, col, f"more than {MAX_ERRORS} problems; stopping"
            )
            raise _Stop
        self.errors.append(RoutineError(self.source, line, col, message))

    def at(self, node: _Node, message: str) -> None:
        self.error(node.line, node.col, message)

    def sorted_errors(self) -> list[RoutineError]:
        ordered = sorted(self.errors, key=lambda e: (e.line, e.col))
        return ordered + ([self.stopped] if self.stopped else [])


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag


def _scalar(event: Any, checker: _Checker, line: int, col: int) -> _Node:
    value: str = event.value
    tag: str | None = event.tag
    node = _Node("scalar", line, col, value=value, text=value, bad=True)
    implicit_tag = _RESOLVER.resolve(ScalarNode, value, event.implicit)
    if tag is None or tag == "!":
        tag = implicit_tag
    elif tag not in _ALLOWED_TAGS:
        checker.error(line, col, f"tag {_short_tag(tag)} is not allowed in routine files")
        return node
    elif tag != _YAML_TAG + "str" and _RESOLVER.resolve(ScalarNode, value, (True, False)) != tag:
        checker.error(line, col, f"{value!r} is not a valid {_short_tag(tag)}")
        return node
    kind = tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else "str"
    if kind in ("int", "float"):
        if len(value) > MAX_NUMBER_CHARS:
            checker.error(line, col, f"the number {value[:20]}... has too many digits")
            node.value = None
            node.text = value[:MAX_NUMBER_CHARS] + "..."
            return node
        if kind == "int" and value.isdigit() and (value == "0" or value[0] != "0"):
            node.value = int(value)  # the common case, without YAML 1.1's octal and base 60
            node.bad = False
            return node
        construct = (
            _CONSTRUCTOR.construct_yaml_int if kind == "int" else _CONSTRUCTOR.construct_yaml_float
        )
        node.value = construct(ScalarNode(tag, value))
    elif kind == "bool":
        node.value = _CONSTRUCTOR.construct_yaml_bool(ScalarNode(tag, value))
    elif kind == "null":
        node.value = None
    node.bad = False
    return node


def _compose(text: str, checker: _Checker) -> _Node | None:
    """The first document of `text` as nodes; problems are recorded in `checker`."""
    parser = _LOADER(text)
    try:
        return _compose_events(parser, checker)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"invalid YAML: {exc.problem or exc.context or 'cannot parse'}"
        if exc.context and exc.problem and exc.context_mark:
            message += f" ({exc.context} at line {exc.context_mark.line + 1})"
        checker.error(line, col, message)
        raise _Stop from None
    except yaml.YAMLError as exc:
        checker.error(1, 1, f"invalid YAML: {exc}")
        raise _Stop from None
    finally:
        parser.dispose()


def _compose_events(parser: Any, checker: _Checker) -> _Node | None:
    stack: list[_Node] = []
    root: _Node | None = None
    documents = 0
    values = 0
    while parser.check_event():
        event: Any = parser.get_event()
        mark = event.start_mark
        line, col = mark.line + 1, mark.column + 1
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                checker.error(
                    line, col, "a routine file holds one YAML document; remove the second"
                )
                break
            continue
        if isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            done = stack.pop()
            if done.kind == "map":
                _pair_up(done, checker)
            if not stack:
                root = done
            continue
        if not isinstance(event, yaml.NodeEvent):
            continue
        values += 1
        if values > MAX_VALUES:
            checker.error(
                line,
                col,
                f"the file holds more than {MAX_VALUES} values; a routine is much smaller",
            )
            raise _Stop
        node: _Node
        if isinstance(event, yaml.AliasEvent):
            checker.error(line, col, "aliases (*name) are not allowed in routine files")
            node = _Node("scalar", line, col, value=None, text="*alias", bad=True)
        elif isinstance(event, yaml.ScalarEvent):
            node = _scalar(event, checker, line, col)
        else:
            kind = "seq" if isinstance(event, yaml.SequenceStartEvent) else "map"
            tag: str | None = getattr(event, "tag", None)
            node = _Node(kind, line, col)
            node.bad = True
            if tag is not None and tag != "!" and tag not in _ALLOWED_TAGS:
                checker.error(line, col, f"tag {_short_tag(tag)} is not allowed in routine files")
            elif tag in _ALLOWED_TAGS and tag != f"{_YAML_TAG}{kind}":
                what = "a list" if kind == "seq" else "a mapping"
                checker.error(line, col, f"{what} cannot be {_short_tag(tag)}")
            else:
                node.bad = False
            if len(stack) >= MAX_DEPTH:
                checker.error(
                    line, col, f"nesting is deeper than {MAX_DEPTH} levels; a routine needs 5"
                )
                raise _Stop
        if stack:
            stack[-1].items.append(node)
        if node.kind == "scalar":
            if not stack:
                root = node
        else:
            stack.append(node)
    return root


def _pair_up(node: _Node, checker: _Checker) -> None:
    items = node.items
    for key, value in zip(items[::2], items[1::2], strict=True):
        if key.kind != "scalar":
            what = "a list" if key.kind == "seq" else "a mapping"
            checker.at(key, f"a key must be a plain name, not {what}")
            continue
        name = key.text
        if name in node.pairs:
            first = node.pairs[name][0]
            checker.at(key, f"duplicate key {name!r} (first at line {first.line})")
            continue
        node.pairs[name] = (key, value)
    node.items = []


# --- describing values and durations ------------------------------------------------------


def _describe(node: _Node) -> str:
    """What was found, for "expected X, got Y"."""
    if node.kind == "seq":
        return "a list"
    if node.kind == "map":
        return "a mapping"
    value = node.value
    if value is None:
        return "nothing" if node.text in ("", "~", "null", "Null", "NULL") else node.text
    if isinstance(value, bool):
        return f"{node.text} (a true/false value)"
    if isinstance(value, int | float):
        return node.text
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def format_seconds(seconds: float) -> str:
    """A duration as written in a routine file: "45s", "1m30s", "4h", "0.3s"."""
    if seconds != int(seconds):
        if seconds < 60:
            return f"{seconds:g}s"
        minutes, secs = divmod(seconds, 60)
        return f"{format_seconds(minutes * 60)}{secs:g}s" if secs else format_seconds(minutes * 60)
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    out = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    out += f"{secs}s" if secs or not out else ""
    return out


# --- checking values ------------------------------------------------------------------------


class _Fields:
    """Typed readers for values; each records a problem and returns None when invalid."""

    def __init__(self, checker: _Checker) -> None:
        self.checker = checker

    def report(self, node: _Node, message: str) -> None:
        """Record a problem with `node`, unless one was already reported for it."""
        if not node.bad:
            self.checker.at(node, message)

    def expected(self, node: _Node, label: str, what: str) -> None:
        self.report(node, f"{label}: expected {what}, got {_describe(node)}")

    def mapping(
        self,
        node: _Node,
        label: str,
        allowed: tuple[str, ...],
        what: str = "a mapping",
        key_label: str | None = None,
    ) -> dict[str, tuple[_Node, _Node]] | None:
        """The allowed entries of a mapping; unknown keys are problems."""
        if node.kind != "map":
            self.expected(node, label, what)
            return None
        for key, (key_node, _value) in node.pairs.items():
            if key not in allowed:
                where = label if key_label is None else key_label
                self.checker.at(key_node, _unknown_key(where, key, allowed))
        return {k: v for k, v in node.pairs.items() if k in allowed}

    def whole(self, node: _Node, label: str, bounds: tuple[int, int]) -> int | None:
        lo, hi = bounds
        value = node.value if node.kind == "scalar" else None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or value != value
            or value in (float("inf"), float("-inf"))
            or value != int(value)
            or not lo <= value <= hi
        ):
            self.expected(node, label, f"a whole number from {lo} to {hi}")
            return None
        return int(value)

    def number(self, node: _Node, label: str, bounds: tuple[float, float]) -> float | None:
        lo, hi = bounds
        value = node.value if node.kind == "scalar" else None
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            self.expected(node, label, f"a number from {lo:g} to {hi:g}")
            return None
        return float(value)

    def duration(
        self, node: _Node, label: str, bounds: tuple[float, float], what: str = ""
    ) -> float | None:
        """Seconds, from a number or text such as 1m30s, within `bounds`."""
        lo, hi = bounds
        what = what or (
            f"a duration from {format_seconds(lo)} to {format_seconds(hi)} "
            "(such as 45s, 2m or 1m30s)"
        )
        value = node.value if node.kind == "scalar" else None
        seconds: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        elif isinstance(value, str) and len(value) <= 40 and _DURATION_RE.match(value):
            try:
                seconds = parse_duration(value)
            except ValueError:
                seconds = None
        if seconds is None or not lo <= seconds <= hi:
            self.expected(node, label, what)
            return None
        return seconds

    def text(
        self,
        node: _Node,
        label: str,
        limit: int = MAX_TEXT_CHARS,
        spoken: bool = True,
        required: bool = False,
    ) -> str | None:
        value = node.value if node.kind == "scalar" else None
        if not isinstance(value, str):
            hint = "; put it in quotes" if value is not None else ""
            self.report(node, f"{label}: expected text, got {_describe(node)}{hint}")
            return None
        text = value.strip()
        ok = True
        if required and not text:
            self.report(node, f"{label}: expected text, got an empty text")
            ok = False
        if len(text) > limit:
            self.report(
                node, f"{label}: expected text of at most {limit} characters, got {len(text)}"
            )
            ok = False
        bad = _BAD_TEXT_CHAR.search(text)
        if bad:
            self.report(
                node, f"{label}: the text holds the control character U+{ord(bad.group()):04X}"
            )
            ok = False
        if spoken and ok:
            for problem in template_problems(text):
                self.report(node, f"{label}: {problem}")
                ok = False
        return text if ok else None

    def choice(self, node: _Node, label: str, choices: tuple[str, ...]) -> str | None:
        value = node.value if node.kind == "scalar" else None
        if not isinstance(value, str) or value.strip() not in choices:
            self.expected(node, label, "one of " + ", ".join(choices))
            return None
        return value.strip()


def _unknown_key(label: str, key: str, allowed: tuple[str, ...]) -> str:
    where = f"{label}: " if label else ""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    shown = key if len(key) <= 40 else key[:37] + "..."
    if close:
        return f"{where}unknown key {shown!r}; did you mean {close[0]!r}?"
    return f"{where}unknown key {shown!r}; allowed keys: {', '.join(allowed)}"


# --- the routine --------------------------------------------------------------------------


def _load(data: str | bytes, checker: _Checker) -> Routine | None:
    text = _decode(data, checker)
    root = _compose(text, checker)
    if root is None or (root.kind == "scalar" and root.value is None and not root.text):
        checker.error(1, 1, "the file is empty; a routine needs at least a name and exercises")
        return None
    return _RoutineReader(checker).routine(root)


@dataclass
class _Setting:
    value: Any
    node: _Node


class _RoutineReader:
    def __init__(self, checker: _Checker) -> None:
        self.checker = checker
        self.fields = _Fields(checker)

    def routine(self, root: _Node) -> Routine | None:
        f = self.fields
        if root.kind != "map":
            self.fields.report(
                root,
                f"a routine file must be a mapping with name and exercises, got {_describe(root)}",
            )
            return None
        top = f.mapping(root, "", ROUTINE_KEYS)
        assert top is not None
        for key in ROUTINE_REQUIRED:
            if key not in top:
                self.checker.at(root, f"missing required key {key!r}")
        name = description = safety = None
        if "name" in top:
            name = f.text(top["name"][1], "name", MAX_NAME_CHARS, spoken=False, required=True)
        if "description" in top:
            description = f.text(top["description"][1], "description")
        if "safety" in top:
            safety = f.text(top["safety"][1], "safety")
        voice = self.voice(top["voice"][1]) if "voice" in top else Voice()
        checkin = f.choice(top["checkin"][1], "checkin", CHECKINS) if "checkin" in top else None
        defaults = self.defaults(top["defaults"][1]) if "defaults" in top else {}
        exercises: list[Exercise | None] = []
        if "exercises" in top:
            exercises = self.exercises(top["exercises"][1], defaults)
        if self.checker.errors or name is None:
            return None
        return Routine(
            name=name,
            exercises=tuple(e for e in exercises if e is not None),
            description=description or "",
            safety=safety or "",
            voice=voice or Voice(),
            checkin="pain" if checkin == "pain" else None,
            source=self.checker.source,
        )

    def voice(self, node: _Node) -> Voice | None:
        f = self.fields
        entries = f.mapping(node, "voice", VOICE_KEYS, "a mapping with name, rate and volume")
        if entries is None:
            return None
        name = rate = volume = None
        if "name" in entries:
            name = f.text(
                entries["name"][1], "voice.name", MAX_NAME_CHARS, spoken=False, required=True
            )
        if "rate" in entries:
            rate = f.whole(entries["rate"][1], "voice.rate", VOICE_RATE_RANGE)
        if "volume" in entries:
            volume = f.number(entries["volume"][1], "voice.volume", VOICE_VOLUME_RANGE)
        return Voice(name=name, rate=rate, volume=volume)

    def defaults(self, node: _Node) -> dict[str, _Setting]:
        if node.kind != "map":
            self.fields.expected(node, "defaults", "a mapping")
            return {}
        settings: dict[str, _Setting] = {}
        for key, (key_node, value_node) in node.pairs.items():
            if key in DEFAULTS_KEYS:
                value = self.setting(key, value_node, f"defaults.{key}")
                if value is not None:
                    settings[key] = _Setting(value, value_node)
            elif key in EXERCISE_KEYS:
                self.checker.at(
                    key_node,
                    f"defaults: {key!r} belongs to each exercise and cannot be a default; "
                    f"defaults may hold {', '.join(DEFAULTS_KEYS)}",
                )
            else:
                self.checker.at(key_node, _unknown_key("defaults", key, DEFAULTS_KEYS))
        return settings

    def setting(self, key: str, node: _Node, label: str) -> Any:
        """One of the settings that `defaults` may hold, or None when invalid."""
        f = self.fields
        if key == "sets":
            return f.whole(node, label, SETS_RANGE)
        if key == "sides":
            value = f.choice(node, label, SIDES)
            return Sides(value) if value is not None else None
        if key == "tempo":
            return self.tempo(node, label)
        if key == "hold":
            return f.duration(node, label, HOLD_RANGE)
        if key == "rest":
            return f.duration(node, label, REST_RANGE)
        if key == "countdown":
            return f.whole(node, label, COUNTDOWN_RANGE)
        raise AssertionError(key)  # pragma: no cover

    def tempo(self, node: _Node, label: str) -> Tempo | None:
        f = self.fields
        if node.kind != "map":
            seconds = f.duration(node, label, TEMPO_RANGE)
            return Tempo.per_rep(seconds) if seconds is not None else None
        if not node.pairs:
            f.expected(node, label, "seconds per rep, or phase words with durations")
            return None
        if len(node.pairs) > MAX_TEMPO_PHASES:
            self.checker.at(
                node, f"{label}: expected at most {MAX_TEMPO_PHASES} phases, got {len(node.pairs)}"
            )
            return None
        phases: list[TempoPhase] = []
        ok = True
        for word, (key_node, value_node) in node.pairs.items():
            if len(word) > MAX_PHASE_WORD_CHARS or not _PHASE_WORD_RE.match(word):
                self.checker.at(
                    key_node,
                    f"{label}: expected a phase word such as raise or lower "
                    f"(letters, at most {MAX_PHASE_WORD_CHARS}), got {_describe(key_node)}",
                )
                ok = False
                continue
            seconds = f.duration(value_node, f"{label}.{word}", TEMPO_RANGE)
            if seconds is None:
                ok = False
                continue
            phases.append(TempoPhase(word, seconds))
        if not ok:
            return None
        tempo = Tempo(tuple(phases))
        if tempo.seconds > MAX_REP_SECONDS:
            self.checker.at(
                node,
                f"{label}: expected phases that add up to at most "
                f"{format_seconds(MAX_REP_SECONDS)}, got {format_seconds(tempo.seconds)}",
            )
            return None
        return tempo

    def exercises(self, node: _Node, defaults: dict[str, _Setting]) -> list[Exercise | None]:
        if node.kind != "seq" or not node.items:
            what = _describe(node) if node.kind != "seq" else "an empty list"
            self.fields.report(
                node, f"exercises: expected a list of at least one exercise, got {what}"
            )
            return []
        if len(node.items) > MAX_EXERCISES:
            self.checker.at(
                node,
                f"exercises: expected at most {MAX_EXERCISES} exercises, got {len(node.items)}",
            )
        result: list[Exercise | None] = []
        seen: dict[str, _Node] = {}
        for index, item in enumerate(node.items[: MAX_EXERCISES + 1], start=1):
            result.append(self.exercise(item, index, defaults))
            name_node = item.pairs["name"][1] if "name" in item.pairs else None
            if name_node is None or not isinstance(name_node.value, str):
                continue
            key = " ".join(name_node.value.casefold().split())
            if not key:
                continue
            if key in seen:
                self.checker.at(
                    name_node,
                    f"name: exercise {name_node.value.strip()!r} is already in this routine "
                    f"(line {seen[key].line}); give each exercise its own name",
                )
            else:
                seen[key] = name_node
        return result

    def exercise(self, node: _Node, index: int, defaults: dict[str, _Setting]) -> Exercise | None:
        f = self.fields
        errors_before = len(self.checker.errors)
        entries = f.mapping(
            node,
            f"exercises[{index}]",
            EXERCISE_KEYS,
            "an exercise (a mapping with name and reps or duration)",
            key_label="",
        )
        if entries is None:
            return None

        def given(key: str) -> _Node | None:
            return entries[key][1] if key in entries else None

        name = None
        if "name" not in entries:
            self.checker.at(node, f"exercises[{index}]: missing required key 'name'")
        else:
            name = f.text(entries["name"][1], "name", MAX_NAME_CHARS, spoken=False, required=True)
        instructions = f.text(n, "instructions") if (n := given("instructions")) else ""
        position = (
            f.text(n, "position", MAX_NAME_CHARS, spoken=False, required=True)
            if (n := given("position"))
            else None
        )

        reps_node, duration_node = given("reps"), given("duration")
        reps = f.whole(reps_node, "reps", REPS_RANGE) if reps_node else None
        duration = f.duration(duration_node, "duration", DURATION_RANGE) if duration_node else None
        if reps_node and duration_node:
            later = max(reps_node, duration_node, key=lambda n: (n.line, n.col))
            key_name = "reps" if later is reps_node else "duration"
            self.checker.at(
                entries[key_name][0],
                f"{key_name}: an exercise has reps or a duration, not both",
            )
        elif not reps_node and not duration_node:
            self.checker.at(
                node, f"exercises[{index}]: missing 'reps' or 'duration' (one is required)"
            )
        timed = duration_node is not None and reps_node is None

        settings: dict[str, Any] = {}
        own: dict[str, _Node] = {}
        for key in DEFAULTS_KEYS:
            if key in entries:
                own[key] = entries[key][1]
                settings[key] = self.setting(key, entries[key][1], key)
            elif key in defaults:
                settings[key] = defaults[key].value
        for key in ("tempo", "hold"):
            if timed and key in own:
                self.checker.at(
                    entries[key][0],
                    f"{key}: only exercises counted in reps have a {key}; this one has a duration",
                )
            if timed:  # a default tempo or hold means nothing to a timed exercise
                settings.pop(key, None)
        sets = settings.get("sets") or 1
        sides = settings.get("sides") or Sides.NONE
        tempo = settings.get("tempo") or DEFAULT_TEMPO
        hold = settings.get("hold")
        hold = 0.0 if hold is None else hold
        rest = settings.get("rest")
        rest = DEFAULT_REST if rest is None else rest
        countdown = settings.get("countdown")
        countdown = DEFAULT_COUNTDOWN if countdown is None else countdown

        if not timed and tempo.seconds + hold > MAX_REP_SECONDS:
            where = own.get("hold") or own.get("tempo")
            self.checker.at(
                where or node,
                f"{'hold' if 'hold' in own else 'tempo' if 'tempo' in own else 'exercise'}: "
                f"expected one rep (tempo plus hold) of at most {format_seconds(MAX_REP_SECONDS)}, "
                f"got {format_seconds(tempo.seconds + hold)}",
            )

        set_seconds: float | None
        if duration is not None:
            set_seconds = duration
        elif reps is not None:
            per_side = 1 if sides is Sides.NONE else 2
            set_seconds = reps * per_side * (tempo.seconds + hold)
        else:
            set_seconds = None
        cues = self.cues(n, set_seconds, timed) if (n := given("cues")) else ()
        target = self.target(n) if (n := given("target")) else None

        if len(self.checker.errors) > errors_before or name is None:
            return None
        return Exercise(
            name=name,
            instructions=instructions or "",
            position=position,
            sets=sets,
            reps=reps,
            duration=duration,
            sides=sides,
            tempo=tempo,
            hold=hold,
            rest=rest,
            countdown=countdown,
            cues=cues,
            target=target,
        )

    def cues(self, node: _Node, set_seconds: float | None, timed: bool) -> tuple[Cue, ...]:
        f = self.fields
        if node.kind != "seq":
            f.expected(node, "cues", "a list of cues, each with every or at, and say")
            return ()
        if len(node.items) > MAX_CUES:
            self.checker.at(node, f"cues: expected at most {MAX_CUES} cues, got {len(node.items)}")
            return ()
        cues: list[Cue] = []
        for index, item in enumerate(node.items, start=1):
            label = f"cues[{index}]"
            entries = f.mapping(
                item, label, CUE_KEYS, "a cue (a mapping with every or at, and say)"
            )
            if entries is None:
                continue
            say = f.text(entries["say"][1], f"{label}.say") if "say" in entries else None
            if "say" not in entries:
                self.checker.at(item, f"{label}: missing required key 'say'")
            every = at_seconds = at_fraction = None
            if "every" in entries and "at" in entries:
                later = max(entries["every"][0], entries["at"][0], key=lambda n: (n.line, n.col))
                self.checker.at(later, f"{label}: a cue has every or at, not both")
                continue
            if "every" in entries:
                value_node = entries["every"][1]
                every = f.duration(value_node, f"{label}.every", CUE_EVERY_RANGE)
                if every is not None and timed and set_seconds is not None and every > set_seconds:
                    self.checker.at(
                        value_node,
                        f"{label}.every: expected at most the exercise's duration "
                        f"({format_seconds(set_seconds)}), got {format_seconds(every)}",
                    )
                    every = None
            elif "at" in entries:
                value_node = entries["at"][1]
                if isinstance(value_node.value, str) and _PERCENT_RE.match(value_node.value):
                    percent = float(value_node.value.strip().rstrip("%"))
                    if CUE_PERCENT_RANGE[0] < percent <= CUE_PERCENT_RANGE[1]:
                        at_fraction = percent / 100
                    else:
                        f.expected(value_node, f"{label}.at", _AT_EXPECTED)
                else:
                    at_seconds = f.duration(value_node, f"{label}.at", CUE_AT_RANGE, _AT_EXPECTED)
                    if (
                        at_seconds is not None
                        and set_seconds is not None
                        and at_seconds > set_seconds
                    ):
                        self.checker.at(
                            value_node,
                            f"{label}.at: expected a time within the set "
                            f"({format_seconds(set_seconds)}), got {format_seconds(at_seconds)}",
                        )
                        at_seconds = None
            else:
                self.checker.at(item, f"{label}: missing 'every' or 'at' (one is required)")
                continue
            if say is not None and (every or at_seconds is not None or at_fraction):
                cues.append(
                    Cue(say=say, every=every, at_seconds=at_seconds, at_fraction=at_fraction)
                )
        return tuple(cues)

    def target(self, node: _Node) -> Target | None:
        f = self.fields
        entries = f.mapping(node, "target", TARGET_KEYS, "a mapping with days_per_week")
        if entries is None:
            return None
        if "days_per_week" not in entries:
            self.checker.at(node, "target: missing required key 'days_per_week'")
            return None
        days = f.whole(entries["days_per_week"][1], "target.days_per_week", DAYS_PER_WEEK_RANGE)
        return Target(days) if days is not None else None
