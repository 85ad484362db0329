"""The live devices: the microphone and the loudspeaker, each through a device that may go
away and come back (`Reconnecting`, on an injected clock), and how what the microphone
hears is lined up with what the loudspeaker played (`Alignment`).

The audio callbacks and the microphone's worker are threads; everything else here is
called from the thread that owns the session (`live.py`)."""

from __future__ import annotations

import bisect
import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import numpy as np

from assistant.commands import Command
from assistant.errors import AssistantError, DeviceError
from assistant.events import Say
from assistant.runner import CommandListener
from assistant.voice.player import COUNTERS_ONLY

if TYPE_CHECKING:
    from assistant.ear.listener import Rejected
    from assistant.voice.music import Ducking, Playlist
    from assistant.voice.player import LiveSpeaker
    from assistant.voice.tts import Speech

Clock = Callable[[], float]
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


STALL = 2.5  # s without a sign of life from a device: it went away
RETRY = 1.0  # s between tries to open a device that went away
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


D = TypeVar("D")


class Reconnecting(Generic[D]):
    """A device that may go away and come back: the stall and retry logic of the microphone
    and the loudspeaker, on the clock it is given. Pure logic: what the device is, the
    functions given say.

    The device is lost when it stops by itself (`alive` false) or has given no sign of life
    (`last_sign()`: when it last did) for `stall` seconds. Then it is opened again every
    `retry` seconds; one with a `ready` test (a stream that can stall for a second or two
    after opening) waits until it passes, and is dropped, to be tried again, if it dies or
    does not pass within `stall` seconds."""

    def __init__(self, open_device: Callable[[], D], close: Callable[[D], None], clock: Clock,
                 *, alive: Callable[[D], bool], last_sign: Clock,
                 ready: Callable[[D], bool] | None = None, stall: float = STALL,
                 retry: float = RETRY) -> None:
        self._open = open_device
        self._close = close
        self._clock = clock
        self._alive = alive
        self._last_sign = last_sign
        self._ready = ready
        self.stall = stall
        self.retry = retry
        self.device: D | None = None
        self._pending: D | None = None  # reopened, until it is ready
        self._pending_since = 0.0
        self._next_try = 0.0

    def connect(self) -> None:
        """Open the device now (DeviceError when it cannot be)."""
        self.device = self._open()

    def check(self) -> str | None:
        """"lost" when the device has just gone away, "back" when it has just come back,
        else None. Call it often, from one thread."""
        now = self._clock()
        device = self.device
        if device is not None:
            quiet = now - self._last_sign()
            if self._alive(device) and quiet < self.stall:
                return None
            self.device = None
            self._close(device)
            self._next_try = now + self.retry
            return "lost"
        pending = self._pending
        if pending is not None:
            assert self._ready is not None
            if self._alive(pending) and self._ready(pending):
                self.device, self._pending = pending, None
                return "back"
            if not self._alive(pending) or now - self._pending_since > self.stall:
                self._pending = None
                self._close(pending)
                self._next_try = now + self.retry
            return None
        if now < self._next_try:
            return None
        self._next_try = now + self.retry
        try:
            opened = self._open()
        except DeviceError:
            return None
        if self._ready is None:
            self.device = opened
            return "back"
        self._pending, self._pending_since = opened, now
        return None

    def close(self) -> None:
        for device in (self.device, self._pending):
            if device is not None:
                self._close(device)
        self.device = self._pending = None


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


class HearingListener(CommandListener, Protocol):
    """A listener that can be told what the loudspeaker said (`Listener`)."""

    def hear_own_words(self, said: Callable[[float, float], Sequence[str]] | None) -> None: ...

    def missing_reference(self, samples: int) -> None:
        """The reference given with the next `samples` is not all known."""

    @property
    def echo_delay(self) -> float | None: ...

    @property
    def rejected(self) -> deque[Rejected]:
        """Utterances heard but not taken, newest last (for --verbose)."""


def device(name: str | None) -> int | str | None:
    """A device as PortAudio takes it: its number, or (part of) its name."""
    return int(name) if name is not None and name.strip().isdigit() else name


class MonotonicClock:
    """Seconds since it was made."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self._t0


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
    STALL seconds), `check()` closes it and tries to open it again every RETRY seconds
    (on the `wall` clock)."""

    def __init__(self, make_listener: Callable[[], HearingListener], events: queue.Queue[object],
                 device: int | str | None, speaker: EchoSource | None = None,
                 clock: Clock | None = None, wall: Clock = time.monotonic) -> None:
        self.level = 0.0
        self._frames: queue.Queue[tuple[np.ndarray, float] | None] = queue.Queue()
        self._make_listener = make_listener
        self._listener: HearingListener | None = None
        self._events = events
        self._device = device
        self._speaker = speaker
        self._clock = clock  # the session clock
        self._wall = wall
        self._samples = 0
        self._behind_until = 0.0  # the loudspeaker fell behind: no waiting until it is here
        self._expected: frozenset[Command] | None = None
        self.alignment = Alignment()  # session time against microphone time
        self._finished = False
        self._heard_at = wall()
        self._link: Reconnecting[Any] = Reconnecting(
            self._open, _abort, wall, alive=self._running, last_sign=lambda: self._heard_at)
        self._link.connect()
        self._worker = threading.Thread(target=self._work, name="listener", daemon=True)
        self._worker.start()

    def _open(self) -> Any:
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
        self._heard_at = self._wall()
        if self._clock is not None:
            self.alignment.offset = self._clock() - self._samples / SAMPLE_RATE
        return stream

    def _running(self, stream: Any) -> bool:
        return not self._finished and bool(stream.active)

    def expect(self, commands: frozenset[Command] | None) -> None:
        """What the session can use now (see `Listener.expect`): handed to the listener by
        the worker thread before its next frame, never while it is decoding."""
        self._expected = commands

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        self._heard_at = self._wall()
        self._frames.put((indata[:, 0].copy(), float(time_info.inputBufferAdcTime)))

    def _on_finished(self) -> None:
        self._finished = True

    def _load(self) -> HearingListener | None:
        """Make the listener (on the worker thread); None, told as NotListening, if that
        fails."""
        try:
            listener = self._make_listener()
        except (DeviceError, AssistantError, ImportError, OSError) as exc:
            self._events.put(NotListening(exc))
            return None
        if self._speaker is not None:  # what the loudspeaker said, in the listener's time
            listener.hear_own_words(self._own_words)
        self._listener = listener
        return listener

    def _own_words(self, start: float, end: float) -> list[str]:
        assert self._speaker is not None
        at = self.alignment.at
        return self._speaker.said(start + at(start), end + at(end))

    def _work(self) -> None:
        listener = self._load()
        if listener is None:
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
                if self._speaker.written() < end:  # not yet handed to the loudspeaker
                    listener.missing_reference(len(frame))
            listener.expect(self._expected)
            for heard in listener.process(frame, played):
                self._events.put(heard)

    def _await_written(self, end: float) -> None:
        """Wait until the loudspeaker has been handed the samples up to session time `end`
        (at most REFERENCE_WAIT, and not while it is behind from the last wait)."""
        assert self._speaker is not None
        if self._speaker.written() < self._behind_until:
            return
        deadline = self._wall() + REFERENCE_WAIT
        while self._speaker.written() < end:
            if self._wall() >= deadline:
                self._behind_until = end
                return
            time.sleep(0.005)

    @property
    def alive(self) -> bool:
        return self._link.device is not None

    @property
    def listener(self) -> HearingListener | None:
        """The listener, once the worker has made it (None before, or if it could not)."""
        return self._listener

    @property
    def echo_delay(self) -> float | None:
        return None if self._listener is None else self._listener.echo_delay

    def check(self) -> str | None:
        """"lost" when the microphone has just gone away, "back" when it has just come
        back, else None. Call it often (from the thread that owns the session)."""
        change = self._link.check()
        if change == "lost":
            self.level = 0.0
        return change

    def close(self) -> None:
        """Stop the stream and the worker: after this nothing holds the listener (its
        resamplers are freed before the interpreter exits). Frames not heard yet are
        dropped: on a busy machine the listener falls seconds behind, and a process that
        exits while it still decodes on that thread is aborted by the C++ runtime."""
        self._link.close()
        with contextlib.suppress(queue.Empty):
            while True:
                self._frames.get_nowait()
        self._frames.put(None)
        self._worker.join(timeout=30)  # the frame it is on; Whisper on a loaded machine


def _abort(stream: Any) -> None:
    with contextlib.suppress(Exception):
        stream.abort()
        stream.close()


def _close(speaker: LiveSpeaker) -> None:
    with contextlib.suppress(Exception):
        speaker.close()


def open_live_speaker(synth: Speech, out_device: int | str | None,
                      music: Playlist | None, ducking: Ducking) -> LiveSpeaker:
    """The loudspeaker's stream; DeviceError says which device and what to do."""
    from assistant.voice.player import LiveSpeaker

    try:
        return LiveSpeaker(synth, device=out_device, music=music, ducking=ducking)
    except DeviceError as exc:
        from assistant.audio import device_problem

        raise DeviceError(device_problem("loudspeaker", out_device,
                                         exc.__cause__ or exc)) from None


class Loudspeaker:
    """The loudspeaker and the session clock, through a device that may go away.

    Session time is the speaker's sample counter (counts land on their sample). When the
    stream stops by itself or stalls for STALL seconds, the clock carries on from the
    `wall` clock, speech is not played (the view's "said" line, or the transcript, shows
    it), and every RETRY seconds `check()` tries to open the device again. A new stream is
    taken once its clock runs (streams can stall for a second or two after opening), from
    the session time of that moment, so the session clock never stops or jumps back."""

    def __init__(self, open_speaker: Callable[[], LiveSpeaker], wall: Clock = time.monotonic
                 ) -> None:
        self._wall = wall
        self._link = Reconnecting(open_speaker, _close, wall, alive=lambda s: s.alive,
                                  last_sign=self._advanced_at, ready=lambda s: s.clock() > 0)
        self._link.connect()
        self._base = 0.0
        self._last = (0.0, wall())  # (session time, wall time) of its last advance
        self._volume = 1.0

    @property
    def connected(self) -> bool:
        return self._link.device is not None

    def clock(self) -> float:
        t, at = self._last
        speaker = self._link.device
        if speaker is None:
            return t + (self._wall() - at)
        now = self._base + speaker.clock()
        if now > t:
            self._last = (now, self._wall())
            return now
        return t

    def _advanced_at(self) -> float:
        self.clock()
        return self._last[1]

    def check(self) -> str | None:
        """"lost" when the loudspeaker has just gone away, "back" when it has just come
        back, else None."""
        change = self._link.check()
        if change == "lost":  # the clock carries on from the last time it advanced
            self._last = (self._last[0], self._wall())
        elif change == "back":  # from the session time it has reached
            speaker = self._link.device
            assert speaker is not None
            t, at = self._last
            now = self._wall()
            free = t + (now - at)
            self._base = free - speaker.clock()
            self._last = (free, now)
            if self._volume != 1.0:
                speaker.change_volume(self._volume - 1.0)
        return change

    def schedule(self, say: Say) -> None:
        if (speaker := self._link.device) is not None:
            speaker.schedule(replace(say, t=say.t - self._base))

    def cut(self, t: float) -> None:
        if (speaker := self._link.device) is not None:
            speaker.cut(t - self._base)

    def change_volume(self, step: float) -> None:
        self._volume = min(1.0, max(0.0, self._volume + step))
        if (speaker := self._link.device) is not None:
            speaker.change_volume(step)

    def set_phase(self, t: float, phase: str) -> None:
        if (speaker := self._link.device) is not None:
            speaker.set_phase(t - self._base, phase)

    def session_time(self, stream_time: float) -> float | None:
        if (speaker := self._link.device) is None:
            return None
        sounding = speaker.clock_at(stream_time)
        return None if sounding is None else self._base + sounding

    def said(self, start_t: float, end_t: float) -> list[str]:
        speaker, base = self._link.device, self._base
        return [] if speaker is None else speaker.said(start_t - base, end_t - base)

    def written(self) -> float:
        speaker = self._link.device
        if speaker is None or not speaker.alive:
            return float("inf")
        return self._base + speaker.clock()

    def played(self, start_t: float, end_t: float) -> np.ndarray:
        speaker, base = self._link.device, self._base
        if speaker is None:
            return np.zeros(max(0, round((end_t - start_t) * SAMPLE_RATE)), dtype=np.float32)
        return np.asarray(speaker.played(start_t - base, end_t - base))

    def close(self) -> None:
        self._link.close()

