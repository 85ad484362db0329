"""Routine -> an ordered list of timed steps (pure).

A step is a timeline: items (speech, rep counts, phase changes) at offsets from the step's
start, and a duration. The session walks these timelines; `show` and `render` read the
same plan, so what is shown, rendered and simulated always agree.

Speech takes time, so steps that are mostly speech (the intro, each exercise's
instructions, the summary) are sized by a `SpeechTimer`: the real synthesiser's measured
length when there is one, otherwise an estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Literal

from assistant.events import SayKind
from assistant.routine import (
    Cue,
    Exercise,
    Routine,
    Sides,
    plural,
    render_template,
    spoken_duration,
)

SpeechTimer = Callable[[str], float]

GAP = 1.0  # quiet after an instruction, before what follows
SWITCH_SECONDS = 4.0  # time to change sides between the two halves of a `sides: each` set
GET_READY = 5.0  # "get ready" this long before a rest ends
HOLD_WORD = "Hold"
RELEASE_WORD = "And release"


def estimate_speech(text: str, rate: int = 175) -> float:
    """Seconds an average voice takes for `text` at `rate` words per minute (no TTS at hand)."""
    chars = len(text.strip())
    return 0.25 + chars * (60.0 / rate) / 5.7 if chars else 0.0


class StepKind(str, Enum):
    INTRO = "intro"
    ANNOUNCE = "announce"  # an exercise's name, position and instructions
    SET = "set"  # one set of a rep exercise: countdown, then counted reps
    TIMED = "timed"  # one set of a timed exercise: countdown, then the clock
    REST = "rest"
    QUESTION = "question"  # a spoken question that waits for an answer (pain check-in)
    SUMMARY = "summary"


Phase = Literal["ready", "work", "hold", "rest", "paused", "done"]


@dataclass(frozen=True)
class SayItem:
    offset: float
    text: str
    kind: SayKind


@dataclass(frozen=True)
class RepItem:
    offset: float
    slot: int  # index of this movement in the set, 0-based (sides alternate: 2 per rep)
    rep: int  # 1-based, per side
    side: str | None  # "left", "right" or None


@dataclass(frozen=True)
class PhaseItem:
    offset: float
    phase: Phase


Item = SayItem | RepItem | PhaseItem


@dataclass(frozen=True)
class Step:
    kind: StepKind
    duration: float
    items: tuple[Item, ...]
    exercise: int | None = None  # index into routine.exercises
    set: int | None = None  # 1-based
    title: str = ""
    tag: str = ""  # what a QUESTION step asks: "pain_before", "pain_after", "resume"


@dataclass(frozen=True)
class Plan:
    routine: Routine
    steps: tuple[Step, ...]

    @property
    def total(self) -> float:
        return sum(s.duration for s in self.steps)

    def starts(self) -> list[float]:
        """Session time at which each step starts, when nobody says anything."""
        out, t = [], 0.0
        for step in self.steps:
            out.append(t)
            t += step.duration
        return out


def _sorted(items: Iterable[Item]) -> tuple[Item, ...]:
    order = {PhaseItem: 0, RepItem: 1, SayItem: 2}
    return tuple(sorted(items, key=lambda i: (i.offset, order[type(i)])))


def merge_says(items: Iterable[Item]) -> tuple[Item, ...]:
    """Speech due at the same moment is said as one utterance, in order, each part a
    sentence of its own ("4, left. Step back" and a cue: "4, left. Step back. Halfway.")."""
    out: list[Item] = []
    for item in _sorted(items):
        prev = out[-1] if out else None
        if isinstance(item, SayItem) and isinstance(prev, SayItem) and prev.offset == item.offset:
            kind: SayKind = "count" if "count" in (prev.kind, item.kind) else prev.kind
            head = prev.text.rstrip()
            if head and head[-1] not in ".!?…:;":
                head += "."
            out[-1] = SayItem(item.offset, f"{head} {item.text}", kind)
        else:
            out.append(item)
    return tuple(out)


def speech_step(
    kind: StepKind, texts: list[str], timer: SpeechTimer, *, exercise: int | None = None,
    title: str = "", phase: Phase = "ready",
) -> Step:
    """A step that says each text in turn, with a short gap after each."""
    items: list[Item] = [PhaseItem(0.0, phase)]
    t = 0.0
    for text in texts:
        if not text.strip():
            continue
        items.append(SayItem(t, text, "instruction"))
        t += timer(text) + GAP / 2
    return Step(kind, t + GAP / 2, tuple(items), exercise=exercise, title=title)


# --- one set -----------------------------------------------------------------------------


def side_sequence(exercise: Exercise) -> list[tuple[int, str | None]]:
    """(rep, side) for every movement of one set, in order."""
    reps = exercise.reps or 0
    if exercise.sides is Sides.ALTERNATE:
        return [(r, s) for r in range(1, reps + 1) for s in ("left", "right")]
    if exercise.sides is Sides.EACH:
        return [(r, side) for side in ("left", "right") for r in range(1, reps + 1)]
    return [(r, None) for r in range(1, reps + 1)]


def own_halfway(exercise: Exercise) -> bool:
    """Whether the exercise has a cue of its own at 50 %: it then takes the place of the
    count's "Halfway", which would say the same thing twice."""
    return any(cue.at_fraction == 0.5 for cue in exercise.cues)


def count_text(exercise: Exercise, slot: int, rep: int, side: str | None, total: int) -> str:
    text = str(rep)
    if exercise.sides is Sides.ALTERNATE and side:
        text += f", {side}"
    if slot == total - 1 and total > 1:
        text += ". Last one"
    elif (exercise.sides is not Sides.EACH and total >= 8 and slot == total // 2
          and not own_halfway(exercise)):
        text += ". Halfway"
    return text + "."


def countdown_items(seconds: int, go: bool = True) -> tuple[list[Item], float]:
    """"3", "2", "1" one second apart, then "Go!"; returns the items and their length."""
    items: list[Item] = [PhaseItem(0.0, "ready")]
    for i in range(seconds):
        items.append(SayItem(float(i), str(seconds - i), "cue"))
    if go and seconds:
        items.append(SayItem(float(seconds), "Go!", "cue"))
        return items, float(seconds + 1)
    return items, float(seconds)


def rep_items(
    exercise: Exercise, factor: float, start: float, slot: int, rep: int, side: str | None,
    total: int,
) -> tuple[list[Item], float]:
    """The items of one movement starting at `start`, and its length (scaled by `factor`).

    The count (and the first phase word of a named tempo) is said as the movement starts;
    a hold comes after the first phase (or halfway through a plain tempo) and is counted
    down in seconds; later phase words are said as each phase begins."""
    phases = exercise.tempo.phases
    count = count_text(exercise, slot, rep, side, total)
    first_word = phases[0].word.capitalize()
    items: list[Item] = [
        RepItem(start, slot, rep, side),
        SayItem(start, f"{count} {first_word}".strip(), "count"),
    ]
    named = exercise.tempo.named
    t = start + (phases[0].seconds if named else exercise.tempo.seconds / 2) * factor
    if exercise.hold:
        items += [PhaseItem(t, "hold"), SayItem(t, HOLD_WORD, "cue")]
        whole = int(exercise.hold)
        items += [SayItem(t + k * factor, str(whole - k), "cue") for k in range(1, whole)]
        t += exercise.hold * factor
        items.append(PhaseItem(t, "work"))
        if not named:
            items.append(SayItem(t, RELEASE_WORD, "cue"))
    if named:
        for phase in phases[1:]:
            if phase.word:
                items.append(SayItem(t, phase.word.capitalize(), "cue"))
            t += phase.seconds * factor
    return items, (exercise.tempo.seconds + exercise.hold) * factor


def reps_timeline(
    exercise: Exercise, factor: float, first_slot: int, start: float
) -> tuple[list[Item], float]:
    """Items for the movements from `first_slot` on, starting at `start`; returns the end."""
    sequence = side_sequence(exercise)
    items: list[Item] = []
    t = start
    for slot in range(first_slot, len(sequence)):
        rep, side = sequence[slot]
        if exercise.sides is Sides.EACH and side == "right" and rep == 1:
            items += [PhaseItem(t, "ready"), SayItem(t, "Switch to the right side.", "cue")]
            t += SWITCH_SECONDS
            items.append(PhaseItem(t, "work"))
        new, length = rep_items(exercise, factor, t, slot, rep, side, len(sequence))
        items.extend(new)
        t += length
    return items, t


def cue_items(exercise: Exercise, number: int, start: float, length: float) -> list[Item]:
    """An exercise's own cues, on the clock of one set that lasts `length` from `start`."""
    items: list[Item] = []

    def at(offset: float, cue: Cue) -> None:
        if 0 < offset < length:
            values = template_values(exercise, number, elapsed=offset, remaining=length - offset)
            items.append(SayItem(start + offset, render_template(cue.say, values), "cue"))

    for cue in exercise.cues:
        if cue.every:
            for k in range(1, math.ceil(length / cue.every)):
                at(k * cue.every, cue)
        elif cue.at_fraction is not None:
            at(cue.at_fraction * length, cue)
        elif cue.at_seconds is not None:
            at(cue.at_seconds, cue)
    if exercise.timed and not exercise.cues and 40 <= length <= 600:
        items.append(SayItem(start + length / 2, "Halfway.", "cue"))
        items.append(SayItem(start + length - 10, "10 seconds to go.", "cue"))
    return items


def template_values(
    exercise: Exercise, number: int, *, rep: int | None = None, side: str | None = None,
    elapsed: float | None = None, remaining: float | None = None,
) -> dict[str, str]:
    values = {
        "exercise": exercise.name,
        "set": str(number),
        "sets": str(exercise.sets),
        "reps": str(exercise.reps or ""),
        "rep": str(rep or ""),
        "side": side or "",
    }
    if elapsed is not None:
        values["elapsed"] = spoken_duration(elapsed)
    if remaining is not None:
        values["remaining"] = spoken_duration(remaining)
    return values


def set_step(exercise: Exercise, index: int, number: int, factor: float = 1.0) -> Step:
    """One set: countdown, then reps on tempo (or the clock of a timed exercise)."""
    items, t = countdown_items(exercise.countdown)
    items.append(PhaseItem(t, "work"))
    if exercise.timed:
        length = exercise.duration or 0.0
        items.extend(cue_items(exercise, number, t, length))
        end = t + length
        kind = StepKind.TIMED
    else:
        reps, end = reps_timeline(exercise, factor, 0, t)
        items.extend(reps)
        items.extend(cue_items(exercise, number, t, end - t))
        kind = StepKind.SET
    title = f"{exercise.name}, set {number} of {exercise.sets}"
    return Step(kind, end, merge_says(items), exercise=index, set=number, title=title)


# --- the whole routine -------------------------------------------------------------------


def describe(exercise: Exercise) -> str:
    """What an exercise asks for, in words: "2 sets of 10 on each side, alternating"."""
    if exercise.timed:
        amount = spoken_duration(exercise.duration or 0)
        return amount if exercise.sets == 1 else f"{exercise.sets} sets of {amount}"
    reps = plural(exercise.reps or 0, "rep")
    if exercise.sides is Sides.ALTERNATE:
        reps += " on each side, alternating"
    elif exercise.sides is Sides.EACH:
        reps += " on each side, left side first"
    return reps if exercise.sets == 1 else f"{exercise.sets} sets of {reps}"


def announce_text(routine: Routine, index: int) -> list[str]:
    exercise = routine.exercises[index]
    head = f"Exercise {index + 1} of {len(routine.exercises)}: {exercise.name}."
    if exercise.position:
        head += f" Position: {exercise.position}."
    head += f" {describe(exercise).capitalize()}."
    values = template_values(exercise, 1)
    return [head, render_template(exercise.instructions, values)]


def next_up(routine: Routine, index: int, number: int) -> str:
    """What comes after set `number` of exercise `index`."""
    exercise = routine.exercises[index]
    if number < exercise.sets:
        return f"Next up: set {number + 1} of {exercise.sets}."
    if index + 1 < len(routine.exercises):
        return f"Next up: {routine.exercises[index + 1].name}."
    return "That was the last one."


def rest_step(routine: Routine, index: int, number: int) -> Step | None:
    exercise = routine.exercises[index]
    if exercise.rest <= 0:
        return None
    rest = spoken_duration(exercise.rest)
    text = f"Well done. Rest for {rest}. {next_up(routine, index, number)}"
    items: list[Item] = [PhaseItem(0.0, "rest"), SayItem(0.0, text, "instruction")]
    if exercise.rest >= 3 * GET_READY:
        items.append(SayItem(exercise.rest - GET_READY, "Get ready.", "cue"))
    return Step(StepKind.REST, exercise.rest, tuple(items), exercise=index, set=number,
                title=f"Rest {spoken_duration(exercise.rest)}")


def intro_texts(routine: Routine) -> list[str]:
    first = f"Welcome to {routine.name}."
    if routine.description:
        first += f" {render_template(routine.description, {})}"
    texts = [first]
    if routine.safety:
        texts.append(render_template(routine.safety, {}))
    return texts


def summary_text(routine: Routine, sets: int, reps: int) -> str:
    """The last words. They do not depend on how long the session took, so pausing
    lengthens a session by exactly the pause."""
    done = f"You did {plural(sets, 'set')}"
    if reps:
        done += f" and {plural(reps, 'rep')}"
    return f"That's the end of {routine.name}. {done}. Well done."


ANSWER_WAIT = 10.0  # how long a question waits for an answer before moving on
PAIN_BEFORE = "Before we start: how much pain do you have right now, from 0 to 10?"
PAIN_AFTER = "How much pain do you have now, from 0 to 10?"


def question_step(text: str, tag: str, timer: SpeechTimer, title: str) -> Step:
    """Ask, then wait for an answer; with no answer the session moves on by itself."""
    items = (PhaseItem(0.0, "ready"), SayItem(0.0, text, "prompt"))
    return Step(StepKind.QUESTION, timer(text) + ANSWER_WAIT, items, title=title, tag=tag)


def build_plan(routine: Routine, timer: SpeechTimer) -> Plan:
    """Every step of the routine in order, as it runs when nobody says anything."""
    steps: list[Step] = [speech_step(StepKind.INTRO, intro_texts(routine), timer, title="Welcome")]
    if routine.checkin == "pain":
        steps.append(question_step(PAIN_BEFORE, "pain_before", timer, "Pain check-in"))
    count = len(routine.exercises)
    for index, exercise in enumerate(routine.exercises):
        steps.append(speech_step(StepKind.ANNOUNCE, announce_text(routine, index), timer,
                                 exercise=index, title=exercise.name))
        for number in range(1, exercise.sets + 1):
            steps.append(set_step(exercise, index, number))
            last = number == exercise.sets and index == count - 1
            rest = None if last else rest_step(routine, index, number)
            if rest:
                steps.append(rest)
    if routine.checkin == "pain":
        steps.append(question_step(PAIN_AFTER, "pain_after", timer, "Pain check-in"))
    sets = sum(e.sets for e in routine.exercises)
    reps = sum(e.sets * len(side_sequence(e)) for e in routine.exercises if not e.timed)
    steps.append(summary_step(routine, sets, reps, timer))
    return Plan(routine, tuple(steps))


def summary_step(routine: Routine, sets: int, reps: int, timer: SpeechTimer) -> Step:
    step = speech_step(StepKind.SUMMARY, [summary_text(routine, sets, reps)], timer,
                       title="Summary")
    return replace(step, items=(*step.items, PhaseItem(step.duration, "done")))
