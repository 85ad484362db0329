"""The live terminal view: big enough to read from the floor.

It draws a `Snapshot` of the session plus what was last said and heard and the
microphone level; it never drives anything. `render` fits the frame to the terminal
(a frame taller than the terminal is what leaves stale copies behind when it redraws):
it drops the big figure, then wrapping, then the least needed lines, in that order."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pyfiglet
from rich.console import Console, Group, RenderableType
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

KEY_HELP = ("Keys: space pause/resume, n next, b back, r repeat, s skip, - slower, + faster, "
            "? how many left, h help, o it hurts, q end, ] louder, [ quieter.")
FOOTER = "h: help  o: it hurts  q: end"

ASKING = {
    "number": "Answer: press 0-9 (1 then 0 for 10), or say a number.",
    "yes/no": "Answer: y yes, x no (or say it).",
    "end": "End the workout? y yes, x no (or say it).",
}


@dataclass(frozen=True)
class Extras:
    said: str = ""
    heard: str = ""  # the last command the session acted on, as heard
    mic_level: float | None = None  # 0..1, None when not listening
    note: str = ""  # messages for the user, such as why there is no voice (one per line)
    reply: str = ""  # the answer to "help" or "how many left", shown as well as spoken
    ended: str = ""  # when the session is over: how it ended


def big(text: str) -> str:
    return pyfiglet.figlet_format(text, font="big").rstrip("\n")


def _line(renderable: RenderableType) -> Table:
    """A renderable on a line of its own."""
    grid = Table.grid()
    grid.add_row(renderable)
    return grid


def _text(value: str, style: str = "", wrap: bool = True) -> Text:
    return Text(value, style=style, no_wrap=not wrap, overflow="fold" if wrap else "ellipsis")


def _frame(snapshot: Snapshot, extras: Extras, *, figlet: bool, wrap: bool,
           keep: int) -> RenderableType:
    """One frame; `keep` limits the optional lines (least needed dropped first)."""
    done = snapshot.mode == "done"
    style = PHASE_STYLE.get("done" if done else snapshot.phase, "white")
    if done:
        head = Text(extras.ended or "Session over.", style="bold")
        figure, label = "", "DONE"
    else:
        head = Text(snapshot.exercise or snapshot.title, style="bold", no_wrap=True,
                    overflow="ellipsis")
        if snapshot.set and snapshot.sets:
            head.append(f"   set {snapshot.set} of {snapshot.sets}", style="dim")
        side = ""
        if snapshot.reps and snapshot.rep:
            figure = f"{snapshot.rep}/{snapshot.reps}"
            side = f"  {snapshot.side}" if snapshot.side else ""
        else:
            figure = clock_duration(max(snapshot.remaining, 0))
        label = snapshot.phase.upper() + side.upper()
    rows: list[RenderableType] = [head]
    if figlet and figure:
        rows.append(Text(big(figure), style=style, no_wrap=True, overflow="crop"))
        rows.append(Text(label, style=style))
    else:
        rows.append(Text(f"{figure}   {label}".rstrip(), style=style))
    if not done:
        rows.append(_line(ProgressBar(total=1.0, completed=snapshot.fraction, width=60)))
    # optional lines, most needed first
    optional: list[RenderableType] = []
    if snapshot.asking and not done:
        optional.append(_text(ASKING[snapshot.asking], "bold yellow", wrap))
    if snapshot.mode == "paused":
        optional.append(_text("Paused: say “resume” or press space", "bold red", wrap))
    if extras.reply and not done:
        optional.append(_text(extras.reply, "bold", wrap))
    if extras.note:
        optional.extend(_text(line, "yellow", wrap) for line in extras.note.splitlines())
    info: list[tuple[str, RenderableType]] = [
        (name, _text(value, "", wrap))
        for name, value in (("said", extras.said), ("next", snapshot.next_up),
                            ("heard", extras.heard))
        if value and not done
    ]
    if extras.mic_level is not None and not done:
        bars = int(min(max(extras.mic_level, 0.0), 1.0) * 30)
        info.append(("mic", Text("█" * bars + "·" * (30 - bars), style="green")))
    kept_optional = optional[:keep]
    kept_info = info[: max(0, keep - len(optional))]
    if kept_info:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column()
        for name, value in kept_info:
            grid.add_row(name, value)
        rows.append(grid)
    rows.extend(kept_optional)
    return Panel(Group(*rows), title="exercise-assistant",
                 subtitle=None if done else FOOTER)


def _height(renderable: RenderableType, width: int) -> int:
    console = Console(file=io.StringIO(), width=width, height=10_000, color_system=None)
    return len(console.render_lines(renderable, console.options, pad=False))


def render(snapshot: Snapshot, extras: Extras, size: tuple[int, int] | None = None
           ) -> RenderableType:
    """One frame of the view, no taller than `size` (columns, rows) when it is given: the
    big figure goes first, then the wrapping of long lines, then the least needed lines."""
    if size is None:
        return _frame(snapshot, extras, figlet=True, wrap=True, keep=99)
    width, height = size
    figure_width = max(len(line) for line in big("88:88").splitlines())
    attempts = [(True, True, 99), (True, False, 99), (False, True, 99)]
    attempts += [(False, False, keep) for keep in range(12, -1, -1)]
    frame: RenderableType = Text("")
    for figlet, wrap, keep in attempts:
        if figlet and width < figure_width + 4:
            continue
        frame = _frame(snapshot, extras, figlet=figlet, wrap=wrap, keep=keep)
        if _height(frame, width) <= height:
            break
    return frame
