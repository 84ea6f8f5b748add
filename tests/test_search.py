"""PUCT search (keisei.search.mcts) over tiny networks, in hand-built positions."""

from __future__ import annotations

import io
import json
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import cshogi
import numpy as np
import numpy.typing as npt
import pytest
import torch

from keisei.cli.main import main
from keisei.config import GumbelSection, SearchSettings
from keisei.evaluation.match import play_match
from keisei.evaluation.players import GreedyPlayer, PlayerError
from keisei.evaluation.search_player import SearchPlayer, describe_search, parse_search_spec
from keisei.evaluation.specs import parse_player
from keisei.game.encoding import NUM_ACTIONS, move_label
from keisei.game.env import ShogiEnv
from keisei.search.gumbel import GumbelSearch
from keisei.search.leaves import LeafBatch, NetworkForward, check_device
from keisei.search.mcts import MATE_PROBE, Limits, PUCTSearch, score_cp, search_rate
from keisei.search.select import puct_child
from keisei.search.tree import (
    Node,
    backup,
    descend,
    labels_of,
    mate_in_one,
    new_node,
    priors_of,
    sharpened,
    softmax,
)
from keisei.search.usi_engine import USIEngine
from tests.boardutil import observations
from tests.evalutil import save_tiny_checkpoint, tiny_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Black to move mates with G*5b (the pawn on 5c guards it).
MATE_IN_ONE = "4k4/9/4P4/9/9/9/9/9/4K4 b G 1"
# White to move; the tiny network's favourite move, 8c7d, lets Black mate in one.
BLUNDER = "1n2g+P2B/l1+N5l/pk1s+B1s2/P2p3pp/S1pPp1ngL/2P1Pp3/LpGRG1pS1/8K/1N7 w R4p 146"
# Black to move may declare a nyugyoku win (27-point rule).
NYUGYOKU = "RBBRGGSS1/4K4/P7P/9/9/9/9/9/4k4 b 2G 1"


def searcher(batch_size: int = 8, seed: int = 0, **kwargs: object) -> PUCTSearch:
    config = SearchSettings(batch_size=batch_size, **kwargs)  # type: ignore[arg-type]
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
    search = PUCTSearch(model, SearchSettings(batch_size=8))
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


@pytest.mark.parametrize("clock", [None, 600.0])
def test_mate_in_three_by_df_pn(clock: float | None) -> None:
    """Without a clock one df-pn search of mate_nodes; on one (far from its end) a first
    probe of MATE_PROBE nodes, which this mate needs no more than."""
    # Black: a rook on 4c and a gold in hand against a bare king (found by search).
    board = cshogi.Board("4k4/9/5R3/9/9/9/9/9/4K4 b G 1")
    assert not board.mate_move_in_1ply() and board.mate_move(3)  # a mate in three, not one
    search = searcher()
    board = search.set_position(board.sfen(), [])
    deadline = None if clock is None else time.monotonic() + clock
    result = search.search(board, Limits(playouts=10, deadline=deadline))
    assert result.mate == 3 and len(result.pv) == 3 and result.playouts == 0
    assert result.best == result.pv[0] and result.best in result.moves
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
    node = new_node(board, None)
    assert node.terminal == 0.0


def test_the_ply_limit_is_a_draw_in_the_puct_search() -> None:
    """Drift fix: PUCT scores ``env.max_plies`` as the Gumbel search and ShogiEnv do. One
    ply before the limit every child is a draw, scored without the network; a mate on the
    last allowed ply still wins."""
    search = PUCTSearch(tiny_model(0), SearchSettings(batch_size=8, mate_check=False), max_plies=1)
    board = search.set_position(cshogi.STARTING_SFEN, [])
    result = search.search(board, Limits(playouts=60))
    assert (result.playouts, result.evaluations, result.value) == (60, 0, 0.0)
    assert set(result.q[result.visits > 0].tolist()) == {0.0}
    search = PUCTSearch(tiny_model(0), SearchSettings(mate_check=False), max_plies=1)
    board = search.set_position(MATE_IN_ONE, [])
    result = search.search(board, Limits(playouts=100))
    assert usi([result.best or 0]) == ["G*5b"] and result.value == 1.0


def test_a_search_player_scores_the_ply_limit_of_its_match() -> None:
    model = tiny_model(0)
    batches: list[int] = []
    model.register_forward_hook(lambda _m, inp, _out: batches.append(int(inp[0].shape[0])))
    env = ShogiEnv(1, max_plies=1)
    step = env.reset()
    with SearchPlayer(model, "search", SearchSettings(playouts=16, mate_nodes=0)) as player:
        player.act(env, step, np.array([0]))
    assert batches == [1]  # the root alone: every move reaches the limit, a draw


def test_both_searches_judge_repetitions_by_the_one_rule() -> None:
    """Drift fix: one repetition rule (``tree.REPETITION_PLIES``), not a PUCT setting next to
    Gumbel's own window. After 5i4h 5a4b 4h5i, White's 4b5a repeats the start position:
    both searches score it a draw without the network."""
    assert "repetition_plies" not in SearchSettings.model_fields
    start = cshogi.Board()
    moves = [start.push_usi(m) for m in ("5i4h", "5a4b", "4h5i")]
    repeat = start.move_from_usi("4b5a")
    search = searcher(mate_check=False)
    board = search.set_position(cshogi.STARTING_SFEN, moves)
    search.search(board, Limits(playouts=200))
    assert search.root is not None
    child = search.root.child(repeat)
    assert child is not None and child.terminal == 0.0 and child.priors is None
    legal = len(list(start.legal_moves))
    forward = NetworkForward(tiny_model(0))
    gumbel = GumbelSearch(GumbelSection(simulations=legal, considered=legal), forward)
    gumbel.run([start], *forward(np.zeros((1, 119, 9, 9), np.uint8)), torch.Generator())
    assert gumbel.evaluations == legal - 1  # every root move once, the repetition exactly


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


def test_search_spec_parsing() -> None:
    assert parse_search_spec("runs/x") == ("runs/x", SearchSettings())
    path, settings = parse_search_spec("runs/x[playouts=32, batch=4,cpuct=2,temperature=0.5]")
    assert path == "runs/x"
    assert settings == SearchSettings(playouts=32, batch_size=4, c_puct=2.0, temperature=0.5)
    assert describe_search(settings) == "playouts=32,batch=4,cpuct=2,temperature=0.5"
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
    args = ["bench", "search", "--preset", "tiny", "--seconds", "0.2", "--rounds", "1"]
    assert main([*args, "--json", str(out)]) == 0
    figures = json.loads(out.read_text(encoding="utf-8"))["search"]
    assert figures["batch_size"] == 16 and figures["playouts_per_s"] > 0
    assert figures["ratio"] == pytest.approx(
        figures["playouts_per_s"] / figures["inference_samples_per_s"]
    )
    assert "search.ratio (playouts / inference samples)" in capsys.readouterr().out


def test_spec_keys_and_usi_options_are_aliases_of_the_one_settings_type() -> None:
    """``SearchSettings`` holds the defaults and the checks; the ``search:`` keys and the USI
    options say what they said before it did."""
    with pytest.raises(PlayerError) as info:
        parse_search_spec("x[nodes=5]")
    assert str(info.value) == (
        "search setting 'nodes=5': expected NAME=VALUE, "
        "playouts, batch, mate_nodes, cpuct, fpu, temperature"
    )
    for bad, key in (("batch=0", "batch"), ("fpu=-0.1", "fpu"), ("temperature=inf", "temperature")):
        with pytest.raises(PlayerError, match=f"^search setting '{bad}': not a valid {key}$"):
            parse_search_spec(f"x[{bad}]")
    assert parse_search_spec("x[fpu=0, mate_nodes=0]")[1] == SearchSettings(
        fpu_reduction=0.0, mate_nodes=0
    )
    out = io.StringIO()
    engine = USIEngine(tiny_model(0), out=out, log=io.StringIO())
    script = [
        "usi",
        "setoption name CPuct value -1",
        "setoption name Temperature value nan",
        "setoption name BatchSize value 0",
        "setoption name MateNodes value 7",
        "setoption name CPuct value 2.5",
        "isready",
    ]
    engine.run(line + "\n" for line in script)
    lines = out.getvalue().splitlines()
    declared = [ln for ln in lines if ln.split()[2:3] in (["BatchSize"], ["CPuct"], ["MateNodes"])]
    assert declared + [ln for ln in lines if "Temperature type" in ln] == [
        "option name BatchSize type spin default 16 min 1 max 4096",
        "option name CPuct type string default 1.5",
        "option name MateNodes type spin default 10000 min 0 max 10000000",
        "option name Temperature type string default 0",
    ]
    assert [ln for ln in lines if ln.startswith("info string")] == [
        "info string ignored setoption CPuct '-1': must be a number > 0 and <= 100",
        "info string ignored setoption Temperature 'nan': must be a number >= 0 and <= 100",
        "info string ignored setoption BatchSize '0': 0 is outside [1, 4096]",
    ]
    assert engine.search.config == SearchSettings(c_puct=2.5, mate_nodes=7)


def test_backup_negates_per_ply_and_takes_the_virtual_loss_back() -> None:
    """Two playouts root -> child -> leaf by hand: visits and value sums, each for its own
    side to move, the per-move statistics of the nodes passed through, a virtual loss."""
    root, child, leaf = Node([11, 12]), Node([21, 22, 23]), Node([31])
    path = [(root, 1), (child, 2)]
    backup(path, leaf, 0.25)
    backup(path, leaf, -0.5, virtual_loss=1.0)  # its +1 visit and -1 value already added
    assert (leaf.visits, leaf.value_sum) == (2, -0.25)
    assert (child.visits, child.value_sum) == (2, 0.25)  # -0.25 + 0.5
    assert (root.visits, root.value_sum) == (2, -0.25)
    assert child.n is not None and child.w is not None
    assert (child.n.tolist(), child.w.tolist()) == ([0.0, 0.0, 1.0], [0.0, 0.0, 1.25])
    assert root.n is not None and root.w is not None
    assert (root.n.tolist(), root.w.tolist()) == ([0.0, 1.0], [0.0, 0.75])


def test_node_statistics_and_lookup_by_move() -> None:
    node = Node([11, 12])
    assert (node.q, node.visits, node.value_sum, node.children) == (0.0, 0, 0.0, {})
    backup([], node, 0.25)
    assert node.q == 0.25  # the first backup alone: a node starts at no value
    child = Node([])
    node.children[1] = child
    assert node.child(12) is child
    assert node.child(11) is None  # a legal move not yet visited
    assert node.child(99) is None  # not a move of this node


def test_softmax_sharpened_and_priors_by_hand() -> None:
    # exp(x - max): large logits do not overflow.
    assert softmax(np.array([800.0, 800.0 + np.log(3.0)])).tolist() == pytest.approx([0.25, 0.75])
    # weights ** (1 / T), normalized: T = 0.5 squares them.
    assert sharpened(np.array([1.0, 2.0]), 0.5).tolist() == pytest.approx([0.2, 0.8])
    assert sharpened(np.array([1.0, 4.0]), 2.0).tolist() == pytest.approx([1 / 3, 2 / 3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the log of a zero weight is expected, not warned
        assert sharpened(np.array([0.0, 1.0, 3.0]), 1.0).tolist() == [0.0, 0.25, 0.75]
        assert sharpened(np.zeros(4), 0.5).tolist() == [0.25] * 4  # all zero: uniform
    board = cshogi.Board()
    moves = list(board.legal_moves)[:2]
    logits = np.zeros(NUM_ACTIONS, np.float32)
    logits[labels_of(moves, board.turn)] = [0.0, float(np.log(3.0))]
    assert priors_of(logits, moves, board.turn).tolist() == pytest.approx([0.25, 0.75])
    assert priors_of(logits, moves, board.turn, 0.5).tolist() == pytest.approx([0.1, 0.9])


def test_new_node_scores_nyugyoku_and_looks_back_sixteen_plies_for_repetitions() -> None:
    node = new_node(cshogi.Board(NYUGYOKU), None)
    assert (node.terminal, node.moves.tolist()) == (1.0, [])
    # Black's king circles 8 squares, White's 3: the start position recurs after 48 plies,
    # beyond the search's window (REPETITION_PLIES = 16), so it is not a repetition there.
    board = cshogi.Board("8k/9/9/9/9/9/2K6/9/9 b - 1")
    black = ["7g8g", "8g9g", "9g9h", "9h9i", "9i8i", "8i7i", "7i7h", "7h7g"]
    white = ["1a2a", "2a1b", "1b1a"]
    for i in range(24):
        board.push_usi(black[i % 8])
        board.push_usi(white[i % 3])
    assert board.sfen() == "8k/9/9/9/9/9/2K6/9/9 b - 49"
    assert board.is_draw() == cshogi.REPETITION_DRAW  # over the whole game
    node = new_node(board, None)
    assert node.terminal is None and len(node.moves) == 8


def test_descend_creates_a_node_once() -> None:
    board = cshogi.Board()
    root = new_node(board, None)
    root.priors = np.full(len(root.moves), 1.0 / len(root.moves))
    path, child, created = descend(root, board, lambda _node, _depth: 3, None)
    assert (path, created, len(board.history)) == ([(root, 3)], True, 1)
    assert root.children == {3: child}
    board.pop()
    # Again: the child is reached, not evaluated yet, and not created a second time.
    path, again, created = descend(root, board, lambda _node, _depth: 3, None)
    assert (path, again, created) == ([(root, 3)], child, False)


# Found by random play: in check, cshogi's mate_move_in_1ply returns a move that is not
# legal here, while 5f6e mates (first position); or an illegal move where no move mates.
IN_CHECK_MATE = "1pr4g1/2+P1s3l/lk3p2n/pN2PPppb/PSppn3p/L2KBS2P/2N3g2/G4G2L/9 b RS5p 193"
# In check, no move mates, one gives check (5g7e).
IN_CHECK_A_CHECK = "lpbg2k2/r8/n+P4p2/2p2sgp1/p1g1S1P1l/2K1S3p/PP1PBpnPP/L3G1SRL/1N5N1 b 2P2p 99"
IN_CHECK_NO_MATE = (
    "p5b+L+N/2+L+S1s2l/1B1k1pn2/4pR1n1/1pp1GPg1s/+s5P1p/+r1n1g3P/1+p4+p1+p/L2GK1+p2 w P4p 234"
)


def test_mate_in_one_in_and_out_of_check() -> None:
    board = cshogi.Board(MATE_IN_ONE)
    moves = list(board.legal_moves)
    assert usi([mate_in_one(board, moves)]) == ["G*5b"]
    mate = board.move_from_usi("G*5b")
    assert mate_in_one(board, [m for m in moves if m != mate]) == 0  # only among `moves`
    board = cshogi.Board()
    assert mate_in_one(board, list(board.legal_moves)) == 0
    board = cshogi.Board(IN_CHECK_MATE)
    assert board.is_check() and board.mate_move_in_1ply() not in list(board.legal_moves)
    assert usi([mate_in_one(board, list(board.legal_moves))]) == ["5f6e"]
    assert board.sfen() == IN_CHECK_MATE  # every move tried is taken back
    board = cshogi.Board(IN_CHECK_NO_MATE)
    assert board.is_check() and board.mate_move_in_1ply() != 0
    assert mate_in_one(board, list(board.legal_moves)) == 0
    board = cshogi.Board(IN_CHECK_A_CHECK)
    assert board.is_check() and mate_in_one(board, list(board.legal_moves)) == 0


def test_puct_child_by_hand() -> None:
    """``argmax Q + c_puct * P * sqrt(N) / (1 + n)``; before any visit, the largest prior."""
    node = Node([11, 12, 13])
    node.priors = np.array([0.2, 0.5, 0.3])
    assert puct_child(node, c_puct=1.0, fpu_reduction=0.0) == 1
    n, w = node.stats()
    n[0], w[0] = 2.0, 1.0  # Q = 0.5; the unvisited get Q(node) = 0 (no FPU reduction)
    # 0.5 + sqrt(2) * 0.2 / 3 = 0.594 < sqrt(2) * 0.5 = 0.707 > sqrt(2) * 0.3 = 0.424
    assert puct_child(node, c_puct=1.0, fpu_reduction=0.0) == 1
    w[0] = 1.6  # Q = 0.8: 0.894 wins
    assert puct_child(node, c_puct=1.0, fpu_reduction=0.0) == 0
    # FPU reduction: the unvisited drop to 0 - 1.0 * sqrt(0.2) = -0.447.
    w[0] = -0.2  # Q = -0.1: -0.006 against -0.447 + 0.707 = 0.260
    assert puct_child(node, c_puct=1.0, fpu_reduction=1.0) == 1
    assert puct_child(node, c_puct=1.0, fpu_reduction=2.0) == 0  # -0.894 + 0.707 < -0.006


def test_a_full_leaf_batch_sends_every_row_as_uint8_planes() -> None:
    shapes: list[tuple[tuple[int, ...], np.dtype[Any]]] = []

    def forward(obs: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.float32], ...]:
        shapes.append((obs.shape, obs.dtype))
        return np.zeros((len(obs), NUM_ACTIONS), np.float32), np.zeros(len(obs), np.float32)

    for full_batch, rows in ((True, 4), (False, 1)):
        leaves = LeafBatch(forward, 4, full_batch=full_batch)
        leaves.write(0, cshogi.Board())
        leaves.run(1)
        assert shapes.pop() == ((rows, 119, 9, 9), np.dtype(np.uint8))
        assert leaves.calls == 1


def test_check_device_names_what_is_wrong() -> None:
    assert check_device("cpu") == "cpu"
    wrong = {
        "bogus": "unknown device 'bogus' (use cpu, cuda or cuda:N)",
        "meta": "device 'meta': only cpu and cuda are supported",
    }
    if not torch.cuda.is_available():
        wrong["cuda:0"] = "'cuda:0': no CUDA device is available"
    for text, message in wrong.items():
        with pytest.raises(ValueError) as error:
            check_device(text)
        assert str(error.value) == message


def test_choose_draws_by_sharpened_visits_from_its_seed() -> None:
    """Temperature 0 (the default) plays the most visited move; T > 0 draws with weights
    ``visits ** (1 / T)``, from the search's own generator (``seed``)."""
    for temperature in (0.0, 1.0, 0.5):
        search = PUCTSearch(tiny_model(1), SearchSettings(batch_size=8), seed=5)
        board = search.set_position(cshogi.STARTING_SFEN, [])
        result = search.search(board, Limits(playouts=64))
        if temperature == 0.0:
            assert search.choose(result) == result.best
            continue
        weights = result.visits.astype(np.float64) ** (1 / temperature)
        weights /= weights.sum()
        reference = np.random.default_rng(5)
        picks = [search.choose(result, temperature) for _ in range(20)]
        expected = [
            result.moves[int(reference.choice(len(result.moves), p=weights))] for _ in range(20)
        ]
        assert picks == expected and len(set(picks)) > 1


def test_root_moves_that_allow_a_mate_in_one_get_no_prior() -> None:
    """The root's priors without the moves after which the opponent mates at once, the rest
    renormalized; and the principal variation follows the most visited moves."""
    search = searcher()
    board = search.set_position(BLUNDER, [])
    moves, priors, _ = search.policy(board)
    bad = []
    for move in moves:
        board.push(move)
        bad.append(not board.is_check() and bool(board.mate_move_in_1ply()))
        board.pop()
    assert 0 < sum(bad) < len(moves)
    expected = np.where(bad, 0.0, np.asarray(priors, np.float64))
    expected /= expected.sum()
    result = search.search(board, Limits(playouts=64))
    assert result.moves == list(moves)
    assert result.priors.tolist() == pytest.approx(expected.tolist(), abs=1e-6)
    assert all(result.visits[i] == 0 for i in range(len(moves)) if bad[i])
    # The PV: the best move, then at each node below the most visited move, while visited.
    root = search.root
    assert root is not None and result.best is not None
    line, node = [result.best], root.child(result.best)
    while node is not None and node.n is not None and node.visits > 1 and node.n.max() > 0:
        j = int(np.argmax(node.n))
        line.append(int(node.moves[j]))
        node = node.children.get(j)
    assert result.pv == line and len(line) >= 3


def test_the_result_reports_the_roots_statistics() -> None:
    """Visits, q (NaN where never visited), priors, value, best and the MultiPV lines are
    those of the root node the search leaves behind."""
    search = searcher()
    board = search.set_position(BLUNDER, [])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the unvisited moves' 0 / 0 shows no warning
        result = search.search(board, Limits(playouts=100))
    root = search.root
    assert (
        root is not None and root.n is not None and root.w is not None and root.priors is not None
    )
    n, w = root.n, root.w
    assert result.visits.tolist() == [round(float(x)) for x in n]
    assert int(result.visits.sum()) == 100 and result.visits.dtype == np.int64
    visited = n > 0
    assert 0 < visited.sum() < len(n)
    assert result.q[visited].tolist() == (w[visited] / n[visited]).tolist()
    assert np.isnan(result.q[~visited]).all()
    assert result.priors.tolist() == root.priors.astype(np.float64).tolist()
    # Best: most visits, then the higher prior; its q is the root's value.
    best = max(range(len(n)), key=lambda i: (result.visits[i], result.priors[i]))
    assert result.best == result.moves[best] and result.value == result.q[best]
    order = sorted(np.flatnonzero(visited), key=lambda i: (-result.visits[i], -result.priors[i]))
    assert [k for k, _ in result.lines] == [int(k) for k in order]
    assert result.lines[0][1] == result.pv and all(
        line[0] == result.moves[k] for k, line in result.lines
    )


# Black to move has exactly one legal move; White to move has exactly two (random play).
ONE_MOVE = "1+P+Ns3p1/2P1k2Gl/b2p1p1Nl/P+R2p1LPp/1P1n5/K1pg1PP1G/p+r+b1P2G1/S4+sp2/3P1N1SL b P 227"
TWO_MOVES = "2k4n1/r1+P6/4p1ppl/pg+B1PpsPp/6G1N/P2S1L1RP/NP1S1PP2/L1G2SK1L/3P2BNG w 2Pp 146"


@pytest.mark.parametrize(
    ("sfen", "best", "mate", "nyugyoku"),
    [
        (MATE_IN_ONE, "G*5b", 1, False),
        (NYUGYOKU, None, None, True),
        ("4k4/4G4/4P4/9/9/9/9/9/4K4 w - 2", None, None, False),  # mated: no legal move
        (ONE_MOVE, "only", None, False),
    ],
)
def test_a_root_decided_at_once_reports_no_search(
    sfen: str, best: str | None, mate: int | None, nyugyoku: bool
) -> None:
    """A mate in one, a nyugyoku, no legal move or one legal move: decided before any
    playout, whatever the limits (no playout, no depth, no evaluation beyond the root's)."""
    search = searcher()
    board = search.set_position(sfen, [])
    result = search.search(board, Limits(playouts=50))
    assert (result.playouts, result.seldepth, result.evaluations) == (0, 0, 0)
    assert (result.mate, result.nyugyoku) == (mate, nyugyoku)
    moves = [int(m) for m in board.legal_moves]
    if best == "only":
        assert len(moves) == 1 and result.best == moves[0] and result.pv == moves
    elif best is None:
        assert result.best is None or nyugyoku
    else:
        assert usi([result.best or 0]) == [best]
    assert board.sfen() == cshogi.Board(sfen).sfen()


def test_two_legal_moves_are_searched_and_one_is_under_go_infinite() -> None:
    search = searcher()
    board = search.set_position(TWO_MOVES, [])
    assert len(list(board.legal_moves)) == 2
    result = search.search(board, Limits(playouts=16))
    assert result.playouts == 16 and int(result.visits.sum()) == 16
    # One legal move is still searched when the search runs until stopped (USI's go
    # infinite), here until the node limit ends it.
    search = searcher(max_nodes=12)
    board = search.set_position(ONE_MOVE, [])
    result = search.search(board, Limits(infinite=True))
    assert result.playouts > 0 and search.nodes >= 12


def network_outputs(model: Any, boards: list[cshogi.Board]) -> tuple[Any, Any]:
    """The network's (logits, values) of ``boards``, called directly (no LeafBatch)."""
    with torch.no_grad():
        out = model(torch.from_numpy(observations(boards)).float())
    return out.logits.numpy(), out.value.numpy()


@pytest.mark.parametrize("sfen", [cshogi.STARTING_SFEN, "two moves"])
def test_every_node_holds_its_networks_priors_and_value_and_its_childrens_backups(
    sfen: str,
) -> None:
    """After a batched search with collisions: each evaluated node's priors are the softmax
    (at ``policy_temperature``) of the network's logits at its own position and legal
    moves, its value sum is the network's value plus its moves' value sums, and each move's
    visits and value sum are its child's (negated: negamax), with no virtual loss left."""
    model = tiny_model(3)
    search = PUCTSearch(model, SearchSettings(batch_size=16, policy_temperature=0.7))
    # From the start, repetitions (terminal leaves) within a few plies; from a root with two
    # legal moves, collisions: a batch's third playout reaches a leaf waiting in it.
    board = search.set_position(TWO_MOVES if sfen == "two moves" else sfen, [])
    calls = search.leaves.calls
    began = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0 / 0 of the unvisited moves' q shows
        result = search.search(board, Limits(playouts=300))
    assert result.playouts == 300 and 0 < result.seconds <= time.monotonic() - began
    if sfen == "two moves":
        assert search.leaves.calls - calls > 2 + 300 // 16  # collisions ended batches early
    nodes: list[tuple[Node, cshogi.Board]] = []

    def walk(node: Node, board: cshogi.Board) -> None:
        nodes.append((node, board.copy()))
        for idx, child in node.children.items():
            board.push(int(node.moves[idx]))
            walk(child, board)
            board.pop()

    assert search.root is not None
    walk(search.root, board)
    # The PV: the best move, then at each node the most visited move, while one is visited.
    line, node = [result.best], search.root.child(result.best)
    while node is not None and node.n is not None and node.n.max() > 0:
        j = int(np.argmax(node.n))
        line.append(int(node.moves[j]))
        node = node.children.get(j)
    assert result.pv == line
    evaluated = [(node, b) for node, b in nodes if node.terminal is None]
    assert len(nodes) > 250
    if sfen == cshogi.STARTING_SFEN:
        assert len(evaluated) < len(nodes)  # a repetition or two
    for node, _ in nodes:
        if node.terminal is not None:  # scored without the network, each visit the same
            assert (node.priors, node.n) == (None, None)
            assert node.value_sum == node.visits * node.terminal
    logits, values = network_outputs(model, [b for _, b in evaluated])
    for (node, b), row, value in zip(evaluated, logits, values, strict=True):
        assert node.priors is not None and node.priors.dtype == np.float32
        labels = [move_label(int(m), int(b.turn)) for m in node.moves]
        expected = np.exp((row[labels] - row[labels].max()) / 0.7)
        assert node.priors.tolist() == pytest.approx((expected / expected.sum()).tolist(), abs=1e-6)
        n, w = node.stats()
        assert node.visits == 1 + n.sum()
        assert node.value_sum == pytest.approx(float(value) + w.sum(), abs=1e-5)
        for idx in range(len(node.moves)):
            child = node.children.get(idx)
            if child is None:
                assert (n[idx], w[idx]) == (0.0, 0.0)
            else:
                assert n[idx] == child.visits
                assert w[idx] == pytest.approx(-child.value_sum, abs=1e-9)


def test_a_batch_goes_to_the_network_when_stopped_or_when_its_cost_would_pass_the_deadline() -> (
    None
):
    """On the clock, a batch of ``rows`` leaves is sent once one more leaf, at the last
    call's seconds per position, would end its evaluation past the deadline."""
    leaves = LeafBatch(NetworkForward(tiny_model(0), "cpu"), 8)
    leaves.seconds_per_position = 1.0  # as measured by a (slow) last call
    late = PUCTSearch._batch_late
    assert not late(Limits(), leaves, 4)  # no deadline, not stopped
    stopped = Limits()
    stopped.stop.set()
    assert late(stopped, leaves, 0)
    # 4 rows and one more: 5 s of evaluation.
    assert late(Limits(deadline=time.monotonic() + 4.5), leaves, 4)
    assert not late(Limits(deadline=time.monotonic() + 5.5), leaves, 4)
    assert late(Limits(deadline=time.monotonic() + 5.5), leaves, 5)


def test_the_tree_stops_growing_at_max_nodes() -> None:
    """Each new leaf is one node (the root is the first); the search stops when the tree
    holds ``max_nodes``, even with playouts left."""
    search = searcher(batch_size=1, max_nodes=20)
    board = search.set_position(cshogi.STARTING_SFEN, [])
    result = search.search(board, Limits(playouts=1000))
    assert (search.nodes, result.playouts, result.evaluations) == (20, 19, 19)


def test_choose_with_temperature_draws_by_priors_before_any_visit() -> None:
    """A root decided without playouts has no visits: the move is drawn by its priors.
    With visits, by the visits alone (a single visit included)."""
    search = searcher(seed=2)
    result = search.search(search.set_position(cshogi.STARTING_SFEN, []), Limits(playouts=1))
    k = len(result.moves)
    result.visits = np.zeros(k, dtype=np.int64)
    result.priors = np.zeros(k)
    result.priors[5] = 1.0
    assert {search.choose(result, 1.0) for _ in range(10)} == {result.moves[5]}
    result.visits[7] = 1  # one playout: its move, whatever the priors say
    assert {search.choose(result, 1.0) for _ in range(10)} == {result.moves[7]}


def test_policy_is_the_networks_alone() -> None:
    model = tiny_model(4)
    search = PUCTSearch(model, SearchSettings(policy_temperature=2.0))
    board = cshogi.Board(BLUNDER)
    moves, priors, value = search.policy(board)
    assert moves == [int(m) for m in board.legal_moves]
    logits, values = network_outputs(model, [board])
    labels = [move_label(m, int(board.turn)) for m in moves]
    expected = np.exp(logits[0][labels] - logits[0][labels].max())  # at temperature 1
    assert priors.tolist() == pytest.approx((expected / expected.sum()).tolist(), abs=1e-6)
    assert value == pytest.approx(float(values[0]), abs=1e-6)
    # No legal move: nothing to play, and lost.
    moves, priors, value = search.policy(cshogi.Board("4k4/4G4/4P4/9/9/9/9/9/4K4 w - 2"))
    assert (moves, priors.shape, value) == ([], (0,), -1.0)


def test_on_info_reports_the_search_so_far_every_interval() -> None:
    search = searcher()
    board = search.set_position(cshogi.STARTING_SFEN, [])
    infos: list[Any] = []
    calls = search.leaves.calls
    result = search.search(board, Limits(playouts=200), on_info=infos.append, info_interval=0.0)
    # Interval 0: after every batch the network evaluated (not the root's call).
    assert len(infos) == search.leaves.calls - calls - 1 > 5
    playouts = [info.playouts for info in infos]
    assert playouts == sorted(set(playouts)) and playouts[-1] == result.playouts == 200
    for info in infos:
        assert int(info.visits.sum()) == info.playouts and info.best in info.moves
        assert 0 < info.evaluations <= info.playouts and info.seldepth >= 1
    assert [i.evaluations for i in infos][-1] == result.evaluations
    assert infos[-1].seldepth == result.seldepth
    assert [i.seconds for i in infos] == sorted(i.seconds for i in infos)
    # No report before the first interval has passed ...
    search.reset()
    board = search.set_position(cshogi.STARTING_SFEN, [])
    search.search(board, Limits(playouts=50), on_info=infos.append, info_interval=600.0)
    assert len(infos) == len(playouts)
    # ... and then one per interval: at most 3 in a search of 0.5 s (and its last batch).
    infos.clear()
    search.reset()
    board = search.set_position(cshogi.STARTING_SFEN, [])
    deadline = Limits(deadline=time.monotonic() + 0.5)
    search.search(board, deadline, on_info=infos.append, info_interval=0.2)
    assert 1 <= len(infos) <= 3


def test_one_playout_is_played_past_the_deadline_and_none_once_stopped() -> None:
    """A move is never chosen on the priors alone because the clock was already short: one
    batch is played out past the deadline, which the clock cuts after its first playout.
    Stopped before it starts, the search plays none."""
    past = time.monotonic() - 1.0
    search = searcher(batch_size=8)
    board = search.set_position(cshogi.STARTING_SFEN, [])
    assert search.search(board, Limits(deadline=past)).playouts == 1
    assert search.search(board, Limits(playouts=1, deadline=past)).playouts == 1
    stopped = Limits(playouts=100)
    stopped.stop.set()
    assert search.search(board, stopped).playouts == 0


def test_set_position_keeps_the_subtree_of_the_moves_played_and_drops_the_rest() -> None:
    def searched() -> tuple[PUCTSearch, Any]:
        search = searcher()
        result = search.search(search.set_position(cshogi.STARTING_SFEN, []), Limits(playouts=60))
        assert search.root is not None and search.nodes == 1 + result.evaluations
        return search, result

    # The game goes on with two moves the tree searched: their node is the new root, and the
    # node count stays (an upper bound).
    search, result = searched()
    nodes, root = search.nodes, search.root
    assert root is not None
    best, reply = result.pv[0], result.pv[1]
    search.set_position(cshogi.STARTING_SFEN, [best, reply])
    kept = root.child(best)
    assert kept is not None and search.root is kept.child(reply) is not None
    assert search.nodes == nodes
    # It goes on with a move the tree never searched, then any reply: nothing to keep.
    search, _ = searched()
    root = search.root
    assert root is not None
    unvisited = next(int(m) for i, m in enumerate(root.moves) if i not in root.children)
    after = cshogi.Board()
    after.push(unvisited)
    search.set_position(cshogi.STARTING_SFEN, [unvisited, next(iter(after.legal_moves))])
    assert (search.root, search.nodes) == (None, 0)


def test_the_roots_value_before_and_after_its_first_visit() -> None:
    """With no playout the root's value is the network's; with one, the visited move's q."""
    model = tiny_model(6)
    search = PUCTSearch(model, SearchSettings(batch_size=1, mate_nodes=0))
    board = search.set_position(ONE_MOVE, [])
    _, values = network_outputs(model, [board])
    result = search.search(board, Limits(playouts=10))  # one legal move: not searched
    assert result.playouts == 0 and result.value == pytest.approx(float(values[0]), abs=1e-6)
    search.reset()
    board = search.set_position(BLUNDER, [])
    result = search.search(board, Limits(playouts=1))
    assert result.best is not None and result.visits.max() == 1
    assert result.value == result.q[result.moves.index(result.best)] != search.root.q
    # No legal move: no move, line or lines.
    result = search.search(search.set_position("4k4/4G4/4P4/9/9/9/9/9/4K4 w - 2", []), Limits())
    assert (result.best, result.pv, result.lines) == (None, [], [])


# White to move has two legal moves, and Black mates in one after either (random play).
EVERY_MOVE_LOSES = (
    "1+P2p2pG/P1+BL5/+Pr+Np1p+RP1/L1p1k4/1p+b2Gs1P/4GP1l+p/+p2NnK1n1/1+l1P1S1s1/3+s2+p2 w g2p 246"
)


def allows_a_mate_in_one(board: cshogi.Board, moves: list[int]) -> npt.NDArray[np.bool_]:
    bad = np.zeros(len(moves), dtype=bool)
    for i, move in enumerate(moves):
        board.push(move)
        bad[i] = not board.is_check() and bool(board.mate_move_in_1ply())
        board.pop()
    return bad


def test_root_filter_by_hand() -> None:
    """The root filter on chosen priors: the moves that allow a mate in one get 0 and the
    rest share the mass they had, or share it evenly if they had none; with none or all of
    the moves allowing a mate the priors are left as they are."""
    search = searcher()
    board = cshogi.Board(BLUNDER)
    moves = [int(m) for m in board.legal_moves]
    bad = allows_a_mate_in_one(board, moves)
    assert 0 < bad.sum() < len(moves)
    chosen = np.linspace(1.0, 2.0, len(moves))
    for priors, expected in [
        (chosen / chosen.sum(), np.where(bad, 0.0, chosen) / chosen[~bad].sum()),
        (np.where(bad, 1.0 / bad.sum(), 0.0), np.where(bad, 0.0, 1.0 / (~bad).sum())),
    ]:
        root = Node(moves)
        root.priors = priors.astype(np.float32)
        search._filter_root(board, root)
        assert root.priors.dtype == np.float32
        assert root.priors.tolist() == pytest.approx(expected.tolist(), abs=1e-7)
    assert board.sfen() == BLUNDER
    for sfen in (EVERY_MOVE_LOSES, cshogi.STARTING_SFEN):
        board = cshogi.Board(sfen)
        root = Node([int(m) for m in board.legal_moves])
        bad = allows_a_mate_in_one(board, root.moves.tolist())
        assert bad.all() if sfen == EVERY_MOVE_LOSES else not bad.any()
        root.priors = before = np.full(len(root.moves), 1 / len(root.moves), dtype=np.float32)
        search._filter_root(board, root)
        assert root.priors is before, sfen


def test_search_rate_measures_one_search_from_a_fresh_tree() -> None:
    """(playouts/s, mean leaves per network call, the root's call left out) of one search of
    the position given, and the tree forgotten after it."""
    model = tiny_model(0)
    calls: list[npt.NDArray[np.float32]] = []
    model.register_forward_hook(lambda _m, inp, _out: calls.append(inp[0].numpy().copy()))
    search = PUCTSearch(model, SearchSettings(batch_size=8, mate_nodes=0))
    search.search(search.set_position(cshogi.STARTING_SFEN, []), Limits(playouts=20))
    calls.clear()
    began = time.monotonic()
    nps, per_call = search_rate(search, BLUNDER, 0.3)
    elapsed = time.monotonic() - began
    sizes = [len(c) for c in calls]
    assert len(sizes) > 3 and per_call == sum(sizes[1:]) / (len(sizes) - 1)
    assert np.array_equal(calls[0], observations([cshogi.Board(BLUNDER)]))  # a fresh root
    assert nps >= sum(sizes[1:]) / elapsed
    assert (search.root, search.nodes) == (None, 0)


# Black to move checks a lone king in many ways and mates in none: df-pn spends any budget.
NO_MATE_MANY_CHECKS = "9/9/9/9/4k4/9/9/9/4K4 b RGSN 1"


def test_the_root_mate_check_spends_its_node_budget_as_the_clock_allows() -> None:
    """Without a clock: one df-pn search of ``mate_nodes``. On the clock, a first probe of
    MATE_PROBE nodes measures df-pn's rate; then budgets of MATE_SHARE of the time left, up
    to ``mate_nodes``, while they grow. cshogi's DfPn counts the nodes of its last search."""
    nodes = 4 * MATE_PROBE

    def check(limits: Limits, search: PUCTSearch | None = None) -> tuple[PUCTSearch, int]:
        search = search or searcher(mate_nodes=nodes)
        result = search.search(search.set_position(NO_MATE_MANY_CHECKS, []), limits)
        assert (result.mate, result.playouts) == (None, 1)
        return search, int(search._dfpn.searched_node)

    assert check(Limits(playouts=1))[1] == nodes
    # A deadline 100 s away: the probe, then all of mate_nodes.
    assert check(Limits(playouts=1, deadline=time.monotonic() + 100))[1] == nodes
    # A deadline already passed: the probe only; and once the rate is known, no time is no
    # budget (one node, the least df-pn searches).
    search, searched = check(Limits(playouts=1, deadline=time.monotonic() - 1))
    assert searched == MATE_PROBE and search._dfpn_rate is not None
    assert check(Limits(playouts=1, deadline=time.monotonic() - 1), search)[1] == 1
