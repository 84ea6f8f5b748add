"""One ply of every game: acting and stepping, overlapped in two halves with ``env.overlap``."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from keisei.game.env import GameResult, ShogiEnv, StepResult, join_steps
from keisei.rl.rollout import Row
from keisei.training.actors import Acted, Actor


class PlyPipeline:
    """Plays one ply of every game per ``ply`` call and returns the rollout's row.

    Without ``overlap`` the actor acts on all games, then the environment steps them. With
    it the games are two halves (``slices``) and the ply is a pipeline: a worker thread
    steps the first half while the actor acts on the second, then steps the second while
    the actor acts on the first half's next ply. The draws, steps and rows come in one
    fixed order whatever the timing, so the run is reproducible and resumes bit for bit;
    it differs from a run without overlap in the last bits of the network's outputs, which
    halves of the batch are computed in.
    """

    def __init__(
        self, env: ShogiEnv, actor: Actor, generator: torch.Generator, overlap: bool
    ) -> None:
        self.env = env
        self.actor = actor
        self.generator = generator  # the actor's: its state is undone with a move ahead
        n = env.num_games
        # The games acted on and stepped together.
        self.slices = [slice(0, n // 2), slice(n // 2, n)] if overlap else [slice(0, n)]
        # True while an overlapped ply has stepped some of the games but not all.
        self.mid_ply = False
        # The first half's next actions, chosen while the second half stepped, and the
        # generator's and the actor's state before them (undone at a stop).
        self._ahead: tuple[Acted, torch.Tensor, dict[str, Any]] | None = None
        self._worker: futures.ThreadPoolExecutor | None = None

    def split(self, step: StepResult) -> list[StepResult]:
        """``step`` as the parts ``ply`` takes: one per slice of the games."""
        return [step.part(s) for s in self.slices] if len(self.slices) > 1 else [step]

    @staticmethod
    def join(parts: list[StepResult]) -> StepResult:
        return join_steps(parts) if len(parts) > 1 else parts[0]

    @contextmanager
    def running(self) -> Iterator[None]:
        """The worker thread, with overlap; at the end (a safe point, or a failure) nothing
        chosen ahead stays."""
        if len(self.slices) > 1:
            self._worker = futures.ThreadPoolExecutor(1, thread_name_prefix="keisei-env")
        try:
            yield
        finally:
            self._undo_ahead()
            if self._worker is not None:
                self._worker.shutdown()
                self._worker = None

    def ply(
        self, parts: list[StepResult], act_ahead: bool
    ) -> tuple[list[StepResult], Row, list[GameResult | None]]:
        """The next observations (parts as ``split`` makes them), the rollout's row and the
        games this ply finished. ``act_ahead``: with overlap, choose the first half's next
        moves while the second half steps (not when the rollout ends with this row)."""
        if self._ahead is not None:
            acted, self._ahead = [self._ahead[0]], None
        else:
            acted = [self.actor.act(parts[0])]
        if len(parts) == 1:
            nxt = [self.env.step(acted[0].actions)]
        else:
            nxt = self._overlapped(parts, acted, act_ahead)
        row = Row(
            packed_obs=_joined([p.packed_obs for p in parts]),
            packed_mask=_joined([p.packed_mask for p in parts]),
            actions=_joined([a.actions for a in acted]),
            logp=_joined([a.logp for a in acted]),
            values=_joined([a.values for a in acted]),
            rewards=_joined([n.reward for n in nxt]),
            dones=_joined([n.done for n in nxt]),
            targets=_joined_or_none([a.targets for a in acted]),
            learner=_joined_or_none([a.learner for a in acted]),
        )
        return nxt, row, [game for n in nxt for game in n.finished]

    def _overlapped(
        self, parts: list[StepResult], acted: list[Acted], act_ahead: bool
    ) -> list[StepResult]:
        """Steps both halves in the worker while the actor acts on the other; ``acted``
        gains the second half's actions."""
        assert self._worker is not None, "ply() inside running()"
        first, second = self.slices
        self.mid_ply = True
        job = self._worker.submit(self.env.step, acted[0].actions, first)
        acted.append(self._act_while(job, parts[1]))
        nxt = [job.result()]
        job = self._worker.submit(self.env.step, acted[1].actions, second)
        if act_ahead:
            before = self.generator.get_state(), self.actor.state_dict()
            self._ahead = (self._act_while(job, nxt[0]), *before)
        nxt.append(job.result())
        self.mid_ply = False
        return nxt

    def _act_while(self, job: futures.Future[StepResult], step: StepResult) -> Acted:
        """The actor's moves for ``step`` while ``job`` steps other games; a failure waits
        for the step to end first, so that nothing touches the environment after the loop
        has left."""
        try:
            return self.actor.act(step)
        except BaseException:
            futures.wait([job])
            raise

    def _undo_ahead(self) -> None:
        """Forget actions chosen ahead of a safe point, and the draws they took."""
        if self._ahead is not None:
            self.generator.set_state(self._ahead[1])
            self.actor.load_state_dict(self._ahead[2])
            self._ahead = None


def _joined(arrays: list[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _joined_or_none(arrays: list[npt.NDArray[Any] | None]) -> npt.NDArray[Any] | None:
    present = [a for a in arrays if a is not None]
    return _joined(present) if present else None
