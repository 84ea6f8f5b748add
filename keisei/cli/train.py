"""``keisei train``: compose a run from its checked input (``checks.prepare``) and report.

The input is checked before the disk is touched (``keisei.cli.checks.prepare``); what a
resume continues and sets aside is ``keisei.training.resume``; a rank's start is
``keisei.training.ranks``; the loop, its exit codes and final checkpoint are
``keisei.training.trainer.run_session``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from keisei.cli.checks import Prepared, check_launch, nproc_flag, prepare, requested_nproc
from keisei.config import TrainConfig
from keisei.distributed import Collective, Distributed, launched_world
from keisei.errors import UsageError
from keisei.evaluation.hook import EvaluationHook
from keisei.evaluation.ratings import set_aside_evaluations
from keisei.training.build import (
    build_trainer,
    device_for,
    device_hint,
    open_sinks,
    start_trainer,
)
from keisei.training.hooks import CheckpointHook, Hook
from keisei.training.launch import launch
from keisei.training.ranks import Opening, open_ranks, rank_device, share_cores
from keisei.training.resume import begin_line
from keisei.training.rundir import RunLock
from keisei.training.sinks import Sinks
from keisei.training.trainer import EXIT_BAD_INPUT, StopRequest, run_session


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train",
        help="train an agent by self-play (a default CPU run with no arguments)",
        description="Train by self-play with PPO. Without arguments: the embedded default "
        "config, run directory runs/default/. Exit codes: 0 finished, 1 failed, 2 bad input, "
        "130 SIGINT, 143 SIGTERM, 129 SIGHUP.",
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument("--config", type=Path, help="YAML config file (over the default preset)")
    source.add_argument("--preset", help="embedded preset: default, tiny or gpu")
    p.add_argument("--run-dir", type=Path, help="run directory (default: runs/<run.name>)")
    p.add_argument(
        "--total-steps", type=int, help="train until this many steps (extends a resumed run)"
    )
    p.add_argument(
        "--resume",
        metavar="latest|PATH",
        help="continue from the run's newest valid checkpoint, or from a checkpoint file",
    )
    p.add_argument(
        "--init",
        metavar="CHECKPOINT",
        help="a fresh run starts from this checkpoint's weights (e.g. `keisei pretrain`'s; "
        "the same model config); optimizer and counters start anew",
    )
    p.add_argument(
        "--nproc",
        type=nproc_flag,
        metavar="N|auto",
        help="train with N processes (ranks) on this machine, through torch's launcher; "
        "auto: one per GPU, or one per CPU core on a CPU machine (docs/distributed.md). "
        "Default: run.nproc (auto in the default config), or the resumed checkpoint's",
    )
    p.add_argument(
        "--max-restarts",
        type=int,
        default=0,
        metavar="N",
        help="with --nproc: after a rank fails, restart all ranks from the newest "
        "checkpoint up to N times",
    )
    p.add_argument("overrides", nargs="*", metavar="key.sub=value", help="config overrides")
    p.set_defaults(func=run)


def default_hooks(config: TrainConfig) -> list[Hook]:
    hooks: list[Hook] = [EvaluationHook.of(config)] if config.evaluation.enabled else []
    # Last: a checkpoint at a step also evaluated holds that evaluation's best_score, so a
    # run resumed from it (after kill -9) keeps best.pt exactly as an unbroken run does.
    return [*hooks, CheckpointHook(config.checkpoint.every_steps)]


def _rank_argv(args: argparse.Namespace) -> list[str]:
    """The ``keisei train`` arguments each rank is started with (no --nproc)."""
    argv = ["train"]
    for flag in ("preset", "config", "run_dir", "total_steps", "resume", "init"):
        value = getattr(args, flag)
        if value is not None:
            argv += ["--" + flag.replace("_", "-"), str(value)]
    return [*argv, "--", *args.overrides]


def run(args: argparse.Namespace, extra_hooks: list[Hook] | None = None) -> int:
    launched = launched_world()
    if launched is not None:  # this process is one rank of several (torchrun, --nproc)
        return run_rank(args, *launched)
    first = prepare(args, world=requested_nproc(args))
    check_launch(first.config, first.world)
    if first.world > 1:
        # Every rank checks again; refusing bad input here saves starting them.
        if first.nothing_to_do is not None:
            print(first.nothing_to_do, file=sys.stderr)
            return 0
        return launch(_rank_argv(args), first.world, args.max_restarts)
    # The run directory is ours from here until exit; nothing is written in it before.
    lock = RunLock.acquire(first.run_dir)
    try:
        # Again under the lock: another run may have changed the directory meanwhile.
        p = prepare(args, check_lock=False, world=1)
        if p.nothing_to_do is not None:
            print(p.nothing_to_do, file=sys.stderr)
            return 0
        # From here on a signal is a request to stop at the next safe point.
        stop = StopRequest()
        stop.install()
        try:
            return _run(p, stop, extra_hooks, Collective())
        finally:
            stop.uninstall()
    finally:
        lock.release()


def run_rank(args: argparse.Namespace, rank: int, world: int, local_rank: int) -> int:
    """One rank of a run of ``world`` processes (``keisei.training.ranks``)."""
    collective = Distributed.init()
    lock: RunLock | None = None
    try:
        mine: Opening | None = None
        p: Prepared | None = None
        if rank == 0:
            try:
                p = prepare(args, world=world)
                lock = RunLock.acquire(p.run_dir)
                p = prepare(args, check_lock=False, world=world)
                done = p.nothing_to_do
                mine = Opening("done", done) if done else Opening("ok", "", p.config, None, p.init)
            except UsageError as exc:
                for message in exc.warnings:
                    print(f"warning: {message}", file=sys.stderr)
                mine, p = Opening("error", str(exc)), None
        opening, payload = open_ranks(collective, mine, p.payload if p is not None else None)
        if opening.kind != "ok":
            if rank == 0:
                error = "keisei: error: " if opening.kind == "error" else ""
                print(error + opening.message, file=sys.stderr)
            return EXIT_BAD_INPUT if opening.kind == "error" else 0
        assert opening.config is not None
        share_cores(opening.config, world)
        collective.device = rank_device(opening.config, local_rank)
        stop = StopRequest()
        stop.install()
        try:
            if p is not None:
                return _run(p, stop, None, collective)
            return _run_peer(opening, payload, stop, collective)
        finally:
            stop.uninstall()
    finally:
        if lock is not None:
            lock.release()
        collective.close()


def _run_peer(
    opening: Opening, payload: dict[str, Any] | None, stop: StopRequest, collective: Distributed
) -> int:
    """A rank other than 0: it writes nothing; it steps its games and joins each update."""
    assert opening.config is not None
    config = opening.config
    trainer = build_trainer(
        config, Path("."), Sinks([]), default_hooks(config), stop, collective, collective.device
    )
    start_trainer(trainer, payload, opening.init)
    return run_session(trainer, None)


def _run(p: Prepared, stop: StopRequest, hooks: list[Hook] | None, collective: Collective) -> int:
    line = begin_line(p.run_dir, p.config, p.payload, also=[set_aside_evaluations])
    # A branch (later step checkpoints existed) is a new W&B run: W&B drops steps below
    # those already logged, which would keep the old line's curves instead of the new's.
    resumed = p.payload is not None
    wandb_id = (
        p.payload.get("wandb_run_id") if p.payload is not None and not line.branched else None
    )
    sinks, run_id = open_sinks(p.config, p.run_dir, wandb_id, line.step if resumed else None)
    for message in p.warnings:
        sinks.warning(message)
    hint = device_hint(p.config, device_for(p.config))
    if hint is not None:
        sinks.info(hint)
    for message in line.warnings():
        sinks.warning(message)
    hooks = default_hooks(p.config) + list(hooks or [])
    try:
        device = collective.device if isinstance(collective, Distributed) else None
        trainer = build_trainer(p.config, p.run_dir, sinks, hooks, stop, collective, device)
        start_trainer(trainer, p.payload, p.init)
        trainer.wandb_run_id = run_id
    except Exception:
        sinks.close()
        raise
    return run_session(trainer, p.resume_path)
