"""``keisei ratings RUN_DIR...``: print each run's rating table (RUN_DIR/ratings.json), and
with ``--plot OUT.png`` draw their learning curves in one figure (runs on one scale only)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from keisei.errors import UsageError
from keisei.evaluation.plots import plot_runs, same_scale
from keisei.evaluation.ratings import RatingsError, RatingTable, fixed_text
from keisei.files import check_new_file
from keisei.training.rundir import RATINGS_FILE, RunDir


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "ratings",
        help="print runs' Elo rating tables, plot their learning curves together",
        description="Print the Bradley-Terry Elo ratings (random = 0, 95% intervals) kept in "
        "RUN_DIR/ratings.json by periodic evaluation and by 'keisei evaluate --ratings', one "
        "table per run. --plot draws the runs' rating curves in one figure; the runs must "
        "hold the same players fixed (the same ladder: rungs), so that their ratings are on "
        "one scale.",
    )
    p.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR", help="run directory")
    p.add_argument(
        "--json", action="store_true", help="print the tables as JSON instead (a list for >1 run)"
    )
    p.add_argument(
        "--plot",
        type=Path,
        metavar="OUT",
        help="also draw the runs' rating curves into this new .png file",
    )
    p.set_defaults(func=run)


def load_table(run_dir: Path) -> RatingTable:
    """``run_dir``'s ratings; UsageError naming the run if it has none or they are bad."""
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir} is not a directory")
    if not RunDir(run_dir).ratings.exists():
        raise UsageError(
            f"{run_dir} has no {RATINGS_FILE} yet (written by evaluation during training, "
            "or by 'keisei evaluate --ratings RUN_DIR')"
        )
    try:
        return RatingTable.load(run_dir)
    except RatingsError as exc:
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    run_dirs: list[Path] = args.run_dirs
    if len(set(map(Path.resolve, run_dirs))) != len(run_dirs):
        raise UsageError("a RUN_DIR is named twice")
    plot: Path | None = args.plot
    if plot is not None:
        if plot.suffix.lower() != ".png":
            raise UsageError(f"--plot {plot}: the figure is a PNG; name a .png file")
        check_new_file(plot, "--plot", parents=True)
    tables = [(str(d), load_table(d)) for d in run_dirs]
    if plot is not None:
        mismatch = same_scale(tables)
        if mismatch is not None:
            raise UsageError(mismatch)
    if args.json:
        out = []
        for label, table in tables:
            data = table.to_dict()
            data["table"] = table.standings()
            out.append({"run_dir": label, **data} if len(tables) > 1 else data)
        print(json.dumps(out if len(tables) > 1 else out[0], indent=2))
    else:
        console = Console(highlight=False)
        for label, table in tables:
            print_table(console, label, table)
    if plot is not None:
        plot.parent.mkdir(parents=True, exist_ok=True)
        plot_runs(tables, plot)
        if not args.json:
            print(f"curves of {len(tables)} run(s): {plot}")
    return 0


def print_table(console: Console, label: str, table: RatingTable) -> None:
    fixed = fixed_text(table.fixed())
    out = Table(
        title=f"ratings of {escape(label)} (Elo, {escape(fixed)}, 95% intervals)",
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
    for k, row in enumerate(table.standings(), 1):
        rating = "-" if row["rating"] is None else f"{row['rating']:+.0f}"
        interval = (
            "not connected"
            if row["interval"] is None
            else f"{row['interval'][0]:+.0f} .. {row['interval'][1]:+.0f}"
        )
        score = "-" if row["score"] is None else f"{row['score']:.3f}"
        out.add_row(str(k), escape(row["player"]), rating, interval, str(row["games"]), score)
    console.print(out)
    evals = [h for h in table.history if h.get("step") is not None]
    if evals:
        console.print(
            f"{len(evals)} evaluation(s) during training, last at step {evals[-1]['step']}"
        )
