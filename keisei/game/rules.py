"""One game judged by the environment's own judge: the one place keisei decides a game's end.

``ShogiEnv`` judges its batch in C++ (csrc/games.cpp: fourfold repetition with perpetual
check, mate / no legal move, nyugyoku, the ply limit; the rules in ``keisei.game.env``'s
docstring). ``Game`` is the same judge for a single game moved by hand, as ``keisei play``
does: it plays cshogi moves in a one-game ``GameBatch`` and reports the end as the
environment reports it, a ``GameResult`` with one of ``REASONS``, at the same ply
(tests/test_rules.py holds the two against each other on random and repeating games).
"""

from __future__ import annotations

import cshogi

from keisei.game._games import GameBatch
from keisei.game.env import GameResult, validate_sfen


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
