"""How self-play chooses its moves: an ``Actor``, picked once when the trainer is built.

``SamplingActor`` samples from the policy (PPO); ``GumbelActor`` plays what the Gumbel
search chooses (``gumbel.simulations > 0``) and hands on its improved policies, which the
rollout stores for the update's ``SearchCrossEntropy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
import torch

from keisei.game.env import ShogiEnv, StepResult
from keisei.rl.ppo import PPOAgent
from keisei.rl.rollout import FloatArray
from keisei.search.gumbel import GumbelSearch


@dataclass(frozen=True)
class Acted:
    """What an actor chose for a batch of games."""

    actions: npt.NDArray[np.int64]
    logp: FloatArray  # the policy's log-probability of each action
    values: FloatArray  # the network's value of each position
    targets: FloatArray | None  # the search's improved policies (None without a search)


class Actor(Protocol):
    """Chooses the moves of the games in ``step``; random draws come from the generator
    it was given (the trainer's), so that a run is reproducible and resumes bit for bit."""

    def act(self, step: StepResult) -> Acted: ...


@dataclass
class SamplingActor:
    """Moves sampled from the policy."""

    agent: PPOAgent
    generator: torch.Generator

    def act(self, step: StepResult) -> Acted:
        packed = (step.packed_obs, step.packed_mask)
        actions, logp, values = self.agent.act(step.obs, step.mask, self.generator, packed)
        return Acted(actions, logp, values, None)


@dataclass
class GumbelActor:
    """Moves chosen by the Gumbel search from the network's outputs for every game, on the
    environment's boards (all its games: it cannot act on a part of them)."""

    agent: PPOAgent
    search: GumbelSearch
    env: ShogiEnv
    generator: torch.Generator

    def act(self, step: StepResult) -> Acted:
        logits, values = self.agent.outputs(step.obs, step.packed_obs)
        found = self.search.run(self.env.boards(), logits, values, self.generator)
        return Acted(found.actions, found.logp, found.values, found.targets)
