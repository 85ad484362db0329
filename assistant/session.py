"""The workout as a pure state machine: `handle(event, now) -> effects`.

It never sleeps, reads a clock or touches a device. `now` is seconds on the session clock
(the audio clock live, a virtual clock in simulation); the driver calls `handle(Tick(), t)`
at `next_due()` and passes every command as it arrives. Every effect carries the exact
session time it belongs to, so counts land on the beat however late the tick arrives.

Modes: running -> paused -> counting in -> running; confirming (after "end workout");
ending (the last words) -> done.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from assistant.commands import Command, Intent
from assistant.events import (
    CutSpeech,
    Effect,
    Event,
    Heard,
    Key,
    Record,
    Say,
    SetVolume,
    Start,
)
from assistant.ledger import Answers, Ledger, SetProgress
from assistant.plan import (
    Item,
    Phase,
    PhaseItem,
    Plan,
    RepItem,
    SayItem,
    SpeechTimer,
    Step,
    StepKind,
    describe,
    merge_says,
    next_up,
    question_step,
    reps_timeline,
    side_sequence,
    summary_step,
)
from assistant.routine import Exercise, Sides, spoken_duration

TEMPO_STEP = 0.1  # slower/faster change the length of a rep by 10 % of the routine's tempo
TEMPO_LIMITS = (0.5, 2.0)
VOLUME_STEP = 0.15
COUNT_IN = 3  # "3, 2, 1" before carrying on after a pause

PAUSED = "Paused. Say resume when you're ready."
CONFIRM_END = "End the workout? Say yes or no."
ENDED = "Workout ended. Well done for what you did today."
TIMED_OUT = "We've been paused a long time, so I've ended the session. Your progress is saved."
PAIN_ADVICE = (
    "Let's stop. Don't push through pain. Rest for a moment. If the pain is sharp or "
    "doesn't ease, end the workout and check with your physician. Say end workout to "
    "finish, or resume to carry on gently."
)
HELP_TEXT = (
    "You can say: pause, resume, next, go back, repeat, skip, slower, faster, "
    "how many left, louder, quieter, it hurts, or end workout."
)
CARRY_ON = "Carrying on where you left off."
PROMPTS = (PAUSED, CONFIRM_END, ENDED, TIMED_OUT, PAIN_ADVICE, HELP_TEXT, CARRY_ON,
           "Louder.", "Quieter.")
"""What the session may say beyond its plan, whatever the routine (a slow voice renders
them before the session starts)."""


class Mode(str, Enum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    COUNTING_IN = "counting_in"
    CONFIRMING = "confirming"
    ENDING = "ending"
    DONE = "done"


@dataclass(frozen=True)
class SessionOptions:
    pause_limit: float = 30 * 60.0  # a session left paused this long ends, not completed
    start_exercise: int = 0  # resume an interrupted session from this exercise ...
    start_set: int = 1  # ... and this set
    offer_resume: tuple[int, int] | None = None  # ask first: carry on from (exercise, set)?


@dataclass(frozen=True)
class Snapshot:
    """What a screen shows at one moment."""

    title: str
    phase: str
    exercise: str | None
    set: int | None
    sets: int | None
    rep: int
    reps: int | None
    side: str | None
    remaining: float  # seconds left in this step
    fraction: float  # of this step done, 0..1
    next_up: str
    mode: str
    asking: str = ""  # what an answer must be now: "number", "yes/no", "end" (yes/no), or ""


class Session:
    """One run through a routine. Mutable inside; only effects leave it."""

    def __init__(self, plan: Plan, timer: SpeechTimer, options: SessionOptions | None = None):
        self.routine = plan.routine
        self.timer = timer
        self.options = options or SessionOptions()
        self.steps: list[Step] = list(plan.steps)
        self.mode = Mode.IDLE
        self.completed: bool | None = None
        self._i = 0
        self._items: tuple[Item, ...] = ()
        self._duration = 0.0
        self._next = 0  # index of the next item to fire
        self._start = 0.0  # session time of the current step's offset 0 (while running)
        self._paused_at = 0.0
        self._paused_offset = 0.0
        self._count_in: list[tuple[float, str]] = []
        self._resume_at = 0.0
        self._end_at = 0.0
        self._phase: Phase = "ready"
        self._factor = 1.0
        self._built_factor = 1.0
        self._progress = SetProgress()
        self._last_instruction = ""
        self._ledger = Ledger(self.routine.exercises)
        self._answers = Answers()

    # --- the public surface ----------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.mode is Mode.DONE

    @property
    def step(self) -> Step:
        return self.steps[self._i]

    def expecting(self) -> frozenset[Command]:
        """What a person can usefully say now: the commands, plus "yes"/"no" when a
        question waits for one and numbers when a pain rating is asked for. The listener
        hears only these, so that a count muttered along ("three") is not an answer."""
        return EXPECTED[_MOMENTS[self._asking()]]

    def snapshot(self, now: float) -> Snapshot:
        step = self.step
        running = self.mode in (Mode.RUNNING, Mode.ENDING, Mode.DONE)
        offset = now - self._start if running else self._paused_offset
        offset = min(max(offset, 0.0), self._duration)
        exercise = self._exercise_or_none()
        upcoming = next((s for s in self.steps[self._i + 1:] if s.kind is not StepKind.REST), None)
        side = None
        if self._progress.slot >= 0 and exercise is not None and not exercise.timed:
            side = side_sequence(exercise)[self._progress.slot][1]
        return Snapshot(
            title=step.title,
            phase="paused" if self.mode in (Mode.PAUSED, Mode.CONFIRMING) else self._phase,
            exercise=exercise.name if exercise else None,
            set=step.set,
            sets=exercise.sets if exercise else None,
            rep=self._progress.max_rep if step.kind is StepKind.SET else 0,
            reps=exercise.reps if exercise else None,
            side=side,
            remaining=self._duration - offset,
            fraction=offset / self._duration if self._duration else 1.0,
            next_up=upcoming.title if upcoming else "",
            mode=self.mode.value,
            asking=self._asking(),
        )

    def _asking(self) -> str:
        if self.mode is Mode.CONFIRMING:
            return "end"
        if self.mode is not Mode.RUNNING or self.step.kind is not StepKind.QUESTION:
            return ""
        return "number" if self.step.tag != "resume" and self._answers.rating is None else "yes/no"

    def next_due(self) -> float | None:
        """Session time of the next thing the session will do by itself, or None when done."""
        if self.mode in (Mode.IDLE, Mode.DONE):
            return None
        if self.mode in (Mode.PAUSED, Mode.CONFIRMING):
            return self._paused_at + self.options.pause_limit
        if self.mode is Mode.ENDING:
            return self._end_at
        if self.mode is Mode.COUNTING_IN:
            return self._count_in[0][0] if self._count_in else self._resume_at
        end = self._start + self._duration
        if self._next < len(self._items):
            return min(self._start + self._items[self._next].offset, end)
        return end

    def handle(self, event: Event, now: float) -> list[Effect]:
        out: list[Effect] = []
        if isinstance(event, Start):
            if self.mode is Mode.IDLE:
                self._begin(event, now, out)
            return out
        if self.mode in (Mode.IDLE, Mode.DONE):
            return out
        self._advance(now, out)
        if isinstance(event, Heard):
            out.append(Record(now, "heard", event.as_json()))
        if isinstance(event, Heard | Key) and not self.done:
            self._command(event.intent, "voice" if isinstance(event, Heard) else "key", now, out)
        return out

    # --- time passing ------------------------------------------------------------------------

    def _begin(self, event: Start, now: float, out: list[Effect]) -> None:
        out.append(Record(now, "session_start", {
            "routine": self.routine.name,
            "path": self.routine.source,
            "started_at": event.started_at,
        }))
        self.mode = Mode.RUNNING
        first = 0
        if self.options.start_exercise or self.options.start_set > 1:
            first = self._resume_index(self.options.start_exercise, self.options.start_set)
            out.append(Say(now, CARRY_ON, "prompt"))
        elif self.options.offer_resume is not None:
            exercise, number = self.options.offer_resume
            name = self.routine.exercises[exercise].name
            text = (f"Last time you stopped during {name}, set {number}. "
                    "Shall we carry on from there? Say yes or no.")
            # asked first, before the welcome: a "yes" said or keyed at once is its answer
            self.steps.insert(0, question_step(text, "resume", self.timer, "Carry on?"))
            self._answers.offer_open = True
            self._answers.resume_target = self._resume_index(exercise, number)
        self._enter(first, now, out)

    def _resume_index(self, exercise: int, number: int) -> int:
        for i, step in enumerate(self.steps):
            if step.exercise == exercise and step.kind is StepKind.ANNOUNCE and number == 1:
                return i
            if step.exercise == exercise and step.set == number and step.kind in (
                StepKind.SET, StepKind.TIMED
            ):
                return i
        return 0

    def _advance(self, now: float, out: list[Effect]) -> None:
        while True:
            due = self.next_due()
            if due is None or due > now + 1e-9:
                return
            self._fire(due, out)

    def _fire(self, due: float, out: list[Effect]) -> None:
        if self.mode in (Mode.PAUSED, Mode.CONFIRMING):
            out.append(CutSpeech(due))
            # "Your progress is saved": the journal offers to carry on next time, from the
            # set where it stopped, so the exercise in progress is left open (as a crash
            # leaves it), not ended
            out.append(Record(due, "timed_out", {"pause_limit": self.options.pause_limit}))
            self._finish(due, TIMED_OUT, out, close_exercise=False)
        elif self.mode is Mode.ENDING:
            self._set_phase("done", due, out)
            out.append(Record(due, "session_end", {"completed": bool(self.completed)}))
            self.mode = Mode.DONE
        elif self.mode is Mode.COUNTING_IN:
            if self._count_in:
                t, text = self._count_in.pop(0)
                out.append(Say(t, text, "cue", 1.0))
            else:
                self.mode = Mode.RUNNING
                self._start = self._resume_at - self._paused_offset
                self._set_phase(self._phase_at(self._paused_offset), self._resume_at, out)
        elif self._next < len(self._items) and self._start + self._items[self._next].offset <= due:
            item = self._items[self._next]
            self._next += 1
            self._fire_item(item, out)
        else:
            self._leave(due, out, complete=True)
            if self._i + 1 < len(self.steps):
                self._enter(self._i + 1, due, out)
            else:
                self.completed = True
                self.mode = Mode.ENDING
                self._end_at = due

    def _fire_item(self, item: Item, out: list[Effect]) -> None:
        t = self._start + item.offset
        if isinstance(item, SayItem):
            out.append(Say(t, item.text, item.kind, self._slot_after(item)))
            if item.kind == "instruction":
                self._last_instruction = item.text
        elif isinstance(item, RepItem):
            self._progress.count(item)
            out.append(Record(t, "rep", {
                "exercise": self._exercise().name,
                "set": self.step.set,
                "rep": item.rep,
                "side": item.side,
            }))
        else:
            if item.phase == "work" and self._progress.work_start is None:
                self._progress.work_start = item.offset
            self._set_phase(item.phase, t, out)

    def _slot_after(self, item: SayItem) -> float:
        """Time from this speech to the next speech of the same step (or its end)."""
        for later in self._items[self._next:]:
            if isinstance(later, SayItem) and later.offset > item.offset:
                return later.offset - item.offset
        return max(self._duration - item.offset, 0.0)

    def _set_phase(self, phase: Phase, t: float, out: list[Effect]) -> None:
        if phase != self._phase:
            self._phase = phase
            out.append(Record(t, "phase", {"phase": phase}))

    def _phase_at(self, offset: float) -> Phase:
        phase: Phase = "ready"
        for item in self._items:
            if isinstance(item, PhaseItem) and item.offset <= offset and item.phase != "paused":
                phase = item.phase
        return phase

    # --- steps ---------------------------------------------------------------------------------

    def _exercise(self) -> Exercise:
        exercise = self._exercise_or_none()
        assert exercise is not None
        return exercise

    def _exercise_or_none(self) -> Exercise | None:
        index = self.step.exercise
        return None if index is None else self.routine.exercises[index]

    def _enter(self, i: int, t: float, out: list[Effect]) -> None:
        step = self.steps[i]
        out += self._ledger.enter(step.exercise, t)
        if step.kind is StepKind.SUMMARY:
            step = summary_step(self.routine, self._ledger.sets_done, self._ledger.reps_done,
                                self.timer)
            self.steps[i] = step
        if step.kind is StepKind.ANNOUNCE:
            self._factor = 1.0
        self._i = i
        self._items = step.items
        self._duration = step.duration
        self._built_factor = 1.0
        self._next = 0
        self._start = t
        self._progress = SetProgress()
        self._answers.rating = None
        self.mode = Mode.RUNNING
        if step.kind is StepKind.SET and self._factor != 1.0:
            self._retime(self._exercise(), 0.0)  # a set after "slower" keeps the new tempo

    def _leave(self, t: float, out: list[Effect], *, complete: bool) -> None:
        """Close the current step; a set records what was done in it."""
        if self.step.tag == "resume" and self._answers.offer_open:
            out.append(self._answers.answer_offer(False, t))  # no answer is a no
        offset = min(t - self._start, self._duration)
        out += self._ledger.leave(self.step, self._progress, t, offset, complete)

    def _move(self, target: int, now: float, out: list[Effect], *, skipped: bool = False) -> None:
        out.append(CutSpeech(now))
        self._leave(now, out, complete=False)
        if skipped:
            out += self._ledger.close(now, skipped=True)
        self._enter(target, now, out)

    def _finish(self, t: float, text: str, out: list[Effect], *,
                close_exercise: bool = True) -> None:
        """End the session early with a last sentence (not completed)."""
        self._leave(t, out, complete=False)
        if close_exercise:
            out += self._ledger.close(t)
        out.append(Say(t, text, "prompt"))
        self.completed = False
        self.mode = Mode.ENDING
        self._end_at = t + self.timer(text)

    # --- commands ------------------------------------------------------------------------------

    def _command(self, intent: Intent, source: str, now: float, out: list[Effect]) -> None:
        """Obey `intent`; the log records each command obeyed (after what an answer did,
        before what a command does)."""
        command = intent.command
        record = Record(now, "command", {"command": command.value, "source": source})
        if self.mode is Mode.ENDING:
            return
        if self.mode is Mode.CONFIRMING:
            if command is Command.YES:
                out.append(CutSpeech(now))
                self._finish(now, ENDED, out)
            elif command in (Command.NO, Command.RESUME):
                self._resume(now, out)
            elif command is Command.END:
                out.append(Say(now, CONFIRM_END, "prompt"))
            else:
                return
            out.append(record)
        elif self.mode is Mode.RUNNING and self.step.kind is StepKind.QUESTION and command in (
            Command.NUMBER, Command.YES, Command.NO
        ):
            if self._answer_question(intent, now, out):
                out.append(record)
        elif command in _HANDLERS:
            out.append(record)
            _HANDLERS[command](self, now, out)

    def _answer_question(self, intent: Intent, now: float, out: list[Effect]) -> bool:
        """A number, yes or no said to a question step. False when it does not fit."""
        if self.step.tag != "resume":
            reply = self._answers.rate(self.step.tag, intent, now)
            if reply is not None:
                out += reply.effects
                self._ask(now, reply.text, reply.wait, out)
            return reply is not None
        if intent.command is Command.NUMBER:
            return False
        accepted = intent.command is Command.YES
        out.append(self._answers.answer_offer(accepted, now))
        if accepted:  # the welcome (and its safety note), then where it stopped
            del self.steps[self._i + 2:self._answers.resume_target]
        self._move(self._i + 1, now, out)
        return True

    def _ask(self, now: float, text: str, wait: float, out: list[Effect]) -> None:
        """Say `text` now and let the question step wait `wait` seconds after it."""
        offset = now - self._start
        self._items = (*self._items[: self._next], SayItem(offset, text, "prompt"))
        self._duration = offset + self.timer(text) + wait
        self._advance(now, out)

    def _pause(self, now: float, out: list[Effect]) -> None:
        if self.mode is Mode.RUNNING:
            self._paused_offset = now - self._start
        elif self.mode is not Mode.COUNTING_IN:
            return
        self._count_in = []
        self.mode = Mode.PAUSED
        self._paused_at = now
        out.append(CutSpeech(now))
        self._set_phase("paused", now, out)

    def do_pause(self, now: float, out: list[Effect]) -> None:
        if self.mode in (Mode.RUNNING, Mode.COUNTING_IN):
            self._pause(now, out)
            out.append(Say(now, PAUSED, "prompt"))

    def _resume(self, now: float, out: list[Effect]) -> None:
        step = self.step
        if step.kind in (StepKind.INTRO, StepKind.ANNOUNCE, StepKind.SUMMARY, StepKind.QUESTION):
            self._paused_offset = 0.0  # say the instructions again from the start
            self._answers.rating = None
        work = self._progress.work_start
        if step.kind in (StepKind.SET, StepKind.TIMED) and (work is None or
                                                            self._paused_offset < work):
            self._paused_offset = 0.0  # still in the countdown: the countdown is the count-in
            self._progress = SetProgress()
        counted = step.kind in (StepKind.SET, StepKind.TIMED) and self._paused_offset > 0
        seconds = COUNT_IN if counted else 0
        self._count_in = [(now + k, str(seconds - k)) for k in range(seconds)]
        self._resume_at = now + seconds
        if self._paused_offset == 0.0:
            self._next = 0
        self.mode = Mode.COUNTING_IN
        if not counted:
            self._advance(now, out)

    def do_resume(self, now: float, out: list[Effect]) -> None:
        if self.mode is Mode.PAUSED:
            self._resume(now, out)

    def do_next(self, now: float, out: list[Effect]) -> None:
        if self.step.kind is not StepKind.SUMMARY:
            self._move(self._i + 1, now, out)

    def do_back(self, now: float, out: list[Effect]) -> None:
        target = self._i - 1
        while target > 0 and self.steps[target].kind is StepKind.REST:
            target -= 1
        self._move(max(target, 0), now, out)

    def do_skip(self, now: float, out: list[Effect]) -> None:
        current = self.step.exercise
        for target in range(self._i + 1, len(self.steps)):
            step = self.steps[target]
            if step.kind in (StepKind.ANNOUNCE, StepKind.SUMMARY) and step.exercise != current:
                self._move(target, now, out, skipped=current is not None)
                return

    def do_repeat(self, now: float, out: list[Effect]) -> None:
        out.append(Say(now, self._last_instruction or HELP_TEXT, "prompt"))

    def do_tempo(self, now: float, out: list[Effect], direction: int) -> None:
        low, high = TEMPO_LIMITS
        factor = round(min(max(self._factor + direction * TEMPO_STEP, low), high), 2)
        word = "Slower" if direction > 0 else "Faster"
        if factor == self._factor:
            out.append(Say(now, f"That's as {word.lower()} as it goes.", "prompt"))
            return
        self._factor = factor
        exercise = self._exercise_or_none()
        out.append(Record(now, "tempo", {"exercise": exercise.name if exercise else "",
                                         "factor": factor}))
        if self.step.kind is StepKind.SET and exercise is not None:
            seconds = exercise.rep_seconds * factor
            # a cue, so the next count cuts it rather than waiting for it
            out.append(Say(now, f"{word}: {seconds:g} seconds a rep.", "cue"))
            self._retime(exercise, self._offset(now))
        else:
            out.append(Say(now, f"{word}.", "cue"))

    def _retime(self, exercise: Exercise, offset: float) -> None:
        """Reps not yet begun take the new tempo; the one in progress finishes as it was.
        Nothing before `offset` (the step's time now) is planned again: between sides, the
        "switch" cue was already said."""
        progress = self._progress
        if progress.work_start is None:  # still in the countdown: every rep, after it
            first = 0
            boundary = next((i.offset for i in self._items
                             if isinstance(i, PhaseItem) and i.phase == "work"), 0.0)
        else:
            first = progress.slot + 1
            boundary = progress.rep_start + exercise.rep_seconds * self._built_factor
            if progress.slot < 0:
                boundary = progress.work_start
        kept = [i for i in self._items[self._next:] if i.offset < boundary - 1e-9 or (
            isinstance(i, PhaseItem) and abs(i.offset - boundary) <= 1e-9)]
        new, end = reps_timeline(exercise, self._factor, first, boundary)
        new = [i for i in new if i.offset >= offset - 1e-9]
        self._items = self._items[: self._next] + merge_says([*kept, *new])
        self._duration = end
        self._built_factor = self._factor

    def _offset(self, now: float) -> float:
        """Where the current step is at `now`: its frozen offset while not running."""
        return self._paused_offset if self.mode is not Mode.RUNNING else now - self._start

    def do_status(self, now: float, out: list[Effect]) -> None:
        out.append(Say(now, self.status_text(now), "prompt"))

    def status_text(self, now: float) -> str:
        step = self.step
        to_go = spoken_duration(max(self._duration - self._offset(now), 0))
        if step.kind is StepKind.SET:
            exercise = self._exercise()
            progress = self._progress
            if exercise.sides is Sides.NONE:
                left = (exercise.reps or 0) - progress.max_rep
                where = "left"
            else:
                left = (exercise.reps or 0) - min(progress.side_reps.get(s, 0)
                                                  for s in ("left", "right"))
                where = "left on each side"
            return f"{_count(left, 'rep')} {where}. Set {step.set} of {exercise.sets}."
        if step.kind is StepKind.TIMED:
            return f"{to_go} to go."
        if step.kind is StepKind.REST and step.exercise is not None:
            return f"{to_go} of rest left. {next_up(self.routine, step.exercise, step.set or 1)}"
        if step.exercise is not None:
            exercise = self._exercise()
            return f"Next: {exercise.name}, {describe(exercise)}."
        return f"{_count(len(self.routine.exercises), 'exercise')} to go."

    def do_help(self, now: float, out: list[Effect]) -> None:
        out.append(Say(now, HELP_TEXT, "prompt"))

    def do_volume(self, now: float, out: list[Effect], direction: int) -> None:
        out.append(SetVolume(now, direction * VOLUME_STEP))
        out.append(Say(now, "Louder." if direction > 0 else "Quieter.", "cue"))

    def do_pain(self, now: float, out: list[Effect]) -> None:
        self._pause(now, out)
        exercise = self._exercise_or_none()
        out.append(Record(now, "pain", {"exercise": exercise.name if exercise else None}))
        out.append(Say(now, PAIN_ADVICE, "prompt"))

    def do_end(self, now: float, out: list[Effect]) -> None:
        self._pause(now, out)
        self.mode = Mode.CONFIRMING
        out.append(Say(now, CONFIRM_END, "prompt"))


_HANDLERS = {
    Command.PAUSE: Session.do_pause,
    Command.RESUME: Session.do_resume,
    Command.NEXT: Session.do_next,
    Command.BACK: Session.do_back,
    Command.SKIP: Session.do_skip,
    Command.REPEAT: Session.do_repeat,
    Command.STATUS: Session.do_status,
    Command.HELP: Session.do_help,
    Command.END: Session.do_end,
    Command.PAIN: Session.do_pain,
    Command.SLOWER: lambda s, now, out: s.do_tempo(now, out, +1),
    Command.FASTER: lambda s, now, out: s.do_tempo(now, out, -1),
    Command.LOUDER: lambda s, now, out: s.do_volume(now, out, +1),
    Command.QUIETER: lambda s, now, out: s.do_volume(now, out, -1),
}

def _count(n: int, noun: str) -> str:
    """ "1 rep", "3 reps"."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


#: The commands that always make sense; answers only when a question asks for them.
_COMMANDS = frozenset(_HANDLERS)
_YES_NO = frozenset({Command.YES, Command.NO})
#: What a person can usefully say in each kind of moment (`Session.expecting` picks one):
#: during a set, the commands; at a yes/no question, the answers too; at a pain rating,
#: the numbers too. `listen --expect` hears a recording as one of these moments.
EXPECTED: dict[str, frozenset[Command]] = {
    "commands": _COMMANDS,
    "question": _COMMANDS | _YES_NO,
    "rating": _COMMANDS | {Command.NUMBER},
}
#: The moment each answer `Snapshot.asking` shows is.
_MOMENTS = {"": "commands", "number": "rating", "yes/no": "question", "end": "question"}
