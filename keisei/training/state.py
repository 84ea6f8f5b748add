"""The trainer's explicit state: counters that only ever grow, saved in every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from keisei.game.env import REASONS, GameResult


@dataclass
class TrainState:
    global_step: int = 0  # environment transitions collected (plies, summed over games)
    updates: int = 0  # PPO updates done
    episodes: int = 0  # finished games
    black_wins: int = 0
    white_wins: int = 0
    draws: int = 0
    finished_plies: int = 0  # plies played in finished games
    reasons: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    best_score: float | None = None  # best evaluation score so far (for the "best" checkpoint)

    def record_game(self, game: GameResult) -> None:
        self.episodes += 1
        self.finished_plies += game.plies
        self.reasons[game.reason] = self.reasons.get(game.reason, 0) + 1
        if game.winner is None:
            self.draws += 1
        elif game.winner == 0:
            self.black_wins += 1
        else:
            self.white_wins += 1

    def check_invariants(self) -> list[str]:
        """Return a description of each violated invariant (empty when consistent)."""
        problems = []
        if self.episodes != self.black_wins + self.white_wins + self.draws:
            problems.append(
                f"episodes {self.episodes} != black_wins {self.black_wins} + white_wins "
                f"{self.white_wins} + draws {self.draws}"
            )
        if self.episodes != sum(self.reasons.values()):
            problems.append(
                f"episodes {self.episodes} != sum over termination reasons "
                f"{sum(self.reasons.values())}"
            )
        if self.finished_plies > self.global_step:
            problems.append(
                f"finished_plies {self.finished_plies} > global_step {self.global_step}"
            )
        return problems

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainState:
        state = cls(**data)
        state.reasons = {**dict.fromkeys(REASONS, 0), **state.reasons}
        return state
