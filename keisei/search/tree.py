"""The search tree both searches share: nodes, the terminal rule, descent and negamax backup.

A ``Node`` is a position reached in a search: its legal moves and, per move, the visit
count ``n`` and the sum ``w`` of the values seen *by the side to move at that node*. The
network's outputs at a node are its ``priors`` (the softmax of the policy's logits over
the legal moves) and its ``value`` (for the side to move). ``descend`` walks down from a
root by a selection function (``keisei.search.select``) and creates the node it reaches
with ``new_node``, which scores the positions that end the game exactly; ``backup`` sends
a leaf's value up its path, negated at each ply. The two drivers are
``keisei.search.mcts.PUCTSearch`` (one game, virtual loss, tree reuse: play) and
``keisei.search.gumbel.GumbelSearch`` (every game of a batch in lockstep: self-play).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import cshogi
import numpy as np
import numpy.typing as npt

from keisei.game.encoding import move_label

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Path = list[tuple["Node", int]]  # (node, index of the move taken there), root first

# How far back (plies) a search looks for an earlier occurrence of a position (new_node).
REPETITION_PLIES = 16
_REPETITION_VALUES = {
    cshogi.REPETITION_DRAW: 0.0,
    cshogi.REPETITION_WIN: 1.0,  # the opponent checked on every move: perpetual check
    cshogi.REPETITION_LOSE: -1.0,
}


class Node:
    """One position of a search tree: its legal moves and, per move, statistics."""

    __slots__ = (
        "children",
        "logits",
        "moves",
        "n",
        "priors",
        "terminal",
        "value",
        "value_sum",
        "visits",
        "w",
    )

    def __init__(self, moves: Sequence[int], terminal: float | None = None) -> None:
        # Compact: most nodes are leaves, evaluated once and never descended through.
        self.moves: npt.NDArray[np.uint32] = np.array(moves, dtype=np.uint32)
        self.terminal = terminal  # the exact value for the side to move, or None
        # Set when the network evaluated the node: the priors of its moves (PUCT keeps
        # them as float32), and for Gumbel their logarithms (``logits``).
        self.priors: npt.NDArray[Any] | None = None
        self.logits: FloatArray | None = None
        self.value = 0.0  # the network's value, for the side to move here
        self.n: FloatArray | None = None  # per-move visits and value sums, allocated
        self.w: FloatArray | None = None  # when a playout first goes through the node
        self.children: dict[int, Node] = {}  # by move index, the visited ones only
        self.visits = 0  # backups through this node, its own evaluation included
        self.value_sum = 0.0  # for the side to move here

    def stats(self) -> tuple[FloatArray, FloatArray]:
        """(n, w), allocated on first use."""
        if self.n is None or self.w is None:
            self.n = np.zeros(len(self.moves))
            self.w = np.zeros(len(self.moves))
        return self.n, self.w

    @property
    def q(self) -> float:
        return self.value_sum / self.visits if self.visits else 0.0

    def child(self, move: int) -> Node | None:
        found = np.flatnonzero(self.moves == move)
        return self.children.get(int(found[0])) if found.size else None


def labels_of(moves: Sequence[int] | npt.NDArray[np.uint32], color: int) -> IntArray:
    """The action ids (dlshogi move labels) of ``moves`` for the side ``color``."""
    return np.fromiter((move_label(int(m), color) for m in moves), np.int64, len(moves))


def softmax(x: FloatArray) -> FloatArray:
    e = np.exp(x - x.max())
    out: FloatArray = e / e.sum()
    return out


def sharpened(weights: FloatArray, temperature: float) -> FloatArray:
    """``weights ** (1 / temperature)``, normalized to a distribution, computed in log space:
    at small temperatures the power overflows (visit counts) or underflows (probabilities)
    and the quotient is NaN. Zero weights stay zero (unless all are: then uniform)."""
    with np.errstate(divide="ignore"):
        logs = np.log(np.asarray(weights, dtype=np.float64)) / temperature
    if not np.isfinite(logs.max()):
        return np.full(len(logs), 1.0 / len(logs))
    return softmax(logs)


def log_softmax(x: FloatArray) -> FloatArray:
    top = float(x.max())
    out: FloatArray = x - (top + math.log(float(np.exp(x - top).sum())))
    return out


def priors_of(
    logits: npt.NDArray[np.float32],
    moves: Sequence[int] | npt.NDArray[np.uint32],
    color: int,
    temperature: float = 1.0,
) -> FloatArray:
    """Softmax of one position's logits over its legal ``moves`` (at ``temperature``)."""
    return softmax(logits[labels_of(moves, color)].astype(np.float64) / temperature)


def new_node(board: cshogi.Board, max_plies: int | None) -> Node:
    """The node of ``board``'s position, reached inside a search: the search's terminal rule.

    Scored exactly, without the network, for the side to move, in this order (the
    environment's, so a move that mates or repeats on the last allowed ply counts as such):

    1. an earlier occurrence of the position within ``REPETITION_PLIES`` plies (cshogi's
       ``is_draw``): 0, or +-1 for perpetual check. The environment needs a fourfold
       repetition; a search stops at the first, as engines do: a line that repeats once
       can repeat again, and cutting it keeps cycles out of the tree;
    2. no legal move (mated): -1;
    3. a nyugyoku the side to move may declare: +1;
    4. ``max_plies`` plies played (the length of the board's history), as ``ShogiEnv``
       scores its limit: 0 (None: no limit);
    5. a mate in one for the side to move (cshogi's ``mate_move_in_1ply``, not in check): +1.
    """
    rep = _REPETITION_VALUES.get(board.is_draw(REPETITION_PLIES))
    if rep is not None:
        return Node([], rep)
    moves = [int(m) for m in board.legal_moves]
    if not moves:
        return Node([], -1.0)
    if board.is_nyugyoku():
        return Node([], 1.0)
    if max_plies is not None and len(board.history) >= max_plies:
        return Node([], 0.0)
    if not board.is_check() and board.mate_move_in_1ply():
        return Node([], 1.0)
    return Node(moves)


def descend(
    root: Node, board: cshogi.Board, select: Callable[[Node, int], int], max_plies: int | None
) -> tuple[Path, Node, bool]:
    """One playout from ``root`` down to a terminal, new or not yet evaluated node.

    ``select(node, depth)`` picks the move index at each evaluated node (depth 0: the
    root). The moves are left pushed on ``board`` (the caller writes a new leaf's planes,
    then pops ``len(path)`` moves). Returns (path, the node reached, whether it was
    created by this playout).
    """
    path: Path = []
    node = root
    while node.terminal is None and node.priors is not None:
        idx = select(node, len(path))
        path.append((node, idx))
        board.push(int(node.moves[idx]))
        child = node.children.get(idx)
        if child is None:
            child = new_node(board, max_plies)
            node.children[idx] = child
            return path, child, True
        node = child
    return path, node, False


def backup(path: Path, leaf: Node, value: float, virtual_loss: float = 0.0) -> None:
    """``value`` is the leaf's, for its side to move; each parent sees its negation. The
    ``virtual_loss`` the playout added along its path is taken back."""
    leaf.visits += 1
    leaf.value_sum += value
    for node, idx in reversed(path):
        value = -value
        n, w = node.stats()
        n[idx] += 1.0 - virtual_loss
        w[idx] += value + virtual_loss
        node.visits += 1
        node.value_sum += value


def mate_in_one(board: cshogi.Board, moves: Sequence[int] | IntArray) -> int:
    """A legal move of ``board`` (one of ``moves``) that mates at once, or 0.

    cshogi's ``mate_move_in_1ply`` (YaneuraOu's mate1ply) assumes the side to move is not
    in check: in check it can return an illegal move, so there every (few) legal move is
    tried instead.
    """
    if not board.is_check():
        mate = int(board.mate_move_in_1ply())
        return mate if mate and mate in moves else 0
    for move in moves:
        board.push(int(move))
        mated = board.is_check() and board.is_game_over()
        board.pop()
        if mated:
            return int(move)
    return 0
