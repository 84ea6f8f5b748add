"""Selection: which move a playout takes at a node (``keisei.search.tree.descend``).

* **PUCT** (``puct_child``): ``argmax Q + c_puct * P * sqrt(N) / (1 + n)`` with
  ``Q = w / n``; an unvisited move gets the first-play urgency ``Q(node) - fpu_reduction *
  sqrt(sum of the visited moves' priors)`` (Leela's FPU reduction). Ties go to the first
  legal move in cshogi's order.
* **Gumbel root** (``gumbel_root_child``): sequential halving over the moves with the
  largest ``g + logits`` (``considered_visits``), each simulation to the best by
  ``g + logits + sigma(q)`` among the moves visited as often as the schedule says.
* **Gumbel interior** (``gumbel_interior_child``): deterministic,
  ``argmax(pi'(a) - n(a) / (1 + N))`` with ``pi' = softmax(logits + sigma(completed q))``
  (``improved_policy``).

The Gumbel functions follow DeepMind's ``mctx`` (``gumbel_muzero_policy``); the module
docstring of ``keisei.search.gumbel`` has the details.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from keisei.search.tree import FloatArray, Node, softmax


def puct_child(node: Node, c_puct: float, fpu_reduction: float) -> int:
    """The PUCT choice at an evaluated ``node``."""
    priors = node.priors
    assert priors is not None
    n, w = node.stats()
    total = float(n.sum())
    visited = n > 0
    fpu = node.q - fpu_reduction * math.sqrt(float(priors[visited].sum()))
    q = np.where(visited, w / np.where(visited, n, 1.0), fpu)
    u = (c_puct * (math.sqrt(total) if total > 0 else 1.0)) * priors / (1.0 + n)
    return int(np.argmax(q + u))


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


def sigma_q(node: Node, c_visit: float, c_scale: float) -> FloatArray:
    """``sigma(completed q)`` of a node's moves (mctx ``qtransform_completed_by_mix_value``)."""
    assert node.priors is not None
    n, w = node.stats()
    visited = n > 0
    total = float(n.sum())
    if total > 0:
        priors = node.priors
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


def improved_policy(node: Node, c_visit: float, c_scale: float) -> FloatArray:
    """``pi' = softmax(logits + sigma(completed q))`` over the node's moves."""
    assert node.logits is not None
    return softmax(node.logits + sigma_q(node, c_visit, c_scale))


def gumbel_interior_child(node: Node, c_visit: float, c_scale: float) -> int:
    pi = improved_policy(node, c_visit, c_scale)
    n, _ = node.stats()
    return int(np.argmax(pi - n / (1.0 + float(n.sum()))))


def gumbel_root_child(
    root: Node, gumbel: FloatArray, visits: int, c_visit: float, c_scale: float
) -> int:
    """The root move to simulate: among those visited ``visits`` times (the schedule's
    count for this simulation), the best by ``g + logits + sigma(q)``."""
    assert root.logits is not None
    score = gumbel + root.logits + sigma_q(root, c_visit, c_scale)
    n, _ = root.stats()
    return int(np.argmax(np.where(n == visits, score, -np.inf)))
