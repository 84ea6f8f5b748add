"""``keisei selfplay``: play games between simple players and write their records."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from keisei.config import MAX_PLIES
from keisei.errors import UsageError
from keisei.files import atomic_write_json, check_output_dir
from keisei.game.env import REASONS, GameResult, ShogiEnv, random_legal
from keisei.game.records import write_records


def play_random_games(
    games: int, seed: int, max_plies: int, parallel: int = 16, start_sfens: list[str] | None = None
) -> list[Any]:
    """Play ``games`` complete games of a uniformly random legal-move player against itself."""
    env = ShogiEnv(min(parallel, games), max_plies=max_plies, start_sfens=start_sfens)
    rng = np.random.default_rng(seed)
    step = env.reset(seed)
    # Games are taken in the order they finish; the seed fixes that order.
    results: list[GameResult] = []
    while len(results) < games:
        step = env.step(random_legal(step, rng))
        results.extend(f for f in step.finished if f is not None)
    return results[:games]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "selfplay",
        help="play games with a simple player and write KIF/CSA records",
        description="Play N games between two copies of a player; write one CSA and one KIF "
        "record per game plus summary.json.",
    )
    p.add_argument("--agent", choices=["random"], default="random", help="the player")
    p.add_argument("--games", type=int, default=10, help="number of games (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--max-plies", type=int, default=512, help="draw after this many plies")
    p.add_argument(
        "--out", type=Path, required=True, help="output directory (must be new or empty)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    if args.games < 1:
        raise UsageError(f"--games must be >= 1, got {args.games}")
    if args.max_plies < 1:
        raise UsageError(f"--max-plies must be >= 1, got {args.max_plies}")
    if args.max_plies > MAX_PLIES:
        raise UsageError(f"--max-plies must be <= {MAX_PLIES}, got {args.max_plies}")
    out: Path = args.out
    check_output_dir(out, "--out", new=True)  # as evaluate --records: nothing is overwritten
    results = play_random_games(args.games, args.seed, args.max_plies)
    out.mkdir(parents=True, exist_ok=True)
    width = len(str(len(results)))
    items = []
    for i, game in enumerate(results):
        names = write_records(game, out, f"game_{i:0{width}d}", (args.agent, args.agent))
        winner = None if game.winner is None else game.result
        items.append(
            {
                "index": i,
                "result": game.result,
                "winner": winner,
                "reason": game.reason,
                "plies": game.plies,
                **names,
            }
        )
    by_result = Counter(g.result for g in results)
    by_reason = Counter(g.reason for g in results)
    summary = {
        "agent": args.agent,
        "seed": args.seed,
        "max_plies": args.max_plies,
        "games": items,
        "totals": {
            "games": len(results),
            "black": by_result["black"],
            "white": by_result["white"],
            "draw": by_result["draw"],
            "reasons": {r: by_reason[r] for r in REASONS},
            "plies": sum(g.plies for g in results),
        },
    }
    atomic_write_json(out / "summary.json", summary)
    t = summary["totals"]
    print(
        f"{t['games']} games: black {t['black']}, white {t['white']}, draw {t['draw']}; "
        f"records and summary.json in {out}"
    )
    return 0
