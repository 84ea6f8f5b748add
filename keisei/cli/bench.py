"""``keisei bench``: measure this machine's throughput and memory, one section at a time.

The measurements are ``keisei.benchmark``'s (what each section measures is described there
and in docs/performance.md); this module parses and checks the options, prints the table
and writes the JSON. A new section needs its rows here (``ROWS``) and, if it has options
of its own, an argument group and a check.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from keisei.benchmark import ALL, SECTIONS, BenchOptions, bench_config, measure, section_names
from keisei.config import ConfigError, TrainConfig, load_config
from keisei.errors import UsageError
from keisei.training.build import check_overlap

Row = tuple[str, str]  # figure, measured
Results = dict[str, Any]


# -- table rows, one function per section --------------------------------------------------
def _rows_env(results: Results) -> list[Row]:
    m = results["env"]
    return [
        (
            f"environment plies/s ({m['games']} games, random moves, threads {m['threads']})",
            f"{m['plies_per_s']:,.0f}",
        ),
        ("bare cshogi plies/s (legal_moves + push)", f"{m['cshogi_plies_per_s']:,.0f}"),
        ("env.ratio (environment / bare cshogi)", f"{m['ratio']:.3f}"),
    ]


def _rows_infer(results: Results) -> list[Row]:
    m = results["infer"]
    model = m["model"]
    tower = f"{model['blocks']}x{model['channels']}"
    return [
        (
            f"inference samples/s ({tower}, batch {m['num_games']}, {m['device']})",
            f"{m['inference_samples_per_s']:,.0f}",
        ),
        (
            f"update samples/s per epoch (minibatch {m['minibatch_size']})",
            f"{m['update_samples_per_s_per_epoch']:,.0f}",
        ),
        (
            f"update: rollout steps/s ({m['steps_per_update']} steps, {m['epochs']} epochs)",
            f"{m['update_steps_per_s']:,.0f}",
        ),
        (
            f"bound steps/s  1/({_forwards(m)}/inference + 1/update)",
            f"{m['bound_steps_per_s']:,.0f}",
        ),
    ]


def _forwards(m: dict[str, Any]) -> str:
    """Forward passes per step: 1, or 1 + the Gumbel search's simulations."""
    return str(m.get("forward_passes_per_step", 1))


def _rows_train(results: Results) -> list[Row]:
    m = results["train"]
    return [
        *_rows_infer(results),
        (
            f"end-to-end training steps/s ({m['updates_per_measurement']} updates)",
            f"{m['steps_per_s']:,.0f}",
        ),
        ("train.ratio (end-to-end / bound)", f"{m['ratio']:.3f}"),
    ]


def _rows_memory(results: Results) -> list[Row]:
    m = results["memory"]
    return [
        (f"peak RSS MB (`keisei train`, {m['train_updates']} updates)", f"{m['peak_rss_mb']:,.0f}"),
        (
            f"rollout bytes/step (unpacked: {m['rollout_bytes_per_step_unpacked']:,})",
            f"{m['rollout_bytes_per_step']:,}",
        ),
        (
            f"env bytes/game (after {m['env_measured_after_plies']} plies)",
            f"{m['env_bytes_per_game']:,.0f}",
        ),
    ]


def _rows_search(results: Results) -> list[Row]:
    m = results["search"]
    tower = f"{m['model']['blocks']}x{m['model']['channels']}"
    return [
        (
            f"search playouts/s ({tower}, batch {m['batch_size']}, {m['device']})",
            f"{m['playouts_per_s']:,.0f}",
        ),
        (f"inference samples/s (batch {m['batch_size']})", f"{m['inference_samples_per_s']:,.0f}"),
        ("search.ratio (playouts / inference samples)", f"{m['ratio']:.3f}"),
        ("leaves per network call in the search", f"{m['mean_batch']:.1f}"),
    ]


def _rows_ranks(results: Results) -> list[Row]:
    m = results["ranks"]
    n = m["nproc"]
    return [
        (f"1 process x {n} threads, steps/s, idle", f"{m['idle_one_process_steps_per_s']:,.0f}"),
        (f"{n} ranks x 1 thread, steps/s, idle", f"{m['idle_ranks_steps_per_s']:,.0f}"),
        (
            f"1 process x {n} threads, steps/s, one busy process beside",
            f"{m['busy_one_process_steps_per_s']:,.0f}",
        ),
        (
            f"{n} ranks x 1 thread, steps/s, one busy process beside",
            f"{m['busy_ranks_steps_per_s']:,.0f}",
        ),
        ("ranks / 1 process, idle", f"{m['ranks_over_one_process_idle']:.3f}"),
        ("ranks busy / ranks idle", f"{m['ranks_busy_over_idle']:.3f}"),
        ("1 process busy / 1 process idle", f"{m['one_process_busy_over_idle']:.3f}"),
    ]


def _rows_overlap(results: Results) -> list[Row]:
    m = results["overlap"]
    where = f"{m['games']} games, {m['device']}"
    return [
        (f"end-to-end steps/s, env.overlap off ({where})", f"{m['off_steps_per_s']:,.0f}"),
        (f"end-to-end steps/s, env.overlap on ({where})", f"{m['on_steps_per_s']:,.0f}"),
        ("overlap on / off", f"{m['on_over_off']:.3f}"),
    ]


ROWS: dict[str, Callable[[Results], list[Row]]] = {
    "env": _rows_env,
    "infer": _rows_infer,
    "train": _rows_train,
    "memory": _rows_memory,
    "search": _rows_search,
    "ranks": _rows_ranks,
    "overlap": _rows_overlap,
}


def table(results: Results) -> Table:
    """The summary table of the sections in ``results`` (``keisei.benchmark.measure``'s)."""
    machine = results["machine"]
    title = (
        f"keisei bench {results['command']}: {machine['usable_cpus']} CPUs "
        f"({machine['cpu']}), torch {machine['torch']}, {machine['torch_threads']} threads"
    )
    if "infer" in results:
        title += f", {results['infer']['device']}"
        if results["infer"]["bf16"]:
            title += " bf16"
    caption = f"load average before: {machine.get('load_average_before')}"
    if "train" in results:
        caption += f"; training used {results['train']['cpu_per_wall']:.2f} CPU s per wall s"
    # Wide enough for the title and caption to stay on one line each (rich wraps them to
    # the table's width otherwise).
    t = Table(
        title=title,
        title_justify="left",
        caption=caption,
        caption_justify="left",
        min_width=max(len(title), len(caption)),
    )
    t.add_column("figure")
    t.add_column("measured", justify="right")
    for name in results["sections"]:
        rows = ROWS[name](results)
        for i, row in enumerate(rows):
            t.add_row(*row, end_section=i == len(rows) - 1)
    return t


# -- options -----------------------------------------------------------------------------
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
        if not out.parent.is_dir():
            raise UsageError(f"--json {out}: directory {out.parent} does not exist")
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
    ``keisei.benchmark.bench_config``); None when no model section runs."""
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
