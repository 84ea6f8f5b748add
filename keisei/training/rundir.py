"""A run directory: where each of its files is (``RunDir``), and who owns it (``RunLock``).

Layout. ``RUN/checkpoints/step_<step, 10 digits>.pt`` and ``best.pt``, ``config.yaml``,
``events.jsonl``, ``train.log``, ``ratings.json``, ``games/``, ``evaluations/step_<N>/``,
``superseded/`` and ``train.lock``: ``RunDir`` names them all, and the run a checkpoint
belongs to (``RunDir.of``).

Lock. ``keisei train`` holds ``RUN/train.lock`` (``fcntl.flock``, exclusive) from before it
writes anything in the run directory until it exits; a second ``keisei train`` on the same
directory is refused. The kernel drops the lock when its process ends, however it ends
(kill -9 included), so a stale lock cannot block the next run. While held, the file names
its owner (one JSON line: pid, host, start time) for the refusal message; it is emptied on
a clean exit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from keisei.errors import UsageError
from keisei.training.sinks import EVENTS_FILE

LOCK_NAME = "train.lock"
SUPERSEDED = "superseded"
BEST_NAME = "best.pt"
RATINGS_FILE = "ratings.json"
CHECKPOINTS = "checkpoints"
STEP_FILE = re.compile(r"^step_(\d+)\.pt$")


class _Entry:
    """A path inside the run directory, read as an attribute of a ``RunDir``."""

    def __init__(self, *parts: str) -> None:
        self.parts = parts

    def __get__(self, run: RunDir, owner: type[RunDir] | None = None) -> Path:
        return run.path.joinpath(*self.parts)


@dataclass(frozen=True)
class RunDir:
    """The paths of one run directory (nothing is created or read)."""

    path: Path

    checkpoints = _Entry(CHECKPOINTS)
    best = _Entry(CHECKPOINTS, BEST_NAME)
    config = _Entry("config.yaml")
    events = _Entry(EVENTS_FILE)
    log = _Entry("train.log")
    ratings = _Entry(RATINGS_FILE)
    games = _Entry("games")
    evaluations = _Entry("evaluations")
    lock = _Entry(LOCK_NAME)
    superseded = _Entry(SUPERSEDED)

    @classmethod
    def of(cls, checkpoint: Path) -> RunDir:
        """The run a checkpoint file belongs to: ``RUN`` of ``RUN/checkpoints/x.pt``, else the
        file's own directory (an exported or copied checkpoint)."""
        parent = checkpoint.parent
        return cls(parent.parent if cls.holds(checkpoint) else parent)

    @staticmethod
    def holds(checkpoint: Path) -> bool:
        """Whether ``checkpoint`` is in a run directory's ``checkpoints/``."""
        return checkpoint.parent.name == CHECKPOINTS

    def step_checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"step_{step:010d}.pt"

    def evaluation(self, step: int) -> Path:
        """Where the games of the evaluation at ``step`` are recorded."""
        return self.evaluations / f"step_{step}"


def _owner(path: Path) -> str:
    try:
        owner = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {owner['pid']} on {owner['host']}, started {owner['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that is starting up"


def _busy(run_dir: Path) -> UsageError:
    return UsageError(
        f"run directory {run_dir} is in use by another keisei train "
        f"({_owner(RunDir(run_dir).lock)}); wait for it to end or stop it, "
        f"or choose another --run-dir"
    )


def check_free(run_dir: Path) -> None:
    """Refuse (``UsageError``) if a live process holds the run directory; creates nothing."""
    try:
        fd = os.open(RunDir(run_dir).lock, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # no lock file (or no directory): nobody holds it
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _busy(run_dir) from None
    finally:
        os.close(fd)  # also drops the shared lock just taken


class RunLock:
    """The exclusive lock of one run directory, held by this process until ``release``."""

    def __init__(self, fd: int) -> None:
        self.fd: int | None = fd

    @classmethod
    def acquire(cls, run_dir: Path) -> RunLock:
        """Take the lock (creating ``RUN/`` and ``RUN/train.lock``), or refuse at once."""
        path = RunDir(run_dir).lock
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise UsageError(f"cannot create {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _busy(run_dir) from None
        except OSError as exc:  # a file system without flock
            os.close(fd)
            raise UsageError(f"cannot lock {path}: {exc.strerror or exc}") from None
        except BaseException:
            os.close(fd)
            raise
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(owner) + "\n").encode(), 0)
        return cls(fd)

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
        os.close(self.fd)  # the kernel drops the lock with the last descriptor
        self.fd = None
