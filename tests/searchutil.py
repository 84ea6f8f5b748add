"""Helpers for the search and USI engine tests: engine wrappers, a raw USI peer."""

from __future__ import annotations

import queue
import shlex
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO


def engine_wrapper(directory: Path, target: Path) -> Path:
    """An executable that runs ``python -m keisei usi TARGET``, as a GUI would start it."""
    script = directory / "keisei-engine"
    script.write_text(
        "#!/bin/sh\n"
        f'exec {shlex.quote(sys.executable)} -m keisei usi {shlex.quote(str(target))} "$@"\n',
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


class Peer:
    """The engine as a subprocess over raw pipes; its output lines arrive on a queue."""

    def __init__(self, command: list[str], stderr: IO[bytes]) -> None:
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.lines.put(None)

    def send(self, line: str | bytes) -> None:
        assert self.proc.stdin is not None
        data = line if isinstance(line, bytes) else line.encode()
        self.proc.stdin.write(data + b"\n")
        self.proc.stdin.flush()

    def expect(self, prefix: str, timeout: float = 30.0) -> str:
        """The next line starting with ``prefix`` (earlier lines go to ``seen``)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {prefix!r} after {timeout} s; seen {self.seen[-5:]}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise EOFError(f"engine closed its output; seen {self.seen[-5:]}")
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def quiet(self, seconds: float) -> list[str]:
        """The lines the engine writes within ``seconds``."""
        out = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            out.append(line)
        self.seen += out
        return out
