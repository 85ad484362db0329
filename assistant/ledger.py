"""What a session tells the journal, kept apart from its timing (pure).

The session walks its steps; these small classes keep the account: `Ledger` the sets and
exercises done (`set_done`, `exercise_end`, and the totals the summary speaks), `Answers`
what its questions heard (`checkin`, `resume_offer`). Each returns the records to log and
leaves the log itself to the session, which emits them in order with its other effects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.commands import Command, Intent
from assistant.events import CutSpeech, Effect, Record
from assistant.plan import ANSWER_WAIT, RepItem, Step, StepKind, side_sequence
from assistant.routine import Exercise, Sides

CONFIRM_WAIT = 8.0  # how long "You said 4. Is that right?" waits for its yes or no
HIGHER_PAIN = 2  # points above the starting pain that earn a word of caution


@dataclass
class SetProgress:
    """Reps counted so far in the current set."""

    side_reps: dict[str, int] = field(default_factory=dict)
    max_rep: int = 0
    slot: int = -1  # last movement counted
    rep_start: float = 0.0  # offset where that movement began
    work_start: float | None = None  # offset where the countdown ended

    def count(self, rep: RepItem) -> None:
        """`rep` was counted (said and recorded)."""
        if rep.side:
            self.side_reps[rep.side] = rep.rep
        self.max_rep = max(self.max_rep, rep.rep)
        self.slot = rep.slot
        self.rep_start = rep.offset


class Ledger:
    """The sets and exercises done: a `set_done` record for each set or timed step left, an
    `exercise_end` for each exercise left, and the totals the summary speaks. A set counts
    as done once its work began (a set left in its countdown was not done)."""

    def __init__(self, exercises: Sequence[Exercise]) -> None:
        self.exercises = exercises
        self.sets_done = 0
        self.reps_done = 0
        self._sets: dict[int, int] = {}  # sets done, by exercise index
        self._open: int | None = None  # the exercise entered and not yet ended

    def enter(self, index: int | None, t: float) -> list[Record]:
        """A step of exercise `index` (None: of no exercise) begins at `t`: the exercise
        open until now ends there when it is another one."""
        out = self.close(t) if index != self._open else []
        if index is not None:
            self._open = index
        return out

    def close(self, t: float, *, skipped: bool = False) -> list[Record]:
        """The open exercise (if any) ends at `t`; `skipped` when "skip" ended it."""
        index, self._open = self._open, None
        if index is None:
            return []
        return [Record(t, "exercise_end", {
            "exercise": self.exercises[index].name,
            "exercise_index": index,
            "sets_done": self._sets.get(index, 0),
            "skipped": skipped,
        })]

    def leave(self, step: Step, progress: SetProgress, t: float, offset: float,
              complete: bool) -> list[Record]:
        """`step` left at `t`, `offset` into it (at most its length): for a set or a timed
        step, what was done in it; `complete` is False when it was cut short."""
        if step.kind not in (StepKind.SET, StepKind.TIMED) or step.exercise is None:
            return []
        exercise = self.exercises[step.exercise]
        data: dict[str, Any] = {
            "exercise": exercise.name,
            "exercise_index": step.exercise,
            "set": step.set,
            "sets": exercise.sets,
        }
        if step.kind is StepKind.TIMED:
            work = progress.work_start if progress.work_start is not None else offset
            done = max(0.0, offset - work)
            data.update(duration_done=round(done, 3), duration_target=exercise.duration,
                        complete=complete and done >= (exercise.duration or 0) - 1e-6)
            started = progress.work_start is not None
        else:
            data.update(
                reps_done=progress.max_rep,
                reps_target=exercise.reps,
                side_reps=dict(progress.side_reps) if exercise.sides is not Sides.NONE else None,
                complete=complete and progress.slot == len(side_sequence(exercise)) - 1,
            )
            self.reps_done += progress.slot + 1
            started = progress.slot >= 0
        if started:
            self.sets_done += 1
            self._sets[step.exercise] = self._sets.get(step.exercise, 0) + 1
        return [Record(t, "set_done", data)]


@dataclass(frozen=True)
class Reply:
    """How a question step answers what it heard."""

    effects: list[Effect]  # before the words: a cut, the check-in recorded
    text: str
    wait: float  # how long the question then waits


@dataclass
class Answers:
    """What the questions heard. A pain rating is said back ("You said 4. Is that
    right?") and becomes a `checkin` only on "yes", so that a misheard number is never
    kept; the offer to carry on from where the last session stopped, left unanswered,
    is a "no"."""

    rating: int | None = None  # a number heard, waiting for its "yes"
    pain: dict[str, int] = field(default_factory=dict)  # confirmed, "before" and "after"
    offer_open: bool = False  # the offer to carry on waits for its answer
    resume_target: int = 0  # the step where a "yes" to the offer carries on

    def rate(self, tag: str, intent: Intent, t: float) -> Reply | None:
        """A number, yes or no said at the pain question `tag` ("pain_before" or
        "pain_after"); None when it does not fit (a yes or no before any number)."""
        if intent.command is Command.NUMBER:
            self.rating = intent.value
            return Reply([CutSpeech(t)], f"You said {intent.value}. Is that right?",
                         CONFIRM_WAIT)
        value, self.rating = self.rating, None
        if value is None:
            return None
        if intent.command is not Command.YES:
            return Reply([], "Sorry. Please say a number from 0 to 10.", ANSWER_WAIT)
        when = "before" if tag == "pain_before" else "after"
        self.pain[when] = value
        text = "Thank you."
        if when == "after" and value >= self.pain.get("before", 10) + HIGHER_PAIN:
            text += (" Your pain is higher than when you started, so take it easy today, "
                     "and check with your physician if it does not settle.")
        return Reply([Record(t, "checkin", {"when": when, "value": value})], text, 0.5)

    def answer_offer(self, accepted: bool, t: float) -> Record:
        """The offer to carry on answered at `t` (or, unanswered, a no)."""
        self.offer_open = False
        return Record(t, "resume_offer", {"accepted": accepted})
