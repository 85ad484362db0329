"""Speech placement on the session timeline: exact onsets, cuts, priorities (TimelineSpeaker
with the real synthesizer; the priority rules also on plain arrays)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from assistant.errors import DeviceError
from assistant.events import Say
from assistant.voice.player import (
    FADE,
    GAP,
    Schedule,
    TimelineSpeaker,
    sharp_onset,
)
from assistant.voice.tts import SAMPLE_RATE, Synthesizer, fit

RATE = SAMPLE_RATE
GAP_N = round(GAP * RATE)  # a preempted utterance falls silent this many samples early
FADE_N = round(FADE * RATE)


def first_sound(x: np.ndarray, start: int = 0) -> int:
    return start + int(np.flatnonzero(np.abs(x[start:]) > 0)[0])


@pytest.mark.parametrize("tempo", [0.5, 0.75, 1.3, 2.0, 60 / 47])
def test_hundred_counts_start_exactly_on_their_samples(synth: Synthesizer, tempo: float) -> None:
    """100 counts scheduled every `tempo` seconds each start at sample round(t * rate): the
    mix equals each count (fitted to its slot) placed at exactly that sample, with no drift."""
    words = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    sp = TimelineSpeaker(synth)
    times = [1.0 + k * tempo for k in range(100)]
    for k, t in enumerate(times):
        sp.schedule(Say(t, words[k % 10], "count", slot=tempo))
    end = times[-1] + tempo
    expected = np.zeros(round(end * RATE), dtype=np.float32)
    for k, t in enumerate(times):
        word = words[k % 10]
        pcm = fit(  # each count, from its first audible sound, fitted to end GAP before the next
            sharp_onset(synth.render(word)), tempo - GAP,
            lambda f, w=word: sharp_onset(synth.render(w, rate=round(synth.rate * f))),
        )
        start = round(t * RATE)
        assert abs(pcm[0]) > 0
        expected[start : start + len(pcm)] += pcm
    np.testing.assert_array_equal(sp.audio(0, end), expected)
    assert [o[0] for o in sp.onsets] == [round(t * RATE) / RATE for t in times]


def test_cut_silences_everything_after_t(synth: Synthesizer) -> None:
    """cut(t) leaves the audio before sample round(t * rate) untouched but for a 5 ms fade,
    and everything from it on silent, including speech scheduled to start later."""
    sp = TimelineSpeaker(synth)
    sp.schedule(Say(0.5, "Sit tall and breathe slowly, in and out.", "instruction"))
    sp.schedule(Say(1.2, "Halfway there.", "cue"))  # waits for the instruction
    before = sp.audio(0, 5)
    sp.cut(1.0)
    after = sp.audio(0, 5)
    n = round(1.0 * RATE)
    np.testing.assert_array_equal(after[: n - FADE_N], before[: n - FADE_N])
    assert np.all(np.abs(after[n - FADE_N : n]) <= np.abs(before[n - FADE_N : n]))
    assert np.abs(before[n - 800 : n]).max() > 0.01
    assert not after[n:].any()
    assert [o[1] for o in sp.onsets] == ["Sit tall and breathe slowly, in and out."]


def test_speech_after_a_cut_plays_again(synth: Synthesizer) -> None:
    """After a cut (pause), speech scheduled later (resume) plays normally."""
    sp = TimelineSpeaker(synth)
    sp.schedule(Say(0.0, "Ready.", "prompt"))
    sp.cut(0.1)
    sp.schedule(Say(2.0, "Three.", "count"))
    audio = sp.audio(0, 3)
    assert first_sound(audio, round(0.1 * RATE)) == 2 * RATE


def test_write_wav_has_exactly_end_t_samples(synth: Synthesizer, tmp_path: object) -> None:
    """write_wav(path, end_t) writes round(end_t * rate) samples at 16 kHz, speech included."""
    sp = TimelineSpeaker(synth)
    sp.schedule(Say(0.25, "One.", "count"))
    path = f"{tmp_path}/out.wav"
    sp.write_wav(path, 2.5)
    data, rate = sf.read(path, dtype="float32")
    assert rate == RATE and len(data) == round(2.5 * RATE)
    assert first_sound(data) == round(0.25 * RATE)


def test_audio_of_any_range_matches_the_whole(synth: Synthesizer) -> None:
    """audio(a, b) for consecutive 20 ms frames concatenates to audio(0, end) (the echo
    reference a simulated microphone reads frame by frame)."""
    sp = TimelineSpeaker(synth)
    for k in range(6):
        sp.schedule(Say(0.3 + 0.4 * k, "Go.", "count"))
    whole = sp.audio(0, 3)
    frames = np.concatenate([sp.audio(i * 0.02, (i + 1) * 0.02) for i in range(150)])
    np.testing.assert_array_equal(frames, whole)


def test_volume_change_applies_to_later_speech(synth: Synthesizer) -> None:
    """change_volume(-0.5) halves the amplitude of speech scheduled afterwards; volume stays
    within 0..1."""
    sp = TimelineSpeaker(synth)
    sp.schedule(Say(0.0, "Go.", "count"))
    sp.change_volume(-0.5)
    sp.schedule(Say(1.0, "Go.", "count"))
    a, b = sp.audio(0, 1), sp.audio(1, 2)
    np.testing.assert_allclose(b[: len(a)], a * 0.5, atol=1e-6)
    sp.change_volume(-5)
    assert sp.volume == 0.0
    sp.change_volume(+7)
    assert sp.volume == 1.0


# --- priority rules, on plain sample arrays --------------------------------------------


def tone(seconds: float) -> np.ndarray:
    return np.full(round(seconds * RATE), 0.1, dtype=np.float32)


def test_count_cuts_a_cue_still_sounding() -> None:
    """A count landing while a cue is sounding cuts the cue GAP before the count's first
    sample, fading it out, and starts exactly on its own sample."""
    s = Schedule()
    cue = s.add(0, tone(2), "cue", "Halfway there.")
    count = s.add(RATE, tone(0.3), "count", "five")
    assert cue is not None and count is not None
    assert cue.end == RATE - GAP_N and count.start == RATE
    assert cue.pcm[-1] == 0.0 and cue.pcm[-FADE_N - 1] == np.float32(0.1)


def test_cue_never_cuts_an_instruction_it_waits() -> None:
    """A cue arriving during an instruction starts when the instruction ends."""
    s = Schedule()
    ins = s.add(0, tone(3), "instruction", "Sit tall ...")
    cue = s.add(RATE, tone(1), "cue", "Halfway there.")
    assert ins is not None and cue is not None
    assert ins.end == 3 * RATE and cue.start == 3 * RATE


def test_stale_cue_is_dropped() -> None:
    """A cue that would have to wait more than 2 s for an instruction is dropped."""
    s = Schedule()
    s.add(0, tone(5), "instruction", "long")
    assert s.add(RATE, tone(1), "cue", "late") is None
    assert len(s.voices) == 1


def test_count_during_an_instruction_is_dropped_not_delayed() -> None:
    """A count cannot be said off its beat: during an instruction it is dropped."""
    s = Schedule()
    ins = s.add(0, tone(3), "instruction", "again")
    assert s.add(RATE, tone(0.3), "count", "two") is None
    assert ins is not None and ins.end == 3 * RATE


def test_prompt_cuts_cues_and_counts() -> None:
    """A prompt (an answer to a command) cuts a sounding cue and a sounding count."""
    s = Schedule()
    cue = s.add(0, tone(2), "cue", "Five minutes to go.")
    p1 = s.add(RATE // 2, tone(1), "prompt", "Paused.")
    count = s.add(2 * RATE, tone(1), "count", "one")
    p2 = s.add(2 * RATE + 100, tone(1), "prompt", "Three left.")
    assert cue is not None and p1 is not None and count is not None and p2 is not None
    assert cue.end == RATE // 2 - GAP_N
    assert count.dropped  # the prompt came 100 samples after it began: it gives way at once


def test_cue_waits_behind_a_chain_of_instructions() -> None:
    """A waiting cue also waits for what starts exactly when the first blocker ends."""
    s = Schedule()
    s.add(0, tone(1), "instruction", "a")
    s.add(RATE, tone(0.5), "prompt", "b")
    cue = s.add(RATE // 2, tone(0.2), "cue", "c")
    assert cue is not None and cue.start == RATE + RATE // 2


def test_new_cue_replaces_an_older_cue() -> None:
    """Two cues: the newer one cuts the older one, GAP before its start."""
    s = Schedule()
    old = s.add(0, tone(2), "cue", "old")
    new = s.add(RATE, tone(1), "cue", "new")
    assert old is not None and new is not None and old.end == RATE - GAP_N


def test_cut_drops_unstarted_and_truncates_sounding() -> None:
    """Schedule.cut(at) ends sounding voices at `at` and drops those starting later."""
    s = Schedule()
    a = s.add(0, tone(2), "instruction", "a")
    b = s.add(3 * RATE, tone(1), "count", "b")
    s.cut(RATE)
    assert a is not None and b is not None
    assert a.end == RATE and b.dropped


def test_what_was_played_is_never_taken_back() -> None:
    """With the first second played, a cut at its end and a prompt then (which would
    silence the instruction GAP before itself) leave that second as it was: the
    instruction fades out over the FADE after it."""
    s = Schedule()
    ins = s.add(0, tone(3), "instruction", "Start slowly ...")
    s.played = RATE
    s.cut(RATE)
    prompt = s.add(RATE, tone(1), "prompt", "Paused.")
    assert ins is not None and prompt is not None and prompt.start == RATE
    assert ins.end == RATE + FADE_N
    assert np.all(ins.pcm[:RATE] == np.float32(0.1)) and ins.pcm[-1] == 0.0


def test_a_timeline_keeps_what_it_played_through_a_barge_in(synth: Synthesizer) -> None:
    """On the timeline, what `play` gave (the echo reference) is what the timeline holds
    after the session cuts its speech and answers "Paused." at that moment."""
    sp = TimelineSpeaker(synth)
    sp.schedule(Say(0.5, "Sit tall and breathe slowly, in and out.", "instruction"))
    played = np.concatenate([sp.play(i * 0.02, (i + 1) * 0.02) for i in range(60)])
    sp.cut(1.2)
    sp.schedule(Say(1.2, "Paused.", "prompt"))
    assert np.abs(played[-1600:]).max() > 0.01  # the instruction was sounding
    np.testing.assert_array_equal(sp.audio(0, 1.2), played)


def test_timeline_onsets_report_the_delayed_start(synth: Synthesizer) -> None:
    """onsets lists a waiting cue at the time its audio really started."""
    sp = TimelineSpeaker(synth)
    sp.schedule_pcm(0.0, tone(1.5), kind="instruction", text="ins")
    sp.schedule_pcm(0.5, tone(0.5), kind="cue", text="cue")
    assert sp.onsets == [(0.0, "ins", "instruction"), (1.5, "cue", "cue")]


# --- assistant.audio helpers ---------------------------------------------------------------


def test_read_wav_converts_any_rate_and_channels(tmp_path: object) -> None:
    """A 44.1 kHz stereo FLAC is read as mono float32 at 16 kHz with its duration kept."""
    from assistant.audio import read_wav

    t = np.arange(44100) / 44100
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], axis=1) * 0.5
    path = f"{tmp_path}/tone.flac"
    sf.write(path, stereo, 44100)
    mono = read_wav(path)
    assert mono.dtype == np.float32 and mono.ndim == 1
    assert len(mono) == RATE
    assert abs(float(np.abs(mono[1000:-1000]).max()) - 0.5) < 0.01


def test_read_wav_missing_or_broken_file_is_one_line(tmp_path: object) -> None:
    """A missing file and a file that is not audio both give a one-line DeviceError."""
    from assistant.audio import read_wav

    with pytest.raises(DeviceError, match="no such audio file") as missing:
        read_wav(f"{tmp_path}/nope.wav")
    broken = f"{tmp_path}/broken.wav"
    with open(broken, "w") as f:
        f.write("not audio")
    with pytest.raises(DeviceError, match="cannot read audio") as unreadable:
        read_wav(broken)
    assert "\n" not in str(missing.value) + str(unreadable.value)


def test_a_counts_quiet_lead_in_is_dropped_so_it_sounds_on_its_beat() -> None:
    """Speech opening with 30 ms at -55 dBFS before -20 dBFS speech is cut to start at most
    5 ms before its loud part, faded in over 2 ms and otherwise unchanged; speech that is
    quiet throughout is left whole."""
    rng = np.random.default_rng(1)
    lead = (10 ** (-55 / 20) * rng.standard_normal(480)).astype(np.float32)
    loud = (0.1 * np.sin(np.arange(3200) * 0.3)).astype(np.float32)
    pcm = np.concatenate([lead, loud])
    sharp = sharp_onset(pcm)
    dropped = len(pcm) - len(sharp)
    assert 480 - 80 <= dropped <= 480
    assert sharp[0] == pytest.approx(pcm[dropped] / 33)
    assert np.array_equal(sharp[32:], pcm[dropped + 32:])
    assert np.array_equal(sharp_onset(lead), lead)


def test_a_ring_keeps_the_last_samples_of_a_stream_across_its_wrap() -> None:
    """write_ring puts samples at n % size, wrapping; read_ring gives back [start, end) of
    what is held, and zeros for samples written over or not written yet."""
    from assistant.audio import read_ring, write_ring

    ring = np.zeros(8, np.float32)
    stream = np.arange(1, 14, dtype=np.float32)  # samples 0..12 are 1..13
    write_ring(ring, 0, stream[:6])
    write_ring(ring, 6, stream[6:13])  # wraps: the ring now holds samples 5..12
    assert ring.tolist() == [9, 10, 11, 12, 13, 6, 7, 8]
    assert read_ring(ring, 13, 5, 13).tolist() == stream[5:13].tolist()
    assert read_ring(ring, 13, 3, 15).tolist() == [0, 0, *stream[5:13].tolist(), 0, 0]
