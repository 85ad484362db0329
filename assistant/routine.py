"""Routines as immutable values: exercises, tempo, cues, and the pure helpers for
durations and spoken templates. Loading and validation of YAML lives in `loader.py`."""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

#: Names that may appear in braces in spoken text. Anything else is a validation error.
TEMPLATE_NAMES = frozenset(
    {"exercise", "set", "sets", "rep", "reps", "side", "remaining", "elapsed"}
)


class Sides(str, Enum):
    NONE = "none"  # both sides at once, or no sides
    ALTERNATE = "alternate"  # left, right, left, right ... `reps` per side
    EACH = "each"  # all reps on the left, then all on the right


@dataclass(frozen=True)
class TempoPhase:
    """One spoken part of a rep, such as ("raise", 2.0). An empty word is not spoken."""

    word: str
    seconds: float


@dataclass(frozen=True)
class Tempo:
    phases: tuple[TempoPhase, ...]

    @classmethod
    def per_rep(cls, seconds: float) -> Tempo:
        return cls((TempoPhase("", seconds),))

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.phases)

    @property
    def named(self) -> bool:
        return any(p.word for p in self.phases)


@dataclass(frozen=True)
class Cue:
    """Something said during an exercise: `every` N seconds, or once `at` a time.

    `at` is either seconds from the start (`at_seconds`) or a fraction of the length
    (`at_fraction`, from "50%")."""

    say: str
    every: float | None = None
    at_seconds: float | None = None
    at_fraction: float | None = None


@dataclass(frozen=True)
class Target:
    days_per_week: int


DEFAULT_TEMPO = Tempo.per_rep(3.0)
DEFAULT_REST = 30.0
DEFAULT_COUNTDOWN = 3


@dataclass(frozen=True)
class Exercise:
    name: str
    instructions: str = ""
    position: str | None = None
    sets: int = 1
    reps: int | None = None  # per side when sides is alternate or each
    duration: float | None = None  # seconds; exclusive with reps
    sides: Sides = Sides.NONE
    tempo: Tempo = DEFAULT_TEMPO
    hold: float = 0.0
    rest: float = DEFAULT_REST
    countdown: int = DEFAULT_COUNTDOWN
    cues: tuple[Cue, ...] = ()
    target: Target | None = None

    @property
    def timed(self) -> bool:
        return self.duration is not None

    @property
    def rep_seconds(self) -> float:
        return self.tempo.seconds + self.hold


@dataclass(frozen=True)
class Voice:
    """A routine's own speech defaults; settings and the command line override them."""

    name: str | None = None
    rate: int | None = None  # words per minute
    volume: float | None = None  # 0.0 .. 1.0


@dataclass(frozen=True)
class Routine:
    name: str
    exercises: tuple[Exercise, ...]
    description: str = ""
    safety: str = ""
    voice: Voice = field(default_factory=Voice)
    checkin: Literal["pain"] | None = None
    source: str | None = None  # the file it came from, for messages


# --- durations ---------------------------------------------------------------------------

_NUMBER = r"\d+(?:\.\d+)?"
_DURATION = re.compile(rf"^(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m)?(?:(?P<s>{_NUMBER})s)?$")


def parse_duration(text: str | int | float) -> float:
    """Seconds from `45s`, `2m`, `1m30s`, `1h`, or a plain number of seconds.

    Raises ValueError with a message fit for a person."""
    if isinstance(text, bool):
        raise ValueError("expected a duration such as 45s, 2m, 1m30s or a number of seconds")
    if isinstance(text, int | float):
        value = float(text)
    else:
        cleaned = text.strip().lower().replace(" ", "")
        match = _DURATION.match(cleaned)
        if cleaned and match and any(match.groupdict().values()):
            value = sum(float(match[unit] or 0) * seconds
                        for unit, seconds in (("h", 3600), ("m", 60), ("s", 1)))
        else:
            try:
                value = float(cleaned)
            except ValueError:
                raise ValueError(
                    f"{text!r} is not a duration: use 45s, 2m, 1m30s, 1h or a number of seconds"
                ) from None
    if not math.isfinite(value):
        raise ValueError("a duration must be a finite number of seconds")
    if value < 0:
        raise ValueError("a duration cannot be negative")
    return value


def plural(n: int, word: str) -> str:
    """`n` and `word`, in the plural unless `n` is 1: "1 set", "3 sets"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _hours_minutes_seconds(seconds: float) -> tuple[int, int, int]:
    """A duration in whole hours, minutes and seconds (rounded to the second)."""
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return hours, minutes, secs


def spoken_duration(seconds: float) -> str:
    """A duration as it is said: "1 minute 30 seconds", "45 seconds", "2 hours"."""
    hours, minutes, secs = _hours_minutes_seconds(seconds)
    parts = [plural(n, unit) for n, unit in ((hours, "hour"), (minutes, "minute")) if n]
    if secs or not parts:
        parts.append(plural(secs, "second"))
    return " ".join(parts)


def clock_duration(seconds: float) -> str:
    """A duration as it is shown: "1:05:00", "4:30", "0:45"."""
    hours, minutes, secs = _hours_minutes_seconds(seconds)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


# --- templates ---------------------------------------------------------------------------


def template_problems(text: str) -> list[str]:
    """Why `text` is not a valid spoken template; empty when it is.

    Only plain names from TEMPLATE_NAMES are allowed: no attributes, indexes, conversions
    or format specs, so no template can reach into Python objects."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        return [f"bad braces in text ({exc}); write {{{{ and }}}} for literal braces"]
    problems = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            problems.append(f"template {{{shown}}} is not a plain name; use one of {_names()}")
        elif name not in TEMPLATE_NAMES:
            problems.append(f"unknown template name {{{name}}}; use one of {_names()}")
    return problems


def _names() -> str:
    return ", ".join("{" + n + "}" for n in sorted(TEMPLATE_NAMES))


def render_template(text: str, values: dict[str, str]) -> str:
    """Fill a validated template. Names without a value in this context become empty."""
    out = []
    for literal, name, _spec, _conversion in string.Formatter().parse(text):
        out.append(literal)
        if name is not None:
            out.append(values.get(name, ""))
    return re.sub(r"\s+([,.!?])", r"\1", " ".join("".join(out).split()))
