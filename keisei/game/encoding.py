"""Observation and action encoding, taken from cshogi's dlshogi features.

Observations are dlshogi's 62 + 57 = 119 binary planes over the 9x9 board, always seen
from the side to move. Actions are dlshogi's move labels: ``direction * 81 + square``
with 27 move kinds (10 directions, 10 promoting directions, 7 drops), so 2187 ids that
map onto a policy head of 27 planes over the 81 squares.

The environment writes both for whole batches in C++ (``keisei.game._games``); the functions
here are the one-position versions, straight from cshogi.
"""

from __future__ import annotations

import cshogi
import numpy as np
import numpy.typing as npt
from cshogi import dlshogi

NUM_PLANES: int = int(dlshogi.FEATURES1_NUM + dlshogi.FEATURES2_NUM)  # 119
NUM_MOVE_KINDS: int = 27
NUM_ACTIONS: int = NUM_MOVE_KINDS * 81  # 2187
OBS_SHAPE: tuple[int, int, int] = (NUM_PLANES, 9, 9)
PACKED_OBS_BYTES: int = (NUM_PLANES * 81 + 7) // 8  # 1205
PACKED_MASK_BYTES: int = (NUM_ACTIONS + 7) // 8  # 274


class ActionCollisionError(RuntimeError):
    """Two legal moves of one position got the same action id (must never happen)."""


def move_label(move: int, color: int) -> int:
    """The action id of one move for the given side to move."""
    return int(dlshogi.make_move_label(move, color))


def write_features(board: cshogi.Board, out: npt.NDArray[np.float32]) -> None:
    """Fill ``out`` (shape (119, 81), float32, C-contiguous) with the board's planes."""
    dlshogi.make_input_features(board, out[: dlshogi.FEATURES1_NUM], out[dlshogi.FEATURES1_NUM :])


def pack_obs(obs: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """(B, 119, 9, 9) 0/1 uint8 -> (B, 1205) bit-packed."""
    return np.packbits(obs.reshape(obs.shape[0], -1), axis=1)


def unpack_obs(packed: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """(B, 1205) bit-packed -> (B, 119, 9, 9) 0/1 uint8."""
    flat = np.unpackbits(packed, axis=1, count=NUM_PLANES * 81)
    return flat.reshape(packed.shape[0], *OBS_SHAPE)


def pack_mask(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    return np.packbits(mask, axis=1)


def unpack_mask(packed: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    return np.unpackbits(packed, axis=1, count=NUM_ACTIONS).astype(bool)
