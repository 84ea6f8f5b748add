"""Leaf batches: the positions a search sends to the network in one call.

``LeafBatch`` owns a planes buffer of a fixed number of rows; a search writes each new
leaf's planes into the next row (``write``) and then runs the network once over them
(``run``). ``Forward`` is the network seen from a search: uint8 planes (B, 119, 9, 9) in,
float32 logits (B, 2187) and values (B,) out. The Gumbel self-play search is given the
trainer's (``PPOAgent.outputs``); a search over a bare model uses ``NetworkForward``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import cshogi
import numpy as np
import numpy.typing as npt
import torch

from keisei.config import shown
from keisei.game.encoding import NUM_PLANES, write_features
from keisei.rl.network import model_device, obs_to_tensor

Outputs = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]
Forward = Callable[[npt.NDArray[np.uint8]], Outputs]


def check_device(text: str) -> str:
    """``text`` if it names a device a network can run on here: ``cpu``, ``cuda`` or
    ``cuda:N`` of a CUDA device that exists; else ValueError saying why (``meta`` was
    accepted by the USI engine, and every later search failed)."""
    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise ValueError(f"unknown device {shown(text)} (use cpu, cuda or cuda:N)") from None
    if dev.type == "cpu":
        return text
    if dev.type != "cuda":
        raise ValueError(f"device {shown(text)}: only cpu and cuda are supported")
    if not torch.cuda.is_available():
        raise ValueError(f"{shown(text)}: no CUDA device is available")
    count = torch.cuda.device_count()
    if dev.index is not None and dev.index >= count:
        raise ValueError(f"{shown(text)}: this machine has {count} CUDA device(s)")
    return text


class NetworkForward:
    """A policy-value model as a ``Forward``, in inference mode on ``device``."""

    def __init__(self, model: Any, device: str | None = None) -> None:
        self.model = model
        self.device = device if device is not None else model_device(model)

    def __call__(self, obs: npt.NDArray[np.uint8]) -> Outputs:
        with torch.inference_mode():
            out = self.model(obs_to_tensor(obs, self.device))
        logits: npt.NDArray[np.float32] = out.logits.float().cpu().numpy()
        values: npt.NDArray[np.float32] = out.value.float().cpu().numpy()
        return logits, values


class LeafBatch:
    """Up to ``capacity`` leaves' planes and the network call over them.

    ``full_batch``: every call sends all ``capacity`` rows (rows past the leaves written
    are stale and ignored), one shape for every call, which compiled models and CUDA
    graphs need; otherwise only the rows written.
    """

    def __init__(self, forward: Forward, capacity: int, full_batch: bool = False) -> None:
        self.forward = forward
        self.full_batch = full_batch
        self.planes = np.zeros((capacity, NUM_PLANES, 81), dtype=np.float32)
        self.calls = 0
        # Seconds per position of the last call: what a search on the clock expects the
        # next batch to cost (the fixed cost of a small call makes it an overestimate).
        self.seconds_per_position = 0.0

    @property
    def capacity(self) -> int:
        return int(self.planes.shape[0])

    def resize(self, capacity: int) -> None:
        if self.capacity != capacity:
            self.planes = np.zeros((capacity, NUM_PLANES, 81), dtype=np.float32)

    def write(self, slot: int, board: cshogi.Board) -> None:
        write_features(board, self.planes[slot])

    def run(self, count: int) -> Outputs:
        """(logits, values) of the first ``count`` rows written (and, with ``full_batch``,
        of the stale rows after them)."""
        rows = self.capacity if self.full_batch else count
        began = time.monotonic()
        obs = self.planes[:rows].astype(np.uint8).reshape(rows, NUM_PLANES, 9, 9)
        logits, values = self.forward(obs)
        self.seconds_per_position = (time.monotonic() - began) / max(rows, 1)
        self.calls += 1
        return logits, values


def inference_rate(leaves: LeafBatch, batch_size: int, seconds: float) -> float:
    """The network's samples/s on batches of ``batch_size`` (the planes last written)."""
    if leaves.capacity < batch_size:
        leaves.resize(batch_size)
    leaves.run(batch_size)
    count = 0
    begin = time.monotonic()
    while time.monotonic() - begin < seconds:
        leaves.run(batch_size)
        count += batch_size
    return count / (time.monotonic() - begin)
