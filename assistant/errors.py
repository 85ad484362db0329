"""The small hierarchy of errors that the CLI turns into one clear line each."""

from __future__ import annotations


class AssistantError(Exception):
    """Anything a person can fix: a bad file, a bad setting, a missing device."""


class RoutineError(AssistantError):
    """One problem in a routine file, located at FILE:LINE:COL."""

    def __init__(self, path: str, line: int, col: int, message: str) -> None:
        super().__init__(f"{path}:{line}:{col}: {message}")
        self.path = path
        self.line = line
        self.col = col
        self.message = message


class RoutineErrors(AssistantError):
    """Every problem found in one routine file (validation reports them all)."""

    def __init__(self, errors: list[RoutineError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


class ScriptErrors(AssistantError):
    """Every bad line of a --commands file, each "FILE:LINE: message"."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class SettingsError(AssistantError):
    """Problems in the settings file: every one found, each a line "FILE:LINE:COL: ..."."""

    def __init__(self, message: str = "", lines: list[str] | None = None) -> None:
        self.lines = lines if lines is not None else [message]
        super().__init__("\n".join(self.lines))


class DeviceError(AssistantError):
    """An audio device or speech engine that is missing or failed."""
