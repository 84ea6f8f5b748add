import contextlib
import os
import signal
import sys

from keisei.cli.start import main
from keisei.process import die_with_parent, mark_parent

# A rank started by torch's launcher (`keisei train --nproc N`, torchrun).
rank = "RANK" in os.environ and "WORLD_SIZE" in os.environ
if rank:
    # It ends with its launcher, even one killed by SIGKILL (the OOM killer, a scheduler):
    # killed too, it leaves the run directory as any kill -9 does (checkpoints are written
    # atomically, the lock goes with the process). Not SIGTERM: the kernel may send it
    # more than once, and a second one is "exit at once" to a rank.
    die_with_parent(signal.SIGKILL)
else:
    mark_parent()  # the ranks it may start check that it is their parent
code = main()
if rank:
    # Done: its files are written and closed. Skip the interpreter's finalization, where
    # gloo's worker threads can abort the process (SIGABRT, "terminate called without an
    # active exception") after a run that ended well, turning its exit code into a failure.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
sys.exit(code)
