"""The weight average (keisei.training.averaging): what it averages, who plays with it,
that training is the same bits with and without it, and that it resumes exactly."""

from __future__ import annotations

from pathlib import Path

import torch

from keisei.cli.main import main
from keisei.config import AverageSection, TrainConfig
from keisei.rl.network import ActorCritic
from keisei.training.averaging import WeightAverage
from keisei.training.checkpoint import (
    list_checkpoints,
    load_model,
    read_checkpoint,
    weights_sha256,
)
from tests.conftest import Train
from tests.test_train import final_info

# Half the tiny preset (3072 plies, 64 per update): snapshots at 1536, 1920, 2304, 2688,
# 3072, which are also checkpoint steps (every 384), all kept.
AVERAGE = (
    "--total-steps",
    "3072",
    "average.every_steps=384",
    "average.start_fraction=0.5",
    "checkpoint.every_steps=384",
    "checkpoint.keep_last=20",
)


def test_the_average_is_the_mean_of_the_snapshots_and_plays(train: Train, tmp_path: Path) -> None:
    run, plain = tmp_path / "run", tmp_path / "plain"
    assert train.run(run, *AVERAGE) == 0
    assert train.run(plain, *AVERAGE, "average.enabled=false") == 0
    final = read_checkpoint(run / "checkpoints" / "step_0000003072.pt")
    assert final["average"]["count"] == 5
    snapshots = [
        read_checkpoint(p)["model"]
        for p in list_checkpoints(run)
        if 1536 <= int(p.stem.split("_")[1]) <= 3072
    ]
    assert len(snapshots) == 5
    for name, tensor in final["average"]["weights"].items():
        mean = torch.stack([s[name].double() for s in snapshots]).mean(0)
        if tensor.is_floating_point():
            assert torch.allclose(tensor.double(), mean, rtol=0, atol=1e-6), name
    # The checkpoint before the first snapshot has none; the average never feeds back.
    assert read_checkpoint(run / "checkpoints" / "step_0000001152.pt").get("average") is None
    off = read_checkpoint(plain / "checkpoints" / "step_0000003072.pt")
    assert off.get("average") is None
    assert weights_sha256(final["model"]) == weights_sha256(off["model"])
    # Players load the average; an export carries it as its weights.
    model, _ = load_model(run)
    played = model.state_dict()
    assert all(torch.equal(played[k], t) for k, t in final["average"]["weights"].items())
    info = final_info(run)
    assert info["averaged"] == 5
    assert info["playing_sha256"] == weights_sha256(final["average"]["weights"])
    assert info["playing_sha256"] != info["weights_sha256"]
    out = tmp_path / "small.pt"
    assert main(["checkpoint", "export", str(run), "--out", str(out)]) == 0
    small = read_checkpoint(out)
    assert small["exported_from"]["averaged"] == 5
    assert small["weights_sha256"] == info["playing_sha256"]
    assert "average" not in small


def test_a_run_stopped_mid_average_resumes_bit_for_bit(train: Train, tmp_path: Path) -> None:
    argv = ("average.every_steps=128", "average.start_fraction=0")
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert train.run(whole, "--total-steps", "1024", *argv) == 0
    assert train.run(split, "--total-steps", "512", *argv) == 0
    assert read_checkpoint(split / "checkpoints" / "step_0000000512.pt")["average"]["count"] == 4
    assert train.run(split, "--total-steps", "1024", "--resume", "latest", *argv) == 0
    a = read_checkpoint(whole / "checkpoints" / "step_0000001024.pt")
    b = read_checkpoint(split / "checkpoints" / "step_0000001024.pt")
    assert a["average"]["count"] == b["average"]["count"] == 8
    assert weights_sha256(a["average"]["weights"]) == weights_sha256(b["average"]["weights"])
    assert weights_sha256(a["model"]) == weights_sha256(b["model"])


def test_snapshots_at_each_crossing_from_the_start_step(tiny_config: TrainConfig) -> None:
    torch.manual_seed(0)
    model = ActorCritic(tiny_config.model)
    section = AverageSection(every_steps=100, start_fraction=0.25)
    average = WeightAverage(model, section, total_steps=1000)
    assert (average.start_step, average.count, average.network) == (250, 0, None)
    assert average.state_dict() is None
    first = {k: t.clone() for k, t in model.state_dict().items()}
    # Updates ending before the start do not count (their crossings of 100 and 200);
    # 240 -> 260 crosses no multiple.
    steps = [(60, 120), (190, 240), (240, 260)]
    assert [average.after_update(model, a, b) for a, b in steps] == [False, False, False]
    assert average.after_update(model, 260, 300)  # lands on the multiple: counts
    assert average.count == 1 and average.network is not None
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    assert not average.after_update(model, 300, 399)
    assert average.after_update(model, 399, 460)
    state = average.state_dict()
    assert state is not None and state["count"] == 2
    for name, _ in model.named_parameters():
        assert torch.allclose(state["weights"][name], first[name] + 0.5), name
    # A fresh average restored from the state holds the same; None empties it.
    other = WeightAverage(ActorCritic(tiny_config.model), section, total_steps=1000)
    other.load_state_dict(state)
    restored = other.state_dict()
    assert restored is not None and restored["count"] == 2
    assert all(torch.equal(restored["weights"][k], t) for k, t in state["weights"].items())
    other.load_state_dict(None)
    assert (other.count, other.network, other.state_dict()) == (0, None, None)
