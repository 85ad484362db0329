"""Whatever loads onnxruntime (Whisper's voice activity detector, the neural engine's
features) writes nothing under the user's home outside the tool's own folders: onnxruntime's
telemetry (its `deviceid` and `onnxruntime.db` in ~/.cache/Microsoft) stays off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from assistant.audio import write_wav
from assistant.testing import espeak_clip

ROOT = Path(__file__).resolve().parent.parent
OWN = {".local/share/exercise-assistant", ".config/exercise-assistant",
       ".cache/exercise-assistant"}


def written_outside_own_folders(home: Path) -> list[str]:
    """Every file under `home` that is not in one of the tool's own folders."""
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")
                  if p.is_file() and not any(p.is_relative_to(home / d) for d in OWN))


def run_in_empty_home(tmp_path: Path, args: list[str]) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XDG_", "ORT_"))} | {"HOME": str(home)}
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return home


def test_listen_file_writes_nothing_in_home_outside_its_folders(tmp_path: Path) -> None:
    """`listen --file` over a spoken "pause" (Whisper and its onnxruntime voice activity
    detector) in an empty HOME leaves no file there outside the tool's own folders."""
    wav = tmp_path / "pause.wav"
    write_wav(wav, np.concatenate([np.zeros(8000, np.float32), espeak_clip("pause")]))
    home = run_in_empty_home(tmp_path, ["-c", (
        "import sys; from assistant.cli import main\n"
        "try: main(['listen', '--file', sys.argv[1]])\n"
        "except SystemExit as e: assert not e.code, e.code\n"
        "assert 'onnxruntime' in sys.modules, 'onnxruntime was never loaded'\n"), str(wav)])
    assert written_outside_own_folders(home) == []


def test_onnxruntime_loaded_after_the_assistant_writes_nothing_in_home(tmp_path: Path) -> None:
    """Any onnxruntime session started in a process that imported the assistant (a voice
    model tomorrow) leaves no file in an empty HOME."""
    home = run_in_empty_home(tmp_path, ["-c", (
        "import assistant, onnxruntime\n"
        "from assistant.ear.features import mel_blocks\n"
        "import numpy as np; mel_blocks(np.zeros((1, 1760), np.float32))\n")])
    assert written_outside_own_folders(home) == []
