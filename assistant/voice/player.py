"""The speaker side that the runner drives: speech placed on the session timeline by sample.

Every utterance is rendered to PCM (assistant.voice.tts), shortened to its slot (`fit`), and
placed so that its first sample plays at sample round(t * rate) of the speaker's timeline.
Priority rules (`Schedule.add`), shared by every speaker:
- rank: cue < count < instruction = prompt;
- a new utterance of equal or higher rank cuts whatever is still sounding at its start
  (a count cuts a cue, a prompt cuts a cue or a count, a newer instruction an older one),
  GAP seconds before it with a short fade, so the new one starts clean on its sample;
- a lower-rank one never cuts: a cue waits until the sounding utterance ends, and is dropped
  when that would make it later than MAX_WAIT seconds; a count, which belongs to its beat,
  is dropped rather than said late.

Speakers:
- TimelineSpeaker: simulation and `render`; everything on an in-memory timeline.
- LiveSpeaker: a sounddevice OutputStream whose sample counter is the session clock.
"""

from __future__ import annotations

import bisect
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from assistant.audio import read_ring, write_ring
from assistant.errors import DeviceError
from assistant.events import Say, SayKind
from assistant.voice.music import HOLD, RELEASE, Ducking, MusicFeed, Playlist
from assistant.voice.tts import SAMPLE_RATE, Speech, fit

RANK: dict[str, int] = {"cue": 0, "count": 1, "instruction": 2, "prompt": 2}
MAX_WAIT = 2.0
"""Seconds a cue may wait for a higher-priority utterance before it is dropped as stale."""
COUNTERS_ONLY = os.environ.get("EA_BENCH_COUNTERS_ONLY") == "1"
"""For the live echo bench's naive row only: the sample counters alone, as before the
timestamps were used."""
CATCH_UP = 0.008
"""Seconds the live loudspeaker may fall behind its own timeline (it ran dry on a busy
machine) before it skips ahead, so that counts stay on their beat in real time."""
GAP = 0.080
"""Speech cut by a newer utterance falls silent this long before it, so the new one
(a count on its beat) starts clean and its onset is where it belongs."""
FADE = 0.005
"""Speech that is cut fades out over this long instead of clicking."""

NEVER = sys.maxsize


class Speaker(Protocol):
    """What the runner drives. Times are seconds on the session timeline."""

    def schedule(self, say: Say) -> None:
        """Speak `say.text` starting exactly at session time `say.t`."""

    def cut(self, t: float) -> None:
        """Silence everything sounding at `t`; drop speech that has not started by then."""

    def change_volume(self, step: float) -> None:
        """Change the volume by `step` (clamped to 0..1), live."""

    def set_phase(self, t: float, phase: str) -> None:
        """The session's phase from `t` on (the music is quiet while "paused", and fades
        out when "done")."""

    def close(self) -> None:
        """Release the device."""


@dataclass(eq=False)
class Voice:
    """One utterance on a timeline: plays pcm[: stop - start] from sample `start`."""

    start: int
    pcm: np.ndarray
    kind: SayKind
    text: str
    stop: int = NEVER  # absolute sample where it was cut; NEVER when not cut
    started: bool = False  # (live) its first sample has been played

    @property
    def end(self) -> int:
        return min(self.start + len(self.pcm), self.stop)

    @property
    def dropped(self) -> bool:
        return self.end <= self.start


@dataclass
class Schedule:
    """The voices on one timeline and the priority rules between them (pure logic)."""

    rate: int = SAMPLE_RATE
    max_wait: float = MAX_WAIT
    voices: list[Voice] = field(default_factory=list)
    #: samples before this one have been played: no cut or newer utterance changes them
    #: (a loudspeaker cannot take back what it played; see `TimelineSpeaker.play`)
    played: int = 0

    def add(self, start: int, pcm: np.ndarray, kind: SayKind, text: str) -> Voice | None:
        """Place an utterance at sample `start` under the priority rules; None if dropped."""
        rank = RANK[kind]
        gap = round(GAP * self.rate)
        wanted = at = start
        while True:
            blockers = [v for v in self.voices if RANK[v.kind] > rank
                        and v.start - gap <= at < v.end]
            if not blockers:
                break
            if kind == "count":
                return None  # a count that cannot be on its beat is not said at all
            at = max(v.end for v in blockers)
            if at - wanted > self.max_wait * self.rate:
                return None
        for v in self.voices:  # what this one preempts falls silent GAP before it
            if v.end > at - gap and v.start < at and RANK[v.kind] <= rank:
                self._stop(v, at - gap)
        voice = Voice(at, pcm, kind, text)
        self.voices.append(voice)
        return voice

    def cut(self, at: int) -> None:
        """Everything stops at sample `at`; what starts at or after it is dropped."""
        for v in self.voices:
            if v.end > at:
                self._stop(v, at)  # a voice starting at or after `at` is dropped

    def _stop(self, voice: Voice, at: int) -> None:
        """Stop `voice` at sample `at`, fading out over FADE just before it; when that fade
        would reach into what was `played`, it is the FADE after it."""
        fade_n = round(FADE * self.rate)
        if at - fade_n < self.played:
            at = self.played + fade_n
        at = max(voice.start, at)
        if at >= voice.end:
            return  # silent from there on already
        voice.stop = at
        kept = voice.stop - voice.start
        fade = min(fade_n, kept)
        if fade > 0 and kept <= len(voice.pcm):
            pcm = np.array(voice.pcm[:kept], dtype=np.float32)
            pcm[kept - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
            voice.pcm = pcm

    def forget_before(self, sample: int) -> None:
        """Drop voices that ended before `sample` (they can no longer interact)."""
        self.voices = [v for v in self.voices if v.end > sample]


def _spans(voices: Sequence[Voice]) -> list[tuple[int, int]]:
    """[start, end) of every voice that sounds (what the music ducks under)."""
    return [(v.start, v.end) for v in voices if not v.dropped]


def _said(voices: list[Voice], a: int, b: int) -> list[str]:
    """The texts of the voices that sounded between samples `a` and `b`."""
    return [v.text for v in voices if v.start < b and v.end > a and not v.dropped]


COUNT_ONSET_DB = -40.0
"""A count's sound starts where 5 ms of it first reach this level (dBFS): on the beat."""


def sharp_onset(pcm: np.ndarray, threshold_db: float = COUNT_ONSET_DB,
                rate: int = SAMPLE_RATE) -> np.ndarray:
    """`pcm` from where it is first heard as a beat: a quiet lead-in (Piper's "Five." opens
    with 30 ms of a faint /f/ below -45 dBFS) is dropped, with a 2 ms fade-in, so the count
    is heard on its beat and not tens of milliseconds after it. Speech that never reaches
    the level is left as it is."""
    window = max(1, rate // 200)
    if len(pcm) < window:
        return pcm
    energy = np.concatenate([[0.0], np.cumsum(np.square(pcm, dtype=np.float64))])
    mean = (energy[window:] - energy[:-window]) / window
    loud = np.flatnonzero(mean > 10.0 ** (threshold_db / 10.0))
    if not len(loud) or loud[0] == 0:
        return pcm
    out = np.array(pcm[loud[0]:], dtype=np.float32)
    fade = min(len(out), rate // 500)
    out[:fade] *= np.arange(1, fade + 1, dtype=np.float32) / (fade + 1)  # never silent
    return out


def fitted(synth: Speech, say: Say) -> np.ndarray:
    """The utterance's PCM, shortened to its slot (never longer); a count from its first
    audible sound (`sharp_onset`)."""
    def spoken(rate: int | None = None) -> np.ndarray:
        pcm = synth.render(say.text, rate=rate)
        return sharp_onset(pcm) if say.kind == "count" else pcm

    return fit(
        spoken(),
        None if say.slot is None else max(say.slot - GAP, 0.1),
        lambda factor: spoken(round(synth.rate * factor)),
    )


class TimelineSpeaker:
    """Speech on an in-memory timeline (simulation, `render`): exact to the sample."""

    def __init__(self, synth: Speech, sample_rate: int = SAMPLE_RATE, *,
                 music: Playlist | None = None, ducking: Ducking | None = None) -> None:
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"TimelineSpeaker works at {SAMPLE_RATE} Hz")
        self.synth = synth
        self.rate = sample_rate
        self.volume = 1.0
        self.music = music
        self.ducking = ducking or Ducking(rate=sample_rate)
        self._schedule = Schedule(rate=sample_rate)
        self._all: list[Voice] = []  # sorted by start
        self._starts: list[int] = []
        self._longest = 0

    # --- Speaker ---------------------------------------------------------------------
    def schedule(self, say: Say) -> None:
        self.schedule_pcm(say.t, fitted(self.synth, say), kind=say.kind, text=say.text)

    def schedule_pcm(self, t: float, pcm: np.ndarray, *, kind: SayKind, text: str = "") -> None:
        """Play raw PCM (at the speaker's rate) from session time `t`, under the same rules."""
        if self.volume != 1.0:
            pcm = pcm * np.float32(self.volume)
        voice = self._schedule.add(round(t * self.rate), pcm, kind, text)
        if voice is not None:
            i = bisect.bisect_right(self._starts, voice.start)
            self._starts.insert(i, voice.start)
            self._all.insert(i, voice)
            self._longest = max(self._longest, len(voice.pcm))
        self._schedule.forget_before(round(t * self.rate) - round(30 * self.rate))

    def cut(self, t: float) -> None:
        self._schedule.cut(round(t * self.rate))

    def change_volume(self, step: float) -> None:
        """Changes the volume of what is scheduled after this call."""
        self.volume = min(1.0, max(0.0, self.volume + step))

    def set_phase(self, t: float, phase: str) -> None:
        self.ducking.phase(round(t * self.rate), phase)

    def close(self) -> None:
        pass

    # --- reading the timeline ---------------------------------------------------------
    @property
    def onsets(self) -> list[tuple[float, str, str]]:
        """(t, text, kind) of every utterance at the time its audio actually started."""
        return [(v.start / self.rate, v.text, v.kind) for v in self._all if not v.dropped]

    def said(self, start_t: float, end_t: float) -> list[str]:
        """The texts of the utterances heard between `start_t` and `end_t`."""
        return _said(self._all, round(start_t * self.rate), round(end_t * self.rate))

    def audio(self, start_t: float, end_t: float) -> np.ndarray:
        """What was played from `start_t` to `end_t` (float32, round(t * rate) samples)."""
        a, b = round(start_t * self.rate), round(end_t * self.rate)
        return self._mix(a, b)

    def play(self, start_t: float, end_t: float) -> np.ndarray:
        """`audio(start_t, end_t)`, now played: a later cut, or a newer utterance that
        preempts one sounding then (GAP before itself), leaves everything up to `end_t` as
        it was, as on a real loudspeaker. Without this, the session's "Paused." after a
        barge-in took back the last 80 ms of the instruction it cut, which the listener had
        already been given as played: its echo then matched no reference, and was once
        taken for "pause" (simulation only: a live loudspeaker plays what it played)."""
        self._schedule.played = max(self._schedule.played, round(end_t * self.rate))
        return self.audio(start_t, end_t)

    def write_wav(self, path: str, end_t: float) -> None:
        """The whole timeline, from 0 to `end_t` (exactly round(end_t * rate) samples)."""
        from assistant.audio import write_wav

        write_wav(path, self._mix(0, round(end_t * self.rate)), self.rate)

    def _mix(self, a: int, b: int) -> np.ndarray:
        out = np.zeros(max(0, b - a), dtype=np.float32)
        if b <= a:
            return out
        hi = bisect.bisect_left(self._starts, b)
        lo = bisect.bisect_left(self._starts, a - self._longest)
        for v in self._all[lo:hi]:
            s, e = max(a, v.start), min(b, v.end)
            if s < e:
                out[s - a : e - a] += v.pcm[s - v.start : e - v.start]
        if self.music is not None:
            reach = round((HOLD + RELEASE) * self.rate)
            near = self._all[bisect.bisect_left(self._starts, a - self._longest - reach):hi]
            out += self.music.read(a, b) * self.ducking.gains(a, b, _spans(near))
        return out


class LiveSpeaker:
    """Speech through a sounddevice OutputStream. Its sample counter is the audio clock.

    The stream starts in the constructor: session time 0 is its first sample. The callback
    only copies from pre-rendered voices (no synthesis, no locks); a cut is seen at the next
    block (blocks are 20 ms or less). What was played is kept in a ring buffer (`played`).
    Schedule at least `lookahead` seconds ahead of `clock()` to land exactly on the sample;
    later speech starts at the first block still to be played.

    Each block's start is also stamped with the time PortAudio says its first sample reaches
    the loudspeaker (`outputBufferDacTime`), so `clock_at` tells which sample was sounding at
    a moment of the stream clock. The sample counter alone does not: on a busy machine a late
    callback leaves the device without samples (an underflow), the device plays silence, and
    every later sample sounds that much later than the counter says (measured with both cores
    busy: 49 underflows in 30 s moved the echo 30 -> 780 ms against the counter, while the
    stamps placed it within 0.2 ms). So the samples the device missed are skipped (once
    more than CATCH_UP behind, by the stamps): the session clock then keeps real time, a
    count stays on its beat, and the echo stays where it was.
    """

    def __init__(
        self,
        synth: Speech,
        device: int | str | None = None,
        *,
        block_seconds: float = 0.010,
        history_seconds: float = 60.0,
        latency: float | str = "low",
        music: Playlist | None = None,
        ducking: Ducking | None = None,
    ) -> None:
        try:
            import sounddevice as sd
        except OSError as exc:  # PortAudio missing
            raise DeviceError(f"no audio output: {exc}") from exc
        self.synth = synth
        self.rate = SAMPLE_RATE
        self.blocksize = max(1, round(min(block_seconds, 0.020) * self.rate))
        self.lookahead = 2 * self.blocksize / self.rate
        self.underflows = 0
        self._volume = 1.0
        self._gain = 1.0  # what the callback applied last (ramps toward _volume)
        self._frames = 0
        self._voices: tuple[Voice, ...] = ()
        self._history: list[Voice] = []
        self.history_limit = 1000
        self._schedule = Schedule(rate=self.rate)
        self._lock = threading.Lock()  # control side only; the callback never takes it
        self._ring = np.zeros(round(history_seconds * self.rate), dtype=np.float32)
        stamps = round(history_seconds * self.rate / self.blocksize)
        self._stamp_frame = np.zeros(stamps, dtype=np.int64)  # block start (sample) ...
        self._stamp_time = np.zeros(stamps, dtype=np.float64)  # ... and when it sounds
        self._calls = 0
        self._anchor: tuple[int, float] | None = None  # (sample, stream time it sounded)
        self.skipped = 0  # samples skipped to catch up after the device ran dry
        self._finished = False
        self.ducking = ducking or Ducking(rate=self.rate)
        self.music = None if music is None else MusicFeed(music, self.rate)
        try:
            self._stream = sd.OutputStream(
                samplerate=self.rate,
                blocksize=self.blocksize,
                device=device,
                channels=1,
                dtype="float32",
                latency=latency,
                callback=self._callback,
                finished_callback=self._on_finished,
            )
            self._stream.start()
        except Exception as exc:
            reason = " ".join(str(exc).split())
            raise DeviceError(f"cannot open audio output {device or 'default'}: {reason}") from exc

    # --- the audio thread ---------------------------------------------------------------
    def _callback(self, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        if status.output_underflow:
            self.underflows += 1
        out = outdata[:, 0]
        out.fill(0.0)
        n0 = self._due(self._frames, time.outputBufferDacTime)
        if n0 > self._frames:  # the device ran dry: nothing sounded meanwhile
            self.skipped += n0 - self._frames
            write_ring(self._ring, self._frames,
                       np.zeros(min(n0 - self._frames, len(self._ring)), np.float32))
        n1 = n0 + frames
        for v in self._voices:
            if not v.started:
                if v.start >= n1:
                    continue
                if v.start < n0:  # scheduled too late: start now, never clip its onset
                    v.start = n0
                v.started = True
            s, e = max(n0, v.start), min(n1, v.end)
            if s < e:
                out[s - n0 : e - n0] += v.pcm[s - v.start : e - v.start]
        if self.music is not None:
            out += self.music.take(n0, n1) * self.ducking.gains(n0, n1, _spans(self._voices))
        target = self._volume
        if target != self._gain:
            out *= np.linspace(self._gain, target, frames, dtype=np.float32)
            self._gain = target
        elif target != 1.0:
            out *= np.float32(target)
        np.clip(out, -1.0, 1.0, out=out)
        write_ring(self._ring, n0, out)  # what was played
        j = self._calls % len(self._stamp_time)
        self._stamp_frame[j] = n0
        self._stamp_time[j] = time.outputBufferDacTime
        self._calls += 1
        self._frames = n1

    def _due(self, n: int, dac: float) -> int:
        """The sample to play next, that PortAudio says sounds at stream time `dac`: `n`, the
        next one, unless the device ran dry for more than CATCH_UP since the anchor (a late
        callback on a busy machine): then the one that sounds at `dac` by the anchor, so the
        samples after it sound when the session clock says (never an earlier one)."""
        anchor = self._anchor
        if dac <= 0.0 or COUNTERS_ONLY:
            return n
        if anchor is not None:
            due = anchor[0] + round((dac - anchor[1]) * self.rate)
            if abs(due - n) <= round(CATCH_UP * self.rate):
                return n
            n = max(n, due)
        self._anchor = (n, dac)
        return n

    def _on_finished(self) -> None:
        self._finished = True

    @property
    def alive(self) -> bool:
        """False once the stream has stopped by itself (the device went away)."""
        return not self._finished and bool(self._stream.active)

    # --- Speaker ----------------------------------------------------------------------
    def clock(self) -> float:
        """Seconds of audio played so far: the session clock when live."""
        return self._frames / self.rate

    def clock_at(self, stream_time: float) -> float | None:
        """Which moment of this speaker's timeline (seconds, as `clock`) was sounding at
        `stream_time` on PortAudio's stream clock (an input stream's `inputBufferAdcTime`);
        None when the device gives no timestamps or the moment is not in the history."""
        calls, size = self._calls, len(self._stamp_time)
        if calls < 2:
            return None
        order = np.arange(max(0, calls - size), calls - 1) % size  # the newest may be half written
        times = self._stamp_time[order]
        if times[-1] <= 0.0 or not times[0] <= stream_time:
            return None
        i = int(np.searchsorted(times, stream_time, side="right")) - 1
        return (self._stamp_frame[order[i]] + (stream_time - times[i]) * self.rate) / self.rate

    def schedule(self, say: Say) -> None:
        self.schedule_pcm(say.t, fitted(self.synth, say), kind=say.kind, text=say.text)

    def schedule_pcm(self, t: float, pcm: np.ndarray, *, kind: SayKind, text: str = "") -> None:
        """Play raw PCM (at the speaker's rate) from session time `t`, under the same rules."""
        with self._lock:
            now = self._frames
            self._schedule.forget_before(now)
            voice = self._schedule.add(round(t * self.rate), pcm, kind, text)
            if voice is not None:
                self._history.append(voice)
                del self._history[: -self.history_limit]
            self._voices = tuple(self._schedule.voices)

    def cut(self, t: float) -> None:
        with self._lock:
            self._schedule.cut(max(round(t * self.rate), self._frames))
            self._voices = tuple(v for v in self._schedule.voices if not v.dropped)

    def change_volume(self, step: float) -> None:
        self._volume = min(1.0, max(0.0, self._volume + step))

    def set_phase(self, t: float, phase: str) -> None:
        self.ducking.phase(round(t * self.rate), phase)

    @property
    def volume(self) -> float:
        return self._volume

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()
        if self.music is not None:
            self.music.close()

    # --- reading back -----------------------------------------------------------------
    @property
    def onsets(self) -> list[tuple[float, str, str]]:
        """(t, text, kind) of every utterance that has started playing, at its real start."""
        with self._lock:
            return [
                (v.start / self.rate, v.text, v.kind)
                for v in self._history
                if v.started and not v.dropped
            ]

    def said(self, start_t: float, end_t: float) -> list[str]:
        """The texts of the utterances that were playing between `start_t` and `end_t`."""
        with self._lock:
            started = [v for v in self._history if v.started]
        return _said(started, round(start_t * self.rate), round(end_t * self.rate))

    def played(self, start_t: float, end_t: float) -> np.ndarray:
        """What went to the device from `start_t` to `end_t` (the echo reference); samples
        not played yet, or older than the ring buffer, are zeros."""
        return read_ring(self._ring, self._frames, round(start_t * self.rate),
                         round(end_t * self.rate))

