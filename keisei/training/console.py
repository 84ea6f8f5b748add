"""The live console view (rich) shown when training runs on a terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from keisei.config import TrainConfig


class ConsoleSink:
    essential = False
    terminal = True  # what Sinks.quiet() removes

    def __init__(self, config: TrainConfig) -> None:
        self.total = config.run.total_steps
        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>7.0f} steps/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        self.task = self.progress.add_task("train", total=self.total, rate=0.0)
        self.last: dict[str, Any] = {}
        self.messages: list[str] = []
        self.last_checkpoint = "none yet"
        self.live = Live(self._render(), refresh_per_second=4, transient=False)
        self.live.start()
        self._first_step: int | None = None

    def _render(self) -> Group:
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="dim")
        table.add_column()
        last = self.last
        if last:
            table.add_row("games finished", str(last.get("episodes", 0)))
            table.add_row(
                "black / white / draw",
                f"{last.get('black_win_rate', 0):.1%} / {last.get('white_win_rate', 0):.1%} / "
                f"{last.get('draw_rate', 0):.1%}",
            )
            table.add_row(
                "losses (policy / value)",
                f"{last.get('policy_loss', 0):.4f} / {last.get('value_loss', 0):.4f}",
            )
            table.add_row(
                "entropy / approx KL",
                f"{last.get('entropy', 0):.3f} / {last.get('approx_kl', 0):.4f}",
            )
            table.add_row("last checkpoint", self.last_checkpoint)
        for message in self.messages[-4:]:
            table.add_row("log", escape(message))  # paths and specs: not markup
        return Group(self.progress, table)

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("kind")
        if kind == "start" and self._first_step is None:
            self._first_step = int(event["step"])
            self.progress.reset(self.task, total=self.total, completed=event["step"], rate=0.0)
        if kind == "checkpoint":
            self.last_checkpoint = f"step {event['step']} ({event['status']})"
            self.live.update(self._render())
        if kind == "update":
            self.last = event
            speed = self.progress.tasks[0].speed or 0.0
            self.progress.update(self.task, completed=event["step"], rate=speed)
            self.live.update(self._render())

    def on_log(self, level: str, message: str) -> None:
        if message.startswith("step "):  # per-update lines: the table shows them already
            return
        self.messages.append(f"{level}: {message.splitlines()[0]}")
        self.live.update(self._render())

    def close(self) -> None:
        self.live.stop()
