"""keisei/training/pipeline.py and the plain actor by themselves: one ply of every game,
with and without ``env.overlap``, against the same ply played by hand.

Real environment and tiny network, no trainer: each case runs in well under a second (the
fast subset that mutation testing runs on these modules). The trainer's runs with
overlap, resumed bit for bit, are in test_train.py and test_league.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from keisei.config import GumbelSection, TrainConfig
from keisei.game.env import ShogiEnv, StepResult, join_steps
from keisei.rl.network import ActorCritic
from keisei.rl.ppo import PPOAgent
from keisei.rl.rollout import Row
from keisei.search.gumbel import GumbelSearch
from keisei.training.actors import Acted, Actor, GumbelActor, SamplingActor
from keisei.training.pipeline import PlyPipeline
from tests.conftest import FailsOnCall
from tests.test_league import league_actor

GAMES = 6
PLIES = 5
MAX_PLIES = 3  # games end, and new ones start, within the plies played


def sampling_actor(config: TrainConfig, seed: int) -> SamplingActor:
    torch.manual_seed(0)
    agent = PPOAgent(ActorCritic(config.model), config.ppo, total_updates=1)
    return SamplingActor(agent, torch.Generator().manual_seed(seed))


def make_actor(kind: str, config: TrainConfig, env: ShogiEnv) -> tuple[Actor, torch.Generator]:
    """The trainer's three actors over the tiny network: the policy's samples, a league's
    (half the games against a past self: the rows' ``learner``), the Gumbel search's (the
    rows' ``targets``)."""
    if kind == "league":
        torch.manual_seed(0)  # the same networks on every call
        return league_actor(config, 7, GAMES)
    actor = sampling_actor(config, 7)
    if kind == "gumbel":
        search = GumbelSearch(
            GumbelSection(simulations=4, considered=4), actor.agent.outputs, MAX_PLIES
        )
        return GumbelActor(actor.agent, search, env, actor.generator), actor.generator
    return actor, actor.generator


def assert_rows_equal(got: Row, want: Row) -> None:
    for name in ("packed_obs", "packed_mask", "actions", "logp", "values", "rewards", "dones"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    for name in ("targets", "learner"):
        if getattr(want, name) is None:
            assert getattr(got, name) is None, name
        else:
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


def concatenated(arrays: list[np.ndarray | None]) -> np.ndarray | None:
    return None if arrays[0] is None else np.concatenate(arrays)  # type: ignore[arg-type]


def by_hand(
    config: TrainConfig, halves: list[slice], kind: str = "sampling", plies: int = PLIES
) -> tuple[list[Row], list[int], StepResult, torch.Tensor]:
    """``plies`` plies played by hand: for each half in turn, the actor's moves, then that
    half stepped. The rows, the finished games' plies, the last observations and the
    generator's state at the end."""
    env = ShogiEnv(GAMES, max_plies=MAX_PLIES)
    actor, generator = make_actor(kind, config, env)
    first = env.reset(3)
    parts = [first.part(h) for h in halves] if len(halves) > 1 else [first]
    rows, ended = [], []
    for _ in range(plies):
        acted: list[Acted] = []
        nxt: list[StepResult] = []
        for h, part in zip(halves, parts, strict=True):
            acted.append(actor.act(part))
            nxt.append(env.step(acted[-1].actions, h))
        rows.append(
            Row(
                packed_obs=np.concatenate([p.packed_obs for p in parts]),
                packed_mask=np.concatenate([p.packed_mask for p in parts]),
                actions=np.concatenate([a.actions for a in acted]),
                logp=np.concatenate([a.logp for a in acted]),
                values=np.concatenate([a.values for a in acted]),
                rewards=np.concatenate([n.reward for n in nxt]),
                dones=np.concatenate([n.done for n in nxt]),
                targets=concatenated([a.targets for a in acted]),
                learner=concatenated([a.learner for a in acted]),
            )
        )
        ended += [g.plies for n in nxt for g in n.finished if g is not None]
        parts = nxt
    last = join_steps(parts) if len(parts) > 1 else parts[0]
    return rows, ended, last, generator.get_state()


@pytest.mark.parametrize(
    ("kind", "overlap"),
    [
        ("sampling", False),
        ("sampling", True),
        ("league", False),
        ("league", True),
        ("gumbel", False),
    ],
)
def test_a_ply_is_the_actors_moves_then_the_step(
    tiny_config: TrainConfig, kind: str, overlap: bool
) -> None:
    """With overlap the first half's next moves are drawn after the second half's, while it
    steps: the same draws, in the same order, as acting and stepping half by half. The
    rows carry the league's ``learner`` and the search's ``targets`` in the games' order.
    (The search acts on all the games at once: no overlap with it.)"""
    n = GAMES
    halves = [slice(0, n // 2), slice(n // 2, n)] if overlap else [slice(0, n)]
    want_rows, want_ended, want_last, want_generator = by_hand(tiny_config, halves, kind)
    # Every actor draws from the generator it is given (the search its Gumbel noise).
    assert not torch.equal(want_generator, torch.Generator().manual_seed(7).get_state())
    if kind == "league":
        learner = want_rows[0].learner
        assert learner is not None and learner.dtype == np.bool_ and not learner.all()
    if kind == "gumbel":
        assert want_rows[0].targets is not None and want_rows[0].targets.any()
    env = ShogiEnv(GAMES, max_plies=MAX_PLIES)
    actor, generator = make_actor(kind, tiny_config, env)
    pipeline = PlyPipeline(env, actor, generator, overlap)
    assert pipeline.slices == halves
    ended: list[int] = []
    with pipeline.running():
        parts = pipeline.split(env.reset(3))
        assert len(parts) == len(halves)
        for i in range(PLIES):
            parts, row, finished = pipeline.ply(parts, act_ahead=i < PLIES - 1)
            assert not pipeline.mid_ply
            assert_rows_equal(row, want_rows[i])
            ended += [g.plies for g in finished if g is not None]
    assert ended == want_ended == [MAX_PLIES] * GAMES
    last = PlyPipeline.join(parts)
    for name in ("packed_obs", "packed_mask", "plies", "to_move"):
        np.testing.assert_array_equal(getattr(last, name), getattr(want_last, name))
    # The last ply chose nothing ahead: the generator is where the hand-played one is.
    assert torch.equal(generator.get_state(), want_generator)


def test_a_stop_forgets_the_moves_chosen_ahead(tiny_config: TrainConfig) -> None:
    """Every ply chose the first half's next moves ahead; leaving ``running`` (a safe
    point: a checkpoint, a stop) puts the generator back to before them, and the next
    ``running`` chooses them again: the same ply as without the stop."""
    halves = [slice(0, GAMES // 2), slice(GAMES // 2, GAMES)]
    *_, want_generator = by_hand(tiny_config, halves)
    want_rows, *_ = by_hand(tiny_config, halves, plies=PLIES + 1)
    actor = sampling_actor(tiny_config, 7)
    env = ShogiEnv(GAMES, max_plies=MAX_PLIES)
    pipeline = PlyPipeline(env, actor, actor.generator, overlap=True)
    with pipeline.running():
        parts = pipeline.split(env.reset(3))
        for _ in range(PLIES):
            parts, _row, _ = pipeline.ply(parts, act_ahead=True)
        assert not torch.equal(actor.generator.get_state(), want_generator)
    assert torch.equal(actor.generator.get_state(), want_generator)
    with pipeline.running():
        parts, row, _ = pipeline.ply(parts, act_ahead=False)
    assert_rows_equal(row, want_rows[-1])


@pytest.mark.parametrize(("call", "stepped"), [(2, [1, 1, 1, 0, 0, 0]), (3, [1] * GAMES)])
def test_an_actor_failing_while_a_half_steps_leaves_that_step_done(
    tiny_config: TrainConfig, call: int, stepped: list[int]
) -> None:
    """The second half's moves (the actor's second call) or the first half's next ones,
    chosen ahead (its third), fail while the worker steps the other half: the failure
    comes out of ``ply`` after that step has ended, and the worker is gone; the ply is
    marked unfinished (a checkpoint now is ``consistent: false``)."""
    actor = FailsOnCall(sampling_actor(tiny_config, 7), call)
    env = ShogiEnv(GAMES, max_plies=MAX_PLIES)
    pipeline = PlyPipeline(env, actor, actor.actor.generator, overlap=True)
    with pytest.raises(RuntimeError, match="actor failed"), pipeline.running():
        pipeline.ply(pipeline.split(env.reset(3)), act_ahead=True)
    assert pipeline._worker is None  # shut down on the way out
    assert pipeline.mid_ply
    assert [len(b.history) for b in env.boards()] == stepped
