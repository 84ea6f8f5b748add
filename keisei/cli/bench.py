"""``keisei bench``: throughput and memory measurements, one section at a time.

Every figure is measured in the one run that reports it; ratios compare two rates measured
alternately in that run (medians over ``--rounds``), so a busy machine moves both sides.

Sections (the positional argument)
----------------------------------
``env``
    The environment's rate against bare cshogi, in one process: (a) ``ShogiEnv`` stepping
    ``--games`` games with uniformly random legal actions, observations and masks built;
    (b) ``--games`` bare ``cshogi.Board`` objects, each ply ``list(board.legal_moves)``, one
    move picked with Python's ``random`` and pushed, a board reset when it has no legal move
    or reaches the same ``--max-plies`` as the environment. (a) and (b) alternate for
    ``--rounds`` rounds of ``--seconds / (2 * rounds)`` each.
``infer``
    The compute bound of the configured model (``--preset``/``--config``/overrides), built
    by ``keisei.cli.train.build_trainer`` as ``keisei train`` builds it:

    * inference: ``PPOAgent``'s forward pass (observations to tensor, network, autocast on
      CUDA) under ``torch.inference_mode`` on batches of ``env.num_games`` real
      observations, the batch the trainer acts on: samples/s;
    * update: ``PPOAgent.update`` on a full ``RolloutBuffer`` of the config's size
      (``num_games x steps_per_game`` real self-play transitions) with the config's epochs
      and minibatch size: rollout transitions per second of update (each transition is
      trained on ``epochs`` times; per-epoch samples/s are reported too);
    * ``bound_steps_per_s = 1 / (1 / inference_samples_per_s + 1 / update_steps_per_s)``:
      the environment steps per second of a trainer that spent time only in the network's
      acting forward passes and in the PPO update (one forward per step and game; one
      update per ``num_games x steps_per_game`` steps). The forward pass for the bootstrap
      value (one batch per update) and the action sampling are outside the bound.
``train``
    End-to-end training steps/s: the real ``Trainer`` (``build_trainer`` + ``Trainer.run``)
    for ``--updates`` updates per measurement (self-play, rollout storage, PPO updates,
    episode events and game records), in a temporary run directory with only the events
    and text logs as sinks, no hooks (no periodic checkpoints, no evaluation). Alternates
    with the ``infer`` measurements, so ``train.ratio = steps_per_s / bound_steps_per_s``
    compares rates measured in one run. Also measures the reference configuration (2-block,
    32-channel tower, 2 epochs, minibatch 64; the same measurement when the config is that
    already) against the predecessor system's 21 steps/s.
``memory``
    Peak RSS of a real ``keisei train`` subprocess running the configuration for
    ``--memory-updates`` updates (exact, from ``wait4``), and the bytes stored per
    environment step: rollout storage per transition and the environment's per-game state.
``all``
    ``env``, ``train`` (which includes ``infer``) and ``memory``.

On CUDA the model sections run with bf16 autocast (``ppo.bf16=true``).

Adding a section
----------------
1. Write ``_run_<name>(args, ctx) -> dict[str, dict]``: the JSON objects it measured, usually
   ``{"<name>": metrics}`` (``train`` also returns ``infer``). ``ctx`` holds the resolved
   ``TrainConfig`` (``ctx.config``). Write ``_rows_<name>(objects) -> list[Row]``: its rows of
   the summary table.
2. If the section needs options of its own, write ``_add_<name>_arguments(parser)`` and
   ``_check_<name>(args)`` (raises ``UsageError`` before anything is measured); options
   shared by several sections (``--seconds``, ``--rounds``, ``--seed``, ``--json``, the
   config) are added once, in ``register``.
3. Append a ``Section`` to ``SECTIONS`` and, if ``all`` should run it, add it to ``ALL``.

The profile helper: ``python -m keisei.cli.bench profile-top RAW`` summarizes a
``py-spy record -f raw`` file (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import cshogi
import numpy as np

from keisei.cli.selfplay import random_actions
from keisei.errors import UsageError
from keisei.game.env import ShogiEnv

# The targets.
ENV_RATIO_TARGET = 0.3
TRAIN_RATIO_TARGET = 0.6
PREDECESSOR_STEPS_PER_S = 21.0
SPEEDUP_TARGET = 20.0
PEAK_RSS_TARGET_MB = 3000.0  # 3 GB, in MB of 10**6 bytes
# The reference model and PPO settings of the speedup target.
REFERENCE = {
    "model": {"blocks": 2, "channels": 32, "se": False, "value_head": "scalar"},
    "ppo": {"epochs": 2, "minibatch_size": 64},
}
# Sections that ``all`` runs (``train`` measures ``infer`` as well).
ALL: tuple[str, ...] = ("env", "train", "memory")

Row = tuple[str, str, str, str]  # figure, measured, target, verdict ("yes"/"NO"/"")


@dataclass
class Context:
    """What the sections share: the training config (for model sections)."""

    config: Any = None  # keisei.config.TrainConfig, resolved before any section runs


@dataclass(frozen=True)
class Section:
    name: str
    help: str
    run: Callable[[argparse.Namespace, Context], dict[str, dict[str, Any]]]
    rows: Callable[[dict[str, dict[str, Any]]], list[Row]]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    # Raises keisei.cli.main.UsageError on bad options; runs before any section starts measuring.
    check: Callable[[argparse.Namespace], None] | None = None
    uses_config: bool = False


def _median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def _verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


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


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def machine_info() -> dict[str, Any]:
    """What the figures were measured on (torch as configured by the sections that ran)."""
    import torch

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 0
    try:
        memory: int | None = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = None
    cuda = torch.cuda.is_available()
    return {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "memory_bytes": memory,
        "load_average": _load_average(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cuda_available": cuda,
        "cuda_device": torch.cuda.get_device_name(0) if cuda else None,
        "versions": {p: _version(p) for p in ("keisei", "cshogi", "numpy", "torch")},
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

    if args.games < 1:
        raise UsageError(f"--games must be >= 1, got {args.games}")
    if args.max_plies < 1:
        raise UsageError(f"--max-plies must be >= 1, got {args.max_plies}")


def _run_env(args: argparse.Namespace, ctx: Context) -> dict[str, dict[str, Any]]:
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
    env_rate = _median(env_rates)
    bare_rate = _median(bare_rates)
    metrics = {
        "plies_per_s": env_rate,
        "cshogi_plies_per_s": bare_rate,
        "ratio": env_rate / bare_rate,
        "ratio_target": ENV_RATIO_TARGET,
        "us_per_ply": 1e6 / env_rate,
        "cshogi_us_per_ply": 1e6 / bare_rate,
        "rounds_plies_per_s": env_rates,
        "cshogi_rounds_plies_per_s": bare_rates,
        "games": args.games,
        "max_plies": args.max_plies,
        "seconds_per_measurement": per_side,
        # CPU seconds / wall seconds while measuring: well below 1 means other processes
        # took the CPU and the rates (wall-clock) are low; the ratio suffers less.
        "cpu_share": cpu / wall,
    }
    return {"env": metrics}


def _rows_env(objects: dict[str, dict[str, Any]]) -> list[Row]:
    m = objects["env"]
    return [
        (
            f"environment plies/s ({m['games']} games, random moves)",
            f"{m['plies_per_s']:,.0f}",
            "",
            "",
        ),
        ("bare cshogi plies/s (legal_moves + push)", f"{m['cshogi_plies_per_s']:,.0f}", "", ""),
        (
            "env.ratio (environment / bare cshogi)",
            f"{m['ratio']:.3f}",
            f">= {m['ratio_target']}",
            _verdict(m["ratio"] >= m["ratio_target"]),
        ),
    ]


# -- the model sections: config ------------------------------------------------------------
def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model sections (infer, train, memory)")
    source = group.add_mutually_exclusive_group()
    source.add_argument("--config", type=Path, help="YAML config file (over the default preset)")
    source.add_argument("--preset", help="embedded preset: default (the default) or tiny")
    group.add_argument(
        "--updates",
        type=int,
        default=2,
        help="train: PPO updates (with their rollouts) per end-to-end measurement (default 2)",
    )
    group.add_argument(
        "--memory-updates",
        type=int,
        default=3,
        help="memory: updates the measured `keisei train` subprocess runs (default 3)",
    )
    group.add_argument(
        "overrides",
        nargs="*",
        metavar="key.sub=value",
        help="config overrides as for train, right after the section: "
        "keisei bench train run.torch_threads=1 --json out.json",
    )


def _check_model_options(args: argparse.Namespace) -> None:

    if args.updates < 1:
        raise UsageError(f"--updates must be >= 1, got {args.updates}")
    if args.memory_updates < 1:
        raise UsageError(f"--memory-updates must be >= 1, got {args.memory_updates}")


def resolve_config(args: argparse.Namespace) -> Any:
    """The config the model sections measure: as ``keisei train`` would load it, with bf16
    autocast switched on where the run would use CUDA."""
    from keisei.config import ConfigError, load_config
    from keisei.training.build import device_for

    try:
        config = load_config(args.preset, args.config, args.overrides)
        device = device_for(config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    config = config.model_copy(deep=True)
    if device.type == "cuda":
        config.ppo.bf16 = True
    return config


def reference_config(config: Any) -> Any:
    """``config`` with the issue's reference tower and PPO settings."""
    from keisei.config import merge, validate

    return validate(merge(config.model_dump(mode="json"), REFERENCE))


def _model_info(config: Any) -> dict[str, Any]:
    from keisei.rl.network import ActorCritic
    from keisei.training.build import device_for

    model = ActorCritic(config.model)
    return {
        "model": config.model.model_dump(mode="json"),
        "parameters": sum(p.numel() for p in model.parameters()),
        "device": str(device_for(config)),
        "bf16": bool(config.ppo.bf16 and device_for(config).type == "cuda"),
        "torch_threads_config": config.run.torch_threads,
        "num_games": config.env.num_games,
        "steps_per_game": config.rollout.steps_per_game,
        "steps_per_update": config.steps_per_update,
        "epochs": config.ppo.epochs,
        "minibatch_size": config.ppo.minibatch_size,
    }


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- infer section: the compute bound ----------------------------------------------------
class _Bound:
    """Inference and update rates of the configured model, on real self-play data."""

    def __init__(self, config: Any, run_dir: Path) -> None:
        from keisei.training.build import build_trainer
        from keisei.training.sinks import Sinks

        # The same assembly as `keisei train` (threads, device, compile), no sinks needed.
        trainer = build_trainer(config, run_dir, Sinks([]), hooks=[])
        trainer.start_fresh()
        self.agent, self.buffer, self.generator = (
            trainer.agent,
            trainer.buffer,
            trainer.rng.generator,
        )
        self.batches: list[Any] = []
        step = trainer.current
        assert step is not None
        while not self.buffer.full:
            actions, logp, values = self.agent.act(step.obs, step.mask, self.generator)
            nxt = trainer.env.step(actions)
            self.buffer.add(step.obs, step.mask, actions, logp, values, nxt.reward, nxt.done)
            if len(self.batches) < 8:
                self.batches.append(step.obs)
            step = nxt
        self.last_values = self.agent.values(step.obs)
        self.batch = config.env.num_games

    def infer(self, seconds: float) -> tuple[int, float]:
        """Forward passes for at least ``seconds`` (3 at least): (samples, wall seconds)."""
        import torch

        agent, batches = self.agent, self.batches
        calls = 0
        start = time.perf_counter()
        deadline = start + seconds
        with torch.inference_mode():
            while calls < 3 or time.perf_counter() < deadline:
                agent._run(batches[calls % len(batches)])
                calls += 1
        _sync(agent.device)
        return calls * self.batch, time.perf_counter() - start

    def update(self, seconds: float) -> tuple[int, int, float]:
        """``PPOAgent.update`` calls for at least ``seconds`` (one at least):
        (rollout transitions, transitions x epochs run, wall seconds)."""
        transitions = samples = 0
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            metrics = self.agent.update(self.buffer, self.last_values, self.generator)
            rollout = self.buffer.pos * self.buffer.envs
            transitions += rollout
            samples += rollout * int(metrics["epochs_run"])
            _sync(self.agent.device)
            if time.perf_counter() >= deadline:
                break
        return transitions, samples, time.perf_counter() - start


def _bound_metrics(
    config: Any, infer_rates: list[float], update_rates: list[float], epoch_rates: list[float]
) -> dict[str, Any]:
    infer = _median(infer_rates)
    update = _median(update_rates)
    return {
        **_model_info(config),
        "inference_samples_per_s": infer,
        "inference_ms_per_batch": 1e3 * config.env.num_games / infer,
        "update_steps_per_s": update,
        "update_samples_per_s_per_epoch": _median(epoch_rates),
        "update_seconds": config.steps_per_update / update,
        "bound_steps_per_s": 1.0 / (1.0 / infer + 1.0 / update),
        "rounds_inference_samples_per_s": infer_rates,
        "rounds_update_steps_per_s": update_rates,
    }


def _measure(
    bound: _Bound, seconds: float, infer: list[float], update: list[float], epoch: list[float]
) -> None:
    samples, wall = bound.infer(seconds)
    infer.append(samples / wall)
    transitions, trained, wall = bound.update(seconds)
    update.append(transitions / wall)
    epoch.append(trained / wall)


def _run_infer(args: argparse.Namespace, ctx: Context) -> dict[str, dict[str, Any]]:
    per_side = args.seconds / (2 * args.rounds)
    infer: list[float] = []
    update: list[float] = []
    epoch: list[float] = []
    with tempfile.TemporaryDirectory(prefix="keisei-bench-") as tmp:
        bound = _Bound(ctx.config, Path(tmp))
        bound.infer(min(0.2, per_side))  # warm-up, not counted
        bound.update(0.0)
        for _ in range(args.rounds):
            _measure(bound, per_side, infer, update, epoch)
    metrics = _bound_metrics(ctx.config, infer, update, epoch)
    metrics["seconds_per_measurement"] = per_side
    return {"infer": metrics}


def _rows_infer(objects: dict[str, dict[str, Any]]) -> list[Row]:
    m = objects["infer"]
    model = m["model"]
    tower = f"{model['blocks']}x{model['channels']}"
    return [
        (
            f"inference samples/s ({tower}, batch {m['num_games']}, {m['device']})",
            f"{m['inference_samples_per_s']:,.0f}",
            "",
            "",
        ),
        (
            f"update samples/s per epoch (minibatch {m['minibatch_size']})",
            f"{m['update_samples_per_s_per_epoch']:,.0f}",
            "",
            "",
        ),
        (
            f"update: rollout steps/s ({m['steps_per_update']} steps, {m['epochs']} epochs)",
            f"{m['update_steps_per_s']:,.0f}",
            "",
            "",
        ),
        ("bound steps/s  1/(1/inference + 1/update)", f"{m['bound_steps_per_s']:,.0f}", "", ""),
    ]


# -- train section: end to end -----------------------------------------------------------
class _EndToEnd:
    """The real trainer, run for a given number of updates at a time."""

    def __init__(self, config: Any, run_dir: Path) -> None:
        from keisei.training.build import build_trainer
        from keisei.training.sinks import EventLog, Sinks, TextLog

        run_dir.mkdir(parents=True, exist_ok=True)
        self.sinks = Sinks(
            [EventLog(run_dir / "events.jsonl"), TextLog(run_dir / "train.log", echo=False)]
        )
        # A copy of our own: its run.total_steps is moved forward before each measurement.
        self.trainer = build_trainer(config.model_copy(deep=True), run_dir, self.sinks, hooks=[])
        self.trainer.start_fresh()

    def run(self, updates: int) -> tuple[int, float, float]:
        """Train ``updates`` more updates: (steps, wall seconds, CPU seconds)."""
        trainer = self.trainer
        before = trainer.state.global_step
        trainer.config.run.total_steps = before + updates * trainer.config.steps_per_update
        cpu = time.process_time()
        start = time.perf_counter()
        outcome = trainer.run()
        wall = time.perf_counter() - start
        if outcome != "finished":
            raise RuntimeError(f"training stopped early: {outcome}")
        return trainer.state.global_step - before, wall, time.process_time() - cpu

    def close(self) -> None:
        self.sinks.close()


def _run_train(args: argparse.Namespace, ctx: Context) -> dict[str, dict[str, Any]]:
    config = ctx.config
    ref_config = reference_config(config)
    same = ref_config.model_dump() == config.model_dump()
    per_side = args.seconds / (2 * args.rounds)
    rates: list[float] = []
    ref_rates: list[float] = []
    infer: list[float] = []
    update: list[float] = []
    epoch: list[float] = []
    wall = cpu = 0.0
    with tempfile.TemporaryDirectory(prefix="keisei-bench-") as tmp:
        e2e = _EndToEnd(config, Path(tmp) / "train")
        ref = None if same else _EndToEnd(ref_config, Path(tmp) / "reference")
        bound = _Bound(config, Path(tmp) / "bound")
        try:
            # Warm-up, not counted: one update each (allocator, label table, caches).
            e2e.run(1)
            if ref is not None:
                ref.run(1)
            bound.infer(min(0.2, per_side))
            bound.update(0.0)
            for _ in range(args.rounds):
                steps, seconds, cpu_seconds = e2e.run(args.updates)
                rates.append(steps / seconds)
                wall += seconds
                cpu += cpu_seconds
                _measure(bound, per_side, infer, update, epoch)
                if ref is not None:
                    steps, seconds, _ = ref.run(args.updates)
                    ref_rates.append(steps / seconds)
        finally:
            e2e.close()
            if ref is not None:
                ref.close()
    bound_metrics = _bound_metrics(config, infer, update, epoch)
    bound_metrics["seconds_per_measurement"] = per_side
    steps_per_s = _median(rates)
    reference = steps_per_s if same else _median(ref_rates)
    metrics = {
        "steps_per_s": steps_per_s,
        "bound_steps_per_s": bound_metrics["bound_steps_per_s"],
        "ratio": steps_per_s / bound_metrics["bound_steps_per_s"],
        "ratio_target": TRAIN_RATIO_TARGET,
        "rounds_steps_per_s": rates,
        "updates_per_measurement": args.updates,
        "steps_per_update": config.steps_per_update,
        # CPU seconds of this process per wall second while training (torch threads count
        # separately, so up to the thread count); low values mean a busy machine.
        "cpu_per_wall": cpu / wall,
        "reference_model": REFERENCE["model"],
        "reference_ppo": REFERENCE["ppo"],
        "reference_is_config": same,
        "reference_steps_per_s": reference,
        "reference_rounds_steps_per_s": rates if same else ref_rates,
        "predecessor_steps_per_s": PREDECESSOR_STEPS_PER_S,
        "speedup_vs_predecessor": reference / PREDECESSOR_STEPS_PER_S,
        "speedup_target": SPEEDUP_TARGET,
    }
    return {"infer": bound_metrics, "train": metrics}


def _rows_train(objects: dict[str, dict[str, Any]]) -> list[Row]:
    m = objects["train"]
    which = "the config" if m["reference_is_config"] else "2x32, 2 epochs, mb 64"
    return [
        *_rows_infer(objects),
        (
            f"end-to-end training steps/s ({m['updates_per_measurement']} updates)",
            f"{m['steps_per_s']:,.0f}",
            "",
            "",
        ),
        (
            "train.ratio (end-to-end / bound)",
            f"{m['ratio']:.3f}",
            f">= {m['ratio_target']}",
            _verdict(m["ratio"] >= m["ratio_target"]),
        ),
        (
            f"reference steps/s ({which}) / predecessor's {m['predecessor_steps_per_s']:.0f}",
            f"{m['reference_steps_per_s']:,.0f} = {m['speedup_vs_predecessor']:.1f}x",
            f">= {m['speedup_target'] * m['predecessor_steps_per_s']:.0f} = "
            f"{m['speedup_target']:.0f}x",
            _verdict(m["speedup_vs_predecessor"] >= m["speedup_target"]),
        ),
    ]


# -- memory section ------------------------------------------------------------------------
def _peak_rss_of_child(argv: list[str], log: Path) -> tuple[int, int, float]:
    """Run ``argv``; return (exit code, peak RSS in bytes, wall seconds)."""
    start = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss: kilobytes on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return proc.returncode, usage.ru_maxrss * scale, time.perf_counter() - start


def _env_bytes_per_game(config: Any, seed: int) -> dict[str, Any]:
    """Memory of a ShogiEnv per game after half of ``max_plies`` (at most 128) random plies:
    Python and numpy allocations (traced) plus the C++ games' own estimate."""
    games = config.env.num_games
    plies = max(1, min(128, config.env.max_plies // 2))
    tracemalloc.start()
    try:
        env = ShogiEnv(games, config.env.max_plies, config.env.start_sfens or None)
        rng = np.random.default_rng(seed)
        step = env.reset(seed)
        for _ in range(plies):
            step = env.step(random_actions(step, rng))
        traced, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    arrays = env._mask.nbytes + env._move_of.nbytes
    step_arrays = step.obs.nbytes + step.mask.nbytes
    cpp = env._games.memory_bytes()
    return {
        "env_bytes_per_game": (traced + cpp) / games,
        "env_python_bytes_per_game": traced / games,
        "env_cpp_bytes_per_game": cpp / games,
        "env_array_bytes_per_game": arrays / games,
        "env_observation_bytes_per_game": step_arrays / games,
        "env_measured_after_plies": plies,
    }


def _run_memory(args: argparse.Namespace, ctx: Context) -> dict[str, dict[str, Any]]:
    from keisei.config import dump_yaml
    from keisei.game.encoding import NUM_ACTIONS, NUM_PLANES
    from keisei.rl.rollout import RolloutBuffer

    config = ctx.config
    steps = args.memory_updates * config.steps_per_update
    with tempfile.TemporaryDirectory(prefix="keisei-bench-") as tmp:
        cfg_path = Path(tmp) / "config.yaml"
        cfg_path.write_text(dump_yaml(config), encoding="utf-8")
        log = Path(tmp) / "train.out"
        argv = [
            sys.executable,
            "-m",
            "keisei",
            "train",
            "--config",
            str(cfg_path),
            "--run-dir",
            str(Path(tmp) / "run"),
            "--total-steps",
            str(steps),
            "logging.console=plain",
        ]
        code, peak, wall = _peak_rss_of_child(argv, log)
        if code != 0:
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"`keisei train` for the memory measurement exited {code}:\n{tail}")
    buffer = RolloutBuffer(config.rollout.steps_per_game, config.env.num_games)
    unpacked = NUM_PLANES * 81 + NUM_ACTIONS + 8 + 3 * 4 + 1
    metrics = {
        "peak_rss_mb": peak / 1e6,
        "peak_rss_target_mb": PEAK_RSS_TARGET_MB,
        "train_updates": args.memory_updates,
        "train_steps": steps,
        "train_seconds": wall,
        "rollout_bytes_per_step": RolloutBuffer.BYTES_PER_STEP,
        "rollout_bytes_per_step_measured": buffer.bytes_per_step(),
        "rollout_bytes_per_step_unpacked": unpacked,
        "rollout_mb": buffer.nbytes / 1e6,
        **_env_bytes_per_game(config, args.seed),
    }
    return {"memory": metrics}


def _rows_memory(objects: dict[str, dict[str, Any]]) -> list[Row]:
    m = objects["memory"]
    return [
        (
            f"peak RSS MB (`keisei train`, {m['train_updates']} updates)",
            f"{m['peak_rss_mb']:,.0f}",
            f"<= {m['peak_rss_target_mb']:,.0f}",
            _verdict(m["peak_rss_mb"] <= m["peak_rss_target_mb"]),
        ),
        (
            f"rollout bytes/step (unpacked: {m['rollout_bytes_per_step_unpacked']:,})",
            f"{m['rollout_bytes_per_step']:,}",
            "",
            "",
        ),
        (
            f"env bytes/game (after {m['env_measured_after_plies']} plies)",
            f"{m['env_bytes_per_game']:,.0f}",
            "",
            "",
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
            _rows_env,
            _add_env_arguments,
            _check_env,
        ),
        Section(
            "infer",
            "the model's inference and PPO-update rates: the compute bound",
            _run_infer,
            _rows_infer,
            uses_config=True,
        ),
        Section(
            "train",
            "end-to-end training steps/s against the bound (includes infer)",
            _run_train,
            _rows_train,
            uses_config=True,
        ),
        Section(
            "memory",
            "peak RSS of `keisei train`, bytes per step",
            _run_memory,
            _rows_memory,
            uses_config=True,
        ),
    )
}


def _section_names(choice: str) -> list[str]:
    """The sections one positional choice runs."""
    return list(ALL) if choice == "all" else [choice]


def register(subparsers: Any) -> None:
    lines = "; ".join(f"{s.name}: {s.help}" for s in SECTIONS.values())
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
        default=6.0,
        help="env: measuring time, split evenly over rounds and sides; infer/train: the "
        "same split gives each inference and update measurement (default 6)",
    )
    p.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds; medians reported (default 3)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the figures to OUT")
    _add_config_arguments(p)
    for section in SECTIONS.values():
        if section.add_arguments is not None:
            section.add_arguments(p)
    p.set_defaults(func=run)


def _check_args(args: argparse.Namespace) -> None:

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
    names = _section_names(args.section)
    if any(SECTIONS[name].uses_config for name in names):
        _check_model_options(args)
    elif args.config is not None or args.preset is not None or args.overrides:
        raise UsageError("--config, --preset and overrides apply to infer, train and memory")
    for name in names:
        check = SECTIONS[name].check
        if check is not None:
            check(args)


def table(results: dict[str, Any]) -> Any:
    """The summary table (a rich ``Table``) of the sections in ``results``."""
    from rich.table import Table

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
    t = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    t.add_column("figure")
    t.add_column("measured", justify="right")
    t.add_column("target", justify="right")
    t.add_column("met")
    for name in results["sections"]:
        rows = SECTIONS[name].rows(results)
        for i, row in enumerate(rows):
            t.add_row(*row, end_section=i == len(rows) - 1)
    return t


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    _check_args(args)
    names = _section_names(args.section)
    ctx = Context()
    if any(SECTIONS[name].uses_config for name in names):
        ctx.config = resolve_config(args)
    results: dict[str, Any] = {
        "command": args.section,
        "sections": names,
        "options": {
            "seconds": args.seconds,
            "rounds": args.rounds,
            "seed": args.seed,
            "updates": args.updates,
            "memory_updates": args.memory_updates,
        },
    }
    if ctx.config is not None:
        results["train_config"] = ctx.config.model_dump(mode="json")
    load_before = _load_average()
    for name in names:
        print(f"bench: measuring {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        results.update(SECTIONS[name].run(args, ctx))
        print(
            f"bench: {name} done in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    results["machine"] = machine_info()
    results["machine"]["load_average_before"] = load_before
    if "env" in results:
        # The flat keys of `keisei bench env --json`'s contract (the environment issue).
        env = results["env"]
        results["env_plies_per_s"] = env["plies_per_s"]
        results["cshogi_plies_per_s"] = env["cshogi_plies_per_s"]
        results["ratio"] = env["ratio"]
    # Not a terminal: 100 columns rather than rich's 80, so that no figure wraps.
    console = Console() if sys.stdout.isatty() else Console(width=100)
    console.print(table(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


# -- profile summaries -------------------------------------------------------------------
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")


def profile_top(
    raw: Path, root: str = "Trainer.run", lines: int = 15
) -> tuple[int, list[tuple[float, str]], list[tuple[float, str]]]:
    """Summarize a ``py-spy record -f raw`` file: samples below the frame named ``root``,
    by the frame directly below ``root`` and by the deepest keisei line on the stack (so a
    C or torch call made by that line counts for it). Returns (samples, phases, lines)."""
    by_phase: collections.Counter[str] = collections.Counter()
    by_line: collections.Counter[str] = collections.Counter()
    total = 0
    with open(raw, encoding="utf-8") as f:
        for text in f:
            stack, _, count = text.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            frames = stack.split(";")
            names = [frame.split(" (", 1)[0] for frame in frames]
            if root not in names:
                continue
            n = int(count)
            total += n
            below = frames[names.index(root) + 1 :]
            by_phase[below[0] if below else "(in the root itself)"] += n
            deepest = "(no keisei frame)"
            for frame in below:
                m = _FRAME.match(frame)
                if m and m.group("file").startswith("keisei/"):
                    deepest = frame
            by_line[deepest] += n
    share = 100.0 / max(total, 1)
    return (
        total,
        [(n * share, k) for k, n in by_phase.most_common(lines)],
        [(n * share, k) for k, n in by_line.most_common(lines)],
    )


def _profile_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="python -m keisei.cli.bench profile-top",
        description="Summarize a `py-spy record -f raw` profile below one function.",
    )
    p.add_argument("raw", type=Path)
    p.add_argument("--root", default="Trainer.run", help="function to look below")
    p.add_argument("--lines", type=int, default=15)
    args = p.parse_args(argv)
    total, phases, lines = profile_top(args.raw, args.root, args.lines)
    print(f"{total} samples below {args.root}\n\nby call below {args.root}:")
    for share, name in phases:
        print(f"{share:5.1f} %  {name}")
    print("\nby deepest keisei line:")
    for share, name in lines:
        print(f"{share:5.1f} %  {name}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] != ["profile-top"]:
        sys.exit("usage: python -m keisei.cli.bench profile-top RAW [--root FUNC] [--lines N]")
    sys.exit(_profile_main(sys.argv[2:]))
