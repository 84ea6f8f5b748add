"""A USI engine over keisei's PUCT search (``keisei usi CHECKPOINT|RUN_DIR``).

USI on the given streams only (the protocol on stdout, diagnostics on stderr). The search
runs in its own thread, so ``stop``, ``ponderhit``, ``isready`` and ``quit`` are answered
while it thinks. Nothing a client sends may crash the engine: an unknown or malformed
command is answered with an ``info string`` saying what was ignored; an illegal move in
``position`` is reported and the position kept up to the move before it; ``go`` before
``position`` searches the start position; a second ``go`` while searching is ignored;
``stop`` with nothing running is harmless; EOF on the input is ``quit``.

Time management (``think_time``): ``movetime`` minus the safety margin; with a clock, a
target of ``remaining / 40 + increment + byoyomi - margin`` capped at ``remaining +
byoyomi - margin`` (the increment is not counted on, it arrives after the move); no
clock: a number of playouts. The search always evaluates at least one leaf; on the clock a
batch goes to the network early rather than end past the deadline (``PUCTSearch``).

Scores: ``score cp`` is ``600 * ln(p / (1 - p))`` with ``p = (1 + v) / 2`` and ``v`` the
root value in [-1, 1] for the side to move (``keisei.search.mcts.score_cp``); a mate found
at the root is ``score mate N`` (N plies).
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TextIO

import cshogi
import numpy as np
import torch

from keisei.config import SearchSettings
from keisei.game.rules import is_legal_move
from keisei.search.leaves import check_device
from keisei.search.mcts import Limits, PUCTSearch, SearchResult, score_cp
from keisei.search.tree import sharpened
from keisei.search.usi_commands import Go, parse_go, position_sfen, think_time

# Playouts of a ``go`` without clock, movetime or nodes, when the Playouts option is 0.
DEFAULT_PLAYOUTS = 800
MAX_SPIN = 1_000_000_000
SELECTIONS = ("search", "greedy", "sample")


@dataclass(frozen=True)
class Option:
    """One USI option: ``kind`` is spin, check, combo or string; ``setting``: the
    ``SearchSettings`` field it sets (its default and its checks), if any; ``check``: the
    check of another string option (ValueError with the reason)."""

    name: str
    kind: str
    default: str
    low: int = 0
    high: int = 0
    choices: tuple[str, ...] = ()
    setting: str | None = None
    check: Callable[[str], str] | None = None

    def declaration(self) -> str:
        text = f"option name {self.name} type {self.kind} default {self.default}"
        if self.kind == "spin":
            text += f" min {self.low} max {self.high}"
        for choice in self.choices:
            text += f" var {choice}"
        return text

    def parse(self, value: str) -> Any:
        """The option's value from ``value``; ValueError with the reason if it is not one."""
        if self.kind == "spin":
            number = int(value)
            if not self.low <= number <= self.high:
                raise ValueError(f"{number} is outside [{self.low}, {self.high}]")
            return number
        if self.kind == "check":
            if value.lower() not in ("true", "false"):
                raise ValueError("not true or false")
            return value.lower() == "true"
        if self.kind == "combo":
            if value not in self.choices:
                raise ValueError(f"not one of {', '.join(self.choices)}")
            return value
        if self.setting is not None:
            return SearchSettings.value_of(self.setting, value)
        if self.check is not None:
            return self.check(value)
        return value


def _setting(name: str, setting: str) -> Option:
    """An option that sets ``SearchSettings.<setting>``: a spin over the field's range
    for an integer, else a string holding a number."""
    default = SearchSettings.model_fields[setting].default
    if SearchSettings.model_fields[setting].annotation is int:
        low, high = SearchSettings.bound(setting, "ge"), SearchSettings.bound(setting, "le")
        return Option(name, "spin", f"{default}", low, high, setting=setting)
    return Option(name, "string", f"{default:g}", setting=setting)


# What each option does: docs/usi.md.
OPTIONS: tuple[Option, ...] = (
    Option("Playouts", "spin", "0", 0, MAX_SPIN),  # cap per move (0: none)
    Option("MoveSelection", "combo", "search", choices=SELECTIONS),
    _setting("Temperature", "temperature"),  # 0: most visits / most probable
    Option("Threads", "spin", "1", 1, 256),  # torch intra-op threads
    _setting("BatchSize", "batch_size"),  # leaves per network call
    Option("Device", "string", "cpu", check=check_device),  # cpu, cuda or cuda:N
    Option("ResignValue", "spin", "-100", -100, 100),  # resign below value * 100
    Option("MarginMs", "spin", "400", 0, 60_000),  # time kept back per move
    _setting("CPuct", "c_puct"),
    _setting("MateNodes", "mate_nodes"),  # df-pn nodes of the root's mate check (go mate: x100)
    Option("Seed", "spin", "0", 0, 2**31 - 1),
    Option("MultiPV", "spin", "1", 1, 64),  # lines shown per info (most visited first)
    Option("USI_Ponder", "check", "false"),
)
_BY_NAME = {o.name.lower(): o for o in OPTIONS}


class USIEngine:
    """The protocol loop. ``run`` reads commands until ``quit`` or EOF and returns 0."""

    def __init__(
        self,
        model: Any,
        name: str = "keisei",
        author: str = "keisei",
        out: TextIO | None = None,
        log: TextIO | None = None,
    ) -> None:
        self.model = model
        self.name = name
        self.author = author
        self.out = out if out is not None else sys.stdout
        self.log = log if log is not None else sys.stderr
        self.values: dict[str, Any] = {o.name: o.parse(o.default) for o in OPTIONS}
        self.device = str(self.values["Device"])
        self.search = PUCTSearch(model, self._config(), self.device, int(self.values["Seed"]))
        self.start_sfen = cshogi.STARTING_SFEN
        self.moves: list[int] = []
        self.has_position = False
        self.position_ok = True  # False after a position command that could not be used
        self._warm = False
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._answered = threading.Event()
        self._limits: Limits | None = None
        self._go: Go | None = None
        self._turn = cshogi.BLACK
        self._silent = False  # the running search ends without a bestmove (gameover)
        self._ponderhit_at: float | None = None
        self._reported = -1  # playouts of the search's last info (-1: none yet)
        self._dead = False  # the output is closed: the client is gone

    # -- output --------------------------------------------------------------------
    def send(self, line: str) -> None:
        with self._write_lock:
            if self._dead:
                return
            try:
                self.out.write(line + "\n")
                self.out.flush()
            except (OSError, ValueError):
                self._dead = True

    def note(self, text: str) -> None:
        self.send("info string " + " ".join(text.split()))

    # -- the loop ------------------------------------------------------------------
    def run(self, lines: Iterable[str]) -> int:
        try:
            for raw in lines:
                try:
                    keep_going = self.handle(raw)
                except Exception as exc:  # never crash on input
                    print(f"keisei usi: {type(exc).__name__}: {exc}", file=self.log)
                    traceback.print_exc(file=self.log)
                    self.note(f"error handling {raw.strip()[:80]!r}: {type(exc).__name__}")
                    keep_going = True
                if not keep_going or self._dead:
                    break
        finally:
            # Also on KeyboardInterrupt: a search thread still inside torch when the
            # interpreter exits aborts the process (SIGABRT, "terminate called without an
            # active exception") instead of the exit code 130 of an interrupt.
            self._stop_search(silent=True)
        return 0

    def handle(self, raw: str) -> bool:
        """One command line; False for ``quit``."""
        tokens = raw.strip().split()
        if not tokens:
            return True
        command, args = tokens[0], tokens[1:]
        if command == "quit":
            return False
        handler = {
            "usi": self._usi,
            "isready": self._isready,
            "setoption": self._setoption,
            "usinewgame": self._usinewgame,
            "position": self._position,
            "go": self._go_command,
            "stop": self._stop,
            "ponderhit": self._ponderhit,
            "gameover": self._gameover,
        }.get(command)
        if handler is None:
            shown = raw.strip()
            self.note(f"ignored unknown command: {shown[:80]}")
            return True
        handler(args)
        return True

    # -- commands ------------------------------------------------------------------
    def _usi(self, args: list[str]) -> None:
        self.send(f"id name {self.name}")
        self.send(f"id author {self.author}")
        for option in OPTIONS:
            self.send(option.declaration())
        self.send("usiok")

    def _isready(self, args: list[str]) -> None:
        if not self.searching():
            self._apply_settings()
            if not self._warm:  # the first network call is the slow one: not on the clock
                self.search.policy(cshogi.Board())
                self._warm = True
        self.send("readyok")

    def _setoption(self, args: list[str]) -> None:
        if not args or args[0] != "name" or len(args) < 2:
            self.note(f"ignored malformed setoption: {' '.join(args)[:80]}")
            return
        rest = args[1:]
        if "value" in rest:
            at = rest.index("value")
            name, value = " ".join(rest[:at]), " ".join(rest[at + 1 :])
        else:
            name, value = " ".join(rest), ""
        option = _BY_NAME.get(name.lower())
        if option is None:
            if not name.upper().startswith("USI_"):
                self.note(f"ignored unknown option {name}")
            return
        try:
            parsed = option.parse(value)
        except ValueError as exc:
            self.note(f"ignored setoption {option.name} {value!r}: {exc}")
            return
        self.values[option.name] = parsed
        if option.name == "Seed":
            self.search.rng = np.random.default_rng(int(parsed))

    def _usinewgame(self, args: list[str]) -> None:
        self._stop_search(silent=True)
        self.search.reset()

    def _gameover(self, args: list[str]) -> None:
        self._stop_search(silent=True)
        self.search.reset()

    def _position(self, args: list[str]) -> None:
        # Until this command succeeds, go answers resign rather than search a stale position.
        self.position_ok = False
        self.has_position = True
        if not args:
            self.note("ignored position without startpos or sfen")
            return
        if args[0] == "startpos":
            sfen, rest = cshogi.STARTING_SFEN, args[1:]
        elif args[0] == "sfen":
            end = args.index("moves") if "moves" in args else len(args)
            sfen, rest = " ".join(args[1:end]), args[end:]
            try:
                sfen = position_sfen(sfen)
            except ValueError as exc:
                self.note(f"ignored position: {exc}")
                return
        else:
            self.note(f"ignored position {args[0][:40]}: expected startpos or sfen")
            return
        if rest and rest[0] != "moves":
            self.note(f"ignored text after the position: {' '.join(rest)[:80]}")
            rest = []
        board = cshogi.Board(sfen)
        moves: list[int] = []
        for text in rest[1:]:
            try:
                move = int(board.move_from_usi(text))
            except Exception:
                move = 0
            if not is_legal_move(board, move):
                self.note(
                    f"illegal move {text[:20]} at ply {len(moves) + 1} in position: "
                    f"kept the {len(moves)} moves before it"
                )
                break
            board.push(move)
            moves.append(move)
        self.start_sfen, self.moves = sfen, moves
        self.position_ok = True

    def _go_command(self, args: list[str]) -> None:
        if self.searching():
            self.note("ignored go: a search is running (send stop first)")
            return
        go, notes = parse_go(args)
        if notes:
            self.note(f"ignored in go: {' '.join(notes)[:80]}")
        if not self.has_position:
            self.note("go before position: searching the start position")
        elif not self.position_ok:
            self.note("no usable position (see the note on the last position command)")
            self.send("checkmate nomate" if go.mate else "bestmove resign")
            return
        if go.mate:
            self.send(self._checkmate())
            return
        self._apply_settings()
        board = self.search.set_position(self.start_sfen, self.moves)
        limits = Limits(infinite=go.infinite or go.ponder)
        cap = int(self.values["Playouts"]) or None
        if go.nodes is not None:
            limits.playouts = go.nodes if cap is None else min(go.nodes, cap)
        elif not go.clocked:
            limits.playouts = cap or DEFAULT_PLAYOUTS
        else:
            limits.playouts = cap
        if not go.ponder:
            seconds = think_time(go, board.turn, int(self.values["MarginMs"]))
            if seconds is not None:
                limits.deadline = time.monotonic() + seconds
        self._limits = limits
        self._go = go
        self._turn = int(board.turn)
        self._silent = False
        self._ponderhit_at = None
        self._reported = -1
        self._answered = threading.Event()
        self._thread = threading.Thread(
            target=self._think,
            args=(board, go, limits, dict(self.values)),
            name="keisei-search",
            daemon=True,
        )
        self._thread.start()

    def _stop(self, args: list[str]) -> None:
        if not self.searching():
            return
        assert self._limits is not None
        self._limits.stop.set()
        if self._thread is not None:
            self._thread.join()

    def _ponderhit(self, args: list[str]) -> None:
        limits, go = self._limits, self._go
        if not self.searching() or limits is None or go is None or not go.ponder:
            self.note("ignored ponderhit: not pondering")
            return
        seconds = think_time(go, self._turn, int(self.values["MarginMs"]))
        if seconds is not None:
            limits.deadline = time.monotonic() + seconds
        limits.infinite = go.infinite
        self._ponderhit_at = time.monotonic()

    def _checkmate(self) -> str:
        """The answer to ``go mate``: df-pn with ``100 * MateNodes`` nodes (no clock)."""
        board = cshogi.Board(self.start_sfen)
        for move in self.moves:
            board.push(move)
        if board.is_check():
            return "checkmate nomate"
        dfpn = cshogi.DfPn()
        budget = max(1, 100 * int(self.values["MateNodes"]))
        dfpn.set_max_search_node(budget)
        if dfpn.search(board):
            return "checkmate " + " ".join(cshogi.move_to_usi(m) for m in dfpn.get_pv(board))
        return "checkmate timeout" if dfpn.searched_node >= budget else "checkmate nomate"

    # -- searching -----------------------------------------------------------------
    def searching(self) -> bool:
        """Whether a search runs that has not answered yet."""
        thread = self._thread
        if thread is None:
            return False
        if self._answered.is_set():
            thread.join()  # it only has to return: the client may already send the next go
            self._thread = None
            return False
        return thread.is_alive()

    def _stop_search(self, silent: bool) -> None:
        if self.searching():
            self._silent = silent
            assert self._limits is not None
            self._limits.stop.set()
            assert self._thread is not None
            self._thread.join()

    def _config(self) -> SearchSettings:
        """The search settings of the options that alias them."""
        return SearchSettings(**{o.setting: self.values[o.name] for o in OPTIONS if o.setting})

    def _apply_settings(self) -> None:
        """Options that change the network or the search, applied while none runs."""
        torch.set_num_threads(int(self.values["Threads"]))
        device = str(self.values["Device"])
        if device != self.device:
            try:
                self.model.to(device)
                self.device = device
                self.search.network.device = device
            except (RuntimeError, ValueError, AssertionError) as exc:
                self.note(f"device {device!r} unusable ({exc}); staying on {self.device}")
                self.values["Device"] = self.device
        config = self._config()
        if config != self.search.config:
            self.search.set_config(config)

    def _think(self, board: cshogi.Board, go: Go, limits: Limits, values: dict[str, Any]) -> None:
        started = time.monotonic()
        try:
            line = self._bestmove(board, limits, values, started)
        except Exception as exc:  # the search failed: still answer with a legal move
            print(f"keisei usi: search failed: {type(exc).__name__}: {exc}", file=self.log)
            traceback.print_exc(file=self.log)
            self.note(f"search failed ({type(exc).__name__}): playing a legal move")
            moves = list(board.legal_moves)
            line = f"bestmove {cshogi.move_to_usi(moves[0])}" if moves else "bestmove resign"
        try:
            # USI: in ponder and infinite searches, bestmove waits for stop (or ponderhit).
            while not limits.stop.is_set() and (
                (go.ponder and self._ponderhit_at is None) or (go.infinite and limits.infinite)
            ):
                limits.stop.wait(0.01)
        finally:
            # Before the line goes out: the client may answer it at once with the next go,
            # which must find this search over (``searching`` then joins this thread).
            self._answered.set()
        if not self._silent:
            self.send(line)

    def _bestmove(
        self, board: cshogi.Board, limits: Limits, values: dict[str, Any], started: float
    ) -> str:
        """The bestmove line; ``values``: the options when ``go`` came."""
        selection = str(values["MoveSelection"])
        temperature = float(values["Temperature"])
        if selection != "search":
            moves, probs, value = self.search.policy(board)
            if not moves:
                return "bestmove resign"
            if board.is_nyugyoku():
                return "bestmove win"
            if selection == "sample" and temperature > 0:
                weights = sharpened(probs, temperature)
                pick = int(self.search.rng.choice(len(moves), p=weights))
            else:
                pick = int(np.argmax(probs))
            move = moves[pick]
            ms = int((time.monotonic() - started) * 1000)
            self.send(
                f"info depth 1 seldepth 1 nodes 1 time {ms} score cp {score_cp(value)} "
                f"pv {cshogi.move_to_usi(move)}"
            )
            return f"bestmove {cshogi.move_to_usi(move)}"

        result = self.search.search(board, limits, on_info=self._info)
        if result.nyugyoku:
            self.note("nyugyoku: declaring the win")
            return "bestmove win"
        if result.best is None:
            return "bestmove resign"
        if result.playouts != self._reported:  # else the last periodic info said it all
            self._info(result)
        threshold = int(values["ResignValue"])
        if result.mate is None and result.value * 100 < threshold:
            return "bestmove resign"
        chosen = self.search.choose(result, temperature)
        assert chosen is not None
        text = f"bestmove {cshogi.move_to_usi(chosen)}"
        if values["USI_Ponder"] and chosen == result.best and len(result.pv) > 1:
            text += f" ponder {cshogi.move_to_usi(result.pv[1])}"
        return text

    def _info(self, result: SearchResult) -> None:
        self._reported = result.playouts
        ms = int(result.seconds * 1000)
        common = f"nodes {result.playouts} nps {int(result.nps)} time {ms}"
        multipv = int(self.values["MultiPV"])
        if multipv > 1 and len(result.lines) > 1:
            # One line per root move, most visited first; each scored by its own Q.
            for rank, (i, line) in enumerate(result.lines[:multipv], start=1):
                q = float(result.q[i])
                score = f"mate {result.mate}" if rank == 1 and result.mate is not None else None
                pv = " ".join(cshogi.move_to_usi(m) for m in line)
                self.send(
                    f"info multipv {rank} depth {len(line)} "
                    f"seldepth {max(result.seldepth, len(line))} {common} "
                    f"score {score or f'cp {score_cp(q)}'} pv {pv}"
                )
            return
        score = f"mate {result.mate}" if result.mate is not None else f"cp {score_cp(result.value)}"
        pv = " ".join(cshogi.move_to_usi(m) for m in result.pv)
        self.send(
            f"info depth {max(1, len(result.pv))} seldepth {max(result.seldepth, len(result.pv))} "
            f"{common} score {score}" + (f" pv {pv}" if pv else "")
        )


def read_lines(stream: Any) -> Iterable[str]:
    """Lines of a binary stream as text (undecodable bytes replaced), until EOF."""
    while True:
        try:
            raw = stream.readline()
        except (OSError, ValueError):
            return
        if not raw:
            return
        yield raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
