"""Audio files, devices and mixing: the small helpers around soundfile, soxr and sounddevice.

Everything inside the project is float32 mono at one sample rate (16 kHz by default);
files of any rate and channel count are converted at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from assistant.errors import DeviceError

SAMPLE_RATE = 16_000


def read_wav(path: str | Path, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Any file soundfile reads (WAV, FLAC, ...), any rate and channels, as mono float32 at
    `rate`. DeviceError with one line when the file is missing or unreadable."""
    try:
        samples, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        if not Path(path).exists():
            raise DeviceError(f"{path}: no such audio file") from exc
        reason = " ".join(str(exc).split())
        raise DeviceError(f"{path}: cannot read audio ({reason})") from exc
    mono = samples.mean(axis=1, dtype=np.float32)
    if file_rate != rate and len(mono):
        mono = soxr.resample(mono, file_rate, rate, quality="HQ").astype(np.float32, copy=False)
    return np.ascontiguousarray(mono, dtype=np.float32)


def write_wav(path: str | Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write mono float samples as a 16-bit PCM WAV (clipped to -1..1)."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    try:
        sf.write(str(path), clipped, rate, subtype="PCM_16")
    except Exception as exc:
        reason = " ".join(str(exc).split())
        raise DeviceError(f"{path}: cannot write audio ({reason})") from exc


@dataclass(frozen=True)
class Device:
    index: int
    name: str
    channels: int
    default_rate: float
    is_default: bool


def list_devices() -> tuple[list[Device], list[Device]]:
    """(inputs, outputs) that PortAudio sees. DeviceError when PortAudio is missing."""
    try:
        import sounddevice as sd

        found = sd.query_devices()
        default_in, default_out = sd.default.device
    except Exception as exc:
        raise DeviceError(f"cannot list audio devices: {' '.join(str(exc).split())}") from exc

    def having(channels: str, default: int) -> list[Device]:
        return [Device(int(d["index"]), d["name"], d[channels], float(d["default_samplerate"]),
                       int(d["index"]) == default) for d in found if d[channels] > 0]

    return having("max_input_channels", default_in), having("max_output_channels", default_out)


def device_problem(kind: str, device: int | str | None, exc: BaseException) -> str:
    """What is missing and what to do about it, in words, for a `kind` ("microphone" or
    "loudspeaker") that PortAudio could not open: PortAudio's own message ("Error querying
    device -1") says neither."""
    option = "--input-device" if kind == "microphone" else "--output-device"
    try:
        inputs, outputs = list_devices()
    except DeviceError:
        return f"no {kind}: the audio system (PortAudio) is missing ({exc})"
    found = inputs if kind == "microphone" else outputs
    if not found:
        return f"no {kind} found: plug one in (or start PulseAudio or PipeWire)"
    if device is not None:
        named = [d for d in found if d.index == device or str(device).lower() in d.name.lower()]
        if not named:
            return (f"no {kind} called {device!r}: pick one of `exercise-assistant devices` "
                    f"with {option}")
    reason = " ".join(str(exc).split())
    which = f"{device!r}" if device is not None else "(the default)"
    return (f"the {kind} {which} would not open ({reason}): pick another with {option} "
            "(see `exercise-assistant devices`)")


def no_devices_advice(has_input: bool, has_output: bool) -> str:
    """What `devices` says when a kind of device is missing: what it means, what to do."""
    missing = " or ".join(kind for kind, has in (("microphone", has_input),
                                                  ("loudspeaker", has_output)) if not has)
    lines = [f"No {missing} found: plug one in (a headset is both), or start PulseAudio or "
             "PipeWire if you have one; then run this again."]
    if not has_input:
        lines.append("Without a microphone: `exercise-assistant start --no-listen` "
                     "(the keys give every command).")
    if not has_output:
        lines.append("Without a loudspeaker, what the assistant says is printed instead.")
    return "\n".join(lines)


def write_ring(ring: np.ndarray, start: int, block: np.ndarray) -> None:
    """Samples [start, start + len(block)) of a stream into `ring` (sample n at
    n % len(ring)); `block` is at most as long as the ring."""
    i = start % len(ring)
    k = min(len(block), len(ring) - i)
    ring[i : i + k] = block[:k]
    ring[: len(block) - k] = block[k:]


def read_ring(ring: np.ndarray, count: int, start: int, end: int) -> np.ndarray:
    """Samples [start, end) of a stream whose last `len(ring)` samples are kept in `ring`
    (sample n at n % len(ring); `count` written so far); zeros where they are not held."""
    out = np.zeros(max(0, end - start), np.float32)
    size = len(ring)
    lo, hi = max(start, count - size, 0), min(end, count)
    for n in range(lo, hi, size):  # at most two pieces, split where the ring wraps
        m = min(hi, n + size)
        i = n % size
        k = min(m - n, size - i)
        out[n - start : n - start + k] = ring[i : i + k]
        out[n - start + k : m - start] = ring[: m - n - k]
    return out
