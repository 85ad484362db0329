"""PocketSphinx as a small-vocabulary engine: one decoder, kept loaded, fed in small chunks.

The search is a grammar: one utterance is either exactly one vocabulary phrase or one of a
few hundred ordinary English words (the garbage branch). Speech that is not a command
usually matches some ordinary word better than any phrase, and is rejected; the phrases get a
prior weight over the garbage words (`bias`), the one threshold of this engine.

PocketSphinx needs a little noise: digital silence (exact zeros) makes its features degenerate
and its recognition collapse, so the engine adds dither of about one LSB."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from assistant.commands import Vocabulary
from assistant.ear.engines import SAMPLE_RATE, Engine, Recognition
from assistant.errors import DeviceError

#: Ordinary words competing with the phrases. Words that sound like a phrase word (to, two,
#: for, know, weight, ...) must never be here: they would steal the real command.
GARBAGE_WORDS = """
about above across after again against along also although always among another anything
around asked away became because become been before began behind being believe better
between beyond black body book both brought business called came cannot care carry case
certain change children city class close cold come coming company could country course
cried dark daughter days dead deal death different doctor does doing done door during
early earth either else enough even evening every example face fact family father feel
feet felt field figure fire first floor friend from front full game gave getting girl
given glad great green ground group half hand happy hard have having head hear heard
heart heavy held here herself high himself history hold home horse hotel house however
human husband idea important inside instead into itself just keep kind kitchen knew land
large last later least leave less letter life light like likely little live living long
looked looking lost love made make making many married matter maybe mean means meet
member might mind minute money month more morning most mother much music must myself
name near need never night nothing notice number office often once only open order other
others outside over page paper part party past people perhaps person picture place plan
play please point police power present pretty probably problem public pull question
quite rather read ready real really reason remember right river road room round said
same school second seemed seen sense service several shall short should side simple
since sister small smile social something sometimes soon sort sound south space
special spring stand start state still story street strong student study such summer
sure system table take taken talk teacher tell than thank that their them then there
these they thing think this those though thought through thus time today together told
took toward town tried true trying turn under until upon used very voice walk wall want
watch water week well were what when where whether which while white whole whom why
wife will window with within without woman women word work world would write year young
""".split()  # noqa: SIM905

#: Everyday short words of conversation, kept as garbage whatever their length.
INTERJECTIONS = """
hello thanks okay alright maybe sorry really sure right well yeah yep nope
""".split()  # noqa: SIM905

#: Garbage words shorter than this many phones steal short commands from synthetic and
#: unusual voices (measured: "nine" heard as "like", "seven" as "children"), so they are left out.
MIN_GARBAGE_PHONES = 5

#: Prior weight of the phrases against each garbage word (log10 of the odds in the grammar).
DEFAULT_BIAS = 0.0

#: Decoder settings that measured better than PocketSphinx's defaults on held-out synthetic
#: voices (never on the real-voice sample). `bestpath`: the lattice rescoring after the
#: search returned half-finished phrases ("it" for "it hurts", "slow" for "slower") that
#: parse as nothing; without it the search's own best complete path is the answer (clean
#: 59 -> 72 of 111). `silprob`: silence inside the utterance less unlikely (noise 10 dB
#: +5 %).
DECODER_DEFAULTS: dict[str, object] = {"bestpath": False, "silprob": 0.1}

#: Options of the acoustic front end: the model's feat.params overrides them in the Config,
#: so they are set again after loading (and the front end rebuilt).
FRONT_END_OPTIONS = ("cmn", "cmninit", "remove_noise", "remove_silence", "varnorm")
CHUNK = 320  # 20 ms per process_raw call: the decoder never releases the GIL


def _model_files(model_path: Path | None) -> tuple[str, str]:
    """The acoustic model folder and the pronouncing dictionary."""
    import pocketsphinx

    bundled = Path(pocketsphinx.get_model_path()) / "en-us"
    if model_path is None:
        return str(bundled / "en-us"), str(bundled / "cmudict-en-us.dict")
    folder = Path(model_path)
    if not (folder / "mdef").is_file():
        raise DeviceError(
            f"the pocketsphinx engine needs --model PATH to an acoustic model folder "
            f"(with mdef), not {folder}"
        )
    dicts = sorted(folder.glob("*.dict")) + sorted(folder.parent.glob("*.dict"))
    return str(folder), str(dicts[0] if dicts else bundled / "cmudict-en-us.dict")


class SphinxEngine(Engine):
    """The Engine interface over one PocketSphinx decoder with a phrase-or-garbage grammar."""

    name = "pocketsphinx"

    def __init__(
        self,
        vocabulary: Vocabulary,
        model_path: Path | None = None,
        *,
        bias: float = DEFAULT_BIAS,
        garbage: list[str] | None = None,
        **options: object,
    ) -> None:
        import pocketsphinx

        hmm, dictionary = _model_files(model_path)
        options = {**DECODER_DEFAULTS, **options}
        front = {k: options.pop(k) for k in FRONT_END_OPTIONS if k in options}
        config = pocketsphinx.Config(
            hmm=hmm, dict=dictionary, lm=None, samprate=SAMPLE_RATE, loglevel="FATAL", **options
        )
        self._decoder = pocketsphinx.Decoder(config)
        if front:
            for key, value in front.items():
                self._decoder.config[key] = value
            self._decoder.reinit_feat()
        self.vocabulary = vocabulary
        phrases = sorted(vocabulary.phrases)
        words = {w for p in phrases for w in p.split()}
        unknown = sorted(w for w in words if self._decoder.lookup_word(w) is None)
        if unknown:
            raise DeviceError(
                "the pocketsphinx model cannot pronounce: "
                + ", ".join(unknown)
                + " (choose other synonyms, or a model whose dictionary has them)"
            )
        self.phrases = phrases
        if garbage is None:
            garbage = [
                w
                for w in GARBAGE_WORDS
                if len((self._decoder.lookup_word(w) or "").split()) >= MIN_GARBAGE_PHONES
            ] + INTERJECTIONS
        self.garbage = sorted(
            {w for w in garbage if w not in words and self._decoder.lookup_word(w) is not None}
        )
        # Weights sit on each alternative of one rule: PocketSphinx ignores weights put on
        # references to other rules.
        weight = math.pow(10.0, bias)  # 1 by default: each phrase as likely as each word
        alternatives = [f"/{weight:.4f}/ ( {p} )" for p in phrases]
        alternatives += [f"/1/ {w}" for w in self.garbage]
        # Nothing at all (silence and fillers only): an utterance of noise or of digital
        # silence ends there instead of in the nearest phrase. Without the lattice rescoring
        # (bestpath off) the search must end in a complete path, and with no empty one it
        # forced a phrase onto silence.
        alternatives.append("/1/ <NULL>")
        grammar = "#JSGF V1.0;\ngrammar commands;\n"
        grammar += "public <utterance> = " + " | ".join(alternatives) + " ;\n"
        self._decoder.add_jsgf_string("commands", grammar)
        self._decoder.activate_search("commands")
        self._rng = np.random.default_rng(0)
        self._pending = np.zeros(0, np.int16)
        self._active = False

    def start_utterance(self) -> None:
        if self._active:
            self._decoder.end_utt()
        self._decoder.start_utt()
        self._rng = np.random.default_rng(0)  # the same dither for the same audio
        self._pending = np.zeros(0, np.int16)
        self._active = True

    def feed(self, audio: np.ndarray) -> None:
        if not self._active:
            self.start_utterance()
        x = np.asarray(audio, np.float32) * 32767.0
        x += self._rng.standard_normal(len(x)).astype(np.float32)
        pcm = np.clip(np.rint(x), -32768, 32767).astype(np.int16)
        pcm = np.concatenate([self._pending, pcm]) if len(self._pending) else pcm
        whole = len(pcm) - len(pcm) % CHUNK
        for i in range(0, whole, CHUNK):
            self._decoder.process_raw(pcm[i : i + CHUNK].tobytes())
        self._pending = pcm[whole:]

    def end_utterance(self, *, over_speech: bool = False) -> Recognition | None:
        if not self._active:
            return None
        if len(self._pending):
            self._decoder.process_raw(self._pending.tobytes())
            self._pending = np.zeros(0, np.int16)
        self._decoder.end_utt()
        self._active = False
        hyp = self._decoder.hyp()
        if hyp is None:
            return None
        text = " ".join(hyp.hypstr.split())
        if self.vocabulary.parse(text) is None:
            return None
        return Recognition(text, float(min(1.0, max(0.0, hyp.prob))))


def create(vocabulary: Vocabulary, model_path: Path | None = None) -> SphinxEngine:
    """The PocketSphinx engine for `vocabulary` (the bundled US English model by default)."""
    try:
        import pocketsphinx  # noqa: F401
    except ImportError:
        raise DeviceError("the pocketsphinx engine needs `pip install pocketsphinx`") from None
    return SphinxEngine(vocabulary, model_path)
