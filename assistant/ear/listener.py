"""The streaming listener: microphone frames in, spoken commands out.

    mic (+ what the loudspeaker played) -> its delay found (`delay`) -> echo canceller
        -> noise suppression (RNNoise in steady noise, WebRTC's otherwise; see `denoise`)
        -> endpointer (energy over an adaptive noise floor and over the residual echo)
        -> utterance length limits -> engine -> Vocabulary.parse -> what the session
           expects now (`expect`) -> not the assistant's own words (`hear_own_words`)
           -> not sounding like what it played (`OWN_LIKENESS`) -> Heard

Pure computation: no threads, no devices, no clock. The same object serves a WAV file and
the live microphone (the runner feeds it blocks from a queue on a worker thread). Times in
`Heard` are seconds of the microphone stream, counted from the first sample fed.

A command is a whole short utterance with quiet around it: an utterance longer than
`max_utterance` is not a command, and nothing is taken from it, so "I will call my sister
next week" is never "next". Frames whose energy is explained by the loudspeaker signal (the
residual echo after cancellation) do not count as speech, so the assistant's own voice never
starts an utterance, while a user talking over it does.

An engine that can `peek` (Whisper) decodes when an utterance's silence begins, not when
the silence has lasted long enough to end it; a phrase that no longer phrase begins with
then ends its utterance after `early_finish` of silence instead of `hangover`."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import numpy as np

from assistant.commands import Command, Vocabulary
from assistant.ear.denoise import WebRTCSuppressor, load_rnnoise
from assistant.ear.echo import EchoGuard
from assistant.ear.engines import Engine, Recognition
from assistant.ear.levels import FRAME, FRAME_S, SILENT_DB, NoiseFloor, SteadyNoise, level_db
from assistant.events import Heard

SaidBetween = Callable[[float, float], Sequence[str]]
_NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def words(text: str) -> frozenset[str]:
    """The words of a text, lower case, with the numbers 0-10 written out ("Set 2" and
    "set two" share "two")."""
    found = re.findall(r"[a-z0-9']+", text.lower())
    return frozenset(_NUMBERS[int(w)] if w.isdigit() and int(w) <= 10 else w for w in found)


_ENDINGS = ("", "s", "d", "ed", "es", "ing")


def share_a_word(heard: frozenset[str], said: frozenset[str]) -> bool:
    """Whether a command's words and what the assistant said share a word, a word and its
    inflection counting as one ("Paused." came back as "pause")."""
    return any(w == t or (len(w) >= 3 and t.startswith(w) and t[len(w):] in _ENDINGS)
               for w in heard for t in said)


class Pipeline(Protocol):
    """Decides utterances elsewhere, for a file (`assistant.ear.pipeline`: in a second
    process): the listener hands each finished utterance over (`submit`: its command, or
    None, and what the engine wrote) and goes on segmenting; `drop` forgets one that is
    too long. Only where nothing plays: the check against its own words is made when the
    outcome comes back."""

    def submit(self, *, over_speech: bool) -> Future[tuple[Recognition | None, str]]: ...

    def drop(self) -> None: ...


@dataclass(frozen=True)
class Rejected:
    """An utterance that gave no command, and why (for `--verbose`)."""

    start: float
    end: float
    reason: str  # "too long", "too short", "not a command", "not expected now", "its own voice"
    text: str = ""

    def describe(self) -> str:
        """One line for `--verbose`."""
        heard = f"{self.text!r} " if self.text else ""
        return f"{self.start:.2f}-{self.end:.2f} s: {heard}not taken: {self.reason}"


@dataclass(frozen=True)
class Tuning:
    """How the listener segments and judges utterances (the shipped values were measured;
    see where each is used). Times in seconds, levels in dB."""

    noise_suppression: int = 3  # WebRTC's suppression level, 0-3
    rnnoise: bool = True  # RNNoise in steady noise (see `denoise`)
    suppress_above_db: float = -50.0  # a room whose noise floor is above this is noisy
    start_db: float = 9.0  # a frame this far above the floor may start an utterance
    continue_db: float = 7.0  # ... and this far above it keeps one going
    echo_margin_db: float = 6.0  # speech stands this far above the echo left over
    min_level_db: float = -62.0  # nothing quieter is speech
    onset_frames: int = 6  # loud frames, in one more, that start an utterance
    rnnoise_gate_db: float = 8.0  # with RNNoise, speech is at most this far under the noise
    hangover: float = 0.22  # the silence that ends an utterance
    preroll: float = 0.25  # audio before the onset the engine hears too
    min_utterance: float = 0.12  # shorter is not a command
    min_utterance_under_echo: float = 0.06  # ... while the assistant speaks
    max_utterance: float = 1.8  # longer speech is not a command
    peek_after: float = 0.05  # an engine that peeks does so after this much silence
    early_finish: float = 0.12  # a whole phrase ends its utterance after this much silence
    peak_drop_db: float = 20.0  # in noise, speech stays within this of its loudest frame
    noise_percentile: float = 50.0  # the noise floor's percentile in noise
    settle: float = 0.5  # nothing starts before the floor has heard the room this long


def _frames(seconds: float) -> int:
    return round(seconds / FRAME_S)


def _seconds(frames: int) -> float:
    return round(frames * FRAME_S, 3)


@dataclass(frozen=True)
class Measure:
    """One 10 ms frame, measured (`FrameMeter`)."""

    raw: np.ndarray  # the microphone, echo cancelled
    suppressed: np.ndarray  # ... and noise suppressed: what an engine hears in noise
    energy: float  # the level the endpointer goes by
    floor: float  # the noise floor it is compared with
    noisy: bool  # the room is noisy (`Tuning.suppress_above_db`)
    audible: bool  # loud enough, and above the echo left after cancellation
    starts: bool  # loud enough over the floor to start an utterance
    echoing: bool  # the loudspeaker is playing
    voice: bool  # far above any echo left: a person talking


class FrameMeter:
    """The listener's ear for levels: cancels the loudspeaker's echo in each frame,
    suppresses noise, and measures the frame against the noise floors it keeps."""

    def __init__(self, tuning: Tuning) -> None:
        self.tuning = tuning
        self._suppress = WebRTCSuppressor(tuning.noise_suppression)
        # RNNoise runs only while the room is noisy (it costs ~10 % of a core), and its
        # output is used while that noise is steady
        self.rnnoise = load_rnnoise() if tuning.rnnoise else None
        self._rnn_floor = NoiseFloor(percentile=tuning.noise_percentile)
        # in noise the floor is the suppressed signal's median: babble's 15th percentile lies
        # ~9 dB under its median, so babble itself started utterances and kept them going
        # until "too long". Measured on a dev corpus (80 commands 10 dB above babble): a
        # floor at the median, continue 7 dB and an onset of 6 loud frames in 7 take the
        # commands segmented alone from 19/80 (34 merged "too long", 27 missed) to 78/80
        # and the utterances started by babble alone from ~10 to 3.
        self._floor = NoiseFloor(percentile=tuning.noise_percentile)
        # while the assistant's own voice plays, the room's level is its quiet moments: the
        # median would be the echo's own level, which hides a user's barge-in under it (the
        # echo's frames are kept out of the median's history too)
        self._echo_floor = NoiseFloor()
        self._raw_floor = SteadyNoise()
        self.echo: EchoGuard | None = None  # from the first frame with a reference

    def measure(self, mic: np.ndarray, ref: np.ndarray | None, *, talking: bool,
                settled: bool) -> Measure:
        """The frame `mic` (with what the loudspeaker played then, `ref`); `talking`: an
        utterance is going on or starting, `settled`: the floors have heard the room long
        enough for an utterance to start."""
        t = self.tuning
        residual_db = SILENT_DB
        if ref is not None:
            if self.echo is None:
                self.echo = EchoGuard()
            mic = self.echo.process(mic, ref, talking)
            residual_db = self.echo.residual_db
        clean = self._suppress(mic)
        raw_energy = level_db(mic)
        raw_floor = self._raw_floor.update(raw_energy)
        noisy = raw_floor > t.suppress_above_db
        web_energy = level_db(clean)
        # what the engine hears in noise, and the energy the endpointer goes by
        suppressed, energy, rnn_floor = clean, web_energy, SILENT_DB
        use_rnnoise = False
        if self.rnnoise is not None and noisy:
            denoised = self.rnnoise(mic)
            rnn_energy = level_db(denoised)
            rnn_floor = self._rnn_floor.update(rnn_energy)
            if self._raw_floor.steady:  # measured: as the endpointer's signal too, it found
                use_rnnoise = True  # more commands
                suppressed, energy = denoised, rnn_energy
        echoing = self.echo is not None and self.echo.active
        low_floor = self._echo_floor.update(energy)
        if echoing:
            clean_floor = low_floor
        else:
            web_floor = self._floor.update(web_energy)
            clean_floor = rnn_floor if use_rnnoise else web_floor
        if not noisy:  # in a quiet room, decide on the signal itself
            energy, floor = raw_energy, raw_floor
        else:
            floor = clean_floor
        audible = energy > t.min_level_db and raw_energy > residual_db + t.echo_margin_db
        # nothing starts before the floor has heard the room for a while: its first frames
        # say little of a noise that fluctuates, and babble started utterances there
        starts = settled and audible and energy > floor + t.start_db
        if use_rnnoise:
            # RNNoise leaves speech at about its own level (0 dB SNR or more: near or above
            # the noise's level) and residual noise 10-30 dB under it, but that residual
            # comes in bursts far above its median: its floor alone let a steady fan start
            # utterances
            starts = starts and energy > raw_floor - t.rnnoise_gate_db
        voice = self.echo is not None and self.echo.voice
        return Measure(mic, suppressed, energy, floor, noisy, audible, starts, echoing, voice)


class State(Enum):
    """Where the listener is in the stream."""

    IDLE = "idle"  # waiting for an utterance to start
    SPEECH = "speech"  # in an utterance
    OVERLONG = "overlong"  # in speech too long to be a command, waiting for its end


Pending = tuple[Future[tuple[Recognition | None, str]] | None, int, int, int, Rejected | None]


class Listener:
    """Streaming recognition of spoken commands; see the module's doc for the stages.

    `process(mic, reference)` takes the next block of float32 mono 16 kHz microphone samples
    (any length) and optionally the same-length block the loudspeaker played at those moments;
    it returns the commands whose utterance ended in this block. `flush()` ends the stream.
    Rejected utterances go to `on_rejected` and to `rejected` (the last 100)."""

    def __init__(
        self,
        engine: Engine,
        vocabulary: Vocabulary,
        *,
        tuning: Tuning = Tuning(),
        on_rejected: Callable[[Rejected], None] | None = None,
    ) -> None:
        self.engine = engine
        self.vocabulary = vocabulary
        self.tuning = tuning
        self.on_rejected = on_rejected
        self.rejected: deque[Rejected] = deque(maxlen=100)
        self.meter = FrameMeter(tuning)
        self.settle_frames = _frames(tuning.settle)
        self.hangover_frames = max(1, _frames(tuning.hangover))
        self.min_frames = max(1, _frames(tuning.min_utterance))
        self.min_frames_under_echo = max(1, _frames(tuning.min_utterance_under_echo))
        self.max_frames = _frames(tuning.max_utterance)
        self.peek_after = max(1, _frames(tuning.peek_after))
        self.early_frames = max(self.peek_after + 1, _frames(tuning.early_finish))
        self._mic_buf = np.zeros(0, np.float32)
        self._ref_buf = np.zeros(0, np.float32)
        self._frames = 0  # frames processed
        self._state = State.IDLE
        # before an utterance: (raw, noise-suppressed) frames, and which could start one
        self._preroll: deque[tuple[np.ndarray, np.ndarray]] = deque(
            maxlen=max(1, _frames(tuning.preroll)))
        self._onset: deque[bool] = deque(maxlen=tuning.onset_frames + 1)
        self._start = 0  # first speech frame of the utterance
        self._last_speech = 0  # last speech frame
        self._peak = SILENT_DB  # the utterance's loudest frame that could start one
        self._under_echo = False  # the utterance was said while the assistant spoke
        self._noisy = False  # the utterance began in a noisy room
        self._expected: frozenset[Command] | None = None
        # the engine's early look at an utterance when its silence begins (see `_speech`)
        self._early: Recognition | None = None
        # silence after the speech, not yet fed: (raw, noise-suppressed) frames
        self._held: list[tuple[np.ndarray, np.ndarray]] = []
        # the second line of defence against its own voice (see `hear_own_words`)
        self._said: SaidBetween | None = None
        self._voice: deque[bool] = deque(maxlen=(self._preroll.maxlen or 1)
                                         + tuning.onset_frames)
        self._voice_frames = 0  # frames of the utterance that clearly held another voice
        # samples [a, b) whose reference was not all known (`missing_reference`), recent ones
        self._gaps: deque[tuple[int, int]] = deque(maxlen=64)
        #: with a pipeline (a file: nothing plays), utterances are decided elsewhere while
        #: segmentation goes on; outcomes and rejections still come out in order
        self.pipeline: Pipeline | None = None
        self._pending: deque[Pending] = deque()

    # ----------------------------------------------------------------------- public

    def expect(self, commands: frozenset[Command] | None) -> None:
        """Hear only these commands from now on (None: the whole vocabulary). The engine is
        told the phrases (Whisper's prompt lists them); any other command heard is rejected
        as "not expected now"."""
        if commands == self._expected:
            return
        self._expected = commands
        self.engine.expect(None if commands is None else [
            p for p, i in self.vocabulary.phrases.items() if i.command in commands])

    def hear_own_words(self, said: SaidBetween | None) -> None:
        """The second line of defence against the assistant's own voice. `said(a, b)` gives
        the texts the loudspeaker played between stream times a and b. A command whose
        words the assistant was saying just before it was heard (one echo delay, give or
        take) is its own echo and is dropped ("its own voice"), unless at least
        `VOICE_FRAMES` of the utterance stood far above the echo left after cancellation
        (a person talking over the assistant: barge-in), or the utterance sounds unlike
        what the loudspeaker played (`OTHER_VOICE`)."""
        self._said = said

    def missing_reference(self, samples: int) -> None:
        """The reference given with the next `samples` of microphone is not all known (the
        loudspeaker had not been handed it yet when it was read): how much an utterance
        sounds like what was played cannot be told near it (see `OTHER_VOICE`)."""
        fed = self._frames * FRAME + len(self._mic_buf)  # samples given so far
        self._gaps.append((fed, fed + samples))

    VOICE_FRAMES = 5
    OWN_WORDS_BEFORE = 0.3  # s: preroll, and a word said a little before its echo is heard
    LONGEST_ECHO = 0.8  # s: the longest echo delay looked for (see `DelayEstimator`)
    #: An utterance said over its voice that sounds this much like what the loudspeaker
    #: played is its own echo, however the delay and the canceller have gone wrong (see
    #: `EchoGuard.sounds_played`). Measured on 7 December 2026 (with `LIKENESS_AROUND`):
    #: 114 echoes of its own voice that got through the endpointer in live sessions through
    #: a 250 ms loopback with both cores busy (one of them from a whole test run), 0.937-1.00;
    #: 240 real "stop"s of 20 tuning speakers (real_tune) said over its echo (0.5 and 1.0
    #: loud, 300 and 600 ms late, 1, 2 and 5 s into a session), at most 0.866 but for the
    #: two below. Lined up to whole frames only, the echoes of the whole test run were
    #: 0.76-0.93 alike (in CI such a fragment, 5.9 s into the session, was taken as "stop").
    OWN_LIKENESS = 0.9
    LIKENESS_SPAN = 100  # frames: the word itself, not the whole of a long utterance
    #: frames on either side of the utterance compared too: the endpointer keeps only the
    #: loudest frames of an echo that gets through, and a few around them show it going on
    #: as it was played. Measured (live echo fragments from busy sessions, 114; real "stop"s
    #: of 20 tuning speakers over its echo 1, 2 and 5 s into a session, 240): with 3 frames
    #: the echoes were 0.937-1.00 alike and the "stop"s at most 0.866, except two said just
    #: as its own "Stop any exercise..." came back (0.90, 0.95); with none, echoes 0.889-1.00.
    LIKENESS_AROUND = 3
    #: A command that shares a word with what the assistant was saying is a person's all
    #: the same when it sounds less than this like what the loudspeaker played: its own
    #: "Stop any exercise that hurts" otherwise hid every "stop" said over it, in the first
    #: seconds of a session, before the echo's delay and leak are known and no frame can
    #: stand out as a voice. Measured as for `OWN_LIKENESS`: echoes 0.937 alike or more;
    #: real "stop"s 0.17-0.87 (95 % of them under 0.80).
    OTHER_VOICE = 0.85

    @property
    def echo_delay(self) -> float | None:
        """How late the loudspeaker's sound comes back into the microphone, in seconds, once
        it is known."""
        return None if self.meter.echo is None else self.meter.echo.delay.seconds

    def process(self, mic: np.ndarray, reference: np.ndarray | None = None) -> list[Heard]:
        mic = np.asarray(mic, np.float32).reshape(-1)
        if reference is not None:
            reference = np.asarray(reference, np.float32).reshape(-1)
            if len(reference) != len(mic):
                raise ValueError("the reference block must be as long as the mic block")
            if self.meter.echo is None:  # the first of what the loudspeaker played
                self.engine.prepare_for_echo()
        self._mic_buf = np.concatenate([self._mic_buf, mic])
        if reference is not None or len(self._ref_buf):
            ref = reference if reference is not None else np.zeros(len(mic), np.float32)
            self._ref_buf = np.concatenate([self._ref_buf, ref])
        heard: list[Heard] = []
        whole = len(self._mic_buf) // FRAME
        for i in range(whole):
            frame = self._mic_buf[i * FRAME : (i + 1) * FRAME]
            ref_frame = None
            if len(self._ref_buf) >= (i + 1) * FRAME:
                ref_frame = self._ref_buf[i * FRAME : (i + 1) * FRAME]
            result = self._step(frame, ref_frame)
            if result is not None:
                heard.append(result)
        self._mic_buf = self._mic_buf[whole * FRAME :]
        if len(self._ref_buf):
            self._ref_buf = self._ref_buf[whole * FRAME :]
        if self._pending:
            heard += self._conclude_pending(wait=False)
        return heard

    def flush(self) -> list[Heard]:
        """End of the stream: an utterance still open ends here."""
        heard: list[Heard] = []
        if self._state is State.SPEECH:
            result = self._finish()
            if result is not None:
                heard.append(result)
        elif self._state is State.OVERLONG:
            self._state = State.IDLE
        return heard + self._conclude_pending(wait=True)

    # ----------------------------------------------------------------------- segmentation

    def _step(self, mic: np.ndarray, ref: np.ndarray | None) -> Heard | None:
        """One 10 ms frame: measured, then the state machine advanced by it."""
        # an utterance that is only starting is talking too: one frame of a loud word taken
        # for echo made the canceller diverge, and the echo then kept the word going
        talking = self._state is State.SPEECH or any(self._onset)
        m = self.meter.measure(mic, ref, talking=talking,
                               settled=self._frames >= self.settle_frames)
        index = self._frames
        self._frames += 1
        if self._state is State.IDLE:
            self._voice.append(m.voice)
            self._preroll.append((m.raw, m.suppressed))
            self._onset.append(m.starts)
            if sum(self._onset) >= self.tuning.onset_frames:
                self._begin(index, m)
            return None
        continues = self._continues(m)
        if self._state is State.OVERLONG:
            self._voice.append(m.voice)
            if continues:
                self._last_speech = index
            elif index - self._last_speech >= self.hangover_frames:
                self._state = State.IDLE
                self._onset.clear()
            return None
        self._voice_frames += m.voice
        return self._speech(index, m, continues)

    def _continues(self, m: Measure) -> bool:
        """Whether the frame keeps speech going. In noise, an utterance lasts while it stays
        within `peak_drop_db` of its loudest frame, so it ends when the voice falls back
        into fluctuating noise such as babble (in a quiet room that would cut the quiet ends
        of words)."""
        if self._state is State.SPEECH and m.starts:
            self._peak = max(self._peak, m.energy)
        keep = m.floor + self.tuning.continue_db
        if m.noisy:
            keep = max(keep, self._peak - self.tuning.peak_drop_db)
        return m.audible and m.energy > keep

    def _speech(self, index: int, m: Measure, continues: bool) -> Heard | None:
        """A frame in an utterance. An engine that peeks (Whisper: it decodes when the
        silence begins rather than at the end) hears the first `peek_after` of the silence,
        the word's quiet tail, and then nothing more until the speech goes on: so at the end
        it has heard exactly what it peeked at, and its early result stands."""
        silent = index - self._last_speech  # frames since the last speech frame
        peeks = self.engine.peeks
        if continues:
            self._early = None
            for held in self._held:
                self._feed(*held)
            self._held.clear()
            self._feed(m.raw, m.suppressed)
            self._last_speech = index
        elif not peeks or silent <= self.peek_after:
            self._feed(m.raw, m.suppressed)
            if peeks and silent == self.peek_after and self.pipeline is None:
                self._early = self.engine.peek()
        else:
            self._held.append((m.raw, m.suppressed))
            # a file peeks only now, when the answer is needed: nothing was fed since
            # `peek_after`, so it is the same look, skipped when the speech goes on
            if silent == self.early_frames and self.pipeline is not None:
                self._early = self.engine.peek()
            # a whole phrase that no longer phrase begins with ("pause", not "go" of "go
            # back") ends its utterance sooner: nothing said after it could change it
            if silent == self.early_frames and self._final(self._early):
                return self._finish()
        self._under_echo = self._under_echo or m.echoing
        # the speech itself is measured, not the silence after it that ends the utterance
        if self._last_speech - self._start + 1 > self.max_frames:
            if self.pipeline is not None:  # its result would be thrown away
                self.pipeline.drop()
            else:
                self.engine.end_utterance(over_speech=self._under_echo)
            self._reject(self._start, index + 1, "too long")
            self._state = State.OVERLONG
            return None
        if index - self._last_speech >= self.hangover_frames:
            return self._finish()
        return None

    def _final(self, recognition: Recognition | None) -> bool:
        """A recognised phrase that is not the start of a longer one."""
        if recognition is None:
            return False
        text = recognition.text
        return self.vocabulary.parse(text) is not None and not any(
            p.startswith(text + " ") for p in self.vocabulary.phrases
        )

    def _begin(self, index: int, m: Measure) -> None:
        onset = len(self._onset) - 1 - next(i for i, s in enumerate(self._onset) if s)
        self._start = index - onset
        self._last_speech = index
        self._under_echo = m.echoing
        self._peak = SILENT_DB
        self._state = State.SPEECH
        self._voice_frames = sum(self._voice)
        self._voice.clear()
        self._held.clear()
        self._early = None
        # the engine is offered the noise-suppressed signal only in noise: in a quiet room
        # suppression costs recall (measured: 26/30 -> 19/30 clean with PocketSphinx)
        self._noisy = m.noisy
        self.engine.start_utterance()
        for raw, suppressed in self._recancelled(index, self._preroll):
            self._feed(raw, suppressed)
        self._preroll.clear()

    def _recancelled(self, last: int, frames: Sequence[tuple[np.ndarray, np.ndarray]]
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
        """`frames`, the last of them frame `last`, with those heard before the echo's
        filter was set up (its delay was not yet known) cancelled again now that it is
        (`EchoGuard.recancel`): a word said in the first second of a session has the
        assistant's own uncancelled voice in its preroll, and Whisper heard "welcome to
        stop" where the person said "stop"."""
        guard = self.meter.echo
        out = list(frames)
        if guard is None or guard.aligned_at is None:
            return out
        first = self._guard_sample(last - len(out) + 1)  # negative: before the guard's first
        skip = max(0, -first) // FRAME  # frames heard before the guard began
        stale = min(len(out), max(0, guard.aligned_at - first) // FRAME)
        if stale > skip:
            again = guard.recancel(first + skip * FRAME, first + stale * FRAME)
            for i, frame in enumerate(again.reshape(-1, FRAME), start=skip):
                out[i] = (frame, frame)
        return out

    def _guard_sample(self, frame: int) -> int:
        """The echo guard's sample count (`EchoGuard.samples`) at the start of `frame`."""
        assert self.meter.echo is not None
        return frame * FRAME - (self._frames * FRAME - self.meter.echo.samples)

    def _feed(self, raw: np.ndarray, suppressed: np.ndarray) -> None:
        """One frame of the utterance to the engine (`Engine.feed_frame`): echo cancelled,
        and that or the noise-suppressed one."""
        self.engine.feed_frame(raw, suppressed if self._noisy else raw)

    # ----------------------------------------------------------------------- decisions

    def _finish(self) -> Heard | None:
        self._state = State.IDLE
        self._peak = SILENT_DB
        self._onset.clear()
        start, end = self._start, self._last_speech + 1
        # over the assistant's voice only the loud middle of a word stands above the echo
        # left over (a fan's noise on top): "stop" kept 80-100 ms of its 400 (measured), and
        # the engine hears the whole word anyway, with the preroll and the hangover
        shortest = self.min_frames_under_echo if self._under_echo else self.min_frames
        if self.pipeline is not None:
            self._pending.append((self.pipeline.submit(over_speech=self._under_echo),
                                  start, end, shortest, None))
            return None
        recognition = self.engine.end_utterance(over_speech=self._under_echo)
        # what the engine wrote, also when it took no command (Whisper says), for --verbose
        return self._conclude(recognition, self.engine.heard_text, start, end, shortest)

    def _conclude_pending(self, *, wait: bool) -> list[Heard]:
        """The outcomes of utterances handed to the pipeline, in order: those ready (all of
        them with `wait`); a rejection made meanwhile waits its turn behind them."""
        heard: list[Heard] = []
        while self._pending:
            future, start, end, shortest, rejected = self._pending[0]
            if future is not None and not wait and not future.done():
                break
            self._pending.popleft()
            if future is None and rejected is not None:
                self._tell(rejected)
                continue
            assert future is not None
            recognition, text = future.result()
            result = self._conclude(recognition, text, start, end, shortest)
            if result is not None:
                heard.append(result)
        return heard

    def _conclude(self, recognition: Recognition | None, text: str, start: int, end: int,
                  shortest: int) -> Heard | None:
        """The command in an utterance from frame `start` to `end`, or None (rejected)."""
        text = text if recognition is None else recognition.text
        intent = None if recognition is None else self.vocabulary.parse(text)
        if end - start < shortest:
            reason = "too short"
        elif recognition is None or intent is None:
            reason = "not a command"
        elif self._expected is not None and intent.command not in self._expected:
            reason = "not expected now"
        else:
            own = self._own_words(text, start, end)
            # measured once, for both checks, and only where one of them needs it
            like = self._likeness(start, end) \
                if own is not None or self._over_its_voice() else None
            alike = like or 0.0
            if own is not None and (like is None or like >= self.OTHER_VOICE):
                reason = f"its own voice (it was saying {own!r})"
            elif self._over_its_voice() and alike >= self.OWN_LIKENESS:
                reason = f"its own voice (it sounds {alike:.0%} like what it played)"
            else:
                return Heard(intent=intent, text=text, confidence=recognition.confidence,
                             start=_seconds(start), end=_seconds(end))
        self._tell(Rejected(_seconds(start), _seconds(end), reason, text))
        return None

    def _own_words(self, text: str, start: int, end: int) -> str | None:
        """What the assistant was saying that the command `text`, heard from frame `start`
        to `end`, shares a word with, if it was said up to the longest echo delay before
        (or the delay estimated, when longer) and nothing in the utterance clearly held
        another voice; else None. The window does not trust the delay estimate: on a busy
        machine the estimate lagged a delay that moved, and its own "Go!" was taken."""
        if self._said is None or self._voice_frames >= self.VOICE_FRAMES:
            return None
        delay = self.echo_delay
        longest = max(self.LONGEST_ECHO, delay or 0.0)
        a, b = start * FRAME_S - longest - self.OWN_WORDS_BEFORE, end * FRAME_S
        heard = words(text)
        return next((t for t in self._said(a, b) if share_a_word(heard, words(t))), None)

    def _over_its_voice(self) -> bool:
        """Whether the utterance was said while the loudspeaker played, and nothing in it
        clearly held another voice: only then can sounding like what it played drop it."""
        return self._under_echo and self._voice_frames < self.VOICE_FRAMES

    def _likeness(self, start: int, end: int) -> float | None:
        """How much the utterance from frame `start` to `end` sounds like what the
        loudspeaker played before it (`EchoGuard.sounds_played`), its last `LIKENESS_SPAN`
        and `LIKENESS_AROUND` on either side; None where that cannot be told (nothing
        played yet, too little of it held, or the reference was not all known then)."""
        guard = self.meter.echo
        if guard is None:
            return None
        start = max(start, end - self.LIKENESS_SPAN) - self.LIKENESS_AROUND
        end = min(end + self.LIKENESS_AROUND, self._frames - 1)  # a frame more is read
        reach = guard.likeness_lag + FRAME
        if any(a < (end + 1) * FRAME and b > start * FRAME - reach for a, b in self._gaps):
            return None
        return guard.sounds_played(self._guard_sample(start), self._guard_sample(end))

    def _reject(self, start: int, end: int, reason: str) -> None:
        """Segmentation's rejection: after the outcomes of utterances still pending."""
        item = Rejected(_seconds(start), _seconds(end), reason)
        if self._pending:
            self._pending.append((None, start, end, 0, item))
        else:
            self._tell(item)

    def _tell(self, item: Rejected) -> None:
        self.rejected.append(item)
        if self.on_rejected is not None:
            self.on_rejected(item)
