"""The ``keisei`` command: the console script (``keisei.__main__:main``) and ``python -m keisei``.

SIGINT exits at once (one line, 130) before the command line's imports load
(``keisei.cli.start``); ``keisei.cli.main`` hands it back once the arguments are read.
"""

import contextlib
import os
import sys

from keisei.cli.start import exit_at_once_on_sigint

exit_at_once_on_sigint()
# The command line (torch, cshogi) only now, after the handler: the point of this module.
from keisei.cli.main import main  # noqa: E402

__all__ = ["main"]

if __name__ == "__main__":
    code = main()
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        # A rank started by torch's launcher (`keisei train --nproc N`, torchrun), done: its
        # files are written and closed. Skip the interpreter's finalization, where gloo's
        # worker threads can abort the process (SIGABRT, "terminate called without an active
        # exception") after a run that ended well, turning its exit code into a failure.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    sys.exit(code)
