"""The live terminal view: big enough to read from the floor.

It draws a `Snapshot` of the session plus what was last said and heard and the
microphone level; it never drives anything."""

from __future__ import annotations

from dataclasses import dataclass

import pyfiglet
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from assistant.routine import clock_duration
from assistant.session import Snapshot

PHASE_STYLE = {
    "ready": "yellow",
    "work": "bold green",
    "hold": "bold cyan",
    "rest": "blue",
    "paused": "bold red",
    "done": "magenta",
}


@dataclass(frozen=True)
class Extras:
    said: str = ""
    heard: str = ""
    mic_level: float | None = None  # 0..1, None when not listening
    note: str = ""  # a one-time message, such as why there is no voice


def big(text: str) -> str:
    return pyfiglet.figlet_format(text, font="big").rstrip("\n")


def _line(renderable: RenderableType) -> Table:
    """A renderable on a line of its own."""
    grid = Table.grid()
    grid.add_row(renderable)
    return grid


def render(snapshot: Snapshot, extras: Extras) -> RenderableType:
    """One frame of the view."""
    style = PHASE_STYLE.get(snapshot.phase, "white")
    head = Text(snapshot.exercise or snapshot.title, style="bold")
    if snapshot.set and snapshot.sets:
        head.append(f"   set {snapshot.set} of {snapshot.sets}", style="dim")
    if snapshot.reps and snapshot.rep:
        figure = f"{snapshot.rep}/{snapshot.reps}"
        side = f"  {snapshot.side}" if snapshot.side else ""
    else:
        figure = clock_duration(max(snapshot.remaining, 0))
        side = ""
    label = snapshot.phase.upper() + side.upper()
    rows: list[RenderableType] = [
        head,
        Text(big(figure), style=style),
        Text(label, style=style),
        _line(ProgressBar(total=1.0, completed=snapshot.fraction, width=60)),
    ]
    info = Table.grid(padding=(0, 2))
    info.add_column(style="dim")
    info.add_column()
    if snapshot.next_up:
        info.add_row("next", snapshot.next_up)
    if extras.said:
        info.add_row("said", extras.said)
    if extras.heard:
        info.add_row("heard", extras.heard)
    if extras.mic_level is not None:
        bars = int(min(max(extras.mic_level, 0.0), 1.0) * 30)
        info.add_row("mic", Text("█" * bars + "·" * (30 - bars), style="green"))
    rows.append(info)
    if snapshot.mode == "paused":
        rows.append(Text("Paused: say “resume” or press space", style="bold red"))
    if extras.note:
        rows.append(Text(extras.note, style="yellow"))
    return Panel(Group(*rows), title="exercise-assistant", subtitle="h: help  q: end")
