"""Speech output (tts, playback) and input (listener, engines)."""
