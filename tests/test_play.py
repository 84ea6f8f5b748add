"""``keisei play``: move input, game endings, and a scripted game through a pseudo-terminal."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cshogi

from keisei.cli.play import parse_move
from keisei.game.encoding import move_label
from keisei.game.env import ShogiEnv
from keisei.game.rules import Game
from tests.evalutil import save_tiny_checkpoint

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def usi(move: int) -> str:
    return cshogi.move_to_usi(move)


def test_usi_and_japanese_move_input() -> None:
    board = cshogi.Board()
    for text in ("7g7f", "76歩", "７六歩", "7六歩", "76 歩"):
        move, why = parse_move(board, text, 0)
        assert (usi(move), why) == ("7g7f", ""), text
    assert parse_move(board, "7g7e", 0) == (0, "7g7e is not legal here")
    assert parse_move(board, "P*5e", 0) == (0, "P*5e is not legal here")
    assert parse_move(board, "同歩", 0) == (0, "同 needs a previous move")
    move, why = parse_move(board, "58金", 0)
    assert move == 0 and "ambiguous (4i5h, 6i5h)" in why
    assert parse_move(board, "hello", 0)[1].startswith("not a move: 'hello'")
    # Drops, promotions and 同.
    board = cshogi.Board("lnsgkgsnl/1r5b1/pppppp1pp/6p2/9/2P6/PP1PPPPPP/7R1/LNSGKGSNL b B 1")
    assert usi(parse_move(board, "55角", 0)[0]) == "B*5e"
    assert usi(parse_move(board, "55角打", 0)[0]) == "B*5e"
    board = cshogi.Board("lnsgkgsnl/1r5b1/pppppp1pp/6p2/9/2P6/PP1PPPPPP/1B5R1/LNSGKGSNL b - 1")
    assert usi(parse_move(board, "22角成", 0)[0]) == "8h2b+"
    assert usi(parse_move(board, "22角不成", 0)[0]) == "8h2b"
    assert "ambiguous" in parse_move(board, "22角", 0)[1]
    board.push_usi("8h2b+")
    last = board.peek()
    assert usi(parse_move(board, "同銀", last)[0]) == "3a2b"


def test_game_endings_as_in_training() -> None:
    game = Game()
    shuffle = ["5i4h", "5a4b", "4h5i", "4b5a"]
    results = [game.push(game.board.move_from_usi(text)) for text in shuffle * 3]
    assert results[:-1] == [None] * 11
    result = results[-1]
    assert result is not None and (result.reason, result.winner) == ("repetition", None)
    game = Game("4k4/9/4P4/9/9/9/9/9/4K4 b G 1")
    result = game.push(game.board.move_from_usi("G*5b"))
    assert result is not None and (result.reason, result.winner) == ("checkmate", cshogi.BLACK)


def test_perpetual_check_is_judged_from_the_first_occurrence_as_in_training() -> None:
    # Drift (issue 22): play's own judge asked cshogi's is_draw(), which looks back to the
    # previous occurrence only, so checks in the last cycle alone made it perpetual check
    # (a white win here). From the first occurrence black did not always check: a draw.
    start = "1k7/9/+R8/9/9/9/9/9/8K b - 1"
    quiet = ["1i2i", "8a7a", "2i1i", "7a8a"]  # the kings shuffle: no check
    checks = ["9c8c", "8a9a", "8c9c", "9a8a"]  # black's dragon checks with both moves
    game = Game(start)
    env = ShogiEnv(1, start_sfens=[start])
    step = env.reset()
    for text in quiet * 2 + checks:
        move = game.board.move_from_usi(text)
        step = env.step([move_label(move, game.board.turn)])
        assert game.push(move) == step.finished[0]
    result = game.result
    assert result is not None and (result.winner, result.reason, result.plies) == (
        None,
        "repetition",
        12,
    )


class Terminal:
    """A process on a pseudo-terminal: what it writes (colors stripped), what it reads."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        master, slave = pty.openpty()
        env = {**os.environ, "COLUMNS": "100", "TERM": "xterm-256color", "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            command, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, close_fds=True
        )
        os.close(slave)
        self.master = master
        self.text = ""
        self.read_to = 0

    def until(self, pattern: str, timeout: float = 60.0) -> str:
        """Read until ``pattern`` appears after what earlier calls consumed."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.text.find(pattern, self.read_to)
            if found >= 0:
                chunk = self.text[self.read_to : found + len(pattern)]
                self.read_to = found + len(pattern)
                return chunk
            left = deadline - time.monotonic()
            assert left > 0, f"no {pattern!r}; the terminal shows: {self.text[-600:]}"
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:  # the process exited and closed the terminal
                    data = b""
                if not data and self.proc.poll() is not None:
                    raise AssertionError(f"exited; no {pattern!r} in {self.text[-600:]}")
                self.text += ANSI.sub("", data.decode("utf-8", "replace"))

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")


@contextlib.contextmanager
def keisei_play(tmp_path: Path, *flags: str) -> Iterator[Terminal]:
    """``keisei play`` of a small checkpoint on a pseudo-terminal, writing its records to
    ``tmp_path / "records"``; killed if it still runs at the end."""
    run = tmp_path / "run"
    save_tiny_checkpoint(run, 3)
    command = [sys.executable, "-m", "keisei", "play", str(run), *flags]
    term = Terminal([*command, "--records", str(tmp_path / "records")], cwd=tmp_path)
    try:
        yield term
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
        os.close(term.master)


def test_a_scripted_game_through_a_pseudo_terminal(tmp_path: Path) -> None:
    with keisei_play(tmp_path, "--playouts", "8") as term:
        assert "☗先手 (you) 持駒: なし" in term.until("your move> ")
        term.type("hello")
        assert "not a move: 'hello'" in term.until("your move> ")
        term.type("7g7f")
        shown = term.until("your move> ")
        assert "keisei plays" in shown and "last move ７六歩(77) (7g7f)" in shown
        term.type("undo")
        assert "took back your last move" in term.until("your move> ")
        term.type("26歩")
        assert "last move ２六歩(27) (2g2f)" in term.until("your move> ")
        term.type("resign")
        assert "game over: resign, keisei wins (2 plies)" in term.until("records: ")
        assert term.proc.wait(timeout=30) == 0
    records = tmp_path / "records"
    csa = next(records.glob("play-*.csa")).read_text(encoding="utf-8")
    assert "+2726FU" in csa and "%TORYO" in csa
    kif = next(records.glob("play-*.kif")).read_text(encoding="cp932")  # KIF: Shift_JIS
    assert "投了" in kif


def test_keisei_moves_first_as_white_and_quit_ends_the_game(tmp_path: Path) -> None:
    with keisei_play(tmp_path, "--color", "white", "--playouts", "4") as term:
        shown = term.until("your move> ")
        assert "You play ☖後手 (white)." in shown and "☖後手 to move" in shown
        played = re.search(r"keisei plays \S+ \((\S+)\), 4 playouts", shown)
        assert played is not None and "ply 1, last move" in shown
        term.type("undo")  # only keisei's move so far: nothing of yours to take back
        assert "nothing to undo" in term.until("your move> ")
        term.type("quit")
        assert "game over: max_plies, draw (1 plies)" in term.until("records: ")
        assert term.proc.wait(timeout=30) == 0
    usi_record = next((tmp_path / "records").glob("play-*.usi")).read_text(encoding="utf-8")
    assert usi_record.split() == ["startpos", "moves", played.group(1)]
