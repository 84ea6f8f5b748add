"""The ``keisei`` console command: one subcommand per module, each with its own --help.

Exit codes: 0 finished, 1 failed, 2 bad input, 130 SIGINT, 143 SIGTERM, 129 SIGHUP.

Bad input is reported in one line on stderr (argparse's own errors included) and nothing
is created. Ctrl-C while the command starts (importing torch takes seconds) ends it with
one line and exit 130: until the subcommand runs, SIGINT exits at once (nothing has been
created yet; a KeyboardInterrupt raised inside an import can come out as another error,
e.g. cshogi's ImportError). This module imports only the standard library at the top, so
that this holds from the first moment ``main`` runs.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from keisei.errors import UsageError  # imports nothing

if TYPE_CHECKING:
    import argparse


def _interrupted_at_startup(_signum: int, _frame: FrameType | None) -> None:
    os.write(2, b"keisei: interrupted\n")
    os._exit(130)


def build_parser() -> argparse.ArgumentParser:
    import argparse

    from keisei import __version__

    # One module per subcommand, each with ``register(subparsers)`` which sets ``func``.
    from keisei.cli import bench, checkpoint, evaluate, play, ratings, selfplay, train, usi
    from keisei.cli.checks import harden

    class Parser(argparse.ArgumentParser):
        """Errors in one line: ``PROG: error: MESSAGE (see 'PROG --help')``.

        Subparsers are of the same class (argparse makes them with ``type(parent)``).
        """

        def error(self, message: str) -> NoReturn:
            text = " ".join(message.split())
            self.exit(2, f"{self.prog}: error: {text} (see '{self.prog} --help')\n")

    parser = Parser(
        prog="keisei", description="Self-play deep reinforcement learning for Shogi with PPO."
    )
    parser.add_argument("--version", action="version", version=f"keisei {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (train, checkpoint, selfplay, evaluate, ratings, bench, usi, play):
        module.register(subparsers)
    harden(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Only where SIGINT has Python's default handler (not where it is ignored, as for a
    # background job, nor where a caller installed its own).
    startup = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if startup:
        try:
            signal.signal(signal.SIGINT, _interrupted_at_startup)
        except ValueError:  # not the main thread
            startup = False
    command = "keisei"
    try:
        try:
            # SystemExit (--help, --version, a usage error) goes through, as from argparse.
            args = build_parser().parse_args(argv)
        finally:
            if startup:
                signal.signal(signal.SIGINT, signal.default_int_handler)
        command = f"keisei {args.command}"
        code: int = args.func(args)
    except UsageError as exc:
        print(f"{command}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before the subcommand took SIGINT over, or not caught by it
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
