"""Voices: Piper's "joe" (the default) against eSpeak NG's default voice and its en-us, all
measured in one run.

1. Word error rate of the spoken instructions: every bundled routine is simulated with
   `--speaker-file` (in-process, `app.run_simulation`); each `say` record of kind
   "instruction" is cut out of that WAV (from its `t`, as long as the voice says the text lasts,
   never past the next `say`) and transcribed by faster-whisper with the project's pinned
   tiny.en (beam 5, English, no prompt). Both texts are normalised (lower case, no
   punctuation, hyphens as spaces, numbers as words); WER = word edits / reference words over
   every instruction of the four routines.
2. Synthesis speed: every text the four routines may say (`app.spoken_texts`), rendered one
   by one from an empty cache (a fresh XDG_CACHE_HOME): seconds of synthesis per second of
   speech, and the time to load the voice.
3. `python -m assistant start desk-break --simulate --no-listen --speaker-file OUT.wav` with
   fresh XDG folders (cache, data, config), then again with the cache it left.
4. Live: `start desk-break --no-listen --no-journal --events EV --output-device pulse` into a
   null sink of a private PulseAudio daemon, fresh folders then warm: from launch to the first
   `say` record in the events file (polled every 10 ms); then SIGINT (kill after 10 s).
5. Count onsets in each voice's desk-break speaker file: for every `say` of kind "count", the
   first 10 ms frame above -45 dBFS at or after t - 50 ms, minus t.

The naive way, measured in the same run: no disk cache. Either every start renders what the
routine says before its first word (a start from an empty cache, rows 3-4 cold), or nothing is
prepared and each text is rendered when it is due: the first word waits for the voice to load
and its sentence to render, and every count is late by its own synthesis time (from 2).
eSpeak NG, which needs no cache, is the baseline.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from assistant import app
from assistant.ear.levels import level_db
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from private_pulse import PrivateDaemon, available, scoped_env  # noqa: E402

ROUTINES = ("desk-break", "morning-mobility", "strength-circuit", "upper-back")
TIMED_ROUTINE = "desk-break"  # simulated from the command line, started live, counts checked
RATE = 16000
PAD = 0.25  # seconds of silence each side of a cut given to Whisper
ONSET_DB = -45.0
FRAME = 0.01
LEAD = 0.05  # the onset search starts this long before the record's t
POLL = 0.01
WORST_SHOWN = 5

# targets
WER_TARGET = 0.04
WER_SHARE_OF_ESPEAK = 0.4
ONSET_TARGET = 0.010
SIMULATE_TARGET = 60.0
FIRST_WORD_TARGET = 1.0


@dataclass(frozen=True)
class VoiceCase:
    label: str
    flag: str | None  # --voice, None for the default

    def args(self) -> list[str]:
        return [] if self.flag is None else ["--voice", self.flag]

    @property
    def key(self) -> str:
        return self.flag or "default"


VOICES = (VoiceCase("Piper joe (default)", None), VoiceCase("eSpeak NG default", "espeak"),
          VoiceCase("eSpeak NG en-us", "en-us"))


@dataclass
class Heard:
    said: str
    heard: str
    edits: int
    words: int


@dataclass(frozen=True)
class Onset:
    text: str
    t: float
    sample: float  # its first non-zero sample, minus t
    loud: float  # its first frame above ONSET_DB, minus t (inf: none within a second)


@dataclass
class Results:
    load: float = 0.0
    synthesis: float = 0.0
    speech: float = 0.0
    texts: int = 0
    took: dict[str, float] = field(default_factory=dict)  # synthesis seconds per text
    heard: list[Heard] = field(default_factory=list)
    simulate: tuple[float, float] = (0.0, 0.0)  # cold, warm
    first_word: tuple[float | None, float | None] = (None, None)
    onsets: list[Onset] = field(default_factory=list)
    first_text: str = ""
    count_texts: list[str] = field(default_factory=list)

    @property
    def wer(self) -> float:
        return sum(h.edits for h in self.heard) / max(1, sum(h.words for h in self.heard))


# --- text ------------------------------------------------------------------------------------

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n: int) -> str:
    """0-999 in words ("thirty two"); larger numbers stay digits."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = "" if n % 100 == 0 else " " + number_words(n % 100)
        return _ONES[n // 100] + " hundred" + rest
    return str(n)


def normalise(text: str) -> list[str]:
    """Lower-case words, punctuation dropped, hyphens as spaces, numbers as words."""
    text = text.lower().replace("-", " ").replace("\u2019", "'")
    text = re.sub(r"\d+", lambda m: f" {number_words(int(m.group()))} ", text)
    return re.findall(r"[a-z]+(?:'[a-z]+)*", text)


def word_edits(said: Sequence[str], heard: Sequence[str]) -> int:
    """Levenshtein distance over words (substitutions, deletions, insertions)."""
    row = list(range(len(heard) + 1))
    for i, a in enumerate(said, 1):
        previous, row[0] = row[0], i
        for j, b in enumerate(heard, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (a != b))
    return row[-1]


# --- environment -----------------------------------------------------------------------------


def xdg(folder: Path) -> dict[str, str]:
    """Cache, data and config folders of their own under `folder`."""
    return {f"XDG_{name.upper()}_HOME": str(folder / name) for name in ("cache", "data", "config")}


def command(case: VoiceCase, *args: str) -> list[str]:
    return [sys.executable, "-m", "assistant", "start", TIMED_ROUTINE, *args, *case.args()]


# --- 2. synthesis speed ----------------------------------------------------------------------


def all_texts() -> list[str]:
    texts = [t for name in ROUTINES for t in app.spoken_texts(app.load_routine(name), 175)]
    return list(dict.fromkeys(texts))


def synthesis_speed(case: VoiceCase, folder: Path, texts: list[str], out: Results) -> None:
    """Load the voice and render every text once, from an empty cache under `folder`."""
    from assistant.voice.choice import open_speech

    with scoped_env(xdg(folder)):
        started = time.perf_counter()
        speech, note = open_speech(case.flag)
        out.load = time.perf_counter() - started
        if note:
            raise RuntimeError(f"{case.label}: {note}")
        for text in texts:
            started = time.perf_counter()
            pcm = speech.render(text)
            out.took[text] = time.perf_counter() - started
            out.speech += len(pcm) / RATE
    out.synthesis = sum(out.took.values())
    out.texts = len(texts)


# --- 1. instructions heard, 5. count onsets --------------------------------------------------


def simulate_routines(case: VoiceCase, folder: Path, work: Path
                      ) -> dict[str, tuple[Path, list[dict[str, Any]], dict[str, float]]]:
    """Each routine simulated in-process with its speaker file, on the cache `folder` holds:
    (WAV, say records, seconds each said text lasts) by routine."""
    found = {}
    settings = Settings(voice=case.flag)
    with scoped_env(xdg(folder)):
        for name in ROUTINES:
            routine = app.load_routine(name)
            wav, events = work / f"{case.key}-{name}.wav", work / f"{case.key}-{name}.jsonl"
            app.run_simulation(app.SimulationRequest(
                routine=routine, settings=settings, events=events, speaker_file=wav,
                listen=False, journal=False))
            records = [json.loads(line) for line in events.read_text().splitlines()]
            says = [r for r in records if r["type"] == "say"]
            seconds = app.Voice(settings, routine).timer()
            found[name] = (wav, says, {s["text"]: seconds(s["text"]) for s in says})
    return found


def instruction_cuts(wav: Path, says: list[dict[str, Any]], lasts: dict[str, float]
                     ) -> Iterator[tuple[str, np.ndarray]]:
    """(text, audio) of every instruction, cut from the speaker file."""
    for k, say in enumerate(says):
        if say["kind"] != "instruction":
            continue
        end = say["t"] + lasts[say["text"]]
        if k + 1 < len(says):
            end = min(end, says[k + 1]["t"])
        audio, _ = sf.read(str(wav), start=round(say["t"] * RATE), stop=round(end * RATE),
                           dtype="float32")
        pad = np.zeros(round(PAD * RATE), np.float32)
        yield say["text"], np.concatenate([pad, audio, pad])


def transcribe(model: Any, audio: np.ndarray) -> str:
    segments, _ = model.transcribe(audio, beam_size=5, language="en", initial_prompt=None,
                                   condition_on_previous_text=False, vad_filter=False)
    return " ".join(s.text.strip() for s in segments)


def whisper_model() -> Any:
    from faster_whisper import WhisperModel

    from assistant.ear.engines.whisper import bundled_model

    return WhisperModel(str(bundled_model()), device="cpu", compute_type="int8", cpu_threads=2)


def hear_instructions(model: Any, runs: dict[str, tuple[Path, list[dict[str, Any]],
                                                         dict[str, float]]]) -> list[Heard]:
    heard = []
    for wav, says, lasts in runs.values():
        for text, audio in instruction_cuts(wav, says, lasts):
            written = transcribe(model, audio)
            said = normalise(text)
            heard.append(Heard(text, written, word_edits(said, normalise(written)), len(said)))
    return heard


def count_onsets(wav: Path, says: list[dict[str, Any]]) -> list[Onset]:
    """For each count: where its first sample and its first 10 ms frame above ONSET_DB (the
    frames from t - LEAD on) fall, against its t."""
    audio, _ = sf.read(str(wav), dtype="float32")
    step, lead = round(FRAME * RATE), round(LEAD * RATE)
    found = []
    for say in says:
        if say["kind"] != "count":
            continue
        at = round(say["t"] * RATE)
        window = audio[at - lead:at + RATE]
        sounding = np.flatnonzero(window)
        loud = next((k for k in range(0, len(window) - step + 1, step)
                     if level_db(window[k:k + step]) > ONSET_DB), None)
        found.append(Onset(say["text"], say["t"],
                           (sounding[0] - lead) / RATE if len(sounding) else float("inf"),
                           (loud - lead) / RATE if loud is not None else float("inf")))
    return found


# --- 3. simulating from the command line, 4. live first word ---------------------------------


def timed_simulation(case: VoiceCase, folder: Path) -> float:
    """Wall seconds of `start --simulate --speaker-file` with the XDG folders under `folder`."""
    started = time.perf_counter()
    done = subprocess.run(
        command(case, "--simulate", "--no-listen", "--speaker-file", str(folder / "out.wav")),
        cwd=ROOT, env={**os.environ, **xdg(folder)}, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=600)
    took = time.perf_counter() - started
    if done.returncode != 0 or "Session completed" not in done.stdout:
        raise RuntimeError(f"{case.label} simulation failed: {done.stderr[-400:]}")
    return took


def first_say(events: Path) -> bool:
    try:
        return '"type": "say"' in events.read_text(encoding="utf-8")
    except OSError:
        return False


def live_first_word(case: VoiceCase, folder: Path, pulse: dict[str, str]) -> float | None:
    """Seconds from launching a live session to its first `say` record (None: never)."""
    events = folder / "live.jsonl"
    events.unlink(missing_ok=True)
    env = {**os.environ, **xdg(folder), **pulse, "PULSE_SINK": "spk"}
    with open(folder / "live.log", "w") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            command(case, "--no-listen", "--no-journal", "--events", str(events),
                    "--output-device", "pulse"),
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        took = None
        try:
            while time.perf_counter() - started < 300 and process.poll() is None:
                if first_say(events):
                    took = time.perf_counter() - started
                    break
                time.sleep(POLL)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return took


# --- the section -----------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:+.0f} ms"


def _s(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.2f} s"


def _spread(values: list[float], signed: bool = True) -> str:
    if not values:
        return "-"
    worst = max(values, key=abs)
    median = statistics.median(values)
    fmt = _ms if signed else (lambda s: f"{s * 1000:.0f} ms")
    return f"median {fmt(median)}, worst {fmt(worst)}"


def table(results: dict[VoiceCase, Results]) -> list[str]:
    cases = list(results)
    heard = results[cases[0]].heard
    rows: list[tuple[str, list[str]]] = [
        (f"instruction WER, Whisper tiny.en ({len(heard)} instructions, "
         f"{sum(h.words for h in heard)} words)",
         [f"{r.wer:.1%} ({sum(h.edits for h in r.heard)} edits)" for r in results.values()]),
        ("instructions heard word for word",
         [f"{sum(h.edits == 0 for h in r.heard)} of {len(r.heard)}" for r in results.values()]),
        (f"synthesis per second of speech, empty cache ({results[cases[0]].texts} texts)",
         [f"{r.synthesis / r.speech:.3f} s ({r.synthesis:.1f} s for {r.speech:.0f} s)"
          for r in results.values()]),
        ("loading the voice", [_s(r.load) for r in results.values()]),
        (f"simulate {TIMED_ROUTINE} with --speaker-file, empty cache",
         [_s(r.simulate[0]) for r in results.values()]),
        ("... warm cache", [_s(r.simulate[1]) for r in results.values()]),
        (f"live: start {TIMED_ROUTINE} to first word, empty cache (also naive: no disk cache, "
         "prepared at every start)", [_s(r.first_word[0]) for r in results.values()]),
        ("live: ... warm cache", [_s(r.first_word[1]) for r in results.values()]),
        (f"count's first sample - t, {TIMED_ROUTINE} speaker file "
         f"({len(results[cases[0]].onsets)} counts)",
         [_spread([o.sample for o in r.onsets]) for r in results.values()]),
        (f"count onset (first 10 ms frame above {ONSET_DB:.0f} dBFS) - t",
         [_spread([o.loud for o in r.onsets]) for r in results.values()]),
        ("naive, rendered when due (no cache, nothing prepared): voice loaded and first "
         "sentence rendered after (program start-up not counted)",
         [_s(r.load + r.took.get(r.first_text, 0.0)) for r in results.values()]),
        ("naive, rendered when due: each count late by its synthesis",
         [_spread([r.took[t] for t in r.count_texts], signed=False)
          for r in results.values()]),
    ]
    return [
        "| measure | " + " | ".join(c.label for c in cases) + " |",
        "|---|" + "---|" * len(cases),
        *(f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows),
    ]


def worst_sentences(results: dict[VoiceCase, Results]) -> list[str]:
    lines = ["```"]
    for case, r in results.items():
        lines.append(f"{case.label}: the {WORST_SHOWN} instructions with most word edits")
        shown: set[str] = set()
        for h in sorted(r.heard, key=lambda h: (-h.edits, -h.edits / h.words)):
            if len(shown) == WORST_SHOWN or h.edits == 0:
                break
            if h.said in shown:
                continue
            shown.add(h.said)
            lines += [f"  {h.edits}/{h.words}  said:  {h.said}", f"        heard: {h.heard}"]
        lines.append("")
    return [*lines[:-1], "```"]


def late_counts(results: dict[VoiceCase, Results]) -> list[str]:
    """One line per voice naming the counts whose onset is more than ONSET_TARGET off."""
    lines = []
    for case, r in results.items():
        late = [o for o in r.onsets if abs(o.loud) > ONSET_TARGET]
        if late:
            named = ", ".join(f"{o.text!r} at {o.t:.1f} s {o.loud * 1000:+.0f} ms" for o in late)
            lines.append(f"- {case.label}: {len(late)} of {len(r.onsets)} counts more than "
                         f"{ONSET_TARGET * 1000:.0f} ms off: {named}.")
    return lines or [f"- No count more than {ONSET_TARGET * 1000:.0f} ms off."]


def verdicts(results: dict[VoiceCase, Results]) -> list[str]:
    piper, _, en_us = results.values()
    onsets = {case.label: max(abs(o.loud) for o in r.onsets) for case, r in results.items()}

    def met(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    warm = piper.first_word[1]
    return [
        f"- Piper instruction WER at most {WER_TARGET:.0%}: {piper.wer:.1%}, "
        f"{met(piper.wer <= WER_TARGET)}; at most {WER_SHARE_OF_ESPEAK} of eSpeak en-us's "
        f"({en_us.wer:.1%}): {piper.wer / en_us.wer if en_us.wer else 0:.2f} of it, "
        f"{met(piper.wer <= WER_SHARE_OF_ESPEAK * en_us.wer)}.",
        f"- Counts start within {ONSET_TARGET * 1000:.0f} ms of their time (onset above "
        f"{ONSET_DB:.0f} dBFS): worst "
        + ", ".join(f"{label} {worst * 1000:.0f} ms {met(worst <= ONSET_TARGET)}"
                    for label, worst in onsets.items()) + ".",
        f"- Simulating {TIMED_ROUTINE} from an empty cache under {SIMULATE_TARGET:.0f} s (Piper): "
        f"{piper.simulate[0]:.1f} s, {met(piper.simulate[0] < SIMULATE_TARGET)}.",
        f"- First word within {FIRST_WORD_TARGET:.0f} s of `start`, warm cache (Piper): "
        f"{_s(warm)}, {met(warm is not None and warm <= FIRST_WORD_TARGET)}.",
    ]


def measure(work: Path, pulse: dict[str, str] | None) -> dict[VoiceCase, Results]:
    texts = all_texts()
    results = {case: Results() for case in VOICES}
    runs = {}
    for case, out in results.items():
        cache = work / f"{case.key}-speed"
        synthesis_speed(case, cache, texts, out)
        runs[case] = simulate_routines(case, cache, work)
        says = runs[case][TIMED_ROUTINE][1]
        out.first_text = says[0]["text"]
        out.count_texts = [s["text"] for s in says if s["kind"] == "count"]
        out.onsets = count_onsets(runs[case][TIMED_ROUTINE][0], says)
        folder = work / f"{case.key}-cli"
        out.simulate = (timed_simulation(case, folder), timed_simulation(case, folder))
        if pulse is not None:
            folder = work / f"{case.key}-live"
            folder.mkdir()
            out.first_word = (live_first_word(case, folder, pulse),
                              live_first_word(case, folder, pulse))
    model = whisper_model()
    for case, out in results.items():
        out.heard = hear_instructions(model, runs[case])
    return results


def run() -> str:
    missing = available()
    with tempfile.TemporaryDirectory(prefix="ea-voices-") as tmp:
        daemon = None if missing else PrivateDaemon(
            "module-null-sink sink_name=spk rate=16000 channels=1")
        try:
            results = measure(Path(tmp), None if daemon is None else daemon.env())
        finally:
            if daemon is not None:
                daemon.stop()
    live_note = (f" The live rows were not measured: {missing}." if missing else "")
    return "\n".join([
        "### Voices: how well Whisper hears them, how fast they render, when they start "
        "(`./scripts/bench voices`)",
        "",
        "Each bundled routine simulated with its speaker file; every instruction cut out of it "
        "and transcribed by faster-whisper tiny.en (beam 5, no prompt); WER = word edits / "
        "words said, after lower-casing, dropping punctuation and writing numbers as words. "
        "Synthesis: every text the four routines may say, rendered from an empty cache. "
        f"Simulation and live start: `{TIMED_ROUTINE}` as a separate process, with fresh XDG "
        "folders (empty cache), then again (warm); live, through a null sink of a private "
        "PulseAudio daemon, until the first `say` record. Counts: the first non-zero sample, "
        "and the first 10 ms frame above -45 dBFS from 50 ms before, against each count's "
        "time. Naive: no disk cache, so either "
        "every start is the empty-cache start, or each text is rendered when it is due."
        + live_note,
        "",
        *table(results),
        "",
        "Targets:",
        "",
        *verdicts(results),
        "",
        f"Counts whose onset (above {ONSET_DB:.0f} dBFS) is more than "
        f"{ONSET_TARGET * 1000:.0f} ms off their time:",
        "",
        *late_counts(results),
        "",
        "What Whisper misheard:",
        "",
        *worst_sentences(results),
    ]) + "\n"
