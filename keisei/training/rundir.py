"""A run directory's owner, and which of its files belong to the line of training that goes on.

Lock. ``keisei train`` holds ``RUN/train.lock`` (``fcntl.flock``, exclusive) from before it
writes anything in the run directory until it exits; a second ``keisei train`` on the same
directory is refused. The kernel drops the lock when its process ends, however it ends
(kill -9 included), so a stale lock cannot block the next run. While held, the file names
its owner (one JSON line: pid, host, start time) for the refusal message; it is emptied on
a clean exit.

Lines. A checkpoint at step S is a point on a line of training. When a run goes on from S
while the directory holds things from after S (a killed run's last events, or a whole
later stretch when resuming from ``best.pt`` or an older ``step_*.pt``), those belong to
another line: ``set_aside`` moves them into ``RUN/superseded/<UTC time>/`` (same relative
paths), so that ``checkpoints/``, ``events.jsonl`` and ``games/`` describe exactly the
line being continued, and ``--resume latest`` continues it.

Pruning. ``prune`` keeps the newest ``keep_last`` periodic checkpoints (steps that are
multiples of ``checkpoint.every_steps``) and any other checkpoint (interrupted, failed,
finished) only while it is newer than all of them: the periodic checkpoints of an
interrupted and resumed run are those of an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import socket
from pathlib import Path

from keisei.errors import UsageError
from keisei.training.checkpoint import (
    BEST_NAME,
    list_checkpoints,
    read_checkpoint,
    step_of,
)
from keisei.training.sinks import EVENTS_FILE, events_past

LOCK_NAME = "train.lock"
SUPERSEDED = "superseded"
_EPISODE_RECORD = re.compile(r"^episode_(\d+)\.")
_EVALUATION_DIR = re.compile(r"^step_(\d+)$")


def _owner(path: Path) -> str:
    try:
        owner = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {owner['pid']} on {owner['host']}, started {owner['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that is starting up"


def _busy(run_dir: Path) -> UsageError:
    return UsageError(
        f"run directory {run_dir} is in use by another keisei train "
        f"({_owner(run_dir / LOCK_NAME)}); wait for it to end or stop it, "
        f"or choose another --run-dir"
    )


def check_free(run_dir: Path) -> None:
    """Refuse (``UsageError``) if a live process holds the run directory; creates nothing."""
    try:
        fd = os.open(run_dir / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
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

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd: int | None = fd

    @classmethod
    def acquire(cls, run_dir: Path) -> RunLock:
        """Take the lock (creating ``RUN/`` and ``RUN/train.lock``), or refuse at once."""
        path = run_dir / LOCK_NAME
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
        return cls(path, fd)

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
        os.close(self.fd)  # the kernel drops the lock with the last descriptor
        self.fd = None


def prune(directory: Path, keep_last: int, every_steps: int) -> list[Path]:
    """Delete the step checkpoints the rule above does not keep; returns what was removed."""
    files = list_checkpoints(directory)
    periodic = [p for p in files if step_of(p) % every_steps == 0]
    newest_periodic = step_of(periodic[-1]) if periodic else -1
    keep = set(periodic[-keep_last:]) if keep_last > 0 else set()
    keep |= {p for p in files if p not in periodic and step_of(p) > newest_periodic}
    keep |= set(files[-1:])  # the newest is never removed
    doomed = [p for p in files if p not in keep]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def aside_dir(run_dir: Path) -> Path:
    """A new ``RUN/superseded/<UTC time>`` path (not created)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = run_dir / SUPERSEDED / stamp
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{stamp}-{n}")
    return path


class _Aside:
    """Moves files to ``<dir>/<same path relative to the run directory>``."""

    def __init__(self, run_dir: Path, directory: Path) -> None:
        self.run_dir = run_dir
        self.dir = directory

    def target(self, path: Path) -> Path:
        dest = self.dir / path.relative_to(self.run_dir)
        dest.parent.mkdir(parents=True, exist_ok=True)
        return dest

    def move(self, path: Path) -> None:
        os.replace(path, self.target(path))


def set_aside(run_dir: Path, step: int, episodes: int, directory: Path) -> list[str]:
    """Move what ``run_dir`` holds from after ``step`` (and episode ``episodes``) aside.

    ``step`` is the step of the checkpoint the run continues from (-1 for a fresh start);
    ``directory`` (from ``aside_dir``) is created only if something is moved. Returns one
    phrase per kind of thing moved, for the log.
    """
    aside = _Aside(run_dir, directory)
    said: list[str] = []
    ckpt_dir = run_dir / "checkpoints"
    later = [p for p in list_checkpoints(ckpt_dir) if step_of(p) > step]
    best = ckpt_dir / BEST_NAME
    if best.is_file():
        try:
            best_step = int(read_checkpoint(best)["state"]["global_step"])
        except Exception:  # unreadable (CheckpointError) or foreign: not ours to judge
            best_step = -1
        if best_step > step:
            later.append(best)
    for path in later:
        aside.move(path)
    if later:
        said.append("checkpoints " + ", ".join(p.name for p in later))
    events = run_dir / EVENTS_FILE
    if events.is_file():
        offset = events_past(events, step)
        with open(events, "rb") as f:
            f.seek(offset)
            tail = f.read()
        if tail:
            dest = aside.target(events)
            with open(dest, "wb") as f:
                f.write(tail)
                f.flush()
                os.fsync(f.fileno())
            os.truncate(events, offset)
            lines = len(tail.splitlines())
            said.append(f"{lines} lines of {EVENTS_FILE}")
    games = run_dir / "games"
    if games.is_dir():
        records = [
            p
            for p in sorted(games.iterdir())
            if (m := _EPISODE_RECORD.match(p.name)) and int(m.group(1)) > episodes
        ]
        for path in records:
            aside.move(path)
        if records:
            said.append(f"{len(records)} files of games/")
    evaluations = run_dir / "evaluations"
    if evaluations.is_dir():
        dirs = [
            p
            for p in sorted(evaluations.iterdir())
            if (m := _EVALUATION_DIR.match(p.name)) and int(m.group(1)) > step
        ]
        for path in dirs:
            aside.move(path)
        if dirs:
            said.append("evaluations/" + ", evaluations/".join(p.name for p in dirs))
    return said
