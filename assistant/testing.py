"""Fakes shipped with the package, for tests of pure logic (here and in users' own code).

from assistant.testing import run_session, fixed_timer
transcript = run_session(routine, commands=[(12.5, "pause"), (42.5, "resume")])
reps = transcript.records("rep")
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from assistant.commands import DEFAULT_VOCABULARY, Command, Intent, parse_command_name
from assistant.ear.engines import Engine, Recognition
from assistant.ear.engines.whisper import BargeInEar
from assistant.eventlog import Transcript
from assistant.events import Heard, Say
from assistant.plan import Plan, SpeechTimer, build_plan
from assistant.routine import Routine
from assistant.runner import Scripted, simulate
from assistant.session import Session, SessionOptions

#: A routine whose first instruction is long enough to talk over: the barge-in tests and
#: `bench barge_in` say pause words into it.
BARGE_IN_ROUTINE = """\
name: Barge in
safety: Stop any exercise that hurts, and check with your physician if you are unsure.
exercises:
  - name: Cat cow
    position: hands and knees
    instructions: >
      Start on your hands and knees. Breathe in as you let your belly sink and lift your
      head gently. Breathe out as you round your back toward the ceiling and tuck your chin.
    reps: 4
    tempo: 3s
"""


def colored_noise(rng: np.random.Generator, n: int, kind: str, rate: int = 16000
                  ) -> np.ndarray:
    """Unit-RMS white, pink or brown noise of n samples."""
    white = rng.standard_normal(n)
    if kind != "white":
        spec = np.fft.rfft(white)
        f = np.maximum(np.fft.rfftfreq(n, 1 / rate), 20.0)
        spec /= np.sqrt(f) if kind == "pink" else f
        white = np.fft.irfft(spec, n)
    return (white / (np.sqrt(np.mean(white**2)) + 1e-12)).astype(np.float32)


def fan(seconds: float, level_db: float, seed: int) -> np.ndarray:
    """A steady fan for the microphone: pink noise at `level_db` dBFS, 16 kHz."""
    noise = colored_noise(np.random.default_rng(seed), round(seconds * 16000), "pink")
    return (noise * np.float32(10 ** (level_db / 20))).astype(np.float32)


def espeak_clip(text: str, voice: str = "en-us", rate: int | None = None) -> np.ndarray:
    """`text` by eSpeak NG (at `rate` words per minute, or its own), 16 kHz, at about
    -20 dBFS, with 0.25 s of quiet room before and after: a command for recognition tests."""
    import io
    import subprocess

    import soundfile as sf
    import soxr

    speed = ["-s", str(rate)] if rate is not None else []
    out = subprocess.run(["espeak-ng", "-v", voice, *speed, "--stdout", text],
                         capture_output=True, check=True)
    audio, sr = sf.read(io.BytesIO(out.stdout), dtype="float32")
    audio = soxr.resample(audio, sr, 16000).astype(np.float32)
    audio = audio / np.sqrt(np.mean(audio**2)) * 0.1
    pad = np.zeros(16000 // 4, np.float32)
    clip = np.concatenate([pad, audio, pad])
    return clip + np.random.default_rng(0).normal(0, 5e-4, len(clip)).astype(np.float32)


def fixed_timer(seconds_per_char: float = 0.06) -> SpeechTimer:
    """Speech that lasts in proportion to its length: deterministic, no TTS needed."""
    return lambda text: round(len(text) * seconds_per_char, 3)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


class RecordingSpeaker:
    """A Speaker that remembers what it was asked to do, and plays silence."""

    def __init__(self) -> None:
        self.said: list[Say] = []
        self.cuts: list[float] = []
        self.phases: list[tuple[float, str]] = []
        self.volume = 1.0

    def schedule(self, say: Say) -> None:
        self.said.append(say)

    def cut(self, t: float) -> None:
        self.cuts.append(t)

    def change_volume(self, step: float) -> None:
        self.volume = min(max(self.volume + step, 0.0), 1.0)

    def set_phase(self, t: float, phase: str) -> None:
        self.phases.append((t, phase))

    def audio(self, start_t: float, end_t: float) -> np.ndarray:
        return np.zeros(max(0, round((end_t - start_t) * 16000)), dtype=np.float32)

    def play(self, start_t: float, end_t: float) -> np.ndarray:
        return self.audio(start_t, end_t)


class ScriptedListener:
    """A listener that 'hears' given phrases when the microphone stream reaches their end
    time: for driving the session through the listening path without audio."""

    def __init__(self, phrases: Iterable[tuple[float, float, str]]) -> None:
        self._pending = sorted(phrases)
        self._t = 0.0
        self.expected: frozenset[Command] | None = None

    def expect(self, commands: frozenset[Command] | None) -> None:
        self.expected = commands

    def process(self, mic: np.ndarray, reference: np.ndarray | None = None) -> list[Heard]:
        self._t += len(mic) / 16000
        out = []
        while self._pending and self._pending[0][1] <= self._t + 1e-9:
            start, end, text = self._pending.pop(0)
            intent = DEFAULT_VOCABULARY.parse(text)
            if intent is not None and (self.expected is None or intent.command in self.expected):
                out.append(Heard(intent, text, 0.9, start, end))
        return out


class ScriptedEngine(Engine):
    """A recognition engine that gives scripted answers, one per utterance, and keeps the
    audio it was fed (for tests of what is built on engines)."""

    name = "scripted"

    def __init__(self, answers: Iterable[str | None], classes: Sequence[str] = ()) -> None:
        self._answers = list(answers)
        self.classes = list(classes)
        #: Per class, the probability `probabilities()` reports (for a scoring engine).
        self.scores = np.zeros(len(self.classes), np.float32)
        self.fed: list[np.ndarray] = []

    def start_utterance(self) -> None:
        self.fed = []

    def feed(self, audio: np.ndarray) -> None:
        self.fed.append(np.array(audio, copy=True))

    def end_utterance(self, *, over_speech: bool = False) -> Recognition | None:
        text = self._answers.pop(0) if self._answers else None
        return None if text is None else Recognition(text, 0.9)

    def probabilities(self) -> np.ndarray:
        return self.scores


class AnsweringBargeInEar(BargeInEar):
    """A barge-in ear (`whisper.BargeInEar`) that loads nothing, answers `answer` (a pause
    word, or None) for every utterance, and keeps the audio of each it was asked about."""

    def __init__(self, answer: str | None) -> None:
        super().__init__(DEFAULT_VOCABULARY)
        self.answer = answer
        self.asked: list[np.ndarray] = []

    def prepare(self) -> None:
        """Nothing to load."""

    def hear(self, audio: np.ndarray) -> Recognition | None:
        self.asked.append(np.array(audio, copy=True))
        return None if self.answer is None else Recognition(self.answer, 0.5)


def script(commands: Iterable[tuple[float, str]]) -> list[Scripted]:
    """(t, name) pairs as key commands; a name that is not a command is parsed as speech."""
    out = []
    for t, name in commands:
        command = parse_command_name(name)
        if command is not None:
            out.append(Scripted(t, Intent(command), name))
        else:
            intent = DEFAULT_VOCABULARY.parse(name)
            if intent is None:
                raise ValueError(f"{name!r} is neither a command nor a phrase")
            out.append(Scripted(t, intent, name, spoken=True))
    return out


def run_session(
    routine: Routine,
    commands: Iterable[tuple[float, str]] = (),
    *,
    timer: SpeechTimer | None = None,
    options: SessionOptions | None = None,
) -> Transcript:
    """Simulate a whole session with scripted commands; returns every effect."""
    timer = timer or fixed_timer()
    plan: Plan = build_plan(routine, timer)
    transcript = Transcript()
    simulate(Session(plan, timer, options), [transcript], commands=script(commands))
    return transcript
