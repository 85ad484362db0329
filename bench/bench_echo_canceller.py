"""The echo canceller against SpeexDSP's, each given the reference aligned to the echo's
delay (as the delay estimator does it, 30 ms early), and the naive way: the canceller on the
reference as played, its 240 ms window from no delay on (how it ran before the delay
estimator).

The scene: 37 s of the assistant's own instructions as the reference; the microphone holds
its echo at GAIN, DELAY ms late, plus a quiet room (-66 dBFS) or a fan (pink, -35 dBFS).
Echo reduction: the echo's energy over the echo left in the output, in the last third (a
linear canceller's output minus what it was given besides the echo; Speex filters its input
with a DC notch first, so its noise is notched too). SpeexDSP 1.2 (Debian's libspeexdsp1)
runs through ctypes; without it its columns say so."""

from __future__ import annotations

import ctypes
import ctypes.util
import time

import numpy as np

from assistant.ear.echo import EchoCanceller
from assistant.testing import colored_noise, fan
from bench import corpus

RATE = corpus.SAMPLE_RATE
BLOCK = 160
LEAD_MS = 30


def speex() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("speexdsp")
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    lib.speex_echo_state_init.restype = ctypes.c_void_p
    lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p] * 4
    lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
    return lib


def run_speex(lib: ctypes.CDLL, mic: np.ndarray, ref: np.ndarray, tail_ms: int
              ) -> tuple[np.ndarray, float]:
    state = lib.speex_echo_state_init(BLOCK, tail_ms * RATE // 1000)
    rate = ctypes.c_int(RATE)
    lib.speex_echo_ctl(state, 24, ctypes.byref(rate))  # SPEEX_ECHO_SET_SAMPLING_RATE
    m16, r16 = (np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16) for x in (mic, ref))
    out = np.zeros(len(mic) // BLOCK * BLOCK, np.int16)
    started = time.process_time()
    for k in range(0, len(out), BLOCK):
        m, r = np.ascontiguousarray(m16[k : k + BLOCK]), np.ascontiguousarray(r16[k : k + BLOCK])
        o = np.empty(BLOCK, np.int16)
        lib.speex_echo_cancellation(state, m.ctypes.data, r.ctypes.data, o.ctypes.data)
        out[k : k + BLOCK] = o
    cpu = time.process_time() - started
    lib.speex_echo_state_destroy(state)
    return out / 32768.0, cpu


def notch(x: np.ndarray, radius: float = 0.982) -> np.ndarray:
    """Speex's DC notch (mdf.c, filter_dc_notch16), which it applies to the microphone."""
    den2 = radius * radius + 0.7 * (1 - radius) ** 2
    y, m0, m1 = np.zeros(len(x)), 0.0, 0.0
    for i, v in enumerate((x * 32768.0).tolist()):
        out = m0 + v
        m0 = m1 + 2 * (-v + radius * out)
        m1 = v - den2 * out
        y[i] = radius * out
    return y / 32768.0


def run_ours(mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, float]:
    canceller = EchoCanceller(BLOCK)
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
    lib = speex()
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
        notched = notch(noise) if lib is not None else noise
        for gain in (0.5, 1.0):
            for delay_ms in (30, 150, 250, 400, 600):
                echo = gain * late(reference, delay_ms * RATE // 1000)
                mic = echo + noise
                aligned = late(reference, (delay_ms - LEAD_MS) * RATE // 1000)
                out, seconds_cpu = run_ours(mic, aligned)
                cpu["ours"] += seconds_cpu
                cells = [f"{reduction_db(echo, out - noise[: len(out)]):.1f} dB"]
                naive, _ = run_ours(mic, reference)
                naive_cell = f"{reduction_db(echo, naive - noise[: len(naive)]):.1f} dB"
                if lib is None:
                    cells += ["-", "-"]
                else:
                    for ref, tail in ((aligned, 240), (reference, 700)):
                        got, seconds_cpu = run_speex(lib, mic, ref, tail)
                        cpu["speex"] += seconds_cpu if tail == 240 else 0.0
                        cells.append(f"{reduction_db(echo, got - notched[: len(got)]):.1f} dB")
                rows.append(f"| {room} | {gain:g} | {delay_ms} ms | " + " | ".join(cells)
                            + f" | {naive_cell} |")
    runs = len(rows)
    per_second = {k: 1000 * v / (runs * seconds) for k, v in cpu.items()}
    lines = [
        "## The echo canceller against SpeexDSP's",
        "",
        __doc__.split("\n\n", 1)[1].replace("\n", " ").strip(),
        "",
        "| room | echo gain | echo delay | ours, aligned | Speex 240 ms, aligned "
        "| Speex 700 ms, as played | naive: ours, as played |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"CPU per second of audio: ours {per_second['ours']:.1f} ms, Speex 240 ms "
        + (f"{per_second['speex']:.1f} ms." if lib is not None else "- (libspeexdsp1 absent)."),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
