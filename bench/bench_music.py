"""Music under the session: barge-in over a song with singing, and commands from the song.

The song is built at run time in a temporary folder (never kept in the repository), from
../shared/data/real_tune: `noises/music_orchestral.wav` (21.5 s, instrumental; Kevin MacLeod,
CC BY 3.0) looped with 0.5 s cross-fades to about 3 minutes, with vocals at the music's
loudness (each vocal's active RMS equal to the music's RMS): the LibriSpeech sentences of
`sentences/` (real voices, read speech, 8-16 s each), and between them every 10-17 s a short
lyric line with words the assistant could take for commands ("let's go", "don't stop",
"wait for me", "go go go", "next to you", "stop the time"), said slowly by flite and eSpeak
NG voices; written as FLAC.

Own music: `start --music SONG --echo GAIN:DELAY_MS` simulated (the song played by the
assistant, ducked under its voice; the echo brings voice and music back into the microphone,
and the echo canceller has both as reference). Another program: the same song, levelled as
the assistant levels it and at the same echo gain, but mixed into the microphone file (not
ducked, no reference for it), the assistant's voice echoed as before.

Barge-in: "pause" by test voices no engine was tuned on (`bench_barge_in.words()`), said
once per simulated session (the barge-in routine) at moments over the assistant's voice (its
long instruction) and between its sentences (the gaps between counts, where the music is
back up); counted: the session paused within 0.5 s of the end of the word. Commands from
the song: the whole desk-break routine (about 5.5 minutes) with nothing in the microphone but
the echo (own music) or the echo and the song (another program); every command heard is
false (a key press "resume" every 5 s ends a false pause, so that the whole session is
heard; the session then takes longer by the pauses and their count-ins)."""

from __future__ import annotations

import json
import multiprocessing
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from assistant.runner import Echo
from bench import corpus, voices
from bench.bench_barge_in import RATE, words

SHARED = corpus.ROOT.parent / "shared" / "data" / "real_tune"
ORCHESTRA = SHARED / "noises" / "music_orchestral.wav"
SENTENCES = SHARED / "sentences"
LYRICS = ("let's go", "don't stop", "wait for me", "go go go", "next to you", "stop the time")
SINGERS = (
    voices.Voice("flite", "slt", rate=0.7, pitch=190),
    voices.Voice("espeak", "en-us", "f3", rate=0.7, pitch=70),
    voices.Voice("flite", "awb", rate=0.75, pitch=120),
    voices.Voice("espeak", "en-gb", "m3", rate=0.7, pitch=40),
)
SONG_SECONDS = 180.0
GAP = 0.8  # seconds between vocal phrases
FADE = 0.5  # cross-fade where the music loops


@dataclass
class Song:
    path: Path
    seconds: float
    lyrics: list[tuple[float, str]] = field(default_factory=list)  # (start, line)
    sentences: int = 0


def loop(music: np.ndarray, n: int) -> np.ndarray:
    """`music` repeated to `n` samples, each join cross-faded over `FADE`."""
    k = round(FADE * RATE)
    ramp = np.linspace(0.0, 1.0, k, dtype=np.float32)
    out = music.copy()
    while len(out) < n:
        joint = out[-k:] * (1 - ramp) + music[:k] * ramp
        out = np.concatenate([out[:-k], joint, music[k:]])
    return out[:n]


def build_song(folder: Path) -> Song:
    """The song with singing (see the module's doc), written to `folder`/song.flac."""
    n = round(SONG_SECONDS * RATE)
    music = loop(voices.read_16k(ORCHESTRA), n)
    level = float(np.sqrt(np.mean(np.square(music, dtype=np.float64))))
    rng = np.random.default_rng(11)
    sentences = [voices.read_16k(p) for p in sorted(SENTENCES.glob("*.flac"))]
    order = [int(i) for i in rng.permutation(len(sentences))]
    lines = {(singer, text): clip for singer in SINGERS
             for text, clip in zip(LYRICS, corpus.speak(singer, list(LYRICS)), strict=True)}
    vocals = np.zeros(n, np.float32)
    song = Song(folder / "song.flac", SONG_SECONDS)
    at = 2.0
    k = 0
    full = False
    while not full:
        text = LYRICS[k % len(LYRICS)]
        clip = lines[(SINGERS[k % len(SINGERS)], text)]
        pieces: list[tuple[np.ndarray, str | None]] = [(clip, text)]
        sentence = sentences[order[k % len(order)]]
        pieces.append((sentence, None))
        for clip, line in pieces:
            start = round(at * RATE)
            if start + len(clip) > n:
                full = True
                break
            vocals[start : start + len(clip)] += clip * np.float32(
                level / (corpus.active_rms(clip) + 1e-9))
            if line is None:
                song.sentences += 1
            else:
                song.lyrics.append((at, line))
            at += len(clip) / RATE + GAP
        k += 1
    mix = music + vocals
    mix *= np.float32(min(1.0, 0.9 / float(np.max(np.abs(mix)))))
    sf.write(song.path, mix, RATE, format="FLAC")
    return song


# ------------------------------------------------------------------------- simulations


@dataclass(frozen=True)
class Job:
    """One simulated session: the routine, the microphone file (None: nothing but the echo),
    the assistant's own music (None: none), the echo (None: nothing listened to)."""

    routine: str
    mic: str | None
    events: str
    music: str | None
    echo: Echo | None
    pause_limit: float = 2.0
    speaker_file: str | None = None
    resume_every: float = 0.0  # a key press "resume" this often (0: never)


@dataclass
class Outcome:
    records: list[dict]
    cpu: float  # process CPU seconds of the whole simulation (start-up included)
    length: float  # seconds of session
    rejected: list[str]


def simulate_in_process(job: Job) -> Outcome:
    """One simulation, in a new process (see `simulate`)."""
    from assistant import app
    from assistant.commands import Command, Intent
    from assistant.loader import load_routine
    from assistant.runner import Scripted
    from assistant.settings import Settings

    started = time.process_time()
    settings = Settings(pause_limit=job.pause_limit,
                        music=None if job.music is None else Path(job.music))
    keys = []
    if job.resume_every:
        keys = [Scripted(job.resume_every * k, Intent(Command.RESUME), "resume")
                for k in range(1, round(3600 / job.resume_every))]
    request = app.SimulationRequest(
        routine=load_routine(Path(job.routine)), settings=settings, events=Path(job.events),
        mic_file=None if job.mic is None else Path(job.mic), echo=job.echo, journal=False,
        listen=job.echo is not None, commands=keys,
        speaker_file=None if job.speaker_file is None else Path(job.speaker_file),
    )
    rejected: list[str] = []
    result = app.run_simulation(request, on_rejected=lambda r: rejected.append(r.describe()))
    records = [json.loads(line) for line in Path(job.events).read_text().splitlines()]
    return Outcome(records, time.process_time() - started, result.length, rejected)


def simulate(jobs: list[Job]) -> list[Outcome]:
    """The simulations, two at a time, each in a new process (eSpeak NG's and Whisper's
    outputs then do not depend on what ran before in the same process)."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=spawn, max_tasks_per_child=1) as pool:
        return list(pool.map(simulate_in_process, jobs))


def write_mic(path: Path, mic: np.ndarray) -> str:
    sf.write(path, mic, RATE, subtype="FLOAT")
    return str(path)


# ------------------------------------------------------------------------- barge-in


@dataclass
class Timeline:
    """The barge-in session as the assistant says it, nothing heard: where its long
    instruction starts, when it counts, and its voice's loudness per 10 ms frame."""

    start: float
    counts: list[float]
    voice_db: np.ndarray

    def voiced(self, a: float, b: float) -> float:
        """The share of [a, b) where the voice sounds (frames above -45 dBFS)."""
        frames = self.voice_db[int(a * 100) : max(int(a * 100) + 1, int(b * 100))]
        return float(np.mean(frames > -45.0)) if len(frames) else 0.0


def timeline(routine: Path, tmp: Path) -> Timeline:
    speaker = tmp / "voice.wav"
    (quiet,) = simulate([Job(str(routine), None, str(tmp / "quiet.jsonl"), None, None,
                             speaker_file=str(speaker))])
    says = [r for r in quiet.records if r["type"] == "say"]
    start = next(r["t"] for r in says if r["text"].startswith("Start"))
    counts = [r["t"] for r in says if r["kind"] == "count"]
    audio, _ = sf.read(speaker, dtype="float32")
    n = len(audio) // 160
    power = np.mean(np.square(audio[: n * 160].reshape(n, 160), dtype=np.float64), axis=1)
    return Timeline(start, counts, 10 * np.log10(power + 1e-12))


def moments(line: Timeline, voices: int, both: bool) -> list[tuple[int, float, str]]:
    """(voice, time, place) of each try: voice k over the assistant's long instruction at
    the k-th of 10 moments ("voice"), and in a gap after one of its first three counts,
    when the music is back up ("gap"); with `both`, each voice at both of its moments,
    otherwise the even voices over the instruction and the odd ones in a gap."""
    offsets = (0.9, 1.2, 1.5, 1.8)
    out = []
    for k in range(voices):
        over = (k, line.start + 1.3 + 0.6 * (k % 10), "voice")
        gap = (k, line.counts[k % 3] + offsets[(k // 3) % 4], "gap")
        out += [over, gap] if both else [gap if k % 2 else over]
    return out




@dataclass
class Tries:
    """Barge-in in one condition."""

    in_time: int = 0
    total: int = 0
    by_place: dict[str, list[int]] = field(default_factory=dict)  # place: [in time, total]
    delays: list[float] = field(default_factory=list)
    early: int = 0  # paused before the word was said (by the music)
    other: list[str] = field(default_factory=list)  # other commands heard
    cpu: float = 0.0
    seconds: float = 0.0
    missed: list[str] = field(default_factory=list)  # what was heard or rejected instead

    def cell(self, place: str | None = None) -> str:
        if place is None:
            return f"{self.in_time}/{self.total}"
        got, of = self.by_place.get(place, [0, 0])
        return f"{got}/{of}"


def barge_jobs(clips: list[np.ndarray], tries: list[tuple[int, float, str]], length: float,
               routine: Path, tmp: Path, tag: str, echo: Echo, music: str | None,
               song_in_mic: np.ndarray | None) -> tuple[list[Job], list[tuple[float, float, str]]]:
    """One simulation per try: the clip said at its moment; the music is the assistant's
    (`music`, played with --music) or another program's (`song_in_mic`, already at its
    level), or none."""
    jobs, spans = [], []
    for i, (k, said_at, place) in enumerate(tries):
        clip = clips[k]
        mic = np.zeros(round(length * RATE), np.float32)
        if song_in_mic is not None:
            mic += song_in_mic[: len(mic)]
        start = round(said_at * RATE)
        mic[start : start + len(clip)] += clip
        path = write_mic(tmp / f"{tag}-mic{i}.wav", mic)
        jobs.append(Job(str(routine), path, str(tmp / f"{tag}-events{i}.jsonl"), music, echo))
        spans.append((said_at, said_at + len(clip) / RATE, place))
    return jobs, spans


def score(spans: list[tuple[float, float, str]], outcomes: list[Outcome]) -> Tries:
    result = Tries()
    for (said_at, end, place), outcome in zip(spans, outcomes, strict=True):
        records = outcome.records
        heard = [r for r in records if r["type"] == "heard"]
        result.other += [f"{r['command']} ({r.get('text', '')!r} at {r['t']:.1f} s)"
                         for r in heard if r["command"] != "pause"]
        paused = [r["t"] for r in records if r["type"] == "phase" and r["phase"] == "paused"]
        ok = False
        if paused:
            delay = paused[0] - end
            ok = 0.0 <= delay < 0.5
            if paused[0] < said_at:
                result.early += 1
            else:
                result.delays.append(delay)
        counts = result.by_place.setdefault(place, [0, 0])
        counts[0] += ok
        counts[1] += 1
        result.in_time += ok
        result.total += 1
        result.cpu += outcome.cpu
        result.seconds += outcome.length
        if not ok:
            near = [r for r in outcome.rejected
                    if said_at - 0.5 <= float(r.split("-", 1)[0]) <= end + 1.0]
            what = "; ".join(near) or (f"paused {paused[0] - end:+.2f} s after the word end"
                                       if paused else "nothing heard")
            result.missed.append(f"{place} {said_at:.2f}-{end:.2f} s: {what}")
    return result


# ------------------------------------------------------------------------- whole sessions


@dataclass
class Whole:
    """A whole session with nothing but the music and the echo in the microphone."""

    heard: list[str]
    cpu: float
    seconds: float


def whole(outcome: Outcome) -> Whole:
    heard = [f"{r['command']} ({r.get('text', '')!r} at {r['t']:.1f} s)"
             for r in outcome.records if r["type"] == "heard"]
    return Whole(heard, outcome.cpu, outcome.length)


def looped(pcm: np.ndarray, seconds: float) -> np.ndarray:
    """`pcm` repeated whole to `seconds` (as the playlist repeats a single song)."""
    n = round(seconds * RATE)
    return np.tile(pcm, n // len(pcm) + 1)[:n]


# ------------------------------------------------------------------------- the run

GAINS = (0.5, 1.0)
DELAYS_MS = (30, 150, 300)
TARGET = (1.0, 150)  # the condition: 20 tries there, 10 in the others
WHOLE_PAUSE_LIMIT = 60.0
RESUME_EVERY = 5.0  # a false pause in a whole session is resumed by a key press


def describe_song(song: Song) -> str:
    lines = ", ".join(f"{t:.0f} s {text!r}" for t, text in song.lyrics)
    return (f"The song: {song.seconds:.0f} s, {song.sentences} LibriSpeech sentences and "
            f"{len(song.lyrics)} lyric lines ({lines}); played in a loop.")


def median_ms(tries: Tries) -> str:
    return f"{1000 * statistics.median(tries.delays):.0f} ms" if tries.delays else "-"


def per_second(cpu: float, seconds: float) -> str:
    return f"{cpu / seconds:.3f}" if seconds else "-"


def report(song: Song, rows: dict[tuple[float, int], dict[str, Any]], wall: float) -> str:
    doc = (__doc__ or "").split("\n\n", 1)[1]
    lines = [
        "## Music: barge-in over a song with singing, and commands from the song",
        "",
        *[paragraph.replace("\n", " ").strip() + "\n" for paragraph in doc.split("\n\n")],
        describe_song(song),
        "",
        f"Tries: 20 at {TARGET[0]:g}:{TARGET[1]} (each of 10 voices over the voice and in a "
        "gap), 10 in the other conditions (5 and 5). Each cell: own music (another program).",
        "",
        "| echo gain | echo delay | paused within 0.5 s | over its voice | between its sentences "
        "| median word end to pause | paused by the song before the word "
        "| other commands in the barge-in runs | commands from the song in a whole session |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (gain, delay), row in rows.items():
        own, other = row["own"], row["other"]
        lines.append(
            f"| {gain:g} | {delay} ms | {own.cell()} ({other.cell()}) "
            f"| {own.cell('voice')} ({other.cell('voice')}) "
            f"| {own.cell('gap')} ({other.cell('gap')}) "
            f"| {median_ms(own)} ({median_ms(other)}) | {own.early} ({other.early}) "
            f"| {len(own.other)} ({len(other.other)}) "
            f"| {len(row['whole own'].heard)} ({len(row['whole other'].heard)}) |")
    target = rows[TARGET]
    none = target["none"]
    lines.append(
        f"| {TARGET[0]:g} | {TARGET[1]} ms, no music | {none.cell()} | {none.cell('voice')} "
        f"| {none.cell('gap')} | {median_ms(none)} | {none.early} | {len(none.other)} "
        f"| {len(target['whole none'].heard)} (from its own voice) |")
    own, whole_own = target["own"], target["whole own"]
    share = own.in_time / own.total
    lines += [
        "",
        f"CPU (process seconds per second of session, start-up included), at "
        f"{TARGET[0]:g}:{TARGET[1]}: whole desk-break session with its own music "
        f"{per_second(whole_own.cpu, whole_own.seconds)}, the song from another program "
        f"{per_second(target['whole other'].cpu, target['whole other'].seconds)}, no music "
        f"{per_second(target['whole none'].cpu, target['whole none'].seconds)}; "
        f"barge-in runs ({own.seconds / own.total:.0f} s each) with its own music "
        f"{per_second(own.cpu, own.seconds)}, another program's "
        f"{per_second(target['other'].cpu, target['other'].seconds)}, no music "
        f"{per_second(none.cpu, none.seconds)}.",
        "",
        "Targets (the song with singing played by the assistant, --echo "
        f"{TARGET[0]:g}:{TARGET[1]}):",
        "",
        f"- \"pause\" by a voice not tuned on pauses the session within 0.5 s at least 3 times "
        f"in 4: {own.in_time}/{own.total} ({100 * share:.0f} %), "
        f"**{'met' if share >= 0.75 else 'not met'}**.",
        f"- The song gives no command in a whole session: {len(whole_own.heard)}, "
        f"**{'met' if not whole_own.heard else 'not met'}**.",
        "",
        f"One run, {wall / 60:.1f} min. What was heard and missed:",
        "",
        "```",
    ]
    for (gain, delay), row in rows.items():
        for kind, name in (("own", "own music"), ("other", "another program"),
                           ("none", "no music")):
            if row.get(kind) is None:
                continue
            session = row[f"whole {kind}"]
            if session.heard:
                lines.append(f"{gain:g}:{delay} {name}, whole session ({session.seconds / 60:.1f} "
                             f"min): {'; '.join(session.heard)}")
            if row[kind].other:
                lines.append(f"{gain:g}:{delay} {name}, barge-in runs, other commands: "
                             f"{'; '.join(row[kind].other)}")
    for kind, name in (("own", "own music"), ("other", "another program"), ("none", "no music")):
        for miss in target[kind].missed:
            lines.append(f"{TARGET[0]:g}:{TARGET[1]} {name}, missed: {miss}")
    lines.append("```")
    return "\n".join(lines) + "\n"


def run() -> str:
    title = "## Music: barge-in over a song with singing, and commands from the song"
    if not ORCHESTRA.is_file() or not any(SENTENCES.glob("*.flac")):
        return (f"{title}\n\nSkipped: the music and sentences of {SHARED} are absent "
                "(noises/music_orchestral.wav, sentences/*.flac).\n")
    from assistant.testing import BARGE_IN_ROUTINE
    from assistant.voice.music import decode_song, level

    began = time.perf_counter()
    clips = words()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        song = build_song(tmp)
        levelled = level(decode_song(song.path))  # as the assistant plays it
        routine = tmp / "barge.yaml"
        routine.write_text(BARGE_IN_ROUTINE)
        line = timeline(routine, tmp)
        length = line.counts[-1] + 12.0
        desk = corpus.ROOT / "exercises" / "desk-break.yaml"
        (quiet,) = simulate([Job(str(desk), None, str(tmp / "desk.jsonl"), None, None)])
        desk_length = quiet.length + 180.0  # room for false pauses and count-ins
        rows: dict[tuple[float, int], dict[str, Any]] = {}
        for gain in GAINS:
            for delay in DELAYS_MS:
                echo = Echo(gain, delay / 1000)
                target = (gain, delay) == TARGET
                tries = moments(line, len(clips), both=target)
                tag = f"{gain:g}-{delay}"
                in_mic = np.float32(gain) * levelled
                whole_jobs = [
                    Job(str(desk), None, str(tmp / f"{tag}-own.jsonl"), str(song.path), echo,
                        WHOLE_PAUSE_LIMIT, resume_every=RESUME_EVERY),
                    Job(str(desk), write_mic(tmp / f"{tag}-song.wav",
                                             looped(in_mic, desk_length)),
                        str(tmp / f"{tag}-other.jsonl"), None, echo, WHOLE_PAUSE_LIMIT,
                        resume_every=RESUME_EVERY),
                ]
                if target:
                    whole_jobs.append(Job(str(desk), None, str(tmp / f"{tag}-none.jsonl"),
                                          None, echo, WHOLE_PAUSE_LIMIT,
                                          resume_every=RESUME_EVERY))
                kinds = [("own", str(song.path), None), ("other", None, in_mic)]
                if target:
                    kinds.append(("none", None, None))
                jobs = list(whole_jobs)
                spans = {}
                for kind, music, song_in_mic in kinds:
                    more, spans[kind] = barge_jobs(clips, tries, length, routine, tmp,
                                                   f"{tag}-{kind}", echo, music, song_in_mic)
                    jobs += more
                outcomes = simulate(jobs)
                row: dict[str, Any] = {}
                for i, kind in enumerate(k for k, _, _ in kinds):
                    row[f"whole {kind}"] = whole(outcomes[i]) if i < len(whole_jobs) else None
                rest = outcomes[len(whole_jobs):]
                for kind, _, _ in kinds:
                    n = len(spans[kind])
                    row[kind] = score(spans[kind], rest[:n])
                    rest = rest[n:]
                rows[(gain, delay)] = row
    return report(song, rows, time.perf_counter() - began)


if __name__ == "__main__":
    print(run())
