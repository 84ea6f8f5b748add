"""``keisei bench``: measure this machine's throughput and memory, one section at a time.

The sections are ``keisei.bench``'s, each module with its measurement and its table rows
(what each measures is described there and in docs/performance.md); this module parses and
checks the options, runs the chosen sections and writes the JSON. A new section needs its
options here only if it has options of its own (an argument group and a check).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from keisei.bench.common import BenchOptions, bench_config
from keisei.bench.suite import ALL, SECTIONS, measure, section_names, table
from keisei.config import ConfigError, TrainConfig, load_config
from keisei.errors import UsageError
from keisei.files import check_new_file
from keisei.training.build import check_overlap


def register(subparsers: Any) -> None:
    lines = "; ".join(f"{s.name}: {s.help}" for s in SECTIONS.values())
    defaults = BenchOptions()
    p = subparsers.add_parser(
        "bench",
        help="measure throughput and memory (environment, network bound, training)",
        description=f"Measure throughput and memory. Sections: {lines}; all: "
        f"{', '.join(ALL)}. Prints a table; --json also writes every figure with machine "
        "information. See docs/performance.md.",
    )
    p.add_argument("section", choices=[*SECTIONS, "all"], help="what to measure")
    p.add_argument(
        "--seconds",
        type=float,
        default=defaults.seconds,
        help="env: measuring time, split evenly over rounds and sides; infer/train: the "
        f"same split gives each inference and update measurement (default {defaults.seconds:g})",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=defaults.rounds,
        help=f"alternating rounds; medians reported (default {defaults.rounds})",
    )
    p.add_argument(
        "--seed", type=int, default=defaults.seed, help=f"random seed (default {defaults.seed})"
    )
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the figures to OUT")

    model = p.add_argument_group("model sections (infer, train, memory)")
    source = model.add_mutually_exclusive_group()
    source.add_argument("--config", type=Path, help="YAML config file (over the default preset)")
    source.add_argument("--preset", help="embedded preset: default (the default), tiny or gpu")
    model.add_argument(
        "--updates",
        type=int,
        default=defaults.updates,
        help="train: PPO updates (with their rollouts) per end-to-end measurement "
        f"(default {defaults.updates})",
    )
    model.add_argument(
        "--memory-updates",
        type=int,
        default=defaults.memory_updates,
        help="memory: updates the measured `keisei train` subprocess runs "
        f"(default {defaults.memory_updates})",
    )
    model.add_argument(
        "overrides",
        nargs="*",
        metavar="key.sub=value",
        help="config overrides as for train, right after the section: "
        "keisei bench train run.torch_threads=1 --json out.json",
    )

    model.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="ranks: the processes of `keisei train --nproc N` (default "
        f"{defaults.nproc}); `keisei bench train --nproc N` is the ranks section",
    )

    env = p.add_argument_group("env section")
    env.add_argument(
        "--games",
        type=int,
        default=defaults.games,
        help=f"games stepped as one batch (default {defaults.games})",
    )
    env.add_argument(
        "--max-plies",
        type=int,
        default=defaults.max_plies,
        help=f"a game is restarted after this many plies (default {defaults.max_plies})",
    )
    env.add_argument(
        "--threads",
        type=int,
        default=defaults.threads,
        help="C++ threads stepping the games, as env.threads in train "
        f"(default {defaults.threads}; bare cshogi stays on one)",
    )
    p.set_defaults(func=run)


def _check_args(args: argparse.Namespace) -> None:
    """Raise ``UsageError`` for bad options, before anything is measured."""
    if args.nproc is not None:
        if args.section == "train":
            args.section = "ranks"  # `bench train --nproc N`: training with N ranks
        if args.section != "ranks":
            raise UsageError("--nproc applies to the train and ranks sections")
        if not 2 <= args.nproc <= 64:
            raise UsageError(f"--nproc must be in 2..64, got {args.nproc}")
    if not args.seconds > 0:
        raise UsageError(f"--seconds must be > 0, got {args.seconds}")
    if args.rounds < 1:
        raise UsageError(f"--rounds must be >= 1, got {args.rounds}")
    out: Path | None = args.json
    if out is not None:
        if out.is_dir():
            raise UsageError(f"--json {out} is a directory; give a file name")
        check_new_file(out, "--json")
    names = section_names(args.section)
    if args.updates < 1:
        raise UsageError(f"--updates must be >= 1, got {args.updates}")
    if args.memory_updates < 1:
        raise UsageError(f"--memory-updates must be >= 1, got {args.memory_updates}")
    uses_config = any(SECTIONS[name].uses_config for name in names)
    if not uses_config and (args.config is not None or args.preset is not None or args.overrides):
        raise UsageError("--config, --preset and overrides apply to infer, train and memory")
    if "env" in names:
        if args.games < 1:
            raise UsageError(f"--games must be >= 1, got {args.games}")
        if args.max_plies < 1:
            raise UsageError(f"--max-plies must be >= 1, got {args.max_plies}")
        if not 1 <= args.threads <= 256:
            raise UsageError(f"--threads must be in 1..256, got {args.threads}")


def _config(args: argparse.Namespace) -> TrainConfig | None:
    """The config the model sections measure, as ``keisei train`` would load it (see
    ``keisei.bench.common.bench_config``); None when no model section runs."""
    if not any(SECTIONS[name].uses_config for name in section_names(args.section)):
        return None
    try:
        config = bench_config(load_config(args.preset, args.config, args.overrides))
        if "overlap" in section_names(args.section):  # it measures the config with overlap on
            on = config.env.model_copy(update={"overlap": True})
            check_overlap(config.model_copy(update={"env": on}), 1)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    return config


def _progress(line: str) -> None:
    print(f"bench: {line}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    config = _config(args)
    options = BenchOptions(
        seconds=args.seconds,
        rounds=args.rounds,
        seed=args.seed,
        games=args.games,
        max_plies=args.max_plies,
        threads=args.threads,
        updates=args.updates,
        memory_updates=args.memory_updates,
        nproc=args.nproc or BenchOptions().nproc,
    )
    results = measure(args.section, options, config, _progress)
    # Not a terminal: 100 columns rather than rich's 80, so that no figure wraps.
    console = Console() if sys.stdout.isatty() else Console(width=100)
    console.print(table(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0
