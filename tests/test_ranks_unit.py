"""keisei/training/ranks.py and launch.py's own logic, in one process: how many ranks, each
rank's start, its device and threads, how a failed rank is named.

The ranks themselves, started by torch's launcher, are in test_distributed.py and
test_orphans.py; this file is the fast part of those modules' mutation subsets.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator

import pytest
import torch

from keisei.config import TrainConfig, load_config
from keisei.distributed import Collective
from keisei.training.launch import (
    AGREED_EXITS,
    _describe,
    _FirstFailure,
    launch,
    quiet_agent_logs,
)
from keisei.training.ranks import Opening, auto_world, open_ranks, rank_device, share_cores


def tiny(*overrides: str) -> TrainConfig:
    return load_config("tiny", overrides=["run.device=cpu", *overrides])


@pytest.fixture
def cores() -> Iterator[set[int]]:
    """This process's CPU affinity, restored afterwards (the seam ``usable_cpus`` reads)."""
    before = os.sched_getaffinity(0)
    yield set(before)
    os.sched_setaffinity(0, before)


def largest_divisor(cores: int, games: int, minibatch: int) -> int:
    return max(n for n in range(1, cores + 1) if games % n == 0 and minibatch % n == 0)


@pytest.mark.parametrize(
    ("games", "minibatch"), [(4, 32), (3, 32), (6, 9), (5, 10), (12, 12), (7, 14)]
)
def test_auto_world_is_the_cores_lowered_to_a_divisor(
    cores: set[int], games: int, minibatch: int
) -> None:
    config = tiny(f"env.num_games={games}", f"ppo.minibatch_size={minibatch}")
    for n in range(1, len(cores) + 1):
        os.sched_setaffinity(0, sorted(cores)[:n])
        assert auto_world(config) == largest_divisor(n, games, minibatch), n


def test_auto_world_of_one_core_is_one(cores: set[int]) -> None:
    os.sched_setaffinity(0, sorted(cores)[:1])
    assert auto_world(tiny("env.num_games=8", "ppo.minibatch_size=8")) == 1


def test_open_ranks_of_one_process() -> None:
    config = tiny()
    ok = Opening("ok", config=config)
    payload = {"format": 1, "state": {"global_step": 3}, "rollout": "r", "env": "e", "rng": "g"}
    said, mine = open_ranks(Collective(), ok, payload)
    assert said == dataclasses.replace(ok, shared={"format": 1, "state": {"global_step": 3}})
    assert mine == {
        "format": 1, "state": {"global_step": 3}, "rollout": "r", "env": "e", "rng": "g",
        "actor": None,
    }  # fmt: skip
    assert open_ranks(Collective(), ok) == (ok, None)  # a fresh start
    done = Opening("done", "nothing to do")
    assert open_ranks(Collective(), done, payload) == (done, None)
    error = Opening("error", "bad key")
    assert open_ranks(Collective(), error, payload) == (error, None)


def test_a_cpu_rank_runs_on_the_cpu_whatever_its_local_rank() -> None:
    assert rank_device(tiny(), 0) == torch.device("cpu")
    assert rank_device(tiny(), 5) == torch.device("cpu")


def test_share_cores_gives_each_local_rank_its_share(
    cores: set[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    threads = torch.get_num_threads()
    try:
        n = len(cores)
        monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
        share_cores(tiny("run.torch_threads=0"), 8)
        assert torch.get_num_threads() == n  # LOCAL_WORLD_SIZE before the world
        monkeypatch.setenv("LOCAL_WORLD_SIZE", str(2 * n))
        share_cores(tiny("run.torch_threads=0"), 1)
        assert torch.get_num_threads() == 1  # never below one
        monkeypatch.delenv("LOCAL_WORLD_SIZE")
        os.sched_setaffinity(0, sorted(cores)[:1])
        torch.set_num_threads(3)
        share_cores(tiny("run.torch_threads=0"), 1)
        assert torch.get_num_threads() == 1
        torch.set_num_threads(3)
        share_cores(tiny("run.torch_threads=2"), 1)  # set by the config: left alone
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(threads)


def test_a_failed_rank_is_described_in_words() -> None:
    assert _describe(-9) == "was killed by SIGKILL"
    assert _describe(-15) == "was killed by SIGTERM"
    assert _describe(-99) == "was killed by signal 99"
    assert _describe(1) == "exited with code 1"
    assert _describe(0) == "exited with code 0"
    assert {2, 129, 130, 143} == AGREED_EXITS


def test_the_agents_own_first_failure_line_is_dropped() -> None:
    keep = _FirstFailure()

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("x", logging.ERROR, __file__, 1, msg, None, None)

    assert keep.filter(record("failed (exitcode: -9) local_rank: 1 (pid: 12)")) is False
    assert keep.filter(record("Closing process 12 via signal SIGTERM")) is True
    assert keep.filter(record("rank failed (exitcode: 1)")) is True


def test_launch_installs_its_filter_once() -> None:
    processes = logging.getLogger("torch.distributed.elastic.multiprocessing.api")
    # One rank of a command that ends at once: argparse's --help, exit 0; then what launch
    # runs first, once more (a second launch in this process).
    assert launch(["train", "--help"], 1) == 0
    quiet_agent_logs()
    assert sum(isinstance(f, _FirstFailure) for f in processes.filters) == 1
    assert logging.getLogger("torch.distributed.elastic").level == logging.ERROR
