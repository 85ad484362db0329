"""The library behind the CLI: loading what a person gives (routines, scripts, settings)
and wiring the session to its devices. Each CLI command is a few lines calling these."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant import library
from assistant.commands import Command, Intent, Vocabulary, parse_command_name
from assistant.errors import AssistantError, DeviceError, ScriptErrors
from assistant.eventlog import EffectSink, EventLog, emit
from assistant.events import Effect, Record, Say
from assistant.plan import Plan, SayItem, SpeechTimer, build_plan, estimate_speech
from assistant.routine import Routine
from assistant.runner import Echo, Scripted, Speaker, simulate, speaker_sink
from assistant.session import COUNT_IN, PROMPTS, Session, SessionOptions
from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.ear.listener import Listener, Rejected
    from assistant.journal import Journal, ResumePoint
    from assistant.voice.music import Ducking, Playlist

MAX_SCRIPT_LINES = 100_000
DEFAULT_RATE = 175  # words per minute


def load_routine(name_or_path: str | None) -> Routine:
    """A routine by path or name, validated (RoutineErrors lists every problem)."""
    from assistant.loader import load_routine as load

    return load(library.find(name_or_path))


def voice_settings(settings: Settings, routine: Routine) -> tuple[str | None, int, float]:
    """Voice, rate and volume: settings (and the command line) over the routine's own."""
    voice = settings.voice or routine.voice.name
    rate = settings.rate or routine.voice.rate or DEFAULT_RATE
    volume = settings.volume
    if volume is None:
        volume = routine.voice.volume if routine.voice.volume is not None else 1.0
    return voice, rate, volume


def voice_origin(settings: Settings, routine: Routine) -> str:
    """Where the voice of `voice_settings` was asked for, to name in an error: the settings
    file, --voice, or the routine file."""
    if not settings.voice:
        return f"{routine.source or routine.name}: voice"
    from assistant import paths
    from assistant.settings import load_settings

    path = paths.settings_path()
    try:
        in_file = load_settings(path).voice
    except AssistantError:
        in_file = None
    return f"{path}: voice" if in_file == settings.voice else "--voice"


class Voice:
    """Text-to-speech if this machine has it (Piper's neural voice, else eSpeak NG); otherwise
    None and the reason, said once. A voice (in settings, on the command line or in the
    routine) that names no installed voice raises UnknownVoiceError: `show`, `render`,
    `start` and `--simulate` alike. `note` says, once, that eSpeak NG speaks because the
    neural voice cannot."""

    def __init__(self, settings: Settings, routine: Routine, *, required: bool = False) -> None:
        self.voice, self.rate, self.volume = voice_settings(settings, routine)
        self.synth: Any = None
        self.problem = ""
        self.note = ""
        self.estimated = 0  # texts `timer` estimated (see there)
        try:
            from assistant.voice.choice import open_speech
            from assistant.voice.tts import UnknownVoiceError

            try:
                synth, self.note = open_speech(self.voice, self.rate, self.volume)
            except UnknownVoiceError as exc:  # a voice nobody has installed: one line
                raise UnknownVoiceError(f"{voice_origin(settings, routine)}: {exc}") from None
            synth.render("Ready.")
            self.synth = synth
        except (DeviceError, ImportError, OSError) as exc:
            self.problem = f"no speech output ({exc}); the session goes on as printed text"
            if required:
                raise DeviceError(f"cannot speak here: {exc}") from None

    def prepare(self, routine: Routine, progress: Callable[[int, int], None] | None = None
                ) -> int:
        """Render now what a session of `routine` may say and the caches lack, telling
        `progress(done, total)` after each; returns how many were rendered. A slow voice
        (Piper) then never makes a sentence, count or cue start late, and the plan is timed
        by real lengths; eSpeak NG renders fast and has nothing to do here. What must be
        said faster to fit its slot is rendered too (a session run silently once).
        If the neural voice's model will not load, eSpeak NG speaks, and `note` says so."""
        from assistant.voice.neural import PiperSynthesizer
        from assistant.voice.player import fitted
        from assistant.voice.tts import Synthesizer

        synth = self.synth
        if synth is None:
            return 0
        missing = synth.missing(spoken_texts(routine, self.rate))
        if not missing:
            return 0
        try:
            for done, text in enumerate(missing, 1):
                synth.render(text)
                if progress:
                    progress(done, len(missing))

            def render_fitted(effect: Effect) -> None:
                if isinstance(effect, Say):
                    fitted(synth, effect)

            timer = self.timer()
            simulate(Session(plan_for(routine, timer), timer), [render_fitted])
        except DeviceError as exc:
            if not isinstance(synth, PiperSynthesizer):
                raise

            self.note = f"{exc}; speaking with eSpeak NG instead"
            self.synth = Synthesizer(rate=self.rate, volume=self.volume)
            self.synth.check()
        return len(missing)

    def timer(self, *, estimate_unrendered: bool = False) -> SpeechTimer:
        """How long each text lasts as spoken. With `estimate_unrendered`, what a slow voice
        has not rendered yet is estimated instead (within about 1 % over a routine, for
        Piper's joe as for eSpeak), and counted in `estimated`: `list` and `show` need a
        number, not minutes of synthesis."""
        rate = self.rate
        if self.synth is None:
            return lambda text: estimate_speech(text, rate)
        synth = self.synth

        def seconds(text: str) -> float:
            if estimate_unrendered and synth.missing([text]):
                self.estimated += 1
                return estimate_speech(text, rate)
            return float(synth.duration(text))

        return seconds


def spoken_texts(routine: Routine, rate: int) -> list[str]:
    """What a session of `routine` may say: its plan's sentences, counts and cues (the plan
    timed by an estimate: its words do not depend on the timing), the count-in after a pause,
    and the session's own prompts (the pain advice must never wait)."""
    plan = plan_for(routine, lambda text: estimate_speech(text, rate))
    return list(dict.fromkeys([*said_in(plan), *(str(n) for n in range(1, COUNT_IN + 1)),
                               *PROMPTS]))


def said_in(plan: Plan) -> list[str]:
    """Every sentence, count and cue the plan says, in order."""
    return [item.text for step in plan.steps for item in step.items if isinstance(item, SayItem)]


def plan_for(routine: Routine, timer: SpeechTimer) -> Plan:
    return build_plan(routine, timer)


def spoken_plan(routine: Routine, settings: Settings) -> tuple[Plan, bool]:
    """The plan timed by this machine's voice (estimated without one), and whether it is
    exact: what `list` and `show` give and a session uses. A slow voice's sentences not yet
    rendered are estimated (not exact); once a session or `render` has spoken them, all
    agree to the tenth of a second."""
    voice = Voice(settings, routine)
    plan = plan_for(routine, voice.timer(estimate_unrendered=True))
    return plan, voice.synth is not None and not voice.estimated


# --- scripted commands (--commands FILE) ---------------------------------------------------


def read_script(path: Path, vocabulary: Vocabulary) -> list[Scripted]:
    """JSON lines {"t": 12.5, "command": "pause"} or {"t": 40, "say": "end workout"}."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise AssistantError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AssistantError(f"{path}: cannot read the commands file: {exc}") from None
    if len(lines) > MAX_SCRIPT_LINES:
        raise AssistantError(f"{path}: more than {MAX_SCRIPT_LINES} lines of commands")
    out: list[Scripted] = []
    problems: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            item = _script_line(line, vocabulary)
        except ValueError as exc:
            problems.append(f"{path}:{number}: {exc}")
            continue
        if item is not None:
            out.append(item)
    if problems:
        raise ScriptErrors(problems)
    return out


def _script_line(line: str, vocabulary: Vocabulary) -> Scripted | None:
    """One line of a commands file (None: a phrase that is no command); ValueError says
    what is wrong with it."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a JSON object: {exc.msg}") from None
    if not isinstance(item, dict):
        raise ValueError("each line must be a JSON object with t and command")
    unknown = set(item) - {"t", "command", "say", "value"}
    if unknown:
        raise ValueError(f"unknown field {sorted(unknown)[0]!r}; use t with command or say")
    t = item.get("t")
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
        raise ValueError("t must be a number of seconds, 0 or more")
    if ("command" in item) == ("say" in item):
        raise ValueError("give either \"command\" or \"say\"")
    if "say" in item:
        text = item["say"]
        if not isinstance(text, str):
            raise ValueError("say must be text")
        intent = vocabulary.parse(text)
        return None if intent is None else Scripted(float(t), intent, text, spoken=True)
    name = item["command"]
    command = parse_command_name(name) if isinstance(name, str) else None
    if command is None:
        names = ", ".join(c.value for c in Command)
        raise ValueError(f"unknown command {name!r}; use one of {names}")
    value = item.get("value")
    if command is Command.NUMBER and (isinstance(value, bool) or value not in range(11)):
        raise ValueError("a number command needs value 0 to 10")
    return Scripted(float(t), Intent(command, value), name)


def parse_echo(text: str) -> Echo:
    """GAIN:DELAY_MS, for example 0.5:30; ValueError says what is wrong."""
    try:
        gain_text, delay_text = text.split(":")
        gain, delay = float(gain_text), float(delay_text)
    except ValueError:
        raise ValueError(f"expected GAIN:DELAY_MS, such as 0.5:30, got {text!r}") from None
    if not (0 <= gain <= 10 and 0 <= delay <= 2000):
        raise ValueError(f"gain must be 0..10 and delay 0..2000 ms, got {text!r}")
    return Echo(gain, delay / 1000)


# --- running ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulationRequest:
    routine: Routine
    settings: Settings
    events: Path | None = None
    speaker_file: Path | None = None
    mic_file: Path | None = None
    echo: Echo | None = None
    commands: Sequence[Scripted] = ()
    listen: bool = True
    journal: bool = True


@dataclass(frozen=True)
class SimulationResult:
    length: float
    completed: bool


def writable_or_fail(path: Path | None) -> None:
    """Fail before a long run, not after it, when an output file cannot be written."""
    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise AssistantError(f"{path}: is a folder, not a file")
    if not folder.is_dir():
        raise AssistantError(f"{path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise AssistantError(f"{path}: cannot be written (permission denied)")


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


class JournalSink:
    """Carries the session's records to the journal. While a resume offer is open, the
    records wait: "yes" attaches them to the interrupted session, "no" abandons it."""

    def __init__(self, journal: Journal, offer: ResumePoint | None) -> None:
        self.journal = journal
        self.offer = offer  # a journal.ResumePoint, or None
        self._held: list[Record] = []

    def __call__(self, effect: Effect) -> None:
        if not isinstance(effect, Record):
            return
        if self.offer is None:
            self.journal.record(effect)
            return
        if effect.type != "resume_offer":
            self._held.append(effect)
            return
        offer, self.offer = self.offer, None
        if effect.data.get("accepted"):
            self.journal.resume(offer.session_id)
            self.flush()
        else:
            # the new session first, then the old one abandoned: killed in between, the
            # newest session is still one to offer next time (the other way round, the
            # newest was the abandoned one, and the next start offered nothing)
            self.flush()
            self.journal.mark_abandoned(offer.session_id)

    def flush(self) -> None:
        for record in self._held:
            self.journal.record(record)
        self._held = []


def session_options(journal: JournalSink | None, pause_limit: float) -> SessionOptions:
    """Options for a new session: with a journal, the offer to resume an interrupted one."""
    offer = journal.offer if journal is not None else None
    if offer is None:
        return SessionOptions(pause_limit=pause_limit)
    return SessionOptions(pause_limit=pause_limit, offer_resume=(offer.exercise_index, offer.set))


@contextmanager
def open_journal(enabled: bool, routine: Routine, without: str = ""
                 ) -> Iterator[JournalSink | None]:
    """The journal for this session, with any interrupted session of the same routine.
    A journal that cannot be opened says how to run without it (`without`, such as "start
    with --no-journal")."""
    if not enabled:
        yield None
        return
    from assistant import paths
    from assistant.journal import Journal, JournalError

    try:
        journal = Journal(paths.journal_path())
    except JournalError as exc:
        if not without:
            raise
        raise JournalError(f"{exc}; or {without}") from None
    try:
        offer = None
        if routine.source:
            offer = journal.interrupted_session(routine.source, len(routine.exercises))
        if offer is not None and not offer.sets_worked:
            offer = None  # nothing was done: there is nothing to carry on
        sink = JournalSink(journal, offer)
        yield sink
        sink.flush()
    finally:
        journal.close()


@dataclass(frozen=True)
class Wiring:
    """What either driver runs: the session, and where its effects go."""

    session: Session
    sinks: tuple[EffectSink, ...]

    def emit(self, effects: list[Effect]) -> list[Effect]:
        return emit(self.sinks, effects)


@contextmanager
def wire(routine: Routine, settings: Settings, plan: Plan, timer: SpeechTimer, *,
         speaker: Speaker | None, events: Path | None, journal: bool, without: str,
         sinks: Sequence[EffectSink] = ()) -> Iterator[Wiring]:
    """The session of `plan`, with its effects going to the journal, `sinks`, the speaker and
    the event log (`without` says how to run without a journal that cannot be opened): the
    wiring `run_simulation` and `live.run_live` share. The journal comes first: a process
    killed between two sinks must never leave a set in the event log that the journal lacks."""
    with ExitStack() as stack:
        journal_sink = stack.enter_context(open_journal(journal, routine, without))
        session = Session(plan, timer, session_options(journal_sink, settings.pause_limit))
        out: list[EffectSink] = [journal_sink] if journal_sink else []
        out += sinks
        if speaker is not None:
            out.append(speaker_sink(speaker))
        if events:
            log = EventLog(events)
            stack.callback(log.close)
            out.append(log)
        yield Wiring(session, tuple(out))


def run_simulation(request: SimulationRequest, echo_line: EffectSink | None = None,
                   on_rejected: Callable[[Rejected], None] | None = None,
                   tell: Callable[[str], None] | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   follow: Callable[[float, float], None] | None = None) -> SimulationResult:
    """The whole session on a virtual clock (DESIGN §6 `start --simulate`). `tell` gets a
    line about the voice (another speaks than asked for); `progress` follows the rendering
    of what a slow voice has not said before, `follow(t, total)` the session's time."""
    routine, settings = request.routine, request.settings
    need_voice = request.speaker_file is not None or request.echo is not None
    writable_or_fail(request.speaker_file)  # written last: check it first
    voice = Voice(settings, routine, required=need_voice)
    if voice.note and tell:
        tell(voice.note)
    voice.prepare(routine, progress)
    speaker = playlist = None
    if voice.synth is not None and need_voice:
        from assistant.voice.player import TimelineSpeaker

        playlist, ducking = open_music(settings, tell, seed=0)  # the same mix each run
        speaker = TimelineSpeaker(voice.synth, music=playlist, ducking=ducking)
    plan = plan_for(routine, voice.timer())
    sinks: list[EffectSink] = [echo_line] if echo_line else []
    if follow:
        sinks.append(partial(_follow, follow, plan.total))
    with wire(routine, settings, plan, voice.timer(), speaker=speaker, events=request.events,
              journal=request.journal, sinks=sinks,
              without="leave out --journal to simulate without recording it") as wiring:
        mic = listener = None
        if request.mic_file is not None:
            from assistant.audio import read_wav

            mic = read_wav(request.mic_file)
        if request.listen and (mic is not None or request.echo is not None):
            listener = make_listener(settings, on_rejected)
            if speaker is not None:
                listener.hear_own_words(speaker.said)
        length = simulate(
            wiring.session, wiring.sinks, commands=request.commands, mic=mic, listener=listener,
            reference=speaker, echo=request.echo, started_at=now_iso(),
        )
        if speaker is not None and request.speaker_file is not None:
            speaker.write_wav(str(request.speaker_file), length)
        for warning in playlist.warnings if playlist is not None else ():
            if tell:
                tell(warning)  # a file that would not decode was skipped
    if follow:
        follow(plan.total, plan.total)
    return SimulationResult(length, bool(wiring.session.completed))


def _follow(follow: Callable[[float, float], None], total: float, effect: Effect) -> None:
    if isinstance(effect, Say):
        follow(effect.t, total)


def open_music(settings: Settings, tell: Callable[[str], None] | None = None,
               seed: int | None = None) -> tuple[Playlist | None, Ducking]:
    """(the playlist of `settings.music`, or None, and the ducking its settings ask for).
    A path with no music is one line told, and the session goes on without it."""
    from assistant.voice.music import Ducking, Playlist, music_files

    ducking = Ducking(duck_db=settings.music_duck, volume=settings.music_volume)
    if settings.music is None:
        return None, ducking
    files, warnings = music_files(settings.music)
    for warning in warnings:
        if tell:
            tell(warning)
    return (Playlist(files, seed=seed) if files else None), ducking


def make_listener(settings: Settings, on_rejected: Callable[[Rejected], None] | None = None
                  ) -> Listener:
    """The listener the settings ask for; what it rejects goes to `on_rejected`."""
    from assistant.ear import engines
    from assistant.ear.listener import Listener

    vocabulary = settings.vocabulary()
    engine = engines.create(settings.engine or engines.DEFAULT_ENGINE, vocabulary, settings.model)
    listener = Listener(engine, vocabulary)
    listener.on_rejected = on_rejected
    return listener


def render_routine(routine: Routine, settings: Settings, out: Path,
                   progress: Callable[[float, float], None] | None = None,
                   tell: Callable[[str], None] | None = None) -> float:
    """The whole session as audio, as if nobody said anything; returns its length.
    `progress(done, total)` follows the voice's rendering, then the session's time."""
    request = SimulationRequest(routine, settings, speaker_file=out, listen=False,
                                journal=False)
    return run_simulation(request, tell=tell, progress=progress, follow=progress).length
