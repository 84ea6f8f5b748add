"""How self-play chooses its moves: an ``Actor``, picked once when the trainer is built.

``SamplingActor`` samples from the policy (PPO); ``GumbelActor`` plays what the Gumbel
search chooses (``gumbel.simulations > 0``) and hands on its improved policies, which the
rollout stores for the update's ``SearchCrossEntropy``; ``LeagueActor`` samples like
``SamplingActor`` and lets past selves play one side of the league games
(``league.fraction > 0``, ``keisei.training.league``), marking their moves untrained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import torch

from keisei.game.env import ShogiEnv, StepResult
from keisei.rl.ppo import PPOAgent
from keisei.rl.rollout import FloatArray
from keisei.search.gumbel import GumbelSearch
from keisei.training.league import League, LeagueGames


@dataclass(frozen=True)
class Acted:
    """What an actor chose for a batch of games."""

    actions: npt.NDArray[np.int64]
    logp: FloatArray  # the policy's log-probability of each action
    values: FloatArray  # the network's value of each position
    targets: FloatArray | None  # the search's improved policies (None without a search)
    # Which moves are the learner's, to be trained (None: all; False: a past self's).
    learner: npt.NDArray[np.bool_] | None = None


class Actor(Protocol):
    """Chooses the moves of the games in ``step``; random draws come from the generator
    it was given (the trainer's), so that a run is reproducible and resumes bit for bit."""

    def act(self, step: StepResult) -> Acted: ...

    # What ``act`` changes besides the generator (a league's games): in each rank's
    # checkpoint, and undone with moves chosen ahead of a stop (``PlyPipeline``).
    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class _Stateless:
    """An actor whose only state is the generator."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(
                f"saved actor state {sorted(state)} belongs to a league run "
                "(league.fraction > 0); this run has no league"
            )


@dataclass
class SamplingActor(_Stateless):
    """Moves sampled from the policy."""

    agent: PPOAgent
    generator: torch.Generator

    def act(self, step: StepResult) -> Acted:
        packed = (step.packed_obs, step.packed_mask)
        actions, logp, values = self.agent.act(step.obs, step.mask, self.generator, packed)
        return Acted(actions, logp, values, None)


@dataclass
class GumbelActor(_Stateless):
    """Moves chosen by the Gumbel search from the network's outputs for every game, on the
    environment's boards (all its games: it cannot act on a part of them).

    With ``fast`` (playout cap randomization, ``gumbel.full_search_fraction < 1``), each
    step is searched in full with probability ``full_fraction`` (one draw per step, all
    the rank's games alike: they are searched in lockstep), else by the cheaper ``fast``
    search, whose moves are played but whose improved policies are not trained: their
    targets are all zero (``SearchCrossEntropy`` leaves such rows out)."""

    agent: PPOAgent
    search: GumbelSearch
    env: ShogiEnv
    generator: torch.Generator
    fast: GumbelSearch | None = None
    full_fraction: float = 1.0

    def act(self, step: StepResult) -> Acted:
        logits, values = self.agent.outputs(step.obs, step.packed_obs)
        search, trained = self.search, True
        if self.fast is not None:
            draw = float(torch.rand(1, generator=self.generator, dtype=torch.float64))
            if draw >= self.full_fraction:
                search, trained = self.fast, False
        found = search.run(self.env.boards(), logits, values, self.generator)
        targets = found.targets if trained else np.zeros_like(found.targets)
        return Acted(found.actions, found.logp, found.values, targets)


@dataclass
class LeagueActor:
    """Moves sampled from the policy, and in the league games the opponent's moves from
    its frozen network (drawn after the learner's, from the same generator)."""

    agent: PPOAgent
    generator: torch.Generator
    league: League

    def act(self, step: StepResult) -> Acted:
        self.league.begin(step, self.generator)
        packed = (step.packed_obs, step.packed_mask)
        actions, logp, values = self.agent.act(step.obs, step.mask, self.generator, packed)
        learner = np.ones(len(actions), dtype=bool)
        for index, rows in self.league.opponent_moves(step):
            theirs = self.league.sample(index, step.obs[rows], step.mask[rows], self.generator)
            actions[rows] = theirs
            logp[rows] = 0.0  # not the learner's move: never in a ratio
            learner[rows] = False
        return Acted(actions, logp, values, None, learner)

    def state_dict(self) -> dict[str, Any]:
        return self.league.games.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.league.games = (
            LeagueGames.from_state(state, self.league.slots)
            if state
            else LeagueGames.fresh(self.league.slots)
        )
