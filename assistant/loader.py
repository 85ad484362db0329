"""Load and validate routine files (DESIGN section 4) into immutable `Routine` values.

The format is written down once, in `routine.schema.json` (editors use it too). A file is
read safely into located nodes by `yamlfile` (no tag builds an object, no aliases, bounded
size and depth), checked against the schema by `validation`, and then here for what the
schema cannot say readably: reps or a duration (not both), tempo and hold only with reps,
one rep at most 2m, cue times within the set, unique exercise names, templates and control
characters in spoken text. Each step reports every problem at its FILE:LINE:COL; no
exception but RoutineErrors escapes, for any input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from assistant import routine
from assistant.errors import RoutineError, RoutineErrors
from assistant.routine import Cue, Exercise, Routine, Sides, Target, Tempo, TempoPhase, Voice
from assistant.validation import Checker, format_seconds
from assistant.yamlfile import Node, Problems, Rules, Stop, Unreadable, describe, read, read_file

SCHEMA: dict[str, Any] = json.loads(
    Path(__file__).with_name("routine.schema.json").read_text(encoding="utf-8")
)
_DEFS = SCHEMA["$defs"]
_EXERCISE = _DEFS["exercise"]["properties"]
_DEFAULTS = SCHEMA["properties"]["defaults"]["properties"]
DEFAULTS_KEYS: tuple[str, ...] = tuple(_DEFAULTS)

MAX_FILE_BYTES = 1_000_000
RULES = Rules("a routine file", "routine files", MAX_FILE_BYTES, 20, "a routine needs 5")
#: One rep, the whole tempo plus the hold (the schema says it in words: a sum is beyond it).
MAX_REP_SECONDS = 120.0
#: Characters not allowed inside spoken text: control characters other than tab and
#: newline, and lone surrogates (from escapes in double-quoted strings).
_BAD_TEXT_CHAR = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


class _RoutineChecker(Checker):
    shapes: ClassVar[dict[str, str]] = {
        "exercises": "a list of at least one exercise",
        "exercises[]": "an exercise (a mapping with name and reps or duration)",
        "cues": "a list of cues, each with every or at, and say",
        "cues[]": "a cue (a mapping with every or at, and say)",
        "voice": "a mapping with name, rate and volume",
        "target": "a mapping with days_per_week",
        "tempo": "seconds per rep, or phase words with durations",
        "tempo{}": "a phase word such as raise or lower (letters, at most "
        f"{_EXERCISE['tempo']['anyOf'][1]['propertyNames']['maxLength']})",
        "at": "a share of the set above 0% and up to 100%, or a duration such as 45s or 1m30s",
    }
    entries: ClassVar[dict[str, str]] = {"tempo": "phases"}

    def label(self, path: tuple[Any, ...]) -> str:
        """Inside an exercise, a value is named from the exercise: "tempo.up", "cues[2]"."""
        return re.sub(r"^exercises\[\d+\]\.", "", super().label(path))

    def unknown(self, label: str, key: str, allowed: Any) -> str:
        if label == "defaults" and key in _EXERCISE:
            return (f"defaults: {key!r} belongs to each exercise and cannot be a default; "
                    f"defaults may hold {', '.join(allowed)}")
        return super().unknown("" if re.fullmatch(r"exercises\[\d+\]", label) else label,
                               key, allowed)

    def pattern(self, label: str, node: Node, schema: dict[str, Any]) -> list[str]:
        if schema.get("pattern") == _DEFS["spokenText"]["pattern"]:
            return [f"{label}: {problem}" for problem in routine.template_problems(node.value)]
        if not node.value.strip():  # a name's pattern: not blank
            return [f"{label}: expected text, got an empty text"]
        return super().pattern(label, node, schema)


CHECKER = _RoutineChecker(SCHEMA)


def load_routine(path: str | Path) -> Routine:
    """The routine in the file at `path`; raises RoutineErrors listing every problem."""
    source = str(path)
    try:
        data = read_file(source, RULES)
    except Unreadable as exc:
        raise RoutineErrors([RoutineError(source, 1, 1, str(exc))]) from None
    return load_routine_text(data, source)


def load_routine_text(text: str | bytes, source: str) -> Routine:
    """The routine in `text` (named `source` in messages and in `Routine.source`).

    Raises RoutineErrors listing every problem, and nothing else, for any input."""
    problems, result = Problems(), None
    try:
        root = read(text, problems, RULES)
        if root is None:
            problems.add(1, 1, "the file is empty; a routine needs at least a name and exercises")
        elif root.kind != "map":
            if not root.bad:
                problems.at(root, "a routine file must be a mapping with name and exercises, "
                            f"got {describe(root)}")
        else:
            CHECKER.check(root, problems)
            result = _Reader(problems, source).routine(root)
    except Stop:
        pass
    except Exception as exc:  # pragma: no cover - a safety net; tests look for this text
        problems.found.append((1, 1, f"internal error while reading the routine: {exc!r}"))
    if problems.found or result is None:
        raise RoutineErrors([RoutineError(source, *p) for p in problems.in_order()])
    return result


def validate_paths(paths: Iterable[str | Path]) -> list[RoutineError]:
    """Every problem in every file, in order; empty when all are valid routines."""
    errors: list[RoutineError] = []
    for path in paths:
        try:
            load_routine(path)
        except RoutineErrors as exc:
            errors.extend(exc.errors)
    return errors


def _value(node: Node | None) -> Any:
    """A scalar's value; None when it is absent or wrong (said already)."""
    return None if node is None or node.bad else node.value


def _whole(node: Node | None) -> int | None:
    return None if _value(node) is None else int(_value(node))


def _seconds(node: Node | None) -> float | None:
    """A duration's seconds (the schema checked its range, also when written as text)."""
    return None if _value(node) is None else routine.parse_duration(_value(node))


class _Reader:
    """The plain checks after the schema, and the Routine when there is no problem."""

    def __init__(self, problems: Problems, source: str) -> None:
        self.problems, self.source = problems, source
        self.names: dict[str, Node] = {}  # exercise names as compared, for duplicates

    def text(self, node: Node | None) -> str | None:
        value = _value(node)
        bad = _BAD_TEXT_CHAR.search(value.strip()) if isinstance(value, str) else None
        if node and bad:
            self.problems.at(node, f"{CHECKER.label(node.path)}: the text holds the control "
                             f"character U+{ord(bad.group()):04X}")
        return value.strip() if isinstance(value, str) and not bad else None

    def routine(self, root: Node) -> Routine | None:
        found = root.get("defaults")
        defaults = {k: self.setting(v) for k, (_, v) in found.pairs.items()
                    if k in DEFAULTS_KEYS} if found else {}
        exercises = root.get("exercises")
        built = [self.exercise(item, defaults) for item in (exercises.items if exercises else ())]
        name, volume = self.text(root.get("name")), _value(root.get("voice", "volume"))
        voice = Voice(self.text(root.get("voice", "name")), _whole(root.get("voice", "rate")),
                      None if volume is None else float(volume))
        description, safety = self.text(root.get("description")), self.text(root.get("safety"))
        if self.problems.found or name is None:
            return None
        return Routine(name, tuple(e for e in built if e), description or "", safety or "",
                       voice, "pain" if _value(root.get("checkin")) == "pain" else None,
                       self.source)

    def setting(self, node: Node) -> Any:
        """One of the settings that `defaults` may hold, or None when wrong."""
        key = node.path[-1]
        if key == "tempo":
            return self.tempo(node)
        if key in ("hold", "rest"):
            return _seconds(node)
        return Sides(_value(node)) if key == "sides" and _value(node) else _whole(node)

    def tempo(self, node: Node) -> Tempo | None:
        if node.kind != "map":
            seconds = _seconds(node)
            return None if seconds is None else Tempo.per_rep(seconds)
        phases = [TempoPhase(w, _seconds(v) or 0.0)
                  for w, (_, v) in node.pairs.items()]
        if node.bad or any(not phase.seconds for phase in phases):
            return None  # said already: a phase of the schema's range is never 0
        tempo = Tempo(tuple(phases))
        if tempo.seconds > MAX_REP_SECONDS:
            self.problems.at(node, f"{CHECKER.label(node.path)}: expected phases that add up "
                             f"to at most {format_seconds(MAX_REP_SECONDS)}, got "
                             f"{format_seconds(tempo.seconds)}")
            return None
        return tempo

    def exercise(self, node: Node, defaults: dict[str, Any]) -> Exercise | None:
        """The exercise, which counts only when the routine has no problem at all."""
        if node.kind != "map":
            return None
        has, name = node.pairs.keys(), self.text(node.get("name"))
        self.unique(node.get("name"))
        self.one_of(node, ("reps", "duration"), "{}: an exercise has reps or a duration, not both")
        timed = "duration" in has and "reps" not in has
        values = {**defaults, **{k: self.setting(v)
                                 for k, (_, v) in node.pairs.items() if k in DEFAULTS_KEYS}}
        for key in ("tempo", "hold") if timed else ():
            if key in has:
                self.problems.at(node.key(key), f"{key}: only exercises counted in reps have a "
                                 f"{key}; this one has a duration")
            values.pop(key, None)  # a default tempo or hold means nothing to a timed exercise
        draft = Exercise(name or "", self.text(node.get("instructions")) or "",
                         self.text(node.get("position")), reps=_whole(node.get("reps")),
                         duration=_seconds(node.get("duration")),
                         **{k: v for k, v in values.items() if v is not None})
        if not timed and draft.rep_seconds > MAX_REP_SECONDS:
            where = "hold" if "hold" in has else "tempo" if "tempo" in has else "exercise"
            self.problems.at(node.get(where) or node, f"{where}: expected one rep (tempo plus "
                             f"hold) of at most {format_seconds(MAX_REP_SECONDS)}, got "
                             f"{format_seconds(draft.rep_seconds)}")
        per_set = draft.duration
        if per_set is None and draft.reps is not None:
            per_set = draft.reps * (1 if draft.sides is Sides.NONE else 2) * draft.rep_seconds
        cues = node.get("cues")
        found = [self.cue(c, per_set, timed) for c in (cues.items if cues else ())]
        days = _whole(node.get("target", "days_per_week"))
        return replace(draft, cues=tuple(c for c in found if c),
                       target=None if days is None else Target(days))

    def cue(self, node: Node, per_set: float | None, timed: bool) -> Cue | None:
        if node.kind != "map":
            return None
        label, has, say = CHECKER.label(node.path), node.pairs.keys(), self.text(node.get("say"))
        if not self.one_of(node, ("every", "at"), f"{label}: a cue has every or at, not both"):
            return None
        every = at_seconds = at_fraction = None
        at, limit = node.get("at"), per_set if "at" in has or timed else None
        if "every" in has:
            every = _seconds(node.get("every"))
        elif isinstance(_value(at), str) and _value(at).strip().endswith("%"):
            at_fraction = float(_value(at).strip().rstrip("%")) / 100
        else:
            at_seconds = _seconds(at)
        seconds = every if every is not None else at_seconds
        if seconds is not None and limit is not None and seconds > limit:
            within = "at most the exercise's duration" if every else "a time within the set"
            self.problems.at(node.get("every" if every else "at") or node,
                             f"{label}.{'every' if every else 'at'}: expected {within} "
                             f"({format_seconds(limit)}), got {format_seconds(seconds)}")
            return None
        return Cue(say=say or "", every=every, at_seconds=at_seconds, at_fraction=at_fraction)

    def one_of(self, node: Node, keys: tuple[str, str], both: str) -> bool:
        """Whether a mapping has exactly one of two keys (the schema's oneOf, in words): both
        are said at the later key ("{}" in `both` names it), neither at the mapping."""
        found = [node.key(key) for key in keys if key in node.pairs]
        if len(found) == 2:
            later = max(found, key=lambda n: (n.line, n.col))
            self.problems.at(later, both.format(later.text))
        elif not found:
            self.problems.at(node, f"{CHECKER.label(node.path)}: missing {keys[0]!r} or "
                             f"{keys[1]!r} (one is required)")
        return len(found) == 1

    def unique(self, node: Node | None) -> None:
        """Says when an exercise's name is one an earlier exercise has (in any case)."""
        name = _value(node)
        key = " ".join(name.casefold().split()) if isinstance(name, str) else ""
        if node and key in self.names:
            self.problems.at(node, f"name: exercise {name.strip()!r} is already in this "
                             f"routine (line {self.names[key].line}); give each exercise its "
                             "own name")
        elif node and key:
            self.names[key] = node
