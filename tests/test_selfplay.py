"""``keisei selfplay``: records, summary.json, determinism and bad input, through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import cshogi
import pytest
from cshogi import CSA, KIF

from keisei.cli.main import main
from keisei.game.env import REASONS

GAMES = 6
# The CSA special move written for each reason (keisei.game.records; tests/test_records.py
# reads every ending back). Perpetual check names the side that lost.
CSA_END = {
    "checkmate": "%TSUMI",
    "no_legal_moves": "%TSUMI",
    "repetition": "%SENNICHITE",
    "nyugyoku": "%KACHI",
    "max_plies": "%HIKIWAKE",
}


def csa_end(game: dict[str, Any]) -> str:
    if game["reason"] == "perpetual_check":
        return "%+ILLEGAL_ACTION" if game["result"] == "white" else "%-ILLEGAL_ACTION"
    return CSA_END[game["reason"]]


def selfplay(out: Path, *extra: str, games: int = GAMES, seed: int = 7) -> int:
    return main(
        ["selfplay", "--agent", "random", "--games", str(games), "--seed", str(seed),
         "--out", str(out), *extra]
    )  # fmt: skip


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One in-process run, shared by the checks on its output."""
    out = tmp_path_factory.mktemp("selfplay") / "out"
    assert selfplay(out) == 0
    return out, json.loads((out / "summary.json").read_text(encoding="utf-8"))


def replay_usi(text: str) -> list[int]:
    words = text.split()
    assert words[0] == "startpos" and (len(words) == 1 or words[1] == "moves")
    board = cshogi.Board()
    moves = []
    for usi in words[2:]:
        move = board.move_from_usi(usi)
        assert board.is_legal(move), usi
        board.push(move)
        moves.append(move)
    return moves


def test_summary_schema_and_totals(played: tuple[Path, dict[str, Any]]) -> None:
    _out, summary = played
    assert (summary["agent"], summary["seed"], summary["max_plies"]) == ("random", 7, 512)
    games = summary["games"]
    assert [g["index"] for g in games] == list(range(GAMES))
    for g in games:
        assert g["result"] in ("black", "white", "draw")
        assert g["winner"] == (None if g["result"] == "draw" else g["result"])
        assert g["reason"] in REASONS
        assert isinstance(g["plies"], int) and 1 <= g["plies"] <= 512
        # Draw exactly for the drawing reasons.
        assert (g["result"] == "draw") == (g["reason"] in ("repetition", "max_plies"))
        if g["reason"] == "max_plies":
            assert g["plies"] == 512
    totals = summary["totals"]
    assert totals["games"] == GAMES
    assert totals["black"] + totals["white"] + totals["draw"] == GAMES
    for result in ("black", "white", "draw"):
        assert totals[result] == sum(g["result"] == result for g in games)
    assert totals["reasons"] == {r: sum(g["reason"] == r for g in games) for r in REASONS}
    assert totals["plies"] == sum(g["plies"] for g in games)


def test_one_csa_kif_and_usi_record_per_game(played: tuple[Path, dict[str, Any]]) -> None:
    out, summary = played
    names = sorted(p.name for p in out.iterdir())
    expected = {"summary.json"}
    for g in summary["games"]:
        stem = f"game_{g['index']}"
        assert (g["csa"], g["kif"], g["usi"]) == (f"{stem}.csa", f"{stem}.kif", f"{stem}.usi")
        expected |= {g["csa"], g["kif"], g["usi"]}
    assert names == sorted(expected)


def test_records_reparse_and_replay_to_the_same_moves(played: tuple[Path, dict[str, Any]]) -> None:
    out, summary = played
    for g in summary["games"]:
        usi_moves = replay_usi((out / g["usi"]).read_text(encoding="ascii"))
        assert len(usi_moves) == g["plies"]

        (csa,) = CSA.Parser.parse_file(str(out / g["csa"]))
        assert csa.sfen == cshogi.STARTING_SFEN
        assert csa.names == ["random", "random"]
        assert csa.endgame == csa_end(g)
        assert list(csa.moves) == usi_moves

        kif = KIF.Parser.parse_file(str(out / g["kif"]))
        assert kif.sfen == cshogi.STARTING_SFEN
        assert list(kif.moves) == usi_moves

        # The replayed final position is what the summary says.
        board = cshogi.Board()
        for move in csa.moves:
            board.push(move)
        if g["reason"] in ("checkmate", "no_legal_moves"):
            assert len(board.legal_moves) == 0
            assert g["result"] == ("white", "black")[board.turn]  # the side to move lost
        elif g["reason"] == "nyugyoku":
            assert board.is_nyugyoku() and g["result"] == ("black", "white")[board.turn]


def test_same_seed_same_games_other_seed_other_games(
    played: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, summary = played
    assert selfplay(tmp_path / "again") == 0
    again = json.loads((tmp_path / "again" / "summary.json").read_text(encoding="utf-8"))
    assert again == summary
    for g in summary["games"]:
        for key in ("csa", "kif", "usi"):
            assert (tmp_path / "again" / g[key]).read_bytes() == (out / g[key]).read_bytes()
    assert selfplay(tmp_path / "other", seed=8) == 0
    other = json.loads((tmp_path / "other" / "summary.json").read_text(encoding="utf-8"))
    assert [(g["plies"], g["reason"]) for g in other["games"]] != [
        (g["plies"], g["reason"]) for g in summary["games"]
    ]


def test_max_plies_option(tmp_path: Path) -> None:
    assert selfplay(tmp_path / "short", "--max-plies", "9", games=3) == 0
    summary = json.loads((tmp_path / "short" / "summary.json").read_text(encoding="utf-8"))
    assert summary["max_plies"] == 9
    assert all(g["plies"] <= 9 for g in summary["games"])
    assert [g["reason"] for g in summary["games"]].count("max_plies") == sum(
        g["plies"] == 9 for g in summary["games"]
    )
    for g in summary["games"]:
        (csa,) = CSA.Parser.parse_file(str(tmp_path / "short" / g["csa"]))
        assert len(csa.moves) == g["plies"] and csa.endgame == csa_end(g)


def test_as_a_real_subprocess(tmp_path: Path) -> None:
    out = tmp_path / "sub"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "keisei", "selfplay", "--agent", "random", "--games", "2",
           "--seed", "3", "--out", str(out)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    totals = summary["totals"]
    assert done.stdout.strip().splitlines() == [
        f"2 games: black {totals['black']}, white {totals['white']}, draw {totals['draw']}; "
        f"records and summary.json in {out}"
    ]
    # The same run in-process writes the same summary.
    assert selfplay(tmp_path / "inproc", games=2, seed=3) == 0
    assert json.loads((tmp_path / "inproc" / "summary.json").read_text()) == summary


def test_bad_input_in_a_subprocess_is_exit_2_with_one_line(tmp_path: Path) -> None:
    out = tmp_path / "never"
    cmd = [sys.executable, "-m", "keisei", "selfplay", "--games", "0", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "keisei selfplay: error: --games must be >= 1, got 0"
    ]
    assert done.stdout == "" and not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--games", "0"], "--games must be >= 1, got 0"),
        (["--games", "-3"], "--games must be >= 1, got -3"),
        (["--max-plies", "0"], "--max-plies must be >= 1, got 0"),
    ],
)
def test_bad_numbers_are_exit_2_and_create_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "never"
    code = main(["selfplay", "--seed", "1", "--out", str(out), *args])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"keisei selfplay: error: {message}"]
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []


def test_out_pointing_at_a_file_is_exit_2_and_leaves_it_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("keep me\n", encoding="utf-8")
    assert selfplay(target, games=1) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"keisei selfplay: error: --out {target} exists and is not a directory"]
    assert target.read_text(encoding="utf-8") == "keep me\n"
    assert list(tmp_path.iterdir()) == [target]


def test_out_with_a_previous_summary_is_refused(
    played: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = played
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert selfplay(out, seed=99) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"keisei selfplay: error: --out {out} is not empty; choose a new directory "
        "(nothing is overwritten)"
    ]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["selfplay", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--agent", "--games", "--seed", "--max-plies", "--out"):
        assert option in text
