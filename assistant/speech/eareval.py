"""Measuring the ear: real human voices and held-out synthetic voices, through the Engine.

Real voices: the Speech Commands sample in ``../shared/data/speech_commands`` (evaluation
only: nothing here trains or tunes on it). Each clip is streamed with quiet around it, the
utterance is found by a simple energy endpointer (a stand-in for the listener's, with the
same pre-roll and hang-over shape), and the engine decides on it.

Synthetic: voices, variants and a flite voice that training never saw (`eardata`'s "test"
split), clean, in pink noise at 10 and 5 dB, and in babble; plus conversation (held-out
sentences and words) for false accepts."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from assistant.commands import NUMBER_WORDS, Vocabulary
from assistant.speech import eardata
from assistant.speech.engines import Engine, Recognition, recognize

SAMPLE_RATE = 16000
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "speech_commands"
#: Speech Commands words that the assistant understands, and what each must be heard as.
REAL_COMMANDS: dict[str, str] = {
    "stop": "stop",
    "go": "go",
    "yes": "yes",
    "no": "no",
    **{w: w for w in NUMBER_WORDS if w != "ten"},
}

#: Never used in training: sentences and words for conversation false accepts.
TEST_SENTENCES = [
    "i was thinking we could paint the fence on saturday",
    "the library closes early on sundays",
    "my grandmother makes the best apple pie",
    "could you turn the heating on for a while",
    "there is a strange noise coming from the car",
    "we went hiking in the mountains last summer",
    "the printer has run out of paper again",
    "he has been learning to play the guitar",
    "i do not think that is a good idea",
    "can we go to the park this afternoon",
    "stop worrying about it everything is fine",
    "no one told me the meeting was cancelled",
    "yes and then we all went home",
    "she counted to ten and opened her eyes",
    "next time bring an umbrella",
    "please help yourself to some cake",
    "i will wait for you at the station",
    "the film was too long and a bit slow",
    "how many people are coming tonight",
    "we should repeat that experiment",
]
TEST_WORDS = (  # noqa: SIM905
    "apple window garden purple music letter basket pencil doctor summer river "
    "button kitchen orange cookie blanket ladder rocket candle mirror tiger "
    "hollow thunder pepper silver"
).split()


def endpoint(stream: np.ndarray, pre: float = 0.3, post: float = 0.45) -> tuple[int, int] | None:
    """(start, end) samples of the one utterance in `stream` by frame energy, or None."""
    n = len(stream) // 160
    e = 10 * np.log10(np.mean(stream[: n * 160].reshape(n, 160) ** 2, axis=1) + 1e-12)
    floor = float(np.percentile(e, 10))
    loud = np.flatnonzero(e > max(floor + 12, e.max() - 35))
    if loud.size == 0:
        return None
    start = max(0, loud[0] * 160 - int(pre * SAMPLE_RATE))
    end = min(len(stream), (loud[-1] + 1) * 160 + int(post * SAMPLE_RATE))
    return start, end


def in_quiet(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`clip` with 1-2 s of quiet room noise (about -65 dBFS) before and after it."""
    before = int(rng.uniform(1, 2) * SAMPLE_RATE)
    after = int(rng.uniform(1, 2) * SAMPLE_RATE)
    n = before + len(clip) + after
    out = eardata.colored_noise(rng, n, "pink") * 10 ** (-65 / 20)
    out[before : before + len(clip)] += clip
    return out.astype(np.float32)


def hear(engine: Engine, stream: np.ndarray, listener: bool = False) -> Recognition | None:
    """The engine's decision on the one utterance of `stream`.

    With `listener`, the stream goes through the project's `Listener` (noise suppression,
    endpointer, length limits) in 30 ms blocks, and the first command it hears is taken;
    otherwise a simple energy endpointer cuts the utterance."""
    if listener:
        from assistant.speech.listener import Listener

        ear = Listener(engine, Vocabulary())
        heard = []
        for i in range(0, len(stream), 480):
            heard += ear.process(stream[i : i + 480])
        heard += ear.flush()
        return Recognition(heard[0].text, heard[0].confidence) if heard else None
    span = endpoint(stream)
    if span is None:
        return None
    return recognize(engine, stream[span[0] : span[1]])


@dataclass
class RealResult:
    """Figures on the Speech Commands clips."""

    recall: dict[str, tuple[int, int]] = field(default_factory=dict)  # word -> (hits, clips)
    wrong: list[tuple[str, str]] = field(default_factory=list)  # (word, heard as)
    others: int = 0
    others_accepted: list[tuple[str, str]] = field(default_factory=list)

    @property
    def hits(self) -> int:
        return sum(h for h, _ in self.recall.values())

    @property
    def clips(self) -> int:
        return sum(n for _, n in self.recall.values())


def real_voices(
    engine: Engine, folder: Path = SHARED, seed: int = 0, listener: bool = False
) -> RealResult:
    """Recall, wrong commands and accepted other words on the real clips."""
    rng = np.random.default_rng(seed)
    vocab = Vocabulary()
    result = RealResult()
    for word_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        word = word_dir.name
        for wav in sorted(word_dir.glob("*.wav")):
            clip, rate = sf.read(wav, dtype="float32")
            assert rate == SAMPLE_RATE
            got = hear(engine, in_quiet(clip, rng), listener)
            if word in REAL_COMMANDS:
                hits, n = result.recall.get(word, (0, 0))
                ok = got is not None and got.text == REAL_COMMANDS[word]
                result.recall[word] = (hits + ok, n + 1)
                if got is not None and not ok:
                    same = vocab.parse(got.text) == vocab.parse(REAL_COMMANDS[word])
                    if not same:
                        result.wrong.append((word, got.text))
            else:
                result.others += 1
                if got is not None:
                    result.others_accepted.append((word, got.text))
    return result


CONDITIONS: dict[str, tuple[float | None, str | None]] = {
    "clean": (60.0, "white"),
    "pink 10 dB": (10.0, "pink"),
    "pink 5 dB": (5.0, "pink"),
    "babble 10 dB": (10.0, "babble"),
}


@dataclass
class SynthResult:
    commands: int = 0
    hits: int = 0
    wrong: int = 0
    negatives: int = 0
    false_accepts: int = 0
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)


def synthetic(
    engine: Engine, speakers: int = 8, seed: int = 5, negatives: int = 12
) -> dict[str, SynthResult]:
    """Held-out synthetic voices, by condition: commands heard right, wrong, negatives taken."""
    bank = eardata.make_bank(np.random.default_rng([seed, 99]))
    results = {name: SynthResult() for name in CONDITIONS}
    for s in range(speakers):
        rng = np.random.default_rng([seed, 3, s])
        voice = eardata.random_voice(rng, "test")
        neg_texts = list(rng.choice(TEST_WORDS + TEST_SENTENCES, size=negatives, replace=False))
        texts = [*eardata.COMMAND_TEXTS, *neg_texts]
        clips = eardata.synthesize(voice, texts)
        for cname, (snr, kind) in CONDITIONS.items():
            res = results[cname]
            for text, clip in zip(texts, clips, strict=True):
                audio, _ = eardata.augment(
                    rng, bank, clip, snr_db=snr, noise_kind=kind, strong=False
                )
                got = recognize(engine, audio)
                if text in eardata.COMMAND_TEXTS:
                    res.commands += 1
                    if got is not None and got.text == text:
                        res.hits += 1
                    elif got is not None:
                        res.wrong += 1
                        res.confusions[(text, got.text)] += 1
                else:
                    res.negatives += 1
                    res.false_accepts += got is not None
    return results


def conversation(engine: Engine, speakers: int = 6, seed: int = 6) -> tuple[int, int, float]:
    """(utterances, accepted, seconds of speech) over held-out sentences and words."""
    bank = eardata.make_bank(np.random.default_rng([seed, 99]))
    total = accepted = 0
    seconds = 0.0
    for s in range(speakers):
        rng = np.random.default_rng([seed, 4, s])
        voice = eardata.random_voice(rng, "test")
        for clip in eardata.synthesize(voice, TEST_SENTENCES + TEST_WORDS):
            audio, _ = eardata.augment(rng, bank, clip, strong=False)
            seconds += len(clip) / SAMPLE_RATE
            total += 1
            accepted += recognize(engine, audio) is not None
    return total, accepted, seconds


def cpu_share(make_engine: Callable[[], Engine], seconds: float = 20.0) -> float:
    """CPU time per second of audio, streaming 30 ms chunks of a long utterance."""
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(int(seconds * SAMPLE_RATE)) * 0.01).astype(np.float32)
    engine = make_engine()
    engine.start_utterance()
    started = time.process_time()
    for i in range(0, len(audio), 480):
        engine.feed(audio[i : i + 480])
    engine.end_utterance()
    return (time.process_time() - started) / seconds
