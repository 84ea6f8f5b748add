"""``keisei evaluate``: results JSON, records, engine faults, bad input (exit 2)."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from keisei.cli.main import build_parser, main
from keisei.evaluation.match import ALL_REASONS
from keisei.evaluation.ratings import RatingTable
from tests.evalutil import fairy_stockfish, save_tiny_checkpoint, tiny_model
from tests.usi_faults import fault_engine, group_gone, started

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def evaluate(*args: str) -> int:
    return main(["evaluate", "--quiet", *args])


def check_schema(report: dict[str, Any]) -> None:
    """The command-line contract of the results JSON (docs/evaluation.md)."""
    for key in ("games", "wins", "losses", "draws"):
        assert isinstance(report[key], int), key
    assert report["wins"] + report["losses"] + report["draws"] == report["games"]
    assert report["score"] == round((report["wins"] + 0.5 * report["draws"]) / report["games"], 4)
    lo, hi = report["score_ci"]
    assert 0.0 <= lo <= report["score"] <= hi <= 1.0
    elo_lo, elo_hi = report["elo_ci"]
    assert elo_lo <= report["elo"] <= elo_hi
    assert all(isinstance(x, float) for x in (report["elo"], elo_lo, elo_hi))
    assert isinstance(report["records_dir"], str)
    assert set(report["by_color"]) == {"black", "white"}
    assert set(report["by_reason"]) <= set(ALL_REASONS)
    for table in (report["by_color"], report["by_reason"]):
        assert sum(sum(row.values()) for row in table.values()) == report["games"]
    assert len(report["game_list"]) == report["games"]


def test_greedy_vs_random_json_and_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, records = tmp_path / "out.json", tmp_path / "records"
    code = evaluate(
        "--agent", "greedy", "--opponent", "random", "--games", "6", "--seed", "1",
        "--max-plies", "200", "--json", str(out), "--records", str(records),
    )  # fmt: skip
    assert code == 0
    report = json.loads(out.read_text())
    check_schema(report)
    assert (report["agent"], report["opponent"], report["games"]) == ("greedy", "random", 6)
    assert report["losses"] == 0
    assert report["by_color"]["black"]["wins"] + report["by_color"]["black"]["draws"] == 3
    assert report["records_dir"] == str(records)
    names = sorted(p.name for p in records.iterdir())
    assert names == sorted(f"game_{i}.{ext}" for i in range(6) for ext in ("csa", "kif", "usi"))
    printed = capsys.readouterr().out
    assert "greedy vs random: 6 games" in printed
    assert "as black" in printed and "as white" in printed and "total" in printed
    assert f"score {report['score']:.3f}" in printed
    assert "Elo" in printed


def test_undefeated_score_gives_a_finite_elo(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    code = evaluate(
        "--agent", f"usi:{fairy_stockfish()}", "--agent-option", "Skill Level=-20",
        "--agent-nodes", "3000", "--opponent", "random", "--games", "4",
        "--max-plies", "256", "--json", str(out), "--records", str(tmp_path / "r"),
    )  # fmt: skip
    assert code == 0
    report = json.loads(out.read_text())
    check_schema(report)
    assert report["agent"] == "usi:fairy-stockfish[Skill Level=-20,nodes=3000]"
    # Even at its weakest setting the engine sweeps the random player (it did in every run
    # seen); the Elo of a sweep comes from one virtual draw: 400*log10(4.5/0.5).
    assert (report["wins"], report["losses"], report["draws"]) == (4, 0, 0)
    assert report["score"] == 1.0
    assert report["elo"] == pytest.approx(381.7, abs=0.1)


def test_crashing_engine_is_scored_and_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = fault_engine(tmp_path, "crash", 3)  # dies at the 3rd move of every process
    out = tmp_path / "out.json"
    code = evaluate(
        "--agent", "random", "--opponent", f"usi:{engine}", "--games", "3", "--parallel", "1",
        "--json", str(out), "--records", str(tmp_path / "records"),
    )  # fmt: skip
    assert code == 0
    report = json.loads(out.read_text())
    check_schema(report)
    assert (report["wins"], report["losses"], report["draws"]) == (3, 0, 0)
    assert report["by_reason"] == {"engine_crash": {"wins": 3, "losses": 0, "draws": 0}}
    assert [(f["game"], f["reason"], f["by"]) for f in report["faults"]] == [
        (0, "engine_crash", "opponent"),
        (1, "engine_crash", "opponent"),
        (2, "engine_crash", "opponent"),
    ]
    assert [g["plies"] for g in report["game_list"]] == [5, 4, 5]
    assert all("exited with code 3" in f["detail"] for f in report["faults"])
    printed = capsys.readouterr().out
    assert "game 1: engine_crash by the opponent" in printed
    assert "3 game(s) lost to engine faults" in printed
    assert (tmp_path / "records" / "game_2.kif").exists()


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("keisei evaluate: error: ")
    return lines[0]


def test_non_executable_engine_is_exit_2_before_any_game(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "engine.py"
    script.write_text("print('usiok')\n")
    records = tmp_path / "records"
    code = evaluate("--agent", "random", "--opponent", f"usi:{script}", "--records", str(records))
    assert code == 2
    assert "is not executable" in one_line_error(capsys)
    assert not records.exists()


def test_missing_checkpoint_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = tmp_path / "records"
    missing = tmp_path / "nope.pt"
    code = evaluate("--agent", str(missing), "--opponent", "random", "--records", str(records))
    assert code == 2
    assert f"no such checkpoint or run directory: {missing}" in one_line_error(capsys)
    assert not records.exists()


def test_checkpoint_of_another_network_shape_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    from keisei.training.checkpoint import write_checkpoint

    model = tiny_model(0, blocks=2, channels=8)
    bad = tmp_path / "bad.pt"
    write_checkpoint(
        bad,
        {
            "config": {"model": {"blocks": 1, "channels": 16}},  # not the shape of the weights
            "model": model.state_dict(),
            "state": {"global_step": 5},
        },
    )
    code = evaluate("--agent", str(bad), "--opponent", "random")
    assert code == 2
    line = one_line_error(capsys)
    assert "cannot build its network" in line and str(bad) in line
    torch.manual_seed(0)


def test_engine_problems_at_startup_are_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = evaluate(
        "--agent", "random", "--opponent", f"usi:{fairy_stockfish()}",
        "--opponent-option", "Skil Level=-20", "--records", str(tmp_path / "r"),
    )  # fmt: skip
    assert code == 2
    assert "has no option 'Skil Level'" in one_line_error(capsys)
    dead = tmp_path / "dead.sh"
    dead.write_text("#!/bin/sh\nexit 1\n")
    dead.chmod(0o755)
    code = evaluate(
        "--agent", "random", "--opponent", f"usi:{dead}", "--records", str(tmp_path / "r")
    )
    assert code == 2
    assert "failed to start" in one_line_error(capsys)
    assert not (tmp_path / "r").exists()


def test_bad_numbers_and_records_dir_are_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert evaluate("--agent", "random", "--opponent", "random", "--games", "0") == 2
    assert "--games must be >= 1" in one_line_error(capsys)
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("")
    assert evaluate("--agent", "random", "--opponent", "greedy", "--records", str(full)) == 2
    assert "is not empty" in one_line_error(capsys)
    assert evaluate("--agent", "greedy", "--opponent", "random", "--opponent-nodes", "5") == 2
    assert "--opponent-nodes: only for usi: engines, not --opponent random" in one_line_error(
        capsys
    )
    assert evaluate("--agent", "greedy", "--agent-temperature", "1", "--opponent", "random") == 2
    assert "--agent-temperature: only for checkpoints" in one_line_error(capsys)
    assert evaluate("--agent", "rnd", "--opponent", "greedy") == 2
    assert "no such checkpoint or run directory: rnd" in one_line_error(capsys)


def test_checkpoint_agent_and_ratings(tmp_path: Path) -> None:
    run = tmp_path / "run"
    save_tiny_checkpoint(run, 100)
    out = tmp_path / "out.json"
    code = evaluate(
        "--agent", str(run), "--opponent", "random", "--games", "4", "--max-plies", "24",
        "--json", str(out), "--records", str(tmp_path / "r"), "--ratings", str(run),
    )  # fmt: skip
    assert code == 0
    report = json.loads(out.read_text())
    check_schema(report)
    assert report["agent"] == "step_100"
    table = RatingTable.load(run)
    assert table.players == ["step_100", "random"]
    assert table.games_matrix() == [[0, 4], [4, 0]]
    assert table.ratings()["step_100"].rating == pytest.approx(report["elo"], abs=0.05)


def _commands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """Every command line that ends in a parser of its own: ("train",), ("checkpoint", "info")..."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((*prefix, name))
                found += _commands(sub, (*prefix, name))
    return found


@pytest.mark.parametrize("command", _commands(build_parser()), ids=" ".join)
def test_help_prints_single_percent_signs(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    # argparse %-formats help strings only where they name %(prog)s and the like, so a
    # "%%" written out of habit reaches the user as "%%" (ratings' description did).
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "%%" not in text
    if command == ("evaluate",):
        assert "the score with a 95% interval and the Elo difference with a 95% interval." in text
    if command == ("ratings",):
        assert "(random = 0, 95% intervals)" in text


def test_interrupted_before_any_game_finished_names_no_directory(tmp_path: Path) -> None:
    # The engine hangs at its first move; Ctrl-C (SIGINT) arrives while keisei waits for it.
    pids = tmp_path / "pids"
    # once=True: the engine marks the moment it starts hanging (its first "go").
    engine = fault_engine(tmp_path, "hang", 1, once=True, pids=pids)
    hanging = tmp_path / "faulty_hang_1.fired"
    records = tmp_path / "records"
    cmd = [sys.executable, "-m", "keisei", "evaluate", "--agent", f"usi:{engine}",
           "--opponent", "random", "--games", "2", "--records", str(records)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not started(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    while not hanging.exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # handshake done, the first "go" received (the move is due in 6 s)
    ((_, group),) = started(pids)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "keisei evaluate: interrupted; no game finished"
    assert not records.exists()
    assert group_gone(group)  # the engine was stopped
