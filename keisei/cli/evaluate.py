"""``keisei evaluate``: a match between two players, with statistics and game records.

Exit codes: 0 done, 1 an engine could not be restarted mid-match, 2 bad input (reported
before any game starts), 130 interrupted (Ctrl-C; engines are stopped, records of the
finished games are kept).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from keisei.cli.checks import ENV_BYTES_PER_GAME, available_memory, device
from keisei.config import MAX_PLIES
from keisei.errors import UsageError
from keisei.evaluation.match import (
    ALL_REASONS,
    COLORS,
    GameOutcome,
    MatchResult,
    play_match,
    summary_by,
)
from keisei.evaluation.players import Player, PlayerError
from keisei.evaluation.ratings import RatingsError, RatingTable, match_stats
from keisei.evaluation.specs import PlayerOptions, parse_player
from keisei.evaluation.usi import MAX_WAIT_S, EngineSettings, parse_option
from keisei.files import atomic_write_json, check_new_file, check_output_dir, fresh_dir


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="play a match between two players and report score and Elo",
        description="Play N games between --agent and --opponent (colors alternate), write "
        "every game as KIF, CSA and USI, and report wins/losses/draws by color and by "
        "termination reason, the score with a 95% interval and the Elo difference with a "
        "95% interval. Player specs: random, greedy, a checkpoint .pt, a run directory "
        "(its newest valid checkpoint), usi:PATH (a USI engine).",
    )
    p.add_argument("--agent", required=True, metavar="SPEC", help="the player being evaluated")
    p.add_argument("--opponent", required=True, metavar="SPEC", help="its opponent")
    p.add_argument("--games", type=int, default=20, help="number of games (default 20)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--max-plies", type=int, default=512, help="a game is drawn after this many plies"
    )
    p.add_argument("--json", type=Path, metavar="OUT", help="write the results as JSON here")
    p.add_argument(
        "--records",
        type=Path,
        metavar="DIR",
        help="directory for the game records (default: evaluations/<agent>-vs-<opponent>-"
        "<time>); must be new or empty",
    )
    p.add_argument(
        "--opening-plies",
        type=int,
        default=0,
        metavar="K",
        help="play the first K plies of each game at random, the same opening for each "
        "pair of games (colors swapped); use with two deterministic players (default 0)",
    )
    p.add_argument("--parallel", type=int, default=64, help="games played at once (default 64)")
    p.add_argument("--device", default="cpu", help="torch device for checkpoints (default cpu)")
    p.add_argument(
        "--ratings",
        type=Path,
        metavar="RUN_DIR",
        help="also add this match to RUN_DIR/ratings.json",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    for role in ("agent", "opponent"):
        g = p.add_argument_group(f"{role} settings")
        g.add_argument(
            f"--{role}-temperature",
            type=float,
            default=0.0,
            metavar="T",
            help="checkpoint: sample at temperature T (default 0: greedy)",
        )
        g.add_argument(
            f"--{role}-option",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="USI engine: setoption NAME VALUE (repeatable), e.g. 'Skill Level=-20'",
        )
        g.add_argument(f"--{role}-nodes", type=int, metavar="N", help="USI engine: go nodes N")
        g.add_argument(
            f"--{role}-byoyomi",
            type=int,
            metavar="MS",
            help="USI engine: go byoyomi MS (default 1000 when --*-nodes is not given)",
        )
        g.add_argument(
            f"--{role}-time-limit",
            type=float,
            metavar="SEC",
            help="USI engine: a move later than this loses the game (default: byoyomi + 5 s, "
            "or 10 s)",
        )
    p.set_defaults(func=run)


MIN_TEMPERATURE = 1e-6


def _options(args: argparse.Namespace, role: str) -> PlayerOptions:

    def get(name: str) -> Any:
        return getattr(args, f"{role}_{name}")

    try:
        options = tuple(parse_option(text) for text in get("option"))
    except PlayerError as exc:
        raise UsageError(f"--{role}-option: {exc}") from None
    for name in ("nodes", "byoyomi"):
        if get(name) is not None and get(name) < 1:
            raise UsageError(f"--{role}-{name} must be >= 1, got {get(name)}")
    if get("time_limit") is not None and get("time_limit") <= 0:
        raise UsageError(f"--{role}-time-limit must be > 0, got {get('time_limit')}")
    # Longer waits overflow the operating system's timeouts (usi.MAX_WAIT_S).
    if get("time_limit") is not None and get("time_limit") > MAX_WAIT_S:
        raise UsageError(f"--{role}-time-limit must be <= {MAX_WAIT_S:g}, got {get('time_limit')}")
    if get("byoyomi") is not None and get("byoyomi") > MAX_WAIT_S * 1000:
        raise UsageError(f"--{role}-byoyomi must be <= {MAX_WAIT_S * 1000:g}, got {get('byoyomi')}")
    if get("temperature") < 0:
        raise UsageError(f"--{role}-temperature must be >= 0, got {get('temperature')}")
    if 0 < get("temperature") < MIN_TEMPERATURE:  # logits / T overflow float32
        raise UsageError(
            f"--{role}-temperature must be 0 (greedy) or at least {MIN_TEMPERATURE:g}, "
            f"got {get('temperature')}"
        )
    spec = str(getattr(args, role)).strip()
    engine_flags = [
        f"--{role}-{flag.replace('_', '-')}"
        for flag in ("option", "nodes", "byoyomi", "time_limit")
        if get(flag)
    ]
    if engine_flags and not spec.startswith("usi:"):
        raise UsageError(f"{', '.join(engine_flags)}: only for usi: engines, not --{role} {spec}")
    if get("temperature") > 0 and (spec in ("random", "greedy") or spec.startswith("usi:")):
        raise UsageError(f"--{role}-temperature: only for checkpoints, not --{role} {spec}")
    engine = EngineSettings(
        options=options,
        byoyomi_ms=get("byoyomi"),
        nodes=get("nodes"),
        time_limit_s=get("time_limit"),
    )
    return PlayerOptions(
        temperature=get("temperature"),
        device=args.device,
        engine=engine,
        ratings_run_dir=args.ratings,
    )


def _slug(name: str, limit: int = 40) -> str:
    """``name`` as a directory-name part of at most ``limit`` characters. A longer name is
    cut and ends in a hash of the whole: a bare cut could read as another player
    (``..._playouts_400`` cut to ``..._playouts_40``)."""
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("_")
    if len(keep) > limit:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        keep = f"{keep[: limit - 9].rstrip('_-.')}-{digest}"
    return keep or "player"


def _check_sizes(args: argparse.Namespace) -> None:
    """--max-plies, --parallel (memory) and --device, against what this machine can do."""
    if args.max_plies > MAX_PLIES:
        raise UsageError(f"--max-plies must be <= {MAX_PLIES}, got {args.max_plies}")
    slots = min(args.games, args.parallel)
    available = available_memory()
    if slots * ENV_BYTES_PER_GAME > available:
        raise UsageError(
            f"--parallel {args.parallel}: {slots:,} games at once would need about "
            f"{slots * ENV_BYTES_PER_GAME / 1e9:,.1f} GB of memory, "
            f"{available / 1e9:,.1f} GB is available; at most "
            f"{available // ENV_BYTES_PER_GAME:,} fit"
        )
    try:
        device(args.device)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"--device {exc}") from None


def run(args: argparse.Namespace) -> int:

    for flag, value, low in (
        ("--games", args.games, 1),
        ("--max-plies", args.max_plies, 1),
        ("--parallel", args.parallel, 1),
        ("--opening-plies", args.opening_plies, 0),
    ):
        if value < low:
            raise UsageError(f"{flag} must be >= {low}, got {value}")
    _check_sizes(args)
    if args.json is not None and args.json.is_dir():
        raise UsageError(f"--json {args.json} is a directory")
    if args.json is not None:
        check_new_file(args.json, "--json", parents=True)
    if args.records is not None:
        check_output_dir(args.records, "--records", new=True)
    if args.ratings is not None:
        if not args.ratings.is_dir():
            raise UsageError(f"--ratings {args.ratings} is not a directory")
        try:
            RatingTable.load(args.ratings)  # a malformed file is refused before playing
        except RatingsError as exc:
            raise UsageError(str(exc)) from None
        check_output_dir(args.ratings, "--ratings")  # ratings.json is written at the end
    seeds = np.random.SeedSequence(args.seed).spawn(2)
    players = []
    for role, seed in zip(("agent", "opponent"), seeds, strict=True):
        options = _options(args, role)
        try:
            players.append(parse_player(getattr(args, role), seed, options))
        except PlayerError as exc:
            raise UsageError(f"--{role}: {exc}") from None
    agent, opponent = players
    if agent.name == opponent.name:
        agent.name += " (agent)"
        opponent.name += " (opponent)"
    default = Path("evaluations") / (
        f"{_slug(agent.name)}-vs-{_slug(opponent.name)}-{datetime.now():%Y%m%d-%H%M%S}"
    )
    records: Path = args.records or default
    if args.records is None:
        check_output_dir(default, "records directory")
    opened: list[Player] = []
    try:
        try:
            for player in (agent, opponent):
                player.open()
                opened.append(player)
        except PlayerError as exc:
            raise UsageError(str(exc)) from None
        if agent.deterministic and opponent.deterministic and args.opening_plies == 0:
            print(
                "keisei evaluate: note: both players are deterministic, so games repeat; "
                "use --opening-plies K or a --*-temperature to vary them",
                file=sys.stderr,
            )
        if args.records is None:  # a second evaluation this second gets its own
            records = fresh_dir(default)
        try:
            result = _play(args, agent, opponent, records)
        except PlayerError as exc:
            print(f"keisei evaluate: error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            done = len(list(records.glob("*.kif"))) if records.is_dir() else 0
            where = f"the {done} finished game(s) are in {records}" if done else "no game finished"
            print(f"keisei evaluate: interrupted; {where}", file=sys.stderr)
            return 130
    finally:
        for player in opened:
            player.close()
        if args.records is None and records.is_dir() and not any(records.iterdir()):
            records.rmdir()  # the default directory, made for records that never came
    report = build_report(result, args, records)
    print_report(report)
    if args.json is not None:
        atomic_write_json(args.json, report)
    if args.ratings is not None:
        # Reloaded under the lock: a training run may have added evaluations meanwhile.
        try:
            with RatingTable.locked(args.ratings) as table:
                table.record_evaluation(
                    agent.name, None, {opponent.name: report["totals"]}, {"source": "evaluate"}
                )
        except RatingsError as exc:
            print(f"keisei evaluate: error: {exc}", file=sys.stderr)
            return 1
    return 0


def _play(args: argparse.Namespace, agent: Player, opponent: Player, records: Path) -> MatchResult:

    kwargs: dict[str, Any] = dict(
        seed=args.seed,
        max_plies=args.max_plies,
        parallel=args.parallel,
        opening_plies=args.opening_plies,
        records_dir=records,
    )
    if args.quiet:
        return play_match(agent, opponent, args.games, **kwargs)
    tally = {"win": 0, "loss": 0, "draw": 0}
    progress = Progress(
        TextColumn("[bold]evaluate"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("games  +{task.fields[w]} ={task.fields[d]} -{task.fields[l]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        task = progress.add_task("games", total=args.games, w=0, d=0, l=0)

        def on_game(game: GameOutcome) -> None:
            tally[game.outcome] += 1
            progress.update(task, advance=1, w=tally["win"], d=tally["draw"], l=tally["loss"])

        return play_match(agent, opponent, args.games, on_game=on_game, **kwargs)


def build_report(
    result: MatchResult, args: argparse.Namespace | None = None, records: Path | None = None
) -> dict[str, Any]:
    """The results as a JSON-ready dict (the ``--json`` schema; see docs/evaluation.md)."""
    stats = match_stats(result.wins, result.losses, result.draws)
    by_color = summary_by(result, lambda g: g.agent_color, COLORS)
    by_reason = {
        k: v
        for k, v in summary_by(result, lambda g: g.reason, ALL_REASONS).items()
        if sum(v.values())
    }
    report: dict[str, Any] = {
        "agent": result.agent,
        "opponent": result.opponent,
        "games": stats.games,
        "wins": stats.wins,
        "losses": stats.losses,
        "draws": stats.draws,
        "score": round(stats.score, 4),
        "score_ci": [round(x, 4) for x in stats.score_ci],
        "elo": round(stats.elo, 1),
        "elo_ci": [round(x, 1) for x in stats.elo_ci],
        "totals": {"wins": stats.wins, "losses": stats.losses, "draws": stats.draws},
        "by_color": by_color,
        "by_reason": by_reason,
        "faults": [
            {"game": g.index, "reason": g.reason, "by": g.forfeited_by, "detail": g.detail}
            for g in result.faults()
        ],
        "records_dir": str(records) if records is not None else None,
        "seconds": round(result.seconds, 2),
        "game_list": [g.to_dict() for g in result.games],
    }
    if args is not None:
        report["settings"] = {
            "seed": args.seed,
            "max_plies": args.max_plies,
            "opening_plies": args.opening_plies,
            "agent_spec": args.agent,
            "opponent_spec": args.opponent,
        }
    return report


def print_report(report: dict[str, Any]) -> None:

    console = Console(highlight=False, soft_wrap=True)  # long lines stay whole
    console.print(
        f"[bold]{escape(report['agent'])}[/] vs [bold]{escape(report['opponent'])}[/]: "
        f"{report['games']} games in {report['seconds']:.1f} s"
    )
    table = Table(title="results (agent's side)", title_justify="left")
    for col in ("", "games", "wins", "losses", "draws", "score"):
        table.add_column(col, justify="left" if not col else "right")

    def row(label: str, r: dict[str, int], bold: bool = False) -> None:
        n = r["wins"] + r["losses"] + r["draws"]
        score = f"{(r['wins'] + 0.5 * r['draws']) / n:.3f}" if n else "-"
        cells = [label, str(n), str(r["wins"]), str(r["losses"]), str(r["draws"]), score]
        table.add_row(*cells, style="bold" if bold else None)

    for color in COLORS:
        row(f"as {color}", report["by_color"][color])
    table.add_section()
    for reason, r in report["by_reason"].items():
        row(reason, r)
    table.add_section()
    row("total", report["totals"], bold=True)
    console.print(table)
    lo, hi = report["score_ci"]
    elo_lo, elo_hi = report["elo_ci"]
    console.print(f"score {report['score']:.3f}  (95% interval {lo:.3f} .. {hi:.3f})")
    console.print(f"Elo   {report['elo']:+.0f}  (95% interval {elo_lo:+.0f} .. {elo_hi:+.0f})")
    for fault in report["faults"]:
        console.print(
            f"[yellow]game {fault['game']}: {fault['reason']} by the {fault['by']}: "
            f"{escape(str(fault['detail']))}[/]"
        )
    if report["faults"]:
        console.print(
            f"[yellow]{len(report['faults'])} game(s) lost to engine faults "
            "(scored as losses of the faulty side)[/]"
        )
    if report["records_dir"]:
        console.print(f"records: {escape(report['records_dir'])}")
