"""Gumbel AlphaZero policy improvement for self-play (``gumbel.simulations > 0``).

Danihelka et al., "Policy improvement by planning with Gumbel" (ICLR 2022), as DeepMind's
``mctx`` implements it (``gumbel_muzero_policy``), run on every game of a batch in
lockstep so that each simulation is one network call over all games:

* **Root.** Gumbel noise ``g`` is drawn for every legal move (from the trainer's generator,
  so a run is reproducible and resumes exactly). The ``considered`` moves with the largest
  ``g + logits`` are searched, and sequential halving narrows them down: simulation ``s``
  goes to the best move by ``g + logits + sigma(q)`` among those visited exactly as often
  as the halving schedule says for ``s`` (``considered_visits``).
* **Below the root** a simulation is deterministic: ``argmax(pi'(a) - n(a) / (1 + N))``,
  where ``pi' = softmax(logits + sigma(completed q))``.
* **Completed q.** A visited move's q is the mean of the values backed up through it; an
  unvisited one gets the node's mixed value (its network value blended with the visited
  moves' q, weighted by their priors). The completed q are rescaled to [0, 1] over the
  node's moves, and ``sigma(q) = (c_visit + max n) * c_scale * q``.
* **What comes out**, per game: the move to play (the best remaining root move by
  ``g + logits + sigma(q)``: Gumbel's exploration replaces sampling) and the improved
  policy ``softmax(logits + sigma(completed q))`` over the legal moves, which
  ``PPOAgent.update`` then trains the policy toward (a cross-entropy instead of the
  clipped policy gradient). Values and returns stay PPO's.
* **Terminal positions** are exact, without the network: no legal move (mated) -1 for the
  side to move, a repetition by cshogi's ``is_draw`` (0, or +-1 for perpetual check), a
  nyugyoku the side to move may declare +1, the game's ply limit (``env.max_plies``) 0,
  a mate in one for the side to move +1. That is the environment's order: a move that
  mates or repeats on the last allowed ply counts as such, and at the limit the side to
  move has no move left to mate with.

The tree is built afresh for each move (nothing is kept between moves).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import cshogi
import numpy as np
import numpy.typing as npt
import torch

from keisei.config import GumbelSection
from keisei.game.encoding import NUM_ACTIONS, NUM_PLANES, move_label, write_features

FloatArray = npt.NDArray[np.float64]
# (uint8 planes (B, 119, 9, 9)) -> (logits (B, 2187), values (B,)), both float32 numpy.
Evaluate = Callable[
    [npt.NDArray[np.uint8]], tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]
]


@lru_cache(maxsize=64)
def considered_visits(considered: int, simulations: int) -> tuple[int, ...]:
    """For each simulation, the visit count a root move must have to be simulated next.

    Sequential halving: ``considered`` moves get visits in rounds, the number kept halves
    after each phase (down to 2), and each phase has about ``simulations / log2(considered)``
    simulations. (``mctx.seq_halving.get_sequence_of_considered_visits``.)
    """
    if considered <= 1:
        return tuple(range(simulations))
    phases = math.ceil(math.log2(considered))
    sequence: list[int] = []
    visits = [0] * considered
    kept = considered
    while len(sequence) < simulations:
        extra = max(1, simulations // (phases * kept))
        for _ in range(extra):
            sequence.extend(visits[:kept])
            for i in range(kept):
                visits[i] += 1
        kept = max(2, kept // 2)
    return tuple(sequence[:simulations])


class _Node:
    """A position of the tree: legal moves, the network's logits at them, statistics."""

    __slots__ = ("children", "labels", "logits", "moves", "n", "terminal", "value", "w")

    def __init__(self, moves: list[int], color: int, terminal: float | None = None) -> None:
        self.moves = moves
        self.terminal = terminal  # exact value for the side to move, or None
        count = len(moves)
        self.labels = np.fromiter((move_label(m, color) for m in moves), np.int64, count)
        self.logits: FloatArray | None = None  # log-priors, set when evaluated
        self.value = 0.0  # the network's value, for the side to move here
        self.n = np.zeros(count)  # per move: visits,
        self.w = np.zeros(count)  # and the sum of the values seen by the side to move here
        self.children: dict[int, _Node] = {}

    def evaluated(self, logits: npt.NDArray[np.float32], value: float) -> None:
        x = logits[self.labels].astype(np.float64)
        self.logits = x - _logsumexp(x)
        self.value = value


def _logsumexp(x: FloatArray) -> float:
    top = float(x.max())
    return top + math.log(float(np.exp(x - top).sum()))


def _softmax(x: FloatArray) -> FloatArray:
    e = np.exp(x - x.max())
    out: FloatArray = e / e.sum()
    return out


def sigma_q(node: _Node, c_visit: float, c_scale: float) -> FloatArray:
    """``sigma(completed q)`` of a node's moves (mctx ``qtransform_completed_by_mix_value``)."""
    assert node.logits is not None
    n, w = node.n, node.w
    visited = n > 0
    total = float(n.sum())
    if total > 0:
        priors = np.exp(node.logits)
        mass = float(priors[visited].sum())
        q_visited = w[visited] / n[visited]
        weighted = float((priors[visited] * q_visited).sum()) / max(mass, 1e-30)
        mixed = (node.value + total * weighted) / (total + 1.0)
        q = np.full(len(n), mixed)
        q[visited] = q_visited
        low, high = float(q.min()), float(q.max())
        q = (q - low) / max(high - low, 1e-8)
    else:
        q = np.zeros(len(n))
    out: FloatArray = (c_visit + float(n.max())) * c_scale * q
    return out


@dataclass
class SearchOutput:
    """One search per game: what the trainer stores and plays."""

    actions: npt.NDArray[np.int64]  # (B,) action ids to play
    targets: npt.NDArray[np.float32]  # (B, 2187) improved policy over the legal actions
    logp: npt.NDArray[np.float32]  # (B,) the network's log-probability of each action
    values: npt.NDArray[np.float32]  # (B,) the network's value of each root
    root_q: npt.NDArray[np.float32]  # (B,) the searched value of the chosen move


class GumbelSearch:
    """Gumbel AlphaZero's root search and improved policy over a batch of games."""

    def __init__(
        self, cfg: GumbelSection, evaluate: Evaluate, max_plies: int | None = None
    ) -> None:
        """``max_plies``: a position after that many plies of its game (the length of its
        board's history) is a draw, as ``ShogiEnv`` scores it; None: no limit."""
        if cfg.simulations < 1:
            raise ValueError(f"simulations must be >= 1, got {cfg.simulations}")
        self.cfg = cfg
        self.evaluate = evaluate
        self.max_plies = max_plies
        self.evaluations = 0  # positions sent to the network (roots excluded)

    def _new_node(self, board: cshogi.Board) -> _Node:
        color = int(board.turn)
        rep = board.is_draw(16)
        if rep == cshogi.REPETITION_DRAW:
            return _Node([], color, 0.0)
        if rep == cshogi.REPETITION_WIN:
            return _Node([], color, 1.0)
        if rep == cshogi.REPETITION_LOSE:
            return _Node([], color, -1.0)
        moves = [int(m) for m in board.legal_moves]
        if not moves:
            return _Node([], color, -1.0)
        if board.is_nyugyoku():
            return _Node([], color, 1.0)
        if self.max_plies is not None and len(board.history) >= self.max_plies:
            return _Node([], color, 0.0)
        if not board.is_check() and board.mate_move_in_1ply():
            return _Node([], color, 1.0)
        return _Node(moves, color)

    def _interior(self, node: _Node) -> int:
        assert node.logits is not None
        pi = _softmax(node.logits + sigma_q(node, self.cfg.c_visit, self.cfg.c_scale))
        return int(np.argmax(pi - node.n / (1.0 + float(node.n.sum()))))

    def run(
        self,
        boards: Sequence[cshogi.Board],
        root_logits: npt.NDArray[np.float32],
        root_values: npt.NDArray[np.float32],
        generator: torch.Generator,
    ) -> SearchOutput:
        """Search each board (left as it was) from its network outputs ``root_logits``
        (B, 2187) and ``root_values`` (B,); the Gumbel noise comes from ``generator``."""
        cfg = self.cfg
        count = len(boards)
        roots = [_Node([int(m) for m in b.legal_moves], int(b.turn)) for b in boards]
        for b, root in enumerate(roots):
            if not root.moves:
                raise ValueError(f"game {b} has no legal move: a finished game was searched")
            root.evaluated(root_logits[b], float(root_values[b]))
        # One draw for all the games' legal moves: the stream does not depend on the search.
        sizes = [len(r.moves) for r in roots]
        u = torch.rand(sum(sizes), generator=generator, dtype=torch.float64).numpy()
        noise = -np.log(-np.log(np.clip(u, 1e-300, 1.0 - 1e-16)))
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        gumbel = [noise[offsets[b] : offsets[b + 1]] for b in range(count)]
        schedules = [
            considered_visits(min(cfg.considered, len(r.moves)), cfg.simulations) for r in roots
        ]
        planes = np.zeros((count, NUM_PLANES, 81), dtype=np.float32)
        for sim in range(cfg.simulations):
            pending: list[tuple[int, list[tuple[_Node, int]], _Node]] = []
            for b, (board, root) in enumerate(zip(boards, roots, strict=True)):
                if len(root.moves) == 1:
                    continue  # forced: nothing to learn, nothing to search
                assert root.logits is not None
                score = gumbel[b] + root.logits + sigma_q(root, cfg.c_visit, cfg.c_scale)
                score = np.where(root.n == schedules[b][sim], score, -np.inf)
                action = int(np.argmax(score))
                path = [(root, action)]
                board.push(root.moves[action])
                node = root.children.get(action)
                while node is not None and node.terminal is None and node.logits is not None:
                    action = self._interior(node)
                    path.append((node, action))
                    board.push(node.moves[action])
                    node = node.children.get(action)
                if node is None:
                    parent, action = path[-1]
                    node = self._new_node(board)
                    parent.children[action] = node
                    if node.terminal is None:
                        write_features(board, planes[len(pending)])
                        pending.append((b, path, node))
                for _ in path:
                    board.pop()
                if node.terminal is not None:
                    self._backup(path, node.terminal)
            if pending:
                # Always the whole batch (rows past the leaves are stale and ignored): one
                # shape for every call, which compiled models and CUDA graphs need.
                obs = planes.astype(np.uint8).reshape(-1, NUM_PLANES, 9, 9)
                logits, values = self.evaluate(obs)
                self.evaluations += len(pending)
                for k, (_b, path, node) in enumerate(pending):
                    node.evaluated(logits[k], float(values[k]))
                    self._backup(path, float(values[k]))
        return self._output(roots, gumbel)

    @staticmethod
    def _backup(path: list[tuple[_Node, int]], value: float) -> None:
        """``value`` is the leaf's, for its side to move; each parent sees its negation."""
        for node, action in reversed(path):
            value = -value
            node.n[action] += 1.0
            node.w[action] += value

    def _output(self, roots: list[_Node], gumbel: list[FloatArray]) -> SearchOutput:
        cfg = self.cfg
        count = len(roots)
        actions = np.zeros(count, dtype=np.int64)
        targets = np.zeros((count, NUM_ACTIONS), dtype=np.float32)
        logp = np.zeros(count, dtype=np.float32)
        values = np.zeros(count, dtype=np.float32)
        root_q = np.zeros(count, dtype=np.float32)
        for b, root in enumerate(roots):
            assert root.logits is not None
            sigma = sigma_q(root, cfg.c_visit, cfg.c_scale)
            score = np.where(root.n == root.n.max(), gumbel[b] + root.logits + sigma, -np.inf)
            best = int(np.argmax(score))
            actions[b] = root.labels[best]
            targets[b, root.labels] = _softmax(root.logits + sigma)
            logp[b] = root.logits[best]
            values[b] = root.value
            visits = root.n[best]
            root_q[b] = root.w[best] / visits if visits > 0 else root.value
        return SearchOutput(actions, targets, logp, values, root_q)
