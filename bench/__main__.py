"""Run every `bench/bench_*.py` module in sorted order and print their markdown sections.

`python -m bench` runs them all; `python -m bench speech_out` only the modules whose name
contains one of the given words. A module that fails prints its error as its section, and the
exit status is 1, but the other modules still run. Every sound they make goes to a PulseAudio
daemon of the run's own (its null sink `spk` the speaker, its monitor the microphone), ended
with the run: the user's sound server, its defaults and /tmp are left as they were.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from private_pulse import available, null_sink_environment


def modules(only: list[str]) -> list[str]:
    here = Path(__file__).resolve().parent
    names = sorted(p.stem for p in here.glob("bench_*.py"))
    return [n for n in names if not only or any(word in n for word in only)]


def main(argv: list[str]) -> int:
    names = modules(argv)
    if not names:
        print("no benchmark modules matched", file=sys.stderr)
        return 1
    with contextlib.ExitStack() as stack:
        why = available()
        if why is None:
            try:
                stack.enter_context(null_sink_environment())
            except (OSError, RuntimeError) as exc:
                why = str(exc)
        if why is not None:
            print(f"bench: no PulseAudio of its own ({why}); live rows will say so",
                  file=sys.stderr)
        return run(names)


def run(names: list[str]) -> int:
    status = 0
    for name in names:
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            section = module.run()
        except Exception:
            status = 1
            section = f"## {name}\n\nFAILED:\n\n```\n{traceback.format_exc()}```\n"
        print(section.rstrip() + "\n", flush=True)
        print(f"_{name}: {time.perf_counter() - started:.1f} s_\n", file=sys.stderr, flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
