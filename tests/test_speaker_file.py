"""Simulated sessions with real speech (eSpeak NG through pyttsx3) on the session timeline:
counts start on their rep events, pause cuts speech, and `render` matches the plan."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from assistant import app
from assistant.eventlog import Transcript
from assistant.plan import build_plan
from assistant.routine import Exercise, Routine, Sides, Tempo, TempoPhase
from assistant.runner import simulate, speaker_sink
from assistant.session import Session
from assistant.settings import Settings
from assistant.testing import script
from assistant.voice import player

RATE = 16000
ROUTINE = Routine(name="Tempo check", exercises=(
    Exercise(name="Quick", sets=1, reps=12, tempo=Tempo.per_rep(1.5), rest=5.0),
    Exercise(name="Steady", sets=1, reps=10, sides=Sides.ALTERNATE,
             tempo=Tempo((TempoPhase("up", 1.5), TempoPhase("down", 1.5))), rest=5.0),
    Exercise(name="Slow", sets=1, reps=6, tempo=Tempo.per_rep(4.0), hold=2.0),
))


def run(synth: object, commands: list[tuple[float, str]]) -> tuple[list[dict], object]:
    timer = synth.duration  # type: ignore[attr-defined]
    session = Session(build_plan(ROUTINE, timer), timer)
    speaker = player.TimelineSpeaker(synth)
    transcript = Transcript()
    simulate(session, [speaker_sink(speaker), transcript], commands=script(commands))
    return transcript.records(), speaker


def onset(audio: np.ndarray, t: float, threshold: float = 0.02) -> float:
    """Time of the first loud sample at or after t - 50 ms."""
    start = max(0, round((t - 0.05) * RATE))
    loud = np.flatnonzero(np.abs(audio[start:start + RATE]) > threshold)
    return (start + int(loud[0])) / RATE if loud.size else float("inf")


@pytest.mark.parametrize("commands", [[], [(60.0, "slower")], [(60.0, "faster")],
                                      [(45.0, "faster"), (80.0, "slower"), (82.0, "slower")]])
def test_every_count_starts_within_10_ms_of_its_rep_event(
    synth: object, commands: list[tuple[float, str]]
) -> None:
    """At three tempos, and after slower/faster, each count's audio starts within 10 ms."""
    records, speaker = run(synth, commands)
    reps = [r["t"] for r in records if r["type"] == "rep"]
    assert len(reps) == 12 + 20 + 6
    end = records[-1]["t"]
    audio = speaker.audio(0.0, end)  # type: ignore[attr-defined]
    started = {round(t, 4) for t, _text, kind in speaker.onsets if kind == "count"}  # type: ignore[attr-defined]
    errors = [abs(onset(audio, t) - t) for t in reps]
    assert max(errors) < 0.010, f"worst count onset error {max(errors) * 1000:.1f} ms"
    assert all(round(t, 4) in started for t in reps)


def test_pause_cuts_the_instruction_at_once(synth: object) -> None:
    """Paused mid-instruction: from the pause on, only the 'Paused' prompt sounds."""
    base, _ = run(synth, [])
    intro = next(r for r in base if r["type"] == "say" and r["text"].startswith("Exercise 2"))
    at = intro["t"] + 1.0
    _records, speaker = run(synth, [(at, "pause"), (at + 10, "resume")])
    prompt = synth.render("Paused. Say resume when you're ready.")  # type: ignore[attr-defined]
    heard = speaker.audio(at, at + len(prompt) / RATE + 0.5)  # type: ignore[attr-defined]
    assert np.allclose(heard[: len(prompt)], prompt, atol=1e-6)
    assert not np.any(heard[len(prompt):])
    before = speaker.audio(at - 0.5, at)  # type: ignore[attr-defined]
    assert np.abs(before).max() > 0.02  # the instruction was sounding until the pause


def test_render_writes_the_planned_length_with_speech_at_every_say(tmp_path: Path) -> None:
    """`render` of the upper-back routine is as long as `show`'s total (within 1 %), and
    there is speech within 50 ms of every say event."""
    routine = app.load_routine("upper-back")
    out = tmp_path / "session.wav"
    voice = app.Voice(Settings(), routine, required=True)
    planned = app.plan_for(routine, voice.timer()).total
    length = app.render_routine(routine, Settings(), out)
    audio, rate = sf.read(out, dtype="float32")
    assert rate == RATE
    assert abs(len(audio) / RATE - planned) / planned < 0.01
    assert abs(length - planned) / planned < 0.01
    timer = voice.timer()
    session = Session(app.plan_for(routine, timer), timer)
    transcript = Transcript()
    simulate(session, [transcript])
    says = [r["t"] for r in transcript.records("say")]
    silent = [t for t in says if onset(audio, t, 0.01) - t > 0.05]
    assert not silent, f"no speech at {silent[:5]}"
