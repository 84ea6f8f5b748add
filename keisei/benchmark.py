"""Throughput and memory measurements of this machine: what ``keisei bench`` reports.

Every figure is measured in the one run that reports it; ratios compare two rates measured
alternately in that run (medians over ``rounds``), so a busy machine moves both sides. The
figures are measurements and the compute bound they imply; nothing here judges them.

Sections
--------
``env``
    The environment's rate against bare cshogi, in one process: (a) ``ShogiEnv`` stepping
    ``games`` games with uniformly random legal actions (``keisei.game.env.random_legal``),
    observations and masks built; (b) ``games`` bare ``cshogi.Board`` objects, each ply
    ``list(board.legal_moves)``, one move picked with Python's ``random`` and pushed, a
    board reset when it has no legal move or reaches the same ``max_plies`` as the
    environment. (a) and (b) alternate for ``rounds`` rounds of ``seconds / (2 * rounds)``
    each. ``ratio = environment / bare cshogi``.
``infer``
    The compute bound of the configured model, built by
    ``keisei.training.build.build_trainer`` as ``keisei train`` builds it:

    * inference: ``PPOAgent.infer`` (observations to tensor, network, autocast on CUDA) on
      batches of ``env.num_games`` real observations, the batch the trainer acts on:
      samples/s;
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
    for ``updates`` updates per measurement (self-play, rollout storage, PPO updates,
    episode events and game records), in a temporary run directory with only the events
    and text logs as sinks, no hooks (no periodic checkpoints, no evaluation). Alternates
    with the ``infer`` measurements, so ``train.ratio = steps_per_s / bound_steps_per_s``
    compares rates measured in one run.
``memory``
    Peak RSS of a real ``keisei train`` subprocess running the configuration for
    ``memory_updates`` updates (exact, from ``wait4``), and the bytes stored per
    environment step: rollout storage per transition and the environment's per-game state.

``search``
    PUCT search playouts/s (``keisei.search.mcts``) from the start position with the
    configured model (random weights, the network shape of ``config.model``), next to the
    same network's samples/s on batches of the search's batch size (``SEARCH_BATCH``, the
    USI engine's default), alternating for ``rounds`` rounds:
    ``ratio = playouts/s / inference samples/s``. Not in ``all``.

On CUDA the model sections run with bf16 autocast (``bench_config``).

Adding a section: write ``measure_<name>(options, config) -> dict[str, dict]`` (the JSON
objects it measured, usually ``{"<name>": metrics}``), add a ``Section`` to ``SECTIONS``
(and its name to ``ALL`` if ``all`` should run it), then give it its table rows (and any
options of its own) in ``keisei.cli.bench``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import random
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
import numpy.typing as npt
import torch

from keisei.config import TrainConfig, dump_yaml
from keisei.game.encoding import NUM_ACTIONS, NUM_PLANES
from keisei.game.env import ShogiEnv, StepResult, random_legal
from keisei.rl.network import ActorCritic
from keisei.rl.ppo import PPOAgent
from keisei.rl.rollout import FloatArray, RolloutBuffer
from keisei.search.mcts import PUCTSearch, SearchConfig, inference_rate, search_rate
from keisei.training.build import build_trainer, device_for
from keisei.training.sinks import EventLog, Sinks, TextLog
from keisei.training.trainer import Trainer

Metrics = dict[str, Any]
Objects = dict[str, Metrics]  # JSON object name -> its figures


@dataclass(frozen=True)
class BenchOptions:
    """How long and how often to measure; ``keisei bench``'s options of the same names."""

    seconds: float = 6.0  # per section, split evenly over rounds and the two sides
    rounds: int = 3  # alternating rounds; medians are reported
    seed: int = 0
    games: int = 64  # env: games stepped as one batch
    max_plies: int = 512  # env: a game is restarted after this many plies
    threads: int = 1  # env: C++ threads stepping the games (env.threads)
    updates: int = 2  # train: PPO updates (with their rollouts) per measurement
    memory_updates: int = 3  # memory: updates the measured `keisei train` runs
    nproc: int = 2  # ranks: processes of the distributed layout

    @property
    def seconds_per_measurement(self) -> float:
        return self.seconds / (2 * self.rounds)


Measure = Callable[[BenchOptions, TrainConfig | None], Objects]


@dataclass(frozen=True)
class Section:
    name: str
    help: str
    measure: Measure
    uses_config: bool  # measures the training config's model (``config`` must be given)


def _median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def _needs(config: TrainConfig | None, section: str) -> TrainConfig:
    if config is None:
        raise ValueError(f"the {section} section measures a training config; none was given")
    return config


def bench_config(config: TrainConfig) -> TrainConfig:
    """The config the model sections measure: ``config`` with bf16 autocast switched on
    where the run would use CUDA. Raises ``ConfigError`` for an unavailable device."""
    device = device_for(config)
    config = config.model_copy(deep=True)
    if device.type == "cuda":
        config.ppo.bf16 = True
    return config


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


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, or None where the platform has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def machine_info() -> dict[str, Any]:
    """What the figures were measured on (torch as configured by the sections that ran)."""
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
        "load_average": load_average(),
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

    def __init__(self, games: int, max_plies: int, seed: int, threads: int = 1) -> None:
        self.env = ShogiEnv(games, max_plies=max_plies, threads=threads)
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
            step = env.step(random_legal(step, rng))
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


def measure_env(options: BenchOptions, config: TrainConfig | None = None) -> Objects:
    """``{"env": ...}``: environment and bare cshogi plies/s and their ratio."""
    per_side = options.seconds_per_measurement
    env_loop = _EnvLoop(options.games, options.max_plies, options.seed, options.threads)
    bare_loop = _CshogiLoop(options.games, options.max_plies, options.seed)
    # Warm-up, not counted: caches and the allocator.
    warmup = min(0.2, per_side)
    env_loop.run(warmup)
    bare_loop.run(warmup)
    env_rates: list[float] = []
    bare_rates: list[float] = []
    wall = cpu = 0.0
    for _ in range(options.rounds):
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
        "us_per_ply": 1e6 / env_rate,
        "cshogi_us_per_ply": 1e6 / bare_rate,
        "rounds_plies_per_s": env_rates,
        "cshogi_rounds_plies_per_s": bare_rates,
        "games": options.games,
        "max_plies": options.max_plies,
        "threads": options.threads,
        "seconds_per_measurement": per_side,
        # CPU seconds / wall seconds while measuring: well below 1 means other processes
        # took the CPU and the rates (wall-clock) are low; the ratio suffers less.
        "cpu_share": cpu / wall,
    }
    return {"env": metrics}


# -- the model sections ------------------------------------------------------------------
def _model_info(config: TrainConfig, agent: PPOAgent) -> Metrics:
    return {
        "model": config.model.model_dump(mode="json"),
        "parameters": sum(p.numel() for p in agent.model.parameters()),
        "device": str(agent.device),
        "bf16": agent.amp_dtype == torch.bfloat16,
        "torch_threads_config": config.run.torch_threads,
        "num_games": config.env.num_games,
        "steps_per_game": config.rollout.steps_per_game,
        "steps_per_update": config.steps_per_update,
        "epochs": config.ppo.epochs,
        "minibatch_size": config.ppo.minibatch_size,
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Bound:
    """Inference and update rates of the configured model, on real self-play data."""

    def __init__(self, config: TrainConfig, run_dir: Path) -> None:
        # The same assembly as `keisei train` (threads, device, compile), no sinks needed.
        trainer = build_trainer(config, run_dir, Sinks([]), hooks=[])
        trainer.start_fresh()
        self.config = config
        self.agent: PPOAgent = trainer.agent
        self.buffer: RolloutBuffer = trainer.buffer
        self.generator = trainer.rng.generator
        # Observations as the trainer has them: planes and their bit-packed copy.
        self.batches: list[tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]] = []
        step: StepResult | None = trainer.current
        assert step is not None
        while not self.buffer.full:
            if len(self.batches) < 8:
                self.batches.append((step.obs, step.packed_obs))
            nxt, row, _finished = trainer.pipeline.ply([step], act_ahead=False)
            self.buffer.add(row)
            step = nxt[0]
        self.last_values: FloatArray = self.agent.values(step.obs, packed_obs=step.packed_obs)
        self.batch = config.env.num_games

    def infer(self, seconds: float) -> tuple[int, float]:
        """Forward passes for at least ``seconds`` (3 at least): (samples, wall seconds)."""
        agent, batches = self.agent, self.batches
        calls = 0
        start = time.perf_counter()
        deadline = start + seconds
        while calls < 3 or time.perf_counter() < deadline:
            agent.infer(*batches[calls % len(batches)])
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

    def warm_up(self, seconds: float) -> None:
        """Uncounted: one update and a short run of forward passes."""
        self.infer(min(0.2, seconds))
        self.update(0.0)


class _Rates:
    """The bound's per-round rates."""

    def __init__(self) -> None:
        self.infer: list[float] = []
        self.update: list[float] = []
        self.epoch: list[float] = []

    def measure(self, bound: _Bound, seconds: float) -> None:
        samples, wall = bound.infer(seconds)
        self.infer.append(samples / wall)
        transitions, trained, wall = bound.update(seconds)
        self.update.append(transitions / wall)
        self.epoch.append(trained / wall)

    def metrics(self, bound: _Bound, seconds: float) -> Metrics:
        infer = _median(self.infer)
        update = _median(self.update)
        config = bound.config
        # With the Gumbel search a step costs a forward pass for its root and one per
        # simulation (over at most as many positions: terminal leaves need none).
        forwards = 1 + config.gumbel.simulations
        return {
            **_model_info(config, bound.agent),
            "inference_samples_per_s": infer,
            "inference_ms_per_batch": 1e3 * config.env.num_games / infer,
            "update_steps_per_s": update,
            "update_samples_per_s_per_epoch": _median(self.epoch),
            "update_seconds": config.steps_per_update / update,
            "forward_passes_per_step": forwards,
            "bound_steps_per_s": 1.0 / (forwards / infer + 1.0 / update),
            "rounds_inference_samples_per_s": self.infer,
            "rounds_update_steps_per_s": self.update,
            "seconds_per_measurement": seconds,
        }


def measure_infer(options: BenchOptions, config: TrainConfig | None) -> Objects:
    """``{"infer": ...}``: inference and update rates of ``config``'s model, and the bound."""
    config = _needs(config, "infer")
    per_side = options.seconds_per_measurement
    rates = _Rates()
    with tempfile.TemporaryDirectory(prefix="keisei-bench-") as tmp:
        bound = _Bound(config, Path(tmp))
        bound.warm_up(per_side)
        for _ in range(options.rounds):
            rates.measure(bound, per_side)
    return {"infer": rates.metrics(bound, per_side)}


class _EndToEnd:
    """The real trainer, run for a given number of updates at a time."""

    def __init__(self, config: TrainConfig, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.sinks = Sinks(
            [EventLog(run_dir / "events.jsonl"), TextLog(run_dir / "train.log", echo=False)]
        )
        # A copy of our own: its run.total_steps is moved forward before each measurement.
        self.trainer: Trainer = build_trainer(
            config.model_copy(deep=True), run_dir, self.sinks, hooks=[]
        )
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


def measure_train(options: BenchOptions, config: TrainConfig | None) -> Objects:
    """``{"infer": ..., "train": ...}``: end-to-end steps/s, alternating with the bound."""
    config = _needs(config, "train")
    per_side = options.seconds_per_measurement
    rates: list[float] = []
    bound_rates = _Rates()
    wall = cpu = 0.0
    with tempfile.TemporaryDirectory(prefix="keisei-bench-") as tmp:
        e2e = _EndToEnd(config, Path(tmp) / "train")
        try:
            bound = _Bound(config, Path(tmp) / "bound")
            e2e.run(1)  # warm-up, not counted: allocator and caches
            bound.warm_up(per_side)
            for _ in range(options.rounds):
                steps, seconds, cpu_seconds = e2e.run(options.updates)
                rates.append(steps / seconds)
                wall += seconds
                cpu += cpu_seconds
                bound_rates.measure(bound, per_side)
        finally:
            e2e.close()
    infer = bound_rates.metrics(bound, per_side)
    steps_per_s = _median(rates)
    metrics = {
        "steps_per_s": steps_per_s,
        "bound_steps_per_s": infer["bound_steps_per_s"],
        "ratio": steps_per_s / infer["bound_steps_per_s"],
        "rounds_steps_per_s": rates,
        "updates_per_measurement": options.updates,
        "steps_per_update": config.steps_per_update,
        # CPU seconds of this process per wall second while training (torch threads count
        # separately, so up to the thread count); low values mean a busy machine.
        "cpu_per_wall": cpu / wall,
    }
    return {"infer": infer, "train": metrics}


def measure_overlap(options: BenchOptions, config: TrainConfig | None) -> Objects:
    """``{"overlap": ...}``: end-to-end steps/s of ``config`` with ``env.overlap`` off and
    on, two real trainers in this process measured in alternating rounds."""
    config = _needs(config, "overlap")
    variants = {
        flag: config.model_copy(update={"env": config.env.model_copy(update={"overlap": flag})})
        for flag in (False, True)
    }
    rates: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="keisei-bench-") as tmp:
        runs = {
            flag: _EndToEnd(cfg, Path(tmp) / f"overlap-{flag}") for flag, cfg in variants.items()
        }
        try:
            for e2e in runs.values():
                e2e.run(1)  # warm-up, not counted
            for _ in range(options.rounds):
                for flag, e2e in runs.items():
                    steps, seconds, _cpu = e2e.run(options.updates)
                    rates[flag].append(steps / seconds)
        finally:
            for e2e in runs.values():
                e2e.close()
    off, on = _median(rates[False]), _median(rates[True])
    return {
        "overlap": {
            "games": config.env.num_games,
            "device": str(runs[False].trainer.agent.device),
            "off_steps_per_s": off,
            "on_steps_per_s": on,
            "on_over_off": on / off,
            "rounds_off_steps_per_s": rates[False],
            "rounds_on_steps_per_s": rates[True],
            "updates_per_measurement": options.updates,
        }
    }


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


def _env_bytes_per_game(config: TrainConfig, seed: int) -> Metrics:
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
            step = env.step(random_legal(step, rng))
        traced, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    held = env.memory_bytes()
    step_arrays = step.obs.nbytes + step.mask.nbytes
    return {
        "env_bytes_per_game": (traced + held["games"]) / games,
        "env_python_bytes_per_game": traced / games,
        "env_cpp_bytes_per_game": held["games"] / games,
        "env_array_bytes_per_game": held["action_tables"] / games,
        "env_observation_bytes_per_game": step_arrays / games,
        "env_measured_after_plies": plies,
    }


def measure_memory(options: BenchOptions, config: TrainConfig | None) -> Objects:
    """``{"memory": ...}``: peak RSS of `keisei train`, rollout and environment bytes."""
    config = _needs(config, "memory")
    steps = options.memory_updates * config.steps_per_update
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
            "--nproc",  # one process: its peak RSS is the figure
            "1",
            "logging.console=plain",
        ]
        code, peak, wall = _peak_rss_of_child(argv, log)
        if code != 0:
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"`keisei train` for the memory measurement exited {code}:\n{tail}")
    searching = config.gumbel.simulations > 0
    buffer = RolloutBuffer(config.rollout.steps_per_game, config.env.num_games, searching)
    per_step = RolloutBuffer.BYTES_PER_STEP + searching * RolloutBuffer.TARGET_BYTES_PER_STEP
    # uint8 planes, a bool mask, an int64 action, three float32 and one bool per step.
    unpacked = NUM_PLANES * 81 + NUM_ACTIONS + 8 + 3 * 4 + 1
    metrics = {
        "peak_rss_mb": peak / 1e6,
        "train_updates": options.memory_updates,
        "train_steps": steps,
        "train_seconds": wall,
        "rollout_bytes_per_step": per_step,
        "rollout_bytes_per_step_measured": buffer.bytes_per_step(),
        "rollout_bytes_per_step_unpacked": unpacked,
        "rollout_mb": buffer.nbytes / 1e6,
        **_env_bytes_per_game(config, options.seed),
    }
    return {"memory": metrics}


SEARCH_BATCH = 16  # leaves per network call in the search section (the engine's default)


def measure_search(options: BenchOptions, config: TrainConfig | None) -> Objects:
    """``{"search": ...}``: search playouts/s against the network's samples/s, same batch."""
    config = _needs(config, "search")
    device = device_for(config)
    if config.run.torch_threads:
        torch.set_num_threads(config.run.torch_threads)
    torch.manual_seed(options.seed)
    model = ActorCritic(config.model).to(device).eval()
    search = PUCTSearch(model, SearchConfig(batch_size=SEARCH_BATCH, mate_nodes=0), str(device))
    per_side = options.seconds_per_measurement
    search_rate(search, cshogi.STARTING_SFEN, min(per_side, 0.5))  # warm-up
    playouts: list[float] = []
    samples: list[float] = []
    batches: list[float] = []
    for _ in range(options.rounds):
        rate, mean_batch = search_rate(search, cshogi.STARTING_SFEN, per_side)
        playouts.append(rate)
        batches.append(mean_batch)
        samples.append(inference_rate(search.evaluator, SEARCH_BATCH, per_side))
    nps, sps = _median(playouts), _median(samples)
    return {
        "search": {
            "model": {"blocks": config.model.blocks, "channels": config.model.channels},
            "device": str(device),
            "batch_size": SEARCH_BATCH,
            "playouts_per_s": nps,
            "inference_samples_per_s": sps,
            "ratio": nps / sps,
            "mean_batch": _median(batches),
            "rounds_playouts_per_s": playouts,
            "rounds_inference_samples_per_s": samples,
            "seconds_per_measurement": per_side,
        }
    }


# -- ranks section ---------------------------------------------------------------------------
def _train_rate(
    config: TrainConfig, run_dir: Path, nproc: int, threads: int, updates: int
) -> float:
    """Steps/s of a real ``keisei train`` subprocess (``--nproc``, ``run.torch_threads``),
    from its events: from the end of its first update to the end of its last, so that
    process start-up and warm-up are not counted."""
    run_dir.mkdir(parents=True)
    config_file = run_dir.parent / f"{run_dir.name}.yaml"
    config_file.write_text(dump_yaml(config), encoding="utf-8")
    total = config.steps_per_update * (updates + 1)
    argv = [
        sys.executable, "-m", "keisei", "train", "--config", str(config_file),
        "--run-dir", str(run_dir), "--nproc", str(nproc), "--",
        f"run.torch_threads={threads}", f"run.total_steps={total}",
        "logging.console=plain", "logging.tensorboard=false", "evaluation.enabled=false",
        f"checkpoint.every_steps={total}",
    ]  # fmt: skip
    with open(run_dir.parent / f"{run_dir.name}.log", "wb") as log:
        code = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    if code != 0:
        raise RuntimeError(f"keisei train exited with {code} (log: {log.name})")
    updates_seen = [
        event
        for line in (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
        if (event := json.loads(line))["kind"] == "update"
    ]
    first, last = updates_seen[0], updates_seen[-1]
    seconds = max(float(last["time"]) - float(first["time"]), 1e-3)
    return float(last["step"] - first["step"]) / seconds


def measure_ranks(options: BenchOptions, config: TrainConfig | None) -> Objects:
    """``{"ranks": ...}``: N ranks of one thread against one process of N threads, on a
    machine of their own and beside one busy process, alternating in each round."""
    config = _needs(config, "ranks")
    n = options.nproc
    layouts = {"one_process": (1, n), "ranks": (n, 1)}
    rates: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="keisei-bench-") as tmp:
        for round_ in range(options.rounds):
            for load in ("idle", "busy"):
                neighbour = (
                    subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    if load == "busy"
                    else None
                )
                try:
                    for name, (nproc, threads) in layouts.items():
                        run_dir = Path(tmp) / f"{name}-{load}-{round_}"
                        rate = _train_rate(config, run_dir, nproc, threads, options.updates)
                        rates.setdefault((name, load), []).append(rate)
                finally:
                    if neighbour is not None:
                        neighbour.kill()
                        neighbour.wait()
    med = {key: _median(values) for key, values in rates.items()}
    return {
        "ranks": {
            "nproc": n,
            "updates_per_measurement": options.updates,
            "steps_per_update": config.steps_per_update,
            "idle_one_process_steps_per_s": med[("one_process", "idle")],
            "idle_ranks_steps_per_s": med[("ranks", "idle")],
            "busy_one_process_steps_per_s": med[("one_process", "busy")],
            "busy_ranks_steps_per_s": med[("ranks", "busy")],
            # The two figures: ranks against one process, idle; each layout busy
            # against its own idle rate.
            "ranks_over_one_process_idle": med[("ranks", "idle")] / med[("one_process", "idle")],
            "ranks_busy_over_idle": med[("ranks", "busy")] / med[("ranks", "idle")],
            "one_process_busy_over_idle": med[("one_process", "busy")]
            / med[("one_process", "idle")],
            "rounds": {f"{name}_{load}": values for (name, load), values in rates.items()},
        }
    }


# -- all of it ---------------------------------------------------------------------------
SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section("env", "environment plies/s against bare cshogi", measure_env, False),
        Section(
            "infer",
            "the model's inference and PPO-update rates: the compute bound",
            measure_infer,
            True,
        ),
        Section(
            "train",
            "end-to-end training steps/s against the bound (includes infer)",
            measure_train,
            True,
        ),
        Section(
            "overlap",
            "end-to-end steps/s with env.overlap off and on (the environment stepping half "
            "of the games while the network acts on the other half)",
            measure_overlap,
            True,
        ),
        Section("memory", "peak RSS of `keisei train`, bytes per step", measure_memory, True),
        Section(
            "ranks",
            "`keisei train --nproc N` (N ranks x 1 thread) against 1 process x N threads, "
            "idle and beside a busy process",
            measure_ranks,
            True,
        ),
        Section(
            "search",
            "PUCT search playouts/s against the network's samples/s at its batch size",
            measure_search,
            True,
        ),
    )
}
# Sections that ``all`` runs (``train`` measures ``infer`` as well).
ALL: tuple[str, ...] = ("env", "train", "memory")


def section_names(choice: str) -> list[str]:
    """The sections one choice (a section's name or ``all``) runs."""
    if choice == "all":
        return list(ALL)
    if choice not in SECTIONS:
        raise ValueError(f"unknown section {choice!r} (choose from {', '.join(SECTIONS)}, all)")
    return [choice]


def measure(
    choice: str,
    options: BenchOptions,
    config: TrainConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the sections of ``choice``; return every figure as one JSON-ready object.

    ``config`` (see ``bench_config``) is needed when a model section runs. ``progress``
    receives a line as each section starts and ends.
    """
    names = section_names(choice)
    results: dict[str, Any] = {
        "command": choice,
        "sections": names,
        "options": {
            "seconds": options.seconds,
            "rounds": options.rounds,
            "seed": options.seed,
            "updates": options.updates,
            "memory_updates": options.memory_updates,
            "nproc": options.nproc,
        },
    }
    if config is not None and any(SECTIONS[name].uses_config for name in names):
        results["train_config"] = config.model_dump(mode="json")
    load_before = load_average()
    for name in names:
        if progress is not None:
            progress(f"measuring {name} ...")
        started = time.perf_counter()
        results.update(SECTIONS[name].measure(options, config))
        if progress is not None:
            progress(f"{name} done in {time.perf_counter() - started:.1f} s")
    results["machine"] = machine_info()
    results["machine"]["load_average_before"] = load_before
    if "env" in results:
        # The flat keys of `keisei bench env --json`'s documented contract.
        env = results["env"]
        results["env_plies_per_s"] = env["plies_per_s"]
        results["cshogi_plies_per_s"] = env["cshogi_plies_per_s"]
        results["ratio"] = env["ratio"]
    return results
