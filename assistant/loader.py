"""Load and validate routine files (DESIGN section 4) into immutable `Routine` values.

The format is written down once, in `routine.schema.json` (editors use it too). A file is
read safely into located nodes by `yamlfile` (no tag builds an object, no aliases, bounded
size and depth), checked against the schema by `validation`, and then here for what the
schema cannot say readably: a duration written as text within its range, reps or a duration
(not both), tempo and hold only with reps, one rep at most 2m, cue times within the set,
unique exercise names, templates and control characters in spoken text. Each step reports
every problem at its FILE:LINE:COL; no exception but RoutineErrors escapes, for any input.
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
from assistant.validation import Path as DataPath
from assistant.yamlfile import Node, Problems, Rules, Stop, Unreadable, describe, read, read_file

SCHEMA: dict[str, Any] = json.loads(
    Path(__file__).with_name("routine.schema.json").read_text(encoding="utf-8")
)
_DEFS = SCHEMA["$defs"]
_EXERCISE = _DEFS["exercise"]["properties"]
_DEFAULTS = SCHEMA["properties"]["defaults"]["properties"]
_CUE = _DEFS["cue"]["properties"]
_PHASE_WORDS = _EXERCISE["tempo"]["anyOf"][1]["propertyNames"]
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
        "tempo{}": "a phase word such as raise or lower "
        f"(letters, at most {_PHASE_WORDS['maxLength']})",
        "at": "a share of the set above 0% and up to 100%, or a duration such as 45s or 1m30s",
    }
    entries: ClassVar[dict[str, str]] = {"tempo": "phases"}

    def label(self, path: DataPath) -> str:
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
    problems = Problems()
    result = None
    try:
        result = _load(text, source, problems)
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


def _load(text: str | bytes, source: str, problems: Problems) -> Routine | None:
    root = read(text, problems, RULES)
    if root is None:
        problems.add(1, 1, "the file is empty; a routine needs at least a name and exercises")
        return None
    if root.kind != "map":
        if not root.bad:
            problems.at(root, "a routine file must be a mapping with name and exercises, "
                        f"got {describe(root)}")
        return None
    data, wrong = CHECKER.check(root, problems)
    return _Reader(root, data, wrong, problems, source).routine()


class _Reader:
    """The plain checks after the schema, and the Routine when there is no problem.
    A value the schema (or the reading) found wrong reads as None, so it is said once."""

    def __init__(
        self, root: Node, data: Any, wrong: set[DataPath], problems: Problems, source: str
    ) -> None:
        self.root, self.data, self.wrong = root, data, wrong
        self.problems, self.source = problems, source

    def get(self, path: DataPath) -> Any:
        """The value at `path`; None when it is absent or wrong (or holds something wrong)."""
        if any(w[: len(path)] == path for w in self.wrong):
            return None
        value = self.data
        for step in path:
            if not (isinstance(value, list) and isinstance(step, int) and step < len(value)) and \
                    not (isinstance(value, dict) and step in value):
                return None
            value = value[step]
        return value

    def say(self, path: DataPath, message: str, key: bool = False) -> None:
        """A problem at the value at `path`, or at its key."""
        node = self.root.find(path[:-1] if key else path)
        assert node is not None
        self.problems.at(node.key(path[-1]) if key else node, message)

    def text(self, path: DataPath) -> str | None:
        value = self.get(path)
        bad = _BAD_TEXT_CHAR.search(value.strip()) if isinstance(value, str) else None
        if bad:
            self.say(path, f"{CHECKER.label(path)}: the text holds the control character "
                     f"U+{ord(bad.group()):04X}")
        return value.strip() if isinstance(value, str) and not bad else None

    def seconds(self, path: DataPath, schema: dict[str, Any]) -> float | None:
        """A duration within the schema's range: it checked numbers, this checks text."""
        value = self.get(path)
        seconds = None if value is None else CHECKER.seconds(value, schema)
        node = self.root.find(path)
        if value is not None and seconds is None and node is not None:
            self.problems.at(node, CHECKER.expected_got(CHECKER.label(path), node, schema))
        return seconds

    def routine(self) -> Routine | None:
        found = self.data.get("defaults")
        defaults = {k: self.setting(("defaults", k)) for k in found if k in DEFAULTS_KEYS} \
            if isinstance(found, dict) else {}
        exercises = self.data.get("exercises")
        count = len(exercises) if isinstance(exercises, list) else 0
        built = [self.exercise(index, defaults) for index in range(count)]
        self.unique_names(count)
        name = self.text(("name",))
        rate, volume = self.get(("voice", "rate")), self.get(("voice", "volume"))
        voice = Voice(self.text(("voice", "name")), None if rate is None else int(rate),
                      None if volume is None else float(volume))
        description, safety = self.text(("description",)), self.text(("safety",))
        if self.problems.found or name is None:
            return None
        return Routine(name, tuple(e for e in built if e), description or "", safety or "",
                       voice, "pain" if self.get(("checkin",)) == "pain" else None, self.source)

    def setting(self, path: DataPath) -> Any:
        """One of the settings that `defaults` may hold, or None when absent or wrong."""
        key = path[-1]
        if key == "tempo":
            return self.tempo(path)
        if key in ("hold", "rest"):
            return self.seconds(path, (_DEFAULTS if path[0] == "defaults" else _EXERCISE)[key])
        value = self.get(path)
        return None if value is None else Sides(value) if key == "sides" else int(value)

    def tempo(self, path: DataPath) -> Tempo | None:
        value = self.get(path)
        if not isinstance(value, dict):
            seconds = self.seconds(path, (_DEFAULTS if path[0] == "defaults" else _EXERCISE)[
                "tempo"])
            return None if seconds is None else Tempo.per_rep(seconds)
        phases = [TempoPhase(w, self.seconds((*path, w), _DEFS["tempoSeconds"]) or 0.0)
                  for w in value]
        if any(not phase.seconds for phase in phases):
            return None  # said already: a phase of the schema's range is never 0
        tempo = Tempo(tuple(phases))
        if tempo.seconds > MAX_REP_SECONDS:
            self.say(path, f"{CHECKER.label(path)}: expected phases that add up to at most "
                     f"{format_seconds(MAX_REP_SECONDS)}, got {format_seconds(tempo.seconds)}")
            return None
        return tempo

    def reps_or_duration(self, path: DataPath, doc: dict[str, Any]) -> bool:
        """Whether the exercise is timed; says when it has both reps and a duration, or
        neither (rules the schema's oneOf says only as "not valid under one of")."""
        node = self.root.find(path)
        assert node is not None
        if "reps" in doc and "duration" in doc:
            later = max(("reps", "duration"), key=lambda k: (node.pairs[k][1].line,
                                                             node.pairs[k][1].col))
            self.say((*path, later), f"{later}: an exercise has reps or a duration, not both",
                     key=True)
        elif "reps" not in doc and "duration" not in doc:
            self.problems.at(node, f"{CHECKER.label(path)}: missing 'reps' or 'duration' "
                             "(one is required)")
        return "duration" in doc and "reps" not in doc

    def exercise(self, index: int, defaults: dict[str, Any]) -> Exercise | None:
        path: DataPath = ("exercises", index)
        doc = self.data["exercises"][index]
        if not isinstance(doc, dict):
            return None
        before = len(self.problems.found)
        name, timed = self.text((*path, "name")), self.reps_or_duration(path, doc)
        values = {**defaults, **{k: self.setting((*path, k)) for k in DEFAULTS_KEYS if k in doc}}
        for key in ("tempo", "hold") if timed else ():
            if key in doc:
                self.say((*path, key), f"{key}: only exercises counted in reps have a {key}; "
                         "this one has a duration", key=True)
            values.pop(key, None)  # a default tempo or hold means nothing to a timed exercise
        reps = self.get((*path, "reps"))
        draft = Exercise(name or "", self.text((*path, "instructions")) or "",
                         self.text((*path, "position")), reps=None if reps is None else int(reps),
                         duration=self.seconds((*path, "duration"), _EXERCISE["duration"]),
                         **{k: v for k, v in values.items() if v is not None})
        if not timed and draft.rep_seconds > MAX_REP_SECONDS:
            where = "hold" if "hold" in doc else "tempo" if "tempo" in doc else "exercise"
            self.say(path if where == "exercise" else (*path, where),
                     f"{where}: expected one rep (tempo plus hold) of at most "
                     f"{format_seconds(MAX_REP_SECONDS)}, got {format_seconds(draft.rep_seconds)}")
        per_set = draft.duration
        if per_set is None and draft.reps is not None:
            per_set = draft.reps * (1 if draft.sides is Sides.NONE else 2) * draft.rep_seconds
        items = doc.get("cues")
        cues = [self.cue((*path, "cues", i), cue, per_set, timed)
                for i, cue in enumerate(items if isinstance(items, list) else ())
                if isinstance(cue, dict)]
        days = self.get((*path, "target", "days_per_week"))
        if len(self.problems.found) > before or name is None:
            return None
        return replace(draft, cues=tuple(c for c in cues if c),
                       target=None if days is None else Target(int(days)))

    def cue(
        self, path: DataPath, doc: dict[str, Any], per_set: float | None, timed: bool
    ) -> Cue | None:
        label, node = CHECKER.label(path), self.root.find(path)
        assert node is not None
        say = self.text((*path, "say"))
        if "every" in doc and "at" in doc:
            later = max(node.key("every"), node.key("at"), key=lambda n: (n.line, n.col))
            self.problems.at(later, f"{label}: a cue has every or at, not both")
            return None
        if "every" not in doc and "at" not in doc:
            self.problems.at(node, f"{label}: missing 'every' or 'at' (one is required)")
            return None
        every = at_seconds = at_fraction = None
        at = self.get((*path, "at"))
        if "every" in doc:
            every = self.seconds((*path, "every"), _CUE["every"])
            if every is not None and timed and per_set is not None and every > per_set:
                self.say((*path, "every"), f"{label}.every: expected at most the exercise's "
                         f"duration ({format_seconds(per_set)}), got {format_seconds(every)}")
                return None
        elif isinstance(at, str) and at.strip().endswith("%"):
            at_fraction = float(at.strip().rstrip("%")) / 100
        else:
            at_seconds = self.seconds((*path, "at"), _CUE["at"])
            if at_seconds is not None and per_set is not None and at_seconds > per_set:
                self.say((*path, "at"), f"{label}.at: expected a time within the set "
                         f"({format_seconds(per_set)}), got {format_seconds(at_seconds)}")
                return None
        if say is None or (every is None and at_seconds is None and at_fraction is None):
            return None
        return Cue(say=say, every=every, at_seconds=at_seconds, at_fraction=at_fraction)

    def unique_names(self, count: int) -> None:
        seen: dict[str, Node] = {}
        for index in range(count):
            name = self.get(("exercises", index, "name"))
            node = self.root.find(("exercises", index, "name"))
            key = " ".join(name.casefold().split()) if isinstance(name, str) else ""
            if key and key in seen and node:
                self.problems.at(node, f"name: exercise {name.strip()!r} is already in this "
                                 f"routine (line {seen[key].line}); give each exercise its "
                                 "own name")
            elif key and node:
                seen[key] = node
