"""The page's web server: a Starlette application over ``RunView``s, and ``serve``.

Security. Bound to a loopback address, requests must name a loopback host (``Host:``),
which keeps a web page elsewhere from reaching the server through a DNS name of its own.
Bound to any other address, every request needs the token printed at start: as
``?token=`` (the page's first load; a cookie then carries it) or that cookie; without it,
403. Files are served only from the named run directories' ``games/`` and
``evaluations/``, by relative paths of plain names that resolve inside the run (``..``,
absolute paths and symlinks out of the run: 404), and the page's own static files by name.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from keisei.watch.analysis import Analyst
from keisei.watch.games import Game, NotFound, inside, load_game
from keisei.watch.run import DOWNLOADS, RunView

STATIC = Path(__file__).resolve().parent / "static"
# The page's files, by the name it asks for them: nothing else is served from STATIC.
STATIC_FILES = {
    "watch.js": "text/javascript",
    "watch.css": "text/css",
    "uPlot.iife.min.js": "text/javascript",
    "uPlot.min.css": "text/css",
}
COOKIE = "keisei_watch_token"
LOOPBACK_NAMES = ("localhost",)
RECORDS = (".kif", ".kifu", ".csa")


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """The host of a ``Host:`` header, without its port."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class Guard(BaseHTTPMiddleware):
    """The token (any non-loopback address) or a loopback ``Host:`` (loopback)."""

    def __init__(self, app: Any, token: str | None) -> None:
        super().__init__(app)
        self.token = token

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if self.token is None:
            if not is_loopback(_host_name(request.headers.get("host", ""))):
                return _error(403, "this server answers only to a loopback host name")
            return await call_next(request)
        given = request.query_params.get("token")
        cookie = request.cookies.get(COOKIE, "")
        ok = secrets.compare_digest(given or cookie, self.token)
        if not ok:
            return _error(403, "a token is required: open the address keisei watch printed")
        response = await call_next(request)
        if given is not None:
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
        return response


class Watch:
    """The application's state: the runs, their locks, the analyst."""

    def __init__(self, runs: list[RunView]) -> None:
        self.runs = runs
        self.locks = [threading.Lock() for _ in runs]
        self.analyst = Analyst()
        self._games: dict[tuple[Path, int, int], Game] = {}

    def run_of(self, request: Request) -> tuple[int, RunView]:
        index: int = request.path_params["run"]
        if not 0 <= index < len(self.runs):
            raise NotFound(str(index))
        return index, self.runs[index]

    def game(self, run: RunView, relative: str) -> Game:
        path = inside(run.root, relative, _tops(run), RECORDS)
        st = path.stat()
        key = (path, st.st_size, st.st_mtime_ns)
        if key not in self._games:
            if len(self._games) > 64:
                self._games.clear()
            self._games[key] = load_game(path)
        return self._games[key]

    # -- handlers ------------------------------------------------------------------------
    def index(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    def static(self, request: Request) -> Response:
        name: str = request.path_params["name"]
        if name not in STATIC_FILES:
            return _error(404, "no such file")
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name])

    def list_runs(self, request: Request) -> Response:
        runs = [{"id": i, "name": r.name, "path": str(r.path)} for i, r in enumerate(self.runs)]
        return JSONResponse(runs)

    def summary(self, request: Request) -> Response:
        index, run = self.run_of(request)
        with self.locks[index]:
            data = run.summary()
        return JSONResponse({"id": index, **data})

    def game_json(self, request: Request) -> Response:
        index, run = self.run_of(request)
        game = self.game(run, request.path_params["path"])
        with self.locks[index]:
            run.refresh()
            reason = _episode_reason(run, game)
        return JSONResponse(game.to_json(reason))

    def board(self, request: Request) -> Response:
        _, run = self.run_of(request)
        game = self.game(run, request.path_params["path"])
        ply = _ply(request, game)
        return Response(game.board_svg(ply), media_type="image/svg+xml")

    def analysis(self, request: Request) -> Response:
        _, run = self.run_of(request)
        game = self.game(run, request.path_params["path"])
        ply = _ply(request, game)
        name = request.query_params.get("checkpoint", "")
        if name not in run.checkpoints():
            return _error(404, f"no checkpoint {name!r} in {run.name}")
        checkpoints = run.run.checkpoints.name
        path = inside(run.root, f"{checkpoints}/{name}", (checkpoints,), (".pt",))
        previous = game.record.moves[ply - 1] if ply > 0 else None
        try:
            result = self.analyst.analyse(path, game.sfens[ply], previous)
        except (OSError, ValueError) as exc:  # CheckpointError is a ValueError
            return _error(422, " ".join(str(exc).split()))
        return JSONResponse({"checkpoint": name, "ply": ply, **result})

    def download(self, request: Request) -> Response:
        _, run = self.run_of(request)
        path = inside(run.root, request.path_params["path"], _tops(run), DOWNLOADS)
        return FileResponse(path, media_type="application/octet-stream", filename=path.name)


def _tops(run: RunView) -> tuple[str, ...]:
    return run.run.games.name, run.run.evaluations.name


def _ply(request: Request, game: Game) -> int:
    text = request.query_params.get("ply", str(len(game.record.moves)))
    if not text.isdigit() or int(text) > len(game.record.moves):
        raise NotFound(f"ply {text}")
    return int(text)


def _episode_reason(run: RunView, game: Game) -> str | None:
    for entry in run.games():
        if entry["record"] == game.record.path.relative_to(run.root).as_posix():
            reason = entry.get("reason")
            return str(reason) if reason is not None else None
    return None


async def _not_found(request: Request, exc: Exception) -> Response:
    return _error(404, "not found")


async def _damaged(request: Request, exc: Exception) -> Response:
    return _error(422, " ".join(str(exc).split()))


def application(runs: list[RunView], token: str | None) -> Starlette:
    watch = Watch(runs)
    routes = [
        Route("/", watch.index),
        Route("/static/{name}", watch.static),
        Route("/api/runs", watch.list_runs),
        Route("/api/runs/{run:int}/summary", watch.summary),
        Route("/api/runs/{run:int}/game/{path:path}", watch.game_json),
        Route("/api/runs/{run:int}/board/{path:path}", watch.board),
        Route("/api/runs/{run:int}/analysis/{path:path}", watch.analysis),
        Route("/api/runs/{run:int}/files/{path:path}", watch.download),
    ]
    handlers: dict[Any, Callable[[Request, Exception], Any]] = {
        NotFound: _not_found,
        ValueError: _damaged,
    }
    return Starlette(
        routes=routes,
        middleware=[Middleware(Guard, token=token)],
        exception_handlers=handlers,
    )


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one); OSError if it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, which says which signal stopped it instead of raising it again."""

    signals: list[int]

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        self.signals = []
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        before = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in before.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.signals.append(sig)
        super().handle_exit(sig, frame)


def serve(app: Starlette, sock: socket.socket) -> int | None:
    """Serve until SIGINT, SIGTERM or SIGHUP; the signal that stopped it."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = _Server(config)
    server.run(sockets=[sock])
    return server.signals[0] if server.signals else None
