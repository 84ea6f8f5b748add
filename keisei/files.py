"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every file keisei rewrites in place (checkpoints, ratings.json, match JSON, figures,
summaries) goes through ``atomic_write`` (game records, written by cshogi to a file name,
through ``atomic_paths``): the bytes go to a temporary file in the same
directory (``.<name>.<random>.tmp``), which is fsynced and renamed over the target, and
the directory is fsynced so that the rename survives a power cut.

Every output path a command takes (a file or a directory) is checked before any work
starts, by ``check_new_file`` or ``check_output_dir``: nothing is overwritten, and a path
that cannot be created is refused in one line (a ``UsageError``, exit 2) instead of failing
after the work. Names chosen for the user (by the time) are made fresh by ``fresh_dir`` and
``fresh_files``: ``-2``, ``-3``, ... when taken. This module imports nothing from keisei
but ``keisei.errors``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from keisei.errors import UsageError


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


@contextlib.contextmanager
def atomic_paths(paths: Sequence[Path]) -> Iterator[list[Path]]:
    """Temporary paths (``.<name>.<random>.tmp``) beside ``paths``, for writers that take a
    file name (cshogi's exporters): when the block ends they are fsynced and renamed over
    ``paths``, all or none; when the block or a rename fails, the temporary files and the
    paths already renamed are removed (``paths`` are new files, never an old one's name)."""
    temps: list[Path] = []
    done: list[Path] = []
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            temps.append(Path(name))
        yield list(temps)
        for tmp in temps:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        for tmp, path in zip(temps, paths, strict=True):
            os.replace(tmp, path)
            done.append(path)
    except BaseException:
        for path in [*temps, *done]:
            path.unlink(missing_ok=True)
        raise
    for directory in dict.fromkeys(p.parent for p in paths):
        _fsync_dir(directory)


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> Path:
    """Indented JSON with a final newline."""
    return atomic_write_text(path, json.dumps(data, indent=2) + "\n")


# -- output paths, checked before the work -----------------------------------------------
def _blocker(path: Path) -> Path | None:
    """The nearest ancestor of ``path`` that exists but is not a directory, if any."""
    return next((p for p in path.parents if p.exists() and not p.is_dir()), None)


def _try_create(directory: Path, what: str, kind: str = "files") -> None:
    """Create and remove a temporary file (or directory) in ``directory``: this process can
    write there, not only no file is in the way (``/proc``, a read-only mount, no
    permission)."""
    try:
        if kind == "files":
            fd, name = tempfile.mkstemp(prefix=".keisei-check.", suffix=".tmp", dir=directory)
            os.close(fd)
            os.unlink(name)
        else:
            os.rmdir(tempfile.mkdtemp(prefix=".keisei-check.", suffix=".tmp", dir=directory))
    except OSError as exc:
        raise UsageError(
            f"{what}: cannot create {kind} in {directory} ({exc.strerror or exc})"
        ) from None


def check_new_file(path: Path, flag: str, *, parents: bool = False) -> None:
    """Refuse an output file that exists (nothing is overwritten), or that cannot be
    created: its directory does not exist (``parents``: cannot be created), is not a
    directory, or refuses a new file."""
    what = f"{flag} {path}"
    if path.exists() or path.is_symlink():
        raise UsageError(f"{what} already exists; choose a new file (nothing is overwritten)")
    directory = path.parent
    if parents and not directory.exists():
        check_output_dir(directory, f"{what}: directory")
        return
    if not directory.is_dir():
        blocker = _blocker(path)
        if blocker is not None:
            raise UsageError(f"{what}: {blocker} is not a directory")
        raise UsageError(f"{what}: {directory} does not exist")
    _try_create(directory, what)


def check_output_dir(path: Path, flag: str, *, new: bool = False) -> None:
    """Refuse an output directory that cannot be created or written: it or a parent is a
    file, or this process cannot create entries there. ``new``: refuse one that already
    holds anything too (its files would be overwritten)."""
    what = f"{flag} {path}"
    if path.exists() and not path.is_dir():
        raise UsageError(f"{what} exists and is not a directory")
    blocker = _blocker(path)
    if blocker is not None:
        raise UsageError(f"{what}: {blocker} is a file, not a directory")
    if path.is_dir():
        if new and any(path.iterdir()):
            raise UsageError(
                f"{what} is not empty; choose a new directory (nothing is overwritten)"
            )
        _try_create(path, what)
        return
    # The nearest existing ancestor: the directories up to ``path`` are made in it.
    existing = next((p for p in path.parents if p.is_dir()), path.parents[-1])
    _try_create(existing, what, "directories")


def _fresh(path: Path, take: Callable[[Path], None]) -> Path:
    """``path``, or ``path-2``, ``path-3``, ... : the first that ``take`` claims (it raises
    FileExistsError for a name in use)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        candidate = path if n == 1 else path.with_name(f"{path.name}-{n}")
        try:
            take(candidate)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"{path} and 9,998 others like it exist")


def fresh_dir(path: Path) -> Path:
    """Create and return a new directory ``path``, or ``path-2``, ``path-3``, ... when that
    exists (a name chosen for the user, e.g. by the time, that another run took)."""
    return _fresh(path, lambda candidate: candidate.mkdir())


def fresh_files(path: Path, suffixes: Sequence[str]) -> Path:
    """A new name for the files ``path`` + each of ``suffixes`` (a game's ``.csa``, ``.kif``
    and ``.usi``), ``path-2``, ``path-3``, ... when one of them exists; the first suffix's
    file is created, empty, so that no other process takes the same name."""

    def take(candidate: Path) -> None:
        first, *others = (candidate.with_name(candidate.name + s) for s in suffixes)
        first.touch(exist_ok=False)
        if any(other.exists() or other.is_symlink() for other in others):
            first.unlink()
            raise FileExistsError(candidate)

    return _fresh(path, take)
