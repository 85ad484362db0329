"""Where effects go besides the speaker: the JSON-lines event log and the console."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from assistant.errors import AssistantError
from assistant.events import CutSpeech, Effect, Record, Say, SetVolume

EffectSink = Callable[[Effect], None]


def emit(sinks: Sequence[EffectSink], effects: list[Effect]) -> list[Effect]:
    """Each effect to every sink, in order; returns the effects (for the driver to look at)."""
    for effect in effects:
        for sink in sinks:
            sink(effect)
    return effects


def effect_json(effect: Effect) -> dict[str, Any] | None:
    """The event-log line for an effect (DESIGN §6), or None when it has none."""
    if isinstance(effect, Record):
        return effect.as_json()
    if isinstance(effect, Say):
        return {"t": round(effect.t, 6), "type": "say", "text": effect.text, "kind": effect.kind}
    if isinstance(effect, CutSpeech):
        return {"t": round(effect.t, 6), "type": "cut"}
    if isinstance(effect, SetVolume):
        return {"t": round(effect.t, 6), "type": "volume", "step": effect.step}
    return None


class EventLog:
    """Writes one JSON object per line, flushed as it goes (a crash loses nothing)."""

    def __init__(self, path: Path) -> None:
        try:
            self._file: IO[str] = path.open("w", encoding="utf-8")
        except OSError as exc:
            raise AssistantError(f"cannot write the event log {path}: {exc.strerror}") from None

    def __call__(self, effect: Effect) -> None:
        line = effect_json(effect)
        if line is not None:
            self._file.write(json.dumps(line) + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


class Transcript:
    """Keeps every effect in memory (tests, summaries)."""

    def __init__(self) -> None:
        self.effects: list[Effect] = []

    def __call__(self, effect: Effect) -> None:
        self.effects.append(effect)

    def records(self, type_: str | None = None) -> list[dict[str, Any]]:
        lines = [effect_json(e) for e in self.effects]
        return [x for x in lines if x is not None and (type_ is None or x["type"] == type_)]
