"""Fit the Whisper engine's learned decision (`assistant.ear.engines.decision`) and write
`assistant/ear/models/whisper_decision.json`.

Run `python -m bench.fit_decision` after `python -m bench.hearings tiny.en` and
`python -m bench.hearings base` have filled the cache. Fitted on the tuning sets only
(`bench.hearings`: real_tune clean and in its real noises at 10 and 5 dB; synthetic voices
for the phrases real_tune lacks): every candidate phrase of every clip is a row, labelled
1 when it is the command said. The threshold is the lowest probability at which the
rule takes at most `TAKEN` of real_tune's other words, pooled over its three conditions.
speech_commands is never read here.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.commands import Vocabulary
from assistant.ear.engines import decision
from assistant.ear.engines.decision import LearnedRule
from assistant.ear.engines.whisper import Hearing
from bench import hearings as hearings_mod
from bench.bench_whisper import Clip

#: the model sets a rule may use: tiny.en alone, base alone, both
CONFIGS: dict[str, tuple[str, ...]] = {
    "tiny.en": ("tiny.en",), "base": ("base",), "tiny.en+base": ("tiny.en", "base")}
#: what each configuration is, live: tiny.en's quick look settles what it can, then the
#: full look of ...
CONFIG_NAMES = {"tiny.en": "tiny.en", "base": "base",
                "tiny.en+base": "tiny.en and base side by side"}
TUNING = tuple(n for n, (_, tune) in hearings_mod.SETS.items() if tune)
REAL_TUNING = tuple(n for n in TUNING if n.startswith("real_tune"))
#: the share of real_tune's other words the chosen threshold may take
TAKEN = 0.02
VOCABULARY = Vocabulary()
PHRASES = frozenset(VOCABULARY.phrases)


@dataclass
class Scene:
    """One set of clips with every model's hearings of them (None: base not asked, since
    tiny.en's quick look settled the clip)."""

    name: str
    clips: list[Clip]
    heard: dict[str, list[Hearing | None]]
    costs: dict[str, list[float]]

    def settled(self, i: int) -> str | None:
        """The phrase tiny.en's quick look settles clip `i` with, or None."""
        h = self.heard["tiny.en"][i]
        return h.quick.text if h is not None and h.quick.text in PHRASES else None

    def looks(self, i: int, models: Sequence[str]) -> list[Hearing] | None:
        hs = [self.heard[m][i] for m in models]
        return None if any(h is None for h in hs) else hs  # type: ignore[return-value]


def scenes(names: Sequence[str], models: Sequence[str] = ("tiny.en", "base"),
           decode: bool = True) -> list[Scene]:
    """The sets named, heard by each model (decoded now unless cached, with `decode`)."""
    out = []
    for name in names:
        if not hearings_mod.available(name):
            continue
        heard, costs = {}, {}
        clips: list[Clip] = []
        for model in models:
            clips, heard[model], costs[model] = hearings_mod.hearings(model, name,
                                                                      decode=decode)
        out.append(Scene(name, clips, heard, costs))
    return out


def right(clip: Clip, phrase: str | None) -> bool:
    return (phrase is not None and clip.command
            and VOCABULARY.parse(phrase) == VOCABULARY.parse(clip.text))


def rows(scene: Scene, models: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A row per candidate phrase of each clip the quick look does not settle."""
    xs, ys = [], []
    for i, clip in enumerate(scene.clips):
        hs = scene.looks(i, models)
        if scene.settled(i) is not None or hs is None:
            continue
        for phrase in decision.candidates(hs, PHRASES):
            xs.append(decision.row(hs, phrase))
            ys.append(right(clip, phrase))
    width = len(decision.FEATURES) * len(models)
    return np.asarray(xs, np.float64).reshape(-1, width), np.asarray(ys)


#: a decision on the full look's hearings (the quick look having settled nothing)
Decide = Callable[[Sequence[Hearing]], "str | None"]


@dataclass
class Tally:
    commands: int = 0
    right: int = 0
    wrong: int = 0
    others: int = 0
    taken: int = 0
    missing: int = 0

    def cell(self) -> str:
        cell = f"{100 * self.right / max(1, self.commands):.0f} % / {self.wrong} / {self.taken}"
        return cell + (f" ({self.missing} not decoded)" if self.missing else "")


def tally(scene: Scene, models: tuple[str, ...], decide: Decide) -> Tally:
    """Each clip: tiny.en's quick look when it settles it, else `decide` on the full look."""
    t = Tally()
    for i, clip in enumerate(scene.clips):
        got = scene.settled(i)
        if got is None:
            hs = scene.looks(i, models)
            if hs is None:  # not decoded (a partial cache): left out of the count
                t.missing += 1
                continue
            got = decide(hs)
        if clip.command:
            t.commands += 1
            t.right += right(clip, got)
            t.wrong += got is not None and not right(clip, got)
        else:
            t.others += 1
            t.taken += got is not None
    return t


def learned(rule: LearnedRule, threshold: float | None = None) -> Decide:
    def decide(hs: Sequence[Hearing]) -> str | None:
        got = rule.decide(hs, PHRASES, threshold)
        return None if got is None else got[0]

    return decide


def fit_rule(config: str, tuning: list[Scene]) -> LearnedRule:
    models = CONFIGS[config]
    parts = [rows(s, models) for s in tuning]
    x = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    mean, scale, weights, bias = decision.fit(x, y)
    rule = LearnedRule(models, tuple(mean), tuple(scale), tuple(weights), bias, 0.5)
    # the threshold: the lowest at which quick look and rule together take at most TAKEN
    # of real_tune's other words
    best, others, quick_takes = [], 0, 0
    for s in tuning:
        if s.name not in REAL_TUNING:
            continue
        for i, clip in enumerate(s.clips):
            hs = s.looks(i, models)
            if clip.command or (s.settled(i) is None and hs is None):
                continue
            others += 1
            if s.settled(i) is not None:
                quick_takes += 1
            elif hs is not None:
                got = rule.best(hs, PHRASES)
                best.append(got[1] if got is not None else 0.0)
    probs = np.sort(np.asarray(best))[::-1]
    allowed = math.floor(TAKEN * others) - quick_takes
    if allowed < 0:
        threshold = float(probs[0]) + 1e-6 if len(probs) else 0.5
    else:
        threshold = float(probs[allowed]) + 1e-6 if allowed < len(probs) else 0.05
    return LearnedRule(models, rule.mean, rule.scale, rule.weights, bias,
                       round(max(threshold, 0.05), 4))


def main() -> None:
    tuning = scenes(TUNING, decode="--cached" not in sys.argv)
    rules = {config: fit_rule(config, tuning) for config in CONFIGS}
    counts = {s.name: len(s.clips) for s in tuning}
    data = {
        "fitted": "python -m bench.fit_decision on " + json.dumps(counts),
        "features": list(decision.FEATURES),
        "rules": {k: r.to_json() for k, r in rules.items()},
    }
    decision.RULES_FILE.write_text(json.dumps(data, indent=1) + "\n")
    for config, rule in rules.items():
        cells = [tally(s, rule.models, learned(rule)).cell() for s in tuning]
        print(config, rule.threshold, " | ".join(cells))


if __name__ == "__main__":
    main()
