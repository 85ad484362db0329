"""scripts/setup on a fresh machine, with apt-get, dpkg-query, id and python3 replaced by
stand-ins on PATH (nothing is installed): what it says while it works."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SETUP = Path(__file__).resolve().parent.parent / "scripts" / "setup"

FAKE_PYTHON = """#!/bin/bash
case "$1" in
  -V) echo "Python 3.11.0" ;;
  -m) if [[ "$2" == venv ]]; then mkdir -p "${@: -1}/bin" && cp "$0" "${@: -1}/bin/python"; fi
      if [[ "$2" == pip ]]; then sleep 1.2; fi ;;
esac
exit 0
"""


def stand_in(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(body)
    path.chmod(0o755)


def test_first_setup_says_what_it_installs_and_how_long_it_takes(tmp_path: Path) -> None:
    """A first run names the system packages and what they are for, says that apt takes
    1 to 3 minutes and pip 1 to 5 with about 1 GB of disk, says every few seconds (20 by
    default) that it is still working, and how long each part took."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(SETUP, project / "scripts" / "setup")
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in(bin_dir, "python3", FAKE_PYTHON)
    stand_in(bin_dir, "dpkg-query", "#!/bin/sh\nexit 1\n")  # nothing is installed
    stand_in(bin_dir, "apt-get", "#!/bin/sh\nsleep 1.2\nexit 0\n")
    stand_in(bin_dir, "id", "#!/bin/sh\necho 0\n")  # root: no sudo needed
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "EA_BUSY_EVERY": "1"}
    done = subprocess.run(["bash", str(project / "scripts" / "setup")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    said = done.stderr
    assert "setup: installing 12 system packages with apt-get: espeak-ng flite" in said
    assert "(speech: eSpeak NG and flite; audio: PortAudio, PulseAudio" in said
    assert "Usually 1 to 3 minutes, mostly downloading; once only." in said
    assert ("The first time that fills about 1 GB of disk (more as models are added) and "
            "takes 1 to 5 minutes;") in " ".join(line.removeprefix("setup:").strip()
                                                 for line in said.splitlines())
    assert "setup:   ... still working (" in said
    assert "setup: system packages installed in " in said
    assert "setup: Python packages installed in " in said


def test_setup_says_how_much_disk_the_environment_really_takes() -> None:
    """The set-up message gives the size of the Python environment as "about N GB", and N is
    the size of this project's .venv (measured with du), rounded to the nearest GB."""
    import re

    text = " ".join(line.strip().removeprefix('say "').rstrip('"')
                    for line in SETUP.read_text().splitlines())
    found = re.search(r"about (\d+) GB of disk", text)
    assert found, "no 'about N GB of disk' in scripts/setup"
    venv = SETUP.parent.parent / ".venv"
    if not venv.exists():
        import pytest

        pytest.skip("no .venv to measure")
    kib = int(subprocess.run(["du", "-sk", str(venv.resolve())], capture_output=True, text=True,
                             check=True).stdout.split()[0])
    assert int(found.group(1)) == max(1, round(kib / 1024**2))
