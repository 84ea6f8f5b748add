"""``keisei watch`` as a real process, and raw HTTP requests to it (tests/test_watch*.py)."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

START = re.compile(r"^keisei watch: http://(\S+?):(\d+)/(\?token=(\S+))? ")


class Watch:
    """``python -m keisei watch ARGS`` until ``stop``; ``request`` sends raw HTTP requests."""

    def __init__(self, *args: str, timeout: float = 60.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "keisei", "watch", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        self.lines: list[str] = []
        line = self.proc.stdout.readline()
        self.lines.append(line)
        match = START.match(line)
        if match is None or time.monotonic() > deadline:
            self.proc.kill()
            _, err = self.proc.communicate()
            raise AssertionError(f"keisei watch did not start: {line!r} {err!r}")
        self.port = int(match.group(2))
        self.token = match.group(4)
        if self.token:
            self.lines.append(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/" + (f"?token={self.token}" if self.token else "")

    def request(
        self, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """GET ``path`` exactly as given (no normalisation of ``..`` or ``%2e``)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
            given = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
            for key, value in given.items():
                conn.putheader(key, value)
            conn.endheaders()
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def json(self, path: str, **headers: str) -> Any:
        status, _, body = self.request(path, headers)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def tree_hashes(root: Path) -> dict[str, str]:
    """Every entry under ``root``: a file's SHA-256 and modification time, a directory's or
    a link's kind."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = "link " + str(path.readlink())
        elif path.is_dir():
            out[rel] = "dir"
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[rel] = f"{digest} {path.stat().st_mtime_ns}"
    return out
