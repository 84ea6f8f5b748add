"""The trainer, for real: tiny preset, real environment, network, checkpoints and signals.

These are the predecessor audit's scenarios (fresh start, resume, Ctrl-C, exceptions,
state consistency) run end to end, with exact assertions and no mocks.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from keisei.cli.checkpoint import checkpoint_info
from keisei.cli.main import build_parser
from keisei.cli.train import run as train_run
from keisei.training.checkpoint import list_checkpoints, read_checkpoint, weights_sha256
from keisei.training.hooks import CheckpointHook, HookContext, due
from tests.conftest import Train, read_events, wait_for_event

STEPS_PER_UPDATE = 64  # tiny preset: 4 games x 16 plies


def final_info(run_dir: Path) -> dict[str, Any]:
    return checkpoint_info(run_dir)


def assert_consistent(run_dir: Path) -> dict[str, Any]:
    """Counters agree with each other, with events.jsonl and with the saved games."""
    info = final_info(run_dir)
    assert info["problems"] == []
    assert info["episodes"] == info["black_wins"] + info["white_wins"] + info["draws"]
    assert info["episodes"] == sum(info["reasons"].values())
    episodes = [e for e in read_events(run_dir) if e["kind"] == "episode"]
    assert len(episodes) == info["episodes"]
    assert sum(e["plies"] for e in episodes) == info["finished_plies"]
    # Every ply is either in a finished game or in a game still in progress.
    payload = read_checkpoint(Path(info["path"]))
    in_progress = sum(len(moves) for _sfen, moves in payload["env"]["games"])
    assert info["finished_plies"] + in_progress == info["global_step"]
    return info


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    """Final weight hashes of uninterrupted runs, by total steps."""
    out = {}
    for total in (1024, 2048):
        run_dir = tmp_path_factory.mktemp(f"ref{total}")
        assert Train(run_dir).run(run_dir, "--total-steps", str(total)) == 0
        out[total] = final_info(run_dir)["weights_sha256"]
    return out


def test_fresh_start(train: Train, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert train.run(run_dir, "--total-steps", "1024") == 0
    log = (run_dir / "train.log").read_text()
    assert log.count("Starting fresh training") == 1
    assert "Resumed from" not in log
    info = assert_consistent(run_dir)
    assert info["global_step"] == 1024
    assert info["updates"] == 1024 // STEPS_PER_UPDATE
    assert info["status"] == "finished"
    # Checkpoints every 768 steps plus the final one; keep_last is 3.
    assert [p.name for p in list_checkpoints(run_dir)] == [
        "step_0000000768.pt",
        "step_0000001024.pt",
    ]
    events = read_events(run_dir)
    assert events[0]["kind"] == "start" and events[0]["fresh"] is True
    assert events[-1]["kind"] == "end" and events[-1]["exit_code"] == 0
    updates = [e for e in events if e["kind"] == "update"]
    assert [e["step"] for e in updates] == list(range(64, 1025, 64))
    assert (run_dir / "config.yaml").is_file()
    assert list((run_dir / "tensorboard").iterdir())


def test_same_seed_same_weights(train: Train, tmp_path: Path, reference: dict[int, str]) -> None:
    assert train.run(tmp_path / "a", "--total-steps", "1024") == 0
    assert final_info(tmp_path / "a")["weights_sha256"] == reference[1024]
    assert train.run(tmp_path / "b", "--total-steps", "1024", "run.seed=1") == 0
    assert final_info(tmp_path / "b")["weights_sha256"] != reference[1024]


def test_resume_is_bit_exact(train: Train, tmp_path: Path, reference: dict[int, str]) -> None:
    run_dir = tmp_path / "run"
    assert train.run(run_dir, "--total-steps", "1024") == 0
    first = final_info(run_dir)
    assert train.run(run_dir, "--total-steps", "2048", "--resume", "latest") == 0
    log = (run_dir / "train.log").read_text()
    expected = (
        f"Resumed from {run_dir / 'checkpoints' / 'step_0000001024.pt'} at step 1024 "
        f"({first['episodes']} episodes)"
    )
    assert expected in log
    assert log.count("Starting fresh training") == 1
    info = assert_consistent(run_dir)
    assert info["global_step"] == 2048
    assert info["weights_sha256"] == reference[2048]
    steps = [e["step"] for e in read_events(run_dir) if "step" in e]
    assert steps == sorted(steps), "counters went backwards"


def test_resume_from_explicit_path(train: Train, tmp_path: Path, reference: dict[int, str]) -> None:
    run_dir = tmp_path / "run"
    assert train.run(run_dir, "--total-steps", "1024") == 0
    ckpt = run_dir / "checkpoints" / "step_0000000768.pt"
    # env.threads changes speed only: a resumed run may change it, and ends the same.
    argv = ["--resume", str(ckpt), "--total-steps", "2048", "env.threads=3"]
    assert train.run(run_dir, *argv) == 0
    assert f"Resumed from {ckpt} at step 768" in (run_dir / "train.log").read_text()
    assert final_info(run_dir)["weights_sha256"] == reference[2048]


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_signal_then_resume(
    train: Train, tmp_path: Path, reference: dict[int, str], sig: int, code: int
) -> None:
    run_dir = tmp_path / "run"
    proc = train.spawn(run_dir, "--total-steps", "2048")
    wait_for_event(run_dir, "start")
    time.sleep(random.Random(sig).uniform(0.0, 1.0))
    proc.send_signal(sig)
    output = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == code, output
    info = final_info(run_dir)
    name = signal.Signals(sig).name
    if info["global_step"] < 2048:  # the signal arrived before the run finished
        assert info["status"] == "interrupted"
        assert (
            f"Interrupted at step {info['global_step']} ({name})"
            in (run_dir / "train.log").read_text()
        )
        assert read_events(run_dir)[-1]["kind"] == "end"
    assert_consistent(run_dir)
    assert train.run(run_dir, "--resume", "latest") == 0
    assert final_info(run_dir)["weights_sha256"] == reference[2048]


@pytest.fixture(scope="module")
def overlap_reference(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Final weights hash of an uninterrupted 2048-step run with ``env.overlap``."""
    run_dir = tmp_path_factory.mktemp("overlap")
    assert Train(run_dir).run(run_dir, "--total-steps", "2048", "env.overlap=true") == 0
    assert_consistent(run_dir)
    return str(final_info(run_dir)["weights_sha256"])


def test_overlap_is_reproducible_and_resumes_bit_for_bit(
    train: Train, tmp_path: Path, overlap_reference: str
) -> None:
    # The environment steps one half of the games while the network acts on the other,
    # through a rollout's end, a checkpoint and a resume that starts the pipeline afresh.
    run_dir = tmp_path / "run"
    assert train.run(run_dir, "--total-steps", "1024", "env.overlap=true") == 0
    assert_consistent(run_dir)
    assert train.run(run_dir, "--total-steps", "2048", "--resume", "latest") == 0
    info = assert_consistent(run_dir)
    assert info["global_step"] == 2048
    assert info["weights_sha256"] == overlap_reference


def test_overlap_can_be_turned_on_at_resume(train: Train, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert train.run(run_dir, "--total-steps", "1024") == 0
    argv = ["--total-steps", "2048", "--resume", "latest", "env.overlap=true"]
    assert train.run(run_dir, *argv) == 0
    assert assert_consistent(run_dir)["global_step"] == 2048


def test_overlap_signal_then_resume(train: Train, tmp_path: Path) -> None:
    # A stop between two plies, while the first half's next actions were already chosen:
    # they are forgotten, with their random draws, and the resumed run ends the same. A long
    # rollout (the run's one: 1,024 steps, about a second here) makes the signal land in it.
    argv = ["--total-steps", "1024", "env.overlap=true", "rollout.steps_per_game=256"]
    assert train.run(tmp_path / "ref", *argv) == 0
    reference = final_info(tmp_path / "ref")["weights_sha256"]
    run_dir = tmp_path / "run"
    info = interrupt_after(train, run_dir, argv, "start")
    assert 0 < info["global_step"] < 1024, "the signal did not land inside the rollout"
    assert train.run(run_dir, "--resume", "latest") == 0
    assert final_info(run_dir)["weights_sha256"] == reference


def interrupt_after(train: Train, run_dir: Path, argv: list[str], kind: str) -> dict[str, Any]:
    """Ctrl-C to a real ``keisei train`` 0.2 s after its first ``kind`` event; the
    interrupted run's checkpoint info, checked consistent."""
    proc = train.spawn(run_dir, *argv)
    wait_for_event(run_dir, kind)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 130, output
    info = assert_consistent(run_dir)
    assert info["status"] == "interrupted"
    return info


class RaiseAt:
    """A hook that fails: a real seam for injecting an exception into the loop."""

    name = "raise"

    def __init__(self, step: int) -> None:
        self.every_steps = step

    def run(self, ctx: HookContext) -> None:
        raise RuntimeError(f"injected failure at step {ctx.state.global_step}")


def test_a_hook_is_due_once_for_each_multiple_an_update_crosses() -> None:
    """``due(hook, before, after)``: a multiple of every_steps in (before, after]; a hook
    every 0 steps (turned off) is never due, one every step is due at each update."""
    table = {
        (100, 0, 64): False,
        (100, 64, 128): True,  # 100 lies in (64, 128]
        (100, 100, 164): False,  # 100 was the last update's
        (100, 128, 200): True,  # 200 itself counts
        (64, 0, 64): True,
        (64, 64, 127): False,
        (1, 5, 6): True,
        (1, 6, 6): False,
        (0, 0, 1_000_000): False,
        (-1, 0, 64): False,
    }
    got = {key: due(CheckpointHook(key[0]), key[1], key[2]) for key in table}
    assert got == table


def test_exception_in_hook(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = build_parser().parse_args(
        ["train", "--preset", "tiny", "--run-dir", str(run_dir), "--total-steps", "2048"]
    )
    assert train_run(args, extra_hooks=[RaiseAt(512)]) == 1
    log = (run_dir / "train.log").read_text()
    assert "Training failed at step 512" in log
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: injected failure at step 512" in log
    info = assert_consistent(run_dir)
    assert info["status"] == "failed"
    assert info["global_step"] == 512
    events = read_events(run_dir)
    assert [e["kind"] for e in events[-2:]] == ["checkpoint", "end"]
    assert events[-1]["exit_code"] == 1
    error = next(e for e in events if e["kind"] == "error")
    assert "injected failure at step 512" in error["traceback"]


def test_unwritable_checkpoint_directory(train: Train, tmp_path: Path) -> None:
    target = Path("/sys/kernel")  # refuses new files, even to root
    if not target.is_dir() or (os.access(target, os.W_OK) and os.geteuid() != 0):
        pytest.skip("needs /sys/kernel")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "checkpoints").symlink_to(target)
    assert train.run(run_dir, "--total-steps", "1024") == 1
    log = (run_dir / "train.log").read_text()
    assert "Training failed at step 768" in log
    assert "PermissionError" in log
    assert "Could not write a final checkpoint" in log
    assert read_events(run_dir)[-1] == {**read_events(run_dir)[-1], "kind": "end", "exit_code": 1}


def test_weights_hash_is_over_weights(tmp_path: Path, train: Train) -> None:
    run_dir = tmp_path / "run"
    assert train.run(run_dir, "--total-steps", "64") == 0
    path = list_checkpoints(run_dir)[-1]
    payload = read_checkpoint(path)
    assert final_info(run_dir)["weights_sha256"] == weights_sha256(payload["model"])


def test_second_ctrl_c_exits_at_once(train: Train, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    # A wide network: updates and checkpoint writes take long enough for a second signal
    # to arrive while the first is still being honoured.
    wide = ["model.channels=160", "model.blocks=4", "checkpoint.every_steps=128"]
    proc = train.spawn(run_dir, "--total-steps", "100000", *wide)
    wait_for_event(run_dir, "checkpoint")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 130, output
    assert "second interrupt, exiting immediately" in output
    for path in list_checkpoints(run_dir):
        read_checkpoint(path)  # nothing damaged
    newest = read_checkpoint(list_checkpoints(run_dir)[-1])["state"]["global_step"]
    assert train.run(run_dir, "--resume", "latest", "--total-steps", str(newest + 64)) == 0


def test_wandb_failure_does_not_stop_training(train: Train, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "wandb").write_text("a file where W&B wants its directory")
    assert train.run(run_dir, "--total-steps", "128", "wandb.enabled=true") == 0
    assert "W&B disabled" in (run_dir / "train.log").read_text()
    assert final_info(run_dir)["global_step"] == 128


def test_evaluation_hook_leaves_training_untouched(
    train: Train, tmp_path: Path, reference: dict[int, str]
) -> None:
    run_dir = tmp_path / "run"
    assert train.run(run_dir, "--total-steps", "1024", "evaluation.enabled=true") == 0
    assert train.run(run_dir, "--resume", "latest", "--total-steps", "2048") == 0
    # Same weights as the reference run, which had no evaluation at all.
    assert final_info(run_dir)["weights_sha256"] == reference[2048]
    evaluations = [e for e in read_events(run_dir) if e["kind"] == "evaluation"]
    assert [e["step"] for e in evaluations] == [768, 1536]
    assert (run_dir / "ratings.json").is_file()
    assert (run_dir / "learning_curve.png").is_file()
    assert (run_dir / "checkpoints" / "best.pt").is_file()


def test_closed_stderr_does_not_stop_training(train: Train, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "keisei", *train.args(run_dir, "--total-steps", "512")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    proc.stderr.close()  # like `keisei train 2>&1 | head -2`: later writes fail with EPIPE
    assert proc.wait(timeout=120) == 0
    info = final_info(run_dir)
    assert (info["global_step"], info["status"]) == (512, "finished")
    assert "Finished at step 512" in (run_dir / "train.log").read_text()


def test_live_console_view_runs(
    train: Train, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    assert train.run(run_dir, "--total-steps", "128", "logging.console=rich") == 0
    out = capsys.readouterr().out
    assert "128/6144" not in out  # --total-steps replaced the preset's total
    assert "128/128" in out and "last checkpoint" in out and "step 128 (finished)" in out


def test_tensorboard_shows_the_resumed_line_only(train: Train, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert train.run(run_dir, "--total-steps", "1536") == 0
    branch = run_dir / "checkpoints" / "step_0000000768.pt"
    assert train.run(run_dir, "--resume", str(branch), "--total-steps", "1024") == 0
    # Each of the two sessions wrote an event file; the reader honours the second one's
    # purge step, so steps after 768 come from the resumed line alone, once each.
    assert len(list((run_dir / "tensorboard").iterdir())) == 2
    board = EventAccumulator(str(run_dir / "tensorboard"))
    board.Reload()
    steps = [e.step for e in board.Scalars("update/loss")]
    assert steps == list(range(64, 1025, 64))
    losses = {e["step"]: e["loss"] for e in read_events(run_dir) if e["kind"] == "update"}
    assert [round(e.value, 5) for e in board.Scalars("update/loss")][-4:] == [
        round(losses[s], 5) for s in steps[-4:]
    ]
