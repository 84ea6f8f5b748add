"""The parts of USI commands the engine reads: ``go``'s limits (``Go``, ``parse_go``), the
time a ``go`` allows (``think_time``, see ``keisei.search.usi_engine``) and the SFEN of
``position sfen`` (``position_sfen``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cshogi

from keisei.game.env import validate_sfen


@dataclass(frozen=True)
class Go:
    """The limits of one ``go`` command (times in milliseconds)."""

    btime: int | None = None
    wtime: int | None = None
    binc: int = 0
    winc: int = 0
    byoyomi: int = 0
    movetime: int | None = None
    nodes: int | None = None
    infinite: bool = False
    ponder: bool = False
    mate: bool = False  # go mate: a df-pn mate search, answered with checkmate

    @property
    def clocked(self) -> bool:
        return (
            self.movetime is not None
            or self.btime is not None
            or self.wtime is not None
            or self.byoyomi > 0
            or self.binc > 0
            or self.winc > 0
        )


def parse_go(tokens: list[str]) -> tuple[Go, list[str]]:
    """A ``go`` command's limits, and notes on the parts that were ignored."""
    values: dict[str, Any] = {}
    notes: list[str] = []
    i = 0
    names = ("btime", "wtime", "binc", "winc", "byoyomi", "movetime", "nodes")
    while i < len(tokens):
        word = tokens[i]
        if word in ("infinite", "ponder"):
            values[word] = True
            i += 1
        elif word in names and i + 1 < len(tokens):
            try:
                number = int(tokens[i + 1])
                if number < 0:
                    raise ValueError
                values[word] = number
            except ValueError:
                notes.append(f"{word} {tokens[i + 1]}")
            i += 2
        elif word == "mate":
            values["mate"] = True  # the time (or infinite) after it is not used
            i += 2 if i + 1 < len(tokens) else 1
        else:
            notes.append(word)
            i += 1
    return Go(**values), notes


def think_time(go: Go, turn: int, margin_ms: int) -> float | None:
    """Seconds to search for ``go`` with ``turn`` to move, or None (no time limit)."""
    if go.movetime is not None:
        return max(go.movetime - margin_ms, 10) / 1000.0
    if not go.clocked:
        return None
    remaining = (go.btime if turn == cshogi.BLACK else go.wtime) or 0
    inc = go.binc if turn == cshogi.BLACK else go.winc
    hard = remaining + go.byoyomi - margin_ms
    target = remaining / 40.0 + inc + go.byoyomi - margin_ms
    target = min(target, hard)
    # When the margin eats everything: a short search, at most half of what is left.
    floor = min(50.0, max(remaining + go.byoyomi, 0) / 2.0)
    return max(target, floor) / 1000.0


def position_sfen(sfen: str) -> str:
    """``validate_sfen`` for a ``position sfen``, where a won nyugyoku position is a position
    too: ``go`` then answers ``win``, as for the same position reached through ``moves``."""
    return validate_sfen(sfen, "position", won_ok=True)
