"""``keisei usi CHECKPOINT|RUN_DIR``: a checkpoint as a USI engine, for Shogi GUIs.

USI on stdin/stdout only; diagnostics on stderr. A checkpoint that is missing or cannot be
loaded is reported on stderr with exit 2, before anything is written to stdout. See
docs/usi.md and ``keisei.search.usi_engine``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from keisei import __version__
from keisei.cli.checks import load_cli_model
from keisei.search.usi_engine import USIEngine, read_lines
from keisei.training.checkpoint import BUNDLED, BUNDLED_PATH
from keisei.training.rundir import RunDir


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "usi",
        help="run a checkpoint as a USI engine (for Shogi GUIs and engine matches)",
        description="Speak USI on stdin/stdout with the network of CHECKPOINT (a .pt file) "
        "or of RUN_DIR (its newest valid checkpoint), choosing moves by PUCT tree search "
        "(or the raw policy: setoption MoveSelection). In a GUI, register the executable "
        "that 'scripts/keisei-usi --wrapper RUN_DIR' writes: see docs/usi.md.",
    )
    p.add_argument("checkpoint", type=Path, metavar="CHECKPOINT|RUN_DIR|bundled")
    p.add_argument(
        "--device", default="cpu", help="torch device of the network (default cpu; USI: Device)"
    )
    p.set_defaults(func=run)


def engine_name(meta: dict[str, Any]) -> str:
    """``keisei VERSION RUN step N``: ASCII (cshogi's client decodes it as ASCII) and
    without the characters file names cannot hold (GUIs and cshogi name records by it)."""
    path = Path(str(meta["path"]))
    if RunDir.holds(path):  # a run directory's checkpoint: the run
        owner = RunDir.of(path).path.name
    elif path.resolve() == BUNDLED_PATH:
        owner = BUNDLED
    else:  # a checkpoint file elsewhere: the file, not the folder it happens to be in
        owner = path.stem
    name = f"keisei {__version__} {owner} step {meta['global_step']}"
    name = name.encode("ascii", "replace").decode("ascii")
    return "".join("_" if c in '/\\:*?"<>|' else c for c in name)


def run(args: argparse.Namespace) -> int:
    model, meta = load_cli_model(args.checkpoint, args.device)
    engine = USIEngine(model, name=engine_name(meta), author="keisei")
    engine.values["Device"] = engine.device = args.device
    engine.search.network.device = args.device
    print(f"keisei usi: loaded {meta['path']}", file=sys.stderr)
    return engine.run(read_lines(sys.stdin.buffer))
