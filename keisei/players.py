"""Players: objects that choose moves for a batch of games played in one ``ShogiEnv``.

A player is asked, at each step, for the moves of the games in which it is to move
(``act``); it answers with action ids, or forfeits a game (an engine that resigned,
crashed, sent an illegal move or ran out of time). Players:

* ``random``: a uniformly random legal move (seeded);
* ``greedy``: one-ply material: mate in one if there is one, else the capture of the most
  valuable piece (ties broken at random), else a random move (seeded);
* a checkpoint (``.pt`` file, or a run directory meaning its newest valid checkpoint):
  the network's policy over legal moves, greedy (temperature 0) or sampled, one batched
  forward pass for all the games it is to move in;
* ``usi:PATH`` (or ``usi:PATH[NAME=VALUE,nodes=N,...]``, see ``parse_engine_spec``): an
  external USI engine, driven through cshogi's USI client
  (``cshogi.usi.Engine``). keisei starts the process itself so that it can read the
  engine's output with a deadline (cshogi's reads block forever on a silent engine and
  spin on a dead one); every protocol command is cshogi's.

Player specs are parsed and validated (``parse_player`` then ``Player.open``) before any
game starts, so that a missing checkpoint, a checkpoint of another network shape, a
non-executable engine or an unknown engine option is reported at once.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import cshogi
import numpy as np
import numpy.typing as npt
from cshogi.usi import Engine

from keisei.encoding import move_label
from keisei.env import ShogiEnv, StepResult

IntArray = npt.NDArray[np.int64]

# Termination reasons that only external players produce (the environment's own are in
# keisei.env.REASONS). The side that was to move loses the game.
FORFEIT_REASONS: tuple[str, ...] = (
    "resign",
    "engine_crash",
    "engine_illegal_move",
    "engine_timeout",
)
FAULT_REASONS: tuple[str, ...] = ("engine_crash", "engine_illegal_move", "engine_timeout")

# Textbook material values (pawn = 1) for the greedy player, by cshogi piece type.
PIECE_VALUES: dict[int, int] = {
    cshogi.PAWN: 1,
    cshogi.LANCE: 4,
    cshogi.KNIGHT: 4,
    cshogi.SILVER: 5,
    cshogi.GOLD: 6,
    cshogi.BISHOP: 8,
    cshogi.ROOK: 10,
    cshogi.PROM_PAWN: 6,
    cshogi.PROM_LANCE: 6,
    cshogi.PROM_KNIGHT: 6,
    cshogi.PROM_SILVER: 6,
    cshogi.PROM_BISHOP: 10,
    cshogi.PROM_ROOK: 12,
}
_CAPTURE_VALUE = np.zeros(32, dtype=np.int64)
for _piece, _value in PIECE_VALUES.items():
    _CAPTURE_VALUE[_piece] = _value


class PlayerError(ValueError):
    """A player spec or player that cannot be used (reported before any game starts)."""


@dataclass(frozen=True)
class Forfeit:
    """A game the player gives up: ``reason`` is one of FORFEIT_REASONS."""

    reason: str
    detail: str


@dataclass
class Moves:
    """A player's answer for the games it was asked about (aligned with ``slots``)."""

    actions: IntArray
    forfeits: dict[int, Forfeit] = field(default_factory=dict)  # slot -> forfeit


class Player:
    """Base class. ``act`` gets the games (``slots``) in which this player is to move."""

    name: str = "player"
    #: True when the player's moves depend on nothing but the position (same game twice).
    deterministic: bool = False

    def open(self) -> None:
        """Acquire resources (start an engine); raise PlayerError if the player is unusable."""

    def close(self) -> None:
        """Release resources; safe to call more than once."""

    def new_game(self, slot: int) -> None:
        """A new game starts in ``slot`` of the environment."""

    def act(self, env: ShogiEnv, step: StepResult, slots: IntArray) -> Moves:
        raise NotImplementedError

    def __enter__(self) -> Player:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def random_legal(step: StepResult, slots: IntArray, rng: np.random.Generator) -> IntArray:
    """One uniformly random legal action for each game in ``slots``."""
    counts = step.legal_counts
    offsets = np.cumsum(counts) - counts
    picks = (rng.random(slots.size) * counts[slots]).astype(np.int64)
    actions: IntArray = step.legal_actions[offsets[slots] + picks]
    return actions


class RandomPlayer(Player):
    """A uniformly random legal mover."""

    def __init__(self, seed: int | np.random.SeedSequence = 0, name: str = "random") -> None:
        self.name = name
        self.rng = np.random.default_rng(seed)

    def act(self, env: ShogiEnv, step: StepResult, slots: IntArray) -> Moves:
        return Moves(random_legal(step, slots, self.rng))


class GreedyPlayer(Player):
    """One-ply material greed: mate in one, else the biggest capture, else a random move."""

    def __init__(self, seed: int | np.random.SeedSequence = 0, name: str = "greedy") -> None:
        self.name = name
        self.rng = np.random.default_rng(seed)

    def choose(self, board: cshogi.Board) -> int:
        """The cshogi move this player plays in ``board`` (which must have a legal move)."""
        moves = np.fromiter(board.legal_moves, dtype=np.int64)
        mate = self.mate_in_one(board, moves)
        if mate:
            return mate
        caps = np.fromiter((cshogi.move_cap(int(m)) for m in moves), np.int64, moves.size)
        values = _CAPTURE_VALUE[caps]
        best = int(values.max())
        candidates = moves[values == best] if best > 0 else moves
        return int(candidates[int(self.rng.integers(candidates.size))])

    @staticmethod
    def mate_in_one(board: cshogi.Board, moves: IntArray) -> int:
        """A legal move that mates at once, or 0.

        cshogi's ``mate_move_in_1ply`` (YaneuraOu's mate1ply) assumes the side to move is
        not in check: in check it can return an illegal move, so there every (few) legal
        move is tried instead.
        """
        if not board.is_check():
            mate = int(board.mate_move_in_1ply())
            return mate if mate and mate in moves else 0
        for move in moves.tolist():
            board.push(move)
            mated = board.is_check() and board.is_game_over()
            board.pop()
            if mated:
                return int(move)
        return 0

    def act(self, env: ShogiEnv, step: StepResult, slots: IntArray) -> Moves:
        boards = env.boards()
        actions = np.empty(slots.size, dtype=np.int64)
        for k, slot in enumerate(slots.tolist()):
            board = boards[slot]
            actions[k] = move_label(self.choose(board), board.turn)
        return Moves(actions)


class CheckpointPlayer(Player):
    """A policy network: argmax (temperature 0) or sampled from the masked softmax.

    All games in which the player is to move are evaluated in one forward pass. Illegal
    actions get probability exactly zero (their logits are set to -inf before the
    softmax). Sampling uses the player's own numpy generator, never torch's global one.
    """

    def __init__(
        self,
        model: Any,
        name: str,
        temperature: float = 0.0,
        seed: int | np.random.SeedSequence = 0,
        device: str | None = None,
        batch_size: int = 256,
    ) -> None:
        if temperature < 0:
            raise PlayerError(f"temperature must be >= 0, got {temperature}")
        self.model = model
        self.name = name
        self.temperature = float(temperature)
        self.deterministic = self.temperature == 0.0
        self.rng = np.random.default_rng(seed)
        if device is None:
            try:
                device = str(next(model.parameters()).device)
            except StopIteration:
                device = "cpu"
        self.device = device
        self.batch_size = batch_size
        self._was_training: bool | None = None

    def open(self) -> None:
        # The trainer's live model may be in training mode: act in eval mode, restore after.
        self._was_training = bool(self.model.training)
        self.model.eval()

    def close(self) -> None:
        if self._was_training is not None:
            self.model.train(self._was_training)
            self._was_training = None

    def probabilities(
        self, obs: npt.NDArray[np.uint8], mask: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.float64]:
        """The masked policy (B, 2187) at this player's temperature (1 if greedy)."""
        logits = self._logits(obs, mask)
        t = self.temperature if self.temperature > 0 else 1.0
        z = logits / t
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p[~mask] = 0.0
        p /= p.sum(axis=1, keepdims=True)
        return p

    def _logits(
        self, obs: npt.NDArray[np.uint8], mask: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.float64]:
        import torch

        chunks = []
        with torch.inference_mode():
            for start in range(0, obs.shape[0], self.batch_size):
                x = torch.as_tensor(obs[start : start + self.batch_size], device=self.device)
                out = self.model(x.float())
                logits = out.logits if hasattr(out, "logits") else out[0]
                chunks.append(logits.float().cpu().numpy().astype(np.float64))
        logits = np.concatenate(chunks) if chunks else np.zeros(mask.shape)
        return np.where(mask, logits, -np.inf)

    def act(self, env: ShogiEnv, step: StepResult, slots: IntArray) -> Moves:
        obs = step.obs[slots]
        mask = step.mask[slots]
        if self.temperature == 0.0:
            return Moves(self._logits(obs, mask).argmax(axis=1).astype(np.int64))
        p = self.probabilities(obs, mask)
        cdf = np.cumsum(p, axis=1)
        u = self.rng.random(slots.size)[:, None] * cdf[:, -1:]
        picks = (cdf <= u).sum(axis=1)
        # Guard against float round-off landing on a zero-probability (illegal) tail.
        picks = np.minimum(picks, p.shape[1] - 1)
        bad = ~mask[np.arange(slots.size), picks]
        if bad.any():
            picks[bad] = p[bad].argmax(axis=1)
        return Moves(picks.astype(np.int64))


# -- USI engines ------------------------------------------------------------------------


class EngineFault(Exception):
    """The engine died, closed its output or broke the protocol."""


class EngineTimeout(EngineFault):
    """The engine did not answer before its deadline."""


class _DeadlineReader:
    """Stands in for the engine's stdout under cshogi's Engine: lines with a deadline.

    cshogi reads with ``proc.stdout.readline()`` and compares the result with ``''``,
    which never matches bytes, so a dead engine makes it loop forever; and a silent
    engine blocks it forever. This reader raises instead. Lines come back ASCII.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.deadline: float | None = None

    def flush(self) -> None:
        pass

    def readline(self) -> bytes:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[: end + 1])
                del self.buffer[: end + 1]
                if not line.isascii():
                    # USI's keywords are ASCII; cshogi decodes free text (info strings,
                    # names) as the locale's encoding or Shift_JIS, and an undecodable
                    # byte would read as a protocol error. Replace non-ASCII with "?".
                    line = bytes(b if b < 128 else 63 for b in line)
                return line
            timeout = None
            if self.deadline is not None:
                timeout = self.deadline - time.monotonic()
                if timeout <= 0:
                    raise EngineTimeout("no answer before the deadline")
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                raise EngineTimeout("no answer before the deadline")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise EngineFault("the engine closed its output")
            self.buffer += chunk


@dataclass(frozen=True)
class EngineSettings:
    """How to run an engine: options sent with setoption, and search limits for ``go``."""

    options: tuple[tuple[str, str], ...] = ()
    byoyomi_ms: int | None = None  # sent as "go btime 0 wtime 0 byoyomi MS"
    nodes: int | None = None  # sent as "go nodes N"
    time_limit_s: float | None = None  # hard limit per move; None: byoyomi + 5 s, or 10 s
    startup_timeout_s: float = 30.0

    def move_deadline(self) -> float:
        if self.time_limit_s is not None:
            return self.time_limit_s
        return (self.byoyomi_ms or 0) / 1000.0 + (5.0 if self.byoyomi_ms else 10.0)

    def go_limits(self) -> dict[str, int]:
        limits: dict[str, int] = {}
        if self.byoyomi_ms is not None:
            limits.update(btime=0, wtime=0, byoyomi=self.byoyomi_ms)
        if self.nodes is not None:
            limits["nodes"] = self.nodes
        if not limits:
            limits.update(btime=0, wtime=0, byoyomi=1000)
        return limits

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.options]
        if self.nodes is not None:
            parts.append(f"nodes={self.nodes}")
        if self.byoyomi_ms is not None or self.nodes is None:
            parts.append(f"byoyomi={self.go_limits().get('byoyomi')}")
        return ",".join(parts)


class USIPlayer(Player):
    """An external engine over USI, through ``cshogi.usi.Engine``.

    Games are played one engine call at a time (one process serves every game; each call
    sends the whole game with ``position ... moves ...``, so games may interleave). A
    crash, an illegal move or a move later than the per-move limit forfeits that game with
    the reason; the process is then killed and started again for the next move.
    """

    def __init__(self, path: str | Path, settings: EngineSettings, name: str | None = None) -> None:
        self.path = str(path)
        self.settings = settings
        self.deterministic = settings.nodes is not None and settings.byoyomi_ms is None
        opts = settings.describe()
        self.name = name or f"usi:{Path(self.path).name}" + (f"[{opts}]" if opts else "")
        self.engine: Engine | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: _DeadlineReader | None = None
        self._stderr: IO[bytes] | None = None
        self._stdout: IO[bytes] | None = None
        self.engine_name: str = ""
        self.option_names: list[str] = []
        self.restarts = 0
        self._fresh: set[int] = set()

    # -- process ---------------------------------------------------------------------
    def open(self) -> None:
        try:
            self._start()
        except (EngineFault, OSError) as exc:
            self.close()
            raise PlayerError(f"engine {self.path} failed to start: {exc}") from None

    def _start(self) -> None:
        self._kill()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in _kill)
        cwd = os.path.dirname(self.path) or None
        proc = subprocess.Popen(
            [self.path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=cwd,
            # Its own session: a Ctrl-C on the terminal reaches keisei, which stops the
            # engine itself, instead of killing the engine mid-game (a spurious crash).
            start_new_session=True,
        )
        self._proc = proc
        assert proc.stdout is not None
        self._stdout = proc.stdout
        self._reader = _DeadlineReader(proc.stdout.fileno())
        engine = Engine(self.path, connect=False)
        # cshogi drives the protocol; we own the process and its output stream.
        proc_any: Any = proc
        proc_any.stdout = self._reader
        engine.proc = proc
        self.engine = engine
        lines = self._call(self.settings.startup_timeout_s, engine.usi)
        self.engine_name = next((ln[8:] for ln in lines if ln.startswith("id name ")), "")
        self.option_names = [
            ln[12:].split(" type ")[0] for ln in lines if ln.startswith("option name ")
        ]
        requested = {name.lower() for name, _ in self.settings.options}
        for name, value in self._resolved_options():
            engine.setoption(name, value)
        if "uci_variant" not in requested and "UCI_Variant" in self.option_names:
            engine.setoption("UCI_Variant", "shogi")  # Fairy-Stockfish: play Shogi
        self._call(self.settings.startup_timeout_s, engine.isready)

    def _resolved_options(self) -> list[tuple[str, str]]:
        known = {n.lower(): n for n in self.option_names}
        resolved = []
        for name, value in self.settings.options:
            if name.lower() not in known:
                have = ", ".join(self.option_names) or "none"
                raise EngineFault(f"it has no option {name!r} (options: {have})")
            resolved.append((known[name.lower()], value))
        return resolved

    def _call(self, timeout: float, fn: Any, *args: Any, **kwargs: Any) -> Any:
        assert self._reader is not None
        self._reader.deadline = time.monotonic() + timeout
        try:
            return fn(*args, **kwargs)
        except EngineFault:
            raise
        except (OSError, ValueError, IndexError) as exc:  # broken pipe, undecodable output
            raise EngineFault(f"{type(exc).__name__}: {exc}") from None
        finally:
            self._reader.deadline = None

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            text = self._stderr.read()[-2000:].decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""
        return text.splitlines()[-1] if text else ""

    def _kill(self, grace: float = 0.0) -> str:
        """Stop the process (after ``grace`` seconds); return how it ended."""
        how = ""
        proc = self._proc
        if proc is not None:
            code = proc.poll()
            if code is None and grace > 0:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    code = proc.wait(timeout=grace)
            if code is None:
                proc.kill()
                code = proc.wait()
                how = "killed"
            else:
                how = f"exited with code {code}"
            tail = self._stderr_tail()
            if tail:
                how += f"; stderr: {tail}"
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            if self._stdout is not None:
                self._stdout.close()
        if self._stderr is not None:
            self._stderr.close()
        self._proc = None
        self.engine = None
        self._reader = None
        self._stderr = None
        self._stdout = None
        return how

    def close(self) -> None:
        engine, proc = self.engine, self._proc
        if engine is not None and proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert proc.stdin is not None
                proc.stdin.write(b"quit\n")
                proc.stdin.flush()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2.0)
        self._kill()

    # -- playing ---------------------------------------------------------------------
    def new_game(self, slot: int) -> None:
        self._fresh.add(slot)

    def act(self, env: ShogiEnv, step: StepResult, slots: IntArray) -> Moves:
        boards = env.boards()
        actions = np.zeros(slots.size, dtype=np.int64)
        forfeits: dict[int, Forfeit] = {}
        for k, slot in enumerate(slots.tolist()):
            board = boards[slot]
            result = self._move(board, env.start_sfens[0], slot, step.mask[slot])
            if isinstance(result, Forfeit):
                forfeits[slot] = result
            else:
                actions[k] = result
        return Moves(actions, forfeits)

    def _move(
        self, board: cshogi.Board, start_sfen: str, slot: int, mask: npt.NDArray[np.bool_]
    ) -> int | Forfeit:
        if self.engine is None:
            try:
                self._start()
                self.restarts += 1
            except (EngineFault, OSError) as exc:
                self._kill()
                raise PlayerError(f"engine {self.path} could not be restarted: {exc}") from None
        engine = self.engine
        assert engine is not None
        moves = [cshogi.move_to_usi(m) for m in board.history]
        sfen = "startpos" if start_sfen == cshogi.STARTING_SFEN else f"sfen {start_sfen}"
        deadline = self.settings.move_deadline()
        try:
            if slot in self._fresh:
                self._call(self.settings.startup_timeout_s, engine.isready)
                self._call(deadline, engine.usinewgame)
                self._fresh.discard(slot)
            self._call(deadline, engine.position, moves, sfen)
            bestmove, _ponder = self._call(deadline, engine.go, **self.settings.go_limits())
        except EngineTimeout:
            how = self._kill()
            return Forfeit(
                "engine_timeout", f"no move within {deadline:g} s (engine {how}, to be restarted)"
            )
        except EngineFault as exc:
            how = self._kill(grace=1.0)  # a crashing engine: report its exit code
            return Forfeit("engine_crash", f"{exc}; engine {how}".rstrip("; "))
        if bestmove == "resign":
            return Forfeit("resign", "the engine resigned")
        move = board.move_from_usi(bestmove) if bestmove != "win" else 0
        if move == 0 or move not in board.legal_moves:
            what = "declared a nyugyoku win" if bestmove == "win" else f"played {bestmove!r}"
            return Forfeit("engine_illegal_move", f"{what}, not a legal move in {board.sfen()}")
        action = move_label(move, board.turn)
        if not mask[action]:  # cannot happen for a legal move; keep the env's view the law
            return Forfeit("engine_illegal_move", f"played {bestmove!r}, rejected by keisei")
        return action


# -- specs -------------------------------------------------------------------------------


@dataclass
class PlayerOptions:
    """Per-player settings from the command line."""

    temperature: float = 0.0  # checkpoint players: 0 = greedy
    device: str = "cpu"
    engine: EngineSettings = field(default_factory=EngineSettings)
    ratings_run_dir: Path | None = None  # name checkpoints of this run "step_N"


def parse_option(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` -> (NAME, VALUE); NAME may contain spaces (``Skill Level=-20``)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise PlayerError(f"engine option must look like NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def checkpoint_name(path: Path, global_step: int, run_dir: Path | None = None) -> str:
    """``step_N`` for a checkpoint of ``run_dir``, else ``RUN/step_N`` (RUN: its run dir)."""
    path = path.resolve()
    owner = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    if run_dir is not None and owner == run_dir.resolve():
        return f"step_{global_step}"
    return f"{owner.name}/step_{global_step}"


def load_checkpoint_model(spec: str, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """``keisei.checkpoint.load_model`` with its errors turned into PlayerError."""
    path = Path(spec)
    if not path.exists():
        raise PlayerError(
            f"no such checkpoint or run directory: {spec} "
            "(player specs: random, greedy, a checkpoint .pt, a run directory, usi:PATH)"
        )
    checkpoint = importlib.import_module("keisei.checkpoint")
    try:
        model, meta = checkpoint.load_model(path, device=device)
    except ValueError as exc:  # CheckpointError is a ValueError
        # One line (torch's shape-mismatch errors span many), of a readable length.
        text = " ".join(str(exc).split())
        raise PlayerError(text if len(text) <= 400 else text[:397] + "...") from None
    return model, meta


def parse_engine_spec(text: str, base: EngineSettings) -> tuple[str, EngineSettings]:
    """``PATH[NAME=VALUE,nodes=N,byoyomi=MS,time=SEC]`` -> (PATH, settings over ``base``).

    The bracket is optional; ``nodes``, ``byoyomi`` and ``time`` (the per-move limit in
    seconds) are search limits, any other item an engine option (values without commas).
    It is the form engines are named in (``usi:fairy-stockfish[Skill Level=-20,nodes=3000]``),
    and how evaluation during training, which takes specs only, sets engines up.
    """
    start = text.find("[", text.rfind(os.sep) + 1)
    if start < 0 or not text.endswith("]"):
        return text, base
    path, inner = text[:start], text[start + 1 : -1]
    opts = dict(base.options)
    limits: dict[str, Any] = {}
    for item in inner.split(","):
        if not item.strip():
            continue
        name, value = parse_option(item)
        key = name.lower()
        try:
            if key in ("nodes", "byoyomi"):
                number = int(value)
                if number < 1:
                    raise ValueError
                limits["nodes" if key == "nodes" else "byoyomi_ms"] = number
            elif key in ("time", "time_limit"):
                seconds = float(value)
                if not seconds > 0:
                    raise ValueError
                limits["time_limit_s"] = seconds
            else:
                opts[name] = value
        except ValueError:
            raise PlayerError(f"engine setting {item.strip()!r}: not a positive number") from None
    return path, replace(base, options=tuple(opts.items()), **limits)


def resolve_engine_path(spec_path: str) -> str:
    path = spec_path
    if os.sep not in path:
        found = shutil.which(path)
        if found is None and Path(path).exists():
            found = str(Path(path).resolve())
        if found is None:
            raise PlayerError(f"engine {spec_path!r} not found (not a file, not on PATH)")
        path = found
    p = Path(path)
    if not p.exists():
        raise PlayerError(f"engine path {spec_path} does not exist")
    if p.is_dir():
        raise PlayerError(f"engine path {spec_path} is a directory, not an executable")
    if not os.access(p, os.X_OK):
        raise PlayerError(f"engine path {spec_path} is not executable (chmod +x?)")
    return str(p.resolve())


def parse_player(
    spec: str, seed: int | np.random.SeedSequence = 0, options: PlayerOptions | None = None
) -> Player:
    """A player from its spec: ``random``, ``greedy``, ``usi:PATH``, a checkpoint or run dir.

    Checkpoints are loaded here and engine paths checked here; engines start in ``open``.
    """
    options = options or PlayerOptions()
    spec = spec.strip()
    if not spec:
        raise PlayerError("empty player spec (use random, greedy, a checkpoint, or usi:PATH)")
    if spec == "random":
        return RandomPlayer(seed)
    if spec == "greedy":
        return GreedyPlayer(seed)
    if spec.startswith("usi:"):
        text, settings = parse_engine_spec(spec[4:], options.engine)
        return USIPlayer(resolve_engine_path(text), settings)
    model, meta = load_checkpoint_model(spec, options.device)
    name = checkpoint_name(Path(meta["path"]), int(meta["global_step"]), options.ratings_run_dir)
    if options.temperature > 0:
        name += f"@T{options.temperature:g}"
    return CheckpointPlayer(
        model, name, temperature=options.temperature, seed=seed, device=options.device
    )
