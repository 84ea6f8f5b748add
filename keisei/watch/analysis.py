"""The network's view of one position: its value for the side to move and its most probable
legal moves, from a checkpoint's model (``keisei.training.checkpoint.load_model``, on the
CPU, one position at a time), through the policy every network player uses
(``keisei.rl.policy.MaskedCategorical``). The models are cached by file and its stamp."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import cshogi
import numpy as np
import torch
from cshogi import KIF

from keisei.game.encoding import NUM_ACTIONS, NUM_PLANES, move_label, write_features
from keisei.rl.network import ActorCritic, obs_to_tensor
from keisei.rl.policy import MaskedCategorical
from keisei.training.checkpoint import load_model

TOP_MOVES = 5
CACHED_MODELS = 4


class Analyst:
    """Loaded models by checkpoint file, the most recent ``CACHED_MODELS`` of them."""

    def __init__(self) -> None:
        self._models: OrderedDict[tuple[Path, int, int], ActorCritic] = OrderedDict()
        self._lock = threading.Lock()

    def model(self, path: Path) -> ActorCritic:
        st = path.stat()
        key = (path, st.st_size, st.st_mtime_ns)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        model, _ = load_model(path, device="cpu")
        with self._lock:
            self._models[key] = model
            while len(self._models) > CACHED_MODELS:
                self._models.popitem(last=False)
        return model

    def analyse(self, path: Path, sfen: str, previous: int | None = None) -> dict[str, Any]:
        """``value`` in [-1, 1] for the side to move, and the top moves with probabilities;
        ``previous`` (the move before) lets the KIF notation say 同."""
        board = cshogi.Board(sfen)
        legal = list(board.legal_moves)
        if not legal:
            return {"value": None, "moves": [], "turn": "black" if board.turn == 0 else "white"}
        planes = np.zeros((NUM_PLANES, 81), dtype=np.float32)
        write_features(board, planes)
        obs = planes.astype(np.uint8).reshape(1, NUM_PLANES, 9, 9)
        turn = int(board.turn)
        labels = [move_label(m, turn) for m in legal]
        mask = np.zeros((1, NUM_ACTIONS), dtype=bool)
        mask[0, labels] = True
        model = self.model(path)
        with torch.inference_mode():
            out = model(obs_to_tensor(obs, "cpu"))
            probs = MaskedCategorical(out.logits.float(), torch.as_tensor(mask)).probs[0]
        ranked = sorted(zip(legal, labels, strict=True), key=lambda ml: -float(probs[ml[1]]))
        moves = [
            {
                "usi": cshogi.move_to_usi(move),
                "kif": KIF.move_to_kif(move, previous),
                "p": float(probs[label]),
            }
            for move, label in ranked[:TOP_MOVES]
        ]
        return {
            "value": float(out.value[0]),
            "moves": moves,
            "turn": "black" if turn == 0 else "white",
        }
