"""The training-time evaluation hook: ratings.json, the plot, the event, RNG isolation."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from keisei.evaluation.hook import EvaluationHook, pick_past
from keisei.evaluation.plots import curve_data
from keisei.evaluation.ratings import RatingTable
from keisei.training.hooks import HookContext
from keisei.training.state import TrainState
from tests.evalutil import fairy_stockfish, save_tiny_checkpoint, tiny_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def context(
    run_dir: Path,
    step: int,
    model: Any,
    events: list[dict[str, Any]],
    saved: list[str] | None = None,
) -> HookContext:
    """The hook's view of a run; what the hook logs and saves goes to ``saved``."""
    said = saved if saved is not None else []
    return HookContext(
        state=TrainState(global_step=step),
        run_dir=run_dir,
        model=model,
        config=None,
        emit=lambda kind, **fields: events.append({"kind": kind, **fields}),
        checkpoint_dir=run_dir / "checkpoints",
        info=said.append,
        save_checkpoint=lambda status: said.append(f"checkpoint {status}") or run_dir,
        save_best=lambda: said.append("best") or run_dir,
    )


def test_pick_past_spreads_over_the_run() -> None:
    assert pick_past([100, 200, 300, 400, 500], 450, 2) == [100, 400]
    assert pick_past([100, 200, 300, 400, 500], 450, 3) == [100, 300, 400]
    assert pick_past([100, 200], 450, 5) == [100, 200]
    assert pick_past([100, 200], 100, 2) == []
    assert pick_past([100, 200], 450, 0) == []


def test_hook_rates_the_model_and_leaves_the_trainer_rngs_alone(tmp_path: Path) -> None:
    run = tmp_path / "run"
    save_tiny_checkpoint(run, 100)
    save_tiny_checkpoint(run, 200)
    save_tiny_checkpoint(run, 300)  # the current step's own checkpoint: not an opponent
    model = tiny_model(7)
    model.train()
    hook = EvaluationHook(
        every_steps=100, games=2, past_checkpoints=2, max_plies=20, seed=5, records=True
    )
    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    events: list[dict[str, Any]] = []
    saved: list[str] = []
    hook.run(context(run, 300, model, events, saved))
    assert torch.equal(torch.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1])
    assert random.getstate() == before[2]
    assert model.training  # restored after acting in eval mode

    assert len(events) == 1
    event = events[0]
    assert event["kind"] == "evaluation" and event["step"] == 300
    # The first rated evaluation is the best so far: the hook saves best.pt through ctx.
    assert saved[1:] == ["best", f"New best checkpoint (rating {event['rating']:.1f}) at step 300"]
    low, high = event["rating_low"], event["rating_high"]
    assert saved[0].startswith(
        f"Evaluation at step 300: rating {event['rating']:+.0f} ({low:+.0f} .. {high:+.0f}); "
        f"scores random {event['scores']['random']:.3f}, greedy {event['scores']['greedy']:.3f}"
    )
    assert event["player"] == "step_300"
    assert set(event["scores"]) == {"random", "greedy", "step_100", "step_200"}
    assert event["score_vs_random"] == event["scores"]["random"]
    assert event["score_vs_greedy"] == event["scores"]["greedy"]
    assert event["score_vs_past"] == pytest.approx(
        (event["scores"]["step_100"] + event["scores"]["step_200"]) / 2, abs=1e-4
    )
    assert event["games"] == 8
    assert isinstance(event["rating"], float)
    assert event["rating_low"] < event["rating"] < event["rating_high"]

    data = json.loads((run / "ratings.json").read_text())
    assert data["players"] == ["step_300", "random", "greedy", "step_100", "step_200"]
    assert data["games"][0] == [0, 2, 2, 2, 2]
    assert data["ratings"]["random"] == 0.0
    assert data["ratings"]["step_300"] == event["rating"]
    assert [h["step"] for h in data["history"]] == [300]
    png = (run / "learning_curve.png").read_bytes()
    assert png.startswith(b"\x89PNG")

    # Same seed and step: same games. A later evaluation adds to the same table.
    events2: list[dict[str, Any]] = []
    hook.run(context(tmp_path / "other", 300, model, events2))
    assert events2[0]["scores"] == {k: event["scores"][k] for k in ("random", "greedy")}
    for opponent in ("random", "greedy"):
        mine = run / "evaluations" / "step_300" / opponent
        other = tmp_path / "other" / "evaluations" / "step_300" / opponent
        assert sorted(p.name for p in mine.iterdir()) == sorted(p.name for p in other.iterdir())
        for path in mine.glob("*.usi"):
            assert path.read_text() == (other / path.name).read_text()
    save_tiny_checkpoint(run, 400, model)
    hook.run(context(run, 500, tiny_model(8), events))
    table = RatingTable.load(run)
    assert [h["step"] for h in table.history] == [300, 500]
    assert set(events[1]["scores"]) == {"random", "greedy", "step_100", "step_400"}
    curve = curve_data(table)
    assert curve["steps"] == [300, 500]
    assert set(curve["scores"]) == {"random", "greedy"}
    assert curve["baselines"]["random"] == 0.0


def test_hook_rejects_bad_opponent_specs_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        EvaluationHook(every_steps=10, opponents=["random", f"usi:{tmp_path}/none"])
    with pytest.raises(ValueError, match="no such checkpoint"):
        EvaluationHook(every_steps=10, opponents=[str(tmp_path / "x.pt")])


def test_hook_plays_engines_at_fixed_settings_and_survives_a_dead_one(tmp_path: Path) -> None:
    dead = tmp_path / "dead.sh"
    dead.write_text("#!/bin/sh\nexit 1\n")
    dead.chmod(0o755)
    engine = f"usi:{fairy_stockfish()}[Skill Level=-20,nodes=300]"
    hook = EvaluationHook(
        every_steps=10,
        games=2,
        opponents=["random", engine, f"usi:{dead}"],
        past_checkpoints=0,
        max_plies=16,
        plot=False,
    )
    events: list[dict[str, Any]] = []
    hook.run(context(tmp_path / "run", 10, tiny_model(0), events))
    event = events[0]
    name = "usi:fairy-stockfish[Skill Level=-20,nodes=300]"
    assert set(event["scores"]) == {"random", name}
    assert "score_vs_usi_fairy_stockfish_Skill_Level_20_nodes_300" in event
    assert len(event["errors"]) == 1 and "dead.sh" in event["errors"][0]
    assert "failed to start" in event["errors"][0]
    table = RatingTable.load(tmp_path / "run")
    assert table.players == ["step_10", "random", name]
    assert not (tmp_path / "run" / "learning_curve.png").exists()


def test_hook_with_no_playable_opponent_reports_and_writes_nothing(tmp_path: Path) -> None:
    dead = tmp_path / "dead.sh"
    dead.write_text("#!/bin/sh\nexit 1\n")
    dead.chmod(0o755)
    hook = EvaluationHook(every_steps=10, games=2, opponents=[f"usi:{dead}"], past_checkpoints=0)
    events: list[dict[str, Any]] = []
    hook.run(context(tmp_path / "run", 10, tiny_model(0), events))
    assert events[0]["rating"] is None and events[0]["games"] == 0
    assert len(events[0]["errors"]) == 1
    assert not (tmp_path / "run" / "ratings.json").exists()


def test_search_opponents_are_checked_at_startup(tmp_path: Path) -> None:
    path = save_tiny_checkpoint(tmp_path / "run", 100)
    hook = EvaluationHook(every_steps=10, opponents=[f"search:{path}[playouts=8]"])
    assert hook.opponents == [f"search:{path}[playouts=8]"]
    missing = f"search:{tmp_path / 'nothing.pt'}[playouts=8]"
    with pytest.raises(ValueError, match="no such checkpoint"):
        EvaluationHook(every_steps=10, opponents=[missing])


def test_damaged_ratings_file_is_reported_and_training_goes_on(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "ratings.json").write_text("{not json")
    hook = EvaluationHook(every_steps=10, games=2, opponents=["random"], past_checkpoints=0)
    events: list[dict[str, Any]] = []
    saved: list[str] = []
    hook.run(context(run, 10, tiny_model(0), events, saved))
    event = events[0]
    assert event["rating"] is None and event["games"] == 2
    assert len(event["errors"]) == 1
    assert event["errors"][0].startswith(f"ratings: cannot read {run / 'ratings.json'}: ")
    assert saved == [
        f"Evaluation at step 10: not rated; scores random {event['scores']['random']:.3f} "
        f"(2 games, {event['seconds']} s); errors: {event['errors'][0]}"
    ]  # no best.pt without a rating
    assert (run / "ratings.json").read_text() == "{not json"  # left as it was
