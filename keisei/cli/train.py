"""``keisei train``: assemble a Trainer from a config (or a checkpoint) and run it."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from keisei.cli.checks import check_creatable, check_resume_payload, check_train_config
from keisei.config import ConfigError, TrainConfig, dump_yaml, load_config, validate
from keisei.errors import UsageError
from keisei.evaluation.hook import EvaluationHook
from keisei.evaluation.ratings import RATINGS_FILE, RatingsError, RatingTable
from keisei.game.encoding import NUM_ACTIONS, NUM_PLANES
from keisei.training.build import build_trainer, device_for, device_hint, open_sinks
from keisei.training.checkpoint import (
    CheckpointError,
    latest_valid,
    list_checkpoints,
    read_checkpoint,
    remove_stale_temporaries,
    step_of,
)
from keisei.training.hooks import CheckpointHook, Hook
from keisei.training.rundir import RunLock, aside_dir, check_free, set_aside
from keisei.training.trainer import StopRequest, run_session


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


# Keys of the checked sections that change speed only, never results (and may be missing
# from older checkpoints).
_FREE_ON_RESUME = {("env", "threads")}


def _check_compatible(saved: dict[str, Any], config: TrainConfig, path: Path) -> None:
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


def prepare(
    args: argparse.Namespace, check_lock: bool = True
) -> tuple[TrainConfig, Path, Path | None, dict[str, Any] | None, list[str]]:
    """Validate everything before touching the disk: (config, run_dir, resume path, payload).

    A run directory that another ``keisei train`` holds is refused here (``check_lock``)
    before anything else is said about it.
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
        if existing:
            raise UsageError(
                f"run directory {run_dir} already has checkpoints; continue it with "
                f"--resume latest or choose another --run-dir"
            )
        return config, run_dir, None, None, []
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
    return config, run_dir, path, payload, warnings


def run(args: argparse.Namespace, extra_hooks: list[Hook] | None = None) -> int:
    _config, run_dir, _path, _payload, _warnings = prepare(args)
    # The run directory is ours from here until exit; nothing is written in it before.
    lock = RunLock.acquire(run_dir)
    try:
        # Again under the lock: another run may have changed the directory meanwhile.
        config, run_dir, resume_path, payload, warnings = prepare(args, check_lock=False)
        if payload is not None:
            step = int(payload["state"]["global_step"])
            if step >= config.run.total_steps:
                # The checkpoint, its status and the run's files stay as they are.
                print(
                    f"keisei train: Nothing to do: {resume_path} is at step {step} >= "
                    f"total_steps {config.run.total_steps} (use --total-steps to extend)",
                    file=sys.stderr,
                )
                return 0
        # From here on a signal is a request to stop at the next safe point.
        stop = StopRequest()
        stop.install()
        try:
            return _run(config, run_dir, resume_path, payload, warnings, stop, extra_hooks)
        finally:
            stop.uninstall()
    finally:
        lock.release()


def _run(
    config: TrainConfig,
    run_dir: Path,
    resume_path: Path | None,
    payload: dict[str, Any] | None,
    warnings: list[str],
    stop: StopRequest,
    extra_hooks: list[Hook] | None,
) -> int:
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    stale = remove_stale_temporaries(run_dir / "checkpoints")
    # What the directory holds from after the resumed checkpoint (or, on a fresh start,
    # from a run that never wrote one) belongs to another line of training: set it aside.
    state = payload["state"] if payload is not None else {"global_step": -1, "episodes": 0}
    aside = aside_dir(run_dir)
    branched = any(step_of(p) > int(state["global_step"]) for p in list_checkpoints(run_dir))
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
        trainer = build_trainer(config, run_dir, sinks, hooks, stop)
        if payload is not None:
            trainer.restore(payload)
        else:
            trainer.start_fresh()
        trainer.wandb_run_id = run_id
    except Exception:
        sinks.close()
        raise
    return run_session(trainer, resume_path)
