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
def test_held_out_synthetic_voice_commands_are_recognised(model: EarModel) -> None:
    """A test-split voice saying "stop", "next exercise" and "seven" is heard as exactly those."""
    engine = NeuralEngine(model, Vocabulary())
    voice = eardata.Voice("espeak", "en-gb-x-gbcwmd", "m6")
    texts = ["stop", "next exercise", "seven"]
    for text, clip in zip(texts, eardata.synthesize(voice, texts), strict=True):
        audio = np.concatenate([np.zeros(4000, np.float32), clip * 0.3, np.zeros(6400, np.float32)])
        got = recognize(engine, audio)
        assert got is not None and got.text == text


@needs_espeak
def test_phrases_outside_the_vocabulary_are_never_returned(model: EarModel) -> None:
    """An engine whose vocabulary lacks a phrase returns None instead of that phrase."""
    engine = NeuralEngine(model, Vocabulary())
    engine._known.discard("stop")  # as if "stop" were not in the user's vocabulary
    clip = eardata.synthesize(eardata.Voice("espeak", "en-us"), ["stop"])[0]
    audio = np.concatenate([np.zeros(4000, np.float32), clip * 0.3, np.zeros(6400, np.float32)])
    got = recognize(engine, audio)
    assert got is None or got.text != "stop"


@needs_espeak
def test_adapt_teaches_a_new_synonym_without_losing_the_old_phrases(model: EarModel) -> None:
    """After adapt({"halt": PAUSE}) the head hears "halt" from an unseen voice, and "next"."""
    from assistant.speech.train import adapt

    adapted = adapt({"halt": Command.PAUSE}, model, speakers=24)
    assert "halt" in adapted.classes
    engine = NeuralEngine(adapted, Vocabulary({"halt": Command.PAUSE}))
    voice = eardata.Voice("espeak", "en-gb-x-gbcwmd", "f4")
    for text, clip in zip(
        ["halt", "next"], eardata.synthesize(voice, ["halt", "next"]), strict=True
    ):
        audio = np.concatenate([np.zeros(4000, np.float32), clip * 0.3, np.zeros(6400, np.float32)])
        got = recognize(engine, audio)
        assert got is not None and got.text == text


@pytest.mark.skipif(not eareval.SHARED.is_dir(), reason=f"{eareval.SHARED} is absent")
def test_real_voices_meet_the_targets(model: EarModel) -> None:
    """On the real clips: >= 90 % of stop/go/yes/no/zero..nine right, <= 4 taken as a wrong
    command, <= 5 of the 160 other words accepted."""
    result = eareval.real_voices(NeuralEngine(model, Vocabulary()))
    assert result.clips == 140 and result.others == 160
    assert result.hits >= 0.9 * result.clips, result.recall
    assert len(result.wrong) <= 4, result.wrong
    assert len(result.others_accepted) <= 5, result.others_accepted


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
    audio = np.concatenate(
        [np.zeros(4000, np.float32), fourth[0] * 0.3, np.zeros(6400, np.float32)]
    )
    got = recognize(engine, audio)
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
