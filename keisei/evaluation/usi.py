"""USI engines as players, through cshogi's USI client (``cshogi.usi.Engine``).

keisei starts the engine process itself so that it can read the engine's output with a
deadline (cshogi's reads block forever on a silent engine and spin on a dead one); every
protocol command is cshogi's. Engine specs: ``PATH[NAME=VALUE,nodes=N,byoyomi=MS,time=SEC]``.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import cshogi
import numpy as np
import numpy.typing as npt
from cshogi.usi import Engine

from keisei.evaluation.engine_options import EngineOption, EngineOptionError
from keisei.evaluation.players import Forfeit, Moves, Player, PlayerError
from keisei.game.encoding import move_label
from keisei.game.env import ShogiEnv, StepResult
from keisei.game.rules import is_legal_move
from keisei.process import child_dies_with_parent

IntArray = npt.NDArray[np.int64]
# The longest wait for one move, in seconds: beyond it the operating system's timeouts
# overflow (select: about 1e9 s).
MAX_WAIT_S = 1_000_000


class EngineFault(Exception):
    """The engine died, closed its output or broke the protocol."""


class EngineTimeout(EngineFault):
    """The engine did not answer before its deadline; ``sent``: what it wrote meanwhile."""

    def __init__(self, sent: str = "") -> None:
        self.sent = sent
        super().__init__("no answer before the deadline" + (f"; it sent {sent}" if sent else ""))


# What a timeout message quotes of the engine's output: its last lines, each cut short.
_SENT_LINES = 3
_SENT_CHARS = 80


class _DeadlineReader:
    """Stands in for the engine's stdout under cshogi's Engine: lines with a deadline.

    cshogi reads with ``proc.stdout.readline()`` and compares the result with ``''``,
    which never matches bytes, so a dead engine makes it loop forever; and a silent
    engine blocks it forever. This reader raises instead. Lines come back ASCII. It
    remembers the last lines it returned since ``start``, so that a timeout can say what
    the engine sent instead of the expected answer (garbage, or only ``info`` lines).
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.deadline: float | None = None
        self.recent: collections.deque[bytes] = collections.deque(maxlen=_SENT_LINES)
        self.lines = 0

    def start(self, deadline: float | None) -> None:
        """A new command: its answer is due by ``deadline`` (``time.monotonic`` seconds)."""
        self.deadline = deadline
        self.recent.clear()
        self.lines = 0

    def sent(self) -> str:
        """The last lines read since ``start`` and any unfinished one, quoted and cut short."""
        pending = bytes(self.buffer)
        lines = [*self.recent, pending] if pending else list(self.recent)
        quoted = []
        for raw in lines:
            text = raw.rstrip(b"\r\n").decode("ascii", "replace")
            quoted.append(repr(text if len(text) <= _SENT_CHARS else text[:_SENT_CHARS] + "..."))
        if not quoted:
            return ""
        head = f"{self.lines} lines, ending " if self.lines > len(self.recent) else ""
        tail = " (no newline)" if pending else ""
        return head + " ".join(quoted) + tail

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
                self.recent.append(line)
                self.lines += 1
                return line
            timeout = None
            if self.deadline is not None:
                timeout = self.deadline - time.monotonic()
                if timeout <= 0:
                    raise EngineTimeout(self.sent())
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                raise EngineTimeout(self.sent())
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
        self.options: dict[str, EngineOption] = {}  # by lower-case name
        self.restarts = 0
        self._fresh: set[int] = set()

    # -- process ---------------------------------------------------------------------
    def open(self) -> None:
        try:
            self._start()
        except (EngineFault, OSError) as exc:
            self.close()
            raise PlayerError(f"engine {self.path} failed to start: {exc}") from None
        except PlayerError:
            self.close()
            raise

    def check_options(self) -> None:
        """Start the engine for its answer to ``usi`` alone, check the options against
        what it declares (EngineOptionError) and stop it. An engine that does not start or
        answer is left for ``open`` to report."""
        try:
            self._launch()
            self._resolved_options()
        except (EngineFault, OSError):
            pass
        finally:
            self.close()

    def _start(self) -> None:
        engine = self._launch()
        requested = {name.lower() for name, _ in self.settings.options}
        for name, value in self._resolved_options():
            engine.setoption(name, value)
        if "uci_variant" not in requested and "UCI_Variant" in self.option_names:
            engine.setoption("UCI_Variant", "shogi")  # Fairy-Stockfish: play Shogi
        self._call(self.settings.startup_timeout_s, engine.isready)

    def _launch(self) -> Engine:
        """Start the process and read its answer to ``usi``: name and options."""
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
            # It dies with keisei, even a keisei killed by SIGKILL (keisei.process).
            preexec_fn=child_dies_with_parent(),
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
        declared = [o for o in map(EngineOption.parse, lines) if o is not None]
        self.option_names = [o.name for o in declared]
        self.options = {o.name.lower(): o for o in declared}
        return engine

    def _resolved_options(self) -> list[tuple[str, str]]:
        """The requested options under the engine's own names, each checked against its
        declaration (type, min, max, var): an engine ignores a value it does not accept,
        and a match would be labelled with a setting it was not played at."""
        resolved = []
        for name, value in self.settings.options:
            option = self.options.get(name.lower())
            if option is None:
                have = ", ".join(self.option_names) or "none"
                raise EngineOptionError(
                    f"engine {self.path}: it has no option {name!r} (options: {have})"
                )
            problem = option.problem(value)
            if problem is not None:
                raise EngineOptionError(f"engine {self.path}: option {option.name!r} {problem}")
            resolved.append((option.name, value))
        return resolved

    def _call(self, timeout: float, fn: Any, *args: Any, **kwargs: Any) -> Any:
        assert self._reader is not None
        self._reader.start(time.monotonic() + timeout)
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
        """Stop the engine and every process it started; return how it ended.

        The engine runs in its own process group (``start_new_session``), so a wrapper
        script's children go with it: after ``grace`` seconds the group gets SIGTERM, and
        ``_TERM_WAIT`` seconds later SIGKILL, which nothing can ignore. The engine process
        is reaped only after that, so that its id (the group's id) cannot be reused meanwhile.
        """
        how = ""
        proc = self._proc
        if proc is not None:
            if proc.returncode is None:
                exited = _exited(proc.pid, grace)
                if not exited:
                    _signal_group(proc.pid, signal.SIGTERM)
                    _exited(proc.pid, _TERM_WAIT)
                _signal_group(proc.pid, signal.SIGKILL)  # children that outlived the engine
                code = proc.wait()
                if self._stdout is not None:
                    # Killed children die a moment later; their end of the pipe closes then.
                    _wait_for_eof(self._stdout.fileno(), _TERM_WAIT)
                how = f"exited with code {code}" if exited else "killed"
            else:
                how = f"exited with code {proc.returncode}"
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
        if engine is not None and proc is not None and not _exited(proc.pid, 0.0):
            with contextlib.suppress(OSError, ValueError):
                assert proc.stdin is not None
                proc.stdin.write(b"quit\n")
                proc.stdin.flush()
            _exited(proc.pid, 2.0)
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
        except EngineTimeout as exc:
            how = self._kill()
            sent = f"; it sent {exc.sent}" if exc.sent else ""
            return Forfeit(
                "engine_timeout",
                f"no move within {deadline:g} s{sent} (engine {how}, to be restarted)",
            )
        except EngineFault as exc:
            how = self._kill(grace=1.0)  # a crashing engine: report its exit code
            return Forfeit("engine_crash", f"{exc}; engine {how}".rstrip("; "))
        if bestmove == "resign":
            return Forfeit("resign", "the engine resigned")
        move = board.move_from_usi(bestmove) if bestmove != "win" else 0
        if not is_legal_move(board, move):
            what = "declared a nyugyoku win" if bestmove == "win" else f"played {bestmove!r}"
            return Forfeit("engine_illegal_move", f"{what}, not a legal move in {board.sfen()}")
        action = move_label(move, board.turn)
        if not mask[action]:  # cannot happen for a legal move; keep the env's view the law
            return Forfeit("engine_illegal_move", f"played {bestmove!r}, rejected by keisei")
        return action


_TERM_WAIT = 0.5  # seconds between SIGTERM and SIGKILL to an engine's process group


def _exited(pid: int, timeout: float) -> bool:
    """Whether child ``pid`` has exited, waiting up to ``timeout`` s; it is not reaped."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True  # already reaped
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def _wait_for_eof(fd: int, timeout: float) -> None:
    """Read and drop ``fd`` until end of file (every writer gone) or ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready and not os.read(fd, 65536):
            return


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def parse_option(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` -> (NAME, VALUE); NAME may contain spaces (``Skill Level=-20``)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise PlayerError(f"engine option must look like NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


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
                if key == "byoyomi" and number > MAX_WAIT_S * 1000:
                    raise PlayerError(
                        f"engine setting {item.strip()!r}: at most {MAX_WAIT_S * 1000:g} ms"
                    )
                limits["nodes" if key == "nodes" else "byoyomi_ms"] = number
            elif key in ("time", "time_limit"):
                seconds = float(value)
                if not seconds > 0:
                    raise ValueError
                if seconds > MAX_WAIT_S:
                    raise PlayerError(f"engine setting {item.strip()!r}: at most {MAX_WAIT_S:g} s")
                limits["time_limit_s"] = seconds
            else:
                opts[name] = value
        except PlayerError:
            raise
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
