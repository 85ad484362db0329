"""The echo canceller (SpeexDSP's, as shipped) against the project's own numpy version of the
same structure that it replaced (`bench/retired_echo.py`), each given the reference aligned
to the echo's delay (as the delay estimator does it, 30 ms early); and Speex with a 700 ms
filter on the reference as played; and the naive way: the retired canceller on the
reference as played, its 240 ms window from no delay on (how it ran before the delay
estimator).

The scene: 37 s of the assistant's own instructions as the reference; the microphone holds
its echo at GAIN, DELAY ms late, plus a quiet room (-66 dBFS) or a fan (pink, -35 dBFS).
Echo reduction: the echo's energy over the echo left in the output, in the last third (the
output minus what the canceller was given besides the echo; Speex filters its input with a
DC notch first, so for it both are taken after that notch)."""

from __future__ import annotations

import time

import numpy as np

from assistant.ear.echo import EchoCanceller, dc_notch
from assistant.testing import colored_noise, fan
from bench import corpus
from bench.retired_echo import EchoCanceller as RetiredCanceller

RATE = corpus.SAMPLE_RATE
BLOCK = 160
LEAD_MS = 30


def run_speex(mic: np.ndarray, ref: np.ndarray, tail_ms: int) -> tuple[np.ndarray, float]:
    canceller = EchoCanceller(BLOCK, tail=tail_ms * RATE // 1000)
    out = np.zeros(len(mic) // BLOCK * BLOCK)
    started = time.process_time()
    for k in range(0, len(out), BLOCK):
        out[k : k + BLOCK] = canceller.process(mic[k : k + BLOCK], ref[k : k + BLOCK])[0]
    return out, time.process_time() - started


def run_ours(mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, float]:
    canceller = RetiredCanceller(BLOCK)
    out = np.zeros(len(mic) // BLOCK * BLOCK)
    started = time.process_time()
    for k in range(0, len(out), BLOCK):
        out[k : k + BLOCK] = canceller.process(mic[k : k + BLOCK], ref[k : k + BLOCK])[0]
    return out, time.process_time() - started


def late(x: np.ndarray, samples: int) -> np.ndarray:
    return np.concatenate([np.zeros(samples), x[: len(x) - samples]]) if samples else x


def reduction_db(echo: np.ndarray, left: np.ndarray) -> float:
    a = 2 * len(left) // 3
    return float(10 * np.log10(np.sum(echo[a : len(left)] ** 2) / (np.sum(left[a:] ** 2) + 1e-20)))


def run() -> str:
    reference = corpus.assistant_voice().astype(np.float64)
    seconds = len(reference) / RATE
    rows = []
    cpu: dict[str, float] = {"ours": 0.0, "speex": 0.0}
    for room in ("quiet", "fan"):
        if room == "fan":
            noise = fan(seconds + 1, -35.0, seed=3)[: len(reference)].astype(np.float64)
        else:
            rng = np.random.default_rng(4)
            noise = colored_noise(rng, len(reference), "pink").astype(np.float64) * 10 ** (-66 / 20)
        quantised = np.round(noise * 32768) / 32768
        notched = dc_notch(quantised)[0]
        for gain in (0.5, 1.0):
            for delay_ms in (30, 150, 250, 400, 600):
                echo = gain * late(reference, delay_ms * RATE // 1000)
                mic = echo + noise
                notched_echo = dc_notch(np.round(mic * 32768) / 32768 - quantised)[0]
                aligned = late(reference, (delay_ms - LEAD_MS) * RATE // 1000)
                out, seconds_cpu = run_ours(mic, aligned)
                cpu["ours"] += seconds_cpu
                cells = [f"{reduction_db(echo, out - noise[: len(out)]):.1f} dB"]
                naive, _ = run_ours(mic, reference)
                naive_cell = f"{reduction_db(echo, naive - noise[: len(naive)]):.1f} dB"
                for ref, tail in ((aligned, 240), (reference, 700)):
                    got, seconds_cpu = run_speex(mic, ref, tail)
                    cpu["speex"] += seconds_cpu if tail == 240 else 0.0
                    left = got - notched[: len(got)]
                    cells.insert(0 if tail == 240 else len(cells),
                                 f"{reduction_db(notched_echo, left):.1f} dB")
                rows.append(f"| {room} | {gain:g} | {delay_ms} ms | " + " | ".join(cells)
                            + f" | {naive_cell} |")
    runs = len(rows)
    per_second = {k: 1000 * v / (runs * seconds) for k, v in cpu.items()}
    lines = [
        "## The echo canceller against SpeexDSP's",
        "",
        __doc__.split("\n\n", 1)[1].replace("\n", " ").strip(),
        "",
        "| room | echo gain | echo delay | Speex 240 ms, aligned (shipped) "
        "| retired numpy canceller, aligned | Speex 700 ms, as played "
        "| naive: the retired canceller, as played |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"CPU per second of audio: Speex 240 ms {per_second['speex']:.1f} ms, the retired "
        f"canceller {per_second['ours']:.1f} ms.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
