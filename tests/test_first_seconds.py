"""The first seconds of a file or a session: a word said at once is heard, and one said over
the assistant's first words pauses it (DESIGN §6: `listen --file`, `start --simulate --echo`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from assistant.testing import BARGE_IN_ROUTINE

RATE = 16000
REAL_STOP = Path(__file__).resolve().parents[2] / "shared" / "data" / "real_tune" / "words" / "stop"
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="no espeak-ng")


@needs_espeak
def test_espeak_ngs_own_pause_at_the_very_start_of_a_file_is_heard(tmp_path: Path) -> None:
    """`espeak-ng -w f.wav pause` (the word 40 ms into a 0.7 s file), then `listen --file
    f.wav --json`: one "pause" (before: no utterance at all)."""
    path = tmp_path / "f.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "pause"], check=True)
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "listen", "--file", str(path), "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    heard = [json.loads(line) for line in done.stdout.splitlines()]
    assert [h["command"] for h in heard] == ["pause"]
    assert heard[0]["start"] < 0.1


def real_stop_clips(count: int) -> list[np.ndarray]:
    """The first `count` real people's "stop" of the tuning set, trimmed to 30 dB under their
    loudest 10 ms, at about -20 dBFS."""
    files = sorted(REAL_STOP.glob("*.wav"))[:count]
    clips = []
    for f in files:
        audio, rate = sf.read(f, dtype="float32")
        assert rate == RATE
        n = len(audio) // 160
        energy = np.mean(audio[: n * 160].reshape(n, 160) ** 2, axis=1)
        loud = np.flatnonzero(energy > energy.max() * 1e-3)
        audio = audio[loud[0] * 160 : (loud[-1] + 1) * 160]
        level = np.sqrt(np.mean(energy[energy > energy.max() * 1e-3]))
        clips.append((audio / level * 0.1).astype(np.float32))
    return clips


def paused_after(tmp: Path, clip: np.ndarray, said_at: float, echo: str, name: str
                 ) -> float | None:
    """How long after the end of `clip`, said `said_at` s into the barge-in session with
    `--echo echo`, the session paused; None when it did not."""
    routine = tmp / "barge.yaml"
    routine.write_text(BARGE_IN_ROUTINE)
    mic = np.zeros(round((said_at + 4.0) * RATE), np.float32)
    at = round(said_at * RATE)
    mic[at : at + len(clip)] += clip
    path, events = tmp / f"{name}.wav", tmp / f"{name}.jsonl"
    sf.write(path, mic, RATE)
    command = [sys.executable, "-m", "assistant", "start", str(routine), "--simulate",
               "--mic-file", str(path), "--echo", echo, "--events", str(events),
               "--no-journal", "--pause-limit", "5s"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1:]
    records = [json.loads(line) for line in events.read_text().splitlines()]
    paused = [r["t"] for r in records if r["type"] == "phase" and r["phase"] == "paused"]
    return paused[0] - (said_at + len(clip) / RATE) if paused else None


@needs_espeak
@pytest.mark.skipif(not REAL_STOP.is_dir(),
                    reason=f"real people's 'stop' clips not found at {REAL_STOP}")
@pytest.mark.parametrize("echo", ["0.5:300", "1.0:600"])
def test_real_peoples_stop_a_second_into_the_session_pauses_it(tmp_path: Path, echo: str
                                                               ) -> None:
    """Eight real people's "stop" (the tuning set), each said 1 s into a simulated session
    over its first words ("Welcome to Barge in."): at least MIN of them pause the session
    within 0.5 s of the end of the word (before: none did)."""
    clips = real_stop_clips(8)
    with ThreadPoolExecutor(2) as pool:  # each simulation is its own process
        delays = list(pool.map(
            lambda n: paused_after(tmp_path, clips[n], 1.0, echo, f"stop{n}"), range(len(clips))
        ))
    in_time = [d for d in delays if d is not None and d < 0.5]
    assert len(in_time) >= MIN[echo], delays


MIN = {"0.5:300": 6, "1.0:600": 4}
