"""The sinks one by one: events.jsonl, the text log, TensorBoard, the fan-out's rules.

The trainer's tests run them all inside real runs; these pin each one's own contract
(what it writes, what it skips, how a failing sink is dropped) on its real files.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from keisei.training.sinks import (
    EventLog,
    Sinks,
    TensorBoardSink,
    TextLog,
    WandbSink,
    events_past,
)
from tests.tbutil import wait_past
from tests.wandb_records import history, record_types


def test_events_past_is_the_first_later_line_or_a_torn_or_unreadable_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.jsonl"
    lines = [
        b'{"kind":"start","step":0}\n',
        b'{"kind":"update","step":64}\n',
        b'["not", "an", "object"]\n',  # read as no step: kept
        b'{"kind":"update","step":"128"}\n',  # a step that is not an int: kept
        b'{"kind":"update","step":128}\n',
        b'{"kind":"update","step":192}\n',
    ]
    path.write_bytes(b"".join(lines))
    ends = [sum(len(x) for x in lines[:i]) for i in range(len(lines) + 1)]
    assert events_past(path, -1) == ends[0]
    assert events_past(path, 0) == ends[1]
    assert events_past(path, 64) == ends[4]
    assert events_past(path, 127) == ends[4]
    assert events_past(path, 128) == ends[5]
    assert events_past(path, 10_000) == ends[6]  # the end of the file
    path.write_bytes(b"".join(lines[:2]) + b'{"kind":"upd')  # a writer killed mid-line
    assert events_past(path, 10_000) == ends[2]
    path.write_bytes(b"".join(lines[:2]) + b"{not json}\n" + lines[4])
    assert events_past(path, 10_000) == ends[2]


def test_the_event_log_appends_one_compact_object_per_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"kind":"start","step":0}\n')
    log = EventLog(path)
    log.on_event({"kind": "update", "step": 64, "loss": 0.5})
    log.on_log("info", "not in the event log")
    # Flushed per event: readable before the log is closed (a kill -9 keeps it).
    assert path.read_text().splitlines()[1] == '{"kind":"update","step":64,"loss":0.5}'
    log.close()
    log.close()  # twice is harmless
    assert len(path.read_text().splitlines()) == 2


def test_the_text_log_stamps_each_line_and_echoes_it_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "train.log"
    log = TextLog(path, echo=True)
    log.on_log("info", "started")
    log.on_log("warning", "disk nearly full")
    log.on_event({"kind": "update", "step": 64})
    text = path.read_text()  # flushed per line
    log.close()
    log.close()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
    assert re.fullmatch(f"{stamp} INFO    started\n{stamp} WARNING disk nearly full\n", text)
    assert capsys.readouterr().err == text
    quiet = TextLog(tmp_path / "quiet.log", echo=False)
    quiet.on_log("info", "only in the file")
    quiet.close()
    assert capsys.readouterr().err == ""
    assert (tmp_path / "quiet.log").read_text().endswith(" INFO    only in the file\n")


def test_the_text_log_stops_echoing_when_stderr_is_gone(tmp_path: Path) -> None:
    """stderr a pipe whose reader has gone (a closed ``| head``): the first echo fails
    with BrokenPipeError, echoing stops, and the file still gets every line."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    saved = sys.stderr
    sys.stderr = os.fdopen(write_end, "w")
    log = TextLog(tmp_path / "train.log", echo=True)
    try:
        log.on_log("info", "one")
        assert log.echo is False
        log.on_log("info", "two")
    finally:
        broken, sys.stderr = sys.stderr, saved
        with contextlib.suppress(OSError):
            broken.close()
    log.close()
    assert [line[20:] for line in (tmp_path / "train.log").read_text().splitlines()] == [
        "INFO    one",
        "INFO    two",
    ]


def test_tensorboard_gets_the_finite_numbers_of_updates_and_evaluations(tmp_path: Path) -> None:
    sink = TensorBoardSink(tmp_path / "tb")
    sink.on_event({"kind": "start", "step": 0, "loss": 9.0})  # not a metric event
    sink.on_event(
        {
            "kind": "update",
            "step": 64,
            "time": 1.5,
            "loss": 0.25,
            "episodes": 3,
            "finished": True,  # a bool is not a number here
            "note": "text",
            "kl": float("nan"),
        }
    )
    sink.on_event({"kind": "evaluation", "step": 128, "score": 0.75})
    sink.on_log("info", "not a scalar")
    sink.close()
    board = EventAccumulator(str(tmp_path / "tb"))
    board.Reload()
    assert sorted(board.Tags()["scalars"]) == [
        "evaluation/score",
        "update/episodes",
        "update/loss",
    ]
    assert [(e.step, e.value) for e in board.Scalars("update/loss")] == [(64, 0.25)]
    assert [(e.step, e.value) for e in board.Scalars("update/episodes")] == [(64, 3.0)]
    assert [(e.step, e.value) for e in board.Scalars("evaluation/score")] == [(128, 0.75)]


def test_tensorboard_resumed_at_a_step_hides_what_was_logged_after_it(tmp_path: Path) -> None:
    started = int(time.time())
    first = TensorBoardSink(tmp_path / "tb")
    for step, loss in ((64, 1.0), (128, 2.0), (192, 3.0)):
        first.on_event({"kind": "update", "step": step, "loss": loss})
    first.close()
    wait_past(started)  # the resumed writer's file sorts after the first's
    resumed = TensorBoardSink(tmp_path / "tb", purge_step=65)  # resumed from step 64
    resumed.on_event({"kind": "update", "step": 128, "loss": 20.0})
    resumed.close()
    board = EventAccumulator(str(tmp_path / "tb"))
    board.Reload()
    assert [(e.step, e.value) for e in board.Scalars("update/loss")] == [(64, 1.0), (128, 20.0)]


class Recorder:
    """A sink that keeps what it is given (any object with the three methods is a sink)."""

    def __init__(self, essential: bool, fail: str = "") -> None:
        self.essential = essential
        self.fail = fail
        self.events: list[dict[str, Any]] = []
        self.logs: list[tuple[str, str]] = []
        self.closed = 0

    def on_event(self, event: dict[str, Any]) -> None:
        if self.fail == "event":
            raise OSError("disk full")
        self.events.append(event)

    def on_log(self, level: str, message: str) -> None:
        self.logs.append((level, message))

    def close(self) -> None:
        self.closed += 1
        if self.fail == "close":
            raise RuntimeError("would not close")


def test_a_failing_optional_sink_is_dropped_with_one_warning_and_an_essential_one_raises(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log, optional = Recorder(essential=True), Recorder(essential=False, fail="event")
    sinks = Sinks([log, optional])
    before = time.time()
    event = sinks.emit("update", step=64, loss=0.5)
    assert event == {"time": event["time"], "kind": "update", "step": 64, "loss": 0.5}
    # The wall time in seconds, to the millisecond.
    assert isinstance(event["time"], float) and round(event["time"], 3) == event["time"]
    assert before - 0.001 <= event["time"] <= time.time() + 0.001
    assert log.events == [event]
    assert sinks.sinks == [log]
    assert log.logs == [("warning", "Recorder failed and was disabled: OSError('disk full')")]
    sinks.emit("update", step=128)
    sinks.info("one")
    sinks.warning("two")
    assert len(log.events) == 2 and log.logs[1:] == [("info", "one"), ("warning", "two")]
    assert optional.logs == []  # dropped before any log line
    with pytest.raises(OSError, match="disk full"):
        Sinks([Recorder(essential=True, fail="event")]).emit("update", step=1)
    # close: in reverse order, once, and a sink that fails to close is named on stderr.
    first, second = Recorder(essential=True, fail="close"), Recorder(essential=True)
    third = Recorder(essential=False, fail="close")
    trio = Sinks([first, second, third])
    trio.close()
    trio.close()
    assert (first.closed, second.closed, third.closed) == (1, 1, 1)
    error = "Recorder: RuntimeError('would not close')"
    assert capsys.readouterr().err == f"keisei: errors while closing sinks: {error}; {error}\n"


def test_quiet_removes_the_live_view_and_the_stderr_echo(tmp_path: Path) -> None:
    view = Recorder(essential=False, fail="close")  # a view that fails to close: still gone
    view.terminal = True  # type: ignore[attr-defined]
    text = TextLog(tmp_path / "train.log", echo=True)
    events = EventLog(tmp_path / "events.jsonl")
    other = Recorder(essential=False)
    sinks = Sinks([events, text, view, other])
    sinks.quiet()
    assert sinks.sinks == [events, text, other]
    assert view.closed == 1
    assert text.echo is False
    assert not hasattr(events, "echo") and not hasattr(other, "echo")  # only echoes are off
    sinks.close()
    assert events.file.closed and text.file.closed


def test_wandb_gets_the_numbers_of_updates_and_evaluations_under_the_runs_names(
    tmp_path: Path,
) -> None:
    """Offline W&B (the real library, no account): the run's project, name, entity,
    config, resumed id and quiet settings, then the history of what it was sent."""
    sink = WandbSink(
        tmp_path,
        config={"seed": 3},
        project="keisei-test",
        mode="offline",
        entity="someone",
        name="run-a",
        resume_id="abc123",
    )
    run = sink.run
    assert (sink.run_id, run.project, run.name, run.entity) == (
        "abc123",
        "keisei-test",
        "run-a",
        "someone",
    )
    assert dict(run.config) == {"seed": 3}
    settings = run.settings
    assert (settings.mode, settings.resume, settings.root_dir) == (
        "offline",
        "allow",
        str(tmp_path),
    )
    assert (settings.silent, settings.console, settings.x_disable_stats) == (True, "off", True)
    sink.on_event({"kind": "start", "step": 0, "seed": 3})  # not a metric event
    sink.on_event({"kind": "update", "step": 64, "time": 1.5, "loss": 0.5, "done": True})
    sink.on_event({"kind": "evaluation", "step": 128, "score": 0.75})
    sink.on_log("info", "not a metric")
    sink.close()
    (path,) = tmp_path.glob("wandb/offline-run-*-abc123/run-abc123.wandb")
    # wandb-core is a separate process: wait until it has written the run's exit record.
    deadline = time.monotonic() + 30
    while "exit" not in record_types(path) and time.monotonic() < deadline:
        time.sleep(0.1)
    rows = [
        {k: v for k, v in row.items() if not k.startswith("_") or k == "_step"}
        for row in history(path)
    ]
    assert rows == [
        {"_step": 64, "update/loss": 0.5},
        {"_step": 128, "evaluation/score": 0.75},
    ]


def test_a_fresh_wandb_run_gets_a_new_id_and_no_resume(tmp_path: Path) -> None:
    sink = WandbSink(tmp_path, {}, "keisei-test", "offline", None, "run-b", None)
    try:
        assert sink.run.settings.resume is None
        assert sink.run_id == sink.run.id and len(sink.run_id) == 8
    finally:
        sink.close()
