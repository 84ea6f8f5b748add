"""The ``keisei`` command: the console script (``keisei.__main__:main``) and ``python -m keisei``.

SIGINT exits at once (one line, 130) before the command line's imports load
(``keisei.cli.start``); ``keisei.cli.main`` hands it back once the arguments are read.
"""

import contextlib
import os
import signal
import sys

from keisei.cli.start import exit_at_once_on_sigint
from keisei.process import die_with_parent, mark_parent

exit_at_once_on_sigint()
# A rank started by torch's launcher (`keisei train --nproc N`, torchrun).
RANK = "RANK" in os.environ and "WORLD_SIZE" in os.environ
if RANK:
    # It ends with its launcher, even one killed by SIGKILL (the OOM killer, a scheduler):
    # killed too, it leaves the run directory as any kill -9 does (checkpoints are written
    # atomically, the lock goes with the process). Not SIGTERM: the kernel may send it
    # more than once, and a second one is "exit at once" to a rank.
    die_with_parent(signal.SIGKILL)
else:
    mark_parent()  # the ranks it may start check that it is their parent
# The command line (torch, cshogi) only now, after the handler: the point of this module.
from keisei.cli.main import main as run_command_line  # noqa: E402


def main() -> int:
    """The console script's entry point; ``python -m keisei`` runs it too."""
    code = run_command_line()
    if RANK:
        # Done: its files are written and closed. Skip the interpreter's finalization, where
        # gloo's worker threads can abort the process (SIGABRT, "terminate called without an
        # active exception") after a run that ended well, turning its exit code into a failure.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
