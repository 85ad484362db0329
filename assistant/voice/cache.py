"""Rendered speech kept on disk, keyed by voice and text: a slow voice renders each sentence
once, and a session whose sentences are all there starts at once.

One `.npy` file (float32 mono PCM at the project's rate) per sentence, in the user's cache
folder (`speech/<voice>/`); written whole to a temporary name and renamed, so a file that
exists is complete. A file that cannot be read is rendered again; nothing there needs keeping.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np


class DiskCache:
    """PCM by key in `folder`; every failure to read or write is a miss, never an error
    (the cache only saves time)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self.folder / f"{digest[:40]}.npy"

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    def get(self, key: str) -> np.ndarray | None:
        try:
            pcm = np.load(self.path(key), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        if pcm.dtype != np.float32 or pcm.ndim != 1:
            return None
        return pcm

    def put(self, key: str, pcm: np.ndarray) -> None:
        path = self.path(key)
        partial = path.with_name(f"{path.stem}.{os.getpid()}.partial")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(partial, "wb") as f:
                np.save(f, np.ascontiguousarray(pcm, dtype=np.float32), allow_pickle=False)
            os.replace(partial, path)
        except OSError:
            partial.unlink(missing_ok=True)
