"""Player specs: ``random``, ``greedy``, a checkpoint or run directory, ``usi:PATH[...]``,
``search:CHECKPOINT[playouts=N,...]`` (``keisei.evaluation.search_player``), ``ladder:RUNG``
(a rung of the engine ladder, ``keisei.evaluation.rungs``, named ``ladder:RUNG``).

Specs are parsed and validated (``parse_player`` then ``Player.open``) before any game
starts, so that a missing checkpoint, a checkpoint of another network shape, a
non-executable engine or an unknown engine option is reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from keisei.evaluation.players import (
    CheckpointPlayer,
    GreedyPlayer,
    Player,
    PlayerError,
    RandomPlayer,
)
from keisei.evaluation.rungs import PREFIX as LADDER_PREFIX
from keisei.evaluation.rungs import LadderError, calibrated_rung, rung_spec
from keisei.evaluation.search_player import SearchPlayer, describe_search, parse_search_spec
from keisei.evaluation.usi import EngineSettings, USIPlayer, parse_engine_spec, resolve_engine_path
from keisei.training.checkpoint import load_model, model_path
from keisei.training.rundir import RunDir


@dataclass
class PlayerOptions:
    """Per-player settings from the command line."""

    temperature: float = 0.0  # checkpoint players: 0 = greedy
    device: str = "cpu"
    engine: EngineSettings = field(default_factory=EngineSettings)
    ratings_run_dir: Path | None = None  # name checkpoints of this run "step_N"


def checkpoint_name(path: Path, global_step: int, run_dir: Path | None = None) -> str:
    """``step_N`` for a checkpoint of ``run_dir``, else ``RUN/step_N`` (RUN: its run dir)."""
    path = path.resolve()
    owner = RunDir.of(path).path
    if run_dir is not None and owner == run_dir.resolve():
        return f"step_{global_step}"
    return f"{owner.name}/step_{global_step}"


def load_checkpoint_model(spec: str, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """``keisei.training.checkpoint.load_model`` with its errors turned into PlayerError."""
    path = model_path(spec)
    if not path.exists():
        raise PlayerError(
            f"no such checkpoint or run directory: {spec} (player specs: random, greedy, "
            "bundled, a checkpoint .pt, a run directory, usi:PATH, search:CHECKPOINT)"
        )
    try:
        model, meta = load_model(path, device=device)
    except ValueError as exc:  # CheckpointError is a ValueError
        # One line (torch's shape-mismatch errors span many), of a readable length.
        text = " ".join(str(exc).split())
        raise PlayerError(text if len(text) <= 400 else text[:397] + "...") from None
    return model, meta


def parse_player(
    spec: str, seed: int | np.random.SeedSequence = 0, options: PlayerOptions | None = None
) -> Player:
    """A player from its spec: ``random``, ``greedy``, ``usi:PATH``, a checkpoint or run dir.

    Checkpoints are loaded here and engine paths checked here; engines start in ``open``.
    """
    options = options or PlayerOptions()
    spec = spec.strip()
    if not spec:
        raise PlayerError("empty player spec (use random, greedy, a checkpoint, or usi:PATH)")
    if spec.startswith(LADDER_PREFIX):
        return ladder_player(spec[len(LADDER_PREFIX) :], seed)
    if spec == "random":
        return RandomPlayer(seed)
    if spec == "greedy":
        return GreedyPlayer(seed)
    if spec.startswith("usi:"):
        text, settings = parse_engine_spec(spec[4:], options.engine)
        return USIPlayer(resolve_engine_path(text), settings)
    if spec.startswith("search:"):  # PUCT search over a checkpoint (search_player.py)
        path, search = parse_search_spec(spec[7:])
        model, meta = load_checkpoint_model(path, options.device)
        name = checkpoint_name(
            Path(meta["path"]), int(meta["global_step"]), options.ratings_run_dir
        )
        name = f"search:{name}[{describe_search(search)}]"
        return SearchPlayer(model, name, search, seed=seed, device=options.device)
    model, meta = load_checkpoint_model(spec, options.device)
    name = checkpoint_name(Path(meta["path"]), int(meta["global_step"]), options.ratings_run_dir)
    if options.temperature > 0:
        name += f"@T{options.temperature:g}"
    return CheckpointPlayer(
        model, name, temperature=options.temperature, seed=seed, device=options.device
    )


def ladder_spec(name: str) -> str:
    """The player spec of a calibrated rung (``fs-skill0-n1000``), its engine resolved."""
    try:
        return rung_spec(calibrated_rung(name).name)
    except LadderError as exc:
        raise PlayerError(str(exc)) from None


def ladder_player(name: str, seed: int | np.random.SeedSequence = 0) -> Player:
    """A rung of the ladder as a player named ``ladder:NAME`` (its name in ratings)."""
    player = parse_player(ladder_spec(name), seed)
    player.name = LADDER_PREFIX + name
    return player
