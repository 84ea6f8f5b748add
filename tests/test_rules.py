"""The one-game judge (keisei.game.rules.Game) against the batched environment (issue 22).

Both ask the same C++ judge; these tests hold the one-game view to the environment's
results (same winner, reason and ply) on random games and on games steered into
repetitions and perpetual checks, and check each result independently of both
(``tests.test_env.check_finished``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import cshogi
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from keisei.game.encoding import move_label
from keisei.game.env import GameResult, ShogiEnv
from keisei.game.rules import Game, why_illegal
from tests.conftest import WON_BY_BLACK, WON_BY_WHITE
from tests.test_env import (
    KINGS_CYCLE,
    KINGS_ONLY,
    MATE,
    MIDGAME,
    NYUGYOKU,
    PERPETUAL_BLACK_TO_MOVE,
    PERPETUAL_CYCLE_A,
    PERPETUAL_WHITE_TO_MOVE,
    ROOK_SOMETIMES_CHECKS,
    check_finished,
)

START = cshogi.STARTING_SFEN
# Few pieces: moves back to an earlier position and checks are always at hand.
SPARSE = [
    KINGS_ONLY,
    PERPETUAL_BLACK_TO_MOVE,
    PERPETUAL_WHITE_TO_MOVE,
    ROOK_SOMETIMES_CHECKS,
    "4k4/9/9/9/9/9/9/9/4K4 b RGrg 1",
    "3gk4/9/9/9/9/9/9/9/3GK4 b B2P 1",
]


def moves_of(game: Game, usis: list[str]) -> list[int]:
    board = cshogi.Board(game.start_sfen)
    moves = []
    for usi in usis:
        moves.append(int(board.move_from_usi(usi)))
        board.push(moves[-1])
    return moves


def pick(game: Game, rng: np.random.Generator, back: float, check: float, checker: int) -> int:
    """A legal move: for ``checker`` with probability ``check`` a check, and then with
    probability ``back`` one that returns to a position of this game (each if there is one;
    together they make perpetual checks), else any."""
    board = game.board
    candidates = game.legal_moves()
    if board.turn == checker and rng.random() < check:
        candidates = _kept(board, candidates, lambda: bool(board.is_check()))
    if rng.random() < back:
        seen = set(_keys(game))
        candidates = _kept(board, candidates, lambda: board.zobrist_hash() in seen)
    return candidates[int(rng.integers(len(candidates)))]


def _kept(board: cshogi.Board, moves: list[int], wanted: Callable[[], bool]) -> list[int]:
    """The moves after which ``wanted()`` holds on ``board``, or all of them if none."""
    kept = []
    for move in moves:
        board.push(move)
        if wanted():
            kept.append(move)
        board.pop()
    return kept or moves


def _keys(game: Game) -> list[int]:
    """The position keys of the game so far, its start included."""
    board = cshogi.Board(game.start_sfen)
    keys = [board.zobrist_hash()]
    for move in game.moves:
        board.push(move)
        keys.append(board.zobrist_hash())
    return keys


def play_both(
    start: str, seed: int, back: float, check: float, checker: int, max_plies: int
) -> str:
    """Play one game in a one-game ``ShogiEnv`` and in a ``Game`` with the same moves
    (``pick``'s), both judged at every ply; the reason it ended."""
    env = ShogiEnv(1, max_plies=max_plies, start_sfens=[start])
    step = env.reset(0)
    game = Game(start, max_plies)
    rng = np.random.default_rng(seed)
    ended: GameResult | None = None
    while ended is None:
        assert sorted(game.legal_moves()) == sorted(env.boards()[0].legal_moves)
        assert game.board.sfen() == env.boards()[0].sfen()
        move = pick(game, rng, back, check, checker)
        step = env.step(np.array([move_label(move, game.board.turn)]))
        ended = game.push(move)
        assert step.finished[0] == ended  # winner, reason, ply, start and moves
    check_finished(ended, max_plies)
    assert game.result == ended and game.legal_moves() == []
    event(ended.reason)  # --hypothesis-show-statistics shows which endings occurred
    return ended.reason


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    start=st.sampled_from([*SPARSE, START, MIDGAME, NYUGYOKU]),
    max_plies=st.integers(1, 400),
)
def test_random_games_end_as_in_the_environment(seed: int, start: str, max_plies: int) -> None:
    play_both(start, seed, 0.0, 0.0, cshogi.BLACK, max_plies)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    start=st.sampled_from(SPARSE),
    back=st.sampled_from([0.7, 0.95]),
    check=st.sampled_from([0.5, 1.0]),
    checker=st.sampled_from([cshogi.BLACK, cshogi.WHITE]),
)
def test_repeating_games_and_perpetual_checks_end_as_in_the_environment(
    seed: int, start: str, back: float, check: float, checker: int
) -> None:
    play_both(start, seed, back, check, checker, 400)


@pytest.mark.parametrize(
    ("start", "usis", "expected"),
    [
        (KINGS_ONLY, KINGS_CYCLE * 3, (None, "repetition", 12)),
        (PERPETUAL_BLACK_TO_MOVE, PERPETUAL_CYCLE_A * 3, (cshogi.WHITE, "perpetual_check", 12)),
        (MATE, ["G*5b"], (cshogi.BLACK, "checkmate", 1)),
        (NYUGYOKU, ["5d5c", "5i4i"], (cshogi.BLACK, "nyugyoku", 2)),
    ],
)
def test_each_ending_at_its_ply(
    start: str, usis: list[str], expected: tuple[int | None, str, int]
) -> None:
    game = Game(start)
    moves = moves_of(game, usis)
    for move in moves[:-1]:
        assert game.push(move) is None
    result = game.push(moves[-1])
    assert result is not None and (result.winner, result.reason, result.plies) == expected
    assert result == GameResult(expected[0], expected[1], expected[2], start, tuple(moves))


def test_the_ply_limit_is_a_draw_and_there_is_none_by_default() -> None:
    game = Game(KINGS_ONLY, max_plies=3)
    moves = moves_of(game, KINGS_CYCLE)
    assert [game.push(m) for m in moves[:2]] == [None, None]
    result = game.push(moves[2])
    assert result is not None and (result.winner, result.reason, result.plies) == (
        None,
        "max_plies",
        3,
    )
    unlimited = Game(KINGS_ONLY)
    assert [unlimited.push(m) for m in moves_of(unlimited, KINGS_CYCLE * 2)] == [None] * 8


def test_an_illegal_move_or_a_move_after_the_end_is_refused_and_changes_nothing() -> None:
    game = Game(MATE)
    illegal = int(cshogi.Board(MATE).move_from_usi("5i5h")) + 1  # no such legal move
    with pytest.raises(ValueError, match="is not legal in"):
        game.push(illegal)
    assert game.moves == [] and game.board.sfen() == cshogi.Board(MATE).sfen()
    mate = moves_of(game, ["G*5b"])[0]
    assert game.push(mate) is not None
    with pytest.raises(ValueError, match=r"the game is over \(checkmate\) at ply 1"):
        game.push(mate)
    assert game.moves == [mate]


def test_taking_moves_back_keeps_the_repetition_history() -> None:
    game = Game(KINGS_ONLY)
    moves = moves_of(game, KINGS_CYCLE * 3)
    for move in moves[:-1]:
        game.push(move)
    game.pop()
    game.pop()
    assert game.moves == moves[:-3] and game.board.sfen() == _after(KINGS_ONLY, moves[:-3])
    assert game.push(moves[-3]) is None and game.push(moves[-2]) is None
    result = game.push(moves[-1])
    assert result is not None and (result.reason, result.plies) == ("repetition", 12)
    game.pop()  # after the end: the game goes on again from ply 11
    assert game.result is None and len(game.moves) == 11
    with pytest.raises(ValueError, match="no move to take back"):
        Game().pop()


def test_ended_by_the_players() -> None:
    game = Game()
    move = moves_of(game, ["7g7f"])[0]
    game.push(move)
    assert game.ended(cshogi.BLACK, "resign") == GameResult(
        cshogi.BLACK, "resign", 1, START, (move,)
    )


def test_a_bad_start_or_ply_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="not a valid SFEN"):
        Game("not a position")
    with pytest.raises(ValueError, match="max_plies must be >= 1, got 0"):
        Game(max_plies=0)


def _after(start: str, moves: list[int]) -> str:
    board = cshogi.Board(start)
    for move in moves:
        board.push(move)
    return str(board.sfen())


# -- why a move is not legal (issue 23, item 13) ------------------------------------------
WHY = [
    (START, "7g7f", ""),
    (START, "P*5e", "you have no pawn (歩) in hand"),
    (START, "7g7e", "a pawn on 7g cannot move to 7e"),
    (START, "8h2b", "a bishop on 8h cannot move to 2b"),
    (START, "5e5d", "there is no piece on 5e"),
    (START, "3c3d", "the pawn on 3c is not yours"),
    (START, "7i7g", "7g holds your own pawn"),
    (START, "7g7f+", "7g7f neither starts nor ends in the promotion zone"),
    (START, "5i5h+", "a king cannot promote"),
    ("4k4/9/4P4/9/9/9/9/9/4K4 b P 1", "P*5e", "nifu: you have a pawn on file 5 already"),
    ("4k4/9/4P4/9/9/9/9/9/4K4 b P 1", "P*5c", "5c is occupied"),
    ("4k4/9/4P4/9/9/9/9/9/4K4 b P 1", "P*4a", "a pawn dropped on 4a could never move"),
    ("4k4/9/4P4/9/9/9/9/9/4K4 b NP 1", "N*4b", "a knight dropped on 4b could never move"),
    ("4k4/9/9/9/9/9/9/9/4K4 w p 1", "P*4i", "a pawn dropped on 4i could never move"),
    ("8k/6G2/7S1/9/9/9/9/9/K8 b P 1", "P*1b", "uchifuzume: a dropped pawn may not give checkmate"),
    ("4k4/2P6/9/9/9/9/9/9/4K4 b - 1", "7b7a", "a pawn on 7a could never move: promote (7b7a+)"),
    ("4k4/2P6/9/9/9/9/9/9/4K4 b - 1", "7b7a+", ""),
    ("4k4/9/9/9/9/9/9/9/+P3K4 b - 1", "9i9h+", "a promoted pawn cannot promote"),
    ("4k4/9/9/9/4r4/9/4G4/9/4K4 b - 1", "5g4g", "it leaves your king in check"),
    (
        "4k4/9/9/9/9/9/9/4r4/4K4 b G 1",
        "G*3a",
        "your king is in check and this does not get it out of check",
    ),
]


@pytest.mark.parametrize(("sfen", "usi", "why"), WHY)
def test_why_a_move_is_not_legal(sfen: str, usi: str, why: str) -> None:
    board = cshogi.Board(sfen)
    assert why_illegal(board, usi) == why
    assert board.sfen() == sfen  # the board is as it was


def _square(text: str) -> int:
    return (int(text[0]) - 1) * 9 + "abcdefghi".index(text[1])


def _in_check_after(board: cshogi.Board, text: str) -> bool:
    """Whether the side to move's king is attacked after the move ``text`` (legal or not):
    cshogi's check test of the position after it, with the same side to move again."""
    if text[1] == "*":
        move = board.drop_move(_square(text[2:]), "PLNSBRG".index(text[0]) + 1)
    else:
        move = board.move(_square(text[:2]), _square(text[2:4]), text.endswith("+"))
    board.push(move)
    fields = board.sfen().split()
    board.pop()
    fields[1] = "b" if board.turn == cshogi.BLACK else "w"
    return bool(cshogi.Board(" ".join(fields)).is_check())


@pytest.mark.parametrize("seed", [0, 1])
def test_every_move_is_judged_as_cshogi_judges_it(seed: int) -> None:
    # Every move of the side to move's pieces and every drop, in positions of random games:
    # legal exactly when cshogi says so, and a king left in check exactly when it is.
    rng = np.random.default_rng(seed)
    game = Game()
    squares = [f + r for f in "123456789" for r in "abcdefghi"]
    reasons: set[str] = set()
    for ply in range(80):
        board = game.board
        if ply % 8 == 7:
            legal = {cshogi.move_to_usi(m) for m in board.legal_moves}
            own = range(1, 16) if board.turn == cshogi.BLACK else range(17, 32)
            texts = [f"{p}*{to}" for p in "PLNSGBR" for to in squares]
            for start in squares:
                if board.piece(_square(start)) in own:
                    texts += [f"{start}{to}{plus}" for to in squares for plus in ("", "+")]
            for text in texts:
                why = why_illegal(board, text)
                assert (why == "") == (text in legal), (board.sfen(), text, why)
                if why.endswith("check") or why == "":
                    assert _in_check_after(board, text) == (why != ""), (board.sfen(), text)
                reasons.add(
                    re.sub(r"[1-9][a-i]|pawn|lance|knight|silver|gold|bishop|rook", "", why)
                )
        moves = game.legal_moves()
        if game.push(moves[int(rng.integers(len(moves)))]) is not None:
            break
    assert len(reasons) >= 8, reasons


def test_the_positions_won_by_nyugyoku_at_the_second_ply() -> None:
    """tests/conftest.py's WON_BY_BLACK (and WON_BY_WHITE, turned round): the side to move is
    in check, so it has not won yet; after each of its evasions and each reply, it has."""
    for sfen in (WON_BY_BLACK, WON_BY_WHITE):
        board = cshogi.Board(sfen)
        assert board.is_check() and not board.is_nyugyoku()
        lines = 0
        for move in list(board.legal_moves):
            board.push(move)
            for reply in list(board.legal_moves):
                board.push(reply)
                assert board.is_nyugyoku(), (sfen, move, reply)
                lines += 1
                board.pop()
            board.pop()
        assert lines == 22
