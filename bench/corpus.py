"""Test corpus for listening: long "microphone" streams with ground truth, seeded.

- Command utterances and other speech synthesised with eSpeak NG and flite, in the voices
  nothing was tuned on (`bench.voices`, split "test"). Synthesis is cached under `.cache/corpus/`.
- Streams: utterances separated by 1-2 s of quiet room noise, with the truth (phrase, start,
  end) of every utterance; conditions: clean, reverb (exponentially decaying noise impulse
  response, RT60 0.5 s), pink noise at 10 and 5 dB SNR, babble (several overlapping voices
  of other text) at 10 dB SNR.
- Conversation: ordinary sentences, many with command words inside, for false accepts.
- Echo scenes: the assistant's instructions as the loudspeaker reference, mixed into the
  microphone with a gain and a delay, optionally with the user saying a command over them.
- Real voices: the Speech Commands sample in ../shared/data/speech_commands (evaluation only).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from assistant.commands import Vocabulary
from bench import voices

SAMPLE_RATE = 16000
ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "corpus"
REAL_VOICES = ROOT.parent / "shared" / "data" / "speech_commands"
ROOM_DB = -66.0  # the quiet room: a real microphone never gives digital silence

#: Ordinary talk, many sentences with a command word inside (none is a command as a whole).
CONVERSATION = [
    "i will call my sister next week",
    "we had to stop at the garage on the way",
    "can you wait for me after the next class",
    "she asked for help with her homework",
    "the kids want to go back to the beach",
    "please continue reading where you left off",
    "i think the faster train leaves at noon",
    "my back is much better since i started walking",
    "how many cups of flour does the recipe need",
    "you can skip the first chapter it is boring",
    "he wants to repeat the whole year at school",
    "the music was louder than i expected",
    "the previous tenant left a mess in the kitchen",
    "we ate dinner at seven and went to bed at ten",
    "no one knows where the keys are",
    "yes that is exactly what i meant",
    "it hurts a little when i bend my knee",
    "let us pause the movie and make some popcorn",
    "slow down a bit the road is icy",
    "the end of the story was a surprise",
    "i counted five birds on the fence this morning",
    "my neighbour is painting his house blue",
    "the coffee machine is broken again",
    "do you remember the name of that restaurant",
    "we should plant tomatoes in the spring",
    "the bus was crowded so i walked home",
    "my phone battery is almost empty",
    "there is a sale at the shoe shop on saturday",
    "he fixed the bicycle with an old spoon",
    "the doctor said to drink more water",
]

#: Short replies and interjections that are not commands.
SHORT_TALK = [
    "okay",
    "alright",
    "thanks",
    "really",
    "maybe",
    "sure",
    "hello",
    "good idea",
    "oh dear",
    "never mind",
    "see you",
    "i see",
    "of course",
    "not really",
]

#: What the assistant itself says (the loudspeaker reference of echo scenes).
ASSISTANT_SPEECH = [
    "Sit tall. Raise one knee toward your chest, lower it, then the other leg.",
    "Next up, bird dog. Straighten one leg behind you, bring it back, then the other leg.",
    "If you do not know what causes your back pain, check with your physician first. "
    "Stop any exercise that makes the pain worse.",
    "Three, two, one, go. One. Two. Three. Four. Halfway there. Five. Six. Seven. Last one.",
    "Rest for thirty seconds. Next, knees to chest, two sets of ten, on each side.",
    "Paused. Say resume to continue, or end workout to stop for today.",
]


@dataclass(frozen=True)
class Truth:
    """One utterance in a stream: its text, and whether it is a command phrase."""

    text: str
    start: float
    end: float
    command: bool


@dataclass
class Stream:
    """A microphone signal with its truth, and the loudspeaker reference when there is one."""

    name: str
    audio: np.ndarray
    truth: list[Truth] = field(default_factory=list)
    reference: np.ndarray | None = None

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    @property
    def commands(self) -> list[Truth]:
        return [t for t in self.truth if t.command]


# ------------------------------------------------------------------------- synthesis


def _voice_key(voice: voices.Voice, texts: Sequence[str]) -> str:
    return hashlib.sha1((voice.key + "\n" + "\n".join(texts)).encode()).hexdigest()[:20]


def speak(voice: voices.Voice, texts: Sequence[str]) -> list[np.ndarray]:
    """Each text spoken by `voice` (16 kHz float32, trimmed), cached on disk."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{_voice_key(voice, texts)}.npz"
    if path.exists():
        with np.load(path) as data:
            return [data[f"a{i}"] for i in range(len(texts))]
    clips = voices.synthesize(voice, list(texts))
    arrays: dict[str, np.ndarray] = {f"a{i}": c.astype(np.float32) for i, c in enumerate(clips)}
    # written whole, then renamed: a second bench process never reads a half-written file
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npz")
    np.savez(partial, **arrays)  # type: ignore[arg-type]
    partial.replace(path)
    return clips


def test_voice(rng: np.random.Generator) -> voices.Voice:
    """A voice that the trained ear never learnt from."""
    return voices.random_voice(rng, "test")


def speech_span(clip: np.ndarray) -> tuple[int, int]:
    """First and last sample of the speech in a clip: 10 ms frames within 40 dB of its peak."""
    n = len(clip) // 160
    if n == 0:
        return 0, len(clip)
    e = np.mean(np.square(clip[: n * 160].reshape(n, 160), dtype=np.float64), axis=1)
    loud = np.flatnonzero(e > e.max() * 1e-4)
    return int(loud[0] * 160), int((loud[-1] + 1) * 160)


def active_rms(x: np.ndarray) -> float:
    n = len(x) // 160
    e = np.mean(np.square(x[: n * 160].reshape(n, 160), dtype=np.float64), axis=1)
    e = e[e > e.max() * 1e-3] if n else e
    return float(np.sqrt(e.mean())) if len(e) else 0.0


# ------------------------------------------------------------------------- streams


def room_noise(rng: np.random.Generator, n: int, level_db: float = ROOM_DB) -> np.ndarray:
    return voices.colored_noise(rng, n, "pink") * np.float32(10 ** (level_db / 20))


def lay_out(
    name: str,
    clips: Sequence[tuple[str, np.ndarray, bool]],
    rng: np.random.Generator,
    gap: tuple[float, float] = (1.0, 2.0),
    level_db: float = -20.0,
) -> Stream:
    """Clips one after another, `gap` seconds of quiet room between them, each clip at an
    active level of about `level_db` dBFS (+-3 dB), with its truth."""
    pieces: list[np.ndarray] = []
    truth: list[Truth] = []
    pos = int(rng.uniform(*gap) * SAMPLE_RATE)
    pieces.append(np.zeros(pos, np.float32))
    for text, clip, command in clips:
        gain = 10 ** ((level_db + rng.uniform(-3, 3)) / 20) / (active_rms(clip) + 1e-9)
        clip = (clip * gain).astype(np.float32)
        s, e = speech_span(clip)
        truth.append(Truth(text, (pos + s) / SAMPLE_RATE, (pos + e) / SAMPLE_RATE, command))
        pause = int(rng.uniform(*gap) * SAMPLE_RATE)
        pieces += [clip, np.zeros(pause, np.float32)]
        pos += len(clip) + pause
    audio = np.concatenate(pieces)
    audio += room_noise(rng, len(audio))
    return Stream(name, audio.astype(np.float32), truth)


def command_clips(
    count: int, seed: int, vocabulary: Vocabulary | None = None
) -> list[tuple[str, np.ndarray, bool]]:
    """`count` command utterances: every phrase in turn, each by a different test voice."""
    phrases = sorted((vocabulary or Vocabulary()).phrases)
    rng = np.random.default_rng(seed)
    order = [phrases[i % len(phrases)] for i in rng.permutation(max(count, len(phrases)))]
    out = []
    for text in order[:count]:
        voice = test_voice(rng)
        (clip,) = speak(voice, [text])
        out.append((text, clip, True))
    return out


def reverberate(audio: np.ndarray, rng: np.random.Generator, rt60: float = 0.5) -> np.ndarray:
    """`audio` in a room: direct sound plus exponentially decaying noise reflections."""
    n = int(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    h = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    h[: int(0.003 * SAMPLE_RATE)] = 0.0
    h *= 0.7 / (np.sqrt(np.sum(h**2)) + 1e-12)  # reverberant energy about -3 dB of direct
    h[0] = 1.0
    size = 1 << (len(audio) + n - 2).bit_length()
    y = np.fft.irfft(np.fft.rfft(audio, size) * np.fft.rfft(h, size), size)[: len(audio)]
    return (y * (np.std(audio) / (np.std(y) + 1e-12))).astype(np.float32)


def babble(rng: np.random.Generator, n: int, talkers: int = 5) -> np.ndarray:
    """Unit-RMS babble: `talkers` synthetic voices speaking ordinary sentences at once."""
    out = np.zeros(n, np.float64)
    for _ in range(talkers):
        voice = voices.random_voice(rng, "train")
        texts = [str(s) for s in rng.choice(voices.SENTENCES, size=8, replace=False)]
        speech = np.concatenate([c for c in speak(voice, texts) if len(c)])
        speech = np.tile(speech, n // len(speech) + 2)
        start = int(rng.integers(0, len(speech) - n))
        out += speech[start : start + n] / (np.std(speech) + 1e-9)
    return (out / (np.std(out) + 1e-12)).astype(np.float32)


def with_noise(stream: Stream, noise: np.ndarray, snr_db: float, name: str) -> Stream:
    """`stream` plus `noise`, scaled so the utterances are `snr_db` above it (active level)."""
    speech = np.concatenate(
        [stream.audio[int(t.start * SAMPLE_RATE) : int(t.end * SAMPLE_RATE)] for t in stream.truth]
    )
    level = active_rms(speech) / 10 ** (snr_db / 20)
    noisy = stream.audio + noise[: len(stream.audio)] * np.float32(level / (np.std(noise) + 1e-12))
    return Stream(name, noisy.astype(np.float32), stream.truth, stream.reference)


CONDITIONS = ("clean", "reverb", "pink 10 dB", "pink 5 dB", "babble 10 dB")


def condition(name: str, count: int = 30, seed: int = 1) -> Stream:
    """A stream of `count` commands in one of `CONDITIONS` (the same commands in each)."""
    base = lay_out("clean", command_clips(count, seed), np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 100)
    n = len(base.audio)
    if name == "clean":
        return base
    if name == "reverb":
        return Stream(name, reverberate(base.audio, rng) + room_noise(rng, n), base.truth)
    if name.startswith("pink"):
        snr = float(name.split()[1])
        return with_noise(base, voices.colored_noise(rng, n, "pink"), snr, name)
    if name.startswith("babble"):
        snr = float(name.split()[1])
        return with_noise(base, babble(rng, n), snr, name)
    raise ValueError(f"unknown condition {name!r}; choose one of {', '.join(CONDITIONS)}")


def conversation(seconds: float = 120.0, seed: int = 2) -> Stream:
    """Ordinary talk, several speakers, 0.4-1.5 s pauses: every detection is a false accept."""
    rng = np.random.default_rng(seed)
    clips: list[tuple[str, np.ndarray, bool]] = []
    total = 0.0
    texts = [*CONVERSATION, *SHORT_TALK]
    while total < seconds:
        voice = test_voice(rng)
        chosen = [str(t) for t in rng.choice(texts, size=6, replace=False)]
        for text, clip in zip(chosen, speak(voice, chosen), strict=True):
            if len(clip):
                clips.append((text, clip, False))
                total += len(clip) / SAMPLE_RATE + 0.95
    return lay_out("conversation", clips, rng, gap=(0.4, 1.5))


def real_voices(folder: Path = REAL_VOICES, seed: int = 3) -> Stream | None:
    """Every clip of the Speech Commands sample in random order, 1-2 s apart; words that
    are phrases are commands, the rest must be rejected. None when the folder is absent."""
    if not folder.is_dir():
        return None
    vocabulary = Vocabulary()
    paths = sorted(folder.glob("*/*.wav"))
    rng = np.random.default_rng(seed)
    clips = []
    for i in rng.permutation(len(paths)):
        path = paths[i]
        audio, rate = sf.read(path, dtype="float32")
        if rate != SAMPLE_RATE:
            audio = soxr.resample(audio, rate, SAMPLE_RATE)
        word = path.parent.name
        clips.append((word, np.asarray(audio, np.float32), vocabulary.parse(word) is not None))
    return lay_out("real voices", clips, rng)


def assistant_voice() -> np.ndarray:
    """The assistant's instructions as its speech renderer would say them (eSpeak NG en-us),
    one after another with short pauses: the loudspeaker signal."""
    clips = speak(voices.Voice("espeak", "en-us"), ASSISTANT_SPEECH)
    gap = np.zeros(int(0.4 * SAMPLE_RATE), np.float32)
    out = np.concatenate([x for c in clips for x in (c / (active_rms(c) + 1e-9) * 0.1, gap)])
    return out.astype(np.float32)


def echo_scene(
    gain: float = 0.5,
    delay_ms: float = 30.0,
    command: str | None = None,
    at: float = 3.0,
    seed: int = 4,
    command_db: float = 0.0,
) -> Stream:
    """The assistant talking (reference) and its echo in the microphone (`gain`, `delay_ms`);
    with `command`, the user says it at `at` seconds, `command_db` relative to the echo."""
    rng = np.random.default_rng(seed)
    reference = assistant_voice()
    delay = int(delay_ms * SAMPLE_RATE / 1000)
    mic = np.zeros(len(reference), np.float32)
    mic[delay:] = gain * reference[: len(reference) - delay]
    truth = []
    if command is not None:
        (clip,) = speak(test_voice(rng), [command])
        echo_level = active_rms(mic[int(at * SAMPLE_RATE) : int((at + 1) * SAMPLE_RATE)])
        echo_level = echo_level or active_rms(mic)
        clip = clip * (echo_level * 10 ** (command_db / 20) / (active_rms(clip) + 1e-9))
        pos = int(at * SAMPLE_RATE)
        mic[pos : pos + len(clip)] += clip.astype(np.float32)
        s, e = speech_span(clip)
        truth.append(Truth(command, (pos + s) / SAMPLE_RATE, (pos + e) / SAMPLE_RATE, True))
    mic += room_noise(rng, len(mic))
    return Stream("echo", mic, truth, reference)
