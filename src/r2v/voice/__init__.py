"""Voices: dialogue lines spoken offline (tts.py), given each speaker's voice (timbre.py), mixed (mix.py)."""
