"""PocketSphinx checked by the trained ear: the ear vetoes implausible commands and adds the
ones it is sure of."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.commands import Vocabulary
from assistant.speech.engines import create, recognize
from assistant.speech.engines.checked import CheckedEngine
from assistant.testing import ScriptedEngine

CLASSES = ["pause", "stop", "next", "<other>", "<nothing>"]


def checked(
    answer: str | None, scores: list[float], bar: float = 0.05, ear_says: str | None = None
) -> CheckedEngine:
    ear = ScriptedEngine([ear_says], CLASSES)
    ear.scores = np.array(scores, np.float32)
    return CheckedEngine(ScriptedEngine([answer]), ear, Vocabulary(), min_probability=bar)


def test_a_command_the_ear_finds_plausible_is_accepted() -> None:
    """PocketSphinx's "next" with the ear giving "next" 0.06 (bar 0.05) is returned as is."""
    engine = checked("next", [0.0, 0.0, 0.06, 0.9, 0.04])
    got = recognize(engine, np.zeros(1600, np.float32))
    assert got is not None and got.text == "next"
    assert engine.last_probability == pytest.approx(0.06)


def test_a_command_the_ear_finds_implausible_is_vetoed() -> None:
    """PocketSphinx's "next" with the ear giving "next" 0.04 (bar 0.05) is rejected."""
    engine = checked("next", [0.3, 0.3, 0.04, 0.3, 0.06])
    assert recognize(engine, np.zeros(1600, np.float32)) is None


def test_the_ear_counts_every_phrase_of_the_same_command() -> None:
    """ "stop" passes on 0.03 for "pause" plus 0.03 for "stop": both mean PAUSE."""
    engine = checked("stop", [0.03, 0.03, 0.0, 0.9, 0.04])
    got = recognize(engine, np.zeros(1600, np.float32))
    assert got is not None and got.text == "stop"


def test_an_unsure_ear_adds_no_command() -> None:
    """When PocketSphinx rejects the utterance and the ear decides nothing, the result is None
    however high the ear scores a class."""
    engine = checked(None, [0.0, 0.0, 1.0, 0.0, 0.0])
    assert recognize(engine, np.zeros(1600, np.float32)) is None
    assert engine.last_probability is None


def test_the_ears_own_decision_stands_when_pocketsphinx_hears_nothing() -> None:
    """PocketSphinx rejecting the utterance and the ear deciding "next" gives "next"."""
    engine = checked(None, [0.0, 0.0, 0.97, 0.02, 0.01], ear_says="next")
    got = recognize(engine, np.zeros(1600, np.float32))
    assert got is not None and got.text == "next"


def test_the_ears_own_decision_replaces_a_vetoed_command() -> None:
    """PocketSphinx's "next" vetoed (0.01 < 0.05) while the ear decides "stop" gives "stop"."""
    engine = checked("next", [0.5, 0.47, 0.01, 0.01, 0.01], ear_says="stop")
    got = recognize(engine, np.zeros(1600, np.float32))
    assert got is not None and got.text == "stop"


def forced(answer: str | None, scores: list[float], forced_says: str | None,
           ear_says: str | None = None) -> CheckedEngine:
    ear = ScriptedEngine([ear_says], CLASSES)
    ear.scores = np.array(scores, np.float32)
    return CheckedEngine(
        ScriptedEngine([answer]), ear, Vocabulary(), min_probability=0.05,
        forced=ScriptedEngine([forced_says]), agree_probability=0.5,
    )


def test_the_phrases_only_search_counts_when_the_ear_agrees() -> None:
    """Neither PocketSphinx nor the ear alone deciding, the phrases-only search's "next" with
    the ear giving "next" 0.5 gives "next"."""
    engine = forced(None, [0.1, 0.1, 0.5, 0.2, 0.1], "next")
    got = recognize(engine, np.zeros(1600, np.float32))
    assert got is not None and got.text == "next"


def test_the_phrases_only_search_is_dropped_when_the_ear_disagrees() -> None:
    """The phrases-only search's "next" with the ear giving "next" 0.49 gives nothing."""
    engine = forced(None, [0.1, 0.1, 0.49, 0.21, 0.1], "next")
    assert recognize(engine, np.zeros(1600, np.float32)) is None


def test_the_phrases_only_search_comes_after_the_other_two() -> None:
    """PocketSphinx's accepted "stop", or else the ear's own "stop", wins over the
    phrases-only search's "next" however sure the ear is of "next"."""
    engine = forced("stop", [0.03, 0.03, 0.9, 0.02, 0.02], "next")
    got = recognize(engine, np.zeros(1600, np.float32))
    assert got is not None and got.text == "stop"
    engine = forced(None, [0.03, 0.03, 0.9, 0.02, 0.02], "next", ear_says="stop")
    got = recognize(engine, np.zeros(1600, np.float32))
    assert got is not None and got.text == "stop"


def test_every_engine_hears_the_same_audio() -> None:
    """Every chunk fed to the checked engine reaches PocketSphinx, the ear and the
    phrases-only search unchanged."""
    primary, ear = ScriptedEngine([None]), ScriptedEngine([None], CLASSES)
    second = ScriptedEngine([None])
    engine = CheckedEngine(primary, ear, Vocabulary(), forced=second)
    audio = np.random.default_rng(3).standard_normal(2000).astype(np.float32)
    recognize(engine, audio, chunk=480)
    for engine_ in (primary, ear, second):
        np.testing.assert_array_equal(np.concatenate(engine_.fed), audio)


def test_registry_creates_the_checked_engine() -> None:
    """`create("checked", ...)` gives PocketSphinx and the shipped ear, wired together."""
    engine = create("checked", Vocabulary())
    assert isinstance(engine, CheckedEngine)
    assert engine.primary.name == "pocketsphinx" and engine.ear.name == "neural"
    assert engine.forced is not None and engine.forced.name == "pocketsphinx"
