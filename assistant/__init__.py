"""exercise-assistant: an offline, hands-free, voice-guided exercise assistant."""

import os as _os

# onnxruntime (Whisper's voice activity detector, the neural engine's features, any voice
# model) starts Microsoft's telemetry when it is loaded: a persistent device id and an event
# database in ~/.cache/Microsoft/DeveloperTools/.onnxruntime, and an uploader. The variable
# must be set before onnxruntime initialises, and every import of it goes through this
# package first. The assistant promises no network and writes only in its own folders.
_os.environ["ORT_DISABLE_TELEMETRY"] = "1"

__version__ = "0.1.0"
