"""``keisei train``: assemble a Trainer from a config (or a checkpoint) and run it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from keisei.cli.checks import check_creatable, check_resume_payload, check_train_config
from keisei.config import ConfigError, TrainConfig, dump_yaml, load_config, validate
from keisei.errors import UsageError
from keisei.evaluation.hook import EvaluationHook
from keisei.game.encoding import NUM_ACTIONS, NUM_PLANES
from keisei.training.build import build_trainer, open_sinks
from keisei.training.checkpoint import (
    CheckpointError,
    latest_valid,
    read_checkpoint,
    remove_stale_temporaries,
)
from keisei.training.hooks import CheckpointHook, Hook
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
    hooks: list[Hook] = [CheckpointHook(config.checkpoint.every_steps)]
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
            )
        )
    return hooks


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
            if old.get(key) != new.get(key):
                raise UsageError(
                    f"config key '{section}.{key}' is {new.get(key)!r} but checkpoint {path} "
                    f"was trained with {old.get(key)!r}; a resumed run cannot change it"
                )


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
    args: argparse.Namespace,
) -> tuple[TrainConfig, Path, Path | None, dict[str, Any] | None, list[str]]:
    """Validate everything before touching the disk: (config, run_dir, resume path, payload)."""
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
    config, run_dir, resume_path, payload, warnings = prepare(args)
    # From here on a signal is a request to stop at the next safe point.
    stop = StopRequest()
    stop.install()
    try:
        return _run(config, run_dir, resume_path, payload, warnings, stop, extra_hooks)
    finally:
        stop.uninstall()


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
    (run_dir / "config.yaml").write_text(dump_yaml(config), encoding="utf-8")
    sinks, run_id = open_sinks(config, run_dir, payload.get("wandb_run_id") if payload else None)
    for message in warnings:
        sinks.warning(message)
    for path in stale:
        sinks.warning(f"removed {path}, left by a run killed while writing a checkpoint")
    hooks = default_hooks(config) + list(extra_hooks or [])
    try:
        trainer = build_trainer(config, run_dir, sinks, hooks, stop)
        if payload is not None:
            trainer.restore(payload)
            if trainer.state.global_step >= config.run.total_steps:
                sinks.info(
                    f"Nothing to do: step {trainer.state.global_step} >= total_steps "
                    f"{config.run.total_steps} (use --total-steps to extend)"
                )
        else:
            trainer.start_fresh()
        trainer.wandb_run_id = run_id
    except Exception:
        sinks.close()
        raise
    return run_session(trainer, resume_path)
