"""The Bradley-Terry fit against hand-computed cases, the ratings file and ``keisei ratings``."""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from keisei.cli.main import main
from keisei.evaluation.ratings import (
    RatingsError,
    RatingTable,
    elo_of_score,
    fit_bradley_terry,
    match_stats,
    wilson_interval,
)


def elo(points: float, games: float) -> float:
    """Hand formula for a player linked to the anchor only: one virtual draw added."""
    p = (points + 0.5) / (games + 1)
    return 400 * math.log10(p / (1 - p))


def test_fit_matches_hand_computed_tree() -> None:
    # A tree of results (no cycles): each edge's MLE difference is its own score.
    t = RatingTable()
    t.add_result("A", "random", wins=3, losses=1, draws=0)  # 3.5 / 5 -> +147.2
    t.add_result("B", "random", wins=4, losses=0, draws=0)  # undefeated: 4.5 / 5 -> +381.7
    t.add_result("C", "random", wins=1, losses=0, draws=1)  # with a draw: 2 / 3 -> +120.4
    t.add_result("D", "A", wins=0, losses=0, draws=6)  # all draws: D = A
    t.add_result("E", "B", wins=2, losses=1, draws=1)  # 3 / 5 above B
    r = {name: v.rating for name, v in t.ratings().items()}
    assert r["random"] == 0.0
    assert r["A"] == pytest.approx(147.1907, abs=1e-3)
    assert r["A"] == pytest.approx(elo(3, 4), abs=1e-6)
    assert r["B"] == pytest.approx(381.6970, abs=1e-3)
    assert r["C"] == pytest.approx(120.4120, abs=1e-3)
    assert r["D"] == pytest.approx(r["A"], abs=1e-6)
    assert r["E"] == pytest.approx(r["B"] + elo(2.5, 4), abs=1e-6)
    assert all(math.isfinite(v) for v in r.values() if v is not None)


def test_standard_error_matches_fisher_information_by_hand() -> None:
    t = RatingTable()
    t.add_result("A", "random", wins=3, losses=1, draws=0)
    a = t.ratings()["A"]
    # se = 1 / sqrt(N p (1 - p)) / c with N = 5 games (incl. the virtual draw), p = 0.7.
    c = math.log(10) / 400
    se = 1 / math.sqrt(5 * 0.7 * 0.3) / c
    assert a.low == pytest.approx(a.rating - 1.959964 * se, abs=1e-3)
    assert a.high == pytest.approx(a.rating + 1.959964 * se, abs=1e-3)
    assert t.ratings()["random"].interval == [0.0, 0.0]


def test_fit_with_a_cycle_solves_the_likelihood_equations() -> None:
    names = ["random", "A", "B", "C"]
    w = np.array([[0, 1, 0, 0], [9, 0, 3, 1], [5, 2, 0, 0], [10, 6, 4, 0]], dtype=float)
    d = np.array([[0, 2, 1, 0], [2, 0, 1, 0], [1, 1, 0, 2], [0, 0, 2, 0]], dtype=float)
    r, se = fit_bradley_terry(w + d / 2, w + w.T + d, anchor=0)
    # Score equations: for every player, points (with half a virtual draw per met opponent)
    # equal expected points; the anchor's equation follows from the others.
    played = (w + w.T + d) > 0
    s = w + d / 2 + 0.5 * played
    g = w + w.T + d + 1.0 * played
    p = 1 / (1 + 10 ** ((r[None, :] - r[:, None]) / 400))
    np.fill_diagonal(p, 0)
    np.testing.assert_allclose((s - g * p).sum(axis=1), 0.0, atol=1e-7)
    assert r[0] == 0 and np.all(np.isfinite(r)) and np.all(se[1:] > 0)
    assert list(np.argsort(r)) == [0, 2, 1, 3]  # random < B < A < C
    assert names[int(np.argmax(r))] == "C"


def test_players_not_connected_to_random_have_no_rating() -> None:
    t = RatingTable()
    t.add_result("A", "random", 2, 0, 0)
    t.add_result("X", "Y", 1, 1, 0)
    fitted = t.ratings()
    assert fitted["X"].rating is None and fitted["X"].interval is None
    assert fitted["A"].rating == pytest.approx(elo(2, 2))


def test_match_stats_by_hand() -> None:
    s = match_stats(wins=20, losses=0, draws=0)
    assert s.score == 1.0
    assert s.score_ci[1] == 1.0
    assert s.score_ci[0] == pytest.approx(0.8389, abs=1e-4)  # Wilson, z = 1.96
    assert s.elo == pytest.approx(400 * math.log10(20.5 / 0.5))  # finite: +645.1
    assert s.elo_ci[0] < s.elo < s.elo_ci[1] < math.inf
    even = match_stats(wins=3, losses=3, draws=4)
    assert even.score == 0.5 and even.elo == pytest.approx(0.0, abs=1e-9)
    assert even.elo_ci[0] == pytest.approx(-even.elo_ci[1])
    assert wilson_interval(0.5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert elo_of_score(0.75) == pytest.approx(190.85, abs=0.01)


def test_ratings_file_round_trip_and_history(tmp_path: Path) -> None:
    t = RatingTable()
    entry = t.record_evaluation(
        "step_100",
        100,
        {
            "random": {"wins": 3, "losses": 1, "draws": 0},
            "greedy": {"wins": 0, "losses": 4, "draws": 0},
        },
    )
    assert entry["step"] == 100 and entry["opponents"]["random"]["score"] == 0.75
    t.save(tmp_path)
    data = json.loads((tmp_path / "ratings.json").read_text())
    assert data["players"] == ["step_100", "random", "greedy"]
    assert data["games"] == [[0, 4, 4], [4, 0, 0], [4, 0, 0]]
    assert data["anchor"] == "random" and data["ratings"]["random"] == 0.0
    assert data["intervals"]["random"] == [0.0, 0.0]
    assert data["history"][0]["player"] == "step_100"
    again = RatingTable.load(tmp_path)
    assert again.to_dict() == data
    (tmp_path / "ratings.json").write_text('{"format": "other"}')
    with pytest.raises(RatingsError, match="not a keisei ratings file"):
        RatingTable.load(tmp_path)
    (tmp_path / "ratings.json").write_bytes(b'{"format": "\xff"}')
    with pytest.raises(RatingsError, match=r"cannot read .*ratings\.json: 'utf-8' codec"):
        RatingTable.load(tmp_path)


def test_concurrent_writers_lose_no_evaluation(tmp_path: Path) -> None:
    """Two writers (say, training's evaluations and `keisei evaluate --ratings`) at once."""

    def writer(name: str) -> None:
        for k in range(12):
            with RatingTable.locked(tmp_path) as table:
                time.sleep(0.001)  # widen the read-modify-write window
                table.record_evaluation(name, k, {"random": {"wins": 1, "losses": 0, "draws": 1}})

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    data = json.loads((tmp_path / "ratings.json").read_text())
    assert sorted((h["player"], h["step"]) for h in data["history"]) == sorted(
        (n, k) for n in ("a", "b") for k in range(12)
    )
    row = data["games"][data["players"].index("random")]
    assert dict(zip(data["players"], row, strict=True)) == {"a": 24, "random": 0, "b": 24}


def test_ratings_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = RatingTable()
    t.record_evaluation("step_100", 100, {"random": {"wins": 3, "losses": 1, "draws": 0}})
    t.record_evaluation("step_200", 200, {"random": {"wins": 4, "losses": 0, "draws": 0}})
    t.save(tmp_path)
    assert main(["ratings", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if "step_" in ln or "random" in ln]
    assert "step_200" in lines[1] and "+382" in lines[1]  # best first (after the title)
    assert "step_100" in lines[2] and "+147" in lines[2]
    assert "2 evaluation(s) during training, last at step 200" in out
    assert main(["ratings", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [row["player"] for row in data["table"]] == ["step_200", "step_100", "random"]
    assert main(["ratings", str(tmp_path / "nothing")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["ratings", str(empty)]) == 2
    assert "has no ratings.json yet" in capsys.readouterr().err


def test_ratings_of_several_runs_and_their_curves_in_one_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rung = "ladder:fs-skill-4-n1000"
    a, b, other = tmp_path / "a", tmp_path / "b", tmp_path / "other"
    for run, wins in ((a, (1, 2)), (b, (3, 4))):
        t = RatingTable()
        for step, w in zip((100, 200), wins, strict=True):
            t.record_evaluation(
                f"step_{step}",
                step,
                {
                    "random": {"wins": 4, "losses": 0, "draws": 0},
                    rung: {"wins": w, "losses": 4 - w, "draws": 0},
                },
            )
        run.mkdir()
        t.save(run)
    t = RatingTable()
    t.record_evaluation("step_100", 100, {"random": {"wins": 4, "losses": 0, "draws": 0}})
    other.mkdir()
    t.save(other)
    figure = tmp_path / "figures" / "curves.png"
    assert main(["ratings", str(a), str(b), "--plot", str(figure)]) == 0
    out = capsys.readouterr().out
    flat = "".join(out.split())  # rich wraps the titles, which name long paths
    assert f"ratingsof{a}(" in flat and f"ratingsof{b}(" in flat
    assert out.count("2 evaluation(s) during training, last at step 200") == 2
    assert f"curves of 2 run(s): {figure}" in out
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Nothing is overwritten; a figure is a PNG; runs on other scales are not drawn together.
    assert main(["ratings", str(a), "--plot", str(figure)]) == 2
    assert "already exists; choose a new file" in capsys.readouterr().err
    assert main(["ratings", str(a), "--plot", str(tmp_path / "c.svg")]) == 2
    assert "the figure is a PNG; name a .png file" in capsys.readouterr().err
    assert main(["ratings", str(a), str(other), "--plot", str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err
    assert f"{other} fixes random = 0, {a} fixes {rung} = 1753, random = 0" in err
    assert not (tmp_path / "c.png").exists()
    assert main(["ratings", str(a), str(a) + "/"]) == 2
    assert "a RUN_DIR is named twice" in capsys.readouterr().err
    assert main(["ratings", str(a), str(b), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["run_dir"] for d in data] == [str(a), str(b)]
    assert [[(r["player"], r["rating"]) for r in d["table"]] for d in data] == [
        [(rung, 1752.9), ("step_200", 1682.5), ("step_100", 1512.3), ("random", 0.0)],
        [("step_200", 1993.7), ("step_100", 1823.4), (rung, 1752.9), ("random", 0.0)],
    ]
