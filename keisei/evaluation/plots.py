"""The learning-curve figure of a run (``RUN_DIR/learning_curve.png``), and the curves of
several runs on one scale (``keisei ratings RUN_DIR... --plot OUT``).

Top: the Elo rating (random = 0) of the model saved at each evaluated training step, with
its 95% interval, from the current fit of ``ratings.json`` (so earlier points move as more
games are played), and the ratings of the fixed opponents as horizontal lines. Bottom: the
score of each evaluation against each fixed opponent (random, greedy, engines).

Drawn with matplotlib's Agg canvas on a standalone ``Figure``: no pyplot, no global
backend switch, safe inside a training process.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from keisei.evaluation.ratings import RatingTable, fixed_text
from keisei.files import atomic_write

PLOT_FILE = "learning_curve.png"


def is_own_checkpoint(name: str) -> bool:
    return name.startswith("step_") and name[5:].isdigit()


def curve_data(table: RatingTable) -> dict[str, Any]:
    """What the figure shows, as plain lists (also handy for tests)."""
    fitted = table.ratings()
    steps: list[int] = []
    ratings: list[float] = []
    lows: list[float] = []
    highs: list[float] = []
    seen: set[int] = set()
    scores: dict[str, tuple[list[int], list[float]]] = {}
    for entry in table.history:
        step = entry.get("step")
        if step is None:
            continue
        player = entry.get("player", "")
        r = fitted.get(player)
        if step not in seen and r is not None and r.rating is not None:
            seen.add(step)
            steps.append(int(step))
            ratings.append(r.rating)
            lows.append(r.low if r.low is not None else r.rating)
            highs.append(r.high if r.high is not None else r.rating)
        for opponent, res in entry.get("opponents", {}).items():
            if is_own_checkpoint(opponent) or res.get("score") is None:
                continue
            xs, ys = scores.setdefault(opponent, ([], []))
            xs.append(int(step))
            ys.append(float(res["score"]))
    order = sorted(range(len(steps)), key=steps.__getitem__)
    baselines = {
        name: r.rating
        for name, r in fitted.items()
        if not is_own_checkpoint(name) and r.rating is not None
    }
    return {
        "steps": [steps[i] for i in order],
        "ratings": [ratings[i] for i in order],
        "lows": [lows[i] for i in order],
        "highs": [highs[i] for i in order],
        "scores": scores,
        "baselines": baselines,
    }


def plot_learning_curve(table: RatingTable, path: Path) -> Path:
    """Draw the figure into ``path`` (PNG), replacing it atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    data = curve_data(table)
    fig = Figure(figsize=(8, 7), dpi=100)
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    steps = data["steps"]
    # One color per fixed opponent in both panels; C0 is the model's.
    names = sorted(set(data["baselines"]) | set(data["scores"]))
    color = {name: f"C{1 + k % 9}" for k, name in enumerate(names)}
    if steps:
        ax1.fill_between(
            steps, data["lows"], data["highs"], color="C0", alpha=0.25, label="95% interval"
        )
        ax1.plot(steps, data["ratings"], color="C0", marker="o", label="model at step")
    for name, rating in sorted(data["baselines"].items(), key=lambda x: x[1]):
        ax1.axhline(rating, linestyle="--", linewidth=1, color=color[name], label=name)
    ax1.set_ylabel("Elo (random = 0)")
    ax1.set_title("rating vs training step")
    ax1.grid(True, alpha=0.3)
    ax1.legend(loc="best", fontsize="small")
    for name, (xs, ys) in sorted(data["scores"].items()):
        ax2.plot(xs, ys, marker=".", color=color[name], label=f"vs {name}")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_ylabel("score")
    ax2.set_xlabel("training step (plies)")
    ax2.set_title("score vs fixed opponents")
    ax2.grid(True, alpha=0.3)
    if data["scores"]:
        ax2.legend(loc="best", fontsize="small")
    return _write_png(fig, path)


def plot_runs(curves: list[tuple[str, RatingTable]], path: Path) -> Path:
    """The rating curves of several runs in one figure (PNG at ``path``, replaced
    atomically): each run's models at their training steps with 95% intervals, and the
    players they hold fixed (ladder rungs, random) as horizontal lines. The caller checks
    that the runs fix the same players (``same_scale``): otherwise the curves are not on
    one scale."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for k, (label, table) in enumerate(curves):
        data = curve_data(table)
        color = f"C{k % 10}"
        if data["steps"]:
            ax.fill_between(data["steps"], data["lows"], data["highs"], color=color, alpha=0.15)
            ax.plot(data["steps"], data["ratings"], color=color, marker="o", label=label)
    fixed = curves[0][1].fixed() if curves else {}
    for name, rating in sorted(fixed.items(), key=lambda x: x[1]):
        ax.axhline(rating, linestyle="--", linewidth=1, color="0.5")
        ax.annotate(
            name,
            (0, rating),
            xycoords=("axes fraction", "data"),
            fontsize="x-small",
            color="0.35",
            va="bottom",
        )
    ax.set_ylabel("Elo (the fixed players dashed)")
    ax.set_xlabel("training step (plies)")
    ax.set_title("rating vs training step, 95% intervals")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return _write_png(fig, path)


def same_scale(tables: list[tuple[str, RatingTable]]) -> str | None:
    """None if every table holds the same players fixed at the same ratings (their Elo are
    on one scale); else why not, naming the first run that differs from the first."""
    if not tables:
        return None
    first_label, first = tables[0]
    expected = first.fixed()
    for label, table in tables[1:]:
        fixed = table.fixed()
        if fixed != expected:
            return (
                f"{label} fixes {fixed_text(fixed)}, {first_label} fixes "
                f"{fixed_text(expected)}: their ratings are not on one scale (evaluate "
                "both against the same ladder: rungs, or plot them apart)"
            )
    return None


def _write_png(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format="png")
    return atomic_write(path, image.getvalue())
