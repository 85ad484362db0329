"""The trained ear (neural engine): real voices, held-out synthetic voices, conversation, CPU.

Run with `python -m bench ear`. Real voices come from ../shared/data/speech_commands
(evaluation only); synthetic voices are ones training never used."""

from __future__ import annotations

import time

from assistant.commands import Vocabulary
from assistant.speech import eareval
from assistant.speech.engines.neural import DEFAULT_MODEL, EarModel, NeuralEngine


def run() -> str:
    model = EarModel.load(DEFAULT_MODEL)
    vocabulary = Vocabulary()

    def engine() -> NeuralEngine:
        return NeuralEngine(model, vocabulary)

    lines = ["## Trained ear (neural engine)", ""]
    meta = model.meta
    lines.append(
        f"Model: {DEFAULT_MODEL.name}, {DEFAULT_MODEL.stat().st_size // 1024} KiB, "
        f"{len(model.classes)} classes, window {model.window} frames, threshold "
        f"{model.threshold:.2f}, margin {model.margin:.2f}; trained in {meta.get('seconds')} s "
        f"(seed {meta.get('seed')}); held-out validation voices: {meta.get('val')}."
    )
    lines.append("")

    started = time.perf_counter()
    if eareval.SHARED.is_dir():
        real = eareval.real_voices(engine())
        lines += [
            "### Real human voices (Speech Commands sample, 1-2 s of quiet around each clip)",
            "",
            "| word | heard right |",
            "|---|---|",
        ]
        for word, (hits, n) in real.recall.items():
            lines.append(f"| {word} | {hits}/{n} |")
        lines += [
            f"| **all command words** | **{real.hits}/{real.clips} "
            f"({100 * real.hits / real.clips:.0f} %)** |",
            "",
            f"Taken as a wrong command: {len(real.wrong)} {real.wrong}. "
            f"Other words accepted as anything: {len(real.others_accepted)} of {real.others} "
            f"{real.others_accepted}. Targets: >= 90 %, <= 4 wrong, <= 5 of 160.",
            "",
        ]
        via = eareval.real_voices(engine(), listener=True)
        lines += [
            f"Through the project's Listener (noise suppression, endpointer, length limits) "
            f"instead of a plain energy endpointer: {via.hits}/{via.clips} "
            f"({100 * via.hits / via.clips:.0f} %) right, {len(via.wrong)} wrong, "
            f"{len(via.others_accepted)} of {via.others} other words accepted.",
            "",
        ]
    else:
        lines += [f"Real voices: skipped, {eareval.SHARED} is absent.", ""]

    synth = eareval.synthetic(engine())
    lines += [
        "### Held-out synthetic voices (eSpeak NG variants and a flite voice never trained on)",
        "",
        "| condition | commands heard right | wrong command | other speech accepted |",
        "|---|---|---|---|",
    ]
    for name, res in synth.items():
        lines.append(
            f"| {name} | {res.hits}/{res.commands} ({100 * res.hits / res.commands:.0f} %) | "
            f"{res.wrong} | {res.false_accepts}/{res.negatives} |"
        )
    total, accepted, seconds = eareval.conversation(engine())
    share = eareval.cpu_share(engine)
    lines += [
        "",
        f"Conversation (held-out sentences and words, test voices): {accepted} of {total} "
        f"utterances accepted as a command ({seconds / 60:.1f} min of speech).",
        "",
        f"CPU: {100 * share:.1f} % of one core while streaming (features + classifier).",
        "",
        f"_Bench time {time.perf_counter() - started:.0f} s._",
    ]
    return "\n".join(lines) + "\n"
