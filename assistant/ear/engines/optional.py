"""Optional engines a user can install: Vosk (with a local model) and OpenAI's Whisper
(`openai-whisper`, PyTorch; the default `whisper` engine runs it through CTranslate2).

Both buffer the utterance and recognise it whole at its end, wrapped in SpeechRecognition's
`AudioData`. The free text becomes a command only when the whole utterance is exactly a
vocabulary phrase. Whisper goes through `Recognizer.recognize_whisper`; for Vosk,
SpeechRecognition's `recognize_vosk` only reads a model from its own package folder and loads
it on every call, so the engine keeps a `vosk.Model` from --model loaded and runs the same
`KaldiRecognizer` steps itself on the `AudioData`'s 16-bit PCM."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np

from assistant.commands import Vocabulary
from assistant.ear.engines import SAMPLE_RATE, Engine, Recognition
from assistant.errors import DeviceError


def _require(package: str, engine: str, model_path: Path | None, model_hint: str) -> Path:
    message = f"the {engine} engine needs `pip install {engine}` and --model PATH to {model_hint}"
    if (
        importlib.util.find_spec(package) is None
        or importlib.util.find_spec("speech_recognition") is None
    ):
        raise DeviceError(message)
    if model_path is None or not Path(model_path).exists():
        raise DeviceError(message)
    return Path(model_path)


class _Buffered(Engine):
    """Buffers one utterance; subclasses turn its AudioData into free text."""

    name = "buffered"

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self._chunks: list[np.ndarray] = []

    def start_utterance(self) -> None:
        self._chunks = []

    def feed(self, audio: np.ndarray) -> None:
        self._chunks.append(np.asarray(audio, np.float32).copy())

    def end_utterance(self, *, over_speech: bool = False) -> Recognition | None:
        import speech_recognition as sr

        if not self._chunks:
            return None
        audio = np.concatenate(self._chunks)
        self._chunks = []
        pcm = np.clip(np.rint(audio * 32767.0), -32768, 32767).astype(np.int16)
        text = self._transcribe(sr.AudioData(pcm.tobytes(), SAMPLE_RATE, 2))
        intent = self.vocabulary.parse(text)
        if intent is None:
            return None
        return Recognition(" ".join(text.lower().split()), 1.0)

    def _transcribe(self, audio: Any) -> str:
        raise NotImplementedError


class VoskEngine(_Buffered):
    name = "vosk"

    def __init__(self, vocabulary: Vocabulary, model_path: Path) -> None:
        super().__init__(vocabulary)
        import vosk

        vosk.SetLogLevel(-1)
        self._model = vosk.Model(str(model_path))

    def _transcribe(self, audio: Any) -> str:
        import vosk

        recognizer = vosk.KaldiRecognizer(self._model, SAMPLE_RATE)
        recognizer.AcceptWaveform(audio.get_raw_data(convert_rate=SAMPLE_RATE, convert_width=2))
        return str(json.loads(recognizer.FinalResult()).get("text", ""))


class WhisperEngine(_Buffered):
    name = "openai-whisper"

    def __init__(self, vocabulary: Vocabulary, model_path: Path) -> None:
        super().__init__(vocabulary)
        import speech_recognition as sr

        self._recognizer = sr.Recognizer()
        files = sorted(model_path.glob("*.pt")) if model_path.is_dir() else [model_path]
        if not files:
            raise DeviceError(f"no Whisper checkpoint (*.pt) in {model_path}")
        self._model = str(files[0])

    def _transcribe(self, audio: Any) -> str:
        text = self._recognizer.recognize_whisper(audio, model=self._model, language="english")
        return str(text)


def create_vosk(vocabulary: Vocabulary, model_path: Path | None = None) -> VoskEngine:
    """Vosk with the unpacked model folder at `model_path`."""
    path = _require("vosk", "vosk", model_path, "an unpacked model folder")
    return VoskEngine(vocabulary, path)


def create_whisper(vocabulary: Vocabulary, model_path: Path | None = None) -> WhisperEngine:
    """Whisper (openai-whisper) with a local checkpoint file, or a folder holding one."""
    path = _require("whisper", "openai-whisper", model_path, "a model checkpoint (.pt)")
    return WhisperEngine(vocabulary, path)
