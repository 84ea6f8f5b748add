"""PUCT tree search (AlphaZero style) over a keisei policy-value network.

* **Priors and values.** A leaf is evaluated by ``keisei.rl.network.ActorCritic``: the
  policy head's logits at the leaf's legal moves (dlshogi labels, ``move_label``), softmaxed
  (at ``policy_temperature``), are the priors of its moves; the value head (``[-1, 1]``, for
  the side to move) is the leaf's value. Values are backed up negamax: each node keeps, per
  move, the visit count ``n`` and the sum ``w`` of the values seen *by the side to move at
  that node*.
* **Selection.** ``argmax Q + c_puct * P * sqrt(N) / (1 + n)`` with first-play urgency
  (``keisei.search.select.puct_child``). Ties go to the first legal move in cshogi's
  order, so a search is a deterministic function of the position, the tree it starts
  from and its limits (the sampled move choice draws from the search's own seeded
  generator).
* **Batches.** A playout descends with a virtual loss (``n += 1``, ``w -= 1`` along its path)
  so that the next one goes elsewhere; up to ``batch_size`` new leaves are collected, then
  evaluated in one network call (a ``LeafBatch``), then backed up (the virtual losses
  replaced by the real values). A playout that reaches a leaf already waiting in the batch
  (a collision) is undone and ends the batch early. On the clock a batch also ends early
  when its evaluation (at the last call's cost per position) would end past the deadline.
* **Terminal positions** are scored without the network by the search's terminal rule
  (``keisei.search.tree.new_node``, the one the Gumbel search uses too), with the game's
  ply limit when the search is given one (``max_plies``: a ``search:`` player in a match).
* **At the root**: a mate in one, else a df-pn mate of at most ``mate_nodes`` nodes
  (``cshogi.DfPn``; on the clock, also within a share of the time left), is played
  without searching; moves after which the opponent has a
  mate in one get prior 0 (unless every move does). A root is never scored as terminal: it
  is a position of the game, searched like any other.
* **Settings** are ``keisei.config.SearchSettings``.
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

from keisei.config import SearchSettings
from keisei.search.leaves import LeafBatch, NetworkForward
from keisei.search.select import puct_child
from keisei.search.tree import (
    FloatArray,
    IntArray,
    Node,
    Path,
    backup,
    descend,
    mate_in_one,
    priors_of,
    sharpened,
)

# The root mate check on the clock: at most this share of the time left, and a first
# search of this many nodes to measure df-pn's rate (about 0.25 M nodes/s on a busy core).
MATE_SHARE = 0.25
MATE_PROBE = 5_000


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


@dataclass
class _Run:
    """A search under way (``PUCTSearch._begin`` to ``_finish``): its counters, and the
    leaves of its current batch waiting for the network from row ``offset`` on."""

    board: cshogi.Board
    limits: Limits
    root: Node
    started: float
    first: bool  # the first batch is played out whatever the limits say
    done: int = 0
    seldepth: int = 0
    evaluations: int = 0
    pending: list[tuple[Path, Node, int]] = field(default_factory=list)
    offset: int = 0


def score_cp(value: float) -> int:
    """A value in [-1, 1] as centipawns: ``600 * ln(p / (1 - p))`` with ``p = (1 + value) / 2``.

    The Ponanza-style logistic mapping (a 600 cp advantage is a 73 % winning probability);
    +-30000 at p = 1 or 0. (Short of those, a float64 ``p`` gives at most about 22000.)
    """
    p = (1.0 + value) / 2.0
    if p <= 0.0 or p >= 1.0:
        return 30000 if p >= 1.0 else -30000
    return round(600.0 * math.log(p / (1.0 - p)))


class PUCTSearch:
    """A search tree over one game, kept between moves (see the module docstring)."""

    def __init__(
        self,
        model: Any,
        config: SearchSettings | None = None,
        device: str | None = None,
        seed: int = 0,
        max_plies: int | None = None,
    ) -> None:
        """``max_plies``: a position after that many plies of its game is a draw, as
        ``ShogiEnv`` scores it (None: no limit; a USI engine does not know the server's)."""
        self.config = config or SearchSettings()
        self.network = NetworkForward(model, device)
        self.leaves = LeafBatch(self.network, self.config.batch_size)
        self.max_plies = max_plies
        self.rng = np.random.default_rng(seed)
        self.root: Node | None = None
        self._root_key: tuple[str, tuple[int, ...]] | None = None
        self.nodes = 0  # nodes in the tree (an upper bound after reuse drops some)
        self._dfpn = cshogi.DfPn()
        self._dfpn_rate: float | None = None  # df-pn nodes/s measured (None: not yet)

    # -- the game ------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the tree (a new game)."""
        self.root = None
        self._root_key = None
        self.nodes = 0

    def set_config(self, config: SearchSettings) -> None:
        self.config = config
        self.leaves.resize(config.batch_size)

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
        root = self._root(board)
        if root.priors is None and len(root.moves):
            self.leaves.write(0, board)
            logits, values = self.leaves.run(1)
            self._evaluated_root(root, int(board.turn), logits[0], float(values[0]))
        run = self._begin(board, limits, root, started)
        if isinstance(run, SearchResult):
            return run
        next_info = started + info_interval
        while self._running(run):
            self._collect(run, self.leaves, 0)
            if run.pending:
                self._absorb(run, *self.leaves.run(len(run.pending)))
            if on_info is not None and time.monotonic() >= next_info:
                next_info = time.monotonic() + info_interval
                on_info(self._result(root, run.done, run.seldepth, started, run.evaluations))
        return self._finish(run)

    @staticmethod
    def lockstep(
        jobs: Sequence[tuple[PUCTSearch, cshogi.Board, Limits]], leaves: LeafBatch
    ) -> list[SearchResult]:
        """Search several games at once, each ``(search, board, limits)`` as ``search``
        would (no ``on_info``), with one network call per round for every game's leaves.

        First the roots that need the network are evaluated in one call; then each round
        collects every running search's next batch of leaves into ``leaves`` (one search
        after the other, each into its own rows), runs the network once over all of them
        and backs each search's rows up into its own tree. Every tree receives the same
        leaves in the same order as in ``search``; only the network's batches differ.
        """
        if len({id(search) for search, _, _ in jobs}) != len(jobs):
            raise ValueError("lockstep: each game needs its own search")
        started = time.monotonic()
        roots = [search._root(board) for search, board, _ in jobs]
        fresh = [i for i, root in enumerate(roots) if root.priors is None and len(root.moves)]
        rows = max(len(fresh), sum(search.config.batch_size for search, _, _ in jobs))
        if leaves.capacity < rows:
            leaves.resize(rows)
        if fresh:
            for row, i in enumerate(fresh):
                leaves.write(row, jobs[i][1])
            logits, values = leaves.run(len(fresh))
            for row, i in enumerate(fresh):
                search, board, _ = jobs[i]
                search._evaluated_root(roots[i], int(board.turn), logits[row], float(values[row]))
        runs = [
            search._begin(board, limits, root, started)
            for (search, board, limits), root in zip(jobs, roots, strict=True)
        ]
        while True:
            active = [
                (search, run)
                for (search, _, _), run in zip(jobs, runs, strict=True)
                if isinstance(run, _Run) and search._running(run)
            ]
            if not active:
                break
            offset = 0
            for search, run in active:
                run.offset = offset
                search._collect(run, leaves, offset)
                offset += len(run.pending)
            if offset:
                logits, values = leaves.run(offset)
                for search, run in active:
                    search._absorb(run, logits, values)
        return [
            run if isinstance(run, SearchResult) else search._finish(run)
            for (search, _, _), run in zip(jobs, runs, strict=True)
        ]

    def policy(self, board: cshogi.Board) -> tuple[list[int], FloatArray, float]:
        """The network alone: (legal moves, their policy probabilities, value) of ``board``.

        At temperature 1, deliberately: ``policy_temperature`` shapes the search's priors
        only; a caller that samples from these (USI ``MoveSelection sample``) applies its
        own temperature, so one setting, not two multiplied, decides how a move is drawn."""
        moves = [int(m) for m in board.legal_moves]
        if not moves:
            return moves, np.zeros(0), -1.0
        self.leaves.write(0, board)
        logits, values = self.leaves.run(1)
        return moves, priors_of(logits[0], moves, board.turn), float(values[0])

    def choose(self, result: SearchResult, temperature: float = 0.0) -> int | None:
        """The move to play: the most visited (temperature 0) or drawn with ``visits^(1/T)``."""
        if result.best is None or temperature <= 0 or result.mate is not None:
            return result.best
        visits = result.visits.astype(np.float64)
        if visits.sum() <= 0:
            visits = result.priors.copy()
        weights = sharpened(visits, temperature)
        return int(result.moves[int(self.rng.choice(len(result.moves), p=weights))])

    # -- internals ------------------------------------------------------------------
    @staticmethod
    def _batch_late(limits: Limits, leaves: LeafBatch, rows: int) -> bool:
        """Whether the batch being collected must go to the network now: stopped, or on the
        clock and its evaluation (one more leaf, at the last call's cost per position)
        would end past the deadline. A batch of 4096 leaves took 1.5 s past a 1 s byoyomi."""
        if limits.stop.is_set():
            return True
        if limits.deadline is None:
            return False
        cost = leaves.seconds_per_position * (rows + 1)
        return time.monotonic() + cost >= limits.deadline

    def _root(self, board: cshogi.Board) -> Node:
        """The root of ``board``: the reused node if the network evaluated it, else a new one
        (then evaluated with ``_evaluated_root`` when it has legal moves)."""
        root = self.root
        if root is None or root.priors is None:
            root = Node([int(m) for m in board.legal_moves])
            self.nodes += 1
            self.root = root
        root.terminal = None
        return root

    def _evaluated_root(
        self, root: Node, color: int, logits: npt.NDArray[np.float32], value: float
    ) -> None:
        """The network's outputs at a new root (``color``: its side to move)."""
        priors = priors_of(logits, root.moves, color, self.config.policy_temperature)
        root.priors = priors.astype(np.float32)
        root.visits, root.value_sum = 1, value

    def _begin(
        self, board: cshogi.Board, limits: Limits, root: Node, started: float
    ) -> SearchResult | _Run:
        """The search of ``board`` from its evaluated ``root``: decided at once (no legal
        move, nyugyoku, a root mate, one legal move), or a run to play out."""
        moves = [int(m) for m in root.moves]
        if not moves:
            return self._result(root, 0, 0, started)
        if board.is_nyugyoku():
            result = self._result(root, 0, 0, started)
            result.nyugyoku = True
            return result
        mate = self._root_mate(board, moves, limits.deadline) if self.config.mate_check else None
        if mate is not None:
            result = self._result(root, 0, 0, started)
            result.best, result.pv, result.mate = mate[0], mate[1], len(mate[1])
            return result
        if len(moves) == 1 and not limits.infinite:
            return self._result(root, 0, 0, started)
        self._filter_root(board, root)
        # At least one batch (unless stopped or asked for none): a move is never chosen on
        # the priors alone because the clock was already short.
        first = not limits.stop.is_set() and (limits.playouts is None or limits.playouts > 0)
        return _Run(board, limits, root, started, first)

    def _running(self, run: _Run) -> bool:
        """Whether ``run`` plays out another batch."""
        return (run.first or not run.limits.done(run.done)) and self.nodes < self.config.max_nodes

    def _collect(self, run: _Run, leaves: LeafBatch, offset: int) -> None:
        """``run``'s next batch: playouts until the batch is full, a collision or the clock
        ends it; terminal leaves are backed up at once, new ones written to ``leaves`` from
        row ``offset`` on and kept in ``run.pending``."""
        run.first = False
        cfg = self.config
        vl = cfg.virtual_loss
        limits = run.limits
        room = cfg.batch_size
        if limits.playouts is not None and not limits.infinite:
            room = min(room, limits.playouts - run.done)
        pending = run.pending
        collected = 0
        while collected < room and not (
            collected and self._batch_late(limits, leaves, offset + len(pending))
        ):
            path, leaf, color = self._playout(run.root, run.board, leaves, offset + len(pending))
            run.seldepth = max(run.seldepth, len(path))
            if color is None:  # a collision: the leaf waits in this batch
                for node, idx in path:
                    n, w = node.stats()
                    n[idx] -= vl
                    w[idx] += vl
                break
            collected += 1
            if leaf.terminal is not None:
                backup(path, leaf, leaf.terminal, vl)
                run.done += 1
            else:  # new: its planes were written at row offset + len(pending)
                pending.append((path, leaf, color))

    def _absorb(
        self, run: _Run, logits: npt.NDArray[np.float32], values: npt.NDArray[np.float32]
    ) -> None:
        """Back up ``run.pending`` from the network's rows ``run.offset`` on."""
        cfg = self.config
        for k, (path, leaf, color) in enumerate(run.pending, start=run.offset):
            priors = priors_of(logits[k], leaf.moves, color, cfg.policy_temperature)
            leaf.priors = priors.astype(np.float32)
            backup(path, leaf, float(values[k]), cfg.virtual_loss)
        run.evaluations += len(run.pending)
        run.done += len(run.pending)
        run.pending = []

    def _finish(self, run: _Run) -> SearchResult:
        return self._result(run.root, run.done, run.seldepth, run.started, run.evaluations)

    def _root_mate(
        self, board: cshogi.Board, moves: list[int], deadline: float | None
    ) -> tuple[int, list[int]] | None:
        mate = mate_in_one(board, moves)
        if mate:
            return mate, [mate]
        if (
            self.config.mate_nodes > 0
            and not board.is_check()
            and self._dfpn_mates(board, deadline)
        ):
            dfpn = self._dfpn
            move = int(dfpn.get_move(board))
            if move in moves:
                pv = [int(m) for m in dfpn.get_pv(board)]
                return move, pv if pv and pv[0] == move else [move]
        return None

    def _dfpn_mates(self, board: cshogi.Board, deadline: float | None) -> bool:
        """The df-pn mate check at the root, with at most ``mate_nodes`` nodes and, on the
        clock, at most ``MATE_SHARE`` of the time left: cshogi's DfPn holds the GIL and has
        no time limit, so its node budget is what the measured rate allows in that time
        (a first probe of ``MATE_PROBE`` nodes, then larger budgets while time is left).
        Without a deadline: one search of ``mate_nodes`` nodes."""
        nodes = self.config.mate_nodes
        dfpn = self._dfpn
        budget = nodes if deadline is None else min(nodes, self._dfpn_budget(deadline))
        while True:
            dfpn.set_max_search_node(max(1, budget))
            began = time.monotonic()
            if dfpn.search(board):
                return True
            spent = time.monotonic() - began
            searched = int(dfpn.searched_node)
            if spent > 0.001:
                self._dfpn_rate = searched / spent
            if deadline is None or searched < budget or budget >= nodes:
                return False  # disproved, or the node budget spent
            more = min(nodes, self._dfpn_budget(deadline))
            if more <= budget:
                return False  # out of time
            budget = more

    def _dfpn_budget(self, deadline: float) -> int:
        """df-pn nodes that fit in ``MATE_SHARE`` of the time to ``deadline``."""
        if self._dfpn_rate is None:
            return MATE_PROBE
        left = max(0.0, deadline - time.monotonic()) * MATE_SHARE
        return int(self._dfpn_rate * left)

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

    def _playout(
        self, root: Node, board: cshogi.Board, leaves: LeafBatch, row: int
    ) -> tuple[Path, Node, int | None]:
        """One descent to a leaf, with virtual losses along its path; ``board`` is restored.

        Returns (path, leaf, the leaf's side to move), the side None for a collision (a
        leaf created earlier in this batch, still waiting for the network). A new leaf
        that is not terminal has its planes written at ``row`` of ``leaves``.
        """
        cfg = self.config
        path, leaf, created = descend(
            root,
            board,
            lambda node, _depth: puct_child(node, cfg.c_puct, cfg.fpu_reduction),
            self.max_plies,
        )
        color: int | None = int(board.turn)
        if created:
            self.nodes += 1
            if leaf.terminal is None:
                leaves.write(row, board)
        elif leaf.terminal is None:
            color = None
        for node, idx in path:
            n, w = node.stats()
            n[idx] += cfg.virtual_loss
            w[idx] -= cfg.virtual_loss
            board.pop()
        return path, leaf, color

    def _result(
        self, root: Node, playouts: int, seldepth: int, started: float, evaluations: int = 0
    ) -> SearchResult:
        moves = [int(m) for m in root.moves]
        n, w = root.stats()
        visits = np.rint(n).astype(np.int64)
        with np.errstate(invalid="ignore"):
            q = w / n  # 0 / 0: NaN where never visited
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
            j = int(np.argmax(node.n))  # visited: visits > 1 means a playout went through
            line.append(int(node.moves[j]))
            node = node.children.get(j)
        return line


def search_rate(search: PUCTSearch, sfen: str, seconds: float) -> tuple[float, float]:
    """(playouts/s, mean leaves per network call) of one search of ``sfen`` from a fresh
    tree for about ``seconds``, without a playout limit."""
    search.reset()
    board = search.set_position(sfen, [])
    calls = search.leaves.calls
    result = search.search(board, Limits(deadline=time.monotonic() + seconds))
    calls = search.leaves.calls - calls - 1  # not the root's own evaluation
    search.reset()
    return result.nps, result.evaluations / max(1, calls)
