"""Crashes, corrupt files, bad input and W&B, with the real trainer at tiny scale."""

from __future__ import annotations

import hashlib
import signal
import time
from pathlib import Path

import pytest
import torch

from keisei.cli.checkpoint import checkpoint_info
from keisei.cli.main import build_parser, main
from keisei.cli.train import run as train_run
from keisei.training.checkpoint import (
    list_checkpoints,
    read_checkpoint,
    weights_sha256,
    write_checkpoint,
)
from keisei.training.hooks import HookContext
from tests.conftest import Train, read_events, wait_for_event
from tests.wandb_records import history, record_types


def tree_digest(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_kill_9_during_checkpoint_write(train: Train, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    ckpt_dir = run_dir / "checkpoints"
    # A wide network makes each checkpoint tens of MB, so its write takes long enough
    # for the test to catch the temporary file and kill the writer.
    proc = train.spawn(
        run_dir,
        "--total-steps",
        "100000",
        "model.channels=160",
        "model.blocks=4",
        "checkpoint.every_steps=128",
        "logging.tensorboard=false",
    )
    wait_for_event(run_dir, "start")
    caught = None
    deadline = time.monotonic() + 90
    while caught is None and time.monotonic() < deadline:
        if list_checkpoints(run_dir) and any(p.suffix == ".tmp" for p in ckpt_dir.iterdir()):
            # Freeze the writer, and kill it only if the write is still unfinished.
            proc.send_signal(signal.SIGSTOP)
            partial = [p for p in ckpt_dir.iterdir() if p.suffix == ".tmp"]
            if partial:
                caught = partial[0]
                proc.send_signal(signal.SIGKILL)
            else:
                proc.send_signal(signal.SIGCONT)
        time.sleep(0.0005)
    proc.wait(timeout=30)
    assert caught is not None, "never caught a checkpoint being written"
    assert caught.exists()
    assert proc.returncode == -signal.SIGKILL
    complete = list_checkpoints(run_dir)
    for path in complete:
        read_checkpoint(path)  # every complete checkpoint passes its checksum
    newest = complete[-1]
    step = read_checkpoint(newest)["state"]["global_step"]
    assert train.run(run_dir, "--resume", "latest", "--total-steps", str(step + 64)) == 0
    log = (run_dir / "train.log").read_text()
    assert f"Resumed from {newest} at step {step}" in log
    assert "left by a run killed while writing a checkpoint" in log
    assert not [p for p in ckpt_dir.iterdir() if p.name.endswith(".tmp")]


def test_truncated_checkpoint_is_skipped(train: Train, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert train.run(run_dir, "--total-steps", "1024") == 0
    newest = run_dir / "checkpoints" / "step_0000001024.pt"
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])
    assert main(["checkpoint", "info", str(newest), "--json"]) == 2
    assert checkpoint_info(run_dir)["global_step"] == 768
    assert train.run(run_dir, "--resume", "latest", "--total-steps", "1024") == 0
    log = (run_dir / "train.log").read_text()
    assert f"skipping checkpoint {newest}: {newest} is corrupt or truncated" in log
    assert f"Resumed from {run_dir / 'checkpoints' / 'step_0000000768.pt'} at step 768" in log


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["ppo.lrr=1"], "unknown config key 'ppo.lrr'"),
        (["env.num_games=abc"], "config key 'env.num_games'"),
        (
            ["env.num_games=0"],
            "config key 'env.num_games': Input should be greater than or equal to 1",
        ),
        (
            ["--config", "/nonexistent/keisei.yaml"],
            "config file not found: /nonexistent/keisei.yaml",
        ),
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["bogus"], "override 'bogus' is not of the form key.sub=value"),
        (["--total-steps", "0"], "--total-steps must be >= 1"),
    ],
)
def test_bad_input_exit_2_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    run_dir = tmp_path / "run"
    args = ["train", "--run-dir", str(run_dir), *extra]
    if "--preset" not in extra and "--config" not in extra:
        args[1:1] = ["--preset", "tiny"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert message in err
    assert not run_dir.exists()


def test_incompatible_resume_and_existing_run_are_refused(
    train: Train, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    assert train.run(run_dir, "--total-steps", "128") == 0
    before = tree_digest(run_dir)
    capsys.readouterr()
    assert train.run(run_dir, "--resume", "latest", "model.channels=16") == 2
    err = capsys.readouterr().err
    assert "config key 'model.channels' is 16 but checkpoint" in err and "trained with 8" in err
    assert train.run(run_dir) == 2
    assert "already has checkpoints; continue it with --resume latest" in capsys.readouterr().err
    assert train.run(run_dir, "--resume", str(tmp_path / "nope.pt")) == 2
    assert f"checkpoint not found: {tmp_path / 'nope.pt'}" in capsys.readouterr().err
    assert tree_digest(run_dir) == before


def test_wandb_offline_matches_events(train: Train, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert train.run(run_dir, "--total-steps", "256", "wandb.enabled=true") == 0
    files = list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1, files
    # wandb-core is a separate process: wait until it has written the run's exit record.
    deadline = time.monotonic() + 30
    while "exit" not in record_types(files[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    rows = history(files[0])
    updates = [e for e in read_events(run_dir) if e["kind"] == "update"]
    assert len(updates) == 4
    assert [r["_step"] for r in rows] == [e["step"] for e in updates], record_types(files[0])
    for row, event in zip(rows, updates, strict=True):
        assert row["_step"] == event["step"]
        for key in ("policy_loss", "value_loss", "entropy", "approx_kl", "learning_rate"):
            assert row[f"update/{key}"] == event[key]


def test_checkpoint_of_another_action_space_is_refused(
    train: Train, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    assert train.run(run_dir, "--total-steps", "64") == 0
    path = list_checkpoints(run_dir)[-1]
    payload = read_checkpoint(path)
    payload["action_space"] = {"actions": 13527, "planes": 46}
    foreign = tmp_path / "foreign.pt"
    write_checkpoint(foreign, payload)
    capsys.readouterr()
    assert train.run(tmp_path / "other", "--resume", str(foreign)) == 2
    err = capsys.readouterr().err
    assert f"checkpoint {foreign} uses action space" in err and "13527" in err
    assert not (tmp_path / "other").exists()


class PoisonAt:
    """A hook that writes NaN into one weight (after the checkpoint of its step): a real
    seam for an update that diverges, as one with an overflowing setting does."""

    name = "poison"

    def __init__(self, step: int, weight: str) -> None:
        self.every_steps = step
        self.weight = weight

    def run(self, ctx: HookContext) -> None:
        with torch.no_grad():
            weight = dict(ctx.model.named_parameters())[self.weight]
            weight[(0,) * weight.dim()] = float("nan")


@pytest.mark.parametrize(
    ("weight", "diverged"),
    [
        (
            # The values of the rollout: its returns and advantages, then every weight.
            "value_head.6.weight",
            "a non-finite loss (loss nan, policy_loss nan, value_loss nan, entropy nan) and "
            "non-finite weights in 21 tensors (policy_bias, stem.0.weight, stem.1.weight, ...)",
        ),
        # The logit of a move never legal in these games: the losses stay finite.
        ("policy_bias", "non-finite weights in 1 tensor (policy_bias)"),
    ],
)
def test_diverged_update_fails_the_run_at_the_last_good_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], weight: str, diverged: str
) -> None:
    run_dir = tmp_path / "run"
    args = build_parser().parse_args(
        ["train", "--preset", "tiny", "--run-dir", str(run_dir), "--total-steps", "2048"]
    )
    assert train_run(args, extra_hooks=[PoisonAt(768, weight)]) == 1
    good = run_dir / "checkpoints" / "step_0000000768.pt"
    message = (
        f"Training failed at step 832: update 13 (at step 832) gave {diverged}; no checkpoint "
        f"is written with these weights; the newest checkpoint, {good}, is the last good one"
    )
    assert message in capsys.readouterr().err
    assert message in (run_dir / "train.log").read_text()
    # Nothing after the bad update took it for training: no event, no checkpoint.
    assert list_checkpoints(run_dir) == [good]
    info = checkpoint_info(run_dir)
    assert (info["status"], info["global_step"], info["problems"]) == ("running", 768, [])
    events = read_events(run_dir)
    updates = [(e["kind"], e["step"]) for e in events if e["kind"] in ("update", "checkpoint")]
    assert updates[-2:] == [("update", 768), ("checkpoint", 768)]
    assert [e["kind"] for e in events[-2:]] == ["error", "end"]
    assert events[-1]["exit_code"] == 1
    assert events[-2]["error"].startswith("Diverged('update 13 (at step 832) gave")


def test_checkpoint_with_nonfinite_weights_is_reported_skipped_and_refused(
    train: Train, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpoint with a NaN weight (written by the real writer, with a true weights
    hash): a problem for `checkpoint info`, skipped by --resume latest, refused by every
    command that would play, evaluate, resume or start from it."""
    run_dir = tmp_path / "run"
    assert train.run(run_dir, "--total-steps", "128") == 0
    good = list_checkpoints(run_dir)[-1]
    payload = read_checkpoint(good)
    payload["model"]["value_head.6.weight"][0, 0] = float("inf")
    payload["weights_sha256"] = weights_sha256(payload["model"])
    bad = good.with_name("step_0000000192.pt")
    write_checkpoint(bad, payload)
    problem = "its weights are not finite: NaN or infinity in 1 of 21 tensors (value_head.6.weight)"
    info = checkpoint_info(bad)
    assert (info["invariants_ok"], info["problems"]) == (False, [problem])
    capsys.readouterr()
    assert main(["checkpoint", "info", str(bad)]) == 1
    assert f"problems         ['{problem}']" in capsys.readouterr().out
    # A run directory means its newest checkpoint with finite weights.
    assert checkpoint_info(run_dir)["path"] == str(good)
    assert capsys.readouterr().err == f"warning: skipping checkpoint {bad}: {problem}\n"
    refused = f"{bad} cannot be used: {problem}"
    for argv in (
        ["usi", str(bad)],
        ["play", str(bad), "--records", str(tmp_path / "plays")],
        ["evaluate", "--agent", str(bad), "--opponent", "random", "--games", "2"],
    ):
        assert main(argv) == 2, argv
        assert refused in capsys.readouterr().err, argv
    assert not (tmp_path / "plays").exists()
    for flag in ("--out", "--onnx"):
        dest = tmp_path / f"exported{flag}"
        assert main(["checkpoint", "export", str(bad), flag, str(dest)]) == 2
        err = capsys.readouterr().err
        assert err == f"keisei checkpoint export: error: {bad} cannot be exported: {problem}\n"
        assert not dest.exists()
    assert train.run(tmp_path / "other", "--resume", str(bad)) == 2
    assert capsys.readouterr().err == (
        f"keisei train: error: checkpoint {bad} cannot be resumed: {problem}\n"
    )
    assert train.run(tmp_path / "other", "--init", str(bad)) == 2
    assert capsys.readouterr().err == f"keisei train: error: --init {bad}: {problem}\n"
    assert not (tmp_path / "other").exists()
    assert train.run(run_dir, "--resume", "latest", "--total-steps", "192") == 0
    assert f"Resumed from {good} at step 128" in (run_dir / "train.log").read_text()
    assert f"skipping checkpoint {bad}: {problem}" in capsys.readouterr().err
