"""RunDir's paths and RunLock's rules, in one process (tests/test_run_dir.py runs them
through real keisei processes; these pin each name and message exactly, in milliseconds)."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest

from keisei.errors import UsageError
from keisei.training.rundir import STEP_FILE, RunDir, RunLock, check_free


def test_every_file_of_a_run_directory_by_name(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    root = tmp_path / "run"
    assert {
        "checkpoints": run.checkpoints,
        "best": run.best,
        "config": run.config,
        "events": run.events,
        "log": run.log,
        "ratings": run.ratings,
        "games": run.games,
        "evaluations": run.evaluations,
        "lock": run.lock,
        "superseded": run.superseded,
        "step": run.step_checkpoint(768),
        "evaluation": run.evaluation(768),
    } == {
        "checkpoints": root / "checkpoints",
        "best": root / "checkpoints" / "best.pt",
        "config": root / "config.yaml",
        "events": root / "events.jsonl",
        "log": root / "train.log",
        "ratings": root / "ratings.json",
        "games": root / "games",
        "evaluations": root / "evaluations",
        "lock": root / "train.lock",
        "superseded": root / "superseded",
        "step": root / "checkpoints" / "step_0000000768.pt",
        "evaluation": root / "evaluations" / "step_768",
    }
    assert not root.exists()  # naming creates nothing
    assert STEP_FILE.match("step_0000000768.pt")[1] == "0000000768"  # type: ignore[index]
    assert [STEP_FILE.match(n) for n in ("step_.pt", "xstep_1.pt", "step_1.pt.tmp")] == [None] * 3


def test_the_run_a_checkpoint_belongs_to(tmp_path: Path) -> None:
    inside = tmp_path / "run" / "checkpoints" / "step_0000000768.pt"
    copied = tmp_path / "exports" / "model.pt"
    assert (RunDir.holds(inside), RunDir.holds(copied)) == (True, False)
    assert RunDir.of(inside) == RunDir(tmp_path / "run")
    assert RunDir.of(copied) == RunDir(tmp_path / "exports")


def test_the_lock_names_its_owner_refuses_a_second_holder_and_is_emptied_on_release(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "a" / "run"
    check_free(run_dir)  # no directory yet: free, and nothing created
    assert not run_dir.exists()
    umask = os.umask(0o022)  # the usual one, whatever this process had
    try:
        lock = RunLock.acquire(run_dir)
    finally:
        os.umask(umask)
    assert stat.S_IMODE((run_dir / "train.lock").stat().st_mode) == 0o644
    owner = json.loads((run_dir / "train.lock").read_text())
    assert (owner["pid"], owner["host"]) == (os.getpid(), socket.gethostname())
    assert owner["started"].endswith("+00:00") and len(owner["started"]) == 25
    busy = (
        f"run directory {run_dir} is in use by another keisei train (pid {os.getpid()} on "
        f"{socket.gethostname()}, started {owner['started']}); wait for it to end or stop "
        "it, or choose another --run-dir"
    )
    # flock is per open file: a second open in this same process is refused like another
    # process would be.
    with pytest.raises(UsageError) as second:
        RunLock.acquire(run_dir)
    assert str(second.value) == busy
    with pytest.raises(UsageError) as checked:
        check_free(run_dir)
    assert str(checked.value) == busy
    lock.release()
    lock.release()  # twice is harmless
    assert lock.fd is None
    assert (run_dir / "train.lock").read_text() == ""
    check_free(run_dir)
    again = RunLock.acquire(run_dir)  # free again
    (run_dir / "train.lock").write_text("{torn")
    with pytest.raises(UsageError, match=r"\(a process that is starting up\)"):
        check_free(run_dir)
    (run_dir / "train.lock").write_text('{"pid": 1}')  # no host: the same
    with pytest.raises(UsageError, match=r"\(a process that is starting up\)"):
        check_free(run_dir)
    again.release()


def test_a_lock_that_cannot_be_created_names_the_path_and_why(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    run_dir = tmp_path / "file" / "run"
    with pytest.raises(UsageError) as info:
        RunLock.acquire(run_dir)
    assert str(info.value) == f"cannot create {run_dir / 'train.lock'}: Not a directory"
