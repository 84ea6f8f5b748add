"""One game judged by the environment's own judge: the one place keisei decides a game's end.

``ShogiEnv`` judges its batch in C++ (csrc/games.cpp: fourfold repetition with perpetual
check, mate / no legal move, nyugyoku, the ply limit; the rules in ``keisei.game.env``'s
docstring). ``Game`` is the same judge for a single game moved by hand, as ``keisei play``
does: it plays cshogi moves in a one-game ``GameBatch`` and reports the end as the
environment reports it, a ``GameResult`` with one of ``REASONS``, at the same ply
(tests/test_rules.py holds the two against each other on random and repeating games).
``why_illegal`` says which rule a move that is not legal breaks (nifu, uchifuzume, ...).
"""

from __future__ import annotations

import re

import cshogi

from keisei.game._games import GameBatch
from keisei.game.env import GameResult, validate_sfen

# cshogi piece types 1..14 (white's pieces are 16 more): the names used in messages.
PIECE_NAMES = (
    "", "pawn", "lance", "knight", "silver", "bishop", "rook", "gold", "king",
    "promoted pawn", "promoted lance", "promoted knight", "promoted silver", "horse", "dragon",
)  # fmt: skip
DROP_LETTERS = "PLNSBRG"  # USI drop letters of the piece types 1..7
# cshogi's pieces_in_hand order (pawn, lance, knight, silver, gold, bishop, rook) -> type
HAND_TYPES = (1, 2, 3, 4, 7, 5, 6)
_USI_MOVE = re.compile(r"([1-9])([a-i])([1-9])([a-i])(\+?)|([PLNSBRG])\*([1-9])([a-i])")


# How each piece type moves, for black (rank 0 is black's far side): (file, rank) steps,
# and the directions it slides along.
_GOLD = ((-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (0, 1))
_DIAGONALS = ((-1, -1), (1, -1), (-1, 1), (1, 1))
_ORTHOGONALS = ((0, -1), (-1, 0), (1, 0), (0, 1))
_STEPS: dict[int, tuple[tuple[int, int], ...]] = {
    1: ((0, -1),), 3: ((-1, -2), (1, -2)), 4: ((-1, -1), (0, -1), (1, -1), (-1, 1), (1, 1)),
    7: _GOLD, 8: _DIAGONALS + _ORTHOGONALS, 9: _GOLD, 10: _GOLD, 11: _GOLD, 12: _GOLD,
    13: _ORTHOGONALS, 14: _DIAGONALS,
}  # fmt: skip
_SLIDES: dict[int, tuple[tuple[int, int], ...]] = {
    2: ((0, -1),), 5: _DIAGONALS, 6: _ORTHOGONALS, 13: _DIAGONALS, 14: _ORTHOGONALS,
}  # fmt: skip


def _square(file: str, rank: str) -> int:
    return (int(file) - 1) * 9 + ord(rank) - ord("a")


def _name(piece_type: int) -> str:
    return f"{PIECE_NAMES[piece_type]} ({cshogi.PIECE_JAPANESE_SYMBOLS[piece_type]})"


def _dead_end(piece_type: int, rank: int, color: int) -> bool:
    """A pawn or lance on the last rank or a knight on the last two could never move."""
    far = rank if color == cshogi.BLACK else 8 - rank  # 0: the last rank for ``color``
    return (piece_type in (1, 2) and far == 0) or (piece_type == 3 and far <= 1)


def _reaches(board: cshogi.Board, start: int, to: int, kind: int, color: int) -> bool:
    """Whether a ``kind`` piece of ``color`` on ``start`` moves to ``to`` (the square is
    not checked for own pieces, nor the king's safety: cshogi's own pseudo-legal test
    answers for check evasions only when the king is in check)."""
    sign = 1 if color == cshogi.BLACK else -1
    file, rank = divmod(start, 9)
    for df, dr in _STEPS.get(kind, ()):
        f, r = file + df * sign, rank + dr * sign
        if 0 <= f < 9 and 0 <= r < 9 and f * 9 + r == to:
            return True
    for df, dr in _SLIDES.get(kind, ()):
        f, r = file + df * sign, rank + dr * sign
        while 0 <= f < 9 and 0 <= r < 9:
            if f * 9 + r == to:
                return True
            if board.piece(f * 9 + r):
                break
            f, r = f + df * sign, r + dr * sign
    return False


def is_legal_move(board: cshogi.Board, move: int) -> bool:
    """Whether ``move`` (a cshogi move, 0 for none) is one of ``board``'s legal moves.

    Not cshogi's ``Board.is_legal``, which takes a promotion outside the promotion zone
    (``7g7f+`` from the start position) as legal."""
    return move != 0 and move in board.legal_moves


def why_illegal(board: cshogi.Board, usi: str) -> str:
    """Why the USI move ``usi`` (``7g7f``, ``7g7f+``, ``P*5e``) is not legal on ``board``,
    in a few words ("" if it is legal): which rule it breaks, checked on cshogi's board."""
    m = _USI_MOVE.fullmatch(usi)
    if m is None:
        return f"not a USI move: {usi!r}"
    color = board.turn
    own = 1 if color == cshogi.BLACK else 17  # an own piece is own .. own + 14

    def mine(piece: int) -> bool:
        return own <= piece < own + 15

    if m.group(6):  # a drop
        kind = DROP_LETTERS.index(m.group(6)) + 1
        to = _square(m.group(7), m.group(8))
        move = board.drop_move(to, kind)
        if move in board.legal_moves:
            return ""
        if board.pieces_in_hand[color][HAND_TYPES.index(kind)] == 0:
            return f"you have no {_name(kind)} in hand"
        if board.piece(to):
            return f"{usi[2:]} is occupied"
        if _dead_end(kind, to % 9, color):
            return f"a {PIECE_NAMES[kind]} dropped on {usi[2:]} could never move"
        column = range(to // 9 * 9, to // 9 * 9 + 9)
        if kind == 1 and any(board.piece(square) == own for square in column):
            return f"nifu: you have a pawn on file {m.group(7)} already"
        if kind == 1:
            board.push(move)
            mated = board.is_check() and len(board.legal_moves) == 0
            board.pop()
            if mated:
                return "uchifuzume: a dropped pawn may not give checkmate"
    else:
        start, to = _square(m.group(1), m.group(2)), _square(m.group(3), m.group(4))
        piece, kind = board.piece(start), board.piece(start) & 15
        move = board.move(start, to, bool(m.group(5)))
        if move in board.legal_moves:
            return ""
        if piece == 0:
            return f"there is no piece on {usi[:2]}"
        if not mine(piece):
            return f"the {PIECE_NAMES[kind]} on {usi[:2]} is not yours"
        if mine(board.piece(to)):
            return f"{usi[2:4]} holds your own {PIECE_NAMES[board.piece(to) & 15]}"
        if not _reaches(board, start, to, kind, color):
            return f"a {PIECE_NAMES[kind]} on {usi[:2]} cannot move to {usi[2:4]}"
        if m.group(5):
            if kind >= 7:  # gold, king and the promoted pieces
                return f"a {PIECE_NAMES[kind]} cannot promote"
            zone = range(3) if color == cshogi.BLACK else range(6, 9)
            if start % 9 not in zone and to % 9 not in zone:
                return f"{usi[:4]} neither starts nor ends in the promotion zone"
        elif _dead_end(kind, to % 9, color):
            return f"a {PIECE_NAMES[kind]} on {usi[2:4]} could never move: promote ({usi}+)"
    if board.is_check():
        return "your king is in check and this does not get it out of check"
    return "it leaves your king in check"


class Game:
    """One game from ``start_sfen``, judged after every move; no ply limit unless
    ``max_plies`` is given. ``board`` follows the moves (for drawing and parsing them)."""

    def __init__(
        self, start_sfen: str = cshogi.STARTING_SFEN, max_plies: int | None = None
    ) -> None:
        if max_plies is not None and max_plies < 1:
            raise ValueError(f"max_plies must be >= 1, got {max_plies}")
        self.start_sfen = validate_sfen(start_sfen)
        self.max_plies = max_plies
        self.board = cshogi.Board(self.start_sfen)
        self.moves: list[int] = []
        self.result: GameResult | None = None  # set by the move that ends the game
        self._game = GameBatch(1)
        self._game.set_game(0, self.start_sfen)

    def legal_moves(self) -> list[int]:
        """The cshogi moves legal now (none once the game is over)."""
        return [] if self.result is not None else self._game.legal_moves(0)

    def push(self, move: int) -> GameResult | None:
        """Play ``move`` (a legal cshogi move) and return the finished game if it ended it.

        ValueError for an illegal move or a game already over; nothing changes then.
        """
        if self.result is not None:
            raise ValueError(f"the game is over ({self.result.reason}) at ply {len(self.moves)}")
        winner, reason = self._game.push_one(0, move, self.max_plies or 0)
        self.board.push(move)
        self.moves.append(move)
        self.result = GameResult.judged(winner, reason, self.start_sfen, tuple(self.moves))
        return self.result

    def pop(self) -> None:
        """Take back the last move (the extension cannot: the game is replayed without it)."""
        if not self.moves:
            raise ValueError("no move to take back")
        moves = self.moves[:-1]
        self._game.set_game(0, self.start_sfen)
        self.board = cshogi.Board(self.start_sfen)
        self.moves = []
        self.result = None
        for move in moves:
            self.push(move)

    def ended(self, winner: int | None, reason: str) -> GameResult:
        """The game so far, ended by the players (``resign``, a stop) rather than the rules."""
        return GameResult(winner, reason, len(self.moves), self.start_sfen, tuple(self.moves))
