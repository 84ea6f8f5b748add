"""``keisei train``: assemble a Trainer from a config (or a checkpoint) and run it."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any, NamedTuple, cast

import torch

from keisei.cli.checks import (
    check_creatable,
    check_resume_payload,
    check_train_config,
    check_world,
    nproc_flag,
    usable_cpus,
)
from keisei.config import ConfigError, TrainConfig, dump_yaml, load_config, validate
from keisei.distributed import Collective, Distributed, launched_world, restart_count
from keisei.errors import UsageError
from keisei.evaluation.hook import EvaluationHook
from keisei.evaluation.ratings import RATINGS_FILE, RatingsError, RatingTable
from keisei.game.encoding import NUM_ACTIONS, NUM_PLANES
from keisei.rl.network import load_weights
from keisei.training.build import build_trainer, device_for, device_hint, open_sinks
from keisei.training.checkpoint import (
    CheckpointError,
    latest_valid,
    list_checkpoints,
    model_path,
    read_checkpoint,
    remove_stale_temporaries,
    resolve,
    step_of,
)
from keisei.training.hooks import CheckpointHook, Hook
from keisei.training.launch import launch
from keisei.training.rundir import RunLock, aside_dir, check_free, set_aside
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
    hooks: list[Hook] = []
    if config.evaluation.enabled:
        ev = config.evaluation
        hooks.append(
            EvaluationHook(
                every_steps=ev.every_steps,
                games=ev.games,
                opponents=list(ev.opponents),
                past_checkpoints=ev.past_checkpoints,
                max_plies=ev.max_plies,
                seed=config.run.seed,
                checkpoint_every=config.checkpoint.every_steps,
            )
        )
    # Last: a checkpoint at a step also evaluated holds that evaluation's best_score, so a
    # run resumed from it (after kill -9) keeps best.pt exactly as an unbroken run does.
    hooks.append(CheckpointHook(config.checkpoint.every_steps))
    return hooks


# Keys of the checked sections that change speed, not what the run is (and may be missing
# from older checkpoints): env.threads gives the same bits, env.overlap the same algorithm
# with the network's outputs computed in batches of half the size (their last bits).
_FREE_ON_RESUME = {("env", "threads"), ("env", "overlap")}


def _check_compatible(saved: dict[str, Any], config: TrainConfig, path: Path) -> None:
    searched = saved["config"].get("gumbel", {}).get("simulations", 0)
    if (searched > 0) != (config.gumbel.simulations > 0):
        raise UsageError(
            f"config key 'gumbel.simulations' is {config.gumbel.simulations} but checkpoint "
            f"{path} was trained with {searched}; a resumed run cannot turn the Gumbel search "
            "on or off (its rollout holds the search's policies or none)"
        )
    space = saved.get("action_space", {})
    if space != {"actions": NUM_ACTIONS, "planes": NUM_PLANES}:
        raise UsageError(
            f"checkpoint {path} uses action space {space}, this keisei "
            f"{{'actions': {NUM_ACTIONS}, 'planes': {NUM_PLANES}}}"
        )
    for section in ("model", "env"):
        old = saved["config"][section]
        new = getattr(config, section).model_dump(mode="json")
        for key in sorted(set(old) | set(new)):
            if (section, key) in _FREE_ON_RESUME:
                continue
            if old.get(key) != new.get(key):
                raise UsageError(
                    f"config key '{section}.{key}' is {new.get(key)!r} but checkpoint {path} "
                    f"was trained with {old.get(key)!r}; a resumed run cannot change it"
                )


def _replay(table: RatingTable, history: list[dict[str, Any]]) -> RatingTable:
    """A table with just the results of ``history`` (each entry's per-opponent results)."""
    out = RatingTable(prior_draws=table.prior_draws)
    for entry in history:
        out.index(entry["player"])
        for opponent, res in entry["opponents"].items():
            out.add_result(entry["player"], opponent, res["wins"], res["losses"], res["draws"])
        out.history.append(entry)
    return out


def _drop_later_evaluations(run_dir: Path, step: int, aside: Path) -> list[str]:
    """Take the training evaluations after ``step`` out of ratings.json (copied to ``aside``).

    The table is rebuilt from its history without them; only if the whole history rebuilds
    the stored table exactly (a file edited by hand is left alone).
    """

    def later(entry: dict[str, Any]) -> bool:
        return isinstance(entry.get("step"), int) and entry["step"] > step

    try:
        if not any(later(h) for h in RatingTable.load(run_dir).history):
            return []
        with RatingTable.locked(run_dir) as table:
            full = _replay(table, table.history)
            if (full.players, full.wins, full.draws) != (table.players, table.wins, table.draws):
                raise RatingsError("ratings.json does not match its history")
            kept = _replay(table, [h for h in table.history if not later(h)])
            dropped = len(table.history) - len(kept.history)
            aside.mkdir(parents=True, exist_ok=True)
            shutil.copy2(run_dir / RATINGS_FILE, aside / RATINGS_FILE)
            table.players, table.wins, table.draws = kept.players, kept.wins, kept.draws
            table.history = kept.history
    except (RatingsError, KeyError, TypeError, ValueError, AttributeError):
        return []
    return [f"{dropped} evaluations from {RATINGS_FILE}"]


def _resolve_resume(
    args: argparse.Namespace, run_dir: Path
) -> tuple[Path, dict[str, Any], list[str]]:
    warnings: list[str] = []
    if args.resume == "latest":
        if not run_dir.is_dir():
            raise UsageError(f"--resume latest: run directory {run_dir} does not exist")
        try:
            path, payload = latest_valid(
                run_dir, warnings.append, accept=lambda p: bool(p.get("consistent", True))
            )
        except CheckpointError as exc:
            raise UsageError(f"--resume latest: {exc}") from None
        return path, payload, warnings
    path = Path(args.resume)
    try:
        return path, read_checkpoint(path), warnings
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None


class Prepared(NamedTuple):
    config: TrainConfig
    run_dir: Path
    resume_path: Path | None
    payload: dict[str, Any] | None
    warnings: list[str]
    world: int  # processes (ranks) of the run
    init: dict[str, Any] | None = None  # --init: {"path", "model", "config"} of the weights


def requested_nproc(args: argparse.Namespace) -> int | None:
    """``--nproc`` as a number of ranks (0: auto), or None when not given."""
    value = args.nproc
    if args.max_restarts < 0:
        raise UsageError(f"--max-restarts must be >= 0, got {args.max_restarts}")
    if value is None:
        return None
    if value == "auto":
        return 0
    try:
        n = int(value)
    except ValueError:
        raise UsageError(f"--nproc must be a number or 'auto', got {value!r}") from None
    if not 1 <= n <= 4 * usable_cpus():
        raise UsageError(
            f"--nproc is {n}: use 1 to {4 * usable_cpus()} on this machine "
            f"({usable_cpus()} CPUs), or auto"
        )
    return n


def auto_world(config: TrainConfig) -> int:
    """``--nproc auto`` / ``run.nproc: 0``: one rank per GPU on CUDA, else one per usable
    CPU core, lowered to the largest number that divides the games and the minibatch."""
    n = torch.cuda.device_count() if device_for(config).type == "cuda" else usable_cpus()
    while n > 1 and (config.env.num_games % n or config.ppo.minibatch_size % n):
        n -= 1
    return max(n, 1)


def prepare(
    args: argparse.Namespace, check_lock: bool = True, world: int | None = None
) -> Prepared:
    """Validate everything before touching the disk.

    A run directory that another ``keisei train`` holds is refused here (``check_lock``)
    before anything else is said about it. ``world``: the run's processes (None: those of
    the resumed checkpoint, or 1).
    """
    if args.total_steps is not None and args.total_steps < 1:
        raise UsageError(f"--total-steps must be >= 1, got {args.total_steps}")
    try:
        config = load_config(args.preset, args.config, args.overrides, args.total_steps)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if args.resume is None:
        run_dir = args.run_dir or Path("runs") / config.run.name
        check_creatable(run_dir, "run directory")
        check_train_config(config)
        if check_lock:
            check_free(run_dir)
        existing = sorted((run_dir / "checkpoints").glob("*.pt")) if run_dir.is_dir() else []
        if not existing:
            if world is None:
                world = config.run.nproc
            world = world or auto_world(config)
            check_world(config, world)
            return Prepared(config, run_dir, None, None, [], world, _init_weights(args, config))
        if restart_count() == 0:
            raise UsageError(
                f"run directory {run_dir} already has checkpoints; continue it with "
                f"--resume latest or choose another --run-dir"
            )
        # torchrun restarted the group after a failure: go on from the newest checkpoint.
        args.resume = "latest"
    if args.init is not None:
        raise UsageError("--init starts a fresh run; a resumed run has its own weights")
    if args.resume != "latest":
        ckpt = Path(args.resume)
        default_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
        run_dir = args.run_dir or default_dir
    else:
        run_dir = args.run_dir or Path("runs") / config.run.name
    check_creatable(run_dir, "run directory")
    if check_lock:
        check_free(run_dir)
    path, payload, warnings = _resolve_resume(args, run_dir)
    check_resume_payload(payload, path)
    try:
        validate(payload["config"])
    except ConfigError as exc:
        raise UsageError(f"checkpoint {path} holds a config this keisei refuses: {exc}") from None
    try:
        # The saved config is the base; --config, overrides and --total-steps go on top.
        config = load_config(
            None, args.config, args.overrides, args.total_steps, base=payload["config"]
        )
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    _check_compatible(payload, config, path)
    check_train_config(config)
    # A resumed run keeps its checkpoint's ranks (run.nproc is for fresh runs).
    if world is None:
        world = int(payload.get("world_size", 1))
    world = world or auto_world(config)
    check_world(config, world, payload)
    return Prepared(config, run_dir, path, payload, warnings, world)


def _init_weights(args: argparse.Namespace, config: TrainConfig) -> dict[str, Any] | None:
    """``--init``: the weights a fresh run starts from, checked against its model config."""
    if args.init is None:
        return None
    path = model_path(args.init)
    try:
        _resolved, payload = resolve(path)
    except CheckpointError as exc:
        raise UsageError(f"--init: {exc}") from None
    saved, mine = payload["config"]["model"], config.model.model_dump(mode="json")
    for key in sorted(set(saved) | set(mine)):
        if saved.get(key) != mine.get(key):
            raise UsageError(
                f"--init {path} has 'model.{key}' {saved.get(key)!r} but this run's config "
                f"has {mine.get(key)!r}: give the run the same model (e.g. model.{key}="
                f"{saved.get(key)})"
            )
    return {"path": str(path), "model": payload["model"], "config": saved}


def _initialise(trainer: Any, init: dict[str, Any] | None) -> None:
    if init is not None:
        load_weights(trainer.agent.model, init["model"], init["config"])
        trainer.sinks.info(f"Initialised the network from {init['path']}")


def _nothing_to_do(p: Prepared) -> str | None:
    if p.payload is None:
        return None
    step = int(p.payload["state"]["global_step"])
    if step < p.config.run.total_steps:
        return None
    # The checkpoint, its status and the run's files stay as they are.
    return (
        f"keisei train: Nothing to do: {p.resume_path} is at step {step} >= "
        f"total_steps {p.config.run.total_steps} (use --total-steps to extend)"
    )


def _rank_argv(args: argparse.Namespace) -> list[str]:
    """The ``keisei train`` arguments each rank is started with (no --nproc)."""
    argv = ["train"]
    if args.preset is not None:
        argv += ["--preset", args.preset]
    if args.config is not None:
        argv += ["--config", str(args.config)]
    if args.run_dir is not None:
        argv += ["--run-dir", str(args.run_dir)]
    if args.total_steps is not None:
        argv += ["--total-steps", str(args.total_steps)]
    if args.resume is not None:
        argv += ["--resume", str(args.resume)]
    if args.init is not None:
        argv += ["--init", str(args.init)]
    return [*argv, "--", *args.overrides]


def run(args: argparse.Namespace, extra_hooks: list[Hook] | None = None) -> int:
    launched = launched_world()
    if launched is not None:  # this process is one rank of several (torchrun, --nproc)
        return run_rank(args, *launched)
    first = prepare(args, world=requested_nproc(args))
    if first.world > 4 * usable_cpus():
        raise UsageError(
            f"config key 'run.nproc' is {first.world}: use at most {4 * usable_cpus()} "
            f"on this machine ({usable_cpus()} CPUs), or 0 (auto)"
        )
    gpus = torch.cuda.device_count()
    if first.world > 1 and device_for(first.config).type == "cuda" and first.world > gpus:
        raise UsageError(
            f"{first.world} ranks on CUDA need a GPU each; this machine has {gpus}: "
            f"use --nproc {gpus} (or auto)"
        )
    if first.world > 1:
        # Every rank checks again; refusing bad input here saves starting them.
        message = _nothing_to_do(first)
        if message is not None:
            print(message, file=sys.stderr)
            return 0
        return launch(_rank_argv(args), first.world, args.max_restarts)
    # The run directory is ours from here until exit; nothing is written in it before.
    lock = RunLock.acquire(first.run_dir)
    try:
        # Again under the lock: another run may have changed the directory meanwhile.
        p = prepare(args, check_lock=False, world=1)
        message = _nothing_to_do(p)
        if message is not None:
            print(message, file=sys.stderr)
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


def _rank_device(config: TrainConfig, local_rank: int) -> torch.device:
    device = device_for(config)
    if device.type != "cuda":
        return device
    if local_rank >= torch.cuda.device_count():
        raise UsageError(
            f"local rank {local_rank} has no GPU of its own ({torch.cuda.device_count()} "
            f"visible): start at most one rank per GPU"
        )
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


def run_rank(args: argparse.Namespace, rank: int, world: int, local_rank: int) -> int:
    """One rank of a run of ``world`` processes. Rank 0 checks the input, holds the run
    directory's lock and reads the checkpoint; the others receive what they need from it
    (they may be on other hosts, without the run directory)."""
    collective = Distributed.init()
    lock: RunLock | None = None
    try:
        header: tuple[str, Any]
        pieces: list[dict[str, Any]] | None = None
        p: Prepared | None = None
        if rank == 0:
            try:
                p = prepare(args, world=world)
                lock = RunLock.acquire(p.run_dir)
                p = prepare(args, check_lock=False, world=world)
                message = _nothing_to_do(p)
                if message is not None:
                    header = ("done", message)
                else:
                    shared = {k: v for k, v in (p.payload or {}).items() if k not in _OWN}
                    header = (
                        "ok",
                        (p.config, shared if p.payload is not None else None, p.init),
                    )
                    if p.payload is not None:
                        pieces = [_own(p.payload), *p.payload.get("peer_ranks", [])]
            except UsageError as exc:
                header = ("error", str(exc))
        else:
            header = ("", None)
        kind, body = collective.broadcast(header)
        if kind == "error":
            if rank == 0:
                print(f"keisei: error: {body}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if kind == "done":
            if rank == 0:
                print(body, file=sys.stderr)
            return 0
        config, common, init = cast(
            tuple[TrainConfig, dict[str, Any] | None, dict[str, Any] | None], body
        )
        mine = collective.scatter(pieces) if common is not None else None
        if config.run.torch_threads == 0:
            # Ranks share the host's cores; torch's default would give each all of them.
            local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
            torch.set_num_threads(max(1, usable_cpus() // local_world))
        collective.device = _rank_device(config, local_rank)
        stop = StopRequest()
        stop.install()
        try:
            if rank == 0:
                assert p is not None
                return _run(p, stop, None, collective)
            payload = None if mine is None or common is None else {**common, **mine}
            return _run_peer(config, payload, stop, collective, init)
        finally:
            stop.uninstall()
    finally:
        if lock is not None:
            lock.release()
        collective.close()


# What each rank has of its own in a checkpoint (the rest is shared by all ranks).
_OWN = ("env", "rollout", "rng", "peer_ranks", "world_size")


def _own(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: payload[k] for k in ("env", "rollout", "rng")}


def _run_peer(
    config: TrainConfig,
    payload: dict[str, Any] | None,
    stop: StopRequest,
    collective: Distributed,
    init: dict[str, Any] | None,
) -> int:
    """A rank other than 0: it writes nothing; it steps its games and joins each update."""
    trainer = build_trainer(
        config, Path("."), Sinks([]), default_hooks(config), stop, collective, collective.device
    )
    if payload is not None:
        trainer.restore(payload)
    else:
        trainer.start_fresh()
        _initialise(trainer, init)
    return run_session(trainer, None)


def _run(
    p: Prepared,
    stop: StopRequest,
    extra_hooks: list[Hook] | None,
    collective: Collective,
) -> int:
    config, run_dir, resume_path, payload, warnings = p[:5]
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    stale = remove_stale_temporaries(run_dir / "checkpoints")
    # What the directory holds from after the resumed checkpoint (or, on a fresh start,
    # from a run that never wrote one) belongs to another line of training: set it aside.
    state = payload["state"] if payload is not None else {"global_step": -1, "episodes": 0}
    aside = aside_dir(run_dir)
    branched = any(step_of(c) > int(state["global_step"]) for c in list_checkpoints(run_dir))
    moved = set_aside(run_dir, int(state["global_step"]), int(state["episodes"]), aside)
    moved += _drop_later_evaluations(run_dir, int(state["global_step"]), aside)
    (run_dir / "config.yaml").write_text(dump_yaml(config), encoding="utf-8")
    # A branch (later step checkpoints existed) is a new W&B run: W&B drops steps below
    # those already logged, which would keep the old line's curves instead of the new's.
    wandb_id = payload.get("wandb_run_id") if payload is not None and not branched else None
    resume_step = int(state["global_step"]) if payload is not None else None
    sinks, run_id = open_sinks(config, run_dir, wandb_id, resume_step)
    for message in warnings:
        sinks.warning(message)
    hint = device_hint(config, device_for(config))
    if hint is not None:
        sinks.info(hint)
    for path in stale:
        sinks.warning(f"removed {path}, left by a run killed while writing a checkpoint")
    if moved:
        where = f"step {state['global_step']}" if payload is not None else "a fresh start"
        sinks.warning(
            f"moved what came after {where} to {aside}: "
            + "; ".join(moved)
            + " (another line of training, or a killed run's last moments)"
        )
    hooks = default_hooks(config) + list(extra_hooks or [])
    try:
        device = collective.device if isinstance(collective, Distributed) else None
        trainer = build_trainer(config, run_dir, sinks, hooks, stop, collective, device)
        if payload is not None:
            trainer.restore(payload)
        else:
            trainer.start_fresh()
            _initialise(trainer, p.init)
        trainer.wandb_run_id = run_id
    except Exception:
        sinks.close()
        raise
    return run_session(trainer, resume_path)
