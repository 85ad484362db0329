"""The live view and the keyboard decoding, without a terminal: what a frame shows, and that
it always fits the terminal it is drawn in."""

from __future__ import annotations

import io

from rich.console import Console

from assistant.commands import Command, Intent
from assistant.events import Heard, Key, Start, Tick
from assistant.live import DigitKeys, shown
from assistant.loader import load_routine_text
from assistant.plan import build_plan
from assistant.session import Session
from assistant.testing import fixed_timer
from assistant.view import KEY_HELP, Extras, render

ROUTINE = """\
name: View check
checkin: pain
exercises:
  - name: Knees to chest with a rather long name for a narrow terminal
    instructions: Raise one knee toward your chest, lower it, then the other leg.
    reps: 10
    sides: alternate
    tempo: 2s
"""

LONG = ("Sit tall. Raise one knee toward your chest, lower it, then the other leg, and keep "
        "breathing steadily the whole time.")


def session() -> Session:
    timer = fixed_timer()
    s = Session(build_plan(load_routine_text(ROUTINE, "view.yaml"), timer), timer)
    s.handle(Start(), 0.0)
    return s


def run_until(s: Session, title: str) -> float:
    now = 0.0
    while s.step.title != title:
        due = s.next_due()
        assert due is not None
        now = due
        s.handle(Tick(), now)
    return now


def lines(renderable: object, width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get().splitlines()


def number(value: int) -> Key:
    return Key(Intent(Command.NUMBER, value), str(value))


def test_digit_keys_give_numbers_and_one_then_zero_gives_ten() -> None:
    """0-9 are numbers at once; "1" waits for a "0" (10), and is 1 after its wait or when
    another key comes."""
    keys = DigitKeys(wait=0.7)
    assert keys.press("3", 0.0) == [number(3)]
    assert keys.press("1", 1.0) == []
    assert keys.press("0", 1.2) == [number(10)]
    assert keys.press("1", 2.0) == []
    assert keys.due(2.5) == []
    assert keys.due(2.7) == [number(1)]
    assert keys.press("1", 3.0) == []
    assert keys.press("5", 3.1) == [number(1), number(5)]
    assert keys.press("1", 4.0) == []
    assert keys.press("n", 4.1) == [number(1)]
    assert keys.press("x", 5.0) == []


def test_every_frame_fits_the_terminal_and_keeps_footer_and_said_line() -> None:
    """In terminals from 80x15 to 40x12 a frame is never taller than the terminal, and it
    still shows its footer and the "said" line."""
    s = session()
    now = run_until(s, s.steps[3].title) + 3.0
    s.handle(Tick(), now)
    extras = Extras(said=LONG, heard="pause → pause", mic_level=0.4,
                    note="No loudspeaker found: plug one in. What I say is printed here.")
    for width, height in ((80, 15), (100, 40), (60, 20), (40, 12)):
        shown = lines(render(s.snapshot(now), extras, (width, height)), width)
        assert len(shown) <= height, (width, height, shown)
        assert "h: help  o: it hurts  q: end" in shown[-1]
        assert any(line.startswith("│ said") for line in shown), shown


def test_a_tall_terminal_gets_the_big_figure() -> None:
    """With room enough, the rep count or time is drawn in big letters (several rows)."""
    s = session()
    frame = lines(render(s.snapshot(1.0), Extras(said="Welcome."), (100, 40)), 100)
    assert len(frame) > 12


def test_the_pain_question_shows_its_keys_and_then_the_yes_no_keys() -> None:
    """A pain check-in shows "press 0-9"; after a number, the confirmation shows y / x."""
    s = session()
    now = run_until(s, "Pain check-in") + 0.5
    shown = "\n".join(lines(render(s.snapshot(now), Extras(), (80, 24)), 80))
    assert "Answer: press 0-9 (1 then 0 for 10), or say a number." in shown
    s.handle(number(3), now)
    shown = "\n".join(lines(render(s.snapshot(now), Extras(), (80, 24)), 80))
    assert "Answer: y yes, x no (or say it)." in shown


def test_end_the_workout_question_shows_its_keys() -> None:
    """After "end workout", the view asks "End the workout?" with the keys y and x."""
    s = session()
    s.handle(Key(Intent(Command.END), "q"), 1.0)
    shown = "\n".join(lines(render(s.snapshot(1.0), Extras(), (80, 24)), 80))
    assert "End the workout? y yes, x no (or say it)." in shown


def test_the_done_frame_names_no_exercise_and_nothing_next() -> None:
    """When the session is over the view shows DONE and how it ended, not the last
    exercise, its "next" or what was said."""
    s = session()
    s.handle(Key(Intent(Command.END), "q"), 1.0)
    s.handle(Key(Intent(Command.YES), "y"), 1.5)
    while not s.done:
        due = s.next_due()
        assert due is not None
        s.handle(Tick(), due)
    extras = Extras(said="Workout ended.", ended="Session ended early.")
    shown = "\n".join(lines(render(s.snapshot(30.0), extras, (80, 24)), 80))
    assert "Session ended early." in shown
    assert "DONE" in shown
    assert "next" not in shown and "said" not in shown and "Welcome" not in shown


def heard(text: str, command: Command, value: int | None = None) -> Heard:
    return Heard(Intent(command, value), text, 0.9, 1.0, 1.4)


def test_heard_shows_only_what_the_session_acted_on() -> None:
    """A number heard during a set (the assistant's own "three" coming back) is ignored by
    the session and not shown; "pause" heard then is shown as "pause → pause"."""
    s = session()
    now = run_until(s, s.steps[3].title) + 5.0
    s.handle(Tick(), now)
    echo = heard("three", Command.NUMBER, 3)
    assert shown(echo, s.handle(echo, now), True) == (None, None)
    event = heard("pause", Command.PAUSE)
    assert shown(event, s.handle(event, now + 0.1), True) == ("pause → pause", "")


def test_help_and_status_answers_are_shown_as_spoken() -> None:
    """The answer to "how many left" is what was said; the help answer adds the keys when
    there is a keyboard."""
    s = session()
    now = run_until(s, s.steps[3].title) + 5.0
    s.handle(Tick(), now)
    status = Key(Intent(Command.STATUS), "?")
    said = shown(status, s.handle(status, now), True)
    assert said == (None, s.status_text(now))
    help_key = Key(Intent(Command.HELP), "h")
    _, reply = shown(help_key, s.handle(help_key, now), True)
    assert reply is not None and reply.startswith("You can say: pause, resume")
    assert reply.endswith(KEY_HELP)


def test_the_pain_key_stops_the_session_and_is_shown_in_the_footer_and_help() -> None:
    """Key "o" ("ouch") is the pain command: it pauses and speaks the pain advice; the
    footer shows "o: it hurts", and the help answer names "it hurts" and the key."""
    from assistant.live import key_intent
    from assistant.session import PAIN_ADVICE, Mode

    s = session()
    now = run_until(s, s.steps[3].title) + 5.0
    s.handle(Tick(), now)
    intent = key_intent("o", s.mode)
    assert intent == Intent(Command.PAIN)
    effects = s.handle(Key(intent, "o"), now)
    assert s.mode is Mode.PAUSED
    assert [e.text for e in effects if hasattr(e, "text")] == [PAIN_ADVICE]
    frame = lines(render(s.snapshot(now), Extras(), (80, 24)), 80)
    assert "h: help  o: it hurts  q: end" in frame[-1]
    assert "o it hurts" in KEY_HELP
    help_key = Key(Intent(Command.HELP), "h")
    _, reply = shown(help_key, s.handle(help_key, now), True)
    assert reply == ("You can say: pause, resume, next, go back, repeat, skip, slower, "
                     "faster, how many left, louder, quieter, it hurts, or end workout. "
                     + KEY_HELP)
