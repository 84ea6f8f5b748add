"""Engine options are checked against what the engine declares (type, min, max, var).

With the real Fairy-Stockfish: it declares ``Skill Level type spin default 20 min -20 max
20`` and silently ignores 99 (the match would be labelled ``Skill_Level_99``), and breaks
on ``abc``. Such values are refused before any game (exit 2, one line), in ``keisei
evaluate`` and in the start-up check of a training run's evaluation opponents.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from keisei.cli.main import main
from keisei.evaluation.engine_options import EngineOption
from keisei.evaluation.usi import EngineSettings, USIPlayer
from tests.evalutil import fairy_stockfish

SKILL = "option 'Skill Level' takes an integer from -20 to 20"
BAD_OPTIONS = [
    ("Skill Level=99", f"{SKILL}, got '99'"),
    ("Skill Level=abc", f"{SKILL}, got 'abc'"),
    ("skill level=-21", f"{SKILL}, got '-21'"),
    ("Ponder=yes", "option 'Ponder' takes true or false, got 'yes'"),
    ("Clear Hash=1", "option 'Clear Hash' is a button and takes no value, got '1'"),
    (
        "Protocol=usix",
        "option 'Protocol' takes one of uci, usi, ucci, xboard; got 'usix'",
    ),
]


def engine() -> str:
    return str(Path(fairy_stockfish()).resolve())


@pytest.mark.parametrize(("option", "problem"), BAD_OPTIONS)
def test_evaluate_refuses_a_value_the_engine_does_not_declare(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, problem: str
) -> None:
    records = tmp_path / "records"
    code = main(
        ["evaluate", "--quiet", "--agent", "random", "--opponent", f"usi:{engine()}",
         "--opponent-option", option, "--opponent-nodes", "1", "--games", "1",
         "--max-plies", "1", "--records", str(records)]
    )  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err == f"keisei evaluate: error: engine {engine()}: {problem}\n"
    assert not records.exists()


def test_a_value_in_a_spec_is_checked_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = tmp_path / "records"
    code = main(
        ["evaluate", "--quiet", "--agent", f"usi:{engine()}[Skill Level=99,nodes=10]",
         "--opponent", "random", "--games", "1", "--max-plies", "1", "--records", str(records)]
    )  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err == (
        f"keisei evaluate: error: engine {engine()}: {SKILL}, got '99'\n"
    )
    assert not records.exists()


def test_declared_values_are_accepted() -> None:
    settings = EngineSettings(
        options=(("Skill Level", "-20"), ("Ponder", "false"), ("protocol", "USI")), nodes=10
    )
    player = USIPlayer(engine(), settings)
    player.open()
    try:
        assert player.options["skill level"] == EngineOption("Skill Level", "spin", -20, 20)
        assert player.options["protocol"] == EngineOption(
            "Protocol", "combo", values=("uci", "usi", "ucci", "xboard")
        )
        assert player.options["debug log file"] == EngineOption("Debug Log File", "string")
    finally:
        player.close()


def test_training_refuses_a_bad_evaluation_opponent_option_at_startup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    spec = f"usi:{engine()}[Skill Level=99]"
    code = main(
        ["train", "--preset", "tiny", "--run-dir", str(run), "--total-steps", "64",
         f"evaluation.opponents=['{spec}']"]
    )  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err == (
        f"keisei train: error: config key 'evaluation.opponents': evaluation opponent "
        f"'{spec}': engine {engine()}: {SKILL}, got '99'\n"
    )
    assert not run.exists()
