"""The engine ladder's rungs: fixed players with measured, fixed Elo ratings.

A rung is a player spec at fixed settings (``random``, ``greedy``, Fairy-Stockfish at a
Skill Level and node budget, GPSShogi at a search depth), named ``ladder:NAME`` wherever it
plays (``keisei ladder``, ``keisei evaluate``, ``evaluation.opponents``). The definitions
are ``RUNGS``, bottom to top; their ratings were measured once by ``keisei ladder
--calibrate`` (``keisei.evaluation.ladder``) and ship in ``ladder.json`` beside this module,
with the machine, the date, the commands and every pairing's games. The scale's anchor is
``random`` = 0, the anchor of every ``ratings.json``, so a run's table that holds rungs is
on the ladder's scale (``keisei.evaluation.ratings`` holds them at their ratings).

An engine is looked up on ``PATH``, then in ``/usr/games`` (where Debian installs
``fairy-stockfish`` and ``gpsusi``); a rung whose engine is not installed is skipped by the
ladder, which says so. This module imports nothing from keisei.
"""

from __future__ import annotations

import functools
import json
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

PREFIX = "ladder:"
DATA_FILE = "ladder.json"
ENGINE_DIRS = (Path("/usr/games"),)
FAIRY_STOCKFISH = "fairy-stockfish"
GPSSHOGI = "gpsusi"
# Fairy-Stockfish at one thread (deterministic at a fixed node budget); GPSShogi without
# its opening book (which it plays at random) on one thread, to a fixed depth: a move
# within 60 s is its only time limit, so the depth decides.
_GPS = "BookDepth=0,Thread=1,byoyomi=60000,time=120"


# name -> (engine or None, spec with ENGINE standing for the engine's path), bottom to top
# as first measured (the calibrated order is ladder.json's); the calibration pairs each
# rung with the next. Measured first (30 games a pairing): Fairy-Stockfish's Skill Level
# gains little a level below -7 and about 150-250 Elo a level from -6 to 0 at 1,000 nodes
# (hence single levels there); at Skill 0 more nodes add nothing (the level's random
# choice decides), so the top is Skill 20 (full strength) at node budgets, then GPSShogi
# at depth 4 (which won 12 of 12 against Skill 0 at 10,000 nodes). greedy sits between
# Skill -7 and -5: it wins 29 of 30 against -6 and 1 of 20 against -4 (it punishes
# blunders of material, which the low levels make), so it is paired with -7 and -5.
# GPSShogi at depth 6 takes about a second a move here, too slow to calibrate.
def _fs(level: int, nodes: int) -> tuple[str, str]:
    return FAIRY_STOCKFISH, f"usi:ENGINE[Skill Level={level},nodes={nodes}]"


RUNGS: dict[str, tuple[str | None, str]] = {
    "random": (None, "random"),
    **{f"fs-skill{level}-n1000": _fs(level, 1000) for level in (-20, -10, -7)},
    "greedy": (None, "greedy"),
    **{f"fs-skill{level}-n1000": _fs(level, 1000) for level in (-5, -4, -3, -2, 0, 2)},
    **{f"fs-n{nodes}": _fs(20, nodes) for nodes in (100, 300, 1000, 3000, 10000)},
    "gps-d4": (GPSSHOGI, f"usi:ENGINE[LimitDepth=4,{_GPS}]"),
}


class LadderError(ValueError):
    """An unknown rung, a rung whose engine is missing, or a damaged ladder file."""


@dataclass(frozen=True)
class Rung:
    """One calibrated rung: its Elo on the ladder's scale (``random`` = 0) and interval."""

    name: str
    elo: float
    low: float
    high: float

    @property
    def player_name(self) -> str:
        return PREFIX + self.name

    @property
    def engine(self) -> str | None:
        return RUNGS[self.name][0]


def find_engine(engine: str) -> str | None:
    """The engine's path: on ``PATH``, else in ``/usr/games``; None when not installed."""
    found = shutil.which(engine)
    if found is not None:
        return found
    for directory in ENGINE_DIRS:
        path = directory / engine
        if path.is_file():
            return str(path)
    return None


def rung_spec(name: str) -> str:
    """The player spec of rung ``name`` (without ``ladder:``), its engine resolved."""
    if name not in RUNGS:
        raise LadderError(f"no rung {name!r} on the ladder (rungs: {', '.join(RUNGS)})")
    engine, spec = RUNGS[name]
    if engine is None:
        return spec
    path = find_engine(engine)
    if path is None:
        raise LadderError(
            f"rung {name!r} needs the engine {engine}, which is not installed "
            f"(not on PATH, not in {', '.join(map(str, ENGINE_DIRS))})"
        )
    return spec.replace("ENGINE", path, 1)


def installed(name: str) -> bool:
    engine = RUNGS[name][0]
    return engine is None or find_engine(engine) is not None


def parse_data(data: Any, where: str) -> tuple[Rung, ...]:
    """The rungs of a ladder file (``ladder.json``'s schema), bottom to top."""
    try:
        if data.get("format") != "keisei-ladder":
            raise LadderError(f"{where} is not a keisei ladder file")
        rungs = []
        for name, entry in data["rungs"].items():
            if name not in RUNGS:
                raise LadderError(f"{where}: unknown rung {name!r}")
            low, high = (float(x) for x in entry["interval"])
            rungs.append(Rung(name, float(entry["elo"]), low, high))
    except LadderError:
        raise
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise LadderError(f"{where} is malformed ({type(exc).__name__}: {exc})") from None
    return tuple(sorted(rungs, key=lambda r: r.elo))


@functools.cache
def calibrated() -> tuple[Rung, ...]:
    """The shipped ladder (``ladder.json``), bottom to top."""
    text = resources.files(__package__).joinpath(DATA_FILE).read_text(encoding="utf-8")
    return parse_data(json.loads(text), DATA_FILE)


def calibrated_rung(name: str) -> Rung:
    """A rung of the shipped ladder by name (with or without ``ladder:``)."""
    name = name.removeprefix(PREFIX)
    for rung in calibrated():
        if rung.name == name:
            return rung
    have = ", ".join(r.name for r in calibrated())
    raise LadderError(f"no rung {name!r} on the ladder (rungs: {have})")


def fixed_ratings() -> dict[str, float]:
    """``ladder:NAME`` -> the rung's Elo: the anchors of a ratings table that holds rungs."""
    return {r.player_name: r.elo for r in calibrated()}
