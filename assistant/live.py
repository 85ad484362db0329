"""The live driver: real clock, real devices, the keyboard and the terminal view.

The only place (with the audio callbacks it starts) that has threads and time. Threads:
the keyboard reader and the microphone worker put events on one queue; the main loop
takes them, ticks the session at each due time, and carries effects out. Time is the
loudspeaker's audio clock when there is one, so counts land on their sample.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from assistant import app
from assistant.commands import KEYS, Command, Intent
from assistant.errors import AssistantError, DeviceError
from assistant.eventlog import EffectSink, EventLog
from assistant.events import Effect, Event, Heard, Key, Record, Say, Start, Tick
from assistant.plan import SayItem
from assistant.routine import Routine
from assistant.runner import speaker_sink
from assistant.session import Mode, Session
from assistant.settings import Settings
from assistant.view import Extras, render

LOOKAHEAD = 0.05  # speech is handed to the speaker this early, to start on its sample
SAMPLE_RATE = 16000
MIC_BLOCK = 320


@dataclass(frozen=True)
class KeyPress:
    char: str


def device(name: str | None) -> int | str | None:
    """A device as PortAudio takes it: its number, or (part of) its name."""
    return int(name) if name is not None and name.strip().isdigit() else name


def key_intent(char: str, mode: Mode) -> Intent | None:
    """The command for a key; space toggles pause and resume."""
    if char == " ":
        return Intent(Command.RESUME if mode in (Mode.PAUSED,) else Command.PAUSE)
    command = KEYS.get(char.lower())
    return Intent(command) if command else None


class MonotonicClock:
    def __init__(self) -> None:
        self._t0 = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self._t0


@contextlib.contextmanager
def keyboard(events: queue.Queue[Any]) -> Iterator[bool]:
    """Single key presses from a terminal onto the queue (no Enter needed)."""
    if not sys.stdin.isatty():
        yield False
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            char = os.read(fd, 1).decode(errors="ignore")
            if char:
                events.put(KeyPress(char))

    tty.setcbreak(fd)
    thread = threading.Thread(target=read, name="keyboard", daemon=True)
    thread.start()
    try:
        yield True
    finally:
        stop.set()
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class Microphone:
    """A sounddevice input stream: the callback only copies and enqueues; a worker thread
    runs the listener (never the audio thread) and puts Heard events on the queue."""

    def __init__(self, listener: Any, events: queue.Queue[Any], device: int | str | None,
                 reference: Callable[[float, float], np.ndarray] | None) -> None:
        import sounddevice as sd

        self.level = 0.0
        self._frames: queue.Queue[np.ndarray | None] = queue.Queue()
        self._listener = listener
        self._events = events
        self._reference = reference
        self._samples = 0
        try:
            self._stream = sd.InputStream(
                samplerate=SAMPLE_RATE, channels=1, dtype="float32", blocksize=MIC_BLOCK,
                device=device, callback=self._callback,
            )
            self._stream.start()
        except Exception as exc:  # PortAudio raises several types for missing devices
            raise DeviceError(f"cannot open the microphone: {exc}") from None
        self._worker = threading.Thread(target=self._work, name="listener", daemon=True)
        self._worker.start()

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        self._frames.put(indata[:, 0].copy())

    def _work(self) -> None:
        while (frame := self._frames.get()) is not None:
            start = self._samples / SAMPLE_RATE
            self._samples += len(frame)
            end = self._samples / SAMPLE_RATE
            self.level = min(1.0, float(np.sqrt(np.mean(frame**2))) * 10)
            played = self._reference(start, end) if self._reference else None
            for heard in self._listener.process(frame, played):
                self._events.put(heard)

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()
        self._frames.put(None)


def run_live(routine: Routine, settings: Settings, *, events: Path | None, listen: bool,
             journal: bool) -> None:
    """A session in real time, with voice, microphone, keyboard and the terminal view."""
    from rich.console import Console
    from rich.live import Live

    console = Console()
    voice = app.Voice(settings, routine)
    notes = [voice.problem] if voice.problem else []
    speaker: Any = None
    clock: Callable[[], float] = MonotonicClock()
    if voice.synth is not None:
        try:
            from assistant.speech.player import LiveSpeaker

            speaker = LiveSpeaker(voice.synth, device=device(settings.output_device))
            clock = speaker.clock
        except DeviceError as exc:
            notes.append(f"no loudspeaker ({exc}); the session goes on as printed text")
    plan = app.plan_for(routine, voice.timer())
    if voice.synth is not None:  # every planned utterance now, so a count never waits
        voice.synth.prerender(item.text for step in plan.steps for item in step.items
                              if isinstance(item, SayItem))
    inbox: queue.Queue[Any] = queue.Queue()
    extras = Extras(note="; ".join(notes))
    said: list[str] = [""]
    heard_text: list[str] = [""]

    def watch(effect: Effect) -> None:
        if isinstance(effect, Say):
            said[0] = effect.text
            if speaker is None:
                console.print(f"[dim]{effect.t:7.1f}[/]  {effect.text}")
        elif isinstance(effect, Record) and effect.type == "heard":
            heard_text[0] = f"{effect.data['text']} → {effect.data['command']}"

    with contextlib.ExitStack() as stack:
        sinks: list[EffectSink] = [watch]
        if speaker is not None:
            stack.callback(speaker.close)
            sinks.append(speaker_sink(speaker))
        if events:
            log = EventLog(events)
            stack.callback(log.close)
            sinks.append(log)
        journal_sink = stack.enter_context(app.open_journal(journal, routine))
        if journal_sink:
            sinks.append(journal_sink)
        session = Session(plan, voice.timer(),
                          app.session_options(journal_sink, settings.pause_limit))
        mic = None
        if listen:
            try:
                played = getattr(speaker, "played", None)
                mic = Microphone(app.make_listener(settings), inbox,
                                 device(settings.input_device), played)
                stack.callback(mic.close)
            except (DeviceError, AssistantError, ImportError) as exc:
                extras = replace(extras, note="; ".join([*notes, f"not listening: {exc}"]))
        has_keys = stack.enter_context(keyboard(inbox))

        def emit(effects: list[Effect]) -> None:
            for effect in effects:
                for sink in sinks:
                    sink(effect)

        live = stack.enter_context(Live(console=console, refresh_per_second=8,
                                        transient=False, auto_refresh=False))
        if not has_keys and mic is None:
            extras = replace(extras, note=extras.note + " (no keyboard and no microphone: "
                             "the session runs straight through)")
        last = clock()
        emit(session.handle(Start(app.now_iso()), last))
        while not session.done:
            due = session.next_due()
            wait = 0.1 if due is None else max(0.0, min(0.1, due - clock() - LOOKAHEAD))
            try:
                item = inbox.get(timeout=wait)
            except queue.Empty:
                item = None
            now = max(clock(), last)
            event: Event | None = None
            if isinstance(item, KeyPress):
                intent = key_intent(item.char, session.mode)
                event = Key(intent, item.char) if intent else None
            elif isinstance(item, Heard):
                event = item
            if event is not None:
                last = now
                emit(session.handle(event, now))
            due = session.next_due()
            if due is not None and due - clock() <= LOOKAHEAD:
                last = max(last, due)
                emit(session.handle(Tick(), last))
            extras = replace(extras, said=said[0], heard=heard_text[0],
                             mic_level=mic.level if mic else None)
            live.update(render(session.snapshot(clock()), extras), refresh=True)
        if speaker is not None:
            time.sleep(0.3)  # let the last words finish
    console.print("Session " + ("completed." if session.completed else "ended early."))
