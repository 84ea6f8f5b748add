"""The live console view shows log messages as written, never as rich markup."""

from __future__ import annotations

import io
import re

from rich.console import Console

from keisei.config import TrainConfig
from keisei.training.console import ConsoleSink


def test_log_messages_are_not_read_as_markup(tiny_config: TrainConfig) -> None:
    sink = ConsoleSink(tiny_config)
    sink.close()
    # A run directory or player spec with brackets, as a user may name them.
    sink.on_log("WARNING", "removed runs/[/yellow]x/step.pt.tmp")
    sink.on_log("INFO", "opponent search:[bold]x")
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(sink._render())
    lines = [" ".join(line.split()) for line in out.getvalue().splitlines() if "log" in line]
    assert lines[-2:] == [
        "log WARNING: removed runs/[/yellow]x/step.pt.tmp",
        "log INFO: opponent search:[bold]x",
    ]


def _view(sink: ConsoleSink) -> list[str]:
    """What the live display shows now (its renderable, not a fresh ``_render``), line by
    line as printed: the progress line, then the table's rows."""
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(sink.live.renderable)
    return [line.rstrip() for line in out.getvalue().splitlines()]


def _progress(sink: ConsoleSink, done: int, measured: bool = False) -> None:
    """The progress line at ``done`` steps: before any rate is measured, 0 steps/s and no
    ETA; then a rate and an ETA that depend on wall time. Elapsed times vary."""
    rate, eta = (r"\d+", r"(\d+:\d\d:\d\d|-:--:--)") if measured else ("0", "-:--:--")
    line = _view(sink)[0]
    assert re.fullmatch(
        rf"train [━╸╺ ]+ {done}/{sink.total} +{rate} steps/s \d+:\d\d:\d\d ETA {eta}", line
    ), line


def test_the_view_shows_the_last_update_checkpoint_and_four_messages(
    tiny_config: TrainConfig,
) -> None:
    sink = ConsoleSink(tiny_config)
    sink.close()
    assert sink.total == tiny_config.run.total_steps
    assert _view(sink)[1:] == []  # the progress line alone before the first update
    _progress(sink, 0)
    sink.on_event({"kind": "start", "step": 128})
    sink.on_event({"kind": "start", "step": 999})  # a second start does not reset it
    _progress(sink, 128)
    sink.on_event({"kind": "update", "step": 192})  # before any checkpoint
    _progress(sink, 192)  # one update: no rate measured yet
    assert _view(sink)[1:] == [
        "games finished           0",
        "black / white / draw     0.0% / 0.0% / 0.0%",
        "losses (policy / value)  0.0000 / 0.0000",
        "entropy / approx KL      0.000 / 0.0000",
        "last checkpoint          none yet",
    ]
    sink.on_event({"kind": "checkpoint", "step": 192, "status": "running"})
    assert _view(sink)[5] == "last checkpoint          step 192 (running)"  # shown at once
    sink.on_event(
        {
            "kind": "update",
            "step": 256,
            "episodes": 7,
            "black_win_rate": 0.5,
            "white_win_rate": 0.25,
            "draw_rate": 0.125,
            "policy_loss": -0.01234,
            "value_loss": 0.56789,
            "entropy": 6.54321,
            "approx_kl": 0.00123,
        }
    )
    _progress(sink, 256, measured=True)
    assert sink.progress.tasks[0].total == tiny_config.run.total_steps
    for i in range(5):
        sink.on_log("INFO", f"message {i}\nsecond line")
    sink.on_log("INFO", "step 256: loss 0.1")  # per-update lines: the table has them
    assert _view(sink)[1:] == [
        "games finished           7",
        "black / white / draw     50.0% / 25.0% / 12.5%",
        "losses (policy / value)  -0.0123 / 0.5679",
        "entropy / approx KL      6.543 / 0.0012",
        "last checkpoint          step 192 (running)",
        "log                      INFO: message 1",
        "log                      INFO: message 2",
        "log                      INFO: message 3",
        "log                      INFO: message 4",
    ]
