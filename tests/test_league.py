"""The league (keisei.training.league): past selves as opponents, drawn by PFSP, their
moves played from their frozen networks and never trained; real runs resume bit for bit."""

from __future__ import annotations

from pathlib import Path

import cshogi
import numpy as np
import pytest
import torch

from keisei.config import TrainConfig
from keisei.game.encoding import move_label
from keisei.game.env import ShogiEnv
from keisei.rl.network import ActorCritic
from keisei.rl.ppo import PPOAgent
from keisei.training.actors import LeagueActor, SamplingActor
from keisei.training.checkpoint import read_checkpoint
from keisei.training.league import (
    SELF_PLAY,
    League,
    LeagueGames,
    league_slots,
    pfsp_weights,
)
from keisei.training.pipeline import PlyPipeline
from tests.conftest import WON_BY_BLACK, Train, read_events
from tests.test_train import assert_consistent, final_info, interrupt_after

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Two of the tiny preset's four games against past selves, a snapshot every two updates.
LEAGUE = ("league.fraction=0.5", "league.snapshot_every_updates=2", "league.pool_size=2")


def test_pfsp_weights_by_hand() -> None:
    # The learner's (wins, draws, losses): none yet, 3-0-1, 0-0-4, 1-2-1.
    results = np.array([[0, 0, 0], [3, 0, 1], [0, 0, 4], [1, 2, 1]], dtype=np.float64)
    # Scores with one win and one loss as a prior: 1/2, 4/6, 1/6, 3/6.
    hard = np.array([1 / 2, 2 / 6, 5 / 6, 3 / 6])
    np.testing.assert_allclose(pfsp_weights(results, 1.0), hard / hard.sum(), rtol=1e-12)
    np.testing.assert_allclose(pfsp_weights(results, 2.0), hard**2 / (hard**2).sum(), rtol=1e-12)
    np.testing.assert_allclose(pfsp_weights(results, 0.0), np.full(4, 0.25), rtol=1e-12)


@pytest.mark.parametrize(
    ("fraction", "games", "slots"), [(0.0, 4, 0), (0.5, 4, 2), (0.01, 4, 1), (1.0, 4, 4)]
)
def test_league_slots(fraction: float, games: int, slots: int) -> None:
    assert league_slots(fraction, games) == slots


def test_a_past_self_plays_its_side_and_its_results_are_counted(tiny_config: TrainConfig) -> None:
    """A snapshot that plays 7g7f (or 3c3d) wherever it can; the learner, re-seeded,
    plays otherwise. Games of 2 plies (max_plies) end in draws that PFSP counts."""
    cfg = tiny_config.league.model_copy(
        update={"fraction": 0.5, "snapshot_every_updates": 1, "pool_size": 1}
    )
    model = ActorCritic(tiny_config.model)
    board = cshogi.Board()
    black = move_label(board.move_from_usi("7g7f"), cshogi.BLACK)
    board.push_usi("7g7f")
    white = move_label(board.move_from_usi("3c3d"), cshogi.WHITE)
    with torch.no_grad():
        model.policy_conv[-1].weight.zero_()
        model.policy_bias.zero_()
        model.policy_bias[[black, white]] = 50.0
    league = League(cfg, model, 4, torch.device("cpu"))
    assert league.after_update(1) == {"league_opponents": 1.0}
    assert [o.update for o in league.pool] == [1]
    torch.manual_seed(1)
    model.load_state_dict(ActorCritic(tiny_config.model).state_dict())  # the learner moves on
    agent = PPOAgent(model, tiny_config.ppo, total_updates=1)
    seed = 6
    generator = torch.Generator().manual_seed(seed)
    actor = LeagueActor(agent, generator, league)
    env = ShogiEnv(4, max_plies=2)
    step = env.reset(0)
    acted = actor.act(step)
    # Both league games drew the one opponent, and their colours from the generator's first
    # two pairs of uniforms (opponent, colour): the learner is white in game 0, black in 1.
    colours = torch.rand((2, 2), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    assert [0 if u < 0.5 else 1 for u in colours[:, 1].tolist()] == [1, 0]
    assert league.games.opponent.tolist() == [1, 1]
    assert league.games.learner.tolist() == [1, 0]
    assert acted.learner is not None
    assert acted.learner.tolist() == [False, True, True, True]
    assert acted.actions[0] == black and acted.logp[0] == 0.0
    assert acted.actions[1] != black  # the learner's own move (its policy is near uniform)
    step = env.step(acted.actions)
    acted = actor.act(step)
    assert acted.learner is not None
    assert acted.learner.tolist() == [True, False, True, True]
    assert acted.actions[1] == white
    step = env.step(acted.actions)
    assert [g is not None and g.reason for g in step.finished] == ["max_plies"] * 4
    actor.act(step)  # counts the two league games (draws), starts the next ones
    assert {k: v.tolist() for k, v in league.games.pending.items()} == {1: [0.0, 2.0, 0.0]}
    # The results are added up at the update; then the pool takes the learner and drops its
    # oldest (pool_size 1), whose games go on as self-play.
    metrics = league.after_update(2)
    assert metrics == {"league_opponents": 1.0, "league_games": 2.0, "league_score": 0.5}
    assert league.games.pending == {}
    assert [o.update for o in league.pool] == [2]
    assert league.games.opponent.tolist() == [SELF_PLAY, SELF_PLAY]


def test_a_league_run_trains_only_the_learners_moves_and_resumes_bit_for_bit(
    train: Train, tmp_path: Path
) -> None:
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert train.run(whole, "--total-steps", "1024", *LEAGUE) == 0
    assert train.run(split, "--total-steps", "512", *LEAGUE) == 0
    payload = read_checkpoint(split / "checkpoints" / "step_0000000512.pt")
    # Eight updates: snapshots after updates 2, 4, 6, 8; the pool keeps the last two.
    assert [entry["update"] for entry in payload["league"]["pool"]] == [6, 8]
    learner = payload["rollout"]["learner"]
    assert learner.shape == (16, 4)
    assert learner[:, 2:].all()  # games 2 and 3 are self-play: every move trained
    assert set(payload["actor"]["opponent"]) <= {SELF_PLAY, 6, 8}
    assert train.run(split, "--total-steps", "1024", "--resume", "latest") == 0
    info = assert_consistent(split)
    assert info["global_step"] == 1024
    assert info["weights_sha256"] == final_info(whole)["weights_sha256"]
    updates = [e for e in read_events(whole) if e["kind"] == "update"]
    assert [e["league_opponents"] for e in updates] == [0, 1, 1] + [2] * 13
    # Every league game finished is counted once, by the update after it.
    games = sum(e.get("league_games", 0) for e in updates)
    assert 0 < games <= info["episodes"]


def test_a_league_run_with_overlap_resumes_bit_for_bit(train: Train, tmp_path: Path) -> None:
    """With env.overlap the first half's next moves (and league draws) are chosen ahead of a
    rollout's row; a checkpoint and resume start the pipeline afresh."""
    whole, split = tmp_path / "whole", tmp_path / "split"
    argv = (*LEAGUE, "env.overlap=true")
    assert train.run(whole, "--total-steps", "1024", *argv) == 0
    assert train.run(split, "--total-steps", "512", *argv) == 0
    assert train.run(split, "--total-steps", "1024", "--resume", "latest") == 0
    assert final_info(split)["weights_sha256"] == final_info(whole)["weights_sha256"]


def test_league_settings_that_cannot_be(
    train: Train, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train.run(tmp_path / "a", "league.fraction=0.5", "gumbel.simulations=4") == 2
    err = capsys.readouterr().err
    assert "config key 'league.fraction' (0.5) cannot be combined with the Gumbel search" in err
    assert not (tmp_path / "a").exists()
    assert train.run(tmp_path / "b", "league.fraction=1.5") == 2
    assert "league.fraction" in capsys.readouterr().err
    run = tmp_path / "run"
    assert train.run(run, "--total-steps", "128", *LEAGUE) == 0
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    capsys.readouterr()
    assert train.run(run, "--total-steps", "256", "--resume", "latest", "league.fraction=0.25") == 2
    err = capsys.readouterr().err
    assert "config key 'league.fraction' is 0.25 but checkpoint" in err
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before
    # The other league keys may change on resume.
    argv = ("--total-steps", "256", "--resume", "latest", "league.pool_size=1")
    assert train.run(run, *argv) == 0


def test_a_league_run_stopped_mid_rollout_with_overlap_resumes_bit_for_bit(
    train: Train, tmp_path: Path
) -> None:
    """A stop between two plies forgets the first half's moves chosen ahead, with their
    random draws and the league games' draws and counts (the actor's state)."""
    argv = ["--total-steps", "2048", "env.overlap=true", "rollout.steps_per_game=256", *LEAGUE]
    argv += ["league.snapshot_every_updates=1", "env.max_plies=24"]
    assert train.run(tmp_path / "ref", *argv) == 0
    reference = final_info(tmp_path / "ref")["weights_sha256"]
    run_dir = tmp_path / "run"
    info = interrupt_after(train, run_dir, argv, "update")
    assert 1024 < info["global_step"] < 2048, "the signal did not land inside the rollout"
    payload = read_checkpoint(Path(info["path"]))
    assert [entry["update"] for entry in payload["league"]["pool"]] == [1]
    assert train.run(run_dir, "--resume", "latest") == 0
    assert final_info(run_dir)["weights_sha256"] == reference


def league_actor(
    config: TrainConfig, seed: int, games: int = 4
) -> tuple[LeagueActor, torch.Generator]:
    """A league actor over the tiny network with one snapshot in its pool, for ``games``
    games (half of them league games)."""
    cfg = config.league.model_copy(update={"fraction": 0.5})
    model = ActorCritic(config.model)
    league = League(cfg, model, games, torch.device("cpu"))
    league.after_update(cfg.snapshot_every_updates)
    generator = torch.Generator().manual_seed(seed)
    return LeagueActor(PPOAgent(model, config.ppo, total_updates=1), generator, league), generator


def test_a_league_actor_without_saved_games_starts_fresh_ones(tiny_config: TrainConfig) -> None:
    """A checkpoint with no actor state (a run before the league had any) loads as the
    league's fresh games, whatever the actor had drawn."""
    actor, _ = league_actor(tiny_config, 0)
    fresh = actor.state_dict()
    actor.act(ShogiEnv(4, max_plies=1).reset(0))
    assert actor.state_dict() != fresh  # the league games drew their opponents
    actor.load_state_dict({})
    assert actor.state_dict() == fresh


def test_moves_chosen_ahead_are_forgotten_with_the_league_draws(tiny_config: TrainConfig) -> None:
    """With overlap, the first half's next moves are chosen while the second half steps; a
    stop then (leaving ``running``) undoes their draws and what they did to the league's
    games (games of one ply: every move ends a game, every next one starts one)."""
    states = []
    for ahead in (False, True):
        actor, generator = league_actor(tiny_config, 0)
        env = ShogiEnv(4, max_plies=1)
        pipeline = PlyPipeline(env, actor, generator, overlap=True)
        with pipeline.running():
            parts = pipeline.split(env.reset(0))
            parts, _row, finished = pipeline.ply(parts, act_ahead=ahead)
            assert [g is not None for g in finished] == [True] * 4
            inside = actor.state_dict()
        states.append((actor.state_dict(), generator.get_state(), inside))
    (plain, plain_rng, _), (undone, undone_rng, ahead_state) = states
    assert ahead_state != plain  # the moves ahead counted the finished games and drew
    assert ahead_state["pending"] != {}
    assert undone == plain
    assert torch.equal(undone_rng, plain_rng)


def test_league_results_are_the_learners_and_self_play_is_not_counted(
    tiny_config: TrainConfig,
) -> None:
    """From a position where Black mates in one (G*5b), in games of one ply: the snapshot
    plays G*5b; the learner is black in game 0 (its own move: a draw at the ply limit) and
    white in game 1 (mated: a loss). Before the pool has anyone, nothing is counted."""
    cfg = tiny_config.league.model_copy(update={"fraction": 0.5, "snapshot_every_updates": 1})
    model = ActorCritic(tiny_config.model)
    mate_in_one = "4k4/9/4P4/9/9/9/9/9/4K4 b G 1"
    board = cshogi.Board(mate_in_one)
    drop = move_label(board.move_from_usi("G*5b"), cshogi.BLACK)
    with torch.no_grad():
        model.policy_conv[-1].weight.zero_()
        model.policy_bias.zero_()
        model.policy_bias[drop] = 50.0
    league = League(cfg, model, 4, torch.device("cpu"))
    agent = PPOAgent(model, tiny_config.ppo, total_updates=1)
    actor = LeagueActor(agent, torch.Generator().manual_seed(2), league)
    env = ShogiEnv(4, max_plies=1, start_sfens=[mate_in_one])
    step = env.step(actor.act(env.reset(0)).actions)  # self-play: the pool is empty
    assert [g is not None and g.reason for g in step.finished] == ["checkmate"] * 4
    acted = actor.act(step)
    assert league.games.pending == {}
    assert league.games.opponent.tolist() == [SELF_PLAY, SELF_PLAY]
    league.after_update(1)
    torch.manual_seed(1)
    model.load_state_dict(ActorCritic(tiny_config.model).state_dict())
    step = env.step(acted.actions)  # games started as self-play: not counted
    step = env.step(actor.act(step).actions)  # games against the snapshot
    assert league.games.learner.tolist() == [0, 1]
    reasons = [g is not None and g.reason for g in step.finished]
    assert reasons[:2] == ["max_plies", "checkmate"]
    actor.act(step)
    assert {k: v.tolist() for k, v in league.games.pending.items()} == {1: [0.0, 1.0, 1.0]}
    metrics = league.after_update(2)
    assert metrics == {"league_opponents": 2.0, "league_games": 2.0, "league_score": 0.25}
    assert [o.results.tolist() for o in league.pool] == [[0.0, 1.0, 1.0], [0.0, 0.0, 0.0]]


def test_opponents_are_drawn_by_pfsp_from_the_runs_generator(tiny_config: TrainConfig) -> None:
    """A pool of two: the learner has beaten the first 10-0 and lost to the second 0-10,
    so PFSP draws the first with probability (1 - 11/12) / ((1 - 11/12) + (1 - 1/12)) =
    1/12. The 64 league games starting at once take the generator's first 64 pairs of
    uniforms, (opponent, colour), in game order."""
    cfg = tiny_config.league.model_copy(update={"fraction": 1.0, "snapshot_every_updates": 1})
    league = League(cfg, ActorCritic(tiny_config.model), 64, torch.device("cpu"))
    league.after_update(1)
    league.after_update(2)
    league.pool[0].results = np.array([10.0, 0.0, 0.0])
    league.pool[1].results = np.array([0.0, 0.0, 10.0])
    league.begin(ShogiEnv(64, max_plies=8).reset(0), torch.Generator().manual_seed(5))
    u = torch.rand((64, 2), generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    expected = np.where(u[:, 0].numpy() < 1 / 12, 1, 2)
    assert league.games.opponent.tolist() == expected.tolist()
    assert 0 < (expected == 1).sum() < 16  # both drawn, the beaten one rarely
    assert league.games.learner.tolist() == (u[:, 1].numpy() >= 0.5).astype(int).tolist()


def test_league_state_refusals(tiny_config: TrainConfig) -> None:
    saved = LeagueGames.fresh(3).state_dict()
    with pytest.raises(ValueError) as refused:
        LeagueGames.from_state(saved, 2)
    assert str(refused.value) == (
        "saved league has 3 league games per rank, this run 2 (league.fraction and "
        "env.num_games decide it)"
    )
    agent = PPOAgent(ActorCritic(tiny_config.model), tiny_config.ppo, total_updates=1)
    plain = SamplingActor(agent, torch.Generator())
    assert plain.state_dict() == {}
    with pytest.raises(ValueError) as refused:
        plain.load_state_dict(saved)
    assert str(refused.value) == (
        "saved actor state ['learner', 'opponent', 'pending'] belongs to a league run "
        "(league.fraction > 0); this run has no league"
    )


@pytest.mark.parametrize(
    ("seed", "colour", "counted", "score"),
    [(1, 0, [1.0, 0.0, 0.0], 1.0), (0, 1, [0.0, 0.0, 1.0], 0.0)],
)
def test_a_decided_league_game_is_the_learners_win_or_loss(
    tiny_config: TrainConfig, seed: int, colour: int, counted: list[float], score: float
) -> None:
    """One league game of four (fraction 0.25) from a position Black wins by nyugyoku at
    ply 2 whatever is played: the generator's first colour draw makes the learner black
    (seed 1: a win) or white (seed 0: a loss), and the update reports that one game."""
    cfg = tiny_config.league.model_copy(update={"fraction": 0.25, "snapshot_every_updates": 1})
    model = ActorCritic(tiny_config.model)
    league = League(cfg, model, 4, torch.device("cpu"))
    league.after_update(1)
    actor = LeagueActor(
        PPOAgent(model, tiny_config.ppo, total_updates=1),
        torch.Generator().manual_seed(seed),
        league,
    )
    env = ShogiEnv(4, max_plies=8, start_sfens=[WON_BY_BLACK])
    step = env.reset(0)
    for _ in range(2):
        step = env.step(actor.act(step).actions)
    assert league.games.learner.tolist() == [colour]
    assert [g is not None and (g.winner, g.reason) for g in step.finished] == [(0, "nyugyoku")] * 4
    actor.act(step)
    assert {k: v.tolist() for k, v in league.games.pending.items()} == {1: counted}
    metrics = league.after_update(2)
    assert metrics == {"league_opponents": 2.0, "league_games": 1.0, "league_score": score}


def test_the_second_half_of_an_overlapped_ply_draws_for_its_own_league_games(
    tiny_config: TrainConfig,
) -> None:
    """Three league games of four (fraction 0.75), the games in halves of two: the second
    half holds league game 2 only, so it draws one (opponent, colour) pair for it, leaves
    games 0 and 1 alone, and names its row 0 (game 2) when the opponent is to move."""
    cfg = tiny_config.league.model_copy(update={"fraction": 0.75, "snapshot_every_updates": 1})
    league = League(cfg, ActorCritic(tiny_config.model), 4, torch.device("cpu"))
    league.after_update(1)
    second = ShogiEnv(4, max_plies=8).reset(0).part(slice(2, 4))
    generator = torch.Generator().manual_seed(1)  # colour 0.22: the learner is black
    league.begin(second, generator)
    assert league.games.opponent.tolist() == [SELF_PLAY, SELF_PLAY, 1]
    assert league.games.learner.tolist() == [0, 0, 0]
    one_pair = torch.Generator().manual_seed(1)
    torch.rand((1, 2), generator=one_pair, dtype=torch.float64)
    assert torch.equal(generator.get_state(), one_pair.get_state())
    assert league.opponent_moves(second) == []  # black (the learner) is to move
    league.games.learner[2] = 1
    ((index, rows),) = league.opponent_moves(second)
    assert (index, rows.tolist()) == (0, [0])


def test_the_pool_and_the_games_survive_a_checkpoint(tiny_config: TrainConfig) -> None:
    """``League.state_dict`` holds every snapshot (weights, results, name) and
    ``LeagueGames.state_dict`` each game's opponent, colour and uncounted results; loaded
    into another league they are the same, frozen."""
    cfg = tiny_config.league.model_copy(
        update={"fraction": 0.5, "snapshot_every_updates": 2, "pool_size": 2}
    )
    model = ActorCritic(tiny_config.model)
    league = League(cfg, model, 4, torch.device("cpu"))
    assert league.after_update(1) == {"league_opponents": 0.0}  # no snapshot yet
    league.after_update(2)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)  # the learner moves on
    league.after_update(4)
    league.pool[0].results = np.array([3.0, 1.0, 2.0])
    league.games = LeagueGames(
        np.array([2, SELF_PLAY]), np.array([1, 0], np.int8), {4: np.array([0.0, 1.0, 0.0])}
    )
    other = League(cfg, ActorCritic(tiny_config.model), 4, torch.device("cpu"))
    other.load_state_dict(league.state_dict())
    other.games = LeagueGames.from_state(league.games.state_dict(), other.slots)
    assert [o.update for o in other.pool] == [2, 4]
    assert [o.results.tolist() for o in other.pool] == [[3.0, 1.0, 2.0], [0.0, 0.0, 0.0]]
    for mine, theirs in zip(league.pool, other.pool, strict=True):
        ours, saved = mine.model.state_dict(), theirs.model.state_dict()
        assert list(ours) == list(saved)
        assert all(torch.equal(ours[k], saved[k]) for k in ours)
        for frozen in (mine.model, theirs.model):
            assert not frozen.training
            assert not any(p.requires_grad for p in frozen.parameters())
    first = next(other.pool[0].model.parameters())
    assert not torch.equal(first, next(other.pool[1].model.parameters()))
    games = other.games
    assert (games.opponent.tolist(), games.learner.tolist()) == ([2, SELF_PLAY], [1, 0])
    assert {k: v.tolist() for k, v in games.pending.items()} == {4: [0.0, 1.0, 0.0]}
    assert other.learner_model is not league.learner_model
