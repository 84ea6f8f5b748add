"""Game records: KIF, CSA and USI move lists, written with cshogi's exporters."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import cshogi
from cshogi import CSA, KIF

from keisei.game.env import GameResult

# Fixed so that the same game always gives the same bytes (records are compared in tests).
_EPOCH = dt.datetime(2000, 1, 1)

# CSA special moves for each termination reason, from the loser's (or side to move's) view.
_CSA_END = {
    "checkmate": "%TSUMI",
    "no_legal_moves": "%TSUMI",
    "perpetual_check": "%ILLEGAL_MOVE",
    "repetition": "%SENNICHITE",
    "nyugyoku": "%KACHI",
    "max_plies": "%HIKIWAKE",
}
_KIF_END = {
    "checkmate": "resign",
    "no_legal_moves": "resign",
    "perpetual_check": "illegal_lose",
    "repetition": "sennichite",
    "nyugyoku": "win",
    "max_plies": "draw",
}


def usi_moves(game: GameResult) -> list[str]:
    return [cshogi.move_to_usi(m) for m in game.moves]


def usi_position(game: GameResult) -> str:
    """The game as a USI ``position`` command argument (``sfen ... moves ...``)."""
    moves = " ".join(usi_moves(game))
    head = "startpos" if game.start_sfen == cshogi.STARTING_SFEN else f"sfen {game.start_sfen}"
    return f"{head} moves {moves}" if moves else head


def write_csa(game: GameResult, path: Path, names: tuple[str, str] = ("black", "white")) -> None:
    exporter = CSA.Exporter(str(path))
    try:
        exporter.info(cshogi.Board(game.start_sfen), names=list(names), version="V2.2")
        for move in game.moves:
            exporter.move(move)
        exporter.endgame(_CSA_END[game.reason])
    finally:
        exporter.close()


def write_kif(game: GameResult, path: Path, names: tuple[str, str] = ("black", "white")) -> None:
    """Writes KIF (Shift_JIS, as Shogi GUIs expect; use a ``.kifu`` suffix for UTF-8)."""
    exporter = KIF.Exporter(str(path))
    try:
        start = game.start_sfen
        handicap = None if start == cshogi.STARTING_SFEN else cshogi.Board(start)
        exporter.header(list(names), starttime=_EPOCH, handicap=handicap)
        for move in game.moves:
            exporter.move(move)
        exporter.end(_KIF_END[game.reason])
    finally:
        exporter.close()


def write_records(
    game: GameResult, directory: Path, stem: str, names: tuple[str, str] = ("black", "white")
) -> dict[str, str]:
    """Write ``stem.csa``, ``stem.kif`` and ``stem.usi``; return their file names."""
    directory.mkdir(parents=True, exist_ok=True)
    write_csa(game, directory / f"{stem}.csa", names)
    write_kif(game, directory / f"{stem}.kif", names)
    (directory / f"{stem}.usi").write_text(usi_position(game) + "\n", encoding="ascii")
    return {"csa": f"{stem}.csa", "kif": f"{stem}.kif", "usi": f"{stem}.usi"}
