"""``keisei play``: move input, game endings, and a scripted game through a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import cshogi

from keisei.cli.play import Game, parse_move
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
    for i, text in enumerate(shuffle * 3):
        assert game.result() is None, i
        game.push(game.board.move_from_usi(text))
    result = game.result()
    assert result is not None and (result.reason, result.winner) == ("repetition", None)
    game = Game("4k4/9/4P4/9/9/9/9/9/4K4 b G 1")
    game.push(game.board.move_from_usi("G*5b"))
    result = game.result()
    assert result is not None and (result.reason, result.winner) == ("checkmate", cshogi.BLACK)


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


def test_a_scripted_game_through_a_pseudo_terminal(tmp_path: Path) -> None:
    run = tmp_path / "run"
    save_tiny_checkpoint(run, 3)
    records = tmp_path / "records"
    term = Terminal(
        [sys.executable, "-m", "keisei", "play", str(run), "--playouts", "8", "--records",
         str(records)],
        cwd=tmp_path,
    )  # fmt: skip
    try:
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
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
        os.close(term.master)
    csa = next(records.glob("play-*.csa")).read_text(encoding="utf-8")
    assert "+2726FU" in csa and "%TORYO" in csa
    kif = next(records.glob("play-*.kif")).read_text(encoding="cp932")  # KIF: Shift_JIS
    assert "投了" in kif
