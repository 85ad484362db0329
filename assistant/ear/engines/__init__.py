"""Recognition engines behind one small streaming interface, created by name.

Each engine module is imported only when chosen, so a missing optional package affects
only the engine that needs it (with a clear DeviceError)."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.commands import Vocabulary
from assistant.errors import DeviceError

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Recognition:
    """What an engine made of one utterance: the phrase as text, and a confidence 0..1."""

    text: str
    confidence: float


class Engine(ABC):
    """A small-vocabulary recognizer fed one utterance at a time, in chunks as it arrives;
    the one interface the listener reaches its engine through.

    Audio is float32 mono at 16 kHz in -1..1. The listener calls `start_utterance`, then
    `feed` for each chunk of the utterance (including a little audio before its start),
    then `end_utterance`, which returns the phrase or None when the utterance is rejected
    (not a command, not speech, or not confident). The rest has defaults, for an engine that
    does no more than that; Whisper overrides them all."""

    name: str = "engine"
    #: given the echo-cancelled signal before noise suppression, also in noise (Whisper
    #: learnt from noisy speech); otherwise the noise-suppressed one in noise
    hears_raw: bool = False
    #: `peek` can decode what has been fed so far (see `peek`)
    peeks: bool = False
    #: what the engine wrote for the last utterance, also when it took no command
    #: (`--verbose` shows it)
    heard_text: str = ""

    def expect(self, phrases: Iterable[str] | None) -> None:  # noqa: B027 (a default)
        """Listen only for these phrases from now on (None: all of them); by default the
        engine hears its whole vocabulary and the listener rejects the rest."""

    def prepare_for_echo(self) -> None:  # noqa: B027 (a default)
        """The assistant plays while the engine listens: utterances may come over its
        voice from now on (told with the first blocks that come with what it played). By
        default nothing changes."""

    @abstractmethod
    def start_utterance(self) -> None: ...

    @abstractmethod
    def feed(self, audio: np.ndarray) -> None: ...

    def feed_frame(self, raw: np.ndarray, clean: np.ndarray) -> None:
        """How the listener feeds an utterance: `raw` is the echo-cancelled signal, `clean`
        the noise-suppressed one in noise (else `raw` too). The engine is fed `clean`
        unless it `hears_raw`: the endpointer still goes by the suppressed signal."""
        self.feed(raw if self.hears_raw else clean)

    def peek(self) -> Recognition | None:
        """With `peeks`: the command in what has been fed so far, decoded when the
        utterance's silence begins (when nothing more is fed, `end_utterance` then answers
        at once). By default there is no early look."""
        return None

    @abstractmethod
    def end_utterance(self, *, over_speech: bool = False) -> Recognition | None:
        """The phrase of the utterance fed since `start_utterance`, or None; `over_speech`:
        it was said while the assistant spoke (an engine may decide otherwise over the
        echo)."""


#: engine name -> "module:factory"; a factory takes (vocabulary, model_path) -> Engine.
REGISTRY: dict[str, str] = {
    "whisper": "assistant.ear.engines.whisper:create",
    "pocketsphinx": "assistant.ear.engines.sphinx:create",
    "vosk": "assistant.ear.engines.optional:create_vosk",
    "openai-whisper": "assistant.ear.engines.optional:create_whisper",
}

#: Whisper tiny.en (see `whisper`): trained on real speech, it hears real people far better
#: than PocketSphinx (README, "How well it hears you").
DEFAULT_ENGINE = "whisper"


def check(name: str | None, model: Path | None = None) -> None:
    """Fail early with one line, loading nothing, when `name` or `model` cannot work."""
    name = name or DEFAULT_ENGINE
    if name not in REGISTRY:
        raise DeviceError(f"unknown engine {name!r}; choose one of {', '.join(REGISTRY)}")
    if model is not None and not Path(model).expanduser().exists():
        raise DeviceError(f"--model {model}: no such file or folder")
    if name == "whisper" and model is not None:
        from assistant.ear.engines.whisper import check_model_folder

        check_model_folder(model)


def create(name: str, vocabulary: Vocabulary, model: Path | None = None) -> Engine:
    """The engine called `name`, ready to use; DeviceError with the reason when it cannot be."""
    target = REGISTRY.get(name)
    if target is None:
        raise DeviceError(f"unknown engine {name!r}; choose one of {', '.join(REGISTRY)}")
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
