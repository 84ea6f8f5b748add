"""Checkpoint files: atomic, checksummed, self-describing.

File layout: ``KEISEI-CKPT 1\\n`` + sha256 of the payload (64 hex chars) + ``\\n`` + payload,
where the payload is ``torch.save`` of a dict. A truncated or corrupted file fails the
checksum and is reported by name. Files are written to a temporary name in the same
directory, fsynced, then renamed, so a crash (even kill -9) mid-write never damages an
existing checkpoint. Checkpoints contain pickled Python objects: load only files you trust.

Schema. Every checkpoint starts with the same header (``checkpoint_header``: format,
version, status, config, action space, weights and their hash); a training checkpoint adds
``RESUME_KEYS`` (of which ``RANK_KEYS`` are each rank's own, and ``peer_ranks`` /
``world_size`` hold the other ranks' for a run of several), ``state`` and ``wandb_run_id``;
an exported one keeps ``EXPORTED_KEYS``; a pretrained one adds ``state`` and
``pretrained_from``. The key lists below are the only ones.

Weights. A checkpoint's weights must be finite (``weights_problem``): the trainer writes
no other, ``latest_valid`` skips one and ``load_model`` refuses one.

Pruning. ``prune`` keeps the newest ``keep_last`` periodic checkpoints (steps that are
multiples of ``checkpoint.every_steps``) and any other checkpoint (interrupted, failed,
finished) only while it is newer than all of them: the periodic checkpoints of an
interrupted and resumed run are those of an uninterrupted one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from keisei import __version__
from keisei.config import ModelSection, TrainConfig
from keisei.files import atomic_write
from keisei.game.encoding import NUM_ACTIONS, NUM_PLANES
from keisei.rl.network import ActorCritic, load_weights
from keisei.training.rundir import STEP_FILE, RunDir

MAGIC = b"KEISEI-CKPT 1\n"
FORMAT = 1  # the payload's "format"
# The model shipped inside the package, named ``bundled`` wherever a checkpoint is
# (docs/results.md: how it was trained; tests/test_bundled.py: that it still loads).
BUNDLED = "bundled"
BUNDLED_PATH = Path(__file__).resolve().parent.parent / "bundled" / "default.pt"
# The header every checkpoint starts with (``checkpoint_header``), in its order.
HEADER_KEYS = (
    "format",
    "keisei_version",
    "status",  # running | finished | interrupted | failed | pretrained
    "created",
    "config",
    "config_sha256",
    "action_space",
    "model",
    "weights_sha256",
)
# What an exported checkpoint keeps: enough to load, name and describe the network
# ("world_size": how many processes trained it, for `checkpoint info`).
EXPORTED_KEYS = (*HEADER_KEYS, "state", "world_size")
# Each rank's own parts of a training checkpoint (``Trainer.rank_snapshot``); rank 0's are
# the top-level ones, the other ranks' are in PEER_KEYS. "actor" (a league's games; {}
# without one) is missing from checkpoints of keisei before the league, read as {}.
RANK_KEYS = ("rollout", "env", "rng", "actor")
PEER_KEYS = ("peer_ranks", "world_size")
# What a resumed run needs besides the header and the state ("league": the pool of a
# run with league.fraction > 0, which all ranks share; None or missing without one;
# "average": the weight average, None or missing before its first snapshot).
RESUME_KEYS = ("agent", "rollout", "env", "rng")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used, with the reason and the file named."""


def action_space() -> dict[str, int]:
    """The encoding a checkpoint's network was trained for; a resumed run needs the same."""
    return {"actions": NUM_ACTIONS, "planes": NUM_PLANES}


def checkpoint_header(
    config: TrainConfig,
    status: str,
    model_state: dict[str, torch.Tensor],
    consistent: bool | None = None,
) -> dict[str, Any]:
    """The ``HEADER_KEYS`` of a checkpoint of ``model_state`` (``consistent``: a training
    checkpoint's flag that it was taken at a safe point, after ``status``)."""
    head: dict[str, Any] = {"format": FORMAT, "keisei_version": __version__, "status": status}
    if consistent is not None:
        head["consistent"] = consistent
    return head | {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": config.model_dump(mode="json"),
        "config_sha256": config.sha256(),
        "action_space": action_space(),
        "model": model_state,
        "weights_sha256": weights_sha256(model_state),
    }


def split_ranks(payload: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A checkpoint of a run of several ranks as what all ranks share, and each rank's own
    parts (``RANK_KEYS``) in rank order."""
    shared = {k: v for k, v in payload.items() if k not in (*RANK_KEYS, *PEER_KEYS)}
    own = [{k: payload.get(k) for k in RANK_KEYS}, *payload.get("peer_ranks", [])]
    return shared, own


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 over parameter names, dtypes, shapes and bytes, in state_dict order."""
    h = hashlib.sha256()
    for name, tensor in state_dict.items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def nonfinite(weights: dict[str, torch.Tensor]) -> list[str]:
    """The names of the floating-point tensors that hold a NaN or an infinity, in order
    (one wait for the device, not one per tensor)."""
    floats = [(name, t) for name, t in weights.items() if t.is_floating_point() and t.numel()]
    if not floats:
        return []
    finite = torch.stack([torch.isfinite(t.detach()).all() for _, t in floats]).cpu().tolist()
    return [name for (name, _), ok in zip(floats, finite, strict=True) if not ok]


class Diverged(RuntimeError):
    """An update made a loss or a weight non-finite (NaN or infinity): training stops, and
    no file is written with such weights (``keisei train``: the newest checkpoint is the
    last good one; ``keisei pretrain``: no --out)."""


def check_finite(update: str, losses: dict[str, float], weights: dict[str, torch.Tensor]) -> None:
    """Raise ``Diverged`` naming ``update`` (e.g. ``update 13 (at step 832)``) and what of
    its losses (on the host already) and weights is not finite; nothing if all are."""
    bad_losses = [f"{key} {value}" for key, value in losses.items() if not math.isfinite(value)]
    bad_weights = nonfinite(weights)
    if not bad_losses and not bad_weights:
        return
    what = []
    if bad_losses:
        what.append("a non-finite loss (" + ", ".join(bad_losses) + ")")
    if bad_weights:
        names = ", ".join(bad_weights[:3]) + (", ..." if len(bad_weights) > 3 else "")
        tensors = "tensor" if len(bad_weights) == 1 else "tensors"
        what.append(f"non-finite weights in {len(bad_weights)} {tensors} ({names})")
    raise Diverged(f"{update} gave " + " and ".join(what))


def weights_problem(payload: dict[str, Any]) -> str | None:
    """Why a checkpoint's weights cannot be used (NaN or infinity: a run that diverged),
    or None."""
    bad = nonfinite(payload["model"])
    average = payload.get("average")
    if not bad and average is not None:  # the weights that play (playing_weights)
        bad = [f"average {name}" for name in nonfinite(average["weights"])]
    if not bad:
        return None
    names = ", ".join(bad[:3]) + (", ..." if len(bad) > 3 else "")
    return (
        f"its weights are not finite: NaN or infinity in {len(bad)} of "
        f"{len(payload['model'])} tensors ({names})"
    )


def write_checkpoint(path: Path, payload: dict[str, Any]) -> Path:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest().encode()
    return atomic_write(path, (MAGIC, digest + b"\n", data))


def read_checkpoint(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.is_dir():
        raise CheckpointError(f"checkpoint path is a directory: {path}")
    blob = path.read_bytes()
    header = len(MAGIC) + 65
    if not blob.startswith(MAGIC):
        raise CheckpointError(f"{path} is not a keisei checkpoint (bad header)")
    if len(blob) < header:
        raise CheckpointError(f"{path} is truncated")
    expected = blob[len(MAGIC) : len(MAGIC) + 64].decode("ascii", "replace")
    data = blob[header:]
    if hashlib.sha256(data).hexdigest() != expected:
        raise CheckpointError(f"{path} is corrupt or truncated (checksum mismatch)")
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
    except Exception as exc:  # unpickling garbage that happens to match the checksum
        raise CheckpointError(f"{path} cannot be unpickled ({type(exc).__name__})") from None
    problem = _payload_problem(payload)
    if problem is not None:
        raise CheckpointError(f"{path} is not a keisei training checkpoint ({problem})")
    checked: dict[str, Any] = payload
    return checked


_STATE_COUNTERS = (
    "global_step",
    "updates",
    "episodes",
    "black_wins",
    "white_wins",
    "draws",
    "finished_plies",
)


def _payload_problem(payload: Any) -> str | None:
    """What a checkpoint's unpickled payload lacks that every reader needs, or None.

    The header and checksum only say the file is whole; a foreign object (a list, another
    program's dict) saved under a valid header is refused here, by name, not by a KeyError.
    """
    if not isinstance(payload, dict):
        return f"it holds a {type(payload).__name__}, not a checkpoint dictionary"
    config = payload.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        return "no config with a model section"
    try:
        ModelSection.model_validate(config["model"])
    except ValueError:
        return "its model config is not valid"
    model = payload.get("model")
    if not isinstance(model, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in model.items()
    ):
        return "no model weights (a dict of named tensors)"
    problem = _average_problem(payload.get("average"), model)
    if problem is not None:
        return problem
    state = payload.get("state")
    if not isinstance(state, dict):
        return "no training state"
    if "global_step" not in state:
        return "training state has no counter 'global_step'"
    for key in _STATE_COUNTERS:  # absent counters read as 0
        value = state.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"training state counter {key!r} is not a count: {value!r}"
    reasons = state.get("reasons", {})
    if not isinstance(reasons, dict) or not all(
        isinstance(k, str) and isinstance(v, int) for k, v in reasons.items()
    ):
        return "training state has no termination reason counts"
    best = state.get("best_score")
    if best is not None and (not isinstance(best, int | float) or isinstance(best, bool)):
        return "training state has a best_score that is not a number"
    extra = set(state) - {*_STATE_COUNTERS, "reasons", "best_score"}
    if extra:
        return f"training state has unknown fields {sorted(extra)}"
    return None


def _average_problem(average: Any, model: dict[str, torch.Tensor]) -> str | None:
    """What is wrong with a payload's "average" (``WeightAverage.state_dict``), or None."""
    if average is None:  # none yet, or keisei before the average
        return None
    if not isinstance(average, dict) or set(average) != {"weights", "count"}:
        return "an average that is not {weights, count}"
    count = average["count"]
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        return f"an average of {count!r} snapshots"
    weights = average["weights"]
    if not isinstance(weights, dict) or list(weights) != list(model):
        return "an average whose tensors are not the model's"
    for name, tensor in weights.items():
        if not isinstance(tensor, torch.Tensor) or tensor.shape != model[name].shape:
            return f"an average whose {name} is not shaped as the model's"
    return None


def averaged(payload: dict[str, Any]) -> int:
    """How many snapshots a checkpoint's playing weights average (0: the network's own).
    An export's weights are its source's playing weights: its source's count."""
    average = payload.get("average")
    if average is not None:
        return int(average["count"])
    source = payload.get("exported_from")
    return int(source.get("averaged", 0)) if isinstance(source, dict) else 0


def playing_weights(payload: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The weights a checkpoint plays with: its weight average once that holds a snapshot
    (keisei.training.averaging), else its network's. Resume alone takes "model"."""
    average = payload.get("average")
    weights: dict[str, torch.Tensor] = payload["model"] if average is None else average["weights"]
    return weights


def step_of(path: Path) -> int:
    match = STEP_FILE.match(path.name)
    return int(match.group(1)) if match else -1


def list_checkpoints(run_dir_or_ckpt_dir: Path) -> list[Path]:
    """Step checkpoints of a run (``RUN/checkpoints/step_*.pt``), oldest first."""
    directory = run_dir_or_ckpt_dir
    if RunDir(directory).checkpoints.is_dir():
        directory = RunDir(directory).checkpoints
    if not directory.is_dir():
        return []
    files = [p for p in directory.iterdir() if STEP_FILE.match(p.name)]
    return sorted(files, key=step_of)


def prune(directory: Path, keep_last: int, every_steps: int) -> list[Path]:
    """Delete the step checkpoints the rule above does not keep; returns what was removed."""
    files = list_checkpoints(directory)
    periodic = [p for p in files if step_of(p) % every_steps == 0]
    newest_periodic = step_of(periodic[-1]) if periodic else -1
    keep = set(periodic[-keep_last:]) if keep_last > 0 else set()
    keep |= {p for p in files if p not in periodic and step_of(p) > newest_periodic}
    keep |= set(files[-1:])  # the newest is never removed
    doomed = [p for p in files if p not in keep]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def latest_valid(
    run_dir: Path,
    warn: Callable[[str], None],
    accept: Callable[[dict[str, Any]], bool] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """The newest checkpoint that passes its checksum (and ``accept``) with finite weights;
    warns on each skip."""
    for path in reversed(list_checkpoints(run_dir)):
        try:
            payload = read_checkpoint(path)
        except CheckpointError as exc:
            warn(f"skipping checkpoint {path}: {exc}")
            continue
        except Exception as exc:  # unpickling garbage that happens to match the checksum
            warn(f"skipping checkpoint {path}: unreadable ({exc})")
            continue
        if accept is not None and not accept(payload):
            warn(f"skipping checkpoint {path}: written by a failed run mid-update")
            continue
        problem = weights_problem(payload)
        if problem is not None:
            warn(f"skipping checkpoint {path}: {problem}")
            continue
        return path, payload
    raise CheckpointError(f"no valid checkpoint in {run_dir}")


def warn_on_stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def resolve(
    path: Path, warn: Callable[[str], None] = warn_on_stderr
) -> tuple[Path, dict[str, Any]]:
    """A checkpoint file, or a run directory meaning its newest valid checkpoint (each
    checkpoint skipped on the way said to ``warn``, so that a damaged newest one is never
    passed over silently, nor the reasons lost when none is valid)."""
    if path.is_dir():
        return latest_valid(path, warn)
    return path, read_checkpoint(path)


def model_path(spec: str | Path) -> Path:
    """The checkpoint or run directory a command line names; ``bundled`` is the shipped
    model (``./bundled`` names a directory of that name)."""
    return BUNDLED_PATH if str(spec) == BUNDLED else Path(spec)


def exported(payload: dict[str, Any], source: Path) -> dict[str, Any]:
    """A training checkpoint's weights, config and counters, without the optimizer, the
    rollout, the games in progress and the RNGs: loads everywhere a checkpoint does
    (players, ``keisei usi``, ``keisei play``), about a third of the size, not resumable."""
    out = {key: payload[key] for key in EXPORTED_KEYS if key in payload}
    weights = playing_weights(payload)
    out["model"] = {name: t.detach().clone().contiguous() for name, t in weights.items()}
    out["weights_sha256"] = weights_sha256(out["model"])
    out["exported_from"] = {
        "path": str(source),
        "status": payload.get("status"),
        "averaged": averaged(payload),
    }
    return out


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Delete temporary files of writes that never finished (the writer was killed)."""
    stale = sorted(p for p in directory.glob(".*.pt.*.tmp") if p.is_file())
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def load_model(path: str | Path, device: str = "cpu") -> tuple[ActorCritic, dict[str, Any]]:
    """An ActorCritic with a checkpoint's weights (a .pt file or a run directory)."""
    ckpt_path, payload = resolve(Path(path))
    problem = weights_problem(payload)
    if problem is not None:  # a network that plays and evaluates as nonsense
        raise CheckpointError(f"{ckpt_path} cannot be used: {problem}")
    try:
        model_config = ModelSection.model_validate(payload["config"]["model"])
        model = ActorCritic(model_config)
        load_weights(model, playing_weights(payload), payload["config"]["model"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{ckpt_path}: cannot build its network ({exc})") from None
    model.to(device)
    model.eval()
    meta = {k: v for k, v in payload.items() if k not in ("model", "agent", "env", "rollout")}
    meta["path"] = str(ckpt_path)
    meta["global_step"] = payload["state"]["global_step"]
    return model, meta
