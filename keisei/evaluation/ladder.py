"""The engine ladder: a player placed on the rungs' fixed scale (``keisei ladder``), and the
rungs' calibration (``keisei ladder --calibrate``).

Adaptive schedule (``Schedule``): games come in blocks of ``block`` games (colours
alternating within each block) against one rung. The first block is against the start
rung (the middle of the ladder, or one given). Then, while searching, the player moves one
rung up after a block whose score against that rung (all its games there so far) is above
0.5, one rung down when below; the search ends where the score crosses 0.5: a score of
exactly 0.5, a move back to a rung already played, or the end of the ladder. From then on
every block is against the rung rated nearest the player's current estimate, so the rest
of the budget is spent where the score crosses 0.5.

The player's Elo is the maximum-likelihood fit of all its games against the rungs, the
rungs held at their calibrated ratings (``keisei.evaluation.ratings.fit_bradley_terry``
with ``fixed``; one virtual draw per rung played, as in ``ratings.json``). Its 95%
interval is the fit's (``r +- 1.96 se``) and does not include the rungs' own calibration
uncertainty. Above the top rung (or below the bottom one) the rating rests on the prior
draw alone and says only "above" (or "below").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from keisei.evaluation.match import GameOutcome, MatchResult, play_match
from keisei.evaluation.players import Player
from keisei.evaluation.ratings import PRIOR_DRAWS, Z95, Rating, fit_bradley_terry, match_stats
from keisei.evaluation.rungs import Rung


@dataclass(frozen=True)
class Block:
    """One block of games against one rung (index into the ladder), the player's side."""

    rung: int
    wins: int
    losses: int
    draws: int

    @property
    def games(self) -> int:
        return self.wins + self.losses + self.draws

    @property
    def points(self) -> float:
        return self.wins + 0.5 * self.draws


def fit_player(rungs: Sequence[Rung], blocks: Sequence[Block]) -> Rating:
    """The player's Elo from its blocks, the rungs fixed at their ratings."""
    if not blocks:
        return Rating(None, None, None)
    n = len(rungs)
    points = np.zeros((n + 1, n + 1))
    games = np.zeros((n + 1, n + 1))
    for b in blocks:
        points[n, b.rung] += b.points
        points[b.rung, n] += b.games - b.points
        games[n, b.rung] += b.games
        games[b.rung, n] += b.games
    fixed = {i: r.elo for i, r in enumerate(rungs)}
    ratings, errors = fit_bradley_terry(points, games, prior_draws=PRIOR_DRAWS, fixed=fixed)
    r, se = float(ratings[n]), float(errors[n])
    if math.isnan(r):
        return Rating(None, None, None)
    return Rating(r, r - Z95 * se, r + Z95 * se)


@dataclass
class Schedule:
    """Which rung each block is against (see the module's docstring)."""

    rungs: Sequence[Rung]
    start: int
    blocks: list[Block] = field(default_factory=list)
    searching: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.start < len(self.rungs):
            raise ValueError(f"start rung {self.start} is not on a ladder of {len(self.rungs)}")

    def score(self, rung: int) -> float | None:
        played = [b for b in self.blocks if b.rung == rung]
        games = sum(b.games for b in played)
        return sum(b.points for b in played) / games if games else None

    def add(self, block: Block) -> None:
        """Record a finished block and decide whether the search has ended."""
        self.blocks.append(block)
        if not self.searching:
            return
        score = self.score(block.rung)
        assert score is not None
        step = 1 if score > 0.5 else -1 if score < 0.5 else 0
        target = block.rung + step
        played = {b.rung for b in self.blocks}
        if step == 0 or not 0 <= target < len(self.rungs) or target in played:
            self.searching = False

    def estimate(self) -> Rating:
        return fit_player(self.rungs, self.blocks)

    def next_rung(self) -> int:
        if not self.blocks:
            return self.start
        if self.searching:
            last = self.blocks[-1].rung
            score = self.score(last)
            assert score is not None
            return last + (1 if score > 0.5 else -1)
        rating = self.estimate().rating
        assert rating is not None
        return min(range(len(self.rungs)), key=lambda i: (abs(self.rungs[i].elo - rating), i))


def block_sizes(games: int, block: int) -> list[int]:
    """The budget in blocks of ``block`` games; the last one takes what is left."""
    sizes = [block] * (games // block)
    if games % block:
        sizes.append(games % block)
    return sizes


@dataclass
class LadderRun:
    """What ``play_ladder`` played: the blocks with their rungs, and every game."""

    schedule: Schedule
    matches: list[MatchResult] = field(default_factory=list)

    def table(self) -> list[dict[str, Any]]:
        """Per rung played (bottom to top): its rating and the player's W/L/D there."""
        rows = []
        for i, rung in enumerate(self.schedule.rungs):
            played = [b for b in self.schedule.blocks if b.rung == i]
            if not played:
                continue
            w, lost, d = (sum(getattr(b, k) for b in played) for k in ("wins", "losses", "draws"))
            rows.append(
                {
                    "rung": rung.name,
                    "rung_elo": round(rung.elo, 1),
                    "games": w + lost + d,
                    "wins": w,
                    "losses": lost,
                    "draws": d,
                    "score": round((w + 0.5 * d) / (w + lost + d), 4),
                }
            )
        return rows


def play_ladder(
    player: Player,
    rungs: Sequence[Rung],
    make_rung: Callable[[Rung, np.random.SeedSequence], Player],
    *,
    games: int,
    block: int,
    start: int,
    seed: int = 0,
    max_plies: int = 512,
    opening_plies: int = 4,
    records: Path | None = None,
    on_game: Callable[[GameOutcome], None] | None = None,
) -> LadderRun:
    """Play ``games`` games against the rungs by the schedule; ``player`` must be open.

    Block ``k`` is seeded by ``SeedSequence(seed)``'s ``k``-th child (its match and its rung
    player), so a run is reproducible with deterministic players. Records of block ``k``
    go to ``records/KK-RUNG/``.
    """
    schedule = Schedule(rungs, start)
    run = LadderRun(schedule)
    sizes = block_sizes(games, block)
    seeds = np.random.SeedSequence(seed).spawn(len(sizes))
    for k, (size, ss) in enumerate(zip(sizes, seeds, strict=True)):
        index = schedule.next_rung()
        rung = rungs[index]
        player_seed, match_seed = ss.spawn(2)
        opponent = make_rung(rung, player_seed)
        where = None
        if records is not None:
            where = records / f"{k:0{len(str(len(sizes) - 1))}d}-{rung.name}"
        opponent.open()
        try:
            result = play_match(
                player,
                opponent,
                size,
                seed=int(match_seed.generate_state(1)[0]),
                max_plies=max_plies,
                opening_plies=opening_plies,
                records_dir=where,
                on_game=on_game,
            )
        finally:
            opponent.close()
        run.matches.append(result)
        schedule.add(Block(index, result.wins, result.losses, result.draws))
    return run


# -- calibration -------------------------------------------------------------------------


def calibrate(
    rungs: Sequence[str],
    pairs: Sequence[tuple[int, int]],
    results: Sequence[tuple[int, int, int]],
) -> dict[str, dict[str, Any]]:
    """Each rung's Elo and 95% interval from its pairings' results (``random`` = 0).

    ``pairs[k] = (i, j)``: rungs ``i`` and ``j`` met with ``results[k] = (wins, losses,
    draws)`` from ``i``'s side. The fit is ``ratings.json``'s (one virtual draw per pair).
    """
    n = len(rungs)
    points = np.zeros((n, n))
    games = np.zeros((n, n))
    for (i, j), (w, lost, d) in zip(pairs, results, strict=True):
        points[i, j] += w + 0.5 * d
        points[j, i] += lost + 0.5 * d
        games[i, j] += w + lost + d
        games[j, i] += w + lost + d
    ratings, errors = fit_bradley_terry(points, games, anchor=rungs.index("random"))
    out = {}
    for k, name in enumerate(rungs):
        r, se = float(ratings[k]), float(errors[k])
        if math.isnan(r):
            continue
        out[name] = {
            "elo": round(r, 1),
            "interval": [round(r - Z95 * se, 1), round(r + Z95 * se, 1)],
            "games": int(games[k].sum()),
        }
    return out


def pairing_entry(a: str, b: str, result: tuple[int, int, int], seconds: float) -> dict[str, Any]:
    """One calibration pairing for ladder.json: the games and the Elo gap with its interval."""
    stats = match_stats(*result)
    return {
        "rungs": [a, b],
        "wins": stats.wins,
        "losses": stats.losses,
        "draws": stats.draws,
        "gap": round(-stats.elo, 1),  # b's Elo minus a's
        "gap_interval": [round(-stats.elo_ci[1], 1), round(-stats.elo_ci[0], 1)],
        "seconds": round(seconds, 1),
    }
