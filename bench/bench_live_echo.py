"""Its own voice live, with the machine idle and with every core busy.

A whole session (tests/test_live_echo.py's two-exercise routine, about 40 s) runs as a user
runs it, in its own process, through a private PulseAudio daemon: the loudspeaker is a null
sink whose monitor reaches the microphone either at once or through `module-loopback` at
150, 300 and 600 ms, the loudspeaker's volume at 50 % or 100 %. Counted: commands heard in
the whole session (every one is its own voice). Busy: every core kept busy by a CPU-bound
process beside it, where the loudspeaker runs dry now and then. Naive: the echo reference
read by the sample counters alone (EA_BENCH_COUNTERS_ONLY=1), as before the devices'
timestamps were used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from private_pulse import PrivateDaemon, available  # noqa: E402
from test_live_echo import ROUTINE  # noqa: E402

LOOPS = [(None, 1.0), (150, 1.0), (300, 0.5), (600, 1.0)]  # (loopback ms, volume)


def session(env: dict[str, str], tmp: Path, naive: bool) -> tuple[int, int]:
    """(commands heard, underflows reported by ALSA) in one whole session."""
    routine = tmp / "echo.yaml"
    routine.write_text(ROUTINE)
    events = tmp / "events.jsonl"
    run_env = {**env, "EA_BENCH_COUNTERS_ONLY": "1" if naive else "0",
               "XDG_DATA_HOME": str(tmp / "data")}
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "start", str(routine), "--no-journal",
         "--events", str(events), "--output-device", "pulse", "--input-device", "pulse",
         "--pause-limit", "10s"],
        cwd=ROOT, env=run_env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=900)
    lines = events.read_text().splitlines() if events.exists() else []
    heard = sum(json.loads(line)["type"] == "heard" for line in lines if line.endswith("}"))
    return heard, done.stderr.count("underrun occurred")


def run() -> str:
    missing = available()
    if missing:
        return f"## live_echo\n\nskipped: {missing}\n"
    rows = []
    cores = os.cpu_count() or 2
    daemon = PrivateDaemon("module-null-sink sink_name=spk rate=16000 channels=1",
                           "module-null-sink sink_name=room rate=16000 channels=1")
    try:
        for busy in (False, True):
            loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                     for _ in range(cores if busy else 0)]
            try:
                for delay, volume in LOOPS:
                    module = None
                    if delay is not None:
                        module = daemon.pactl(
                            "load-module", "module-loopback", "source=spk.monitor",
                            "sink=room", f"latency_msec={delay}").strip()
                    daemon.pactl("set-sink-volume", "spk", f"{round(volume * 100)}%")
                    env = {**os.environ, **daemon.env(), "PULSE_SINK": "spk",
                           "PULSE_SOURCE": "room.monitor" if delay else "spk.monitor"}
                    found = []
                    for naive in (False, True):
                        with tempfile.TemporaryDirectory() as tmp:
                            started = time.perf_counter()
                            heard, underruns = session(env, Path(tmp), naive)
                            found.append((heard, underruns, time.perf_counter() - started))
                    if module is not None:
                        daemon.pactl_ok("unload-module", module)
                    (guarded, under, secs), (naive_heard, naive_under, _) = found
                    rows.append(
                        f"| {'busy' if busy else 'idle'} | "
                        f"{'PulseAudio only' if delay is None else f'{delay} ms loopback'} | "
                        f"{volume:.1f} | {guarded} | {naive_heard} | {under} / {naive_under} | "
                        f"{secs:.0f} s |")
            finally:
                for loop in loops:
                    loop.kill()
                    loop.wait()
    finally:
        daemon.stop()
    return "\n".join([
        "## live_echo: its own voice, live, idle and with every core busy",
        "",
        f"A whole session (about 40 s of speech) per row; busy: {cores} CPU-bound processes "
        "beside it. Commands heard are all its own voice.",
        "",
        "| cores | loop | loudspeaker volume | commands heard | naive (counters only) "
        "| ALSA underruns (ours / naive) | wall time |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]) + "\n"
