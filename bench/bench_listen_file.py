"""`listen --file` speed: 21 minutes of real voices through the command line, the way it
was (every utterance decided in turn on one thread, as live) against the way it is now
(decisions in a second process, `assistant.ear.pipeline`), in the same run, with what each
printed compared line by line.

Run with `python -m bench listen_file`. The recording: the Speech Commands clips of
../shared/data/speech_commands (commands and other words) 2-4 s apart, with the read
sentences of ../shared/data/real_tune/sentences between them, in a quiet room (-66 dBFS),
repeated to 21 minutes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from bench import corpus

MINUTES = 21.0
SENTENCES = corpus.ROOT.parent / "shared" / "data" / "real_tune" / "sentences"


def _read(path: Path) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if rate != corpus.SAMPLE_RATE:
        mono = soxr.resample(mono, rate, corpus.SAMPLE_RATE)
    return np.asarray(mono, np.float32)


def long_recording(minutes: float = MINUTES, seed: int = 24) -> np.ndarray:
    """Real words 2-4 s apart and a read sentence after every 20 words, at about -20 dBFS
    (+-3 dB), in a quiet room, `minutes` long; empty when the shared data is absent."""
    words = sorted(corpus.REAL_VOICES.glob("*/*.wav"))
    sentences = sorted(SENTENCES.glob("*.flac")) if SENTENCES.is_dir() else []
    if not words:
        return np.zeros(0, np.float32)
    rng = np.random.default_rng(seed)
    want = int(minutes * 60 * corpus.SAMPLE_RATE)
    pieces: list[np.ndarray] = []
    total, n = 0, 0
    while total < want:
        for i in rng.permutation(len(words)):
            paths = [words[i]]
            n += 1
            if sentences and n % 20 == 0:
                paths.append(sentences[(n // 20) % len(sentences)])
            for path in paths:
                clip = _read(path)
                gain = 10 ** ((-20 + rng.uniform(-3, 3)) / 20) / (corpus.active_rms(clip) + 1e-9)
                gap = np.zeros(int(rng.uniform(2.0, 4.0) * corpus.SAMPLE_RATE), np.float32)
                pieces += [(clip * gain).astype(np.float32), gap]
                total += len(clip) + len(gap)
            if total >= want:
                break
    audio = np.concatenate(pieces)[:want]
    audio += corpus.room_noise(rng, len(audio))
    return audio.astype(np.float32)


def write_long_recording(path: Path, minutes: float = MINUTES) -> bool:
    audio = long_recording(minutes)
    if not len(audio):
        return False
    sf.write(path, audio, corpus.SAMPLE_RATE, subtype="PCM_16")
    return True


#: `listen` as before: every utterance decided as the endpointer ends it, on one thread
NAIVE = ("import sys; from assistant import listening; listening.PIPELINE = False; "
         "from assistant.cli import main; main(sys.argv[1:])")


def listen_file(path: Path, *, naive: bool = False) -> tuple[float, float, list[str]]:
    """Wall time and CPU time (children's) of `exercise-assistant listen --file PATH --json`
    (start-up included), and the JSON lines it printed."""
    start = [sys.executable, "-c", NAIVE] if naive else [sys.executable, "-m", "assistant"]
    cpu = os.times()
    started = time.perf_counter()
    out = subprocess.run([*start, "listen", "--file", str(path), "--json"],
                         capture_output=True, text=True, check=True, cwd=corpus.ROOT)
    took = time.perf_counter() - started
    after = os.times()
    used = after.children_user - cpu.children_user + after.children_system - cpu.children_system
    return took, used, out.stdout.splitlines()


def run() -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.wav"
        if not write_long_recording(path):
            return ("## `listen --file` speed\n\nSkipped: ../shared/data/speech_commands "
                    "is absent.\n")
        seconds = sf.info(path).duration
        naive, naive_cpu, naive_lines = listen_file(path, naive=True)
        ours, our_cpu, our_lines = listen_file(path)
    return report(seconds, (naive, naive_cpu, naive_lines), (ours, our_cpu, our_lines))


def report(seconds: float, naive: tuple[float, float, list[str]],
           ours: tuple[float, float, list[str]]) -> str:
    differ = sum(a != b for a, b in zip(naive[2], ours[2], strict=False))
    differ += abs(len(naive[2]) - len(ours[2]))
    clips = len(list(corpus.REAL_VOICES.glob("*/*.wav")))
    load = os.getloadavg()[0]
    rows = [f"| {label} | {wall:.0f} s | {cpu:.0f} s | {wall / seconds:.2f} | {len(lines)} |"
            for label, (wall, cpu, lines) in (("naive: one thread, as live (before)", naive),
                                               ("decisions in a second process (now)", ours))]
    return "\n".join([
        "## `listen --file` speed",
        "",
        f"A {seconds / 60:.0f}-minute recording: the {clips} Speech Commands clips 2-4 s "
        "apart and a read sentence after every 20 words, in a quiet room, repeated; "
        "`exercise-assistant listen --file X --json`, start-up included, both ways in the "
        f"same run on this machine (2 cores; load average {load:.1f} at the end).",
        "",
        "| | wall time | CPU time | real-time factor | commands printed |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "The same JSON lines both ways." if not differ else
        f"{differ} of {max(len(naive[2]), len(ours[2]))} JSON lines differ.",
        "",
    ])
