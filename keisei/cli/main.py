"""The ``keisei`` console command: one subcommand per module, each with its own --help.

Exit codes: 0 finished, 1 failed, 2 bad input, 130 SIGINT, 143 SIGTERM, 129 SIGHUP.

Bad input is reported in one line on stderr (argparse's own errors included) and nothing
is created. The entry point is ``keisei.__main__``, which makes Ctrl-C exit at once
(``keisei.cli.start``) while this module's imports load; ``main`` keeps it so until the
arguments are read.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from keisei import __version__

# One module per subcommand, each with ``register(subparsers)`` which sets ``func``.
from keisei.cli import (
    bench,
    checkpoint,
    evaluate,
    ladder,
    play,
    pretrain,
    ratings,
    selfplay,
    train,
    usi,
    watch,
)
from keisei.cli.checks import harden
from keisei.cli.start import exit_at_once_on_sigint
from keisei.errors import UsageError

COMMANDS = (
    train,
    pretrain,
    checkpoint,
    selfplay,
    evaluate,
    ladder,
    ratings,
    bench,
    usi,
    play,
    watch,
)


class Parser(argparse.ArgumentParser):
    """Errors in one line: ``PROG: error: MESSAGE (see 'PROG --help')``.

    Subparsers are of the same class (argparse makes them with ``type(parent)``).
    """

    def error(self, message: str) -> NoReturn:
        text = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {text} (see '{self.prog} --help')\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        # A subcommand reports the arguments it does not know itself, so that the error
        # names it ("keisei evaluate: error: ..."), not the top-level parser.
        parsed, extras = super().parse_known_args(args, namespace)
        if extras and " " in self.prog:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="keisei", description="Self-play deep reinforcement learning for Shogi with PPO."
    )
    parser.add_argument("--version", action="version", version=f"keisei {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(subparsers)
    harden(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    startup = exit_at_once_on_sigint()
    command = "keisei"
    try:
        try:
            # SystemExit (--help, --version, a usage error) goes through, as from argparse.
            args = build_parser().parse_args(argv)
        finally:
            if startup:
                signal.signal(signal.SIGINT, signal.default_int_handler)
        # A nested subcommand (`checkpoint export`) is named whole in its errors.
        command = " ".join(["keisei", args.command, *([args.action] if "action" in args else [])])
        code: int = args.func(args)
    except UsageError as exc:
        for message in exc.warnings:
            print(f"warning: {message}", file=sys.stderr)
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
