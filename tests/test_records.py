"""Game records: every ending, both start colours, read back by cshogi and by a reader here.

Each record is read three ways, and each must give the winner and reason of the
``GameResult`` it was written from: cshogi's CSA parser, cshogi's KIF parser (the winner;
it labels endings its own way), and the small independent reader below, which knows the
CSA V2.2 special moves and the KIF closing lines and nothing of keisei's code.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import cshogi
import pytest
from cshogi import CSA, KIF

from keisei.cli.selfplay import play_random_games
from keisei.evaluation.players import FORFEIT_REASONS
from keisei.game.encoding import move_label
from keisei.game.env import REASONS, GameResult, ShogiEnv
from keisei.game.records import RECORD_REASONS, read_record, write_records

SIDES = ("先手", "後手")

# -- building games ----------------------------------------------------------------------


def _squares(rank: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(rank):
        if rank[i].isdigit():
            out += [""] * int(rank[i])
        elif rank[i] == "+":
            out.append(rank[i : i + 2])
            i += 1
        else:
            out.append(rank[i])
        i += 1
    return out


def flip_sfen(sfen: str) -> str:
    """The same position seen from the other side: rotated, colours and side to move swapped."""
    board, side, hand, number = sfen.split()
    ranks = []
    for rank in reversed(board.split("/")):
        squares = [p.swapcase() for p in reversed(_squares(rank))]
        text, empty = "", 0
        for p in squares:
            if p:
                text += (str(empty) if empty else "") + p
                empty = 0
            else:
                empty += 1
        ranks.append(text + (str(empty) if empty else ""))
    return f"{'/'.join(ranks)} {'w' if side == 'b' else 'b'} {hand.swapcase()} {number}"


def flip_usi(move: str) -> str:
    def square(s: str) -> str:
        return f"{10 - int(s[0])}{chr(ord('a') + ord('i') - ord(s[1]))}"

    if move[1] == "*":
        return move[:2] + square(move[2:4])
    return square(move[:2]) + square(move[2:4]) + move[4:]


def play(sfen: str, usi: list[str], max_plies: int = 512) -> GameResult:
    """Play ``usi`` in the environment from ``sfen``; the game must end with the last move."""
    env = ShogiEnv(1, max_plies=max_plies, start_sfens=[sfen])
    env.reset(0)
    for ply, text in enumerate(usi):
        board = env.boards()[0]
        move = board.move_from_usi(text)
        assert board.is_legal(move), (sfen, ply, text)
        step = env.step([move_label(move, board.turn)])
        done = step.finished[0]
        if done is not None:
            assert ply == len(usi) - 1, f"ended at ply {ply + 1} of {len(usi)}: {done.reason}"
            return done
    raise AssertionError(f"{sfen} {usi}: the game did not end")


def forfeit(sfen: str, usi: list[str], reason: str) -> GameResult:
    """A game given up by the side to move after ``usi`` (as keisei.evaluation.match does)."""
    board = cshogi.Board(sfen)
    for text in usi:
        board.push_usi(text)
    moves = tuple(int(m) for m in board.history)
    return GameResult(1 - board.turn, reason, len(moves), sfen, moves)


# Board endings: (reason, start, moves), each also played flipped (the other colour).
BOARD_GAMES = [
    # A gold drop mates at once.
    ("checkmate", "4k4/9/4P4/9/9/9/9/9/4K4 b G 1", ["G*5b"]),
    # Three quiet moves, then mate.
    ("checkmate", "4k4/9/4P4/9/9/9/9/9/4K4 b G 1", ["5i4i", "5a4a", "4i5i", "4a5a", "G*5b"]),
    # The gold closes the last square: white's king cannot move and is not in check.
    ("no_legal_moves", "k8/2+B6/9/G8/9/9/9/9/8K b - 1", ["9d9c"]),
    # The issue's game: the dragon checks on every move; the checker moved last and loses.
    ("perpetual_check", "k8/9/+R8/9/9/9/9/9/8K w - 1", ["9a8a", "9c8c", "8a9a", "8c9c"] * 3),
    # The checker is to move when the position occurs the fourth time; it loses.
    ("perpetual_check", "1k7/9/+R8/9/9/9/9/9/8K b - 1", ["9c8c", "8a9a", "8c9c", "9a8a"] * 3),
    ("repetition", "4k4/9/9/9/9/9/9/9/4K4 b - 1", ["5i5h", "5a5b", "5h5i", "5b5a"] * 3),
    # The repeated position has white to move: the game ends on black's move.
    ("repetition", "4k4/9/9/9/9/9/9/9/4K4 b - 1", ["5i4i"] + ["5a5b", "4i4h", "5b5a", "4h4i"] * 3),
    # Black's king in the camp with 10 pieces and 28 points: after white's move it declares.
    ("nyugyoku", "1RBGKGBR1/1S1S3GG/9/9/9/9/9/9/k8 w 2P 1", ["9i8i"]),
]
MAX_PLIES_GAMES = [
    (6, "4k4/9/9/9/9/9/9/9/4K4 b - 1", ["5i5h", "5a5b", "5h4h", "5b4b", "4h3h", "4b3b"]),
    (5, "4k4/9/9/9/9/9/9/9/4K4 b - 1", ["5i5h", "5a5b", "5h4h", "5b4b", "4h3h"]),
]
FORFEIT_STARTS = [
    (cshogi.STARTING_SFEN, []),
    (cshogi.STARTING_SFEN, ["7g7f"]),
    (cshogi.STARTING_SFEN, ["7g7f", "3c3d"]),
    # A handicap game: white moves first.
    ("lnsgkgsn1/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL w - 1", []),
    ("lnsgkgsn1/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL w - 1", ["5a4b"]),
]


def hand_built() -> list[tuple[GameResult, str | None]]:
    games: list[tuple[GameResult, str | None]] = []
    for reason, sfen, usi in BOARD_GAMES:
        for start, moves in ((sfen, usi), (flip_sfen(sfen), [flip_usi(m) for m in usi])):
            game = play(start, moves)
            assert game.reason == reason, (start, game.reason)
            games.append((game, None))
    for limit, sfen, usi in MAX_PLIES_GAMES:
        for start, moves in ((sfen, usi), (flip_sfen(sfen), [flip_usi(m) for m in usi])):
            game = play(start, moves, max_plies=limit)
            assert (game.reason, game.plies) == ("max_plies", limit)
            games.append((game, None))
    for reason in FORFEIT_REASONS:
        for sfen, usi in FORFEIT_STARTS:
            games.append((forfeit(sfen, usi, reason), f"what happened: {reason}, 評価値"))
    for sfen, usi in FORFEIT_STARTS:  # a game stopped by a player (keisei play): no result
        game = forfeit(sfen, usi, "abandoned")
        games.append((GameResult(None, "abandoned", game.plies, sfen, game.moves), "stopped"))
    return games


# -- the independent reader --------------------------------------------------------------

# CSA V2.2 special moves: who lost, by the side to move at the end ("to_move"), a named side,
# or nobody (a draw).
CSA_LOSER = {
    "%TSUMI": "to_move",
    "%TORYO": "to_move",
    "%TIME_UP": "to_move",
    "%ILLEGAL_MOVE": "to_move",
    "%KACHI": "other",  # the side to move declares a win
    "%+ILLEGAL_ACTION": "black",
    "%-ILLEGAL_ACTION": "white",
    "%SENNICHITE": None,
    "%HIKIWAKE": None,
    "%CHUDAN": None,
    "%JISHOGI": None,
}
# Which keisei reasons each special move may stand for.
CSA_REASONS = {
    "%TSUMI": {"checkmate", "no_legal_moves"},
    "%TORYO": {"resign", "engine_crash"},
    "%TIME_UP": {"engine_timeout"},
    "%ILLEGAL_MOVE": {"engine_illegal_move"},
    "%KACHI": {"nyugyoku"},
    "%+ILLEGAL_ACTION": {"perpetual_check"},
    "%-ILLEGAL_ACTION": {"perpetual_check"},
    "%SENNICHITE": {"repetition"},
    "%HIKIWAKE": {"max_plies"},
    "%CHUDAN": {"abandoned"},
}
KIF_REASONS = {
    "詰み": {"checkmate", "no_legal_moves"},
    "投了": {"resign", "engine_crash"},
    "切れ負け": {"engine_timeout"},
    "反則負け": {"engine_illegal_move", "perpetual_check"},
    "反則勝ち": {"perpetual_check"},
    "入玉勝ち": {"nyugyoku"},
    "千日手": {"repetition"},
    "中断": {"max_plies", "abandoned"},
}


def read_csa(text: str) -> tuple[int | None, str, int, str]:
    """(winner, special move, number of moves, keisei comment) from a CSA record."""
    lines = text.splitlines()
    turn_line = next(i for i, ln in enumerate(lines) if ln in ("+", "-"))
    to_move = 0 if lines[turn_line] == "+" else 1
    moves = [ln for ln in lines[turn_line + 1 :] if ln[:1] in "+-" and len(ln) == 7]
    to_move ^= len(moves) % 2
    (special,) = [ln for ln in lines if ln.startswith("%")]
    assert lines[-1] == special
    comments = [ln[1:] for ln in lines if ln.startswith("'keisei: ")]
    loser = CSA_LOSER[special]
    winner = {None: None, "to_move": 1 - to_move, "other": to_move, "black": 1, "white": 0}[loser]
    return winner, special, len(moves), "\n".join(comments)


def read_kif(text: str) -> tuple[int | None, str, int, str]:
    """(winner, special move, number of moves, keisei comment) from a KIF record's end."""
    lines = text.splitlines()
    to_move = 1 if "後手番" in lines else 0  # a board diagram says who starts
    numbered = [ln for ln in lines if re.match(r"^ *[0-9]+ \S", ln)]
    *moves, last = numbered
    number, special = re.match(r"^ *([0-9]+) (\S+)", last).groups()  # type: ignore[union-attr]
    assert int(number) == len(moves) + 1
    assert [int(ln.split()[0]) for ln in moves] == list(range(1, len(moves) + 1))
    to_move ^= len(moves) % 2
    closing = lines[-1]
    m = re.fullmatch(
        r"まで([0-9]+)手で(?:(先手|後手)の(勝ち|反則勝ち|反則負け|入玉勝ち)|(千日手|中断))", closing
    )
    assert m is not None, closing
    count, side, how, draw = m.groups()
    assert int(count) == len(moves)
    comments = [ln[1:] for ln in lines if ln.startswith("*keisei: ")]
    if draw is not None:
        assert draw == special
        return None, special, len(moves), "\n".join(comments)
    named = SIDES.index(side)
    winner = 1 - named if how == "反則負け" else named
    # The closing sentence agrees with the special move: who was to move and who won.
    if special in ("詰み", "投了", "切れ負け"):
        assert how == "勝ち" and winner == 1 - to_move
    elif special in ("反則負け", "反則勝ち", "入玉勝ち"):
        assert how == special and named == to_move
    else:
        raise AssertionError(f"unexpected special move {special}")
    return winner, special, len(moves), "\n".join(comments)


# -- checks ------------------------------------------------------------------------------


def replay(sfen: str, moves: list[int]) -> cshogi.Board:
    board = cshogi.Board(sfen)
    for move in moves:
        assert board.is_legal(move)
        board.push(move)
    return board


def check_records(game: GameResult, directory: Path, stem: str, note: str | None) -> None:
    files = write_records(game, directory, stem, ("sente", "gote"), note=note)
    assert files == {"csa": f"{stem}.csa", "kif": f"{stem}.kif", "usi": f"{stem}.usi"}
    comment = f"keisei: {game.reason}" + (f": {note}" if note else "")

    # cshogi's CSA parser.
    (csa,) = CSA.Parser.parse_file(str(directory / files["csa"]))
    assert csa.sfen == game.start_sfen
    assert list(csa.moves) == list(game.moves)
    assert csa.names == ["sente", "gote"]
    assert game.reason in CSA_REASONS[csa.endgame]
    if csa.endgame == "%TSUMI":
        # cshogi's parser names no winner for %TSUMI (its win stays DRAW): the side to move
        # is mated, which its own board confirms.
        assert csa.win == cshogi.DRAW
        board = replay(csa.sfen, list(csa.moves))
        assert len(board.legal_moves) == 0 and board.is_check() == (game.reason == "checkmate")
        assert game.winner == 1 - board.turn
    else:
        assert csa.win == {None: cshogi.DRAW, 0: cshogi.BLACK_WIN, 1: cshogi.WHITE_WIN}[game.winner]
    assert csa.comment == "'" + comment.encode("ascii", "replace").decode() + "\n"

    # cshogi's KIF parser: the winner (it reads moves only from the standard start).
    kif = KIF.Parser.parse_file(str(directory / files["kif"]))
    kif_winner = {None: None, cshogi.DRAW: None, cshogi.BLACK_WIN: 0, cshogi.WHITE_WIN: 1}
    assert kif_winner[kif.win] == game.winner
    assert kif.names == ["sente", "gote"]
    if game.start_sfen == cshogi.STARTING_SFEN:
        assert list(kif.moves) == list(game.moves)

    # The independent reader.
    csa_text = (directory / files["csa"]).read_text()
    winner, special, n, found = read_csa(csa_text)
    assert (winner, n, found) == (
        game.winner,
        game.plies,
        comment.encode("ascii", "replace").decode(),
    )
    assert game.reason in CSA_REASONS[special]
    kif_text = (directory / files["kif"]).read_text(encoding="cp932")
    winner, special, n, found = read_kif(kif_text)
    assert (winner, n) == (game.winner, game.plies)
    assert game.reason in KIF_REASONS[special]
    assert found == comment.encode("cp932", "replace").decode("cp932")
    assert "持将棋" not in kif_text

    # keisei's reader: the players and keisei's reason, as the note names them.
    for kind in ("csa", "kif") if game.start_sfen == cshogi.STARTING_SFEN else ("csa",):
        (read,) = read_record(directory / files[kind])
        assert (read.names, read.reason, read.winner) == (
            ("sente", "gote"), game.reason, game.winner
        ), kind  # fmt: skip

    usi = (directory / files["usi"]).read_text(encoding="ascii").split()
    head = (
        ["startpos"]
        if game.start_sfen == cshogi.STARTING_SFEN
        else ["sfen", *game.start_sfen.split()]
    )
    assert usi[: len(head)] == head
    assert [cshogi.move_to_usi(m) for m in game.moves] == usi[len(head) + 1 :]


# -- tests -------------------------------------------------------------------------------


def test_every_reason_has_a_record_ending() -> None:
    # ``abandoned``: a game stopped by a player (keisei play's quit or Ctrl-C), no result.
    assert set(RECORD_REASONS) == set(REASONS) | set(FORFEIT_REASONS) | {"abandoned"}


def test_hand_built_games_of_every_reason_and_both_start_colours(tmp_path: Path) -> None:
    games = hand_built()
    covered = Counter((g.reason, g.start_sfen.split()[1], g.result) for g, _ in games)
    for reason in RECORD_REASONS:
        assert {s for r, s, _ in covered if r == reason} == {"b", "w"}, reason
    # Both winners of perpetual check, with the checker to move and not, in each colour.
    assert {(s, w) for r, s, w in covered if r == "perpetual_check"} == {
        ("b", "black"),
        ("b", "white"),
        ("w", "black"),
        ("w", "white"),
    }
    for i, (game, note) in enumerate(games):
        check_records(game, tmp_path, f"game_{i:03d}", note)


def test_the_issues_perpetual_check_game(tmp_path: Path) -> None:
    game = play("k8/9/+R8/9/9/9/9/9/8K w - 1", ["9a8a", "9c8c", "8a9a", "8c9c"] * 3)
    assert (game.reason, game.result, game.plies) == ("perpetual_check", "white", 12)
    write_records(game, tmp_path, "g")
    csa = (tmp_path / "g.csa").read_text().splitlines()
    assert csa[-2:] == ["'keisei: perpetual_check", "%+ILLEGAL_ACTION"]
    kif = (tmp_path / "g.kif").read_text(encoding="cp932").splitlines()
    assert kif[-3:] == [
        "  13 反則勝ち          ( 0:00/00:00:00)",
        "*keisei: perpetual_check",
        "まで12手で後手の反則勝ち",
    ]


def test_white_to_move_start_mated_by_white_and_max_plies_closing_lines(tmp_path: Path) -> None:
    mate = play("4k4/9/9/9/9/9/4p4/9/4K4 w g 1", ["G*5h"])
    assert (mate.reason, mate.result) == ("checkmate", "white")
    write_records(mate, tmp_path, "mate")
    assert (tmp_path / "mate.kif").read_text(encoding="cp932").splitlines()[-3:] == [
        "   2 詰み              ( 0:00/00:00:00)",
        "*keisei: checkmate",
        "まで1手で後手の勝ち",
    ]
    usi = ["5i5h", "5a5b", "5h4h", "5b4b", "4h3h", "4b3b"]
    draw = play("4k4/9/9/9/9/9/9/9/4K4 b - 1", usi, max_plies=6)
    write_records(draw, tmp_path, "draw")
    assert (tmp_path / "draw.kif").read_text(encoding="cp932").splitlines()[-3:] == [
        "   7 中断              ( 0:00/00:00:00)",
        "*keisei: max_plies",
        "まで6手で中断",
    ]
    assert (tmp_path / "draw.csa").read_text().splitlines()[-1] == "%HIKIWAKE"


def test_impossible_results_are_refused_before_writing(tmp_path: Path) -> None:
    game = play("4k4/9/4P4/9/9/9/9/9/4K4 b G 1", ["G*5b"])
    wrong = GameResult(1, game.reason, game.plies, game.start_sfen, game.moves)
    with pytest.raises(ValueError, match=r"checkmate .* cannot be won by 後手"):
        write_records(wrong, tmp_path / "out", "g")
    with pytest.raises(ValueError, match="no record ending for reason 'adjourned'"):
        write_records(GameResult(None, "adjourned", 0, cshogi.STARTING_SFEN, ()), tmp_path, "g")
    assert not (tmp_path / "out").exists()


# Random self-play with fixed seeds: from the standard start (half the games reach the
# 512-ply limit), and from a bare position where kings wander into repetitions.
@pytest.mark.parametrize(
    ("start", "games", "seed", "max_plies", "parallel", "reasons"),
    [
        (None, 24, 3, 512, 16, {"checkmate": 12, "max_plies": 12}),
        (
            "4K4/9/9/9/9/1sk6/9/9/9 w - 1",
            200,
            0,
            120,
            64,
            {"max_plies": 197, "repetition": 2, "no_legal_moves": 1},
        ),
    ],
)
def test_self_play_records_read_back_to_their_results(
    tmp_path: Path,
    start: str | None,
    games: int,
    seed: int,
    max_plies: int,
    parallel: int,
    reasons: dict[str, int],
) -> None:
    sfens = [start] if start else None
    results = play_random_games(games, seed, max_plies, parallel=parallel, start_sfens=sfens)
    assert Counter(g.reason for g in results) == reasons
    kept = [g for g in results if g.reason != "max_plies"]
    kept += [g for g in results if g.reason == "max_plies"][:4]
    for i, game in enumerate(kept):
        check_records(game, tmp_path, f"game_{i:03d}", None)


# -- records cut short (a truncated download, a copy interrupted) ------------------------
@pytest.fixture(scope="module")
def mated(tmp_path_factory: pytest.TempPathFactory) -> tuple[GameResult, Path]:
    """A random game from the standard start that ends in checkmate at ply 79, written."""
    game = play_random_games(24, 3, 512, parallel=16)[0]
    assert (game.reason, game.plies, game.winner) == ("checkmate", 79, 0)
    directory = tmp_path_factory.mktemp("mated")
    write_records(game, directory, "g")
    return game, directory


def record_lines(directory: Path, kind: str) -> list[str]:
    encoding = "cp932" if kind == "kif" else "ascii"
    return (directory / f"g.{kind}").read_text(encoding=encoding).split("\n")


def cut_record(directory: Path, kind: str, text: str) -> Path:
    path = directory / f"cut.{kind}"
    path.write_bytes(text.encode("cp932" if kind == "kif" else "ascii"))
    return path


def move_line(lines: list[str], kind: str, ply: int) -> int:
    """The index of the line of move ``ply`` (of the special move after the last one)."""
    if kind == "kif":
        return next(i for i, line in enumerate(lines) if line.startswith(f"{ply:>4} "))
    moves = [i for i, line in enumerate(lines) if line[:1] in "+-%" and len(line) > 1]
    return moves[ply - 1]


@pytest.mark.parametrize(
    ("kind", "ply", "keep"),
    [
        ("kif", 10, lambda line: line[:7]),  # in the move: '  10 ３'
        ("kif", 10, lambda line: line[: line.index(")")]),  # in its from-square: '(7'
        ("kif", 10, lambda line: line[: line.index(":") + 2]),  # in its time: '( 0:0'
        ("kif", 80, lambda line: line[:6]),  # in the special move: '  80 詰'
        ("csa", 10, lambda line: line[:1]),  # after the sign: '-'
        ("csa", 10, lambda line: line[:4]),  # in the move: '-123'
        ("csa", 80, lambda line: line[:4]),  # in the special move: '%TSU'
    ],
    ids=["kif-move", "kif-square", "kif-time", "kif-special", "csa-sign", "csa-move",
         "csa-special"],
)  # fmt: skip
@pytest.mark.parametrize("newline", ["", "\n"], ids=["cut", "cut-newline"])
def test_a_record_cut_inside_a_line_is_refused_by_file_and_line(
    mated: tuple[GameResult, Path], kind: str, ply: int, keep: Any, newline: str
) -> None:
    _, directory = mated
    lines = record_lines(directory, kind)
    at = move_line(lines, kind, ply)
    last = keep(lines[at])
    path = cut_record(directory, kind, "\n".join([*lines[:at], last]) + newline)
    with pytest.raises(ValueError) as info:
        read_record(path)
    assert str(info.value) == f"{path}: line {at + 1} is truncated: {last!r}"


@pytest.mark.parametrize("kind", ["kif", "csa"])
@pytest.mark.parametrize("newline", ["", "\n"], ids=["cut", "cut-newline"])
def test_a_record_cut_between_lines_is_a_game_with_fewer_moves(
    mated: tuple[GameResult, Path], kind: str, newline: str
) -> None:
    """Moves that are whole and no result: an unfinished game, as any record without one;
    its end cut (the special move, the closing sentence) leaves the mate on the board."""
    game, directory = mated
    lines = record_lines(directory, kind)
    at = move_line(lines, kind, 10)
    (short,) = read_record(cut_record(directory, kind, "\n".join(lines[: at + 1]) + newline))
    assert (short.moves, short.winner) == (game.moves[:10], None)
    at = move_line(lines, kind, 80)  # the special move, then the comment and the sentence
    (ended,) = read_record(cut_record(directory, kind, "\n".join(lines[:at]) + newline))
    assert (ended.moves, ended.winner) == (game.moves, 0)


def test_records_are_written_all_or_none(tmp_path: Path) -> None:
    """The KIF cannot be written (its name is taken by a directory): no CSA, no USI and no
    temporary file is left behind, and the error names the path."""
    game = play("4k4/9/4P4/9/9/9/9/9/4K4 b G 1", ["G*5b"])
    (tmp_path / "g.kif").mkdir()
    with pytest.raises(IsADirectoryError, match=r"g\.kif"):
        write_records(game, tmp_path, "g")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.kif"]
    assert not any((tmp_path / "g.kif").iterdir())
    write_records(game, tmp_path, "h")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.kif", "h.csa", "h.kif", "h.usi"]


def test_a_promotion_outside_the_zone_is_not_a_legal_move(tmp_path: Path) -> None:
    # cshogi's Board.is_legal takes 7g7f+ from the start position: the reader let the
    # pawn promote on 7f. (keisei.game.rules.is_legal_move is the check now.)
    path = tmp_path / "promoted.csa"
    path.write_text("V2.2\nPI\n+\n+2726FU\n-3334FU\n+7776TO\n", encoding="utf-8")
    with pytest.raises(ValueError) as info:
        read_record(path)
    assert str(info.value) == f"{path}: the move at ply 3 is not legal"
