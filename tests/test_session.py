"""The session state machine, end to end on a virtual clock with scripted commands."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from assistant.plan import build_plan
from assistant.routine import Cue, Exercise, Routine, Sides, Tempo, TempoPhase
from assistant.session import COUNT_IN, PAUSED, SessionOptions
from assistant.testing import fixed_timer, run_session

KNEES = Exercise(
    name="Knees to chest", position="seated", instructions="Sit tall.", sets=2, reps=10,
    sides=Sides.ALTERNATE, tempo=Tempo((TempoPhase("raise", 2.0), TempoPhase("lower", 2.0))),
    rest=30.0,
)
BIRD = Exercise(name="Bird dog", instructions="Reach.", sets=2, reps=8, sides=Sides.ALTERNATE,
                hold=3.0, rest=20.0)
WALK = Exercise(name="Brisk walk", duration=1800.0, instructions="Walk briskly.",
                cues=(Cue("{remaining} to go.", every=300.0), Cue("Halfway there.",
                                                                  at_fraction=0.5)))
ROUTINE = Routine(name="Upper back relief", description="Gentle.", safety="Stop if it hurts.",
                  exercises=(WALK, KNEES, BIRD))
SMALL = Routine(name="Small", exercises=(
    Exercise(name="Squeeze", sets=2, reps=5, tempo=Tempo.per_rep(3.0), rest=10.0),
    Exercise(name="Lunge", sets=1, reps=3, sides=Sides.EACH, tempo=Tempo.per_rep(2.0)),
))


def reps(
    records: list[dict[str, Any]], exercise: str, set_: int | None = None
) -> list[dict[str, Any]]:
    return [r for r in records if r["type"] == "rep" and r["exercise"] == exercise
            and (set_ is None or r["set"] == set_)]


def end_time(records: list[dict[str, Any]]) -> float:
    return next(r["t"] for r in records if r["type"] == "session_end")


def test_alternating_sets_count_every_rep_on_each_side_in_order() -> None:
    """2 sets of 10 alternating: each set counts 1L 1R 2L 2R ... 10L 10R."""
    records = run_session(ROUTINE).records()
    for set_ in (1, 2):
        got = [(r["rep"], r["side"]) for r in reps(records, "Knees to chest", set_)]
        assert got == [(n, side) for n in range(1, 11) for side in ("left", "right")]
    assert len(reps(records, "Bird dog")) == 2 * 16


def test_each_side_counts_all_left_then_all_right() -> None:
    """sides: each counts every rep on the left, then every rep on the right."""
    records = run_session(SMALL).records()
    got = [(r["rep"], r["side"]) for r in reps(records, "Lunge")]
    assert got == [(1, "left"), (2, "left"), (3, "left"), (1, "right"), (2, "right"),
                   (3, "right")]
    assert any(r["type"] == "say" and r["text"] == "Switch to the right side." for r in records)


def test_reps_land_exactly_on_tempo() -> None:
    """Reps are spaced by tempo (+ hold) exactly: 4 s for raise 2 s/lower 2 s, 6 s with a hold."""
    records = run_session(ROUTINE).records()
    for name, interval in (("Knees to chest", 4.0), ("Bird dog", 6.0)):
        times = [r["t"] for r in reps(records, name, 1)]
        gaps = {round(b - a, 6) for a, b in pairwise(times)}
        assert gaps == {interval}


def test_count_is_spoken_with_its_side_exactly_at_each_rep() -> None:
    """Each rep event has a count said at the same instant naming the rep and side."""
    records = run_session(ROUTINE).records()
    counts = {r["t"]: r["text"] for r in records if r["type"] == "say" and r["kind"] == "count"}
    for rep in reps(records, "Knees to chest"):
        assert counts[rep["t"]].startswith(f"{rep['rep']}, {rep['side']}")


def test_set_starts_with_three_two_one_go() -> None:
    """Before the first rep of a set the assistant says 3, 2, 1, Go! one second apart."""
    records = run_session(SMALL).records()
    first = reps(records, "Squeeze", 1)[0]["t"]
    says = [(r["t"], r["text"]) for r in records if r["type"] == "say"
            and first - 4 - 1e-6 <= r["t"] < first]
    assert says == [(first - 4, "3"), (first - 3, "2"), (first - 2, "1"), (first - 1, "Go!")]


def test_timed_exercise_cues_every_five_minutes_and_at_half() -> None:
    """A 30-minute walk says the time left every 5 minutes and 'Halfway there.' at 15."""
    records = run_session(ROUTINE).records()
    work = next(r["t"] for r in records if r["type"] == "phase" and r["phase"] == "work")
    cues = [(round(r["t"] - work, 6), r["text"]) for r in records
            if r["type"] == "say" and r["kind"] == "cue" and work < r["t"] < work + 1800]
    assert cues == [
        (300.0, "25 minutes to go."), (600.0, "20 minutes to go."),
        (900.0, "15 minutes to go. Halfway there."), (1200.0, "10 minutes to go."),
        (1500.0, "5 minutes to go."),
    ]


def test_full_session_lasts_exactly_the_plan_and_completes() -> None:
    """With no commands, the session ends at the plan's total and is saved as completed."""
    records = run_session(ROUTINE).records()
    plan = build_plan(ROUTINE, fixed_timer())
    assert end_time(records) == pytest.approx(plan.total, abs=1e-6)
    assert records[-1] == {"t": records[-1]["t"], "type": "session_end", "completed": True}


def test_pause_then_resume_continues_from_the_next_rep_and_adds_pause_plus_count_in() -> None:
    """Pause mid-set, resume 30 s later: next rep follows the last counted; +30 s +count-in."""
    base = run_session(ROUTINE).records()
    knees = reps(base, "Knees to chest", 1)
    pause_at = knees[6]["t"] + 1.5  # during rep 4, left
    records = run_session(ROUTINE, [(pause_at, "pause"), (pause_at + 30, "resume")]).records()
    after = [r for r in reps(records, "Knees to chest", 1) if r["t"] > pause_at]
    assert (after[0]["rep"], after[0]["side"]) == (4, "right")
    assert after[0]["t"] == pytest.approx(knees[7]["t"] + 30 + COUNT_IN, abs=1e-6)
    assert end_time(records) == pytest.approx(end_time(base) + 30 + COUNT_IN, abs=1e-6)
    assert [(r["rep"], r["side"]) for r in reps(records, "Knees to chest")] == \
        [(r["rep"], r["side"]) for r in reps(base, "Knees to chest")]


def test_pause_cuts_speech_and_says_paused() -> None:
    """Pause cuts speech at once, marks the phase paused and says how to resume."""
    records = run_session(SMALL, [(20.0, "pause")],
                          options=SessionOptions(pause_limit=60)).records()
    at = [r for r in records if r["t"] == 20.0]
    assert [r["type"] for r in at] == ["command", "cut", "phase", "say"]
    assert at[2]["phase"] == "paused" and at[3]["text"] == PAUSED


def test_resume_counts_in_three_two_one() -> None:
    """Resuming a set says 3, 2, 1 a second apart before carrying on."""
    records = run_session(SMALL, [(20.0, "pause"), (25.0, "resume")]).records()
    says = [(r["t"], r["text"]) for r in records if r["type"] == "say" and 25 <= r["t"] < 28]
    assert says == [(25.0, "3"), (26.0, "2"), (27.0, "1")]


def test_stop_pauses_and_a_paused_session_ends_itself_after_the_pause_limit() -> None:
    """'stop' pauses (never ends); left paused, the session ends after the limit, not completed."""
    records = run_session(SMALL, [(20.0, "stop")],
                          options=SessionOptions(pause_limit=120)).records()
    assert any(r["type"] == "phase" and r["phase"] == "paused" and r["t"] == 20.0 for r in records)
    end = records[-1]
    assert end["type"] == "session_end" and end["completed"] is False
    assert end["t"] > 140.0
    ending = [r for r in records if r["type"] == "say" and r["t"] == 140.0]
    assert ending and "ended" in ending[0]["text"]


def test_slower_and_faster_change_the_rep_length_by_ten_percent() -> None:
    """'slower' makes later reps 10 % longer (4.4 s), 'faster' 10 % shorter (3.6 s), announced."""
    base = reps(run_session(ROUTINE).records(), "Knees to chest", 1)
    for word, interval in (("slower", 4.4), ("faster", 3.6)):
        at = base[2]["t"] + 1.0
        records = run_session(ROUTINE, [(at, word)]).records()
        times = [r["t"] for r in reps(records, "Knees to chest", 1)]
        assert times[3] == pytest.approx(base[3]["t"], abs=1e-9)  # rep in progress unchanged
        gaps = [round(b - a, 6) for a, b in pairwise(times[3:])]
        assert set(gaps) == {interval}
        said = [r["text"] for r in records if r["type"] == "say" and r["t"] == at]
        assert said == [f"{word.capitalize()}: {interval:g} seconds a rep."]


def test_slower_then_faster_returns_to_the_original_tempo() -> None:
    """Slower then faster restores the routine's tempo exactly."""
    base = reps(run_session(ROUTINE).records(), "Knees to chest", 1)
    records = run_session(ROUTINE, [(base[2]["t"] + 1, "slower"), (base[5]["t"] + 1, "faster")])
    times = [r["t"] for r in reps(records.records(), "Knees to chest", 1)]
    assert round(times[-1] - times[-2], 6) == 4.0


def test_next_ends_the_set_early_and_records_it_incomplete() -> None:
    """'next' during a set ends it now (set_done incomplete) and starts the rest."""
    first = reps(run_session(SMALL).records(), "Squeeze", 1)
    at = first[1]["t"] + 0.5
    records = run_session(SMALL, [(at, "next")]).records()
    done = next(r for r in records if r["type"] == "set_done")
    assert (done["t"], done["reps_done"], done["complete"]) == (at, 2, False)
    assert any(r["type"] == "phase" and r["phase"] == "rest" and r["t"] == at for r in records)


def test_go_back_in_a_rest_restarts_the_set_just_done() -> None:
    """'go back' during the rest after set 1 runs set 1 again from rep 1."""
    base = run_session(SMALL).records()
    rest = next(r["t"] for r in base if r["type"] == "phase" and r["phase"] == "rest")
    records = run_session(SMALL, [(rest + 2, "go back")]).records()
    assert [r["rep"] for r in reps(records, "Squeeze", 1)] == [1, 2, 3, 4, 5] * 2


def test_skip_moves_to_the_next_exercise_and_marks_it_skipped() -> None:
    """'skip' ends this exercise (recorded as skipped) and announces the next one."""
    first = reps(run_session(SMALL).records(), "Squeeze", 1)
    records = run_session(SMALL, [(first[2]["t"], "skip")]).records()
    assert len(reps(records, "Squeeze")) == 3
    ended = next(r for r in records if r["type"] == "exercise_end")
    assert (ended["exercise"], ended["skipped"]) == ("Squeeze", True)
    assert len(reps(records, "Lunge")) == 6


def test_repeat_says_the_last_instruction_again() -> None:
    """'repeat' says the last instruction again, at once."""
    first = reps(run_session(ROUTINE).records(), "Knees to chest", 1)[0]["t"]
    records = run_session(ROUTINE, [(first + 1, "say again")]).records()
    said = [r for r in records if r["type"] == "say" and r["t"] == first + 1]
    assert [(r["text"], r["kind"]) for r in said] == [("Sit tall.", "prompt")]


def test_end_workout_asks_and_yes_ends_not_completed() -> None:
    """'end workout' pauses and asks; 'yes' ends the session, saved as not completed."""
    records = run_session(SMALL, [(20.0, "end workout"), (23.0, "yes")]).records()
    asked = [r["text"] for r in records if r["type"] == "say" and r["t"] == 20.0]
    assert asked == ["End the workout? Say yes or no."]
    assert records[-1]["type"] == "session_end" and records[-1]["completed"] is False
    assert not [r for r in records if r["type"] == "rep" and r["t"] > 20.0]


def test_end_workout_then_no_resumes_where_it_was() -> None:
    """'no' to the end question resumes with a count-in; the session completes."""
    base = run_session(SMALL).records()
    records = run_session(SMALL, [(20.0, "end workout"), (25.0, "no")]).records()
    assert records[-1]["completed"] is True
    assert end_time(records) == pytest.approx(end_time(base) + 5 + COUNT_IN, abs=1e-6)


def test_yes_without_a_question_does_nothing() -> None:
    """A stray 'yes' or number changes nothing."""
    base = run_session(SMALL).records()
    records = run_session(SMALL, [(20.0, "yes"), (21.0, "four")]).records()
    assert [r for r in records if r["type"] in ("rep", "session_end")] == \
        [r for r in base if r["type"] in ("rep", "session_end")]


def test_how_many_left_says_the_reps_left() -> None:
    """'how many left' after 2 of 5 reps says 3 reps left and the set."""
    first = reps(run_session(SMALL).records(), "Squeeze", 1)
    at = first[1]["t"] + 1
    records = run_session(SMALL, [(at, "how many left")]).records()
    said = [r["text"] for r in records if r["type"] == "say" and r["t"] == at]
    assert said == ["3 reps left. Set 1 of 2."]


def test_pain_pauses_and_never_urges_to_push_through() -> None:
    """'it hurts' pauses at once and suggests stopping, never pushing on."""
    records = run_session(SMALL, [(20.0, "it hurts")],
                          options=SessionOptions(pause_limit=60)).records()
    said = " ".join(r["text"] for r in records if r["type"] == "say" and r["t"] == 20.0)
    assert any(r["type"] == "phase" and r["phase"] == "paused" for r in records)
    assert "Don't push through pain" in said and "end workout" in said
    assert "keep going" not in said.lower()


COMMANDS = ["pause", "resume", "next", "back", "repeat", "skip", "slower", "faster", "status",
            "help", "louder", "quieter", "end", "yes", "no"]


@settings(max_examples=60, deadline=None)
@example(commands=[(6.0, "slower"), (6.0, "slower")])  # twice during a countdown
@example(commands=[(79.0, "slower")])  # between sides: the switch cue is not said again
@given(st.lists(st.tuples(st.floats(0, 400, allow_nan=False), st.sampled_from(COMMANDS)),
                max_size=12))
def test_any_command_sequence_keeps_the_invariants(commands: list[tuple[float, str]]) -> None:
    """Under any commands: time never runs back, reps stay within target, the session ends."""
    records = run_session(SMALL, commands, options=SessionOptions(pause_limit=100)).records()
    times = [r["t"] for r in records]
    assert times == sorted(times)
    assert records[-1]["type"] == "session_end"
    for r in records:
        if r["type"] == "rep":
            assert 1 <= r["rep"] <= 5
        if r["type"] == "set_done" and "reps_done" in r:
            assert r["reps_done"] <= r["reps_target"]


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.integers(0, 9), st.tuples(st.floats(0.05, 0.95), st.floats(0.5, 60)),
                       max_size=4))
def test_pause_and_resume_lose_no_rep_and_no_second(pauses: dict[int, tuple[float, float]]) -> None:
    """Pauses during reps (each resumed) keep every rep and add exactly pause + count-in."""
    base = run_session(SMALL).records()
    rep_times = [r["t"] for r in reps(base, "Squeeze")]
    commands: list[tuple[float, str]] = []
    shift = 0.0
    for index in sorted(pauses):
        fraction, length = pauses[index]
        at = rep_times[index] + fraction * 3.0 + shift
        commands += [(at, "pause"), (at + length, "resume")]
        shift += length + COUNT_IN
    records = run_session(SMALL, commands).records()
    assert [(r["exercise"], r["set"], r["rep"], r["side"]) for r in records if r["type"] == "rep"] \
        == [(r["exercise"], r["set"], r["rep"], r["side"]) for r in base if r["type"] == "rep"]
    assert end_time(records) == pytest.approx(end_time(base) + shift, abs=1e-6)


CHECKIN = Routine(name="Checked", checkin="pain", exercises=(
    Exercise(name="Squeeze", sets=1, reps=3, tempo=Tempo.per_rep(2.0), rest=0.0),
))


def question_time(records: list[dict[str, Any]], start: str) -> float:
    return next(r["t"] for r in records if r["type"] == "say" and r["text"].startswith(start))


def test_pain_checkin_repeats_the_number_back_and_records_it_when_confirmed() -> None:
    """A spoken number is repeated back; 'yes' records it as the check-in."""
    asked = question_time(run_session(CHECKIN).records(), "Before we start")
    records = run_session(CHECKIN, [(asked + 5, "four"), (asked + 8, "yes")]).records()
    said = [r["text"] for r in records if r["type"] == "say" and r["kind"] == "prompt"]
    assert "You said 4. Is that right?" in said and "Thank you." in said
    assert [(r["when"], r["value"]) for r in records if r["type"] == "checkin"] == [("before", 4)]


def test_pain_checkin_no_asks_again_and_silence_moves_on() -> None:
    """'no' asks for the number again; with no answer the session carries on unrecorded."""
    asked = question_time(run_session(CHECKIN).records(), "Before we start")
    records = run_session(CHECKIN, [(asked + 5, "seven"), (asked + 7, "no")]).records()
    assert "Sorry. Please say a number from 0 to 10." in [r["text"] for r in records
                                                          if r["type"] == "say"]
    assert not [r for r in records if r["type"] == "checkin"]
    assert records[-1]["completed"] is True


def test_higher_pain_after_than_before_earns_a_caution() -> None:
    """Pain 2+ points higher after the session gets advice to take it easy and see a doctor."""
    base = run_session(CHECKIN).records()
    before = question_time(base, "Before we start")
    script = [(before + 5, "two"), (before + 7, "yes")]
    after = question_time(run_session(CHECKIN, script).records(), "How much pain")
    records = run_session(CHECKIN, [*script, (after + 4, "five"), (after + 6, "yes")]).records()
    caution = [r["text"] for r in records if r["type"] == "say" and r["t"] == after + 6]
    assert caution and "check with your physician" in caution[0]
    assert [(r["when"], r["value"]) for r in records if r["type"] == "checkin"] == \
        [("before", 2), ("after", 5)]


def test_resume_offer_yes_continues_from_the_set_where_it_stopped() -> None:
    """Offered to carry on from set 2, 'yes' skips straight to set 2."""
    options = SessionOptions(offer_resume=(0, 2))
    asked = question_time(run_session(SMALL, options=options).records(), "Last time")
    records = run_session(SMALL, [(asked + 3, "yes")], options=options).records()
    assert {r["set"] for r in reps(records, "Squeeze")} == {2}
    assert [r["accepted"] for r in records if r["type"] == "resume_offer"] == [True]


def test_resume_offer_no_starts_from_the_beginning() -> None:
    """'no' to the offer runs the routine from its first set."""
    options = SessionOptions(offer_resume=(0, 2))
    asked = question_time(run_session(SMALL, options=options).records(), "Last time")
    records = run_session(SMALL, [(asked + 3, "no")], options=options).records()
    assert {r["set"] for r in reps(records, "Squeeze")} == {1, 2}
    assert [r["accepted"] for r in records if r["type"] == "resume_offer"] == [False]


def test_the_session_expects_numbers_only_when_it_asks_for_a_rating_and_yes_only_to_a_question(
) -> None:
    """While the pain question waits the session expects numbers (not yes/no), while "You
    said 4. Is that right?" waits it expects yes/no (not numbers), and while reps are counted
    it expects neither; every command is expected throughout."""
    from assistant.commands import Command
    from assistant.events import Say
    from assistant.runner import simulate
    from assistant.session import Session
    from assistant.testing import script

    timer = fixed_timer()
    session = Session(build_plan(CHECKIN, timer), timer)
    seen: dict[str, frozenset[Command]] = {}

    def note(effect: object) -> None:
        if isinstance(effect, Say):
            seen.setdefault(effect.text.split(".")[0], session.expecting())

    asked = question_time(run_session(CHECKIN).records(), "Before we start")
    simulate(session, [note], commands=script([(asked + 5, "four"), (asked + 8, "yes")]))
    answers = {Command.NUMBER, Command.YES, Command.NO}
    commands = frozenset(Command) - answers
    rating = next(v for k, v in seen.items() if k.startswith("Before we start"))
    assert rating == commands | {Command.NUMBER}
    assert seen["You said 4"] == commands | {Command.YES, Command.NO}
    assert seen["2"] == commands


def test_status_says_one_rep_not_one_reps() -> None:
    """'how many left' with one rep to go says "1 rep left", in the singular."""
    records = run_session(SMALL).records()
    fourth = reps(records, "Squeeze", 1)[3]["t"]
    said = [r["text"] for r in run_session(SMALL, [(fourth + 0.5, "how many left")]).records()
            if r["type"] == "say" and r["kind"] == "prompt"]
    assert said == ["1 rep left. Set 1 of 2."]


def test_a_set_after_slower_keeps_the_new_tempo_and_its_countdown() -> None:
    """'slower' in set 1 makes set 2's reps 4.4 s apart, after the same 3, 2, 1, Go!"""
    base = reps(run_session(ROUTINE).records(), "Knees to chest", 1)
    records = run_session(ROUTINE, [(base[2]["t"] + 1.0, "slower")]).records()
    times = [r["t"] for r in reps(records, "Knees to chest", 2)]
    assert {round(b - a, 6) for a, b in pairwise(times)} == {4.4}
    says = [(round(times[0] - r["t"], 6), r["text"]) for r in records if r["type"] == "say"
            and times[0] - 4 - 1e-6 <= r["t"] < times[0]]
    assert says == [(4.0, "3"), (3.0, "2"), (2.0, "1"), (1.0, "Go!")]
