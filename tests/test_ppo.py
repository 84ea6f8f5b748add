"""PPO: masked policy, negamax GAE on real games, rollout storage, learning, determinism."""

from __future__ import annotations

import io
from functools import cache

import cshogi
import numpy as np
import pytest
import torch
from pydantic import ValidationError

from keisei.config import ModelSection, PPOSection
from keisei.game.encoding import (
    NUM_ACTIONS,
    move_label,
    pack_mask,
    pack_obs,
    unpack_mask,
    unpack_obs,
)
from keisei.game.env import GameResult, ShogiEnv
from keisei.rl.network import ActorCritic
from keisei.rl.policy import MaskedCategorical
from keisei.rl.ppo import PPOAgent, SearchCrossEntropy, explained_variance, wdl_targets
from keisei.rl.rollout import RolloutBuffer, Row, compute_gae
from tests.boardutil import legal_masks, observations

TINY = ModelSection(blocks=1, channels=8)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_agent(
    cfg: PPOSection | None = None, model: ModelSection = TINY, seed: int = 0, total: int = 10
) -> PPOAgent:
    torch.manual_seed(seed)
    return PPOAgent(ActorCritic(model), cfg or PPOSection(), total_updates=total)


def fill_rollout(agent: PPOAgent, steps: int = 8, envs: int = 4, seed: int = 0) -> RolloutBuffer:
    """A rollout of real env positions acted on by ``agent``, with fixed synthetic rewards."""
    env = ShogiEnv(envs, max_plies=512)
    step = env.reset(seed)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    buf = RolloutBuffer(steps, envs)
    while not buf.full:
        actions, logp, values = agent.act(step.obs, step.mask, gen)
        nxt = env.step(actions)
        rewards = rng.choice(np.array([-1.0, 0.0, 1.0], np.float32), size=envs)
        dones = rng.random(envs) < 0.25
        buf.add(
            Row(
                packed_obs=pack_obs(step.obs),
                packed_mask=pack_mask(step.mask),
                actions=actions,
                logp=logp,
                values=values,
                rewards=rewards,
                dones=dones,
            )
        )
        step = nxt
    return buf


# -- configuration -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"lr_schedule": "step"}, "lr_schedule"),
        ({"epochs": 0}, "epochs"),
        ({"clip": -0.1}, "clip"),
        ({"gamma": 1.5}, "gamma"),
        ({"target_kl": 0.0}, "target_kl"),
        ({"max_grad_norm": 0.0}, "max_grad_norm"),
        ({"epoch": 3}, "epoch"),
    ],
)
def test_out_of_range_ppo_config_rejected(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        PPOSection(**kwargs)
    assert [e["loc"] for e in info.value.errors()] == [(field,)]


# -- masked policy -----------------------------------------------------------------------
def test_masked_categorical_matches_softmax_over_legal_actions() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 6) * 3
    mask = torch.tensor([[1, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 1]], dtype=torch.bool)
    dist = MaskedCategorical(logits, mask)

    assert torch.equal(dist.probs[~mask], torch.zeros(int((~mask).sum())))
    legal = logits[0, [0, 2, 3]].log_softmax(0)
    assert torch.allclose(dist.log_prob(torch.tensor([0, 5]))[0], legal[0])
    assert torch.allclose(
        dist.log_prob(torch.tensor([3, 5])), torch.stack([legal[2], torch.tensor(0.0)])
    )
    expected_entropy = -(legal.exp() * legal).sum()
    assert torch.allclose(dist.entropy(), torch.stack([expected_entropy, torch.tensor(0.0)]))
    # Illegal actions: log-probability -inf, never NaN.
    assert dist.log_prob(torch.tensor([1, 0])).tolist() == [float("-inf"), float("-inf")]


def test_masked_categorical_gradients_are_finite_and_zero_on_illegal() -> None:
    logits = torch.randn(1, 5, requires_grad=True)
    mask = torch.tensor([[1, 1, 0, 0, 1]], dtype=torch.bool)
    dist = MaskedCategorical(logits, mask)
    torch.autograd.backward((dist.log_prob(torch.tensor([4])) + dist.entropy()).sum())
    assert logits.grad is not None
    assert bool(torch.isfinite(logits.grad).all())
    assert logits.grad[0, 2] == 0 and logits.grad[0, 3] == 0


def test_masked_categorical_rejects_rows_without_legal_action() -> None:
    mask = torch.ones(5, 4, dtype=torch.bool)
    mask[1] = False
    mask[3] = False
    with pytest.raises(ValueError, match=r"mask rows \[1, 3\] have no legal action"):
        MaskedCategorical(torch.zeros(5, 4), mask)


def test_sampling_respects_mask_and_generator() -> None:
    mask = torch.zeros(4000, 10, dtype=torch.bool)
    mask[:, [2, 7]] = True
    dist = MaskedCategorical(torch.zeros(4000, 10), mask)
    a = dist.sample_with(torch.Generator().manual_seed(3))
    b = dist.sample_with(torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert set(a.tolist()) == {2, 7}


def test_act_and_greedy_pick_legal_actions_of_real_positions() -> None:
    agent = make_agent()
    env = ShogiEnv(6)
    step = env.reset(0)
    for _ in range(3):  # a few plies in, so positions differ
        actions, logp, values = agent.act(step.obs, step.mask, torch.Generator().manual_seed(0))
        assert actions.dtype == np.int64 and logp.dtype == np.float32 and values.shape == (6,)
        assert bool(step.mask[np.arange(6), actions].all())
        assert bool(np.isfinite(logp).all()) and bool((logp <= 0).all())
        greedy = agent.greedy(step.obs, step.mask)
        assert bool(step.mask[np.arange(6), greedy].all())
        step = env.step(actions)


# -- negamax GAE -------------------------------------------------------------------------
def test_gae_hand_worked_example() -> None:
    """gamma=0.9, lambda=0.8; column 0 has a game end at t=1, column 1 runs on.

    Column 0: rewards (0, 1, 0), dones (F, T, F), values (0.5, -0.2, 0.3), last 0.4
      t=2: delta = 0 - 0.9*0.4 - 0.3 = -0.66                  A = -0.66   R = -0.36
      t=1: done: delta = 1 - 0 - (-0.2) = 1.2, no carry        A = 1.2     R = 1.0
      t=0: delta = 0 - 0.9*(-0.2) - 0.5 = -0.32
           A = -0.32 - 0.72*1.2 = -1.184                                   R = -0.684
    Column 1: rewards 0, no dones, values (0.1, 0.2, -0.1), last -0.5
      t=2: delta = 0 + 0.45 + 0.1 = 0.55                       A = 0.55    R = 0.45
      t=1: delta = 0.09 - 0.2 = -0.11; A = -0.11 - 0.72*0.55 = -0.506      R = -0.306
      t=0: delta = -0.18 - 0.1 = -0.28; A = -0.28 + 0.72*0.506 = 0.08432   R = 0.18432
    """
    rewards = np.array([[0, 0], [1, 0], [0, 0]], np.float32)
    dones = np.array([[False, False], [True, False], [False, False]])
    values = np.array([[0.5, 0.1], [-0.2, 0.2], [0.3, -0.1]], np.float32)
    last = np.array([0.4, -0.5], np.float32)
    adv, ret = compute_gae(rewards, values, dones, last, gamma=0.9, lam=0.8)
    assert adv.dtype == np.float32 and ret.dtype == np.float32
    np.testing.assert_allclose(
        adv, [[-1.184, 0.08432], [1.2, -0.506], [-0.66, 0.55]], rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
        ret, [[-0.684, 0.18432], [1.0, -0.306], [-0.36, 0.45]], rtol=0, atol=1e-6
    )


def test_gae_docstring_example_three_ply_mate() -> None:
    rewards = np.array([[0], [0], [1]], np.float32)
    dones = np.array([[False], [False], [True]])
    zeros = np.zeros((3, 1), np.float32)
    _, ret = compute_gae(rewards, zeros, dones, np.zeros(1, np.float32), gamma=1.0, lam=1.0)
    assert ret[:, 0].tolist() == [1.0, -1.0, 1.0]


def play_game(seed: int, max_plies: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, GameResult]:
    """One complete random game: per-ply rewards, dones, and the side that moved."""
    env = ShogiEnv(1, max_plies=max_plies)
    step = env.reset(seed)
    rng = np.random.default_rng(seed)
    rewards, dones, movers = [], [], []
    while True:
        movers.append(int(step.to_move[0]))
        step = env.step(np.array([rng.choice(np.flatnonzero(step.mask[0]))]))
        rewards.append(step.reward[0])
        dones.append(step.done[0])
        if step.done[0]:
            result = step.finished[0]
            assert result is not None
            col = np.array(rewards, np.float32)[:, None], np.array(dones)[:, None]
            return col[0], col[1], np.array(movers), result


@pytest.mark.parametrize(
    ("seed", "winner", "plies"), [(4, cshogi.BLACK, 349), (5, cshogi.WHITE, 74)]
)
def test_real_checkmate_credits_winner_positive_loser_negative(
    seed: int, winner: int, plies: int
) -> None:
    rewards, dones, movers, result = play_game(seed, max_plies=512)
    assert (result.reason, result.winner, result.plies) == ("checkmate", winner, plies)
    zeros = np.zeros_like(rewards)
    gamma, lam = 0.99, 0.95
    _, ret = compute_gae(rewards, zeros, dones, np.zeros(1, np.float32), gamma, lam)
    ret = ret[:, 0]
    assert bool((ret[movers == winner] > 0).all())
    assert bool((ret[movers != winner] < 0).all())
    # Exactly: +-(gamma*lambda)^k, k plies before the mate, sign alternating with the mover.
    k = np.arange(plies)[::-1]
    sign = np.where(movers == winner, 1.0, -1.0)
    np.testing.assert_allclose(ret, sign * (gamma * lam) ** k, rtol=1e-4)


def test_real_draw_gives_zero_returns() -> None:
    rewards, dones, _, result = play_game(0, max_plies=10)
    assert (result.reason, result.winner, result.plies) == ("max_plies", None, 10)
    zeros = np.zeros_like(rewards)
    _, ret = compute_gae(rewards, zeros, dones, np.full(1, 0.7, np.float32), 0.99, 0.95)
    assert ret.tolist() == [[0.0]] * 10


def test_episode_boundary_cuts_bootstrapping_in_real_rollout() -> None:
    """Two games in one rollout slot: the first game's returns ignore the second game."""
    env = ShogiEnv(1, max_plies=4)
    step = env.reset(0)
    rng = np.random.default_rng(0)
    dones = []
    for _ in range(7):
        step = env.step(np.array([rng.choice(np.flatnonzero(step.mask[0]))]))
        dones.append(bool(step.done[0]))
    assert dones == [False, False, False, True, False, False, False]
    d = np.array(dones)[:, None]
    r = np.zeros((7, 1), np.float32)
    values = np.array([[0.1], [-0.3], [0.2], [0.5], [0.4], [-0.6], [0.25]], np.float32)
    gamma, lam = 0.9, 0.5
    _, ret = compute_gae(r, values, d, np.array([0.3], np.float32), gamma, lam)

    # Game 1 ends at t=3 (a draw): delta_3 = -V(s_3) = -0.5, so A_3 = -0.5 and R_3 = 0.
    assert ret[3, 0] == 0.0
    # Changing anything in game 2 (its values, rewards, the bootstrap) leaves game 1 alone.
    values2, r2 = values.copy(), r.copy()
    values2[4:] = [[-0.9], [0.8], [0.7]]
    r2[6] = 1.0
    _, ret2 = compute_gae(r2, values2, d, np.array([-0.4], np.float32), gamma, lam)
    assert np.array_equal(ret[:4], ret2[:4])
    assert not np.array_equal(ret[4:], ret2[4:])
    # Game 1 by hand: deltas from t=0: 0.27-0.1=0.17, -0.18+0.3=0.12, -0.45-0.2=-0.65, -0.5
    a3 = -0.5
    a2 = -0.65 - 0.45 * a3
    a1 = 0.12 - 0.45 * a2
    a0 = 0.17 - 0.45 * a1
    expected = np.array([a0, a1, a2, a3]) + values[:4, 0]
    np.testing.assert_allclose(ret[:4, 0], expected, rtol=0, atol=1e-6)


# -- rollout storage ---------------------------------------------------------------------
def test_rollout_bytes_per_step() -> None:
    # packed obs 1205 + packed mask 274 + action int16 2 + logp/value/reward 3*4 + done 1
    assert RolloutBuffer.BYTES_PER_STEP == 1205 + 274 + 2 + 12 + 1 == 1494
    buf = RolloutBuffer(16, 3)
    assert buf.bytes_per_step() == 1494
    assert buf.nbytes == 1494 * 16 * 3
    assert buf.obs.dtype == np.uint8 and buf.masks.dtype == np.uint8
    assert buf.actions.dtype == np.int16 and buf.dones.dtype == np.bool_


def test_rollout_round_trip_of_real_obs_and_masks_is_exact() -> None:
    env = ShogiEnv(3)
    step = env.reset(1)
    rng = np.random.default_rng(1)
    buf = RolloutBuffer(5, 3)
    seen = []
    while not buf.full:
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in step.mask])
        nxt = env.step(actions)
        row = Row(
            packed_obs=pack_obs(step.obs),
            packed_mask=pack_mask(step.mask),
            actions=actions,
            logp=np.zeros(3, np.float32),
            values=np.zeros(3, np.float32),
            rewards=nxt.reward,
            dones=nxt.done,
        )
        buf.add(row)
        seen.append((step.obs, step.mask, actions))
        step = nxt
    for t, (obs, mask, actions) in enumerate(seen):
        assert np.array_equal(unpack_obs(buf.obs[t]), obs)
        assert np.array_equal(unpack_mask(buf.masks[t]), mask)
        assert np.array_equal(buf.actions[t], actions)
    with pytest.raises(RuntimeError, match="full"):
        buf.add(row)

    copy = RolloutBuffer(5, 3)
    copy.load_state_dict(buf.state_dict())
    assert copy.pos == 5
    for name in ("obs", "masks", "actions", "logp", "values", "rewards", "dones"):
        assert np.array_equal(getattr(copy, name), getattr(buf, name))
    with pytest.raises(
        ValueError,
        match=r"saved rollout obs is uint8\[5, 3, 1205\], this "
        r"buffer's is uint8\[4, 3, 1205\]",
    ):
        RolloutBuffer(4, 3).load_state_dict(buf.state_dict())
    buf.reset()
    assert buf.pos == 0 and not buf.full


# -- learning ----------------------------------------------------------------------------
def test_ppo_loss_decreases_on_fixed_batch() -> None:
    agent = make_agent(PPOSection(learning_rate=1e-3, epochs=4, minibatch_size=16))
    buf = fill_rollout(agent)
    last = np.zeros(4, np.float32)
    before = agent.rollout_losses(buf, last)
    assert before["approx_kl"] == pytest.approx(0.0, abs=1e-6)  # same network as the rollout
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        agent.update(buf, last, gen)
    after = agent.rollout_losses(buf, last)
    assert after["loss"] < before["loss"] - 0.05
    assert after["value_loss"] < before["value_loss"]
    assert after["policy_loss"] < before["policy_loss"]


def test_update_metrics_and_lr_schedules() -> None:
    for schedule, factors in [
        ("constant", [1.0, 1.0, 1.0, 1.0]),
        ("linear", [1.0, 0.75, 0.5, 0.25]),
        ("cosine", [1.0, 0.8535534, 0.5, 0.1464466]),
    ]:
        cfg = PPOSection.model_validate(
            {"learning_rate": 1e-3, "lr_schedule": schedule, "epochs": 1, "minibatch_size": 32}
        )
        agent = make_agent(cfg, total=4)
        buf = fill_rollout(agent, steps=2, envs=4)
        gen = torch.Generator().manual_seed(0)
        lrs = []
        for _ in range(4):
            m = agent.update(buf, np.zeros(4, np.float32), gen)
            lrs.append(m["learning_rate"])
        np.testing.assert_allclose(lrs, np.array(factors) * 1e-3, rtol=1e-6)
    assert set(m) == {
        "loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction",
        "grad_norm", "learning_rate", "epochs_run", "minibatch_steps", "explained_variance",
        "approx_kl_first_epoch", "approx_kl_last_epoch",
    }  # fmt: skip
    assert all(np.isfinite(v) for v in m.values())


def test_explained_variance() -> None:
    returns = np.array([1.0, -1.0, 1.0, -1.0])
    assert explained_variance(returns, returns) == 1.0
    assert explained_variance(np.zeros(4), returns) == 0.0
    assert explained_variance(-returns, returns) == -3.0
    assert explained_variance(np.array([0.5, -0.5, 0.5, -0.5]), returns) == 0.75
    assert np.isnan(explained_variance(returns, np.ones(4)))


def test_kl_of_the_first_and_last_epochs() -> None:
    cfg = PPOSection(learning_rate=1e-2, epochs=2, minibatch_size=32)
    agent = make_agent(cfg)
    buf = fill_rollout(agent)
    m = agent.update(buf, np.zeros(4, np.float32), torch.Generator().manual_seed(0))
    # One minibatch per epoch: the first sees the rollout's own policy (KL 0).
    assert m["minibatch_steps"] == 2.0
    assert m["approx_kl_first_epoch"] == pytest.approx(0.0, abs=1e-6)
    assert m["approx_kl_last_epoch"] > 1e-4
    assert m["approx_kl"] == pytest.approx(
        (m["approx_kl_first_epoch"] + m["approx_kl_last_epoch"]) / 2, rel=1e-6
    )


def test_resumed_agent_takes_the_configs_learning_rate_and_weight_decay() -> None:
    for schedule in ("constant", "linear"):
        cfg = PPOSection(learning_rate=1e-3, lr_schedule=schedule, minibatch_size=32)
        agent = make_agent(cfg, total=4)
        buf = fill_rollout(agent)
        agent.update(buf, np.zeros(4, np.float32), torch.Generator().manual_seed(0))
        saved = agent.state_dict()
        same = make_agent(cfg, total=4)
        same.load_state_dict(saved)
        assert same.optimizer.param_groups[0]["lr"] == agent.optimizer.param_groups[0]["lr"]
        changed = make_agent(
            cfg.model_copy(update={"learning_rate": 4e-4, "weight_decay": 0.1}), total=4
        )
        changed.load_state_dict(saved)
        factor = 1.0 if schedule == "constant" else 0.75  # one of four updates done
        assert changed.optimizer.param_groups[0]["lr"] == 4e-4 * factor
        assert changed.optimizer.param_groups[0]["weight_decay"] == 0.1
        m = changed.update(buf, np.zeros(4, np.float32), torch.Generator().manual_seed(0))
        assert m["learning_rate"] == 4e-4 * factor


def test_target_kl_stops_epochs_early() -> None:
    cfg = PPOSection(learning_rate=1e-2, epochs=8, minibatch_size=8, target_kl=0.01)
    agent = make_agent(cfg)
    buf = fill_rollout(agent)
    m = agent.update(buf, np.zeros(4, np.float32), torch.Generator().manual_seed(0))
    assert m["epochs_run"] < 8
    assert m["minibatch_steps"] < 8 * 4


def test_the_policy_loss_and_the_rollout_agree_on_targets() -> None:
    plain = fill_rollout(make_agent())
    searching = PPOAgent(
        ActorCritic(TINY), PPOSection(), total_updates=1, policy_loss=SearchCrossEntropy()
    )
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match=r"^SearchCrossEntropy needs policy targets$"):
        searching.update(plain, np.zeros(4, np.float32), gen)
    searched = RolloutBuffer(1, 4, targets=True)
    searched.pos = 1
    with pytest.raises(ValueError, match=r"^ClippedSurrogate takes no policy targets$"):
        make_agent().update(searched, np.zeros(4, np.float32), gen)


def test_wdl_targets_and_wdl_update() -> None:
    targets = wdl_targets(torch.tensor([1.0, -0.5, 0.0, 2.0]))
    assert targets.tolist() == [[1, 0, 0], [0, 0.5, 0.5], [0, 1, 0], [1, 0, 0]]
    agent = make_agent(
        PPOSection(epochs=1, minibatch_size=16, learning_rate=1e-3),
        model=ModelSection(blocks=1, channels=8, value_head="wdl"),
    )
    buf = fill_rollout(agent)
    before = agent.rollout_losses(buf, np.zeros(4, np.float32))
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        agent.update(buf, np.zeros(4, np.float32), gen)
    assert agent.rollout_losses(buf, np.zeros(4, np.float32))["value_loss"] < before["value_loss"]


def test_value_clipping_limits_value_moves() -> None:
    cfg = PPOSection(epochs=1, minibatch_size=32, value_clip=0.1, learning_rate=1e-3)
    agent = make_agent(cfg)
    buf = fill_rollout(agent)
    m = agent.update(buf, np.zeros(4, np.float32), torch.Generator().manual_seed(0))
    assert np.isfinite(m["value_loss"]) and m["value_loss"] > 0


@cache
def mate_in_one_positions(count: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions from random play where the side to move can mate in one (not in check:
    cshogi's mate search assumes that). Returns obs, legal masks, mating-action masks."""
    rng = np.random.default_rng(0)
    obs: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    wins: list[np.ndarray] = []
    sfens: set[str] = set()
    while len(obs) < count:
        board = cshogi.Board()
        while not board.is_game_over():
            if not board.is_check() and board.mate_move_in_1ply() and board.sfen() not in sfens:
                sfens.add(board.sfen())
                mating = np.zeros(NUM_ACTIONS, bool)
                for move in board.legal_moves:
                    label = move_label(move, board.turn)
                    board.push(move)
                    mating[label] = board.is_game_over()
                    board.pop()
                obs.append(observations([board])[0])
                masks.append(legal_masks([board])[0])
                wins.append(mating)
                break
            moves = list(board.legal_moves)
            board.push(moves[rng.integers(len(moves))])
    return np.stack(obs), np.stack(masks), np.stack(wins)


def test_learns_mate_in_one() -> None:
    obs, masks, wins = mate_in_one_positions()
    n = len(obs)
    assert n == 32 and bool(wins.any(axis=1).all())
    rows = np.arange(n)
    torch.manual_seed(0)
    cfg = PPOSection(learning_rate=3e-3, epochs=2, minibatch_size=256, entropy_coef=0.0)
    agent = PPOAgent(ActorCritic(ModelSection(blocks=1, channels=16)), cfg, total_updates=40)
    gen = torch.Generator().manual_seed(0)
    buf = RolloutBuffer(16, n)
    start = wins[rows, agent.greedy(obs, masks)].mean()
    accuracy = start
    for _ in range(40):
        buf.reset()
        while not buf.full:  # one-move episodes: reward 1 for a mating move
            actions, logp, values = agent.act(obs, masks, gen)
            reward = wins[rows, actions].astype(np.float32)
            buf.add(
                Row(
                    packed_obs=pack_obs(obs),
                    packed_mask=pack_mask(masks),
                    actions=actions,
                    logp=logp,
                    values=values,
                    rewards=reward,
                    dones=np.ones(n, bool),
                )
            )
        agent.update(buf, np.zeros(n, np.float32), gen)
        accuracy = wins[rows, agent.greedy(obs, masks)].mean()
        if accuracy >= 0.9:
            break
    assert start < 0.3
    assert accuracy >= 0.9


# -- determinism and checkpoints -------------------------------------------------------
def run_updates(seed: int) -> tuple[list[dict[str, float]], dict[str, torch.Tensor]]:
    agent = make_agent(PPOSection(epochs=2, minibatch_size=8, learning_rate=1e-3), seed=seed)
    buf = fill_rollout(agent, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    metrics = [agent.update(buf, np.zeros(4, np.float32), gen) for _ in range(2)]
    return metrics, agent.model.state_dict()


def test_same_seeds_same_metrics_and_weights() -> None:
    m1, w1 = run_updates(0)
    m2, w2 = run_updates(0)
    assert m1 == m2
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    m3, _ = run_updates(1)
    assert m3 != m1


def test_agent_checkpoint_resumes_identically() -> None:
    cfg = PPOSection(epochs=1, minibatch_size=8, learning_rate=1e-3, lr_schedule="linear")
    agent = make_agent(cfg)
    buf = fill_rollout(agent)
    last = np.zeros(4, np.float32)
    agent.update(buf, last, torch.Generator().manual_seed(0))
    saved = io.BytesIO()
    torch.save({"agent": agent.state_dict(), "model": agent.model_state()}, saved)

    saved.seek(0)
    state = torch.load(saved, weights_only=False)
    resumed = make_agent(cfg, seed=7)
    resumed.load_model_state(state["model"])
    resumed.load_state_dict(state["agent"])
    a = agent.update(buf, last, torch.Generator().manual_seed(1))
    b = resumed.update(buf, last, torch.Generator().manual_seed(1))
    assert a == b
    assert a["learning_rate"] == pytest.approx(0.9e-3)


@pytest.mark.parametrize("search", [False, True], ids=["ppo", "search-targets"])
def test_unpacking_on_the_device_acts_and_updates_as_unpacking_on_the_host(search: bool) -> None:
    """The path a GPU takes (packed observations and masks sent, the rollout kept packed on
    the device and expanded there, ``unpack_on_device``) run on the CPU against the host
    path: the same actions, log-probs and values, the same metrics and weights, bit for
    bit. On a CUDA device it is the default; this keeps its code under test without one."""
    cfg = PPOSection(epochs=2, minibatch_size=8, learning_rate=1e-3)
    loss = SearchCrossEntropy() if search else None
    agents = []
    for on_device in (False, True):
        torch.manual_seed(0)
        agent = PPOAgent(
            ActorCritic(TINY), cfg, total_updates=2, policy_loss=loss, unpack_on_device=on_device
        )
        agents.append(agent)
    host, device = agents
    assert (host.unpack_on_device, device.unpack_on_device) == (False, True)
    assert make_agent().unpack_on_device is False  # the CPU's default

    envs, steps = 4, 6
    env = ShogiEnv(envs, max_plies=512)
    step = env.reset(0)
    rng = np.random.default_rng(0)
    buf = RolloutBuffer(steps, envs, targets=search)
    gen_host, gen_device = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    while not buf.full:
        packed = (step.packed_obs, step.packed_mask)
        a = host.act(step.obs, step.mask, gen_host, packed)
        b = device.act(step.obs, step.mask, gen_device, packed)
        for x, y in zip(a, b, strict=True):
            assert np.array_equal(x, y)
        assert np.array_equal(host.values(step.obs), device.values(step.obs, step.packed_obs))
        assert np.array_equal(host.greedy(step.obs, step.mask), device.greedy(step.obs, step.mask))
        for x, y in zip(
            host.outputs(step.obs), device.outputs(step.obs, step.packed_obs), strict=True
        ):
            assert np.array_equal(x, y)
        targets = None
        if search:  # a made-up improved policy over the legal moves of each row
            targets = np.where(step.mask, rng.random(step.mask.shape), 0.0).astype(np.float32)
            targets /= targets.sum(axis=1, keepdims=True)
        buf.add(
            Row(
                packed_obs=step.packed_obs,
                packed_mask=step.packed_mask,
                actions=a[0],
                logp=a[1],
                values=a[2],
                rewards=rng.choice(np.array([-1.0, 0.0, 1.0], np.float32), size=envs),
                dones=rng.random(envs) < 0.25,
                targets=targets,
            )
        )
        step = env.step(a[0])
    last = np.zeros(envs, np.float32)
    m_host = host.update(buf, last, torch.Generator().manual_seed(1))
    m_device = device.update(buf, last, torch.Generator().manual_seed(1))
    assert m_device == m_host
    assert m_host["minibatch_steps"] == 2 * 3
    for (name, p), q in zip(
        host.model.state_dict().items(), device.model.state_dict().values(), strict=True
    ):
        assert torch.equal(p, q), name


@pytest.mark.skipif(not torch.cuda.is_available(), reason="bf16 autocast and compile need CUDA")
def test_bf16_and_compile_on_cuda() -> None:
    cfg = PPOSection(epochs=1, minibatch_size=16, bf16=True, compile=True)
    torch.manual_seed(0)
    agent = PPOAgent(ActorCritic(TINY), cfg, total_updates=2, device="cuda")
    assert agent.amp_dtype == torch.bfloat16
    buf = fill_rollout(agent)
    m = agent.update(buf, np.zeros(4, np.float32), torch.Generator().manual_seed(0))
    assert all(np.isfinite(v) for v in m.values())
    assert "_orig_mod" not in "".join(agent.model.state_dict())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_sampling_draws_the_cpu_generators_numbers() -> None:
    # The uniforms come from the CPU generator and the search runs on the device: the same
    # probabilities give the same actions on both, and the generator advances alike.
    probs = torch.rand(64, NUM_ACTIONS, generator=torch.Generator().manual_seed(3))
    mask = probs > 0.7
    logits = probs.log()
    cpu_gen, cuda_gen = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    on_cpu = MaskedCategorical(logits, mask).sample_with(cpu_gen)
    on_cuda = MaskedCategorical(logits.cuda(), mask.cuda()).sample_with(cuda_gen)
    assert on_cuda.device.type == "cuda"
    assert torch.equal(on_cpu, on_cuda.cpu())
    assert torch.equal(cpu_gen.get_state(), cuda_gen.get_state())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_update_unpacks_on_the_device_like_the_cpu() -> None:
    # One update in float32 without compile on each device, from the same weights and
    # rollout: the losses agree to float32 rounding (cuDNN sums in another order).
    cfg = PPOSection(epochs=1, minibatch_size=16)
    cpu_agent = make_agent(cfg)
    buf = fill_rollout(cpu_agent)
    cuda_agent = PPOAgent(ActorCritic(TINY), cfg, total_updates=2, device="cuda")
    cuda_agent.model.load_state_dict(cpu_agent.model.state_dict())
    last = np.zeros(4, np.float32)
    a = cpu_agent.update(buf, last, torch.Generator().manual_seed(0))
    b = cuda_agent.update(buf, last, torch.Generator().manual_seed(0))
    for key in ("policy_loss", "value_loss", "entropy"):
        assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-5), key


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graphs_for_acting() -> None:
    cfg = PPOSection(
        epochs=1, minibatch_size=16, bf16=True, compile=True, compile_mode="reduce-overhead"
    )
    torch.manual_seed(0)
    agent = PPOAgent(ActorCritic(TINY), cfg, total_updates=2, device="cuda")
    buf = fill_rollout(agent)  # acts 8 times through the CUDA graph
    env = ShogiEnv(4)
    step = env.reset(0)
    actions, _logp, _values = agent.act(step.obs, step.mask, torch.Generator().manual_seed(0))
    assert step.mask[np.arange(4), actions].all()
    m = agent.update(buf, np.zeros(4, np.float32), torch.Generator().manual_seed(0))
    assert all(np.isfinite(v) for v in m.values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_act_on_packed_observations_is_the_same() -> None:
    cfg = PPOSection()
    torch.manual_seed(0)
    agent = PPOAgent(ActorCritic(TINY), cfg, total_updates=2, device="cuda")
    step = ShogiEnv(16).reset(0)
    plain = agent.act(step.obs, step.mask, torch.Generator().manual_seed(4))
    packed = agent.act(
        step.obs, step.mask, torch.Generator().manual_seed(4), (step.packed_obs, step.packed_mask)
    )
    for a, b in zip(plain, packed, strict=True):
        assert np.array_equal(a, b)
    assert step.mask[np.arange(16), packed[0]].all()


def test_masked_categorical_samples_by_the_inverse_cdf_of_one_uniform_per_row() -> None:
    """Each row's action is the first whose cumulative probability reaches (1 - U) * total,
    U the generator's next float64 uniform: computed here in numpy."""
    logits = torch.tensor([[1.0, 1.0, 2.0, 1.5], [8.0, 0.0, 0.0, 9.0], [0.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 0, 1], [1, 0, 0, 1], [0, 1, 1, 0]], dtype=torch.uint8)
    dist = MaskedCategorical(logits, mask)  # a 0/1 mask of another dtype is taken as bool
    assert torch.equal(dist.logits, MaskedCategorical(logits, mask.bool()).logits)
    allowed = mask.numpy().astype(bool)
    exp = np.where(allowed, np.exp(logits.numpy().astype(np.float64)), 0.0)
    probs = exp / exp.sum(axis=1, keepdims=True)
    assert dist.probs.numpy() == pytest.approx(probs, abs=1e-6)
    generator, reference = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    drawn = []
    for _ in range(40):
        u = torch.rand((3, 1), generator=reference, dtype=torch.float64).numpy()[:, 0]
        cdf = np.cumsum(dist.probs.double().numpy(), axis=1)
        expected = [int(np.searchsorted(cdf[r], (1 - u[r]) * cdf[r, -1])) for r in range(3)]
        actions = dist.sample_with(generator)
        assert actions.tolist() == expected
        drawn.append(expected)
    seen = np.array(drawn)
    assert set(seen[:, 0]) == {0, 1, 3} and set(seen[:, 1]) == {0, 3} and set(seen[:, 2]) == {1, 2}
