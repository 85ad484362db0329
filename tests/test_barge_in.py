"""The room, simulated: the assistant's own voice comes back into the microphone
(`--echo 0.5:30`) and never becomes a command, while a person saying a pause word over a
long instruction pauses the session at once (DESIGN §6, `start --simulate --mic-file`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from assistant import app
from assistant.loader import load_routine_text
from assistant.runner import Echo
from assistant.settings import Settings

RATE = 16000
ROUTINE = """\
name: Barge in
safety: Stop any exercise that hurts, and check with your physician if you are unsure.
exercises:
  - name: Cat cow
    position: hands and knees
    instructions: >
      Start on your hands and knees. Breathe in as you let your belly sink and lift your
      head gently. Breathe out as you round your back toward the ceiling and tuck your chin.
    reps: 4
    tempo: 3s
"""

pytestmark = pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng not installed")


def spoken(text: str, tmp: Path) -> np.ndarray:
    """`text` in eSpeak NG's en-us voice at 16 kHz, peak 0.9 (a person near the mic)."""
    raw = tmp / "word.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), text], check=True)
    audio, rate = sf.read(raw, dtype="float32")
    import soxr

    audio = soxr.resample(audio, rate, RATE)
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    audio = audio[loud[0]:loud[-1] + 1]
    return (0.9 * audio / np.abs(audio).max()).astype(np.float32)


def simulate(tmp: Path, mic: Path | None) -> list[dict]:
    events = tmp / "events.jsonl"
    request = app.SimulationRequest(
        routine=load_routine_text(ROUTINE, str(tmp / "barge.yaml")),
        settings=Settings(pause_limit=20.0), events=events, mic_file=mic,
        echo=Echo(0.5, 0.030), journal=False,
    )
    app.run_simulation(request)
    return [json.loads(line) for line in events.read_text().splitlines()]


def test_the_assistants_own_voice_never_becomes_a_command(tmp_path: Path) -> None:
    """With only the echo of the whole session in the microphone, nothing is heard."""
    records = simulate(tmp_path, None)
    assert [r for r in records if r["type"] == "heard"] == []
    assert records[-1]["type"] == "session_end" and records[-1]["completed"] is True


@pytest.mark.parametrize("word", ["stop", "pause"])
def test_a_pause_word_over_an_instruction_pauses_within_half_a_second(
    tmp_path: Path, word: str
) -> None:
    """A pause word said 2 s into the long instruction is heard, and the session pauses and
    cuts speech within 0.5 s of the end of the word."""
    quiet = simulate(tmp_path, None)
    instruction = next(r for r in quiet if r["type"] == "say" and r["text"].startswith("Start"))
    said_at = instruction["t"] + 2.0
    voice = spoken(word, tmp_path)
    mic = np.zeros(round((said_at + 4.0) * RATE), dtype=np.float32)
    start = round(said_at * RATE)
    mic[start:start + len(voice)] = voice
    path = tmp_path / "mic.wav"
    sf.write(path, mic, RATE)
    records = simulate(tmp_path, path)
    heard = [r for r in records if r["type"] == "heard"]
    assert [h["command"] for h in heard] == ["pause"], heard
    word_end = said_at + len(voice) / RATE
    paused = next(r["t"] for r in records if r["type"] == "phase" and r["phase"] == "paused")
    cut = next(r["t"] for r in records if r["type"] == "cut")
    assert word_end <= paused < word_end + 0.5
    assert cut == paused
