"""keisei/training/build.py by itself: the parts a config builds (before any ply is
played), the combinations it refuses, and the sinks it opens.

Tiny preset, no training: each case is milliseconds (the fast subset that mutation testing
runs on the module). The same refusals through ``keisei train`` are in test_bad_input.py,
the parts at work in test_train.py.
"""

from __future__ import annotations

import os
import pty
import sys
import time
from pathlib import Path

import pytest
import torch

from keisei.config import ConfigError, TrainConfig, load_config
from keisei.distributed import Collective
from keisei.rl.network import ActorCritic
from keisei.rl.ppo import ClippedSurrogate, SearchCrossEntropy
from keisei.training.actors import GumbelActor, LeagueActor, SamplingActor
from keisei.training.build import (
    build_trainer,
    check_league,
    check_overlap,
    check_playout_cap,
    device_for,
    device_hint,
    open_sinks,
    start_trainer,
)
from keisei.training.console import ConsoleSink
from keisei.training.hooks import CheckpointHook
from keisei.training.sinks import EventLog, Sinks, TensorBoardSink, TextLog, WandbSink
from keisei.training.trainer import StopRequest, Trainer
from tests.tbutil import wait_past

PLAIN = ("logging.console=plain", "logging.tensorboard=false")  # no live view, no TensorBoard


def tiny(*overrides: str) -> TrainConfig:
    return load_config("tiny", overrides=list(overrides))


def built(config: TrainConfig, tmp_path: Path) -> Trainer:
    threads = torch.get_num_threads()
    try:
        return build_trainer(config, tmp_path / "run", Sinks([]))
    finally:
        torch.set_num_threads(threads)


def test_the_parts_of_a_plain_run(tmp_path: Path) -> None:
    config = tiny(
        "run.seed=5", "run.total_steps=1000", "env.max_plies=40", "env.threads=2",
        "ppo.minibatch_size=32", "env.start_sfens=[\"4k4/9/9/9/9/9/9/9/4K4 b G 1\"]",
    )  # fmt: skip
    trainer = built(config, tmp_path)
    assert (trainer.config, trainer.run_dir) == (config, tmp_path / "run")
    assert (trainer.env.num_games, trainer.env.max_plies, trainer.env.threads) == (4, 40, 2)
    assert trainer.pipeline.slices == [slice(0, 4)]  # no overlap: one batch of games
    step = trainer.env.reset(0)
    assert trainer.env.boards()[0].sfen() == "4k4/9/9/9/9/9/9/9/4K4 b G 1"
    assert step.plies.tolist() == [0, 0, 0, 0]
    assert (trainer.buffer.steps, trainer.buffer.envs) == (16, 4)
    assert trainer.buffer.targets is None and trainer.buffer.learner is None
    assert isinstance(trainer.actor, SamplingActor) and trainer.league is None
    assert trainer.actor.generator is trainer.rng.generator
    assert trainer.actor.agent is trainer.agent
    loss = trainer.agent.policy_loss
    assert isinstance(loss, ClippedSurrogate) and loss.clip == config.ppo.clip
    assert trainer.agent.cfg == config.ppo  # one process: the whole minibatch
    assert type(trainer.agent.cfg.minibatch_size) is int  # a count of rows, not 32.0
    assert trainer.agent.device == torch.device("cpu")
    # 1000 plies of 64 per update: 16 updates, the linear schedule's length.
    factor = trainer.agent.scheduler.lr_lambdas[0]
    assert [factor(u) for u in (0, 15, 16)] == [1.0, 1.0, 1.0]  # constant by default
    linear = built(tiny("run.total_steps=1000", "ppo.lr_schedule=linear"), tmp_path)
    assert linear.agent.scheduler.lr_lambdas[0](8) == pytest.approx(1 - 8 / 16)
    # Fewer plies than one update's: still one update, the schedule's whole length.
    short = built(tiny("run.total_steps=10", "ppo.lr_schedule=linear"), tmp_path)
    assert short.agent.scheduler.lr_lambdas[0](1) == 0.0
    # Weights seeded by run.seed, the generator by the rank's seed (rank 0: the seed).
    torch.manual_seed(5)
    for name, tensor in ActorCritic(config.model).state_dict().items():
        assert torch.equal(trainer.agent.model.state_dict()[name], tensor), name
    assert torch.equal(
        trainer.rng.generator.get_state(), torch.Generator().manual_seed(5).get_state()
    )
    assert (trainer.hooks, trainer.stop.signum) == ([], None)


def test_the_trainer_gets_the_parts_it_is_given(tmp_path: Path) -> None:
    sinks, hook, stop, ranks = Sinks([]), CheckpointHook(64), StopRequest(), Collective()
    threads = torch.get_num_threads()
    try:
        config = tiny("env.overlap=true")
        trainer = build_trainer(config, tmp_path / "run", sinks, [hook], stop, ranks)
    finally:
        torch.set_num_threads(threads)
    assert trainer.sinks is sinks and trainer.hooks == [hook] and trainer.stop is stop
    assert trainer.collective is ranks and trainer.agent.collective is ranks
    assert trainer.pipeline.slices == [slice(0, 2), slice(2, 4)]  # overlap: two halves


def test_a_run_sets_its_torch_threads(tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    try:
        build_trainer(tiny("run.torch_threads=2"), tmp_path / "a", Sinks([]))
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        build_trainer(tiny("run.torch_threads=0"), tmp_path / "b", Sinks([]))  # 0: left alone
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)


def test_the_search_and_the_league_choose_the_actor_and_the_rollout(tmp_path: Path) -> None:
    search = built(tiny("gumbel.simulations=4", "gumbel.considered=4"), tmp_path)
    assert isinstance(search.actor, GumbelActor) and search.actor.fast is None
    assert isinstance(search.agent.policy_loss, SearchCrossEntropy)
    assert search.buffer.targets is not None and search.buffer.learner is None
    assert (search.actor.search.cfg.simulations, search.actor.full_fraction) == (4, 1.0)
    assert search.actor.env is search.env and search.actor.generator is search.rng.generator
    assert search.actor.agent is search.agent
    assert search.actor.search.forward == search.agent.outputs
    assert search.actor.search.max_plies == search.config.env.max_plies
    acted = search.actor.act(search.env.reset(0))  # the search runs on the network
    assert acted.targets is not None and acted.targets.sum(axis=1) == pytest.approx([1.0] * 4)
    one = built(tiny("gumbel.simulations=1", "gumbel.considered=1"), tmp_path)
    assert isinstance(one.actor, GumbelActor)  # one simulation is a search too
    assert isinstance(one.agent.policy_loss, SearchCrossEntropy)

    capped = built(
        tiny("gumbel.simulations=8", "gumbel.considered=4", "gumbel.full_search_fraction=0.25",
             "gumbel.fast_simulations=2"),
        tmp_path,
    )  # fmt: skip
    assert isinstance(capped.actor, GumbelActor) and capped.actor.fast is not None
    assert (capped.actor.search.cfg.simulations, capped.actor.fast.cfg.simulations) == (8, 2)
    assert capped.actor.fast.cfg.considered == 4 and capped.actor.full_fraction == 0.25
    assert capped.actor.agent is capped.agent
    assert capped.actor.fast.forward == capped.agent.outputs
    assert capped.actor.fast.max_plies == capped.config.env.max_plies

    league = built(tiny("league.fraction=0.5"), tmp_path)
    assert isinstance(league.actor, LeagueActor) and league.league is league.actor.league
    assert league.league is not None and league.league.slots == 2
    assert league.buffer.learner is not None and league.buffer.targets is None
    assert isinstance(league.agent.policy_loss, ClippedSurrogate)
    assert league.league.learner_model is league.agent.model
    assert league.actor.agent is league.agent and league.actor.generator is league.rng.generator
    assert league.league.device == torch.device("cpu")
    assert league.league.collective is league.collective


@pytest.mark.parametrize(
    ("overrides", "world", "message"),
    [
        (["env.overlap=true", "env.num_games=1"], 1,
         "config key 'env.overlap' needs at least 2 games per process to split in halves; "
         "env.num_games is 1"),
        (["env.overlap=true", "env.num_games=3"], 2,
         "config key 'env.overlap' needs at least 2 games per process to split in halves; "
         "env.num_games is 3 over 2 processes"),
        (["env.overlap=true", "gumbel.simulations=4", "gumbel.considered=4"], 1,
         "config key 'env.overlap' cannot be combined with the Gumbel search "
         "(gumbel.simulations is 4): use one or the other"),
        (["env.overlap=true", "gumbel.simulations=1", "gumbel.considered=1"], 1,
         "config key 'env.overlap' cannot be combined with the Gumbel search "
         "(gumbel.simulations is 1): use one or the other"),
    ],
)  # fmt: skip
def test_overlap_refusals(overrides: list[str], world: int, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_overlap(tiny(*overrides), world)
    assert str(info.value) == message


def test_what_overlap_league_and_playout_cap_accept() -> None:
    check_overlap(tiny("env.overlap=true", "env.num_games=4"), 2)  # 2 games a process
    check_overlap(tiny("env.num_games=1", "gumbel.simulations=4", "gumbel.considered=4"), 1)
    check_league(tiny("league.fraction=0.5"))
    check_league(tiny("gumbel.simulations=4", "gumbel.considered=4"))
    check_playout_cap(tiny("gumbel.fast_simulations=64"))  # fraction 1: not looked at
    check_playout_cap(
        tiny("gumbel.simulations=4", "gumbel.considered=4", "gumbel.full_search_fraction=0.5",
             "gumbel.fast_simulations=3")
    )  # fmt: skip


@pytest.mark.parametrize(
    ("check", "overrides", "message"),
    [
        (check_league, ["league.fraction=0.25", "gumbel.simulations=2", "gumbel.considered=2"],
         "config key 'league.fraction' (0.25) cannot be combined with the Gumbel search "
         "(gumbel.simulations is 2): use one or the other"),
        (check_league, ["league.fraction=0.25", "gumbel.simulations=1", "gumbel.considered=1"],
         "config key 'league.fraction' (0.25) cannot be combined with the Gumbel search "
         "(gumbel.simulations is 1): use one or the other"),
        (check_playout_cap, ["gumbel.full_search_fraction=0.5"],
         "config key 'gumbel.full_search_fraction' (0.5) needs the Gumbel search: set "
         "gumbel.simulations > 0"),
        (check_playout_cap, ["gumbel.simulations=4", "gumbel.considered=4",
                             "gumbel.full_search_fraction=0.5", "gumbel.fast_simulations=4"],
         "config key 'gumbel.fast_simulations' (4) must be below gumbel.simulations (4): the "
         "fast search is the cheap one"),
    ],
)  # fmt: skip
def test_league_and_playout_cap_refusals(check: object, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        check(tiny(*overrides))  # type: ignore[operator]
    assert str(info.value) == message


def test_devices() -> None:
    cpu = torch.device("cpu")
    assert device_for(tiny("run.device=cpu")) == cpu
    assert device_for(tiny("run.device=auto")) == torch.device(
        "cuda" if torch.cuda.is_available() else "cpu"
    )
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError) as info:
            device_for(tiny("run.device=cuda"))
        assert (
            str(info.value) == "config key 'run.device' is 'cuda' but no CUDA device is available"
        )
    default = load_config(None)
    assert device_hint(default, cpu) is None
    assert device_hint(tiny(), torch.device("cuda")) is None  # not the default network
    assert device_hint(default, torch.device("cuda")) == (
        "training the default 2x32 network on CUDA, which leaves the GPU mostly idle: "
        "--preset gpu (10x128, bf16, compiled) is the config sized for one GPU "
        "(docs/config.md)"
    )


def test_the_sinks_a_config_opens(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    sinks, run_id = open_sinks(tiny(*PLAIN), run, None)
    assert [type(s) for s in sinks.sinks] == [EventLog, TextLog]
    assert run_id is None and sinks.sinks[1].echo is True
    sinks.close()
    sinks, run_id = open_sinks(tiny(*PLAIN), run, "given123")  # W&B off: the id stays
    assert run_id == "given123"
    sinks.close()
    sinks, _ = open_sinks(tiny("logging.console=rich", "logging.tensorboard=true"), run, None, 63)
    assert [type(s) for s in sinks.sinks] == [EventLog, TextLog, ConsoleSink, TensorBoardSink]
    assert sinks.sinks[1].echo is False  # the live view instead of echoed lines
    sinks.close()
    config = tiny(
        *PLAIN, "wandb.enabled=true", "wandb.mode=offline", "run.name=named", "wandb.entity=someone"
    )
    sinks, run_id = open_sinks(config, run, None)
    assert [type(s) for s in sinks.sinks] == [EventLog, TextLog, WandbSink]
    assert isinstance(run_id, str) and len(run_id) == 8
    wandb_run = sinks.sinks[2].run
    assert (wandb_run.project, wandb_run.name, wandb_run.entity) == ("keisei", "named", "someone")
    assert dict(wandb_run.config)["ppo"] == config.model_dump(mode="json")["ppo"]
    assert (run / "wandb").is_dir()  # under the run directory
    sinks.close()
    again, same = open_sinks(tiny(*PLAIN, "wandb.enabled=true", "wandb.mode=offline"), run, run_id)
    assert same == run_id
    again.close()
    off, none = open_sinks(tiny(*PLAIN, "wandb.enabled=true", "wandb.mode=disabled"), run, None)
    assert [type(s) for s in off.sinks] == [EventLog, TextLog] and none is None
    off.close()


def test_a_resumed_tensorboard_hides_what_came_after_the_checkpoint(tmp_path: Path) -> None:
    """A run logged steps 63, 64 and 70, then was resumed from its checkpoint at step 63:
    TensorBoard shows 63, and the resumed run's 64 (not the old 64 and 70)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    run.mkdir()
    config = tiny("logging.console=plain", "logging.tensorboard=true")
    started = int(time.time())
    for resume_step, steps, loss in ((None, (63, 64, 70), 1.0), (63, (64,), 2.0)):
        if resume_step is not None:
            wait_past(started)  # the resumed writer's file sorts after the first's
        sinks, _ = open_sinks(config, run, None, resume_step)
        for step in steps:
            sinks.emit("update", step=step, loss=loss)
        sinks.close()
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("update/loss")] == [(63, 1.0), (64, 2.0)]


def test_a_tensorboard_that_cannot_start_is_a_warning(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "tensorboard").write_text("a file where the directory goes", encoding="utf-8")
    sinks, _ = open_sinks(tiny("logging.console=plain", "logging.tensorboard=true"), run, None)
    assert [type(s) for s in sinks.sinks] == [EventLog, TextLog]
    sinks.close()
    log = (run / "train.log").read_text(encoding="utf-8")
    assert "TensorBoard disabled: " in log


def test_a_wandb_that_cannot_start_is_a_warning(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "wandb").write_text("a file where the directory goes", encoding="utf-8")
    config = tiny(*PLAIN, "wandb.enabled=true", "wandb.mode=offline")
    sinks, run_id = open_sinks(config, run, None)
    assert [type(s) for s in sinks.sinks] == [EventLog, TextLog] and run_id is None
    sinks.close()
    assert "W&B disabled: " in (run / "train.log").read_text(encoding="utf-8")


@pytest.mark.parametrize(("console", "live"), [("auto", True), ("plain", False)])
def test_the_live_view_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, console: str, live: bool
) -> None:
    """``logging.console=auto`` shows the live view when stderr is a terminal (a real
    pseudo-terminal here); ``plain`` never does."""
    run = tmp_path / "run"
    run.mkdir()
    main, side = pty.openpty()
    with os.fdopen(side, "w") as terminal:
        monkeypatch.setattr(sys, "stderr", terminal)
        config = tiny(f"logging.console={console}", "logging.tensorboard=false")
        sinks, _ = open_sinks(config, run, None)
        assert [type(s) for s in sinks.sinks][2:] == ([ConsoleSink] if live else [])
        assert sinks.sinks[1].echo is not live
        sinks.close()
    os.close(main)


def test_start_from_a_checkpoint(tmp_path: Path) -> None:
    config = tiny("run.seed=3")
    first = built(config, tmp_path)
    first.start_fresh()
    torch.manual_seed(4)
    first.agent.model.load_state_dict(ActorCritic(config.model).state_dict())  # trained, say
    payload = first.payload("running")
    second = built(config, tmp_path)
    start_trainer(second, payload, None)
    for name, tensor in first.agent.model.state_dict().items():
        assert torch.equal(second.agent.model.state_dict()[name], tensor), name
    assert second.current is not None and second.current.plies.tolist() == [0, 0, 0, 0]


def test_start_fresh_with_init_weights(tmp_path: Path) -> None:
    config = tiny()
    trainer = built(config, tmp_path)
    torch.manual_seed(9)
    other = ActorCritic(config.model).state_dict()
    init = {"path": "given.pt", "model": other, "config": config.model.model_dump(mode="json")}
    events = tmp_path / "run"
    events.mkdir()
    trainer.sinks = open_sinks(tiny(*PLAIN), events, None)[0]
    start_trainer(trainer, None, init)
    trainer.sinks.close()
    for name, tensor in other.items():
        assert torch.equal(trainer.agent.model.state_dict()[name], tensor), name
    assert "Initialised the network from given.pt" in (events / "train.log").read_text()
    assert trainer.current is not None and trainer.current.plies.tolist() == [0, 0, 0, 0]
