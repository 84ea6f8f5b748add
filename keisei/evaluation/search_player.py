"""The PUCT search as a player: ``search:CHECKPOINT[playouts=64,...]``.

Each game the player is in gets its own search tree (``keisei.search.mcts.PUCTSearch``),
kept between its moves and dropped at ``new_game``; the network is shared. The games it
is to move in are searched in lockstep (``PUCTSearch.lockstep``): each round, every game's
next batch of leaves (``batch`` per game) goes to the network in one call. Each tree gets
the same leaves in the same order as a search of its game alone; only the network's batch
sizes differ, which on a CPU can change the outputs' last bits. Each game is searched with
the match's ply limit (``env.max_plies``). With temperature 0 the player is deterministic:
the same positions and trees give the same moves.

Settings in the bracket (all optional) are aliases of ``keisei.config.SearchSettings``
fields (``SPEC_KEYS``), which hold their defaults and checks: ``playouts`` (per move, 64),
``batch`` (leaves per network call, 16), ``cpuct`` (1.5), ``fpu`` (the FPU reduction,
0.2), ``temperature`` (0: most visits; else drawn with ``visits^(1/T)``), ``mate_nodes``
(df-pn nodes of the root mate check, 10000; 0: mate in one only).
"""

from __future__ import annotations

import os
from typing import Any

import cshogi
import numpy as np

from keisei.config import SearchSettings
from keisei.evaluation.players import IntArray, Moves, Player, PlayerError
from keisei.game.encoding import move_label
from keisei.game.env import ShogiEnv, StepResult
from keisei.search.leaves import Forward, LeafBatch, NetworkForward
from keisei.search.mcts import Limits, PUCTSearch, SearchResult

# Spec key -> SearchSettings field, in the order ``describe_search`` writes them.
SPEC_KEYS = {
    "playouts": "playouts",
    "batch": "batch_size",
    "cpuct": "c_puct",
    "fpu": "fpu_reduction",
    "temperature": "temperature",
    "mate_nodes": "mate_nodes",
}


def describe_search(settings: SearchSettings) -> str:
    """The settings that differ from the defaults, plus playouts: ``playouts=64,...``."""
    default = SearchSettings()
    parts = [f"playouts={settings.playouts}"]
    for key, name in list(SPEC_KEYS.items())[1:]:
        value = getattr(settings, name)
        if value != getattr(default, name):
            parts.append(f"{key}={value:g}")
    return ",".join(parts)


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
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in SPEC_KEYS:
            known = ", ".join(sorted(SPEC_KEYS, key=lambda k: not _is_int(SPEC_KEYS[k])))
            raise PlayerError(f"search setting {item.strip()!r}: expected NAME=VALUE, {known}")
        try:
            values[SPEC_KEYS[key]] = SearchSettings.value_of(SPEC_KEYS[key], value)
        except ValueError:
            raise PlayerError(f"search setting {item.strip()!r}: not a valid {key}") from None
    return path, SearchSettings(**values)


def _is_int(field: str) -> bool:
    return SearchSettings.model_fields[field].annotation is int


class SearchPlayer(Player):
    """Moves chosen by PUCT search over a checkpoint's network (one tree per game)."""

    def __init__(
        self,
        model: Any,
        name: str,
        settings: SearchSettings | None = None,
        seed: int | np.random.SeedSequence = 0,
        device: str | None = None,
        forward: Forward | None = None,
    ) -> None:
        """``forward``: the network the lockstep searches call (default: ``model`` on
        ``device``, as ``NetworkForward``)."""
        self.model = model
        self.name = name
        self.settings = settings or SearchSettings()
        self.deterministic = self.settings.temperature == 0.0
        self.device = device
        seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self._seed = int(seq.generate_state(1)[0])
        self._searches: dict[int, PUCTSearch] = {}
        self.leaves = LeafBatch(forward or NetworkForward(model, device), self.settings.batch_size)
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

    def search_of(self, slot: int, max_plies: int | None = None) -> PUCTSearch:
        """Game ``slot``'s search, its terminal rule with the ply limit ``max_plies``."""
        search = self._searches.get(slot)
        if search is None:
            seed = self._seed + slot
            search = PUCTSearch(self.model, self.settings, self.device, seed, max_plies)
            self._searches[slot] = search
        elif search.max_plies != max_plies:  # another match: its tree was scored otherwise
            search.max_plies = max_plies
            search.reset()
        return search

    def position(
        self, slot: int, board: cshogi.Board, max_plies: int | None = None
    ) -> tuple[PUCTSearch, cshogi.Board]:
        """Game ``slot``'s search set to ``board`` (of a game drawn after ``max_plies``
        plies), and the board to search."""
        history = [int(m) for m in board.history]
        start = board.copy()
        for _ in history:
            start.pop()
        search = self.search_of(slot, max_plies)
        return search, search.set_position(start.sfen(), history)

    def choose(self, slot: int, board: cshogi.Board, max_plies: int | None = None) -> int:
        """The cshogi move this player plays in ``board`` (game ``slot``), searched alone."""
        search, position = self.position(slot, board, max_plies)
        result = search.search(position, Limits(playouts=self.settings.playouts))
        return self._move(search, result, board)

    def act(self, env: ShogiEnv, step: StepResult, slots: IntArray) -> Moves:
        boards = env.boards()
        jobs = []
        for slot in slots.tolist():
            search, position = self.position(slot, boards[slot], env.max_plies)
            jobs.append((search, position, Limits(playouts=self.settings.playouts)))
        results = PUCTSearch.lockstep(jobs, self.leaves)
        actions = np.empty(slots.size, dtype=np.int64)
        for k, (slot, (search, _, _), result) in enumerate(
            zip(slots.tolist(), jobs, results, strict=True)
        ):
            board = boards[slot]
            actions[k] = move_label(self._move(search, result, board), board.turn)
        return Moves(actions)

    def _move(self, search: PUCTSearch, result: SearchResult, board: cshogi.Board) -> int:
        move = search.choose(result, self.settings.temperature)
        if move is None:
            raise PlayerError(f"search found no legal move in {board.sfen()}")
        return move
