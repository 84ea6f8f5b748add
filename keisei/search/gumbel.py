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
* **Terminal positions** are exact, without the network, by the search's terminal rule
  (``keisei.search.tree.new_node``, the one PUCT uses too), with the game's ply limit
  (``env.max_plies``).

The tree (``keisei.search.tree``) is built afresh for each move (nothing is kept between
moves); the selection functions are in ``keisei.search.select``, and each simulation's
leaves of all games go to the network as one ``LeafBatch``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cshogi
import numpy as np
import numpy.typing as npt
import torch

from keisei.config import GumbelSection
from keisei.game.encoding import NUM_ACTIONS
from keisei.search.leaves import Forward, LeafBatch
from keisei.search.select import (
    considered_visits,
    gumbel_interior_child,
    gumbel_root_child,
    sigma_q,
)
from keisei.search.tree import (
    FloatArray,
    IntArray,
    Node,
    Path,
    backup,
    descend,
    labels_of,
    log_softmax,
    softmax,
)


@dataclass
class SearchOutput:
    """One search per game: what the trainer stores and plays."""

    actions: npt.NDArray[np.int64]  # (B,) action ids to play
    targets: npt.NDArray[np.float32]  # (B, 2187) improved policy over the legal actions
    logp: npt.NDArray[np.float32]  # (B,) the network's log-probability of each action
    values: npt.NDArray[np.float32]  # (B,) the network's value of each root
    root_q: npt.NDArray[np.float32]  # (B,) the searched value of the chosen move


def gumbel_noise(generator: torch.Generator, count: int) -> FloatArray:
    """``count`` standard Gumbel draws, ``-log(-log(U))``, from ``generator``."""
    u = torch.rand(count, generator=generator, dtype=torch.float64).numpy()
    noise: FloatArray = -np.log(-np.log(np.clip(u, 1e-300, 1.0 - 1e-16)))
    return noise


def _evaluated(node: Node, labels: IntArray, logits: npt.NDArray[np.float32], value: float) -> None:
    """The network's outputs at ``node`` (``labels``: its moves' action ids)."""
    node.logits = log_softmax(logits[labels].astype(np.float64))
    node.priors = np.exp(node.logits)
    node.value = value


class GumbelSearch:
    """Gumbel AlphaZero's root search and improved policy over a batch of games."""

    def __init__(self, cfg: GumbelSection, forward: Forward, max_plies: int | None = None) -> None:
        """``forward``: the network (``keisei.search.leaves.Forward``); ``max_plies``: a
        position after that many plies of its game (the length of its board's history) is
        a draw, as ``ShogiEnv`` scores it; None: no limit."""
        if cfg.simulations < 1:
            raise ValueError(f"simulations must be >= 1, got {cfg.simulations}")
        self.cfg = cfg
        self.forward = forward
        self.max_plies = max_plies
        self.evaluations = 0  # positions sent to the network (roots excluded)

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
        roots = [Node([int(m) for m in b.legal_moves]) for b in boards]
        labels = [labels_of(r.moves, int(b.turn)) for r, b in zip(roots, boards, strict=True)]
        for b, root in enumerate(roots):
            if not len(root.moves):
                raise ValueError(f"game {b} has no legal move: a finished game was searched")
            _evaluated(root, labels[b], root_logits[b], float(root_values[b]))
        # One draw for all the games' legal moves: the stream does not depend on the search.
        sizes = [len(r.moves) for r in roots]
        noise = gumbel_noise(generator, sum(sizes))
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        gumbel = [noise[offsets[b] : offsets[b + 1]] for b in range(count)]
        schedules = [
            considered_visits(min(cfg.considered, len(r.moves)), cfg.simulations) for r in roots
        ]
        leaves = LeafBatch(self.forward, count, full_batch=True)
        for sim in range(cfg.simulations):
            pending: list[tuple[Path, Node, int]] = []
            for b, (board, root) in enumerate(zip(boards, roots, strict=True)):
                if len(root.moves) == 1:
                    continue  # forced: nothing to learn, nothing to search

                def select(node: Node, depth: int, b: int = b, sim: int = sim) -> int:
                    if depth == 0:
                        return gumbel_root_child(
                            node, gumbel[b], schedules[b][sim], cfg.c_visit, cfg.c_scale
                        )
                    return gumbel_interior_child(node, cfg.c_visit, cfg.c_scale)

                path, node, created = descend(root, board, select, self.max_plies)
                if created and node.terminal is None:
                    leaves.write(len(pending), board)
                    pending.append((path, node, int(board.turn)))
                for _ in path:
                    board.pop()
                if node.terminal is not None:
                    backup(path, node, node.terminal)
            if pending:
                logits, values = leaves.run(len(pending))
                self.evaluations += len(pending)
                for k, (path, node, color) in enumerate(pending):
                    _evaluated(node, labels_of(node.moves, color), logits[k], float(values[k]))
                    backup(path, node, float(values[k]))
        return self._output(roots, labels, gumbel)

    def _output(
        self, roots: list[Node], labels: list[IntArray], gumbel: list[FloatArray]
    ) -> SearchOutput:
        cfg = self.cfg
        count = len(roots)
        actions = np.zeros(count, dtype=np.int64)
        targets = np.zeros((count, NUM_ACTIONS), dtype=np.float32)
        logp = np.zeros(count, dtype=np.float32)
        values = np.zeros(count, dtype=np.float32)
        root_q = np.zeros(count, dtype=np.float32)
        for b, root in enumerate(roots):
            assert root.logits is not None
            n, w = root.stats()
            sigma = sigma_q(root, cfg.c_visit, cfg.c_scale)
            score = np.where(n == n.max(), gumbel[b] + root.logits + sigma, -np.inf)
            best = int(np.argmax(score))
            actions[b] = labels[b][best]
            targets[b, labels[b]] = softmax(root.logits + sigma)
            logp[b] = root.logits[best]
            values[b] = root.value
            visits = n[best]
            root_q[b] = w[best] / visits if visits > 0 else root.value
        return SearchOutput(actions, targets, logp, values, root_q)
