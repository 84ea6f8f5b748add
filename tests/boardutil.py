"""The network's input and legal-move mask of cshogi boards, as ``ShogiEnv`` gives them:
the one helper the search, Gumbel, PPO and watch tests build positions with."""

from __future__ import annotations

import cshogi
import numpy as np
import numpy.typing as npt

from keisei.game.encoding import NUM_ACTIONS, NUM_PLANES, move_label, write_features


def observations(boards: list[cshogi.Board]) -> npt.NDArray[np.uint8]:
    """(len(boards), 119, 9, 9) uint8 planes of ``boards``."""
    planes = np.zeros((len(boards), NUM_PLANES, 81), np.float32)
    for board, out in zip(boards, planes, strict=True):
        write_features(board, out)
    return planes.astype(np.uint8).reshape(len(boards), NUM_PLANES, 9, 9)


def legal_masks(boards: list[cshogi.Board]) -> npt.NDArray[np.bool_]:
    """(len(boards), 2187) bool: the action labels of each board's legal moves."""
    masks = np.zeros((len(boards), NUM_ACTIONS), bool)
    for row, board in zip(masks, boards, strict=True):
        row[[move_label(m, board.turn) for m in board.legal_moves]] = True
    return masks
