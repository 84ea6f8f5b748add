"""Gumbel AlphaZero policy improvement (keisei.search.gumbel): the search on real positions
with a real (untrained) network, the update toward its policies, and a real training run
with it that resumes bit for bit."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

import cshogi
import numpy as np
import pytest
import torch

from keisei.config import GumbelSection, ModelSection, PPOSection
from keisei.game.encoding import NUM_ACTIONS, move_label, pack_mask, pack_obs
from keisei.game.env import ShogiEnv
from keisei.rl.network import ActorCritic
from keisei.rl.ppo import PPOAgent, SearchCrossEntropy
from keisei.rl.rollout import RolloutBuffer, Row
from keisei.search.gumbel import GumbelSearch
from keisei.search.select import considered_visits
from keisei.training.actors import GumbelActor
from keisei.training.checkpoint import read_checkpoint
from tests.boardutil import legal_masks, observations
from tests.conftest import Train, read_events
from tests.test_train import assert_consistent, final_info

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_sequential_halving_schedule() -> None:
    # 4 moves, 8 simulations: two phases; all four once, then the best two twice each.
    assert considered_visits(4, 8) == (0, 0, 0, 0, 1, 1, 2, 2)
    # 16 moves, 16 simulations: each considered move once.
    assert considered_visits(16, 16) == (0,) * 16
    # 8 moves, 16 simulations: 8 once, 4 once more, then 2 twice more.
    assert considered_visits(8, 16) == (0,) * 8 + (1,) * 4 + (2, 2, 3, 3)
    assert considered_visits(1, 3) == (0, 1, 2)


@cache
def mate_positions(count: int = 12) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """(start SFEN, moves) of positions from seeded random play in which the side to move
    (not in check) can mate in one."""
    rng = np.random.default_rng(0)
    found: list[tuple[str, tuple[int, ...]]] = []
    while len(found) < count:
        board = cshogi.Board()
        while not board.is_game_over():
            if not board.is_check() and board.mate_move_in_1ply():
                found.append((cshogi.STARTING_SFEN, tuple(board.history)))
                break
            moves = list(board.legal_moves)
            board.push(moves[rng.integers(len(moves))])
    return tuple(found)


def boards_of(positions: tuple[tuple[str, tuple[int, ...]], ...]) -> list[cshogi.Board]:
    boards = []
    for sfen, moves in positions:
        board = cshogi.Board(sfen)
        for move in moves:
            board.push(move)
        boards.append(board)
    return boards


def mating_labels(board: cshogi.Board) -> set[int]:
    out = set()
    for move in board.legal_moves:
        board.push(move)
        if board.is_game_over():
            out.add(move_label(move, 1 - board.turn))
        board.pop()
    return out


def untrained_agent(seed: int = 0, lr: float = 1e-3) -> PPOAgent:
    torch.manual_seed(seed)
    cfg = PPOSection(learning_rate=lr, epochs=2, minibatch_size=64, entropy_coef=0.0)
    model = ActorCritic(ModelSection(blocks=1, channels=8))
    return PPOAgent(model, cfg, total_updates=100, policy_loss=SearchCrossEntropy())


def root_outputs(agent: PPOAgent, boards: list[cshogi.Board]) -> tuple[np.ndarray, np.ndarray]:
    return agent.outputs(observations(boards))


def terminal_children(board: cshogi.Board) -> int:
    """Root moves after which the search scores the position without the network."""
    count = 0
    for move in board.legal_moves:
        board.push(move)
        over = board.is_draw(16) != cshogi.NOT_REPETITION or board.is_game_over()
        over = over or board.is_nyugyoku()
        count += over or (not board.is_check() and bool(board.mate_move_in_1ply()))
        board.pop()
    return count


def test_search_finds_every_mate_in_one_and_leaves_the_boards() -> None:
    """With every root move searched once, a mating move's child is a terminal loss for
    the mated side: the search plays it and its improved policy puts ~all mass on mates,
    whatever the untrained network thinks."""
    agent = untrained_agent()
    for board in boards_of(mate_positions()):
        before = (board.sfen(), len(board.history))
        legal = sorted({move_label(m, board.turn) for m in board.legal_moves})
        # As many simulations as moves: each root move is searched once.
        cfg = GumbelSection(simulations=len(legal), considered=len(legal), c_scale=1.0)
        search = GumbelSearch(cfg, agent.outputs)
        logits, values = root_outputs(agent, [board])
        out = search.run([board], logits, values, torch.Generator().manual_seed(0))
        assert (board.sfen(), len(board.history)) == before
        mates = mating_labels(board)
        assert int(out.actions[0]) in mates
        target = out.targets[0]
        assert set(np.flatnonzero(target).tolist()) <= set(legal)
        assert float(target.sum()) == pytest.approx(1.0, abs=1e-5)
        assert float(target[sorted(mates)].sum()) > 0.95
        assert out.root_q[0] == 1.0  # the mate was backed up exactly
        assert out.values[0] == values[0]
        logp = torch.log_softmax(torch.from_numpy(logits[0][legal]), 0)
        assert out.logp[0] == pytest.approx(float(logp[legal.index(int(out.actions[0]))]))
        # Every other child went to the network once.
        assert search.evaluations == len(legal) - terminal_children(board)


def test_the_ply_limit_is_a_draw_in_the_search() -> None:
    """At ``env.max_plies`` a game is drawn, as ShogiEnv scores it: one ply before the
    limit, every child that does not end the game otherwise is a draw, scored without the
    network, and a mate on the last allowed ply still wins."""
    agent = untrained_agent()
    for board in boards_of(mate_positions()[:4]):
        legal = {move_label(m, board.turn) for m in board.legal_moves}
        cfg = GumbelSection(simulations=len(legal), considered=len(legal), c_scale=1.0)
        search = GumbelSearch(cfg, agent.outputs, max_plies=len(board.history) + 1)
        logits, values = root_outputs(agent, [board])
        out = search.run([board], logits, values, torch.Generator().manual_seed(0))
        assert search.evaluations == 0
        assert int(out.actions[0]) in mating_labels(board)
        assert out.root_q[0] == 1.0
    start = cshogi.Board()
    search = GumbelSearch(GumbelSection(simulations=30, considered=30), agent.outputs, 1)
    out = search.run([start], *root_outputs(agent, [start]), torch.Generator().manual_seed(0))
    assert (search.evaluations, float(out.root_q[0])) == (0, 0.0)


def test_search_is_a_function_of_the_generator() -> None:
    boards = boards_of(mate_positions())
    agent = untrained_agent()
    logits, values = root_outputs(agent, boards)
    search = GumbelSearch(GumbelSection(simulations=8, considered=4), agent.outputs)
    first = search.run(boards, logits, values, torch.Generator().manual_seed(3))
    again = search.run(boards, logits, values, torch.Generator().manual_seed(3))
    assert np.array_equal(first.actions, again.actions)
    assert np.array_equal(first.targets, again.targets)


def test_update_learns_mate_in_one_from_the_search_alone() -> None:
    """Policy improvement without any reward: the untrained network's own search finds the
    mates, and training its policy toward the search's policies teaches the raw policy to
    play them."""
    boards = boards_of(mate_positions())
    n = len(boards)
    agent = untrained_agent(lr=3e-3)
    cfg = GumbelSection(simulations=48, considered=48, c_scale=1.0)
    search = GumbelSearch(cfg, agent.outputs)
    obs, masks = observations(boards), legal_masks(boards)
    mates = [mating_labels(board) for board in boards]

    def accuracy() -> float:
        return float(
            np.mean([int(a) in m for a, m in zip(agent.greedy(obs, masks), mates, strict=True)])
        )

    gen = torch.Generator().manual_seed(0)
    start = accuracy()
    buf = RolloutBuffer(4, n, targets=True)
    for _ in range(30):
        buf.reset()
        while not buf.full:
            found = search.run(boards, *agent.outputs(obs), gen)
            zeros = np.zeros(n, np.float32)
            done = np.ones(n, bool)  # one-move episodes
            buf.add(
                Row(
                    packed_obs=pack_obs(obs),
                    packed_mask=pack_mask(masks),
                    actions=found.actions,
                    logp=found.logp,
                    values=found.values,
                    rewards=zeros,
                    dones=done,
                    targets=found.targets,
                )
            )
        agent.update(buf, np.zeros(n, np.float32), gen)
        if accuracy() == 1.0:
            break
    assert start <= 0.25
    assert accuracy() == 1.0


def test_buffer_refuses_targets_it_does_not_store() -> None:
    plain, searched = RolloutBuffer(2, 1), RolloutBuffer(2, 1, targets=True)
    assert searched.bytes_per_step() == 1494 + RolloutBuffer.TARGET_BYTES_PER_STEP == 5868
    row = Row(
        packed_obs=np.zeros((1, 1205), np.uint8),
        packed_mask=np.zeros((1, 274), np.uint8),
        actions=np.zeros(1, np.int64),
        logp=np.zeros(1, np.float32),
        values=np.zeros(1, np.float32),
        rewards=np.zeros(1, np.float32),
        dones=np.zeros(1, bool),
    )
    with pytest.raises(ValueError, match="stores no policy targets"):
        plain.add(replace(row, targets=np.zeros((1, NUM_ACTIONS), np.float32)))
    with pytest.raises(ValueError, match="stores policy targets: give them"):
        searched.add(row)
    with pytest.raises(ValueError, match="saved rollout stores no policy targets"):
        searched.load_state_dict(plain.state_dict())


SEARCH = "gumbel.simulations=4"


def test_training_with_search_resumes_bit_for_bit(train: Train, tmp_path: Path) -> None:
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert train.run(whole, "--total-steps", "512", SEARCH) == 0
    assert train.run(split, "--total-steps", "256", SEARCH) == 0
    payload = read_checkpoint(split / "checkpoints" / "step_0000000256.pt")
    assert payload["rollout"]["targets"].shape == (16, 4, NUM_ACTIONS)
    assert train.run(split, "--total-steps", "512", "--resume", "latest") == 0
    info = assert_consistent(split)
    assert info["global_step"] == 512
    assert info["weights_sha256"] == final_info(whole)["weights_sha256"]
    updates = [e for e in read_events(whole) if e["kind"] == "update"]
    assert len(updates) == 512 // 64
    # The policy loss is the cross-entropy toward the search's policies: positive.
    assert all(e["policy_loss"] > 0 for e in updates)


def test_target_kl_does_not_stop_the_search_loss(train: Train, tmp_path: Path) -> None:
    """``ppo.target_kl`` bounds PPO's ratio; the cross-entropy toward the search's policies
    runs all its epochs whatever the KL (it used to stop after one minibatch here)."""
    run = tmp_path / "run"
    assert train.run(run, "--total-steps", "128", SEARCH, "ppo.target_kl=0.000001") == 0
    updates = [e for e in read_events(run) if e["kind"] == "update"]
    # Tiny preset: 64 rows a rollout, minibatches of 32, 2 epochs.
    assert [(e["epochs_run"], e["minibatch_steps"]) for e in updates] == [(2.0, 4.0)] * 2
    assert all(e["approx_kl"] > 0.000001 for e in updates)


def test_resume_cannot_turn_the_search_on_or_off(
    train: Train, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert train.run(run, "--total-steps", "128", SEARCH) == 0
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    args = ["--total-steps", "256", "--resume", "latest", "gumbel.simulations=0"]
    capsys.readouterr()
    assert train.run(run, *args) == 2
    assert "config key 'gumbel.simulations' is 0 but checkpoint" in capsys.readouterr().err
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before


# Black to move has exactly one legal move (found by random play).
FORCED = "1+P+Ns3p1/2P1k2Gl/b2p1p1Nl/P+R2p1LPp/1P1n5/K1pg1PP1G/p+r+b1P2G1/S4+sp2/3P1N1SL b P 227"


def test_one_simulation_and_a_forced_move() -> None:
    """One simulation is a search (the root's best by g + logits, evaluated once); a root
    with one legal move is not searched: its move, the network's value as its q, and the
    whole improved policy on it. Every network call has one row per game (full batch)."""
    agent = untrained_agent()
    forced, start = cshogi.Board(FORCED), cshogi.Board()
    assert len(list(forced.legal_moves)) == 1
    rows: list[int] = []

    def forward(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows.append(len(obs))
        return agent.outputs(obs)

    search = GumbelSearch(GumbelSection(simulations=1), forward)
    logits, values = root_outputs(agent, [forced, start])
    out = search.run([forced, start], logits, values, torch.Generator().manual_seed(0))
    assert (search.evaluations, rows) == (1, [2])  # the start position's one child
    only = move_label(next(iter(forced.legal_moves)), forced.turn)
    assert int(out.actions[0]) == only and out.targets[0, only] == 1.0
    assert out.root_q[0] == out.values[0] == values[0]
    arrays = (out.targets, out.logp, out.values, out.root_q)
    assert [a.dtype for a in arrays] == [np.dtype(np.float32)] * 4  # as the rollout stores them


def test_playout_cap_randomization_draws_each_steps_search() -> None:
    """``gumbel.full_search_fraction``: one draw per step from the actor's generator picks
    the full search (below the fraction) or the fast one for all the games, and a fast
    step's moves carry all-zero targets (not trained); the draw comes before the search's
    own noise, from the same generator."""
    agent = untrained_agent()
    env = ShogiEnv(3, max_plies=64)
    full = GumbelSearch(GumbelSection(simulations=4, considered=4), agent.outputs)
    fast = GumbelSearch(GumbelSection(simulations=1, considered=4), agent.outputs)
    generator = torch.Generator().manual_seed(3)
    actor = GumbelActor(agent, full, env, generator, fast, full_fraction=0.5)
    step = env.reset(0)
    kinds = []
    for _ in range(12):
        replay = torch.Generator().set_state(generator.get_state())
        expect_full = float(torch.rand(1, generator=replay, dtype=torch.float64)) < 0.5
        before = (full.evaluations, fast.evaluations)
        acted = actor.act(step)
        assert acted.targets is not None
        ran_full = full.evaluations > before[0]
        ran_fast = fast.evaluations > before[1]
        assert (ran_full, ran_fast) == (expect_full, not expect_full)
        sums = acted.targets.sum(axis=1)
        if expect_full:
            assert sums == pytest.approx(np.ones(3), abs=1e-5)
        else:
            assert not acted.targets.any()
        kinds.append(expect_full)
        step = env.step(acted.actions)
    assert 0 < sum(kinds) < 12  # both kinds happened


def test_a_fast_steps_moves_train_the_value_only(train: Train, tmp_path: Path) -> None:
    """A run with playout cap randomization: its rollout holds full steps (every game's
    target a distribution) and fast ones (every game's target zero), and it resumes bit
    for bit."""
    pcr = (SEARCH, "gumbel.full_search_fraction=0.5", "gumbel.fast_simulations=1")
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert train.run(whole, "--total-steps", "512", *pcr) == 0
    assert train.run(split, "--total-steps", "256", *pcr) == 0
    payload = read_checkpoint(split / "checkpoints" / "step_0000000256.pt")
    sums = np.asarray(payload["rollout"]["targets"], dtype=np.float64).sum(axis=2)
    full = np.isclose(sums, 1.0, atol=1e-2)
    assert (full | (sums == 0)).all()
    assert (full.all(axis=1) | ~full.any(axis=1)).all()  # a step is full or fast for all
    assert 0 < full.all(axis=1).sum() < len(sums)
    assert train.run(split, "--total-steps", "512", "--resume", "latest") == 0
    assert final_info(split)["weights_sha256"] == final_info(whole)["weights_sha256"]
    updates = [e for e in read_events(whole) if e["kind"] == "update"]
    assert all(e["policy_loss"] > 0 for e in updates)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ("gumbel.full_search_fraction=0.25",),
            "config key 'gumbel.full_search_fraction' (0.25) needs the Gumbel search: "
            "set gumbel.simulations > 0",
        ),
        (
            (SEARCH, "gumbel.full_search_fraction=0.25", "gumbel.fast_simulations=4"),
            "config key 'gumbel.fast_simulations' (4) must be below gumbel.simulations (4): "
            "the fast search is the cheap one",
        ),
    ],
)
def test_playout_cap_needs_a_search_and_a_cheaper_one(
    train: Train,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: tuple[str, ...],
    message: str,
) -> None:
    run = tmp_path / "run"
    assert train.run(run, "--total-steps", "64", *extra) == 2
    assert capsys.readouterr().err.strip() == f"keisei train: error: {message}"
    assert not run.exists()
