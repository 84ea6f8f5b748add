"""``keisei bench onnx``: ONNX Runtime against PyTorch on the CPU, one thread each, at the
search's batch sizes (``BATCHES``), for the bundled network (2x32, the default preset's
shape, trained weights) and the gpu preset's (10x128, random weights).

Both sides are a search's ``Forward`` (``keisei.search.leaves``): uint8 planes in, logits
and values out, conversions included. PyTorch is ``NetworkForward`` over the model with
``torch.set_num_threads(1)``; ONNX Runtime is ``OnnxForward`` over the file
``keisei checkpoint export --onnx`` writes (one intra-op thread). The two sides alternate
for ``rounds`` rounds on the same real positions; medians are reported, and
``onnx_over_torch`` is the ONNX Runtime samples/s over PyTorch's. Not in ``all``.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt
import torch

from keisei.bench.common import BenchOptions, Metrics, Objects, Results, Row, Section, median
from keisei.config import TrainConfig, load_config
from keisei.rl.network import ActorCritic
from keisei.search.leaves import Forward, NetworkForward
from keisei.training.checkpoint import BUNDLED_PATH, load_model
from keisei.training.onnx_export import OnnxForward, positions, to_onnx

BATCHES = (1, 4, 16, 64)


def _rate(forward: Forward, obs: npt.NDArray[np.uint8], seconds: float) -> float:
    """Samples/s of ``forward`` on ``obs`` (three calls at least)."""
    calls = 0
    start = time.perf_counter()
    while calls < 3 or time.perf_counter() - start < seconds:
        forward(obs)
        calls += 1
    return calls * len(obs) / (time.perf_counter() - start)


def _networks(seed: int) -> list[tuple[str, ActorCritic]]:
    bundled, _ = load_model(BUNDLED_PATH)
    torch.manual_seed(seed)
    gpu = ActorCritic(load_config("gpu").model).eval()
    return [("bundled", bundled), ("gpu", gpu)]


def _measure_network(
    model: ActorCritic, obs: npt.NDArray[np.uint8], options: BenchOptions
) -> Metrics:
    sides: dict[str, Forward] = {
        "torch": NetworkForward(model, "cpu"),
        "onnx": OnnxForward(to_onnx(model, {})),
    }
    seconds = options.seconds_per_measurement / len(BATCHES)
    batches: Metrics = {}
    for batch in BATCHES:
        rows = obs[:batch]
        for forward in sides.values():
            _rate(forward, rows, min(0.1, seconds))  # warm-up
        rounds: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(options.rounds):
            for name, forward in sides.items():
                rounds[name].append(_rate(forward, rows, seconds))
        torch_rate, onnx_rate = median(rounds["torch"]), median(rounds["onnx"])
        batches[str(batch)] = {
            "torch_samples_per_s": torch_rate,
            "onnx_samples_per_s": onnx_rate,
            "onnx_over_torch": onnx_rate / torch_rate,
            "rounds_torch_samples_per_s": rounds["torch"],
            "rounds_onnx_samples_per_s": rounds["onnx"],
        }
    config = model.config
    return {"model": {"blocks": config.blocks, "channels": config.channels}, "batches": batches}


def measure_onnx(options: BenchOptions, config: TrainConfig | None) -> Objects:
    """``{"onnx": ...}``: both runtimes' samples/s per network and batch size."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        obs = positions(max(BATCHES), seed=options.seed)
        networks = {
            name: _measure_network(model, obs, options) for name, model in _networks(options.seed)
        }
    finally:
        torch.set_num_threads(threads)
    return {
        "onnx": {
            "threads": 1,
            "batch_sizes": list(BATCHES),
            "networks": networks,
            "seconds_per_measurement": options.seconds_per_measurement / len(BATCHES),
        }
    }


def rows_onnx(results: Results) -> list[Row]:
    rows: list[Row] = []
    for name, m in results["onnx"]["networks"].items():
        tower = f"{m['model']['blocks']}x{m['model']['channels']}"
        for batch, b in m["batches"].items():
            rows.append(
                (
                    f"{name} {tower}, batch {batch}: samples/s PyTorch / ONNX Runtime (ratio)",
                    f"{b['torch_samples_per_s']:,.0f} / {b['onnx_samples_per_s']:,.0f} "
                    f"({b['onnx_over_torch']:.2f})",
                )
            )
    return rows


SECTION = Section(
    "onnx",
    "ONNX Runtime against PyTorch on the CPU (1 thread) at the search's batch sizes",
    measure_onnx,
    rows_onnx,
    uses_config=False,
)
