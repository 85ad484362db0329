"""The echo canceller on its own: the assistant's speech as reference, its echo (half as loud,
30 ms late) in the microphone, with and without a fan's noise."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.ear.echo import (
    EchoCanceller,
    EchoGuard,
    band_levels,
    dc_notch,
    likeness,
    sounds_like,
)
from assistant.ear.levels import FRAME
from assistant.testing import espeak_clip, fan
from assistant.voice.tts import Synthesizer

TEXTS = [
    "Start on your hands and knees, wrists under shoulders, knees under hips.",
    "Breathe in as you let your belly sink and lift your chest and tailbone.",
    "one", "two", "three", "four",
    "Breathe out as you round your back toward the ceiling, tucking your chin.",
]


@pytest.fixture(scope="module")
def reference(synth: Synthesizer) -> np.ndarray:
    pieces = [np.concatenate([synth.render(t), np.zeros(4000, np.float32)]) for t in TEXTS]
    return np.concatenate(pieces).astype(np.float64)


def echo_reduction_db(reference: np.ndarray, noise_db: float | None) -> float:
    """How far the echo left in the output lies under the echo itself, in the last third."""
    delay = 480
    echo = np.zeros_like(reference)
    echo[delay:] = 0.5 * reference[:-delay]
    noise = np.zeros_like(reference)
    if noise_db is not None:
        noise = fan(len(reference) / 16000 + 1, noise_db, seed=3)[: len(reference)]
    canceller = EchoCanceller(160)
    left = echo_power = 0.0
    # Speex notches the microphone first: the noise and echo it works on are notched too
    quantised = np.round(noise * 32768) / 32768
    notched_noise, _ = dc_notch(quantised)
    notched_echo, _ = dc_notch(np.round((echo + noise) * 32768) / 32768 - quantised)
    for k in range(0, len(reference) - 160, 160):
        out, _ = canceller.process(echo[k : k + 160] + noise[k : k + 160],
                                   reference[k : k + 160])
        if k >= 2 * len(reference) // 3:
            left += float(np.sum((out - notched_noise[k : k + 160]) ** 2))
            echo_power += float(np.sum(notched_echo[k : k + 160] ** 2))
    return 10 * np.log10(echo_power / left)


def test_in_a_quiet_room_the_echo_is_cancelled_by_more_than_30_db(reference: np.ndarray) -> None:
    """Without noise, after ten seconds of speech, the echo left is over 30 dB under the echo."""
    assert echo_reduction_db(reference, None) > 30.0


def test_in_a_fans_noise_the_echo_is_still_cancelled_by_more_than_15_db(
    reference: np.ndarray,
) -> None:
    """With a fan at -35 dBFS (about 15 dB under the echo), the echo left is more than 15 dB
    under the echo (the project's own canceller, replaced by Speex's, managed 11)."""
    assert echo_reduction_db(reference, -35.0) > 15.0


@pytest.mark.parametrize(("early_ms", "covered"), [(0, True), (20, True), (30, True), (50, False)])
def test_the_guards_envelope_covers_an_echo_up_to_30_ms_earlier_than_the_delay_believed(
    early_ms: int, covered: bool
) -> None:
    """With the delay believed at 200 ms, a word whose echo comes `early_ms` sooner (the
    devices' timestamps a little off on a busy machine) is in the echo envelope from its
    first frame up to 30 ms early, and not beyond."""
    guard = EchoGuard()
    guard.delay.delay = 200 * 16  # samples
    frames = (200 - early_ms) * 16 // FRAME  # frames since the word's first frame was played
    for _ in range(60):
        guard._ref_recent.append(-100.0)
    for k in range(frames + 1):
        guard._ref_recent.append(-20.0 if k == 0 else -100.0)
    assert (guard._ref_envelope() == -20.0) is covered


def played_and_heard(reference: np.ndarray, heard: np.ndarray, delay: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Band levels of 1.5 s heard from 4 s on, and of what was played up to 0.8 s before."""
    start, end, most = 4 * 16000, round(5.5 * 16000), 80 * FRAME
    return (band_levels(heard[start : end + FRAME]),
            band_levels(reference[start - most : end + FRAME]))


@pytest.mark.parametrize("delay_ms", [0, 250, 700])
def test_its_own_echo_at_any_delay_within_0_8_s_sounds_like_what_was_played(
    reference: np.ndarray, delay_ms: int
) -> None:
    """Its echo, a third as loud, `delay_ms` late, in a fan's noise at -45 dBFS: at least
    0.95 alike (the louder bands and the gain do not count, the lag is searched)."""
    delay = delay_ms * 16
    heard = np.zeros_like(reference)
    heard[delay:] = reference[: len(reference) - delay] / 3
    heard += fan(len(heard) / 16000 + 1, -45.0, seed=4)[: len(heard)]
    mic, played = played_and_heard(reference, heard, delay)
    assert likeness(mic, played, range(81)) >= 0.95


def test_another_voice_over_its_echo_does_not_sound_like_what_was_played(
    reference: np.ndarray,
) -> None:
    """A person saying "stop, pause, wait" over its echo (half as loud, 250 ms late): under
    0.9 alike."""
    heard = np.zeros_like(reference)
    heard[4000:] = 0.5 * reference[:-4000]
    person = np.concatenate([espeak_clip(w, "en-gb") for w in ("stop", "pause", "wait")])
    person = person[: round(1.5 * 16000)]
    heard[4 * 16000 : 4 * 16000 + len(person)] += person
    mic, played = played_and_heard(reference, heard, 4000)
    assert likeness(mic, played, range(81)) < 0.9


@pytest.mark.parametrize("delay", [4000, 4080])
def test_short_fragments_of_its_echo_off_the_frame_grid_sound_like_what_was_played(
    reference: np.ndarray, delay: int
) -> None:
    """120 ms fragments of its echo, a third as loud, 250 ms late or half a 10 ms frame more
    (255 ms: a loopback that resamples puts it anywhere), are alike in the median at 0.95
    or more (lined up to whole frames only, 0.88 at 255 ms)."""
    heard = np.zeros_like(reference)
    heard[delay:] = reference[: len(reference) - delay] / 3
    heard += fan(len(heard) / 16000 + 1, -60.0, seed=4)[: len(heard)]
    most, n = 80 * FRAME, 12
    alike = [sounds_like(heard[s : s + (n + 1) * FRAME],
                         reference[s - most - FRAME : s + (n + 1) * FRAME], most)
             for s in range(16000, len(reference) - 16000, 800)
             if np.sqrt(np.mean(heard[s : s + n * FRAME] ** 2)) > 0.01]
    assert np.median(alike) >= 0.95


@pytest.mark.parametrize("delay_ms", [30, 600])
def test_the_guard_takes_out_most_of_the_echo_as_soon_as_it_knows_its_delay(
    reference: np.ndarray, delay_ms: int
) -> None:
    """In the first half second after the echo's delay is found, the guard's output holds
    the echo (half as loud) at least 25 dB down (Speex alone, learning from the little
    echo heard by then, took out 8-11 dB)."""
    delay = round(delay_ms * 16)
    mic = np.zeros_like(reference)
    mic[delay:] = 0.5 * reference[:-delay]
    guard = EchoGuard()
    found = None
    heard = left = 0.0
    for k in range(0, len(reference) - FRAME, FRAME):
        out = guard.process(mic[k : k + FRAME].astype(np.float32),
                            reference[k : k + FRAME].astype(np.float32), talking=False)
        if found is None and guard.delay.delay is not None:
            found = k
        if found is not None and k < found + 8000:
            heard += float(np.sum(mic[k : k + FRAME] ** 2))
            left += float(np.sum(out.astype(np.float64) ** 2))
    assert found is not None and abs(guard.delay.delay - delay) <= 32
    assert left * 10 ** 2.5 < heard  # more than 25 dB taken out (all of it, for a pure delay)


@pytest.mark.parametrize("delay_ms", [300, 600])
def test_the_guard_counts_its_echo_as_cancelled_from_the_frame_it_finds_the_delay(
    reference: np.ndarray, delay_ms: int
) -> None:
    """From the frame the echo's delay is found on, for 30 frames, the echo the guard
    counts as left (its leak) is at least 30 dB under the echo (it stayed at 0 dB for
    the first 7 frames, where a word said then had to be as loud as the echo to start)."""
    delay = round(delay_ms * 16)
    mic = np.zeros_like(reference)
    mic[delay:] = 0.5 * reference[:-delay]
    guard = EchoGuard()
    leaks: list[float] = []
    for k in range(0, len(reference) - FRAME, FRAME):
        guard.process(mic[k : k + FRAME].astype(np.float32),
                      reference[k : k + FRAME].astype(np.float32), talking=False)
        if guard.delay.delay is not None and len(leaks) < 30:
            leaks.append(guard.leak_db)
    assert len(leaks) == 30
    assert max(leaks) <= -30.0, leaks


def test_a_direct_path_learnt_from_low_sounds_cancels_the_wideband_echo_after_them() -> None:
    """The loudspeaker plays 1.2 s of sound under 1 kHz, then wideband noise; its echo is
    half as loud and 300 ms late. In the first 0.2 s of the wideband echo (before the
    filter learns again), the guard takes out more than 30 dB of it (the direct path drawn
    towards nothing where the history played nothing took out 2-9 dB)."""
    rng = np.random.default_rng(1)
    n = round(1.2 * 16000)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum[np.fft.rfftfreq(n, 1 / 16000) > 1000] = 0
    low = np.fft.irfft(spectrum, n)
    low *= 0.05 / np.sqrt(np.mean(low**2))
    played = np.concatenate([low, 0.03 * rng.standard_normal(8000)]).astype(np.float32)
    mic = np.zeros_like(played)
    mic[4800:] = 0.5 * played[:-4800]
    guard = EchoGuard()
    out = np.concatenate([guard.process(mic[k : k + FRAME], played[k : k + FRAME],
                                        talking=False)
                          for k in range(0, len(played), FRAME)]).astype(np.float64)
    wide = slice(n + 4800, n + 4800 + 3200)
    assert guard.delay.delay == 4800
    assert np.sum(out[wide] ** 2) * 10**3 < np.sum(mic[wide] ** 2)


def guard_likeness(reference: np.ndarray, heard: np.ndarray, start: float, end: float
                   ) -> float | None:
    """`EchoGuard.sounds_played` of seconds [start, end) of `heard`, the guard fed `heard`
    and `reference` up to 0.5 s past `end`."""
    guard = EchoGuard()
    for k in range(0, round((end + 0.5) * 16000), FRAME):
        guard.process(heard[k : k + FRAME].astype(np.float32),
                      reference[k : k + FRAME].astype(np.float32), talking=False)
    return guard.sounds_played(round(start * 16000), round(end * 16000))


def test_a_word_over_a_louder_echo_does_not_sound_like_what_was_played(
    reference: np.ndarray,
) -> None:
    """A person's "stop", half as loud as its echo (at full loudness, 600 ms late), does
    not sound like what was played (under 0.85, `Listener.OTHER_VOICE`) once the echo of
    the direct path is taken out (0.38; 0.89 with it in); its own echo there, alone,
    does (0.9 or more: what is left of it is measured as heard)."""
    echo = np.zeros_like(reference)
    echo[9600:] = reference[:-9600]
    person = espeak_clip("stop", "en-gb")
    at = round(4.0 * 16000)
    span = echo[at : at + len(person)]
    person *= 0.5 * float(np.sqrt(np.mean(span**2)) / np.sqrt(np.mean(person**2)))
    heard = echo.copy()
    heard[at : at + len(person)] += person
    end = 4.0 + len(person) / 16000
    said = guard_likeness(reference, heard, 4.0, end)
    alone = guard_likeness(reference, echo, 4.0, end)
    assert said is not None and said < 0.85, said
    assert alone is not None and alone >= 0.9, alone


def test_a_filter_that_adds_an_echo_no_longer_coming_is_reset_silently(
    reference: np.ndarray, capfd: pytest.CaptureFixture[str]
) -> None:
    """When the echo stops coming (a loudspeaker gone quiet) and the filter's estimate is
    all that comes out, the filter is reset within 30 frames of adding it back, and
    nothing is printed (Speex waits 50 frames, then says it "got slapped" on stderr)."""
    echo = np.zeros_like(reference)
    echo[480:] = 0.5 * reference[:-480]
    cut = 4 * 16000
    echo[cut:] = 0.0
    canceller = EchoCanceller(160)
    runs, run = [], 0  # frames in a row above -60 dBFS, from the cut on
    for k in range(0, cut + 2 * 16000, 160):
        out, _ = canceller.process(echo[k : k + 160], reference[k : k + 160])
        if k >= cut:
            run = run + 1 if float(np.mean(out.astype(np.float64) ** 2)) > 1e-6 else 0
            runs.append(run)
    assert 20 <= max(runs) < 30, max(runs)
    assert capfd.readouterr().err == ""
