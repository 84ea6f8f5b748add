"""The PUCT search as a player: ``search:CHECKPOINT[playouts=64,...]``.

Each game the player is in gets its own search tree (``keisei.search.mcts.PUCTSearch``),
kept between its moves and dropped at ``new_game``; the network is shared. Games are
searched one after the other, each with its leaves batched (``batch``). With temperature 0
the player is deterministic: the same position and tree give the same move.

Settings in the bracket (all optional): ``playouts`` (per move, default 64), ``batch``
(leaves per network call, default 16), ``cpuct`` (1.5), ``fpu`` (the FPU reduction, 0.2),
``temperature`` (0: most visits; else drawn with ``visits^(1/T)``), ``mate_nodes`` (df-pn
nodes of the root mate check, 10000; 0: mate in one only).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import cshogi
import numpy as np

from keisei.evaluation.players import IntArray, Moves, Player, PlayerError
from keisei.game.encoding import move_label
from keisei.game.env import ShogiEnv, StepResult
from keisei.search.mcts import Limits, PUCTSearch, SearchConfig


@dataclass(frozen=True)
class SearchSettings:
    playouts: int = 64
    batch: int = 16
    cpuct: float = 1.5
    fpu: float = 0.2
    temperature: float = 0.0
    mate_nodes: int = 10_000

    def config(self) -> SearchConfig:
        return SearchConfig(
            batch_size=self.batch,
            c_puct=self.cpuct,
            fpu_reduction=self.fpu,
            mate_nodes=self.mate_nodes,
        )

    def describe(self) -> str:
        """The settings that differ from the defaults, plus playouts: ``playouts=64,...``."""
        default = SearchSettings()
        parts = [f"playouts={self.playouts}"]
        for name in ("batch", "cpuct", "fpu", "temperature", "mate_nodes"):
            value = getattr(self, name)
            if value != getattr(default, name):
                parts.append(f"{name}={value:g}")
        return ",".join(parts)


_INTS = {"playouts": 1, "batch": 1, "mate_nodes": 0}  # name -> smallest value
_FLOATS = {"cpuct": False, "fpu": True, "temperature": True}  # name -> zero allowed


def parse_search_spec(text: str) -> tuple[str, SearchSettings]:
    """``PATH[playouts=64,batch=16,...]`` -> (PATH, settings); PlayerError if malformed."""
    start = text.find("[", text.rfind(os.sep) + 1)
    if start < 0:
        return text, SearchSettings()
    if not text.endswith("]"):
        raise PlayerError(f"search spec {text!r}: the settings bracket is not closed")
    path, inner = text[:start], text[start + 1 : -1]
    values: dict[str, Any] = {}
    for item in inner.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        name = name.strip().lower()
        if not sep or (name not in _INTS and name not in _FLOATS):
            known = ", ".join([*_INTS, *_FLOATS])
            raise PlayerError(f"search setting {item.strip()!r}: expected NAME=VALUE, {known}")
        try:
            if name in _INTS:
                number: float = int(value)
                ok = number >= _INTS[name]
            else:
                number = float(value)
                ok = np.isfinite(number) and (number > 0 or (_FLOATS[name] and number == 0))
        except ValueError:
            ok = False
        if not ok:
            raise PlayerError(f"search setting {item.strip()!r}: not a valid {name}")
        values[name] = number
    return path, SearchSettings(**values)


class SearchPlayer(Player):
    """Moves chosen by PUCT search over a checkpoint's network (one tree per game)."""

    def __init__(
        self,
        model: Any,
        name: str,
        settings: SearchSettings | None = None,
        seed: int | np.random.SeedSequence = 0,
        device: str | None = None,
    ) -> None:
        self.model = model
        self.name = name
        self.settings = settings or SearchSettings()
        self.deterministic = self.settings.temperature == 0.0
        self.device = device
        seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self._seed = int(seq.generate_state(1)[0])
        self._searches: dict[int, PUCTSearch] = {}
        self._was_training: bool | None = None

    def open(self) -> None:
        self._was_training = bool(self.model.training)
        self.model.eval()

    def close(self) -> None:
        self._searches.clear()
        if self._was_training is not None:
            self.model.train(self._was_training)
            self._was_training = None

    def new_game(self, slot: int) -> None:
        search = self._searches.get(slot)
        if search is not None:
            search.reset()

    def search_of(self, slot: int) -> PUCTSearch:
        search = self._searches.get(slot)
        if search is None:
            config = self.settings.config()
            search = PUCTSearch(self.model, config, self.device, seed=self._seed + slot)
            self._searches[slot] = search
        return search

    def choose(self, slot: int, board: cshogi.Board) -> int:
        """The cshogi move this player plays in ``board`` (game ``slot``)."""
        history = [int(m) for m in board.history]
        start = board.copy()
        for _ in history:
            start.pop()
        search = self.search_of(slot)
        position = search.set_position(start.sfen(), history)
        result = search.search(position, Limits(playouts=self.settings.playouts))
        move = search.choose(result, self.settings.temperature)
        if move is None:
            raise PlayerError(f"search found no legal move in {board.sfen()}")
        return move

    def act(self, env: ShogiEnv, step: StepResult, slots: IntArray) -> Moves:
        boards = env.boards()
        actions = np.empty(slots.size, dtype=np.int64)
        for k, slot in enumerate(slots.tolist()):
            board = boards[slot]
            actions[k] = move_label(self.choose(slot, board), board.turn)
        return Moves(actions)
