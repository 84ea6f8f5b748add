"""One recorded game as the viewer shows it: read through ``keisei.game.records`` (cshogi's
parsers), its moves in KIF (cshogi's ``KIF.move_to_kif``) and USI notation, the SFEN of
every position, and the board of one of them as SVG (cshogi's ``Board.to_svg``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cshogi
from cshogi import KIF

from keisei.game.env import RESULTS
from keisei.game.records import RecordGame, read_record


class NotFound(LookupError):
    """A path the page may not read: outside the run, a symlink out of it, or absent."""


def inside(root: Path, relative: str, tops: tuple[str, ...], suffixes: tuple[str, ...]) -> Path:
    """The file ``relative`` names under the run directory ``root`` (resolved), or NotFound.

    It must be a relative path of plain names (no ``..``, ``.``, empty part, backslash or
    NUL), start with one of ``tops``, end with one of ``suffixes``, and resolve (symlinks
    followed) to a regular file inside ``root``.
    """
    parts = relative.split("/")
    if (
        not relative
        or relative.startswith("/")
        or "\\" in relative
        or "\0" in relative
        or any(part in ("", ".", "..") for part in parts)
        or parts[0] not in tops
        or not relative.lower().endswith(suffixes)
    ):
        raise NotFound(relative)
    try:
        real = (root / relative).resolve(strict=True)
    except (OSError, RuntimeError):  # absent, or a symlink loop
        raise NotFound(relative) from None
    if not real.is_relative_to(root) or not real.is_file():
        raise NotFound(relative)
    return real


@dataclass(frozen=True)
class Game:
    """A record read for the viewer."""

    record: RecordGame
    sfens: tuple[str, ...]  # before the first move, and after each move
    usi: tuple[str, ...]
    kif: tuple[str, ...]

    def to_json(self, reason: str | None) -> dict[str, Any]:
        winner = self.record.winner
        return {
            "start": self.record.start_sfen,
            "sfens": list(self.sfens),
            "usi": list(self.usi),
            "kif": list(self.kif),
            "names": list(self.record.names),
            "result": "draw" if winner is None else RESULTS[winner],
            "reason": self.record.reason or reason,
        }

    def board_svg(self, ply: int) -> str:
        board = cshogi.Board(self.sfens[ply])
        last = self.record.moves[ply - 1] if ply > 0 else None
        svg: str = board.to_svg(lastmove=last, scale=2.0)
        return svg


def load_game(path: Path) -> Game:
    """The first game of a record; ValueError naming the file and what is wrong."""
    games = read_record(path)
    if not games:
        raise ValueError(f"{path.name} holds no game")
    record = games[0]
    board = cshogi.Board(record.start_sfen)
    sfens, usi, kif = [board.sfen()], [], []
    previous: int | None = None
    for move in record.moves:
        usi.append(cshogi.move_to_usi(move))
        kif.append(KIF.move_to_kif(move, previous))
        board.push(move)
        sfens.append(board.sfen())
        previous = move
    return Game(record, tuple(sfens), tuple(usi), tuple(kif))
