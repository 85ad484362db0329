"""Text to PCM with pyttsx3 (eSpeak NG on Linux), cached; the project plays the PCM itself.

pyttsx3 quirks handled here (see shared AUDIO-NOTES.md, pinned by tests/test_tts.py):
- its eSpeak driver prints "Audio saved to ..." on stdout: that one message is filtered out;
- `say()` after `save_to_file()` writes to the old file: `say()` is never used, every text is
  rendered to a fresh temporary file;
- `runAndWait()` must not be re-entered and may hang: the engine (a process-wide singleton in
  pyttsx3) lives on one dedicated worker thread, every call waits with a timeout and fails
  with a DeviceError instead of hanging.
"""

from __future__ import annotations

import builtins
import difflib
import itertools
import os
import queue
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import soundfile as sf
import soxr

from assistant.errors import AssistantError, DeviceError

SAMPLE_RATE = 16_000
"""The project's one sample rate (Hz): speech out, microphone in, WAV files."""

DEFAULT_RATE = 175
"""Speaking rate in words per minute (eSpeak's scale)."""

MAX_SPEEDUP = 1.8
"""fit() re-renders speech at most this much faster before cutting it."""

SILENCE_THRESHOLD = 1e-3
"""|sample| at or below this counts as silence when trimming (about -60 dBFS)."""

FADE_SECONDS = 0.010

T = TypeVar("T")


class UnknownVoiceError(AssistantError):
    """A voice name that matches no installed voice: the person must fix it, so it is never
    taken for "no speech on this machine" (a DeviceError, after which the session goes on
    as text)."""


@dataclass(frozen=True)
class VoiceInfo:
    id: str
    name: str
    languages: tuple[str, ...]

    @property
    def short(self) -> str:
        """The id without its language family: `en-us` for `gmw/en-us`."""
        return self.id.rsplit("/", 1)[-1]


def _voice_key(text: str) -> str:
    return " ".join(text.replace("_", "-").split()).casefold()


def voices_for_language(voices: Sequence[VoiceInfo], language: str) -> list[VoiceInfo]:
    """The voices that speak `language` (`en` takes en-us, en-gb, ...; `en-gb` takes
    en-gb and en-gb-scotland), ignoring case and `_` for `-`."""
    key = _voice_key(language)
    return [v for v in voices
            if any(_voice_key(lang) == key or _voice_key(lang).startswith(key + "-")
                   for lang in v.languages)]


def resolve_voice(wanted: str, voices: Sequence[VoiceInfo]) -> str:
    """The id of the voice that `wanted` names: an id (`gmw/en-us`), a name
    (`English (America)`), a short id (`en-us`, `en`) or a language (`en-gb`, `en_US`), in
    that order of precedence, ignoring case. Otherwise UnknownVoiceError naming close
    matches."""
    key = _voice_key(wanted)
    for names in (lambda v: (v.id,), lambda v: (v.name,), lambda v: (v.short,),
                  lambda v: v.languages):
        for voice in voices:
            if any(_voice_key(n) == key for n in names(voice)):
                return voice.id
    known = {_voice_key(n): n for v in voices for n in (v.short, v.name, *v.languages)}
    close = [known[k] for k in difflib.get_close_matches(key, list(known), n=4, cutoff=0.6)]
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UnknownVoiceError(
        f"unknown voice {wanted!r}{hint} (see: exercise-assistant voices)"
    )


def trim_silence(pcm: np.ndarray, threshold: float = SILENCE_THRESHOLD) -> np.ndarray:
    """`pcm` without its leading and trailing silence (so speech starts on its first sample)."""
    loud = np.flatnonzero(np.abs(pcm) > threshold)
    if loud.size == 0:
        return pcm[:0]
    return pcm[loud[0] : loud[-1] + 1]


def fade_out(pcm: np.ndarray, seconds: float = FADE_SECONDS, rate: int = SAMPLE_RATE) -> None:
    """Fade the last `seconds` of `pcm` to zero, in place."""
    n = min(len(pcm), round(seconds * rate))
    if n:
        pcm[-n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)


def fit(
    pcm: np.ndarray,
    slot_seconds: float | None,
    render_faster: Callable[[float], np.ndarray],
    *,
    rate: int = SAMPLE_RATE,
    max_speedup: float = MAX_SPEEDUP,
) -> np.ndarray:
    """Make speech fit its time slot, so it never pushes the next beat.

    Speech that fits is returned as it is. Longer speech is re-rendered faster
    (`render_faster(factor)` with 1 < factor <= max_speedup) and, if still too long, cut at
    the slot's end with a 10 ms fade. The result is never longer than the slot.
    """
    if slot_seconds is None:
        return pcm
    limit = max(0, int(slot_seconds * rate))
    if len(pcm) <= limit:
        return pcm
    if limit == 0:
        return pcm[:0]
    best = pcm
    factor = min(max_speedup, len(pcm) / limit * 1.04)  # a little margin: rate is not linear
    for attempt in dict.fromkeys((factor, max_speedup)):  # max_speedup once, not twice
        if attempt <= 1.0:
            continue
        faster = render_faster(attempt)
        if len(faster) < len(best):
            best = faster
        if len(best) <= limit:
            return best
    cut = np.array(best[:limit], dtype=np.float32)
    fade_out(cut, FADE_SECONDS, rate)
    return cut


def _quiet_print(*args: Any, **kwargs: Any) -> None:
    """Stands in for print() inside pyttsx3's driver: drops its "Audio saved to" message."""
    if args and isinstance(args[0], str) and args[0].startswith("Audio saved to"):
        return
    builtins.print(*args, **kwargs)


class _EngineThread:
    """The one thread that owns pyttsx3's engine (a process-wide singleton in pyttsx3)."""

    _instance: _EngineThread | None = None
    _instance_lock = threading.Lock()

    @classmethod
    def shared(cls) -> _EngineThread:
        with cls._instance_lock:
            if cls._instance is None or cls._instance.broken:
                cls._instance = cls()
            return cls._instance

    def __init__(self) -> None:
        self.broken: str | None = None
        self._jobs: queue.SimpleQueue[tuple[Callable[[Any], Any], Future[Any]]] = (
            queue.SimpleQueue()
        )
        self._engine: Any = None
        self.default_voice: str | None = None
        self._driver_module: Any = None
        self._tmpdir: str | None = None  # made on the first render, in the user's cache
        self._names = itertools.count()
        self._thread = threading.Thread(target=self._loop, name="tts-engine", daemon=True)
        self._thread.start()

    def call(self, job: Callable[[Any], T], timeout: float) -> T:
        """Run `job(engine)` on the engine thread; DeviceError if it fails or takes too long."""
        if self.broken:
            raise DeviceError(self.broken)
        future: Future[T] = Future()
        self._jobs.put((job, future))
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            self.broken = f"text-to-speech engine stopped answering (no result in {timeout:g} s)"
            raise DeviceError(self.broken) from None

    def synchronize(self) -> None:
        """Wait (on the engine thread) until eSpeak has applied queued parameter changes."""
        espeak = getattr(self._driver_module, "_espeak", None)
        sync = getattr(espeak, "Synchronize", None)
        if sync is not None:
            sync()

    def temp_path(self) -> str:
        """A new file name for one render. Every process shares one folder in the user's
        cache directory (never a new temporary folder per process, left behind at exit);
        the process id keeps processes apart, and each file is removed once read."""
        if self._tmpdir is None:
            from assistant import paths

            try:
                folder = paths.cache_dir() / "tts"
                folder.mkdir(exist_ok=True)
            except OSError as exc:
                raise DeviceError(
                    f"cannot write speech to the cache folder {exc.filename}: {exc.strerror}"
                ) from None
            self._tmpdir = str(folder)
        return os.path.join(self._tmpdir, f"{os.getpid()}-{next(self._names)}.wav")

    def _loop(self) -> None:
        while True:
            job, future = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                if self._engine is None:
                    self._engine, self._driver_module = self._start_engine()
                    self.default_voice = self._engine.getProperty("voice")
                future.set_result(job(self._engine))
            except DeviceError as exc:
                future.set_exception(exc)
            except Exception as exc:
                reason = " ".join(str(exc).split()) or type(exc).__name__
                future.set_exception(DeviceError(f"text-to-speech failed: {reason}"))

    @staticmethod
    def _start_engine() -> tuple[Any, Any]:
        """pyttsx3's engine, and the module of its driver (eSpeak's, on Linux)."""
        try:
            import pyttsx3

            engine = pyttsx3.init()
        except Exception as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise DeviceError(
                f"no text-to-speech (pyttsx3 with eSpeak NG is needed: {reason})"
            ) from exc
        driver_module = sys.modules.get(type(engine.proxy._driver).__module__)
        if driver_module is not None:
            # The eSpeak driver announces every saved file on stdout; silence that message.
            driver_module.print = _quiet_print  # type: ignore[attr-defined]
        return engine, driver_module


class Speech:
    """What every voice shares: `render` gives float32 mono PCM at SAMPLE_RATE, trimmed of
    leading and trailing silence, from an LRU cache in memory; a subclass renders what is
    not there (`_render_uncached`). Safe to call from any thread."""

    engine = ""  # what speaks: shown by `voices`, and in the notes of a session
    voice: str | None
    rate: int
    volume: float

    def __init__(self, *, voice: str | None, rate: int, volume: float, cache_size: int
                 ) -> None:
        self.voice = voice
        self.rate = rate
        self.volume = volume
        self.cache_size = cache_size
        self.renders = 0  # how many times the engine actually rendered (cache misses)
        self._cache: OrderedDict[tuple[str, str | None, int, float], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raise DeviceError with a one-line reason when speech cannot be rendered here."""
        raise NotImplementedError

    def render(
        self,
        text: str,
        *,
        voice: str | None = None,
        rate: int | None = None,
        volume: float | None = None,
    ) -> np.ndarray:
        """`text` spoken, as read-only float32 mono PCM at SAMPLE_RATE; cached. Arguments
        left out take the synthesizer's defaults."""
        key = (
            text,
            self.voice if voice is None else voice,
            int(self.rate if rate is None else rate),
            float(self.volume if volume is None else volume),
        )
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        if key[3] != 1.0:  # the same speech, scaled
            pcm = readonly(self.render(text, voice=key[1], rate=key[2], volume=1.0) * key[3])
        else:
            pcm = self._render_uncached(*key[:3])
        with self._lock:
            self.renders += 1
            self._cache[key] = pcm
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return pcm

    def prerender(self, texts: Iterable[str], **options: Any) -> None:
        """Render `texts` into the cache now (for example every count of a routine)."""
        for text in dict.fromkeys(texts):
            self.render(text, **options)

    def duration(self, text: str, *, rate: int | None = None, voice: str | None = None) -> float:
        """Seconds that `text` really lasts when spoken (silence trimmed)."""
        return len(self.render(text, rate=rate, voice=voice)) / SAMPLE_RATE

    def missing(self, texts: Iterable[str]) -> list[str]:
        """The texts that rendering would have to synthesize (none here: a subclass with a
        slow engine and a cache on disk says which)."""
        return []

    def _render_uncached(self, text: str, voice: str | None, rate: int) -> np.ndarray:
        raise NotImplementedError


class Synthesizer(Speech):
    """eSpeak NG through pyttsx3: the light voice, and the fallback."""

    engine = "eSpeak NG"

    def __init__(
        self,
        *,
        voice: str | None = None,
        rate: int = DEFAULT_RATE,
        volume: float = 1.0,
        cache_size: int = 1024,
        timeout: float = 15.0,
    ) -> None:
        super().__init__(voice=voice, rate=rate, volume=volume, cache_size=cache_size)
        self.timeout = timeout
        self._voice_ids: dict[str, str] = {}
        self._engine = _EngineThread.shared()

    def check(self) -> None:
        """Raise DeviceError with a one-line reason when speech cannot be rendered here."""
        self._engine.call(lambda engine: None, self.timeout)

    def voices(self) -> list[VoiceInfo]:
        def job(engine: Any) -> list[VoiceInfo]:
            return [
                VoiceInfo(
                    id=str(v.id),
                    name=str(v.name),
                    languages=tuple(str(lang) for lang in (v.languages or [])),
                )
                for v in engine.getProperty("voices")
            ]

        return self._engine.call(job, self.timeout)

    def resolve_voice(self, voice: str) -> str:
        """The installed voice's id for `voice` (see `resolve_voice`); UnknownVoiceError
        when none matches."""
        with self._lock:
            known = self._voice_ids.get(voice)
        if known is None:
            known = resolve_voice(voice, self.voices())
            with self._lock:
                self._voice_ids[voice] = known
        return known

    def _render_uncached(self, text: str, voice: str | None, rate: int) -> np.ndarray:
        if not text.strip():
            return readonly(np.zeros(0, dtype=np.float32))
        engine_thread = self._engine
        voice_id = None if voice is None else self.resolve_voice(voice)
        path = engine_thread.temp_path()

        def job(engine: Any) -> tuple[np.ndarray, int]:
            engine.setProperty("voice", voice_id or engine_thread.default_voice)
            engine.setProperty("rate", rate)
            engine.setProperty("volume", 1.0)  # volume is applied as a gain, exactly
            # eSpeak NG queues parameter changes on its own thread; without this, a render
            # can still use the previous rate or voice (measured: most renders in a mixed
            # sequence did).
            engine_thread.synchronize()
            try:
                engine.save_to_file(text, path)
                engine.runAndWait()
                # pyttsx3's eSpeak driver starts an asynchronous synthesis and its loop can
                # return before eSpeak's thread has written the file (measured: the first
                # render of a process now and then found no file): wait for eSpeak.
                engine_thread.synchronize()
                if not os.path.exists(path):
                    raise DeviceError(f"text-to-speech wrote no audio for {text[:40]!r}")
                samples, file_rate = sf.read(path, dtype="float32", always_2d=True)
                return samples.mean(axis=1, dtype=np.float32), int(file_rate)
            finally:
                if os.path.exists(path):
                    os.remove(path)

        # Under heavy load eSpeak NG now and then hands back a file with no samples for a
        # non-empty text (seen in the test suite beside other synthesis jobs): try again.
        # (Text with nothing to say, such as "...", stays silent after the tries.)
        for _ in range(3):
            samples, file_rate = engine_thread.call(job, self.timeout + len(text) / 50)
            if np.any(samples):
                break
        if file_rate != SAMPLE_RATE and len(samples):
            samples = soxr.resample(samples, file_rate, SAMPLE_RATE, quality="HQ")
        return readonly(np.ascontiguousarray(trim_silence(samples), dtype=np.float32))


def readonly(pcm: np.ndarray) -> np.ndarray:
    """`pcm`, made read-only (cached speech is shared between threads)."""
    pcm.flags.writeable = False
    return pcm
