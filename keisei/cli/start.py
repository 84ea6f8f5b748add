"""The ``keisei`` entry point: Ctrl-C while keisei starts ends it with one line, exit 130.

Importing the subcommands (torch, cshogi) takes seconds, and a KeyboardInterrupt raised
inside an import can come out as another error (e.g. cshogi's ImportError) with a
traceback. So this module imports only the standard library, makes SIGINT exit at once
(nothing has been created yet), and only then imports the command line. ``keisei.cli.main``
hands SIGINT back once the arguments are read.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Sequence
from types import FrameType


def interrupted_at_startup(_signum: int, _frame: FrameType | None) -> None:
    os.write(2, b"keisei: interrupted\n")
    os._exit(130)


def main(argv: Sequence[str] | None = None) -> int:
    # Only where SIGINT has Python's default handler (not where it is ignored, as for a
    # background job, nor where a caller installed its own).
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(signal.SIGINT, interrupted_at_startup)
    # keisei's one function-local import: it must come after the handler above.
    from keisei.cli.main import main as run

    return run(argv)
