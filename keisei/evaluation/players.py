"""Players: objects that choose moves for a batch of games played in one ``ShogiEnv``.

A player is asked, at each step, for the moves of the games in which it is to move
(``act``); it answers with action ids, or forfeits a game (an engine that resigned,
crashed, sent an illegal move or ran out of time). Players:

* ``random``: a uniformly random legal move (seeded);
* ``greedy``: one-ply material: mate in one if there is one, else the capture of the most
  valuable piece (ties broken at random), else a random move (seeded);
* a checkpoint (``.pt`` file, or a run directory meaning its newest valid checkpoint):
  the network's policy over legal moves, greedy (temperature 0) or sampled, one batched
  forward pass for all the games it is to move in;
* ``usi:PATH``: an external USI engine (``keisei.evaluation.usi``).

``keisei.evaluation.specs`` turns a spec such as ``greedy`` or ``usi:PATH[...]`` into one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cshogi
import numpy as np
import numpy.typing as npt
import torch

from keisei.game.encoding import move_label
from keisei.game.env import ShogiEnv, StepResult, random_legal
from keisei.rl.network import model_device, obs_to_tensor
from keisei.rl.policy import MaskedCategorical
from keisei.search.tree import mate_in_one

IntArray = npt.NDArray[np.int64]

# Termination reasons that only external players produce (the environment's own are in
# keisei.game.env.REASONS). The side that was to move loses the game.
FORFEIT_REASONS: tuple[str, ...] = (
    "resign",
    "engine_crash",
    "engine_illegal_move",
    "engine_timeout",
)
FAULT_REASONS: tuple[str, ...] = ("engine_crash", "engine_illegal_move", "engine_timeout")

# Textbook material values (pawn = 1) for the greedy player, by cshogi piece type.
PIECE_VALUES: dict[int, int] = {
    cshogi.PAWN: 1,
    cshogi.LANCE: 4,
    cshogi.KNIGHT: 4,
    cshogi.SILVER: 5,
    cshogi.GOLD: 6,
    cshogi.BISHOP: 8,
    cshogi.ROOK: 10,
    cshogi.PROM_PAWN: 6,
    cshogi.PROM_LANCE: 6,
    cshogi.PROM_KNIGHT: 6,
    cshogi.PROM_SILVER: 6,
    cshogi.PROM_BISHOP: 10,
    cshogi.PROM_ROOK: 12,
}
_CAPTURE_VALUE = np.zeros(32, dtype=np.int64)
for _piece, _value in PIECE_VALUES.items():
    _CAPTURE_VALUE[_piece] = _value


class PlayerError(ValueError):
    """A player spec or player that cannot be used (reported before any game starts)."""


@dataclass(frozen=True)
class Forfeit:
    """A game the player gives up: ``reason`` is one of FORFEIT_REASONS."""

    reason: str
    detail: str


@dataclass
class Moves:
    """A player's answer for the games it was asked about (aligned with ``slots``)."""

    actions: IntArray
    forfeits: dict[int, Forfeit] = field(default_factory=dict)  # slot -> forfeit


class Player:
    """Base class. ``act`` gets the games (``slots``) in which this player is to move."""

    name: str = "player"
    #: True when the player's moves depend on nothing but the position (same game twice).
    deterministic: bool = False

    def open(self) -> None:
        """Acquire resources (start an engine); raise PlayerError if the player is unusable."""

    def close(self) -> None:
        """Release resources; safe to call more than once."""

    def new_game(self, slot: int) -> None:
        """A new game starts in ``slot`` of the environment."""

    def act(self, env: ShogiEnv, step: StepResult, slots: IntArray) -> Moves:
        raise NotImplementedError

    def __enter__(self) -> Player:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RandomPlayer(Player):
    """A uniformly random legal mover."""

    def __init__(self, seed: int | np.random.SeedSequence = 0, name: str = "random") -> None:
        self.name = name
        self.rng = np.random.default_rng(seed)

    def act(self, env: ShogiEnv, step: StepResult, slots: IntArray) -> Moves:
        return Moves(random_legal(step, self.rng, slots))


class GreedyPlayer(Player):
    """One-ply material greed: mate in one, else the biggest capture, else a random move."""

    def __init__(self, seed: int | np.random.SeedSequence = 0, name: str = "greedy") -> None:
        self.name = name
        self.rng = np.random.default_rng(seed)

    def choose(self, board: cshogi.Board) -> int:
        """The cshogi move this player plays in ``board`` (which must have a legal move)."""
        moves = np.fromiter(board.legal_moves, dtype=np.int64)
        mate = mate_in_one(board, moves)
        if mate:
            return mate
        caps = np.fromiter((cshogi.move_cap(int(m)) for m in moves), np.int64, moves.size)
        values = _CAPTURE_VALUE[caps]
        best = int(values.max())
        candidates = moves[values == best] if best > 0 else moves
        return int(candidates[int(self.rng.integers(candidates.size))])

    def act(self, env: ShogiEnv, step: StepResult, slots: IntArray) -> Moves:
        boards = env.boards()
        actions = np.empty(slots.size, dtype=np.int64)
        for k, slot in enumerate(slots.tolist()):
            board = boards[slot]
            actions[k] = move_label(self.choose(board), board.turn)
        return Moves(actions)


class CheckpointPlayer(Player):
    """A policy network: its most probable legal move (temperature 0), or sampled.

    All games in which the player is to move are evaluated in one forward pass (in chunks
    of ``batch_size``). The policy is ``keisei.rl.policy.MaskedCategorical``, the one the
    trainer acts with: illegal actions get probability exactly zero. Sampling draws from
    the player's own torch generator (seeded from ``seed``), never a global one.
    """

    def __init__(
        self,
        model: Any,
        name: str,
        temperature: float = 0.0,
        seed: int | np.random.SeedSequence = 0,
        device: str | None = None,
        batch_size: int = 256,
    ) -> None:
        if not temperature >= 0:  # also rejects nan
            raise PlayerError(f"temperature must be >= 0, got {temperature}")
        self.model = model
        self.name = name
        self.temperature = float(temperature)
        self.deterministic = self.temperature == 0.0
        self.device = device if device is not None else model_device(model)
        seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self.generator = torch.Generator().manual_seed(int(seq.generate_state(1)[0]))
        self.batch_size = batch_size
        self._was_training: bool | None = None

    def open(self) -> None:
        # The trainer's live model may be in training mode: act in eval mode, restore after.
        self._was_training = bool(self.model.training)
        self.model.eval()

    def close(self) -> None:
        if self._was_training is not None:
            self.model.train(self._was_training)
            self._was_training = None

    def policy(self, obs: npt.NDArray[np.uint8], mask: npt.NDArray[np.bool_]) -> MaskedCategorical:
        """The masked policy over ``obs`` at this player's temperature (1 if greedy)."""
        chunks = []
        with torch.inference_mode():
            for start in range(0, obs.shape[0], self.batch_size):
                out = self.model(obs_to_tensor(obs[start : start + self.batch_size], self.device))
                chunks.append(out.logits.float())
        logits = torch.cat(chunks) if chunks else torch.zeros(mask.shape)
        if self.temperature > 0:
            logits = logits / self.temperature
        return MaskedCategorical(logits, torch.as_tensor(mask, device=logits.device))

    def act(self, env: ShogiEnv, step: StepResult, slots: IntArray) -> Moves:
        dist = self.policy(step.obs[slots], step.mask[slots])
        actions = dist.mode() if self.temperature == 0.0 else dist.sample_with(self.generator)
        return Moves(actions.cpu().numpy().astype(np.int64))
