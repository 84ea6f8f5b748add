"""Players and matches, with real players only: random, greedy, networks, real engines."""

from __future__ import annotations

import time
from pathlib import Path

import cshogi
import numpy as np
import pytest
import torch
from cshogi import CSA, KIF

from keisei.evaluation.match import play_match
from keisei.evaluation.players import CheckpointPlayer, GreedyPlayer, PlayerError, RandomPlayer
from keisei.evaluation.specs import PlayerOptions, parse_player
from keisei.evaluation.usi import EngineSettings, USIPlayer, parse_option
from keisei.game.encoding import move_label
from keisei.game.env import ShogiEnv
from tests.evalutil import fairy_stockfish, save_tiny_checkpoint, tiny_model
from tests.usi_faults import fault_engine, group_gone, started, wrapped

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def test_greedy_beats_random_in_nearly_all_of_20_short_games() -> None:
    result = play_match(GreedyPlayer(1), RandomPlayer(2), 20, seed=3, max_plies=256)
    assert len(result.games) == 20
    assert [g.agent_color for g in result.games[:4]] == ["black", "white", "black", "white"]
    assert result.losses == 0
    assert result.wins >= 18
    assert result.wins + result.losses + result.draws == 20


def test_match_is_reproducible_from_its_seed() -> None:
    def play() -> list[tuple[str, int, tuple[int, ...]]]:
        r = play_match(GreedyPlayer(5), RandomPlayer(6), 6, seed=7, max_plies=60)
        return [(g.reason, g.plies, g.game.moves if g.game else ()) for g in r.games]

    assert play() == play()


def test_greedy_plays_mate_in_one_then_the_biggest_capture() -> None:
    greedy = GreedyPlayer(0)
    # Black to move, gold in hand, pawn on 5c: G*5b is mate; capturing nothing.
    mate = cshogi.Board("4k4/9/4P4/9/9/9/9/9/4K4 b G 1")
    move = greedy.choose(mate)
    assert cshogi.move_to_usi(move) == "G*5b"
    mate.push(move)
    assert mate.is_game_over()
    # No mate; the bishop on 5e can take a rook (2b) or a pawn (8b): it takes the rook.
    board = cshogi.Board("4k4/1p5r1/9/9/4B4/9/9/9/4K4 b - 1")
    assert board.mate_move_in_1ply() == 0
    picks = {cshogi.move_to_usi(greedy.choose(board)) for _ in range(20)}
    assert picks == {"5e2b", "5e2b+"}  # ties (promote or not) broken at random
    # In check, cshogi's mate_move_in_1ply answers an illegal L*1f here; greedy must not.
    check = cshogi.Board("+P6G1/SS7/3+B1N2l/3B1G2k/3PP4/6P2/PP3P2P/L1S2s1R1/1NG1K1NNL b RGL10P 113")
    assert check.is_check() and check.mate_move_in_1ply() not in list(check.legal_moves)
    for seed in range(5):
        assert GreedyPlayer(seed).choose(check) in list(check.legal_moves)
    # In check with a mate in one among the evasions: it is found by trying them all.
    evade = cshogi.Board(
        "p2n+S1sRb/1PG1l1k2/l1P1+N2gn/4p1pK1/S4P1P1/3p1L2S/+nppP+rBP1L/P6pp/8g b 2Pgp 241"
    )
    assert evade.is_check()
    move = greedy.choose(evade)
    evade.push(move)
    assert evade.is_game_over(), cshogi.move_to_usi(move)
    # No capture at all: a legal random move, seeded.
    start = cshogi.Board()
    a = [GreedyPlayer(9).choose(start) for _ in range(1)]
    b = [GreedyPlayer(9).choose(start) for _ in range(1)]
    assert a == b and a[0] in list(start.legal_moves)


def test_checkpoint_player_greedy_is_the_argmax_over_legal_moves() -> None:
    model = tiny_model(0)
    env = ShogiEnv(6, max_plies=40)
    step = env.reset(0)
    rng = np.random.default_rng(0)
    for _ in range(7):  # move away from the start position with random moves
        step = env.step(RandomPlayer(int(rng.integers(100))).act(env, step, np.arange(6)).actions)
    # Make every illegal action the network's favourite: it must still never play one.
    with torch.no_grad():
        model.policy_bias.copy_(torch.where(torch.from_numpy(step.mask).any(0), 0.0, 50.0))
    player = CheckpointPlayer(model, "net")
    slots = np.array([0, 2, 3, 5])
    player.open()
    actions = player.act(env, step, slots).actions
    player.close()
    with torch.no_grad():
        logits = model(torch.from_numpy(step.obs[slots]).float()).logits.numpy()
    expected = np.where(step.mask[slots], logits, -np.inf).argmax(axis=1)
    assert actions.tolist() == expected.tolist()
    assert step.mask[slots, actions].all()


def test_checkpoint_player_masked_softmax_and_sampling() -> None:
    model = tiny_model(1)
    env = ShogiEnv(4, max_plies=40)
    step = env.reset(0)
    slots = np.arange(4)
    player = CheckpointPlayer(model, "net", temperature=2.0, seed=11)
    p = player.policy(step.obs, step.mask).probs.numpy()
    assert np.all(p[~step.mask] == 0.0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(p[step.mask] > 0.0)
    draws = np.stack([player.act(env, step, slots).actions for _ in range(50)])
    assert step.mask[np.arange(4)[None, :].repeat(50, 0), draws].all()
    assert len(set(draws[:, 0].tolist())) > 1  # sampled, not greedy
    again = CheckpointPlayer(model, "net", temperature=2.0, seed=11)
    assert again.act(env, step, slots).actions.tolist() == draws[0].tolist()


def test_checkpoint_player_batches_inference_across_games() -> None:
    model = tiny_model(2)
    sizes: list[int] = []
    model.register_forward_hook(lambda _m, inp, _out: sizes.append(int(inp[0].shape[0])))
    player = CheckpointPlayer(model, "net")
    with player:
        result = play_match(player, RandomPlayer(0), 8, seed=0, max_plies=20)
    agent_moves = sum((g.plies + (g.agent_color == "black")) // 2 for g in result.games)
    assert sum(sizes) == agent_moves
    assert len(sizes) <= 20  # one forward pass per ply for all 8 games, not one per game
    assert max(sizes) == 4


def test_checkpoint_spec_loads_the_network(tmp_path: Path) -> None:
    model = tiny_model(3)
    path = save_tiny_checkpoint(tmp_path / "run", 1234, model)
    player = parse_player(str(path))
    assert isinstance(player, CheckpointPlayer)
    assert player.name == "run/step_1234"
    with torch.no_grad():
        x = torch.zeros(1, 119, 9, 9)
        assert torch.equal(player.model(x).logits, model(x).logits)
    by_run = parse_player(
        str(tmp_path / "run"), options=PlayerOptions(ratings_run_dir=tmp_path / "run")
    )
    assert by_run.name == "step_1234"


def test_bad_specs_are_reported(tmp_path: Path) -> None:
    with pytest.raises(PlayerError, match="no such checkpoint or run directory"):
        parse_player(str(tmp_path / "missing.pt"))
    script = tmp_path / "engine.sh"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(PlayerError, match="is not executable"):
        parse_player(f"usi:{script}")
    with pytest.raises(PlayerError, match="does not exist"):
        parse_player(f"usi:{tmp_path}/nope")
    with pytest.raises(PlayerError, match="NAME=VALUE"):
        parse_option("Skill Level")
    with pytest.raises(PlayerError, match="'nodes=0': not a positive number"):
        parse_player(f"usi:{fairy_stockfish()}[nodes=0]")
    with pytest.raises(PlayerError, match=r"'time=1e300': at most 1e\+06 s$"):
        parse_player(f"usi:{fairy_stockfish()}[time=1e300]")
    with pytest.raises(PlayerError, match=r"'byoyomi=2000000000': at most 1e\+09 ms$"):
        parse_player(f"usi:{fairy_stockfish()}[byoyomi=2000000000]")
    assert parse_option("Skill Level=-20") == ("Skill Level", "-20")


def test_engine_spec_with_settings_names_the_engine_the_same_way() -> None:
    path = fairy_stockfish()
    from_spec = parse_player(f"usi:{path}[Skill Level=-20,nodes=3000,time=5]")
    flags = EngineSettings(options=(("Skill Level", "-20"),), nodes=3000)
    from_flags = parse_player(f"usi:{path}", options=PlayerOptions(engine=flags))
    assert isinstance(from_spec, USIPlayer) and isinstance(from_flags, USIPlayer)
    assert from_spec.name == from_flags.name == "usi:fairy-stockfish[Skill Level=-20,nodes=3000]"
    assert from_spec.settings.time_limit_s == 5.0
    assert from_spec.settings.go_limits() == {"nodes": 3000}
    assert parse_player(f"usi:{path}").name == "usi:fairy-stockfish[byoyomi=1000]"


def test_fairy_stockfish_at_its_weakest_beats_random() -> None:
    engine = USIPlayer(
        fairy_stockfish(), EngineSettings(options=(("Skill Level", "-20"),), nodes=3000)
    )
    with engine:
        assert engine.engine_name.startswith("Fairy-Stockfish")
        assert "UCI_Variant" in engine.option_names  # set to shogi by keisei
        result = play_match(engine, RandomPlayer(0), 6, seed=0, max_plies=256)
    assert result.losses == 0
    assert result.wins >= 5
    assert not result.faults()


def test_unknown_engine_option_fails_before_any_game(tmp_path: Path) -> None:
    engine = USIPlayer(fairy_stockfish(), EngineSettings(options=(("No Such Option", "1"),)))
    with pytest.raises(PlayerError, match="has no option 'No Such Option'"):
        engine.open()


def test_engine_crash_mid_game_is_scored_and_the_engine_restarted(tmp_path: Path) -> None:
    # The engine dies at its 3rd "go", in its first process only.
    engine = USIPlayer(fault_engine(tmp_path, "crash", 3, once=True), EngineSettings())
    with engine:
        result = play_match(
            RandomPlayer(0), engine, 3, seed=0, parallel=1, max_plies=12, records_dir=tmp_path
        )
    first = result.games[0]
    # Game 0: the agent (black) moved at plies 1, 3, 5; the engine answered twice, then died.
    assert (first.reason, first.plies, first.outcome, first.forfeited_by) == (
        "engine_crash",
        5,
        "win",
        "opponent",
    )
    assert "exited with code 3" in (first.detail or "")
    assert "crashing on purpose" in (first.detail or "")
    assert engine.restarts == 1
    assert [g.reason for g in result.games[1:]] == ["max_plies", "max_plies"]
    assert [f.index for f in result.faults()] == [0]
    csa = CSA.Parser.parse_file(str(tmp_path / "game_0.csa"))[0]
    assert (csa.endgame, len(csa.moves), csa.win) == ("%TORYO", 5, cshogi.BLACK_WIN)
    assert "engine_crash" in csa.comment
    kif = KIF.Parser.parse_file(str(tmp_path / "game_0.kif"))
    assert (kif.endgame, len(kif.moves), kif.win) == ("%TORYO", 5, cshogi.BLACK_WIN)


def test_engine_illegal_move_and_timeout_are_losses_with_reasons(tmp_path: Path) -> None:
    illegal = USIPlayer(fault_engine(tmp_path, "illegal", 2), EngineSettings())
    with illegal:
        result = play_match(RandomPlayer(0), illegal, 2, seed=0, parallel=1, max_plies=8)
    assert [(g.reason, g.plies, g.outcome) for g in result.games] == [
        ("engine_illegal_move", 3, "win"),
        ("max_plies", 8, "draw"),
    ]
    assert "'5e5d'" in (result.games[0].detail or "")
    hang = USIPlayer(fault_engine(tmp_path, "hang", 2), EngineSettings(time_limit_s=0.3))
    started = time.monotonic()
    with hang:
        result = play_match(hang, RandomPlayer(0), 1, seed=0, max_plies=8, records_dir=tmp_path)
    assert time.monotonic() - started < 5.0
    g = result.games[0]
    assert (g.reason, g.plies, g.outcome, g.forfeited_by) == ("engine_timeout", 2, "loss", "agent")
    csa = CSA.Parser.parse_file(str(tmp_path / "game_0.csa"))[0]
    assert (csa.endgame, csa.win) == ("%TIME_UP", cshogi.WHITE_WIN)


def test_resigning_engine_loses_without_a_fault(tmp_path: Path) -> None:
    engine = USIPlayer(fault_engine(tmp_path, "resign", 1), EngineSettings())
    with engine:
        result = play_match(engine, GreedyPlayer(0), 1, seed=0, max_plies=8)
    g = result.games[0]
    assert (g.reason, g.plies, g.outcome) == ("resign", 0, "loss")
    assert not result.faults()


def test_opening_plies_give_pairs_the_same_opening() -> None:
    model = tiny_model(4)
    a, b = CheckpointPlayer(model, "a"), CheckpointPlayer(tiny_model(5), "b")
    result = play_match(a, b, 4, seed=1, max_plies=30, opening_plies=4)
    openings = [g.game.moves[:4] for g in result.games if g.game]
    assert openings[0] == openings[1] and openings[2] == openings[3]
    assert openings[0] != openings[2]
    labels = [move_label(m, i % 2) for i, m in enumerate(openings[0])]
    assert len(labels) == 4


def test_timed_out_engine_is_killed_with_its_whole_process_group(tmp_path: Path) -> None:
    # The engine runs under a wrapper script, ignores SIGTERM and hangs at its 2nd move
    # (first process only): on the timeout its group gets SIGTERM, then SIGKILL.
    pids = tmp_path / "pids"
    inner = fault_engine(tmp_path, "hang", 2, once=True, ignore_term=True, pids=pids)
    engine = USIPlayer(wrapped(tmp_path, inner), EngineSettings(time_limit_s=0.3))
    started_at = time.monotonic()
    with engine:
        result = play_match(engine, RandomPlayer(0), 2, seed=0, parallel=1, max_plies=8)
        (first_pid, first_group), (_, second_group) = started(pids)
        assert first_pid != first_group  # the engine is the wrapper's child, in its group
        assert group_gone(first_group)
        assert not group_gone(second_group, within=0.0)  # the restarted engine, playing on
    assert time.monotonic() - started_at < 10.0
    assert [(g.reason, g.plies) for g in result.games] == [
        ("engine_timeout", 2),
        ("max_plies", 8),
    ]
    assert result.games[0].detail == ("no move within 0.3 s (engine killed, to be restarted)")
    assert group_gone(second_group)


def test_engine_that_ignores_quit_and_sigterm_leaves_no_process_after_close(
    tmp_path: Path,
) -> None:
    pids = tmp_path / "pids"
    inner = fault_engine(tmp_path, "linger", 0, ignore_term=True, pids=pids)
    engine = USIPlayer(wrapped(tmp_path, inner), EngineSettings())
    engine.open()
    ((pid, group),) = started(pids)
    assert pid != group and not group_gone(group, within=0.0)
    engine.close()
    assert group_gone(group)


def test_engine_garbage_is_reported_with_what_it_sent(tmp_path: Path) -> None:
    engine = USIPlayer(fault_engine(tmp_path, "garbage", 2), EngineSettings(time_limit_s=0.3))
    with engine:
        result = play_match(engine, RandomPlayer(0), 1, seed=0, max_plies=8)
    g = result.games[0]
    assert (g.reason, g.plies, g.outcome) == ("engine_timeout", 2, "loss")
    assert g.detail == (
        "no move within 0.3 s; it sent 'bestmvoe 7g7f' '" + "x" * 80 + "...' "
        "(engine killed, to be restarted)"
    )
    silent = USIPlayer(fault_engine(tmp_path, "garbage", 0), EngineSettings(startup_timeout_s=2.0))
    with pytest.raises(PlayerError) as info:
        silent.open()
    assert str(info.value) == (
        f"engine {tmp_path / 'faulty_garbage_0.py'} failed to start: no answer before the "
        "deadline; it sent 4 lines, ending 'option name Depth type spin default 1 "
        "min 1 max 9' 'bestmvoe 7g7f' '" + "x" * 80 + "...'"
    )
