"""Your music under the session: files shuffled and looped, each levelled, ducked under the
assistant's voice, quiet while paused, faded out at the end.

The music is played by the assistant's own loudspeaker, mixed into what it plays, so it is
part of the echo canceller's reference: the ear takes it out of the microphone as it takes
out the assistant's voice, and hears you through it.

- `music_files(path)`: a file or a folder (searched recursively) of audio files; what is not
  there or not audio is a warning, never an error.
- `Playlist`: the endless music, addressed by absolute sample (`read(a, b)`), so that any
  range of it is always the same samples (a simulation reads the echo frame by frame, then
  the whole file). Each file is decoded once by PyAV (through faster-whisper's
  `decode_audio`, which resamples to 16 kHz mono), levelled to `LEVEL_DB`, and kept while
  it plays; one that cannot be decoded is skipped with a warning.
- `Ducking`: the gain of the music at each sample: down by `duck_db` while the assistant
  speaks (from the first sample of its speech, over `ATTACK`; back up over `RELEASE` after
  `HOLD`, so that it does not pump between the sentences of one instruction), down while
  the session is paused (the room goes quiet, and "resume" is heard at once), and faded out
  over `OUTRO` when the session ends.
"""

from __future__ import annotations

import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.audio import read_ring, write_ring
from assistant.voice.tts import SAMPLE_RATE

LEVEL_DB = -30.0
"""Each song's RMS is brought to this (dBFS): the voice (about -21 dBFS) stands 9 dB above
it, and 21 dB above it ducked."""

PEAK = 0.7
"""A song whose peak would pass this at `LEVEL_DB` is levelled lower (never clipped)."""

DUCK_DB = 12.0
"""How far the music drops under the assistant's voice (the `music_duck` setting)."""

ATTACK = 0.05
RELEASE = 0.3
HOLD = 0.15
OUTRO = 2.0
SUFFIXES = frozenset({".flac", ".ogg", ".oga", ".opus", ".mp3", ".wav", ".m4a", ".aac",
                      ".wma", ".aiff", ".aif"})
CACHED_SONGS = 3


class MusicError(Exception):
    """One file that cannot be played (its one-line reason)."""


def music_files(path: Path) -> tuple[list[Path], list[str]]:
    """The audio files at `path` (a file, or every audio file in a folder and its
    subfolders, by suffix), sorted; and a warning when there are none."""
    path = path.expanduser()
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
        if not found:
            return [], [f"music: no audio files in {path} (FLAC, OGG, MP3 or WAV)"]
        return found, []
    if not path.exists():
        return [], [f"music: no such file or folder {path}"]
    return [path], []


def decode_song(path: Path) -> np.ndarray:
    """The whole file as float32 mono at SAMPLE_RATE; MusicError when it is not audio."""
    from faster_whisper import decode_audio

    try:
        pcm = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except Exception as exc:  # PyAV raises its own error types for every kind of bad file
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise MusicError(f"music: cannot play {path.name}: {reason}") from None
    if len(pcm) < SAMPLE_RATE // 2 or not np.any(pcm):
        raise MusicError(f"music: {path.name} holds no sound")
    return np.ascontiguousarray(pcm, dtype=np.float32)


def level(pcm: np.ndarray, level_db: float = LEVEL_DB) -> np.ndarray:
    """`pcm` scaled to an RMS of `level_db` dBFS, or less if its peak would pass `PEAK`."""
    rms = float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64))))
    peak = float(np.max(np.abs(pcm)))
    gain = min(10.0 ** (level_db / 20.0) / rms, PEAK / peak)
    return (pcm * np.float32(gain)).astype(np.float32)


@dataclass
class _Song:
    start: int  # absolute sample where it starts
    length: int
    path: Path


class Playlist:
    """The music as one endless signal: `files` shuffled (a new order each time round),
    each song levelled and played whole, one after another. Thread-safe."""

    def __init__(self, files: Sequence[Path], *, seed: int | None = None,
                 level_db: float = LEVEL_DB,
                 decode: Callable[[Path], np.ndarray] = decode_song) -> None:
        self.files = list(files)
        self.level_db = level_db
        self.warnings: list[str] = []
        self._decode = decode
        self._random = random.Random(seed)
        self._order: list[Path] = []
        self._songs: list[_Song] = []  # the timeline so far
        self._pcm: OrderedDict[Path, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def playable(self) -> bool:
        """Whether any file is left to play (False once every one failed to decode)."""
        return bool(self.files)

    def read(self, a: int, b: int) -> np.ndarray:
        """Samples [a, b) of the music (zeros where there is none)."""
        out = np.zeros(max(0, b - a), np.float32)
        with self._lock:
            while self.files and (not self._songs or self._end() < b):
                self._extend()
            for song in self._songs:
                s, e = max(a, song.start), min(b, song.start + song.length)
                if s < e:
                    pcm = self._get(song.path)
                    if pcm is not None:
                        out[s - a : e - a] = pcm[s - song.start : e - song.start]
        return out

    def _end(self) -> int:
        last = self._songs[-1]
        return last.start + last.length

    def _extend(self) -> None:
        """The next song onto the timeline (a file that fails is dropped, warned once)."""
        if not self._order:
            self._order = list(self.files)
            self._random.shuffle(self._order)
        path = self._order.pop(0)
        pcm = self._get(path)
        if pcm is None:
            return
        start = self._end() if self._songs else 0
        self._songs.append(_Song(start, len(pcm), path))

    def _get(self, path: Path) -> np.ndarray | None:
        pcm = self._pcm.get(path)
        if pcm is not None:
            self._pcm.move_to_end(path)
            return pcm
        try:
            pcm = level(self._decode(path), self.level_db)
        except MusicError as exc:
            self.warnings.append(str(exc))
            self.files = [f for f in self.files if f != path]
            self._order = [f for f in self._order if f != path]
            return None
        self._pcm[path] = pcm
        while len(self._pcm) > CACHED_SONGS:
            self._pcm.popitem(last=False)
        return pcm


@dataclass
class Ducking:
    """The music's gain at each sample (pure: from the speech spans it is told of)."""

    duck_db: float = DUCK_DB
    volume: float = 1.0  # the music's own level, 0..1 (the `music_volume` setting)
    rate: int = SAMPLE_RATE
    paused: list[tuple[int, int]] = field(default_factory=list)  # [start, end) spans
    _paused_at: int | None = None
    ended_at: int | None = None

    def phase(self, sample: int, phase: str) -> None:
        """The session's phase from `sample` on: "paused" ducks until the next phase,
        "done" fades the music out."""
        if phase == "paused":
            if self._paused_at is None:
                self._paused_at = sample
        elif self._paused_at is not None:
            self.paused.append((self._paused_at, sample))
            self._paused_at = None
        if phase == "done" and self.ended_at is None:
            self.ended_at = sample

    def gains(self, a: int, b: int, speech: Sequence[tuple[int, int]]) -> np.ndarray:
        """Gains for samples [a, b) with speech sounding over `speech` ([start, end) spans)."""
        n = max(0, b - a)
        s = np.arange(a, a + n, dtype=np.float64)
        down = np.zeros(n)
        attack, hold = ATTACK * self.rate, HOLD * self.rate
        release = RELEASE * self.rate
        spans = [*speech, *self.paused]
        if self._paused_at is not None:
            spans.append((self._paused_at, a + n + round(hold + release)))
        for start, end in spans:
            if end + hold + release <= a or start >= a + n:
                continue
            rise = np.clip((s - start) / attack, 0.0, 1.0)
            fall = np.clip(1.0 - (s - end - hold) / release, 0.0, 1.0)
            np.maximum(down, np.minimum(rise, fall), out=down)
        gain = self.volume * 10.0 ** (-self.duck_db * down / 20.0)
        if self.ended_at is not None:
            gain *= np.clip(1.0 - (s - self.ended_at) / (OUTRO * self.rate), 0.0, 1.0)
        return gain.astype(np.float32)


class MusicFeed:
    """The playlist decoded ahead of a live loudspeaker on a thread of its own, into a ring:
    the audio callback only copies (`take`), and takes silence where the music is not
    ready (the first song still decoding)."""

    AHEAD = 3.0  # seconds decoded ahead of the loudspeaker
    CHUNK = 0.5

    def __init__(self, playlist: Playlist, rate: int = SAMPLE_RATE, seconds: float = 20.0
                 ) -> None:
        self.playlist = playlist
        self.rate = rate
        self._ring = np.zeros(round(seconds * rate), np.float32)
        self._filled = 0  # music is in the ring up to this absolute sample
        self._now = 0  # where the loudspeaker is
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="music", daemon=True)
        self._thread.start()

    def take(self, a: int, b: int) -> np.ndarray:
        """Samples [a, b) of the music if ready, else silence (never waits)."""
        self._now = b
        filled = self._filled
        if b > filled or a < filled - len(self._ring) or b <= a:
            return np.zeros(max(0, b - a), np.float32)
        return read_ring(self._ring, filled, a, b)

    def _run(self) -> None:
        chunk = round(self.CHUNK * self.rate)
        while not self._stop.is_set() and self.playlist.playable:
            now = self._now
            if self._filled < now:  # the loudspeaker skipped ahead: follow it
                self._filled = now
            if self._filled >= now + self.AHEAD * self.rate:
                self._stop.wait(0.05)
                continue
            a = self._filled
            write_ring(self._ring, a, self.playlist.read(a, a + chunk))
            self._filled = a + chunk

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
