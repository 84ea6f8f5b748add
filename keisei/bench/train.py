"""``keisei bench train``: end-to-end training steps/s against the compute bound.

The real ``Trainer`` (``build_trainer`` + ``Trainer.run``)
for ``updates`` updates per measurement (self-play, rollout storage, PPO updates,
episode events and game records), in a temporary run directory with only the events
and text logs as sinks, no hooks (no periodic checkpoints, no evaluation). Alternates
with the ``infer`` measurements, so ``train.ratio = steps_per_s / bound_steps_per_s``
compares rates measured in one run.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from keisei.bench.common import BenchOptions, Objects, Results, Row, Section, median, needs_config
from keisei.bench.infer import Bound, BoundRates, rows_infer
from keisei.config import TrainConfig
from keisei.training.build import build_trainer
from keisei.training.sinks import EventLog, Sinks, TextLog
from keisei.training.trainer import Trainer


class EndToEnd:
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
    config = needs_config(config, "train")
    per_side = options.seconds_per_measurement
    rates: list[float] = []
    bound_rates = BoundRates()
    wall = cpu = 0.0
    with tempfile.TemporaryDirectory(prefix="keisei-bench-") as tmp:
        e2e = EndToEnd(config, Path(tmp) / "train")
        try:
            bound = Bound(config, Path(tmp) / "bound")
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
    steps_per_s = median(rates)
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


def rows_train(results: Results) -> list[Row]:
    m = results["train"]
    return [
        *rows_infer(results),
        (
            f"end-to-end training steps/s ({m['updates_per_measurement']} updates)",
            f"{m['steps_per_s']:,.0f}",
        ),
        ("train.ratio (end-to-end / bound)", f"{m['ratio']:.3f}"),
    ]


SECTION = Section(
    "train",
    "end-to-end training steps/s against the bound (includes infer)",
    measure_train,
    rows_train,
    uses_config=True,
)
