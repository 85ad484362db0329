"""The live driver: real clock, real devices, the keyboard and the terminal view.

The only place (with the audio callbacks it starts) that has threads and time. Threads:
the keyboard reader and the microphone worker put events on one queue; the main loop
takes them, ticks the session at each due time, and carries effects out. Time is the
loudspeaker's audio clock when there is one, so counts land on their sample.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.markup import escape

from assistant import app
from assistant.commands import KEYS, Command, Intent
from assistant.devices import (
    Clock,
    Loudspeaker,
    Microphone,
    MonotonicClock,
    NotListening,
    device,
    open_live_speaker,
)
from assistant.errors import AssistantError, DeviceError
from assistant.events import Effect, Event, Heard, Key, Record, Say, Start, Tick
from assistant.routine import Routine
from assistant.session import Mode, Session, Snapshot
from assistant.settings import Settings
from assistant.view import KEY_HELP, Extras, render

if TYPE_CHECKING:
    from assistant.ear.listener import Listener
    from assistant.voice.music import Playlist

LOOKAHEAD = 0.15  # speech is handed to the speaker this early, to start on its sample
# (0.05 s was too little on a busy machine: the main loop woke late and counts started late)


@dataclass(frozen=True)
class KeyPress:
    char: str


TEN_WAIT = 0.7  # seconds a "1" waits for a "0" that makes it 10


class DigitKeys:
    """Digit keys as numbers 0-10, for the pain check-in: a "1" waits TEN_WAIT seconds for
    a "0" that makes it 10 (then or at the next key it counts as 1)."""

    def __init__(self, wait: float = TEN_WAIT) -> None:
        self.wait = wait
        self._one_at: float | None = None

    def press(self, char: str, now: float) -> list[Key]:
        """The number keys that a key press completes (a digit, or 10)."""
        if self._one_at is not None:
            self._one_at = None
            if char == "0":
                return [Key(Intent(Command.NUMBER, 10), "10")]
            return [Key(Intent(Command.NUMBER, 1), "1"), *self.press(char, now)]
        if char == "1":
            self._one_at = now
            return []
        if char.isdigit() and len(char) == 1 and char.isascii():
            return [Key(Intent(Command.NUMBER, int(char)), char)]
        return []

    def due(self, now: float) -> list[Key]:
        """A lone "1" whose wait is over."""
        if self._one_at is not None and now - self._one_at >= self.wait:
            self._one_at = None
            return [Key(Intent(Command.NUMBER, 1), "1")]
        return []


def key_intent(char: str, mode: Mode) -> Intent | None:
    """The command for a key; space toggles pause and resume."""
    if char == " ":
        return Intent(Command.RESUME if mode in (Mode.PAUSED,) else Command.PAUSE)
    command = KEYS.get(char.lower())
    return Intent(command) if command else None


@contextlib.contextmanager
def keyboard(events: queue.Queue[object]) -> Iterator[bool]:
    """Single key presses from a terminal onto the queue (no Enter needed)."""
    if not sys.stdin.isatty():
        yield False
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            char = os.read(fd, 1).decode(errors="ignore")
            if char:
                events.put(KeyPress(char))

    tty.setcbreak(fd)
    thread = threading.Thread(target=read, name="keyboard", daemon=True)
    thread.start()
    try:
        yield True
    finally:
        stop.set()
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def native_stderr_to(path: Path) -> Iterator[None]:
    """While the live view is drawn, what C libraries (ALSA, PortAudio) write on the stderr
    file descriptor goes to `path`: a stray "underrun occurred" line under rich's Live moves
    the cursor and leaves a stale copy of the view. Python's own sys.stderr keeps the
    terminal."""
    sys.stderr.flush()
    saved = os.dup(2)
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 2)
    os.close(log)
    old = sys.stderr
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1)
    try:
        yield
    finally:
        mine, sys.stderr = sys.stderr, old
        with contextlib.suppress(OSError):
            mine.close()
        os.dup2(saved, 2)
        os.close(saved)


HEARD_SHOWN = 5.0  # seconds the view shows the last command heard


class Fading:
    """A line shown for `keep` seconds after it was set, then gone."""

    def __init__(self, keep: float) -> None:
        self.keep = keep
        self._text = ""
        self._at = 0.0

    def set(self, text: str, now: float) -> None:
        self._text, self._at = text, now

    def get(self, now: float) -> str:
        return self._text if now - self._at < self.keep else ""


class Loading:
    """What is being loaded before the view appears ("Getting ready: loading the voice"), on
    a terminal (`console`), so the first seconds are not a blank screen; gone once stopped."""

    def __init__(self, console: Console | None) -> None:
        self._status = console.status("", spinner="dots") if console is not None else None
        self._started = False

    def show(self, what: str) -> None:
        if self._status is None:
            return
        self._status.update(f"Getting ready: {what} ...")
        if not self._started:
            self._status.start()
            self._started = True

    def progress(self, what: str, done: int, total: int) -> None:
        """`what`, with a bar: `done` of `total`."""
        if self._status is None:
            return
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        row = Table.grid(padding=(0, 1))
        row.add_row(f"Getting ready: {what}", ProgressBar(total=total, completed=done, width=30),
                    f"{done}/{total}")
        self._status.update(row)

    def stop(self) -> None:
        if self._status is not None and self._started:
            self._status.stop()
            self._started = False


LOST = {
    "loudspeaker": "The loudspeaker went away: what I say is printed here until it is back.",
    "microphone": "The microphone went away: use the keys until it is back.",
}
BACK = {"loudspeaker": "The loudspeaker is back.", "microphone": "The microphone is back."}


def shown(event: Event, effects: list[Effect], has_keys: bool) -> tuple[str | None, str | None]:
    """What the view shows after the session handled `event`: (heard, reply), None for what
    does not change. Only what the session acted on (it logged a "command") is shown: a word
    it ignored, such as its own count coming back through the microphone, is not. The reply
    is the answer to help or how-many-left ("" for any other command: it is out of date)."""
    acted = any(isinstance(e, Record) and e.type == "command" for e in effects)
    if not acted or not isinstance(event, Heard | Key):
        return None, None
    heard = None
    if isinstance(event, Heard):
        value = event.intent.value
        heard = (f"{event.text} → {event.intent.command.value}"
                 + (f" {value}" if value is not None else ""))
    if event.intent.command not in (Command.HELP, Command.STATUS):
        return heard, ""
    reply = " ".join(e.text for e in effects if isinstance(e, Say))
    if event.intent.command is Command.HELP and has_keys:
        reply += " " + KEY_HELP
    return heard, reply


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


class Notes:
    """Messages for the user: on the view, or printed by `echo` when there is none (the
    last three of them once the session runs)."""

    def __init__(self, echo: Callable[[str], None] | None) -> None:
        self.lines: list[str] = []
        self._echo = echo

    def add(self, message: str) -> None:
        """A message from getting ready: all are shown (`echo_all`) when the session starts."""
        self.lines.append(message)

    def echo_all(self) -> None:
        if self._echo is not None:
            for line in self.lines:
                self._echo(line)

    def tell(self, message: str) -> None:
        """A message while the session runs."""
        self.lines.append(message)
        del self.lines[:-3]
        if self._echo is not None:
            self._echo(message)


@dataclass(frozen=True)
class Frame:
    """What the view shows: the session's state and the lines around it."""

    snapshot: Snapshot
    extras: Extras


class LiveLoop:
    """The live session one step at a time, on the clocks it is given: `poll` tells what the
    devices and the music did and says how long to wait for something to arrive; `step`
    takes what arrived (a key, a command heard, a message from the microphone's worker),
    hands the session that and what is due, and returns what the view shows."""

    def __init__(self, session: Session, emit: Callable[[list[Effect]], list[Effect]],
                 clock: Clock, notes: Notes, *, has_keys: bool,
                 speaker: Loudspeaker | None = None, mic: Microphone | None = None,
                 playlist: Playlist | None = None, verbose: bool = False,
                 wall: Clock = time.monotonic) -> None:
        self.session = session
        self._emit = emit  # to every sink
        self.clock = clock  # the session's
        self._wall = wall  # for the keys and the view
        self.notes = notes
        self.has_keys = has_keys
        self.speaker = speaker
        self.mic = mic
        self._playlist = playlist
        self._verbose = verbose
        self._digits = DigitKeys()
        self._heard = Fading(HEARD_SHOWN)
        self._echo_delay: float | None = None
        self._music_told = 0
        self.said = ""
        self._reply = ""
        self._reply_step = session.step
        self._last = 0.0

    def start(self, started_at: str) -> None:
        self._last = self.clock()
        self._handle(Start(started_at), self._last)

    def poll(self) -> float:
        """Tell what the devices and the music did; the seconds to wait for an event."""
        for name, part in (("loudspeaker", self.speaker), ("microphone", self.mic)):
            change = part.check() if part is not None else None
            if change is not None:
                self.notes.tell(LOST[name] if change == "lost" else BACK[name])
        playlist = self._playlist
        while playlist is not None and len(playlist.warnings) > self._music_told:
            self.notes.tell(playlist.warnings[self._music_told])  # would not decode: skipped
            self._music_told += 1
        due = self.session.next_due()
        return 0.1 if due is None else max(0.0, min(0.1, due - self.clock() - LOOKAHEAD))

    def step(self, item: object) -> Frame:
        """`item` (None: nothing arrived) and what is due, handed to the session."""
        now = max(self.clock(), self._last)
        for event in self._events(item):
            self._last = now
            heard, answer = shown(event, self._handle(event, now), self.has_keys)
            if heard is not None:
                self._heard.set(heard, self._wall())
            if answer is not None:
                self._reply, self._reply_step = answer, self.session.step
        due = self.session.next_due()
        if due is not None and due - self.clock() <= LOOKAHEAD:
            self._last = max(self._last, due)
            self._handle(Tick(), self._last)
        if self.mic is not None:
            self._listen(self.mic)
        if self._reply and self.session.step is not self._reply_step:
            self._reply = ""  # an answer belongs to the step it was asked in
        mic = self.mic
        extras = Extras(said=self.said, heard=self._heard.get(self._wall()),
                        note="\n".join(self.notes.lines), reply=self._reply,
                        mic_level=mic.level if mic and mic.alive else None)
        return Frame(self.session.snapshot(self.clock()), extras)

    def ended(self) -> Frame:
        return Frame(self.session.snapshot(self.clock()), Extras(ended=ended(self.session)))

    def _handle(self, event: Event, now: float) -> list[Effect]:
        effects = self._emit(self.session.handle(event, now))
        for effect in effects:
            if isinstance(effect, Say):
                self.said = effect.text
        return effects

    def _events(self, item: object) -> list[Event]:
        """The session's events in what arrived, with a lone "1" whose wait is over."""
        events: list[Event] = list(self._digits.due(self._wall()))
        if isinstance(item, KeyPress):
            events += self._digits.press(item.char, self._wall())  # with a pending "1"
            intent = None if item.char.isdigit() else key_intent(item.char, self.session.mode)
            if intent is not None:
                events.append(Key(intent, item.char))
        elif isinstance(item, Heard):
            events.append(item)
        elif isinstance(item, NotListening):
            self.notes.tell(f"Not listening: {item.error}. Use the keys, or --no-listen.")
        elif item is not None and hasattr(item, "describe"):  # rejected, with --verbose
            self.notes.tell(item.describe())
        return events

    def _listen(self, mic: Microphone) -> None:
        mic.expect(self.session.expecting())
        delay = mic.echo_delay
        if self._verbose and delay is not None and delay != self._echo_delay:
            self._echo_delay = delay
            self.notes.tell(f"Its own voice comes back into the microphone "
                            f"{1000 * delay:.0f} ms late.")


def ended(session: Session) -> str:
    return "Session " + ("completed." if session.completed else "ended early.")


class Screen:
    """The view on the terminal, drawn afresh when the terminal's size changed: the terminal
    re-wrapped the old frame to its new size, where drawing over it would leave pieces of it
    behind."""

    def __init__(self, live: Live, console: Console) -> None:
        self._live, self._console = live, console
        self._size: tuple[int, int] | None = None

    def draw(self, frame: Frame) -> None:
        size = (self._console.size.width, self._console.size.height)
        if size != self._size:
            if self._size is not None:
                self._console.clear()
            self._size = size
        self._live.update(render(frame.snapshot, frame.extras, size), refresh=True)


def run_live(routine: Routine, settings: Settings, *, events: Path | None, listen: bool,
             journal: bool, verbose: bool = False) -> None:
    """A session in real time, with voice, microphone, keyboard and the terminal view.

    With no terminal on stdout there is no view: the timed transcript is printed instead."""
    console = Console()
    loading = Loading(console if console.is_terminal else None)
    try:
        _run(routine, settings, console, loading, events=events, listen=listen,
             journal=journal, verbose=verbose)
    finally:
        loading.stop()


def _run(routine: Routine, settings: Settings, console: Console, loading: Loading, *,
         events: Path | None, listen: bool, journal: bool, verbose: bool) -> None:
    """Getting ready, in this order: Whisper loads on a thread while the voice gets ready,
    and is ready before the session says a word (loaded while the loudspeaker played, it
    made the first sentence stutter on a 2-core machine, and its echo was heard as "next")."""
    interactive = console.is_terminal
    inbox: queue.Queue[object] = queue.Queue()
    ear = None
    if listen:  # Whisper loads (most of a second) on a thread while the voice gets ready
        loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ear-load")
        ear = loader.submit(app.make_listener, settings, inbox.put if verbose else None)
        loader.shutdown(wait=False)
    notes = Notes(None if interactive else partial(_print, console))
    voice = _voice(routine, settings, loading, notes)
    speaker, playlist = _loudspeaker(voice, settings, notes)
    plan = app.plan_for(routine, voice.timer())
    if voice.synth is not None:  # every planned utterance now, so a count never waits
        voice.synth.prerender(app.said_in(plan))
    with contextlib.ExitStack() as stack:
        if interactive:
            from assistant import paths

            stack.enter_context(native_stderr_to(paths.data_dir() / "audio-messages.log"))
        if speaker is not None:
            stack.callback(speaker.close)
        # what cannot be heard is read: in the view's "said" line, or with no terminal in
        # the transcript printed here (never both: it was there twice)
        wiring = stack.enter_context(app.wire(
            routine, settings, plan, voice.timer(), speaker=speaker, events=events,
            journal=journal, without="start with --no-journal to exercise without recording it",
            sinks=[] if interactive else [partial(_print_say, console)]))
        clock: Clock = speaker.clock if speaker is not None else MonotonicClock()
        mic = None
        if ear is not None:
            mic = _microphone(ear, settings, inbox, speaker, clock, loading, notes)
        if mic is not None:
            stack.callback(mic.close)
        has_keys = stack.enter_context(keyboard(inbox))
        if not has_keys and mic is None:
            notes.add("No keyboard and no microphone: the session runs straight through.")
        notes.echo_all()
        loop = LiveLoop(wiring.session, wiring.emit, clock, notes, has_keys=has_keys,
                        speaker=speaker, mic=mic, playlist=playlist, verbose=verbose)
        loading.stop()
        screen = None
        if interactive:
            screen = Screen(stack.enter_context(Live(
                console=console, refresh_per_second=8, transient=False, auto_refresh=False)),
                console)
        _drive(loop, inbox, screen)
        if speaker is not None and speaker.connected:
            time.sleep(0.3)  # let the last words finish
    if screen is None:  # the view already shows how it ended
        console.print(ended(wiring.session))


def _drive(loop: LiveLoop, inbox: queue.Queue[object], screen: Screen | None) -> None:
    """The session from its start to its end, drawn on `screen` at every step."""
    loop.start(app.now_iso())
    while not loop.session.done:
        try:
            item = inbox.get(timeout=loop.poll())
        except queue.Empty:
            item = None
        frame = loop.step(item)
        if screen is not None:
            screen.draw(frame)
    if screen is not None:
        screen.draw(loop.ended())


def _voice(routine: Routine, settings: Settings, loading: Loading, notes: Notes) -> app.Voice:
    """The voice, with what a slow voice has not said before rendered now."""
    loading.show("loading the voice")
    voice = app.Voice(settings, routine)
    if voice.synth is not None:
        loading.show("preparing what I will say")
        voice.prepare(routine, partial(loading.progress, "preparing what I will say"))
    for note in (voice.problem, voice.note):
        if note:
            notes.add(sentence(note))
    return voice


def _loudspeaker(voice: app.Voice, settings: Settings, notes: Notes
                 ) -> tuple[Loudspeaker | None, Playlist | None]:
    """The loudspeaker (None: what is said is printed) and the music it plays."""
    if voice.synth is None:
        return None, None
    playlist, ducking = app.open_music(settings, notes.add)
    opener = partial(open_live_speaker, voice.synth, device(settings.output_device),
                     playlist, ducking)
    try:
        return Loudspeaker(opener), playlist
    except DeviceError as exc:
        notes.add(f"{sentence(str(exc))}. What I say is printed here instead.")
        return None, playlist


def _microphone(ear: Future[Listener], settings: Settings, inbox: queue.Queue[object],
                speaker: Loudspeaker | None, clock: Clock, loading: Loading, notes: Notes
                ) -> Microphone | None:
    """The microphone, once the listener is ready (None: not listening, and why is noted)."""
    try:
        if speaker is not None:  # its echo is cancelled: fail here, not in a thread
            from assistant.ear.echo import library

            library()
        loading.show("loading speech recognition")
        ear.result()  # ready before the session says a word (see `_run`)
        return Microphone(ear.result, inbox, device(settings.input_device), speaker, clock)
    except (DeviceError, AssistantError, ImportError) as exc:
        notes.add(f"Not listening: {exc}. Use the keys, or --no-listen.")
        return None


def _print(console: Console, message: str) -> None:
    console.print(escape(message), highlight=False, soft_wrap=True)


def _print_say(console: Console, effect: Effect) -> None:
    """A sentence said, with its session time: the transcript with no terminal."""
    if isinstance(effect, Say):
        console.print(f"[dim]{effect.t:7.1f}[/]  {escape(effect.text)}", highlight=False,
                      soft_wrap=True)
