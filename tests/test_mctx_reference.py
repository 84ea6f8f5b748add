"""keisei's Gumbel search against DeepMind's mctx on identical small trees.

``tests/data/mctx_gumbel.json`` holds what ``mctx.gumbel_muzero_policy`` did in six
searches of four real Shogi positions (scripts/mctx-reference says how the trees, the
table network and the Gumbel noise are made identical): its chosen move, improved
policy, root visits and q. Here the real ``GumbelSearch`` runs on the same positions,
with a ``Forward`` that answers from the same table and the noise drawn from a generator
of the same seed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cshogi
import numpy as np
import numpy.typing as npt
import pytest
import torch

from keisei.config import GumbelSection
from keisei.game.encoding import NUM_ACTIONS
from keisei.search.gumbel import GumbelSearch
from keisei.search.select import considered_visits
from keisei.search.tree import labels_of
from tests.boardutil import observations

DATA = json.loads((Path(__file__).parent / "data" / "mctx_gumbel.json").read_text())


class TableForward:
    """The fixture's network: each position's planes -> its logits and value."""

    def __init__(self, case: dict[str, Any]) -> None:
        self.table: dict[bytes, tuple[npt.NDArray[np.float32], float]] = {}
        for entry in case["network"]:
            board = cshogi.Board(case["sfen"])
            for move in entry["path"]:
                board.push_usi(move)
            logits = np.full(NUM_ACTIONS, -1e9, np.float32)
            logits[labels_of(list(board.legal_moves), board.turn)] = entry["logits"]
            self.table[self.planes(board).tobytes()] = (logits, entry["value"])

    @staticmethod
    def planes(board: cshogi.Board) -> npt.NDArray[np.uint8]:
        return observations([board])[0]

    def __call__(
        self, obs: npt.NDArray[np.uint8]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        rows = [self.table[row.tobytes()] for row in obs]  # KeyError: a position mctx never saw
        return np.stack([r[0] for r in rows]), np.array([r[1] for r in rows], np.float32)


def test_sequential_halving_schedule_is_mctxs() -> None:
    for key, expected in DATA["considered_visits"].items():
        considered, simulations = map(int, key.split(","))
        assert list(considered_visits(considered, simulations)) == expected, key


@pytest.mark.parametrize(
    "case", DATA["cases"], ids=lambda c: f"{c['simulations']}sims-seed{c['seed']}"
)
def test_gumbel_search_matches_mctx(case: dict[str, Any]) -> None:
    board = cshogi.Board(case["sfen"])
    forward = TableForward(case)
    root_logits, root_values = forward(TableForward.planes(board)[None])
    settings = GumbelSection(
        simulations=case["simulations"],
        considered=case["considered"],
        c_visit=case["c_visit"],
        c_scale=case["c_scale"],
    )
    search = GumbelSearch(settings, forward)
    out = search.run([board], root_logits, root_values, torch.Generator().manual_seed(case["seed"]))
    assert board.sfen() == cshogi.Board(case["sfen"]).sfen()
    reference = case["mctx"]
    moves = list(board.legal_moves)
    labels = labels_of(moves, board.turn)
    assert cshogi.move_to_usi(moves[list(labels).index(int(out.actions[0]))]) == reference["action"]
    assert out.targets[0, labels].tolist() == pytest.approx(reference["action_weights"], abs=1e-6)
    assert out.targets[0].sum() == pytest.approx(1.0, abs=1e-6)
    # Every position mctx's search evaluated, keisei's did too (the root excluded).
    assert search.evaluations == len(case["network"]) - 1
    # The move played is among the most visited; root_q is its searched value, mctx's q.
    chosen = moves.index(board.move_from_usi(reference["action"]))
    assert reference["visit_counts"][chosen] == max(reference["visit_counts"])
    assert float(out.root_q[0]) == pytest.approx(reference["qvalues"][chosen], abs=1e-6)
