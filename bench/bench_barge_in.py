"""Barge-in: a person saying a pause word over the assistant's own voice, in the simulated
room of `--echo 0.5:30` (the voice back in the microphone at half its level, 30 ms late).

Each of "stop" and "pause", by test voices no engine trained on, is said at 8 moments over a
long instruction, in a quiet room and by a fan (pink noise at -35 dBFS). Counted: the session
paused within 0.5 s of the end of the word. Then the whole desk-break routine with only its
own voice (and the fan) in the microphone: every command heard there is false. Naive: the
same listener without the loudspeaker's signal (no echo cancellation, no echo guard).
"Heard with nothing playing": the same words alone in the same room, heard as "pause" (the
most that barge-in could find)."""

from __future__ import annotations

import json
import multiprocessing
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from assistant import app
from assistant.loader import load_routine
from assistant.runner import Echo
from assistant.settings import Settings
from assistant.testing import BARGE_IN_ROUTINE, fan
from bench import corpus

RATE = corpus.SAMPLE_RATE
MOMENTS = [1.3 + 0.3 * k for k in range(8)]  # seconds into the instruction
FAN_DB = -35.0


def simulate_in_process(routine_file: str, mic: str | None, events: str, naive: bool) -> list[dict]:
    """One simulation; run in a new process (see `simulate`)."""
    request = app.SimulationRequest(
        routine=load_routine(Path(routine_file)), settings=Settings(pause_limit=20.0),
        events=Path(events), mic_file=None if mic is None else Path(mic),
        echo=Echo(0.5, 0.030), journal=False,
    )
    if naive:
        make = app.make_listener

        def deaf_to_reference(settings: Settings) -> Any:
            listener = make(settings)
            process = listener.process
            listener.process = lambda frame, reference=None: process(frame, None)
            return listener

        app.make_listener = deaf_to_reference  # type: ignore[assignment]
    app.run_simulation(request)
    return [json.loads(line) for line in Path(events).read_text().splitlines()]


def simulate(routine_file: Path, mics: list[np.ndarray | None], tmp: Path, naive: bool
             ) -> list[list[dict]]:
    """The event logs of one simulation per microphone signal, two at a time, each in a new
    process: eSpeak NG's output depends on what it said before in the same process, so a
    fresh one makes the same inputs give the same figures."""
    jobs = []
    for n, mic in enumerate(mics):
        path = None
        if mic is not None:
            path = str(tmp / f"mic{n}.wav")
            sf.write(path, mic, RATE)
        jobs.append((str(routine_file), path, str(tmp / f"events{n}.jsonl"), naive))
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=spawn, max_tasks_per_child=1) as pool:
        return list(pool.map(simulate_in_process, *zip(*jobs, strict=True)))


def words() -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    out = []
    for word in ("stop", "pause"):
        for _ in MOMENTS:
            (clip,) = corpus.speak(corpus.test_voice(rng), [word])
            s, e = corpus.speech_span(clip)
            clip = clip[s:e]
            out.append((clip / (corpus.active_rms(clip) + 1e-9) * 0.1).astype(np.float32))
    return out


def barge_in(
    clips: list[np.ndarray], noisy: bool, naive: bool, tmp: Path
) -> tuple[int, int, list[float], int]:
    """(paused in time, words, delays of those heard, other commands heard)."""
    routine = tmp / "barge.yaml"
    routine.write_text(BARGE_IN_ROUTINE)
    (quiet,) = simulate(routine, [None], tmp, naive=False)
    start = next(r for r in quiet if r["type"] == "say" and r["text"].startswith("Start"))["t"]
    mics: list[np.ndarray | None] = []
    moments = []
    for i, clip in enumerate(clips):
        said_at = start + MOMENTS[i % len(MOMENTS)]
        mic = np.zeros(round((said_at + 4.0) * RATE), np.float32)
        if noisy:
            mic += fan(len(mic) / RATE, FAN_DB, seed=9)
        at = round(said_at * RATE)
        mic[at : at + len(clip)] += clip
        mics.append(mic)
        moments.append(said_at)
    in_time, delays, other = 0, [], 0
    logs = simulate(routine, mics, tmp, naive)
    for clip, said_at, records in zip(clips, moments, logs, strict=True):
        heard = [r for r in records if r["type"] == "heard"]
        other += sum(1 for h in heard if h["command"] != "pause")
        paused = [r["t"] for r in records if r["type"] == "phase" and r["phase"] == "paused"]
        if paused:
            delay = paused[0] - (said_at + len(clip) / RATE)
            delays.append(delay)
            in_time += 0.0 <= delay < 0.5
    return in_time, len(clips), delays, other


def alone(clips: list[np.ndarray], noisy: bool) -> int:
    """How many of the words the listener hears as "pause" with nothing playing: the most
    barge-in could find."""
    found = 0
    for clip in clips:
        mic = np.zeros(3 * RATE, np.float32)
        if noisy:
            mic += fan(3.0, FAN_DB, seed=9)
        mic[RATE : RATE + len(clip)] += clip
        listener = app.make_listener(Settings())
        heard = []
        for k in range(0, len(mic), 160):
            heard += listener.process(mic[k : k + 160])
        heard += listener.flush()
        found += [h.intent.command.value for h in heard] == ["pause"]
    return found


def own_voice(noisy: bool, naive: bool, tmp: Path) -> tuple[int, float]:
    routine = corpus.ROOT / "exercises" / "desk-break.yaml"
    length = simulate(routine, [None], tmp, naive=False)[0][-1]["t"]
    mic = fan(length + 2.0, FAN_DB, seed=9) if noisy else None
    (records,) = simulate(routine, [mic], tmp, naive)
    return sum(1 for r in records if r["type"] == "heard"), length


def run() -> str:
    lines = [
        "## Barge-in: pause words over the assistant's own voice",
        "",
        __doc__.split("\n\n", 1)[1].replace("\n", " ").strip(),
        "",
        "| room | listener | paused within 0.5 s | heard with nothing playing "
        "| median word end to pause | other commands "
        "| commands from its own voice in a whole session |",
        "|---|---|---|---|---|---|---|",
    ]
    clips = words()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for noisy in (False, True):
            ceiling = alone(clips, noisy)
            for naive in (False, True):
                in_time, total, delays, other = barge_in(clips, noisy, naive, tmp)
                false, length = own_voice(noisy, naive, tmp)
                median = f"{1000 * statistics.median(delays):.0f} ms" if delays else "-"
                lines.append(
                    f"| {'fan, ' + str(int(FAN_DB)) + ' dBFS' if noisy else 'quiet'} "
                    f"| {'naive: no echo guard' if naive else 'echo guard'} "
                    f"| {in_time}/{total} | {ceiling}/{total} | {median} | {other} "
                    f"| {false} in {length / 60:.1f} min |"
                )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
