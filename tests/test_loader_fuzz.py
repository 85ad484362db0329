"""Property tests of the loader: any valid routine round-trips through YAML to exactly the
expected values (and the schema accepts it), and no input raises anything but
RoutineErrors."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant import loader
from assistant.errors import RoutineErrors
from assistant.loader import load_routine_text
from assistant.routine import (
    DEFAULT_COUNTDOWN,
    DEFAULT_REST,
    DEFAULT_TEMPO,
    TEMPLATE_NAMES,
    Cue,
    Exercise,
    Routine,
    Sides,
    Target,
    Tempo,
    TempoPhase,
    Voice,
)

SCHEMA = json.loads(
    Path(loader.__file__).with_name("routine.schema.json").read_text(encoding="utf-8")
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
EXERCISE = SCHEMA["$defs"]["exercise"]["properties"]
CUE = SCHEMA["$defs"]["cue"]["properties"]
# the ranges, read from the schema (the one description of the format)
SETS_RANGE = loader.CHECKER.bounds(EXERCISE["sets"])
REPS_RANGE = loader.CHECKER.bounds(EXERCISE["reps"])
DURATION_RANGE = loader.CHECKER.bounds(EXERCISE["duration"])
TEMPO_RANGE = loader.CHECKER.bounds(SCHEMA["$defs"]["tempoSeconds"])
REST_RANGE = loader.CHECKER.bounds(EXERCISE["rest"])
COUNTDOWN_RANGE = loader.CHECKER.bounds(EXERCISE["countdown"])
CUE_EVERY_RANGE = loader.CHECKER.bounds(CUE["every"])
CUE_AT_RANGE = loader.CHECKER.bounds(CUE["at"])
DAYS_PER_WEEK_RANGE = loader.CHECKER.bounds(EXERCISE["target"]["properties"]["days_per_week"])
VOICE_RATE_RANGE = loader.CHECKER.bounds(SCHEMA["properties"]["voice"]["properties"]["rate"])
MAX_TEMPO_PHASES = EXERCISE["tempo"]["anyOf"][1]["maxProperties"]
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- valid values, each with the value the loader must produce ------------------------------

CHARS = st.characters(
    codec="utf-8",
    exclude_categories=("Cc", "Cs", "Zl", "Zp", "Cn"),
    exclude_characters="\ufeff",
)


#: Names as written; the loader strips surrounding spaces.
NAMES = st.text(CHARS, min_size=1, max_size=40).filter(lambda s: s.strip() != "")

#: Spoken text: plain words without braces, valid templates and escaped braces.
SPOKEN = st.lists(
    st.one_of(
        st.text(CHARS.filter(lambda c: c not in "{}"), max_size=15),
        st.sampled_from(sorted(TEMPLATE_NAMES)).map(lambda n: "{" + n + "}"),
        st.sampled_from(["{{", "}}"]),
    ),
    max_size=6,
).map("".join)


def _hms(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")


def whole_seconds(seconds: int, form: int) -> tuple[Any, float]:
    """Whole seconds written in one of five forms: 90, "90", "90s", "1m30s", "1m 30s"."""
    written: Any = [
        seconds,
        str(seconds),
        f"{seconds}s",
        _hms(seconds),
        " ".join(_split(_hms(seconds))),
    ][form]
    return written, float(seconds)


@functools.cache
def durations(lo: float, hi: float) -> st.SearchStrategy[tuple[Any, float]]:
    """(value as written in YAML, seconds) for durations within lo..hi, in every form."""
    forms: list[st.SearchStrategy[tuple[Any, float]]] = []
    if math.ceil(lo) <= math.floor(hi):
        whole = st.integers(math.ceil(lo), math.floor(hi))
        forms += [whole.map(functools.partial(whole_seconds, form=f)) for f in range(5)]
    tenths = st.integers(math.ceil(lo * 10), math.floor(hi * 10))
    forms += [
        tenths.map(lambda k: (k / 10, k / 10)),
        tenths.map(lambda k: (f"{k / 10}s", k / 10)),
    ]
    if math.ceil(lo / 6) <= math.floor(hi / 6):
        minutes = st.integers(math.ceil(lo / 6), math.floor(hi / 6))
        forms.append(
            minutes.map(lambda k: (f"{k / 10}m", float(f"{k / 10}") * 60)).filter(
                lambda pair: lo <= pair[1] <= hi
            )
        )
    return st.one_of(forms)


def _split(text: str) -> list[str]:
    """ "1h2m3s" as ["1h", "2m", "3s"]."""
    parts, current = [], ""
    for char in text:
        current += char
        if char.isalpha():
            parts.append(current)
            current = ""
    return parts


def wholes(lo: int, hi: int) -> st.SearchStrategy[tuple[Any, int]]:
    """(value as written, whole number): an int, or a float with nothing after the point."""
    return st.integers(lo, hi).flatmap(lambda n: st.sampled_from([(n, n), (float(n), n)]))


PHASE_WORDS = st.from_regex(r"\A[A-Za-z][A-Za-z' -]{0,12}\Z", fullmatch=True)


@st.composite
def tempos(draw: st.DrawFn) -> tuple[Any, Tempo]:
    """A tempo of at most 60 s: seconds per rep, or named phases in order."""
    if draw(st.booleans()):
        written, seconds = draw(durations(TEMPO_RANGE[0], 60.0))
        return written, Tempo.per_rep(seconds)
    words = draw(st.lists(PHASE_WORDS, min_size=1, max_size=MAX_TEMPO_PHASES, unique=True))
    phases = [(word, draw(durations(TEMPO_RANGE[0], 10.0))) for word in words]
    return (
        {word: written for word, (written, _s) in phases},
        Tempo(tuple(TempoPhase(word, seconds) for word, (_w, seconds) in phases)),
    )


SETTING_STRATEGIES: dict[str, st.SearchStrategy[tuple[Any, Any]]] = {
    "sets": wholes(*SETS_RANGE),
    "sides": st.sampled_from([(s.value, s) for s in Sides]),
    "tempo": tempos(),
    "hold": durations(0.0, 60.0),
    "rest": durations(*REST_RANGE),
    "countdown": wholes(*COUNTDOWN_RANGE),
}


@st.composite
def settings_subset(draw: st.DrawFn, keys: tuple[str, ...]) -> dict[str, tuple[Any, Any]]:
    chosen = draw(st.lists(st.sampled_from(keys), unique=True))
    return {key: draw(SETTING_STRATEGIES[key]) for key in chosen}


@st.composite
def cues(
    draw: st.DrawFn, set_seconds: float, timed: bool
) -> tuple[list[dict[str, Any]], tuple[Cue, ...]]:
    docs: list[dict[str, Any]] = []
    values: list[Cue] = []
    for _ in range(draw(st.integers(0, 3))):
        say = draw(SPOKEN)
        kind = draw(st.sampled_from(["every", "percent", "at"]))
        every_hi = (
            min(CUE_EVERY_RANGE[1], set_seconds) if timed else CUE_EVERY_RANGE[1]
        )
        if kind == "every" and every_hi >= CUE_EVERY_RANGE[0]:
            low = int(CUE_EVERY_RANGE[0])
            written, seconds = whole_seconds(
                draw(st.integers(low, math.floor(every_hi))), draw(st.integers(0, 4))
            )
            docs.append({"every": written, "say": say})
            values.append(Cue(say=say.strip(), every=seconds))
        elif kind == "percent":
            tenths = draw(st.integers(1, 1000))
            text = f"{tenths // 10}%" if tenths % 10 == 0 else f"{tenths / 10}%"
            docs.append({"say": say, "at": text})
            values.append(Cue(say=say.strip(), at_fraction=float(text[:-1]) / 100))
        else:
            high = math.floor(min(CUE_AT_RANGE[1], set_seconds))
            written, seconds = whole_seconds(draw(st.integers(0, high)), draw(st.integers(0, 4)))
            docs.append({"at": written, "say": say})
            values.append(Cue(say=say.strip(), at_seconds=seconds))
    return docs, tuple(values)


@st.composite
def exercises(
    draw: st.DrawFn, name: str, defaults: dict[str, tuple[Any, Any]]
) -> tuple[dict[str, Any], Exercise]:
    doc: dict[str, Any] = {"name": name}
    timed = draw(st.booleans())
    own_keys = ("sets", "sides", "rest", "countdown") if timed else loader.DEFAULTS_KEYS
    own = draw(settings_subset(own_keys))
    if draw(st.booleans()):
        doc["instructions"] = draw(SPOKEN)
    if draw(st.booleans()):
        doc["position"] = draw(NAMES)
    reps = duration = None
    if timed:
        doc["duration"], duration = draw(durations(*DURATION_RANGE))
    else:
        doc["reps"], reps = draw(wholes(*REPS_RANGE))
    for key, (written, _value) in own.items():
        doc[key] = written

    def value(key: str, builtin: Any) -> Any:
        if key in own:
            return own[key][1]
        if key in defaults and not (timed and key in ("tempo", "hold")):
            return defaults[key][1]
        return builtin

    sides = value("sides", Sides.NONE)
    tempo = value("tempo", DEFAULT_TEMPO)
    hold = value("hold", 0.0)
    if duration is not None:
        set_seconds = duration
    else:
        assert reps is not None
        set_seconds = reps * (1 if sides is Sides.NONE else 2) * (tempo.seconds + hold)
    cue_docs, cue_values = draw(cues(set_seconds, timed))
    keep_empty: bool = draw(st.booleans())
    if cue_docs or keep_empty:
        doc["cues"] = cue_docs
    target = None
    if draw(st.booleans()):
        written, days = draw(wholes(*DAYS_PER_WEEK_RANGE))
        doc["target"] = {"days_per_week": written}
        target = Target(days)
    expected = Exercise(
        name=name.strip(),
        instructions=doc.get("instructions", "").strip(),
        position=doc["position"].strip() if "position" in doc else None,
        sets=value("sets", 1),
        reps=reps,
        duration=duration,
        sides=sides,
        tempo=tempo,
        hold=hold,
        rest=value("rest", DEFAULT_REST),
        countdown=value("countdown", DEFAULT_COUNTDOWN),
        cues=cue_values,
        target=target,
    )
    return doc, expected


@st.composite
def routines(draw: st.DrawFn) -> tuple[dict[str, Any], Routine]:
    """A valid routine as a dict ready for yaml.safe_dump, and the Routine it must load as."""
    doc: dict[str, Any] = {"name": draw(NAMES)}
    for key in ("description", "safety"):
        if draw(st.booleans()):
            doc[key] = draw(SPOKEN)
    voice = Voice()
    if draw(st.booleans()):
        voice_doc: dict[str, Any] = {}
        if draw(st.booleans()):
            voice_doc["name"] = draw(NAMES)
        if draw(st.booleans()):
            voice_doc["rate"], rate = draw(wholes(*VOICE_RATE_RANGE))
            voice = Voice(voice.name, rate, voice.volume)
        if draw(st.booleans()):
            volume = draw(st.floats(0.0, 1.0))
            voice_doc["volume"] = volume
            voice = Voice(voice.name, voice.rate, volume)
        if "name" in voice_doc:
            voice = Voice(voice_doc["name"].strip(), voice.rate, voice.volume)
        doc["voice"] = voice_doc
    if draw(st.booleans()):
        doc["checkin"] = "pain"
    defaults = draw(settings_subset(loader.DEFAULTS_KEYS))
    keep_empty: bool = draw(st.booleans())
    if defaults or keep_empty:
        doc["defaults"] = {key: written for key, (written, _v) in defaults.items()}
    exercise_names = draw(
        st.lists(NAMES, min_size=1, max_size=4, unique_by=lambda n: " ".join(n.casefold().split()))
    )
    pairs = [draw(exercises(name, defaults)) for name in exercise_names]
    doc["exercises"] = [d for d, _e in pairs]
    expected = Routine(
        name=doc["name"].strip(),
        exercises=tuple(e for _d, e in pairs),
        description=doc.get("description", "").strip(),
        safety=doc.get("safety", "").strip(),
        voice=voice,
        checkin="pain" if "checkin" in doc else None,
        source="gen.yaml",
    )
    return doc, expected


@FUZZ
@given(routines(), st.booleans(), st.booleans())
def test_any_valid_routine_round_trips_to_the_expected_values(
    case: tuple[dict[str, Any], Routine], unicode: bool, flow: bool
) -> None:
    """A valid routine dumped with yaml.safe_dump (any style) loads back as exactly the
    expected Routine."""
    doc, expected = case
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=unicode, default_flow_style=flow)
    assert load_routine_text(text, "gen.yaml") == expected


@FUZZ
@given(routines())
def test_the_schema_accepts_every_valid_routine(case: tuple[dict[str, Any], Routine]) -> None:
    """Every routine the loader accepts (as generated) is valid for the JSON Schema too."""
    doc, _expected = case
    assert [e.message for e in VALIDATOR.iter_errors(doc)] == []


# --- anything at all only ever raises RoutineErrors ----------------------------------------


def only_routine_errors(data: str | bytes) -> None:
    """Loading `data` returns a Routine or raises RoutineErrors with well-formed lines."""
    try:
        load_routine_text(data, "fuzz.yaml")
    except RoutineErrors as exc:
        assert exc.errors
        for error in exc.errors:
            assert error.line >= 1 and error.col >= 1
            assert str(error) == f"fuzz.yaml:{error.line}:{error.col}: {error.message}"
            assert "\n" not in str(error)
            assert not error.message.startswith("internal error")


YAMLISH = st.lists(
    st.sampled_from([*"abn01.:-[]{}&*!|>'\"#%@?,~ \n\t\x00é", "name", "exercises", "reps", "  - "]),
    max_size=150,
).map("".join)


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_only_ever_raise_routine_errors(data: bytes) -> None:
    """Any bytes at all give a Routine or RoutineErrors, never another exception."""
    only_routine_errors(data)


@FUZZ
@given(st.text(max_size=500))
def test_random_text_only_ever_raises_routine_errors(text: str) -> None:
    """Any text, including surrogates and control characters, gives only RoutineErrors."""
    only_routine_errors(text)


@FUZZ
@given(YAMLISH)
def test_yaml_like_text_only_ever_raises_routine_errors(text: str) -> None:
    """Text made of YAML punctuation and routine words gives only RoutineErrors."""
    only_routine_errors(text)


@FUZZ
@given(routines(), st.data())
def test_damaged_valid_routines_only_ever_raise_routine_errors(
    case: tuple[dict[str, Any], Routine], data: st.DataObject
) -> None:
    """A valid routine with a slice cut out or junk pasted in gives only RoutineErrors."""
    text = yaml.safe_dump(case[0], sort_keys=False)
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    junk = data.draw(YAMLISH)
    only_routine_errors(text[:start] + junk + text[end:])


@FUZZ
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=30,
    )
)
def test_any_yaml_value_only_ever_raises_routine_errors(value: Any) -> None:
    """Any structure of YAML values, dumped as a file, gives only RoutineErrors."""
    only_routine_errors(yaml.safe_dump(value))
