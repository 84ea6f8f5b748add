"""``keisei bench``: throughput measurements, one section at a time.

Sections (the positional argument)
----------------------------------
``env``
    The environment's rate against bare cshogi, in one process: (a) ``ShogiEnv`` stepping
    ``--games`` games with uniformly random legal actions, observations and masks built;
    (b) ``--games`` bare ``cshogi.Board`` objects, each ply ``list(board.legal_moves)``, one
    move picked with Python's ``random`` and pushed, a board reset when it has no legal move
    or reaches the same ``--max-plies`` as the environment. (a) and (b) alternate for
    ``--rounds`` rounds; the medians and their ratio are reported.

Adding a section (``infer``, ``train``, ``memory``, and ``all`` to run every section)
------------------------------------------------------------------------------------
1. Write ``_run_<name>(args) -> dict`` returning flat, JSON-ready metrics whose keys start
   with the section's name (``infer_positions_per_s`` ...), and ``_report_<name>(metrics)``
   returning the lines to print.
2. If the section needs options of its own, write ``_add_<name>_arguments(parser)`` and
   ``_check_<name>(args)`` (raises ``UsageError`` before anything is measured); options
   shared by several sections (``--seconds``, ``--seed``, ``--json``) are added once, in
   ``register``.
3. Append a ``Section`` to ``SECTIONS``. ``all`` then only needs an entry in
   ``_section_names`` (run every section, in ``SECTIONS`` order); the JSON file already
   holds the union of the sections' metrics plus ``machine`` and ``config``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import cshogi
import numpy as np

from keisei.env import ShogiEnv
from keisei.selfplay import random_actions

# The target for the environment / bare cshogi ratio.
ENV_RATIO_TARGET = 0.3


@dataclass(frozen=True)
class Section:
    name: str
    help: str
    run: Callable[[argparse.Namespace], dict[str, Any]]
    report: Callable[[dict[str, Any]], list[str]]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    # Raises keisei.cli.UsageError on bad options; runs before any section starts measuring.
    check: Callable[[argparse.Namespace], None] | None = None


# -- machine -----------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 0
    try:
        memory: int | None = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = None
    return {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "memory_bytes": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in ("keisei", "cshogi", "numpy")},
        "time_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


# -- env section -------------------------------------------------------------------------
class _EnvLoop:
    """(a): the environment with random legal actions; state carries over between calls."""

    def __init__(self, games: int, max_plies: int, seed: int) -> None:
        self.env = ShogiEnv(games, max_plies=max_plies)
        self.rng = np.random.default_rng(seed)
        self.step = self.env.reset(seed)

    def run(self, seconds: float) -> tuple[int, float, float]:
        """Step for ``seconds``; return (plies, wall seconds, CPU seconds of this process)."""
        env, rng, step = self.env, self.rng, self.step
        plies = 0
        cpu = time.process_time()
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            step = env.step(random_actions(step, rng))
            plies += env.num_games
            now = time.perf_counter()
            if now >= deadline:
                break
        self.step = step
        return plies, now - start, time.process_time() - cpu


class _CshogiLoop:
    """(b): bare cshogi boards pushing random legal moves, nothing encoded."""

    def __init__(self, games: int, max_plies: int, seed: int) -> None:
        self.boards = [cshogi.Board() for _ in range(games)]
        self.plies = [0] * games
        self.max_plies = max_plies
        self.random = random.Random(seed)

    def run(self, seconds: float) -> tuple[int, float, float]:
        """Play for ``seconds``; return (plies, wall seconds, CPU seconds of this process)."""
        boards, game_plies, max_plies = self.boards, self.plies, self.max_plies
        choice = self.random.choice
        plies = 0
        cpu = time.process_time()
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            for i, board in enumerate(boards):
                moves = list(board.legal_moves)
                if not moves or game_plies[i] >= max_plies:
                    board.reset()
                    game_plies[i] = 0
                    continue
                board.push(choice(moves))
                game_plies[i] += 1
                plies += 1
            now = time.perf_counter()
            if now >= deadline:
                break
        return plies, now - start, time.process_time() - cpu


def _add_env_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("env section")
    group.add_argument(
        "--games", type=int, default=64, help="games stepped as one batch (default 64)"
    )
    group.add_argument(
        "--max-plies", type=int, default=512, help="a game is restarted after this many plies"
    )


def _check_env(args: argparse.Namespace) -> None:
    from keisei.cli import UsageError

    if args.games < 1:
        raise UsageError(f"--games must be >= 1, got {args.games}")
    if args.max_plies < 1:
        raise UsageError(f"--max-plies must be >= 1, got {args.max_plies}")


def _run_env(args: argparse.Namespace) -> dict[str, Any]:
    rounds: int = args.rounds
    per_side = args.seconds / (2 * rounds)
    env_loop = _EnvLoop(args.games, args.max_plies, args.seed)
    bare_loop = _CshogiLoop(args.games, args.max_plies, args.seed)
    # Warm-up, not counted: fills the label table, caches and the allocator.
    warmup = min(0.2, per_side)
    env_loop.run(warmup)
    bare_loop.run(warmup)
    env_rates: list[float] = []
    bare_rates: list[float] = []
    wall = cpu = 0.0
    for _ in range(rounds):
        for loop, rates in ((env_loop, env_rates), (bare_loop, bare_rates)):
            plies, seconds, cpu_seconds = loop.run(per_side)
            rates.append(plies / seconds)
            wall += seconds
            cpu += cpu_seconds
    env_rate = float(statistics.median(env_rates))
    bare_rate = float(statistics.median(bare_rates))
    return {
        "env_plies_per_s": env_rate,
        "cshogi_plies_per_s": bare_rate,
        "ratio": env_rate / bare_rate,
        "ratio_target": ENV_RATIO_TARGET,
        "env_us_per_ply": 1e6 / env_rate,
        "cshogi_us_per_ply": 1e6 / bare_rate,
        "env_rounds_plies_per_s": env_rates,
        "cshogi_rounds_plies_per_s": bare_rates,
        "env_games": args.games,
        "env_max_plies": args.max_plies,
        "env_seconds_per_measurement": per_side,
        # CPU seconds / wall seconds while measuring: well below 1 means other processes
        # took the CPU and the rates (wall-clock) are low; the ratio suffers less.
        "env_cpu_share": cpu / wall,
    }


def _report_env(m: dict[str, Any]) -> list[str]:
    head = (
        f"env: {m['env_games']} games, max {m['env_max_plies']} plies, "
        f"{len(m['env_rounds_plies_per_s'])} rounds of {m['env_seconds_per_measurement']:.2f} s "
        "per side (medians)"
    )
    return [
        head,
        f"  environment  {m['env_plies_per_s']:12,.0f} plies/s  "
        f"({m['env_us_per_ply']:.2f} us/ply; observations and masks built)",
        f"  bare cshogi  {m['cshogi_plies_per_s']:12,.0f} plies/s  "
        f"({m['cshogi_us_per_ply']:.2f} us/ply; random legal moves pushed)",
        f"  ratio        {m['ratio']:12.3f}  (target {m['ratio_target']})",
        *(
            [f"  note: this process had {m['env_cpu_share']:.0%} of a CPU (machine busy)"]
            if m["env_cpu_share"] < 0.9
            else []
        ),
    ]


# -- registry ----------------------------------------------------------------------------
SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section(
            "env",
            "environment plies/s against bare cshogi",
            _run_env,
            _report_env,
            _add_env_arguments,
            _check_env,
        ),
    )
}


def _section_names(choice: str) -> list[str]:
    """The sections one positional choice runs (``all`` will map to ``list(SECTIONS)``)."""
    return [choice]


def register(subparsers: Any) -> None:
    lines = "; ".join(f"{s.name}: {s.help}" for s in SECTIONS.values())
    p = subparsers.add_parser(
        "bench",
        help="measure throughput (environment against bare cshogi, ...)",
        description=f"Measure throughput, one section at a time. Sections: {lines}. "
        "Prints the figures; --json also writes them with machine information.",
    )
    p.add_argument("section", choices=list(SECTIONS), help="what to measure")
    p.add_argument(
        "--seconds",
        type=float,
        default=6.0,
        help="measuring time of the section, split evenly over rounds and sides (default 6)",
    )
    p.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds; medians reported (default 3)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the figures to OUT")
    for section in SECTIONS.values():
        if section.add_arguments is not None:
            section.add_arguments(p)
    p.set_defaults(func=run)


def _check_args(args: argparse.Namespace) -> None:
    from keisei.cli import UsageError

    if not args.seconds > 0:
        raise UsageError(f"--seconds must be > 0, got {args.seconds}")
    if args.rounds < 1:
        raise UsageError(f"--rounds must be >= 1, got {args.rounds}")
    out: Path | None = args.json
    if out is not None:
        if out.is_dir():
            raise UsageError(f"--json {out} is a directory; give a file name")
        if not out.parent.is_dir():
            raise UsageError(f"--json {out}: directory {out.parent} does not exist")
    for name in _section_names(args.section):
        check = SECTIONS[name].check
        if check is not None:
            check(args)


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    results: dict[str, Any] = {
        "sections": _section_names(args.section),
        "config": {"seconds": args.seconds, "rounds": args.rounds, "seed": args.seed},
        "machine": machine_info(),
    }
    for name in results["sections"]:
        section = SECTIONS[name]
        metrics = section.run(args)
        results.update(metrics)
        for line in section.report(metrics):
            print(line, flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0
