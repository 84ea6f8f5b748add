"""``keisei ratings RUN_DIR``: print the run's rating table (RUN_DIR/ratings.json)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from keisei.errors import UsageError
from keisei.evaluation.ratings import RatingsError, RatingTable
from keisei.training.rundir import RATINGS_FILE, RunDir


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "ratings",
        help="print a run's Elo rating table",
        description="Print the Bradley-Terry Elo ratings (random = 0, 95%% intervals) kept in "
        "RUN_DIR/ratings.json by periodic evaluation and by 'keisei evaluate --ratings'.",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run directory")
    p.add_argument("--json", action="store_true", help="print the table as JSON instead")
    p.set_defaults(func=run)


def rows(table: RatingTable) -> list[dict[str, Any]]:
    """One row per player, best first: rating, interval, games and score."""
    fitted = table.ratings()
    games = table.games_matrix()
    out: list[dict[str, Any]] = []
    for i, name in enumerate(table.players):
        n = sum(games[i])
        points = sum(table.wins[i]) + 0.5 * sum(table.draws[i])
        r = fitted[name]
        row: dict[str, Any] = {
            "player": name,
            "rating": None if r.rating is None else round(r.rating, 1),
            "interval": None if r.interval is None else [round(x, 1) for x in r.interval],
            "games": n,
            "score": round(points / n, 4) if n else None,
        }
        out.append(row)
    out.sort(key=lambda row: math.inf if row["rating"] is None else -float(row["rating"]))
    return out


def run(args: argparse.Namespace) -> int:

    run_dir: Path = args.run_dir
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir} is not a directory")
    if not RunDir(run_dir).ratings.exists():
        raise UsageError(
            f"{run_dir} has no {RATINGS_FILE} yet (written by evaluation during training, "
            "or by 'keisei evaluate --ratings RUN_DIR')"
        )
    try:
        table = RatingTable.load(run_dir)
    except RatingsError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        data = table.to_dict()
        data["table"] = rows(table)
        print(json.dumps(data, indent=2))
        return 0

    fixed = ", ".join(f"{p} = {v:.0f}" for p, v in table.fixed().items()) if table.players else ""
    out = Table(
        title=f"ratings of {escape(str(run_dir))} (Elo, {escape(fixed)}, 95% intervals)",
        title_justify="left",
    )
    for col, justify in (
        ("#", "right"),
        ("player", "left"),
        ("Elo", "right"),
        ("95% interval", "right"),
        ("games", "right"),
        ("score", "right"),
    ):
        out.add_column(col, justify=justify)  # type: ignore[arg-type]
    for k, row in enumerate(rows(table), 1):
        rating = "-" if row["rating"] is None else f"{row['rating']:+.0f}"
        interval = (
            "not connected"
            if row["interval"] is None
            else f"{row['interval'][0]:+.0f} .. {row['interval'][1]:+.0f}"
        )
        score = "-" if row["score"] is None else f"{row['score']:.3f}"
        out.add_row(str(k), escape(row["player"]), rating, interval, str(row["games"]), score)
    console = Console(highlight=False)
    console.print(out)
    evals = [h for h in table.history if h.get("step") is not None]
    if evals:
        console.print(
            f"{len(evals)} evaluation(s) during training, last at step {evals[-1]['step']}"
        )
    return 0
