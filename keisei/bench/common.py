"""What every section of ``keisei bench`` shares: its options, the ``Section`` type, medians
and the config the model sections measure."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch

from keisei.config import TrainConfig
from keisei.training.build import device_for

Metrics = dict[str, Any]
Objects = dict[str, Metrics]  # JSON object name -> its figures
Results = dict[str, Any]  # every section's objects and the run's own keys (``suite.measure``)
Row = tuple[str, str]  # a table row: figure, measured


@dataclass(frozen=True)
class BenchOptions:
    """How long and how often to measure; ``keisei bench``'s options of the same names."""

    seconds: float = 6.0  # per section, split evenly over rounds and the two sides
    rounds: int = 3  # alternating rounds; medians are reported
    seed: int = 0
    games: int = 64  # env: games stepped as one batch
    max_plies: int = 512  # env: a game is restarted after this many plies
    threads: int = 1  # env: C++ threads stepping the games (env.threads)
    updates: int = 2  # train: PPO updates (with their rollouts) per measurement
    memory_updates: int = 3  # memory: updates the measured `keisei train` runs
    nproc: int = 2  # ranks: processes of the distributed layout

    @property
    def seconds_per_measurement(self) -> float:
        return self.seconds / (2 * self.rounds)


Measure = Callable[[BenchOptions, TrainConfig | None], Objects]
Rows = Callable[[Results], list[Row]]


@dataclass(frozen=True)
class Section:
    name: str
    help: str
    measure: Measure
    rows: Rows  # its lines of the table, from the results that hold its objects
    uses_config: bool  # measures the training config's model (``config`` must be given)


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def needs_config(config: TrainConfig | None, section: str) -> TrainConfig:
    if config is None:
        raise ValueError(f"the {section} section measures a training config; none was given")
    return config


def bench_config(config: TrainConfig) -> TrainConfig:
    """The config the model sections measure: ``config`` with bf16 autocast switched on
    where the run would use CUDA. Raises ``ConfigError`` for an unavailable device."""
    device = device_for(config)
    config = config.model_copy(deep=True)
    if device.type == "cuda":
        config.ppo.bf16 = True
    return config


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a wall-clock time includes it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
