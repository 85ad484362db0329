"""Drivers: the only place with time. They feed events into the session and carry its
effects out to sinks (speaker, event log, journal, console).

`simulate` runs a whole session on a virtual clock: the microphone (a WAV, plus the
assistant's own voice mixed back in with `--echo`) is processed block by block in step
with session time, and scripted commands arrive at their times. `run_live` (in `live.py`)
does the same against the audio clock and real devices.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from assistant.commands import Command, Intent
from assistant.eventlog import EffectSink, emit
from assistant.events import CutSpeech, Effect, Heard, Key, Record, Say, SetVolume, Start, Tick
from assistant.session import Session

SAMPLE_RATE = 16000
BLOCK = 320  # 20 ms of microphone audio per listening step

class Speaker(Protocol):
    def schedule(self, say: Say) -> None: ...

    def cut(self, t: float) -> None: ...

    def change_volume(self, step: float) -> None: ...

    def set_phase(self, t: float, phase: str) -> None: ...


class Reference(Protocol):
    """What the loudspeaker played between two session times (the echo reference)."""

    def audio(self, start_t: float, end_t: float) -> np.ndarray: ...

    def play(self, start_t: float, end_t: float) -> np.ndarray:
        """`audio`, which from now on no cut changes (what the loudspeaker has played)."""
        ...


class CommandListener(Protocol):
    def process(self, mic: np.ndarray, reference: np.ndarray | None = None) -> list[Heard]: ...

    def expect(self, commands: frozenset[Command] | None) -> None: ...


def speaker_sink(speaker: Speaker) -> EffectSink:
    """Carries speech effects to a speaker."""

    def sink(effect: Effect) -> None:
        if isinstance(effect, Say):
            speaker.schedule(effect)
        elif isinstance(effect, CutSpeech):
            speaker.cut(effect.t)
        elif isinstance(effect, SetVolume):
            speaker.change_volume(effect.step)
        elif isinstance(effect, Record) and effect.type == "phase":
            speaker.set_phase(effect.t, str(effect.data["phase"]))  # the music follows it

    return sink


@dataclass(frozen=True)
class Scripted:
    """A command fed at session time `t`: a key press, or a phrase as if it were heard."""

    t: float
    intent: Intent
    text: str = ""
    spoken: bool = False

    def event(self) -> Heard | Key:
        if self.spoken:
            return Heard(self.intent, self.text, 1.0, self.t, self.t)
        return Key(self.intent, self.text)


@dataclass(frozen=True)
class Echo:
    """The room: the assistant's voice reaches the microphone at `gain`, `delay` s late."""

    gain: float
    delay: float


class SessionStuck(RuntimeError):
    """The session stopped making progress (a bug, never an input problem)."""


def simulate(
    session: Session,
    sinks: Sequence[EffectSink],
    *,
    commands: Iterable[Scripted] = (),
    mic: np.ndarray | None = None,
    listener: CommandListener | None = None,
    reference: Reference | None = None,
    echo: Echo | None = None,
    started_at: str = "",
) -> float:
    """Run the session to its end on a virtual clock; returns the session's length."""
    pending = sorted(commands, key=lambda c: c.t)
    emit(sinks, session.handle(Start(started_at), 0.0))
    now = 0.0

    def run_until(t: float) -> None:
        """Everything due up to `t`: the session's own timeline and scripted commands."""
        nonlocal now
        for _ in range(10_000_000):
            due = session.next_due()
            if session.done or due is None:
                return
            if pending and pending[0].t <= min(due, t):
                command = pending.pop(0)
                now = max(now, command.t)
                emit(sinks, session.handle(command.event(), now))
            elif due <= t:
                now = max(now, due)
                emit(sinks, session.handle(Tick(), now))
            else:
                return
        raise SessionStuck(f"the session made no progress at t={now}")

    mic_samples = 0 if mic is None else len(mic)
    listening = listener is not None and (mic is not None or echo is not None)
    block = 0
    while listening and not session.done:
        assert listener is not None
        start, end = block * BLOCK, (block + 1) * BLOCK
        if end > mic_samples and echo is None:
            break
        t_end = end / SAMPLE_RATE
        run_until(t_end)
        now = max(now, t_end)
        emit(sinks, session.handle(Tick(), now))
        frame = np.zeros(BLOCK, dtype=np.float32)
        if mic is not None and start < mic_samples:
            chunk = mic[start:end]
            frame[: len(chunk)] = chunk
        played = None
        if reference is not None:
            played = reference.play(start / SAMPLE_RATE, t_end).astype(np.float32)
            if echo is not None:
                delayed = reference.audio(start / SAMPLE_RATE - echo.delay, t_end - echo.delay)
                frame = frame + echo.gain * delayed.astype(np.float32)
        listener.expect(session.expecting())
        for heard in listener.process(frame, played):
            emit(sinks, session.handle(heard, now))
        block += 1
    run_until(float("inf"))
    return now
