"""A resumed (or fresh) run's plan: which config changes a resume may make, and which of
the run directory's files belong to another line of training and are set aside.

Lines. A checkpoint at step S is a point on a line of training. When a run goes on from S
while the directory holds things from after S (a killed run's last events, or a whole
later stretch when resuming from ``best.pt`` or an older ``step_*.pt``), those belong to
another line: ``set_aside`` moves them into ``RUN/superseded/<UTC time>/`` (same relative
paths), so that ``checkpoints/``, ``events.jsonl`` and ``games/`` describe exactly the
line being continued, and ``--resume latest`` continues it. Files of the layers above
(``ratings.json``'s later evaluations) are set aside by the functions ``begin_line`` is
given.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keisei.config import TrainConfig, dump_yaml
from keisei.errors import UsageError
from keisei.training.checkpoint import (
    CheckpointError,
    action_space,
    latest_valid,
    list_checkpoints,
    model_path,
    playing_weights,
    read_checkpoint,
    remove_stale_temporaries,
    resolve,
    step_of,
    weights_problem,
)
from keisei.training.rundir import RunDir
from keisei.training.sinks import EVENTS_FILE, events_past

_EPISODE_RECORD = re.compile(r"^episode_(\d+)\.")
_EVALUATION_DIR = re.compile(r"^step_(\d+)$")
# Keys of the checked sections that change speed, not what the run is (and may be missing
# from older checkpoints): env.threads gives the same bits, env.overlap the same algorithm
# with the network's outputs computed in batches of half the size (their last bits).
FREE_ON_RESUME = {("env", "threads"), ("env", "overlap")}
# Moves what a run directory holds from after a step to a directory: (run_dir, step,
# aside) -> one phrase per kind of thing moved.
SetAside = Callable[[Path, int, Path], list[str]]


def check_compatible(saved: dict[str, Any], config: TrainConfig, path: Path) -> None:
    """Refuse (``UsageError``) a resumed run whose config changes what the checkpoint is."""
    searched = saved["config"].get("gumbel", {}).get("simulations", 0)
    if (searched > 0) != (config.gumbel.simulations > 0):
        raise UsageError(
            f"config key 'gumbel.simulations' is {config.gumbel.simulations} but checkpoint "
            f"{path} was trained with {searched}; a resumed run cannot turn the Gumbel search "
            "on or off (its rollout holds the search's policies or none)"
        )
    league = saved["config"].get("league", {}).get("fraction", 0.0)
    if league != config.league.fraction:
        raise UsageError(
            f"config key 'league.fraction' is {config.league.fraction} but checkpoint {path} "
            f"was trained with {league}; a resumed run cannot change it (it decides which "
            "games are the league's, and whether the rollout marks whose moves are trained)"
        )
    space = saved.get("action_space", {})
    if space != action_space():
        raise UsageError(
            f"checkpoint {path} uses action space {space}, this keisei {action_space()}"
        )
    for section in ("model", "env"):
        old = saved["config"][section]
        new = getattr(config, section).model_dump(mode="json")
        for key in sorted(set(old) | set(new)):
            if (section, key) in FREE_ON_RESUME:
                continue
            if old.get(key) != new.get(key):
                raise UsageError(
                    f"config key '{section}.{key}' is {new.get(key)!r} but checkpoint {path} "
                    f"was trained with {old.get(key)!r}; a resumed run cannot change it"
                )


def resume_source(resume: str, run_dir: Path) -> tuple[Path, dict[str, Any], list[str]]:
    """``--resume latest|PATH``: the checkpoint, its payload and the skipped ones' warnings."""
    warnings: list[str] = []
    if resume == "latest":
        if not run_dir.is_dir():
            raise UsageError(f"--resume latest: run directory {run_dir} does not exist")
        try:
            path, payload = latest_valid(
                run_dir, warnings.append, accept=lambda p: bool(p.get("consistent", True))
            )
        except CheckpointError as exc:
            raise UsageError(f"--resume latest: {exc}", warnings) from None
        return path, payload, warnings
    path = Path(resume)
    try:
        payload = read_checkpoint(path)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    problem = weights_problem(payload)
    if problem is not None:
        raise UsageError(f"checkpoint {path} cannot be resumed: {problem}")
    return path, payload, warnings


def init_weights(spec: str, config: TrainConfig) -> dict[str, Any]:
    """``--init``: the weights a fresh run starts from, checked against its model config:
    ``{"path", "model", "config"}``."""
    path = model_path(spec)
    try:
        _resolved, payload = resolve(path)
    except CheckpointError as exc:
        raise UsageError(f"--init: {exc}") from None
    problem = weights_problem(payload)
    if problem is not None:
        raise UsageError(f"--init {path}: {problem}")
    saved, mine = payload["config"]["model"], config.model.model_dump(mode="json")
    for key in sorted(set(saved) | set(mine)):
        if saved.get(key) != mine.get(key):
            raise UsageError(
                f"--init {path} has 'model.{key}' {saved.get(key)!r} but this run's config "
                f"has {mine.get(key)!r}: give the run the same model (e.g. model.{key}="
                f"{saved.get(key)})"
            )
    return {"path": str(path), "model": playing_weights(payload), "config": saved}


def nothing_to_do(
    config: TrainConfig, payload: dict[str, Any] | None, path: Path | None
) -> str | None:
    """Why a resumed run has nothing to do (its checkpoint is at or past the total), or None.
    The checkpoint, its status and the run's files then stay as they are."""
    if payload is None:
        return None
    step = int(payload["state"]["global_step"])
    if step < config.run.total_steps:
        return None
    return (
        f"keisei train: Nothing to do: {path} is at step {step} >= "
        f"total_steps {config.run.total_steps} (use --total-steps to extend)"
    )


@dataclass(frozen=True)
class Line:
    """The line of training a run continues (``begin_line``), for its first log lines."""

    step: int  # of the checkpoint it continues from; -1 for a fresh start
    stale: list[Path]  # temporaries of a killed writer, removed
    moved: list[str]  # what was set aside, one phrase per kind
    aside: Path  # where (created only if something was moved)
    branched: bool  # step checkpoints after ``step`` existed: another line went on

    def warnings(self) -> list[str]:
        """What the run's log says first about the directory it found."""
        out = [f"removed {p}, left by a run killed while writing a checkpoint" for p in self.stale]
        if self.moved:
            where = f"step {self.step}" if self.step >= 0 else "a fresh start"
            out.append(
                f"moved what came after {where} to {self.aside}: "
                + "; ".join(self.moved)
                + " (another line of training, or a killed run's last moments)"
            )
        return out


def begin_line(
    run_dir: Path,
    config: TrainConfig,
    payload: dict[str, Any] | None,
    also: Sequence[SetAside] = (),
) -> Line:
    """Prepare ``run_dir`` for a run from ``payload`` (None: a fresh start): what it holds
    from after the resumed checkpoint (or, on a fresh start, from a run that never wrote
    one) belongs to another line of training and is set aside (with ``also``); the run's
    config is written."""
    run = RunDir(run_dir)
    run.checkpoints.mkdir(parents=True, exist_ok=True)
    stale = remove_stale_temporaries(run.checkpoints)
    state = payload["state"] if payload is not None else {"global_step": -1, "episodes": 0}
    step = int(state["global_step"])
    aside = aside_dir(run_dir)
    branched = any(step_of(c) > step for c in list_checkpoints(run_dir))
    moved = set_aside(run_dir, step, int(state["episodes"]), aside)
    for more in also:
        moved += more(run_dir, step, aside)
    run.config.write_text(dump_yaml(config), encoding="utf-8")
    return Line(step, stale, moved, aside, branched)


def aside_dir(run_dir: Path) -> Path:
    """A new ``RUN/superseded/<UTC time>`` path (not created)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = RunDir(run_dir).superseded / stamp
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{stamp}-{n}")
    return path


class _Aside:
    """Moves files to ``<dir>/<same path relative to the run directory>``."""

    def __init__(self, run_dir: Path, directory: Path) -> None:
        self.run_dir = run_dir
        self.dir = directory

    def target(self, path: Path) -> Path:
        dest = self.dir / path.relative_to(self.run_dir)
        dest.parent.mkdir(parents=True, exist_ok=True)
        return dest

    def move(self, path: Path) -> None:
        os.replace(path, self.target(path))


def _numbered_after(directory: Path, name: re.Pattern[str], after: int) -> list[Path]:
    """The entries of ``directory`` whose name's number (``name``'s group 1) is > ``after``,
    by that number (``step_64`` before ``step_128``)."""
    if not directory.is_dir():
        return []
    numbered = [(int(m.group(1)), p) for p in directory.iterdir() if (m := name.match(p.name))]
    return [p for n, p in sorted(numbered) if n > after]


def set_aside(run_dir: Path, step: int, episodes: int, directory: Path) -> list[str]:
    """Move what ``run_dir`` holds from after ``step`` (and episode ``episodes``) aside.

    ``step`` is the step of the checkpoint the run continues from (-1 for a fresh start);
    ``directory`` (from ``aside_dir``) is created only if something is moved. Returns one
    phrase per kind of thing moved, for the log.
    """
    aside = _Aside(run_dir, directory)
    said: list[str] = []
    run = RunDir(run_dir)
    later = [p for p in list_checkpoints(run.checkpoints) if step_of(p) > step]
    best = run.best
    if best.is_file():
        try:
            best_step = int(read_checkpoint(best)["state"]["global_step"])
        except Exception:  # unreadable (CheckpointError) or foreign: not ours to judge
            best_step = -1
        if best_step > step:
            later.append(best)
    for path in later:
        aside.move(path)
    if later:
        said.append("checkpoints " + ", ".join(p.name for p in later))
    events = run.events
    if events.is_file():
        offset = events_past(events, step)
        with open(events, "rb") as f:
            f.seek(offset)
            tail = f.read()
        if tail:
            dest = aside.target(events)
            with open(dest, "wb") as f:
                f.write(tail)
                f.flush()
                os.fsync(f.fileno())
            os.truncate(events, offset)
            lines = len(tail.splitlines())
            said.append(f"{lines} line{'s' if lines != 1 else ''} of {EVENTS_FILE}")
    records = _numbered_after(run.games, _EPISODE_RECORD, episodes)
    for path in records:
        aside.move(path)
    if records:
        said.append(f"{len(records)} file{'s' if len(records) != 1 else ''} of games/")
    dirs = _numbered_after(run.evaluations, _EVALUATION_DIR, step)
    for path in dirs:
        aside.move(path)
    if dirs:
        said.append("evaluations/" + ", evaluations/".join(p.name for p in dirs))
    return said
