"""Processes that end with the process that started them (Linux: ``PR_SET_PDEATHSIG``).

A rank of ``keisei train --nproc N`` and a USI engine keisei plays against are child
processes. If their parent is killed (``kill -9``, the OOM killer, a scheduler) they would
be re-parented and run on: ranks training and writing the run directory, holding its
lock; engines searching. ``die_with_parent`` asks the kernel to send a signal to the
calling process when its parent ends; ``child_dies_with_parent`` returns a ``preexec_fn``
for ``subprocess.Popen`` that does the same in a child before it runs its program (the
setting survives ``exec``). Elsewhere than on Linux both do nothing.

The kernel sends the signal when the parent *thread* that started the child ends, not the
whole process: start such children from a thread that lives as long as the process (the
main thread). This module imports nothing from keisei.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, cast

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# Set in every keisei process for the processes it starts: the pid they should have as
# their parent, to see whether it already ended before ``die_with_parent`` was called.
PARENT_ENV = "KEISEI_PARENT_PID"


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Any = ctypes.CDLL(None, use_errno=True).prctl  # libc, already loaded
    except (OSError, AttributeError):
        return None
    # int prctl(int option, unsigned long arg2, ..., unsigned long arg5)
    prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    prctl.restype = ctypes.c_int
    return cast(Callable[..., int], prctl)


# Loaded once, here: a child between fork and exec must not load libraries.
_prctl = _load_prctl()


def _set_pdeathsig(sig: int) -> bool:
    return _prctl is not None and _prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def die_with_parent(sig: signal.Signals = signal.SIGKILL) -> bool:
    """Have this process get ``sig`` when its parent ends; whether the kernel agreed.

    The parent may have ended before this call: then ``sig`` comes at once. The expected
    parent is the keisei process that named itself in ``PARENT_ENV`` (``mark_parent``;
    the variable is removed here, so that this process's children do not take it for
    theirs), else the current parent. The kernel may send ``sig`` more than once (each
    time the process is handed to another of the dead parent's threads): SIGKILL, or a
    signal whose handler does not count them.
    """
    named = os.environ.pop(PARENT_ENV, "")
    parent = int(named) if named.isdigit() else os.getppid()
    if not _set_pdeathsig(sig):
        return False
    if os.getppid() != parent:  # it ended before the kernel could watch it
        os.kill(os.getpid(), sig)
    return True


def child_dies_with_parent(sig: signal.Signals = signal.SIGKILL) -> Callable[[], None] | None:
    """A ``preexec_fn`` that gives the child ``sig`` when this process ends, or None (not
    Linux, or not the main thread, whose end would kill the child too early)."""
    if _prctl is None or threading.current_thread() is not threading.main_thread():
        return None
    parent = os.getpid()

    def preexec() -> None:
        # Between fork and exec: only the preloaded function, no imports, no locks.
        _set_pdeathsig(sig)
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return preexec


def mark_parent() -> None:
    """Name this process as the parent of the processes it starts (``PARENT_ENV``)."""
    os.environ[PARENT_ENV] = str(os.getpid())
