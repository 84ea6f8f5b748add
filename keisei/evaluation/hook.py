"""Periodic evaluation during training (a ``keisei.training.hooks.Hook``).

Every ``every_steps`` the current model (greedy) plays ``games`` games against each fixed
opponent (``random``, ``greedy``, or any player spec, e.g. an engine at fixed settings:
``usi:/usr/games/fairy-stockfish[Skill Level=-20,nodes=3000]``, or a rung of the engine
ladder, ``ladder:fs-skill0-n1000``, which ``ratings.json`` holds at its calibrated rating so
that every run's curve is on the ladder's scale) and against up to
``past_checkpoints`` earlier checkpoints of the run (evenly spaced over those kept, always
including the newest one before the current step). Only periodic checkpoints (steps that
are multiples of ``checkpoint_every``) are past opponents: one written on an interrupt, a
failure or at the end of a run exists in some runs and not in others of the same config,
and would make the ratings of an interrupted and resumed run differ from an uninterrupted
one's. The results go into
``RUN_DIR/ratings.json`` (the model is rated as ``step_<global_step>``), the learning
curve ``RUN_DIR/learning_curve.png`` is redrawn, and one ``evaluation`` event is emitted.

Randomness: every random choice comes from generators seeded by (seed, global_step); the
trainer's generators (torch, numpy, python) are never drawn from. Loading an earlier
checkpoint builds a network, whose initializer draws from torch's global generator, so it
runs inside ``torch.random.fork_rng``.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
import torch

from keisei.config import TrainConfig
from keisei.evaluation.match import play_match
from keisei.evaluation.players import CheckpointPlayer, Player, PlayerError
from keisei.evaluation.plots import PLOT_FILE, plot_learning_curve
from keisei.evaluation.ratings import RatingsError, RatingTable
from keisei.evaluation.rungs import PREFIX as LADDER_PREFIX
from keisei.evaluation.search_player import parse_search_spec
from keisei.evaluation.specs import (
    PlayerOptions,
    ladder_spec,
    load_checkpoint_model,
    parse_player,
)
from keisei.evaluation.usi import (
    EngineSettings,
    USIPlayer,
    parse_engine_spec,
    resolve_engine_path,
)
from keisei.rl.network import model_device
from keisei.training.checkpoint import list_checkpoints, model_path, step_of
from keisei.training.hooks import HookContext
from keisei.training.rundir import RunDir


def _key(name: str) -> str:
    return re.sub(r"\W+", "_", name).strip("_")


def _summary(fields: dict[str, Any]) -> str:
    """One log line: the rating with its interval, the scores, what went wrong."""
    rating = fields["rating"]
    head = f"Evaluation at step {fields['step']}: "
    if rating is None:
        head += "not rated"
    elif fields["rating_low"] is None:
        head += f"rating {rating:+.0f}"
    else:
        head += (
            f"rating {rating:+.0f} ({fields['rating_low']:+.0f} .. {fields['rating_high']:+.0f})"
        )
    scores = ", ".join(f"{name} {score:.3f}" for name, score in fields["scores"].items())
    line = f"{head}; scores {scores or 'none'} ({fields['games']} games, {fields['seconds']} s)"
    if fields.get("errors"):
        line += "; errors: " + "; ".join(fields["errors"])
    return line


def pick_past(steps: list[int], current: int, k: int) -> list[int]:
    """Up to ``k`` of the checkpoint steps before ``current``: evenly spaced, newest included."""
    earlier = sorted(s for s in steps if s < current)
    if k <= 0 or not earlier:
        return []
    if len(earlier) <= k:
        return earlier
    idx = np.unique(np.round(np.linspace(len(earlier) - 1, 0, k)).astype(int))
    return [earlier[i] for i in sorted(idx.tolist())]


class EvaluationHook:
    name = "evaluation"

    @classmethod
    def of(cls, config: TrainConfig) -> EvaluationHook:
        """The in-run evaluation a config's ``evaluation:`` section asks for."""
        ev = config.evaluation
        return cls(
            every_steps=ev.every_steps,
            games=ev.games,
            opponents=list(ev.opponents),
            past_checkpoints=ev.past_checkpoints,
            max_plies=ev.max_plies,
            seed=config.run.seed,
            checkpoint_every=config.checkpoint.every_steps,
        )

    def __init__(
        self,
        every_steps: int,
        games: int = 20,
        opponents: list[str] | None = None,
        past_checkpoints: int = 2,
        max_plies: int = 256,
        seed: int = 0,
        opening_plies: int = 4,
        records: bool = False,
        device: str | None = None,
        plot: bool = True,
        checkpoint_every: int = 1,
    ) -> None:
        if games < 1:
            raise ValueError(f"evaluation games must be >= 1, got {games}")
        if max_plies < 1:
            raise ValueError(f"evaluation max_plies must be >= 1, got {max_plies}")
        self.every_steps = every_steps
        self.games = games
        self.opponents = list(opponents) if opponents is not None else ["random", "greedy"]
        self.past_checkpoints = past_checkpoints
        self.max_plies = max_plies
        self.seed = seed
        self.opening_plies = opening_plies
        self.records = records
        self.device = device
        self.plot = plot
        self.checkpoint_every = checkpoint_every  # past opponents: steps that are multiples
        self.last: dict[str, Any] | None = None  # the last event's fields
        # Check what can be checked now, so that a bad spec fails at startup, not hours in.
        for spec in self.opponents:
            engine = spec
            if spec.startswith(LADDER_PREFIX):  # a rung: its engine is checked as usi: is
                try:
                    engine = ladder_spec(spec[len(LADDER_PREFIX) :])
                except PlayerError as exc:
                    raise ValueError(f"evaluation opponent {spec!r}: {exc}") from None
            if engine in ("random", "greedy"):
                continue
            if engine.startswith("usi:"):
                try:
                    path, settings = parse_engine_spec(engine[4:], EngineSettings())
                    # Its options against what it declares (it starts for its "usi").
                    USIPlayer(resolve_engine_path(path), settings).check_options()
                except PlayerError as exc:
                    raise ValueError(f"evaluation opponent {spec!r}: {exc}") from None
            elif spec.startswith("search:"):
                try:
                    path = parse_search_spec(spec[7:])[0]
                except PlayerError as exc:
                    raise ValueError(f"evaluation opponent {spec!r}: {exc}") from None
                if not model_path(path).exists():
                    raise ValueError(f"evaluation opponent {spec!r}: no such checkpoint")
            elif spec not in ("random", "greedy") and not model_path(spec).exists():
                raise ValueError(f"evaluation opponent {spec!r}: no such checkpoint")

    def _past_players(self, ctx: HookContext, step: int, device: str) -> list[Player]:
        paths = {
            step_of(p): p
            for p in list_checkpoints(ctx.run_dir)
            if step_of(p) % self.checkpoint_every == 0
        }
        players: list[Player] = []
        for s in pick_past(list(paths), step, self.past_checkpoints):
            try:
                with torch.random.fork_rng(devices=[]):
                    model, meta = load_checkpoint_model(str(paths[s]), device)
            except PlayerError:
                continue  # a corrupt or foreign checkpoint is skipped, not fatal
            players.append(CheckpointPlayer(model, f"step_{meta['global_step']}", device=device))
        return players

    def run(self, ctx: HookContext) -> None:
        started = time.perf_counter()
        step = int(ctx.state.global_step)
        device = self.device or model_device(ctx.model)
        seeds = np.random.SeedSequence([self.seed, step]).spawn(len(self.opponents) + 1)
        me = CheckpointPlayer(ctx.model, f"step_{step}", device=device)
        opponents: list[Player] = []
        errors: list[str] = []
        for spec, ss in zip(self.opponents, seeds[1:], strict=True):
            try:
                with torch.random.fork_rng(devices=[]):
                    opponents.append(parse_player(spec, ss, PlayerOptions(device=device)))
            except PlayerError as exc:
                errors.append(f"{spec}: {exc}")
        opponents += self._past_players(ctx, step, device)
        match_seeds = seeds[0].generate_state(len(opponents)).tolist()
        results: dict[str, dict[str, int]] = {}
        scores: dict[str, float] = {}
        me.open()
        try:
            for opponent, match_seed in zip(opponents, match_seeds, strict=True):
                if opponent.name == me.name:
                    continue
                records = None
                if self.records:
                    records = RunDir(ctx.run_dir).evaluation(step) / _key(opponent.name)
                try:
                    opponent.open()
                    result = play_match(
                        me,
                        opponent,
                        self.games,
                        seed=int(match_seed),
                        max_plies=self.max_plies,
                        opening_plies=self.opening_plies,
                        records_dir=records,
                    )
                except PlayerError as exc:
                    errors.append(f"{opponent.name}: {exc}")
                    continue
                finally:
                    opponent.close()
                results[opponent.name] = {
                    "wins": result.wins,
                    "losses": result.losses,
                    "draws": result.draws,
                }
                scores[opponent.name] = round(result.score, 4)
        finally:
            me.close()
        seconds = round(time.perf_counter() - started, 2)
        entry: dict[str, Any] = {"rating": None, "interval": None}
        table: RatingTable | None = None
        if results:  # nothing to rate if every opponent failed
            try:
                with RatingTable.locked(ctx.run_dir) as table:
                    entry = table.record_evaluation(me.name, step, results, {"seconds": seconds})
            except RatingsError as exc:  # e.g. a damaged ratings.json: report, train on
                table = None
                errors.append(f"ratings: {exc}")
        if table is not None and self.plot:
            try:
                plot_learning_curve(table, ctx.run_dir / PLOT_FILE)
            except Exception as exc:  # a figure is not worth stopping training for
                errors.append(f"learning curve: {type(exc).__name__}: {exc}")
        fields: dict[str, Any] = {
            "step": step,
            "player": me.name,
            "rating": entry["rating"],
            "rating_low": entry["interval"][0] if entry["interval"] else None,
            "rating_high": entry["interval"][1] if entry["interval"] else None,
        }
        past = []
        for name, score in scores.items():
            if name.startswith("step_"):
                past.append(score)
            else:
                fields[f"score_vs_{_key(name)}"] = score
        if past:
            fields["score_vs_past"] = round(float(np.mean(past)), 4)
        fields.update(
            games=sum(sum(r.values()) for r in results.values()),
            scores=scores,
            seconds=seconds,
        )
        if errors:
            fields["errors"] = errors
        self.last = fields
        ctx.emit("evaluation", **fields)
        ctx.info(_summary(fields))
        rating = entry["rating"]
        best = ctx.state.best_score
        if rating is not None and (best is None or rating > best):
            # Like Stable-Baselines3's EvalCallback: the best-rated model so far is kept.
            ctx.state.best_score = float(rating)
            ctx.save_best()
            ctx.info(f"New best checkpoint (rating {rating:.1f}) at step {step}")
