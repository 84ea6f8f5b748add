"""A tiny USI engine for the fault tests: plays the first legal move, misbehaves on cue.

``fault_engine(tmp_path, mode, at)`` writes an executable copy into ``tmp_path``. The
engine misbehaves at its ``at``-th ``go`` (counted per process): ``crash`` exits with
code 3, ``illegal`` answers an illegal move, ``hang`` never answers, ``resign`` resigns.
With ``once=True`` it misbehaves only in the first process started (a marker file
remembers), so a restarted engine plays on normally. Before each move it writes an info
string in Shift_JIS, as Japanese engines do.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

ENGINE = r"""#!{python}
import os, sys, time
import cshogi

MODE, AT, MARKER = {mode!r}, {at}, {marker!r}
armed = not (MARKER and os.path.exists(MARKER))
board = cshogi.Board()
count = 0
for line in sys.stdin:
    cmd = line.split()
    if not cmd:
        continue
    if cmd[0] == "usi":
        print("id name faulty-{mode}")
        print("option name Depth type spin default 1 min 1 max 9")
        print("usiok", flush=True)
    elif cmd[0] == "isready":
        print("readyok", flush=True)
    elif cmd[0] == "position":
        board = cshogi.Board()
        if "moves" in cmd:
            for usi in cmd[cmd.index("moves") + 1:]:
                board.push_usi(usi)
    elif cmd[0] == "go":
        count += 1
        if armed and count == AT:
            if MARKER:
                open(MARKER, "w").close()
            if MODE == "crash":
                print("info string crashing on purpose", file=sys.stderr, flush=True)
                sys.exit(3)
            if MODE == "illegal":
                print("bestmove 5e5d", flush=True)
                continue
            if MODE == "resign":
                print("bestmove resign", flush=True)
                continue
            if MODE == "hang":
                time.sleep(60)
        move = next(iter(board.legal_moves))
        # Free text in Shift_JIS, as Japanese engines write it: must not upset the client.
        sys.stdout.flush()
        sys.stdout.buffer.write("info string 評価値 0\n".encode("cp932"))
        sys.stdout.buffer.flush()
        print("bestmove " + cshogi.move_to_usi(move), flush=True)
    elif cmd[0] == "quit":
        break
"""


def fault_engine(directory: Path, mode: str, at: int, once: bool = False) -> Path:
    path = directory / f"faulty_{mode}_{at}.py"
    marker = str(directory / f"faulty_{mode}_{at}.fired") if once else ""
    path.write_text(ENGINE.format(python=sys.executable, mode=mode, at=at, marker=marker))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path
