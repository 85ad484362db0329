"""The trained ear: streaming features, the shipped model, the engine, adapt, real voices."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from assistant.commands import NUMBER_WORDS, PHRASES, Command, Vocabulary
from assistant.speech import eardata, eareval
from assistant.speech.engines import create, recognize
from assistant.speech.engines.neural import DEFAULT_MODEL, NOTHING, OTHER, EarModel, NeuralEngine
from assistant.speech.features import HOP_SAMPLES, Features, embed

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="no espeak-ng")


@pytest.fixture(scope="module")
def model() -> EarModel:
    return EarModel.load(DEFAULT_MODEL)


def utterance(clip: np.ndarray) -> np.ndarray:
    """`clip` at -26 dBFS RMS as the listener hands it over: 0.25 s before, 0.4 s after,
    over a -60 dBFS pink noise floor."""
    speech = clip / np.sqrt(np.mean(clip**2)) * 10 ** (-26 / 20)
    audio = np.concatenate([np.zeros(4000), speech, np.zeros(6400)])
    floor = eardata.colored_noise(np.random.default_rng(9), len(audio), "pink") * 1e-3
    return (audio + floor).astype(np.float32)


def test_streaming_features_equal_whole_clip_features_for_any_chunking() -> None:
    """Feeding a clip in uneven chunks yields exactly the frames `embed` gives for the clip."""
    rng = np.random.default_rng(1)
    audio = (rng.standard_normal(40_000) * 0.05).astype(np.float32)
    features = Features()
    parts, i = [], 0
    for size in [7, 480, 1279, 1, 5000, 160, 3000] * 10:
        parts.append(features.feed(audio[i : i + size]))
        i += size
        if i >= len(audio):
            break
    np.testing.assert_array_equal(np.concatenate(parts), embed(audio))


def test_features_yield_one_frame_per_80_ms_of_audio() -> None:
    """Each complete 1280 samples give exactly one new embedding, and a reset starts over."""
    features = Features()
    assert len(features.feed(np.zeros(HOP_SAMPLES * 3 - 1, np.float32))) == 2
    assert len(features.feed(np.zeros(1, np.float32))) == 1
    features.reset()
    assert len(features.feed(np.zeros(HOP_SAMPLES - 1, np.float32))) == 0


def test_shipped_model_covers_the_vocabulary_and_is_small(model: EarModel) -> None:
    """The weights know every built-in phrase, zero..ten, other and nothing, in under 2 MB."""
    assert set(model.classes) == {*PHRASES, *NUMBER_WORDS, OTHER, NOTHING}
    assert DEFAULT_MODEL.stat().st_size < 2_000_000


def test_registry_creates_the_neural_engine() -> None:
    """`create("neural", ...)` gives a NeuralEngine with the shipped weights."""
    engine = create("neural", Vocabulary())
    assert isinstance(engine, NeuralEngine)


def test_silence_and_noise_are_rejected(model: EarModel) -> None:
    """Digital silence and 1.5 s of pink noise are not taken as any command."""
    engine = NeuralEngine(model, Vocabulary())
    rng = np.random.default_rng(2)
    assert recognize(engine, np.zeros(24_000, np.float32)) is None
    assert recognize(engine, eardata.colored_noise(rng, 24_000, "pink") * 0.01) is None


@needs_espeak
def test_a_held_out_synthetic_voice_is_mostly_heard_and_never_misheard(model: EarModel) -> None:
    """A test-split voice saying all 37 phrases: at least half heard right, none as another."""
    engine = NeuralEngine(model, Vocabulary())
    voice = eardata.Voice("espeak", "en-gb-x-gbcwmd", "m6")
    texts = list(eardata.COMMAND_TEXTS)
    heard = [recognize(engine, utterance(c)) for c in eardata.synthesize(voice, texts)]
    right = sum(g is not None and g.text == t for g, t in zip(heard, texts, strict=True))
    wrong = [(t, g.text) for g, t in zip(heard, texts, strict=True) if g and g.text != t]
    assert right >= len(texts) / 2 and wrong == []


@needs_espeak
def test_phrases_outside_the_vocabulary_are_never_returned(model: EarModel) -> None:
    """An engine whose vocabulary lacks a phrase returns None instead of that phrase."""
    engine = NeuralEngine(model, Vocabulary())
    engine._known.discard("stop")  # as if "stop" were not in the user's vocabulary
    clip = eardata.synthesize(eardata.Voice("espeak", "en-us"), ["stop"])[0]
    got = recognize(engine, utterance(clip))
    assert got is None or got.text != "stop"


@needs_espeak
def test_adapt_teaches_new_synonyms(model: EarModel) -> None:
    """After adapt({"halt", "keep going"}), 4 unseen voices saying them and "next": at least
    4 of the 8 new-phrase utterances and 3 of the 4 "next" heard right, at most 1 misheard."""
    from assistant.speech.train import adapt

    synonyms = {"halt": Command.PAUSE, "keep going": Command.RESUME}
    adapted = adapt(synonyms, model)
    assert {"halt", "keep going"} <= set(adapted.classes)
    engine = NeuralEngine(adapted, Vocabulary(synonyms))
    voices = [
        eardata.Voice("espeak", "en-gb-x-gbcwmd", "f4"),
        eardata.Voice("espeak", "en-gb-x-gbcwmd", "m6"),
        eardata.Voice("flite", "rms", rate=1.0, pitch=110),
        eardata.Voice("espeak", "en-us", "Annie"),
    ]
    texts = ["halt", "keep going", "next"]
    new = old = wrong = 0
    for voice in voices:
        for text, clip in zip(texts, eardata.synthesize(voice, texts), strict=True):
            got = recognize(engine, utterance(clip))
            if got is not None and got.text != text:
                wrong += 1
            elif got is not None:
                new += text != "next"
                old += text == "next"
    assert new >= 4 and old >= 3 and wrong <= 1


@pytest.fixture(scope="module")
def real(model: EarModel) -> eareval.RealResult:
    if not eareval.SHARED.is_dir():
        pytest.skip(f"{eareval.SHARED} is absent: no real voices to measure")
    return eareval.real_voices(NeuralEngine(model, Vocabulary()))


def test_real_voices_are_never_misheard_and_others_rarely_taken(real: eareval.RealResult) -> None:
    """On the real clips: <= 4 command words taken as a wrong command, <= 5 of the 160 other
    words accepted, and at least 50 % of command words (51 % measured for the shipped model)."""
    assert real.clips == 140 and real.others == 160
    assert len(real.wrong) <= 4, real.wrong
    assert len(real.others_accepted) <= 5, real.others_accepted
    assert real.hits >= 0.5 * real.clips, real.recall


@pytest.mark.xfail(
    reason="target not reached yet: the shipped ear hears 51 % (72/140)", strict=True
)
def test_real_voices_meet_the_recall_target(real: eareval.RealResult) -> None:
    """On the real clips: >= 90 % of stop/go/yes/no/zero..nine heard as exactly that word."""
    assert real.hits >= 0.9 * real.clips, real.recall


@needs_espeak
def test_enroll_learns_a_phrase_from_a_users_recordings(model: EarModel) -> None:
    """Enrolling "halt" from three recordings of one voice makes a fourth one heard as "halt"."""
    from assistant.speech.train import enroll

    voices = [eardata.Voice("espeak", "en-us", "m3", rate=r, pitch=40) for r in (0.9, 1.0, 1.1)]
    clips = [eardata.synthesize(v, ["halt"])[0] * 0.3 for v in voices]
    enrolled = enroll({"halt": clips}, model, copies=8)
    engine = NeuralEngine(enrolled, Vocabulary({"halt": Command.PAUSE}))
    fourth = eardata.synthesize(
        eardata.Voice("espeak", "en-us", "m3", rate=1.05, pitch=45), ["halt"]
    )
    got = recognize(engine, utterance(fourth[0]))
    assert got is not None and got.text == "halt"


def test_training_is_reproducible_for_a_seed() -> None:
    """Training the classifier twice on the same windows with the same seed gives equal weights."""
    from assistant.speech.train import Group, build_windows, class_names, train_mlp

    rng = np.random.default_rng(3)
    classes = class_names()
    groups = [
        Group(
            [rng.standard_normal((20, 96)).astype(np.float32) for _ in classes],
            list(classes),
            [10] * len(classes),
        )
    ]
    data = build_windows(groups, classes)
    a = train_mlp(data, classes, seed=4, epochs=2, batch=32)
    b = train_mlp(data, classes, seed=4, epochs=2, batch=32)
    for (wa, ba), (wb, bb) in zip(a.layers, b.layers, strict=True):
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_array_equal(ba, bb)


@pytest.mark.skipif(
    not eardata.piper_available(), reason="the training extra (piper-tts) is not installed"
)
def test_the_natural_voice_says_a_text_the_same_way_every_time() -> None:
    """The same Piper voice synthesises a phrase to identical samples twice (seeded model)."""
    voice = eardata.Voice("piper", "joe", rate=1.1, pitch=60)
    first = eardata.synthesize(voice, ["how many left"])
    second = eardata.synthesize(voice, ["how many left"])
    np.testing.assert_array_equal(first[0], second[0])


@pytest.mark.skipif(
    not eardata.pico_available(), reason="the training extra (ttspico) is not installed"
)
def test_a_pico_voice_speaks_at_the_rate_it_is_given() -> None:
    """Pico's US voice at rate 0.8 says a sentence 1.25 times as long as at rate 1.0 (within
    5 %), and the same way every time it is asked (whatever it said before)."""
    text = "go back one, and then rest for a while"
    slow = eardata.Voice("pico", "en-US", rate=0.8, pitch=100)
    normal = eardata.Voice("pico", "en-US", rate=1.0, pitch=100)
    (c,) = eardata.synthesize(normal, [text])
    (a,) = eardata.synthesize(slow, [text])
    (b,) = eardata.synthesize(slow, [text])
    np.testing.assert_array_equal(a, b)
    assert abs(len(a) / len(c) - 1.25) < 0.05 * 1.25


def test_a_phrase_is_judged_against_other_sounds_not_against_silence() -> None:
    """With "nothing" taking 0.107, "pause" at 0.887 is accepted at threshold 0.95 (0.993
    among sounds), while the same 0.887 against "other speech" at 0.107 is not."""
    classes = ["pause", OTHER, NOTHING]
    model = EarModel(classes, 1, np.zeros(96), np.ones(96), [], threshold=0.95, tail=1)
    against_silence = model.decide(np.array([[0.887, 0.006, 0.107]]))
    assert against_silence is not None and against_silence[0] == "pause"
    assert abs(against_silence[1] - 0.887 / 0.893) < 1e-9
    assert model.decide(np.array([[0.887, 0.107, 0.006]])) is None
    assert model.decide(np.array([[0.4, 0.0, 0.6]])) is None  # silence is still silence
