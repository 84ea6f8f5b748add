"""The batched Shogi environment (issue 2): encoding, rules, determinism, bad input.

Everything is checked against cshogi itself (its legal moves, dlshogi move labels and input
features, its own repetition judgement); hand-built positions cover every termination.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import cshogi
import numpy as np
import pytest
from cshogi import dlshogi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keisei.game._games import GameBatch
from keisei.game.encoding import NUM_ACTIONS, NUM_PLANES, OBS_SHAPE, pack_mask, pack_obs
from keisei.game.env import (
    REASONS,
    GameResult,
    IllegalActionError,
    ShogiEnv,
    StepResult,
    join_steps,
    random_legal,
    validate_sfen,
)

START = cshogi.STARTING_SFEN
# A few start positions: handicaps (fewer pieces), a mid-game with pieces in hand, and a
# position with white to move, so that both perspectives and drops occur from ply 0.
HANDICAP_2 = "lnsgkgsnl/9/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL w - 1"
HANDICAP_LANCE = "lnsgkgsn1/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL w - 1"
MIDGAME = "ln1g3nl/1r1s1kg2/p2ppp1p1/2p3p1p/1p7/2P1P1P1P/PPSP1P3/2G1G2R1/LN2K1SNL b BSPb 1"
WHITE_TO_MOVE = "lnsgkgsnl/1r5b1/ppppppppp/9/9/2P6/PP1PPPPPP/1B5R1/LNSGKGSNL w - 2"
ALL_IN_HAND = "4k4/9/9/9/9/9/9/9/4K4 b RBGSNLPrb3g3s3n3l17p 1"
START_SETS: list[list[str] | None] = [
    None,
    [START],
    [START, HANDICAP_2, HANDICAP_LANCE],
    [MIDGAME, WHITE_TO_MOVE, ALL_IN_HAND],
]

# Hand-built positions, one per termination reason (moves in USI).
MATE = "4k4/9/4P4/9/9/9/9/9/4K4 b G 1"  # G*5b mates
STALEMATE = "k8/9/9/9/1+R7/9/9/9/8K b - 1"  # 8e8c leaves white no legal move, not in check
# Black's dragon checks with every move; white's king shuffles between 8a and 9a.
PERPETUAL_BLACK_TO_MOVE = "1k7/9/+R8/9/9/9/9/9/8K b - 1"
PERPETUAL_CYCLE_A = ["9c8c", "8a9a", "8c9c", "9a8a"]
PERPETUAL_WHITE_TO_MOVE = "k8/9/+R8/9/9/9/9/9/8K w - 1"
PERPETUAL_CYCLE_B = ["9a8a", "9c8c", "8a9a", "8c9c"]
KINGS_ONLY = "4k4/9/9/9/9/9/9/9/4K4 b - 1"
KINGS_CYCLE = ["5i4i", "5a4a", "4i5i", "4a5a"]
# The rook checks on every other black move only: a plain repetition, not perpetual check.
ROOK_SOMETIMES_CHECKS = "4k4/9/9/9/R8/9/9/9/8K b - 1"
ROOK_CYCLE = ["9e5e", "5a4a", "5e9e", "4a5a"]
# Black: 12 pieces (4 big ones) in white's camp = 28 points; the king enters the camp with
# 5d5c, white replies, and black (to move, not in check) may declare: 27-point rule.
NYUGYOKU = "GGGG1SSSS/RRBB5/9/4K4/9/9/9/9/4k4 b - 1"


# -- helpers -----------------------------------------------------------------------------
def features(board: cshogi.Board) -> np.ndarray[Any, Any]:
    """cshogi's own dlshogi planes of ``board`` as 0/1 uint8, (119, 9, 9)."""
    planes = np.zeros((NUM_PLANES, 81), dtype=np.float32)
    dlshogi.make_input_features(
        board, planes[: dlshogi.FEATURES1_NUM], planes[dlshogi.FEATURES1_NUM :]
    )
    assert set(np.unique(planes).tolist()) <= {0.0, 1.0}
    return planes.astype(np.uint8).reshape(OBS_SHAPE)


def labelled_moves(board: cshogi.Board) -> dict[int, int]:
    """cshogi's legal moves by dlshogi label; fails if two moves share a label."""
    by_label: dict[int, int] = {}
    for move in board.legal_moves:
        label = dlshogi.make_move_label(move, board.turn)
        assert 0 <= label < NUM_ACTIONS
        assert label not in by_label, f"two legal moves share label {label} in {board.sfen()}"
        by_label[label] = move
    return by_label


def action(env: ShogiEnv, game: int, usi: str) -> int:
    board = env.boards()[game]
    move = board.move_from_usi(usi)
    assert board.is_legal(move), (usi, board.sfen())
    return int(dlshogi.make_move_label(move, board.turn))


def check_step(env: ShogiEnv, step: StepResult) -> None:
    """Every array of ``step`` agrees exactly with cshogi on the env's current boards."""
    n = env.num_games
    assert step.obs.shape == (n, *OBS_SHAPE) and step.obs.dtype == np.uint8
    assert step.mask.shape == (n, NUM_ACTIONS) and step.mask.dtype == np.bool_
    assert step.reward.shape == (n,) and step.reward.dtype == np.float32
    assert step.done.shape == (n,) and step.done.dtype == np.bool_
    assert step.to_move.shape == (n,) and step.plies.shape == (n,)
    assert len(step.finished) == n
    assert step.legal_counts.shape == (n,)
    assert step.legal_actions.shape == (int(step.legal_counts.sum()),)
    assert np.array_equal(step.mask.sum(axis=1), step.legal_counts)
    offsets = np.concatenate([[0], np.cumsum(step.legal_counts)])
    for i, board in enumerate(env.boards()):
        # The planes keisei writes in C++ are exactly cshogi's own.
        assert np.array_equal(step.obs[i], features(board))
        assert step.to_move[i] == board.turn and step.plies[i] == len(board.history)
        by_label = labelled_moves(board)
        labels = sorted(by_label)
        # The mask is true exactly on the legal moves' labels ...
        assert np.flatnonzero(step.mask[i]).tolist() == labels
        # ... legal_actions lists the same ids once each ...
        segment = step.legal_actions[offsets[i] : offsets[i + 1]]
        assert sorted(segment.tolist()) == labels
        assert step.legal_counts[i] == len(by_label) == len(board.legal_moves)
        # ... and each id decodes back to its move.
        for label, move in by_label.items():
            assert env.move_of(i, label) == move
        assert np.array_equal(step.obs[i], features(board))
        assert step.to_move[i] == board.turn
        assert step.plies[i] == len(board.history)


def check_finished(result: GameResult, max_plies: int) -> None:
    """A finished game's record replays legally in cshogi, ended where and how it says.

    Repetition is judged here independently of the environment: the final position must be
    the first to occur a fourth time, and a side loses if every one of its moves since the
    first occurrence gave check.
    """
    assert result.reason in REASONS
    assert result.plies == len(result.moves) <= max_plies
    board = cshogi.Board(result.start_sfen)
    start_turn = board.turn
    keys = [board.zobrist_hash()]
    checks = [bool(board.is_check())]
    for ply, move in enumerate(result.moves, 1):
        assert board.is_legal(move)
        board.push(move)
        keys.append(board.zobrist_hash())
        checks.append(bool(board.is_check()))
        if ply < result.plies:  # no earlier ending was missed
            assert keys.count(keys[-1]) < 4
            assert len(board.legal_moves) > 0 and not board.is_nyugyoku()
    mover = 1 - board.turn  # who played the last move
    repeated = keys.count(keys[-1]) == 4
    if result.reason in ("repetition", "perpetual_check"):
        assert repeated
        first = keys.index(keys[-1])

        def checked_throughout(side: int) -> bool:
            moves = [j for j in range(first, result.plies) if (start_turn + j) % 2 == side]
            return all(checks[j + 1] for j in moves)

        black, white = checked_throughout(cshogi.BLACK), checked_throughout(cshogi.WHITE)
        if black != white:
            assert result.reason == "perpetual_check"
            assert result.winner == (cshogi.WHITE if black else cshogi.BLACK)
        else:
            assert result.reason == "repetition" and result.winner is None
    else:
        assert not repeated
    if result.reason == "max_plies":
        assert result.plies == max_plies and result.winner is None
        assert len(board.legal_moves) > 0 and not board.is_nyugyoku()
    elif result.reason in ("checkmate", "no_legal_moves"):
        assert len(board.legal_moves) == 0 and result.winner == mover
        assert bool(board.is_check()) == (result.reason == "checkmate")
    elif result.reason == "nyugyoku":
        assert len(board.legal_moves) > 0
        assert board.is_nyugyoku() and result.winner == board.turn
    assert result.result == ("draw" if result.winner is None else ("black", "white")[result.winner])


def snapshot(step: StepResult) -> tuple[Any, ...]:
    arrays = (step.obs, step.mask, step.reward, step.done, step.to_move, step.plies)
    return (
        *(a.tobytes() for a in arrays),
        step.legal_actions.tolist(),
        step.legal_counts.tolist(),
        step.finished,
    )


def play(sfen: str, usis: list[str], max_plies: int = 512) -> tuple[ShogiEnv, list[StepResult]]:
    env = ShogiEnv(1, max_plies=max_plies, start_sfens=[sfen])
    steps = [env.reset(0)]
    for usi in usis:
        steps.append(env.step(np.array([action(env, 0, usi)])))
    return env, steps


def assert_only_last_done(steps: list[StepResult]) -> None:
    assert [bool(s.done[0]) for s in steps[1:]] == [False] * (len(steps) - 2) + [True]
    assert all(s.finished[0] is None for s in steps[:-1])
    assert [int(s.plies[0]) for s in steps[:-1]] == list(range(len(steps) - 1))
    assert all(float(s.reward[0]) == 0.0 for s in steps[:-1])


# -- properties over random games -------------------------------------------------------
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    num_games=st.integers(1, 4),
    max_plies=st.one_of(st.integers(1, 40), st.integers(100, 400)),
    start_sfens=st.sampled_from(START_SETS),
)
def test_random_games_agree_with_cshogi(
    seed: int, num_games: int, max_plies: int, start_sfens: list[str] | None
) -> None:
    """Long random games (hand pieces, promotions, restarts): every step matches cshogi."""
    steps = 150
    env = ShogiEnv(num_games, max_plies=max_plies, start_sfens=start_sfens)
    rng = np.random.default_rng(seed)
    step = env.reset(seed)
    check_step(env, step)
    assert not step.done.any() and (step.plies == 0).all()
    starts = {cshogi.Board(s).sfen() for s in (start_sfens or [START])}
    for _ in range(steps):
        before = [b.copy() for b in env.boards()]
        actions = random_legal(step, rng)
        moves = [env.move_of(i, int(a)) for i, a in enumerate(actions)]
        step = env.step(actions)
        check_step(env, step)
        for i, result in enumerate(step.finished):
            if result is None:
                assert not step.done[i] and step.reward[i] == 0
                # The game went on with exactly the chosen move.
                assert env.boards()[i].history[-1] == moves[i]
                before[i].push(moves[i])
                assert env.boards()[i].sfen() == before[i].sfen()
                continue
            assert step.done[i]
            check_finished(result, max_plies)
            assert result.moves[-1] == moves[i]
            mover = before[i].turn
            expected = 0.0 if result.winner is None else (1.0 if result.winner == mover else -1.0)
            assert step.reward[i] == expected
            # Auto-reset: the observation is the first position of a new game.
            assert step.plies[i] == 0 and env.boards()[i].sfen() in starts


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    max_plies=st.integers(1, 40),
    choices=st.lists(
        st.lists(st.integers(0, 10**6), min_size=3, max_size=3), min_size=10, max_size=80
    ),
    start_sfens=st.sampled_from(START_SETS),
)
def test_same_seed_and_actions_give_identical_trajectories(
    seed: int, max_plies: int, choices: list[list[int]], start_sfens: list[str] | None
) -> None:
    traces = []
    for _ in range(2):
        env = ShogiEnv(3, max_plies=max_plies, start_sfens=start_sfens)
        step = env.reset(seed)
        trace = [snapshot(step)]
        for picks in choices:
            offsets = np.cumsum(step.legal_counts) - step.legal_counts
            index = offsets + np.array(picks) % step.legal_counts
            step = env.step(step.legal_actions[index])
            trace.append(snapshot(step))
        traces.append(trace)
    assert traces[0] == traces[1]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), plies=st.integers(0, 200))
def test_observations_and_actions_are_relative_to_the_side_to_move(seed: int, plies: int) -> None:
    """A position and its 180-degree rotation with colours swapped look identical."""
    rng = np.random.default_rng(seed)
    board = cshogi.Board()
    for _ in range(plies):
        moves = list(board.legal_moves)
        if not moves or board.is_nyugyoku():
            break
        board.push(moves[int(rng.integers(len(moves)))])
    if len(board.legal_moves) == 0 or board.is_nyugyoku():
        return
    sfen = board.sfen()
    rotated = cshogi.rotate_sfen(sfen)
    a, b = ShogiEnv(1, start_sfens=[sfen]), ShogiEnv(1, start_sfens=[rotated])
    step_a, step_b = a.reset(), b.reset()
    assert step_a.to_move[0] != step_b.to_move[0]
    assert step_a.obs.dtype == np.uint8 and int(step_a.obs.max()) <= 1
    assert np.array_equal(step_a.obs, step_b.obs)
    assert np.array_equal(step_a.mask, step_b.mask)
    for label in np.flatnonzero(step_a.mask[0]).tolist():
        assert b.move_of(0, label) == cshogi.move_rotate(a.move_of(0, label))


def test_observation_of_the_start_position() -> None:
    black = ShogiEnv(1).reset().obs[0]
    white = ShogiEnv(1, start_sfens=[cshogi.rotate_sfen(START)]).reset().obs[0]
    assert black.dtype == np.uint8 and set(np.unique(black).tolist()) == {0, 1}
    # Each side sees its own pieces on the same planes: the two positions look the same.
    assert np.array_equal(black, white)
    assert np.array_equal(black, features(cshogi.Board()))
    # After 7g7f it is white's move, and white sees black's pawn as the opponent's (plane
    # 31) on the square that is 7f rotated by 180 degrees; its own pawns (plane 0) stay put.
    env = ShogiEnv(1)
    env.reset()
    after = env.step(np.array([action(env, 0, "7g7f")])).obs[0]
    assert np.array_equal(after[0], black[0])
    moved = np.argwhere(after[31] != black[31]).tolist()
    to_7f = 80 - cshogi.move_to(cshogi.Board().move_from_usi("7g7f"))
    from_7g = 80 - cshogi.move_from(cshogi.Board().move_from_usi("7g7f"))
    assert sorted(moved) == sorted([[to_7f // 9, to_7f % 9], [from_7g // 9, from_7g % 9]])
    assert after[31].reshape(81)[to_7f] == 1 and after[31].reshape(81)[from_7g] == 0


def test_every_drop_has_its_own_action() -> None:
    env = ShogiEnv(1, start_sfens=[ALL_IN_HAND])
    step = env.reset()
    check_step(env, step)
    drops = [m for m in env.boards()[0].legal_moves if cshogi.move_is_drop(m)]
    assert len(drops) > 400 and len(set(np.flatnonzero(step.mask[0]).tolist())) > 400


# -- termination, by hand-built positions -----------------------------------------------
def test_checkmate_wins_for_the_mover() -> None:
    _env, steps = play(MATE, ["G*5b"])
    last = steps[-1]
    assert last.done.tolist() == [True] and last.reward.tolist() == [1.0]
    result = last.finished[0]
    assert result is not None
    assert (result.winner, result.reason, result.plies, result.result) == (
        cshogi.BLACK,
        "checkmate",
        1,
        "black",
    )
    assert result.moves == (cshogi.Board(MATE).move_from_usi("G*5b"),)
    check_finished(result, 512)


def test_checkmate_by_white_is_a_white_win_and_plus_one_for_white() -> None:
    _env, steps = play(cshogi.rotate_sfen(MATE), ["G*5h"])
    last = steps[-1]
    result = last.finished[0]
    assert result is not None
    assert (result.winner, result.reason, result.result) == (cshogi.WHITE, "checkmate", "white")
    assert last.reward.tolist() == [1.0]


def test_no_legal_moves_without_check_loses() -> None:
    _env, steps = play(STALEMATE, ["8e8c"])
    result = steps[-1].finished[0]
    assert result is not None
    assert (result.winner, result.reason) == (cshogi.BLACK, "no_legal_moves")
    assert steps[-1].reward.tolist() == [1.0]
    check_finished(result, 512)


def test_perpetual_check_loses_for_the_checker_when_the_other_side_repeats() -> None:
    # The start position recurs at plies 4, 8, 12: white's 12th-ply move makes the 4th.
    _env, steps = play(PERPETUAL_BLACK_TO_MOVE, PERPETUAL_CYCLE_A * 3)
    assert_only_last_done(steps)
    result = steps[-1].finished[0]
    assert result is not None
    assert (result.winner, result.reason, result.plies) == (cshogi.WHITE, "perpetual_check", 12)
    assert steps[-1].reward.tolist() == [1.0]  # white moved last and wins
    check_finished(result, 512)


def test_perpetual_check_loses_for_the_checker_when_it_repeats() -> None:
    # Black's 12th-ply check makes the 4th occurrence: black, the mover, loses.
    _env, steps = play(PERPETUAL_WHITE_TO_MOVE, PERPETUAL_CYCLE_B * 3)
    assert_only_last_done(steps)
    result = steps[-1].finished[0]
    assert result is not None
    assert (result.winner, result.reason, result.plies) == (cshogi.WHITE, "perpetual_check", 12)
    assert steps[-1].reward.tolist() == [-1.0]
    check_finished(result, 512)


@pytest.mark.parametrize(
    ("sfen", "cycle"), [(KINGS_ONLY, KINGS_CYCLE), (ROOK_SOMETIMES_CHECKS, ROOK_CYCLE)]
)
def test_fourfold_repetition_is_a_draw_on_the_fourth_occurrence(
    sfen: str, cycle: list[str]
) -> None:
    _env, steps = play(sfen, cycle * 3)
    assert_only_last_done(steps)
    result = steps[-1].finished[0]
    assert result is not None
    assert (result.winner, result.reason, result.plies, result.result) == (
        None,
        "repetition",
        12,
        "draw",
    )
    assert steps[-1].reward.tolist() == [0.0]
    check_finished(result, 512)


def test_repetition_counts_occurrences_along_different_paths() -> None:
    # The start position recurs at ply 4 by another route (6i/6a), then at plies 8 and 12.
    _env, steps = play(KINGS_ONLY, ["5i6i", "5a6a", "6i5i", "6a5a", *KINGS_CYCLE * 2])
    assert_only_last_done(steps)
    result = steps[-1].finished[0]
    assert result is not None and (result.reason, result.plies) == ("repetition", 12)
    check_finished(result, 512)


def test_nyugyoku_declaration_wins_for_the_side_to_move() -> None:
    _env, steps = play(NYUGYOKU, ["5d5c", "5i4i"])
    assert_only_last_done(steps)
    result = steps[-1].finished[0]
    assert result is not None
    assert (result.winner, result.reason, result.plies) == (cshogi.BLACK, "nyugyoku", 2)
    # White moved last and black declared: -1 for white, the player who just moved.
    assert steps[-1].reward.tolist() == [-1.0]
    check_finished(result, 512)


def test_nyugyoku_for_white() -> None:
    _env, steps = play(cshogi.rotate_sfen(NYUGYOKU), ["5f5g", "5a6a"])
    result = steps[-1].finished[0]
    assert result is not None
    assert (result.winner, result.reason, result.result) == (cshogi.WHITE, "nyugyoku", "white")


def test_max_plies_is_a_draw() -> None:
    _env, steps = play(START, ["7g7f", "3c3d", "2g2f"], max_plies=3)
    assert_only_last_done(steps)
    result = steps[-1].finished[0]
    assert result is not None
    assert (result.winner, result.reason, result.plies, result.result) == (
        None,
        "max_plies",
        3,
        "draw",
    )
    assert steps[-1].reward.tolist() == [0.0]
    check_finished(result, 3)


def test_checkmate_on_the_last_allowed_ply_is_still_checkmate() -> None:
    _env, steps = play(MATE, ["G*5b"], max_plies=1)
    result = steps[-1].finished[0]
    assert result is not None and result.reason == "checkmate" and result.winner == cshogi.BLACK


def test_finished_games_restart_and_the_others_go_on() -> None:
    env = ShogiEnv(3, start_sfens=[MATE])
    step = env.reset()
    fresh = copy.deepcopy(step)
    step = env.step(
        np.array([action(env, 0, "G*5b"), action(env, 1, "5i4i"), action(env, 2, "G*5b")])
    )
    check_step(env, step)
    assert step.done.tolist() == [True, False, True]
    assert step.reward.tolist() == [1.0, 0.0, 1.0]
    assert step.plies.tolist() == [0, 1, 0]
    assert step.to_move.tolist() == [cshogi.BLACK, cshogi.WHITE, cshogi.BLACK]
    assert [f is not None and f.reason for f in step.finished] == ["checkmate", False, "checkmate"]
    for i in (0, 2):
        assert np.array_equal(step.obs[i], fresh.obs[i])
        assert np.array_equal(step.mask[i], fresh.mask[i])
        assert env.boards()[i].sfen() == cshogi.Board(MATE).sfen()
    assert not np.array_equal(step.obs[1], fresh.obs[1])


def test_restart_starts_new_games_in_some_slots_and_the_others_go_on() -> None:
    env = ShogiEnv(3, start_sfens=[START, HANDICAP_2])
    env.reset(5)
    step = env.step(np.array([action(env, i, "5i4h" if env.boards()[i].turn == 0 else "5a4b")
                              for i in range(3)]))  # fmt: skip
    before = [b.sfen() for b in env.boards()]
    moves = [env.state_dict()["games"][i][1] for i in range(3)]
    rng = copy.deepcopy(env.rng)
    starts = [env.start_sfens[int(rng.integers(2))] for _ in range(2)]  # as auto-reset draws
    step = env.restart([2, 0])
    check_step(env, step)
    assert step.plies.tolist() == [0, 1, 0] and step.done.tolist() == [False] * 3
    assert step.reward.tolist() == [0.0] * 3 and step.finished == [None] * 3
    boards = env.boards()
    assert [boards[2].sfen(), boards[0].sfen()] == [cshogi.Board(s).sfen() for s in starts]
    assert boards[1].sfen() == before[1] and env.state_dict()["games"][1][1] == moves[1]
    assert env.state_dict()["games"][0] == (starts[1], [])
    assert env.rng.bit_generator.state == rng.bit_generator.state


def test_restart_refuses_a_slot_outside_the_batch_or_before_reset() -> None:
    env = ShogiEnv(2)
    with pytest.raises(RuntimeError, match=r"call reset\(\) before restart\(\)"):
        env.restart([0])
    env.reset()
    with pytest.raises(ValueError, match=r"game 2 is outside 0..1"):
        env.restart([0, 2])
    assert env.state_dict()["games"] == [(START, []), (START, [])]


def test_restarts_draw_start_positions_from_the_list() -> None:
    sfens = [START, HANDICAP_2, HANDICAP_LANCE]
    env = ShogiEnv(8, max_plies=1, start_sfens=sfens)
    step = env.reset(11)
    seen = set()
    for _ in range(10):
        seen.update(b.sfen() for b in env.boards())
        step = env.step(random_legal(step, np.random.default_rng(0)))
        assert step.done.all() and all(
            f is not None and f.reason == "max_plies" for f in step.finished
        )
    assert seen == {cshogi.Board(s).sfen() for s in sfens}


# -- bad input -------------------------------------------------------------------------
BAD_SFENS = [
    "",
    "xyz",
    "startpos",
    "4k4/9/9/9/9/9/9/9/4K5 b - 1",  # ten squares on a rank
    "4k4/9/9/9/9/9/9/4K4 b - 1",  # eight ranks
    "4k4/9/9/9/9/9/9/9/4K4 x - 1",  # side to move
    "4k4/9/9/9/9/9/9/9/4K4 b K 1",  # a king in hand
    "4k4/9/9/9/9/9/9/9/4K4 b - 1 extra",
    "9/9/9/9/9/9/9/9/4K4 b R 1",  # no white king
    "4k4/9/9/9/9/9/P8/P8/4K4 b - 1",  # two black pawns on file 9
    "P3k4/9/9/9/9/9/9/9/4K4 b - 1",  # a pawn that can never move
    "4k4/9/9/9/9/9/9/9/4K4 b 3R 1",  # three rooks
    "4k4/9/4R4/9/9/9/9/9/4K4 b - 1",  # the side not to move is in check
    "4k4/4G4/4G4/9/9/9/9/9/4K4 w - 1",  # white is mated already
]


@pytest.mark.parametrize("sfen", BAD_SFENS)
def test_invalid_start_sfen_is_a_value_error_naming_it(sfen: str) -> None:
    with pytest.raises(ValueError, match="start position 1") as info:
        ShogiEnv(2, start_sfens=[START, sfen])
    assert repr(sfen) in str(info.value)


def test_a_start_sfen_without_move_number_is_accepted() -> None:
    env = ShogiEnv(1, start_sfens=["4k4/9/9/9/9/9/9/9/4K4 b -"])
    assert env.boards() == [] and env.reset().plies.tolist() == [0]
    assert env.boards()[0].sfen() == KINGS_ONLY


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError, match="num_games"):
        ShogiEnv(0)
    with pytest.raises(ValueError, match="max_plies"):
        ShogiEnv(1, max_plies=0)


def _played(num_games: int = 3, seed: int = 5, plies: int = 7) -> tuple[ShogiEnv, StepResult]:
    env = ShogiEnv(num_games, start_sfens=[START, MIDGAME])
    rng = np.random.default_rng(seed)
    step = env.reset(seed)
    for _ in range(plies):
        step = env.step(random_legal(step, rng))
    return env, step


def _state(env: ShogiEnv) -> tuple[Any, ...]:
    return (json.dumps(env.state_dict()), [b.sfen() for b in env.boards()])


def test_an_illegal_action_names_its_game_and_changes_nothing() -> None:
    env, step = _played()
    twin, _twin_step = _played()
    before = _state(env)
    actions = random_legal(step, np.random.default_rng(1))
    bad = actions.copy()
    bad[1] = int(np.flatnonzero(~step.mask[1])[0])
    with pytest.raises(IllegalActionError, match="game 1") as info:
        env.step(bad)
    assert "game 0" not in str(info.value) and "game 2" not in str(info.value)
    assert env.boards()[1].sfen() in str(info.value)
    assert _state(env) == before
    # The same legal batch afterwards gives exactly what an untouched twin gives.
    assert snapshot(env.step(actions)) == snapshot(twin.step(actions))


@pytest.mark.parametrize("value", [-1, NUM_ACTIONS, 10**12])
def test_an_action_out_of_range_names_its_game(value: int) -> None:
    env, step = _played()
    before = _state(env)
    actions = random_legal(step, np.random.default_rng(1))
    actions[2] = value
    with pytest.raises(IllegalActionError, match=f"game 2: action {value} is outside"):
        env.step(actions)
    assert _state(env) == before


def test_every_bad_game_is_named() -> None:
    env, step = _played()
    actions = random_legal(step, np.random.default_rng(1))
    actions[0] = -5
    actions[2] = int(np.flatnonzero(~step.mask[2])[0])
    with pytest.raises(IllegalActionError) as info:
        env.step(actions)
    message = str(info.value)
    assert "game 0: action -5" in message and "game 2: action" in message
    assert "game 1" not in message


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a[:2],
        lambda a: np.concatenate([a, a[:1]]),
        lambda a: a.reshape(3, 1),
        lambda a: a[0],
        lambda a: np.zeros(0, dtype=np.int64),
    ],
    ids=["short", "long", "column", "scalar", "empty"],
)
def test_wrong_shape_is_rejected(make: Any) -> None:
    env, step = _played()
    before = _state(env)
    with pytest.raises(IllegalActionError, match=r"shape \(3,\)"):
        env.step(make(random_legal(step, np.random.default_rng(1))))
    assert _state(env) == before


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.bool_])
def test_non_integer_dtype_is_rejected(dtype: Any) -> None:
    env, step = _played()
    before = _state(env)
    actions = random_legal(step, np.random.default_rng(1)).astype(dtype)
    with pytest.raises(IllegalActionError, match="must be integers"):
        env.step(actions)
    assert _state(env) == before


def test_python_ints_and_narrow_integer_dtypes_are_accepted() -> None:
    env, step = _played()
    twin, _ = _played()
    actions = random_legal(step, np.random.default_rng(1))
    assert snapshot(env.step(actions.astype(np.int16).tolist())) == snapshot(twin.step(actions))


def test_step_before_reset_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="reset"):
        ShogiEnv(1).step(np.zeros(1, dtype=np.int64))


def test_move_of_an_illegal_action_is_an_error() -> None:
    env = ShogiEnv(1)
    step = env.reset()
    with pytest.raises(IllegalActionError, match="game 0"):
        env.move_of(0, int(np.flatnonzero(~step.mask[0])[0]))
    # Negative numbers must not wrap around to the last action ids or games.
    last_legal = int(np.flatnonzero(step.mask[0])[-1])
    for game, bad in ((0, last_legal - NUM_ACTIONS), (0, NUM_ACTIONS), (-1, last_legal), (1, 0)):
        with pytest.raises(IllegalActionError, match="not legal"):
            env.move_of(game, bad)


# -- saving and restoring ----------------------------------------------------------------
def test_state_dict_round_trip_continues_identically() -> None:
    env, step = _played(num_games=4, plies=30)
    state = json.loads(json.dumps(env.state_dict()))  # survives JSON
    other = ShogiEnv(4, start_sfens=[START, MIDGAME])
    restored = other.load_state_dict(state)
    for field in ("obs", "mask", "to_move", "plies", "legal_actions", "legal_counts"):
        assert np.array_equal(getattr(restored, field), getattr(step, field)), field
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    step_b = restored
    for _ in range(60):  # long enough for games to finish and restart from the saved RNG
        step = env.step(random_legal(step, rng_a))
        step_b = other.step(random_legal(step_b, rng_b))
        assert snapshot(step) == snapshot(step_b)


def test_state_dict_keeps_the_repetition_history() -> None:
    env, _steps = play(KINGS_ONLY, KINGS_CYCLE * 2)  # the start position occurred 3 times
    other = ShogiEnv(1, start_sfens=[KINGS_ONLY])
    other.load_state_dict(env.state_dict())
    for usi in KINGS_CYCLE:
        last = other.step(np.array([action(other, 0, usi)]))
    result = last.finished[0]
    assert result is not None and (result.reason, result.plies) == ("repetition", 12)


def test_load_state_dict_refuses_an_illegal_move_and_changes_nothing() -> None:
    env, step = _played(num_games=2, plies=6)
    state = env.state_dict()
    state["games"][1][1].append(state["games"][1][1][-1])  # the same move twice: illegal
    before = env.state_dict()
    with pytest.raises(ValueError, match=r"game 1: move \d+ is not legal"):
        env.load_state_dict(state)
    assert env.state_dict() == before
    assert snapshot(env.step(random_legal(step, np.random.default_rng(3)))) is not None


def test_load_state_dict_refuses_a_game_that_already_ended() -> None:
    env, _steps = play(KINGS_ONLY, KINGS_CYCLE * 2)
    state = env.state_dict()
    state["games"][0] = (KINGS_ONLY, [*state["games"][0][1], *env_moves(KINGS_ONLY, KINGS_CYCLE)])
    with pytest.raises(ValueError, match=r"saved game 0 ended \(repetition\) at ply 12 of 12"):
        ShogiEnv(1, start_sfens=[KINGS_ONLY]).load_state_dict(state)


def env_moves(sfen: str, usis: list[str]) -> list[int]:
    board = cshogi.Board(sfen)
    for usi in usis:
        board.push_usi(usi)
    return list(board.history)


def test_load_state_dict_with_another_game_count_is_an_error() -> None:
    env, _ = _played(num_games=3)
    with pytest.raises(ValueError, match="3 games"):
        ShogiEnv(2).load_state_dict(env.state_dict())


# -- the C++ games underneath --------------------------------------------------------------
def test_game_batch_refuses_an_illegal_move_before_moving_any_game() -> None:
    games = GameBatch(2)
    for i in range(2):
        games.set_game(i, START)
    legal = games.legal_moves(0)[0]
    winner, reason = np.zeros(2, np.int8), np.zeros(2, np.int8)
    with pytest.raises(ValueError, match="game 1: move 0 is not legal"):
        games.push(np.array([legal, 0], dtype=np.int64), 512, winner, reason)
    assert [games.ply(0), games.ply(1)] == [0, 0]
    assert games.sfen(0) == games.sfen(1) == cshogi.Board().sfen()


def test_game_batch_refuses_output_arrays_it_cannot_write_in_place() -> None:
    games = GameBatch(1)
    games.set_game(0, START)
    move = np.array(games.legal_moves(0)[:1], dtype=np.int64)
    with pytest.raises(ValueError, match="winner: expected a writable C-contiguous array of 1"):
        games.push(move, 512, np.zeros(1, np.int32), np.zeros(1, np.int8))
    assert games.ply(0) == 0


def test_threads_give_the_same_games() -> None:
    # Games are spread over C++ threads in contiguous chunks (7 games over 3 threads are
    # 2 + 2 + 3): every observation, mask, legal list, reward and ending is the same.
    def trace(threads: int) -> list[Any]:
        env = ShogiEnv(7, max_plies=24, threads=threads)
        step = env.reset(3)
        rng = np.random.default_rng(3)
        out: list[Any] = []
        for _ in range(60):
            step = env.step(random_legal(step, rng))
            # The environment's own bit-packed copies are np.packbits of the planes and mask.
            assert np.array_equal(step.packed_obs, pack_obs(step.obs))
            assert np.array_equal(step.packed_mask, pack_mask(step.mask))
            out.append(
                (
                    step.obs.tobytes(),
                    step.mask.tobytes(),
                    step.legal_actions.tolist(),
                    step.legal_counts.tolist(),
                    step.reward.tolist(),
                    step.plies.tolist(),
                    [None if g is None else (g.winner, g.reason, g.moves) for g in step.finished],
                )
            )
        return out

    one = trace(1)
    assert sum(any(f is not None for f in t[6]) for t in one) > 0  # games ended and restarted
    assert trace(3) == one
    assert trace(16) == one  # more threads than games


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    games=st.integers(2, 9),
    cut=st.integers(1, 8),
    threads=st.integers(1, 3),
    start_sfens=st.sampled_from(START_SETS),
)
def test_stepping_two_slices_is_one_step_of_all(
    seed: int, games: int, cut: int, threads: int, start_sfens: list[str] | None
) -> None:
    """The trainer's ``env.overlap`` steps the games in two slices, one after the other:
    the same games, results, restarts (start positions drawn in the same order) and
    observations as one step of all of them, and ``part``/``join_steps`` split and join
    a batch's rows exactly."""
    cut = min(cut, games - 1)
    whole = ShogiEnv(games, max_plies=12, start_sfens=start_sfens, threads=threads)
    halves = ShogiEnv(games, max_plies=12, start_sfens=start_sfens, threads=threads)
    step, parts = whole.reset(seed), halves.reset(seed)
    rng = np.random.default_rng(seed)
    ended = 0
    for _ in range(30):
        actions = random_legal(step, rng)
        first, second = slice(0, cut), slice(cut, games)
        assert snapshot(join_steps([step.part(first), step.part(second)])) == snapshot(step)
        step = whole.step(actions)
        parts = join_steps([halves.step(actions[:cut], first), halves.step(actions[cut:], second)])
        assert snapshot(parts) == snapshot(step)
        assert np.array_equal(parts.packed_obs, step.packed_obs)
        assert np.array_equal(parts.packed_mask, step.packed_mask)
        ended += int(step.done.sum())
    assert ended > 0  # games ended and restarted
    assert halves.state_dict() == whole.state_dict()


def test_stepping_a_slice_leaves_the_other_games() -> None:
    env = ShogiEnv(4)
    step = env.reset(0)
    first = env.step(random_legal(step, np.random.default_rng(0))[1:3], slice(1, 3))
    assert first.obs.shape == (2, *OBS_SHAPE) and first.plies.tolist() == [1, 1]
    assert [env._games.ply(i) for i in range(4)] == [0, 1, 1, 0]
    # The other games' actions are still checked against their own positions.
    with pytest.raises(IllegalActionError, match="game 1: action 0 is not a legal move"):
        env.step(np.zeros(2, np.int64), slice(1, 3))


@pytest.mark.parametrize(
    ("games", "problem"),
    [
        (slice(0, 0), "non-empty contiguous slice of 0..3"),
        (slice(3, 1), "non-empty contiguous slice"),
        (slice(0, 4, 2), "non-empty contiguous slice"),
        (slice(None, 2), "with both ends"),
        (slice(2, 5), r"games slice\(2, 5, None\) is outside 0..3"),
        (slice(-2, 4), r"is outside 0..3"),
    ],
)
def test_a_bad_slice_of_games_is_refused(games: slice, problem: str) -> None:
    env = ShogiEnv(4)
    step = env.reset(0)
    with pytest.raises(ValueError, match=problem):
        env.step(random_legal(step, np.random.default_rng(0))[:2], games)
    assert [env._games.ply(i) for i in range(4)] == [0, 0, 0, 0]


def test_actions_for_a_slice_must_match_its_size() -> None:
    env = ShogiEnv(4)
    step = env.reset(0)
    with pytest.raises(IllegalActionError, match=r"actions must have shape \(2,\), got \(4,\)"):
        env.step(random_legal(step, np.random.default_rng(0)), slice(0, 2))


def test_the_extension_refuses_games_outside_the_batch() -> None:
    games = GameBatch(2)
    games.set_game(0, START)
    games.set_game(1, START)
    move = np.array(games.legal_moves(1)[:1], dtype=np.int64)
    with pytest.raises(IndexError, match=r"games 2..2 are outside 0..1"):
        games.push(move, 512, np.zeros(1, np.int8), np.zeros(1, np.int8), 2)
    games.push(move, 512, np.zeros(1, np.int8), np.zeros(1, np.int8), 1)
    assert (games.ply(0), games.ply(1)) == (0, 1)


def test_threads_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threads must be >= 1, got 0"):
        ShogiEnv(2, threads=0)
    with pytest.raises(ValueError, match="threads must be at least 1"):
        GameBatch(2, 0)


def test_bad_actions_are_named_each_with_its_game_and_why() -> None:
    env = ShogiEnv(3)
    with pytest.raises(RuntimeError, match=r"^call reset\(\) before step\(\)$"):
        env.step(np.zeros(3, np.int64))
    with pytest.raises(RuntimeError, match=r"^call reset\(\) before restart\(\)$"):
        env.restart([0])
    first = env.reset(0)
    with pytest.raises(IllegalActionError) as shape:
        env.step(np.zeros(3, np.int64), games=slice(1, 3))
    assert str(shape.value) == "actions must have shape (2,), got (3,)"
    with pytest.raises(IllegalActionError) as dtype:
        env.step(np.zeros(3))
    assert str(dtype.value) == "actions must be integers, got dtype float64"
    illegal = int(np.flatnonzero(~first.mask[2])[-1])  # the highest illegal id: below 2186
    assert illegal < NUM_ACTIONS - 1 or not first.mask[2, NUM_ACTIONS - 1]
    sfen = cshogi.Board().sfen()
    with pytest.raises(IllegalActionError) as bad:
        env.step(np.array([-1, NUM_ACTIONS, illegal]))
    assert str(bad.value) == (
        f"game 0: action -1 is outside 0..{NUM_ACTIONS - 1}; "
        f"game 1: action {NUM_ACTIONS} is outside 0..{NUM_ACTIONS - 1}; "
        f"game 2: action {illegal} is not a legal move in position {sfen}"
    )


def test_a_part_of_a_step_and_parts_joined_keep_the_games_index() -> None:
    env = ShogiEnv(4)
    whole = env.reset(0)
    part = whole.part(slice(1, 3))
    assert part.first == 1
    assert np.array_equal(part.packed_obs, whole.packed_obs[1:3])
    assert np.array_equal(part.packed_mask, whole.packed_mask[1:3])
    assert part.part(slice(1, 2)).first == 2  # a part of a part
    joined = join_steps([whole.part(slice(1, 2)), whole.part(slice(2, 4))])
    assert joined.first == 1
    assert np.array_equal(joined.packed_obs, whole.packed_obs[1:4])
    stepped = env.step(random_legal(whole, np.random.default_rng(0))[2:4], games=slice(2, 4))
    assert stepped.first == 2 and len(stepped.plies) == 2


def test_random_legal_picks_the_kth_legal_action_of_one_uniform_per_game() -> None:
    env = ShogiEnv(5)
    step = env.reset(0)
    for seed in (1, 2, 3):  # positions that differ
        step = env.step(random_legal(step, np.random.default_rng(seed)))
    u = np.random.default_rng(7).random(5)
    offsets = np.cumsum(step.legal_counts) - step.legal_counts
    expected = [step.legal_actions[offsets[g] + int(u[g] * step.legal_counts[g])] for g in range(5)]
    assert random_legal(step, np.random.default_rng(7)).tolist() == expected
    v = np.random.default_rng(8).random(2)
    some = [
        step.legal_actions[offsets[g] + int(v[i] * step.legal_counts[g])]
        for i, g in enumerate((1, 3))
    ]
    picked = random_legal(step, np.random.default_rng(8), np.array([1, 3]))
    assert picked.tolist() == some


def test_boards_are_kept_between_calls_and_rebuilt_for_a_new_or_loaded_game() -> None:
    env = ShogiEnv(2)
    assert env.boards() == []  # before reset
    assert (env.max_plies, env.threads) == (512, 1)  # the defaults
    step = env.reset(0)
    boards = env.boards()
    assert env.boards()[0] is boards[0] and env.boards()[1] is boards[1]
    step = env.step(random_legal(step, np.random.default_rng(0)))
    assert env.boards()[0] is boards[0] and len(boards[0].history) == 1
    saved = env.state_dict()
    env.step(random_legal(step, np.random.default_rng(1)))
    env.restart([0])  # a new game in slot 0: its board is a new one
    assert env.boards()[0] is not boards[0] and len(env.boards()[0].history) == 0
    again = env.boards()[0]
    env.restart([0])
    env.load_state_dict(saved)  # the saved games: each board is rebuilt from them
    loaded = env.boards()
    assert loaded[0] is not again and loaded[1] is not boards[1]
    assert [len(b.history) for b in loaded] == [1, 1]
    assert [b.sfen() for b in loaded] == [env._games.sfen(i) for i in range(2)]


def test_a_saved_game_with_a_bad_start_names_the_game() -> None:
    env = ShogiEnv(2)
    env.reset(0)
    saved = env.state_dict()
    saved["games"][1] = ("not a position", [])
    with pytest.raises(ValueError, match=r"^saved game 1: start position "):
        env.load_state_dict(saved)


def test_memory_is_counted_by_part() -> None:
    env = ShogiEnv(3)
    env.reset(0)
    memory = env.memory_bytes()
    assert list(memory) == ["games", "action_tables"]
    assert memory["action_tables"] == 3 * NUM_ACTIONS * (1 + env._move_of.itemsize)
    assert memory["games"] == int(env._games.memory_bytes()) > 0


_RANKS = ["lnsgkgsnl", "1r5b1", "ppppppppp", "9", "9", "9", "PPPPPPPPP", "1B5R1", "LNSGKGSNL"]


def _board(**ranks: str) -> str:
    """The start position's board with ranks replaced (a..i, a = white's back rank)."""
    return "/".join(ranks.get("abcdefghi"[r], rank) for r, rank in enumerate(_RANKS))


@pytest.mark.parametrize(
    ("sfen", "problem"),
    [
        ("a b", "expected 3 or 4 fields: board, side to move, pieces in hand[, move number]"),
        (f"{_board()} b - 0", "move number must be a positive integer, not '0'"),
        (f"{_board()} b - x", "move number must be a positive integer, not 'x'"),
        (f"{_board(b='1r4+gb1')} b -", "rank b: '+' must precede one of BLNPRS"),
        (f"{_board(h='1B5R+')} b -", "rank h: '+' must precede one of BLNPRS"),
        (f"{_board(b='1r4xb1')} b -", "rank b: 'x' is not a piece"),
        (f"{_board(e='4R4')} b R", "4 pieces of kind R, a set has 2"),
        (f"{_board(e='4K4')} b -", "each side needs exactly one king"),
        (f"{_board(i='LNSG1GSNL')} b -", "each side needs exactly one king"),
        (f"{_board(i='LNSGKGSNp', h='1B5R1')} b -", "rank i: p there could never move"),
        (f"{_board(b='1N5b1', i='L1SGKGSNL')} b -", "rank b: N there could never move"),
        (f"{_board(f='P8')} b -", "two unpromoted black pawns on file 9"),
        (f"{_board(d='7p1')} b -", "two unpromoted white pawns on file 2"),
        (f"{_board()} b 2", "pieces in hand '2' are not valid"),
        (f"{_board()} b X", "pieces in hand 'X' are not valid"),
    ],
)
def test_each_malformed_sfen_is_refused_with_its_problem(sfen: str, problem: str) -> None:
    with pytest.raises(ValueError) as info:
        validate_sfen(sfen)
    assert str(info.value) == f"start position is not a valid SFEN: {sfen!r} ({problem})"


NOT_TO_MOVE_WHITE = "4k4/4R4/9/9/9/9/9/9/4K4 b - 1"
NOT_TO_MOVE_BLACK = "4k4/9/9/9/9/9/9/4r4/4K4 w - 1"
THREE_CHECKERS = "4r3b/9/3n5/9/4K4/9/9/9/k8 b - 1"  # cshogi reads it; is_ok refuses it
WHITE_MATED = "4k4/4G4/4G4/9/9/9/9/9/4K4 w - 1"
WON_NYUGYOKU = "RBBRGGSS1/4K4/P7P/9/9/9/9/9/5k3 b 2G 2"


@pytest.mark.parametrize(
    ("sfen", "message"),
    [
        (5, "here is not a valid SFEN: 5 (not a string)"),
        (
            NOT_TO_MOVE_WHITE,
            f"here is not a legal position: {NOT_TO_MOVE_WHITE!r} "
            "(white, not to move, is in check)",
        ),
        (
            NOT_TO_MOVE_BLACK,
            f"here is not a legal position: {NOT_TO_MOVE_BLACK!r} "
            "(black, not to move, is in check)",
        ),
        (THREE_CHECKERS, f"here is not a legal position: {THREE_CHECKERS!r} (cshogi's is_ok)"),
        (WHITE_MATED, f"here has no legal move for the side to move: {WHITE_MATED!r}"),
        (WON_NYUGYOKU, f"here is already a won nyugyoku position: {WON_NYUGYOKU!r}"),
    ],
)
def test_each_unplayable_position_is_refused_with_its_reason(sfen: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        validate_sfen(sfen, "here")
    assert str(info.value) == message


def test_validate_sfen_normalizes_and_cuts_long_input_in_its_message(
    capfd: pytest.CaptureFixture[str],
) -> None:
    assert validate_sfen(START.rsplit(" ", 1)[0]) == START  # the move number added
    assert validate_sfen(WON_NYUGYOKU, won_ok=True) == WON_NYUGYOKU
    for length, shown in ((120, "x" * 120), (121, "x" * 117 + "...")):
        with pytest.raises(ValueError) as info:
            validate_sfen("x" * length)
        assert str(info.value).startswith(f"start position is not a valid SFEN: {shown!r} (")
    # cshogi's is_ok reports to file descriptor 1 (not through sys.stdout): kept quiet.
    capfd.readouterr()
    with pytest.raises(ValueError, match="is_ok"):
        validate_sfen(THREE_CHECKERS)
    os.write(1, b"fd 1 is stdout again\n")  # restored, not left on /dev/null or stderr
    assert capfd.readouterr() == ("fd 1 is stdout again\n", "")
