import contextlib
import os
import sys

from keisei.cli.start import main

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
