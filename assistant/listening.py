"""`listen`: the recognizer alone, over a WAV file or the live microphone, through the
same streaming code the session uses."""

from __future__ import annotations

import gc
import json
import queue
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.app import make_listener
from assistant.commands import Command
from assistant.errors import DeviceError
from assistant.events import Heard
from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.devices import HearingListener
    from assistant.ear.listener import Rejected

SAMPLE_RATE = 16000
BLOCK = 320  # 20 ms, as the microphone delivers it


def expected(moment: str | None) -> frozenset[Command] | None:
    """What the ear hears at `moment` ("commands", "question", "rating"), exactly as the
    session narrows it then (`session.EXPECTED`); None (everything) without one."""
    if moment is None:
        return None
    from assistant.session import EXPECTED

    return EXPECTED[moment]


def show(heard: Heard, as_json: bool) -> None:
    if as_json:
        print(json.dumps(heard.as_json()), flush=True)
    else:
        value = f" {heard.intent.value}" if heard.intent.value is not None else ""
        print(f"{heard.start:8.2f}-{heard.end:7.2f}s  {heard.intent.command.value}{value}"
              f"  ({heard.text!r}, confidence {heard.confidence:.2f})", flush=True)


def show_rejected(listener: HearingListener, as_json: bool) -> None:
    """Utterances the listener heard but did not take as commands (--verbose)."""
    for item in list(listener.rejected):
        if as_json:
            print(json.dumps({"rejected": asdict(item)}), file=sys.stderr, flush=True)
        else:
            said = f" {item.text!r}" if item.text else ""
            print(f"{item.start:8.2f}-{item.end:7.2f}s  rejected: {item.reason}{said}",
                  file=sys.stderr, flush=True)
    listener.rejected.clear()


def listen_file(path: Path, settings: Settings, *, as_json: bool, verbose: bool,
                expect: str | None = None) -> int:
    """Every command in a recording, streamed through the listener as from the microphone;
    returns how many. With `expect`, only what the session expects at that moment (see
    `expected`). Whisper decides each utterance in a second process while the listener goes
    on (`assistant.ear.pipeline`): the same commands, faster. A progress bar on stderr when
    it is a terminal."""
    from assistant.audio import read_wav
    from assistant.ear.pipeline import WhisperPipeline

    audio = read_wav(path)
    listener = make_listener(settings)
    listener.expect(expected(expect))
    count = 0
    rejected = 0
    told = listener.on_rejected

    def reject(item: Rejected) -> None:
        nonlocal rejected
        rejected += 1
        if told is not None:
            told(item)

    listener.on_rejected = reject
    pipeline = None
    if PIPELINE and WhisperPipeline.fits(listener.engine):
        from assistant.ear import engines

        pipeline = listener.pipeline = WhisperPipeline(
            listener.engine, settings.engine or engines.DEFAULT_ENGINE, settings.vocabulary(),
            settings.model)
    # the stream as the microphone gives it: 20 ms blocks, the last one filled with quiet,
    # then a second of quiet that lets an utterance at the very end finish
    blocks = -(-len(audio) // BLOCK)
    stream = np.zeros(blocks * BLOCK + SAMPLE_RATE, np.float32)
    stream[: len(audio)] = audio
    step = BLOCK if pipeline is None else SAMPLE_RATE  # a file needs no 20 ms pacing
    with progress_bar(len(stream) / SAMPLE_RATE) as advance:
        try:
            for start in range(0, len(stream), step):
                for heard in listener.process(stream[start:start + step]):
                    show(heard, as_json)
                    count += 1
                if verbose:
                    show_rejected(listener, as_json)
                advance(step / SAMPLE_RATE)
            for heard in listener.flush():
                show(heard, as_json)
                count += 1
        finally:
            if pipeline is not None:
                pipeline.close()
    if verbose:
        show_rejected(listener, as_json)
    print(summary(path, len(audio) / SAMPLE_RATE, count, rejected, verbose), file=sys.stderr,
          flush=True)
    return count


#: `listen --file` decides utterances in a second process (False: one thread, as live; the
#: benchmark's "before")
PIPELINE = True


@contextmanager
def progress_bar(seconds: float) -> Iterator[Callable[[float], None]]:
    """A progress bar over `seconds` of audio on stderr, gone at the end; nothing at all
    when stderr is not a terminal."""
    if not sys.stderr.isatty():
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("listening"), BarColumn(), TextColumn("{task.percentage:>3.0f} %"),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True,
                  redirect_stdout=sys.stdout.isatty(), redirect_stderr=True) as bar:
        task = bar.add_task("listening", total=seconds)
        yield lambda done: bar.advance(task, done)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(path: Path, seconds: float, commands: int, rejected: int, verbose: bool) -> str:
    """The last line of `listen --file` (on stderr): what was heard, in one line."""
    why = " (--verbose shows why)" if rejected and not verbose else ""
    return (f"{path}: {seconds:.1f} s of audio, {plural(commands + rejected, 'utterance')} "
            f"heard: {plural(commands, 'command')}, {rejected} rejected{why}.")


def listen_microphone(settings: Settings, *, as_json: bool, verbose: bool,
                      expect: str | None = None) -> None:
    """Print each command heard from the microphone until Ctrl-C (with `expect`, only what
    the session expects at that moment)."""
    from assistant.devices import Microphone, NotListening, device

    inbox: queue.Queue[Any] = queue.Queue()
    try:
        mic = Microphone(lambda: make_listener(settings), inbox,
                         device(settings.input_device), None)
    except DeviceError as exc:
        raise DeviceError(f"{exc}. Without a microphone, `exercise-assistant start "
                          "--no-listen` works with the keys.") from None
    mic.expect(expected(expect))
    if not as_json:
        print("Listening: say a command (Ctrl-C to stop).", file=sys.stderr, flush=True)
    try:
        while True:
            try:
                item = inbox.get(timeout=0.2)
            except queue.Empty:
                if verbose and mic.listener is not None:
                    show_rejected(mic.listener, as_json)
                continue
            if isinstance(item, Heard):
                show(item, as_json)
            elif isinstance(item, NotListening):  # the recognizer could not load
                raise item.error
    finally:
        # the stream and the listener's worker stop before the interpreter does, and the
        # listener (with its resamplers) is freed here: at exit, nanobind reports a
        # resampler still held by a running thread as "leaked"
        mic.close()
        del mic
        gc.collect()
