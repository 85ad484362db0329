"""The routines shipped in assistant/exercises: valid, safe, and as DESIGN describes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.loader import load_routine, validate_paths
from assistant.routine import Cue, Routine, Sides, Target, Tempo, TempoPhase

FOLDER = Path(__file__).resolve().parent.parent / "assistant" / "exercises"
FILES = sorted(FOLDER.glob("*.yaml"))


def spoken_texts(routine: Routine) -> list[str]:
    texts = [routine.description, routine.safety]
    for exercise in routine.exercises:
        texts.append(exercise.instructions)
        texts.extend(cue.say for cue in exercise.cues)
    return texts


def test_the_four_bundled_routines_are_shipped() -> None:
    """The folder holds at least upper-back, desk-break, morning-mobility and
    strength-circuit, and the top-level `exercises` link shows the same files."""
    names = {path.stem for path in FILES}
    assert {"upper-back", "desk-break", "morning-mobility", "strength-circuit"} <= names
    top = Path(__file__).resolve().parent.parent / "exercises"
    assert sorted(p.name for p in top.glob("*.yaml")) == [p.name for p in FILES]


def test_every_bundled_routine_validates() -> None:
    """validate_paths finds no problem in any bundled file."""
    assert [str(e) for e in validate_paths(FILES)] == []


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_bundled_routine_has_a_spoken_safety_note_that_says_stop(path: Path) -> None:
    """Each routine has a safety note telling the person to stop an exercise that hurts."""
    routine = load_routine(path)
    assert routine.safety
    assert re.search(r"\bstop any exercise that (causes|makes)", routine.safety, re.IGNORECASE)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_no_bundled_text_urges_anyone_to_push_through_pain(path: Path) -> None:
    """No spoken text says to push through pain, or 'no pain, no gain'."""
    for text in spoken_texts(load_routine(path)):
        assert not re.search(r"push through|no pain|ignore the pain|work through", text, re.I)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_exercise_has_one_to_three_short_spoken_sentences(path: Path) -> None:
    """Each exercise's instructions are 1 to 3 sentences of at most 30 words each."""
    for exercise in load_routine(path).exercises:
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", exercise.instructions) if s]
        assert 1 <= len(sentences) <= 3, exercise.name
        assert all(len(s.split()) <= 30 for s in sentences), exercise.name


def test_upper_back_follows_design_sections_1_and_4() -> None:
    """Upper back relief: the physician safety note, a 30-minute brisk walk 5 days a week
    with its cues, seated knees to chest 2x10 alternating on a 2s/2s tempo, and the bird
    dog 2x8 alternating with a 3-second hold."""
    routine = load_routine(FOLDER / "upper-back.yaml")
    assert routine.name == "Upper back relief"
    assert routine.safety == (
        "If you do not know what causes your back pain, check with your physician first. "
        "Stop any exercise that makes the pain worse."
    )
    walk, knees, bird = routine.exercises
    assert (walk.name, walk.duration, walk.reps, walk.target) == (
        "Brisk walk",
        1800.0,
        None,
        Target(5),
    )
    assert walk.cues == (
        Cue(say="{remaining} to go.", every=300.0),
        Cue(say="Halfway there.", at_fraction=0.5),
    )
    assert (knees.name, knees.position, knees.sets, knees.reps, knees.sides) == (
        "Knees to chest",
        "seated",
        2,
        10,
        Sides.ALTERNATE,
    )
    assert knees.tempo == Tempo((TempoPhase("raise", 2.0), TempoPhase("lower", 2.0)))
    assert (bird.name, bird.position, bird.sets, bird.reps, bird.sides, bird.hold) == (
        "Bird dog",
        "hands and knees",
        2,
        8,
        Sides.ALTERNATE,
        3.0,
    )
