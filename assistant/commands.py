"""The one command vocabulary shared by speech, keyboard, scripted tests and the event log."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum


class Command(str, Enum):
    """Everything a person can ask for. The value is the name used in the event log."""

    PAUSE = "pause"
    RESUME = "resume"
    NEXT = "next"
    BACK = "back"
    REPEAT = "repeat"
    SKIP = "skip"
    SLOWER = "slower"
    FASTER = "faster"
    STATUS = "status"
    HELP = "help"
    END = "end"
    LOUDER = "louder"
    QUIETER = "quieter"
    PAIN = "pain"
    YES = "yes"
    NO = "no"
    NUMBER = "number"


@dataclass(frozen=True)
class Intent:
    """A parsed utterance: a command, and for NUMBER the value 0..10."""

    command: Command
    value: int | None = None


_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
NUMBER_WORDS: Mapping[str, int] = {word: number for number, word in enumerate(_NUMBERS)}

#: Built-in phrases, by command. Every phrase is a whole utterance: a command word inside a
#: longer sentence is not a command.
_SAID: Mapping[Command, tuple[str, ...]] = {
    Command.PAUSE: ("pause", "wait", "stop"),
    Command.RESUME: ("resume", "continue", "go"),
    Command.NEXT: ("next", "next exercise"),
    Command.BACK: ("go back", "previous"),
    Command.REPEAT: ("repeat", "say again"),
    Command.SKIP: ("skip",),
    Command.SLOWER: ("slower", "slow down"),
    Command.FASTER: ("faster", "speed up"),
    Command.STATUS: ("how many left",),
    Command.HELP: ("help",),
    Command.END: ("end workout",),
    Command.LOUDER: ("louder",),
    Command.QUIETER: ("quieter",),
    Command.PAIN: ("it hurts", "pain"),
    Command.YES: ("yes",),
    Command.NO: ("no",),
}
PHRASES: Mapping[str, Command] = {
    phrase: command for command, phrases in _SAID.items() for phrase in phrases
}

#: Keyboard keys, for use with no microphone. Space toggles pause/resume (see `key_intent`).
KEYS: Mapping[str, Command] = {
    "p": Command.PAUSE,
    "c": Command.RESUME,
    "n": Command.NEXT,
    "b": Command.BACK,
    "r": Command.REPEAT,
    "s": Command.SKIP,
    "-": Command.SLOWER,
    "+": Command.FASTER,
    "=": Command.FASTER,
    "?": Command.STATUS,
    "h": Command.HELP,
    "q": Command.END,
    "y": Command.YES,
    "x": Command.NO,
    "]": Command.LOUDER,
    "[": Command.QUIETER,
    "o": Command.PAIN,  # "ouch": the safety stop, for anyone with no microphone
}

_WORD = re.compile(r"[a-z0-9']+")


def normalize(text: str) -> str:
    """Lower-case words only, single spaces: the form phrases are compared in."""
    return " ".join(_WORD.findall(text.lower()))


class Vocabulary:
    """The phrases the assistant understands: the built-ins plus a user's synonyms."""

    def __init__(self, synonyms: Mapping[str, Command] | None = None) -> None:
        table: dict[str, Intent] = {p: Intent(c) for p, c in PHRASES.items()}
        for word, value in NUMBER_WORDS.items():
            table[word] = Intent(Command.NUMBER, value)
        for phrase, command in (synonyms or {}).items():
            table[normalize(phrase)] = Intent(command)
        self._table = table

    @property
    def phrases(self) -> Mapping[str, Intent]:
        return dict(self._table)

    def parse(self, text: str) -> Intent | None:
        """The intent of a whole utterance, or None when it is not exactly a known phrase."""
        words = normalize(text)
        if words.isdigit() and 0 <= int(words) <= 10:
            return Intent(Command.NUMBER, int(words))
        return self._table.get(words)

    def phrases_for(self, command: Command) -> list[str]:
        return [p for p, i in self._table.items() if i.command is command]


DEFAULT_VOCABULARY = Vocabulary()


def parse_command_name(name: str) -> Command | None:
    """A command from its log name ("pause", "next", ...), or None."""
    try:
        return Command(name.strip().lower())
    except ValueError:
        return None
