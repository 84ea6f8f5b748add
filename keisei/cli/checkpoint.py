"""``keisei checkpoint info|export``: what a checkpoint holds, with its invariants checked;
its weights alone, to share or to ship; its network as ONNX (``--onnx``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from keisei.errors import UsageError
from keisei.files import atomic_write, check_new_file
from keisei.training.checkpoint import (
    CheckpointError,
    averaged,
    exported,
    load_model,
    model_path,
    playing_weights,
    resolve,
    weights_problem,
    weights_sha256,
    write_checkpoint,
)
from keisei.training.onnx_export import CHECK_POSITIONS, OPSET, export_checked
from keisei.training.state import TrainState


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("checkpoint", help="inspect checkpoints")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = sub.add_parser(
        "info",
        help="counters, config hash and weights hash of a checkpoint",
        description="PATH is a checkpoint file or a run directory (its newest valid checkpoint).",
    )
    info.add_argument("path", type=Path, metavar="PATH|RUN_DIR|bundled")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=run_info)
    export = sub.add_parser(
        "export",
        help="write a checkpoint's weights, config and counters only (a small file to "
        "share), or its network as ONNX",
        description="Writes --out (a new file) from PATH (a checkpoint file, a run "
        "directory: its newest valid checkpoint, or bundled: the model shipped with "
        "keisei) without the optimizer, rollout, games "
        "and RNG states. The result loads wherever a checkpoint does (evaluate, usi, "
        "play) but cannot be resumed. --onnx instead writes the network as ONNX in "
        "dlshogi's input/output layout, checked against PyTorch with ONNX Runtime "
        "(docs/file-formats.md).",
    )
    export.add_argument("path", type=Path, metavar="PATH|RUN_DIR|bundled")
    dest = export.add_mutually_exclusive_group(required=True)
    dest.add_argument("--out", type=Path, help="the .pt file to write (must not exist yet)")
    dest.add_argument(
        "--onnx",
        type=Path,
        metavar="FILE",
        help=f"the ONNX file to write (must not exist yet; opset {OPSET}, dlshogi's layout)",
    )
    export.set_defaults(func=run_export)


def checkpoint_info(path: Path | str) -> dict[str, Any]:
    ckpt, payload = resolve(model_path(path))
    state = TrainState.from_dict(payload["state"])
    weights = weights_sha256(payload["model"])
    problems = state.check_invariants()
    if weights != payload.get("weights_sha256"):
        problems.append("weights_sha256 does not match the stored weights")
    nonfinite = weights_problem(payload)
    if nonfinite is not None:
        problems.append(nonfinite)
    ranks = int(payload.get("world_size", 1))
    peers = len(payload.get("peer_ranks", []))
    if "rollout" in payload and peers != ranks - 1:  # exported checkpoints keep no games
        problems.append(f"world_size {ranks} but the games of {peers} other ranks")
    return {
        "path": str(ckpt),
        "status": payload.get("status"),
        "keisei_version": payload.get("keisei_version"),
        "created": payload.get("created"),
        "ranks": ranks,  # processes that trained it
        "global_step": state.global_step,
        "updates": state.updates,
        "episodes": state.episodes,
        "black_wins": state.black_wins,
        "white_wins": state.white_wins,
        "draws": state.draws,
        "reasons": state.reasons,
        "finished_plies": state.finished_plies,
        "weights_sha256": weights,
        # the weights it plays with: its weight average, once that holds a snapshot
        "averaged": averaged(payload),
        "playing_sha256": weights_sha256(playing_weights(payload)),
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


def run_export(args: argparse.Namespace) -> int:
    onnx = args.onnx is not None
    dest: Path = args.onnx if onnx else args.out
    check_new_file(dest, "--onnx" if onnx else "--out")
    try:
        source, payload = resolve(model_path(args.path))
        problem = weights_problem(payload)
        if problem is not None:  # a diverged run's weights are no model to hand on
            raise UsageError(f"{source} cannot be exported: {problem}")
        if onnx:
            return export_onnx(source, payload, dest)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    write_checkpoint(dest, exported(payload, source))
    print(f"exported {source} to {dest} ({dest.stat().st_size:,} bytes)")
    return 0


def export_onnx(source: Path, payload: dict[str, Any], dest: Path) -> int:
    """``--onnx``: the network, checked against PyTorch on real positions, then written."""
    model, _ = load_model(source)
    try:
        data, (policy, value) = export_checked(model, payload, source)
    except ModuleNotFoundError as exc:  # onnxscript, which torch's exporter imports
        raise UsageError(
            f"--onnx needs the Python package {exc.name} (one of keisei's dependencies: "
            f"pip install {exc.name})"
        ) from None
    atomic_write(dest, data)
    print(
        f"exported {source} to {dest} as ONNX (opset {OPSET}, {len(data):,} bytes); "
        f"ONNX Runtime matches PyTorch on {CHECK_POSITIONS} positions within "
        f"{policy:.1e} (policy logits) and {value:.1e} (value)"
    )
    return 0
