"""``keisei bench env``: the environment's rate against bare cshogi, in one process.

(a) ``ShogiEnv`` stepping ``games`` games with uniformly random legal actions
(``keisei.game.env.random_legal``), observations and masks built; (b) ``games`` bare
``cshogi.Board`` objects, each ply ``list(board.legal_moves)``, one move picked with
Python's ``random`` and pushed, a board reset when it has no legal move or reaches the same
``max_plies`` as the environment. (a) and (b) alternate for ``rounds`` rounds of
``seconds / (2 * rounds)`` each. ``ratio = environment / bare cshogi``.
"""

from __future__ import annotations

import random
import time

import cshogi
import numpy as np

from keisei.bench.common import BenchOptions, Objects, Results, Row, Section, median
from keisei.config import TrainConfig
from keisei.game.env import ShogiEnv, random_legal


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
    env_rate = median(env_rates)
    bare_rate = median(bare_rates)
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


def rows_env(results: Results) -> list[Row]:
    m = results["env"]
    return [
        (
            f"environment plies/s ({m['games']} games, random moves, threads {m['threads']})",
            f"{m['plies_per_s']:,.0f}",
        ),
        ("bare cshogi plies/s (legal_moves + push)", f"{m['cshogi_plies_per_s']:,.0f}"),
        ("env.ratio (environment / bare cshogi)", f"{m['ratio']:.3f}"),
    ]


SECTION = Section(
    "env", "environment plies/s against bare cshogi", measure_env, rows_env, uses_config=False
)
