"""No orphans: the processes keisei starts end when keisei is killed (``kill -9``).

Real processes and real signals: a two-rank ``keisei train`` whose launcher is killed, and
a ``keisei evaluate`` killed while its USI engine thinks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from keisei.cli.main import main
from keisei.training.checkpoint import latest_valid
from tests.conftest import wait_for_event
from tests.usi_faults import fault_engine, started


def alive(pid: int) -> bool:
    """Whether any thread of ``pid`` runs. A zombie (dead, not yet reaped by its new parent)
    does not; but the leader thread of a killed process can be a zombie while its other
    threads still exit, holding the process's files (the run lock) until the last ends."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return False
    for task in tasks:
        try:
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] not in ("Z", "X"):
            return True
    return False


def gone(pids: list[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while any(alive(pid) for pid in pids):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def ranks_of(launcher: subprocess.Popen[bytes], world: int) -> list[int]:
    """The pids of the rank processes torch's launcher started (its children with RANK)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ranks = {}
        for child in psutil.Process(launcher.pid).children():
            try:
                rank = child.environ().get("RANK")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if rank is not None:
                ranks[int(rank)] = child.pid
        if len(ranks) == world:
            return [ranks[r] for r in range(world)]
        time.sleep(0.05)
    raise TimeoutError(f"not {world} ranks under pid {launcher.pid}")


def test_ranks_end_when_their_launcher_is_killed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    argv = ["train", "--nproc", "2", "--preset", "tiny", "--run-dir", str(run)]
    with (tmp_path / "out.txt").open("wb") as out:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "keisei", *argv, "--total-steps", "10000000"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_event(run, "checkpoint")
        ranks = ranks_of(launcher, 2)
    finally:
        launcher.kill()  # SIGKILL: what the OOM killer or a scheduler does
        launcher.wait()
    try:
        assert gone(ranks, within=10), f"ranks {ranks} outlived their launcher"
    finally:
        for pid in ranks:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    # Left as after any kill -9: the newest checkpoint valid, and the lock free.
    path, payload = latest_valid(run, print)
    step = payload["state"]["global_step"]
    assert payload["status"] == "running" and step % 768 == 0
    capsys.readouterr()
    code = main([*argv, "--resume", "latest", "--total-steps", str(step)])
    assert code == 0
    assert capsys.readouterr().err == (
        f"keisei train: Nothing to do: {path} is at step {step} >= total_steps {step} "
        "(use --total-steps to extend)\n"
    )


def test_engine_ends_when_keisei_is_killed(tmp_path: Path) -> None:
    # The engine hangs at its first "go" (sleeps, not reading its input), as a searching
    # engine would: only a signal ends it before its minute is up.
    pids = tmp_path / "pids"
    engine = fault_engine(tmp_path, "hang", 1, once=True, pids=pids)
    keisei = subprocess.Popen(
        [sys.executable, "-m", "keisei", "evaluate", "--quiet", "--agent", "random",
         "--opponent", f"usi:{engine}", "--games", "1", "--records", str(tmp_path / "r")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    hanging = tmp_path / "faulty_hang_1.fired"
    deadline = time.monotonic() + 60
    while not hanging.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hanging.exists()
    ((pid, _group),) = started(pids)
    keisei.kill()
    keisei.wait()
    try:
        assert gone([pid], within=5), "the engine outlived keisei"
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_rank_whose_launcher_ended_before_it_started_kills_itself() -> None:
    """The launcher may die between starting a rank and the rank's first line: the rank
    checks that the keisei process that started it (KEISEI_PARENT_PID) is its parent."""
    gone_parent = subprocess.Popen(["true"])
    gone_parent.wait()
    argv = [sys.executable, "-m", "keisei", "--version"]
    rank = {**os.environ, "RANK": "0", "WORLD_SIZE": "1"}
    orphan = subprocess.run(
        argv, env={**rank, "KEISEI_PARENT_PID": str(gone_parent.pid)}, capture_output=True
    )
    assert (orphan.returncode, orphan.stdout) == (-signal.SIGKILL, b"")
    child = subprocess.run(
        argv, env={**rank, "KEISEI_PARENT_PID": str(os.getpid())}, capture_output=True
    )
    assert child.returncode == 0 and child.stdout.startswith(b"keisei ")
