"""Past selves as opponents (``league.fraction > 0``): a pool of frozen snapshots of the
network, drawn by prioritized fictitious self-play (PFSP, as AlphaStar's league).

The first ``league_slots`` games of each rank are league games: when one starts, it draws
an opponent from the pool (with probability proportional to ``(1 - p) ** pfsp_power``,
``p`` the learner's score against it so far, with one win and one loss as a prior) and
the learner's colour (even odds). The opponent's moves are sampled from its frozen
network; they are part of the learner's environment: the rollout stores them (the
learner's value of those positions carries the negamax GAE through them) but marks them
untrained, so only the learner's own moves enter the update. While the pool is empty,
and in the other games, the learner plays both sides (self-play).

After every update the ranks add up the results of the league games finished since the
last one; every ``snapshot_every_updates`` updates the network joins the pool (the oldest
leaves it beyond ``pool_size``; a game still played against it goes on as self-play).
Every rank has the same weights, so every rank has the same pool: a checkpoint holds it
once (``League.state_dict``) and each rank's games (``LeagueGames``) with that rank's parts.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from keisei.config import LeagueSection
from keisei.distributed import Collective
from keisei.game.env import GameResult, StepResult
from keisei.rl.network import ActorCritic, PolicyValue, obs_to_tensor
from keisei.rl.policy import MaskedCategorical

SELF_PLAY = -1  # a game's opponent when the learner plays both sides


def league_slots(fraction: float, games: int) -> int:
    """The league games among ``games`` (one rank's): the first of them, at least one when
    ``fraction > 0``."""
    if fraction <= 0:
        return 0
    return min(games, max(1, round(fraction * games)))


def pfsp_weights(results: npt.NDArray[np.float64], power: float) -> npt.NDArray[np.float64]:
    """Each opponent's draw probability from the learner's (wins, draws, losses) against it
    (rows): ``(1 - p) ** power`` normalized, ``p = (wins + draws / 2 + 1) / (games + 2)``."""
    wins, draws, games = results[:, 0], results[:, 1], results.sum(axis=1)
    score = (wins + 0.5 * draws + 1.0) / (games + 2.0)
    weights = (1.0 - score) ** power
    out: npt.NDArray[np.float64] = weights / weights.sum()
    return out


@dataclass
class Opponent:
    """A frozen snapshot in the pool."""

    update: int  # taken after this update: the opponent's name in the pool
    model: ActorCritic
    results: npt.NDArray[np.float64]  # the learner's (wins, draws, losses) against it


@dataclass
class LeagueGames:
    """One rank's league games: who plays each and what the finished ones gave since the
    last update. What a stop must undo with moves chosen ahead (``state_dict``)."""

    opponent: npt.NDArray[np.int64]  # per league game: its opponent's update, or SELF_PLAY
    learner: npt.NDArray[np.int8]  # per league game: the learner's colour
    pending: dict[int, npt.NDArray[np.float64]] = field(default_factory=dict)

    @classmethod
    def fresh(cls, slots: int) -> LeagueGames:
        return cls(np.full(slots, SELF_PLAY, np.int64), np.zeros(slots, np.int8))

    def state_dict(self) -> dict[str, Any]:
        return {
            "opponent": self.opponent.tolist(),
            "learner": self.learner.tolist(),
            "pending": {int(k): v.tolist() for k, v in self.pending.items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], slots: int) -> LeagueGames:
        opponent = np.asarray(state["opponent"], dtype=np.int64)
        if opponent.shape != (slots,):
            raise ValueError(
                f"saved league has {opponent.size} league games per rank, this run {slots} "
                "(league.fraction and env.num_games decide it)"
            )
        pending = {int(k): np.asarray(v, np.float64) for k, v in state["pending"].items()}
        return cls(opponent, np.asarray(state["learner"], dtype=np.int8), pending)


class League:
    """The pool of past selves and the draws of the league games (module docstring)."""

    def __init__(
        self,
        cfg: LeagueSection,
        model: ActorCritic,
        games: int,
        device: torch.device,
        collective: Collective | None = None,
    ) -> None:
        self.cfg = cfg
        self.learner_model = model  # the trained network: what a snapshot copies
        self.slots = league_slots(cfg.fraction, games)
        self.device = device
        self.collective = collective or Collective()
        self.pool: list[Opponent] = []
        self.games = LeagueGames.fresh(self.slots)

    # -- playing ----------------------------------------------------------------------
    def begin(self, step: StepResult, generator: torch.Generator) -> None:
        """Before the moves of ``step`` are chosen: count the league games it finished and
        draw the opponent and colour of those it starts (in game order, from
        ``generator``: the run's, so that a run is reproducible)."""
        lo = step.first
        hi = min(lo + len(step.plies), self.slots)
        games = self.games
        starting: list[int] = []
        for slot in range(lo, hi):
            row = slot - lo
            finished = step.finished[row]  # one entry per game, None if it goes on
            if finished is not None and games.opponent[slot] != SELF_PLAY:
                self._count(int(games.opponent[slot]), int(games.learner[slot]), finished)
            if step.plies[row] == 0:
                starting.append(slot)
        if not starting:
            return
        if not self.pool:
            games.opponent[starting] = SELF_PLAY
            return
        probs = pfsp_weights(np.stack([o.results for o in self.pool]), self.cfg.pfsp_power)
        cdf = np.cumsum(probs)
        u = torch.rand((len(starting), 2), generator=generator, dtype=torch.float64).numpy()
        picks = np.minimum(np.searchsorted(cdf, u[:, 0] * cdf[-1], side="right"), len(cdf) - 1)
        for slot, pick, side in zip(starting, picks, u[:, 1], strict=True):
            games.opponent[slot] = self.pool[int(pick)].update
            games.learner[slot] = 0 if side < 0.5 else 1

    def _count(self, opponent: int, learner: int, game: GameResult) -> None:
        column = 1 if game.winner is None else (0 if game.winner == learner else 2)
        pending = self.games.pending.setdefault(opponent, np.zeros(3))
        pending[column] += 1.0

    def opponent_moves(self, step: StepResult) -> list[tuple[int, npt.NDArray[np.int64]]]:
        """The rows of ``step`` whose move is an opponent's: (opponent index in the pool,
        rows), in pool order."""
        lo = step.first
        hi = min(lo + len(step.plies), self.slots)
        if hi <= lo or not self.pool:
            return []
        rows = np.arange(hi - lo)
        slots = rows + lo
        opponent = self.games.opponent[slots]
        theirs = (opponent != SELF_PLAY) & (step.to_move[rows] != self.games.learner[slots])
        out = []
        for index, entry in enumerate(self.pool):
            mine = rows[theirs & (opponent == entry.update)]
            if mine.size:
                out.append((index, mine))
        return out

    @torch.inference_mode()
    def sample(
        self,
        index: int,
        obs: npt.NDArray[np.uint8],
        mask: npt.NDArray[np.bool_],
        generator: torch.Generator,
    ) -> npt.NDArray[np.int64]:
        """Moves of pool opponent ``index`` for these positions, sampled from its policy."""
        out: PolicyValue = self.pool[index].model(obs_to_tensor(obs, self.device))
        dist = MaskedCategorical(out.logits.float(), torch.as_tensor(mask).to(self.device))
        return dist.sample_with(generator).cpu().numpy().astype(np.int64)

    # -- after an update -----------------------------------------------------------------
    def after_update(self, updates: int) -> dict[str, float]:
        """Add up every rank's league results since the last update; every
        ``snapshot_every_updates`` updates, the network joins the pool. Returns the
        update's league metrics."""
        pending = self.games.pending
        counts = np.stack([pending.get(o.update, np.zeros(3)) for o in self.pool] or [np.zeros(3)])
        total = self.collective.sum(counts.reshape(-1)).reshape(counts.shape)
        for entry, add in zip(self.pool, total, strict=False):
            entry.results = entry.results + add
        pending.clear()
        if updates % self.cfg.snapshot_every_updates == 0:
            frozen = copy.deepcopy(self.learner_model).eval().requires_grad_(False)
            self.pool.append(Opponent(updates, frozen, np.zeros(3)))
            if len(self.pool) > self.cfg.pool_size:
                gone = self.pool.pop(0).update
                self.games.opponent[self.games.opponent == gone] = SELF_PLAY
        metrics = {"league_opponents": float(len(self.pool))}
        games = float(total.sum()) if self.pool else 0.0
        if games > 0:
            metrics["league_games"] = games
            metrics["league_score"] = float((total[:, 0].sum() + 0.5 * total[:, 1].sum()) / games)
        return metrics

    # -- checkpoints ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The pool, which every rank shares (each rank's games: ``games.state_dict``)."""
        return {
            "pool": [
                {
                    "update": o.update,
                    "weights": o.model.state_dict(),
                    "results": o.results.tolist(),
                }
                for o in self.pool
            ]
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pool = []
        for entry in state["pool"]:
            model = copy.deepcopy(self.learner_model)
            model.load_state_dict(entry["weights"])
            results = np.asarray(entry["results"], dtype=np.float64)
            pool.append(Opponent(int(entry["update"]), model.eval().requires_grad_(False), results))
        self.pool = pool
