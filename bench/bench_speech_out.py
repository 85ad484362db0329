"""Speech output: time to first audio, render speed, and where counts land (ours against the
naive say()+sleep(tempo) loop and sleep-then-play scheduling, measured in the same run)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
import time
from typing import Any

import numpy as np

from assistant.events import Say
from assistant.voice.player import LiveSpeaker, TimelineSpeaker
from assistant.voice.tts import SAMPLE_RATE, Synthesizer

RATE = SAMPLE_RATE
THRESHOLD = 0.05
WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]

SESSION_TEXT = [
    "Upper back relief.",
    "If you do not know what causes your back pain, check with your physician first. "
    "Stop any exercise that makes the pain worse.",
    "Brisk walk. Walk briskly enough to break a sweat, but not so fast that you are breathless.",
    "25 minutes to go.",
    "Halfway there.",
    "Knees to chest. Sit tall. Raise one knee toward your chest, lower it, then the other leg.",
    "Set 1 of 2.",
    "3",
    "2",
    "1",
    "Go.",
    *[f"{w}, {side}" for w in WORDS for side in ("left", "right")],
    "Raise.",
    "Lower.",
    "Last one.",
    "Rest for 30 seconds.",
    "Next: bird dog.",
    "Bird dog. Straighten one leg behind you, bring it back, then the other leg.",
    "Hold.",
    "Well done. Workout complete.",
]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 0.001 else f"{seconds * 1000:.1f} ms"


def first_audio() -> list[tuple[str, str]]:
    rows = []
    synth = Synthesizer(cache_size=64)
    sp = TimelineSpeaker(synth)
    started = time.perf_counter()
    sp.schedule(Say(0.0, "Three, two, one, go.", "count"))
    rows.append(
        ("time to first audio, cold cache (render + schedule)", _ms(time.perf_counter() - started))
    )
    started = time.perf_counter()
    sp.schedule(Say(1.0, "Three, two, one, go.", "count"))
    rows.append(("time to first audio, warm cache", _ms(time.perf_counter() - started)))
    return rows


def render_speed() -> list[tuple[str, str]]:
    synth = Synthesizer(cache_size=4096)
    synth.render("warm up the engine")
    started = time.perf_counter()
    total = sum(len(synth.render(text)) for text in SESSION_TEXT) / RATE
    took = time.perf_counter() - started
    return [
        (
            f"render a session's text ({len(SESSION_TEXT)} phrases, {total:.1f} s of speech)",
            f"{took:.2f} s = {total / took:.0f}x real time",
        )
    ]


def timeline_onsets() -> list[tuple[str, str]]:
    synth = Synthesizer()
    sp = TimelineSpeaker(synth)
    tempo = 60 / 47
    times = [0.5 + k * tempo for k in range(200)]
    for k, t in enumerate(times):
        sp.schedule(Say(t, WORDS[k % 10], "count", slot=tempo))
    audio = sp.audio(0, times[-1] + tempo)
    errors = []
    for t in times:
        start = round(t * RATE)
        window = audio[start - RATE // 10 : start + RATE // 10]
        errors.append((np.flatnonzero(window)[0] - RATE // 10) / RATE)
    return [("count onset error, TimelineSpeaker (200 counts)", _summary(errors))]


def _summary(errors: list[float]) -> str:
    absolute = [abs(e) for e in errors]
    return f"median {_ms(statistics.median(absolute))}, worst {_ms(max(absolute))}"


class _Recorder:
    def __init__(self, device: str) -> None:
        import sounddevice as sd

        self.blocks: list[np.ndarray] = []
        self.marks: list[tuple[float, int]] = []  # (monotonic time, samples so far)
        self.count = 0
        self.stream = sd.InputStream(
            device=device,
            samplerate=RATE,
            channels=1,
            dtype="float32",
            blocksize=160,
            callback=self._callback,
        )
        self.stream.start()

    def _callback(self, indata: np.ndarray, frames: int, t: Any, status: Any) -> None:
        self.blocks.append(indata[:, 0].copy())
        self.count += frames
        self.marks.append((time.monotonic(), self.count))

    def audio(self) -> np.ndarray:
        return np.concatenate(self.blocks)

    def close(self) -> None:
        self.stream.stop()
        self.stream.close()


def _pulse_device() -> str | None:
    if not os.environ.get("PULSE_SINK"):
        return None
    import sounddevice as sd

    return "pulse" if any(d["name"] == "pulse" for d in sd.query_devices()) else None


def _onset(audio: np.ndarray, expected: int, before: float = 0.05) -> int | None:
    """The first loud sample from `before` seconds ahead of `expected` (not so far ahead as
    to find the previous count's tail)."""
    lo = max(0, expected - round(before * RATE))
    loud = np.flatnonzero(np.abs(audio[lo : expected + RATE // 2]) > THRESHOLD)
    return None if not loud.size else lo + int(loud[0])


def live_rows(device: str) -> list[tuple[str, str]]:
    import sounddevice as sd

    rows = []
    synth = Synthesizer()
    synth.prerender(WORDS)
    rec = _Recorder(device)
    sp = LiveSpeaker(synth, device=device)
    try:
        while sp.clock() < 0.3 or rec.count < 0.3 * RATE:
            time.sleep(0.02)
        click = np.zeros(160, dtype=np.float32)
        click[:40] = 0.9
        t_click = sp.clock() + 0.2
        sp.schedule_pcm(t_click, click, kind="count", text="click")
        tempo = 0.6
        times = [t_click + 0.5 + k * tempo for k in range(20)]
        for k, t in enumerate(times):
            sp.schedule(Say(t, WORDS[k % 10], "count", slot=tempo))
        while sp.clock() < times[-1] + 0.8:
            time.sleep(0.02)
        audio = rec.audio()
        offset = int(np.flatnonzero(np.abs(audio) > THRESHOLD)[0]) - round(t_click * RATE)
        errors = []
        for k, t in enumerate(times):
            lead = int(np.flatnonzero(np.abs(synth.render(WORDS[k % 10])) > THRESHOLD)[0])
            expected = round(t * RATE) + lead + offset
            got = _onset(audio, expected)
            errors.append(float("inf") if got is None else (got - expected) / RATE)

        # time to first audio live: schedule "now", until the callback has played its first
        # sample (the stream's own output latency comes on top, see the round trip)
        latencies = []
        for _ in range(10):
            before = len(sp.onsets)
            started = time.perf_counter()
            sp.schedule(Say(sp.clock(), "Go.", "count"))
            while len(sp.onsets) == before:
                time.sleep(0.0005)
            latencies.append(time.perf_counter() - started)
            time.sleep(0.3)
        rows.append(("live: schedule now -> first sample played (warm)", _summary(latencies)))
        rows.append(("count onset error, LiveSpeaker through PulseAudio (20)", _summary(errors)))
    finally:
        sp.close()

    # naive: sleep until each beat, then sd.play() the pre-rendered count
    try:
        marks_from = len(rec.marks)
        beats = [time.monotonic() + 0.5 + k * 0.6 for k in range(20)]
        for k, beat in enumerate(beats):
            time.sleep(max(0.0, beat - time.monotonic()))
            sd.play(synth.render(WORDS[k % 10]), RATE, device=device)
        time.sleep(1.0)
        sd.stop()
        audio = rec.audio()
        wall = np.array([m[0] for m in rec.marks[marks_from:]])
        counts = np.array([m[1] for m in rec.marks[marks_from:]])
        slope, intercept = np.polyfit(wall, counts, 1)  # recording sample at a monotonic time
        delays = []
        for k, beat in enumerate(beats):
            lead = int(np.flatnonzero(np.abs(synth.render(WORDS[k % 10])) > THRESHOLD)[0])
            expected = int(slope * beat + intercept) + lead
            got = _onset(audio, expected, before=0.1)
            delays.append(float("inf") if got is None else (got - expected) / RATE)
        constant = statistics.median(delays)
        rows.append(
            (
                "naive: sleep until beat, then sd.play (20), after removing its median "
                f"latency of {_ms(constant)}",
                _summary([d - constant for d in delays]),
            )
        )
    finally:
        rec.close()
    return rows


NAIVE_SAY_LOOP = textwrap.dedent(
    """
    import json, sys, time, pyttsx3
    engine = pyttsx3.init()
    tempo, words = float(sys.argv[1]), sys.argv[2:]
    t0 = time.monotonic()
    starts = []
    for word in words:
        starts.append(time.monotonic() - t0)
        engine.say(word)
        engine.runAndWait()
        time.sleep(tempo)
    print(json.dumps(starts))
    """
)


def naive_say_loop() -> list[tuple[str, str]]:
    tempo = 0.6
    words = WORDS
    try:
        run = subprocess.run(
            [sys.executable, "-c", NAIVE_SAY_LOOP, str(tempo), *words],
            capture_output=True,
            text=True,
            timeout=60,
        )
        import json

        starts = json.loads(run.stdout.strip().splitlines()[-1])
    except Exception as exc:
        return [("naive: pyttsx3 say() + runAndWait() + sleep(tempo)", f"could not run: {exc}")]
    drift = [s - k * tempo for k, s in enumerate(starts)]
    return [
        (
            f"naive: pyttsx3 say() + runAndWait() + sleep(tempo), drift after {len(words)} beats",
            f"{_ms(drift[-1])} late (each beat {_ms((drift[-1]) / (len(words) - 1))} later)",
        )
    ]


def run() -> str:
    rows = first_audio() + render_speed() + timeline_onsets()
    device = _pulse_device()
    if device is None:
        rows.append(("live rows", "skipped: no PulseAudio null sink (see `bench: ...` above)"))
    else:
        rows += live_rows(device)
    rows += naive_say_loop()
    return table(rows)


def table(rows: list[tuple[str, str]]) -> str:
    lines = ["## Speech output", "", "| measure | result |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
