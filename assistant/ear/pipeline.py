"""A recording heard faster: segmentation in this process, decisions in another.

Live, each utterance is decided as it ends, on the listener's own thread. A file has no
need to wait: while Whisper's full look (its 30 s window, the costly part) decides one
utterance in a worker process, the listener goes on through the audio that follows on the
other core (a process, not a thread: both sides run much Python, which one interpreter
runs one thread at a time). Nothing heard changes:

- The quick look the listener peeks with still runs here, at once: it decides when an
  utterance ends, so segmentation waits for it exactly as before.
- The worker holds the same engine, built from the same settings, and decides each
  utterance with what the engine here had then (its audio, its quick look, the phrases
  expected, whether the assistant was speaking) through the engine's own `end_utterance`
  (`WhisperEngine.hand_over` and `decide_handed`). The second opinion (the trained ear) is
  fed here, as live, and its answer goes with the utterance: the worker's share, the full
  looks, is the larger one.
- One worker, so utterances are decided in order; the listener gives out their outcomes,
  and its other rejections, in that order.
- An utterance too long to be a command is dropped without decoding it (live, it is
  decoded and its result thrown away).

Only for an engine that can hand an utterance over (`WhisperEngine`); any other is heard
as live."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TypeGuard

from assistant.commands import Vocabulary
from assistant.ear.engines import Engine, Recognition, create
from assistant.ear.engines.whisper import Utterance, WhisperEngine

_engine: WhisperEngine | None = None  # the worker process's engine


def _start(name: str, vocabulary: Vocabulary, model: Path | None) -> None:
    global _engine
    engine = create(name, vocabulary, model)
    assert isinstance(engine, WhisperEngine)
    _engine = engine


def _decide(utterance: Utterance, second: Recognition | None) -> tuple[Recognition | None, str]:
    assert _engine is not None
    return _engine.decide_handed(utterance, second)


class WhisperPipeline:
    """The `Listener.pipeline` for an engine that can hand utterances over (see the
    module's doc), built from the same `name`, `vocabulary` and `model` as `engine`."""

    def __init__(self, engine: WhisperEngine, name: str, vocabulary: Vocabulary,
                 model: Path | None) -> None:
        self.engine = engine
        # spawned, not forked: this process already runs the model's and the ear's threads
        self._worker = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start, initargs=(name, vocabulary, model),
        )

    @staticmethod
    def fits(engine: Engine) -> TypeGuard[WhisperEngine]:
        return isinstance(engine, WhisperEngine)

    def submit(self, *, over_speech: bool) -> Future[tuple[Recognition | None, str]]:
        second = self.engine.second
        answer = second.end_utterance() if second is not None else None
        return self._worker.submit(_decide, self.engine.hand_over(over_speech=over_speech),
                                   answer)

    def drop(self) -> None:
        self.engine.hand_over()

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)
