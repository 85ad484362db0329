"""The PocketSphinx engine: one loaded decoder, whole phrases only, clear errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from assistant.commands import Command, Vocabulary
from assistant.ear.engines import create, recognize
from assistant.ear.engines.sphinx import SphinxEngine
from assistant.errors import DeviceError
from assistant.testing import espeak_clip

RATE = 16000
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="no espeak-ng")


def spoken(text: str) -> np.ndarray:
    """`text` by eSpeak NG's en-us voice (see `espeak_clip`)."""
    return espeak_clip(text)


@pytest.fixture(scope="module")
def engine() -> SphinxEngine:
    return SphinxEngine(Vocabulary())


def test_registry_creates_the_pocketsphinx_engine() -> None:
    """`create("pocketsphinx", ...)` gives the PocketSphinx engine with the bundled model."""
    assert isinstance(create("pocketsphinx", Vocabulary()), SphinxEngine)


def test_words_the_model_cannot_pronounce_are_named_in_a_device_error() -> None:
    """A synonym with words missing from the model's dictionary raises DeviceError naming
    exactly those words."""
    vocabulary = Vocabulary({"zorblax frobnicate": Command.PAUSE})
    with pytest.raises(DeviceError, match="cannot pronounce: frobnicate, zorblax"):
        SphinxEngine(vocabulary)


@needs_espeak
@pytest.mark.parametrize("phrase", ["wait", "stop", "continue", "how many left", "yes", "three"])
def test_a_spoken_phrase_is_recognised_as_itself(engine: SphinxEngine, phrase: str) -> None:
    """A synthetic utterance of a vocabulary phrase comes back as exactly that phrase, with a
    confidence between 0 and 1."""
    result = recognize(engine, spoken(phrase))
    assert result is not None
    assert result.text == phrase
    assert 0.0 <= result.confidence <= 1.0


@needs_espeak
@pytest.mark.parametrize("text", ["the weather is nice today", "hello", "thanks"])
def test_ordinary_speech_is_rejected(engine: SphinxEngine, text: str) -> None:
    """A sentence and everyday words that are not phrases give no recognition."""
    assert recognize(engine, spoken(text)) is None


def test_digital_silence_is_rejected(engine: SphinxEngine) -> None:
    """One second of exact zeros gives no recognition (the engine dithers, so it does not
    collapse on it either)."""
    assert recognize(engine, np.zeros(RATE, np.float32)) is None


def test_one_decoder_serves_many_utterances_in_a_row(engine: SphinxEngine) -> None:
    """The same engine decodes utterance after utterance, fed in uneven chunks, without
    reloading: an abandoned utterance (start without end) does not break the next one."""
    engine.start_utterance()
    engine.feed(np.zeros(1000, np.float32))
    for _ in range(3):
        engine.start_utterance()
        for size in (7, 480, 1333, 160):
            engine.feed(np.zeros(size, np.float32))
        assert engine.end_utterance() is None


def test_front_end_options_override_the_models_feat_params() -> None:
    """Options of the acoustic front end (which the model's feat.params would override) are
    the ones given; the decoder defaults of the engine hold unless given too."""
    engine = SphinxEngine(Vocabulary(), cmn="live", remove_noise=False)
    config = engine._decoder.config
    assert config["cmn"] == "live"
    assert config["remove_noise"] is False
    assert config["bestpath"] is False
    assert SphinxEngine(Vocabulary(), bestpath=True)._decoder.config["bestpath"] is True
