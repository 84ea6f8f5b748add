"""One run directory as the page shows it, read as it grows; nothing is ever written there.

``RunView.summary()`` is the run's status, curves, evaluations, ratings, game counts, games
and checkpoints, and the list of what is damaged. Each call reads only what changed since
the last one: ``events.jsonl`` from the byte where the last read stopped (a shorter or
rewritten log, as a resumed run leaves it, is read again from its start), the other files
when their size or time changes. A damaged file (a line of the log that is not an event, a
torn last line, a ratings.json or config.yaml that cannot be read) is named in ``damaged``
and the rest is served.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from keisei.evaluation.ratings import RatingsError, RatingTable, fixed_text
from keisei.game.records import RECORD_SUFFIXES
from keisei.training.checkpoint import list_checkpoints
from keisei.training.rundir import RunDir

# The numbers of an "update" event that the page draws.
CURVES = (
    "loss",
    "policy_loss",
    "value_loss",
    "entropy",
    "approx_kl",
    "clip_fraction",
    "explained_variance",
)
MAX_POINTS = 2000  # a curve is thinned to at most this many points
NEWEST_GAMES = 60  # games listed per run
DOWNLOADS = (*RECORD_SUFFIXES, ".usi")  # the files of a game that can be downloaded
RATE_WINDOW_S = 60.0  # steps/s over the updates of the last minute
STALE_S = 600.0  # no end event and no event for this long: the process was probably killed
_TRAILING_NUMBER = re.compile(r"(\d+)$")
_SEEN = 4096  # bytes before the read offset kept to notice a rewritten log


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


@dataclass
class EventTail:
    """``events.jsonl`` read incrementally: complete lines only, damaged lines named."""

    path: Path
    offset: int = 0
    lines: int = 0
    seen: bytes = b""  # the bytes just before ``offset``
    torn: str | None = None  # the last line, when it has no end of line and is not an event
    damaged: list[str] = field(default_factory=list)

    def read(self) -> list[dict[str, Any]] | None:
        """The new events, or None when the log must be read again from its start."""
        try:
            with open(self.path, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                if size < self.offset:
                    return None
                f.seek(self.offset - len(self.seen))
                if f.read(len(self.seen)) != self.seen:
                    return None
                data = f.read()
        except FileNotFoundError:
            return [] if self.offset == 0 else None
        except OSError as exc:
            self.torn = f"{self.path.name} cannot be read ({exc.strerror or exc})"
            return []
        *complete, rest = data.split(b"\n")
        events: list[dict[str, Any]] = []
        for line in complete:
            self.lines += 1
            event = _event(line)
            if event is None:
                self.damaged.append(f"{self.path.name}: line {self.lines} is not a JSON event")
            else:
                events.append(event)
        if complete:
            end = len(data) - len(rest)
            self.offset += end
            self.seen = (self.seen + data[:end])[-_SEEN:]
        self.torn = None
        if rest and _event(rest) is None:
            self.torn = (
                f"{self.path.name}: line {self.lines + 1} is incomplete "
                f"({len(rest)} bytes without an end of line)"
            )
        return events


def _event(line: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("kind"), str) else None


@dataclass
class Events:
    """What the page needs from the events of one line of training."""

    starts: list[dict[str, Any]] = field(default_factory=list)
    ends: list[dict[str, Any]] = field(default_factory=list)  # end, interrupted, error
    curves: dict[str, list[float | None]] = field(default_factory=dict)
    updates: list[tuple[float, int]] = field(default_factory=list)  # (time, step)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    results: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    episodes: dict[int, dict[str, Any]] = field(default_factory=dict)  # number -> event
    step: int = 0
    last_time: float | None = None

    def add(self, event: dict[str, Any]) -> None:
        kind = event["kind"]
        step = event.get("step")
        if isinstance(step, int) and not isinstance(step, bool):
            self.step = max(self.step, step) if kind != "start" else step
        when = _number(event.get("time"))
        if when is not None:
            self.last_time = when
        if kind == "start":
            self.starts.append(event)
        elif kind in ("end", "interrupted", "error"):
            self.ends.append(event)
        elif kind == "update" and isinstance(step, int):
            self.curves.setdefault("step", []).append(float(step))
            for key in CURVES:
                self.curves.setdefault(key, []).append(_number(event.get(key)))
            if when is not None:
                self.updates.append((when, step))
        elif kind == "evaluation":
            self.evaluations.append(
                {
                    "step": step,
                    "player": event.get("player"),
                    "rating": _number(event.get("rating")),
                    "low": _number(event.get("rating_low")),
                    "high": _number(event.get("rating_high")),
                    "games": event.get("games"),
                    "scores": event.get("scores", {}),
                }
            )
        elif kind == "episode":
            self.results[str(event.get("result"))] += 1
            self.reasons[str(event.get("reason"))] += 1
            number = event.get("episode")
            if isinstance(number, int):
                self.episodes[number] = event


def thinned(curves: dict[str, list[float | None]]) -> dict[str, list[float | None]]:
    """Every curve at most ``MAX_POINTS`` long (every k-th point, the last one kept)."""
    n = len(curves.get("step", []))
    if n <= MAX_POINTS:
        return curves
    every = math.ceil(n / MAX_POINTS)
    keep = [*range(0, n - 1, every), n - 1]
    return {key: [values[i] for i in keep] for key, values in curves.items()}


class RunView:
    """One run directory, read-only, for the page."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.root = path.resolve()
        self.name = name
        self.run = RunDir(path)
        self.tail = EventTail(self.run.events)
        self.events = Events()
        self._files: dict[str, tuple[Any, Any]] = {}  # name -> (stamp, parsed or error)

    # -- files read whole, again when they change ----------------------------------------
    def _cached(self, key: str, path: Path, load: Any) -> Any:
        stamp = _stamp(path)
        old = self._files.get(key)
        if old is not None and old[0] == stamp:
            return old[1]
        value = load(path) if stamp is not None else None
        self._files[key] = (stamp, value)
        return value

    def _config(self, path: Path) -> dict[str, Any] | str:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            total = data["run"]["total_steps"]
            return {"total_steps": int(total)}
        except (OSError, ValueError, yaml.YAMLError, KeyError, TypeError) as exc:
            return f"{path.name} cannot be read ({type(exc).__name__})"

    def _ratings(self, path: Path) -> dict[str, Any] | str:
        try:
            table = RatingTable.load(self.path)
            players = table.standings()
        except RatingsError as exc:
            return f"{path.name}: {' '.join(str(exc).split())}"
        # The scale: runs whose tables fix other players (other ladder rungs) have ratings
        # that cannot be drawn on one axis; the page compares these strings.
        scale = fixed_text(table.fixed())
        return {"anchor": table.anchor, "scale": scale, "players": players}

    # -- the summary ---------------------------------------------------------------------
    def refresh(self) -> None:
        new = self.tail.read()
        if new is None:  # the log was cut back or replaced: read it again
            self.tail = EventTail(self.run.events)
            self.events = Events()
            new = self.tail.read() or []
        for event in new:
            self.events.add(event)

    def status(self, total: int | None, now: float) -> dict[str, Any]:
        ev = self.events
        out: dict[str, Any] = {"step": ev.step, "total": total}
        if not ev.starts:
            out["state"] = "not started" if ev.step == 0 else "running"
            return out
        start = ev.starts[-1]
        out["fresh"] = bool(start.get("fresh", True))
        out["resumed_from"] = start.get("resumed_from")
        begun = _number(start.get("time")) or 0.0
        ends = [e for e in ev.ends if (_number(e.get("time")) or 0.0) >= begun]
        error = next((e for e in ends if e["kind"] == "error"), None)
        stop = next((e for e in ends if e["kind"] == "interrupted"), None)
        end = next((e for e in ends if e["kind"] == "end"), None)
        if error is not None:
            out["state"], out["reason"] = "failed", str(error.get("error", ""))
        elif stop is not None:
            out["state"], out["reason"] = "interrupted", f"by {stop.get('signal', 'a signal')}"
        elif end is not None:
            code = end.get("exit_code")
            out["state"] = "finished" if code == 0 else "failed"
            if code != 0:
                out["reason"] = f"exit code {code}"
        else:
            out["state"] = "running"
            age = now - ev.last_time if ev.last_time is not None else 0.0
            if age > STALE_S:
                out["state"] = "silent"
                out["reason"] = (
                    f"no event for {age / 60:.0f} min and no end: stopped without one (killed?)"
                )
            recent = [(t, s) for t, s in ev.updates if t >= begun]
            if len(recent) >= 2:
                last_t, last_s = recent[-1]
                first = next(p for p in recent if p[0] >= last_t - RATE_WINDOW_S)
                if first == recent[-1]:
                    first = recent[-2]
                if last_t > first[0]:
                    rate = (last_s - first[1]) / (last_t - first[0])
                    out["steps_per_s"] = rate
                    if total is not None and rate > 0:
                        out["eta_s"] = max(0.0, (total - ev.step) / rate)
        return out

    def games(self) -> list[dict[str, Any]]:
        """The newest recorded games: training games and evaluation games, newest first."""
        stems: dict[Path, dict[str, str]] = {}
        found: list[tuple[float, Path]] = []
        for top in (self.run.games, self.run.evaluations):
            if not top.is_dir() or top.is_symlink():
                continue
            for path in top.rglob("*"):
                if path.suffix.lower() not in DOWNLOADS or not path.is_file():
                    continue
                stem = path.with_suffix("")
                files = stems.setdefault(stem, {})
                files[path.suffix.lower().lstrip(".")] = path.relative_to(self.path).as_posix()
                if len(files) == 1:
                    try:
                        found.append((path.stat().st_mtime, stem))
                    except OSError:
                        continue
        found.sort(key=lambda item: (item[0], item[1].name), reverse=True)
        out = []
        for _, stem in found[:NEWEST_GAMES]:
            files = stems[stem]
            # CSA first: cshogi's KIF reader reads moves only from the standard start.
            record = next((files[s] for s in ("csa", "kif", "kifu") if s in files), None)
            if record is None:
                continue
            entry: dict[str, Any] = {"record": record, "files": files, "name": stem.name}
            rel = stem.relative_to(self.path)
            entry["kind"] = (
                "evaluation" if rel.parts[0] == self.run.evaluations.name else "training"
            )
            number = _TRAILING_NUMBER.search(stem.name)
            event = self.events.episodes.get(int(number.group(1))) if number else None
            if entry["kind"] == "training" and event is not None:
                entry.update(
                    step=event.get("step"),
                    result=event.get("result"),
                    reason=event.get("reason"),
                    plies=event.get("plies"),
                )
            out.append(entry)
        return out

    def checkpoints(self) -> list[str]:
        names = [p.name for p in list_checkpoints(self.path)]
        if self.run.best.is_file():
            names.append(self.run.best.name)
        return names

    def summary(self, now: float | None = None) -> dict[str, Any]:
        self.refresh()
        config = self._cached("config", self.run.config, self._config)
        ratings = self._cached("ratings", self.run.ratings, self._ratings)
        damaged = list(self.tail.damaged)
        if self.tail.torn:
            damaged.append(self.tail.torn)
        total = None
        if isinstance(config, str):
            damaged.append(config)
        elif config is not None:
            total = config["total_steps"]
        if isinstance(ratings, str):
            damaged.append(ratings)
            ratings = None
        ev = self.events
        return {
            "name": self.name,
            "path": str(self.path),
            "status": self.status(total, time.time() if now is None else now),
            "curves": thinned(ev.curves),
            "evaluations": ev.evaluations,
            "ratings": ratings,
            "results": dict(ev.results),
            "reasons": dict(ev.reasons),
            "games": self.games(),
            "checkpoints": self.checkpoints(),
            "damaged": damaged,
        }
