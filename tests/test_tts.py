"""Text to speech with the real pyttsx3 / eSpeak NG engine, and fit()."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from assistant.errors import DeviceError
from assistant.voice.tts import (
    SAMPLE_RATE,
    SILENCE_THRESHOLD,
    Synthesizer,
    UnknownVoiceError,
    VoiceInfo,
    fit,
    trim_silence,
    voices_for_language,
)

SENTENCE = "Sit tall. Raise one knee toward your chest, lower it, then the other leg."


def test_render_gives_real_speech_of_plausible_length(synth: Synthesizer) -> None:
    """A 14-word sentence renders to loud float32 audio lasting 2.5 to 7 seconds."""
    pcm = synth.render(SENTENCE)
    assert pcm.dtype == np.float32 and pcm.ndim == 1
    assert 2.5 * SAMPLE_RATE < len(pcm) < 7 * SAMPLE_RATE
    assert float(np.sqrt(np.mean(pcm**2))) > 0.02


FIRST_RENDER = """
from assistant.voice.tts import Synthesizer
synth = Synthesizer(cache_size=0)
text = " ".join([{sentence!r}] * 4)
print(len(synth.render(text)), len(synth.render(text)))
"""


def test_the_first_render_of_a_process_is_whole() -> None:
    """In a new process, the first (long) render has as many samples as the same text rendered
    again: it does not come back before eSpeak has finished writing it."""
    out = subprocess.run(
        [sys.executable, "-c", FIRST_RENDER.format(sentence=SENTENCE)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert out.returncode == 0, out.stderr.strip().splitlines()[-1:]
    first, again = (int(n) for n in out.stdout.split())
    assert first > 10 * SAMPLE_RATE and abs(first - again) < SAMPLE_RATE // 100


def test_render_is_trimmed_so_speech_starts_on_its_first_sample(synth: Synthesizer) -> None:
    """Rendered speech has no leading or trailing silence: first and last samples are sound."""
    pcm = synth.render("Three.")
    assert abs(pcm[0]) > SILENCE_THRESHOLD and abs(pcm[-1]) > SILENCE_THRESHOLD


def test_cache_hit_returns_the_same_array_without_rendering(synth: Synthesizer) -> None:
    """Rendering the same text twice returns the identical (read-only) array, rendered once."""
    first = synth.render("Cache me, please.")
    renders = synth.renders
    again = synth.render("Cache me, please.")
    assert again is first
    assert synth.renders == renders
    assert not first.flags.writeable


def test_nothing_is_printed_on_stdout(
    synth: Synthesizer, capfd: pytest.CaptureFixture[str]
) -> None:
    """pyttsx3's "Audio saved to ..." message never reaches stdout or stderr."""
    synth.render("Nothing printed, twice.")
    synth.render("Nothing printed, twice!", rate=200)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_rate_changes_apply_to_the_very_next_render(synth: Synthesizer) -> None:
    """Alternating slow and fast renders each get their own rate (eSpeak's queued parameters
    are synchronized before every render)."""
    text = "Lower your knee, slowly and gently."
    lengths = [len(synth.render(text, rate=r)) for r in (120, 300, 121, 301, 122, 302)]
    slow, fast = lengths[0::2], lengths[1::2]
    assert min(slow) > 2 * max(fast)
    assert max(slow) - min(slow) < 0.05 * min(slow)


def test_every_render_gets_its_own_text(synth: Synthesizer) -> None:
    """Texts rendered one after another each produce their own audio (no stale file reuse):
    re-rendering the first text after a cache clear gives the same length again."""
    a = synth.render("One.")
    b = synth.render(SENTENCE + " And again.")
    fresh = Synthesizer()
    again = fresh.render("One.")
    assert len(b) > 5 * len(a)
    assert abs(len(again) - len(a)) < 0.02 * len(a)


def test_volume_scales_the_samples(synth: Synthesizer) -> None:
    """volume=0.5 gives the same speech at half the amplitude."""
    loud = synth.render("Halfway there.")
    soft = synth.render("Halfway there.", volume=0.5)
    np.testing.assert_allclose(soft, loud * 0.5, atol=1e-6)


def test_renders_from_several_threads(synth: Synthesizer) -> None:
    """Eight threads rendering different texts at once all get their own non-silent audio."""
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = synth.render(f"Thread number {i} says {'hello ' * (i + 1)}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    lengths = [len(results[i]) for i in range(8)]
    assert all(np.abs(results[i]).max() > 0.1 for i in range(8))
    assert lengths == sorted(lengths)  # more hellos, longer audio: no mixed-up results


def test_duration_is_the_trimmed_length(synth: Synthesizer) -> None:
    """duration() is the rendered length in seconds, and faster speech is shorter."""
    assert synth.duration(SENTENCE) == len(synth.render(SENTENCE)) / SAMPLE_RATE
    assert synth.duration(SENTENCE, rate=300) < 0.75 * synth.duration(SENTENCE)


def test_voices_lists_english(synth: Synthesizer) -> None:
    """voices() lists the installed voices with ids and languages, English among them."""
    voices = synth.voices()
    assert any(v.languages and v.languages[0].startswith("en") for v in voices)
    assert all(v.id and v.name for v in voices)


def test_unknown_voice_is_an_error_naming_close_matches(synth: Synthesizer) -> None:
    """Asking for a voice that is not installed fails with one line that names the close
    matches, and is not a DeviceError (which would let a session go on as text)."""
    with pytest.raises(UnknownVoiceError) as caught:
        synth.render("Hello.", voice="en-uss")
    assert not isinstance(caught.value, DeviceError)
    assert str(caught.value) == ("unknown voice 'en-uss'; did you mean en-us, en-us-nyc? "
                                 "(see: exercise-assistant voices)")
    with pytest.raises(UnknownVoiceError, match=r"^unknown voice 'no-such-voice' \(see"):
        synth.render("Hello.", voice="no-such-voice")


@pytest.mark.parametrize(("wanted", "voice_id"), [
    ("gmw/en-us", "gmw/en-us"), ("English (America)", "gmw/en-us"), ("en-us", "gmw/en-us"),
    ("EN_US", "gmw/en-us"), ("en-gb", "gmw/en"), ("en", "gmw/en"),
    ("english (great britain)", "gmw/en"), ("en-gb-scotland", "gmw/en-gb-scotland"),
])
def test_a_voice_is_found_by_id_name_short_id_or_language(
        synth: Synthesizer, wanted: str, voice_id: str) -> None:
    """A voice is named by what `voices` lists (its id, name, short id or language), in any
    case and with `_` for `-`, and speaks as that voice (eSpeak NG is not sample-exact from
    one render to the next: the same first 200 samples within 1e-4, lengths within 2 %)."""
    assert synth.resolve_voice(wanted) == voice_id
    named, by_id = synth.render("Hello.", voice=wanted), synth.render("Hello.", voice=voice_id)
    assert np.allclose(named[:200], by_id[:200], atol=1e-4)
    assert abs(len(named) - len(by_id)) <= 0.02 * len(by_id)


def test_voices_for_a_language_takes_its_regional_variants() -> None:
    """`en` selects every en-* voice, `en-gb` only en-gb and its variants, never `eo`."""
    voices = [VoiceInfo("gmw/en", "English (Great Britain)", ("en-gb",)),
              VoiceInfo("gmw/en-us", "English (America)", ("en-us",)),
              VoiceInfo("gmw/en-gb-scotland", "English (Scotland)", ("en-gb-scotland",)),
              VoiceInfo("art/eo", "Esperanto", ("eo",))]
    assert [v.id for v in voices_for_language(voices, "en")] == [
        "gmw/en", "gmw/en-us", "gmw/en-gb-scotland"]
    assert [v.id for v in voices_for_language(voices, "EN_GB")] == [
        "gmw/en", "gmw/en-gb-scotland"]
    assert voices_for_language(voices, "e") == []


def test_empty_text_is_empty_audio(synth: Synthesizer) -> None:
    """Blank text renders to zero samples without touching the engine."""
    assert len(synth.render("   ")) == 0


def test_fit_rerenders_faster_then_cuts(synth: Synthesizer) -> None:
    """Speech too long for its slot is re-rendered faster; when even 1.8x is too long it is
    cut to exactly the slot with a fade to silence; it never exceeds the slot."""
    pcm = synth.render(SENTENCE)
    full = len(pcm) / SAMPLE_RATE
    factors: list[float] = []

    def faster(factor: float) -> np.ndarray:
        factors.append(factor)
        return synth.render(SENTENCE, rate=round(synth.rate * factor))

    for slot in (full * 2, full * 0.8, full * 0.6, full * 0.3, 0.05):
        factors.clear()
        out = fit(pcm, slot, faster)
        assert len(out) <= int(slot * SAMPLE_RATE)
        if slot >= full:
            assert out is pcm and factors == []
        else:
            assert factors and max(factors) <= 1.8
    assert len(fit(pcm, 0.0, faster)) == 0
    out = fit(pcm, full * 0.8, faster)
    assert int(full * 0.7 * SAMPLE_RATE) < len(out)  # re-rendered, not cut short
    cut = fit(pcm, full * 0.3, faster)
    assert len(cut) == int(full * 0.3 * SAMPLE_RATE)
    assert cut[-1] == 0.0 and np.abs(cut[-160:]).max() < np.abs(cut[-400:-160]).max()


def test_fit_without_slot_keeps_speech() -> None:
    """A Say with no slot (nothing scheduled after it) is left whole."""
    pcm = np.ones(1000, dtype=np.float32)
    assert fit(pcm, None, lambda f: pcm[:1]) is pcm


def test_trim_silence_keeps_only_the_sound() -> None:
    """trim_silence drops silent samples at both ends and nothing in between."""
    pcm = np.array([0, 0, 0.5, 0, 0.2, 0, 0], dtype=np.float32)
    np.testing.assert_array_equal(trim_silence(pcm), pcm[2:5])
    assert len(trim_silence(np.zeros(10, dtype=np.float32))) == 0
