"""``keisei bench infer``: the compute bound of the configured model, built by
``keisei.training.build.build_trainer`` as ``keisei train`` builds it:

* inference: ``PPOAgent.infer`` (observations to tensor, network, autocast on CUDA) on
  batches of ``env.num_games`` real observations, the batch the trainer acts on:
  samples/s;
* update: ``PPOAgent.update`` on a full ``RolloutBuffer`` of the config's size
  (``num_games x steps_per_game`` real self-play transitions) with the config's epochs
  and minibatch size: rollout transitions per second of update (each transition is
  trained on ``epochs`` times; per-epoch samples/s are reported too);
* ``bound_steps_per_s = 1 / (1 / inference_samples_per_s + 1 / update_steps_per_s)``:
  the environment steps per second of a trainer that spent time only in the network's
  acting forward passes and in the PPO update (one forward per step and game; one
  update per ``num_games x steps_per_game`` steps). The forward pass for the bootstrap
  value (one batch per update) and the action sampling are outside the bound.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from keisei.bench.common import (
    BenchOptions,
    Metrics,
    Objects,
    Results,
    Row,
    Section,
    median,
    needs_config,
    sync,
)
from keisei.config import TrainConfig
from keisei.game.env import StepResult
from keisei.rl.ppo import PPOAgent
from keisei.rl.rollout import FloatArray, RolloutBuffer
from keisei.training.build import build_trainer
from keisei.training.sinks import Sinks


def _model_info(config: TrainConfig, agent: PPOAgent) -> Metrics:
    return {
        "model": config.model.model_dump(mode="json"),
        "parameters": sum(p.numel() for p in agent.model.parameters()),
        "device": str(agent.device),
        "bf16": agent.amp_dtype == torch.bfloat16,
        "torch_threads_config": config.run.torch_threads,
        "num_games": config.env.num_games,
        "steps_per_game": config.rollout.steps_per_game,
        "steps_per_update": config.steps_per_update,
        "epochs": config.ppo.epochs,
        "minibatch_size": config.ppo.minibatch_size,
    }


class Bound:
    """Inference and update rates of the configured model, on real self-play data."""

    def __init__(self, config: TrainConfig, run_dir: Path) -> None:
        # The same assembly as `keisei train` (threads, device, compile), no sinks needed.
        trainer = build_trainer(config, run_dir, Sinks([]), hooks=[])
        trainer.start_fresh()
        self.config = config
        self.agent: PPOAgent = trainer.agent
        self.buffer: RolloutBuffer = trainer.buffer
        self.generator = trainer.rng.generator
        # Observations as the trainer has them: planes and their bit-packed copy.
        self.batches: list[tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]] = []
        step: StepResult | None = trainer.current
        assert step is not None
        while not self.buffer.full:
            if len(self.batches) < 8:
                self.batches.append((step.obs, step.packed_obs))
            nxt, row, _finished = trainer.pipeline.ply([step], act_ahead=False)
            self.buffer.add(row)
            step = nxt[0]
        self.last_values: FloatArray = self.agent.values(step.obs, packed_obs=step.packed_obs)
        self.batch = config.env.num_games

    def infer(self, seconds: float) -> tuple[int, float]:
        """Forward passes for at least ``seconds`` (3 at least): (samples, wall seconds)."""
        agent, batches = self.agent, self.batches
        calls = 0
        start = time.perf_counter()
        deadline = start + seconds
        while calls < 3 or time.perf_counter() < deadline:
            agent.infer(*batches[calls % len(batches)])
            calls += 1
        sync(agent.device)
        return calls * self.batch, time.perf_counter() - start

    def update(self, seconds: float) -> tuple[int, int, float]:
        """``PPOAgent.update`` calls for at least ``seconds`` (one at least):
        (rollout transitions, transitions x epochs run, wall seconds)."""
        transitions = samples = 0
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            metrics = self.agent.update(self.buffer, self.last_values, self.generator)
            rollout = self.buffer.pos * self.buffer.envs
            transitions += rollout
            samples += rollout * int(metrics["epochs_run"])
            sync(self.agent.device)
            if time.perf_counter() >= deadline:
                break
        return transitions, samples, time.perf_counter() - start

    def warm_up(self, seconds: float) -> None:
        """Uncounted: one update and a short run of forward passes."""
        self.infer(min(0.2, seconds))
        self.update(0.0)


class BoundRates:
    """The bound's per-round rates."""

    def __init__(self) -> None:
        self.infer: list[float] = []
        self.update: list[float] = []
        self.epoch: list[float] = []

    def measure(self, bound: Bound, seconds: float) -> None:
        samples, wall = bound.infer(seconds)
        self.infer.append(samples / wall)
        transitions, trained, wall = bound.update(seconds)
        self.update.append(transitions / wall)
        self.epoch.append(trained / wall)

    def metrics(self, bound: Bound, seconds: float) -> Metrics:
        infer = median(self.infer)
        update = median(self.update)
        config = bound.config
        # With the Gumbel search a step costs a forward pass for its root and one per
        # simulation (over at most as many positions: terminal leaves need none).
        forwards = 1 + config.gumbel.simulations
        return {
            **_model_info(config, bound.agent),
            "inference_samples_per_s": infer,
            "inference_ms_per_batch": 1e3 * config.env.num_games / infer,
            "update_steps_per_s": update,
            "update_samples_per_s_per_epoch": median(self.epoch),
            "update_seconds": config.steps_per_update / update,
            "forward_passes_per_step": forwards,
            "bound_steps_per_s": 1.0 / (forwards / infer + 1.0 / update),
            "rounds_inference_samples_per_s": self.infer,
            "rounds_update_steps_per_s": self.update,
            "seconds_per_measurement": seconds,
        }


def measure_infer(options: BenchOptions, config: TrainConfig | None) -> Objects:
    """``{"infer": ...}``: inference and update rates of ``config``'s model, and the bound."""
    config = needs_config(config, "infer")
    per_side = options.seconds_per_measurement
    rates = BoundRates()
    with tempfile.TemporaryDirectory(prefix="keisei-bench-") as tmp:
        bound = Bound(config, Path(tmp))
        bound.warm_up(per_side)
        for _ in range(options.rounds):
            rates.measure(bound, per_side)
    return {"infer": rates.metrics(bound, per_side)}


def rows_infer(results: Results) -> list[Row]:
    m = results["infer"]
    model = m["model"]
    tower = f"{model['blocks']}x{model['channels']}"
    return [
        (
            f"inference samples/s ({tower}, batch {m['num_games']}, {m['device']})",
            f"{m['inference_samples_per_s']:,.0f}",
        ),
        (
            f"update samples/s per epoch (minibatch {m['minibatch_size']})",
            f"{m['update_samples_per_s_per_epoch']:,.0f}",
        ),
        (
            f"update: rollout steps/s ({m['steps_per_update']} steps, {m['epochs']} epochs)",
            f"{m['update_steps_per_s']:,.0f}",
        ),
        (
            f"bound steps/s  1/({_forwards(m)}/inference + 1/update)",
            f"{m['bound_steps_per_s']:,.0f}",
        ),
    ]


def _forwards(m: dict[str, Any]) -> str:
    """Forward passes per step: 1, or 1 + the Gumbel search's simulations."""
    return str(m.get("forward_passes_per_step", 1))


SECTION = Section(
    "infer",
    "the model's inference and PPO-update rates: the compute bound",
    measure_infer,
    rows_infer,
    uses_config=True,
)
