"""What flows into the session (events) and out of it (effects). Small immutable values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from assistant.commands import Intent

# --- events: into Session.handle ---------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """The session begins now. `started_at` is the wall-clock time (ISO 8601) for the log;
    the session itself never reads a clock."""

    started_at: str = ""


@dataclass(frozen=True)
class Tick:
    """Time has passed; the session does whatever is due."""


@dataclass(frozen=True)
class Heard:
    """A spoken command. `start` and `end` are times in the microphone stream (seconds)."""

    intent: Intent
    text: str
    confidence: float
    start: float
    end: float

    def as_json(self) -> dict[str, Any]:
        """The fields of a `heard` log line and of a `listen --json` line (DESIGN §6)."""
        line: dict[str, Any] = {
            "command": self.intent.command.value,
            "text": self.text,
            "confidence": round(self.confidence, 4),
            "start": round(self.start, 4),
            "end": round(self.end, 4),
        }
        if self.intent.value is not None:
            line["value"] = self.intent.value
        return line


@dataclass(frozen=True)
class Key:
    """A command from the keyboard or a script (`--commands`)."""

    intent: Intent
    text: str = ""


Event = Start | Tick | Heard | Key

# --- effects: out of Session.handle ------------------------------------------------------

SayKind = Literal["instruction", "cue", "count", "prompt"]


@dataclass(frozen=True)
class Say:
    """Speak `text` starting at session time `t`. `slot` is the time until the next
    scheduled speech (None when nothing is scheduled): speech longer than that must be
    shortened by the renderer, never allowed to push the beat."""

    t: float
    text: str
    kind: SayKind
    slot: float | None = None


@dataclass(frozen=True)
class CutSpeech:
    """Stop all speech at once (pause, end)."""

    t: float


@dataclass(frozen=True)
class SetVolume:
    """Change the speech volume by `step` (for example +0.15 or -0.15)."""

    t: float
    step: float


@dataclass(frozen=True)
class Record:
    """One line of the event log / journal: `type` plus fields (the contract of DESIGN §6)."""

    t: float
    type: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"t": round(self.t, 6), "type": self.type, **self.data}


Effect = Say | CutSpeech | SetVolume | Record
