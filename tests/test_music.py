"""Music under the session: found in a file or folder, decoded, levelled, looped, ducked under
the voice, written into a simulation's speaker file, and never the reason a session stops."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import call

from assistant.voice.music import (
    DUCK_DB,
    LEVEL_DB,
    OUTRO,
    Ducking,
    MusicFeed,
    Playlist,
    level,
    music_files,
)

RATE = 16000
ROUTINE = """\
name: Two rolls
safety: Move gently and stop if anything hurts.
exercises:
  - name: Shoulder rolls
    instructions: Roll your shoulders back slowly, then let them drop.
    sets: 1
    reps: 4
    tempo: 2s
"""


def tone(seconds: float, hz: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def test_music_files_finds_audio_in_a_folder_and_warns_of_nothing_there(tmp_path: Path) -> None:
    """A folder gives its audio files (subfolders too, by suffix, sorted), not its other
    files; a missing path and a folder with no audio each give one warning and no files."""
    (tmp_path / "b.wav").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.FLAC").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not music")
    assert music_files(tmp_path) == ([tmp_path / "b.wav", tmp_path / "sub" / "a.FLAC"], [])
    assert music_files(tmp_path / "gone.mp3") == (
        [], [f"music: no such file or folder {tmp_path / 'gone.mp3'}"])
    (tmp_path / "empty").mkdir()
    assert music_files(tmp_path / "empty") == (
        [], [f"music: no audio files in {tmp_path / 'empty'} (FLAC, OGG, MP3 or WAV)"])


def test_a_song_is_levelled_to_the_music_level_without_clipping() -> None:
    """A quiet tone comes to an RMS of LEVEL_DB; a tone with a far louder click is held
    lower, its peak at 0.7."""
    assert db(level(tone(2, 220, 0.01))) == pytest.approx(LEVEL_DB, abs=0.01)
    spiky = tone(2, 220, 0.001)
    spiky[100] = 1.0
    assert float(np.max(np.abs(level(spiky)))) == pytest.approx(0.7)


def test_the_playlist_loops_and_any_range_reads_the_same_samples(tmp_path: Path) -> None:
    """Two songs (1.0 s and 1.5 s) play one after the other and again: 6 s read as one range
    equal the same 6 s read in 0.3 s pieces, and no second of it is silent."""
    for name, seconds, hz in (("a.flac", 1.0, 220), ("b.wav", 1.5, 330)):
        sf.write(tmp_path / name, tone(seconds, hz), RATE)
    files, _ = music_files(tmp_path)
    whole = Playlist(files, seed=3).read(0, 6 * RATE)
    pieces = Playlist(files, seed=3)
    step = round(0.3 * RATE)
    assert np.array_equal(np.concatenate([pieces.read(a, a + step)
                                          for a in range(0, 6 * RATE, step)]), whole)
    assert all(db(whole[k * RATE:(k + 1) * RATE]) > -40 for k in range(6))


def test_a_file_that_will_not_decode_is_skipped_with_one_warning(tmp_path: Path) -> None:
    """A folder with a song and a file that is not audio plays the song, with one warning
    naming the bad file; a playlist of only bad files plays silence and says it is not
    playable."""
    sf.write(tmp_path / "good.wav", tone(1.0, 220), RATE)
    (tmp_path / "bad.mp3").write_bytes(b"this is not an mp3 at all" * 100)
    playlist = Playlist(music_files(tmp_path)[0], seed=1)
    music = playlist.read(0, 4 * RATE)
    assert all(db(music[k * RATE:(k + 1) * RATE]) > -40 for k in range(4))
    assert len(playlist.warnings) == 1
    assert playlist.warnings[0].startswith("music: cannot play bad.mp3: ")
    alone = Playlist([tmp_path / "bad.mp3"])
    assert not np.any(alone.read(0, RATE)) and not alone.playable


def test_the_music_drops_by_the_duck_under_speech_and_while_paused_then_fades_out() -> None:
    """Gains: 1 before speech, -12 dB once 50 ms into it, back to 1 when 0.45 s have passed
    after it; -12 dB from a pause to the next phase; 0 once OUTRO after "done"."""
    ducking = Ducking()
    speech = [(RATE, 2 * RATE)]
    gains = ducking.gains(0, 4 * RATE, speech)
    assert gains[RATE // 2] == 1.0
    assert gains[RATE + 800 : 2 * RATE] == pytest.approx(10 ** (-DUCK_DB / 20))
    assert np.all(gains[2 * RATE + round(0.45 * RATE):] == 1.0)
    ducking.phase(5 * RATE, "paused")
    ducking.phase(7 * RATE, "work")
    assert ducking.gains(6 * RATE, 6 * RATE + 10, [])[0] == pytest.approx(10 ** (-DUCK_DB / 20))
    ducking.phase(8 * RATE, "done")
    end = 8 * RATE + round(OUTRO * RATE)
    assert ducking.gains(end, end + 10, []).tolist() == [0.0] * 10


def test_the_live_feed_gives_silence_until_decoded_then_the_playlists_samples(
        tmp_path: Path) -> None:
    """The feed's first read (before its thread has decoded anything) may be silence but is
    never late; 2 s later the same range is exactly the playlist's samples."""
    sf.write(tmp_path / "a.wav", tone(2.0, 220), RATE)
    feed = MusicFeed(Playlist([tmp_path / "a.wav"], seed=0))
    try:
        assert len(feed.take(0, 160)) == 160
        time.sleep(2.0)
        expected = Playlist([tmp_path / "a.wav"], seed=0).read(160, 480)
        assert np.array_equal(feed.take(160, 480), expected)
    finally:
        feed.close()


def test_a_simulation_with_music_keeps_its_timeline_and_ducks_under_the_voice(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--music` with `--speaker-file`: the session's events are those without music, the
    speech in the file is unchanged (the file minus the speech-only file is the music),
    and the music is at least 10 dB quieter while the voice speaks than away from it."""
    routine = home / "rolls.yaml"
    routine.write_text(ROUTINE)
    song = home / "steady.flac"
    rng = np.random.default_rng(0)
    sf.write(song, (0.1 * rng.standard_normal(60 * RATE)).astype(np.float32), RATE)
    runs = {}
    for name, extra in (("plain", []), ("music", ["--music", str(song)])):
        out, events = home / f"{name}.wav", home / f"{name}.jsonl"
        assert call(["start", str(routine), "--simulate", "--no-listen", "--speaker-file",
                     str(out), "--events", str(events), *extra]) == 0
        lines = [json.loads(line) for line in events.read_text().splitlines()]
        runs[name] = (sf.read(out, dtype="float32")[0],
                      [{k: v for k, v in r.items() if k != "started_at"} for r in lines])
    capsys.readouterr()
    (plain, plain_events), (mixed, music_events) = runs["plain"], runs["music"]
    assert music_events == plain_events
    music = mixed - plain
    speaking = np.abs(plain) > 1e-3
    near = np.convolve(speaking, np.ones(round(0.6 * RATE)), "same") > 0
    frames = range(0, len(plain) - 1600, 1600)
    during = [db(music[i:i + 1600]) for i in frames if speaking[i:i + 1600].mean() > 0.9]
    away = [db(music[i:i + 1600]) for i in frames if not near[i:i + 1600].any()]
    assert during and away
    assert np.median(away) - np.median(during) >= 10.0


def test_a_bad_music_path_is_one_warning_and_the_session_goes_on(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--music` naming nothing, or a file that is not audio: the simulation completes and
    writes its speaker file, with exactly one line on stderr naming the problem."""
    routine = home / "rolls.yaml"
    routine.write_text(ROUTINE)
    bad = home / "song.mp3"
    bad.write_bytes(b"not audio" * 50)
    for music, expected in ((home / "none", "no such file or folder"),
                            (bad, "cannot play song.mp3")):
        out = home / "out.wav"
        assert call(["start", str(routine), "--simulate", "--no-listen", "--music", str(music),
                     "--speaker-file", str(out)]) == 0
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and expected in err[0], err
        assert out.stat().st_size > 0
        out.unlink()


def test_render_puts_the_music_under_the_session_and_warns_of_a_bad_path(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`render --music SONG` writes a file as long as without music, with the music under
    the welcome from its first half second (ducked: LEVEL_DB - DUCK_DB, -42 dBFS, within
    1 dB); a missing path is one warning and the same file without music."""
    routine = home / "rolls.yaml"
    routine.write_text(ROUTINE)
    song = home / "song.wav"
    sf.write(song, tone(30, 330), RATE)
    files = {}
    for name, extra in (("plain", []), ("music", ["--music", str(song)]),
                        ("missing", ["--music", str(home / "none")])):
        files[name] = home / f"{name}.wav"
        assert call(["render", str(routine), "-o", str(files[name]), *extra]) == 0
        err = capsys.readouterr().err.splitlines()
        assert err == ([f"exercise-assistant: music: no such file or folder {home / 'none'}"]
                       if name == "missing" else [])
    plain, music, missing = (sf.read(files[n], dtype="float32")[0]
                             for n in ("plain", "music", "missing"))
    assert len(music) == len(plain) and np.array_equal(missing, plain)
    added = db(music[RATE // 10 : RATE // 2] - plain[RATE // 10 : RATE // 2])
    assert added == pytest.approx(LEVEL_DB - DUCK_DB, abs=1.0)
