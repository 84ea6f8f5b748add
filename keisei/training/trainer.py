"""The training loop: self-play rollouts and PPO updates over an explicit ``TrainState``.

``Trainer._loop`` is the whole loop. Its parts are injected (environment, agent, actor,
rollout buffer, sinks, hooks; ``keisei.training.build`` picks them from the config), so
tests assemble it from real tiny components.

Safe points are the moments between two environment steps: everything the loop knows is
then in the environment's games, the rollout buffer, the RNGs, the agent and the state,
and all of it goes into a checkpoint. Interruption therefore stops after the current step
(or update; with several ranks, at the end of the rollout, where they agree to stop) and a
resumed run continues bit for bit.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from keisei.config import TrainConfig
from keisei.distributed import Collective, rank_seed
from keisei.game.env import GameResult, ShogiEnv, StepResult
from keisei.game.records import write_records
from keisei.rl.network import load_weights
from keisei.rl.ppo import PPOAgent
from keisei.rl.rollout import RolloutBuffer
from keisei.training.actors import Actor
from keisei.training.averaging import WeightAverage
from keisei.training.checkpoint import (
    Diverged,
    check_finite,
    checkpoint_header,
    list_checkpoints,
    nonfinite,
    prune,
    write_checkpoint,
)
from keisei.training.hooks import Hook, HookContext, due
from keisei.training.league import League
from keisei.training.pipeline import PlyPipeline
from keisei.training.rundir import BEST_NAME, RunDir
from keisei.training.sinks import Sinks
from keisei.training.state import TrainState

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
# Seconds a rank that lost contact with a failed one waits before it exits (run_session).
LOST_CONTACT_GRACE_S = 3.0


# The update's losses (PPOAgent.update's metrics) that a diverged run makes non-finite.
LOSSES = ("loss", "policy_loss", "value_loss", "entropy")


class StopRequest:
    """Turns SIGINT/SIGTERM/SIGHUP into a flag the loop polls; a second signal exits at once.

    The immediate exit cannot damage a checkpoint: they are written to a temporary file
    and renamed, so at worst a stray temporary file remains.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        # SIGHUP too: a closed terminal should stop the run as cleanly as Ctrl-C.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is not None:
            os.write(2, b"keisei: second interrupt, exiting immediately\n")
            os._exit(128 + signum)
        self.signum = signum

    @property
    def requested(self) -> bool:
        return self.signum is not None


@dataclass
class RNG:
    """The trainer's random state: one torch generator for sampling and minibatch order."""

    generator: torch.Generator

    @classmethod
    def seeded(cls, seed: int) -> RNG:
        return cls(torch.Generator().manual_seed(seed))

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "torch": torch.get_rng_state(),
            "numpy": np.random.get_state(),
            "python": random.getstate(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch"])
        np.random.set_state(state["numpy"])
        random.setstate(state["python"])


@dataclass
class Trainer:
    config: TrainConfig
    run_dir: Path
    env: ShogiEnv
    agent: PPOAgent
    buffer: RolloutBuffer
    sinks: Sinks
    rng: RNG
    # How moves are chosen (sampled, or by the Gumbel search), with ``rng.generator``.
    actor: Actor
    # Past selves as opponents (league.fraction > 0), which the actor plays them with.
    league: League | None = None
    # The late weights' average that players use (average.enabled); training never reads it.
    average: WeightAverage | None = None
    state: TrainState = field(default_factory=TrainState)
    hooks: list[Hook] = field(default_factory=list)
    stop: StopRequest = field(default_factory=StopRequest)
    current: StepResult | None = None  # the observation the next action is chosen for
    wandb_run_id: str | None = None
    in_update: bool = False
    # The ranks of a run of several processes (keisei.distributed); one process by default.
    collective: Collective = field(default_factory=Collective)
    # Rank 0 only: the other ranks' snapshots (``rank_snapshot``) gathered at this safe point.
    peer_snapshots: list[dict[str, Any]] | None = None
    stop_signum: int | None = None  # the signal every rank agreed to stop for
    # Seconds for the log line's steps/s (a test's clock makes the rate exact).
    clock: Callable[[], float] = time.monotonic
    _rate_mark: tuple[float, int] = (0.0, 0)  # (clock, step) of the last log line
    # One ply of every game: the actor's moves, then the environment's step (overlapped).
    pipeline: PlyPipeline = field(init=False)

    def __post_init__(self) -> None:
        self.pipeline = PlyPipeline(
            self.env, self.actor, self.rng.generator, self.config.env.overlap
        )

    @property
    def mid_ply(self) -> bool:
        """Whether an overlapped ply has stepped some of the games but not all."""
        return self.pipeline.mid_ply

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    # -- checkpoints -----------------------------------------------------------------
    def rank_snapshot(self) -> dict[str, Any]:
        """What is this rank's own: its games, its rollout, its random state."""
        return {
            "env": self.env.state_dict(),
            "rollout": self.buffer.state_dict(),
            "rng": self.rng.state_dict(),
            "actor": self.actor.state_dict(),
        }

    def gather_peers(self) -> None:
        """Bring every rank's snapshot to rank 0 (a collective: all ranks call it at the
        same safe point). Nothing to do for one process."""
        if self.collective.world_size == 1:
            return
        snapshots = self.collective.gather(self.rank_snapshot())
        self.peer_snapshots = snapshots[1:] if snapshots is not None else None

    def payload(self, status: str) -> dict[str, Any]:
        model_state = self.agent.model.state_dict()
        bad = nonfinite(model_state)
        if bad:  # a checkpoint of them would be played, evaluated and resumed as good
            raise Diverged(
                f"no checkpoint written at step {self.state.global_step}: the weights "
                f"{', '.join(bad)} are not finite"
            )
        ranks: dict[str, Any] = {}
        if self.collective.world_size > 1:
            # Rank 0's own parts are the top-level env/rollout/rng, as in a one-process run.
            assert self.peer_snapshots is not None, "gather_peers() first, on every rank"
            ranks = {"world_size": self.collective.world_size, "peer_ranks": self.peer_snapshots}
        consistent = not (self.in_update or self.mid_ply)
        return {
            **checkpoint_header(self.config, status, model_state, consistent),
            "agent": self.agent.state_dict(),
            "rollout": self.buffer.state_dict(),
            "env": self.env.state_dict(),
            "rng": self.rng.state_dict(),
            "actor": self.actor.state_dict(),
            "league": None if self.league is None else self.league.state_dict(),
            "average": None if self.average is None else self.average.state_dict(),
            "state": self.state.to_dict(),
            "wandb_run_id": self.wandb_run_id,
            **ranks,
        }

    def save_checkpoint(self, status: str) -> Path:
        path = RunDir(self.run_dir).step_checkpoint(self.state.global_step)
        payload = self.payload(status)
        write_checkpoint(path, payload)
        cfg = self.config.checkpoint
        removed = prune(self.checkpoint_dir, cfg.keep_last, cfg.every_steps)
        self.sinks.emit(
            "checkpoint",
            step=self.state.global_step,
            path=str(path),
            status=status,
            weights_sha256=payload["weights_sha256"],
            removed=[str(p) for p in removed],
        )
        return path

    def restore(self, payload: dict[str, Any]) -> None:
        load_weights(self.agent.model, payload["model"], payload["config"]["model"])
        self.agent.load_state_dict(payload["agent"])
        self.buffer.load_state_dict(payload["rollout"])
        self.current = self.env.load_state_dict(payload["env"])
        self.rng.load_state_dict(payload["rng"])
        self.actor.load_state_dict(payload.get("actor") or {})  # older checkpoints: none
        if self.league is not None:  # resume_plan refuses a changed league.fraction
            self.league.load_state_dict(payload["league"])
        if self.average is not None:
            self.average.load_state_dict(payload.get("average"))
        self.state = TrainState.from_dict(payload["state"])
        self.wandb_run_id = payload.get("wandb_run_id")

    def start_fresh(self) -> None:
        self.current = self.env.reset(rank_seed(self.config.run.seed, self.collective.rank))

    # -- the loop --------------------------------------------------------------------
    def save_best(self) -> Path:
        path = self.checkpoint_dir / BEST_NAME
        write_checkpoint(path, self.payload("running"))
        return path

    @property
    def playing_model(self) -> torch.nn.Module:
        """The network a checkpoint of this moment plays with (``playing_weights``)."""
        averaged = None if self.average is None else self.average.network
        return self.agent.model if averaged is None else averaged

    def _context(self) -> HookContext:
        return HookContext(
            state=self.state,
            run_dir=self.run_dir,
            model=self.playing_model,
            config=self.config,
            emit=self.sinks.emit,
            checkpoint_dir=self.checkpoint_dir,
            info=self.sinks.info,
            save_checkpoint=self.save_checkpoint,
            save_best=self.save_best,
        )

    def _record_finished(self, finished: list[tuple[int, GameResult]]) -> None:
        every = self.config.logging.record_every_episodes
        for step, game in finished:
            self.state.record_game(game)
            self.sinks.emit(
                "episode",
                step=step,
                episode=self.state.episodes,
                plies=game.plies,
                result=game.result,
                reason=game.reason,
            )
            if every and self.state.episodes % every == 0:
                write_records(game, self.run_dir / "games", f"episode_{self.state.episodes:08d}")

    def _update(self, parts: list[StepResult]) -> None:
        self.in_update = True
        # Per part, as acting sees them: one batch shape for a compiled model's graphs.
        last_values = np.concatenate(
            [self.agent.values(part.obs, packed_obs=part.packed_obs) for part in parts]
        )
        metrics = self.agent.update(self.buffer, last_values, self.rng.generator)
        self.buffer.reset()
        self.state.updates += 1
        self.in_update = False
        self._check_finite(metrics)
        if self.league is not None:  # after the check: no diverged network joins the pool
            metrics |= self.league.after_update(self.state.updates)
        s = self.state
        before = s.global_step - self.config.steps_per_update
        added = self.average is not None and self.average.after_update(
            self.agent.model, before, s.global_step
        )
        if added and self.average is not None and self.average.count == 1:
            self.sinks.info(
                f"Weight average started at step {s.global_step}: players now use the "
                f"average of the weights every {self.average.every_steps} plies"
            )
        decided = max(s.episodes, 1)
        self.sinks.emit(
            "update",
            step=s.global_step,
            update=s.updates,
            episodes=s.episodes,
            black_win_rate=s.black_wins / decided,
            white_win_rate=s.white_wins / decided,
            draw_rate=s.draws / decided,
            **metrics,
        )
        if s.updates % self.config.logging.log_every_updates == 0:
            now = self.clock()
            rate = (s.global_step - self._rate_mark[1]) / max(now - self._rate_mark[0], 1e-9)
            self._rate_mark = (now, s.global_step)
            self.sinks.info(
                f"step {s.global_step}/{self.config.run.total_steps} | {rate:.0f} steps/s | "
                f"games {s.episodes} (black {s.black_wins}, white {s.white_wins}, "
                f"draws {s.draws}) | policy {metrics['policy_loss']:.4f} "
                f"value {metrics['value_loss']:.4f} entropy {metrics['entropy']:.3f} "
                f"kl {metrics['approx_kl']:.4f} "
                f"ev {metrics.get('explained_variance', float('nan')):.3f}"
            )
        ready = [hook for hook in self.hooks if due(hook, before, s.global_step)]
        if ready:
            # Hooks run on rank 0; the checkpoints they write hold every rank's games.
            self.gather_peers()
            if self.collective.is_main:
                for hook in ready:
                    hook.run(self._context())

    def _check_finite(self, metrics: dict[str, float]) -> None:
        """Stop at the update that made a loss or a weight non-finite, before anything
        (an event, a hook, a checkpoint) takes it for a step of training: the metrics are
        on the host already, the weights are checked at one wait for the device."""
        check_finite(
            f"update {self.state.updates} (at step {self.state.global_step})",
            {key: metrics[key] for key in LOSSES},
            self.agent.model.state_dict(),
        )

    def run(self) -> str:
        """Train until ``total_steps``; returns ``"finished"`` or ``"interrupted"``."""
        assert self.current is not None, "call start_fresh() or restore() first"
        parts = self.pipeline.split(self.current)
        try:
            with self.pipeline.running():
                return self._loop(parts)
        finally:
            self.current = self.pipeline.join(parts)

    def _loop(self, parts: list[StepResult]) -> str:
        total = self.config.run.total_steps
        num_games = self.env.num_games * self.collective.world_size
        self._rate_mark = (self.clock(), self.state.global_step)
        while True:
            if self.buffer.full:
                self._update(parts)
            if self.buffer.pos == 0 and self.state.global_step >= total:
                return "finished"
            # All ranks stop after the same step, for the same signal.
            self.stop_signum = self.collective.agree_stop(self.stop.signum)
            if self.stop_signum is not None:
                return "interrupted"
            # Moves ahead (env.overlap) only when the rollout goes on after this row.
            ahead = self.buffer.pos + 1 < self.buffer.steps
            parts[:], row, finished = self.pipeline.ply(parts, act_ahead=ahead)
            self.buffer.add(row)
            self.state.global_step += num_games
            games = self.collective.gather_games(
                finished, self.state.global_step, self.stop.signum, self.buffer.full
            )
            self._record_finished(games)
            self.peer_snapshots = None


def format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def run_session(trainer: Trainer, resumed_from: Path | None) -> int:
    """Run the loop with signal handling, final checkpoint and sink closing; exit code."""
    sinks = trainer.sinks
    state = trainer.state
    try:
        if resumed_from is None:
            sinks.info("Starting fresh training")
            sinks.emit("start", step=state.global_step, fresh=True)
        else:
            sinks.info(
                f"Resumed from {resumed_from} at step {state.global_step} "
                f"({state.episodes} episodes)"
            )
            sinks.emit("start", step=state.global_step, fresh=False, resumed_from=str(resumed_from))
        # The caller installed the signal handlers before building the trainer; they stay
        # on while the final checkpoint is written.
        outcome = trainer.run()
        trainer.gather_peers()
        main = trainer.collective.is_main
        if outcome == "interrupted":
            signum = trainer.stop_signum or signal.SIGINT
            name = signal.Signals(signum).name
            sinks.info(f"Interrupted at step {state.global_step} ({name})")
            if main:
                path = trainer.save_checkpoint("interrupted")
                sinks.emit("interrupted", step=state.global_step, signal=name, checkpoint=str(path))
            code = 128 + signum
        else:
            if main:
                path = trainer.save_checkpoint("finished")
                sinks.info(
                    f"Finished at step {state.global_step}: {state.episodes} episodes (black "
                    f"{state.black_wins}, white {state.white_wins}, draws {state.draws}); "
                    f"checkpoint {path}"
                )
            code = EXIT_OK
    except Exception as exc:
        code = EXIT_FAILED
        text = format_exception(exc)
        rank = trainer.collective.rank
        distributed = trainer.collective.world_size > 1
        # A rank that lost contact with another one fails as a consequence of that one's
        # end, which the launcher names: its traceback goes to train.log only (rank 0), and
        # nothing of it to the terminal.
        lost_contact = distributed and _in_collective(exc)
        # Every rank diverges at the same update (their weights are the same): rank 0
        # names it.
        quiet = lost_contact or (isinstance(exc, Diverged) and not trainer.collective.is_main)
        if quiet:
            sinks.quiet()
        try:
            where = f" on rank {rank}" if distributed else ""
            if lost_contact:
                where += " (it lost contact with another rank, which was killed or failed)"
            if isinstance(exc, Diverged):  # the update is named; its traceback says nothing
                last = list_checkpoints(trainer.checkpoint_dir)
                resume = (
                    f"; the newest checkpoint, {last[-1]}, is the last good one" if last else ""
                )
                sinks.log(
                    "error",
                    f"Training failed{where} at step {state.global_step}: {exc}; "
                    f"no checkpoint is written with these weights{resume}",
                )
            else:
                sinks.log("error", f"Training failed{where} at step {state.global_step}:\n{text}")
            sinks.emit("error", step=state.global_step, error=repr(exc), traceback=text)
        except Exception:
            if not quiet:
                with contextlib.suppress(OSError):
                    print(text, file=sys.stderr)
        if distributed:
            # Only rank 0 writes, and only with every rank's state; the other ranks may be
            # dead or inside another collective, so the newest checkpoint stays the last.
            if not quiet:
                # The other ranks have no log: their own failure's traceback goes here.
                with contextlib.suppress(OSError):
                    if not trainer.collective.is_main:
                        print(text, file=sys.stderr, end="")
                    print(
                        f"keisei train: rank {rank} of {trainer.collective.world_size} failed "
                        f"at step {state.global_step}: {exc!r}; no final checkpoint is written "
                        f"(resume from the newest one)",
                        file=sys.stderr,
                    )
            with contextlib.suppress(Exception):
                sinks.emit("end", step=state.global_step, exit_code=code, **_counters(state))
            sinks.close()
            if _in_collective(exc):
                # A consequence of another rank's end: let that rank exit first, so that
                # torch's launcher sees it fail first and the run's message names it.
                time.sleep(LOST_CONTACT_GRACE_S)
            return code
        try:
            if not isinstance(exc, Diverged):  # whose weights no checkpoint may hold
                path = trainer.save_checkpoint("failed")
                sinks.info(f"Wrote checkpoint of the failed run: {path}")
        except Exception as ckpt_exc:
            try:
                sinks.log(
                    "error",
                    f"Could not write a final checkpoint in {trainer.checkpoint_dir}: {ckpt_exc!r}",
                )
            except Exception:
                with contextlib.suppress(OSError):
                    print(
                        f"keisei: could not write a final checkpoint in "
                        f"{trainer.checkpoint_dir}: {ckpt_exc!r}",
                        file=sys.stderr,
                    )
    with contextlib.suppress(Exception):
        sinks.emit("end", step=state.global_step, exit_code=code, **_counters(state))
    sinks.close()
    # No rank exits before rank 0 has written everything: torch's launcher stops the
    # others as soon as one exits with a non-zero code (130, 143).
    with contextlib.suppress(Exception):
        trainer.collective.barrier()
    return code


def _in_collective(exc: BaseException) -> bool:
    """Whether ``exc`` was raised inside torch.distributed (a peer's connection closed):
    in a collective of keisei.distributed, or in DistributedDataParallel's all-reduce of
    the gradients, which gloo raises from the backward pass (no torch.distributed frame)."""
    if isinstance(exc, dist.DistError) or "/gloo/transport/" in str(exc):
        return True
    frames = traceback.extract_tb(exc.__traceback__)
    return any(f"torch{os.sep}distributed{os.sep}" in frame.filename for frame in frames)


def _counters(state: TrainState) -> dict[str, Any]:
    return {
        "episodes": state.episodes,
        "black_wins": state.black_wins,
        "white_wins": state.white_wins,
        "draws": state.draws,
        "reasons": dict(state.reasons),
    }
