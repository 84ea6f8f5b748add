"""``keisei train --nproc N``: start N ranks on this machine through torch's own launcher.

This is ``torchrun --standalone --nproc-per-node N -m keisei train ...`` called as a
function (``torch.distributed.launcher.elastic_launch``): a local rendezvous on a free
port, one process per rank in its own session, failures and signals handled by torch's
elastic agent. A signal to the launcher (Ctrl-C) is passed to every rank, which stop at
the same safe point; the agent waits for them, then kills what is left.

What a rank does at its start is ``keisei.training.ranks``.
"""

from __future__ import annotations

import logging
import signal
import sys
import uuid
from collections.abc import Sequence

from torch.distributed.elastic.multiprocessing import SignalException
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

# Seconds the agent waits for the ranks to stop (and rank 0 to write its checkpoint)
# after passing a signal on, before it kills them.
SHUTDOWN_TIMEOUT_S = 60
# Exit codes all ranks end with together: bad input (2) and a stop for SIGHUP, SIGINT or
# SIGTERM (128 + the signal), after the one checkpoint.
AGREED_EXITS = frozenset({2, 129, 130, 143})


def _describe(exitcode: int) -> str:
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


class _FirstFailure(logging.Filter):
    """Drops the agent's own report of the first failed rank (``failed (exitcode: -9)
    local_rank: 1 ...``): ``launch`` names it, once, in keisei's words."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("failed (exitcode:")


_AGENT_PROCESSES = "torch.distributed.elastic.multiprocessing.api"


def quiet_agent_logs() -> None:
    """The agent's own progress lines are for torchrun's users; keep its errors, less the
    first failure ``launch`` names itself. Once per process, however often it is called."""
    logging.getLogger("torch.distributed.elastic").setLevel(logging.ERROR)
    processes = logging.getLogger(_AGENT_PROCESSES)
    if not any(isinstance(f, _FirstFailure) for f in processes.filters):
        processes.addFilter(_FirstFailure())


def launch(argv: Sequence[str], nproc: int, max_restarts: int = 0) -> int:
    """Run ``python -m keisei <argv>`` as ``nproc`` ranks; the run's exit code.

    Bad input (2) and a stop for a signal (129, 130, 143), which all ranks agree on, give
    their code. Otherwise the first rank to fail is named on stderr and the code is 1.
    """
    quiet_agent_logs()
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=str(uuid.uuid4()),
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",
        max_restarts=max_restarts,
        monitor_interval=0.1,  # seconds between the agent's looks at the ranks
        # No start_method: the ranks are a command (python -m keisei), which torch starts as
        # subprocesses whatever the method.
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
    )
    try:
        elastic_launch(config, sys.executable)("-u", "-m", "keisei", *argv)
    except SignalException as exc:
        # The agent passed the signal on and waited for the ranks (their checkpoint).
        return 128 + int(exc.sigval)
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        # Codes every rank ends with by agreement: bad input, or a stop for a signal.
        if failure.exitcode in AGREED_EXITS:
            return failure.exitcode
        print(
            f"keisei train: rank {rank} of {nproc} {_describe(failure.exitcode)}; the other "
            f"ranks were stopped (the run directory keeps its newest checkpoint)",
            file=sys.stderr,
        )
        return 1
    return 0
