"""``keisei bench memory``: peak RSS of a real ``keisei train`` subprocess running the
configuration for ``memory_updates`` updates (exact, from ``wait4``), and the bytes
stored per environment step: rollout storage per transition and the environment's
per-game state.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from keisei.bench.common import BenchOptions, Metrics, Objects, Results, Row, Section, needs_config
from keisei.config import TrainConfig, dump_yaml
from keisei.game.encoding import NUM_ACTIONS, NUM_PLANES
from keisei.game.env import ShogiEnv, random_legal
from keisei.process import child_dies_with_parent
from keisei.rl.rollout import RolloutBuffer


def _peak_rss_of_child(argv: list[str], log: Path) -> tuple[int, int, float]:
    """Run ``argv``; return (exit code, peak RSS in bytes, wall seconds)."""
    start = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, preexec_fn=child_dies_with_parent()
        )
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
    config = needs_config(config, "memory")
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


def rows_memory(results: Results) -> list[Row]:
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


SECTION = Section(
    "memory",
    "peak RSS of `keisei train`, bytes per step",
    measure_memory,
    rows_memory,
    uses_config=True,
)
