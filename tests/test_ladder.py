"""The engine ladder: its schedule, its fit on fixed rungs, ``keisei ladder``, ``ladder:``
specs in ``evaluate`` and in a training run's evaluation, and its bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from keisei.cli.main import main
from keisei.evaluation.ladder import Block, Schedule, block_sizes, fit_player
from keisei.evaluation.ratings import RatingTable, fit_bradley_terry
from keisei.evaluation.rungs import Rung, calibrated, calibrated_rung, installed
from tests.conftest import Train, read_events

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

FIVE = [Rung(f"r{k}", 200.0 * k, 200.0 * k - 50, 200.0 * k + 50) for k in range(5)]


def test_schedule_climbs_after_wins_and_refines_where_the_score_crosses() -> None:
    s = Schedule(FIVE, start=2)
    assert s.next_rung() == 2
    s.add(Block(2, 8, 2, 0))
    assert (s.searching, s.next_rung()) == (True, 3)
    s.add(Block(3, 6, 4, 0))
    assert (s.searching, s.next_rung()) == (True, 4)
    s.add(Block(4, 2, 8, 0))  # lost one rung up from a win: the score crosses 0.5 here
    assert s.searching is False
    estimate = s.estimate().rating
    assert estimate is not None and 600 < estimate < 800
    assert s.next_rung() == min(range(5), key=lambda i: abs(FIVE[i].elo - estimate))


def test_schedule_descends_after_losses_and_stops_at_the_ends_or_an_even_score() -> None:
    s = Schedule(FIVE, start=2)
    s.add(Block(2, 1, 9, 0))
    assert s.next_rung() == 1
    s.add(Block(1, 0, 10, 0))
    assert s.next_rung() == 0
    s.add(Block(0, 0, 10, 0))  # below the bottom rung: the search ends there
    assert (s.searching, s.next_rung()) == (False, 0)
    even = Schedule(FIVE, start=2)
    even.add(Block(2, 4, 4, 2))  # exactly 0.5: it stays
    assert (even.searching, even.next_rung()) == (False, 2)
    assert block_sizes(25, 10) == [10, 10, 5]
    with pytest.raises(ValueError, match="start rung 5 is not on a ladder of 5"):
        Schedule(FIVE, start=5)


def test_fit_on_fixed_rungs_and_the_unchanged_anchor_fit() -> None:
    # An even score against a rung is that rung's rating, whatever the rung's value.
    rating = fit_player(FIVE, [Block(3, 5, 5, 0)])
    assert rating.rating == pytest.approx(600.0, abs=1e-6)
    both = fit_player(FIVE, [Block(1, 10, 0, 0), Block(2, 0, 10, 0)])  # between 200 and 400
    assert both.rating == pytest.approx(300.0, abs=1e-6)
    # fixed={anchor: 0} is the old anchored fit.
    w = np.array([[0, 3, 1], [5, 0, 2], [4, 6, 0]], dtype=np.float64)
    old = fit_bradley_terry(w, w + w.T, anchor=0)
    new = fit_bradley_terry(w, w + w.T, fixed={0: 0.0})
    np.testing.assert_allclose(old[0], new[0])
    np.testing.assert_allclose(old[1], new[1])


def test_ratings_table_holds_rungs_at_their_calibrated_ratings() -> None:
    rung = calibrated_rung("fs-skill0-n1000")
    table = RatingTable()
    table.add_result("step_100", rung.player_name, 5, 5, 0)
    assert table.ratings()["step_100"].rating == pytest.approx(rung.elo, abs=1e-6)
    assert table.ratings()[rung.player_name].interval == [rung.elo, rung.elo]
    data = table.to_dict()
    assert data["fixed"] == {rung.player_name: rung.elo}
    # A file of before the ladder (no "fixed") loads and fits as it did: random = 0.
    old = {k: v for k, v in RatingTable(players=[]).to_dict().items() if k != "fixed"}
    old.update(players=["random", "greedy"], wins=[[0, 1], [9, 0]], draws=[[0, 0], [0, 0]])
    loaded = RatingTable.from_dict(old)
    assert loaded.ratings()["random"].rating == 0.0
    assert loaded.ratings()["greedy"].rating == pytest.approx(400 * np.log10(9.5 / 1.5))


def ladder(*args: str) -> int:
    return main(["ladder", *args])


def test_ladder_places_greedy_above_random(tmp_path: Path) -> None:
    # random and greedy are keisei's own seeded players: these games are exact.
    assert (
        ladder(
            "greedy",
            "--games",
            "4",
            "--block",
            "2",
            "--start",
            "random",
            "--records",
            str(tmp_path / "g"),
            "--json",
            str(tmp_path / "g.json"),
        )
        == 0
    )
    up = json.loads((tmp_path / "g.json").read_text())
    assert up["blocks"][0] == {"rung": "random", "wins": 2, "losses": 0, "draws": 0}
    names = [r.name for r in calibrated()]
    assert up["blocks"][1]["rung"] == names[1]  # one rung up after a won block
    assert (
        ladder(
            "random",
            "--games",
            "4",
            "--block",
            "2",
            "--start",
            "greedy",
            "--records",
            str(tmp_path / "r"),
            "--json",
            str(tmp_path / "r.json"),
        )
        == 0
    )
    down = json.loads((tmp_path / "r.json").read_text())
    assert down["blocks"][0] == {"rung": "greedy", "wins": 0, "losses": 2, "draws": 0}
    assert down["blocks"][1]["rung"] == names[names.index("greedy") - 1]
    assert up["elo"] > calibrated_rung("random").elo
    assert down["elo"] < calibrated_rung("greedy").elo
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["0-random", f"1-{names[1]}"]
    assert len(list((tmp_path / "g" / "0-random").glob("*.kif"))) == 2


def test_ladder_spec_in_evaluate(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    code = main(
        [
            "evaluate",
            "--agent",
            "greedy",
            "--opponent",
            "ladder:random",
            "--games",
            "2",
            "--records",
            str(tmp_path / "rec"),
            "--json",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    report = json.loads(out.read_text())
    assert (report["opponent"], report["wins"], report["losses"]) == ("ladder:random", 2, 0)


def test_ladder_rungs_as_training_opponents_are_anchored(train: Train, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    opponents = 'evaluation.opponents=["ladder:random","ladder:fs-skill-20-n1000"]'
    assert (
        train.run(
            run_dir,
            "--total-steps",
            "768",
            "evaluation.enabled=true",
            "evaluation.games=2",
            opponents,
        )
        == 0
    )
    [event] = [e for e in read_events(run_dir) if e["kind"] == "evaluation"]
    assert set(event["scores"]) == {"ladder:random", "ladder:fs-skill-20-n1000"}
    data = json.loads((run_dir / "ratings.json").read_text())
    fs = calibrated_rung("fs-skill-20-n1000")
    assert data["fixed"] == {"ladder:random": 0.0, "ladder:fs-skill-20-n1000": fs.elo}
    assert data["ratings"]["ladder:fs-skill-20-n1000"] == fs.elo


def one_line(capsys: pytest.CaptureFixture[str], command: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"keisei {command}: error: ")
    return err[0]


def test_bad_input_is_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], train: Train
) -> None:
    names = ", ".join(r.name for r in calibrated())
    assert ladder("greedy", "--start", "nope") == 2
    assert one_line(capsys, "ladder") == (
        f"keisei ladder: error: --start: no rung 'nope' on the ladder (rungs: {names})"
    )
    if not installed("gps-d4"):
        assert ladder("greedy", "--start", "gps-d4") == 2
        assert one_line(capsys, "ladder") == (
            "keisei ladder: error: --start: rung 'gps-d4' needs the engine gpsusi, which is "
            "not installed (not on PATH, not in /usr/games)"
        )
    assert ladder("greedy", "--games", "1") == 2
    assert one_line(capsys, "ladder").endswith("--games must be >= 2, got 1")
    assert ladder("greedy", "--block", "3") == 2
    assert one_line(capsys, "ladder").endswith("--block must be even (colours alternate), got 3")
    assert ladder("runs/nope") == 2
    assert "PLAYER: no such checkpoint or run directory: runs/nope" in one_line(capsys, "ladder")
    existing = tmp_path / "out.json"
    existing.write_text("keep")
    assert ladder("greedy", "--json", str(existing)) == 2
    assert one_line(capsys, "ladder").endswith(
        f"--json {existing} already exists; choose a new file (nothing is overwritten)"
    )
    assert existing.read_text() == "keep"
    assert main(["evaluate", "--agent", "greedy", "--opponent", "ladder:nope"]) == 2
    assert one_line(capsys, "evaluate") == (
        f"keisei evaluate: error: --opponent: no rung 'nope' on the ladder (rungs: {names})"
    )
    run_dir = tmp_path / "run"
    assert train.run(run_dir, 'evaluation.opponents=["ladder:nope"]') == 2
    assert one_line(capsys, "train") == (
        "keisei train: error: config key 'evaluation.opponents': evaluation opponent "
        f"'ladder:nope': no rung 'nope' on the ladder (rungs: {names})"
    )
    assert not run_dir.exists()
