"""Listening: recall per condition, wrong commands, false accepts, latency and CPU, per engine.

Run with `python -m bench recognition`. Each engine runs behind the same streaming Listener
(noise suppression, endpointer, echo guard), fed 20 ms blocks as from a live microphone.
Beside them, the naive way on the same streams: energy segmentation as
`Recognizer.listen()` does it, then SpeechRecognition's `recognize_faster_whisper` on each
segment."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.commands import Vocabulary
from assistant.ear.engines import REGISTRY, Engine, create
from assistant.ear.listener import Listener
from assistant.errors import DeviceError
from assistant.events import Heard
from bench import corpus, voices

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


def listen(engine: Engine, stream: corpus.Stream) -> Score:
    """The stream through a Listener in 20 ms blocks, as live; CPU is process time.

    A command's latency is from the true end of its speech to the moment the listener would
    return it live: the end of the block that returned it, plus how far the listener then
    lagged behind real time (blocks arrive every 20 ms; one that took longer to process,
    such as a decode, delays the ones after it)."""
    listener = Listener(engine, Vocabulary())
    found: list[tuple[Heard, float]] = []
    audio, ref = stream.audio, stream.reference
    period = BLOCK / corpus.SAMPLE_RATE
    lag = 0.0
    started = time.process_time()
    for i in range(0, len(audio), BLOCK):
        block_ref = None if ref is None else ref[i : i + BLOCK]
        t0 = time.perf_counter()
        heard_now = listener.process(audio[i : i + BLOCK], block_ref)
        lag = max(0.0, lag + time.perf_counter() - t0 - period)
        for heard in heard_now:
            found.append((heard, min(len(audio), i + BLOCK) / corpus.SAMPLE_RATE + lag))
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


def sr_faster_whisper(stream: corpus.Stream) -> Score:
    """The naive Whisper: `Recognizer.listen()`'s segments, each through SpeechRecognition's
    `recognize_faster_whisper` (a new model per call: it loads tiny.en every time), the text
    a command when it is exactly a phrase."""
    import speech_recognition as sr

    from assistant.ear.engines.whisper import bundled_model, canonical

    vocabulary = Vocabulary()
    r = sr.Recognizer()
    model = str(bundled_model())
    found: list[tuple[Heard, float]] = []
    started = time.process_time()
    for s, e in sr_segments(stream.audio):
        clip = np.clip(stream.audio[s:e] * 32767, -32768, 32767).astype(np.int16)
        data = sr.AudioData(clip.tobytes(), corpus.SAMPLE_RATE, 2)
        t0 = time.perf_counter()
        text = canonical(str(r.recognize_faster_whisper(
            data, model=model, init_options={"device": "cpu", "compute_type": "int8"},
            language="en", beam_size=1, without_timestamps=True,
        )))
        took = time.perf_counter() - t0
        intent = vocabulary.parse(text)
        if intent is not None:
            heard = Heard(intent, text, 1.0, s / corpus.SAMPLE_RATE, e / corpus.SAMPLE_RATE)
            # returned after listen()'s 0.8 s of quiet and the decode
            found.append((heard, e / corpus.SAMPLE_RATE + 0.8 + took))
    result = score(stream, found)
    result.cpu = time.process_time() - started
    return result


# ------------------------------------------------------------------------------- report

ENGINES = ("whisper", "pocketsphinx")
NAIVE = "naive: SpeechRecognition faster-whisper"
SUPPRESSED = "whisper, hearing suppressed audio"
#: Whisper without the trained ear's second opinion (issue 28 item 7: does the ear still
#: earn its place?)
ALONE = "whisper without the trained ear"


def _engines() -> dict[str, Callable[[], Engine]]:
    vocabulary = Vocabulary()
    out: dict[str, Callable[[], Engine]] = {}
    for name in ENGINES:
        if name not in REGISTRY:
            continue
        try:
            engine = create(name, vocabulary)
        except (DeviceError, Exception):  # an engine that cannot load is left out
            continue
        out[name] = lambda engine=engine: engine  # type: ignore[misc]
    if "whisper" in out:
        # the same engine fed the noise-suppressed signal in noise, as the others are
        suppressed = create("whisper", vocabulary)
        suppressed.hears_raw = False
        out[SUPPRESSED] = lambda: suppressed
        from assistant.ear.engines.whisper import WhisperEngine

        alone = create("whisper", vocabulary)
        assert isinstance(alone, WhisperEngine)
        alone.second = None
        out[ALONE] = lambda: alone
    return out


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.0f} % ({a}/{b})" if b else "-"


def streams(count: int = COUNT) -> list[corpus.Stream]:
    """Every condition of the table: synthetic voices, real voices quiet and in pink noise."""
    out = [corpus.condition(c, count) for c in corpus.CONDITIONS]
    real = corpus.real_voices()
    if real is not None:
        rng = np.random.default_rng(5)
        n = len(real.audio)
        out.append(real)
        for snr in (10.0, 5.0):
            noise = voices.colored_noise(rng, n, "pink")
            out.append(corpus.with_noise(real, noise, snr, f"real voices, pink {snr:.0f} dB"))
    return out


def quiet_room(seconds: float = 60.0) -> corpus.Stream:
    """A quiet room with nobody talking: what listening costs while nothing happens."""
    rng = np.random.default_rng(6)
    return corpus.Stream("quiet room", corpus.room_noise(rng, int(seconds * corpus.SAMPLE_RATE)))


def file_speed(streams: list[corpus.Stream], minutes: float = 20.0) -> tuple[float, int]:
    """Wall time of `exercise-assistant listen --file X --json` (default engine, start-up
    included) on a recording of `minutes` made of the given streams one after another;
    and how many commands it printed."""
    import subprocess
    import sys
    import tempfile

    import soundfile as sf

    want = int(minutes * 60 * corpus.SAMPLE_RATE)
    parts, total = [], 0
    while total < want:
        for stream in streams:
            parts.append(stream.audio)
            total += len(stream.audio)
    audio = np.concatenate(parts)[:want]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.wav"
        sf.write(path, audio, corpus.SAMPLE_RATE, subtype="PCM_16")
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "assistant", "listen", "--file", str(path), "--json"],
            capture_output=True, text=True, check=True, cwd=corpus.ROOT,
        )
        took = time.perf_counter() - started
    return took, len(out.stdout.splitlines())


def run(count: int = COUNT, naive_count: int = 12) -> str:
    all_streams = streams(count)
    talk = corpus.conversation(120.0)
    quiet = quiet_room()
    engines = _engines()
    columns = [*engines, NAIVE]
    table: dict[str, dict[str, Score]] = {c: {} for c in columns}
    for name, make in engines.items():
        for stream in [*all_streams, talk, quiet]:
            table[name][stream.name] = listen(make(), stream)
    naive_streams = [corpus.condition(c, naive_count) for c in corpus.CONDITIONS]
    naive_streams += [s for s in all_streams if s.name == "real voices"]
    for stream in [*naive_streams, talk]:
        table[NAIVE][stream.name] = sr_faster_whisper(stream)

    lines = [
        "## Listening: spoken commands in a room",
        "",
        f"{count} synthetic commands per condition (eSpeak NG and flite voices that nothing "
        "was tuned on), 1-2 s apart in a quiet room (-66 dBFS pink); the naive column on "
        f"{naive_count} per synthetic condition and the quiet real voices (it loads the model for "
        "every utterance). "
        "Real voices: the 300 Speech Commands clips (140 command words, 160 other words), "
        "quiet and in pink noise. Conversation: "
        f"{talk.seconds / 60:.1f} min of ordinary sentences, many with command words inside. "
        "Each cell: commands heard right, wrong commands, detections where no command was said.",
        "",
        "| | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for cond in [s.name for s in all_streams]:
        cells = []
        for c in columns:
            sc = table[c].get(cond)
            cells.append(
                "-" if sc is None
                else f"{_pct(sc.right, sc.commands)}, {sc.wrong} wrong, {sc.false} false"
            )
        lines.append(f"| {cond} | " + " | ".join(cells) + " |")
    cells = []
    for c in columns:
        sc = table[c]["conversation"]
        cells.append(f"{sc.false} ({sc.false / (sc.seconds / 60):.1f}/min)")
    lines.append("| false commands in conversation | " + " | ".join(cells) + " |")
    cells = []
    for c in columns:
        lat = [x for sc in table[c].values() for x in sc.latencies]
        cells.append(f"{1000 * statistics.median(lat):.0f} ms" if lat else "-")
    lines.append("| utterance end to heard (median) | " + " | ".join(cells) + " |")
    for label, names in (("CPU in a quiet room", {"quiet room"}),
                         ("CPU through conversation", {"conversation"}),
                         ("CPU over all streams", None)):
        cells = []
        for c in columns:
            chosen = [sc for k, sc in table[c].items() if names is None or k in names]
            cpu = sum(sc.cpu for sc in chosen)
            sec = sum(sc.seconds for sc in chosen)
            cells.append(f"{100 * cpu / sec:.1f} %" if sec else "-")
        lines.append(f"| {label} (share of one core) | " + " | ".join(cells) + " |")
    took, printed = file_speed([*all_streams, talk])
    lines.append(f"| `listen --file` on a 20-minute recording (default engine) | {took:.0f} s "
                 f"({printed} commands) |" + " |" * (len(columns) - 1))
    lines.append("")
    lines.append(
        "Latency: from the true end of the speech to the moment the command would be returned "
        "live (the 20 ms block that returned it, plus any lag the listener had built up behind "
        "real time); for the naive column, listen()'s 0.8 s of quiet plus its decode."
    )
    lines.append("")
    for c in columns:
        mistakes = [f"{k}: {m}" for k, sc in table[c].items() for m in sc.mistakes]
        if mistakes:
            lines.append(f"{c} mistakes: " + "; ".join(mistakes[:20]))
            lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
