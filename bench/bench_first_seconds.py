"""Barge-in in a session's first seconds, by real people's voices.

"stop", by the 10 speakers of the Speech Commands sample (real voices no engine here was
trained or tuned on), said 1, 2 and 5 s into the barge-in routine: over its welcome, and
twice over its safety note "Stop any exercise that hurts...". The room is
simulated as `start --simulate --echo GAIN:DELAY_MS` does it, quiet. Counted: the session
paused between the word's start and 0.5 s after its end. In the first second the echo's
delay is not yet known; over the safety note the word is one the assistant is saying
itself. Naive: the same listener without the loudspeaker's signal (see `bench_barge_in`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from assistant.audio import read_wav
from assistant.runner import Echo
from assistant.testing import BARGE_IN_ROUTINE
from bench import corpus
from bench.bench_barge_in import RATE, simulate

ECHOES = [Echo(0.5, 0.3), Echo(0.5, 0.6), Echo(1.0, 0.3), Echo(1.0, 0.6)]
MOMENTS = [1.0, 2.0, 5.0]  # seconds into the session
LEVEL = 0.1  # each word's RMS: about as loud as the assistant's voice sent out


FOLDER = corpus.REAL_VOICES / "stop"


def stops() -> list[np.ndarray]:
    """The sample's "stop"s (in `FOLDER`), cut to their sound (50 ms around it) and set to
    `LEVEL`; none when the sample is absent."""
    clips = []
    for path in sorted(FOLDER.glob("*.wav")):
        audio = read_wav(path, RATE)
        loud = np.flatnonzero(np.abs(audio) > 0.02)
        if len(loud):
            audio = audio[max(0, loud[0] - 800) : loud[-1] + 800]
        rms = float(np.sqrt(np.mean(audio**2)))
        clips.append((audio * (LEVEL / max(rms, 1e-9))).astype(np.float32))
    return clips


def paused_in_time(clips: list[np.ndarray], echo: Echo, at: float, naive: bool,
                   tmp: Path) -> int:
    """How many of the words said `at` s into the session paused it in time."""
    routine = tmp / "barge.yaml"
    routine.write_text(BARGE_IN_ROUTINE)
    mics: list[np.ndarray | None] = []
    for clip in clips:
        mic = np.zeros(round((at + 4.0) * RATE), np.float32)
        i = round(at * RATE)
        mic[i : i + len(clip)] += clip
        mics.append(mic)
    found = 0
    for clip, records in zip(clips, simulate(routine, mics, tmp, naive, echo), strict=True):
        paused = [r["t"] for r in records if r["type"] == "phase" and r["phase"] == "paused"]
        found += bool(paused) and at <= paused[0] < at + len(clip) / RATE + 0.5
    return found


def run() -> str:
    lines = ["## Barge-in in the first seconds, real voices", "",
             __doc__.split("\n\n", 1)[1].replace("\n", " ").strip(), ""]
    clips = stops()
    if not clips:
        lines.append(f"Skipped: no Speech Commands \"stop\" clips in {FOLDER}.")
        return "\n".join(lines) + "\n"
    lines += ["| echo gain | echo delay | " + " | ".join(
                  f"{at:g} s in: paused (naive)" for at in MOMENTS) + " |",
              "|---|---|" + "---|" * len(MOMENTS)]
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for echo in ECHOES:
            cells = []
            for at in MOMENTS:
                guarded = paused_in_time(clips, echo, at, False, tmp)
                naive = paused_in_time(clips, echo, at, True, tmp)
                cells.append(f"{guarded}/{len(clips)} ({naive})")
            lines.append(f"| {echo.gain:g} | {round(echo.delay * 1000)} ms | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
