"""Checks of user input that the subcommands share, made before anything is created.

* argparse types for numeric flags (:class:`IntRange`, :class:`FloatRange`, ``SEED``) and
  for ``--device``, given to every subcommand's flags by :func:`harden`: a bad value is
  refused by argparse in one line that names the flag (exit 2);
* checks of a training config that need more than its schema: start positions, the
  device, torch threads against this machine's CPUs, memory against this machine's
  available memory, evaluation opponents (:func:`check_train_config`);
* the parts of a checkpoint that a resumed run needs (:func:`check_resume_payload`);
* all of ``keisei train``'s input, config and resumed checkpoint (:func:`prepare`).

Every check raises :class:`UsageError` with one line naming the flag, key or file.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import torch

from keisei.config import (
    INT64_MAX,
    MAX_PLIES,
    SEED_MAX,
    ConfigError,
    ModelSection,
    TrainConfig,
    load_config,
    shown,
    validate,
)
from keisei.distributed import restart_count, usable_cpus
from keisei.errors import UsageError
from keisei.evaluation.hook import EvaluationHook
from keisei.files import check_output_dir
from keisei.game.encoding import NUM_ACTIONS, NUM_PLANES
from keisei.game.env import validate_sfen
from keisei.rl.network import parameter_count
from keisei.rl.rollout import RolloutBuffer
from keisei.search.leaves import check_device
from keisei.training.build import check_league, check_overlap, check_playout_cap, device_for
from keisei.training.checkpoint import RESUME_KEYS, load_model, model_path
from keisei.training.ranks import auto_world
from keisei.training.resume import check_compatible, init_weights, nothing_to_do, resume_source
from keisei.training.rundir import RunDir, check_free


# -- argparse types ----------------------------------------------------------------------
@dataclass(frozen=True)
class IntRange:
    """An integer flag in ``[low, high]`` (``None``: unbounded below)."""

    low: int | None = None
    high: int = INT64_MAX

    def __call__(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {shown(text)}") from None
        if self.low is not None and value < self.low:
            raise argparse.ArgumentTypeError(f"must be >= {self.low}, got {shown(value)}")
        if value > self.high:
            raise argparse.ArgumentTypeError(f"must be <= {self.high}, got {shown(value)}")
        return value


@dataclass(frozen=True)
class FloatRange:
    """A finite float flag above ``low`` (``low_open``: strictly above)."""

    low: float | None = None
    low_open: bool = False

    def __call__(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {shown(text)}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {shown(text)}")
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            bound = f"> {self.low:g}" if self.low_open else f">= {self.low:g}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value


def nproc_flag(text: str) -> str:
    """``--nproc``: a number of ranks >= 1, or ``auto`` (checked against the machine later)."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number or 'auto', got {shown(text)}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 or 'auto', got {shown(value)}")
    return text


SEED = IntRange(0, SEED_MAX)  # torch and numpy take seeds of at most 64 bits


def device(text: str) -> str:
    """``--device``: ``cpu``, ``cuda`` or ``cuda:N``, and only a CUDA device that exists."""
    try:
        return check_device(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def harden(parser: argparse.ArgumentParser) -> None:
    """Give every plain ``int``/``float`` flag of ``parser`` and its subparsers a checked type.

    A ``--device`` is checked by :func:`device`; ``float`` becomes a finite float; ``int``
    an int64 (``seed``: 0 .. 2**64 - 1; plies: at most ``MAX_PLIES``). So a subcommand that
    declares ``type=int`` still refuses nan, inf and values that torch, numpy or the C++
    environment cannot take.
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                harden(sub)
        elif action.dest == "device" and action.type is None:
            action.type = device
        elif action.type is float:
            action.type = FloatRange()
        elif action.type is int:
            if action.dest == "seed":
                action.type = SEED
            else:  # lower bounds stay with the subcommands, which name them
                high = MAX_PLIES if action.dest.endswith("max_plies") else INT64_MAX
                action.type = IntRange(-INT64_MAX - 1, high)


# -- paths -------------------------------------------------------------------------------
# -- memory ------------------------------------------------------------------------------
# Bytes per game of a ShogiEnv (Python and numpy arrays ~48 KB, the C++ games' history
# ~36 KB after 256 plies; `keisei bench memory` measures them), plus its observation as
# float32 for the forward pass.
ENV_BYTES_PER_GAME = 96_000 + 4 * NUM_PLANES * 81


def available_memory() -> int:
    """Memory available now: the machine's, or what this process's cgroup still allows."""
    available = int(psutil.virtual_memory().available)
    cgroup = Path("/sys/fs/cgroup")
    try:
        limit = (cgroup / "memory.max").read_text().strip()
        if limit != "max":
            used = int((cgroup / "memory.current").read_text())
            available = min(available, int(limit) - used)
    except (OSError, ValueError):
        pass
    return max(available, 0)


def _gb(n: int) -> str:
    return f"{n / 1e9:,.1f} GB" if n < 10**15 else f"{n:.1e} bytes"


def train_memory_bytes(
    sizes: dict[str, int],
    gpu: bool = False,
    targets: bool = False,
    network: ModelSection | None = None,
) -> int:
    """A rough estimate of a training run's host memory from its size keys (dotted keys).

    On a GPU (``gpu``) the network's activations and optimizer live in GPU memory, which is
    not estimated here; the host keeps the games, the rollout and checkpoint copies.
    ``targets``: the rollout also stores the Gumbel search's policies (float16 each).
    ``network``: the rest of the network's config (``se``, the value head; default: the
    default's), whose parameters are counted on the network itself.
    """
    games, steps = sizes["env.num_games"], sizes["rollout.steps_per_game"]
    blocks, channels = sizes["model.blocks"], sizes["model.channels"]
    batch = games * steps
    plane = 4 * 81 * channels  # one float32 activation map of the tower, per sample
    shape = (network or ModelSection()).model_copy(update={"blocks": blocks, "channels": channels})
    try:
        params = parameter_count(shape)
    except RuntimeError:  # a tensor too large for torch to describe: more than any machine has
        params = INT64_MAX
    rollout = batch * (RolloutBuffer.BYTES_PER_STEP + 3 * 4)  # plus advantages, returns
    if targets:
        rollout += batch * RolloutBuffer.TARGET_BYTES_PER_STEP
    if gpu:
        return games * ENV_BYTES_PER_GAME + rollout + 12 * params
    model = 16 * params  # weights, gradients and AdamW's two moments, float32
    acting = games * (ENV_BYTES_PER_GAME + 3 * plane + 3 * 4 * NUM_ACTIONS)
    sample = 4 * NUM_PLANES * 81 + 17 * NUM_ACTIONS + plane * (6 * blocks + 4)
    update = min(sizes["ppo.minibatch_size"], batch) * sample
    return model + acting + rollout + update


def _largest_fitting(estimate: Callable[[int], int], limit: int, high: int) -> int:
    """The largest n in [0, high] with estimate(n) <= limit (estimate grows with n)."""
    lo, hi = 0, high
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if estimate(mid) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def check_memory(config: TrainConfig, available: int | None = None) -> None:
    """Refuse a config whose estimated memory exceeds what this machine has available,
    naming the key most over its share and the largest value of it that fits."""
    gpu = device_for(config).type == "cuda"
    sizes = {
        "env.num_games": config.env.num_games,
        "rollout.steps_per_game": config.rollout.steps_per_game,
        "model.blocks": config.model.blocks,
        "model.channels": config.model.channels,
        "ppo.minibatch_size": config.ppo.minibatch_size,
    }
    limit = available_memory() if available is None else available
    targets = config.gumbel.simulations > 0
    needed = train_memory_bytes(sizes, gpu, targets, config.model)
    if needed <= limit:
        return

    def varied(key: str) -> Callable[[int], int]:
        return lambda n: train_memory_bytes({**sizes, key: n}, gpu, targets, config.model)

    fits = {key: _largest_fitting(varied(key), limit, sizes[key]) for key in sizes}
    alone = [k for k in sizes if fits[k] >= 1]  # keys that can make it fit on their own
    if alone:
        key = max(alone, key=lambda k: sizes[k] / fits[k])
        fit = f"at most {fits[key]:,} fits with the rest of the config"
    else:
        key = max(sizes, key=lambda k: needed - varied(k)(1))
        fit = "even 1 does not fit with the rest of the config"
    raise UsageError(
        f"config key '{key}' is {sizes[key]:,}: the run would need about {_gb(needed)} of "
        f"memory, {_gb(limit)} is available; {fit}"
    )


# -- a training config -------------------------------------------------------------------
def check_train_config(config: TrainConfig) -> None:
    """What the schema cannot check: start positions, device, threads, memory, opponents."""
    for i, sfen in enumerate(config.env.start_sfens):
        try:
            validate_sfen(sfen, where=f"config key 'env.start_sfens' entry {i}")
        except ValueError as exc:
            raise UsageError(" ".join(str(exc).split())) from None
    try:
        device_for(config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    cpus = usable_cpus()
    if config.run.torch_threads > 4 * cpus:
        raise UsageError(
            f"config key 'run.torch_threads' is {config.run.torch_threads}, more than 4 per "
            f"CPU of this machine ({cpus} CPUs): use at most {4 * cpus} (0: torch's default)"
        )
    check_memory(config)
    # Even with evaluation disabled: a config that names a missing opponent is wrong.
    ev = config.evaluation
    try:
        EvaluationHook(
            every_steps=ev.every_steps,
            games=ev.games,
            opponents=list(ev.opponents),
            max_plies=ev.max_plies,
        )
    except ValueError as exc:
        raise UsageError(f"config key 'evaluation.opponents': {exc}") from None


def check_launch(config: TrainConfig, world: int) -> None:
    """Refuse more ranks than this machine can start: four per CPU, one per GPU on CUDA."""
    if world > 4 * usable_cpus():
        raise UsageError(
            f"config key 'run.nproc' is {world}: use at most {4 * usable_cpus()} "
            f"on this machine ({usable_cpus()} CPUs), or 0 (auto)"
        )
    gpus = torch.cuda.device_count()
    if world > 1 and device_for(config).type == "cuda" and world > gpus:
        raise UsageError(
            f"{world} ranks on CUDA need a GPU each; this machine has {gpus}: "
            f"use --nproc {gpus} (or auto)"
        )


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


def check_world(config: TrainConfig, world: int, payload: dict[str, Any] | None = None) -> None:
    """A run of ``world`` processes: the games and the minibatch split evenly over them, and
    a resumed checkpoint was written by as many (docs/distributed.md says why)."""
    if world < 1:
        raise UsageError(f"--nproc must be >= 1, got {world}")
    if payload is not None:
        saved = int(payload.get("world_size", 1))
        if saved != world:
            raise UsageError(
                f"the checkpoint was written by a run of {saved} process"
                f"{'es' if saved != 1 else ''} and this run has {world}: resume it with "
                f"--nproc {saved} (each rank's games and random streams are in it)"
            )
    try:
        check_overlap(config, world)
        check_league(config)
        check_playout_cap(config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if world == 1:
        return
    for key, value in (
        ("env.num_games", config.env.num_games),
        ("ppo.minibatch_size", config.ppo.minibatch_size),
    ):
        if value % world:
            raise UsageError(
                f"config key '{key}' is {value}, which {world} processes cannot share "
                f"evenly: use a multiple of {world}"
            )


def load_cli_model(spec: Path, device: str) -> tuple[Any, dict[str, Any]]:
    """The network a CHECKPOINT|RUN_DIR|bundled argument names (``usi``, ``play``), or a
    UsageError naming what is wrong with it."""
    path = model_path(spec)
    if not path.exists():
        raise UsageError(
            f"no such checkpoint or run directory: {path} (or 'bundled': the shipped model)"
        )
    try:
        return load_model(path, device=device)
    except (ValueError, RuntimeError) as exc:  # CheckpointError is a ValueError
        raise UsageError(str(exc)) from None


def check_resume_payload(payload: dict[str, Any], path: Path) -> None:
    """The parts of a checkpoint that ``read_checkpoint`` leaves to a resumed run."""
    missing = [k for k in RESUME_KEYS if not isinstance(payload.get(k), dict)]
    if missing and payload.get("status") == "pretrained":
        raise UsageError(
            f"checkpoint {path} cannot be resumed: it was written by `keisei pretrain` "
            "(weights only); start a run from it with --init"
        )
    if missing and "exported_from" in payload:
        raise UsageError(
            f"checkpoint {path} cannot be resumed: it was exported with "
            "`keisei checkpoint export` (weights only, no optimizer or games)"
        )
    if missing:
        raise UsageError(
            f"checkpoint {path} cannot be resumed: it has no {', '.join(missing)} "
            "(not written by keisei train)"
        )


# -- keisei train's input ----------------------------------------------------------------
@dataclass(frozen=True)
class Prepared:
    """``keisei train``'s checked input: what the run is, where, and what it continues."""

    config: TrainConfig
    run_dir: Path
    resume_path: Path | None
    payload: dict[str, Any] | None  # the resumed checkpoint; None: a fresh start
    warnings: list[str]  # checkpoints skipped by --resume latest
    world: int  # processes (ranks) of the run
    init: dict[str, Any] | None = None  # --init: {"path", "model", "config"} of the weights

    @property
    def nothing_to_do(self) -> str | None:
        return nothing_to_do(self.config, self.payload, self.resume_path)


def _load(args: argparse.Namespace, base: dict[str, Any] | None = None) -> TrainConfig:
    try:
        return load_config(
            args.preset if base is None else None,
            args.config,
            args.overrides,
            args.total_steps,
            base=base,
        )
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def prepare(
    args: argparse.Namespace, check_lock: bool = True, world: int | None = None
) -> Prepared:
    """Validate ``keisei train``'s arguments before touching the disk.

    A run directory that another ``keisei train`` holds is refused here (``check_lock``)
    before anything else is said about it. ``world``: the run's processes (None: those of
    the resumed checkpoint, or 1).
    """
    if args.total_steps is not None and args.total_steps < 1:
        raise UsageError(f"--total-steps must be >= 1, got {args.total_steps}")
    config = _load(args)
    if args.resume is None:
        run_dir = args.run_dir or Path("runs") / config.run.name
        check_output_dir(run_dir, "run directory")
        check_train_config(config)
        if check_lock:
            check_free(run_dir)
        if not list(RunDir(run_dir).checkpoints.glob("*.pt")):
            world = (config.run.nproc if world is None else world) or auto_world(config)
            check_world(config, world)
            init = None if args.init is None else init_weights(args.init, config)
            return Prepared(config, run_dir, None, None, [], world, init)
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
        run_dir = args.run_dir or RunDir.of(Path(args.resume)).path
    else:
        run_dir = args.run_dir or Path("runs") / config.run.name
    check_output_dir(run_dir, "run directory")
    if check_lock:
        check_free(run_dir)
    path, payload, warnings = resume_source(args.resume, run_dir)
    check_resume_payload(payload, path)
    try:
        validate(payload["config"])
    except ConfigError as exc:
        raise UsageError(f"checkpoint {path} holds a config this keisei refuses: {exc}") from None
    # The saved config is the base; --config, overrides and --total-steps go on top.
    config = _load(args, base=payload["config"])
    check_compatible(payload, config, path)
    check_train_config(config)
    # A resumed run keeps its checkpoint's ranks (run.nproc is for fresh runs).
    world = (int(payload.get("world_size", 1)) if world is None else world) or auto_world(config)
    check_world(config, world, payload)
    return Prepared(config, run_dir, path, payload, warnings, world)
