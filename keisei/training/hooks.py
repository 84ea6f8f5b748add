"""Periodic work run by the training loop (checkpointing, evaluation, ...).

A hook is any object with ``name``, ``every_steps`` and ``run(ctx)``. The loop calls it at
the first update boundary at or after each multiple of ``every_steps``, with a
``HookContext``: what the hook may read (state, model, config) and what it may do (emit
events, log, save checkpoints). Hooks must not touch the trainer's random generators:
resume is bit-exact only if they don't.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from torch import nn

from keisei.training.state import TrainState


@dataclass
class HookContext:
    state: TrainState
    run_dir: Path
    model: nn.Module
    config: Any  # keisei.config.TrainConfig
    emit: Callable[..., Any]  # emit(kind: str, **fields): one event to every sink
    checkpoint_dir: Path
    info: Callable[[str], None]  # one line to the log
    save_checkpoint: Callable[[str], Path]  # save_checkpoint(status): step_<N>.pt, pruned
    save_best: Callable[[], Path]  # overwrite best.pt with the current state


class Hook(Protocol):
    name: str
    every_steps: int

    def run(self, ctx: HookContext) -> None: ...


def due(hook: Hook, step_before: int, step_after: int) -> bool:
    """Whether a multiple of ``hook.every_steps`` lies in (step_before, step_after]."""
    if hook.every_steps <= 0:
        return False
    return step_after // hook.every_steps > step_before // hook.every_steps


class CheckpointHook:
    """Writes a checkpoint every ``every_steps`` (the store keeps the last K)."""

    name = "checkpoint"

    def __init__(self, every_steps: int) -> None:
        self.every_steps = every_steps

    def run(self, ctx: HookContext) -> None:
        ctx.save_checkpoint("running")
