"""The live console view shows log messages as written, never as rich markup."""

from __future__ import annotations

import io

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


def _table_lines(sink: ConsoleSink) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(sink._render())
    # The progress line (first) holds wall times; the table's rows follow it.
    return [" ".join(line.split()) for line in out.getvalue().splitlines()[1:] if line.strip()]


def test_the_view_shows_the_last_update_checkpoint_and_four_messages(
    tiny_config: TrainConfig,
) -> None:
    sink = ConsoleSink(tiny_config)
    sink.close()
    assert _table_lines(sink) == []  # nothing before the first update
    assert sink.progress.tasks[0].total == tiny_config.run.total_steps
    sink.on_event({"kind": "start", "step": 128})
    sink.on_event({"kind": "start", "step": 999})  # a second start does not reset it
    assert sink.progress.tasks[0].completed == 128
    sink.on_event({"kind": "checkpoint", "step": 192, "status": "running"})
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
    assert sink.progress.tasks[0].completed == 256
    sink.on_log("INFO", "step 256: loss 0.1")  # per-update lines: the table has them
    for i in range(5):
        sink.on_log("INFO", f"message {i}\nsecond line")
    assert _table_lines(sink) == [
        "games finished 7",
        "black / white / draw 50.0% / 25.0% / 12.5%",
        "losses (policy / value) -0.0123 / 0.5679",
        "entropy / approx KL 6.543 / 0.0012",
        "last checkpoint step 192 (running)",
        "log INFO: message 1",
        "log INFO: message 2",
        "log INFO: message 3",
        "log INFO: message 4",
    ]
    sink.on_event({"kind": "update", "step": 320})  # missing fields read as zeros
    assert _table_lines(sink)[:4] == [
        "games finished 0",
        "black / white / draw 0.0% / 0.0% / 0.0%",
        "losses (policy / value) 0.0000 / 0.0000",
        "entropy / approx KL 0.000 / 0.0000",
    ]
