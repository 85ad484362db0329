"""The command line: thin, each command a few lines calling the library.

Every problem a person can cause (a bad file, argument, setting or device) ends as one
clear line on stderr and a non-zero exit status, never a traceback."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from assistant import __version__, app, library
from assistant.errors import AssistantError, RoutineErrors, ScriptErrors, SettingsError
from assistant.routine import clock_duration, plural
from assistant.settings import Settings, load_settings


def settings_from(*, lenient: bool = False, **overrides: Any) -> Settings:
    """The settings file's settings, overridden by the command line's. A broken settings
    file stops a command, listing every problem; with `lenient` (commands that only read,
    or simulate) it is a warning, once, and the defaults are used."""
    from assistant import paths
    from assistant.errors import DeviceError, SettingsError

    path = paths.settings_path()
    try:
        settings = load_settings(path)
    except SettingsError as exc:
        if not lenient:
            raise
        for line in exc.lines:
            click.echo(f"exercise-assistant: {one_line(line)}", err=True)
        click.echo("exercise-assistant: the settings file is ignored: using the defaults",
                   err=True)
        settings = Settings()
    in_file = settings.model
    settings = settings.override(**overrides)
    if "engine" in overrides:  # a command that listens: its engine and model can work
        from assistant.ear import engines

        try:
            engines.check(settings.engine, settings.model)
        except DeviceError as exc:
            if overrides.get("model") is None and in_file is not None:
                # the file set it: name the setting as the file does, not as --model
                raise SettingsError(f"{path}: model: "
                                    f"{str(exc).removeprefix('--model ')}") from None
            raise
    return settings


class Help(click.Group):
    """Lists commands in the order they are defined, which is the order a person needs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


F = TypeVar("F", bound=Callable[..., Any])


def engine_options(command: F) -> F:
    """--engine and --model, shared by `start` and `listen`."""
    from assistant.ear.engines import REGISTRY

    command = click.option(
        "--model", type=click.Path(path_type=Path),
        help="A model for the engine: for whisper any faster-whisper model folder (base.en, "
        "small.en: more accurate, slower); vosk and openai-whisper need one.",
    )(command)
    return click.option(
        "--engine", type=click.Choice(list(REGISTRY)),
        help="Speech recognition engine. whisper (the default): Whisper tiny.en, offline, "
        "the most accurate; pocketsphinx: light, for small machines; vosk, openai-whisper: "
        "optional packages.",
    )(command)


@click.group(cls=Help, context_settings={"help_option_names": ["-h", "--help"],
                                         "max_content_width": 100})
@click.version_option(__version__, prog_name="exercise-assistant")
def cli() -> None:
    """An offline, hands-free, voice-guided exercise assistant.

    It speaks each exercise, counts your reps on tempo and listens for spoken commands
    (pause, resume, next, repeat, slower, end workout, ...) with no network and no account.

    \b
    Start here:
      exercise-assistant start                 # the bundled upper-back routine
      exercise-assistant list                  # every routine you can start
      exercise-assistant show desk-break       # the plan as a timeline
      exercise-assistant new "My routine"      # write your own
    """


@cli.command(epilog="""\b
Examples:
  exercise-assistant start
  exercise-assistant start desk-break --rate 150
  exercise-assistant start my-routine.yaml --no-listen
  exercise-assistant start --simulate --events ev.jsonl --commands cmds.jsonl
  exercise-assistant start --simulate --mic-file me.wav --speaker-file out.wav --echo 0.5:30

Keys (when there is a terminal): space pause/resume, n next, b back, r repeat,
s skip, - slower, + faster, ? how many left, h help, o it hurts, q end workout,
y yes, x no, ] louder, [ quieter; 0 to 9 answer a pain check-in (1 then 0 is 10).""")
@click.argument("routine", required=False)
@click.option("--simulate", is_flag=True,
              help="Run on a virtual clock, as fast as possible; recorded in the journal only "
              "with --journal (a simulation is not exercise).")
@click.option("--events", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the event log here (JSON lines).")
@click.option("--commands", "commands_file", type=click.Path(dir_okay=False, path_type=Path),
              help="With --simulate: JSON lines of commands at session times.")
@click.option("--mic-file", type=click.Path(dir_okay=False, path_type=Path),
              help="With --simulate: the microphone, from a WAV file.")
@click.option("--speaker-file", type=click.Path(dir_okay=False, path_type=Path),
              help="With --simulate: write everything said to this WAV file.")
@click.option("--echo", metavar="GAIN:DELAY_MS",
              help="With --simulate: mix the assistant's voice into the microphone.")
@click.option("--pause-limit", metavar="DURATION",
              help="End a session left paused this long (default 30m).")
@click.option("--voice", help="Voice (see `voices`).")
@click.option("--rate", type=click.IntRange(80, 400), help="Speaking rate, words per minute.")
@click.option("--volume", type=click.FloatRange(0, 1), help="Volume, 0 to 1.")
@click.option("--music", type=click.Path(path_type=Path), metavar="PATH",
              help="Play this audio file, or the audio files of this folder (shuffled, "
              "looped), under the session: quieter while the assistant speaks, and heard "
              "through by the microphone. With --simulate, in --speaker-file and --echo.")
@engine_options
@click.option("--input-device", help="Microphone (see `devices`).")
@click.option("--output-device", help="Loudspeaker (see `devices`).")
@click.option("--no-listen", is_flag=True, help="Do not use the microphone (keys still work).")
@click.option("--journal/--no-journal", default=None,
              help="Record this session in the journal (the default for a live session; "
              "with --simulate only when given).")
@click.option("--verbose", "-v", is_flag=True,
              help="Also show what was heard but not taken as a command, and why (such as "
              "the assistant's own voice).")
def start(routine: str | None, simulate: bool, events: Path | None, commands_file: Path | None,
          mic_file: Path | None, speaker_file: Path | None, echo: str | None,
          pause_limit: str | None, voice: str | None, rate: int | None, volume: float | None,
          music: Path | None, engine: str | None, model: Path | None, input_device: str | None,
          output_device: str | None, no_listen: bool, journal: bool | None,
          verbose: bool) -> None:
    """Start a guided session (the bundled upper-back routine if none is given)."""
    limit = None
    if pause_limit is not None:
        from assistant.routine import parse_duration

        try:
            limit = parse_duration(pause_limit)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--pause-limit") from None
        if limit < 1:
            raise click.BadParameter("must be at least 1 second", param_hint="--pause-limit")
    echo_at = None
    if echo is not None and simulate:
        try:
            echo_at = app.parse_echo(echo)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--echo") from None
    settings = settings_from(voice=voice, rate=rate, volume=volume, engine=engine, model=model,
                             input_device=input_device, output_device=output_device,
                             pause_limit=limit, music=music, lenient=simulate)
    loaded = app.load_routine(routine)
    if not simulate:
        for flag, value in (("--commands", commands_file), ("--mic-file", mic_file),
                            ("--speaker-file", speaker_file), ("--echo", echo)):
            if value is not None:
                raise click.UsageError(f"{flag} needs --simulate")
        from assistant.live import run_live

        run_live(loaded, settings, events=events, listen=not no_listen,
                 journal=journal is not False, verbose=verbose)
        return
    request = app.SimulationRequest(
        routine=loaded, settings=settings, events=events, speaker_file=speaker_file,
        mic_file=mic_file, echo=echo_at,
        commands=app.read_script(commands_file, settings.vocabulary()) if commands_file else (),
        listen=not no_listen, journal=bool(journal),
    )
    with _progress("Preparing the voice") as progress:
        result = app.run_simulation(request, echo_line=_print_say,
                                    on_rejected=_print_rejected if verbose else None,
                                    tell=_print_note, progress=progress)
    state = "completed" if result.completed else "not completed"
    click.echo(f"Session {state}: {clock_duration(result.length)} of session time.")


def _print_note(line: str) -> None:
    click.echo(f"exercise-assistant: {one_line(line)}", err=True)


@contextlib.contextmanager
def _progress(label: str) -> Iterator[Callable[[float, float], None]]:
    """A progress bar on a terminal's stderr (none elsewhere), gone once done."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(label, total=None)

        def update(done: float, total: float) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _print_rejected(item: Any) -> None:
    click.echo(f"[{clock_duration(item.start)}] {item.describe()}", err=True)


def _print_say(effect: object) -> None:
    from assistant.events import Say

    if isinstance(effect, Say):  # on a terminal or into a file alike
        click.echo(f"[{clock_duration(effect.t)}] {effect.text}")


@cli.command(epilog="""\b
Examples:
  exercise-assistant validate exercises/*.yaml
  exercise-assistant validate my-routine.yaml""")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path,
                                                                    dir_okay=True))
def validate(files: tuple[Path, ...]) -> None:
    """Check routine files; one line per problem, FILE:LINE:COL: message."""
    from assistant.loader import validate_paths

    valid = 0
    for file in files:
        problems = validate_paths([file])
        for problem in problems:
            click.echo(one_line(str(problem)))
        valid += not problems
    if valid < len(files):
        if len(files) > 1:
            click.echo(f"{valid} of {len(files)} files valid.")
        sys.exit(1)
    click.echo(f"{plural(len(files), 'file')} valid.")


ABOUT = "exact once the voice has said it, at a start or render"


@cli.command("list", epilog="\b\nExample:\n  exercise-assistant list")
def list_() -> None:
    """Bundled and saved routines, with their total time."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from assistant.loader import load_routine
    from assistant.voice.tts import UnknownVoiceError

    settings = settings_from(lenient=True)
    table = Table("name", "routine", "time", "exercises", "from", box=None)
    about = False
    for entry in library.entries():
        try:
            routine = load_routine(entry.path)
            plan, exact = app.spoken_plan(routine, settings)  # the total `show` gives
        except RoutineErrors as exc:
            table.add_row(entry.name, f"[red]invalid: {exc.errors[0].message}[/]", "", "",
                          entry.origin)
            continue
        except UnknownVoiceError as exc:
            if settings.voice:  # the settings' voice: every routine would fail alike
                raise
            problem = str(exc).rsplit(": voice: ", 1)[-1]  # the row names the routine
            table.add_row(entry.name, f"[red]invalid: {escape(problem)}[/]", "", "",
                          entry.origin)
            continue
        table.add_row(entry.name, routine.name,
                      ("" if exact else "~") + clock_duration(plan.total),
                      str(len(routine.exercises)), entry.origin)
        about = about or not exact
    console = Console()
    console.print(table)
    if about:
        console.print(f"~ about: {ABOUT}")


@cli.command(epilog="""\b
Examples:
  exercise-assistant show
  exercise-assistant show desk-break
  exercise-assistant show my-routine.yaml""")
@click.argument("routine", required=False)
def show(routine: str | None) -> None:
    """The plan as a timeline, with the total duration."""
    from rich.console import Console
    from rich.table import Table

    loaded = app.load_routine(routine)
    plan, exact = app.spoken_plan(loaded, settings_from(lenient=True))
    table = Table("start", "step", "length", title=loaded.name, box=None)
    for start_t, step in zip(plan.starts(), plan.steps, strict=True):
        table.add_row(clock_duration(start_t), step.title, clock_duration(step.duration))
    console = Console()
    console.print(table)
    about, why = ("", "") if exact else ("about ", f"; {ABOUT}")
    console.print(f"Total: {about}{clock_duration(plan.total)} ({plan.total:.1f} s{why})")


@cli.command(epilog="""\b
Examples:
  exercise-assistant new "Evening stretch"
  exercise-assistant start evening-stretch""")
@click.argument("name")
@click.option("--force", is_flag=True,
              help="Also when the name is a bundled routine's (yours then hides it).")
def new(name: str, force: bool) -> None:
    """Write a commented template routine to your routine folder."""
    path = library.create(name, force=force)
    click.echo(f"Wrote {path}")
    if path.stem in library.bundled_names():
        click.echo(f"It hides the bundled routine {path.stem}: "
                   f"`start {path.stem}` runs yours.")
    click.echo(f"Edit it, then: exercise-assistant validate {path}")


@cli.command(epilog="""\b
Examples:
  exercise-assistant render upper-back -o walk.wav
  exercise-assistant render desk-break -o break.wav --rate 150
  exercise-assistant render upper-back -o walk.wav --music ~/Music/walking""")
@click.argument("routine", required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The WAV file to write.")
@click.option("--voice", help="Voice (see `voices`).")
@click.option("--rate", type=click.IntRange(80, 400), help="Speaking rate, words per minute.")
@click.option("--volume", type=click.FloatRange(0, 1), help="Volume, 0 to 1.")
@click.option("--music", type=click.Path(path_type=Path), metavar="PATH",
              help="Music under the session (a file or folder), ducked under the voice.")
def render(routine: str | None, output: Path, voice: str | None, rate: int | None,
           volume: float | None, music: Path | None) -> None:
    """The whole guided session as one audio file, with no listening."""
    loaded = app.load_routine(routine)
    settings = settings_from(voice=voice, rate=rate, volume=volume, music=music)
    with _progress("Rendering") as progress:
        length = app.render_routine(loaded, settings, output, progress, tell=_print_note)
    click.echo(f"Wrote {output}: {clock_duration(length)} ({length:.1f} s).")


@cli.command(epilog="""\b
Examples:
  exercise-assistant voices
  exercise-assistant voices --language en
  exercise-assistant start --voice en-gb
  exercise-assistant start --voice path/to/my-voice.onnx""")
@click.option("--language", metavar="CODE",
              help="Only voices for this language, such as en or en-us.")
def voices(language: str | None) -> None:
    """The installed text-to-speech voices, the neural ones (Piper) first: give the first
    column to --voice or to `voice:` in settings (an eSpeak NG name or language code such as
    en-gb works too, and `espeak` is eSpeak NG's default). With no voice set, the one marked
    default speaks."""
    from assistant.voice import neural
    from assistant.voice.tts import Synthesizer, voices_for_language

    found = [(v.info, "Piper" + (" (default)" if v.name == neural.DEFAULT_VOICE else ""))
             for v in neural.installed()]
    light = "eSpeak NG" + ("" if found else " (default)")
    found += [(v, light) for v in Synthesizer().voices()]
    if language is not None:
        keep = {v.id for v in voices_for_language([v for v, _ in found], language)}
        found = [(v, engine) for v, engine in found if v.id in keep]
        if not found:
            raise AssistantError(f"no voice for the language {language!r} "
                                 "(see: exercise-assistant voices)")
    rows = [("voice", "engine", "name", "language"),
            *((v.short, engine, v.name, ", ".join(v.languages)) for v, engine in found)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        click.echo("  ".join([*(f"{row[i]:<{widths[i]}}" for i in range(3)), row[3]]).rstrip())


@cli.command(epilog="\b\nExample:\n  exercise-assistant devices")
def devices() -> None:
    """The audio input and output devices."""
    from assistant.audio import list_devices

    inputs, outputs = list_devices()
    for title, found in (("Inputs (microphones):", inputs),
                         ("Outputs (loudspeakers):", outputs)):
        click.echo(title)
        for d in found:
            mark = "  (default)" if d.is_default else ""
            click.echo(f"  {d.index:>3}  {d.name}  {d.channels} ch, {d.default_rate:g} Hz{mark}")
        if not found:
            click.echo("  none")
    if inputs or outputs:
        click.echo("Choose one with --input-device / --output-device NAME or number.")
    if not inputs or not outputs:
        from assistant.audio import no_devices_advice

        click.echo(no_devices_advice(bool(inputs), bool(outputs)))


@cli.command(epilog="""\b
Examples:
  exercise-assistant listen                      # say commands; each one heard is printed
  exercise-assistant listen --verbose            # also what was heard but rejected
  exercise-assistant listen --file me.wav --json # the recognizer alone over a recording
  exercise-assistant listen --file me.wav --expect rating  # as when a pain rating is asked""")
@click.option("--file", "wav", type=click.Path(dir_okay=False, path_type=Path),
              help="Recognize commands in this WAV file instead of the microphone.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per command heard.")
@click.option("--verbose", "-v", is_flag=True,
              help="Also show rejected utterances: why, and what was heard.")
@click.option("--expect", type=click.Choice(["commands", "question", "rating"]),
              help="Hear as the session does at one moment: commands (during a set: the "
              "commands only), question (plus yes and no), rating (plus the numbers 0-10); "
              "without it, everything.")
@engine_options
@click.option("--input-device", help="Microphone (see `devices`).")
def listen(wav: Path | None, as_json: bool, verbose: bool, expect: str | None,
           engine: str | None, model: Path | None, input_device: str | None) -> None:
    """Check the microphone and recognizer: print each command heard."""
    from assistant.listening import listen_file, listen_microphone

    settings = settings_from(engine=engine, model=model, input_device=input_device)
    if wav is not None:
        listen_file(wav, settings, as_json=as_json, verbose=verbose, expect=expect)
    else:
        listen_microphone(settings, as_json=as_json, verbose=verbose, expect=expect)


@cli.command(epilog="""\b
Examples:
  exercise-assistant history
  exercise-assistant history --weeks 12 --plot progress.png
  exercise-assistant history --json > sessions.json
  exercise-assistant history --csv > sessions.csv""")
@click.option("--weeks", type=click.IntRange(1, 520), default=8, show_default=True,
              help="How many weeks to show.")
@click.option("--json", "as_json", is_flag=True, help="Every session as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Every session as CSV.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw adherence and pain per week to this PNG file.")
def history(weeks: int, as_json: bool, as_csv: bool, plot: Path | None) -> None:
    """Your sessions, weekly totals, adherence to weekly targets, streaks and pain trend."""
    from rich.console import Console

    from assistant import history as hist
    from assistant import paths
    from assistant.journal import Journal
    from assistant.loader import load_routine

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    app.writable_or_fail(plot)  # before the tables, not after them
    with Journal(paths.journal_path()) as journal:
        if as_json or as_csv:
            sessions = journal.sessions()
            click.echo(hist.to_json(sessions) if as_json else hist.to_csv(sessions), nl=False)
            return
        report = hist.report(journal, hist.routines_from_journal(journal, load_routine), weeks)
        hist.render_terminal(report, Console())
        if plot is not None:
            hist.plot(report, plot)
            click.echo(f"Wrote {plot}")


@cli.command(epilog="""\b
Examples:
  exercise-assistant remind --at 07:30            # show what would be installed
  exercise-assistant remind --at 07:30 --install  # install it (asks first)
  exercise-assistant remind --status
  exercise-assistant remind --remove""")
@click.option("--at", "at_time", metavar="HH:MM", help="Time of day for the reminder.")
@click.option("--routine", default=library.DEFAULT_ROUTINE, show_default=True,
              help="The routine the reminder names.")
@click.option("--install", is_flag=True, help="Install the reminder (after asking).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before installing.")
@click.option("--remove", is_flag=True, help="Remove the reminder.")
@click.option("--status", is_flag=True, help="Show the installed reminder, if any.")
def remind(at_time: str | None, routine: str, install: bool, yes: bool, remove: bool,
           status: bool) -> None:
    """A daily reminder with your system's scheduler (systemd timer or cron)."""
    from assistant import reminders

    if remove:
        removed = reminders.remove()
        click.echo("Removed: " + ", ".join(removed) if removed else "No reminder to remove.")
        return
    if status or at_time is None:
        click.echo(reminders.status().describe())
        if at_time is None and not status:
            click.echo("Give --at HH:MM to plan one.")
        return
    library.find(routine)  # a reminder for a routine that `start` cannot find helps nobody
    plan = reminders.reminder_plan(at_time, routine)
    if install and plan.kind == "manual":
        reminders.install(plan)  # says, in one line, why it cannot and what to do instead
    click.echo(plan.describe())
    if plan.kind == "manual":
        return
    if not install:
        click.echo("Nothing installed yet: add --install to install it.")
        return
    if not yes and not click.confirm("Install this reminder?", default=False):
        click.echo("Not installed.")
        return
    reminders.install(plan)
    click.echo("Installed. Remove it with: exercise-assistant remind --remove")


# Control characters (a file name or argument with a newline or carriage return in it)
# are shown escaped, so that one problem is always exactly one line.
_ESCAPES = {c: repr(chr(c))[1:-1] for c in [*range(32), 127, 0x85, 0x2028, 0x2029]
            if chr(c) != "\t"}


def one_line(text: str) -> str:
    return text.translate(_ESCAPES)


def fail(message: str, status: int = 1) -> NoReturn:
    click.echo(f"exercise-assistant: {one_line(message)}", err=True)
    sys.exit(status)


def main(argv: list[str] | None = None) -> None:
    """Entry point: one clear line for every problem, never a traceback."""
    try:
        cli.main(args=argv, prog_name="exercise-assistant", standalone_mode=False)
    except click.UsageError as exc:
        hint = f" (see: exercise-assistant {exc.ctx.command_path.split(' ', 1)[-1]} --help)" \
            if exc.ctx and " " in exc.ctx.command_path else " (see: exercise-assistant --help)"
        fail(f"{exc.format_message()}{hint}", 2)
    except (click.Abort, KeyboardInterrupt):
        fail("stopped.", 130)
    except click.ClickException as exc:
        fail(exc.format_message(), exc.exit_code)
    except RoutineErrors as exc:
        for error in exc.errors:
            click.echo(one_line(str(error)), err=True)
        sys.exit(1)
    except (ScriptErrors, SettingsError) as exc:
        for line in exc.lines:
            click.echo(f"exercise-assistant: {one_line(line)}", err=True)
        sys.exit(1)
    except AssistantError as exc:
        fail(str(exc))
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:  # a bug: still one line, with a way to see more
        if os.environ.get("EXERCISE_ASSISTANT_DEBUG"):
            raise
        fail(f"internal error: {type(exc).__name__}: {exc} "
             "(run with EXERCISE_ASSISTANT_DEBUG=1 for details, and please report it)")
