"""Helpers shared by the evaluation tests: engines on this machine, tiny checkpoints."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from keisei.config import ModelConfig
from keisei.rl.network import ActorCritic
from keisei.training.checkpoint import write_checkpoint


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
    return ActorCritic(ModelConfig(blocks=blocks, channels=channels))


def save_tiny_checkpoint(run_dir: Path, step: int, model: ActorCritic | None = None) -> Path:
    """A checkpoint in ``run_dir/checkpoints`` named as the trainer names them."""
    model = model if model is not None else tiny_model(step)
    payload = {
        "config": {"model": model.config.model_dump(mode="json")},
        "model": model.state_dict(),
        "state": {"global_step": step},
    }
    return write_checkpoint(run_dir / "checkpoints" / f"step_{step:010d}.pt", payload)
