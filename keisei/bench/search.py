"""``keisei bench search``: PUCT search playouts/s (``keisei.search.mcts``) from the start
position with the configured model (random weights, the network shape of ``config.model``),
next to the same network's samples/s on batches of the search's batch size
(``SEARCH_BATCH``, the USI engine's default), alternating for ``rounds`` rounds:
``ratio = playouts/s / inference samples/s``. Not in ``all``.
"""

from __future__ import annotations

import cshogi
import torch

from keisei.bench.common import BenchOptions, Objects, Results, Row, Section, median, needs_config
from keisei.config import SearchSettings, TrainConfig
from keisei.rl.network import ActorCritic
from keisei.search.leaves import inference_rate
from keisei.search.mcts import PUCTSearch, search_rate
from keisei.training.build import device_for

SEARCH_BATCH = SearchSettings().batch_size  # leaves per network call: the engine's default


def measure_search(options: BenchOptions, config: TrainConfig | None) -> Objects:
    """``{"search": ...}``: search playouts/s against the network's samples/s, same batch."""
    config = needs_config(config, "search")
    device = device_for(config)
    if config.run.torch_threads:
        torch.set_num_threads(config.run.torch_threads)
    torch.manual_seed(options.seed)
    model = ActorCritic(config.model).to(device).eval()
    search = PUCTSearch(model, SearchSettings(mate_nodes=0), str(device))
    per_side = options.seconds_per_measurement
    search_rate(search, cshogi.STARTING_SFEN, min(per_side, 0.5))  # warm-up
    playouts: list[float] = []
    samples: list[float] = []
    batches: list[float] = []
    for _ in range(options.rounds):
        rate, mean_batch = search_rate(search, cshogi.STARTING_SFEN, per_side)
        playouts.append(rate)
        batches.append(mean_batch)
        samples.append(inference_rate(search.leaves, SEARCH_BATCH, per_side))
    nps, sps = median(playouts), median(samples)
    return {
        "search": {
            "model": {"blocks": config.model.blocks, "channels": config.model.channels},
            "device": str(device),
            "batch_size": SEARCH_BATCH,
            "playouts_per_s": nps,
            "inference_samples_per_s": sps,
            "ratio": nps / sps,
            "mean_batch": median(batches),
            "rounds_playouts_per_s": playouts,
            "rounds_inference_samples_per_s": samples,
            "seconds_per_measurement": per_side,
        }
    }


def rows_search(results: Results) -> list[Row]:
    m = results["search"]
    tower = f"{m['model']['blocks']}x{m['model']['channels']}"
    return [
        (
            f"search playouts/s ({tower}, batch {m['batch_size']}, {m['device']})",
            f"{m['playouts_per_s']:,.0f}",
        ),
        (f"inference samples/s (batch {m['batch_size']})", f"{m['inference_samples_per_s']:,.0f}"),
        ("search.ratio (playouts / inference samples)", f"{m['ratio']:.3f}"),
        ("leaves per network call in the search", f"{m['mean_batch']:.1f}"),
    ]


SECTION = Section(
    "search",
    "PUCT search playouts/s against the network's samples/s at its batch size",
    measure_search,
    rows_search,
    uses_config=True,
)
