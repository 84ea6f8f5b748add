"""``keisei watch RUN_DIR...``: a local web page over run directories, read-only
(keisei.watch; docs/watch.md)."""

from __future__ import annotations

import argparse
import ipaddress
import secrets
import signal
import socket
import sys
import threading
import webbrowser
from pathlib import Path
from typing import Any

from keisei.cli.checks import IntRange
from keisei.config import shown
from keisei.errors import UsageError
from keisei.watch.run import RunView
from keisei.watch.server import application, is_loopback, listen, serve

PORT = IntRange(0, 65535)


def host_flag(text: str) -> str:
    """``--host``: an IP address of this machine to listen on, or ``localhost``."""
    if text == "localhost":
        return text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an IP address (e.g. 127.0.0.1, 0.0.0.0, ::1) or localhost, got {shown(text)}"
        ) from None


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "watch",
        help="watch runs learn in a web browser (read-only)",
        description="Serve a web page over one or more run directories: status, loss and "
        "rating curves, ratings, and the recorded games replayed move by move. Works while "
        "'keisei train' runs, after it ends, and on a copied directory; never writes into "
        "a run directory. Listens on 127.0.0.1; any other --host needs the printed token.",
    )
    p.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR", help="run directories")
    p.add_argument(
        "--host",
        type=host_flag,
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; any other address prints a token "
        "that the page requires)",
    )
    p.add_argument("--port", type=PORT, default=0, help="port (default 0: a free one, printed)")
    p.add_argument("--open", action="store_true", help="open the page in a web browser")
    p.set_defaults(func=run)


def _names(paths: list[Path]) -> list[str]:
    """A short name per run: its directory's name, with its parent's where two clash."""
    names = [p.resolve().name or str(p) for p in paths]
    for i, path in enumerate(paths):
        if names.count(names[i]) > 1:
            names[i] = f"{path.resolve().parent.name}/{path.resolve().name}"
    return [n if names.count(n) == 1 else f"{n} ({i})" for i, n in enumerate(names)]


def run(args: argparse.Namespace) -> int:
    paths: list[Path] = args.run_dirs
    for path in paths:
        if not path.is_dir():
            what = "is not a directory" if path.exists() else "does not exist"
            raise UsageError(f"run directory {path} {what}")
    if len({p.resolve() for p in paths}) < len(paths):
        raise UsageError("a run directory is named twice")
    host: str = args.host
    token = None if is_loopback(host) else secrets.token_urlsafe(24)
    try:
        sock = listen(host, args.port)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {host} port {args.port}: {exc.strerror or exc}"
        ) from None
    runs = [RunView(p, n) for p, n in zip(paths, _names(paths), strict=True)]
    port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):  # every address: name the machine
        shown_host = socket.gethostname()
    url = f"http://{shown_host}:{port}/" + (f"?token={token}" if token else "")
    what = ", ".join(r.name for r in runs)
    print(f"keisei watch: {url} ({len(runs)} run(s): {what}; Ctrl-C stops)", flush=True)
    if token:
        print(
            f"keisei watch: listening on {host}, not only this machine: the page needs the "
            f"token {token} (in the address above)",
            flush=True,
        )
    if args.open:
        local = f"http://127.0.0.1:{port}/" if host in ("0.0.0.0", "::") else url
        if token and local != url:
            local += f"?token={token}"
        threading.Thread(target=webbrowser.open, args=(local,), daemon=True).start()
    stopped_by = serve(application(runs, token), sock)
    if stopped_by is None:
        return 0
    print(f"keisei watch: stopped ({signal.Signals(stopped_by).name})", file=sys.stderr)
    return 128 + stopped_by
