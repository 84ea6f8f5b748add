"""Who owns a run directory, and which line of training its files describe.

Real trainer (tiny preset), real subprocesses and signals: the run-directory lock, resume
from an older checkpoint (a branch), the event log after kill -9, ratings of an
interrupted run, and a resume with nothing left to do.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from keisei.cli.checkpoint import checkpoint_info
from keisei.cli.main import build_parser
from keisei.cli.train import run as train_run
from keisei.errors import UsageError
from keisei.training.checkpoint import list_checkpoints, prune, read_checkpoint
from keisei.training.hooks import HookContext
from keisei.training.rundir import LOCK_NAME, RunDir, RunLock
from tests.conftest import Train, read_events, wait_for_event
from tests.test_train import assert_consistent
from tests.test_train_faults import tree_digest


class SignalAt:
    """A hook that sends this process a real SIGINT at a given update boundary."""

    name = "signal"

    def __init__(self, step: int) -> None:
        self.every_steps = step

    def run(self, ctx: HookContext) -> None:
        os.kill(os.getpid(), signal.SIGINT)


def run_with_hooks(train: Train, run_dir: Path, hooks: list[Any], *extra: str) -> int:
    return train_run(build_parser().parse_args(train.args(run_dir, *extra)), extra_hooks=hooks)


def step_names(run_dir: Path) -> list[int]:
    return [int(p.stem.split("_")[1]) for p in list_checkpoints(run_dir)]


def only_aside(run_dir: Path) -> Path:
    (aside,) = (run_dir / "superseded").iterdir()
    return aside


def without_time(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "time"} for e in events]


# -- 1. the lock ---------------------------------------------------------------------------


def test_second_train_on_a_running_dir_is_refused(
    train: Train, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    proc = train.spawn(run_dir, "--total-steps", "1000000", "logging.tensorboard=false")
    try:
        wait_for_event(run_dir, "checkpoint")
        owner = json.loads((run_dir / LOCK_NAME).read_text())
        assert (owner["pid"], owner["host"]) == (proc.pid, socket.gethostname())
        config = (run_dir / "config.yaml").read_bytes()
        expected = (
            f"keisei train: error: run directory {run_dir} is in use by another keisei train "
            f"(pid {proc.pid} on {socket.gethostname()}, started {owner['started']}); wait "
            f"for it to end or stop it, or choose another --run-dir\n"
        )
        capsys.readouterr()
        oldest = str(list_checkpoints(run_dir)[0])
        for extra in (
            [],
            ["--resume", "latest"],
            ["--resume", "latest", "--total-steps", "99", "ppo.learning_rate=0.001"],
            ["--resume", oldest],
        ):
            assert train.run(run_dir, *extra) == 2
            assert capsys.readouterr() == ("", expected)
        # Two starts at the same moment both pass the checks; the lock decides.
        with pytest.raises(UsageError) as refused:
            RunLock.acquire(run_dir)
        assert f"keisei train: error: {refused.value}\n" == expected
        assert (run_dir / "config.yaml").read_bytes() == config
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 130, output
    events = read_events(run_dir)
    assert [e["kind"] for e in events].count("start") == 1
    last = [e for e in events if e["kind"] == "checkpoint"][-1]
    assert last["status"] == "interrupted"
    assert read_checkpoint(Path(last["path"]))["weights_sha256"] == last["weights_sha256"]
    assert (run_dir / LOCK_NAME).read_text() == ""  # emptied on exit
    assert_consistent(run_dir)


def test_two_fresh_starts_at_once_one_is_refused(train: Train, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    procs = [train.spawn(run_dir, "--total-steps", "1536") for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0].decode() for p in procs]
    codes = [p.returncode for p in procs]
    assert sorted(codes) == [0, 2], outputs
    winner, loser = (procs[0], procs[1]) if codes[0] == 0 else (procs[1], procs[0])
    refused = outputs[procs.index(loser)]
    assert refused.startswith(
        f"keisei train: error: run directory {run_dir} is in use by another keisei train "
        f"(pid {winner.pid} on {socket.gethostname()}, started "
    )
    assert len(refused.splitlines()) == 1
    events = read_events(run_dir)
    assert [e["kind"] for e in events].count("start") == 1
    assert checkpoint_info(run_dir)["global_step"] == 1536
    assert_consistent(run_dir)


def test_unwritable_run_directory_is_one_line(
    train: Train, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = Path("/sys/kernel")  # refuses new files, even to root
    if not target.is_dir() or (os.access(target, os.W_OK) and os.geteuid() != 0):
        pytest.skip("needs /sys/kernel")
    run_dir = tmp_path / "run"
    run_dir.symlink_to(target)
    assert train.run(run_dir) == 2
    err = capsys.readouterr().err
    # Refused by the up-front check of every output path (keisei.files), before the lock.
    assert err.splitlines() == [
        f"keisei train: error: run directory {run_dir}: cannot create files in {run_dir} "
        "(Permission denied)"
    ]


def test_killed_run_does_not_block_and_its_leftovers_are_set_aside(
    train: Train, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    proc = train.spawn(run_dir, "--total-steps", "100000", "checkpoint.every_steps=100000")
    deadline = time.monotonic() + 60
    while len(list((run_dir / "games").glob("*.usi"))) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)  # the tiny preset records every 5th game
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert list_checkpoints(run_dir) == []
    assert json.loads((run_dir / LOCK_NAME).read_text())["pid"] == proc.pid  # stale, harmless
    old_events = (run_dir / "events.jsonl").read_bytes()
    old_games = tree_digest(run_dir / "games")
    assert old_games
    # A fresh start: the dead run's lock does not block it, and its log and records, which
    # no checkpoint accounts for, are moved aside rather than mixed into the new run's.
    assert train.run(run_dir, "--total-steps", "256") == 0
    aside = only_aside(run_dir)
    assert (aside / "events.jsonl").read_bytes() == old_events
    assert tree_digest(aside / "games") == old_games
    assert f"moved what came after a fresh start to {aside}" in (run_dir / "train.log").read_text()
    events = read_events(run_dir)
    assert [e["kind"] for e in events].count("start") == 1
    assert events[0]["kind"] == "start" and events[0]["fresh"] is True
    assert_consistent(run_dir)


# -- 5. the event log after kill -9 --------------------------------------------------------


def test_kill_9_then_resume_log_agrees_with_checkpoint(train: Train, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = train.spawn(run_dir, "--total-steps", "100000", "logging.tensorboard=false")
    wait_for_event(run_dir, "checkpoint")
    first = next(e for e in read_events(run_dir) if e["kind"] == "checkpoint")["step"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = (run_dir / "events.jsonl").read_text()
        later = [
            json.loads(line)
            for line in text.splitlines()[:-1]  # the last line may be incomplete
            if '"kind":"episode"' in line
        ]
        if sum(e["step"] > first for e in later) >= 3:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before = (run_dir / "events.jsonl").read_bytes()
    newest = list_checkpoints(run_dir)[-1]
    state = read_checkpoint(newest)["state"]
    step = state["global_step"]
    # The killed run logged episodes its newest checkpoint does not hold.
    killed = [e for e in read_events_prefix(before) if e["kind"] == "episode"]
    assert len(killed) > state["episodes"]
    assert sum(e["plies"] for e in killed) > state["finished_plies"]

    assert train.run(run_dir, "--resume", "latest", "--total-steps", str(step + 768)) == 0
    info = assert_consistent(run_dir)  # the documented invariant, exactly
    episodes = [e for e in read_events(run_dir) if e["kind"] == "episode"]
    assert [e["episode"] for e in episodes] == list(range(1, info["episodes"] + 1))
    assert sum(e["plies"] for e in episodes) == info["finished_plies"]
    # What was cut is exactly the tail past the checkpoint, kept aside; the resumed run
    # (bit-exact) played those episodes again, the same ones.
    aside = (only_aside(run_dir) / "events.jsonl").read_bytes()
    kept = before[: len(before) - len(aside)]
    assert before == kept + aside
    assert (run_dir / "events.jsonl").read_bytes().startswith(kept)
    assert all(e["step"] <= step for e in read_events_prefix(kept))
    cut = [e for e in read_events_prefix(aside) if e["kind"] == "episode"]
    assert cut and all(e["step"] > step for e in cut)
    replayed = [e for e in episodes if e["episode"] in {c["episode"] for c in cut}]
    assert without_time(replayed) == without_time(cut)


def read_events_prefix(data: bytes) -> list[dict[str, Any]]:
    """The complete lines of an event log (a killed writer may leave a torn last line)."""
    lines = data.split(b"\n")[:-1]
    return [json.loads(line) for line in lines]


# -- 2. resuming from an older checkpoint --------------------------------------------------


def test_resume_from_an_older_checkpoint_branches(train: Train, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    ckpt_dir = run_dir / "checkpoints"
    assert train.run(run_dir, "--total-steps", "3072", "logging.tensorboard=false") == 0
    assert step_names(run_dir) == [1536, 2304, 3072]
    old_line = {p.name: p.read_bytes() for p in list_checkpoints(run_dir)[1:]}
    branch_point = ckpt_dir / "step_0000001536.pt"
    # A branch: another entropy coefficient from step 1536, ending at a non-periodic step.
    branch = ["--resume", str(branch_point), "--total-steps", "1664", "ppo.entropy_coef=0.2"]
    assert train.run(run_dir, *branch) == 0
    # Before the fix, keep_last pruned the branch point and the next --resume latest
    # continued the old line from step 3072.
    assert step_names(run_dir) == [1536, 1664]
    aside = only_aside(run_dir)
    assert {p.name: p.read_bytes() for p in (aside / "checkpoints").iterdir()} == old_line
    log = (run_dir / "train.log").read_text()
    assert f"moved what came after step 1536 to {aside}: checkpoints step_0000002304.pt" in log
    events = read_events(run_dir)
    resumed = max(i for i, e in enumerate(events) if e["kind"] == "start")
    assert [e["removed"] for e in events[resumed:] if e["kind"] == "checkpoint"] == [[]]
    info = assert_consistent(run_dir)
    assert (info["global_step"], info["status"]) == (1664, "finished")
    steps = [e["step"] for e in events]
    assert steps == sorted(steps)

    # --resume latest continues the branch, and the old line stays where it was put.
    assert train.run(run_dir, "--resume", "latest", "--total-steps", "2304") == 0
    log = (run_dir / "train.log").read_text()
    assert f"Resumed from {ckpt_dir / 'step_0000001664.pt'} at step 1664" in log
    assert step_names(run_dir) == [1536, 2304]  # 1664, not periodic, went once 2304 came
    assert only_aside(run_dir) == aside
    assert {p.name: p.read_bytes() for p in (aside / "checkpoints").iterdir()} == old_line
    new_2304 = read_checkpoint(ckpt_dir / "step_0000002304.pt")
    assert new_2304["config"]["ppo"]["entropy_coef"] == 0.2
    assert (
        new_2304["weights_sha256"]
        != read_checkpoint(aside / "checkpoints" / "step_0000002304.pt")["weights_sha256"]
    )
    assert_consistent(run_dir)


def test_branch_sets_aside_later_evaluations_and_best(train: Train, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    ckpt_dir = run_dir / "checkpoints"
    common = ["evaluation.enabled=true", "logging.tensorboard=false"]
    assert train.run(run_dir, "--total-steps", "3072", *common) == 0
    ratings = (run_dir / "ratings.json").read_bytes()
    assert [h["step"] for h in json.loads(ratings)["history"]] == [768, 1536, 2304, 3072]
    best = (ckpt_dir / "best.pt").read_bytes()
    best_step = read_checkpoint(ckpt_dir / "best.pt")["state"]["global_step"]
    branch_point = ckpt_dir / "step_0000001536.pt"
    assert train.run(run_dir, "--resume", str(branch_point), "--total-steps", "2304") == 0
    aside = only_aside(run_dir)
    assert (aside / "ratings.json").read_bytes() == ratings
    assert "; 2 evaluations from ratings.json (another line" in (run_dir / "train.log").read_text()
    moved = {p.name for p in (aside / "checkpoints").iterdir()}
    later = {"step_0000002304.pt", "step_0000003072.pt"}
    assert moved == (later | {"best.pt"} if best_step > 1536 else later)
    if best_step > 1536:
        assert (aside / "checkpoints" / "best.pt").read_bytes() == best
    # The new line's evaluation at 2304 is recorded once, not added to the old line's.
    data = json.loads((run_dir / "ratings.json").read_text())
    assert [h["step"] for h in data["history"]] == [768, 1536, 2304]
    me = data["players"].index("step_2304")
    assert sum(data["games"][me]) == 4 * len(data["history"][-1]["opponents"])
    assert "step_3072" not in data["players"]
    assert_consistent(run_dir)


def test_branch_is_a_new_wandb_run(train: Train, tmp_path: Path) -> None:
    def wandb_id() -> str:
        return str(read_checkpoint(list_checkpoints(run_dir)[-1])["wandb_run_id"])

    run_dir = tmp_path / "run"
    assert train.run(run_dir, "--total-steps", "1024", "wandb.enabled=true") == 0
    first = wandb_id()
    branch_point = run_dir / "checkpoints" / "step_0000000768.pt"
    assert train.run(run_dir, "--resume", str(branch_point), "--total-steps", "1024") == 0
    second = wandb_id()
    assert second != first
    # Going on along the branch continues the branch's W&B run.
    assert train.run(run_dir, "--resume", "latest", "--total-steps", "1152") == 0
    assert wandb_id() == second
    names = sorted(p.name for p in (run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    assert names == sorted([f"run-{first}.wandb"] + [f"run-{second}.wandb"] * 2)


def test_prune_keeps_periodic_checkpoints(tmp_path: Path) -> None:
    def files(*steps: int) -> None:
        for s in steps:
            (tmp_path / f"step_{s:010d}.pt").write_bytes(b"")

    files(100, 200, 250, 300)  # 250: written on an interrupt
    assert [p.name for p in prune(tmp_path, 2, 100)] == ["step_0000000100.pt", "step_0000000250.pt"]
    files(350)
    assert prune(tmp_path, 2, 100) == []  # the newest, and newer than every periodic one
    files(400)
    assert [p.name for p in prune(tmp_path, 2, 100)] == ["step_0000000200.pt", "step_0000000350.pt"]
    assert step_names(tmp_path) == [300, 400]


# -- 6. evaluation after an interruption ---------------------------------------------------


def comparable_ratings(run_dir: Path) -> dict[str, Any]:
    data = json.loads((run_dir / "ratings.json").read_text())
    data["history"] = [
        {k: v for k, v in h.items() if k not in ("time", "seconds")} for h in data["history"]
    ]
    return data


def test_interrupted_run_rates_like_an_unbroken_one(train: Train, tmp_path: Path) -> None:
    common = [
        "--total-steps",
        "1024",
        "checkpoint.every_steps=256",
        "evaluation.every_steps=256",
        "evaluation.enabled=true",
        "logging.tensorboard=false",
    ]
    unbroken, broken = tmp_path / "unbroken", tmp_path / "broken"
    assert train.run(unbroken, *common) == 0
    # SIGINT at step 832, not a multiple of checkpoint.every_steps (256), then resume.
    assert run_with_hooks(train, broken, [SignalAt(832)], *common) == 130
    assert checkpoint_info(broken)["status"] == "interrupted"
    assert step_names(broken) == [256, 512, 768, 832]
    assert train.run(broken, "--resume", "latest") == 0

    evaluations = [e for e in read_events(broken) if e["kind"] == "evaluation"]
    assert [e["step"] for e in evaluations] == [256, 512, 768, 1024]
    # Before the fix, the off-schedule step_832 was taken among the past opponents.
    assert set(evaluations[-1]["scores"]) == {"random", "greedy", "step_256", "step_768"}
    assert comparable_ratings(broken) == comparable_ratings(unbroken)
    best = [read_checkpoint(d / "checkpoints" / "best.pt") for d in (unbroken, broken)]
    assert best[0]["state"]["global_step"] == best[1]["state"]["global_step"]
    assert best[0]["weights_sha256"] == best[1]["weights_sha256"]
    assert step_names(broken) == step_names(unbroken) == [512, 768, 1024]


def test_checkpoint_at_an_evaluated_step_holds_its_best_score(train: Train, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert train.run(run_dir, "--total-steps", "1024", "evaluation.enabled=true") == 0
    (evaluation,) = [e for e in read_events(run_dir) if e["kind"] == "evaluation"]
    assert evaluation["step"] == 768 and evaluation["rating"] is not None
    # Evaluation runs before the checkpoint of the same step, so a run resumed from it
    # (after kill -9) knows the best rating so far, as the unbroken run does.
    periodic = read_checkpoint(run_dir / "checkpoints" / "step_0000000768.pt")
    assert periodic["status"] == "running"
    assert periodic["state"]["best_score"] == evaluation["rating"]
    best = read_checkpoint(run_dir / "checkpoints" / "best.pt")
    assert best["weights_sha256"] == periodic["weights_sha256"]


# -- 7. nothing to do ----------------------------------------------------------------------


def test_resume_with_nothing_to_do_touches_nothing(
    train: Train, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    assert run_with_hooks(train, run_dir, [SignalAt(128)], "--total-steps", "256") == 130
    path = run_dir / "checkpoints" / "step_0000000128.pt"
    assert checkpoint_info(run_dir)["status"] == "interrupted"
    before = tree_digest(run_dir)
    capsys.readouterr()
    for total in ("128", "64"):
        assert train.run(run_dir, "--resume", "latest", "--total-steps", total) == 0
        assert capsys.readouterr().err == (
            f"keisei train: Nothing to do: {path} is at step 128 >= total_steps {total} "
            f"(use --total-steps to extend)\n"
        )
        assert tree_digest(run_dir) == before
    assert checkpoint_info(run_dir)["status"] == "interrupted"


def test_run_dir_names_its_files_and_the_run_of_a_checkpoint() -> None:
    run = RunDir(Path("runs/a"))
    assert run.step_checkpoint(256) == Path("runs/a/checkpoints/step_0000000256.pt")
    assert (run.best, run.config, run.ratings) == (
        Path("runs/a/checkpoints/best.pt"),
        Path("runs/a/config.yaml"),
        Path("runs/a/ratings.json"),
    )
    assert run.evaluation(64) == Path("runs/a/evaluations/step_64")
    assert RunDir.of(run.best) == run
    assert RunDir.of(Path("exported/model.pt")) == RunDir(Path("exported"))
