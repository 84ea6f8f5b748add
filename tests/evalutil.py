"""Helpers shared by the evaluation tests: engines on this machine, tiny checkpoints."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from keisei.config import ModelSection, TrainConfig
from keisei.rl.network import ActorCritic
from keisei.training.checkpoint import checkpoint_header, write_checkpoint
from keisei.training.rundir import RunDir
from keisei.training.state import TrainState


def fairy_stockfish() -> str:
    """The Fairy-Stockfish binary (scripts/test installs the Debian package when absent)."""
    path = shutil.which("fairy-stockfish") or "/usr/games/fairy-stockfish"
    if not Path(path).exists():
        raise AssertionError(
            "fairy-stockfish is not installed: run scripts/test, which installs the Debian "
            "package fairy-stockfish, or apt-get install fairy-stockfish"
        )
    return path


def tiny_model(seed: int = 0, blocks: int = 1, channels: int = 8) -> ActorCritic:
    torch.manual_seed(seed)
    return ActorCritic(ModelSection(blocks=blocks, channels=channels))


def save_tiny_checkpoint(run_dir: Path, step: int, model: ActorCritic | None = None) -> Path:
    """A weights-only checkpoint (the header and counters at ``step``, as ``keisei pretrain``
    writes one) where the trainer writes ``step``'s; ``model``: a tiny one seeded ``step``."""
    model = model if model is not None else tiny_model(step)
    config = TrainConfig(model=model.config)
    state = TrainState(global_step=step).to_dict()
    payload = {**checkpoint_header(config, "running", model.state_dict()), "state": state}
    return write_checkpoint(RunDir(run_dir).step_checkpoint(step), payload)
