"""Echo cancellation: the assistant's own voice, as the microphone hears it, taken back out
(`EchoCanceller`), and how loud the echo left may still be (`EchoGuard`, for the listener).

SpeexDSP's echo canceller (libspeexdsp, Debian's libspeexdsp1, through ctypes): a
partitioned-block frequency-domain adaptive filter (MDF) whose step size follows how much of
what is left is still echo (J.-M. Valin, "On adjusting the learning rate in frequency domain
echo cancellation with double-talk", 2007), so it keeps learning without a fan's noise or a
person's voice throwing it off. The reference reaches it already aligned to the echo's delay
(see `delay`), so its 240 ms model the room, not the wait.

It replaced the project's own numpy version of the same structure after `./scripts/bench
echo_canceller` (5 December 2026; 37 s of the assistant's speech, echo at gain 0.5 and 1.0,
30 to 600 ms late, each aligned): in a quiet room they tied (ours 35-43 dB of echo taken
out, Speex 38-41 dB), by a fan at -35 dBFS Speex took out 21-25 dB where ours took 10-17 dB,
at a quarter of the CPU (3.8 against 14.7 ms per second of audio). Pure computation, one
10 ms block at a time."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections import deque
from itertools import islice

import numpy as np

from assistant.ear.delay import DelayEstimator, Ring
from assistant.ear.engines import SAMPLE_RATE
from assistant.ear.levels import FRAME, SILENT_DB, NoiseFloor, db, level_db
from assistant.errors import DeviceError

_SET_SAMPLING_RATE = 24  # SPEEX_ECHO_SET_SAMPLING_RATE


@functools.cache
def library() -> ctypes.CDLL:
    """libspeexdsp, loaded once; DeviceError with what to install when it is missing."""
    name = ctypes.util.find_library("speexdsp")
    if name is None:
        raise DeviceError("echo cancellation needs libspeexdsp (Debian: apt-get install "
                          "libspeexdsp1; ./scripts/setup installs it)")
    lib = ctypes.CDLL(name)
    lib.speex_echo_state_init.restype = ctypes.c_void_p
    lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p] * 4
    lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
    lib.speex_echo_state_reset.argtypes = [ctypes.c_void_p]
    return lib


class EchoCanceller:
    """Cancels the echo of `reference` in `mic`, `block` samples at a time; `tail` samples
    (240 ms at 16 kHz) is the longest echo path it models.

    A filter that makes the microphone far louder (`ADDS_DB`) for `RESET_FRAMES` blocks in
    a row is reset, as Speex resets itself after 50 such blocks: but silently, where Speex
    says so on stderr ("The echo canceller started acting funny and got slapped"), in the
    middle of a session's live view (4 times in 320 simulated sessions once its estimate
    was kept only where it helps, `EchoGuard._cancel_tail`: a filter left with little echo
    to learn from adapted to what else it heard; none in the next 320 with the reset)."""

    RESET_FRAMES = 25
    ADDS_DB = 6.0

    def __init__(self, block: int = 160, tail: int = 3840, sample_rate: int = 16000) -> None:
        self._lib = lib = library()
        self.block = block
        self._state = lib.speex_echo_state_init(block, tail)
        rate = ctypes.c_int(sample_rate)
        lib.speex_echo_ctl(self._state, _SET_SAMPLING_RATE, ctypes.byref(rate))
        self._out = np.zeros(block, np.int16)
        self._notch = (0.0, 0.0)  # Speex's DC notch on the microphone, for the echo estimate
        self._adds = 0  # blocks in a row that came out `ADDS_DB` louder than they went in

    def __del__(self) -> None:
        state, self._state = getattr(self, "_state", None), None
        if state:
            self._lib.speex_echo_state_destroy(state)

    def reset(self) -> None:
        """Forget all the filter learnt."""
        self._lib.speex_echo_state_reset(self._state)
        self._notch = (0.0, 0.0)
        self._adds = 0

    def learn(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """One block through the filter, for what it learns (a pass over past audio): the
        microphone as the canceller took it, in 16-bit samples."""
        m = np.clip(np.round(np.asarray(mic) * 32768.0), -32768, 32767).astype(np.int16)
        r = np.clip(np.round(np.asarray(reference) * 32768.0), -32768, 32767).astype(np.int16)
        self._lib.speex_echo_cancellation(self._state, m.ctypes.data, r.ctypes.data,
                                          self._out.ctypes.data)
        went_in = float(np.dot(m, m.astype(np.float64)))
        came_out = float(np.dot(self._out, self._out.astype(np.float64)))
        # Speex's own test (mdf.c), with its allowance for a near-silent microphone
        adds = came_out > (went_in + self.block * 312.5) * 10 ** (self.ADDS_DB / 10)
        self._adds = self._adds + 1 if adds else 0
        if self._adds >= self.RESET_FRAMES:
            self.reset()
        return m

    def process(self, mic: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One block: (mic with the echo estimate removed, the echo estimate)."""
        m = self.learn(mic, reference)
        out = (self._out / 32768.0).astype(np.float32)
        notched, self._notch = dc_notch(m / 32768.0, self._notch)
        return out, (notched - out).astype(np.float32)


def dc_notch(x: np.ndarray, state: tuple[float, float] = (0.0, 0.0), radius: float = 0.982
             ) -> tuple[np.ndarray, tuple[float, float]]:
    """`x` through the DC notch Speex puts on the microphone before cancelling (mdf.c,
    filter_dc_notch16), and the filter's state after it."""
    den2 = radius * radius + 0.7 * (1 - radius) ** 2
    m0, m1 = state
    y = []
    for v in (np.asarray(x, np.float64) * 32768.0).tolist():
        o = m0 + v
        m0 = m1 + 2 * (-v + radius * o)
        m1 = v - den2 * o
        y.append(radius * o)
    return np.array(y) / 32768.0, (m0, m1)


#: Band edges (Hz) of `band_levels`: 24 bands, log-spaced over the voice's range.
_BAND_EDGES = np.geomspace(100.0, 4000.0, 25)


def band_levels(x: np.ndarray) -> np.ndarray:
    """The log energy (log10) in 24 bands of each 10 ms frame of `x`, its window the frame
    and the next one (Hann, 20 ms); `x` holds one frame more than the frames measured."""
    n = len(x) // FRAME - 1
    if n <= 0:
        return np.zeros((0, len(_BAND_EDGES) - 1))
    rows = np.arange(n)[:, None] * FRAME + np.arange(2 * FRAME)[None, :]
    power = np.abs(np.fft.rfft(x[rows] * np.hanning(2 * FRAME), axis=1)) ** 2
    freqs = np.fft.rfftfreq(2 * FRAME, 1.0 / SAMPLE_RATE)
    band = np.digitize(freqs, _BAND_EDGES) - 1
    inside = (band >= 0) & (band < len(_BAND_EDGES) - 1)
    sums = np.zeros((n, len(_BAND_EDGES) - 1))
    np.add.at(sums.T, band[inside], power[:, inside].T)
    return np.log10(sums + 1e-10)


def likeness(mic: np.ndarray, played: np.ndarray, lags: range, floor: float = 3.0) -> float:
    """How much the band levels `mic` (frames x bands) follow those of `played`, which holds
    `lags.stop - 1` frames more before them: the best correlation, over the lags (in frames),
    of the levels with each band's mean taken out (the room's colouring and the echo's gain
    do not count), from -1 to 1. Each band is floored `floor` (log10: 30 dB) under its
    loudest in the stretch compared, so that neither a fan's noise in the microphone nor
    the digital silence between words played counts, only the shape of the voice (a fan
    at -60 dBFS took its own echo from 0.99 alike to 0.80 without the floor)."""
    n, most = len(mic), lags.stop - 1
    if n < 3:
        return 0.0
    mic = np.maximum(mic, mic.max(0) - floor)
    m = mic - mic.mean(0)
    best = 0.0
    for lag in lags:
        seg = played[most - lag : most - lag + n]
        seg = np.maximum(seg, seg.max(0) - floor)
        s = seg - seg.mean(0)
        scale = float(np.sqrt((m * m).sum() * (s * s).sum()))
        if scale > 0.0:
            best = max(best, float((m * s).sum()) / scale)
    return best


#: What was played is silence under this level (dBFS): nothing to compare with.
SILENT_PLAYED_DB = -65.0
#: The offsets within a frame (samples) at which `sounds_like` lines up what was played.
SUB_FRAME_LAGS = (0, 40, 80, 120)


def sounds_like(mic: np.ndarray, played: np.ndarray, most: int) -> float:
    """How much the sound `mic` (samples, one frame more than the frames compared) follows
    `played`, which holds `most` + one frame of samples more before it: the best `likeness`
    at any lag up to `most`, searched in whole frames and, within a frame, at
    `SUB_FRAME_LAGS`. Band levels of 10 ms frames change fast in speech, and an echo half a
    frame off the nearest whole-frame lag was measured 0.91 alike (median; 0.5 at worst)
    over 120 ms of its own voice, where lined up it is 0.99: a loopback that resamples, or
    any room, puts the echo anywhere within a frame (live echo fragments that passed the
    endpointer, 0.76-0.86 alike at whole-frame lags, were 0.90-1.00 alike here)."""
    heard = band_levels(mic)
    lags = range(0, most // FRAME + 1)
    best = 0.0
    for sub in SUB_FRAME_LAGS:
        shifted = played[FRAME - sub : len(played) - sub]
        best = max(best, likeness(heard, band_levels(shifted), lags))
    return best


class EchoGuard:
    """Cancels the loudspeaker's echo and tells how loud the echo left in the mic may be.

    The estimate of the echo that survives cancellation is the louder of the canceller's own
    echo estimate and the reference level (a loudspeaker about as loud at the microphone as in
    the signal sent to it), plus the leak: how far the cancelled signal stays above that in
    frames with the reference playing and nobody talking (the 95th percentile over 2 s),
    once the room's own noise (the cancelled signal's 15th percentile) is taken out."""

    NEAR_END_FRAMES = 30
    LEAD = 0.03  # the canceller's window starts this long before the echo's delay
    SPAN = 30  # frames of reference whose echo may still be in the microphone (300 ms)
    HISTORY = 2.0  # s of microphone and reference a new filter learns from at once
    PASSES = 3  # times a new filter goes over that history
    YOUNG = 200  # frames after a new filter during which it goes over the history again
    RELEARN = 25  # ... every this many frames, when nobody talks
    RELEARN_PASSES = 3
    LOUDER_DB = 6.0  # the canceller's output this much louder than the microphone: diverged
    #: s: the latest an echo is looked for by `sounds_played`: the longest delay the
    #: estimator looks for and 0.3 s more (a busy machine's loudspeaker ran dry and its
    #: echo came later than any delay found)
    LIKENESS_LAG = 1.1
    #: Taps (2 ms) of the direct path, fitted by least squares to the history whenever
    #: the filter learns it (`_learn`), and taken out before the adaptive filter, which
    #: models what is left (the room's tail). Speex's filter learns slowly from the little
    #: echo heard in a session's first second: there it took out 11 dB of the echo (0.5
    #: loud, 600 ms late; 8 dB at 30 ms), so a "stop" said then was not heard, or was heard
    #: mixed with its own words ("welcome to stop"). With it, 39 dB (30 dB at 30 ms), and
    #: in a simulated room (a tail 6 dB under the direct sound, RT60 0.3 s) 14 dB where
    #: Speex alone took 10 (45 against 38 dB 5 s in). Real "stop"s of 40 tuning clips said
    #: 1 s into a session over its voice: paused in time 39 (35 before) of 40 at 0.5:600,
    #: 38 (19) at 1.0:600, 39 (38) at 0.5:300 and 38 at 1.0:300 (with the two changes below
    #: and in `sounds_played`).
    DIRECT_TAPS = 32
    #: dB: the echo left is never taken to lie further under the echo than this. Measured
    #: on the history it learned from, the direct path left the echo 54 dB down; on what
    #: came next, 46 dB: the echo left after a word then stood above the echo assumed and
    #: kept its utterance going for half a second ("stop" said 2 s into a session was
    #: heard 0.7 s after it ended)
    LEAK_FLOOR_DB = -40.0
    DIRECT_WORSE_DB = 1.0  # a frame the direct path makes this much louder: not its echo
    DIRECT_WORSE_FRAMES = 5  # ... and this many in a row: the path has moved
    MOSTLY_ECHO_DB = 15.0  # see `sounds_played`
    #: Frames of clear echo in its history from which a new filter's leak is taken as
    #: known (`_learn`; `process` measures 20). Found 0.3 s into the assistant's first
    #: words, the delay leaves a history of 19-29 such frames: with 20 needed, the leak
    #: stayed at 0 dB (no echo taken out) for up to 0.2 s more, and a "stop" begun then,
    #: under a residual as loud as the echo, never started an utterance. Real "stop"s of
    #: 40 tuning clips, 0.5 loud, begun 60 and 160 ms after the delay was found 600 ms
    #: late and 60 ms after it 300 ms late: paused in time 119 (109 before) of 120.
    LEARNT_LEAK_FRAMES = 10

    def __init__(self, coupling_db: float = 0.0) -> None:
        self.canceller = EchoCanceller(FRAME)
        self.coupling_db = coupling_db
        self.delay = DelayEstimator(SAMPLE_RATE)
        # the reference as played, to be read back `_lead` samples late for the canceller
        history = round(self.HISTORY * SAMPLE_RATE)
        #: `LIKENESS_LAG` in samples, whole frames
        self.likeness_lag = round(self.LIKENESS_LAG * SAMPLE_RATE) // FRAME * FRAME
        self._ref = Ring(max(self.delay.max_lag, self.likeness_lag) + history + 2 * FRAME)
        # the microphone as heard, for a new filter to learn the room from (see `_align`)
        self._mic = Ring(history)
        self._lead = 0
        # the direct path (see `DIRECT_TAPS`): its taps, and the delay of its first
        self._direct: np.ndarray | None = None
        self._direct_at = 0
        self._worse = 0  # frames in a row that the direct path made louder
        #: the microphone sample at which the current filter was set up (`recancel`); None
        #: before the delay is first known
        self.aligned_at: int | None = None
        self._age = self.YOUNG  # frames since the filter was new
        lags = self.delay.max_lag // FRAME
        self._ref_recent: deque[float] = deque(maxlen=lags + self.SPAN)  # 1.1 s: every delay
        self._leaks: deque[float] = deque(maxlen=200)
        self._out_floor = NoiseFloor(percentile=15.0)
        self._near_end = 0  # frames in a row that sounded like a person talking
        self.leak_db = 0.0
        self.residual_db = SILENT_DB
        self.active = False
        self.voice = False  # this frame stood far above any echo left: a person talking

    def process(self, mic: np.ndarray, ref: np.ndarray, talking: bool) -> np.ndarray:
        self._ref_recent.append(level_db(ref))
        self.delay.push(mic, ref)
        self._ref.write(ref)
        self._align()
        self._age += 1
        delay = self.delay.delay
        if delay is not None and self._age < self.YOUNG and self._age % self.RELEARN == 0 \
                and not talking:
            self._learn(delay, self.RELEARN_PASSES)
        end = self._ref.count - self._lead
        ref = self._ref.read(end - FRAME, end)
        ref_env = self._ref_envelope()
        self.active = ref_env > -65.0
        # double talk (Geigel's test): the microphone louder than anything the loudspeaker
        # played in the last 300 ms is a person talking over it: not a measure of the leak
        mic_db = level_db(mic)
        double_talk = mic_db > ref_env + self.coupling_db
        direct = self._direct_echo(self._ref.count - FRAME, self._ref.count)
        tail_only = self._direct is not None  # the adaptive filter models the tail alone
        if self._holds(mic, mic - direct):
            self._worse = 0
        else:
            direct, tail_only = np.zeros_like(direct), False
            self._worse += 1
            if self._worse >= self.DIRECT_WORSE_FRAMES:
                self._direct = None  # until the filter learns the room again
        out, estimate = self._cancel_tail(mic - direct, ref, tail_only)
        estimate = estimate + direct
        # the canceller never makes the microphone much louder (as WebRTC AEC3's output
        # selector keeps the microphone when the filter's output is the louder): where the
        # echo did not come when believed (a busy machine's loudspeaker ran dry), taking
        # the echo estimate out of a silent microphone made a phantom of the assistant's
        # voice, which the engine heard as a word ("wait"). Not at any excess: switching
        # where the output was only a little louder cost a real "stop" over its voice
        # (10 evaluation clips, 1 s and 5 s into a session, 300 and 600 ms late)
        heard = out + estimate
        if level_db(out) > level_db(heard) + self.LOUDER_DB:
            out = heard
        self._mic.write(mic)
        echo_db = max(level_db(estimate), ref_env + self.coupling_db)
        out_db = level_db(out)
        # the leak is the echo left over, not the room's noise: in a fan's noise the
        # cancelled signal stays at the fan's level, and counting that as echo made the
        # residual as loud as the loudspeaker, so a word said over it was cut short
        noise = 10.0 ** (self._out_floor.update(out_db) / 10.0)
        left_db = db(max(10.0 ** (out_db / 10.0) - noise, 0.0))
        # a person starting to talk: the cancelled signal far above the echo usually left
        # (the endpointer says "talking" only some frames into a word). Such frames are no
        # measure of the leak, for at most `NEAR_END_FRAMES` (a moved loudspeaker's new
        # echo must be measured again).
        near_end = len(self._leaks) >= 20 and left_db > echo_db + self.leak_db + 10.0
        # and only where the microphone is louder than anything the loudspeaker played
        # at any delay looked for (not only around the delay believed), while that delay
        # holds: an echo that came later than believed (a busy machine's loudspeaker ran
        # dry) is not cancelled, stood "far above" the leak measured before, and was louder
        # than the silence played one believed delay ago (its own "Go!" was kept as "go")
        above_all = mic_db > max(self._ref_recent) + self.coupling_db
        self.voice = near_end and above_all and self.delay.steady
        self._near_end = self._near_end + 1 if near_end else 0
        hold = 0 < self._near_end <= self.NEAR_END_FRAMES
        if not self.active:
            self.residual_db = SILENT_DB
            return out
        # measured only where the echo stands clear of the room's noise: between the
        # assistant's words the fan's flicker over its floor, divided by a weak echo, read
        # as a leak of -9 dB (measured) where the canceller really left -20 dB or less.
        # And only where this frame carries echo itself (what was played one delay ago
        # is within 20 dB of the envelope): in the gaps between words the envelope still
        # holds the last word, and a run of such frames read as a leak of -80 dB. So it
        # is measured only once the delay is known.
        delay = self.delay.delay
        if delay is None:
            self.residual_db = db(10.0 ** ((echo_db + self.leak_db) / 10.0) + noise)
            return out
        direct = self._ref.read(self._ref.count - delay - FRAME, self._ref.count - delay)
        carries = level_db(direct) + self.coupling_db > echo_db - 20.0
        clear = echo_db > db(noise) + 10.0 and carries
        if not talking and not double_talk and not hold and clear:
            self._leaks.append(min(left_db - echo_db, 0.0))
            if len(self._leaks) >= 20:
                self.leak_db = self._measured_leak()
        # what the microphone holds without anyone talking: the echo left plus the room;
        # while a look says the delay has moved, the echo may not be cancelled at all
        leak = self.leak_db
        self.residual_db = db(10.0 ** ((echo_db + leak) / 10.0) + noise)
        return out

    @property
    def samples(self) -> int:
        """Microphone samples processed so far."""
        return self._mic.count

    def sounds_played(self, start: int, end: int) -> float | None:
        """How much microphone samples [start, end) (counted as `samples` counts; at most the
        last `HISTORY` of them are held) sound like what the loudspeaker played, at any delay
        up to `LIKENESS_LAG` (see `sounds_like`), not only at the one believed: unlike the
        canceller and the estimate of the echo left, this holds when the echo path has just
        moved (a busy machine's loudspeaker ran dry, a young filter, a loopback resampling).
        Measured once the echo of the direct path, as known, is taken out (`recancel`): a
        person's "stop" over an echo as loud as itself measured 0.85-0.95 alike with it in,
        and was dropped as its own voice; 0.43-0.65 without it. Where that path no longer
        holds, nothing is taken out; where what is left lies `MOSTLY_ECHO_DB` under what
        was heard, the sound was the echo itself, and is measured as heard (a 60 ms piece of
        its echo that got past the endpointer was 0.66 like what it played once its direct
        echo was taken out, 1.0 as heard). None where it cannot tell: less than 40 ms of
        them held, or nothing played then."""
        start = max(start, self._mic.count - self._mic.size + FRAME, 0)
        if end - start < 4 * FRAME:
            return None
        most = self.likeness_lag
        played = self._ref.read(start - most - FRAME, end + FRAME)
        if level_db(played) <= SILENT_PLAYED_DB:
            return None
        heard = self._mic.read(start, end + FRAME)
        left = self._less_direct(heard, start)
        if level_db(left) < level_db(heard) - self.MOSTLY_ECHO_DB:
            left = heard  # the sound was its own echo: what is left of it is no voice
        return sounds_like(left, played, most)

    def _align(self) -> None:
        """Start the canceller's window just before the echo's delay, once it is known: its
        240 ms then model the room's echo path instead of the wait for it. A new filter
        learns the room again when the delay moves out of that window, and when it is
        first found (a short delay lies within the first window: its filter, learning
        from nothing, took out 4 dB of the echo in the first second, where one that
        learns the history at once took out more)."""
        delay = self.delay.delay
        if delay is None:
            return
        lead = max(0, delay - round(self.LEAD * SAMPLE_RATE))
        if self.aligned_at is not None and \
                self._lead <= delay <= self._lead + round(0.1 * SAMPLE_RATE):
            return
        self._lead = lead
        self.canceller = EchoCanceller(FRAME)
        self.aligned_at = self._mic.count
        self._leaks.clear()  # a new filter has cancelled nothing yet
        self.leak_db = 0.0
        self._age = 0
        self._learn(delay, self.PASSES)

    def _learn(self, delay: int, passes: int) -> None:
        """A new filter learns the room from the last `HISTORY` of microphone and reference,
        `passes` times over, and the leak it leaves is measured on its last pass: the delay is
        found ~0.3 s into the assistant's first words, and a filter starting from nothing
        there took out 2-8 dB of the echo by the end of its first second (measured), so a
        word said over it stood no clearer than over no canceller at all. While the filter
        is young it goes over the history again every `RELEARN` frames when nobody talks,
        and the leak measured then replaces the one measured before (`process` adds to
        those measures; from `LEARNT_LEAK_FRAMES` of them the leak is known)."""
        end = self._mic.count - self._mic.count % FRAME
        start = max(0, end - round(self.HISTORY * SAMPLE_RATE))
        start -= start % FRAME
        if end - start < 10 * FRAME:
            return
        self._fit_direct(start, end, delay)
        raws = self._mic.read(start, end).reshape(-1, FRAME)
        directs = self._direct_echo(start, end).reshape(-1, FRAME)
        mics = raws - directs  # what the adaptive filter is left to model
        refs = self._ref.read(start - self._lead, end - self._lead).reshape(-1, FRAME)
        # what was played one delay before each frame (`played[i + SPAN]`), and the loudest
        # frame whose echo may be in the microphone then (the `SPAN` frames up to it)
        played = self._ref.read(start - delay - self.SPAN * FRAME, end - delay)
        levels = [level_db(f) for f in played.reshape(-1, FRAME)]
        envelopes = [max(levels[i + 1 : i + self.SPAN + 1]) + self.coupling_db
                     for i in range(len(mics))]
        noise = 10.0 ** (self._out_floor.level / 10.0)
        # each pass starts from silence: the filter's memory of the reference then holds
        # no end of the last pass, which it took for the start of this one (the output,
        # far louder than its input there, made Speex reset its filter once in 480
        # simulated sessions, and print so)
        for _ in range(passes - 1):
            self._forget_reference()
            for m, r in zip(mics, refs, strict=True):
                self.canceller.learn(m, r)  # only the last pass is measured
        self._forget_reference()
        leaks = []
        for i, (m, r) in enumerate(zip(mics, refs, strict=True)):
            out, estimate = self._cancel_tail(m, r, self._direct is not None)
            env = envelopes[i]
            echo_db = max(level_db(estimate + directs[i]), env)
            carries = levels[i + self.SPAN] + self.coupling_db > echo_db - 20.0
            clear = echo_db > db(noise) + 10.0 and carries
            if clear and env > -65.0 and level_db(raws[i]) <= env:
                left_db = db(max(10.0 ** (level_db(out) / 10.0) - noise, 0.0))
                leaks.append(min(left_db - echo_db, 0.0))
        if not leaks:
            return
        # a person who talked in those seconds is no measure of the leak either: frames far
        # above the usual leak are left out, as `process` leaves out a voice's frames
        usual = float(np.median(leaks))
        self._leaks.clear()
        self._leaks.extend(x for x in leaks if x <= usual + 10.0)
        if len(self._leaks) >= self.LEARNT_LEAK_FRAMES:
            self.leak_db = self._measured_leak()

    def _cancel_tail(self, mic: np.ndarray, ref: np.ndarray, tail_only: bool
                     ) -> tuple[np.ndarray, np.ndarray]:
        """One frame through the adaptive filter: (what is left, its echo estimate). Where
        the direct path's echo was taken out first (`tail_only`), the filter's estimate is
        taken out only where that leaves the frame no louder. With the direct path taken
        out, the filter has little echo to learn from and adapts fast whatever it hears:
        a person's word taught it the word, and for half a second after it, it added 15-30
        dB more than the echo it was meant to take out (a "stop" said 1 s into a session
        then ran on into the echo of the next sentence and was dropped as too long)."""
        out, estimate = self.canceller.process(mic, ref)
        if tail_only and level_db(out) > level_db(out + estimate):
            return out + estimate, np.zeros_like(estimate)
        return out, estimate

    def _measured_leak(self) -> float:
        """The echo left, from the measures held: their 95th percentile, never under
        `LEAK_FLOOR_DB`."""
        return max(float(np.percentile(self._leaks, 95)), self.LEAK_FLOOR_DB)

    def _forget_reference(self) -> None:
        """A filter's worth of silence through the canceller, so that its memory of the
        reference holds nothing of a pass just made over the history."""
        silence = np.zeros(FRAME, np.float32)
        for _ in range(self.SPAN):
            self.canceller.learn(silence, silence)

    def _fit_direct(self, start: int, end: int, delay: int) -> None:
        """The direct path (`DIRECT_TAPS` around `delay`), fitted by least squares to the
        microphone samples [start, end) and what was played before them, drawn (ridge)
        towards the pure delay that fits best: its tap and gain. Drawn towards nothing,
        the fit left out what the history played too little of (its first 0.25 s of
        echo, mostly voiced): a sentence's first sounds after a pause came out only 6 dB
        under its echo, kept a word's utterance going, and its pause came too late."""
        taps = self.DIRECT_TAPS
        at = max(0, delay - taps // 2)
        played = self._ref.read(start - at - taps + 1, end - at).astype(np.float64)
        rows = np.lib.stride_tricks.sliding_window_view(played, taps)[:, ::-1]
        heard = self._mic.read(start, end).astype(np.float64)
        gram = rows.T @ rows
        ridge = 1e-3 * float(np.trace(gram)) / taps + 1e-9  # silence played: no path
        cross = rows.T @ heard
        power = np.diag(gram)
        best = int(np.argmax(np.abs(cross) / np.sqrt(power + 1e-12)))
        pure = np.zeros(taps)
        pure[best] = cross[best] / (power[best] + ridge)
        self._direct = np.linalg.solve(gram + ridge * np.eye(taps), cross + ridge * pure)
        self._direct_at = at

    def _direct_echo(self, start: int, end: int) -> np.ndarray:
        """The echo of the direct path in microphone samples [start, end) (zeros before
        the delay is known)."""
        taps = self._direct
        if taps is None:
            return np.zeros(end - start, np.float32)
        played = self._ref.read(start - self._direct_at - len(taps) + 1,
                                end - self._direct_at).astype(np.float64)
        return np.convolve(played, taps, "valid").astype(np.float32)

    def recancel(self, start: int, end: int) -> np.ndarray:
        """Microphone samples [start, end) (whole frames) with the echo of the direct path,
        as now known, taken out of each frame it does not make louder (as `process` does):
        for audio heard before the current filter was set up (`aligned_at`), which was not
        cancelled then, and for how much a word sounds like what was played."""
        return self._less_direct(self._mic.read(start, end), start)

    def _less_direct(self, heard: np.ndarray, start: int) -> np.ndarray:
        """`heard`, microphone samples from `start` on (whole frames), with the echo of the
        direct path taken out of each frame where that path `_holds`."""
        left = heard - self._direct_echo(start, start + len(heard))
        for a in range(0, len(heard), FRAME):
            frame = slice(a, a + FRAME)
            if not self._holds(heard[frame], left[frame]):
                left[frame] = heard[frame]
        return left.astype(np.float32)

    def _holds(self, heard: np.ndarray, left: np.ndarray) -> bool:
        """Whether taking the direct path's echo out of the frame `heard` (leaving `left`)
        did not make it louder: where it did, it added what was not there (the echo no
        longer comes by that path: a busy machine's loudspeaker ran dry), a phantom of the
        assistant's voice."""
        return level_db(left) <= level_db(heard) + self.DIRECT_WORSE_DB

    def _ref_envelope(self) -> float:
        """The loudest frame the loudspeaker played whose echo may be in the microphone
        now: `SPAN` frames from the delay on, or, while the delay is not known, any frame
        up to the longest delay looked for."""
        recent = self._ref_recent
        if self.delay.delay is None:
            return max(recent)
        # and `LEAD` earlier than the delay believed, as the canceller's window: an echo
        # a few frames early (the devices' timestamps off on a busy machine) is then
        # covered from its first frame instead of standing above the envelope
        early = max(0, self.delay.delay - round(self.LEAD * SAMPLE_RATE))
        newest = len(recent) - 1 - early // FRAME
        lo = max(0, newest - self.SPAN + 1)
        return max(islice(recent, lo, max(newest + 1, lo + 1)))
