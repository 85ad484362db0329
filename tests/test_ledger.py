"""The session's bookkeeping on its own: the ledger of sets and exercises, the answers its
questions heard, and the reps counted in a set."""

from __future__ import annotations

from assistant.commands import Command, Intent
from assistant.events import CutSpeech, Record
from assistant.ledger import CONFIRM_WAIT, Answers, Ledger, SetProgress
from assistant.plan import ANSWER_WAIT, RepItem, Step, StepKind
from assistant.routine import Exercise, Sides

SQUEEZE = Exercise(name="Squeeze", sets=2, reps=2)
LUNGE = Exercise(name="Lunge", sets=1, reps=2, sides=Sides.ALTERNATE)
WALK = Exercise(name="Walk", sets=1, duration=60.0)
EXERCISES = (SQUEEZE, LUNGE, WALK)


def set_of(index: int, kind: StepKind = StepKind.SET, number: int = 1) -> Step:
    return Step(kind, 20.0, (), exercise=index, set=number)


def counted(*reps: tuple[int, int, str | None]) -> SetProgress:
    progress = SetProgress(work_start=4.0)
    for slot, rep, side in reps:
        progress.count(RepItem(4.0 + 3 * slot, slot, rep, side))
    return progress


def test_set_progress_counts_the_highest_rep_each_side_and_where_the_last_began() -> None:
    """Counting 1 left, 1 right, 2 left keeps each side's rep, the highest rep, the last
    movement's slot and its offset."""
    progress = counted((0, 1, "left"), (1, 1, "right"), (2, 2, "left"))
    assert (progress.side_reps, progress.max_rep, progress.slot, progress.rep_start) == (
        {"left": 2, "right": 1}, 2, 2, 10.0)


def test_a_set_counted_to_its_last_rep_is_recorded_complete_and_counted() -> None:
    """Leaving a set after its last rep records it complete, with the reps done, and adds
    it to the totals the summary speaks."""
    ledger = Ledger(EXERCISES)
    records = ledger.leave(set_of(0), counted((0, 1, None), (1, 2, None)), 20.0, 20.0, True)
    assert records == [Record(20.0, "set_done", {
        "exercise": "Squeeze", "exercise_index": 0, "set": 1, "sets": 2, "reps_done": 2,
        "reps_target": 2, "side_reps": None, "complete": True})]
    assert (ledger.sets_done, ledger.reps_done) == (1, 2)


def test_a_set_cut_short_is_incomplete_and_names_each_sides_reps() -> None:
    """A set of alternating sides left early is incomplete and gives each side's reps."""
    records = Ledger(EXERCISES).leave(set_of(1), counted((0, 1, "left"), (1, 1, "right")),
                                      9.0, 9.0, False)
    assert [(r.data["reps_done"], r.data["side_reps"], r.data["complete"]) for r in records] \
        == [(1, {"left": 1, "right": 1}, False)]


def test_a_set_left_in_its_countdown_is_recorded_but_not_counted_as_done() -> None:
    """A set left before its first rep gets its record but adds no set to the exercise."""
    ledger = Ledger(EXERCISES)
    ledger.enter(0, 0.0)
    assert ledger.leave(set_of(0), SetProgress(), 2.0, 2.0, False)[0].data["reps_done"] == 0
    assert (ledger.sets_done, ledger.reps_done) == (0, 0)
    assert ledger.close(2.0)[0].data["sets_done"] == 0


def test_a_timed_step_records_the_time_worked_after_its_countdown() -> None:
    """A timed step records the seconds since its work began, complete only when they reach
    the exercise's duration."""
    ledger = Ledger(EXERCISES)
    full = ledger.leave(set_of(2, StepKind.TIMED), SetProgress(work_start=4.0), 64.0, 64.0, True)
    short = ledger.leave(set_of(2, StepKind.TIMED), SetProgress(work_start=4.0), 30.0, 30.0,
                         True)
    assert [(r.data["duration_done"], r.data["duration_target"], r.data["complete"])
            for r in full + short] == [(60.0, 60.0, True), (26.0, 60.0, False)]
    assert ledger.sets_done == 2


def test_a_timed_step_left_in_its_countdown_has_done_nothing() -> None:
    """A timed step left before its work began records no time and counts no set."""
    ledger = Ledger(EXERCISES)
    records = ledger.leave(set_of(2, StepKind.TIMED), SetProgress(), 3.0, 3.0, False)
    assert (records[0].data["duration_done"], ledger.sets_done) == (0.0, 0)


def test_steps_that_are_not_sets_leave_no_record() -> None:
    """Leaving an announcement, a rest or a question records nothing."""
    ledger = Ledger(EXERCISES)
    for kind in (StepKind.ANNOUNCE, StepKind.REST, StepKind.QUESTION):
        assert ledger.leave(set_of(0, kind), counted((0, 1, None)), 5.0, 5.0, True) == []


def test_entering_another_exercise_ends_the_open_one_with_its_sets_done() -> None:
    """Steps of the same exercise keep it open; a step of another one (or of none) ends it,
    once, with the sets done in it."""
    ledger = Ledger(EXERCISES)
    assert ledger.enter(None, 0.0) == []
    assert ledger.enter(0, 1.0) == []
    ledger.leave(set_of(0), counted((0, 1, None)), 9.0, 9.0, False)
    assert ledger.enter(0, 9.0) == []
    assert ledger.enter(None, 30.0) == [Record(30.0, "exercise_end", {
        "exercise": "Squeeze", "exercise_index": 0, "sets_done": 1, "skipped": False})]
    assert ledger.close(31.0) == []


def test_a_skipped_exercise_says_so_when_it_ends() -> None:
    """An exercise ended by "skip" is recorded as skipped."""
    ledger = Ledger(EXERCISES)
    ledger.enter(1, 0.0)
    assert [r.data["skipped"] for r in ledger.close(5.0, skipped=True)] == [True]


def say(answers: Answers, command: Command, value: int | None = None, tag: str = "pain_before",
        t: float = 1.0) -> tuple[list[object], str, float] | None:
    reply = answers.rate(tag, Intent(command, value), t)
    return None if reply is None else (reply.effects, reply.text, reply.wait)


def test_a_rating_is_said_back_and_kept_only_after_yes() -> None:
    """A number cuts the speech and is said back; "yes" then records it and thanks."""
    answers = Answers()
    assert say(answers, Command.NUMBER, 4) == (
        [CutSpeech(1.0)], "You said 4. Is that right?", CONFIRM_WAIT)
    assert answers.rating == 4
    assert say(answers, Command.YES, t=2.0) == (
        [Record(2.0, "checkin", {"when": "before", "value": 4})], "Thank you.", 0.5)
    assert (answers.rating, answers.pain) == (None, {"before": 4})


def test_no_to_a_rating_asks_again_and_keeps_nothing() -> None:
    """"no" to the number said back asks for a number again, with nothing recorded."""
    answers = Answers()
    say(answers, Command.NUMBER, 7)
    assert say(answers, Command.NO) == ([], "Sorry. Please say a number from 0 to 10.",
                                        ANSWER_WAIT)
    assert (answers.rating, answers.pain) == (None, {})


def test_yes_or_no_before_any_number_does_not_fit() -> None:
    """A yes or no to the pain question before a number is not an answer."""
    answers = Answers()
    assert say(answers, Command.YES) is None
    assert say(answers, Command.NO) is None


def test_pain_two_points_higher_after_than_before_earns_a_caution() -> None:
    """After-pain 2 points above the before-pain adds the caution; 1 point does not, nor
    does an after-pain with no before-pain."""
    def after(before: int | None, value: int) -> str:
        answers = Answers()
        if before is not None:
            say(answers, Command.NUMBER, before)
            say(answers, Command.YES)
        say(answers, Command.NUMBER, value, "pain_after")
        reply = say(answers, Command.YES, tag="pain_after")
        assert reply is not None
        return reply[1]

    caution = ("Thank you. Your pain is higher than when you started, so take it easy "
               "today, and check with your physician if it does not settle.")
    assert [after(2, 4), after(2, 3), after(None, 10)] == [caution, "Thank you.", "Thank you."]


def test_answering_the_offer_closes_it_and_records_the_answer() -> None:
    """The offer to carry on, answered, is no longer open and its answer is recorded."""
    answers = Answers(offer_open=True, resume_target=5)
    assert answers.answer_offer(True, 3.0) == Record(3.0, "resume_offer", {"accepted": True})
    assert (answers.offer_open, answers.resume_target) == (False, 5)
