"""How late the assistant's own voice comes back: the loudspeaker-to-microphone delay.

The assistant knows exactly what it played (the reference), so the delay is where the
microphone best matches the reference shifted back in time. Found by GCC-PHAT: the
cross-spectrum of the last second of microphone and the reference up to `max_delay` before
it, each bin weighted by its own magnitude to the power -0.8 (PHAT whitens speech's strong
low harmonics, which otherwise smear the peak over tens of milliseconds; the 0.2 left keeps
a fan's weak bins from counting as much as the voice's). The cross-spectra of successive
windows are averaged, so a window where the user talks or the loudspeaker is silent moves
the estimate little, and the peak is taken only when it stands clear of the rest of the
correlation (`min_clarity` times its standard deviation: the echo of a pure delay stands 120-250
times above it, with a fan as well; another voice with no echo reached 31).

A delay is believed when `agree` looks in a row (0.3 s at first, then 0.75 s) agree within
2 ms, one of them `min_clarity` clear and the others at least half as clear (`confirm`);
after that it changes only when as many agree on a different one (a Bluetooth speaker
reconnecting, a PulseAudio buffer growing). Pure computation: fed 10 ms blocks, no clock."""

from __future__ import annotations

import numpy as np

from assistant.audio import read_ring


class Ring:
    """The last `size` samples of a stream, read back by absolute sample index."""

    def __init__(self, size: int) -> None:
        self._data = np.zeros(size, np.float32)
        self.count = 0  # samples written so far

    @property
    def size(self) -> int:
        """How many of the last samples it holds."""
        return len(self._data)

    def write(self, block: np.ndarray) -> None:
        n, size = len(block), len(self._data)
        i = self.count % size
        k = min(n, size - i)
        self._data[i : i + k] = block[:k]
        self._data[: n - k] = block[k:]
        self.count += n

    def read(self, start: int, end: int) -> np.ndarray:
        """Samples [start, end) of the stream; zeros where they are not (or no longer) held."""
        return read_ring(self._data, self.count, start, end)


class DelayEstimator:
    """Finds and tracks the delay (in samples) between the reference and its echo.

    `push(mic, ref)` takes the same 10 ms of microphone and of what the loudspeaker was sent;
    `delay` is the current belief (None until found)."""

    def __init__(
        self, sample_rate: int = 16000, max_delay: float = 0.8, window: float = 1.0,
        hop: float = 0.25, min_clarity: float = 50.0, agree: int = 3, weight: float = 0.8,
        active_db: float = -55.0, first_hop: float = 0.1, first_look: float = 0.3,
        first_looks: int = 30, confirm: float = 0.5,
    ) -> None:
        self.rate = sample_rate
        self.max_lag = round(max_delay * sample_rate)
        self.window = round(window * sample_rate)
        self.hop = round(hop * sample_rate)
        self.first_hop = round(first_hop * sample_rate)
        self.first_look = round(first_look * sample_rate)
        self.first_looks = first_looks
        self._looks = 0  # looks made while the reference played
        self.min_clarity = min_clarity
        #: while no delay is known, a look at least this much of `min_clarity` clear counts
        #: towards agreement, if one of the looks agreeing is that clear. A person talking
        #: as the echo first comes back muddies every look of their word (clarity 28-47
        #: for 0.4 s, measured, where the echo alone stood at 50-89), yet each peak stays
        #: on the echo's delay: with those looks refused, the delay was found only after
        #: the word, and a "stop" said 0.15 s after the assistant's first words came back
        #: stood under a residual as loud as the echo, and was not heard (real "stop"s of
        #: 40 tuning clips said then, 0.5 loud, 600 ms late: 36 paused in time, 25 before;
        #: said 0.05 s after, before any look is clear, 12, and 6 before). A voice with no
        #: echo never makes a look that clear (31 at most, measured).
        self.confirm = confirm
        self.agree = agree
        self.weight = weight
        self.active_db = active_db
        self._mic = Ring(self.window + self.hop)
        self._ref = Ring(self.window + self.max_lag + self.hop)
        self._n = 1 << int(np.ceil(np.log2(self.window + self.max_lag)))
        self._cross: np.ndarray | None = None  # the averaged cross-spectrum
        self._since = 0
        self._candidate: int | None = None
        self._agreed = 0  # looks in a row that found the candidate
        self._clear = False  # ... and one of them stood `min_clarity` clear
        self.delay: int | None = None
        self.clarity = 0.0  # how clearly the last look's peak stood out

    @property
    def steady(self) -> bool:
        """The delay is known and the last clear look did not point elsewhere."""
        return self.delay is not None and self._candidate is None

    @property
    def seconds(self) -> float | None:
        return None if self.delay is None else self.delay / self.rate

    def push(self, mic: np.ndarray, ref: np.ndarray) -> None:
        self._mic.write(np.asarray(mic, np.float32))
        self._ref.write(np.asarray(ref, np.float32))
        self._since += len(mic)
        quick = self.delay is None and self._looks < self.first_looks
        hop = self.first_hop if quick else self.hop
        if self._since >= hop and self._mic.count >= self.first_look:
            self._since = 0
            self._look()

    def _look(self) -> None:
        end = self._mic.count
        mic = self._mic.read(end - self.window, end).astype(np.float64)
        ref = self._ref.read(end - self.window - self.max_lag, end).astype(np.float64)
        # only where the loudspeaker said something in the part of the reference the window
        # can hear, and the microphone heard something
        heard_ref = ref[self.max_lag :] if self.delay is None else ref[
            self.max_lag - self.delay : len(ref) - self.delay]
        if _db(heard_ref) < self.active_db or _db(mic) < self.active_db - 30.0:
            return
        self._looks += 1
        cross = np.conj(np.fft.rfft(mic, self._n)) * np.fft.rfft(ref, self._n)
        cross /= np.abs(cross) ** self.weight + 1e-20
        self._cross = cross if self._cross is None else 0.5 * self._cross + 0.5 * cross
        corr = np.fft.irfft(self._cross, self._n)[: self.max_lag + 1]
        # corr[k] matches mic[t] with ref[t + k]: the echo of a delay d peaks at max_lag - d
        peak = int(np.argmax(corr))
        rest = np.concatenate([corr[: max(peak - 40, 0)], corr[peak + 41 :]])
        spread = float(np.std(rest)) if len(rest) else 0.0
        self.clarity = float(corr[peak]) / spread if spread > 0 else 0.0
        found = self.max_lag - peak
        close = 2 * self.rate // 1000
        clear = self.clarity >= self.min_clarity
        # while no delay is known, a look half as clear counts too (see `confirm`); once
        # one is, only clear looks may move it (and `steady` holds through muddied ones)
        counts = clear or (self.delay is None and self.clarity >= self.confirm * self.min_clarity)
        if not counts or (self.delay is not None and abs(found - self.delay) <= close):
            self._candidate = None
            return
        if self._candidate is not None and abs(found - self._candidate) <= close:
            self._agreed += 1
            self._clear = self._clear or clear
        else:
            self._candidate, self._agreed, self._clear = found, 1, clear
        if self._agreed >= self.agree and self._clear:
            self.delay = found
            self._candidate = None


def _db(x: np.ndarray) -> float:
    power = float(np.mean(x * x)) if len(x) else 0.0
    return 10.0 * np.log10(power) if power > 1e-12 else -120.0
