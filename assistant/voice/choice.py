"""Which voice speaks: Piper's neural voice by default, eSpeak NG when asked for by name
(`--voice en-us`, or `espeak` for its default), and eSpeak NG, with one line saying so,
when the neural voice cannot load."""

from __future__ import annotations

from assistant.errors import DeviceError
from assistant.voice import neural
from assistant.voice.tts import DEFAULT_RATE, Speech, Synthesizer

ESPEAK = ("espeak", "espeak-ng", "espeak ng")
"""--voice values that ask for eSpeak NG's default voice."""


def open_speech(voice: str | None, rate: int = DEFAULT_RATE, volume: float = 1.0
                ) -> tuple[Speech, str]:
    """The voice asked for, checked, and a note to show once when another speaks instead
    (empty when not). UnknownVoiceError for a name no voice has (a person's mistake);
    DeviceError when no voice at all can speak here."""
    note = ""
    if voice is None or neural.is_neural(voice):  # Piper speaks it when it can
        try:
            speech: Speech = neural.PiperSynthesizer(neural.find(voice), rate=rate,
                                                     volume=volume)
            speech.check()
            return speech, note
        except DeviceError as exc:
            note = f"{exc}; speaking with eSpeak NG instead"
        voice = None
    elif voice is not None and voice.strip().casefold() in ESPEAK:
        voice = None
    speech = Synthesizer(voice=voice, rate=rate, volume=volume)
    speech.check()
    if voice:
        speech.resolve_voice(voice)
    return speech, note
