"""``keisei bench env``: a smoke test of the command and its JSON (no timing assertions)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from keisei.cli import main


def test_bench_env_writes_positive_rates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "env", "--seconds", "0.5", "--games", "8", "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    for key in ("env_plies_per_s", "cshogi_plies_per_s", "ratio"):
        value = data[key]
        assert isinstance(value, float) and math.isfinite(value) and value > 0, key
    assert data["ratio"] == pytest.approx(data["env_plies_per_s"] / data["cshogi_plies_per_s"])
    assert len(data["env_rounds_plies_per_s"]) == len(data["cshogi_rounds_plies_per_s"]) == 3
    assert data["sections"] == ["env"] and data["env_games"] == 8
    machine = data["machine"]
    assert machine["cpu_count"] >= 1 and machine["python"] and machine["versions"]["cshogi"]
    printed = capsys.readouterr().out
    assert "environment" in printed and "bare cshogi" in printed and "ratio" in printed


def test_bench_without_json_only_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "env", "--seconds", "0.2", "--rounds", "1", "--games", "2"]) == 0
    assert "plies/s" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--games", "0"], "--games must be >= 1, got 0"),
        (["--seconds", "0"], "--seconds must be > 0, got 0.0"),
        (["--rounds", "0"], "--rounds must be >= 1, got 0"),
        (["--max-plies", "0"], "--max-plies must be >= 1, got 0"),
    ],
)
def test_bad_options_are_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["bench", "env", *args]) == 2
    assert capsys.readouterr().err.splitlines() == [f"keisei bench: error: {message}"]


def test_json_into_a_missing_directory_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "missing" / "bench.json"
    assert main(["bench", "env", "--seconds", "0.1", "--json", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not out.parent.exists()


def test_unknown_section_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["bench", "nothing"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
