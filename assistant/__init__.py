"""exercise-assistant: an offline, hands-free, voice-guided exercise assistant."""

__version__ = "0.1.0"
