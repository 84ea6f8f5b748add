"""``keisei usi``: the engine under signals, tight clocks, extreme options and odd positions
(issue 23): real subprocesses and real signals, or the command reader in-process."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from tests.searchutil import Peer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

USI_BUNDLED = [sys.executable, "-m", "keisei", "usi", "bundled"]


def test_sigint_during_go_infinite_exits_130_every_time(tmp_path: Path) -> None:
    # A search thread still inside torch when the interpreter exited aborted the process
    # (SIGABRT: "terminate called without an active exception") in most tries.
    for attempt in range(5):
        with (tmp_path / f"stderr{attempt}").open("wb") as stderr:
            peer = Peer(USI_BUNDLED, stderr)
            try:
                for line in ("usi", "isready", "position startpos", "go infinite"):
                    peer.send(line)
                peer.expect("readyok", timeout=60)
                peer.expect("info ", timeout=30)
                peer.proc.send_signal(signal.SIGINT)
                code = peer.proc.wait(timeout=30)
            finally:
                if peer.proc.poll() is None:
                    peer.proc.kill()
        err = (tmp_path / f"stderr{attempt}").read_text("utf-8", "replace")
        assert (attempt, code) == (attempt, 130), err
        assert err.splitlines()[-1] == "keisei usi: interrupted"
        assert "terminate called" not in err
