"""Where the assistant keeps a user's files, following each platform's conventions.

Linux (XDG; the environment variables are read on every call, so tests and users can
point them elsewhere):

- data:     ``$XDG_DATA_HOME/exercise-assistant``   (default ``~/.local/share/...``)
- config:   ``$XDG_CONFIG_HOME/exercise-assistant`` (default ``~/.config/...``)
- cache:    ``$XDG_CACHE_HOME/exercise-assistant``  (default ``~/.cache/...``): speech
  rendered to files on its way to memory (``tts/``), removed as soon as it is read
- journal:  ``<data>/journal.sqlite3``
- routines: ``<data>/routines``
- settings: ``<config>/settings.yaml``

macOS uses ``~/Library/Application Support/exercise-assistant`` for data and
config alike; Windows uses ``%LOCALAPPDATA%\\exercise-assistant``.

Routines live in the *data* directory on every platform: they are documents the user (or
a physiotherapist) writes, shares and backs up, like the journal, not preferences that
change how the program behaves. Settings are preferences, so they go to the config
directory. Every function creates its directory on demand (never the file itself).
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "exercise-assistant"


def data_dir() -> Path:
    """The user's data directory for the assistant (journal, routines), created if missing."""
    return platformdirs.user_data_path(APP_NAME, appauthor=False, ensure_exists=True)


def config_dir() -> Path:
    """The user's configuration directory for the assistant (settings), created if missing."""
    return platformdirs.user_config_path(APP_NAME, appauthor=False, ensure_exists=True)


def cache_dir() -> Path:
    """The user's cache directory for the assistant (nothing there needs keeping), created
    if missing."""
    return platformdirs.user_cache_path(APP_NAME, appauthor=False, ensure_exists=True)


def routines_dir() -> Path:
    """Where the user's own routine files live (in the data directory), created if missing."""
    folder = data_dir() / "routines"
    folder.mkdir(exist_ok=True)
    return folder


def journal_path() -> Path:
    """The SQLite journal of sessions. Its directory exists; the file may not yet."""
    return data_dir() / "journal.sqlite3"


def settings_path() -> Path:
    """The settings file. Its directory exists; the file may not yet."""
    return config_dir() / "settings.yaml"
