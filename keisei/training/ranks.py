"""A run of several ranks: how many (``auto_world``), and each rank's start.

Rank 0 checks the input, holds the run directory's lock and reads the checkpoint; it
broadcasts an ``Opening`` (the config, or why the run ends at once) and scatters each rank
its own parts of the checkpoint (``open_ranks``). The other ranks need no run directory
(they may be on other hosts). ``keisei.training.launch`` starts the ranks.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import torch

from keisei.config import TrainConfig
from keisei.distributed import Collective, usable_cpus
from keisei.errors import UsageError
from keisei.training.build import device_for
from keisei.training.checkpoint import split_ranks


def auto_world(config: TrainConfig) -> int:
    """``--nproc auto`` / ``run.nproc: 0``: one rank per GPU on CUDA, else one per usable
    CPU core, lowered to the largest number that divides the games and the minibatch."""
    n = torch.cuda.device_count() if device_for(config).type == "cuda" else usable_cpus()
    while n > 1 and (config.env.num_games % n or config.ppo.minibatch_size % n):
        n -= 1
    return max(n, 1)


@dataclass(frozen=True)
class Opening:
    """Rank 0's word to every rank before a run of several starts."""

    kind: str  # "ok"; "done": nothing to do; "error": bad input (``message`` says which)
    message: str = ""
    config: TrainConfig | None = None
    shared: dict[str, Any] | None = None  # what all ranks share of the checkpoint; None: fresh
    init: dict[str, Any] | None = None  # --init's weights for a fresh start


def open_ranks(
    collective: Collective, opening: Opening | None, payload: dict[str, Any] | None = None
) -> tuple[Opening, dict[str, Any] | None]:
    """Every rank's start: rank 0 gives its ``opening`` and the checkpoint it resumes
    (``payload``), the others None. Each rank gets rank 0's opening and its own checkpoint
    (the shared part with its own ``RANK_KEYS``), or None for a fresh start."""
    pieces: list[dict[str, Any]] | None = None
    if opening is not None and opening.kind == "ok" and payload is not None:
        shared, pieces = split_ranks(payload)
        opening = dataclasses.replace(opening, shared=shared)
    said = collective.broadcast(opening)
    assert said is not None, "rank 0 gives the opening"
    if said.kind != "ok" or said.shared is None:
        return said, None
    return said, {**said.shared, **collective.scatter(pieces)}


def rank_device(config: TrainConfig, local_rank: int) -> torch.device:
    """A rank's device: its own GPU on CUDA (one rank per GPU); sets it as current."""
    device = device_for(config)
    if device.type != "cuda":
        return device
    if local_rank >= torch.cuda.device_count():
        raise UsageError(
            f"local rank {local_rank} has no GPU of its own ({torch.cuda.device_count()} "
            f"visible): start at most one rank per GPU"
        )
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


def share_cores(config: TrainConfig, world: int) -> None:
    """With ``run.torch_threads: 0``, give each rank of this host its share of the cores
    (torch's default would give each all of them)."""
    if config.run.torch_threads == 0:
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
        torch.set_num_threads(max(1, usable_cpus() // local_world))
