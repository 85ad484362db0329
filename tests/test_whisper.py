"""The Whisper engine: pinned weights, clear errors, whole phrases only, what is expected now."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.commands import Command, Vocabulary
from assistant.ear.engines import DEFAULT_ENGINE, check, create, recognize
from assistant.ear.engines.whisper import (
    BARGE_IN_SECONDS,
    MODEL_SHA256,
    WhisperEngine,
    bundled_model,
    canonical,
    check_model_folder,
    verify,
)
from assistant.ear.listener import Listener
from assistant.errors import DeviceError
from assistant.testing import AnsweringBargeInEar, espeak_clip

RATE = 16000
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="no espeak-ng")


def spoken(text: str) -> np.ndarray:
    """`text` by eSpeak NG's en-us voice at 150 words per minute (see `espeak_clip`)."""
    return espeak_clip(text, rate=150)


@pytest.fixture(scope="module")
def engine() -> WhisperEngine:
    return WhisperEngine(Vocabulary())


def test_whisper_is_the_default_engine() -> None:
    """With no engine chosen, the listener is built with Whisper."""
    assert DEFAULT_ENGINE == "whisper"
    assert isinstance(create(DEFAULT_ENGINE, Vocabulary()), WhisperEngine)


@pytest.mark.parametrize(
    ("text", "expected"),
    [(" Three.", "three"), ("10", "ten"), ("Go back!", "go back"), ("How many left?",
     "how many left"), ("Slow-down.", "slow down"), ("42", "42")],
)
def test_whisper_text_is_put_in_the_vocabularys_form(text: str, expected: str) -> None:
    """Case and punctuation go, digits 0-10 are spelt out, hyphens split words."""
    assert canonical(text) == expected


def test_the_wheels_weights_are_the_pinned_ones() -> None:
    """The installed tiny.en passes its sha256 check and has its tokenizer beside it."""
    folder = bundled_model()
    assert (folder / "tokenizer.json").is_file()
    verify(folder / "model.bin", MODEL_SHA256)


def test_weights_with_another_checksum_are_refused(tmp_path: Path) -> None:
    """A model.bin whose sha256 is not the pinned one raises DeviceError naming both."""
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"not the model")
    with pytest.raises(DeviceError, match=r"not the pinned tiny.en .*expected 1a5afae06a4d"):
        verify(weights, MODEL_SHA256)


def test_a_model_folder_that_is_missing_is_one_clear_error(tmp_path: Path) -> None:
    """--model pointing nowhere says so, naming the path."""
    with pytest.raises(DeviceError, match=r"--model .*nowhere: no such folder"):
        check_model_folder(tmp_path / "nowhere")


def test_a_folder_without_a_model_is_one_clear_error(tmp_path: Path) -> None:
    """--model pointing at a folder with no model.bin says what is missing."""
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(DeviceError, match=r"not a faster-whisper model folder \(no model.bin\)"):
        check_model_folder(tmp_path)


def test_a_broken_model_folder_fails_to_load_with_one_line(tmp_path: Path) -> None:
    """A folder with the right names but garbage inside gives a one-line DeviceError."""
    for name in ("model.bin", "config.json", "tokenizer.json"):
        (tmp_path / name).write_text("garbage")
    with pytest.raises(DeviceError, match="cannot load the Whisper model") as info:
        WhisperEngine(Vocabulary(), tmp_path)
    assert "\n" not in str(info.value)


def test_unknown_engine_names_are_refused_before_anything_loads() -> None:
    """`check` names the engines there are when given one that is not."""
    with pytest.raises(DeviceError, match="unknown engine 'bogus'; choose one of whisper"):
        check("bogus")


@needs_espeak
@pytest.mark.parametrize("phrase", ["pause", "next exercise", "how many left", "yes", "seven"])
def test_a_spoken_phrase_is_heard_as_itself(engine: WhisperEngine, phrase: str) -> None:
    """A synthetic utterance of a vocabulary phrase comes back as exactly that phrase, with a
    confidence between 0 and 1."""
    result = recognize(engine, spoken(phrase))
    assert result is not None
    assert result.text == phrase
    assert 0.0 < result.confidence <= 1.0


@needs_espeak
@pytest.mark.parametrize("sentence", ["the weather is lovely today", "I will call my sister"])
def test_other_speech_is_rejected(engine: WhisperEngine, sentence: str) -> None:
    """An ordinary sentence is not a command."""
    assert recognize(engine, spoken(sentence)) is None


@needs_espeak
def test_a_peek_gives_the_same_answer_as_the_end(engine: WhisperEngine) -> None:
    """After `peek`, with nothing more fed, `end_utterance` returns what a full decode does."""
    clip = spoken("slow down")
    engine.start_utterance()
    engine.feed(clip)
    engine.peek()
    peeked = engine.end_utterance()
    assert peeked is not None and peeked == recognize(engine, clip)


@needs_espeak
def test_a_number_during_a_set_is_not_heard(engine: WhisperEngine) -> None:
    """With only the commands expected (a set running), "three" said alone is rejected as not
    expected now, while with numbers expected it is heard as the number 3."""
    rejected: list[str] = []
    audio = np.concatenate([np.zeros(RATE, np.float32), spoken("three"),
                            np.zeros(RATE, np.float32)])
    listener = Listener(engine, Vocabulary(), on_rejected=lambda r: rejected.append(r.reason))
    commands = frozenset(c for c in Command if c not in (Command.NUMBER, Command.YES,
                                                         Command.NO))
    listener.expect(commands)
    assert listener.process(audio) + listener.flush() == []
    assert rejected == ["not a command"]
    listener.expect(commands | {Command.NUMBER})
    heard = listener.process(audio) + listener.flush()
    assert [(h.intent.command, h.intent.value) for h in heard] == [(Command.NUMBER, 3)]
    listener.expect(None)


def briskly(text: str) -> np.ndarray:
    """`text` by eSpeak NG at 220 words per minute with an eighth of a second around it:
    as short as a word said over the assistant's voice."""
    return espeak_clip(text, rate=220)[RATE // 8 : -RATE // 8]


@needs_espeak
def test_over_its_voice_what_whisper_misses_the_barge_in_ear_hears_again(
        engine: WhisperEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Said over the assistant's voice, a short utterance Whisper takes no command from is
    heard again by the barge-in ear, once, and the pause word it hears stands."""
    ear = AnsweringBargeInEar("stop")
    monkeypatch.setattr(engine, "barge_in", ear)
    clip = briskly("hello")
    engine.start_utterance()
    engine.feed(clip)
    heard = engine.end_utterance(over_speech=True)
    assert heard is not None and heard.text == "stop"
    assert len(ear.asked) == 1 and np.array_equal(ear.asked[0], clip)


@needs_espeak
@pytest.mark.parametrize("case", ["not over its voice", "too long", "no pause expected",
                                  "whisper heard a command"])
def test_the_barge_in_ear_is_asked_only_about_a_short_miss_over_its_voice(
        engine: WhisperEngine, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    """The barge-in ear is not asked about an utterance not said over the assistant's
    voice, one longer than `BARGE_IN_SECONDS`, one where no pause word is expected, or one
    Whisper took a command from."""
    ear = AnsweringBargeInEar("stop")
    monkeypatch.setattr(engine, "barge_in", ear)
    clip = briskly("stop" if case == "whisper heard a command" else "hello")
    if case == "too long":
        clip = np.concatenate([clip, np.zeros(round(BARGE_IN_SECONDS * RATE), np.float32)])
    if case == "no pause expected":
        engine.expect(["yes", "no"])
    try:
        engine.start_utterance()
        engine.feed(clip)
        heard = engine.end_utterance(over_speech=case != "not over its voice")
    finally:
        engine.expect(None)
    assert ear.asked == []
    assert (heard and heard.text) == ("stop" if case == "whisper heard a command" else None)
