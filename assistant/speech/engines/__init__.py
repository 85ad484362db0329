"""Recognition engines behind one small streaming interface, created by name.

Each engine module is imported only when chosen, so a missing optional package affects
only the engine that needs it (with a clear DeviceError)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.commands import Vocabulary
from assistant.errors import DeviceError

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Recognition:
    """What an engine made of one utterance: the phrase as text, and a confidence 0..1."""

    text: str
    confidence: float


class Engine(Protocol):
    """A small-vocabulary recognizer fed one utterance at a time, in chunks as it arrives.

    Audio is float32 mono at 16 kHz in -1..1. The listener calls `start_utterance`, then
    `feed` for each chunk of the utterance (including a little audio before its start),
    then `end_utterance`, which returns the phrase or None when the utterance is rejected
    (not a command, not speech, or not confident)."""

    name: str

    def start_utterance(self) -> None: ...

    def feed(self, audio: np.ndarray) -> None: ...

    def end_utterance(self) -> Recognition | None: ...


#: engine name -> "module:factory"; a factory takes (vocabulary, model_path) -> Engine.
REGISTRY: dict[str, str] = {
    "pocketsphinx": "assistant.speech.engines.sphinx:create",
    "neural": "assistant.speech.engines.neural:create",
    "checked": "assistant.speech.engines.checked:create",
    "vosk": "assistant.speech.engines.optional:create_vosk",
    "whisper": "assistant.speech.engines.optional:create_whisper",
}

#: PocketSphinx checked by the trained ear, plus the commands the ear alone is sure of and
#: those a phrases-only search and the ear agree on: more commands than either alone in every
#: condition of the recognition bench, and 0 to 3 wrong commands per condition where
#: PocketSphinx alone gave 4 to 10 (see `checked`).
DEFAULT_ENGINE = "checked"


def create(name: str, vocabulary: Vocabulary, model: Path | None = None) -> Engine:
    """The engine called `name`, ready to use; DeviceError with the reason when it cannot be."""
    target = REGISTRY.get(name)
    if target is None:
        raise DeviceError(f"unknown engine {name!r}; choose one of {', '.join(sorted(REGISTRY))}")
    module_name, factory_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DeviceError(f"the {name} engine is not available: {exc}") from None
    factory = getattr(module, factory_name)
    engine: Engine = factory(vocabulary, model)
    return engine


def recognize(engine: Engine, audio: np.ndarray, chunk: int = 480) -> Recognition | None:
    """One whole utterance through the streaming interface (for tests and benchmarks)."""
    engine.start_utterance()
    for i in range(0, len(audio), chunk):
        engine.feed(audio[i : i + chunk])
    return engine.end_utterance()
