"""Finding routines: the bundled ones, the user's own, or a path; and new templates."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from assistant import paths
from assistant.errors import AssistantError

DEFAULT_ROUTINE = "upper-back"
SUFFIXES = (".yaml", ".yml")
MAX_SLUG_BYTES = 100


def bundled_dir() -> Path:
    return Path(str(resources.files("assistant") / "exercises"))


@dataclass(frozen=True)
class Entry:
    name: str  # what `start NAME` accepts
    path: Path
    origin: str  # "bundled" or "yours"


def entries() -> list[Entry]:
    """Every routine the assistant can start by name; the user's own shadow bundled ones."""
    found: dict[str, Entry] = {}
    for origin, folder in (("bundled", bundled_dir()), ("yours", paths.routines_dir())):
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if path.suffix in SUFFIXES and path.is_file():
                found[path.stem] = Entry(path.stem, path, origin)
    return sorted(found.values(), key=lambda e: (e.origin != "yours", e.name))


def find(name_or_path: str | None) -> Path:
    """The file for a routine given by path or by name (user routines first)."""
    wanted = name_or_path or DEFAULT_ROUTINE
    path = Path(wanted).expanduser()
    if path.suffix in SUFFIXES or "/" in wanted or path.exists():
        if not path.exists():
            raise AssistantError(f"{wanted}: no such file")
        if path.is_dir():
            raise AssistantError(f"{wanted}: is a folder, not a routine file")
        return path
    for entry in entries():
        if entry.name == wanted:
            return entry.path
    names = ", ".join(e.name for e in entries())
    raise AssistantError(
        f"no routine called {wanted!r}; give a path to a .yaml file or one of: {names}"
    )


TEMPLATE = """\
# {title}: a routine for exercise-assistant.
# Check it with:  exercise-assistant validate {path}
# Preview it:     exercise-assistant show {slug}
# Start it:       exercise-assistant start {slug}
#
# Durations: 45s, 2m, 1m30s, 1h, or a plain number of seconds.
# Spoken text may use {{exercise}} {{set}} {{sets}} {{rep}} {{reps}} {{side}}
# {{remaining}} {{elapsed}}.

name: {title_yaml}
description: A short description, said at the start.
safety: >
  Stop any exercise that causes pain. If you are unsure whether an exercise is right
  for you, check with your physician or physiotherapist first.
defaults:                 # each exercise may override any of these
  rest: 30s               # after each set
  countdown: 3            # "3, 2, 1, go" before each set

exercises:
  - name: Shoulder rolls
    position: sitting or standing
    instructions: Roll both shoulders slowly up, back and down.
    sets: 2
    reps: 10
    tempo: 3s             # seconds per rep, or phases: {{up: 2s, down: 2s}}

  - name: Chin tucks
    instructions: Gently draw your chin straight back, hold, and relax.
    reps: 8
    hold: 3s

  - name: Gentle march
    duration: 2m          # a timed exercise: no reps
    instructions: March on the spot at an easy pace.
    cues:
      - at: 50%
        say: Halfway there.
      - every: 30s
        say: "{{remaining}} to go."
"""


def slug_for(name: str) -> str:
    """The file name (without .yaml) for a routine called `name`: its letters and digits,
    in any script and lower case ("Übung für den Rücken" -> "übung-für-den-rücken"),
    words joined by "-"."""
    slug = re.sub(r"[\W_]+", "-", unicodedata.normalize("NFC", name).lower()).strip("-")
    while len(slug.encode("utf-8")) > MAX_SLUG_BYTES:  # file names stop at 255 bytes
        slug = slug[:-1].rstrip("-")
    return slug


def bundled_names() -> set[str]:
    folder = bundled_dir()
    return {p.stem for p in folder.iterdir() if p.suffix in SUFFIXES} if folder.is_dir() else set()


def create(name: str, *, force: bool = False) -> Path:
    """Write a commented template routine called `name` to the user's routine folder. A
    name that would hide a bundled routine is refused unless `force`."""
    slug = slug_for(name)
    if not slug:
        raise AssistantError(f"{name!r} cannot be a file name; use letters and digits")
    if slug in bundled_names() and not force:
        raise AssistantError(f"{slug} is a bundled routine: yours would hide it from list "
                             "and start; choose another name, or give --force")
    path = paths.routines_dir() / f"{slug}.yaml"
    if path.exists():
        raise AssistantError(f"{path} already exists; edit it, or choose another name")
    title = name.strip() if name.strip() else slug
    text = TEMPLATE.format(title=title, title_yaml=json.dumps(title), slug=slug, path=path)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise AssistantError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
