"""A PulseAudio daemon of the tests' own, which leaves the machine as it found it.

Everything it and its clients write lives in one folder (its socket, pid file, state,
cookie and log): the daemon gets that folder as its HOME and runtime and state paths, its
clients find it through `env()` (PULSE_SERVER, and a client.conf with the cookie there and
no autospawn), so neither makes a `pulse-*` folder in /tmp nor touches ~/.config/pulse. The
user's own PulseAudio, its sinks and its defaults are never reached. `stop()` ends the
daemon and removes the folder; the daemon also ends if the process that started it dies
(PR_SET_PDEATHSIG), so even a killed test run leaves none running.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

PR_SET_PDEATHSIG = 1
#: The speaker of the tests and benchmarks: a null sink `spk`, 16 kHz mono (its monitor the
#: microphone)
NULL_SINK = "module-null-sink sink_name=spk rate=16000 channels=1"


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def available() -> str | None:
    """None when pulseaudio and its tools are installed; otherwise what is missing."""
    missing = [t for t in ("pulseaudio", "pactl", "paplay", "parecord") if not shutil.which(t)]
    return f"{', '.join(missing)} missing (pulseaudio pulseaudio-utils)" if missing else None


class PrivateDaemon:
    """A running private PulseAudio daemon with `modules` loaded (module arguments as
    `pactl load-module` takes them, one string each)."""

    def __init__(self, *modules: str) -> None:
        # short, under the system's temporary folder: a socket path is limited to 108 bytes
        self.folder = Path(tempfile.mkdtemp(prefix="ea-pa-"))
        self.socket = self.folder / "run" / "native"
        (self.folder / "client.conf").write_text(
            f"autospawn = no\ncookie-file = {self.folder / 'cookie'}\n")
        daemon_env = {k: v for k, v in os.environ.items()
                      if not k.startswith(("PULSE_", "XDG_"))}
        daemon_env |= {"HOME": str(self.folder), "TMPDIR": str(self.folder),
                       "PULSE_RUNTIME_PATH": str(self.folder / "run"),
                       "PULSE_STATE_PATH": str(self.folder / "state")}
        loads = [arg for module in modules for arg in ("-L", module)]
        self._log = open(self.folder / "log", "w")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--system=false",
             "--use-pid-file=no", "-L",
             "module-native-protocol-unix auth-anonymous=1 auth-cookie-enabled=0", *loads],
            env=daemon_env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            preexec_fn=_die_with_parent, cwd=self.folder)
        deadline = time.monotonic() + 30  # a slow start on a busy machine is not a failure
        while self.pactl_ok("info") is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.folder / "log").read_text()[-300:]
                self.stop()
                raise RuntimeError(f"private PulseAudio did not start: {log}")
            time.sleep(0.1)

    def env(self) -> dict[str, str]:
        """The variables that send a PulseAudio client (pactl, the ALSA `pulse` device) to
        this daemon and nowhere else."""
        return {"PULSE_SERVER": f"unix:{self.socket}",
                "PULSE_CLIENTCONFIG": str(self.folder / "client.conf"),
                "PULSE_RUNTIME_PATH": str(self.folder / "run")}

    def pactl_ok(self, *args: str) -> str | None:
        """pactl's output, or None when it fails."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")} | self.env()
        done = subprocess.run(["pactl", *args], env=env, capture_output=True, text=True,
                              timeout=20)
        return done.stdout if done.returncode == 0 else None

    def pactl(self, *args: str) -> str:
        out = self.pactl_ok(*args)
        if out is None:
            raise RuntimeError(f"pactl {' '.join(args)} failed")
        return out

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def scoped_env(values: dict[str, str]) -> Iterator[None]:
    """os.environ with `values`, restored afterwards."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def null_sink_environment() -> Iterator[PrivateDaemon]:
    """A private daemon whose null sink `spk` is the ALSA `pulse` device's speaker and its
    monitor the microphone, this process's environment saying so while inside (for a
    benchmark's live rows); after it, the environment as it was and the daemon gone."""
    daemon = PrivateDaemon(NULL_SINK)
    try:
        with scoped_env(daemon.env() | {"PULSE_SINK": "spk", "PULSE_SOURCE": "spk.monitor"}):
            yield daemon
    finally:
        daemon.stop()
