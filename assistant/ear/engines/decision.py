"""The Whisper engine's learned decision: which phrase, if any, an utterance is, when the quick
look has not settled it.

Each phrase the full look points at (the plain and the prompted decodes, the phrases scored
against the audio) is a candidate. A candidate is described, per model, by a
handful of numbers (`FEATURES`): whether each decode wrote it, its score on the audio with
no prompt, how far that is below the plain transcript's and above the runner-up's, the
prompted decode's own score. (The utterance's length is left out: the real clips tuned on
are all one second long, so nothing could be learnt from it.) A logistic regression over them gives
the probability that the candidate is what was said; the best candidate is taken when that
probability reaches the rule's threshold.

With two models (tiny.en and base) both hearings describe each candidate side by side.

The coefficients live in `assistant/ear/models/whisper_decision.json`, fitted by
`python -m bench.fit_decision` on real voices (../shared/data/real_tune: 62 speakers,
clean and in its real noises at 10 and 5 dB) and on synthetic voices for the phrases real
sets lack; never on ../shared/data/speech_commands, which only evaluates.

What the decision reads (`Quick`, `Hearing`) is defined here, so the engine imports its
decision and never the other way round.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Quick:
    """The quick look: the plain decode in the short window."""

    text: str  # canonical
    score: float  # CTranslate2's score of the decode (mean log-probability per token)


@dataclass(frozen=True)
class Hearing:
    """What Whisper made of one utterance, before the decision (for the bench and tuning).
    `quick` is always there; the rest only when the full look was taken.

    Candidate scores are mean log-probabilities per token of a text given the audio in the
    full window, with no prompt."""

    quick: Quick
    full: bool = False
    prompted: str = ""  # canonical text with the prompt
    plain: str = ""  # canonical text with no prompt
    prompted_score: float = float("nan")  # the prompted decode's own score
    plain_score: float = float("nan")  # the plain text scored like the candidates
    candidates: tuple[tuple[str, float], ...] = ()  # vocabulary phrases and their scores
    seconds: float = 0.0  # how long the audio heard was
    other: Hearing | None = None  # the partner model's full look (see `WhisperEngine`)

    @property
    def best(self) -> tuple[str, float] | None:
        """The candidate phrase that scores highest, with its score."""
        return max(self.candidates, key=lambda c: c[1]) if self.candidates else None



RULES_FILE = Path(__file__).resolve().parents[1] / "models" / "whisper_decision.json"
#: a score for a candidate a model did not score (it pointed elsewhere)
FLOOR = -6.0
FEATURES = (
    "plain decode wrote it",
    "prompted decode wrote it",
    "its score (no prompt)",
    "not scored",
    "plain transcript's score above it",
    "its score above the runner-up's",
    "prompted decode's own score",
)


def features(h: Hearing, phrase: str) -> list[float]:
    """The numbers that describe `phrase` as what one model heard in `h` (`FEATURES`)."""
    scores = dict(h.candidates)
    scored = phrase in scores
    score = max(FLOOR, scores[phrase]) if scored else FLOOR
    others = [max(FLOOR, s) for p, s in h.candidates if p != phrase]
    plain_above = 0.0
    if h.plain and h.plain != phrase and not math.isnan(h.plain_score):
        plain_above = float(np.clip(h.plain_score - score, 0.0, 6.0))
    above_runner_up = float(np.clip(score - max(others), -3.0, 3.0)) if others else 3.0
    prompted = h.prompted_score if not math.isnan(h.prompted_score) else FLOOR
    return [
        float(h.plain == phrase),
        float(h.prompted == phrase),
        score,
        float(not scored),
        plain_above,
        above_runner_up,
        float(np.clip(prompted, -3.0, 0.0)),
    ]


def candidates(hearings: Sequence[Hearing], phrases: Collection[str]) -> list[str]:
    """Every phrase (of `phrases`) that the full look of any model points at, in order."""
    out: list[str] = []
    for h in hearings:
        out += [t for t in (h.plain, h.prompted) if t in phrases]
        out += [p for p, _ in h.candidates if p in phrases]
    return list(dict.fromkeys(out))


def row(hearings: Sequence[Hearing], phrase: str) -> list[float]:
    """The numbers for `phrase` from every model's hearing, side by side."""
    return [x for h in hearings for x in features(h, phrase)]


@dataclass(frozen=True)
class LearnedRule:
    """A logistic regression over `row`, standardised, and the probability to take."""

    models: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float

    def probability(self, hearings: Sequence[Hearing], phrase: str) -> float:
        x = (np.asarray(row(hearings, phrase)) - self.mean) / np.asarray(self.scale)
        z = float(x @ np.asarray(self.weights) + self.bias)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def best(self, hearings: Sequence[Hearing],
             phrases: Collection[str]) -> tuple[str, float] | None:
        """The most probable candidate and its probability, taken or not."""
        scored = [(p, self.probability(hearings, p)) for p in candidates(hearings, phrases)]
        return max(scored, key=lambda c: c[1]) if scored else None

    def decide(self, hearings: Sequence[Hearing], phrases: Collection[str],
               threshold: float | None = None) -> tuple[str, float] | None:
        """The phrase taken and its probability, or None."""
        best = self.best(hearings, phrases)
        limit = self.threshold if threshold is None else threshold
        return best if best is not None and best[1] >= limit else None

    def to_json(self) -> dict[str, object]:
        return {"models": list(self.models), "mean": list(self.mean),
                "scale": list(self.scale), "weights": list(self.weights),
                "bias": self.bias, "threshold": self.threshold}

    @classmethod
    def from_json(cls, d: dict[str, object]) -> LearnedRule:
        def floats(key: str) -> tuple[float, ...]:
            value = d[key]
            assert isinstance(value, list)
            return tuple(float(v) for v in value)

        models = d["models"]
        assert isinstance(models, list)
        bias, threshold = d["bias"], d["threshold"]
        assert isinstance(bias, float | int) and isinstance(threshold, float | int)
        return cls(tuple(str(m) for m in models), floats("mean"), floats("scale"),
                   floats("weights"), float(bias), float(threshold))


def fit(rows: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None,
        l2: float = 1.0, iterations: int = 50) -> tuple[np.ndarray, np.ndarray,
                                                        np.ndarray, float]:
    """Logistic regression by Newton's method with an L2 penalty (not on the bias):
    (mean, scale, weights, bias) of the standardised rows."""
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale < 1e-6] = 1.0
    x = np.hstack([(rows - mean) / scale, np.ones((len(rows), 1))])
    y = labels.astype(np.float64)
    sw = np.ones(len(rows)) if weights is None else weights
    theta = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ theta, -50, 50)))
        grad = x.T @ (sw * (p - y)) + penalty * theta
        hess = (x * (sw * p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return mean, scale, theta[:-1], float(theta[-1])


def load(path: Path = RULES_FILE) -> dict[str, LearnedRule]:
    """The rules shipped, by the models they need ("tiny.en", "base", "tiny.en+base")."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return {name: LearnedRule.from_json(d) for name, d in data["rules"].items()}
