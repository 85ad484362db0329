"""The live loop without a terminal or devices (`live.LiveLoop`): what each step hands the
session, and what the view shows after it, on fake clocks."""

from __future__ import annotations

from assistant.commands import Command, Intent
from assistant.devices import NotListening
from assistant.eventlog import Transcript, emit
from assistant.events import Effect, Heard, Say
from assistant.live import KeyPress, LiveLoop, Notes
from assistant.loader import load_routine_text
from assistant.plan import build_plan
from assistant.session import Mode, Session
from assistant.testing import FakeClock, fixed_timer
from assistant.view import KEY_HELP

ROUTINE = """\
name: Loop check
checkin: pain
exercises:
  - name: Squeeze
    instructions: Squeeze your shoulder blades together.
    reps: 4
    tempo: 2s
"""


def ask_pain(live: LiveLoop, clock: FakeClock) -> None:
    """Run the session until it asks how much pain there is."""
    while live.session.expecting() is None or Command.NUMBER not in live.session.expecting():
        due = live.session.next_due()
        assert due is not None
        clock.now = due
        live.step(None)


def loop(has_keys: bool = True) -> tuple[LiveLoop, FakeClock, FakeClock, Transcript, list[str]]:
    timer = fixed_timer()
    session = Session(build_plan(load_routine_text(ROUTINE, "loop.yaml"), timer), timer)
    clock, wall, transcript, printed = FakeClock(), FakeClock(1000.0), Transcript(), []

    def to_transcript(effects: list[Effect]) -> list[Effect]:
        return emit([transcript], effects)

    live = LiveLoop(session, to_transcript, clock, Notes(printed.append), has_keys=has_keys,
                    wall=wall)
    live.start("2026-01-01T00:00:00+00:00")
    return live, clock, wall, transcript, printed


def said(transcript: Transcript) -> list[str]:
    return [e.text for e in transcript.effects if isinstance(e, Say)]


def test_a_step_shows_the_last_sentence_said_and_ticks_what_is_due() -> None:
    """The view's "said" line is the last sentence the session said; a step with nothing
    arrived ticks the session once its next time is within the speaker's lookahead."""
    live, clock, _, transcript, _ = loop()
    frame = live.step(None)
    assert frame.extras.said == said(transcript)[-1]
    assert frame.extras.mic_level is None and frame.extras.heard == ""
    due = live.session.next_due()
    assert due is not None
    clock.now = due - 0.2
    before = len(transcript.effects)
    live.step(None)
    assert len(transcript.effects) == before  # not yet due
    clock.now = due - 0.1
    frame = live.step(None)
    assert len(transcript.effects) > before and frame.extras.said == said(transcript)[-1]


def test_keys_and_heard_commands_reach_the_session_and_the_view() -> None:
    """Space pauses and resumes; a command heard is shown as "text → command" for 5 s of
    the wall clock; help's answer is shown with the keys when there is a keyboard."""
    live, clock, wall, _, _ = loop()
    ask_pain(live, clock)
    live.step(KeyPress("0"))
    live.step(KeyPress("y"))
    live.step(None)
    assert live.step(KeyPress(" ")).extras.heard == ""
    assert live.session.mode is Mode.PAUSED
    frame = live.step(Heard(Intent(Command.RESUME), "go on", 0.9, 0.0, 0.5))
    assert live.session.mode is not Mode.PAUSED and frame.extras.heard == "go on → resume"
    wall.advance(5.0)
    assert live.step(None).extras.heard == ""
    frame = live.step(KeyPress("h"))
    assert frame.extras.reply.endswith(" " + KEY_HELP) and len(frame.extras.reply) > len(KEY_HELP)


def test_a_lone_one_is_one_once_its_wait_on_the_wall_clock_is_over() -> None:
    """At the pain check-in, "1" waits 0.7 s of the wall clock for a "0": then it is 1."""
    live, clock, wall, transcript, _ = loop()
    ask_pain(live, clock)
    live.step(KeyPress("1"))
    wall.advance(0.69)
    live.step(None)
    assert not any("You said" in text for text in said(transcript))
    wall.advance(0.01)
    assert live.step(None).extras.said == "You said 1. Is that right?"


def test_messages_from_the_microphone_are_told_and_kept_on_the_view() -> None:
    """A listener that could not load is told once (printed with no terminal) and shown in
    the view's notes, the last three of them."""
    live, _, _, _, printed = loop()
    live.step(NotListening(OSError("no model")))
    assert printed == ["Not listening: no model. Use the keys, or --no-listen."]
    for n in range(3):
        live.notes.tell(f"note {n}")
    assert live.step(None).extras.note == "note 0\nnote 1\nnote 2"


def test_the_last_frame_says_how_the_session_ended() -> None:
    """Ended by q and yes, once its goodbye is said, the last frame says "Session ended
    early."."""
    live, clock, _, _, _ = loop()
    live.step(KeyPress("q"))
    live.step(KeyPress("y"))
    while not live.session.done:
        due = live.session.next_due()
        assert due is not None
        clock.now = due
        live.step(None)
    assert live.ended().extras.ended == "Session ended early."
