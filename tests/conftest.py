"""Shared fixtures. The one tiny training config is the embedded ``tiny`` preset."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from keisei.cli.main import main
from keisei.config import TrainConfig, load_config

# A suite started in the background without job control (`./scripts/test &` in a script,
# nohup) has SIGINT ignored, and every process a test starts would inherit that: keisei
# then rightly leaves SIGINT alone (a background job), and the Ctrl-C tests, which send a
# real SIGINT, would see no Ctrl-C. The tests are of a foreground keisei.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Keep child processes (and wandb) quiet and offline.
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("PYTHONWARNINGS", "ignore")


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny networks gain nothing from intra-op threads, and on a busy 2-core machine
    spinning threads make them many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_config() -> TrainConfig:
    """The tiny preset: 1 block, 8 channels, 4 games of at most 48 plies."""
    return load_config("tiny")


class Train:
    """Runs ``keisei train --preset tiny`` in-process or as a real subprocess."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def args(self, run_dir: Path, *extra: str) -> list[str]:
        return ["train", "--preset", "tiny", "--run-dir", str(run_dir), *extra]

    def run(self, run_dir: Path, *extra: str) -> int:
        return main(self.args(run_dir, *extra))

    def spawn(self, run_dir: Path, *extra: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "keisei", *self.args(run_dir, *extra)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
def train(tmp_path: Path) -> Train:
    return Train(tmp_path)


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def wait_for_event(run_dir: Path, kind: str, timeout: float = 60.0) -> None:
    """Block until events.jsonl holds an event of ``kind``."""
    deadline = time.monotonic() + timeout
    path = run_dir / "events.jsonl"
    while time.monotonic() < deadline:
        if path.exists() and f'"kind":"{kind}"' in path.read_text(encoding="utf-8"):
            return
        time.sleep(0.02)
    raise TimeoutError(f"no {kind} event in {path} after {timeout} s")


# Black to move in check, in the enemy camp with every piece a 27-point declaration needs:
# each of its four evasions and each of White's replies leave Black a won nyugyoku at ply 2
# (checked with cshogi over all 22 lines). WON_BY_WHITE is the same position turned round.
WON_BY_BLACK = "RRBBpGGGG/SSS1K4/PPPPPPPPP/9/9/9/9/9/4k4 b - 1"
WON_BY_WHITE = "4K4/9/9/9/9/9/ppppppppp/4k1sss/ggggPbbrr w - 1"


class FailsOnCall:
    """An actor (keisei.training.actors.Actor) that raises on its ``n``-th move choice and
    otherwise is ``actor``: the seam for a failure inside a ply."""

    def __init__(self, actor: Any, n: int) -> None:
        self.actor, self.n, self.calls = actor, n, 0

    def act(self, step: Any) -> Any:
        self.calls += 1
        if self.calls == self.n:
            raise RuntimeError("actor failed")
        return self.actor.act(step)

    def state_dict(self) -> dict[str, Any]:
        return dict(self.actor.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state)
