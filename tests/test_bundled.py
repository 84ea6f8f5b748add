"""The model shipped in the package (``bundled``) and ``keisei checkpoint export``, which
made it. If the network or the encoding changes, the bundled model stops loading here:
re-train and re-export it with the commands in docs/results.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from keisei.cli.main import main
from keisei.evaluation.match import play_match
from keisei.evaluation.players import RandomPlayer
from keisei.evaluation.specs import parse_player
from keisei.training.checkpoint import BUNDLED_PATH, read_checkpoint, weights_sha256
from tests.conftest import Train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_bundled_model_is_small_and_loads() -> None:
    assert BUNDLED_PATH.is_file()
    assert BUNDLED_PATH.stat().st_size < 1_000_000
    payload = read_checkpoint(BUNDLED_PATH)
    assert payload["weights_sha256"] == weights_sha256(payload["model"])
    assert "exported_from" in payload and "agent" not in payload


def test_bundled_model_plays_legal_games() -> None:
    # The environment refuses an illegal action, so finished games mean legal moves.
    player = parse_player("bundled", seed=1)
    assert player.name.startswith("bundled/step_")
    result = play_match(player, RandomPlayer(2), 2, seed=0, max_plies=80)
    assert len(result.games) == 2
    search = parse_player("search:bundled[playouts=8]", seed=1)
    assert search.name.startswith("search:bundled/step_")
    assert len(play_match(search, RandomPlayer(3), 1, seed=0, max_plies=16).games) == 1


def test_keisei_usi_speaks_for_the_bundled_model() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "keisei", "usi", "bundled"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write("usi\nisready\nposition startpos\ngo nodes 8\n")
        proc.stdin.flush()
        lines: list[str] = []
        while not (lines and lines[-1].startswith("bestmove ")):
            line = proc.stdout.readline()
            assert line, f"the engine stopped: {lines}"
            lines.append(line.strip())
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert lines[0].startswith("id name keisei ") and " bundled step " in lines[0]
    assert "usiok" in lines and "readyok" in lines
    assert lines[-1] != "bestmove resign"


def test_export_keeps_the_weights_and_refuses_to_overwrite_or_resume(
    train: Train, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    assert train.run(run_dir, "--total-steps", "128") == 0
    dest = tmp_path / "small.pt"
    assert main(["checkpoint", "export", str(run_dir), "--out", str(dest)]) == 0
    source = read_checkpoint(run_dir / "checkpoints" / "step_0000000128.pt")
    small = read_checkpoint(dest)
    assert small["weights_sha256"] == source["weights_sha256"]
    assert small["weights_sha256"] == weights_sha256(small["model"])
    assert small["state"] == source["state"]
    assert small["exported_from"]["path"] == str(run_dir / "checkpoints" / "step_0000000128.pt")
    assert dest.stat().st_size < (run_dir / "checkpoints" / "step_0000000128.pt").stat().st_size
    capsys.readouterr()

    before = dest.read_bytes()
    assert main(["checkpoint", "export", str(run_dir), "--out", str(dest)]) == 2
    err = capsys.readouterr().err
    assert f"--out {dest} already exists; choose a new file (nothing is overwritten)" in err
    assert dest.read_bytes() == before

    assert train.run(tmp_path / "again", "--resume", str(dest)) == 2
    err = capsys.readouterr().err
    assert "was exported with `keisei checkpoint export`" in err
    assert not (tmp_path / "again").exists()
