"""Several processes: real ranks through torch's launcher (gloo on localhost), real signals.

Every test starts real processes (``keisei train --nproc 2`` or two ``torchrun``
invocations) with the tiny preset, so each costs a few seconds of process start-up.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

import keisei
from keisei.cli.checkpoint import checkpoint_info
from keisei.cli.main import main
from keisei.training.checkpoint import latest_valid, list_checkpoints, read_checkpoint
from tests.conftest import read_events, wait_for_event

LONG = "run.total_steps=1000000"  # a run that only a signal ends


def args(run_dir: Path, *extra: str) -> list[str]:
    return ["train", "--preset", "tiny", "--run-dir", str(run_dir), *extra]


def spawn(run_dir: Path, *extra: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    """``keisei train`` as a user starts it, from ``cwd`` (default: the repository's root).
    The package is this test's own (a mutated copy's, under scripts/mutation)."""
    env = {**os.environ, "PYTHONPATH": str(Path(keisei.__file__).parents[1])}
    return subprocess.Popen(
        [sys.executable, "-m", "keisei", *args(run_dir, *extra)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
    )


def finish_streams(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out or "", err or ""


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    """The exit code and everything written, stdout then stderr."""
    code, out, err = finish_streams(proc, timeout)
    return code, out + err


def rank_pid(launcher: subprocess.Popen[str], rank: int) -> int:
    """The pid of the rank process that torch's launcher started for ``rank``."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for child in psutil.Process(launcher.pid).children(recursive=True):
            try:
                if child.environ().get("RANK") == str(rank):
                    return child.pid
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        time.sleep(0.05)
    raise TimeoutError(f"no rank {rank} under pid {launcher.pid}")


def final_sha(run_dir: Path) -> str:
    return str(read_checkpoint(list_checkpoints(run_dir / "checkpoints")[-1])["weights_sha256"])


def check_two_rank_run(run: Path) -> None:
    """A finished 2-rank tiny run of 2304 plies: the games split, the counters summed."""
    payload = read_checkpoint(run / "checkpoints" / "step_0000002304.pt")
    assert payload["status"] == "finished" and payload["world_size"] == 2
    # Rank 0's games at the top level, as in a one-process run; rank 1's beside them.
    assert payload["env"]["num_games"] == 2
    assert [peer["env"]["num_games"] for peer in payload["peer_ranks"]] == [2]
    assert payload["rng"]["generator"].ne(payload["peer_ranks"][0]["rng"]["generator"]).any()
    # 4 games of 48 plies (the tiny preset's limit, which random play reaches): 2304 plies
    # are 12 games per slot, all of them draws by the ply limit, counted from both ranks.
    state = payload["state"]
    assert (state["global_step"], state["episodes"], state["draws"]) == (2304, 48, 48)
    assert state["reasons"]["max_plies"] == 48 and state["finished_plies"] == 48 * 48
    events = read_events(run)
    assert [e["episode"] for e in events if e["kind"] == "episode"] == list(range(1, 49))
    # Only rank 0 writes: one start, one end.
    kinds = [e["kind"] for e in events]
    assert (kinds.count("start"), kinds.count("end")) == (1, 1)
    assert sorted(p.name for p in (run / "games").iterdir())[:2] == [
        "episode_00000005.csa",
        "episode_00000005.kif",
    ]
    info = checkpoint_info(run)
    assert (info["ranks"], info["episodes"], info["invariants_ok"]) == (2, 48, True)


# One league game per rank (of its two) against a past self, a snapshot every 2 updates.
LEAGUE = ("league.fraction=0.5", "league.snapshot_every_updates=2")


def test_interrupted_and_resumed_two_rank_league_run_is_bit_exact(tmp_path: Path) -> None:
    """Ctrl-C at the launcher, then a resume, ends as the straight run. With the league on
    (its state is a superset of plain self-play's): the pool is the same on both ranks, so
    one copy is in the checkpoint, and each rank's league games are in its own part."""
    straight = tmp_path / "straight"
    broken = tmp_path / "broken"
    first = spawn(straight, "--nproc", "2", "run.total_steps=2304", *LEAGUE)
    second = spawn(broken, "--nproc", "2", LONG, *LEAGUE)
    wait_for_event(broken, "checkpoint")
    # A second run on the same directory is refused; the first goes on undamaged.
    code = main(args(broken, "--nproc", "2", "--resume", "latest"))
    assert code == 2
    second.send_signal(signal.SIGINT)  # Ctrl-C at the launcher
    code, out = finish(second)
    assert code == 130, out
    path, payload = latest_valid(broken, print)
    assert payload["status"] == "interrupted" and payload["consistent"]
    step = payload["state"]["global_step"]
    assert 768 <= step < 2304 and step % 64 == 0  # ranks stop at a rollout boundary
    assert [e["kind"] for e in read_events(broken)][-2:] == ["interrupted", "end"]
    updates = step // 64
    last = updates - updates % 2  # the newest 8 (league.pool_size) of every second update
    pool = list(range(max(2, last - 14), last + 1, 2))
    assert [e["update"] for e in payload["league"]["pool"]] == pool
    assert "league" not in payload["peer_ranks"][0]
    assert len(payload["actor"]["opponent"]) == len(payload["peer_ranks"][0]["actor"]["opponent"])
    assert len(payload["actor"]["opponent"]) == 1
    # The resumed run takes its world size and the league from the checkpoint's run.
    code, out = finish(spawn(broken, "--resume", "latest", "--total-steps", "2304"))
    assert code == 0, out
    assert f"Resumed from {path} at step {step}" in (broken / "train.log").read_text()
    code, out = finish(first)
    assert code == 0, out
    check_two_rank_run(straight)
    assert final_sha(broken) == final_sha(straight)


def test_signal_to_one_rank_stops_all_at_one_checkpoint(tmp_path: Path) -> None:
    """SIGTERM to rank 1 alone (SIGINT takes the same path: see the launcher's test)."""
    signum, code = signal.SIGTERM, 143
    run = tmp_path / "run"
    # Started from another directory than the repository's: the ranks find keisei anyway.
    launcher = spawn(run, "--nproc", "2", LONG, cwd=tmp_path)
    wait_for_event(run, "checkpoint")
    os.kill(rank_pid(launcher, 1), signum)
    exit_code, out = finish(launcher)
    assert exit_code == code, out
    payload = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    assert payload["status"] == "interrupted" and payload["consistent"]
    assert len(payload["peer_ranks"]) == 1
    events = read_events(run)
    assert events[-2]["kind"] == "interrupted" and events[-2]["signal"] == signum.name


def new_rank_pid(launcher: subprocess.Popen[str], rank: int, old: int) -> int:
    """The pid of ``rank`` once the launcher has restarted it (another pid than ``old``)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pid = rank_pid(launcher, rank)
        if pid != old:
            return pid
        time.sleep(0.05)
    raise TimeoutError(f"rank {rank} was not restarted")


def test_killed_rank_restarts_the_group_then_ends_the_run(tmp_path: Path) -> None:
    """With --max-restarts 1 the group goes on from the newest checkpoint by itself after
    a rank is killed; killed again, the run ends, the cause named once by the launcher."""
    run = tmp_path / "run"
    launcher = spawn(run, "--nproc", "2", "--max-restarts", "1", LONG)
    wait_for_event(run, "checkpoint")
    first = rank_pid(launcher, 1)
    os.kill(first, signal.SIGKILL)
    second = new_rank_pid(launcher, 1, first)
    # The restarted group resumed (a second start) and wrote a checkpoint since.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        kinds = [e["kind"] for e in read_events(run)]
        if kinds.count("start") == 2 and "checkpoint" in kinds[kinds.index("start", 1) :]:
            break
        time.sleep(0.05)
    assert "Resumed from" in (run / "train.log").read_text()
    before = list_checkpoints(run / "checkpoints")
    os.kill(second, signal.SIGKILL)
    start = time.monotonic()
    code, stdout, stderr = finish_streams(launcher)
    out = stdout + stderr
    assert time.monotonic() - start < 60
    assert code == 1, out
    # The cause once, from the launcher; rank 0's failure (it lost contact with rank 1) is
    # a consequence: its traceback is in train.log, not on the terminal.
    lines = out.splitlines()
    killed = "keisei train: rank 1 of 2 was killed by SIGKILL; the other ranks were stopped"
    assert [line for line in lines if "rank 1" in line or "local_rank" in line] == [
        f"{killed} (the run directory keeps its newest checkpoint)"
    ]
    assert [line for line in stderr.splitlines() if "rank 1" in line] == [
        f"{killed} (the run directory keeps its newest checkpoint)"
    ]
    assert "Traceback" not in out and "rank 0 of 2 failed" not in out
    assert [line for line in lines if " ERROR " in line] == []
    log = (run / "train.log").read_text()
    failed = "Training failed on rank 0 (it lost contact with another rank, which was killed"
    assert log.count(failed) == 2 and log.count("Traceback (most recent call last)") == 2
    # The newest checkpoint is intact: nothing was written after the kill.
    path, payload = latest_valid(run, print)
    assert path in before or path == list_checkpoints(run / "checkpoints")[-1]
    assert payload["status"] == "running"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# One rank of DistributedDataParallel over gloo: rank 1 kills itself (SIGKILL) between
# two backward passes; rank 0's error in its backward pass's all-reduce is then printed
# with whether run_session takes it for a lost contact.
DDP_RANK = """
import os, signal, sys, torch, torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from keisei.training.trainer import _in_collective
rank = int(sys.argv[1])
dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{sys.argv[2]}", rank=rank,
                        world_size=2)
model = DistributedDataParallel(torch.nn.Linear(64, 64))
for i in range(1000):
    if rank == 1 and i == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    try:
        model(torch.randn(4, 64)).sum().backward()
    except RuntimeError as exc:
        print("lost contact" if _in_collective(exc) else f"own failure: {exc!r}", flush=True)
        break
# As a rank does (keisei/__main__.py): gloo's threads can abort the interpreter's finalization.
os._exit(0)
"""


def test_a_peer_lost_in_the_gradients_all_reduce_is_a_lost_contact() -> None:
    """gloo raises from the backward pass, through no torch.distributed frame."""
    port = str(free_port())
    ranks = [
        subprocess.Popen(
            [sys.executable, "-c", DDP_RANK, str(rank), port],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    code, out = finish(ranks[0], timeout=60)
    assert (code, out) == (0, "lost contact\n")
    assert finish(ranks[1], timeout=60)[0] == -signal.SIGKILL


def test_two_nodes_through_torchrun(tmp_path: Path) -> None:
    """Two torchrun invocations (two "hosts" on localhost), one rank each; with
    ``env.overlap`` each rank steps its two games as two halves of one (the counters are
    those of any 768-step tiny run: every game ends at the ply limit)."""
    run = tmp_path / "run"
    port = free_port()
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nnodes",
                "2",
                "--node-rank",
                str(node),
                "--nproc-per-node",
                "1",
                "--master-addr",
                "127.0.0.1",
                "--master-port",
                str(port),
                "-m",
                "keisei",
                *args(run, "run.total_steps=768", "env.overlap=true"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for node in (0, 1)
    ]
    for proc in nodes:
        code, out = finish(proc)
        assert code == 0, out
    payload = read_checkpoint(run / "checkpoints" / "step_0000000768.pt")
    assert payload["world_size"] == 2 and payload["state"]["episodes"] == 16


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--nproc", "3"], "'env.num_games' is 4, which 3 processes cannot share evenly"),
        (["--nproc", "two"], "argument --nproc: expected a number or 'auto', got 'two'"),
        (["--nproc", "0"], "argument --nproc: must be >= 1 or 'auto', got 0"),
        (["--nproc", "100000"], "--nproc is 100000: use 1 to"),
        (["--nproc", "2", "--max-restarts", "-1"], "--max-restarts must be >= 0, got -1"),
    ],
)
def test_bad_world_is_refused_before_any_rank_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    try:
        code = main(args(tmp_path / "run", *extra))
    except SystemExit as exc:  # argparse's own refusal of a flag's value
        code = int(exc.code or 0)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.usefixtures("one_torch_thread")
def test_resume_with_another_number_of_ranks_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert main(args(run, "run.total_steps=768")) == 0
    files = sorted(p.name for p in run.rglob("*"))
    assert main(args(run, "--resume", "latest", "--nproc", "2", "--total-steps", "1536")) == 2
    err = capsys.readouterr().err
    assert (
        "the checkpoint was written by a run of 1 process and this run has 2: resume it "
        "with --nproc 1" in err
    )
    assert sorted(p.name for p in run.rglob("*")) == files


def test_raising_rank_ends_the_run_naming_it(tmp_path: Path) -> None:
    """Rank 0 fails writing a checkpoint (its directory replaced by a file); the other
    rank does not hang, and the run exits 1 naming rank 0."""
    run = tmp_path / "run"
    launcher = spawn(run, "--nproc", "2", LONG)
    wait_for_event(run, "checkpoint")
    (run / "checkpoints").rename(tmp_path / "kept")
    (run / "checkpoints").write_text("not a directory")
    start = time.monotonic()
    code, stdout, stderr = finish_streams(launcher)
    out = stdout + stderr
    assert time.monotonic() - start < 60
    assert code == 1, out
    # Rank 0 says why it failed (its traceback once, echoed from train.log), then the
    # launcher names it.
    said = [line for line in stderr.splitlines() if line.startswith("keisei train: rank ")]
    assert len(said) == 2, out
    assert re.fullmatch(
        r"keisei train: rank 0 of 2 failed at step \d+: FileExistsError\(17, 'File exists'\); "
        r"no final checkpoint is written \(resume from the newest one\)",
        said[0],
    ), said
    assert said[1].startswith("keisei train: rank 0 of 2 exited with code 1; the other ranks ")
    assert out.count("Traceback (most recent call last)") == 1
    log = (run / "train.log").read_text()
    assert "Training failed on rank 0 at step" in log and "FileExistsError" in log
    error, end = read_events(run)[-2:]
    assert (error["kind"], end["kind"], end["exit_code"]) == ("error", "end", 1)
    assert end["step"] == error["step"] > 0
    assert sorted(end) == [
        "black_wins", "draws", "episodes", "exit_code", "kind", "reasons", "step", "time",
        "white_wins",
    ]  # fmt: skip
    assert end["episodes"] == end["black_wins"] + end["white_wins"] + end["draws"] > 0
    assert read_checkpoint(sorted((tmp_path / "kept").glob("step_*.pt"))[-1])["status"] == (
        "running"
    )
