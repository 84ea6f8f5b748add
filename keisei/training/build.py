"""The real parts of a training run, built from a config: device, trainer (with its actor
and its loss), sinks."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import torch

from keisei.config import ConfigError, ModelSection, TrainConfig
from keisei.distributed import Collective, rank_seed
from keisei.game.env import ShogiEnv
from keisei.rl.network import ActorCritic, load_weights
from keisei.rl.ppo import ClippedSurrogate, PPOAgent, SearchCrossEntropy
from keisei.rl.rollout import RolloutBuffer
from keisei.search.gumbel import GumbelSearch
from keisei.training.actors import Actor, GumbelActor, LeagueActor, SamplingActor
from keisei.training.averaging import WeightAverage
from keisei.training.console import ConsoleSink
from keisei.training.hooks import Hook
from keisei.training.league import League
from keisei.training.rundir import RunDir
from keisei.training.sinks import EventLog, Sinks, TensorBoardSink, TextLog, WandbSink
from keisei.training.trainer import RNG, StopRequest, Trainer


def device_for(config: TrainConfig) -> torch.device:
    wanted = config.run.device
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if wanted == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config key 'run.device' is 'cuda' but no CUDA device is available")
    return torch.device(wanted)


def device_hint(config: TrainConfig, device: torch.device) -> str | None:
    """A line for the log when the config leaves the device mostly idle, else None."""
    if device.type != "cuda" or config.model != ModelSection():
        return None
    return (
        "training the default 2x32 network on CUDA, which leaves the GPU mostly idle: "
        "--preset gpu (10x128, bf16, compiled) is the config sized for one GPU "
        "(docs/config.md)"
    )


def check_overlap(config: TrainConfig, world: int) -> None:
    """``env.overlap`` splits each rank's games in two halves: it needs two games per rank,
    and the Gumbel search, which searches all of a rank's games at once, cannot use it."""
    if not config.env.overlap:
        return
    if config.env.num_games // world < 2:
        ranks = f" over {world} processes" if world > 1 else ""
        raise ConfigError(
            f"config key 'env.overlap' needs at least 2 games per process to split in "
            f"halves; env.num_games is {config.env.num_games}{ranks}"
        )
    if config.gumbel.simulations > 0:
        raise ConfigError(
            "config key 'env.overlap' cannot be combined with the Gumbel search "
            f"(gumbel.simulations is {config.gumbel.simulations}): use one or the other"
        )


def check_league(config: TrainConfig) -> None:
    """A league (``league.fraction > 0``) samples the learner's moves as PPO does: the
    Gumbel search, which plays both sides of all of a rank's games, cannot take part."""
    if config.league.fraction > 0 and config.gumbel.simulations > 0:
        raise ConfigError(
            f"config key 'league.fraction' ({config.league.fraction}) cannot be combined with "
            f"the Gumbel search (gumbel.simulations is {config.gumbel.simulations}): use one "
            "or the other"
        )


def check_playout_cap(config: TrainConfig) -> None:
    """Playout cap randomization (``gumbel.full_search_fraction < 1``) alternates two
    Gumbel searches: it needs the search on, and a fast search cheaper than the full one."""
    gumbel = config.gumbel
    if gumbel.full_search_fraction == 1:
        return
    if gumbel.simulations == 0:
        raise ConfigError(
            f"config key 'gumbel.full_search_fraction' ({gumbel.full_search_fraction}) needs "
            "the Gumbel search: set gumbel.simulations > 0"
        )
    if gumbel.fast_simulations >= gumbel.simulations:
        raise ConfigError(
            f"config key 'gumbel.fast_simulations' ({gumbel.fast_simulations}) must be below "
            f"gumbel.simulations ({gumbel.simulations}): the fast search is the cheap one"
        )


def build_trainer(
    config: TrainConfig,
    run_dir: Path,
    sinks: Sinks,
    hooks: list[Hook] | None = None,
    stop: StopRequest | None = None,
    collective: Collective | None = None,
    device: torch.device | None = None,
) -> Trainer:
    """The real parts of a run, built from the config alone (weights seeded by run.seed).

    With ``collective`` (a rank of several processes) this rank gets its share of the
    games, the minibatch and the seeds (``keisei.distributed``); ``device``: this rank's.
    """
    ranks = collective or Collective()
    world = ranks.world_size
    if config.run.torch_threads:
        torch.set_num_threads(config.run.torch_threads)
    torch.manual_seed(config.run.seed)  # the same initial weights on every rank
    device = device or device_for(config)
    model = ActorCritic(config.model)
    check_overlap(config, world)
    check_league(config)
    check_playout_cap(config)
    games = config.env.num_games // world
    env = ShogiEnv(
        games,
        config.env.max_plies,
        config.env.start_sfens or None,
        threads=config.env.threads,
    )
    total_updates = max(1, math.ceil(config.run.total_steps / config.steps_per_update))
    # Each rank's minibatch is its share of the configured one: the gradients averaged
    # over the ranks are those of a minibatch of the configured size.
    ppo = config.ppo.model_copy(update={"minibatch_size": config.ppo.minibatch_size // world})
    # The Gumbel search (gumbel.simulations > 0) chooses the moves and the policy learns
    # toward its improved policies; otherwise moves are sampled and PPO's loss applies.
    searching = config.gumbel.simulations > 0
    loss = SearchCrossEntropy() if searching else ClippedSurrogate(ppo.clip)
    agent = PPOAgent(model, ppo, total_updates, device, ranks, policy_loss=loss)
    league = League(config.league, model, games, device, ranks) if config.league.fraction else None
    average = (
        WeightAverage(model, config.average, config.run.total_steps)
        if config.average.enabled
        else None
    )
    buffer = RolloutBuffer(
        config.rollout.steps_per_game,
        games,
        targets=loss.needs_targets,
        learner=league is not None,
    )
    rng = RNG.seeded(rank_seed(config.run.seed, ranks.rank))
    actor: Actor
    if searching:
        search = GumbelSearch(config.gumbel, agent.outputs, config.env.max_plies)
        fast = None
        if config.gumbel.full_search_fraction < 1:
            cheap = config.gumbel.model_copy(update={"simulations": config.gumbel.fast_simulations})
            fast = GumbelSearch(cheap, agent.outputs, config.env.max_plies)
        actor = GumbelActor(
            agent, search, env, rng.generator, fast, config.gumbel.full_search_fraction
        )
    elif league is not None:
        actor = LeagueActor(agent, rng.generator, league)
    else:
        actor = SamplingActor(agent, rng.generator)
    return Trainer(
        config=config,
        run_dir=run_dir,
        env=env,
        agent=agent,
        buffer=buffer,
        sinks=sinks,
        rng=rng,
        actor=actor,
        league=league,
        average=average,
        hooks=list(hooks or []),
        stop=stop or StopRequest(),
        collective=ranks,
    )


def open_sinks(
    config: TrainConfig,
    run_dir: Path,
    wandb_run_id: str | None,
    resume_step: int | None = None,
) -> tuple[Sinks, str | None]:
    console = config.logging.console
    interactive = console == "rich" or (console == "auto" and sys.stderr.isatty())
    sinks: list[Any] = [
        EventLog(RunDir(run_dir).events),
        TextLog(RunDir(run_dir).log, echo=not interactive),
    ]
    fanout = Sinks(sinks)
    if interactive:
        fanout.sinks.append(ConsoleSink(config))
    if config.logging.tensorboard:
        try:
            fanout.sinks.append(
                TensorBoardSink(
                    run_dir / "tensorboard", None if resume_step is None else resume_step + 1
                )
            )
        except Exception as exc:
            fanout.warning(f"TensorBoard disabled: {exc!r}")
    run_id = wandb_run_id
    if config.wandb.enabled and config.wandb.mode != "disabled":
        try:
            sink = WandbSink(
                run_dir,
                config.model_dump(mode="json"),
                config.wandb.project,
                config.wandb.mode,
                config.wandb.entity,
                config.run.name,
                wandb_run_id,
            )
            fanout.sinks.append(sink)
            run_id = sink.run_id
        except Exception as exc:
            fanout.warning(f"W&B disabled: {exc!r}")
    return fanout, run_id


def start_trainer(
    trainer: Trainer, payload: dict[str, Any] | None, init: dict[str, Any] | None
) -> None:
    """The trainer from its checkpoint, or fresh (with ``--init``'s weights)."""
    if payload is not None:
        trainer.restore(payload)
        return
    trainer.start_fresh()
    if init is not None:
        load_weights(trainer.agent.model, init["model"], init["config"])
        trainer.sinks.info(f"Initialised the network from {init['path']}")
