"""``keisei bench ranks`` (and ``keisei bench train --nproc N``): ``keisei train --nproc N``
(N ranks of one thread) against one process of N threads, on a machine of their own
and beside one busy process, alternating in each round. Not in ``all``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from keisei.bench.common import BenchOptions, Objects, Results, Row, Section, median, needs_config
from keisei.config import TrainConfig, dump_yaml
from keisei.process import child_dies_with_parent


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
        code = subprocess.run(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
            preexec_fn=child_dies_with_parent(),  # a killed bench leaves no run behind
        ).returncode
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
    config = needs_config(config, "ranks")
    n = options.nproc
    layouts = {"one_process": (1, n), "ranks": (n, 1)}
    rates: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="keisei-bench-") as tmp:
        for round_ in range(options.rounds):
            for load in ("idle", "busy"):
                neighbour = (
                    subprocess.Popen(
                        [sys.executable, "-c", "while True: pass"],
                        preexec_fn=child_dies_with_parent(),
                    )
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
    med = {key: median(values) for key, values in rates.items()}
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


def rows_ranks(results: Results) -> list[Row]:
    m = results["ranks"]
    n = m["nproc"]
    return [
        (f"1 process x {n} threads, steps/s, idle", f"{m['idle_one_process_steps_per_s']:,.0f}"),
        (f"{n} ranks x 1 thread, steps/s, idle", f"{m['idle_ranks_steps_per_s']:,.0f}"),
        (
            f"1 process x {n} threads, steps/s, one busy process beside",
            f"{m['busy_one_process_steps_per_s']:,.0f}",
        ),
        (
            f"{n} ranks x 1 thread, steps/s, one busy process beside",
            f"{m['busy_ranks_steps_per_s']:,.0f}",
        ),
        ("ranks / 1 process, idle", f"{m['ranks_over_one_process_idle']:.3f}"),
        ("ranks busy / ranks idle", f"{m['ranks_busy_over_idle']:.3f}"),
        ("1 process busy / 1 process idle", f"{m['one_process_busy_over_idle']:.3f}"),
    ]


SECTION = Section(
    "ranks",
    "`keisei train --nproc N` (N ranks x 1 thread) against 1 process x N threads, "
    "idle and beside a busy process",
    measure_ranks,
    rows_ranks,
    uses_config=True,
)
