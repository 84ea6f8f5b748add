"""keisei/training/trainer.py at its smallest: three updates of two 6-ply games, in-process,
in well under a second each, event by event.

The real trainer, environment, network and sinks (built by build_trainer and open_sinks);
hooks are the seam for failures and stops. The same paths through ``keisei train``, with
real signals and subprocesses, are in test_train.py and test_train_faults.py; this file
is the fast subset that mutation testing runs on the module.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.distributed as dist

from keisei.config import TrainConfig, load_config
from keisei.training.build import build_trainer, open_sinks
from keisei.training.checkpoint import list_checkpoints, read_checkpoint
from keisei.training.console import ConsoleSink
from keisei.training.hooks import CheckpointHook, HookContext
from keisei.training.trainer import (
    EXIT_FAILED,
    StopRequest,
    Trainer,
    _in_collective,
    run_session,
)
from tests.conftest import WON_BY_BLACK, WON_BY_WHITE, FailsOnCall, read_events

# 2 games of at most 6 plies, 8 plies a game per rollout: an update every 16 steps, every
# game a draw at the ply limit (an untrained network mates no one in 6 plies).
SMALL = (
    "env.num_games=2", "rollout.steps_per_game=8", "env.max_plies=6", "run.total_steps=48",
    "ppo.minibatch_size=8", "checkpoint.every_steps=32", "logging.record_every_episodes=3",
    "logging.log_every_updates=1", "logging.tensorboard=false", "logging.console=plain",
)  # fmt: skip


def reasons(max_plies: int) -> dict[str, int]:
    """The termination counts of games that all reached the ply limit, every reason named."""
    return {"checkmate": 0, "no_legal_moves": 0, "perpetual_check": 0, "repetition": 0,
            "nyugyoku": 0, "max_plies": max_plies}  # fmt: skip


def small(*overrides: str) -> TrainConfig:
    return load_config("tiny", overrides=[*SMALL, *overrides])


def trainer_for(run: Path, config: TrainConfig, hooks: list[Any] | None = None) -> Trainer:
    run.mkdir(parents=True, exist_ok=True)
    sinks, _ = open_sinks(config, run, None)
    threads = torch.get_num_threads()
    try:
        return build_trainer(config, run, sinks, hooks)
    finally:
        torch.set_num_threads(threads)


def session(run: Path, *overrides: str, hooks: list[Any] | None = None) -> tuple[int, Trainer]:
    trainer = trainer_for(run, small(*overrides), hooks)
    trainer.start_fresh()
    return run_session(trainer, None), trainer


def live_view(trainer: Trainer) -> ConsoleSink:
    """The live view beside the trainer's sinks, as ``logging.console=auto`` adds on a
    terminal; stopped at once, it still keeps what it would show."""
    view = ConsoleSink(trainer.config)
    view.close()
    trainer.sinks.sinks.append(view)
    return view


def brief(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["kind"], e["step"], e.get("episode", e.get("update"))) for e in events]


def test_three_updates_event_by_event(tmp_path: Path) -> None:
    run = tmp_path / "run"
    code, trainer = session(run)
    assert code == 0
    events = read_events(run)
    assert brief(events) == [
        ("start", 0, None),
        ("episode", 12, 1), ("episode", 12, 2), ("update", 16, 1),
        ("episode", 24, 3), ("episode", 24, 4), ("update", 32, 2),
        ("episode", 36, 5), ("episode", 36, 6), ("episode", 48, 7), ("episode", 48, 8),
        ("update", 48, 3),
        ("checkpoint", 48, None),
        ("end", 48, None),
    ]  # fmt: skip
    assert events[0]["fresh"] is True
    for e in events[1:-1]:
        if e["kind"] == "episode":
            assert (e["plies"], e["result"], e["reason"]) == (6, "draw", "max_plies")
    updates = [e for e in events if e["kind"] == "update"]
    assert [u["episodes"] for u in updates] == [2, 4, 8]
    for u in updates:
        assert (u["black_win_rate"], u["white_win_rate"], u["draw_rate"]) == (0.0, 0.0, 1.0)
        assert {"loss", "policy_loss", "value_loss", "entropy", "approx_kl"} <= set(u)
    final = run / "checkpoints" / "step_0000000048.pt"
    payload = read_checkpoint(final)
    assert events[-2] | {"time": 0} == {
        "time": 0, "kind": "checkpoint", "step": 48, "path": str(final), "status": "finished",
        "weights_sha256": payload["weights_sha256"], "removed": [],
    }  # fmt: skip
    assert events[-1] | {"time": 0} == {
        "time": 0, "kind": "end", "step": 48, "exit_code": 0, "episodes": 8, "black_wins": 0,
        "white_wins": 0, "draws": 8, "reasons": reasons(8),
    }  # fmt: skip
    assert (payload["status"], payload["consistent"], payload["league"]) == ("finished", True, None)
    assert payload["wandb_run_id"] is None and "world_size" not in payload
    assert payload["actor"] == {}
    state = payload["state"]
    assert (state["global_step"], state["updates"], state["episodes"], state["draws"]) == (
        48,
        3,
        8,
        8,
    )
    assert state["finished_plies"] == 48 and state["reasons"] == reasons(8)
    log = (run / "train.log").read_text(encoding="utf-8").splitlines()
    lines = [line.split("INFO    ", 1)[1] for line in log]
    assert lines[0] == "Starting fresh training"
    line = r"step {}/48 \| \d+ steps/s \| games {} \(black 0, white 0, draws {}\) \| "
    line += r"policy -?\d\.\d{{4}} value \d\.\d{{4}} entropy \d\.\d{{3}} "
    line += r"kl -?\d\.\d{{4}} ev -?\d+\.\d{{3}}"
    for text, (step, games) in zip(lines[1:4], [(16, 2), (32, 4), (48, 8)], strict=True):
        assert re.fullmatch(line.format(step, games, games), text), text
    assert lines[4:] == [
        f"Finished at step 48: 8 episodes (black 0, white 0, draws 8); checkpoint {final}"
    ]
    assert sorted(p.name for p in (run / "games").iterdir()) == [
        f"episode_{n:08d}.{ext}" for n in (3, 6) for ext in ("csa", "kif", "usi")
    ]
    assert trainer.current is not None and trainer.current.plies.tolist() == [0, 0]


class Recorder:
    """A hook that records where it ran and what it was handed."""

    name = "recorder"

    def __init__(self, every_steps: int) -> None:
        self.every_steps = every_steps
        self.seen: list[tuple[int, int, Path, Path]] = []

    def run(self, ctx: HookContext) -> None:
        self.seen.append(
            (ctx.state.global_step, ctx.state.updates, ctx.run_dir, ctx.checkpoint_dir)
        )


def test_hooks_run_after_the_update_that_crosses_their_multiple(tmp_path: Path) -> None:
    every_24, never = Recorder(24), Recorder(0)
    run = tmp_path / "run"
    code, _ = session(run, hooks=[every_24, never])
    assert code == 0
    checkpoints = run / "checkpoints"
    assert every_24.seen == [(32, 2, run, checkpoints), (48, 3, run, checkpoints)]
    assert never.seen == []


class Act:
    """A hook that does ``action`` with the trainer's context at ``step``."""

    name = "act"
    every_steps = 16

    def __init__(self, step: int, action: Any) -> None:
        self.step, self.action = step, action

    def run(self, ctx: HookContext) -> None:
        if ctx.state.global_step == self.step:
            self.action(ctx)


def test_a_failing_hook_fails_the_run_with_a_checkpoint(tmp_path: Path) -> None:
    def fail(ctx: HookContext) -> None:
        raise RuntimeError("hook broke")

    run = tmp_path / "run"
    code, _ = session(run, hooks=[Act(32, fail)])
    assert code == EXIT_FAILED == 1
    events = read_events(run)
    assert [e["kind"] for e in events[-4:]] == ["update", "error", "checkpoint", "end"]
    error, ckpt, end = events[-3:]
    assert (error["step"], error["error"]) == (32, "RuntimeError('hook broke')")
    assert error["traceback"].startswith("Traceback (most recent call last):\n  File ")
    assert error["traceback"].endswith("RuntimeError: hook broke\n")
    failed = run / "checkpoints" / "step_0000000032.pt"
    assert (ckpt["path"], ckpt["status"], end["exit_code"]) == (str(failed), "failed", 1)
    payload = read_checkpoint(failed)
    assert (payload["status"], payload["consistent"]) == ("failed", True)
    log = (run / "train.log").read_text(encoding="utf-8")
    assert "ERROR   Training failed at step 32:\nTraceback (most recent call last):" in log
    assert log.rstrip().endswith(f"Wrote checkpoint of the failed run: {failed}")


def test_a_stop_request_interrupts_after_the_update(tmp_path: Path) -> None:
    def request(ctx: HookContext) -> None:
        trainer.stop.signum = signal.SIGTERM

    run = tmp_path / "run"
    trainer = trainer_for(run, small(), [Act(16, request)])
    trainer.start_fresh()
    assert run_session(trainer, None) == 128 + signal.SIGTERM
    events = read_events(run)
    stopped = run / "checkpoints" / "step_0000000016.pt"
    assert [e["kind"] for e in events[-4:]] == ["update", "checkpoint", "interrupted", "end"]
    assert events[-2] | {"time": 0} == {
        "time": 0, "kind": "interrupted", "step": 16, "signal": "SIGTERM",
        "checkpoint": str(stopped),
    }  # fmt: skip
    assert read_checkpoint(stopped)["status"] == "interrupted"
    assert "Interrupted at step 16 (SIGTERM)" in (run / "train.log").read_text(encoding="utf-8")
    # Resumed, it ends where an unbroken run ends, bit for bit.
    again = trainer_for(run, small())
    again.restore(read_checkpoint(stopped))
    assert run_session(again, stopped) == 0
    assert read_events(run)[-3]["kind"] == "update"
    whole = tmp_path / "whole"
    session(whole)
    assert (
        read_checkpoint(list_checkpoints(run)[-1])["weights_sha256"]
        == read_checkpoint(list_checkpoints(whole)[-1])["weights_sha256"]
    )
    start = [e for e in read_events(run) if e["kind"] == "start"][-1]
    assert (start["step"], start["fresh"], start["resumed_from"]) == (16, False, str(stopped))
    log = (run / "train.log").read_text(encoding="utf-8")
    assert f"Resumed from {stopped} at step 16 (2 episodes)" in log


def test_weights_gone_non_finite_are_never_written(tmp_path: Path) -> None:
    def poison_and_save(ctx: HookContext) -> None:
        with torch.no_grad():
            params = dict(ctx.model.named_parameters())
            params["policy_bias"][0] = float("nan")
            params["value_head.6.bias"][0] = float("inf")
        ctx.save_checkpoint("running")

    run = tmp_path / "run"
    code, _ = session(run, hooks=[Act(16, poison_and_save)])
    assert code == EXIT_FAILED
    assert list_checkpoints(run) == []
    (error,) = [e for e in read_events(run) if e["kind"] == "error"]
    message = (
        "no checkpoint written at step 16: the weights policy_bias, value_head.6.bias are "
        "not finite"
    )
    assert error["error"] == f"Diverged('{message}')"
    log = (run / "train.log").read_text(encoding="utf-8")
    assert log.splitlines()[-1].endswith(
        f"ERROR   Training failed at step 16: {message}; no checkpoint is written with these "
        "weights"
    )


def test_an_update_that_diverges_names_the_last_good_checkpoint(tmp_path: Path) -> None:
    def poison_value_head(ctx: HookContext) -> None:
        with torch.no_grad():
            for name, p in ctx.model.named_parameters():
                if name.startswith("value"):
                    p.fill_(float("inf"))

    run = tmp_path / "run"
    trainer = trainer_for(run, small(), [CheckpointHook(16), Act(16, poison_value_head)])
    view = live_view(trainer)
    trainer.start_fresh()
    assert run_session(trainer, None) == EXIT_FAILED
    assert view.messages[-1].startswith("error: Training failed at step 32: update 2 ")
    good = run / "checkpoints" / "step_0000000016.pt"
    assert list_checkpoints(run) == [good]
    (error,) = [e for e in read_events(run) if e["kind"] == "error"]
    assert error["step"] == 32
    assert error["error"].startswith("Diverged('update 2 (at step 32) gave a non-finite loss (")
    last = (run / "train.log").read_text(encoding="utf-8").splitlines()[-1]
    assert last.endswith(f"the newest checkpoint, {good}, is the last good one")


def test_the_payload_of_a_run_in_progress(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}
    run = tmp_path / "run"
    trainer = trainer_for(run, small())

    def snapshot(ctx: HookContext) -> None:
        seen.update(trainer.payload("running"))
        seen["rank"] = trainer.rank_snapshot()

    trainer.hooks.append(Act(32, snapshot))
    trainer.start_fresh()
    assert run_session(trainer, None) == 0
    assert seen["consistent"] is True and seen["state"]["global_step"] == 32
    assert list(seen["rank"]) == ["env", "rollout", "rng", "actor"]
    assert seen["state"]["reasons"] == reasons(4)
    for key in ("env", "rollout", "actor"):
        assert type(seen[key]) is type(seen["rank"][key])
    assert read_checkpoint(list_checkpoints(run)[-1])["status"] == "finished"


def test_a_stop_request_takes_the_first_signal_and_exits_at_the_second(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Real signals to this process (the first) and to a forked child (both)."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    stop = StopRequest()
    stop.install()
    try:
        assert not stop.requested
        for s in before:
            assert signal.getsignal(s) == stop._handle
        os.kill(os.getpid(), signal.SIGHUP)
        assert (stop.signum, stop.requested) == (signal.SIGHUP, True)
    finally:
        stop.uninstall()
    assert {s: signal.getsignal(s) for s in before} == before
    assert stop._previous == {}
    pid = os.fork()
    if pid == 0:  # the child: a stop requested, then a second signal
        child = StopRequest()
        child.install()
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        os._exit(0)  # not reached
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 128 + signal.SIGINT
    assert capfd.readouterr().err == "keisei: second interrupt, exiting immediately\n"


def test_best_is_the_current_state(tmp_path: Path) -> None:
    saved: list[Path] = []
    run = tmp_path / "run"
    code, _ = session(run, hooks=[Act(32, lambda ctx: saved.append(ctx.save_best()))])
    assert code == 0
    best = run / "checkpoints" / "best.pt"
    assert saved == [best]
    payload = read_checkpoint(best)
    assert (payload["status"], payload["state"]["global_step"], payload["consistent"]) == (
        "running",
        32,
        True,
    )
    assert list_checkpoints(run) == [run / "checkpoints" / "step_0000000048.pt"]


def test_what_counts_as_lost_contact_with_another_rank() -> None:
    """A failure raised inside torch.distributed (or gloo's transport) is a consequence of
    another rank's end; any other is this rank's own."""
    assert _in_collective(dist.DistError("peer gone"))
    assert _in_collective(RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:534]"))
    assert not _in_collective(RuntimeError("hook broke"))
    try:
        raise RuntimeError("hook broke")  # raised here: a traceback without torch.distributed
    except RuntimeError as exc:
        assert not _in_collective(exc)
    try:
        dist.barrier()  # no process group: raised from torch/distributed/
    except Exception as exc:
        assert _in_collective(exc)
    else:
        raise AssertionError("a barrier without a process group did not fail")


def test_a_league_run_stopped_and_resumed_is_the_unbroken_run(tmp_path: Path) -> None:
    """The pool (a snapshot after every update) and each game's opponent survive the
    stop: the resumed run ends with the unbroken run's weights and league state."""
    league = ("league.fraction=0.5", "league.snapshot_every_updates=1")

    def request(ctx: HookContext) -> None:
        trainer.stop.signum = signal.SIGINT

    run = tmp_path / "run"
    trainer = trainer_for(run, small(*league), [Act(32, request)])
    trainer.start_fresh()
    assert run_session(trainer, None) == 130
    stopped = read_checkpoint(run / "checkpoints" / "step_0000000032.pt")
    assert [entry["update"] for entry in stopped["league"]["pool"]] == [1, 2]
    assert stopped["actor"]["opponent"] != [-1]  # the league game has a past self
    again = trainer_for(run, small(*league))
    again.restore(stopped)
    assert again.league is not None and [o.update for o in again.league.pool] == [1, 2]
    assert again.actor.state_dict() == stopped["actor"]
    assert run_session(again, run / "checkpoints" / "step_0000000032.pt") == 0
    whole = tmp_path / "whole"
    code, _ = session(whole, *league)
    assert code == 0
    a = read_checkpoint(list_checkpoints(run)[-1])
    b = read_checkpoint(list_checkpoints(whole)[-1])
    assert a["weights_sha256"] == b["weights_sha256"]
    assert (
        a["actor"] == b["actor"]
        and a["league"]["pool"][-1]["results"] == (b["league"]["pool"][-1]["results"])
    )


def test_a_failure_mid_ply_is_checkpointed_as_inconsistent(tmp_path: Path) -> None:
    """With overlap, the second half's moves fail while the first half steps: the failed
    run's checkpoint says it was not taken at a safe point (``--resume latest`` passes
    over it)."""
    run = tmp_path / "run"
    trainer = trainer_for(run, small("env.overlap=true"))
    trainer.pipeline.actor = FailsOnCall(trainer.actor, 4)  # ply 2's second half
    trainer.start_fresh()
    assert run_session(trainer, None) == EXIT_FAILED
    failed = read_checkpoint(run / "checkpoints" / "step_0000000002.pt")
    assert (failed["status"], failed["consistent"]) == ("failed", False)


def test_checkpoints_pruned_are_named_in_the_event(tmp_path: Path) -> None:
    run = tmp_path / "run"
    hooks = [CheckpointHook(16)]
    trainer = trainer_for(run, small("checkpoint.every_steps=16", "checkpoint.keep_last=1"), hooks)
    trainer.start_fresh()
    assert run_session(trainer, None) == 0
    written = [e for e in read_events(run) if e["kind"] == "checkpoint"]
    step = [str(run / "checkpoints" / f"step_{s:010d}.pt") for s in (16, 32, 48)]
    assert [(e["path"], e["status"], e["removed"]) for e in written] == [
        (step[0], "running", []),
        (step[1], "running", [step[0]]),
        (step[2], "running", [step[1]]),
        (step[2], "finished", []),
    ]


def test_a_final_checkpoint_that_cannot_be_written_is_logged(tmp_path: Path) -> None:
    """The hook fails, and the failed run's checkpoint cannot be written either (a file
    where its directory was): both are logged, and the run still ends with its event."""

    def break_and_fail(ctx: HookContext) -> None:
        assert not ctx.checkpoint_dir.exists()  # no checkpoint yet
        ctx.checkpoint_dir.write_text("in the way", encoding="utf-8")
        raise RuntimeError("hook broke")

    run = tmp_path / "run"
    trainer = trainer_for(run, small(), [Act(32, break_and_fail)])
    view = live_view(trainer)
    trainer.start_fresh()
    assert run_session(trainer, None) == EXIT_FAILED
    target = run / "checkpoints" / "step_0000000032.pt"
    assert view.messages[-2:] == [
        "error: Training failed at step 32:",
        f"error: Could not write a final checkpoint in {target.parent}: "
        "FileExistsError(17, 'File exists')",
    ]
    last = (run / "train.log").read_text(encoding="utf-8").splitlines()[-1]
    assert last.endswith(
        f"ERROR   Could not write a final checkpoint in {target.parent}: "
        "FileExistsError(17, 'File exists')"
    )
    assert [e["kind"] for e in read_events(run)[-2:]] == ["error", "end"]
    assert read_events(run)[-1]["exit_code"] == 1


class Unprintable(Exception):
    """An exception whose repr fails: the error event cannot be written."""

    def __repr__(self) -> str:
        raise ValueError("no repr")


def test_a_failure_that_cannot_be_logged_goes_to_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    def fail(ctx: HookContext) -> None:
        raise Unprintable("odd")

    run = tmp_path / "run"
    capfd.readouterr()
    code, _ = session(run, hooks=[Act(16, fail)])
    assert code == EXIT_FAILED
    err = capfd.readouterr().err
    # Once echoed with the log's error line, once printed when the error event failed.
    assert err.count("Traceback (most recent call last):\n") == 2
    assert err.count("Unprintable: odd\n") == 2
    assert "ERROR   Training failed at step 16:\nTraceback" in (run / "train.log").read_text()


def test_win_rates_count_each_colours_decided_games(tmp_path: Path) -> None:
    """Games that end at ply 2, won by either colour (which start position a game gets is
    the environment's seeded draw): the rates at each update are the games so far."""
    run = tmp_path / "run"
    code, trainer = session(run, f"env.start_sfens=['{WON_BY_BLACK}', '{WON_BY_WHITE}']")
    assert code == 0
    events = read_events(run)
    seen = {"black": 0, "white": 0, "draw": 0}
    for e in events:
        if e["kind"] == "episode":
            assert (e["plies"], e["reason"]) == (2, "nyugyoku")
            seen[e["result"]] += 1
        elif e["kind"] == "update":
            n = sum(seen.values())
            assert e["episodes"] == n
            assert (e["black_win_rate"], e["white_win_rate"], e["draw_rate"]) == (
                seen["black"] / n,
                seen["white"] / n,
                0.0,
            )
    s = trainer.state
    assert (s.episodes, s.black_wins, s.white_wins, s.draws) == (24, 8, 16, 0)
    assert seen == {"black": 8, "white": 16, "draw": 0}
    last = (run / "train.log").read_text(encoding="utf-8").splitlines()[-1]
    assert "Finished at step 48: 24 episodes (black 8, white 16, draws 0); " in last


class Watches:
    """An actor that is ``actor`` and notes, at each move choice, the update the trainer is
    at and the rollout row being played."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.trainer: Trainer | None = None
        self.seen: list[tuple[int, int]] = []

    def act(self, step: Any) -> Any:
        assert self.trainer is not None
        self.seen.append((self.trainer.state.updates, self.trainer.buffer.pos))
        return self.actor.act(step)

    def state_dict(self) -> dict[str, Any]:
        return dict(self.actor.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state)


def test_no_move_is_chosen_ahead_of_the_update_it_follows(tmp_path: Path) -> None:
    """With overlap the first half's next moves are chosen while the second half steps,
    except after a rollout's last row: the moves of the next rollout come from the updated
    network. Per rollout of 8 rows: row 0's first half, then each row's second half and
    (rows 0-6) the next row's first half."""
    trainer = trainer_for(tmp_path / "run", small("env.overlap=true"))
    watch = Watches(trainer.actor)
    watch.trainer = trainer
    trainer.pipeline.actor = watch
    trainer.start_fresh()
    assert trainer.run() == "finished"
    one = [0, *[row for row in range(8) for _ in (0, 1)][:-1]]  # buffer rows, in order
    assert watch.seen == [(update, row) for update in range(3) for row in one]


def test_run_says_how_it_ended(tmp_path: Path) -> None:
    trainer = trainer_for(tmp_path / "a", small())
    with pytest.raises(AssertionError, match=r"^call start_fresh\(\) or restore\(\) first$"):
        trainer.run()
    trainer.start_fresh()
    assert trainer.run() == "finished"
    assert trainer.state.global_step == 48
    stopped = trainer_for(tmp_path / "b", small())
    stopped.start_fresh()
    stopped.stop.signum = signal.SIGINT
    assert stopped.run() == "interrupted"
    assert (stopped.stop_signum, stopped.state.global_step) == (signal.SIGINT, 0)


def test_a_fresh_start_seeds_the_games_with_the_run_seed(tmp_path: Path) -> None:
    trainer = trainer_for(tmp_path / "run", small("run.seed=7"))
    trainer.start_fresh()
    assert trainer.env.rng.bit_generator.state == np.random.default_rng(7).bit_generator.state
    assert trainer.current is not None and trainer.current.plies.tolist() == [0, 0]


def test_restore_takes_the_wandb_run_and_tolerates_an_older_checkpoint(tmp_path: Path) -> None:
    """A resumed run continues the same W&B run; a checkpoint from before actors had state
    (no ``actor``, no ``league``, no ``wandb_run_id``) restores too."""
    run = tmp_path / "run"
    first = trainer_for(run, small())
    first.start_fresh()
    first.wandb_run_id = "abc123"
    saved = read_checkpoint(first.save_checkpoint("running"))
    second = trainer_for(tmp_path / "other", small())
    second.restore(saved)
    assert second.wandb_run_id == "abc123"
    older = {k: v for k, v in saved.items() if k not in ("actor", "league", "wandb_run_id")}
    third = trainer_for(tmp_path / "third", small())
    third.wandb_run_id = "stale"
    third.restore(older)
    assert third.wandb_run_id is None
    assert third.state.to_dict() == saved["state"]


def test_a_hook_is_handed_the_trainers_parts(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}
    run = tmp_path / "run"
    trainer = trainer_for(run, small())

    def look(ctx: HookContext) -> None:
        seen.update(state=ctx.state, model=ctx.model, config=ctx.config)
        ctx.emit("note", step=ctx.state.global_step, text="from a hook")
        ctx.info("a line from a hook")
        seen["checkpoint"] = ctx.save_checkpoint("running")

    trainer.hooks.append(Act(16, look))
    trainer.start_fresh()
    assert run_session(trainer, None) == 0
    assert seen["state"] is trainer.state
    assert seen["model"] is trainer.agent.model and seen["config"] is trainer.config
    assert seen["checkpoint"] == run / "checkpoints" / "step_0000000016.pt"
    (note,) = [e for e in read_events(run) if e["kind"] == "note"]
    assert (note["step"], note["text"]) == (16, "from a hook")
    assert "INFO    a line from a hook" in (run / "train.log").read_text(encoding="utf-8")


class Clock:
    """Half a second later at each reading."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.5
        return self.now


def test_the_log_lines_rate_is_the_steps_over_the_clocks_seconds(tmp_path: Path) -> None:
    """The trainer reads its clock when the loop starts and at each log line: 16 steps
    per update over half a second is 32 steps/s, at every line."""
    run = tmp_path / "run"
    trainer = trainer_for(run, small())
    trainer.clock = clock = Clock()
    trainer.start_fresh()
    assert run_session(trainer, None) == 0
    log = (run / "train.log").read_text(encoding="utf-8").splitlines()
    rates = [line.split(" | ")[1] for line in log if "INFO    step " in line]
    assert rates == ["32 steps/s"] * 3
    assert clock.now == 102.0  # four readings


def test_an_undefined_explained_variance_is_logged_as_nan(tmp_path: Path) -> None:
    """With gamma 0 every return is the ply's reward, 0 in these drawn games: the returns do
    not vary, so the explained variance is undefined, absent from the event, nan in the log."""
    run = tmp_path / "run"
    code, _ = session(run, "ppo.gamma=0")
    assert code == 0
    updates = [e for e in read_events(run) if e["kind"] == "update"]
    assert len(updates) == 3 and all("explained_variance" not in u for u in updates)
    log = (run / "train.log").read_text(encoding="utf-8").splitlines()
    lines = [line for line in log if "INFO    step " in line]
    assert len(lines) == 3 and all(line.endswith(" ev nan") for line in lines)


def test_the_rates_of_a_single_decided_game(tmp_path: Path) -> None:
    """One game of 6 plies, an update every 8: the first update has one game decided, a
    draw, so its draw rate is 1."""
    run = tmp_path / "run"
    code, _ = session(run, "env.num_games=1")
    assert code == 0
    updates = [e for e in read_events(run) if e["kind"] == "update"]
    assert [(u["step"], u["episodes"]) for u in updates] == [
        (8, 1), (16, 2), (24, 4), (32, 5), (40, 6), (48, 8),
    ]  # fmt: skip
    for u in updates:
        assert (u["black_win_rate"], u["white_win_rate"], u["draw_rate"]) == (0.0, 0.0, 1.0)


def test_a_failure_inside_the_update_is_checkpointed_as_inconsistent(tmp_path: Path) -> None:
    """The first update fails in its first forward pass with gradients on (a torch hook on
    the real network; acting and the bootstrap values run without gradients): some
    minibatches may have stepped, so the failed run's checkpoint is not consistent."""

    def fail(module: torch.nn.Module, args: Any) -> None:
        if torch.is_grad_enabled():
            raise RuntimeError("update broke")

    run = tmp_path / "run"
    trainer = trainer_for(run, small())
    trainer.agent.model.register_forward_pre_hook(fail)
    trainer.start_fresh()
    assert run_session(trainer, None) == EXIT_FAILED
    failed = read_checkpoint(run / "checkpoints" / "step_0000000016.pt")
    assert (failed["status"], failed["consistent"]) == ("failed", False)
    assert failed["state"]["updates"] == 0
    error = [e for e in read_events(run) if e["kind"] == "error"]
    assert [e["error"] for e in error] == ["RuntimeError('update broke')"]


def losing_log_and_checkpoints(run: Path) -> Trainer:
    """A started trainer whose hook at step 16 closes every sink (as a lost disk would),
    puts a file where the checkpoints go, then fails."""

    def break_everything(ctx: HookContext) -> None:
        trainer.sinks.close()
        ctx.checkpoint_dir.write_text("in the way", encoding="utf-8")
        raise RuntimeError("hook broke")

    trainer = trainer_for(run, small(), [Act(16, break_everything)])
    trainer.start_fresh()
    return trainer


def test_a_failure_with_neither_log_nor_checkpoint_goes_to_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The hook closes every sink (as a lost disk would) and puts a file where the
    checkpoints go, then fails: the traceback and the checkpoint's failure reach stderr."""

    run = tmp_path / "run"
    trainer = losing_log_and_checkpoints(run)
    capfd.readouterr()
    assert run_session(trainer, None) == EXIT_FAILED
    err = capfd.readouterr().err
    echoed, failure = err.split("Traceback (most recent call last):\n  File ")
    assert [line.split(" ", 3)[2] for line in echoed.splitlines()] == ["INFO"] * 2  # the log
    traceback, checkpoint = failure.split("\nkeisei: ")
    assert traceback.endswith("RuntimeError: hook broke\n")
    assert checkpoint == (
        f"could not write a final checkpoint in {run / 'checkpoints'}: "
        "FileExistsError(17, 'File exists')\n"
    )


def test_a_failure_with_no_log_no_checkpoint_and_no_stderr_still_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, with stderr a pipe whose reader has gone (each write fails with EPIPE, as
    after `keisei train 2>&1 | head`): the run still ends with the failure's exit code."""

    reader, writer = os.pipe()
    os.close(reader)
    broken = os.fdopen(writer, "w", buffering=1)
    monkeypatch.setattr(sys, "stderr", broken)
    run = tmp_path / "run"
    trainer = losing_log_and_checkpoints(run)
    try:
        assert run_session(trainer, None) == EXIT_FAILED
        with pytest.raises(BrokenPipeError):  # the pipe was broken all along
            print("still broken", file=broken)
    finally:
        with contextlib.suppress(OSError):
            broken.close()
