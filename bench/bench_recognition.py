"""Listening: recall per condition, wrong commands, false accepts, latency and CPU, per engine.

Run with `python -m bench recognition`. Each engine runs behind the same streaming Listener
(noise suppression, endpointer, echo guard), fed 20 ms blocks as from a live microphone.
Beside them, the plain SpeechRecognition approach on the same streams: energy segmentation
as `Recognizer.listen()` does it, then `recognize_sphinx` with `keyword_entries`."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.commands import Vocabulary
from assistant.errors import DeviceError
from assistant.events import Heard
from assistant.speech.engines import REGISTRY, Engine, create
from assistant.speech.listener import Listener
from bench import corpus

BLOCK = 320  # 20 ms, as a sounddevice callback would deliver
TOLERANCE = 0.3  # seconds: a detection belongs to an utterance it overlaps, give or take this
COUNT = 60  # commands per condition (30 gave figures 25 points apart between seeds)


@dataclass
class Score:
    """What one recognizer made of one stream."""

    commands: int = 0
    right: int = 0
    wrong: int = 0
    false: int = 0  # detections of no command utterance
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu: float = 0.0
    mistakes: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        self.commands += other.commands
        self.right += other.right
        self.wrong += other.wrong
        self.false += other.false
        self.latencies += other.latencies
        self.seconds += other.seconds
        self.cpu += other.cpu
        self.mistakes += other.mistakes


def score(stream: corpus.Stream, found: list[tuple[Heard, float]]) -> Score:
    """Match detections (Heard, time it was returned) to the stream's truth."""
    vocabulary = Vocabulary()
    result = Score(commands=len(stream.commands), seconds=stream.seconds)
    used: set[int] = set()
    for heard, at in found:
        match = None
        for i, truth in enumerate(stream.truth):
            if heard.start < truth.end + TOLERANCE and heard.end > truth.start - TOLERANCE:
                match = i
                break
        truth_ = stream.truth[match] if match is not None else None
        if match is None or truth_ is None or not truth_.command:
            result.false += 1
            result.mistakes.append(f"{heard.text!r} from {truth_.text if truth_ else 'nothing'!r}")
        elif match in used:
            result.false += 1
        elif vocabulary.parse(truth_.text) == heard.intent:
            result.right += 1
            result.latencies.append(at - truth_.end)
            used.add(match)
        else:
            result.wrong += 1
            result.mistakes.append(f"{heard.text!r} for {truth_.text!r}")
            used.add(match)
    return result


def listen(engine: Engine, stream: corpus.Stream, **settings: float) -> Score:
    """The stream through a Listener in 20 ms blocks, as live; CPU is process time."""
    listener = Listener(engine, Vocabulary(), **settings)  # type: ignore[arg-type]
    found: list[tuple[Heard, float]] = []
    audio, ref = stream.audio, stream.reference
    started = time.process_time()
    for i in range(0, len(audio), BLOCK):
        block_ref = None if ref is None else ref[i : i + BLOCK]
        for heard in listener.process(audio[i : i + BLOCK], block_ref):
            found.append((heard, min(len(audio), i + BLOCK) / corpus.SAMPLE_RATE))
    for heard in listener.flush():
        found.append((heard, stream.seconds))
    cpu = time.process_time() - started
    result = score(stream, found)
    result.cpu = cpu
    return result


# ------------------------------------------------------- the plain SpeechRecognition way


def sr_segments(audio: np.ndarray) -> list[tuple[int, int]]:
    """Segments as `Recognizer.listen()` finds them: dynamic energy threshold on 1024-sample
    buffers, speech while above it, a phrase ends after `pause_threshold` (0.8 s) below it."""
    import speech_recognition as sr

    r = sr.Recognizer()
    buf = 1024
    threshold = r.energy_threshold
    damping = r.dynamic_energy_adjustment_damping
    ratio = r.dynamic_energy_ratio
    pcm = np.clip(audio * 32767, -32768, 32767).astype(np.float64)
    pause = int(np.ceil(r.pause_threshold * corpus.SAMPLE_RATE / buf))
    segments: list[tuple[int, int]] = []
    start = None
    quiet = 0
    for i in range(0, len(pcm) - buf + 1, buf):
        energy = float(np.sqrt(np.mean(pcm[i : i + buf] ** 2)))
        if start is None:
            if energy > threshold:
                start, quiet = i, 0
            else:  # adjust the threshold while waiting, as listen() does
                multiplier = damping ** (buf / corpus.SAMPLE_RATE)
                threshold = threshold * multiplier + energy * ratio * (1 - multiplier)
        else:
            quiet = 0 if energy > threshold else quiet + 1
            if quiet > pause:
                segments.append((max(0, start - 8000), i))
                start = None
    if start is not None:
        segments.append((max(0, start - 8000), len(pcm)))
    return segments


def sr_keywords(stream: corpus.Stream, sensitivity: float = 0.8) -> Score:
    """`recognize_sphinx(keyword_entries=...)` on each segment; the detection is the whole
    segment's keywords when they form exactly one phrase."""
    import speech_recognition as sr

    vocabulary = Vocabulary()
    r = sr.Recognizer()
    entries = [(p, sensitivity) for p in sorted(vocabulary.phrases)]
    found: list[tuple[Heard, float]] = []
    started = time.process_time()
    for s, e in sr_segments(stream.audio):
        clip = np.clip(stream.audio[s:e] * 32767, -32768, 32767).astype(np.int16)
        data = sr.AudioData(clip.tobytes(), corpus.SAMPLE_RATE, 2)
        try:
            text = r.recognize_sphinx(data, keyword_entries=entries)
        except sr.UnknownValueError:
            continue
        words = " ".join(text.split())
        intent = vocabulary.parse(words)
        if intent is not None:
            heard = Heard(intent, words, 1.0, s / corpus.SAMPLE_RATE, e / corpus.SAMPLE_RATE)
            found.append((heard, e / corpus.SAMPLE_RATE + 0.8))
    result = score(stream, found)
    result.cpu = time.process_time() - started
    return result


# ------------------------------------------------------------------------------- report


def _engines() -> dict[str, Callable[[], Engine]]:
    vocabulary = Vocabulary()
    out: dict[str, Callable[[], Engine]] = {}
    for name in ("pocketsphinx", "checked", "neural"):
        if name not in REGISTRY:
            continue
        try:
            create(name, vocabulary)
        except (DeviceError, Exception):  # an engine that cannot load is left out
            continue
        out[name] = lambda name=name: create(name, vocabulary)  # type: ignore[misc]
    return out


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.0f} % ({a}/{b})" if b else "-"


def run(count: int = COUNT, sr_count: int = 12) -> str:
    streams = [corpus.condition(c, count) for c in corpus.CONDITIONS]
    real = corpus.real_voices()
    if real is not None:
        streams.append(real)
    talk = corpus.conversation(120.0)
    engines = _engines()
    columns = [*engines, "SpeechRecognition keywords"]
    table: dict[str, dict[str, Score]] = {c: {} for c in columns}
    for name, make in engines.items():
        for stream in [*streams, talk]:
            table[name][stream.name] = listen(make(), stream)
    sr_streams = [corpus.condition(c, sr_count) for c in corpus.CONDITIONS]
    for stream in [*sr_streams, *([real] if real is not None else []), talk]:
        table["SpeechRecognition keywords"][stream.name] = sr_keywords(stream)

    lines = [
        "## Listening: spoken commands in a room",
        "",
        f"{count} synthetic commands per condition (voices no engine trained on), 1-2 s apart"
        f" in a quiet room (-66 dBFS pink); SpeechRecognition on {sr_count} per condition "
        "(it builds a decoder per segment). Real voices: 300 Speech Commands clips "
        "(140 command words, 160 other words). Conversation: "
        f"{talk.seconds / 60:.1f} min of ordinary sentences, many with command words inside.",
        "",
        "| | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    names = [s.name for s in streams]
    for cond in names:
        cells = []
        for c in columns:
            s = table[c].get(cond)
            cells.append(
                "-"
                if s is None
                else f"{_pct(s.right, s.commands)}, {s.wrong} wrong, {s.false} false"
            )
        lines.append(f"| recall: {cond} | " + " | ".join(cells) + " |")
    cells = []
    for c in columns:
        s = table[c]["conversation"]
        cells.append(f"{s.false} ({s.false / (s.seconds / 60):.1f}/min)")
    lines.append("| false commands in conversation | " + " | ".join(cells) + " |")
    cells = []
    for c in columns:
        lat = [x for s in table[c].values() for x in s.latencies]
        cells.append(f"{1000 * statistics.median(lat):.0f} ms" if lat else "-")
    lines.append("| utterance end to heard (median) | " + " | ".join(cells) + " |")
    cells = []
    for c in columns:
        cpu = sum(s.cpu for s in table[c].values())
        sec = sum(s.seconds for s in table[c].values())
        cells.append(f"{100 * cpu / sec:.1f} %")
    lines.append("| CPU, share of one core | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "SpeechRecognition keywords: its sensitivity maps to thresholds of 1e-110..1e-10, so "
        "every segment spots dozens of keywords; a segment counts only when its keywords are "
        "exactly one phrase, which almost never happens. Latency of the listener columns: "
        "from the true end of the speech to the 20 ms block that returned the command."
    )
    lines.append("")
    for c in columns:
        mistakes = [f"{k}: {m}" for k, s in table[c].items() for m in s.mistakes]
        if mistakes:
            lines.append(f"{c} mistakes: " + "; ".join(mistakes[:20]))
            lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
