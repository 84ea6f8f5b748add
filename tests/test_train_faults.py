"""Crashes, corrupt files, bad input and W&B, with the real trainer at tiny scale."""

from __future__ import annotations

import hashlib
import signal
import time
from pathlib import Path

import pytest

from keisei.cli.checkpoint import checkpoint_info
from keisei.cli.main import main
from keisei.training.checkpoint import list_checkpoints, read_checkpoint, write_checkpoint
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
