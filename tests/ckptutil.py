"""Checkpoint payloads built without training, from the tiny preset's real network: for the
unit-level tests of keisei/training/checkpoint.py and keisei/training/resume.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from keisei.config import TrainConfig
from keisei.rl.network import ActorCritic
from keisei.training.checkpoint import checkpoint_header, write_checkpoint

STATE = {
    "global_step": 64,
    "updates": 1,
    "episodes": 3,
    "black_wins": 1,
    "white_wins": 1,
    "draws": 1,
    "finished_plies": 40,
    "reasons": {"checkmate": 2, "max_plies": 1},
    "best_score": None,
}


def payload_of(config: TrainConfig, status: str = "running", **state: Any) -> dict[str, Any]:
    """A checkpoint payload of ``config``'s network (seeded weights) with ``STATE`` updated
    by ``state``."""
    torch.manual_seed(0)
    weights = ActorCritic(config.model).state_dict()
    return checkpoint_header(config, status, weights) | {"state": STATE | state}


def poison(tensor: torch.Tensor, value: float = float("nan")) -> None:
    """Set a tensor's first element in place (some of the network's are not contiguous)."""
    tensor[(0,) * tensor.dim()] = value


def step_path(directory: Path, step: int) -> Path:
    return directory / f"step_{step:010d}.pt"


def write_step(run_dir: Path, payload: dict[str, Any]) -> Path:
    """``payload`` as ``RUN/checkpoints/step_<its step>.pt``."""
    path = step_path(run_dir / "checkpoints", int(payload["state"]["global_step"]))
    return write_checkpoint(path, payload)
