"""The trained ear: a small neural command classifier on pretrained speech embeddings.

Audio -> `Features` (openWakeWord's frozen mel + embedding models, one 96-value frame every
80 ms) -> a small MLP over the last `window` frames, run on every new frame in numpy ->
per-frame class posteriors over every command phrase, the numbers zero..ten, "other
speech" and "nothing". At the end of an utterance the posteriors of its last few frames
are averaged; the best class is accepted when it is a phrase of the vocabulary, its
probability among the classes of sound (all but "nothing") reaches the model's threshold,
and it leads the runner-up by the margin.

The weights (`assistant/ear/models/ear.npz`, ear v6) were made from synthetic voices only,
by the training pipeline retired with issue 19 (`scripts/train-ear` in git history, up to
commit a85478e). The ear knows the built-in phrases and numbers; a user's synonyms are
heard by Whisper alone.

It is Whisper's second opinion (see `whisper.create`): when Whisper hears no command in an
utterance, the ear's command stands. Measured on the real voices through the listener
(bench run of 5 December 2026, before the retirement): Whisper alone 120 of 140 commands,
3 of 160 other words taken; with the ear's second opinion 125 of 140, still 3 taken, and no
false command in conversation."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import threadpoolctl

from assistant.commands import Vocabulary
from assistant.ear.engines import Engine, Recognition
from assistant.ear.features import EMB_DIM, SAMPLE_RATE, Features, silence_embedding
from assistant.errors import DeviceError

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "ear.npz"
OTHER = "<other>"
NOTHING = "<nothing>"


def unfold(z: np.ndarray, k: int) -> np.ndarray:
    """(n, t, d) frames -> (n, t - k + 1, k * d): every k consecutive frames side by side."""
    t = z.shape[1] - k + 1
    return np.concatenate([z[:, i : i + t] for i in range(k)], axis=2)


@dataclass(frozen=True)
class EarModel:
    """Weights of the classifier: normalisation, two hidden ReLU layers, a softmax head."""

    classes: list[str]
    window: int
    mean: np.ndarray
    std: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]  # (W, b) per layer, the last is the head
    threshold: float
    margin: float
    tail: int
    kernel: int

    def hidden(self, x: np.ndarray) -> np.ndarray:
        """The last hidden layer for windows x (n, window, 96). The first layer looks at
        every `kernel` consecutive frames of the window and keeps the maximum of each unit
        over the window (so a word counts wherever it sits in the window)."""
        z = (x - self.mean) / self.std
        w0, b0 = self.layers[0]
        h = np.maximum(unfold(z, self.kernel) @ w0 + b0, 0.0).max(axis=1)
        for w, b in self.layers[1:-1]:
            h = np.maximum(h @ w + b, 0.0)
        return h

    def posteriors(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (n, classes) for windows x (n, window, 96)."""
        w, b = self.layers[-1]
        z = self.hidden(x) @ w + b
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        out: np.ndarray = e / e.sum(axis=1, keepdims=True)
        return out

    def decide(self, post: np.ndarray) -> tuple[str, float] | None:
        """The accepted class text and its probability from the utterance's last posteriors."""
        if len(post) == 0:
            return None
        p = post[-self.tail :].mean(axis=0)
        best = int(np.argmax(p))
        text = self.classes[best]
        if text in (OTHER, NOTHING):
            return None
        # The endpointer has already found sound: among the classes of sound, how sure is
        # the ear of this phrase? ("nothing" took 0.11 of a clear "pause" said over the
        # assistant's voice, whose last frames were the echo's residue.) Measured on the
        # validation voices at 2 % false accepts: recall 52.0 -> 52.3 %, same threshold.
        if NOTHING in self.classes:
            nothing = self.classes.index(NOTHING)
            p = p / max(1.0 - float(p[nothing]), 1e-6)
            p[nothing] = 0.0
        second = float(np.sort(p)[-2])
        if p[best] < self.threshold or p[best] - second < self.margin:
            return None
        return text, float(p[best])

    @classmethod
    def load(cls, path: Path) -> EarModel:
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DeviceError(f"cannot read the neural model {path}: {exc}") from None
        config = json.loads(str(data["config"]))
        layers = [
            (data[f"w{i}"].astype(np.float32), data[f"b{i}"].astype(np.float32))
            for i in range(int(config["layers"]))
        ]
        return cls(
            classes=[str(c) for c in data["classes"]],
            window=int(config["window"]),
            mean=data["mean"],
            std=data["std"],
            layers=layers,
            threshold=float(config["threshold"]),
            margin=float(config["margin"]),
            tail=int(config["tail"]),
            kernel=int(config["kernel"]),
        )


class NeuralEngine(Engine):
    """The Engine protocol over `EarModel`, computing posteriors as frames arrive."""

    name = "neural"

    def __init__(self, model: EarModel, vocabulary: Vocabulary, max_seconds: float = 6.0):
        # The ear multiplies one small window at a time, where more BLAS threads only spin:
        # it took 7.5 % of a core with two threads against 2.8 % with one (eareval.cpu_share).
        # The limit is the process's: the listener's other numpy work is small too.
        threadpoolctl.threadpool_limits(1, user_api="blas")
        self.model = model
        self._known = {text for text in model.classes if vocabulary.parse(text) is not None}
        self._features = Features()
        self._silence = silence_embedding()
        self._max_samples = int(max_seconds * SAMPLE_RATE)
        self.start_utterance()

    def start_utterance(self) -> None:
        self._features.reset()
        self._frames: deque[np.ndarray] = deque(
            [self._silence] * self.model.window, maxlen=self.model.window
        )
        self._posteriors: deque[np.ndarray] = deque(maxlen=max(self.model.tail, 1))
        self._samples = 0

    def feed(self, audio: np.ndarray) -> None:
        self._samples += len(audio)
        new = self._features.feed(audio)
        if len(new) == 0:
            return
        windows = np.zeros((len(new), self.model.window, EMB_DIM), np.float32)
        for i, frame in enumerate(new):
            self._frames.append(frame)
            windows[i] = np.stack(self._frames)
        for p in self.model.posteriors(windows):
            self._posteriors.append(p)

    def end_utterance(self, *, over_speech: bool = False) -> Recognition | None:
        if self._samples > self._max_samples:
            return None  # commands are short: a long utterance is conversation
        decision = self.model.decide(np.array(self._posteriors))
        if decision is None or decision[0] not in self._known:
            return None
        return Recognition(decision[0], round(decision[1], 3))


def create(vocabulary: Vocabulary, model_path: Path | None = None) -> NeuralEngine:
    """The neural engine with the shipped weights, or with the weights at `model_path`."""
    path = model_path or DEFAULT_MODEL
    if not path.exists():
        raise DeviceError(f"the neural model {path} is missing")
    return NeuralEngine(EarModel.load(path), vocabulary)
