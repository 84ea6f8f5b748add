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
