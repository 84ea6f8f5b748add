"""Elo and Bradley-Terry numbers in closed form (killing the mutants docs/testing.md lists).

A tree of pairings (each pair of players connected by one path) decouples the
Bradley-Terry likelihood: each edge's rating difference is ``400 log10(S / (G - S))``
with the prior's half point added to each side, and the anchor-relative variances add up
along the path, each edge's being ``1 / (C^2 G p (1 - p))`` with ``C = ln 10 / 400``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from keisei.evaluation.ratings import (
    Z95,
    RatingsError,
    RatingTable,
    expected_score,
    fit_bradley_terry,
    match_stats,
    wilson_interval,
)

C = math.log(10.0) / 400.0


def edge(points: float, games: float, prior: float = 1.0) -> tuple[float, float]:
    """(rating difference, its variance) of one pairing, in closed form."""
    s, g = points + prior / 2, games + prior
    p = s / g
    return 400.0 * math.log10(s / (g - s)), 1.0 / (C * C * g * p * (1.0 - p))


def test_expected_score() -> None:
    assert expected_score(0.0) == 0.5
    assert expected_score(400.0) == pytest.approx(10.0 / 11.0, rel=1e-12)
    assert expected_score(-200.0) == pytest.approx(1.0 / (1.0 + math.sqrt(10.0)), rel=1e-12)


def test_wilson_interval() -> None:
    z = Z95
    for score, n in ((0.7, 20), (0.25, 3)):
        centre = (score + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(score * (1 - score) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        assert wilson_interval(score, n) == pytest.approx((centre - half, centre + half))
    assert wilson_interval(0.5, 0) == (0.0, 1.0)
    assert wilson_interval(0.0, 1)[0] == 0.0
    assert wilson_interval(1.0, 1)[1] == 1.0


def test_match_stats_in_closed_form() -> None:
    stats = match_stats(wins=12, losses=5, draws=3)
    elo, var = edge(13.5, 20)
    assert elo == pytest.approx(400 * math.log10(2))  # 14 points of 21 with the prior
    half = Z95 * math.sqrt(var)
    assert (stats.games, stats.wins, stats.losses, stats.draws) == (20, 12, 5, 3)
    assert stats.score == 0.675
    assert stats.score_ci == pytest.approx(wilson_interval(0.675, 20))
    assert stats.elo == pytest.approx(elo, abs=1e-7)
    assert stats.elo_ci == pytest.approx((elo - half, elo + half), abs=1e-6)
    with pytest.raises(ValueError, match=r"^no games$"):
        match_stats(0, 0, 0)


@pytest.mark.parametrize("prior", [1.0, 0.0])
def test_bradley_terry_on_a_tree_of_pairings(prior: float) -> None:
    """Players 0-1 (one game), 1-2 and 1-3 met; 4 met nobody. Anchor 0 (the default)."""
    points = np.zeros((5, 5))
    games = np.zeros((5, 5))

    def meet(i: int, j: int, s_i: float, n: int) -> None:
        points[i, j], points[j, i] = s_i, n - s_i
        games[i, j] = games[j, i] = n

    meet(0, 1, 0.5, 1)  # one draw
    meet(1, 2, 7.0, 10)
    meet(3, 1, 2.5, 6)
    ratings, errors = fit_bradley_terry(points, games, prior_draws=prior)
    d01, v01 = edge(0.5, 1, prior)
    d12, v12 = edge(7.0, 10, prior)
    d31, v31 = edge(2.5, 6, prior)
    want = [0.0, -d01, -d01 - d12, -d01 + d31]
    var = [0.0, v01, v01 + v12, v01 + v31]
    assert ratings[:4] == pytest.approx(want, abs=1e-6)
    assert errors[:4] == pytest.approx(np.sqrt(var), rel=1e-6)
    assert np.isnan(ratings[4]) and np.isnan(errors[4])
    # Another anchor shifts the ratings and measures the errors from it.
    shifted, from_two = fit_bradley_terry(points, games, anchor=2, prior_draws=prior)
    assert shifted[:4] == pytest.approx(np.array(want) - want[2], abs=1e-6)
    assert from_two[:4] == pytest.approx(np.sqrt([v01 + v12, v12, 0.0, v12 + v31]), rel=1e-6)


def test_table_file_in_closed_form(tmp_path: Path) -> None:
    table = RatingTable()
    entry = table.record_evaluation(
        "agent", 768, {"random": {"wins": 12, "losses": 5, "draws": 3}}, {"note": "x"}
    )
    table.add_result("other", "agent", 1, 2, 0)
    elo, var = edge(13.5, 20)
    half = Z95 * math.sqrt(var)
    assert entry["time"].endswith("+00:00")
    assert {k: v for k, v in entry.items() if k != "time"} == {
        "step": 768,
        "player": "agent",
        "rating": round(elo, 2),
        "interval": [round(elo - half, 2), round(elo + half, 2)],
        "opponents": {"random": {"wins": 12, "losses": 5, "draws": 3, "score": 0.675}},
        "note": "x",
    }
    table.save(tmp_path)
    loaded = RatingTable.load(tmp_path)
    data = loaded.to_dict()
    other_d, other_v = edge(1.0, 3)
    other = elo + other_d
    other_half = Z95 * math.sqrt(var + other_v)
    assert {k: v for k, v in data.items() if k != "history"} == {
        "format": "keisei-ratings",
        "version": 1,
        "anchor": "random",
        "prior_draws": 1.0,
        "players": ["agent", "random", "other"],
        "games": [[0, 20, 3], [20, 0, 0], [3, 0, 0]],
        "wins": [[0, 12, 2], [5, 0, 0], [1, 0, 0]],
        "draws": [[0, 3, 0], [3, 0, 0], [0, 0, 0]],
        "ratings": {"agent": round(elo, 2), "random": 0.0, "other": round(other, 2)},
        "intervals": {
            "agent": [round(elo - half, 2), round(elo + half, 2)],
            "random": [0.0, 0.0],
            "other": [round(other - other_half, 2), round(other + other_half, 2)],
        },
        "fixed": {"random": 0.0},  # the anchor; ladder rungs join it (docs/evaluation.md)
    }
    assert data["history"] == [entry]
    assert loaded.ratings()["other"].rating == pytest.approx(other, abs=1e-6)


def test_results_accumulate_and_the_files_prior_is_used() -> None:
    table = RatingTable()
    for _ in range(2):
        table.add_result("a", "b", 1, 2, 1)
    assert (table.wins, table.draws) == ([[0, 2], [4, 0]], [[0, 2], [2, 0]])
    with pytest.raises(ValueError, match=r"^a player cannot be rated against itself: a$"):
        table.add_result("a", "a", 1, 0, 0)
    data = table.to_dict()
    del data["history"]
    no_prior = RatingTable.from_dict({**data, "prior_draws": 0.0})
    assert no_prior.to_dict()["prior_draws"] == 0.0 and no_prior.history == []
    d, _ = edge(5.0, 8, prior=0.0)  # b's 4 wins and 2 draws of 8
    assert no_prior.ratings()["b"].rating == pytest.approx(d, abs=1e-6)  # a is the anchor
    assert RatingTable.from_dict(data).prior_draws == 1.0


def test_a_lone_anchor_and_tiny_intervals() -> None:
    ratings, errors = fit_bradley_terry(np.zeros((2, 2)), np.zeros((2, 2)))
    assert ratings[0] == 0.0 and errors[0] == 0.0 and np.isnan(ratings[1])
    half = Z95 * math.sqrt(0.25 + Z95 * Z95 / 4) / (1 + Z95 * Z95)
    assert wilson_interval(0.5, 1) == pytest.approx((0.5 - half, 0.5 + half))
    # Ten million games: a standard error well under one Elo point.
    stats = match_stats(wins=5_000_000, losses=5_000_000, draws=0)
    _, var = edge(5_000_000, 10_000_000)
    assert stats.elo_ci[1] == pytest.approx(Z95 * math.sqrt(var), rel=1e-6)
    assert stats.elo_ci[1] < 0.3


def test_history_scores_are_rounded_and_none_without_games() -> None:
    table = RatingTable()
    entry = table.record_evaluation(
        "agent",
        None,
        {"random": {"wins": 1, "losses": 2, "draws": 0}, "x": {"wins": 0, "losses": 0, "draws": 0}},
    )
    assert entry["opponents"]["random"]["score"] == 0.3333
    assert entry["opponents"]["x"]["score"] is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"format": "other"}, "{where} is not a keisei ratings file"),
        ({"players": ["a", "a"]}, "{where}: duplicate player names"),
        ({"wins": [[0, 1]]}, "{where}: wins is not a 2x2 matrix"),
        ({"draws": [[0, 1], [1]]}, "{where}: draws is not a 2x2 matrix"),
        ({"wins": None}, "{where} is malformed (TypeError: 'NoneType' object is not iterable)"),
    ],
)
def test_broken_tables_are_refused_by_name(
    tmp_path: Path, change: dict[str, object], problem: str
) -> None:
    table = RatingTable()
    table.add_result("a", "b", 1, 0, 0)
    data = {**table.to_dict(), **change}
    with pytest.raises(RatingsError) as refused:
        RatingTable.from_dict(data)
    assert str(refused.value) == problem.format(where="ratings")
    (tmp_path / "ratings.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(RatingsError) as refused:
        RatingTable.load(tmp_path)
    assert str(refused.value) == problem.format(where=tmp_path / "ratings.json")


def test_the_file_has_no_negative_zero_and_none_for_the_unrated(tmp_path: Path) -> None:
    table = RatingTable()
    table.add_result("a", "random", 50_000, 50_001, 0)  # rated -0.0035: rounds to 0.0
    table.add_result("y", "z", 1, 0, 0)  # no games against the anchor's group
    data = table.to_dict()
    assert json.dumps(data["ratings"]) == '{"a": 0.0, "random": 0.0, "y": null, "z": null}'
    assert data["intervals"]["y"] is None and data["intervals"]["random"] == [0.0, 0.0]
    del data["prior_draws"]
    assert RatingTable.from_dict(data).prior_draws == 1.0
    (tmp_path / "ratings.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(RatingsError) as refused:
        RatingTable.load(tmp_path)
    assert str(refused.value) == f"{tmp_path / 'ratings.json'} is not a keisei ratings file"
