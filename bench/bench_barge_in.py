"""Barge-in and the assistant's own voice, at the echo delays real set-ups have.

The room is simulated as `start --simulate --echo GAIN:DELAY_MS` does it: the assistant's voice
comes back into the microphone at GAIN (0.5: half as loud as sent; 1.0: as loud), DELAY_MS
late (30 ms: a laptop; 150-300 ms: PulseAudio, USB and Bluetooth; 400-600 ms: a Bluetooth
speaker at its worst), in a quiet room and by a fan (pink noise at -35 dBFS).

Barge-in: "pause", by 10 test voices no engine trained on, said at 10 moments over a long
instruction; counted: the session paused within 0.5 s of the end of the word. Own voice: the
whole desk-break routine (5.5 minutes) with only its own voice (and the fan) in the
microphone; every command heard there is false. Naive: the same listener without the
loudspeaker's signal (no delay estimate, no echo cancellation, no echo guard, no check of
its own words)."""

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
MOMENTS = [1.3 + 0.22 * k for k in range(10)]  # seconds into the instruction
FAN_DB = -35.0


def simulate_in_process(routine_file: str, mic: str | None, events: str, naive: bool,
                        echo: Echo | None) -> list[dict]:
    """One simulation; run in a new process (see `simulate`). A pause ends the session 2 s
    later (nothing after it is counted). Without `echo`, nothing is listened to (for the
    session's own timeline)."""
    request = app.SimulationRequest(
        routine=load_routine(Path(routine_file)), settings=Settings(pause_limit=2.0),
        events=Path(events), mic_file=None if mic is None else Path(mic),
        echo=echo, journal=False, listen=echo is not None,
    )
    if naive:
        make = app.make_listener

        def deaf_to_reference(settings: Settings, on_rejected: Any = None) -> Any:
            listener = make(settings, on_rejected)
            process = listener.process
            listener.process = lambda frame, reference=None: process(frame, None)
            listener.hear_own_words = lambda said: None
            return listener

        app.make_listener = deaf_to_reference
    app.run_simulation(request)
    return [json.loads(line) for line in Path(events).read_text().splitlines()]


def simulate(routine_file: Path, mics: list[np.ndarray | None], tmp: Path,
             naive: bool | list[bool], echo: Echo | None) -> list[list[dict]]:
    """The event logs of one simulation per microphone signal, two at a time, each in a new
    process: eSpeak NG's output depends on what it said before in the same process, so a
    fresh one makes the same inputs give the same figures."""
    jobs = []
    for n, mic in enumerate(mics):
        path = None
        if mic is not None:
            path = str(tmp / f"mic{n}.wav")
            sf.write(path, mic, RATE)
        flag = naive[n] if isinstance(naive, list) else naive
        jobs.append((str(routine_file), path, str(tmp / f"events{n}.jsonl"), flag, echo))
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=spawn, max_tasks_per_child=1) as pool:
        return list(pool.map(simulate_in_process, *zip(*jobs, strict=True)))


def words() -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    out = []
    for word in ("pause",):
        for _ in MOMENTS:
            (clip,) = corpus.speak(corpus.test_voice(rng), [word])
            s, e = corpus.speech_span(clip)
            clip = clip[s:e]
            out.append((clip / (corpus.active_rms(clip) + 1e-9) * 0.1).astype(np.float32))
    return out


def barge_in(
    clips: list[np.ndarray], noisy: bool, naive: bool, echo: Echo, tmp: Path
) -> tuple[int, int, list[float], int]:
    """(paused in time, words, delays of those heard, other commands heard)."""
    routine = tmp / "barge.yaml"
    routine.write_text(BARGE_IN_ROUTINE)
    (quiet,) = simulate(routine, [None], tmp, naive=False, echo=None)
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
    logs = simulate(routine, mics, tmp, naive, echo)
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


def own_voice(noisy: bool, echo: Echo, tmp: Path) -> tuple[int, int]:
    """Commands heard in the whole desk-break routine from its own voice: (echo guard,
    naive)."""
    routine = corpus.ROOT / "exercises" / "desk-break.yaml"
    length = simulate(routine, [None], tmp, naive=False, echo=None)[0][-1]["t"]
    mic = fan(length + 2.0, FAN_DB, seed=9) if noisy else None
    guarded, naive = simulate(routine, [mic, mic], tmp, [False, True], echo)
    return (sum(1 for r in guarded if r["type"] == "heard"),
            sum(1 for r in naive if r["type"] == "heard"))


GAINS = (0.5, 1.0)
DELAYS_MS = (30, 150, 250, 400, 600)


def run() -> str:
    lines = [
        "## Barge-in and its own voice, by echo delay, loudness and room",
        "",
        __doc__.split("\n\n", 1)[1].replace("\n", " ").strip(),
        "",
        "| room | echo gain | echo delay | paused within 0.5 s (naive) "
        "| median word end to pause | other commands (naive) "
        "| commands from its own voice in 5.5 min (naive) |",
        "|---|---|---|---|---|---|---|",
    ]
    clips = words()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for noisy in (False, True):
            room = f"fan, {int(FAN_DB)} dBFS" if noisy else "quiet"
            for gain in GAINS:
                for delay in DELAYS_MS:
                    echo = Echo(gain, delay / 1000)
                    in_time, total, delays, other = barge_in(clips, noisy, False, echo, tmp)
                    naive_in_time, _, _, naive_other = barge_in(clips, noisy, True, echo, tmp)
                    false, naive_false = own_voice(noisy, echo, tmp)
                    median = f"{1000 * statistics.median(delays):.0f} ms" if delays else "-"
                    lines.append(
                        f"| {room} | {gain:g} | {delay} ms | {in_time}/{total} ({naive_in_time}) "
                        f"| {median} | {other} ({naive_other}) | {false} ({naive_false}) |"
                    )
            ceiling = alone(clips, noisy)
            lines.append(f"| {room} | no echo | - | heard as pause with nothing playing: "
                         f"{ceiling}/{len(clips)} | | | |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
