"""PUCT search (keisei.search.mcts) over tiny networks, in hand-built positions."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import cshogi
import numpy as np
import pytest

from keisei.cli.main import main
from keisei.evaluation.match import play_match
from keisei.evaluation.players import GreedyPlayer, PlayerError
from keisei.evaluation.search_player import SearchPlayer, SearchSettings, parse_search_spec
from keisei.evaluation.specs import parse_player
from keisei.search.mcts import (
    Limits,
    PUCTSearch,
    SearchConfig,
    bench_search,
    mate_in_one,
    score_cp,
)
from tests.evalutil import save_tiny_checkpoint, tiny_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Black to move mates with G*5b (the pawn on 5c guards it).
MATE_IN_ONE = "4k4/9/4P4/9/9/9/9/9/4K4 b G 1"
# White to move; the tiny network's favourite move, 8c7d, lets Black mate in one.
BLUNDER = "1n2g+P2B/l1+N5l/pk1s+B1s2/P2p3pp/S1pPp1ngL/2P1Pp3/LpGRG1pS1/8K/1N7 w R4p 146"
# Black to move may declare a nyugyoku win (27-point rule).
NYUGYOKU = "RBBRGGSS1/4K4/P7P/9/9/9/9/9/4k4 b 2G 1"


def searcher(batch_size: int = 8, seed: int = 0, **kwargs: object) -> PUCTSearch:
    config = SearchConfig(batch_size=batch_size, **kwargs)  # type: ignore[arg-type]
    return PUCTSearch(tiny_model(seed), config)


def usi(moves: list[int]) -> list[str]:
    return [cshogi.move_to_usi(m) for m in moves]


def test_visit_counts_sum_to_the_playouts() -> None:
    search = searcher()
    board = search.set_position(cshogi.STARTING_SFEN, [])
    result = search.search(board, Limits(playouts=100))
    assert result.playouts == 100
    assert int(result.visits.sum()) == 100
    assert result.best in result.moves and result.best == result.pv[0]
    assert board.sfen() == cshogi.Board().sfen()  # the board is left as it was
    assert result.seldepth >= 2


def test_leaves_are_evaluated_in_batches() -> None:
    model = tiny_model(0)
    sizes: list[int] = []
    model.register_forward_hook(lambda _m, inp, _out: sizes.append(int(inp[0].shape[0])))
    search = PUCTSearch(model, SearchConfig(batch_size=8))
    board = search.set_position(cshogi.STARTING_SFEN, [])
    result = search.search(board, Limits(playouts=64))
    assert sizes[0] == 1  # the root
    assert max(sizes) == 8 and all(s <= 8 for s in sizes)
    assert sum(sizes[1:]) == result.evaluations <= 64
    assert len(sizes) - 1 < 64 / 2  # far fewer network calls than playouts


def test_search_is_deterministic() -> None:
    results = []
    for _ in range(2):
        search = searcher()
        board = search.set_position(cshogi.STARTING_SFEN, [])
        results.append(search.search(board, Limits(playouts=80)))
    assert results[0].visits.tolist() == results[1].visits.tolist()
    assert results[0].pv == results[1].pv


def test_mate_in_one_is_played_from_the_root_check() -> None:
    search = searcher()
    board = search.set_position(MATE_IN_ONE, [])
    result = search.search(board, Limits(playouts=50))
    assert usi([result.best or 0]) == ["G*5b"]
    assert result.mate == 1 and result.playouts == 0


def test_the_tree_finds_a_mate_in_one_without_the_root_check() -> None:
    search = searcher(mate_check=False)
    board = search.set_position(MATE_IN_ONE, [])
    result = search.search(board, Limits(playouts=300))
    assert usi([result.best or 0]) == ["G*5b"]
    assert result.mate == 1
    assert result.value == pytest.approx(1.0)


def test_mate_in_three_by_df_pn() -> None:
    # Black: gold and silver in hand against a bare king in the corner.
    board = cshogi.Board("8k/9/8P/9/9/9/9/9/K8 b GS 1")
    mate = int(board.mate_move(3))
    assert mate  # cshogi confirms a mate in three
    search = searcher()
    board = search.set_position(board.sfen(), [])
    result = search.search(board, Limits(playouts=10))
    assert result.mate is not None and result.mate % 2 == 1
    assert result.best in result.moves
    # The PV is a mating sequence.
    for move in result.pv:
        board.push(move)
    assert board.is_game_over()


def test_search_avoids_a_move_that_allows_mate_in_one() -> None:
    search = searcher()
    board = search.set_position(BLUNDER, [])
    moves, priors, _ = search.policy(board)
    assert usi([moves[int(np.argmax(priors))]]) == ["8c7d"]  # the raw policy blunders
    for mate_check in (True, False):
        search = searcher(mate_check=mate_check)
        board = search.set_position(BLUNDER, [])
        result = search.search(board, Limits(playouts=64))
        assert result.best is not None
        board.push(result.best)
        assert mate_in_one(board, list(board.legal_moves)) == 0
        board.pop()


def test_terminal_positions() -> None:
    search = searcher()
    board = search.set_position(NYUGYOKU, [])
    assert board.is_nyugyoku()
    assert search.search(board, Limits(playouts=10)).nyugyoku
    # Mated: no legal move, no best move.
    mated = "4k4/4G4/4P4/9/9/9/9/9/4K4 w - 1"
    board = search.set_position(mated, [])
    result = search.search(board, Limits(playouts=10))
    assert result.best is None and result.moves == []
    # A repetition inside the tree is a draw.
    start = cshogi.Board()
    moves = [start.push_usi(m) for m in ("5i4h", "5a4b", "4h5i")]
    search = searcher(mate_check=False)
    board = search.set_position(cshogi.STARTING_SFEN, moves)
    board.push(board.move_from_usi("4b5a"))
    node = search._new_node(board)
    assert node.terminal == 0.0


def test_tree_reuse_keeps_the_subtree_of_the_played_moves() -> None:
    search = searcher()
    board = search.set_position(cshogi.STARTING_SFEN, [])
    first = search.search(board, Limits(playouts=200))
    assert search.root is not None
    child = search.root.child(first.pv[0])
    assert child is not None and child.priors is not None
    reply = int(np.argmax(child.n))
    grandchild = child.children[reply]
    assert grandchild is not None and grandchild.visits > 1
    kept = grandchild.visits - 1
    played = [first.pv[0], child.moves[reply]]
    board = search.set_position(cshogi.STARTING_SFEN, played)
    assert search.root is grandchild
    second = search.search(board, Limits(playouts=30))
    assert int(second.visits.sum()) == kept + 30
    # Another game: a fresh tree.
    search.set_position(MATE_IN_ONE, [])
    assert search.root is None


def test_stop_ends_an_infinite_search() -> None:
    search = searcher()
    board = search.set_position(cshogi.STARTING_SFEN, [])
    limits = Limits(infinite=True)
    timer = threading.Timer(0.3, limits.stop.set)
    timer.start()
    began = time.monotonic()
    result = search.search(board, limits)
    assert time.monotonic() - began < 2.0
    assert result.playouts > 0 and result.best is not None


def test_sampled_choice_and_score_mapping() -> None:
    search = searcher(seed=1)
    board = search.set_position(cshogi.STARTING_SFEN, [])
    result = search.search(board, Limits(playouts=64))
    assert search.choose(result, 0.0) == result.best
    picks = {search.choose(result, 1.0) for _ in range(30)}
    assert picks <= set(result.moves) and len(picks) > 1
    assert score_cp(0.0) == 0
    assert score_cp(0.5) == round(600 * np.log(3))  # p = 0.75
    assert score_cp(-1.0) == -30000 and score_cp(1.0) == 30000


def test_bench_search_reports_both_rates() -> None:
    out = bench_search(tiny_model(0), batch_size=8, seconds=0.3)
    assert out["search_nps"] > 0 and out["inference_sps"] > 0
    assert out["ratio"] == pytest.approx(out["search_nps"] / out["inference_sps"])
    assert 1.0 < out["mean_batch"] <= 8.0


def test_search_spec_parsing() -> None:
    assert parse_search_spec("runs/x") == ("runs/x", SearchSettings())
    path, settings = parse_search_spec("runs/x[playouts=32, batch=4,cpuct=2,temperature=0.5]")
    assert path == "runs/x"
    assert settings == SearchSettings(playouts=32, batch=4, cpuct=2.0, temperature=0.5)
    assert settings.describe() == "playouts=32,batch=4,cpuct=2,temperature=0.5"
    for bad in ("x[playouts=0]", "x[nodes=5]", "x[cpuct=-1]", "x[playouts=3", "x[fpu=nan]"):
        with pytest.raises(PlayerError):
            parse_search_spec(bad)


def test_search_player_plays_a_match_and_through_keisei_evaluate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    save_tiny_checkpoint(run, 4)
    player = parse_player(f"search:{run}[playouts=8,batch=4]")
    assert isinstance(player, SearchPlayer) and player.deterministic
    assert player.name == "search:run/step_4[playouts=8,batch=4]"
    with player, GreedyPlayer(seed=2) as greedy:
        result = play_match(player, greedy, games=2, max_plies=24)
    assert len(result.games) == 2 and all(0 < g.plies <= 24 for g in result.games)
    assert result.faults() == []
    code = main(
        [
            "evaluate",
            "--agent",
            f"search:{run}[playouts=4]",
            "--opponent",
            "greedy",
            "--games",
            "2",
            "--max-plies",
            "16",
            "--records",
            str(tmp_path / "records"),
        ]
    )
    assert code == 0
    assert "search:run/step_4[playouts=4] vs greedy: 2 games" in capsys.readouterr().out


def test_keisei_bench_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    args = ["bench", "search", "--preset", "tiny", "--seconds", "0.6", "--rounds", "1"]
    assert main([*args, "--json", str(out)]) == 0
    figures = json.loads(out.read_text(encoding="utf-8"))["search"]
    assert figures["batch_size"] == 16 and figures["playouts_per_s"] > 0
    assert figures["ratio"] == pytest.approx(
        figures["playouts_per_s"] / figures["inference_samples_per_s"]
    )
    assert "search.ratio (playouts / inference samples)" in capsys.readouterr().out
