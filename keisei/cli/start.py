"""Ctrl-C while keisei starts: one line, exit 130. Standard library only.

Importing the command line (torch, cshogi) takes seconds, and a KeyboardInterrupt raised
inside an import can come out as another error (e.g. cshogi's ImportError) with a
traceback. So the entry point (``keisei.__main__``) makes SIGINT exit at once before it
imports ``keisei.cli.main`` (nothing has been created yet), and ``keisei.cli.main`` hands
SIGINT back once the arguments are read. This module imports nothing of keisei, so both
can use it before anything heavy is loaded.
"""

from __future__ import annotations

import os
import signal
from types import FrameType


def interrupted_at_startup(_signum: int, _frame: FrameType | None) -> None:
    os.write(2, b"keisei: interrupted\n")
    os._exit(130)


def exit_at_once_on_sigint() -> bool:
    """Make SIGINT end the process at once (``interrupted_at_startup``); return whether it
    does. Only where SIGINT has Python's default handler or this one already (not where it
    is ignored, as for a background job, nor where a caller installed its own), and only in
    the main thread."""
    if signal.getsignal(signal.SIGINT) not in (signal.default_int_handler, interrupted_at_startup):
        return False
    try:
        signal.signal(signal.SIGINT, interrupted_at_startup)
    except ValueError:  # not the main thread
        return False
    return True
