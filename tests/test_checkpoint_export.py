"""``keisei checkpoint export`` takes what ``checkpoint info`` takes, ``bundled`` included."""

from __future__ import annotations

from pathlib import Path

import pytest

from keisei.cli.checkpoint import checkpoint_info
from keisei.cli.main import main
from keisei.training.checkpoint import BUNDLED_PATH


def test_export_bundled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mine.pt"
    code = main(["checkpoint", "export", "bundled", "--out", str(out)])
    assert code == 0
    assert capsys.readouterr().out == (
        f"exported {BUNDLED_PATH} to {out} ({out.stat().st_size:,} bytes)\n"
    )
    mine, shipped = checkpoint_info(out), checkpoint_info("bundled")
    assert mine["invariants_ok"] and mine["weights_sha256"] == shipped["weights_sha256"]
    assert (mine["global_step"], mine["model"]) == (shipped["global_step"], shipped["model"])
    # Trained by two ranks, its weights the average of 87 snapshots (docs/results.md).
    assert (mine["ranks"], mine["averaged"]) == (shipped["ranks"], shipped["averaged"]) == (2, 87)
    # Nothing is overwritten: a second export to the same file is refused.
    code = main(["checkpoint", "export", "bundled", "--out", str(out)])
    assert code == 2
    assert capsys.readouterr().err == (
        f"keisei checkpoint export: error: --out {out} already exists; choose a new file "
        "(nothing is overwritten)\n"
    )
