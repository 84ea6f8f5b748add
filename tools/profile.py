"""Summarize a ``py-spy record -f raw`` profile below one function (a developer tool).

Run from the repository root (see docs/performance.md)::

    .venv/bin/py-spy record -r 100 -f raw -o train.raw -- .venv/bin/keisei train ...
    .venv/bin/python -m tools.profile train.raw --root Trainer.run --lines 15

Samples below the frame named ``--root`` are counted by the frame directly below it and by
the deepest line of keisei code on the stack, so the time of a C, C++ or torch call counts
for the keisei line that made it.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
from pathlib import Path

# One py-spy frame: "function (file:line)".
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")

Shares = list[tuple[float, str]]  # (per cent of the samples, frame), largest first


def profile_top(
    raw: Path, root: str = "Trainer.run", lines: int = 15
) -> tuple[int, Shares, Shares]:
    """Summarize a ``py-spy record -f raw`` file: samples below the frame named ``root``,
    by the frame directly below ``root`` and by the deepest keisei line on the stack (so a
    C or torch call made by that line counts for it). Returns (samples, phases, lines)."""
    by_phase: collections.Counter[str] = collections.Counter()
    by_line: collections.Counter[str] = collections.Counter()
    total = 0
    with open(raw, encoding="utf-8") as f:
        for text in f:
            stack, _, count = text.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            frames = stack.split(";")
            names = [frame.split(" (", 1)[0] for frame in frames]
            if root not in names:
                continue
            n = int(count)
            total += n
            below = frames[names.index(root) + 1 :]
            by_phase[below[0] if below else "(in the root itself)"] += n
            deepest = "(no keisei frame)"
            for frame in below:
                m = _FRAME.match(frame)
                if m and m.group("file").startswith("keisei/"):
                    deepest = frame
            by_line[deepest] += n
    share = 100.0 / max(total, 1)
    return (
        total,
        [(n * share, k) for k, n in by_phase.most_common(lines)],
        [(n * share, k) for k, n in by_line.most_common(lines)],
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.profile",
        description="Summarize a `py-spy record -f raw` profile below one function.",
    )
    p.add_argument("raw", type=Path, help="the file `py-spy record -f raw -o RAW` wrote")
    p.add_argument("--root", default="Trainer.run", help="function to look below")
    p.add_argument("--lines", type=int, default=15, help="rows of each summary (default 15)")
    args = p.parse_args(argv)
    total, phases, lines = profile_top(args.raw, args.root, args.lines)
    print(f"{total} samples below {args.root}\n\nby call below {args.root}:")
    for share, name in phases:
        print(f"{share:5.1f} %  {name}")
    print("\nby deepest keisei line:")
    for share, name in lines:
        print(f"{share:5.1f} %  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
