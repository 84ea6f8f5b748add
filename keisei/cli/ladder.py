"""``keisei ladder PLAYER``: place a player on the engine ladder (an Elo on a fixed scale).

``keisei ladder --calibrate``: measure the rungs' ratings (games between neighbouring
rungs), written as a ladder file (``keisei/evaluation/ladder.json``'s schema).

Exit codes: 0 done, 1 an engine failed mid-run, 2 bad input (before any game), 130
interrupted (records of the finished games are kept).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from keisei.bench.machine import machine_info
from keisei.cli.evaluate import _check_sizes, _slug
from keisei.errors import UsageError
from keisei.evaluation.ladder import LadderRun, calibrate, pairing_entry, play_ladder
from keisei.evaluation.match import play_match
from keisei.evaluation.players import Player, PlayerError
from keisei.evaluation.rungs import (
    RUNGS,
    LadderError,
    Rung,
    calibrated,
    calibrated_rung,
    installed,
    rung_spec,
)
from keisei.evaluation.specs import PlayerOptions, ladder_player, parse_player
from keisei.files import atomic_write_json, check_new_file, check_output_dir, fresh_dir


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "ladder",
        help="place a player on the engine ladder: its Elo on a fixed scale",
        description="Play PLAYER (any --agent spec of keisei evaluate) against the rungs of "
        "the engine ladder (random, greedy, Fairy-Stockfish at Skill Levels and node "
        "budgets, GPSShogi depths where installed), adaptively: blocks of games, one rung "
        "up after a winning block, one down after a losing one, then the rest of the budget "
        "at the rung nearest the estimate. Reports its Elo on the ladder's scale (random = "
        "0) with a 95% interval. Rungs: docs/evaluation.md.",
    )
    p.add_argument("player", nargs="?", metavar="PLAYER", help="the player to place")
    p.add_argument("--games", type=int, default=60, help="total games (default 60)")
    p.add_argument("--block", type=int, default=10, help="games per block, even (default 10)")
    p.add_argument("--start", metavar="RUNG", help="first rung (default: the middle one)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--max-plies", type=int, default=512, help="a game is drawn after this many plies"
    )
    p.add_argument(
        "--opening-plies",
        type=int,
        default=4,
        metavar="K",
        help="the first K plies of each pair of games at random, colours swapped (default 4)",
    )
    p.add_argument("--json", type=Path, metavar="OUT", help="write the report as JSON here")
    p.add_argument(
        "--records",
        type=Path,
        metavar="DIR",
        help="directory for the game records (default: evaluations/ladder-<player>-<time>); "
        "must be new or empty",
    )
    p.add_argument("--device", default="cpu", help="torch device for checkpoints (default cpu)")
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="instead: measure the rungs' ratings (every installed rung against the next "
        "one, --games games each) and write them to --json OUT",
    )
    p.set_defaults(func=run)


def _check(args: argparse.Namespace) -> None:
    for flag, value, low in (
        ("--games", args.games, 2),
        ("--block", args.block, 2),
        ("--max-plies", args.max_plies, 1),
        ("--opening-plies", args.opening_plies, 0),
    ):
        if value < low:
            raise UsageError(f"{flag} must be >= {low}, got {value}")
    if args.block % 2:
        raise UsageError(f"--block must be even (colours alternate), got {args.block}")
    args.parallel = min(args.block, 64)
    _check_sizes(args)
    if args.json is not None:
        check_new_file(args.json, "--json", parents=True)
    if args.records is not None:
        check_output_dir(args.records, "--records", new=True)


def _ladder() -> tuple[list[Rung], list[str]]:
    """The calibrated rungs whose engines are installed, and a note on the others."""
    rungs: list[Rung] = []
    missing: list[Rung] = []
    for rung in calibrated():
        (rungs if installed(rung.name) else missing).append(rung)
    notes = []
    for engine in sorted({str(r.engine) for r in missing}):
        names = ", ".join(r.name for r in missing if r.engine == engine)
        notes.append(f"rungs {names} skipped: {engine} is not installed")
    return rungs, notes


def run(args: argparse.Namespace) -> int:
    if args.calibrate:
        if args.player is not None or args.start is not None:
            raise UsageError("--calibrate takes no PLAYER and no --start")
        if args.json is None:
            raise UsageError("--calibrate needs --json OUT (the ladder file to write)")
        _check(args)
        return _calibrate(args)
    if args.player is None:
        raise UsageError("PLAYER is required (a player spec, e.g. bundled or a checkpoint)")
    _check(args)
    rungs, notes = _ladder()
    names = [r.name for r in rungs]
    start = len(rungs) // 2
    if args.start is not None:
        name = args.start.removeprefix("ladder:")
        if name not in names:
            try:  # names what is wrong: no such rung, or its engine is not installed here
                rung_spec(calibrated_rung(name).name)
            except LadderError as exc:
                raise UsageError(f"--start: {exc}") from None
        start = names.index(name)
    seeds = np.random.SeedSequence(args.seed).spawn(2)
    try:
        player = parse_player(args.player, seeds[0], PlayerOptions(device=args.device))
    except PlayerError as exc:
        raise UsageError(f"PLAYER: {exc}") from None
    default = Path("evaluations") / f"ladder-{_slug(player.name)}-{datetime.now():%Y%m%d-%H%M%S}"
    if args.records is None:
        check_output_dir(default, "records directory")
    for note in notes:
        print(f"keisei ladder: note: {note}", file=sys.stderr)
    try:
        player.open()
    except PlayerError as exc:
        raise UsageError(f"PLAYER: {exc}") from None
    records: Path = args.records or fresh_dir(default)
    try:
        result = play_ladder(
            player,
            rungs,
            lambda rung, seed: ladder_player(rung.name, seed),
            games=args.games,
            block=args.block,
            start=start,
            seed=int(seeds[1].generate_state(1)[0]),
            max_plies=args.max_plies,
            opening_plies=args.opening_plies,
            records=records,
        )
    except PlayerError as exc:
        print(f"keisei ladder: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"keisei ladder: interrupted; the finished games are in {records}", file=sys.stderr)
        return 130
    finally:
        player.close()
        if args.records is None and records.is_dir() and not any(records.iterdir()):
            records.rmdir()  # the default directory, made for records that never came
    report = build_report(player.name, result, args, records)
    print_report(report)
    if args.json is not None:
        atomic_write_json(args.json, report)
    return 0


def build_report(
    name: str, result: LadderRun, args: argparse.Namespace, records: Path
) -> dict[str, Any]:
    """The ``--json`` schema (docs/evaluation.md)."""
    rating = result.schedule.estimate()
    rungs = result.schedule.rungs
    top, bottom = rungs[-1], rungs[0]
    where = None
    if rating.rating is not None and rating.rating > top.elo:
        where = f"above the top rung ({top.name})"
    elif rating.rating is not None and rating.rating < bottom.elo:
        where = f"below the bottom rung ({bottom.name})"
    return {
        "player": name,
        "elo": None if rating.rating is None else round(rating.rating, 1),
        "elo_ci": None if rating.interval is None else [round(x, 1) for x in rating.interval],
        "note": where,
        "games": sum(b.games for b in result.schedule.blocks),
        "rungs": result.table(),
        "blocks": [
            {"rung": rungs[b.rung].name, "wins": b.wins, "losses": b.losses, "draws": b.draws}
            for b in result.schedule.blocks
        ],
        "records_dir": str(records),
        "seconds": round(sum(m.seconds for m in result.matches), 2),
        "settings": {
            "player_spec": args.player,
            "seed": args.seed,
            "games": args.games,
            "block": args.block,
            "start": args.start,
            "max_plies": args.max_plies,
            "opening_plies": args.opening_plies,
        },
    }


def print_report(report: dict[str, Any]) -> None:
    console = Console(highlight=False, soft_wrap=True)
    console.print(
        f"[bold]{escape(report['player'])}[/] on the ladder: {report['games']} games "
        f"in {report['seconds']:.1f} s"
    )
    table = Table(title="rungs played (the player's side)", title_justify="left")
    for col in ("rung", "rung Elo", "games", "wins", "losses", "draws", "score"):
        table.add_column(col, justify="left" if col == "rung" else "right")
    for row in report["rungs"]:
        table.add_row(
            row["rung"],
            f"{row['rung_elo']:.0f}",
            *(str(row[k]) for k in ("games", "wins", "losses", "draws")),
            f"{row['score']:.3f}",
        )
    console.print(table)
    if report["elo"] is None:
        console.print("Elo   not rated")
    else:
        lo, hi = report["elo_ci"]
        console.print(f"Elo   {report['elo']:.0f}  (95% interval {lo:.0f} .. {hi:.0f})")
    if report["note"]:
        console.print(f"[yellow]{report['note']}: the ladder has no rung to measure it[/]")
    console.print(f"records: {escape(report['records_dir'])}")


def _calibrate(args: argparse.Namespace) -> int:
    """Every installed rung against the next one up, ``--games`` games each."""
    names = [name for name in RUNGS if installed(name)]
    skipped = [name for name in RUNGS if not installed(name)]
    if skipped:
        print(f"keisei ladder: note: not installed, skipped: {', '.join(skipped)}", file=sys.stderr)
    pairs = [(i, i + 1) for i in range(len(names) - 1)]
    results: list[tuple[int, int, int]] = []
    pairings = []
    seeds = np.random.SeedSequence(args.seed).spawn(len(pairs))
    for (i, j), ss in zip(pairs, seeds, strict=True):
        a_seed, b_seed, match_seed = ss.spawn(3)
        a, b = (_rung_player(names[k], s) for k, s in ((i, a_seed), (j, b_seed)))
        started = time.perf_counter()
        where = None if args.records is None else args.records / f"{names[i]}-vs-{names[j]}"
        try:
            a.open()
            b.open()
            m = play_match(
                a,
                b,
                args.games,
                seed=int(match_seed.generate_state(1)[0]),
                max_plies=args.max_plies,
                opening_plies=args.opening_plies,
                parallel=args.parallel,
                records_dir=where,
            )
        except PlayerError as exc:
            print(f"keisei ladder: error: {exc}", file=sys.stderr)
            return 1
        finally:
            a.close()
            b.close()
        result = (m.wins, m.losses, m.draws)
        results.append(result)
        entry = pairing_entry(names[i], names[j], result, time.perf_counter() - started)
        pairings.append(entry)
        print(
            f"{names[i]} vs {names[j]}: {m.wins}/{m.losses}/{m.draws}, gap {entry['gap']:+.0f} "
            f"({entry['gap_interval'][0]:+.0f} .. {entry['gap_interval'][1]:+.0f}), "
            f"{entry['seconds']:.0f} s",
            flush=True,
        )
    fitted = calibrate(names, pairs, results)
    machine = machine_info()
    data = {
        "format": "keisei-ladder",
        "version": 1,
        "anchor": "random",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": machine.get("cpu"),
        "command": "keisei " + shlex.join(sys.argv[1:]),
        "games_per_pairing": args.games,
        "seed": args.seed,
        "max_plies": args.max_plies,
        "opening_plies": args.opening_plies,
        "rungs": {name: {"spec": RUNGS[name][1], **fitted[name]} for name in names},
        "pairings": pairings,
    }
    atomic_write_json(args.json, data)
    print(f"ladder written to {args.json}")
    return 0


def _rung_player(name: str, seed: np.random.SeedSequence) -> Player:
    player = parse_player(rung_spec(name), seed)
    player.name = f"ladder:{name}"
    return player
