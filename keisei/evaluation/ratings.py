"""Elo ratings: a Bradley-Terry table over many players, and statistics of one match.

Model
-----
Player ``i`` scores against player ``j`` with expectation
``p_ij = 1 / (1 + 10 ** ((r_j - r_i) / 400))`` (ratings ``r`` in Elo points). A draw
counts as half a win and half a loss. Ratings maximize the likelihood
``sum_{i<j} S_ij log p_ij + (N_ij - S_ij) log(1 - p_ij)`` where ``S_ij`` is ``i``'s points
against ``j`` and ``N_ij`` their games, with the anchor (the ``random`` player when it is
in the table) held at 0.

Prior: one virtual draw is added to every pair of players that has met (``PRIOR_DRAWS``),
i.e. half a point each way. Without it a player that never lost (or never scored) against
its opponents has no finite maximum-likelihood rating; with it, 20 wins in 20 games vs
random give ``400 * log10(20.5 / 0.5) = +645`` instead of infinity. Its pull fades as games
accumulate (it weighs as much as one game per pair).

Intervals are 95% Wald intervals, ``r +- 1.96 * se``, from the inverse of the observed
Fisher information (the Hessian of the negative log-likelihood with the anchor fixed): they
are relative to the anchor, whose interval is [0, 0]. Counting a draw as half a win and half
a loss overstates the variance of a drawish pairing, so with draws the intervals are
somewhat conservative. Players with no chain of games to the anchor have no rating (None).

One match (``keisei evaluate``): the score's interval is Wilson's score interval (also
conservative with draws), and the Elo difference and its interval are those of the
two-player table above (so they are finite for a 20-0 sweep, and agree with
``ratings.json``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from keisei.evaluation.rungs import PREFIX as LADDER_PREFIX
from keisei.evaluation.rungs import fixed_ratings
from keisei.files import atomic_write_json
from keisei.training.rundir import RATINGS_FILE, RunDir

ANCHOR = "random"
PRIOR_DRAWS = 1.0
Z95 = 1.959963984540054
_C = math.log(10.0) / 400.0  # d p / d r = _C * p * (1 - p)
FloatArray = npt.NDArray[np.float64]


class RatingsError(ValueError):
    """A ratings file that cannot be read or used."""


@dataclass(frozen=True)
class Rating:
    rating: float | None
    low: float | None
    high: float | None

    @property
    def interval(self) -> list[float] | None:
        if self.low is None or self.high is None:
            return None
        return [self.low, self.high]


def expected_score(diff: float) -> float:
    """Expected score of a player rated ``diff`` Elo above its opponent."""
    return 1.0 / (1.0 + math.pow(10.0, -diff / 400.0))


def elo_of_score(score: float) -> float:
    """The Elo difference whose expected score is ``score`` (0 < score < 1)."""
    return 400.0 * math.log10(score / (1.0 - score))


def fit_bradley_terry(
    points: FloatArray,
    games: FloatArray,
    anchor: int = 0,
    prior_draws: float = PRIOR_DRAWS,
    tol: float = 1e-10,
    max_iter: int = 200,
    fixed: dict[int, float] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Maximum-likelihood Elo ratings and their standard errors.

    ``points[i, j]``: i's points against j (wins + draws / 2); ``games[i, j]``: games
    between i and j (symmetric). Returns (ratings, standard errors); NaN for players not
    connected to an anchor; an anchor has standard error 0. The anchors are ``fixed``
    (player -> its fixed rating, e.g. the engine ladder's rungs) when given, else
    ``anchor`` at 0.
    """
    anchors = dict(fixed) if fixed else {anchor: 0.0}
    n = points.shape[0]
    played = games > 0
    s = points + np.where(played, prior_draws / 2.0, 0.0)
    g = games + np.where(played, prior_draws, 0.0)
    np.fill_diagonal(s, 0.0)
    np.fill_diagonal(g, 0.0)
    # Players reachable from an anchor through games.
    seen = set(anchors)
    frontier = list(anchors)
    while frontier:
        i = frontier.pop()
        for j in np.flatnonzero(played[i]).tolist():
            if j not in seen:
                seen.add(j)
                frontier.append(j)
    free = np.array(sorted(seen - set(anchors)), dtype=np.int64)
    ratings = np.full(n, np.nan)
    errors = np.full(n, np.nan)
    for a, value in anchors.items():
        ratings[a] = value
        errors[a] = 0.0
    if free.size == 0:
        return ratings, errors
    comp = np.array(sorted(seen), dtype=np.int64)
    sc, gc = s[np.ix_(comp, comp)], g[np.ix_(comp, comp)]
    keep = np.array([k for k in range(comp.size) if comp[k] not in anchors], dtype=np.int64)
    start = float(np.mean(list(anchors.values())))  # the free players start among them
    r = np.array([anchors.get(int(i), start) for i in comp])

    def loglik(r: FloatArray) -> float:
        d = r[:, None] - r[None, :]
        logp = -np.logaddexp(0.0, -_C * d * 1.0)  # log p_ij, with natural-log scale _C
        return float(np.sum(sc * logp))  # sum over ordered pairs covers both outcomes

    def grad_hess(r: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        d = r[:, None] - r[None, :]
        p = 1.0 / (1.0 + np.exp(-_C * d))
        grad = _C * np.sum(sc - gc * p, axis=1)
        w = _C * _C * gc * p * (1.0 - p)
        info = -w
        np.fill_diagonal(info, w.sum(axis=1))  # observed information (= -Hessian)
        return grad, info, p

    ll = loglik(r)
    for _ in range(max_iter):
        grad, info, _p = grad_hess(r)
        sub = info[np.ix_(keep, keep)]
        step = np.linalg.solve(sub, grad[keep])
        t = 1.0
        while True:
            trial = r.copy()
            trial[keep] += t * step
            new_ll = loglik(trial)
            if new_ll >= ll - 1e-12 or t < 1e-6:
                break
            t *= 0.5
        r, ll = trial, new_ll
        if float(np.max(np.abs(t * step))) < tol:
            break
    _grad, info, _p = grad_hess(r)
    cov = np.linalg.inv(info[np.ix_(keep, keep)])
    ratings[comp] = r
    errors[comp[keep]] = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return ratings, errors


# -- one match ---------------------------------------------------------------------------


def wilson_interval(score: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a proportion (``score`` in [0, 1], ``n`` trials)."""
    if n <= 0:
        return 0.0, 1.0
    denom = 1.0 + z * z / n
    centre = (score + z * z / (2 * n)) / denom
    half = z * math.sqrt(score * (1.0 - score) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class MatchStats:
    games: int
    wins: int
    losses: int
    draws: int
    score: float
    score_ci: tuple[float, float]
    elo: float
    elo_ci: tuple[float, float]


def match_stats(wins: int, losses: int, draws: int) -> MatchStats:
    """Score (with Wilson 95% interval) and Elo difference (with 95% interval) of a match."""
    n = wins + losses + draws
    if n == 0:
        raise ValueError("no games")
    score = (wins + 0.5 * draws) / n
    # Player 0 is the opponent (the anchor), player 1 the agent.
    points = np.array([[0.0, losses + 0.5 * draws], [wins + 0.5 * draws, 0.0]])
    games = np.array([[0.0, n], [n, 0.0]], dtype=np.float64)
    ratings, errors = fit_bradley_terry(points, games, anchor=0)
    elo = float(ratings[1])
    half = Z95 * float(errors[1])
    return MatchStats(
        games=n,
        wins=wins,
        losses=losses,
        draws=draws,
        score=score,
        score_ci=wilson_interval(score, n),
        elo=elo,
        elo_ci=(elo - half, elo + half),
    )


# -- the persistent table ----------------------------------------------------------------


@dataclass
class RatingTable:
    """Results between named players, the fitted ratings, and a history of evaluations."""

    players: list[str] = field(default_factory=list)
    wins: list[list[int]] = field(default_factory=list)  # wins[i][j]: i beat j
    draws: list[list[int]] = field(default_factory=list)  # symmetric
    history: list[dict[str, Any]] = field(default_factory=list)
    prior_draws: float = PRIOR_DRAWS
    _fit: dict[str, Rating] | None = field(default=None, repr=False)

    # -- results ---------------------------------------------------------------------
    def index(self, player: str) -> int:
        if player not in self.players:
            self.players.append(player)
            for row in self.wins:
                row.append(0)
            for row in self.draws:
                row.append(0)
            n = len(self.players)
            self.wins.append([0] * n)
            self.draws.append([0] * n)
        return self.players.index(player)

    def add_result(self, player: str, opponent: str, wins: int, losses: int, draws: int) -> None:
        if player == opponent:
            raise ValueError(f"a player cannot be rated against itself: {player}")
        i, j = self.index(player), self.index(opponent)
        self.wins[i][j] += wins
        self.wins[j][i] += losses
        self.draws[i][j] += draws
        self.draws[j][i] += draws
        self._fit = None

    def games_matrix(self) -> list[list[int]]:
        n = len(self.players)
        return [
            [self.wins[i][j] + self.wins[j][i] + self.draws[i][j] for j in range(n)]
            for i in range(n)
        ]

    @property
    def anchor(self) -> str | None:
        if ANCHOR in self.players:
            return ANCHOR
        return self.players[0] if self.players else None

    def fixed(self) -> dict[str, float]:
        """The players held at fixed ratings: the engine ladder's rungs in the table
        (``ladder:NAME`` at its calibrated Elo) and ``random`` at 0, the ladder's anchor
        too; with neither, the first player at 0; an empty table fixes nothing."""
        if not self.players:
            return {}
        fixed = {}
        if any(p.startswith(LADDER_PREFIX) for p in self.players):
            rungs = fixed_ratings()
            fixed = {p: rungs[p] for p in self.players if p in rungs}
        if ANCHOR in self.players or not fixed:
            fixed[self.anchor or self.players[0]] = 0.0
        return fixed

    def standings(self) -> list[dict[str, Any]]:
        """One row per player, best first: rating, interval, games and score (the tables of
        ``keisei ratings`` and ``keisei watch``)."""
        fitted = self.ratings()
        games = self.games_matrix()
        out: list[dict[str, Any]] = []
        for i, name in enumerate(self.players):
            n = sum(games[i])
            points = sum(self.wins[i]) + 0.5 * sum(self.draws[i])
            r = fitted[name]
            out.append(
                {
                    "player": name,
                    "rating": None if r.rating is None else round(r.rating, 1),
                    "interval": None if r.interval is None else [round(x, 1) for x in r.interval],
                    "games": n,
                    "score": round(points / n, 4) if n else None,
                }
            )
        out.sort(key=lambda row: math.inf if row["rating"] is None else -float(row["rating"]))
        return out

    # -- fitting ---------------------------------------------------------------------
    def ratings(self) -> dict[str, Rating]:
        if self._fit is None:
            self._fit = self._compute()
        return self._fit

    def _compute(self) -> dict[str, Rating]:
        if not self.players:
            return {}
        w = np.array(self.wins, dtype=np.float64)
        d = np.array(self.draws, dtype=np.float64)
        points = w + d / 2.0
        games = w + w.T + d
        fixed = {self.players.index(p): value for p, value in self.fixed().items()}
        r, se = fit_bradley_terry(points, games, prior_draws=self.prior_draws, fixed=fixed)
        out = {}
        for k, name in enumerate(self.players):
            if math.isnan(r[k]):
                out[name] = Rating(None, None, None)
            else:
                out[name] = Rating(
                    float(r[k]), float(r[k] - Z95 * se[k]), float(r[k] + Z95 * se[k])
                )
        return out

    def record_evaluation(
        self,
        player: str,
        step: int | None,
        results: dict[str, dict[str, int]],
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add one evaluation (``results[opponent] = {"wins", "losses", "draws"}``).

        Appends a history entry with the player's rating right after this evaluation.
        """
        self.index(player)
        for opponent, res in results.items():
            self.add_result(player, opponent, res["wins"], res["losses"], res["draws"])
        rating = self.ratings()[player]
        entry: dict[str, Any] = {
            "step": step,
            "player": player,
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "rating": _round(rating.rating),
            "interval": _round_list(rating.interval),
            "opponents": {opp: {**res, "score": _score(res)} for opp, res in results.items()},
        }
        if extra:
            entry.update(extra)
        self.history.append(entry)
        return entry

    # -- files -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        fitted = self.ratings()
        return {
            "format": "keisei-ratings",
            "version": 1,
            "anchor": self.anchor,
            "fixed": {p: _round(v) for p, v in self.fixed().items()} if self.players else {},
            "prior_draws": self.prior_draws,
            "players": list(self.players),
            "games": self.games_matrix(),
            "wins": [list(row) for row in self.wins],
            "draws": [list(row) for row in self.draws],
            "ratings": {p: _round(fitted[p].rating) for p in self.players},
            "intervals": {p: _round_list(fitted[p].interval) for p in self.players},
            "history": self.history,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "ratings") -> RatingTable:
        try:
            if data.get("format") != "keisei-ratings":
                raise RatingsError(f"{where} is not a keisei ratings file")
            players = [str(p) for p in data["players"]]
            n = len(players)
            wins = [[int(x) for x in row] for row in data["wins"]]
            draws = [[int(x) for x in row] for row in data["draws"]]
            if len(set(players)) != n:
                raise RatingsError(f"{where}: duplicate player names")
            for name, m in (("wins", wins), ("draws", draws)):
                if len(m) != n or any(len(row) != n for row in m):
                    raise RatingsError(f"{where}: {name} is not a {n}x{n} matrix")
            table = cls(
                players=players,
                wins=wins,
                draws=draws,
                history=list(data.get("history", [])),
                prior_draws=float(data.get("prior_draws", PRIOR_DRAWS)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, RatingsError):
                raise
            raise RatingsError(f"{where} is malformed ({type(exc).__name__}: {exc})") from None
        return table

    @classmethod
    def load(cls, run_dir: Path) -> RatingTable:
        """The run's table, or an empty one if the run has none yet."""
        path = RunDir(run_dir).ratings
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # ValueError: not JSON, or not UTF-8
            raise RatingsError(f"cannot read {path}: {exc}") from None
        if not isinstance(data, dict):
            raise RatingsError(f"{path} is not a keisei ratings file")
        return cls.from_dict(data, str(path))

    @classmethod
    @contextlib.contextmanager
    def locked(cls, run_dir: Path) -> Iterator[RatingTable]:
        """Load the run's table under an exclusive lock, and save it if the block succeeds.

        A training run's evaluations and ``keisei evaluate --ratings`` on the same run may
        write at the same time; each read-modify-write holds ``.ratings.json.lock`` so
        neither loses the other's games.
        """
        run_dir.mkdir(parents=True, exist_ok=True)
        with open(run_dir / f".{RATINGS_FILE}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            table = cls.load(run_dir)
            yield table
            table.save(run_dir)

    def save(self, run_dir: Path) -> Path:
        """Write ``RUN_DIR/ratings.json`` atomically (``keisei.files.atomic_write``)."""
        return atomic_write_json(RunDir(run_dir).ratings, self.to_dict())

    def replayed(self, history: list[dict[str, Any]]) -> RatingTable:
        """A table with just the results of ``history`` (each entry's per-opponent results)."""
        out = RatingTable(prior_draws=self.prior_draws)
        for entry in history:
            out.index(entry["player"])
            for opponent, res in entry["opponents"].items():
                out.add_result(entry["player"], opponent, res["wins"], res["losses"], res["draws"])
            out.history.append(entry)
        return out


def set_aside_evaluations(run_dir: Path, step: int, aside: Path) -> list[str]:
    """Take the training evaluations after ``step`` out of ratings.json (copied to ``aside``):
    a ``keisei.training.resume.SetAside`` for a run that goes on from ``step``.

    The table is rebuilt from its history without them; only if the whole history rebuilds
    the stored table exactly (a file edited by hand is left alone).
    """

    def later(entry: dict[str, Any]) -> bool:
        return isinstance(entry.get("step"), int) and entry["step"] > step

    try:
        if not any(later(h) for h in RatingTable.load(run_dir).history):
            return []
        with RatingTable.locked(run_dir) as table:
            full = table.replayed(table.history)
            if (full.players, full.wins, full.draws) != (table.players, table.wins, table.draws):
                raise RatingsError(f"{RATINGS_FILE} does not match its history")
            kept = table.replayed([h for h in table.history if not later(h)])
            dropped = len(table.history) - len(kept.history)
            aside.mkdir(parents=True, exist_ok=True)
            shutil.copy2(RunDir(run_dir).ratings, aside / RATINGS_FILE)
            table.players, table.wins, table.draws = kept.players, kept.wins, kept.draws
            table.history = kept.history
    except (RatingsError, KeyError, TypeError, ValueError, AttributeError):
        return []
    return [f"{dropped} evaluation{'s' if dropped != 1 else ''} from {RATINGS_FILE}"]


def _score(res: dict[str, int]) -> float | None:
    n = res["wins"] + res["losses"] + res["draws"]
    return round((res["wins"] + 0.5 * res["draws"]) / n, 4) if n else None


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2) + 0.0  # + 0.0: no "-0.0" in the file


def _round_list(xs: list[float] | None) -> list[float] | None:
    return None if xs is None else [round(x, 2) + 0.0 for x in xs]


def fixed_text(fixed: dict[str, float]) -> str:
    """The players a table holds fixed, as the tables and errors name them:
    ``ladder:fs-skill-4-n1000 = 1753, random = 0``."""
    return ", ".join(f"{n} = {v:.0f}" for n, v in fixed.items()) or "nothing"
