"""A batch of independent Shogi games stepped together, on cshogi's rules.

Conventions
-----------
* Observations are relative to the side to move (dlshogi planes, see ``keisei.game.encoding``).
* ``step`` returns, for each game, the reward of the player who just moved: +1 if that
  move won the game, -1 if it lost it, 0 otherwise (draws and unfinished games).
* Termination is judged right after each move:
  - fourfold repetition (sennichite) is a draw, unless one side gave check with every
    move since the first occurrence of the position: that side loses (``perpetual_check``);
  - the side to move has no legal move: the mover wins (``checkmate``; ``no_legal_moves``
    when not in check, which Shogi also scores as a loss);
  - the side to move satisfies the 27-point nyugyoku rule: it declares and wins
    (``nyugyoku``); keisei declares automatically, so no action id is needed for it;
  - the game reached ``max_plies``: draw (``max_plies``).
* Finished games restart at once (auto-reset); the returned observation of such a game is
  the first position of its new game and ``finished[i]`` holds the result of the old one.
  ``restart`` starts a new game in chosen slots (a game a player forfeited).
* These rules are judged once, in C++ (``Game::play`` in csrc/games.cpp);
  ``keisei.game.rules.Game`` is the same judge for a single game.

The per-ply work runs in C++ (``keisei.game._games``, csrc/games.cpp, compiled with cshogi's
own sources); this module decides start positions, results, checks actions and saves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cshogi
import numpy as np
import numpy.typing as npt

try:
    from keisei.game._games import GameBatch
except ImportError as exc:  # a source tree used without installing it
    raise ImportError(
        "keisei's C++ environment (keisei.game._games) is not built: run ./scripts/keisei or "
        "./scripts/test once, or `pip install -e .` (needs g++ and the Python headers)"
    ) from exc
from keisei.game.encoding import (
    NUM_ACTIONS,
    OBS_SHAPE,
    PACKED_MASK_BYTES,
    PACKED_OBS_BYTES,
    ActionCollisionError,
)

REASONS: tuple[str, ...] = (
    "checkmate",
    "no_legal_moves",
    "perpetual_check",
    "repetition",
    "nyugyoku",
    "max_plies",
)
RESULTS: tuple[str, ...] = ("black", "white", "draw")


class IllegalActionError(ValueError):
    """An action batch that cannot be applied; no game was changed."""


@dataclass(frozen=True)
class GameResult:
    """The outcome and full record of one finished game."""

    winner: int | None  # cshogi.BLACK (0), cshogi.WHITE (1) or None for a draw
    reason: str
    plies: int
    start_sfen: str
    moves: tuple[int, ...]

    @property
    def result(self) -> str:
        return "draw" if self.winner is None else RESULTS[self.winner]

    @classmethod
    def judged(
        cls, winner: int, reason: int, start_sfen: str, moves: tuple[int, ...]
    ) -> GameResult | None:
        """The game as the extension judged its last move (``winner`` -1: none, ``reason``
        an index into REASONS, -1: the game goes on), or None while it goes on."""
        if reason < 0:
            return None
        return cls(None if winner < 0 else winner, REASONS[reason], len(moves), start_sfen, moves)


@dataclass
class StepResult:
    obs: npt.NDArray[np.uint8]  # (N, 119, 9, 9) 0/1
    mask: npt.NDArray[np.bool_]  # (N, 2187) legal actions
    reward: npt.NDArray[np.float32]  # (N,) for the player who just moved
    done: npt.NDArray[np.bool_]  # (N,) the game ended with this step
    to_move: npt.NDArray[np.int8]  # (N,) side to move in ``obs``
    plies: npt.NDArray[np.int32]  # (N,) plies played in the current game
    finished: list[GameResult | None] = field(default_factory=list)
    # The legal action ids of all games, concatenated, and how many belong to each game:
    # lets players pick among legal moves with array operations instead of scanning masks.
    legal_actions: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    legal_counts: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    # ``obs`` and ``mask`` bit-packed as ``encoding.pack_obs``/``pack_mask`` pack them,
    # (N, 1205) and (N, 274): what the rollout buffer stores and a GPU receives.
    packed_obs: npt.NDArray[np.uint8] = field(
        default_factory=lambda: np.zeros((0, PACKED_OBS_BYTES), np.uint8)
    )
    packed_mask: npt.NDArray[np.uint8] = field(
        default_factory=lambda: np.zeros((0, PACKED_MASK_BYTES), np.uint8)
    )
    first: int = 0  # the environment's index of the game in row 0

    def part(self, games: slice) -> StepResult:
        """The rows of the games in ``games`` (a contiguous slice with both ends)."""
        lo, hi = games.start, games.stop
        offsets = np.concatenate([[0], np.cumsum(self.legal_counts)])
        return StepResult(
            obs=self.obs[lo:hi],
            mask=self.mask[lo:hi],
            reward=self.reward[lo:hi],
            done=self.done[lo:hi],
            to_move=self.to_move[lo:hi],
            plies=self.plies[lo:hi],
            finished=self.finished[lo:hi],
            legal_actions=self.legal_actions[offsets[lo] : offsets[hi]],
            legal_counts=self.legal_counts[lo:hi],
            packed_obs=self.packed_obs[lo:hi],
            packed_mask=self.packed_mask[lo:hi],
            first=self.first + lo,
        )


def join_steps(parts: list[StepResult]) -> StepResult:
    """The parts of a batch (``StepResult.part``, or ``ShogiEnv.step`` of slices) as one."""
    return StepResult(
        obs=np.concatenate([p.obs for p in parts]),
        mask=np.concatenate([p.mask for p in parts]),
        reward=np.concatenate([p.reward for p in parts]),
        done=np.concatenate([p.done for p in parts]),
        to_move=np.concatenate([p.to_move for p in parts]),
        plies=np.concatenate([p.plies for p in parts]),
        finished=[game for p in parts for game in p.finished],
        legal_actions=np.concatenate([p.legal_actions for p in parts]),
        legal_counts=np.concatenate([p.legal_counts for p in parts]),
        packed_obs=np.concatenate([p.packed_obs for p in parts]),
        packed_mask=np.concatenate([p.packed_mask for p in parts]),
        first=parts[0].first,
    )


def random_legal(
    step: StepResult, rng: np.random.Generator, slots: npt.NDArray[np.int64] | None = None
) -> npt.NDArray[np.int64]:
    """One uniformly random legal action for each game in ``slots`` (default: every game).

    One uniform draw per game, with array operations only: the random player, random
    self-play, the benchmarks and the random openings of matches all use it.
    """
    counts = step.legal_counts
    offsets = np.cumsum(counts) - counts
    if slots is None:
        slots = np.arange(counts.size, dtype=np.int64)
    picks = (rng.random(slots.size) * counts[slots]).astype(np.int64)
    actions: npt.NDArray[np.int64] = step.legal_actions[offsets[slots] + picks]
    return actions


_PIECE_LIMITS: dict[str, int] = {"K": 2, "R": 2, "B": 2, "G": 4, "S": 4, "N": 4, "L": 4, "P": 18}
_PROMOTABLE = frozenset("PLNSBR")
_HAND_PIECES = "RBGSNLPrbgsnlp"


def _sfen_problem(sfen: str) -> str | None:
    """Why ``sfen`` is not a well-formed SFEN of a legal position, or None.

    cshogi reads some malformed strings without complaint (an empty string as the start
    position, a rank of ten squares or an unknown hand piece as something else, extra
    fields are ignored) and its ``is_ok`` accepts two unpromoted pawns of one side on a
    file, pieces that can never move again and more pieces than a set has: checked here.
    """
    fields = sfen.split()
    if len(fields) not in (3, 4) or " ".join(fields) != sfen.strip():
        return "expected 3 or 4 fields: board, side to move, pieces in hand[, move number]"
    board, side, hands = fields[:3]
    if side not in ("b", "w"):
        return f"side to move must be 'b' or 'w', not {side!r}"
    if len(fields) == 4 and not (fields[3].isdigit() and int(fields[3]) >= 1):
        return f"move number must be a positive integer, not {fields[3]!r}"
    ranks = board.split("/")
    if len(ranks) != 9:
        return f"the board has {len(ranks)} ranks instead of 9"
    counts = dict.fromkeys(_PIECE_LIMITS, 0)
    kings = {True: 0, False: 0}
    pawns: set[tuple[bool, int]] = set()
    for r, rank in enumerate(ranks):  # r = 0 is rank a, black's far end
        name = "abcdefghi"[r]
        file = 0  # squares filled so far, from file 9
        i = 0
        while i < len(rank):
            c = rank[i]
            if c in "123456789":
                file += int(c)
                i += 1
                continue
            promoted = c == "+"
            if promoted:
                i += 1
                c = rank[i] if i < len(rank) else ""
                if c.upper() not in _PROMOTABLE or not c:
                    return f"rank {name}: '+' must precede one of {''.join(sorted(_PROMOTABLE))}"
            if not c or c.upper() not in _PIECE_LIMITS:
                return f"rank {name}: {c!r} is not a piece"
            black, kind = c.isupper(), c.upper()
            counts[kind] += 1
            if kind == "K":
                kings[black] += 1
            if not promoted:
                ahead = r if black else 8 - r  # ranks in front of the piece
                if (kind in "PL" and ahead == 0) or (kind == "N" and ahead <= 1):
                    return f"rank {name}: {c} there could never move"
                if kind == "P":
                    if (black, file) in pawns:
                        side_name = "black" if black else "white"
                        return f"two unpromoted {side_name} pawns on file {9 - file}"
                    pawns.add((black, file))
            file += 1
            i += 1
        if file != 9:
            return f"rank {name} has {file} squares instead of 9"
    if kings[True] != 1 or kings[False] != 1:
        return "each side needs exactly one king"
    if hands != "-":
        pos = 0
        seen: set[str] = set()
        while pos < len(hands):
            digits = pos
            while pos < len(hands) and hands[pos].isdigit():
                pos += 1
            if pos == len(hands) or hands[pos] not in _HAND_PIECES:
                return f"pieces in hand {hands!r} are not valid"
            number = int(hands[digits:pos]) if pos > digits else 1
            if number < 1 or hands[pos] in seen:
                return f"pieces in hand {hands!r} are not valid"
            seen.add(hands[pos])
            counts[hands[pos].upper()] += number
            pos += 1
    for kind, limit in _PIECE_LIMITS.items():
        if counts[kind] > limit:
            return f"{counts[kind]} pieces of kind {kind}, a set has {limit}"
    return None


def _quiet_is_ok(board: cshogi.Board) -> bool:
    """``board.is_ok()`` without the report (failed step and board) that cshogi's C++ prints
    to file descriptor 1 when the position is not ok."""
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
        finally:
            os.close(devnull)
        return bool(board.is_ok())
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def validate_sfen(sfen: str, where: str = "start position", *, won_ok: bool = False) -> str:
    """Return ``sfen`` (normalized by cshogi) if it is a playable position, else ValueError.

    ``won_ok``: a position the side to move has already won by nyugyoku is accepted too (a
    USI ``position``, answered by ``bestmove win``); as a start position it is refused."""
    if not isinstance(sfen, str):
        raise ValueError(f"{where} is not a valid SFEN: {sfen!r} (not a string)")
    shown = sfen if len(sfen) <= 120 else sfen[:117] + "..."
    problem = _sfen_problem(sfen)
    if problem is not None:
        raise ValueError(f"{where} is not a valid SFEN: {shown!r} ({problem})")
    fields = sfen.split()
    full = " ".join(fields if len(fields) == 4 else [*fields, "1"])
    try:
        board = cshogi.Board(full)
        # The other side to move: in check there means the side not to move is in check.
        other = cshogi.Board(" ".join([fields[0], "w" if fields[1] == "b" else "b", *fields[2:]]))
    except RuntimeError as exc:
        raise ValueError(f"{where} is not a valid SFEN: {shown!r} ({exc})") from None
    if other.is_check():
        side = "white" if fields[1] == "b" else "black"
        raise ValueError(
            f"{where} is not a legal position: {shown!r} ({side}, not to move, is in check)"
        )
    if not _quiet_is_ok(board):
        raise ValueError(f"{where} is not a legal position: {shown!r} (cshogi's is_ok)")
    if len(board.legal_moves) == 0:
        raise ValueError(f"{where} has no legal move for the side to move: {sfen!r}")
    if board.is_nyugyoku() and not won_ok:
        raise ValueError(f"{where} is already a won nyugyoku position: {sfen!r}")
    return str(board.sfen())


class ShogiEnv:
    """``num_games`` independent games, stepped as one batch."""

    def __init__(
        self,
        num_games: int,
        max_plies: int = 512,
        start_sfens: list[str] | None = None,
        threads: int = 1,
    ) -> None:
        if num_games < 1:
            raise ValueError(f"num_games must be >= 1, got {num_games}")
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if max_plies < 1:
            raise ValueError(f"max_plies must be >= 1, got {max_plies}")
        sfens = start_sfens or [cshogi.STARTING_SFEN]
        self.start_sfens = [validate_sfen(s, f"start position {i}") for i, s in enumerate(sfens)]
        self.num_games = num_games
        self.max_plies = max_plies
        self.rng = np.random.default_rng(0)
        # The games themselves live in C++ (keisei.game._games, on cshogi's code); this class
        # keeps what Python decides: start positions, results and the auto-reset order.
        # Steps and observations are spread over `threads` C++ threads (games are
        # independent, so results do not depend on it).
        self.threads = threads
        self._games = GameBatch(num_games, threads)
        self._started = False
        self._start = [""] * num_games  # start SFEN of the game in progress in each slot
        self._serial = [0] * num_games  # games started in each slot, for boards()
        self._mirrors: list[tuple[int, cshogi.Board] | None] = [None] * num_games
        self._mask = np.zeros((num_games, NUM_ACTIONS), dtype=bool)
        self._move_of = np.zeros((num_games, NUM_ACTIONS), dtype=np.int64)
        self._to_move = np.zeros(num_games, dtype=np.int8)
        self._winner = np.zeros(num_games, dtype=np.int8)
        self._reason = np.zeros(num_games, dtype=np.int8)
        self._rows = np.arange(num_games)
        # Flat views: one-dimensional gathers are cheaper than (row, col) ones.
        self._row_offsets = self._rows * NUM_ACTIONS
        self._mask_flat = self._mask.reshape(-1)
        self._move_of_flat = self._move_of.reshape(-1)

    # -- lifecycle -------------------------------------------------------------------
    def _start_game(self, games: GameBatch, i: int) -> None:
        if len(self.start_sfens) == 1:
            sfen = self.start_sfens[0]
        else:
            sfen = self.start_sfens[int(self.rng.integers(len(self.start_sfens)))]
        games.set_game(i, sfen)
        self._start[i] = sfen
        self._serial[i] += 1

    def reset(self, seed: int = 0) -> StepResult:
        self.rng = np.random.default_rng(seed)
        for i in range(self.num_games):
            self._start_game(self._games, i)
        self._started = True
        return self._current()

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: the RNG and each game's moves so far."""
        return {
            "rng": self.rng.bit_generator.state,
            "games": [(self._start[i], self._games.moves(i)) for i in range(self.num_games)],
            "num_games": self.num_games,
        }

    def load_state_dict(self, state: dict[str, Any]) -> StepResult:
        """Restore games by replaying their moves (keeps repetition history exact).

        A saved game with an invalid start position, an illegal move or one that already
        ended raises ValueError and leaves this environment as it was.
        """
        if state["num_games"] != self.num_games:
            raise ValueError(
                f"saved environment has {state['num_games']} games, this one {self.num_games}"
            )
        games = GameBatch(self.num_games, self.threads)
        starts = []
        for i, (sfen, moves) in enumerate(state["games"]):
            start = validate_sfen(sfen, f"saved game {i}: start position")
            games.set_game(i, start)
            for ply, move in enumerate(moves):
                _winner, reason = games.push_one(i, int(move))
                if reason >= 0:
                    raise ValueError(
                        f"saved game {i} ended ({REASONS[reason]}) at ply {ply + 1} of {len(moves)}"
                    )
            starts.append(start)
        rng = np.random.default_rng()
        rng.bit_generator.state = state["rng"]
        self.rng = rng
        self._games = games
        self._start = starts
        self._serial = [s + 1 for s in self._serial]
        self._started = True
        return self._current()

    def restart(self, games: list[int]) -> StepResult:
        """Start a new game in each slot of ``games``, from a start position drawn as
        auto-reset draws it (a player forfeited the old one), and return every game's
        current observation; the other games go on untouched."""
        if not self._started:
            raise RuntimeError("call reset() before restart()")
        for i in games:
            if not 0 <= i < self.num_games:
                raise ValueError(f"game {i} is outside 0..{self.num_games - 1}")
        for i in games:
            self._start_game(self._games, i)
        return self._current()

    # -- stepping --------------------------------------------------------------------
    def _games_range(self, games: slice | None) -> tuple[int, int]:
        """(first, end) of ``games``, a contiguous slice of the game slots (None: all)."""
        if games is None:
            return 0, self.num_games
        lo, hi, stride = games.indices(self.num_games)
        if stride != 1 or lo >= hi or games.start is None or games.stop is None:
            raise ValueError(
                f"games must be a non-empty contiguous slice of 0..{self.num_games - 1} "
                f"with both ends, got {games}"
            )
        if games.start != lo or games.stop != hi:
            raise ValueError(f"games {games} is outside 0..{self.num_games - 1}")
        return lo, hi

    def _check_actions(self, actions: Any, lo: int, hi: int) -> npt.NDArray[np.int64]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        arr = np.asarray(actions)
        if arr.shape != (hi - lo,):
            raise IllegalActionError(f"actions must have shape ({hi - lo},), got {arr.shape}")
        if arr.dtype.kind not in "iu":
            raise IllegalActionError(f"actions must be integers, got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        # Fast path: every action in range and legal (one gather on the flat mask).
        if (
            int(arr.min()) >= 0
            and int(arr.max()) < NUM_ACTIONS
            and self._mask_flat[self._row_offsets[lo:hi] + arr].all()
        ):
            return arr
        bad = []
        for j in np.flatnonzero((arr < 0) | (arr >= NUM_ACTIONS)).tolist():
            bad.append(f"game {lo + j}: action {int(arr[j])} is outside 0..{NUM_ACTIONS - 1}")
        inside = np.clip(arr, 0, NUM_ACTIONS - 1)
        for j in np.flatnonzero(~self._mask[self._rows[lo:hi], inside]).tolist():
            if not (0 <= arr[j] < NUM_ACTIONS):
                continue
            bad.append(
                f"game {lo + j}: action {int(arr[j])} is not a legal move in position "
                f"{self._games.sfen(lo + j)}"
            )
        if bad:
            raise IllegalActionError("; ".join(bad))
        return arr

    def step(self, actions: Any, games: slice | None = None) -> StepResult:
        """Play one action in each game of ``games`` (a contiguous slice such as
        ``slice(0, 8)``; None: every game) and return those games' new observations.

        The other games are left as they are, so the halves of a batch can be stepped one
        after the other (the trainer's ``env.overlap``); stepping ``slice(0, k)`` and then
        ``slice(k, n)`` gives the same games, results and start positions as one step of
        all ``n``. Not thread-safe: one step at a time.
        """
        lo, hi = self._games_range(games)
        arr = self._check_actions(actions, lo, hi)
        moves = self._move_of_flat[self._row_offsets[lo:hi] + arr]
        mover = self._to_move[lo:hi].copy()
        winners, reasons = self._winner[lo:hi], self._reason[lo:hi]
        self._games.push(moves, self.max_plies, winners, reasons, lo)
        done = reasons >= 0
        reward = np.zeros(hi - lo, dtype=np.float32)
        finished: list[GameResult | None] = [None] * (hi - lo)
        for j in np.flatnonzero(done).tolist():
            i = lo + j
            winner = int(winners[j])
            if winner >= 0:
                reward[j] = 1.0 if winner == mover[j] else -1.0
            record = tuple(self._games.moves(i))
            finished[j] = GameResult.judged(winner, int(reasons[j]), self._start[i], record)
            self._start_game(self._games, i)
        return self._result(reward, done, finished, lo, hi)

    def _current(self) -> StepResult:
        """Every game's current observation, with no move played (no reward, none done)."""
        zeros = np.zeros(self.num_games, dtype=np.float32)
        return self._result(zeros, np.zeros(self.num_games, dtype=bool), [None] * self.num_games)

    def _result(
        self,
        reward: npt.NDArray[np.float32],
        done: npt.NDArray[np.bool_],
        finished: list[GameResult | None],
        lo: int = 0,
        hi: int | None = None,
    ) -> StepResult:
        hi = self.num_games if hi is None else hi
        n = hi - lo
        obs = np.empty((n, *OBS_SHAPE), dtype=np.uint8)
        plies = np.empty(n, dtype=np.int32)
        packed_obs = np.empty((n, PACKED_OBS_BYTES), dtype=np.uint8)
        packed_mask = np.empty((n, PACKED_MASK_BYTES), dtype=np.uint8)
        mask, to_move = self._mask[lo:hi], self._to_move[lo:hi]
        labels, counts, collision = self._games.observe(
            obs, mask, self._move_of[lo:hi], to_move, plies, packed_obs, packed_mask, lo, n
        )
        if collision >= 0:
            raise ActionCollisionError(
                f"game {collision}: two legal moves share an action id in "
                f"{self._games.sfen(collision)}"
            )
        return StepResult(
            obs=obs,
            mask=mask.copy(),
            reward=reward,
            done=done,
            to_move=to_move.copy(),
            plies=plies,
            finished=finished,
            legal_actions=labels,
            legal_counts=counts,
            packed_obs=packed_obs,
            packed_mask=packed_mask,
            first=lo,
        )

    # -- helpers for players and tests ----------------------------------------------
    def move_of(self, game: int, action: int) -> int:
        """The cshogi move of a legal action id in ``game``'s current position."""
        in_range = 0 <= game < self.num_games and 0 <= action < NUM_ACTIONS
        if not in_range or not self._mask[game, action]:
            raise IllegalActionError(f"game {game}: action {action} is not legal")
        return int(self._move_of[game, action])

    def boards(self) -> list[cshogi.Board]:
        """cshogi boards of the games in progress, with their move history.

        They mirror the C++ games and are brought up to date on each call, replaying only
        the moves played since the last one. A caller may push and pop moves on them but
        must leave them as it found them. Empty before ``reset``.
        """
        if not self._started:
            return []
        boards = []
        for i in range(self.num_games):
            mirror = self._mirrors[i]
            if mirror is None or mirror[0] != self._serial[i]:
                mirror = (self._serial[i], cshogi.Board(self._start[i]))
                self._mirrors[i] = mirror
            board = mirror[1]
            for move in self._games.moves(i, len(board.history)):
                board.push(move)
            boards.append(board)
        return boards

    def memory_bytes(self) -> dict[str, int]:
        """An estimate of the memory this environment holds, in bytes, by part.

        ``"games"``: the C++ games' own estimate of their state (boards, per-ply history,
        repetition keys; from container sizes). ``"action_tables"``: the legal-action mask
        and the action-to-move table of the current positions (``num_games x NUM_ACTIONS``
        each). Python objects, the start positions and the last ``StepResult`` are not
        counted (``tracemalloc`` sees those).
        """
        return {
            "games": int(self._games.memory_bytes()),
            "action_tables": int(self._mask.nbytes + self._move_of.nbytes),
        }
