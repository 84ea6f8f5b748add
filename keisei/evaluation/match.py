"""Matches: N games between two players, colors alternating, played concurrently.

All games of a match run in one ``ShogiEnv``: at each step every unfinished game gets one
ply, and each player is asked once for the moves of all the games in which it is to move
(one batched forward pass for a network; engines answer game by game). Game ``i`` has
the agent as black when ``i`` is even, as white when odd.

With ``opening_plies = k``, the first k plies of every game are uniformly random legal
moves, drawn so that games ``2j`` and ``2j + 1`` share the same opening with colors
swapped. Use it when both players are deterministic (e.g. two greedy checkpoints), which
would otherwise replay the same two games over and over.

A game that a player forfeits (an engine that resigned, crashed, played an illegal move or
ran out of time) ends at once as that player's loss, with the reason; the match goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cshogi
import numpy as np

from keisei.evaluation.players import FAULT_REASONS, FORFEIT_REASONS, Forfeit, Player
from keisei.game.env import REASONS, GameResult, ShogiEnv, random_legal
from keisei.game.records import write_records

ALL_REASONS: tuple[str, ...] = REASONS + FORFEIT_REASONS
COLORS: tuple[str, str] = ("black", "white")


@dataclass
class GameOutcome:
    """One finished game of a match, seen from the agent's side."""

    index: int
    agent_color: str  # "black" or "white"
    result: str  # "black", "white" or "draw"
    outcome: str  # the agent's: "win", "loss" or "draw"
    reason: str  # one of ALL_REASONS
    plies: int
    detail: str | None = None  # what went wrong, for forfeits
    forfeited_by: str | None = None  # "agent" or "opponent" for forfeits
    records: dict[str, str] = field(default_factory=dict)
    game: GameResult | None = None

    @property
    def points(self) -> float:
        return {"win": 1.0, "draw": 0.5, "loss": 0.0}[self.outcome]

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "agent_color": self.agent_color,
            "result": self.result,
            "outcome": self.outcome,
            "reason": self.reason,
            "plies": self.plies,
            "detail": self.detail,
            "forfeited_by": self.forfeited_by,
            "records": self.records,
        }


@dataclass
class MatchResult:
    agent: str
    opponent: str
    games: list[GameOutcome]
    seconds: float = 0.0

    @property
    def wins(self) -> int:
        return sum(g.outcome == "win" for g in self.games)

    @property
    def losses(self) -> int:
        return sum(g.outcome == "loss" for g in self.games)

    @property
    def draws(self) -> int:
        return sum(g.outcome == "draw" for g in self.games)

    @property
    def score(self) -> float:
        return (self.wins + 0.5 * self.draws) / len(self.games) if self.games else 0.0

    def faults(self) -> list[GameOutcome]:
        return [g for g in self.games if g.reason in FAULT_REASONS]


# -- playing -----------------------------------------------------------------------------


def play_match(
    agent: Player,
    opponent: Player,
    games: int,
    *,
    seed: int = 0,
    max_plies: int = 512,
    parallel: int | None = None,
    opening_plies: int = 0,
    records_dir: Path | None = None,
    on_game: Callable[[GameOutcome], None] | None = None,
) -> MatchResult:
    """Play ``games`` games; the players must already be open.

    ``parallel`` games run at once (default: all of them, at most 64). Results are listed
    by game index. Records (``game_NNN.kif/.csa/.usi``) go to ``records_dir`` if given.
    """
    if games < 1:
        raise ValueError(f"games must be >= 1, got {games}")
    if opening_plies < 0:
        raise ValueError(f"opening_plies must be >= 0, got {opening_plies}")
    started = time.perf_counter()
    width = len(str(games - 1))
    n_slots = max(1, min(games, parallel or 64))
    env = ShogiEnv(n_slots, max_plies=max_plies)
    start_sfen = env.start_sfens[0]
    step = env.reset(seed)
    idle_rng = np.random.default_rng([seed, 1 << 20])
    opening_rngs: dict[int, np.random.Generator] = {}
    slot_game = [-1] * n_slots
    outcomes: dict[int, GameOutcome] = {}
    next_game = 0
    players = (agent, opponent)

    def agent_color(g: int) -> int:
        return 0 if g % 2 == 0 else 1  # cshogi.BLACK, cshogi.WHITE

    def assign(slot: int) -> None:
        nonlocal next_game
        if next_game < games:
            g = next_game
            next_game += 1
            slot_game[slot] = g
            if opening_plies > 0:
                # Both games of a pair replay the same random stream from the same position.
                opening_rngs[g] = np.random.default_rng([seed, g // 2])
            for p in players:
                p.new_game(slot)
        else:
            slot_game[slot] = -1

    def finish(slot: int, result: GameResult, detail: str | None, by: str | None) -> None:
        g = slot_game[slot]
        color = agent_color(g)
        won = result.winner == color
        outcome = "draw" if result.winner is None else ("win" if won else "loss")
        names = (
            (agent.name, opponent.name) if color == cshogi.BLACK else (opponent.name, agent.name)
        )
        records: dict[str, str] = {}
        if records_dir is not None:
            stem = f"game_{g:0{width}d}"
            records = write_records(result, records_dir, stem, names, note=detail)
        out = GameOutcome(
            index=g,
            agent_color=COLORS[color],
            result=result.result,
            outcome=outcome,
            reason=result.reason,
            plies=result.plies,
            detail=detail,
            forfeited_by=by,
            records=records,
            game=result,
        )
        outcomes[g] = out
        opening_rngs.pop(g, None)
        if on_game is not None:
            on_game(out)

    for slot in range(n_slots):
        assign(slot)
    pending: dict[int, int] = {}
    while len(outcomes) < games:
        to_move = step.to_move.tolist()
        plies = step.plies.tolist()
        asked: tuple[list[int], list[int]] = ([], [])
        for slot in range(n_slots):
            if slot in pending:
                continue
            g = slot_game[slot]
            if g < 0:
                pending[slot] = int(random_legal(step, idle_rng, np.array([slot]))[0])
            elif plies[slot] < opening_plies:
                pending[slot] = int(random_legal(step, opening_rngs[g], np.array([slot]))[0])
            else:
                asked[0 if to_move[slot] == agent_color(g) else 1].append(slot)
        forfeited: list[int] = []
        for who, (player, slots) in enumerate(zip(players, asked, strict=True)):
            if not slots:
                continue
            moves = player.act(env, step, np.array(slots, dtype=np.int64))
            for slot, action in zip(slots, moves.actions.tolist(), strict=True):
                forfeit: Forfeit | None = moves.forfeits.get(slot)
                if forfeit is None:
                    pending[slot] = int(action)
                    continue
                board = env.boards()[slot]
                loser = board.turn
                result = GameResult(
                    winner=1 - loser,
                    reason=forfeit.reason,
                    plies=len(board.history),
                    start_sfen=start_sfen,
                    moves=tuple(int(m) for m in board.history),
                )
                finish(slot, result, forfeit.detail, ("agent", "opponent")[who])
                forfeited.append(slot)
        if forfeited:
            for slot in forfeited:
                assign(slot)
            step = env.restart(forfeited)
            continue
        actions = np.array([pending[s] for s in range(n_slots)], dtype=np.int64)
        pending.clear()
        step = env.step(actions)
        for slot, done in enumerate(step.finished):
            if done is None:
                continue
            if slot_game[slot] >= 0:
                finish(slot, done, None, None)
            assign(slot)
    return MatchResult(
        agent=agent.name,
        opponent=opponent.name,
        games=[outcomes[g] for g in range(games)],
        seconds=time.perf_counter() - started,
    )


def summary_by(
    result: MatchResult, key: Callable[[GameOutcome], str], keys: tuple[str, ...]
) -> dict[str, dict[str, int]]:
    """{key: {"wins", "losses", "draws"}} from the agent's side, for every key in ``keys``."""
    table = {k: {"wins": 0, "losses": 0, "draws": 0} for k in keys}
    for g in result.games:
        row = table.setdefault(key(g), {"wins": 0, "losses": 0, "draws": 0})
        row[{"win": "wins", "loss": "losses", "draw": "draws"}[g.outcome]] += 1
    return table
