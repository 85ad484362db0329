"""Whisper tiny.en, base, and both: the learned decision's frontier beside today's rule.

Run with `python -m bench whisper_models`. Every clip is heard once per model
(`bench.hearings`, cached under the tool's cache, so a second run takes seconds; a cold
cache costs about a second per clip and model on 2 free cores). Each row applies a rule to
the same hearings: tiny.en's quick look settles the clips whose plain text is a phrase (as
live), and the rule decides the others on the full look of tiny.en, of base, or of both.

Columns: real_tune (tuning: 62 speakers, clean and in its 5 real noises at 10 and 5 dB)
and ../shared/data/speech_commands (evaluation only: never tuned on), quiet and in pink
noise at 10 dB. Cells: commands heard right % / wrong command / other words taken.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence

from assistant.commands import Vocabulary
from assistant.ear.engines import decision
from assistant.ear.engines.whisper import Hearing, WhisperEngine
from bench import fit_decision as fd

COLUMNS = ("real_tune quiet", "real_tune noise 10 dB", "real_tune noise 5 dB",
           "speech_commands quiet", "speech_commands pink 10 dB")
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def run() -> str:
    # EAR_BENCH_CACHED=1: only what the cache holds (while it is being filled elsewhere)
    scenes = fd.scenes(COLUMNS, decode=not os.environ.get("EAR_BENCH_CACHED"))
    if not scenes:
        return ("### Whisper models and the learned decision\n\nskipped: "
                "../shared/data/real_tune and speech_commands are absent\n")
    rules = decision.load()
    today = WhisperEngine(Vocabulary())

    def by_margin(hs: Sequence[Hearing]) -> str | None:
        got = today.decide_by_margin(hs[-1])
        return None if got is None else got.text

    names = [s.name for s in scenes]
    lines = [
        "### Whisper models and the learned decision",
        "",
        "Isolated clips, 0.25 s of quiet room before. tiny.en's quick look settles the clips "
        "it writes as a phrase; the rule decides the rest on the full look of the model(s) "
        "named. Cells: commands heard right % / wrong command / other words taken "
        "(of " + ", ".join(
            f"{sum(c.command for c in s.clips)} commands and "
            f"{sum(not c.command for c in s.clips)} others" for s in scenes[:1])
        + " in real_tune; 140 and 160 in speech_commands). real_tune is where the rule is "
        "fitted (`python -m bench.fit_decision`); speech_commands only evaluates.",
        "",
        "| full look | rule | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]

    def line(config: str, label: str, decide: fd.Decide) -> None:
        models = fd.CONFIGS[config]
        cells = [fd.tally(s, models, decide).cell() for s in scenes]
        lines.append(f"| {fd.CONFIG_NAMES[config]} | {label} | " + " | ".join(cells) + " |")

    line("tiny.en", "today's (margin 0.8, prompted > -0.5)", by_margin)
    line("base", "today's (margin 0.8, prompted > -0.5)", by_margin)
    for config, rule in rules.items():
        line(config, f"**learned, p >= {rule.threshold:.2f} (shipped)**", fd.learned(rule))
    lines += ["", "The frontier of each learned rule (probability to take):", "",
              "| full look | p >= | " + " | ".join(names) + " |",
              "|---|---|" + "---|" * len(names)]
    for config, rule in rules.items():
        for t in THRESHOLDS:
            cells = [fd.tally(s, rule.models, fd.learned(rule, t)).cell() for s in scenes]
            lines.append(f"| {fd.CONFIG_NAMES[config]} | {t:.1f} | " + " | ".join(cells) + " |")
    # the cost: what each look took per clip (quick look alone when it settled the clip)
    quick, full, base = [], [], []
    for s in scenes:
        for i in range(len(s.clips)):
            h, cost = s.heard["tiny.en"][i], s.costs["tiny.en"][i]
            if h is None:
                continue
            (quick if s.settled(i) is not None else full).append(cost)
            if s.heard["base"][i] is not None:
                base.append(s.costs["base"][i])

    def ms(costs: list[float]) -> str:
        return f"{1000 * statistics.median(costs):.0f} ms" if costs else "-"

    lines += [
        "",
        f"Cost per clip (median; measured on the 2 cores shared with other work, at nice 10, "
        f"so slower than on an idle machine): tiny.en's quick look alone, when it settles "
        f"the clip ({len(quick)} clips), {ms(quick)}; quick and full look ({len(full)} "
        f"clips) {ms(full)}; base's full look {ms(base)} more ({len(base)} clips). The "
        "learned rule itself adds well under a millisecond.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
