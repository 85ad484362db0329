"""What each Whisper model hears of each clip, cached on disk: the data the decision rule
is fitted on (`bench/fit_decision.py`) and measured with (`bench/bench_whisper_models.py`).

Every clip goes through `WhisperEngine.hear(full=True)` (the quick look, then plain and
prompted decodes and the phrases scored) once per model, with every phrase expected; the
result is kept under the tool's cache (`<cache>/bench/hearings/<model>/<set>.json`, keyed
by the clip's audio), so a second run only reads. Sets:

- tuning, real voices: ../shared/data/real_tune's word clips (62 speakers: its 170
  commands and every other one of its 255 other words), clean and mixed with its 5 real
  noises at 10 and 5 dB (SNR on the word's loud part); in noise every other clip only,
  and base only half of each (`every`), for want of free cores;
- tuning, synthetic voices of the "train" split (eSpeak NG, flite) for the phrases that
  real_tune lacks (pause, next, resume, slower, "it hurts" ... and the digits), with short
  everyday words to reject, clean and in real_tune's noises at 10 dB;
- evaluation only, never tuned on: ../shared/data/speech_commands (300 clips), quiet and
  in pink noise at 10 dB, padded as in `bench_whisper` (the issue's clip-by-clip figures).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from assistant import paths
from assistant.commands import NUMBER_WORDS, Vocabulary
from assistant.ear.engines.whisper import Hearing, Quick, WhisperEngine, base_model
from bench import corpus, voices
from bench.bench_whisper import OTHER_WORDS, Clip, _noisy, _pad, real_clips

REAL_TUNE = corpus.ROOT.parent / "shared" / "data" / "real_tune"
MODELS = ("tiny.en", "base")
#: the phrases real_tune has real voices for; every other phrase is tuned on synthetic ones
PHRASES = frozenset(Vocabulary().phrases)
REAL_PHRASES = frozenset({"stop", "go", "yes", "no"})


def model_folder(name: str) -> Path | None:
    return None if name == "tiny.en" else base_model()


def _read(path: Path) -> np.ndarray:
    import soundfile as sf

    audio, rate = sf.read(path, dtype="float32", always_2d=False)
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if rate != corpus.SAMPLE_RATE:
        import soxr

        audio = soxr.resample(audio, rate, corpus.SAMPLE_RATE)
    return np.asarray(audio, np.float32)


def _real_noisy(rng: np.random.Generator, clip: np.ndarray, snr_db: float | None,
                noises: list[np.ndarray]) -> np.ndarray:
    """`clip` with a random stretch of a random real noise at `snr_db` on its loud part."""
    if snr_db is None:
        return clip
    noise = noises[int(rng.integers(len(noises)))]
    if len(noise) < len(clip):
        noise = np.tile(noise, len(clip) // len(noise) + 1)
    start = int(rng.integers(0, len(noise) - len(clip) + 1))
    piece = noise[start:start + len(clip)].astype(np.float64)
    level = corpus.active_rms(clip) / (10 ** (snr_db / 20))
    return (clip + piece / (np.sqrt(np.mean(piece**2)) + 1e-12) * level).astype(np.float32)


def real_tune_clips(snr_db: float | None, seed: int = 21) -> list[Clip]:
    """real_tune's commands (170) and every other one of its other words (128 of 255: the
    cores are shared, and a Whisper base look costs about a second)."""
    vocabulary = Vocabulary()
    rng = np.random.default_rng(seed)
    noises = [_read(p) for p in sorted((REAL_TUNE / "noises").glob("*.wav"))]
    out = []
    others = 0
    for path in sorted((REAL_TUNE / "words").glob("*/*.wav")):
        word = path.parent.name
        command = vocabulary.parse(word) is not None
        audio = _pad(rng, _read(path))
        noisy = _real_noisy(rng, audio, snr_db, noises)
        if not command:
            others += 1
            if others % 2 == 0:
                continue
        out.append(Clip(word, noisy, command))
    return out


def synthetic_clips(snr_db: float | None, speakers: int = 2, seed: int = 23) -> list[Clip]:
    rng = np.random.default_rng(seed)
    phrases = [p for p in Vocabulary().phrases if p not in REAL_PHRASES]
    others = list(OTHER_WORDS)
    noises = [_read(p) for p in sorted((REAL_TUNE / "noises").glob("*.wav"))]
    out: list[Clip] = []
    for i in range(speakers):
        voice = voices.random_voice(rng, "train")
        chosen = others[i::speakers]  # a third of the other words per voice
        texts = [*phrases, *chosen]
        for text, audio in zip(texts, corpus.speak(voice, texts), strict=True):
            if len(audio):
                clip = _pad(rng, audio)
                out.append(Clip(text, _real_noisy(rng, clip, snr_db, noises),
                                text in phrases or text in NUMBER_WORDS))
    return out


def speech_commands_clips(snr_db: float | None) -> list[Clip]:
    clips = real_clips()
    rng = np.random.default_rng(13)
    return [Clip(c.text, _noisy(rng, c.audio, snr_db), c.command) for c in clips]


#: set name -> (clips, tuning?)
SETS: dict[str, tuple[Callable[[], list[Clip]], bool]] = {
    "real_tune quiet": (lambda: real_tune_clips(None), True),
    "real_tune noise 10 dB": (lambda: real_tune_clips(10.0), True),
    "real_tune noise 5 dB": (lambda: real_tune_clips(5.0), True),
    "synthetic quiet": (lambda: synthetic_clips(None), True),
    "synthetic noise 10 dB": (lambda: synthetic_clips(10.0), True),
    "speech_commands quiet": (lambda: speech_commands_clips(None), False),
    "speech_commands pink 10 dB": (lambda: speech_commands_clips(10.0), False),
}


def available(name: str) -> bool:
    if name.startswith("speech_commands"):
        return corpus.REAL_VOICES.is_dir()
    return REAL_TUNE.is_dir()


def _key(audio: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(audio, np.float32).tobytes()).hexdigest()[:20]


def to_dict(h: Hearing) -> dict[str, object]:
    d = asdict(h)
    d["candidates"] = [list(c) for c in h.candidates]
    return d


def from_dict(d: dict[str, object]) -> Hearing:
    q = d["quick"]
    assert isinstance(q, dict)
    cands = d["candidates"]
    assert isinstance(cands, list)
    rest = {k: v for k, v in d.items() if k not in ("quick", "candidates")}
    return Hearing(quick=Quick(str(q["text"]), float(q["score"])),
                   candidates=tuple((str(p), float(s)) for p, s in cands),
                   **rest)  # type: ignore[arg-type]


def _cache_file(model: str, set_name: str) -> Path:
    folder = paths.cache_dir() / "bench" / "hearings" / model
    folder.mkdir(parents=True, exist_ok=True)
    return folder / (set_name.replace(" ", "_") + ".json")


def hearings(model: str, set_name: str, *, engine: WhisperEngine | None = None,
             threads: int = 2, log: bool = False, decode: bool = True,
             ) -> tuple[list[Clip], list[Hearing | None], list[float]]:
    """The clips of `set_name`, what `model` heard of each, and the seconds each took;
    decoded only for the clips not already in the cache (saved every 20 clips). Base is
    only asked about the clips that tiny.en's quick look does not settle (None for the
    others), as the engine does live. With `decode` False, only the cache is read (None
    for a clip not in it)."""
    clips = SETS[set_name][0]()
    path = _cache_file(model, set_name)
    cache: dict[str, dict[str, object]] = json.loads(path.read_text()) if path.exists() else {}
    keys = [_key(c.audio) for c in clips]
    step = every(model, set_name)
    wanted = [j % step == 0 for j in range(len(clips))]
    if model == "base":
        tiny = hearings("tiny.en", set_name, threads=threads, log=log, decode=decode)[1]
        wanted = [w and h is not None and not settled(h.quick.text)
                  for w, h in zip(wanted, tiny, strict=True)]
    todo = [(c, k) for c, k, w in zip(clips, keys, wanted, strict=True)
            if w and k not in cache and decode]
    if todo and engine is None:
        engine = WhisperEngine(Vocabulary(), model_folder(model), threads=threads)
    for i, (clip, key) in enumerate(todo):
        started = time.perf_counter()
        assert engine is not None
        entry = to_dict(_hear(model, engine, clip.audio))
        entry["cost"] = time.perf_counter() - started
        cache[key] = entry
        if (i + 1) % 20 == 0 or i + 1 == len(todo):
            partial = path.with_name(f"{path.stem}.{os.getpid()}.partial")
            partial.write_text(json.dumps(cache))
            partial.replace(path)
            if log:
                print(f"{model} {set_name}: {i + 1}/{len(todo)}", file=sys.stderr, flush=True)
    heard: list[Hearing | None] = []
    costs: list[float] = []
    for key, w in zip(keys, wanted, strict=True):
        entry = cache.get(key) if w else None
        if entry is None:
            heard.append(None)
            costs.append(0.0)
            continue
        costs.append(float(entry.get("cost", 0.0)))  # type: ignore[arg-type]
        heard.append(from_dict({k: v for k, v in entry.items() if k != "cost"}))
    return clips, heard, costs


def every(model: str, set_name: str) -> int:
    """1 to hear every clip of the set, 2 every other one: the cores are shared with
    other work, and base costs about twice tiny.en, so real_tune in noise (and, for base,
    real_tune quiet) is heard by halves."""
    if not set_name.startswith("real_tune"):
        return 1
    return 2 if model == "base" or "noise" in set_name else 1


def _hear(model: str, engine: WhisperEngine, audio: np.ndarray) -> Hearing:
    """As live: tiny.en's quick look, and its full look when the quick one does not settle
    the clip; base's full look alone (tiny's quick look stands for both)."""
    if model == "base":
        return engine.hear(audio, quick=Quick("", 0.0), full=True)
    return engine.hear(audio)


def settled(quick_text: str) -> bool:
    """Whether tiny.en's quick look settles the clip (its text is a phrase): base is then
    never asked, live or here."""
    return quick_text in PHRASES


def base_where_tiny_unsure(name: str, engine: WhisperEngine) -> None:
    """Fill base's cache for the clips of `name` that tiny.en's quick look does not settle,
    as tiny's hearings of them arrive (another process fills tiny's cache)."""
    clips = SETS[name][0]()
    tiny_path, path = _cache_file("tiny.en", name), _cache_file("base", name)
    cache: dict[str, dict[str, object]] = json.loads(path.read_text()) if path.exists() else {}
    done = 0
    while True:
        tiny = json.loads(tiny_path.read_text()) if tiny_path.exists() else {}
        keys = [_key(c.audio) for c in clips]
        step = every("base", name)
        todo = [(c, k) for j, (c, k) in enumerate(zip(clips, keys, strict=True))
                if k not in cache and j % step == 0
                and k in tiny and not settled(tiny[k]["quick"]["text"])]  # type: ignore[index]
        tiny_step = every("tiny.en", name)
        if not todo and all(k in tiny for j, k in enumerate(keys) if j % tiny_step == 0):
            return
        if not todo:
            time.sleep(20)
            continue
        for clip, key in todo[:20]:
            started = time.perf_counter()
            entry = to_dict(_hear("base", engine, clip.audio))
            entry["cost"] = time.perf_counter() - started
            cache[key] = entry
            done += 1
        partial = path.with_name(f"{path.stem}.{os.getpid()}.partial")
        partial.write_text(json.dumps(cache))
        partial.replace(path)
        print(f"base {name}: {done} (of the unsettled)", file=sys.stderr, flush=True)


if __name__ == "__main__":  # python -m bench.hearings MODEL [SET ...]: fill the cache
    model = sys.argv[1]
    names = sys.argv[2:] or list(SETS)
    engine = WhisperEngine(Vocabulary(), model_folder(model),
                           threads=int(os.environ.get("EAR_THREADS", "2")))
    for name in names:
        if not available(name):
            continue
        if model == "base" and os.environ.get("EAR_ONLY_UNSETTLED"):
            base_where_tiny_unsure(name, engine)
        else:
            hearings(model, name, engine=engine, log=True)
