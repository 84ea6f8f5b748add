"""Where training events go: events.jsonl, a text log, the console, TensorBoard, W&B.

Every sink has ``on_event(event)``, ``on_log(level, message)`` and ``close()``. ``Sinks``
fans out to all of them. events.jsonl and the text log are essential: their errors
propagate. TensorBoard and W&B are not: an error there disables that sink with one
warning and training goes on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Protocol, TextIO


class Sink(Protocol):
    essential: bool

    def on_event(self, event: dict[str, Any]) -> None: ...
    def on_log(self, level: str, message: str) -> None: ...
    def close(self) -> None: ...


def _numeric(event: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in event.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and k not in ("time", "step")
    }


EVENTS_FILE = "events.jsonl"


def events_past(path: Path, step: int) -> int:
    """Byte offset in an event log where the events after ``step`` begin.

    That is the first line whose ``step`` exceeds ``step``, or else a torn last line (a
    writer killed mid-line), or else the end of the file. Event steps never decrease
    within a log, so everything from there on is later than ``step``.
    """
    offset = 0
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                return offset
            try:
                event = json.loads(line)
            except ValueError:
                return offset
            at = event.get("step") if isinstance(event, dict) else None
            if isinstance(at, int) and at > step:
                return offset
            offset += len(line)
    return offset


class EventLog:
    """``events.jsonl``: one JSON object per line, flushed per event (survives kill -9).

    A resumed run first cuts the log back to its checkpoint (``events_past``): the log of a
    run directory then always describes the line of training its checkpoints continue.
    """

    essential = True

    def __init__(self, path: Path) -> None:
        self.file: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def on_event(self, event: dict[str, Any]) -> None:
        self.file.write(json.dumps(event, separators=(",", ":")) + "\n")
        self.file.flush()

    def on_log(self, level: str, message: str) -> None:
        pass

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()


class TextLog:
    """The human-readable log (``train.log``), optionally echoed to stderr as plain lines."""

    essential = True

    def __init__(self, path: Path, echo: bool) -> None:
        self.file: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.echo = echo

    def on_event(self, event: dict[str, Any]) -> None:
        pass

    def on_log(self, level: str, message: str) -> None:
        stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        line = f"{stamp} {level.upper():7s} {message}"
        self.file.write(line + "\n")
        self.file.flush()
        if self.echo:
            try:
                print(line, file=sys.stderr, flush=True)
            except OSError:  # stderr went away (a closed pipe, a lost terminal)
                self.echo = False  # the log file still has every line

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()


class TensorBoardSink:
    essential = False

    def __init__(self, log_dir: Path, purge_step: int | None = None) -> None:
        # Lazy: TensorBoard's writer takes a second to import and is optional.
        from torch.utils.tensorboard import SummaryWriter

        # On resume from step S, ``purge_step=S + 1`` hides what a killed or superseded
        # run logged after S, so the curves show the line that goes on (as events.jsonl).
        self.writer = SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("kind")
        if kind not in ("update", "evaluation"):
            return
        step = int(event["step"])
        for key, value in _numeric(event).items():
            if math.isfinite(value):
                self.writer.add_scalar(f"{kind}/{key}", value, step)

    def on_log(self, level: str, message: str) -> None:
        pass

    def close(self) -> None:
        self.writer.close()


class WandbSink:
    """Weights & Biases; ``mode="offline"`` writes the run under ``RUN/wandb/`` only."""

    essential = False

    def __init__(
        self,
        run_dir: Path,
        config: dict[str, Any],
        project: str,
        mode: str,
        entity: str | None,
        name: str,
        resume_id: str | None,
    ) -> None:
        import wandb

        self.run = wandb.init(
            project=project,
            entity=entity,
            name=name,
            mode=mode,  # type: ignore[arg-type]  # validated by the config's Literal
            dir=str(run_dir),
            config=config,
            id=resume_id,
            resume="allow" if resume_id else None,
            settings=wandb.Settings(silent=True, console="off", x_disable_stats=True),
        )
        self.run_id: str = self.run.id

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("kind")
        if kind not in ("update", "evaluation"):
            return
        metrics = {f"{kind}/{k}": v for k, v in _numeric(event).items()}
        self.run.log(metrics, step=int(event["step"]))

    def on_log(self, level: str, message: str) -> None:
        pass

    def close(self) -> None:
        self.run.finish()


class Sinks:
    """Fan-out to every sink; non-essential sinks are dropped on their first error."""

    def __init__(self, sinks: list[Any]) -> None:
        self.sinks = list(sinks)
        self.closed = False

    def _call(self, method: str, *args: Any) -> None:
        for sink in list(self.sinks):
            try:
                getattr(sink, method)(*args)
            except Exception as exc:
                if sink.essential:
                    raise
                self.sinks.remove(sink)
                self.log("warning", f"{type(sink).__name__} failed and was disabled: {exc!r}")

    def emit(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"time": round(time.time(), 3), "kind": kind, **fields}
        self._call("on_event", event)
        return event

    def log(self, level: str, message: str) -> None:
        self._call("on_log", level, message)

    def info(self, message: str) -> None:
        self.log("info", message)

    def warning(self, message: str) -> None:
        self.log("warning", message)

    def quiet(self) -> None:
        """Nothing more on the terminal, the log files only: for a rank that ends because
        another one did (the launcher names that one, once)."""
        for sink in list(self.sinks):
            if getattr(sink, "terminal", False):  # the live view
                self.sinks.remove(sink)
                with contextlib.suppress(Exception):
                    sink.close()
            elif getattr(sink, "echo", False):  # a log file's copy on stderr
                sink.echo = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        errors = []
        for sink in reversed(self.sinks):
            try:
                sink.close()
            except Exception as exc:
                errors.append(f"{type(sink).__name__}: {exc!r}")
        if errors:
            print("keisei: errors while closing sinks: " + "; ".join(errors), file=sys.stderr)
