"""LiveSpeaker through real PortAudio streams into a PulseAudio null sink, recorded back from
the sink's monitor with a separate InputStream (the run's own PulseAudio daemon, started
in conftest)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import pytest
from private_pulse import PrivateDaemon

from assistant.events import Say
from assistant.voice.player import sharp_onset
from assistant.voice.tts import SAMPLE_RATE, Synthesizer

pytestmark = pytest.mark.audio

RATE = SAMPLE_RATE
THRESHOLD = 0.05


@pytest.fixture(scope="module")
def pulse(pulse_daemon: PrivateDaemon) -> str:
    """The ALSA device that reaches the run's own PulseAudio daemon, whose null sink `spk` is
    the speaker and its monitor the microphone (PULSE_SINK and PULSE_SOURCE say so)."""
    import sounddevice as sd

    names = [d["name"] for d in sd.query_devices()]
    if "pulse" not in names:
        pytest.skip("no ALSA device 'pulse' (libasound2-plugins missing?)")
    return "pulse"


class Recorder:
    """Records the sink's monitor; index i of the recording is its i-th sample."""

    def __init__(self, device: str) -> None:
        import sounddevice as sd

        self.blocks: list[np.ndarray] = []
        self.overflows = 0  # blocks PortAudio lost before the callback read them
        # a high latency: a callback held up by other work in this process (the GIL) must
        # not lose input, or every later sample of the recording moves (a count once came
        # back 30.125 ms late, one period, in a CI run)
        self.stream = sd.InputStream(
            device=device,
            samplerate=RATE,
            channels=1,
            dtype="float32",
            blocksize=160,
            latency="high",
            callback=self._callback,
        )
        self.stream.start()

    def _callback(self, indata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        self.overflows += bool(status.input_overflow)
        self.blocks.append(indata[:, 0].copy())

    def samples(self) -> int:
        return sum(len(b) for b in self.blocks)

    def audio(self) -> np.ndarray:
        return np.concatenate(self.blocks)

    def close(self) -> None:
        self.stream.stop()
        self.stream.close()


@pytest.fixture(scope="module")
def rig(pulse: str, synth: Synthesizer) -> Iterator[tuple[Any, Recorder]]:
    """A running LiveSpeaker and Recorder, warmed up."""
    from assistant.voice.player import LiveSpeaker

    rec = Recorder(pulse)
    sp = LiveSpeaker(synth, device=pulse)
    try:
        deadline = time.monotonic() + 60  # a busy machine may take its time
        # streams can stall for up to ~2 s after opening: measure only after they run steadily
        while sp.clock() < 2.0 or rec.samples() < 2.0 * RATE:
            assert time.monotonic() < deadline, "audio streams did not start within 60 s"
            time.sleep(0.02)
        yield sp, rec
    finally:
        sp.close()
        rec.close()


def wait_until(sp: Any, t: float) -> None:
    deadline = time.monotonic() + (t - sp.clock()) * 3 + 5
    while sp.clock() < t:
        assert time.monotonic() < deadline, "the audio clock stopped"
        time.sleep(0.02)


def calibrate(sp: Any, rec: Recorder) -> int:
    """The constant offset between speaker samples and recording samples, measured now with
    a click (everything played before has ended)."""
    click = np.zeros(160, dtype=np.float32)
    click[:40] = 0.9
    since = rec.samples()
    t_click = sp.clock() + 0.2
    sp.schedule_pcm(t_click, click, kind="count", text="click")
    wait_until(sp, t_click + 0.4)
    heard = np.flatnonzero(np.abs(rec.audio()[since:]) > THRESHOLD)
    assert heard.size, "the calibration click never came back through PulseAudio"
    return since + int(heard[0]) - round(t_click * RATE)


T = TypeVar("T")
TRIES = 5


def fed_in_time(sp: Any, rec: Recorder, measure: Callable[[int], T]) -> T:
    """`measure(offset)` from a fresh calibration, in the first of TRIES attempts in which
    PortAudio reported no underflow of the speaker and no overflow of the recorder. On a
    machine too busy to run their callbacks in time, the stream plays silence and every
    later sample moves: the round trip is then no longer constant, whatever the speaker
    scheduled, and that attempt says nothing about where the speaker put its samples."""
    starved = 0
    for _ in range(TRIES):
        underflows, overflows = sp.underflows, rec.overflows
        result = measure(calibrate(sp, rec))
        if (sp.underflows, rec.overflows) == (underflows, overflows):
            return result
        starved += sp.underflows - underflows + rec.overflows - overflows
    pytest.fail(f"the audio callbacks were late in all {TRIES} attempts ({starved} under- "
                "and overflows): this machine is too busy to play sound on time")


def test_counts_start_where_they_were_scheduled(
    rig: tuple[Any, Recorder], synth: Synthesizer
) -> None:
    """Twelve counts played through PortAudio and PulseAudio are heard at their scheduled
    sample plus the constant round-trip latency, each within 30 ms (in an attempt where the
    machine fed the audio device in time)."""
    sp, rec = rig
    words = ["one", "two", "three", "four", "five", "six"] * 2
    synth.prerender(words)

    def measure(offset: int) -> tuple[list[float], np.ndarray, int]:
        t0 = sp.clock() + 0.3
        times = [t0 + k * 0.55 for k in range(len(words))]
        for t, word in zip(times, words, strict=True):
            sp.schedule(Say(t, word, "count", slot=0.55))
        wait_until(sp, times[-1] + 0.8)
        return times, rec.audio(), offset

    times, audio, offset = fed_in_time(sp, rec, measure)
    errors_ms = []
    for t, word in zip(times, words, strict=True):
        lead = int(np.flatnonzero(np.abs(sharp_onset(synth.render(word))) > THRESHOLD)[0])
        expected = round(t * RATE) + lead + offset
        window = audio[expected - RATE // 20 : expected + RATE // 10]  # from 50 ms before
        loud = np.flatnonzero(np.abs(window) > THRESHOLD)
        assert loud.size, f"{word!r} at {t:.2f} s was never heard"
        errors_ms.append((int(loud[0]) - RATE // 20) / RATE * 1000)
    assert max(abs(e) for e in errors_ms) <= 30, errors_ms


def test_cut_silences_within_50_ms(rig: tuple[Any, Recorder], synth: Synthesizer) -> None:
    """cut() during a long sentence: the recording is silent from 50 ms after the cut on
    (in an attempt where the machine fed the audio device in time)."""
    sp, rec = rig
    text = "Sit tall. Raise one knee toward your chest, lower it, then the other leg."
    synth.render(text)

    def measure(offset: int) -> tuple[float, np.ndarray, int]:
        t0 = sp.clock() + 0.2
        sp.schedule(Say(t0, text, "instruction"))
        wait_until(sp, t0 + 1.5)
        t_cut = sp.clock()
        sp.cut(t_cut)
        wait_until(sp, t_cut + 1.0)
        return t_cut, rec.audio(), offset

    t_cut, audio, offset = fed_in_time(sp, rec, measure)
    at = round(t_cut * RATE) + offset
    assert np.abs(audio[at - RATE // 2 : at]).max() > THRESHOLD  # it was speaking
    assert np.abs(audio[at + RATE // 20 : at + RATE]).max() < 1e-3
    assert sp.onsets[-1][1] == text


def test_played_is_what_went_to_the_sink(rig: tuple[Any, Recorder]) -> None:
    """played(a, b) returns, sample for sample, what came back from the sink for that range,
    found within 30 ms of the calibrated round trip (as the counts' timing; in an attempt
    where the machine fed the audio device in time)."""
    sp, rec = rig
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal(RATE // 2) * 0.1).astype(np.float32)

    def measure(offset: int) -> tuple[float, np.ndarray, np.ndarray, int]:
        t0 = sp.clock() + 0.2
        sp.schedule_pcm(t0, noise, kind="cue", text="noise")
        wait_until(sp, t0 + 0.7)
        return t0, sp.played(t0 - 0.1, t0 + 0.6), rec.audio(), offset

    t0, ref, audio, offset = fed_in_time(sp, rec, measure)
    assert np.abs(ref).max() > 0.1
    # the round trip moves by a few ms when a stream on this loaded machine skips a period
    # (1 run in 4 here, after the other tests): look for the range near the calibration
    slack = round(0.03 * RATE)
    start = round((t0 - 0.1) * RATE) + offset
    recorded = audio[start - slack : start + len(ref) + slack]
    lag = int(np.argmax(np.correlate(recorded, ref, "valid"))) - slack
    back = recorded[slack + lag : slack + lag + len(ref)]
    # the sink stores 16-bit samples: equal to within one quantization step
    assert np.abs(back - ref).max() < 2 / 32768
