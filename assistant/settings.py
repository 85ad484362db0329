"""User settings: a small YAML file in the user's config directory, parsed once into an
immutable value. Precedence: command line > settings file > routine's own voice > built-in.

    # ~/.config/exercise-assistant/settings.yaml
    voice: en-us
    rate: 160            # words per minute
    volume: 0.9          # 0.0 .. 1.0
    engine: whisper      # or pocketsphinx, vosk, openai-whisper
    model: ~/models/vosk-small-en
    input_device: pulse
    output_device: pulse
    pause_limit: 30m
    synonyms:
      hang on: pause
      onwards: next

The file is checked like a routine file: read safely by `yamlfile`, then against SCHEMA (a
JSON Schema; its short descriptions are the units said in messages) by `validation`, every
problem reported at once as FILE:LINE:COL and each setting named as the file names it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant.commands import Command, Vocabulary, normalize, parse_command_name
from assistant.errors import SettingsError
from assistant.routine import parse_duration
from assistant.validation import Checker, did_you_mean
from assistant.yamlfile import Problems, Rules, Stop, Unreadable, read, read_file

MAX_BYTES = 64_000
RULES = Rules("a settings file", "settings files", MAX_BYTES, 4, "settings need 2")


@dataclass(frozen=True)
class Settings:
    voice: str | None = None
    rate: int | None = None  # words per minute; None: the routine's, else 175
    volume: float | None = None  # 0..1; None: the routine's, else 1.0
    engine: str | None = None
    model: Path | None = None
    input_device: str | None = None
    output_device: str | None = None
    pause_limit: float = 30 * 60.0
    synonyms: Mapping[str, Command] = field(default_factory=dict)
    music: Path | None = None  # a file or folder of music to play under the session
    music_volume: float = 1.0  # 0..1: the music's level against its comfortable default
    music_duck: float = 12.0  # dB the music drops while the assistant speaks

    def vocabulary(self) -> Vocabulary:
        return Vocabulary(self.synonyms)

    def override(self, **values: Any) -> Settings:
        """A copy with the given values, ignoring those that are None (not given)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


TEXT = {"type": ["string", "number"]}  # a number is taken as written: output_device: 7


@functools.cache
def schema() -> dict[str, Any]:
    """The settings file's JSON Schema. A short description is the unit said in messages."""
    from assistant.ear.engines import REGISTRY
    from assistant.loader import SCHEMA as ROUTINE

    level = {"type": "number", "minimum": 0, "maximum": 1, "description": "0 is silent, 1 is full"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "voice": TEXT,
            "rate": {"type": "integer", "minimum": 80, "maximum": 400,
                     "description": "words per minute"},
            "volume": level,
            "engine": {"enum": list(REGISTRY)},
            "model": TEXT,
            "input_device": TEXT,
            "output_device": TEXT,
            "pause_limit": {"anyOf": [{"type": "number", "minimum": 10, "maximum": 24 * 3600},
                                      {"$ref": "#/$defs/durationText"}]},
            "synonyms": {"type": "object", "additionalProperties": {"type": "string"}},
            "music": TEXT,
            "music_volume": level,
            "music_duck": {"type": "number", "minimum": 0, "maximum": 40,
                           "description": "dB the music drops while the assistant speaks"},
        },
        "$defs": {"durationText": ROUTINE["$defs"]["durationText"]},
    }


class _SettingsChecker(Checker):
    shapes = {"synonyms": "a mapping of phrases to commands"}  # noqa: RUF012

    def expected(self, schema: dict[str, Any], label: str) -> str:
        unit = self.resolve(schema).get("description")
        what = super().expected(schema, label)
        return f"{what} ({unit})" if unit else what

    def unknown(self, label: str, key: str, allowed: Sequence[str]) -> str:
        close = did_you_mean(key, sorted(allowed))
        hint = f"did you mean {close}? " if close else ""
        return f"unknown setting {key!r}; {hint}known settings: {', '.join(sorted(allowed))}"


def load_settings(path: Path) -> Settings:
    """Settings from `path`; defaults when the file does not exist. SettingsError lists
    every problem otherwise."""
    try:
        raw = read_file(str(path), RULES)
    except Unreadable as exc:
        if exc.missing:
            return Settings()
        raise SettingsError(f"{path}: {exc}") from None
    problems = Problems()
    values: dict[str, Any] = {}
    with contextlib.suppress(Stop):  # Stop: nothing more can be read; problems say why
        values = _read(raw, problems)
    if problems.found:
        raise SettingsError(lines=[f"{path}:{line}:{col}: {message}"
                                   for line, col, message in problems.in_order()])
    return Settings(**values)


def _read(raw: bytes, problems: Problems) -> dict[str, Any]:
    root = read(raw, problems, RULES)
    if root is None:
        return {}
    if root.kind != "map":
        problems.at(root, "settings must be a mapping of key: value")
        return {}
    properties = schema()["properties"]
    _SettingsChecker(schema()).check(root, problems)
    values: dict[str, Any] = {}
    for key, (_key, node) in root.pairs.items():
        if key not in properties or node.bad:
            continue
        if key == "synonyms":
            values[key] = _synonyms(node, problems)
        elif key == "pause_limit":
            values[key] = parse_duration(node.value)  # in range: the schema checked it
        elif key in ("rate", "volume", "music_volume", "music_duck"):
            values[key] = int(node.value) if key == "rate" else float(node.value)
        else:
            text = str(node.value)
            values[key] = Path(text).expanduser() if key in ("model", "music") else text
    return values


def _synonyms(node: Any, problems: Problems) -> dict[str, Command]:
    """The synonyms: phrases of one to four words, each naming a command it does not
    already mean."""
    names = ", ".join(c.value for c in Command if c is not Command.NUMBER)
    table: dict[str, Command] = {}
    for key, (key_node, value_node) in node.pairs.items():
        if value_node.bad:
            continue  # not text: said already
        command = parse_command_name(str(value_node.value))
        phrase = normalize(key)
        if command is None or command is Command.NUMBER:
            problems.at(value_node, f"unknown command {value_node.value!r}; use one of {names}")
        elif not phrase or len(phrase.split()) > 4:
            problems.at(key_node, "a synonym is one to four words")
        elif (clash := Vocabulary().parse(phrase)) and clash.command is not command:
            problems.at(key_node, f"{phrase!r} already means {clash.command.value}")
        else:
            table[phrase] = command
    return table
