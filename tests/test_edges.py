"""What a new user met at the edges (issue 25, items 6 and 8 to 13): names that would hide a
bundled routine, the transcript when output is not a terminal, cues that run together, the
carry-on offer, a damaged journal, and usage errors that say the same thing the same way.

XDG folders point into tmp_path, so the user's journal, routines and settings are never
touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import call

from assistant import paths

# --- 6: a routine of yours must not silently hide a bundled one ------------------------------


def test_new_refuses_a_bundled_name_unless_forced_and_says_so(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`new "Upper back"` (file upper-back.yaml) exits 1 with one line naming the bundled
    routine it would hide and --force, and writes nothing; with --force it writes the file
    and says that `start upper-back` now runs it."""
    assert call(["new", "Upper back"]) == 1
    out = capsys.readouterr()
    assert (out.out, out.err) == ("", "exercise-assistant: upper-back is a bundled routine: "
                                      "yours would hide it from list and start; choose another "
                                      "name, or give --force\n")
    assert not paths.routines_dir().exists() or list(paths.routines_dir().iterdir()) == []
    assert call(["new", "Upper back", "--force"]) == 0
    path = paths.routines_dir() / "upper-back.yaml"
    out = capsys.readouterr()
    assert out.out.splitlines()[:2] == [
        f"Wrote {path}",
        "It hides the bundled routine upper-back: `start upper-back` runs yours.",
    ]
    assert path.is_file()
