"""The Whisper engine's decision, measured: ways to tell a command from other speech.

Run with `python -m bench whisper`. Every clip is decoded once (`WhisperEngine.hear`: the
prompted and the plain transcript, their scores, each phrase scored against the plain text),
then each decision rule is applied to the same hearings, side by side.

Two sets, kept apart:
- tuning: synthetic voices of the "train" split (eSpeak NG variants, flite), every phrase of
  the vocabulary as commands and `OTHER_WORDS` (short everyday words, many close to a
  command) as speech to reject, clean and in pink noise at 10 and 5 dB. The margin shipped
  (`whisper.MARGIN`) is chosen here.
- evaluation only: the real voices of ../shared/data/speech_commands, quiet and in pink noise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from assistant.commands import Vocabulary
from assistant.ear.engines.whisper import Hearing, Quick, WhisperEngine
from bench import corpus, voices

#: Short everyday words and replies that are not commands; many sound close to one.
#: Short everyday words and replies that are not commands, many close to one ("free",
#: "now", "stock"), but none that sounds the same as one ("won", "too", "paws": no ear can
#: tell those apart, and a person who says them alone is understood to say the command).
#: None of the words of the Speech Commands set is here: its clips are the evaluation,
#: never the tuning.
OTHER_WORDS = (
    "hello", "okay", "alright", "thanks", "really", "maybe", "sure", "good", "fine", "great",
    "water", "coffee", "dinner", "free", "now",
    "yet", "goat", "stock", "text", "neck", "lip", "hay", "sky", "low",
    "stone", "top", "shop", "post", "rest", "test", "hope", "open", "mouse", "car", "door",
    "floor", "chair", "table", "window", "garden", "morning", "evening", "later", "then",
    "there", "where", "when", "what", "why", "who", "which", "this", "that", "some", "many",
    "in", "out", "over", "under", "front", "side", "middle", "sad", "tired", "hungry",
    "cold", "hot", "warm", "cool", "nice", "lovely", "super", "perfect", "fish", "horse",
    "cow", "sheep", "bike", "bus", "train", "plane", "boat", "yeah", "nope", "yep", "hmm",
    "seventeen", "twenty", "thirty", "hundred", "twelve", "eleven", "fifteen", "first",
    "second", "third", "pass", "pose", "cause", "course", "stuff", "stopped", "going",
    "gone", "skipped", "repeating", "ending", "please", "sorry", "excuse me", "thank you",
    "see you", "good night", "uh huh", "oh no", "come on", "let me see", "not yet",
)

Decision = Callable[[Hearing, WhisperEngine], str | None]


def _phrase(text: str, e: WhisperEngine) -> str | None:
    return text if e.vocabulary.parse(text) is not None else None


def _rule(margin: float, min_prompted: float, full_only: bool = False) -> Decision:
    """The engine's own rule (`WhisperEngine.decide`) with these settings."""

    def decide(h: Hearing, e: WhisperEngine) -> str | None:
        kept = e.margin, e.min_prompted
        e.margin, e.min_prompted = margin, min_prompted
        try:
            result = e.decide(h if not full_only else replace(h, quick=Quick("", 0.0)))
        finally:
            e.margin, e.min_prompted = kept
        return None if result is None else result.text

    return decide


NEVER = float("-inf")
DECISIONS: dict[str, Decision] = {
    "quick look (10 s window, plain) is a phrase": lambda h, e: _phrase(h.quick.text, e),
    "full look (30 s), plain is a phrase": lambda h, e: _phrase(h.plain, e),
    "full look, prompted is a phrase": lambda h, e: _phrase(h.prompted, e),
    "full look, prompted with its score > -0.5": lambda h, e: (
        _phrase(h.prompted, e) if h.prompted_score > -0.5 else None),
    "full look only, engine's rule (margin 0.8, score > -0.5)": _rule(0.8, -0.5, True),
    **{f"quick, then full: margin {m}, prompted score > {t}": _rule(m, t)
       for m, t in ((99.0, NEVER), (99.0, -0.5), (0.8, NEVER), (0.4, -0.5), (0.8, -0.5),
                    (1.2, -0.5), (0.8, -0.3), (0.8, -0.8))},
}


@dataclass
class Clip:
    text: str
    audio: np.ndarray
    command: bool


def _pad(rng: np.random.Generator, audio: np.ndarray) -> np.ndarray:
    lead = corpus.room_noise(rng, int(0.25 * corpus.SAMPLE_RATE))
    tail = corpus.room_noise(rng, int(0.3 * corpus.SAMPLE_RATE))
    return np.concatenate([lead, audio + corpus.room_noise(rng, len(audio)), tail])


def _noisy(rng: np.random.Generator, clip: np.ndarray, snr_db: float | None) -> np.ndarray:
    if snr_db is None:
        return clip
    noise = voices.colored_noise(rng, len(clip), "pink")
    level = corpus.active_rms(clip) / (10 ** (snr_db / 20))
    return (clip + noise / (np.sqrt(np.mean(noise**2)) + 1e-12) * level).astype(np.float32)


def tuning_clips(speakers: int = 3, seed: int = 11) -> list[Clip]:
    rng = np.random.default_rng(seed)
    phrases = list(Vocabulary().phrases)
    out: list[Clip] = []
    for _ in range(speakers):
        voice = voices.random_voice(rng, "train")
        texts = [*phrases, *OTHER_WORDS]
        for text, audio in zip(texts, corpus.speak(voice, texts), strict=True):
            if len(audio):
                out.append(Clip(text, _pad(rng, audio), text in phrases))
    return out


def real_clips(seed: int = 12) -> list[Clip]:
    import soundfile as sf
    import soxr

    vocabulary = Vocabulary()
    rng = np.random.default_rng(seed)
    out = []
    for path in sorted(corpus.REAL_VOICES.glob("*/*.wav")):
        audio, rate = sf.read(path, dtype="float32")
        if rate != corpus.SAMPLE_RATE:
            audio = soxr.resample(audio, rate, corpus.SAMPLE_RATE)
        word = path.parent.name
        out.append(Clip(word, _pad(rng, np.asarray(audio, np.float32)),
                        vocabulary.parse(word) is not None))
    return out


@dataclass
class Tally:
    commands: int = 0
    right: int = 0
    wrong: int = 0
    others: int = 0
    taken: int = 0

    def cell(self) -> str:
        pct = 100 * self.right / max(1, self.commands)
        return f"{pct:.0f} % / {self.wrong} / {self.taken} of {self.others}"


def tally(clips: list[Clip], hearings: list[Hearing], decide: Decision,
          engine: WhisperEngine) -> Tally:
    vocabulary = Vocabulary()
    t = Tally()
    for clip, h in zip(clips, hearings, strict=True):
        got = decide(h, engine)
        if clip.command:
            t.commands += 1
            if got is not None and vocabulary.parse(got) == vocabulary.parse(clip.text):
                t.right += 1
            elif got is not None:
                t.wrong += 1
        else:
            t.others += 1
            t.taken += got is not None
    return t


def run(voices: int = 3) -> str:
    sets: list[tuple[str, list[Clip]]] = [("tuning: synthetic", tuning_clips(voices))]
    if corpus.REAL_VOICES.is_dir():
        sets.append(("real voices", real_clips()))
    engine = WhisperEngine(Vocabulary())
    columns: list[tuple[str, list[Clip], list[Hearing]]] = []
    seconds = 0.0
    count = 0
    for name, clips in sets:
        for snr in (None, 10.0, 5.0):
            rng = np.random.default_rng(13)
            noisy = [Clip(c.text, _noisy(rng, c.audio, snr), c.command) for c in clips]
            started = time.perf_counter()
            heard = [engine.hear(c.audio, full=True) for c in noisy]
            seconds += time.perf_counter() - started
            count += len(noisy)
            label = name + (", quiet" if snr is None else f", pink {snr:.0f} dB")
            columns.append((label, noisy, heard))
    lines = [
        "### Whisper: telling a command from other speech",
        "",
        f"Isolated clips, 0.25 s of quiet room before: {len(sets[0][1])} synthetic clips "
        f"({voices} voices of the tuning split; the margin and score shipped are chosen "
        "here) and the 300 real ones (evaluation only). Each cell: commands heard right / "
        "wrong command / other words taken as a command. Both looks on every clip: "
        f"{1000 * seconds / max(1, count):.0f} ms per clip.",
        "",
        "| decision | " + " | ".join(c[0] for c in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name, decide in DECISIONS.items():
        cells = [tally(clips, heard, decide, engine).cell() for _, clips, heard in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
