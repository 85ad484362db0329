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
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from assistant.commands import Command, Vocabulary, normalize, parse_command_name
from assistant.errors import SettingsError
from assistant.routine import parse_duration

MAX_BYTES = 64_000


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


KEYS = {
    "voice", "rate", "volume", "engine", "model", "input_device", "output_device",
    "pause_limit", "synonyms", "music", "music_volume", "music_duck",
}


def _where(path: Path, node: yaml.Node | yaml.Event | None = None) -> str:
    mark = node.start_mark if node is not None else None
    if mark is None:
        return f"{path}"
    return f"{path}:{mark.line + 1}:{mark.column + 1}"


def load_settings(path: Path) -> Settings:
    """Settings from `path`; defaults when the file does not exist. SettingsError otherwise."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read the settings file: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise SettingsError(f"{path}: the settings file is too large to be settings")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line, col = before.count(b"\n") + 1, exc.start - (before.rfind(b"\n") + 1) + 1
        raise SettingsError(f"{path}:{line}:{col}: not UTF-8 text (byte "
                            f"0x{raw[exc.start]:02x}); save the settings as UTF-8") from None
    try:
        _check_depth(path, text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else f"{path}:1:1"
        raise SettingsError(f"{where}: not valid YAML: "
                            f"{exc.problem or exc.context or 'cannot parse'}") from None
    except yaml.reader.ReaderError as exc:
        head = text[: exc.position]
        line, col = head.count("\n") + 1, exc.position - (head.rfind("\n") + 1) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise SettingsError(f"{path}:{line}:{col}: not valid YAML: the control character "
                            f"U+{char:04X} is not allowed") from None
    except yaml.YAMLError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SettingsError(f"{path}:1:1: not valid YAML: {detail}") from None
    if root is None:
        return Settings()
    if not isinstance(root, yaml.MappingNode):
        raise SettingsError(f"{_where(path, root)}: settings must be a mapping of key: value")
    values: dict[str, Any] = {}
    problems: list[str] = []  # every one, so that one run shows them all
    for key_node, value_node in root.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key not in KEYS:
            close = difflib.get_close_matches(str(key), sorted(KEYS), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}? " if close else ""
            problems.append(f"{_where(path, key_node)}: unknown setting {key!r}; {hint}"
                            f"known settings: {', '.join(sorted(KEYS))}")
            continue
        if key in values:
            problems.append(f"{_where(path, key_node)}: {key!r} is set twice")
            continue
        try:
            values[key] = _value(path, key, value_node)
        except SettingsError as exc:
            problems += exc.lines
    if problems:
        raise SettingsError(lines=problems)
    return Settings(**values)


MAX_DEPTH = 4  # settings are at most two mappings deep (synonyms); deeper is not settings


def _check_depth(path: Path, text: str) -> None:
    """Refuse deep nesting before composing it (the composer recurses once per level)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise SettingsError(f"{_where(path, event)}: nested too deeply to be settings")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _scalar(path: Path, key: str, node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise SettingsError(f"{_where(path, node)}: {key} must be a single value")
    return yaml.safe_load(node.value) if node.style is None else node.value


def _value(path: Path, key: str, node: yaml.Node) -> Any:
    where = _where(path, node)
    if key == "synonyms":
        if not isinstance(node, yaml.MappingNode):
            raise SettingsError(f"{where}: synonyms must map a phrase to a command")
        table: dict[str, Command] = {}
        for phrase_node, command_node in node.value:
            raw = _scalar(path, "a synonym", phrase_node)
            phrase = normalize(raw) if isinstance(raw, str) else ""
            name = str(_scalar(path, "a command", command_node))
            command = parse_command_name(name)
            if not phrase or len(phrase.split()) > 4:
                raise SettingsError(
                    f"{_where(path, phrase_node)}: a synonym is one to four words")
            if command is None or command is Command.NUMBER:
                names = ", ".join(c.value for c in Command if c is not Command.NUMBER)
                raise SettingsError(
                    f"{_where(path, command_node)}: unknown command {name!r}; use one of {names}")
            clash = Vocabulary().parse(phrase)
            if clash is not None and clash.command is not command:
                raise SettingsError(
                    f"{_where(path, phrase_node)}: {phrase!r} already means "
                    f"{clash.command.value}")
            table[phrase] = command
        return table
    value = _scalar(path, key, node)
    if key == "rate":
        if isinstance(value, bool) or not isinstance(value, int) or not 80 <= value <= 400:
            raise SettingsError(f"{where}: rate is words per minute, a whole number 80 to 400")
        return value
    if key == "music_volume":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise SettingsError(f"{where}: music_volume is a number from 0 to 1")
        return float(value)
    if key == "music_duck":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 40:
            raise SettingsError(f"{where}: music_duck is how many dB the music drops while "
                                "the assistant speaks, 0 to 40")
        return float(value)
    if key == "volume":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise SettingsError(f"{where}: volume is a number from 0 to 1")
        return float(value)
    if key == "pause_limit":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise SettingsError(f"{where}: pause_limit is a duration such as 30m or 1h")
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise SettingsError(f"{where}: pause_limit: {exc}") from None
        if not 10 <= seconds <= 24 * 3600:
            raise SettingsError(f"{where}: pause_limit must be from 10s to 24h")
        return seconds
    if value is None or isinstance(value, list | dict):
        raise SettingsError(f"{where}: {key} must be text")
    if key in ("model", "music"):
        return Path(str(value)).expanduser()
    if key == "engine":
        from assistant.ear.engines import REGISTRY

        if str(value) not in REGISTRY:
            raise SettingsError(f"{where}: unknown engine {value!r}; choose one of "
                                f"{', '.join(REGISTRY)}")
    return str(value)
