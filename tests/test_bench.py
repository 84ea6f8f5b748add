"""``keisei bench``: smoke tests of the command and its JSON (no timing assertions)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from keisei.cli.main import main
from keisei.config import TrainConfig
from keisei.game.encoding import NUM_ACTIONS
from keisei.game.env import ShogiEnv, random_legal
from keisei.rl.network import ActorCritic
from keisei.rl.ppo import PPOAgent
from tools.profile import main as profile_main
from tools.profile import profile_top


def positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def keys(data: Any) -> set[str]:
    """Every key of a JSON value, at any depth (the training config excepted)."""
    if isinstance(data, dict):
        found = set(data)
        for key, value in data.items():
            if key != "train_config":
                found |= keys(value)
        return found
    if isinstance(data, list):
        return set().union(*(keys(v) for v in data)) if data else set()
    return set()


def no_targets(data: dict[str, Any], printed: str) -> None:
    """Measurements only: no target, verdict or predecessor in the JSON or the table."""
    words = ("target", "predecessor", "speedup", "reference", "verdict")
    assert [k for k in keys(data) if any(w in k for w in words)] == []
    assert not any(w in printed for w in words)
    header = next(line for line in printed.splitlines() if "figure" in line)
    assert [c.strip() for c in header.split("┃") if c.strip()] == ["figure", "measured"]


def test_bench_env_writes_positive_rates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "env", "--seconds", "0.2", "--games", "8", "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    env = data["env"]
    for key in ("plies_per_s", "cshogi_plies_per_s", "ratio"):
        assert positive(env[key]), key
    assert env["ratio"] == pytest.approx(env["plies_per_s"] / env["cshogi_plies_per_s"])
    assert len(env["rounds_plies_per_s"]) == len(env["cshogi_rounds_plies_per_s"]) == 3
    # The command-line contract's flat keys.
    assert data["env_plies_per_s"] == env["plies_per_s"]
    assert data["cshogi_plies_per_s"] == env["cshogi_plies_per_s"]
    assert data["ratio"] == env["ratio"]
    assert data["sections"] == ["env"] and env["games"] == 8
    assert "train" not in data and "train_config" not in data
    machine = data["machine"]
    assert machine["cpu_count"] >= 1 and machine["python"] and machine["versions"]["cshogi"]
    assert set(data) == {
        "command",
        "sections",
        "options",
        "env",
        "machine",
        "env_plies_per_s",
        "cshogi_plies_per_s",
        "ratio",
    }
    printed = capsys.readouterr().out
    assert "environment" in printed and "bare cshogi" in printed and "env.ratio" in printed
    no_targets(data, printed)


def test_bench_without_json_only_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "env", "--seconds", "0.2", "--rounds", "1", "--games", "2"]) == 0
    assert "plies/s" in capsys.readouterr().out


@pytest.mark.usefixtures("one_torch_thread")
def test_bench_train_with_the_search_counts_its_forward_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With ``gumbel.simulations=2`` a step costs 3 forward passes, and the bound says so."""
    out = tmp_path / "train.json"
    args = ["bench", "train", "gumbel.simulations=2", "--preset", "tiny", "--seconds", "0.2"]
    assert main([*args, "--rounds", "1", "--updates", "1", "--json", str(out)]) == 0
    infer = json.loads(out.read_text(encoding="utf-8"))["infer"]
    assert infer["forward_passes_per_step"] == 3
    assert infer["bound_steps_per_s"] == pytest.approx(
        1 / (3 / infer["inference_samples_per_s"] + 1 / infer["update_steps_per_s"])
    )
    assert "bound steps/s  1/(3/inference + 1/update)" in capsys.readouterr().out


def test_bench_all_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every section on the tiny preset, as short as the options allow."""
    out = tmp_path / "all.json"
    args = ["bench", "all", "--preset", "tiny", "--seconds", "0.1", "--rounds", "1"]
    args += ["--updates", "1", "--memory-updates", "1", "--games", "4", "--json", str(out)]
    assert main(args) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["sections"] == ["env", "train", "memory"]
    env, infer, train, memory = data["env"], data["infer"], data["train"], data["memory"]
    # The command-line contract of the issue.
    for value in (
        env["ratio"],
        train["steps_per_s"],
        train["bound_steps_per_s"],
        train["ratio"],
        memory["peak_rss_mb"],
    ):
        assert positive(value)
    for key in ("inference_samples_per_s", "update_steps_per_s", "update_samples_per_s_per_epoch"):
        assert positive(infer[key]), key
    assert infer["bound_steps_per_s"] == pytest.approx(
        1 / (1 / infer["inference_samples_per_s"] + 1 / infer["update_steps_per_s"])
    )
    assert train["bound_steps_per_s"] == infer["bound_steps_per_s"]
    assert train["ratio"] == pytest.approx(train["steps_per_s"] / train["bound_steps_per_s"])
    assert infer["model"]["blocks"] == 1 and infer["num_games"] == 4
    assert len(train["rounds_steps_per_s"]) == len(infer["rounds_update_steps_per_s"]) == 1
    assert train["updates_per_measurement"] == 1 and train["steps_per_update"] == 64
    assert memory["rollout_bytes_per_step"] == memory["rollout_bytes_per_step_measured"] == 1494
    assert positive(memory["env_bytes_per_game"]) and memory["train_steps"] == 64
    machine = data["machine"]
    assert machine["torch"] and machine["torch_threads"] >= 1 and machine["cpu_count"] >= 1
    assert infer["device"] in ("cpu", "cuda") and isinstance(infer["bf16"], bool)
    assert data["train_config"]["run"]["name"] == "tiny"
    printed = capsys.readouterr().out
    for figure in ("env.ratio", "train.ratio", "bound steps/s", "peak RSS"):
        assert figure in printed, figure
    no_targets(data, printed)


@pytest.mark.usefixtures("one_torch_thread")
def test_bench_infer_with_overrides(tmp_path: Path) -> None:
    out = tmp_path / "infer.json"
    args = ["bench", "infer", "model.channels=4", "--preset", "tiny", "--seconds", "0.1"]
    assert main([*args, "--rounds", "1", "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["sections"] == ["infer"] and set(data) >= {"infer", "machine", "train_config"}
    assert data["infer"]["model"]["channels"] == 4 and positive(data["infer"]["bound_steps_per_s"])


@pytest.mark.usefixtures("one_torch_thread")
def test_bench_overlap_measures_both_ways(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "overlap.json"
    args = ["bench", "overlap", "--preset", "tiny", "--rounds", "2", "--updates", "1"]
    assert main([*args, "--json", str(out)]) == 0
    m = json.loads(out.read_text(encoding="utf-8"))["overlap"]
    assert (m["games"], m["device"], m["updates_per_measurement"]) == (4, "cpu", 1)
    assert len(m["rounds_off_steps_per_s"]) == len(m["rounds_on_steps_per_s"]) == 2
    assert m["on_over_off"] == m["on_steps_per_s"] / m["off_steps_per_s"]
    assert positive(m["on_over_off"])
    assert "overlap on / off" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["env", "--games", "0"], "--games must be >= 1, got 0"),
        (["env", "--seconds", "0"], "--seconds must be > 0, got 0.0"),
        (["env", "--rounds", "0"], "--rounds must be >= 1, got 0"),
        (["env", "--max-plies", "0"], "--max-plies must be >= 1, got 0"),
        (["train", "--updates", "0"], "--updates must be >= 1, got 0"),
        (["all", "--memory-updates", "0"], "--memory-updates must be >= 1, got 0"),
        (["env", "--updates", "-1"], "--updates must be >= 1, got -1"),
        (
            ["env", "--preset", "tiny"],
            "--config, --preset and overrides apply to infer, train and memory",
        ),
        # keisei.config's message, which lists every preset (tested with the config).
        (["infer", "--preset", "huge"], "unknown preset 'huge' (choose from default, tiny"),
        (["train", "model.blocks=0"], "config key 'model.blocks': "),
        (
            ["overlap", "env.num_games=1", "--preset", "tiny"],
            "config key 'env.overlap' needs at least 2 games per process",
        ),
        (["train", "--nproc", "1"], "--nproc must be in 2..64, got 1"),
        (["env", "--nproc", "2"], "--nproc applies to the train and ranks sections"),
    ],
)
def test_bad_options_are_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["bench", *args]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"keisei bench: error: {message}")


def test_json_into_a_missing_directory_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "missing" / "bench.json"
    assert main(["bench", "env", "--seconds", "0.1", "--json", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not out.parent.exists()


def test_unknown_section_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["bench", "nothing"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_env_memory_bytes_is_the_games_and_the_action_tables() -> None:
    env = ShogiEnv(3)
    before = env.memory_bytes()
    assert before["action_tables"] == 3 * NUM_ACTIONS * (1 + 8)  # bool mask, int64 moves
    step = env.reset(0)
    rng = np.random.default_rng(0)
    for _ in range(10):
        step = env.step(random_legal(step, rng))
    after = env.memory_bytes()
    assert set(after) == {"games", "action_tables"}
    assert after["action_tables"] == before["action_tables"]
    assert after["games"] > before["games"] > 0  # ten plies of history more


def test_agent_infer_is_the_acting_forward_pass(tiny_config: TrainConfig) -> None:
    torch.manual_seed(0)
    agent = PPOAgent(ActorCritic(tiny_config.model), tiny_config.ppo, total_updates=1)
    step = ShogiEnv(2).reset(0)
    out = agent.infer(step.obs)
    assert out.logits.shape == (2, NUM_ACTIONS) and out.value.shape == (2,)
    assert not out.logits.requires_grad
    assert torch.equal(out.value.float(), torch.as_tensor(agent.values(step.obs)))


def test_profile_top_attributes_samples_to_the_deepest_keisei_line(tmp_path: Path) -> None:
    raw = tmp_path / "p.raw"
    run = "main (keisei/cli.py:1);Trainer.run (keisei/train.py:10)"
    raw.write_text(
        f"{run};act (keisei/ppo.py:5);forward (torch/nn.py:3) 30\n"
        f"{run};act (keisei/ppo.py:5);_run (keisei/ppo.py:7) 10\n"
        f"{run};step (keisei/env.py:2) 60\n"
        "main (keisei/cli.py:1);import (x.py:1) 99\n",
        encoding="utf-8",
    )
    total, phases, lines = profile_top(raw)
    assert total == 100
    assert phases == [(60.0, "step (keisei/env.py:2)"), (40.0, "act (keisei/ppo.py:5)")]
    assert lines == [
        (60.0, "step (keisei/env.py:2)"),
        (30.0, "act (keisei/ppo.py:5)"),
        (10.0, "_run (keisei/ppo.py:7)"),
    ]


def test_profile_command_prints_both_summaries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "p.raw"
    raw.write_text(
        "main (keisei/cli.py:1);_EnvLoop.run (keisei/bench/env.py:9);"
        "step (keisei/game/env.py:2) 3\n"
        "main (keisei/cli.py:1);_EnvLoop.run (keisei/bench/env.py:9) 1\n",
        encoding="utf-8",
    )
    assert profile_main([str(raw), "--root", "_EnvLoop.run", "--lines", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "4 samples below _EnvLoop.run",
        "",
        "by call below _EnvLoop.run:",
        " 75.0 %  step (keisei/game/env.py:2)",
        "",
        "by deepest keisei line:",
        " 75.0 %  step (keisei/game/env.py:2)",
    ]


@pytest.mark.usefixtures("one_torch_thread")
def test_bench_onnx_measures_both_runtimes_at_the_search_batches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "onnx.json"
    args = ["bench", "onnx", "--seconds", "0.1", "--rounds", "1", "--json", str(out)]
    assert main(args) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["sections"] == ["onnx"] and "train_config" not in data
    onnx = data["onnx"]
    assert onnx["threads"] == 1 and onnx["batch_sizes"] == [1, 4, 16, 64]
    networks = onnx["networks"]
    assert {name: n["model"] for name, n in networks.items()} == {
        "bundled": {"blocks": 2, "channels": 32},
        "gpu": {"blocks": 10, "channels": 128},
    }
    for n in networks.values():
        assert list(n["batches"]) == ["1", "4", "16", "64"]
        for b in n["batches"].values():
            assert positive(b["torch_samples_per_s"]) and positive(b["onnx_samples_per_s"])
            assert b["onnx_over_torch"] == pytest.approx(
                b["onnx_samples_per_s"] / b["torch_samples_per_s"]
            )
            assert len(b["rounds_torch_samples_per_s"]) == len(b["rounds_onnx_samples_per_s"]) == 1
    assert torch.get_num_threads() == 1  # restored (the fixture's one thread)
    printed = capsys.readouterr().out
    assert "gpu 10x128, batch 16: samples/s PyTorch / ONNX Runtime (ratio)" in printed
    no_targets(data, printed)
