"""A tiny USI engine for the fault tests: plays the first legal move, misbehaves on cue.

``fault_engine(tmp_path, mode, at)`` writes an executable copy into ``tmp_path``. The
engine misbehaves at its ``at``-th ``go`` (counted per process): ``crash`` exits with
code 3, ``illegal`` answers an illegal move, ``hang`` never answers, ``resign`` resigns,
``garbage`` writes ``GARBAGE`` instead of a move (and, with ``at=0``, instead of
``usiok``), ``linger`` plays on but does not quit on ``quit``. With ``once=True`` it
misbehaves only in the first process started (a marker file remembers), so a restarted
engine plays on normally. With ``ignore_term=True`` it ignores SIGTERM; with ``pids`` it
appends "PID PGID" to that file when it starts. Before each move it writes an info string
in Shift_JIS, as Japanese engines do.

``wrapped(tmp_path, engine)`` writes a shell script that runs ``engine`` as its child (not
with ``exec``): the engine then is a grandchild of keisei, in the wrapper's process group.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

# What the ``garbage`` engine writes: a misspelt keyword and a long line.
GARBAGE = ("bestmvoe 7g7f", "x" * 200)

ENGINE = r"""#!{python}
import os, signal, sys, time
import cshogi

MODE, AT, MARKER, PIDS = {mode!r}, {at}, {marker!r}, {pids!r}
GARBAGE = {garbage!r}
if {ignore_term!r}:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if PIDS:
    with open(PIDS, "a") as f:
        f.write(f"{{os.getpid()}} {{os.getpgrp()}}\n")
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
        if armed and MODE == "garbage" and AT == 0:
            print("\n".join(GARBAGE), flush=True)
            continue
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
            if MODE == "garbage":
                print("\n".join(GARBAGE), flush=True)
                continue
        move = next(iter(board.legal_moves))
        # Free text in Shift_JIS, as Japanese engines write it: must not upset the client.
        sys.stdout.flush()
        sys.stdout.buffer.write("info string 評価値 0\n".encode("cp932"))
        sys.stdout.buffer.flush()
        print("bestmove " + cshogi.move_to_usi(move), flush=True)
    elif cmd[0] == "quit":
        if MODE == "linger":
            time.sleep(60)
        break
"""


def fault_engine(
    directory: Path,
    mode: str,
    at: int,
    once: bool = False,
    ignore_term: bool = False,
    pids: Path | None = None,
) -> Path:
    path = directory / f"faulty_{mode}_{at}.py"
    marker = str(directory / f"faulty_{mode}_{at}.fired") if once else ""
    text = ENGINE.format(
        python=sys.executable,
        mode=mode,
        at=at,
        marker=marker,
        pids=str(pids or ""),
        garbage=GARBAGE,
        ignore_term=ignore_term,
    )
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def wrapped(directory: Path, engine: Path) -> Path:
    path = directory / f"wrapper_{engine.stem}.sh"
    path.write_text(f'#!/bin/sh\n"{engine}"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def started(pids: Path) -> list[tuple[int, int]]:
    """(pid, process group id) of every engine process started, in order."""
    rows = pids.read_text().split("\n") if pids.exists() else []
    return [(int(a), int(b)) for a, b in (row.split() for row in rows if row)]


def group_gone(pgid: int, within: float = 2.0) -> bool:
    """No live process is left in process group ``pgid`` (waiting up to ``within`` s).

    A killed process closes its files a moment before it is dead. ``os.killpg(pgid, 0)``
    raises ProcessLookupError once every member is gone; where the init process does not
    reap orphans (some containers), killed orphans stay as zombies, which are dead but
    still members: those are read from /proc and ignored.
    """
    deadline = time.monotonic() + within
    while not _no_live_member(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _no_live_member(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    for info in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = info.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return False
    return True
