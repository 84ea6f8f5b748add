"""The ``keisei`` console command: one subcommand per module, each with its own --help.

Exit codes: 0 finished, 1 failed, 2 bad input, 130 SIGINT, 143 SIGTERM, 129 SIGHUP.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from keisei import __version__
from keisei.cli import bench, checkpoint, evaluate, ratings, selfplay, train
from keisei.errors import UsageError

# One module per subcommand, each with ``register(subparsers)`` which sets ``func``.
COMMANDS = (train, checkpoint, selfplay, evaluate, ratings, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keisei", description="Self-play deep reinforcement learning for Shogi with PPO."
    )
    parser.add_argument("--version", action="version", version=f"keisei {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except UsageError as exc:
        print(f"keisei {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
