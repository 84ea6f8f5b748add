"""PUCT tree search (AlphaZero style) over a keisei policy-value network.

* **Priors and values.** A leaf is evaluated by ``keisei.rl.network.ActorCritic``: the
  policy head's logits at the leaf's legal moves (dlshogi labels, ``move_label``), softmaxed
  (at ``policy_temperature``), are the priors of its moves; the value head (``[-1, 1]``, for
  the side to move) is the leaf's value. Values are backed up negamax: each node keeps, per
  move, the visit count ``n`` and the sum ``w`` of the values seen *by the side to move at
  that node*.
* **Selection.** ``argmax Q + c_puct * P * sqrt(N) / (1 + n)`` with ``Q = w / n``; an
  unvisited move gets the first-play urgency ``Q(node) - fpu_reduction * sqrt(sum of the
  visited moves' priors)`` (Leela's FPU reduction). Ties go to the first legal move in
  cshogi's order, so a search is a deterministic function of the position, the tree it
  starts from and its limits (the sampled move choice draws from the search's own seeded
  generator).
* **Batches.** A playout descends with a virtual loss (``n += 1``, ``w -= 1`` along its path)
  so that the next one goes elsewhere; up to ``batch_size`` new leaves are collected, then
  evaluated in one network call, then backed up (the virtual losses replaced by the real
  values). A playout that reaches a leaf already waiting in the batch (a collision) is undone
  and ends the batch early.
* **Terminal positions** are scored without the network: no legal move (mate) -1 for the
  side to move; a repetition within ``repetition_plies`` (cshogi ``is_draw``): 0, or +-1 for
  perpetual check; nyugyoku that the side to move may declare (``is_nyugyoku``): +1; and a
  mate in one for the side to move (cshogi's ``mate_move_in_1ply``, when not in check): +1.
* **At the root**: a mate in one, else a df-pn mate of at most ``mate_nodes`` nodes
  (``cshogi.DfPn``), is played without searching; moves after which the opponent has a
  mate in one get prior 0 (unless every move does). A root is never scored as terminal: it
  is a position of the game, searched like any other.
* **Tree reuse.** ``set_position`` keeps the subtree of the moves played since the previous
  root when the new position continues it (same start position, same earlier moves).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cshogi
import numpy as np
import numpy.typing as npt
import torch

from keisei.game.encoding import NUM_PLANES, move_label, write_features
from keisei.rl.network import model_device

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SearchConfig:
    """Search settings (see the module docstring for what each one does)."""

    batch_size: int = 16
    c_puct: float = 1.5
    fpu_reduction: float = 0.2
    virtual_loss: float = 1.0
    policy_temperature: float = 1.0
    mate_check: bool = True  # look for a mate at the root before searching
    mate_nodes: int = 10_000  # df-pn node budget of that check; 0: mate in one only
    repetition_plies: int = 16  # how far back cshogi looks for a repetition in the tree
    max_nodes: int = 1_000_000  # the tree stops growing here (about 0.75 kB a node)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.c_puct > 0:
            raise ValueError(f"c_puct must be > 0, got {self.c_puct}")
        if not self.fpu_reduction >= 0:
            raise ValueError(f"fpu_reduction must be >= 0, got {self.fpu_reduction}")
        if not self.virtual_loss > 0:
            raise ValueError(f"virtual_loss must be > 0, got {self.virtual_loss}")
        if not self.policy_temperature > 0:
            raise ValueError(f"policy_temperature must be > 0, got {self.policy_temperature}")
        if self.mate_nodes < 0:
            raise ValueError(f"mate_nodes must be >= 0, got {self.mate_nodes}")
        if self.repetition_plies < 1:
            raise ValueError(f"repetition_plies must be >= 1, got {self.repetition_plies}")
        if self.max_nodes < 1:
            raise ValueError(f"max_nodes must be >= 1, got {self.max_nodes}")


class Node:
    """One position of the tree: its legal moves and, per move, priors and statistics."""

    __slots__ = ("children", "moves", "n", "priors", "terminal", "value_sum", "visits", "w")

    def __init__(self, moves: Sequence[int], terminal: float | None = None) -> None:
        # Compact: most nodes are leaves, evaluated once and never descended through.
        self.moves: npt.NDArray[np.uint32] = np.array(moves, dtype=np.uint32)
        self.terminal = terminal  # the exact value for the side to move, or None
        self.priors: npt.NDArray[np.float32] | None = None  # None until evaluated
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


@dataclass
class SearchResult:
    """What a search found at the root (moves in cshogi's encoding)."""

    moves: list[int]  # the root's legal moves
    visits: IntArray  # per root move (this search and the reused tree)
    q: FloatArray  # per root move, for the side to move (nan if never visited)
    priors: FloatArray  # the policy's priors of the root moves (after the root filter)
    value: float  # the root's value for the side to move, in [-1, 1]
    best: int | None  # the most visited move; None without a legal move
    pv: list[int]  # principal variation: the most visited moves from the root
    playouts: int  # playouts of this search
    seldepth: int  # deepest playout of this search (plies)
    seconds: float
    mate: int | None = None  # plies to a mate the side to move found (root check, tree)
    nyugyoku: bool = False  # the side to move may declare a nyugyoku win
    evaluations: int = 0  # positions the network evaluated in this search
    # (root move index, line) of every visited root move, most visited first (``pv`` is
    # the first line): what USI's MultiPV shows.
    lines: list[tuple[int, list[int]]] = field(default_factory=list)

    @property
    def nps(self) -> float:
        return self.playouts / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Limits:
    """When a search stops. The engine may change ``deadline`` while it runs (ponderhit)."""

    playouts: int | None = None
    deadline: float | None = None  # time.monotonic() value
    stop: threading.Event = field(default_factory=threading.Event)
    infinite: bool = False  # no playout limit: run until stop (or the node limit)

    def done(self, playouts: int) -> bool:
        if self.stop.is_set():
            return True
        if self.playouts is not None and not self.infinite and playouts >= self.playouts:
            return True
        return self.deadline is not None and time.monotonic() >= self.deadline


class Evaluator:
    """The network over batches of positions: feature planes in, logits and values out."""

    def __init__(self, model: Any, device: str | None = None, batch_size: int = 16) -> None:
        self.model = model
        self.device = device if device is not None else model_device(model)
        self.planes = np.zeros((batch_size, NUM_PLANES, 81), dtype=np.float32)
        self.calls = 0
        self.positions = 0

    def resize(self, batch_size: int) -> None:
        if self.planes.shape[0] != batch_size:
            self.planes = np.zeros((batch_size, NUM_PLANES, 81), dtype=np.float32)

    def write(self, slot: int, board: cshogi.Board) -> None:
        write_features(board, self.planes[slot])

    def run(self, count: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """(logits (count, 2187), values (count,)) of the first ``count`` planes written."""
        x = torch.from_numpy(self.planes[:count]).view(count, NUM_PLANES, 9, 9)
        with torch.inference_mode():
            out = self.model(x.to(self.device))
        self.calls += 1
        self.positions += count
        logits: npt.NDArray[np.float32] = out.logits.float().cpu().numpy()
        values: npt.NDArray[np.float32] = out.value.float().cpu().numpy()
        return logits, values


def priors_of(
    logits: npt.NDArray[np.float32],
    moves: Sequence[int] | npt.NDArray[np.uint32],
    color: int,
    temperature: float = 1.0,
) -> FloatArray:
    """Softmax of one position's logits over its legal ``moves`` (at ``temperature``)."""
    labels = np.fromiter((move_label(int(m), color) for m in moves), np.int64, len(moves))
    x = logits[labels].astype(np.float64) / temperature
    x -= x.max()
    p = np.exp(x)
    out: FloatArray = p / p.sum()
    return out


def mate_in_one(board: cshogi.Board, moves: Sequence[int]) -> int:
    """A legal move of ``board`` that mates at once, or 0.

    cshogi's ``mate_move_in_1ply`` assumes the side to move is not in check; in check every
    legal move (there are few) is tried instead.
    """
    if not board.is_check():
        mate = int(board.mate_move_in_1ply())
        return mate if mate and mate in moves else 0
    for move in moves:
        board.push(move)
        mated = board.is_check() and not any(True for _ in board.legal_moves)
        board.pop()
        if mated:
            return int(move)
    return 0


def score_cp(value: float) -> int:
    """A value in [-1, 1] as centipawns: ``600 * ln(p / (1 - p))`` with ``p = (1 + value) / 2``.

    The Ponanza-style logistic mapping (a 600 cp advantage is a 73 % winning probability),
    clipped to +-30000.
    """
    p = (1.0 + value) / 2.0
    if p <= 0.0 or p >= 1.0:
        return 30000 if p >= 1.0 else -30000
    return round(max(-30000.0, min(30000.0, 600.0 * math.log(p / (1.0 - p)))))


class PUCTSearch:
    """A search tree over one game, kept between moves (see the module docstring)."""

    def __init__(
        self,
        model: Any,
        config: SearchConfig | None = None,
        device: str | None = None,
        seed: int = 0,
    ) -> None:
        self.config = config or SearchConfig()
        self.evaluator = Evaluator(model, device, self.config.batch_size)
        self.rng = np.random.default_rng(seed)
        self.root: Node | None = None
        self._root_key: tuple[str, tuple[int, ...]] | None = None
        self.nodes = 0  # nodes in the tree (an upper bound after reuse drops some)
        self._dfpn = cshogi.DfPn()

    # -- the game ------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the tree (a new game)."""
        self.root = None
        self._root_key = None
        self.nodes = 0

    def set_config(self, config: SearchConfig) -> None:
        self.config = config
        self.evaluator.resize(config.batch_size)

    def set_position(self, start_sfen: str, moves: Sequence[int]) -> cshogi.Board:
        """The board after ``moves`` from ``start_sfen``; keeps the subtree of those moves
        when this position continues the previous root's game."""
        board = cshogi.Board(start_sfen)
        for move in moves:
            board.push(int(move))
        key = (start_sfen, tuple(int(m) for m in moves))
        node: Node | None = None
        if self._root_key is not None and self.root is not None:
            prev_start, prev = self._root_key
            if prev_start == start_sfen and key[1][: len(prev)] == prev:
                node = self.root
                for move in key[1][len(prev) :]:
                    node = node.child(move) if node is not None else None
        if node is None:
            self.nodes = 0
        self.root = node
        self._root_key = key
        return board

    # -- searching ------------------------------------------------------------------
    def search(
        self,
        board: cshogi.Board,
        limits: Limits,
        on_info: Callable[[SearchResult], None] | None = None,
        info_interval: float = 1.0,
    ) -> SearchResult:
        """Search ``board`` (the position of ``set_position``) until ``limits`` stop it.

        ``board`` is left as it was. ``on_info`` gets the result so far every
        ``info_interval`` seconds.
        """
        started = time.monotonic()
        cfg = self.config
        evaluator = self.evaluator
        root = self._prepare_root(board)
        moves = [int(m) for m in root.moves]
        if not moves:
            return self._result(root, 0, 0, started)
        if board.is_nyugyoku():
            result = self._result(root, 0, 0, started)
            result.nyugyoku = True
            return result
        mate = self._root_mate(board, moves) if cfg.mate_check else None
        if mate is not None:
            result = self._result(root, 0, 0, started)
            result.best, result.pv, result.mate = mate[0], mate[1], len(mate[1])
            return result
        if len(moves) == 1 and not limits.infinite:
            return self._result(root, 0, 0, started)
        self._filter_root(board, root)
        done = 0
        seldepth = 0
        evaluations = 0
        next_info = started + info_interval
        vl = cfg.virtual_loss
        # At least one batch (unless stopped or asked for none): a move is never chosen on
        # the priors alone because the clock was already short.
        first = not limits.stop.is_set() and (limits.playouts is None or limits.playouts > 0)
        while (first or not limits.done(done)) and self.nodes < cfg.max_nodes:
            first = False
            room = cfg.batch_size
            if limits.playouts is not None and not limits.infinite:
                room = min(room, limits.playouts - done)
            pending: list[tuple[list[tuple[Node, int]], Node, npt.NDArray[np.uint32], int]] = []
            collected = 0
            while collected < room:
                path, leaf, status = self._descend(root, board, len(pending))
                seldepth = max(seldepth, len(path))
                if status == "collision":
                    for node, idx in path:
                        n, w = node.stats()
                        n[idx] -= vl
                        w[idx] += vl
                    break
                collected += 1
                if status == "terminal":
                    assert leaf.terminal is not None
                    self._backup(path, leaf, leaf.terminal)
                    done += 1
                else:  # "new": features written at slot len(pending)
                    pending.append((path, leaf, leaf.moves, int(board.turn) ^ (len(path) & 1)))
            if pending:
                logits, values = evaluator.run(len(pending))
                evaluations += len(pending)
                for k, (path, leaf, leaf_moves, color) in enumerate(pending):
                    priors = priors_of(logits[k], leaf_moves, color, cfg.policy_temperature)
                    leaf.priors = priors.astype(np.float32)
                    self._backup(path, leaf, float(values[k]))
                done += len(pending)
            if on_info is not None and time.monotonic() >= next_info:
                next_info = time.monotonic() + info_interval
                on_info(self._result(root, done, seldepth, started, evaluations))
        return self._result(root, done, seldepth, started, evaluations)

    def policy(self, board: cshogi.Board) -> tuple[list[int], FloatArray, float]:
        """The network alone: (legal moves, their policy probabilities, value) of ``board``."""
        moves = [int(m) for m in board.legal_moves]
        if not moves:
            return moves, np.zeros(0), -1.0
        self.evaluator.write(0, board)
        logits, values = self.evaluator.run(1)
        return moves, priors_of(logits[0], moves, board.turn), float(values[0])

    def choose(self, result: SearchResult, temperature: float = 0.0) -> int | None:
        """The move to play: the most visited (temperature 0) or drawn with ``visits^(1/T)``."""
        if result.best is None or temperature <= 0 or result.mate is not None:
            return result.best
        visits = result.visits.astype(np.float64)
        if visits.sum() <= 0:
            visits = result.priors.copy()
        weights = visits ** (1.0 / temperature)
        weights /= weights.sum()
        return int(result.moves[int(self.rng.choice(len(result.moves), p=weights))])

    # -- internals ------------------------------------------------------------------
    def _prepare_root(self, board: cshogi.Board) -> Node:
        root = self.root
        if root is None or root.priors is None:
            moves = [int(m) for m in board.legal_moves]
            root = Node(moves)
            self.nodes += 1
            if moves:
                self.evaluator.write(0, board)
                logits, values = self.evaluator.run(1)
                root.priors = priors_of(
                    logits[0], moves, board.turn, self.config.policy_temperature
                ).astype(np.float32)
                root.visits, root.value_sum = 1, float(values[0])
            self.root = root
        root.terminal = None
        return root

    def _root_mate(self, board: cshogi.Board, moves: list[int]) -> tuple[int, list[int]] | None:
        mate = mate_in_one(board, moves)
        if mate:
            return mate, [mate]
        if self.config.mate_nodes > 0 and not board.is_check():
            dfpn = self._dfpn
            dfpn.set_max_search_node(self.config.mate_nodes)
            if dfpn.search(board):
                move = int(dfpn.get_move(board))
                if move in moves:
                    pv = [int(m) for m in dfpn.get_pv(board)]
                    return move, pv if pv and pv[0] == move else [move]
        return None

    def _filter_root(self, board: cshogi.Board, root: Node) -> None:
        """Prior 0 for the root moves after which the opponent mates in one (if not all)."""
        assert root.priors is not None
        bad = np.zeros(len(root.moves), dtype=bool)
        for i, move in enumerate(root.moves.tolist()):
            board.push(move)
            if not board.is_check() and board.mate_move_in_1ply():
                bad[i] = True
            board.pop()
        if bad.any() and not bad.all():
            priors = np.where(bad, 0.0, root.priors)
            total = priors.sum()
            fixed = priors / total if total > 0 else np.where(bad, 0.0, 1.0 / (~bad).sum())
            root.priors = fixed.astype(np.float32)

    def _new_node(self, board: cshogi.Board) -> Node:
        rep = board.is_draw(self.config.repetition_plies)
        if rep == cshogi.REPETITION_DRAW:
            return Node([], 0.0)
        if rep == cshogi.REPETITION_WIN:
            return Node([], 1.0)
        if rep == cshogi.REPETITION_LOSE:
            return Node([], -1.0)
        moves = [int(m) for m in board.legal_moves]
        if not moves:
            return Node([], -1.0)
        if board.is_nyugyoku() or (not board.is_check() and board.mate_move_in_1ply()):
            return Node([], 1.0)
        return Node(moves)

    def _descend(
        self, root: Node, board: cshogi.Board, slot: int
    ) -> tuple[list[tuple[Node, int]], Node, str]:
        """One playout down to a leaf, with virtual losses; ``board`` is restored after.

        Status: ``terminal`` (the leaf's value is exact), ``new`` (the leaf was created and
        its planes written at ``slot``) or ``collision`` (the leaf waits in this batch).
        """
        vl = self.config.virtual_loss
        c_puct = self.config.c_puct
        fpu_reduction = self.config.fpu_reduction
        path: list[tuple[Node, int]] = []
        node = root
        status = "collision"
        while True:
            if node.terminal is not None:
                status = "terminal"
                break
            priors = node.priors
            if priors is None:
                break  # collision: created by an earlier playout of this batch
            n, w = node.stats()
            total = float(n.sum())
            visited = n > 0
            fpu = node.q - fpu_reduction * math.sqrt(float(priors[visited].sum()))
            q = np.where(visited, w / np.where(visited, n, 1.0), fpu)
            u = (c_puct * (math.sqrt(total) if total > 0 else 1.0)) * priors / (1.0 + n)
            idx = int(np.argmax(q + u))
            n[idx] += vl
            w[idx] -= vl
            path.append((node, idx))
            board.push(int(node.moves[idx]))
            child = node.children.get(idx)
            if child is None:
                child = self._new_node(board)
                node.children[idx] = child
                self.nodes += 1
                node = child
                if child.terminal is not None:
                    status = "terminal"
                else:
                    status = "new"
                    self.evaluator.write(slot, board)
                break
            node = child
        for _ in path:
            board.pop()
        return path, node, status

    def _backup(self, path: list[tuple[Node, int]], leaf: Node, value: float) -> None:
        vl = self.config.virtual_loss
        leaf.visits += 1
        leaf.value_sum += value
        for node, idx in reversed(path):
            value = -value
            n, w = node.stats()
            n[idx] += 1.0 - vl
            w[idx] += value + vl
            node.visits += 1
            node.value_sum += value

    def _result(
        self, root: Node, playouts: int, seldepth: int, started: float, evaluations: int = 0
    ) -> SearchResult:
        moves = [int(m) for m in root.moves]
        n, w = root.stats()
        visits = np.rint(n).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            q = np.where(n > 0, w / n, np.nan)
        priors = root.priors.astype(np.float64) if root.priors is not None else np.zeros(len(moves))
        best: int | None = None
        value = root.q
        mate: int | None = None
        pv: list[int] = []
        lines: list[tuple[int, list[int]]] = []
        if moves:
            # Most visits; among equals the higher prior (before any visit: the policy's move).
            order = np.lexsort((-priors, -visits))
            i = int(order[0])
            best = moves[i]
            if visits[i] > 0:
                value = float(q[i])
            child = root.children.get(i)
            if child is not None and child.terminal == -1.0 and not len(child.moves):
                mate = 1
            pv = self._line(root, i)
            lines = [(int(k), self._line(root, int(k))) for k in order if visits[k] > 0]
        return SearchResult(
            moves=moves,
            visits=visits,
            q=q,
            priors=priors,
            value=max(-1.0, min(1.0, value)),
            best=best,
            pv=pv,
            playouts=playouts,
            seldepth=seldepth,
            seconds=time.monotonic() - started,
            mate=mate,
            evaluations=evaluations,
            lines=lines,
        )

    @staticmethod
    def _line(root: Node, i: int) -> list[int]:
        """Root move ``i`` and then the most visited move at each node below it."""
        line = [int(root.moves[i])]
        node = root.children.get(i)
        while node is not None and node.n is not None and node.visits > 1:
            j = int(np.argmax(node.n))
            if node.n[j] <= 0:
                break
            line.append(int(node.moves[j]))
            node = node.children.get(j)
        return line


def search_rate(search: PUCTSearch, sfen: str, seconds: float) -> tuple[float, float]:
    """(playouts/s, mean leaves per network call) of one search of ``sfen`` from a fresh
    tree for about ``seconds``, without a playout limit."""
    search.reset()
    board = search.set_position(sfen, [])
    calls = search.evaluator.calls
    result = search.search(board, Limits(deadline=time.monotonic() + seconds))
    calls = search.evaluator.calls - calls - 1  # not the root's own evaluation
    search.reset()
    return result.nps, result.evaluations / max(1, calls)


def inference_rate(evaluator: Evaluator, batch_size: int, seconds: float) -> float:
    """The network's samples/s on batches of ``batch_size`` (the planes last written)."""
    if evaluator.planes.shape[0] < batch_size:
        evaluator.resize(batch_size)
    evaluator.run(batch_size)
    count = 0
    begin = time.monotonic()
    while time.monotonic() - begin < seconds:
        evaluator.run(batch_size)
        count += batch_size
    return count / (time.monotonic() - begin)


def bench_search(
    model: Any,
    batch_size: int = 16,
    seconds: float = 5.0,
    sfen: str = cshogi.STARTING_SFEN,
    device: str | None = None,
) -> dict[str, float]:
    """Search playouts per second next to the network's own samples per second at
    ``batch_size``: one search of ``sfen`` for about ``seconds``, then the network alone
    for as long (``keisei bench search`` alternates the two over rounds). Returns
    ``search_nps``, ``inference_sps``, their ``ratio`` and ``mean_batch``.
    """
    search = PUCTSearch(model, SearchConfig(batch_size=batch_size, mate_nodes=0), device)
    search_rate(search, sfen, min(seconds, 0.2))  # warm-up
    nps, mean_batch = search_rate(search, sfen, seconds)
    sps = inference_rate(search.evaluator, batch_size, seconds)
    return {
        "search_nps": nps,
        "inference_sps": sps,
        "ratio": nps / sps if sps > 0 else 0.0,
        "mean_batch": mean_batch,
    }
