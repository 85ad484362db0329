"""Synthetic test speech for the benchmarks: eSpeak NG and flite voices (voice, variant,
rate, pitch), each split into voices for tuning ("train", "val") and voices that nothing
was tuned on ("test"), and ordinary sentences for conversation. Moved here from the trained
ear's data module when that ear was retired, so that the benchmarks keep their voices."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr

from assistant.testing import colored_noise

__all__ = ["SENTENCES", "Voice", "colored_noise", "random_voice", "synthesize"]

SAMPLE_RATE = 16000


#: Ordinary sentences, and sentences that contain command words (not commands as a whole).
SENTENCES = [
    "the weather is nice today",
    "i think i left my keys in the kitchen",
    "can you hear the birds outside",
    "my neighbour is playing music again",
    "what time is dinner tonight",
    "the dog wants to go outside",
    "i will call my sister later",
    "this chair is really comfortable",
    "did you see the news this morning",
    "we need to buy more coffee",
    "the train was late again",
    "let me think about it for a minute",
    "i am going to the shop after lunch",
    "that was a really good movie",
    "the children are playing in the garden",
    "my back feels a lot better than yesterday",
    "she said she would be here at noon",
    "open the window please it is warm in here",
    "i forgot to water the plants",
    "the phone is ringing in the other room",
    "we should stop at the bakery on the way home",
    "please do not stop the music",
    "go and get your shoes on",
    "yes i know but it is too late now",
    "no i have not seen him today",
    "i can count to ten in french",
    "there were seven people at the party",
    "wait until you see what happened",
    "the next bus leaves in five minutes",
    "can you help me carry these bags",
    "my knee hurts when i climb the stairs",
    "turn the music louder please",
    "she asked me to repeat the question",
    "let us skip the boring part of the film",
    "we can continue this conversation tomorrow",
    "i need a pause from all this work",
    "how many eggs are left in the fridge",
    "speed up a little we are late",
    "go back to the beginning of the story",
    "he said no to the offer",
    "it is the end of the workout season",
    "the previous owner painted the walls green",
    "slow down there is a school ahead",
    "i said yes to the new job",
    "two plus two is four",
    "we arrived at nine in the evening",
    "the meeting starts at three",
    "one of them was broken",
    "hello how are you doing today",
    "thank you very much",
    "good morning everyone",
    "i am not sure about that",
    "that sounds like a plan",
    "could you pass me the salt",
    "where did i put my glasses",
    "the cat is sleeping on the sofa",
    "it is raining again",
    "let me check my calendar",
    "breathe in and breathe out slowly",
    "keep your back straight and your knees bent",
    "raise your left arm and hold it there",
    "that is enough for today",
    "i will be right back",
    "do you want some tea",
    "turn off the lights when you leave",
    "what did you say",
    "i cannot find the remote control",
    "the soup needs more salt",
    "are you coming with us",
    "maybe we can do it next week",
    "stop it",
    "go away",
    "no thank you",
    "yes please",
    "oh no",
    "not now",
    "hold on a second",
    "just a moment",
    "all right then",
    "really",
]


ESPEAK_VOICES_TRAIN = (
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-029",
    "en-gb-x-gbclan",
    "en-us-nyc",
)


ESPEAK_VOICES_TEST = ("en-gb-x-gbcwmd",)


_ROBOTIC = re.compile(r"robo|demonic|unirobot|anikarobot|announcer|tweaky|fast", re.I)


VARIANTS_VAL = ("m4", "f3", "Andy", "linda", "klatt3", "Gene", "steph2", "rob")


VARIANTS_TEST = ("m6", "f4", "Annie", "Michael", "klatt5", "zac", "edward2", "grandma", "iven3")


FLITE_TRAIN = ("kal16", "awb", "slt", "kal")


FLITE_TEST = ("rms",)


@functools.lru_cache(maxsize=1)
def espeak_variants() -> tuple[str, ...]:
    """The installed eSpeak NG variants (file names), robotic ones left out, sorted."""
    out = subprocess.run(
        ["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=True
    ).stdout
    names = [line.split()[-1].split("/")[-1] for line in out.splitlines()[1:] if line.strip()]
    return tuple(sorted({n for n in names if not _ROBOTIC.search(n)}))


def train_variants() -> tuple[str, ...]:
    held = set(VARIANTS_VAL) | set(VARIANTS_TEST)
    return tuple(v for v in espeak_variants() if v not in held)


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: engine, voice, variant, rate and pitch."""

    engine: str  # "espeak" or "flite"
    name: str
    variant: str = ""
    rate: float = 1.0  # espeak: words per minute / 175; others: 1 / duration stretch
    pitch: int = 50  # espeak 0..99; flite: mean f0 in Hz

    @property
    def key(self) -> str:
        return f"{self.engine}:{self.name}+{self.variant}:{self.rate:.3f}:{self.pitch}"


def random_voice(rng: np.random.Generator, split: str) -> Voice:
    """A random voice of the `split` ("train", "val" or "test")."""
    if split == "train":
        variants: Sequence[str] = train_variants()
        voices: Sequence[str] = ESPEAK_VOICES_TRAIN
        flite: Sequence[str] = FLITE_TRAIN
    elif split == "val":
        variants, voices, flite = VARIANTS_VAL, ESPEAK_VOICES_TRAIN, FLITE_TRAIN
    else:
        variants, voices, flite = (
            VARIANTS_TEST,
            ESPEAK_VOICES_TEST + ESPEAK_VOICES_TRAIN,
            FLITE_TEST,
        )
    if rng.random() < 0.15 and split != "val":
        return Voice(
            "flite",
            str(rng.choice(list(flite))),
            rate=float(rng.uniform(0.75, 1.25)),
            pitch=int(rng.integers(80, 220)),
        )
    variant = "" if rng.random() < 0.1 else str(rng.choice(list(variants)))
    return Voice(
        "espeak",
        str(rng.choice(list(voices))),
        variant,
        rate=float(rng.uniform(0.65, 1.35)),
        pitch=int(rng.integers(15, 90)),
    )


def read_16k(path: str | os.PathLike[str]) -> np.ndarray:
    """An audio file as float32 mono at the project's rate (downmixed, resampled)."""
    audio, rate = sf.read(path, dtype="float32", always_2d=False)
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        audio = soxr.resample(audio, rate, SAMPLE_RATE)
    return np.asarray(audio, np.float32)


def _split_on_zeros(audio: np.ndarray, min_gap: int) -> list[np.ndarray]:
    quiet = np.abs(audio) < 1e-4
    edges = np.flatnonzero(np.diff(np.concatenate([[1], quiet.astype(np.int8), [1]])))
    # runs of non-quiet samples: edges alternate start (quiet->loud) and end
    starts, ends = edges[0::2], edges[1::2]
    pieces: list[list[int]] = []
    for s, e in zip(starts, ends, strict=True):
        if pieces and s - pieces[-1][1] < min_gap:
            pieces[-1][1] = e
        else:
            pieces.append([s, e])
    return [audio[s:e] for s, e in pieces]


def synthesize(voice: Voice, texts: Sequence[str]) -> list[np.ndarray]:
    """Each text spoken by `voice`, trimmed of silence (16 kHz float32)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.wav")
        if voice.engine == "espeak":
            name = voice.name + (f"+{voice.variant}" if voice.variant else "")
            base = ["espeak-ng", "-v", name, "-s", str(round(175 * voice.rate))]
            base += ["-p", str(voice.pitch), "-w", path]
            ssml = "<speak>" + ' <break time="900ms"/> '.join(texts) + "</speak>"
            subprocess.run([*base, "-m", ssml], check=True, capture_output=True)
            pieces = _split_on_zeros(read_16k(path), min_gap=int(0.5 * SAMPLE_RATE))
            if len(pieces) == len(texts):
                return pieces
            out = []
            for text in texts:  # the slow way, one call per text
                subprocess.run([*base, text], check=True, capture_output=True)
                out.append(_trim(read_16k(path)))
            return out
        out = []
        for text in texts:
            cmd = ["flite", "-voice", voice.name, "--setf", f"duration_stretch={1 / voice.rate}"]
            cmd += ["--setf", f"int_f0_target_mean={voice.pitch}", "-t", text, "-o", path]
            subprocess.run(cmd, check=True, capture_output=True)
            out.append(_trim(read_16k(path)))
        return out


def _trim(audio: np.ndarray) -> np.ndarray:
    if len(audio) == 0:
        return audio
    loud = np.flatnonzero(np.abs(audio) > 0.02 * np.abs(audio).max())
    if loud.size == 0:
        return audio[:0]
    return audio[max(0, loud[0] - 160) : loud[-1] + 160]

