"""The trained ear, Whisper's second opinion: streaming features, the shipped model, the
engine, and Whisper taking its command when Whisper hears none."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from assistant.commands import NUMBER_WORDS, PHRASES, Vocabulary
from assistant.ear.engines import Engine, Recognition, recognize
from assistant.ear.engines.neural import DEFAULT_MODEL, NOTHING, OTHER, EarModel, NeuralEngine
from assistant.ear.features import HOP_SAMPLES, Features
from assistant.testing import ScriptedEngine, colored_noise, espeak_clip, fan

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="no espeak-ng")


@pytest.fixture(scope="module")
def model() -> EarModel:
    return EarModel.load(DEFAULT_MODEL)


def test_streaming_features_equal_whole_clip_features_for_any_chunking() -> None:
    """Feeding a clip in uneven chunks yields exactly the frames the clip fed whole gives."""
    rng = np.random.default_rng(1)
    audio = (rng.standard_normal(40_000) * 0.05).astype(np.float32)
    whole = Features().feed(audio)
    features = Features()
    parts, i = [], 0
    for size in [7, 480, 1279, 1, 5000, 160, 3000] * 10:
        parts.append(features.feed(audio[i : i + size]))
        i += size
        if i >= len(audio):
            break
    assert len(whole) == 40_000 // HOP_SAMPLES
    np.testing.assert_array_equal(np.concatenate(parts), whole)


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


def test_silence_and_noise_are_rejected(model: EarModel) -> None:
    """Digital silence and 1.5 s of pink noise are not taken as any command."""
    engine = NeuralEngine(model, Vocabulary())
    rng = np.random.default_rng(2)
    assert recognize(engine, np.zeros(24_000, np.float32)) is None
    assert recognize(engine, colored_noise(rng, 24_000, "pink") * 0.01) is None


@needs_espeak
def test_a_clear_command_is_heard_and_a_phrase_outside_the_vocabulary_never(
    model: EarModel,
) -> None:
    """eSpeak NG saying "stop" is heard as "stop"; an engine whose vocabulary lacks "stop"
    does not return it."""
    clip = espeak_clip("stop")
    heard = recognize(NeuralEngine(model, Vocabulary()), clip)
    assert heard is not None and heard.text == "stop"
    engine = NeuralEngine(model, Vocabulary())
    engine._known.discard("stop")  # as if "stop" were not in the user's vocabulary
    got = recognize(engine, clip)
    assert got is None or got.text != "stop"


@needs_espeak
def test_whisper_takes_the_second_opinion_only_when_it_hears_nothing() -> None:
    """With a second engine that always answers "next", Whisper returns its own "pause" for a
    spoken "pause", and "next" for a cough of noise it does not take as a command."""
    from assistant.ear.engines.whisper import WhisperEngine

    vocabulary = Vocabulary()
    engine = WhisperEngine(vocabulary, second=ScriptedEngine(["next"] * 2))
    heard = recognize(engine, espeak_clip("pause"))
    assert heard is not None and heard.text == "pause"
    noise = colored_noise(np.random.default_rng(4), 8000, "pink") * 0.05
    assert recognize(engine, noise) == Recognition("next", 0.9)


def test_whisper_hears_the_raw_frame_and_its_second_opinion_the_clean_one() -> None:
    """Offered a raw and a clean frame by the listener, Whisper keeps the raw one and feeds
    its second opinion the clean one."""
    from assistant.ear.engines.whisper import WhisperEngine

    second = ScriptedEngine([])
    engine = WhisperEngine(Vocabulary(), second=second)
    raw, clean = np.full(320, 0.1, np.float32), np.full(320, 0.01, np.float32)
    engine.start_utterance()
    engine.feed_frame(raw, clean)
    assert [c.tolist() for c in engine.hand_over().chunks] == [raw.tolist()]
    assert [c.tolist() for c in second.fed] == [clean.tolist()]


class Pair(Engine):
    """An engine that hears raw audio and records both frames the listener offers: what it
    hears (`first`) and what its second opinion would (`seconds`)."""

    name = "pair"
    hears_raw = True

    def __init__(self) -> None:
        self.first: list[np.ndarray] = []
        self.seconds: list[np.ndarray] = []

    def start_utterance(self) -> None:
        self.first, self.seconds = [], []

    def feed(self, audio: np.ndarray) -> None:
        self.feed_frame(audio, audio)

    def feed_frame(self, raw: np.ndarray, clean: np.ndarray) -> None:
        self.first.append(raw)
        self.seconds.append(clean)

    def end_utterance(self, *, over_speech: bool = False) -> Recognition | None:
        return None


@needs_espeak
@pytest.mark.parametrize("fan_db", [None, -30.0])
def test_the_second_opinion_hears_suppressed_audio_in_noise_and_raw_audio_in_quiet(
    fan_db: float | None,
) -> None:
    """In a quiet room the second opinion is fed exactly what Whisper is fed (the raw
    signal); by a fan it is fed the noise-suppressed signal: in the first 0.1 s of the
    utterance, before the word, at least 10 dB quieter."""
    from assistant.ear.listener import Listener

    word = espeak_clip("pause")
    mic = np.concatenate([np.zeros(16000 * 3, np.float32), word, np.zeros(16000, np.float32)])
    if fan_db is not None:
        mic = mic + fan(len(mic) / 16000, fan_db, seed=1)[: len(mic)]
    engine = Pair()
    listener = Listener(engine, Vocabulary())
    for k in range(0, len(mic), 320):
        listener.process(mic[k : k + 320])
    listener.flush()
    first, second = np.concatenate(engine.first), np.concatenate(engine.seconds)
    assert len(first) == len(second) > 0
    if fan_db is None:
        np.testing.assert_array_equal(first, second)
    else:
        lead = slice(0, 1600)
        assert 10 * np.log10(np.mean(first[lead] ** 2) / np.mean(second[lead] ** 2)) > 10.0
