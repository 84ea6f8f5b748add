"""Several processes training one network with torch.distributed: what the ranks share.

A run of W processes (ranks) is the run of one process with all the games, split: each rank
steps ``env.num_games / W`` games with its own random streams and fills its own rollout;
the PPO update averages gradients over the ranks (DistributedDataParallel) and normalises
advantages with global statistics, so that every rank applies the same update and the
weights stay identical. Rank 0 alone writes to the run directory (events, logs, records,
TensorBoard/W&B, checkpoints) and runs evaluations; finished games travel to it.

``Collective`` is the one-process case, where every operation is the identity: the trainer
and the agent call the same methods whatever the world size, and one process is exactly
what it was before ranks existed. ``Distributed`` is the same interface over a process
group (gloo on the CPU; gloo for host objects and NCCL for gradients on CUDA).

docs/distributed.md has the launch commands, the checkpoint layout and the fault handling.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import torch
import torch.distributed as dist
from torch import nn
from torch._C._distributed_c10d import PrefixStore, TCPStore
from torch.nn.parallel import DistributedDataParallel

from keisei.game.env import GameResult

T = TypeVar("T")

# How long a rank waits in a collective for the others (evaluations on rank 0 included)
# before it gives up; a rank that dies is noticed sooner, by torch's launcher.
DEFAULT_TIMEOUT_S = 1800


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s games and sampling: ``seed`` itself for rank 0 (so one
    process is the run it always was), independent streams for the others."""
    if rank == 0:
        return seed
    return int(np.random.SeedSequence([seed, rank]).generate_state(1, np.uint32)[0])


def usable_cpus() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def launched_world() -> tuple[int, int, int] | None:
    """(rank, world size, local rank) when torch's launcher (torchrun, ``--nproc``) started
    this process, else None. A world of one under torchrun is a rank too: the whole
    distributed path on one device (docs/distributed.md)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        return None
    torchrun = "TORCHELASTIC_RUN_ID" in os.environ
    return (rank, world, local) if world > 1 or torchrun else None


def restart_count() -> int:
    """How many times torchrun has restarted this group (``--max-restarts``)."""
    try:
        return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    except ValueError:
        return 0


class Collective:
    """One process: rank 0 of a world of 1, every operation the identity."""

    rank = 0
    world_size = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def agree_stop(self, signum: int | None) -> int | None:
        """The signal every rank stops for, or None: the highest any rank had received by
        the last exchange of ``gather_games`` (SIGTERM wins over SIGINT), so that all
        ranks stop after the same step, at a rollout boundary. One process: ``signum``."""
        return signum

    def gather_games(
        self,
        finished: Sequence[GameResult | None],
        step: int,
        signum: int | None,
        boundary: bool,
    ) -> list[tuple[int, GameResult]]:
        """Finished games as ``(step, game)``, on rank 0, in the order one process would
        see them (by step, then rank, then game slot); every rank calls it after each
        environment step with the signal it has received (or None).

        One process: this step's games at once. Several: each rank keeps its games until
        the rollout is full (``boundary``), where one exchange brings them to rank 0 and
        tells every rank which signals any rank has received (``agree_stop``): one round
        trip per rollout instead of one per step.
        """
        return [(step, g) for g in finished if g is not None]

    def gather(self, obj: T) -> list[T] | None:
        """Every rank's ``obj`` on rank 0, in rank order; None on the others."""
        return [obj]

    def broadcast(self, obj: T) -> T:
        """Rank 0's ``obj`` on every rank."""
        return obj

    def scatter(self, objs: Sequence[T] | None) -> T:
        """``objs[r]`` (given on rank 0) on rank r."""
        assert objs is not None
        return objs[0]

    def sum(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The elementwise sum over ranks (float64)."""
        return values

    def mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """The elementwise mean over ranks."""
        return tensor

    def barrier(self) -> None:
        """Wait until every rank is here."""

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module the PPO update runs forward and backward through."""
        return model

    def close(self) -> None:
        pass


class Distributed(Collective):
    """A rank of a torch.distributed process group (already initialised)."""

    def __init__(self) -> None:
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.device = torch.device("cpu")  # this rank's; set once the config is known
        self._agreed: int | None = None
        self._pending: list[tuple[int, GameResult]] = []  # this rollout's finished games

    @classmethod
    def init(cls, timeout_s: float = DEFAULT_TIMEOUT_S) -> Distributed:
        """Join the group torchrun describes in the environment (MASTER_ADDR, RANK, ...)."""
        # Objects and small host tensors go through gloo; on CUDA, NCCL carries the
        # gradients (it starts only if a CUDA tensor is reduced).
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
        timeout = dt.timedelta(seconds=timeout_s)
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        # torchrun's agent hosts the store; after a restart (--max-restarts) the ranks
        # could otherwise read the dead ranks' addresses from it and fail to connect.
        agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
        store = TCPStore(
            os.environ["MASTER_ADDR"],
            int(os.environ["MASTER_PORT"]),
            world,
            is_master=not agent and rank == 0,
            timeout=timeout,
        )
        prefixed = PrefixStore(f"keisei/attempt_{restart_count()}", store)
        dist.init_process_group(
            backend, store=prefixed, rank=rank, world_size=world, timeout=timeout
        )
        return cls()

    def agree_stop(self, signum: int | None) -> int | None:
        # Agreed at the last rollout boundary (``gather_games``): no round trip here.
        return self._agreed

    def gather_games(
        self,
        finished: Sequence[GameResult | None],
        step: int,
        signum: int | None,
        boundary: bool,
    ) -> list[tuple[int, GameResult]]:
        self._pending += [(step, g) for g in finished if g is not None]
        if not boundary:
            return []
        mine, self._pending = self._pending, []
        everyone = self.gather((signum, mine))
        if everyone is None:  # not rank 0: told the agreed signal below
            self._agreed = self.broadcast(None)
            return []
        raised = [s for s, _games in everyone if s is not None]
        self._agreed = self.broadcast(max(raised) if raised else None)
        merged = [
            (step_, rank, i, game)
            for rank, (_s, games) in enumerate(everyone)
            for i, (step_, game) in enumerate(games)
        ]
        merged.sort(key=lambda item: item[:3])
        return [(step_, game) for step_, _rank, _i, game in merged]

    def gather(self, obj: T) -> list[T] | None:
        out: list[Any] | None = [None] * self.world_size if self.rank == 0 else None
        dist.gather_object(obj, out, dst=0)
        return out

    def broadcast(self, obj: T) -> T:
        box: list[Any] = [obj]
        dist.broadcast_object_list(box, src=0)
        value: T = box[0]
        return value

    def scatter(self, objs: Sequence[T] | None) -> T:
        box: list[Any] = [None]
        dist.scatter_object_list(box, list(objs) if self.rank == 0 and objs else None, src=0)
        value: T = box[0]
        return value

    def sum(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        t = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float64).copy())
        dist.all_reduce(t)
        out: npt.NDArray[np.float64] = t.numpy()
        return out

    def mean(self, tensor: torch.Tensor) -> torch.Tensor:
        # Host tensors through gloo; a CUDA tensor goes through NCCL on its device.
        t = tensor.clone()
        dist.all_reduce(t)
        return t / self.world_size

    def barrier(self) -> None:
        dist.barrier()

    def wrap(self, model: nn.Module) -> nn.Module:
        ids = [self.device.index] if self.device.type == "cuda" else None
        # A 1x1 convolution's weight gradient has strides that differ from the bucket's
        # only in size-1 dimensions (the same memory order); DDP warns at every backward.
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view")
        return DistributedDataParallel(model, device_ids=ids)

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()
