"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every file keisei rewrites in place (checkpoints, ratings.json, match JSON, figures,
summaries) goes through ``atomic_write``: the bytes go to a temporary file in the same
directory (``.<name>.<random>.tmp``), which is fsynced and renamed over the target, and
the directory is fsynced so that the rename survives a power cut. This module imports
nothing from keisei.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes | Iterable[bytes]) -> Path:
    """Replace ``path`` with ``data`` (bytes, or chunks of bytes written in order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in [data] if isinstance(data, bytes) else data:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> Path:
    """Indented JSON with a final newline."""
    return atomic_write_text(path, json.dumps(data, indent=2) + "\n")
