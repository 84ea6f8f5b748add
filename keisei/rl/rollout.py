"""Rollout storage and credit assignment for alternating two-player self-play.

Credit assignment: the negamax convention
-----------------------------------------
A rollout holds, for each game slot, the interleaved sequence of both players' moves.
Every transition is seen from the player who moves at that step:

* ``values[t]`` is V(s_t) for the player to move in s_t (the network always sees the
  board from the side to move);
* ``rewards[t]`` is the reward of that mover (the environment returns +1 to the player
  whose move won, -1 to one whose move lost, 0 otherwise).

The next state s_{t+1} belongs to the opponent, so the current mover values it as
-V(s_{t+1}), and the opponent's advantage counts against the mover::

    delta_t = r_t - gamma * V(s_{t+1}) * (1 - done_t) - V(s_t)
    A_t     = delta_t - gamma * lambda * (1 - done_t) * A_{t+1}
    R_t     = A_t + V(s_t)

At the end of a rollout the bootstrap is -V(last observation). ``done_t`` cuts both the
bootstrap and the recursion, so games that end inside a rollout do not leak into the
next game of the same slot.

Worked example (gamma = lambda = 1, all values 0): a 3-ply game in which the third move
mates. Rewards (0, 0, +1), dones (F, F, T) give advantages and returns (+1, -1, +1): the
winner's plies 1 and 3 are credited with the win, the loser's ply 2 with the loss. GAE
over the interleaved sequence without the sign flip (the predecessor system's bug) would
give (+1, +1, +1), crediting the loser with the winner's reward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from keisei.game.encoding import (
    NUM_ACTIONS,
    PACKED_MASK_BYTES,
    PACKED_OBS_BYTES,
)

FloatArray = npt.NDArray[np.float32]


# -- credit assignment -----------------------------------------------------------------
def compute_gae(
    rewards: FloatArray,
    values: FloatArray,
    dones: npt.NDArray[np.bool_],
    last_values: FloatArray,
    gamma: float,
    lam: float,
) -> tuple[FloatArray, FloatArray]:
    """Negamax GAE over (T, N) interleaved two-player rollouts; see the module docstring.

    Returns ``(advantages, returns)``, both (T, N) float32.
    """
    steps = rewards.shape[0]
    advantages = np.zeros(rewards.shape, dtype=np.float32)
    next_adv = np.zeros(rewards.shape[1:], dtype=np.float32)
    next_value = np.asarray(last_values, dtype=np.float32)
    g, gl = np.float32(gamma), np.float32(gamma * lam)
    for t in range(steps - 1, -1, -1):
        live = 1.0 - dones[t].astype(np.float32)
        delta = rewards[t] - g * next_value * live - values[t]
        next_adv = (delta - gl * live * next_adv).astype(np.float32)
        advantages[t] = next_adv
        next_value = values[t]
    returns = (advantages + values).astype(np.float32)
    return advantages, returns


# -- rollout storage -------------------------------------------------------------------
# The arrays a buffer stores only for some runs: (what they are, when they are stored).
OPTIONAL = {
    "targets": ("policy targets", "they are stored with gumbel.simulations > 0"),
    "learner": ("marks of the learner's moves", "they are stored with league.fraction > 0"),
}


@dataclass(frozen=True, kw_only=True)
class Row:
    """One step of every env, as the rollout stores it: the observations and legal masks
    acted on (bit-packed, as ``StepResult.packed_obs`` and ``packed_mask`` hold them), the
    actions chosen and what they earned."""

    packed_obs: npt.NDArray[np.uint8]
    packed_mask: npt.NDArray[np.uint8]
    actions: npt.NDArray[np.integer[Any]]
    logp: FloatArray
    values: FloatArray
    rewards: FloatArray
    dones: npt.NDArray[np.bool_]
    # (envs, 2187) policy targets, given exactly when the buffer stores them.
    targets: FloatArray | None = None
    # (envs,) whether each move is the learner's (a league's opponents' are not), given
    # exactly when the buffer stores it.
    learner: npt.NDArray[np.bool_] | None = None


class RolloutBuffer:
    """Preallocated (steps, envs) rollout storage.

    Per transition: observation bit-packed (1205 bytes), legal mask bit-packed (274),
    action int16 (2), log-prob, value and reward float32 (12), done bool (1): 1494 bytes,
    against 9639 + 2187 bytes for uint8 planes and a bool mask.
    """

    BYTES_PER_STEP: int = PACKED_OBS_BYTES + PACKED_MASK_BYTES + 2 + 3 * 4 + 1
    TARGET_BYTES_PER_STEP: int = 2 * NUM_ACTIONS  # the policy targets, when stored

    def __init__(self, steps: int, envs: int, targets: bool = False, learner: bool = False) -> None:
        """``targets``: also store a policy target per transition (float16 over all
        actions, 4374 bytes): the improved policy of the Gumbel search
        (``keisei.search.gumbel``), which the update then trains the policy toward.
        ``learner``: also store whether each move is the learner's (bool, 1 byte): with a
        league (``keisei.training.league``) the update trains only those."""
        if steps < 1 or envs < 1:
            raise ValueError(f"steps and envs must be >= 1, got steps={steps}, envs={envs}")
        self.steps = steps
        self.envs = envs
        fields = ("obs", "masks", "actions", "logp", "values", "rewards", "dones")
        self._fields: tuple[str, ...] = (
            *fields,
            *(("targets",) if targets else ()),
            *(("learner",) if learner else ()),
        )
        self.targets: npt.NDArray[np.float16] | None = (
            np.zeros((steps, envs, NUM_ACTIONS), dtype=np.float16) if targets else None
        )
        self.learner: npt.NDArray[np.bool_] | None = (
            np.ones((steps, envs), dtype=bool) if learner else None
        )
        self.obs = np.zeros((steps, envs, PACKED_OBS_BYTES), dtype=np.uint8)
        self.masks = np.zeros((steps, envs, PACKED_MASK_BYTES), dtype=np.uint8)
        self.actions = np.zeros((steps, envs), dtype=np.int16)  # ids < 2187 fit
        self.logp = np.zeros((steps, envs), dtype=np.float32)
        self.values = np.zeros((steps, envs), dtype=np.float32)
        self.rewards = np.zeros((steps, envs), dtype=np.float32)
        self.dones = np.zeros((steps, envs), dtype=bool)
        self.pos = 0

    def _arrays(self) -> list[npt.NDArray[Any]]:
        return [getattr(self, name) for name in self._fields]

    def bytes_per_step(self) -> int:
        """Bytes of storage per transition (one env, one step), from the arrays themselves."""
        return sum(a.nbytes for a in self._arrays()) // (self.steps * self.envs)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._arrays())

    @property
    def full(self) -> bool:
        return self.pos >= self.steps

    def reset(self) -> None:
        self.pos = 0

    def add(self, row: Row) -> None:
        """Store one step of all envs: the obs/mask acted on, and what the action earned."""
        if self.full:
            raise RuntimeError(f"rollout buffer is full ({self.steps} steps); call reset()")
        for name, (what, _why) in OPTIONAL.items():
            if (getattr(row, name) is None) != (getattr(self, name) is None):
                raise ValueError(
                    f"this buffer stores {what}: give them"
                    if getattr(row, name) is None
                    else f"this buffer stores no {what}"
                )
        if row.packed_obs.shape != self.obs.shape[1:]:
            raise ValueError(f"packed obs shape {row.packed_obs.shape} != {self.obs.shape[1:]}")
        if row.packed_mask.shape != self.masks.shape[1:]:
            raise ValueError(f"packed mask shape {row.packed_mask.shape} != {self.masks.shape[1:]}")
        t = self.pos
        self.obs[t] = row.packed_obs
        self.masks[t] = row.packed_mask
        self.actions[t] = row.actions
        self.logp[t] = row.logp
        self.values[t] = row.values
        self.rewards[t] = row.rewards
        self.dones[t] = row.dones
        if self.targets is not None:
            self.targets[t] = row.targets
        if self.learner is not None:
            self.learner[t] = row.learner
        self.pos = t + 1

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            name: a.copy() for name, a in zip(self._fields, self._arrays(), strict=True)
        }
        state["pos"] = self.pos
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, (what, why) in OPTIONAL.items():
            if (name in state) != (getattr(self, name) is not None):
                saved = "stores" if name in state else "stores no"
                mine = "does" if getattr(self, name) is not None else "does not"
                raise ValueError(f"saved rollout {saved} {what} and this buffer {mine} ({why})")
        for name in self._fields:
            mine, theirs = getattr(self, name), np.asarray(state[name])
            if theirs.shape != mine.shape or theirs.dtype != mine.dtype:
                raise ValueError(
                    f"saved rollout {name} is {theirs.dtype}{list(theirs.shape)}, "
                    f"this buffer's is {mine.dtype}{list(mine.shape)}"
                )
        for name in self._fields:
            getattr(self, name)[...] = state[name]
        self.pos = int(state["pos"])
