"""``keisei bench overlap``: end-to-end steps/s with ``env.overlap`` off and on (the
environment stepping half of the games while the network acts on the other half), two
real trainers in one process measured in alternating rounds. Not in ``all``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from keisei.bench.common import BenchOptions, Objects, Results, Row, Section, median, needs_config
from keisei.bench.train import EndToEnd
from keisei.config import TrainConfig


def measure_overlap(options: BenchOptions, config: TrainConfig | None) -> Objects:
    """``{"overlap": ...}``: end-to-end steps/s of ``config`` with ``env.overlap`` off and
    on, two real trainers in this process measured in alternating rounds."""
    config = needs_config(config, "overlap")
    variants = {
        flag: config.model_copy(update={"env": config.env.model_copy(update={"overlap": flag})})
        for flag in (False, True)
    }
    rates: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="keisei-bench-") as tmp:
        runs = {
            flag: EndToEnd(cfg, Path(tmp) / f"overlap-{flag}") for flag, cfg in variants.items()
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
    off, on = median(rates[False]), median(rates[True])
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


def rows_overlap(results: Results) -> list[Row]:
    m = results["overlap"]
    where = f"{m['games']} games, {m['device']}"
    return [
        (f"end-to-end steps/s, env.overlap off ({where})", f"{m['off_steps_per_s']:,.0f}"),
        (f"end-to-end steps/s, env.overlap on ({where})", f"{m['on_steps_per_s']:,.0f}"),
        ("overlap on / off", f"{m['on_over_off']:.3f}"),
    ]


SECTION = Section(
    "overlap",
    "end-to-end steps/s with env.overlap off and on (the environment stepping half "
    "of the games while the network acts on the other half)",
    measure_overlap,
    rows_overlap,
    uses_config=True,
)
