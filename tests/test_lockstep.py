"""The PUCT search over several games in lockstep (``PUCTSearch.lockstep``, the ``search:``
player of a match): one network call per round for every game's leaves."""

from __future__ import annotations

import cshogi
import numpy as np
import numpy.typing as npt
import pytest

from keisei.config import SearchSettings
from keisei.evaluation.match import play_match
from keisei.evaluation.players import GreedyPlayer, Moves
from keisei.evaluation.search_player import SearchPlayer
from keisei.game.encoding import move_label
from keisei.game.env import ShogiEnv, StepResult
from keisei.search.leaves import LeafBatch, NetworkForward, Outputs
from keisei.search.mcts import Limits, PUCTSearch, SearchResult
from tests.evalutil import tiny_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# The start, a middle game, a position one legal reply away (decided without search) and a
# mate in one (decided at the root): four ways a game's search can go in one round.
POSITIONS = [
    (cshogi.STARTING_SFEN, []),
    (cshogi.STARTING_SFEN, ["7g7f", "3c3d", "8h2b+", "3a2b", "B*4e"]),
    ("4k4/9/4P4/9/9/9/9/9/4K4 b G 1", []),
    ("1n2g+P2B/l1+N5l/pk1s+B1s2/P2p3pp/S1pPp1ngL/2P1Pp3/LpGRG1pS1/8K/1N7 w R4p 146", []),
]
SETTINGS = SearchSettings(batch_size=8, mate_nodes=0)


class CountingForward:
    """The real network, with the batch size of every call it gets recorded."""

    def __init__(self, forward: NetworkForward) -> None:
        self.forward = forward
        self.sizes: list[int] = []

    def __call__(self, obs: npt.NDArray[np.uint8]) -> Outputs:
        self.sizes.append(int(obs.shape[0]))
        return self.forward(obs)


def positioned(search: PUCTSearch, sfen: str, moves: list[str]) -> cshogi.Board:
    board = cshogi.Board(sfen)
    return search.set_position(sfen, [board.push_usi(m) for m in moves])


def summary(result: SearchResult) -> tuple[object, ...]:
    return (result.best, result.pv, result.visits.tolist(), result.playouts, result.evaluations)


def test_lockstep_gives_each_game_its_search_alone_with_one_call_per_round() -> None:
    model = tiny_model(0)
    alone, rounds = [], []
    for sfen, moves in POSITIONS:
        search = PUCTSearch(model, SETTINGS, seed=5)
        alone.append(summary(search.search(positioned(search, sfen, moves), Limits(playouts=40))))
        rounds.append(max(0, search.leaves.calls - 1))  # the root's call, then one per batch
    forward = CountingForward(NetworkForward(model))
    searches = [PUCTSearch(model, SETTINGS, seed=5) for _ in POSITIONS]
    jobs = [
        (search, positioned(search, sfen, moves), Limits(playouts=40))
        for search, (sfen, moves) in zip(searches, POSITIONS, strict=True)
    ]
    results = PUCTSearch.lockstep(jobs, LeafBatch(forward, 1))
    assert [summary(r) for r in results] == alone
    assert results[2].mate == 1 and results[2].playouts == 0
    # One call for the four roots, then one per round: as many as the longest search's.
    assert rounds == [5, 5, 0, 6]  # a collision cut one batch short
    assert len(forward.sizes) == 1 + max(rounds)
    assert forward.sizes[0] == 4
    assert sum(forward.sizes[1:]) == sum(r.evaluations for r in results)
    assert max(forward.sizes) > SETTINGS.batch_size  # the games' leaves share calls
    with pytest.raises(ValueError, match=r"^lockstep: each game needs its own search$"):
        PUCTSearch.lockstep([jobs[0], jobs[0]], LeafBatch(forward, 1))


def test_lockstep_reuses_each_trees_subtree_and_evaluates_no_mated_root() -> None:
    """A root kept from the last search (the move played was searched) is not evaluated
    again; a mated root (no legal move) is not evaluated at all: as in ``search``."""
    model = tiny_model(2)
    mated = ("4k4/4G4/4P4/9/9/9/9/9/4K4 w - 2", [])

    def first(search: PUCTSearch) -> None:
        search.search(positioned(search, cshogi.STARTING_SFEN, []), Limits(playouts=60))

    later = [(cshogi.STARTING_SFEN, ["7g7f"]), mated]
    alone = []
    for sfen, moves in later:
        search = PUCTSearch(model, SETTINGS, seed=3)
        first(search)
        result = search.search(positioned(search, sfen, moves), Limits(playouts=30))
        alone.append((*summary(result), result.value, np.nan_to_num(result.q, nan=9.0).tolist()))
    searches = [PUCTSearch(model, SETTINGS, seed=3) for _ in later]
    for search in searches:
        first(search)
    jobs = [
        (search, positioned(search, sfen, moves), Limits(playouts=30))
        for search, (sfen, moves) in zip(searches, later, strict=True)
    ]
    results = PUCTSearch.lockstep(jobs, LeafBatch(NetworkForward(model), 1))
    together = [(*summary(r), r.value, np.nan_to_num(r.q, nan=9.0).tolist()) for r in results]
    assert together == alone
    assert alone[1][0] is None and alone[1][-2] == 0.0  # the mated root: no move, no value


class OneByOne(SearchPlayer):
    """The reference: the games the player is to move in searched one after the other."""

    def act(self, env: ShogiEnv, step: StepResult, slots: npt.NDArray[np.int64]) -> Moves:
        boards = env.boards()
        actions = [
            move_label(self.choose(slot, boards[slot], env.max_plies), boards[slot].turn)
            for slot in slots.tolist()
        ]
        return Moves(np.array(actions, dtype=np.int64))


def match(player: SearchPlayer) -> tuple[list[tuple[int, ...]], list[str]]:
    with player, GreedyPlayer(seed=2) as greedy:
        result = play_match(player, greedy, games=4, seed=7, max_plies=40)
    assert result.faults() == []
    return [g.game.moves for g in result.games], [g.reason for g in result.games]


def test_a_search_player_plays_its_games_in_lockstep_deterministically() -> None:
    model = tiny_model(3)
    settings = SearchSettings(playouts=16, batch_size=4, mate_nodes=0)
    forward = CountingForward(NetworkForward(model))
    first = match(SearchPlayer(model, "search", settings, seed=1, forward=forward))
    again = match(SearchPlayer(model, "search", settings, seed=1))
    assert first == again
    for moves in first[0]:  # legal moves of the game from the start position
        board = cshogi.Board()
        for move in moves:
            assert move in list(board.legal_moves)
            board.push(move)
    # The same moves as searching the games one after the other: each tree got the same
    # leaves in the same order.
    assert match(OneByOne(model, "search", settings, seed=1)) == first
    # The player's searches went through its forward only, several games per call.
    assert forward.sizes and max(forward.sizes) > settings.batch_size
