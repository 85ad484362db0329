"""The live driver: real clock, real devices, the keyboard and the terminal view.

The only place (with the audio callbacks it starts) that has threads and time. Threads:
the keyboard reader and the microphone worker put events on one queue; the main loop
takes them, ticks the session at each due time, and carries effects out. Time is the
loudspeaker's audio clock when there is one, so counts land on their sample.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

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
from assistant.view import KEY_HELP, Extras, render
from assistant.voice.player import COUNTERS_ONLY

LOOKAHEAD = 0.15  # speech is handed to the speaker this early, to start on its sample
# (0.05 s was too little on a busy machine: the main loop woke late and counts started late)
SAMPLE_RATE = 16000
MIC_BLOCK = 320
OFFSET_HISTORY = 500  # microphone blocks (10 s) whose session times are remembered
REFERENCE_LEAD = 0.06
"""The echo reference of a microphone block starts this long after what the loudspeaker was
sounding when the block was recorded: the echo's delay is then never below it, even when the
device's timestamps are off (the canceller cannot cancel an echo that comes before its
reference, and the delay estimator looks for none). With both cores busy the stamps were off
by tens of milliseconds: at 10 ms the echo of every count came before its reference, its
first 70-90 ms passed the echo guard as an utterance, and one was taken for "next"."""
REFERENCE_WAIT = 0.1
"""How long the microphone's worker waits for the loudspeaker to be handed the samples of a
block's reference (they are up to REFERENCE_LEAD ahead of what sounds): about 30 ms at most
on an idle machine; a loudspeaker that falls further behind is not waited for again until
it catches up."""


ALIGN_JUMP = 0.002  # s: the loudspeaker's timing against the microphone stepped by more
AGREE = 3  # microphone blocks in a row that must agree on it


class Alignment:
    """Session time minus microphone time, block by block: how the echo reference is read
    for what the microphone heard, and how the times of what was said are found.

    `update(start, sounding)` takes a block's microphone time and the session time the
    loudspeaker was sounding when PortAudio stamped the block (None without stamps). The
    stamps keep the reference aligned however many samples either stream lost on a busy
    machine, but the offset moves only by a step of the median of the last AGREE blocks'
    stamps larger than ALIGN_JUMP from one block to the next: now and then one stamp comes
    a whole block early or late and back again (measured under load: 38 such in 20 s,
    summing to nothing), and the stamps drift slowly against the sound card's own clock
    (a sample or two a second), which, followed, made the reference stutter against the
    echo. Pure logic."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset
        self._seen: deque[float] = deque(maxlen=AGREE)
        self._middle: float | None = None  # the median of `_seen` at the last block
        self._history: deque[tuple[float, float]] = deque(maxlen=OFFSET_HISTORY)

    def update(self, start: float, sounding: float | None) -> float:
        """The offset for the block from microphone time `start`."""
        if sounding is not None:
            seen = self._seen
            seen.append(sounding - start)
            middle = float(np.median(seen))
            if self._middle is None:
                self.offset = middle
            elif abs(middle - self._middle) > ALIGN_JUMP:
                self.offset += middle - self._middle  # a step: a stream lost samples
            self._middle = middle
        self._history.append((start, self.offset))
        return self.offset

    def at(self, t: float) -> float:
        """The offset that held at microphone time `t` (the last OFFSET_HISTORY blocks; the
        nearest end outside them)."""
        history = list(self._history)
        if not history:
            return self.offset
        i = bisect.bisect_right([h[0] for h in history], t) - 1
        return history[min(max(i, 0), len(history) - 1)][1]


class EchoSource(Protocol):
    """The loudspeaker as the microphone's echo reference."""

    def session_time(self, stream_time: float) -> float | None:
        """The session time sounding at `stream_time` on PortAudio's clock (None: unknown)."""

    def played(self, start_t: float, end_t: float) -> np.ndarray:
        """What was played between two session times."""

    def written(self) -> float:
        """The session time up to which samples went to the device (inf: none will)."""


    def said(self, start_t: float, end_t: float) -> list[str]:
        """The texts being said between two session times."""


@dataclass(frozen=True)
class KeyPress:
    char: str


def device(name: str | None) -> int | str | None:
    """A device as PortAudio takes it: its number, or (part of) its name."""
    return int(name) if name is not None and name.strip().isdigit() else name


TEN_WAIT = 0.7  # seconds a "1" waits for a "0" that makes it 10


class DigitKeys:
    """Digit keys as numbers 0-10, for the pain check-in: a "1" waits TEN_WAIT seconds for
    a "0" that makes it 10 (then or at the next key it counts as 1)."""

    def __init__(self, wait: float = TEN_WAIT) -> None:
        self.wait = wait
        self._one_at: float | None = None

    def press(self, char: str, now: float) -> list[Key]:
        """The number keys that a key press completes (a digit, or 10)."""
        if self._one_at is not None:
            self._one_at = None
            if char == "0":
                return [Key(Intent(Command.NUMBER, 10), "10")]
            return [Key(Intent(Command.NUMBER, 1), "1"), *self.press(char, now)]
        if char == "1":
            self._one_at = now
            return []
        if char.isdigit() and len(char) == 1 and char.isascii():
            return [Key(Intent(Command.NUMBER, int(char)), char)]
        return []

    def due(self, now: float) -> list[Key]:
        """A lone "1" whose wait is over."""
        if self._one_at is not None and now - self._one_at >= self.wait:
            self._one_at = None
            return [Key(Intent(Command.NUMBER, 1), "1")]
        return []


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


@contextlib.contextmanager
def native_stderr_to(path: Path) -> Iterator[None]:
    """While the live view is drawn, what C libraries (ALSA, PortAudio) write on the stderr
    file descriptor goes to `path`: a stray "underrun occurred" line under rich's Live moves
    the cursor and leaves a stale copy of the view. Python's own sys.stderr keeps the
    terminal."""
    sys.stderr.flush()
    saved = os.dup(2)
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 2)
    os.close(log)
    old = sys.stderr
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1)
    try:
        yield
    finally:
        mine, sys.stderr = sys.stderr, old
        with contextlib.suppress(OSError):
            mine.close()
        os.dup2(saved, 2)
        os.close(saved)


@dataclass(frozen=True)
class NotListening:
    """The microphone's worker could not make its listener (told on the event queue)."""

    error: Exception


class Microphone:
    """A sounddevice input stream: the callback only copies and enqueues; a worker thread
    runs the listener (never the audio thread) and puts Heard events on the queue.

    The worker first makes the listener (`make_listener`: loading Whisper takes most of a
    second), while the stream already records: the session starts talking at once, and what
    was said meanwhile is heard once it has loaded. A listener that cannot be made is
    `NotListening` on the queue, and the microphone then only records.

    When the device goes away (the stream stops by itself, or no audio arrives for
    STALL seconds), `check()` closes it and tries to open it again every RETRY seconds."""

    STALL = 2.5
    RETRY = 1.0

    def __init__(self, make_listener: Callable[[], Any], events: queue.Queue[Any],
                 device: int | str | None, speaker: EchoSource | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.level = 0.0
        self._frames: queue.Queue[tuple[np.ndarray, float] | None] = queue.Queue()
        self._make_listener = make_listener
        self._listener: Any = None
        self._events = events
        self._device = device
        self._speaker = speaker
        self._clock = clock
        self._samples = 0
        self._behind_until = 0.0  # the loudspeaker fell behind: no waiting until it is here
        self._expected: frozenset[Command] | None = None
        self.alignment = Alignment()  # session time against microphone time
        self._stream: Any = None
        self._finished = False
        self._heard_at = time.monotonic()
        self._next_try = 0.0
        self._open()
        self._worker = threading.Thread(target=self._work, name="listener", daemon=True)
        self._worker.start()

    def _open(self) -> None:
        import sounddevice as sd

        try:
            stream = sd.InputStream(
                samplerate=SAMPLE_RATE, channels=1, dtype="float32", blocksize=MIC_BLOCK,
                device=self._device, callback=self._callback,
                finished_callback=self._on_finished,
            )
            stream.start()
        except Exception as exc:  # PortAudio raises several types for missing devices
            from assistant.audio import device_problem

            raise DeviceError(device_problem("microphone", self._device, exc)) from None
        self._finished = False
        self._heard_at = time.monotonic()
        if self._clock is not None:
            self.alignment.offset = self._clock() - self._samples / SAMPLE_RATE
        self._stream = stream

    def expect(self, commands: frozenset[Command] | None) -> None:
        """What the session can use now (see `Listener.expect`): handed to the listener by
        the worker thread before its next frame, never while it is decoding."""
        self._expected = commands

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        self._heard_at = time.monotonic()
        self._frames.put((indata[:, 0].copy(), float(time_info.inputBufferAdcTime)))

    def _on_finished(self) -> None:
        self._finished = True

    def _load(self) -> bool:
        """Make the listener (on the worker thread); False, told as NotListening, if that
        fails."""
        try:
            listener = self._make_listener()
        except (DeviceError, AssistantError, ImportError, OSError) as exc:
            self._events.put(NotListening(exc))
            return False
        speaker = self._speaker
        if speaker is not None:  # what the loudspeaker said, in the listener's time
            listener.hear_own_words(
                lambda a, b: speaker.said(a + self.alignment.at(a), b + self.alignment.at(b)))
        self._listener = listener
        return True

    def _work(self) -> None:
        if not self._load():
            while self._frames.get() is not None:
                pass  # recorded, never heard: the level still shows
            return
        while (item := self._frames.get()) is not None:
            frame, recorded_at = item
            start = self._samples / SAMPLE_RATE
            self._samples += len(frame)
            self.level = min(1.0, float(np.sqrt(np.mean(frame**2))) * 10)
            played = None
            if self._speaker is not None:
                sounding = None
                if recorded_at > 0.0 and not COUNTERS_ONLY:  # what the loudspeaker sounded
                    sounding = self._speaker.session_time(recorded_at)
                t = start + self.alignment.update(start, sounding) + REFERENCE_LEAD
                end = t + len(frame) / SAMPLE_RATE
                self._await_written(end)
                played = self._speaker.played(t, end)
            self._listener.expect(self._expected)
            for heard in self._listener.process(frame, played):
                self._events.put(heard)

    def _await_written(self, end: float) -> None:
        """Wait until the loudspeaker has been handed the samples up to session time `end`
        (at most REFERENCE_WAIT, and not while it is behind from the last wait)."""
        assert self._speaker is not None
        if self._speaker.written() < self._behind_until:
            return
        deadline = time.monotonic() + REFERENCE_WAIT
        while self._speaker.written() < end:
            if time.monotonic() >= deadline:
                self._behind_until = end
                return
            time.sleep(0.005)

    @property
    def alive(self) -> bool:
        return self._stream is not None

    @property
    def listener(self) -> Any:
        """The listener, once the worker has made it (None before, or if it could not)."""
        return self._listener

    @property
    def echo_delay(self) -> float | None:
        return getattr(self._listener, "echo_delay", None)

    def check(self) -> str | None:
        """"lost" when the microphone has just gone away, "back" when it has just come
        back, else None. Call it often (from the thread that owns the session)."""
        now = time.monotonic()
        if self._stream is not None:
            if not self._finished and self._stream.active and now - self._heard_at < self.STALL:
                return None
            self._drop()
            self.level = 0.0
            self._next_try = now + self.RETRY
            return "lost"
        if now < self._next_try:
            return None
        self._next_try = now + self.RETRY
        try:
            self._open()
        except DeviceError:
            return None
        return "back"

    def _drop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.abort()
                stream.close()

    def close(self) -> None:
        """Stop the stream and the worker: after this nothing holds the listener (its
        resamplers are freed before the interpreter exits). Frames not heard yet are
        dropped: on a busy machine the listener falls seconds behind, and a process that
        exits while it still decodes on that thread is aborted by the C++ runtime."""
        self._drop()
        with contextlib.suppress(queue.Empty):
            while True:
                self._frames.get_nowait()
        self._frames.put(None)
        self._worker.join(timeout=30)  # the frame it is on; Whisper on a loaded machine


class Loudspeaker:
    """The loudspeaker and the session clock, through a device that may go away.

    Session time is the speaker's sample counter (counts land on their sample). When the
    stream stops by itself or stalls for STALL seconds, the clock carries on from the
    monotonic clock, speech goes to `show` (printed), and every RETRY seconds `check()`
    tries to open the device again. A new stream is taken once its clock runs (streams can
    stall for a second or two after opening), from the session time of that moment, so the
    session clock never stops or jumps back."""

    STALL = 2.5
    RETRY = 1.0

    def expect(self, commands: frozenset[Command] | None) -> None:
        """What the session can use now (see `Listener.expect`): handed to the listener by
        the worker thread before its next frame, never while it is decoding."""
        self._expected = commands

    def __init__(self, open_speaker: Callable[[], Any], show: Callable[[Say], None]) -> None:
        self._open = open_speaker
        self._show = show
        self.speaker: Any = open_speaker()
        self._pending: Any = None  # a reopened stream, until its clock runs
        self._pending_since = 0.0
        self._base = 0.0
        self._last = (0.0, time.monotonic())  # (session time, monotonic time) of its advance
        self._next_try = 0.0
        self._volume = 1.0

    def clock(self) -> float:
        t, at = self._last
        speaker = self.speaker
        if speaker is None:
            return t + (time.monotonic() - at)
        now = self._base + speaker.clock()
        if now > t:
            self._last = (now, time.monotonic())
            return now
        return t

    def check(self) -> str | None:
        """"lost" when the loudspeaker has just gone away, "back" when it has just come
        back, else None."""
        now = time.monotonic()
        speaker = self.speaker
        if speaker is not None:
            self.clock()
            if speaker.alive and now - self._last[1] < self.STALL:
                return None
            self._last = (self.clock(), now)
            self.speaker = None
            _close(speaker)
            self._next_try = now + self.RETRY
            return "lost"
        pending = self._pending
        if pending is not None:
            if pending.alive and pending.clock() > 0:
                self._base = self.clock() - pending.clock()
                self._last = (self._base + pending.clock(), now)
                if self._volume != 1.0:
                    pending.change_volume(self._volume - 1.0)
                self.speaker, self._pending = pending, None
                return "back"
            if not pending.alive or now - self._pending_since > self.STALL:
                self._pending = None
                _close(pending)
                self._next_try = now + self.RETRY
            return None
        if now < self._next_try:
            return None
        self._next_try = now + self.RETRY
        try:
            self._pending = self._open()
        except DeviceError:
            return None
        self._pending_since = now
        return None

    def schedule(self, say: Say) -> None:
        speaker = self.speaker
        if speaker is None:
            self._show(say)
        else:
            speaker.schedule(replace(say, t=say.t - self._base))

    def cut(self, t: float) -> None:
        if self.speaker is not None:
            self.speaker.cut(t - self._base)

    def change_volume(self, step: float) -> None:
        self._volume = min(1.0, max(0.0, self._volume + step))
        if self.speaker is not None:
            self.speaker.change_volume(step)

    def set_phase(self, t: float, phase: str) -> None:
        if self.speaker is not None:
            self.speaker.set_phase(t - self._base, phase)

    def session_time(self, stream_time: float) -> float | None:
        speaker = self.speaker
        if speaker is None:
            return None
        sounding = speaker.clock_at(stream_time)
        return None if sounding is None else self._base + sounding

    def said(self, start_t: float, end_t: float) -> list[str]:
        speaker, base = self.speaker, self._base
        return [] if speaker is None else speaker.said(start_t - base, end_t - base)

    def written(self) -> float:
        speaker = self.speaker
        if speaker is None or not speaker.alive:
            return float("inf")
        return self._base + speaker.clock()

    def played(self, start_t: float, end_t: float) -> np.ndarray:
        speaker, base = self.speaker, self._base
        if speaker is None:
            return np.zeros(max(0, round((end_t - start_t) * SAMPLE_RATE)), dtype=np.float32)
        return np.asarray(speaker.played(start_t - base, end_t - base))

    def close(self) -> None:
        for speaker in (self.speaker, self._pending):
            if speaker is not None:
                _close(speaker)


def _close(speaker: Any) -> None:
    with contextlib.suppress(Exception):
        speaker.close()


HEARD_SHOWN = 5.0  # seconds the view shows the last command heard


class Fading:
    """A line shown for `keep` seconds after it was set, then gone."""

    def __init__(self, keep: float) -> None:
        self.keep = keep
        self._text = ""
        self._at = 0.0

    def set(self, text: str, now: float) -> None:
        self._text, self._at = text, now

    def get(self, now: float) -> str:
        return self._text if now - self._at < self.keep else ""


class Loading:
    """What is being loaded before the view appears ("Getting ready: loading the voice"), on
    a terminal (`console`), so the first seconds are not a blank screen; gone once stopped."""

    def __init__(self, console: Any) -> None:
        self._status = console.status("", spinner="dots") if console is not None else None
        self._started = False

    def show(self, what: str) -> None:
        if self._status is None:
            return
        self._status.update(f"Getting ready: {what} ...")
        if not self._started:
            self._status.start()
            self._started = True

    def progress(self, what: str, done: int, total: int) -> None:
        """`what`, with a bar: `done` of `total`."""
        if self._status is None:
            return
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        row = Table.grid(padding=(0, 1))
        row.add_row(f"Getting ready: {what}", ProgressBar(total=total, completed=done, width=30),
                    f"{done}/{total}")
        self._status.update(row)

    def stop(self) -> None:
        if self._status is not None and self._started:
            self._status.stop()
            self._started = False


LOST = {
    "loudspeaker": "The loudspeaker went away: what I say is printed here until it is back.",
    "microphone": "The microphone went away: use the keys until it is back.",
}
BACK = {"loudspeaker": "The loudspeaker is back.", "microphone": "The microphone is back."}


def shown(event: Event, effects: list[Effect], has_keys: bool) -> tuple[str | None, str | None]:
    """What the view shows after the session handled `event`: (heard, reply), None for what
    does not change. Only what the session acted on (it logged a "command") is shown: a word
    it ignored, such as its own count coming back through the microphone, is not. The reply
    is the answer to help or how-many-left ("" for any other command: it is out of date)."""
    acted = any(isinstance(e, Record) and e.type == "command" for e in effects)
    if not acted or not isinstance(event, Heard | Key):
        return None, None
    heard = None
    if isinstance(event, Heard):
        value = event.intent.value
        heard = (f"{event.text} → {event.intent.command.value}"
                 + (f" {value}" if value is not None else ""))
    if event.intent.command not in (Command.HELP, Command.STATUS):
        return heard, ""
    reply = " ".join(e.text for e in effects if isinstance(e, Say))
    if event.intent.command is Command.HELP and has_keys:
        reply += " " + KEY_HELP
    return heard, reply


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def run_live(routine: Routine, settings: Settings, *, events: Path | None, listen: bool,
             journal: bool, verbose: bool = False) -> None:
    """A session in real time, with voice, microphone, keyboard and the terminal view.

    With no terminal on stdout there is no view: the timed transcript is printed instead."""
    from rich.console import Console

    console = Console()
    interactive = console.is_terminal
    loading = Loading(console if interactive else None)
    try:
        _run(routine, settings, console, loading, events=events, listen=listen,
             journal=journal, verbose=verbose)
    finally:
        loading.stop()


def _run(routine: Routine, settings: Settings, console: Any, loading: Loading, *,
         events: Path | None, listen: bool, journal: bool, verbose: bool) -> None:
    from rich.live import Live
    from rich.markup import escape

    interactive = console.is_terminal
    ear = None
    if listen:  # Whisper loads (most of a second) while the voice gets ready
        loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ear-load")
        ear = loader.submit(app.make_listener, settings)
        loader.shutdown(wait=False)
    loading.show("loading the voice")
    voice = app.Voice(settings, routine)
    if voice.synth is not None:  # what a slow voice has not said before, rendered now
        loading.show("preparing what I will say")
        voice.prepare(routine, lambda done, total: loading.progress(
            "preparing what I will say", done, total))
    notes = [sentence(n) for n in (voice.problem, voice.note) if n]

    def tell(message: str) -> None:
        """A message for the user: on the view, or printed when there is none."""
        notes.append(message)
        del notes[:-3]
        if not interactive:
            console.print(escape(message), highlight=False, soft_wrap=True)

    def show(say: Say) -> None:
        console.print(f"[dim]{say.t:7.1f}[/]  {escape(say.text)}", highlight=False,
                      soft_wrap=not interactive)

    speaker: Loudspeaker | None = None
    playlist: Any = None
    clock: Callable[[], float] = MonotonicClock()
    if voice.synth is not None:
        from assistant.voice.player import LiveSpeaker

        out_device = device(settings.output_device)

        playlist, ducking = app.open_music(settings, notes.append)

        def open_speaker() -> LiveSpeaker:
            try:
                return LiveSpeaker(voice.synth, device=out_device, music=playlist,
                                   ducking=ducking)
            except DeviceError as exc:
                from assistant.audio import device_problem

                raise DeviceError(device_problem("loudspeaker", out_device,
                                                 exc.__cause__ or exc)) from None

        try:
            # what cannot be heard is read: in the view's "said" line, or with no terminal
            # in the transcript `watch` prints (never both: it was there twice)
            speaker = Loudspeaker(open_speaker, lambda say: None)
            clock = speaker.clock
        except DeviceError as exc:
            notes.append(f"{sentence(str(exc))}. What I say is printed here instead.")
    plan = app.plan_for(routine, voice.timer())
    if voice.synth is not None:  # every planned utterance now, so a count never waits
        voice.synth.prerender(item.text for step in plan.steps for item in step.items
                              if isinstance(item, SayItem))
    inbox: queue.Queue[Any] = queue.Queue()
    said: list[str] = [""]

    def watch(effect: Effect) -> None:
        if isinstance(effect, Say):
            said[0] = effect.text
            if not interactive:
                show(effect)

    with contextlib.ExitStack() as stack:
        if interactive:
            from assistant import paths

            stack.enter_context(native_stderr_to(paths.data_dir() / "audio-messages.log"))
        sinks: list[EffectSink] = [watch]
        if speaker is not None:
            stack.callback(speaker.close)
            sinks.append(speaker_sink(speaker))
        if events:
            log = EventLog(events)
            stack.callback(log.close)
            sinks.append(log)
        journal_sink = stack.enter_context(app.open_journal(
            journal, routine, "start with --no-journal to exercise without recording it"))
        if journal_sink:
            sinks.append(journal_sink)
        session = Session(plan, voice.timer(),
                          app.session_options(journal_sink, settings.pause_limit))
        mic = None
        if listen:
            try:
                if speaker is not None:  # its echo is cancelled: fail here, not in a thread
                    from assistant.ear.echo import library

                    library()

                # ready before the session says a word: loaded while the loudspeaker played,
                # it made the first sentence stutter on a 2-core machine, and its echo was
                # heard as "next"
                loading.show("loading speech recognition")
                assert ear is not None
                listener = ear.result()
                if verbose:  # told from the loop below
                    listener.on_rejected = inbox.put
                mic = Microphone(lambda: listener, inbox, device(settings.input_device), speaker,
                                 clock)
                stack.callback(mic.close)
            except (DeviceError, AssistantError, ImportError) as exc:
                notes.append(f"Not listening: {exc}. Use the keys, or --no-listen.")
        has_keys = stack.enter_context(keyboard(inbox))
        if not has_keys and mic is None:
            notes.append("No keyboard and no microphone: the session runs straight through.")
        if not interactive:
            for note in notes:
                console.print(escape(note), highlight=False, soft_wrap=True)

        def emit(effects: list[Effect]) -> list[Effect]:
            for effect in effects:
                for sink in sinks:
                    sink(effect)
            return effects

        live = None
        loading.stop()
        if interactive:
            live = stack.enter_context(Live(console=console, refresh_per_second=8,
                                            transient=False, auto_refresh=False))
        digits = DigitKeys()
        echo_delay = None
        heard_line = Fading(HEARD_SHOWN)
        drawn_size: tuple[int, int] | None = None
        reply = ""
        reply_step = session.step
        last = clock()
        music_told = 0
        emit(session.handle(Start(app.now_iso()), last))
        while not session.done:
            for name, part in (("loudspeaker", speaker), ("microphone", mic)):
                change = part.check() if part is not None else None
                if change is not None:
                    tell(LOST[name] if change == "lost" else BACK[name])
            while playlist is not None and len(playlist.warnings) > music_told:
                tell(playlist.warnings[music_told])  # a file that would not decode: skipped
                music_told += 1
            due = session.next_due()
            wait = 0.1 if due is None else max(0.0, min(0.1, due - clock() - LOOKAHEAD))
            try:
                item = inbox.get(timeout=wait)
            except queue.Empty:
                item = None
            now = max(clock(), last)
            todo: list[Event] = list(digits.due(time.monotonic()))
            if isinstance(item, KeyPress):
                todo += digits.press(item.char, time.monotonic())  # with a pending "1"
                intent = None if item.char.isdigit() else key_intent(item.char, session.mode)
                if intent is not None:
                    todo.append(Key(intent, item.char))
            elif isinstance(item, Heard):
                todo.append(item)
            elif isinstance(item, NotListening):
                tell(f"Not listening: {item.error}. Use the keys, or --no-listen.")
            elif item is not None and hasattr(item, "describe"):  # rejected, with --verbose
                tell(item.describe())
            for event in todo:
                last = now
                heard, answer = shown(event, emit(session.handle(event, now)), has_keys)
                if heard is not None:
                    heard_line.set(heard, time.monotonic())
                if answer is not None:
                    reply, reply_step = answer, session.step
            due = session.next_due()
            if due is not None and due - clock() <= LOOKAHEAD:
                last = max(last, due)
                emit(session.handle(Tick(), last))
            if mic is not None:
                mic.expect(session.expecting())
                if verbose and mic.echo_delay is not None and mic.echo_delay != echo_delay:
                    echo_delay = mic.echo_delay
                    tell(f"Its own voice comes back into the microphone "
                         f"{1000 * echo_delay:.0f} ms late.")
            if reply and session.step is not reply_step:
                reply = ""  # an answer belongs to the step it was asked in
            if live is not None:
                extras = Extras(said=said[0],
                                heard=heard_line.get(time.monotonic()), note="\n".join(notes),
                                reply=reply, mic_level=mic.level if mic and mic.alive else None)
                size = (console.size.width, console.size.height)
                if size != drawn_size:
                    # the terminal re-wrapped the old frame to its new size, where drawing
                    # over it would leave pieces of it behind: start again on a clear screen
                    if drawn_size is not None:
                        console.clear()
                    drawn_size = size
                live.update(render(session.snapshot(clock()), extras, size), refresh=True)
        ended = "Session " + ("completed." if session.completed else "ended early.")
        if live is not None:
            live.update(render(session.snapshot(clock()), Extras(ended=ended),
                               (console.size.width, console.size.height)), refresh=True)
        if speaker is not None and speaker.speaker is not None:
            time.sleep(0.3)  # let the last words finish
    if live is None:  # the view already shows how it ended
        console.print(ended)
