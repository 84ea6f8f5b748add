"""The weight average: the network a run plays with, from the last part of its training.

Late in a run, PPO's network wanders from update to update (docs/results.md: the in-run
score against greedy moves within 0.45-0.95 after 60 % of the default run), so the final
update is one draw from that band. The uniform average of the weights taken every
``average.every_steps`` plies from ``average.start_fraction`` of ``run.total_steps`` on
(stochastic weight averaging; KataGo publishes networks averaged over snapshots too)
plays better than the last of them. Self-play and the PPO update go on with the live
network: the average never feeds back into training, so a run's trajectory is the same
bits with and without it. Players (evaluate, ladder, usi, play, export) and the in-run
evaluation use the average once it holds a snapshot (``checkpoint.playing_weights``).
"""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.optim.swa_utils import AveragedModel

from keisei.config import AverageSection


class WeightAverage:
    """The uniform average of the live network's weights at every ``every_steps`` plies
    from ``start_step`` on (torch's ``AveragedModel``; a GroupNorm network has no running
    statistics to recompute)."""

    def __init__(self, model: nn.Module, config: AverageSection, total_steps: int) -> None:
        self.every_steps = config.every_steps
        # Updates that end before this step add nothing.
        self.start_step = int(config.start_fraction * total_steps)
        self.averaged = AveragedModel(model)

    @property
    def count(self) -> int:
        """Snapshots averaged so far (0: none yet, the live network plays)."""
        return int(self.averaged.n_averaged.item())

    @property
    def network(self) -> nn.Module | None:
        """The averaged network, or None before the first snapshot."""
        return self.averaged.module if self.count else None

    def after_update(self, model: nn.Module, step_before: int, step_after: int) -> bool:
        """Adds ``model``'s weights when the update crossed a multiple of ``every_steps``
        at or after ``start_step``; whether it did."""
        crossed = step_after // self.every_steps > step_before // self.every_steps
        if not crossed or step_after < self.start_step:
            return False
        self.averaged.update_parameters(model)
        return True

    def state_dict(self) -> dict[str, Any] | None:
        """``{"weights", "count"}`` for a checkpoint, or None before the first snapshot."""
        if not self.count:
            return None
        weights = {k: t.detach().clone() for k, t in self.averaged.module.state_dict().items()}
        return {"weights": weights, "count": self.count}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if state is None:  # none yet, or a checkpoint of keisei before the average
            self.averaged.n_averaged.zero_()
            return
        self.averaged.module.load_state_dict(state["weights"])
        self.averaged.n_averaged.fill_(int(state["count"]))
