"""``keisei checkpoint info``: what a checkpoint holds, with its invariants checked."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from keisei.errors import UsageError
from keisei.training.checkpoint import CheckpointError, resolve, weights_sha256
from keisei.training.state import TrainState


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("checkpoint", help="inspect checkpoints")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = sub.add_parser(
        "info",
        help="counters, config hash and weights hash of a checkpoint",
        description="PATH is a checkpoint file or a run directory (its newest valid checkpoint).",
    )
    info.add_argument("path", type=Path, metavar="PATH|RUN_DIR")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=run_info)


def checkpoint_info(path: Path) -> dict[str, Any]:
    warnings: list[str] = []
    ckpt, payload = resolve(path, warnings.append)
    for message in warnings:
        print(f"warning: {message}", file=sys.stderr)
    state = TrainState.from_dict(payload["state"])
    weights = weights_sha256(payload["model"])
    problems = state.check_invariants()
    if weights != payload.get("weights_sha256"):
        problems.append("weights_sha256 does not match the stored weights")
    return {
        "path": str(ckpt),
        "status": payload.get("status"),
        "keisei_version": payload.get("keisei_version"),
        "created": payload.get("created"),
        "global_step": state.global_step,
        "updates": state.updates,
        "episodes": state.episodes,
        "black_wins": state.black_wins,
        "white_wins": state.white_wins,
        "draws": state.draws,
        "reasons": state.reasons,
        "finished_plies": state.finished_plies,
        "weights_sha256": weights,
        "config_sha256": payload.get("config_sha256"),
        "model": payload["config"]["model"],
        "invariants_ok": not problems,
        "problems": problems,
    }


def run_info(args: argparse.Namespace) -> int:
    try:
        info = checkpoint_info(args.path)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:16s} {value}")
    return 0 if info["invariants_ok"] else 1
