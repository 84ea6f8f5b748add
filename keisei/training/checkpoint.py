"""Checkpoint files: atomic, checksummed, self-describing.

File layout: ``KEISEI-CKPT 1\\n`` + sha256 of the payload (64 hex chars) + ``\\n`` + payload,
where the payload is ``torch.save`` of a dict. A truncated or corrupted file fails the
checksum and is reported by name. Files are written to a temporary name in the same
directory, fsynced, then renamed, so a crash (even kill -9) mid-write never damages an
existing checkpoint. Checkpoints contain pickled Python objects: load only files you trust.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from keisei.config import ModelConfig
from keisei.files import atomic_write
from keisei.rl.network import ActorCritic, load_weights

MAGIC = b"KEISEI-CKPT 1\n"
_STEP_FILE = re.compile(r"^step_(\d+)\.pt$")
BEST_NAME = "best.pt"
# The model shipped inside the package, named ``bundled`` wherever a checkpoint is
# (docs/results.md: how it was trained; tests/test_bundled.py: that it still loads).
BUNDLED = "bundled"
BUNDLED_PATH = Path(__file__).resolve().parent.parent / "bundled" / "default.pt"
# What an exported checkpoint keeps: enough to load, name and describe the network.
_EXPORTED_KEYS = (
    "format",
    "keisei_version",
    "status",
    "created",
    "config",
    "config_sha256",
    "action_space",
    "model",
    "weights_sha256",
    "state",
)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used, with the reason and the file named."""


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 over parameter names, dtypes, shapes and bytes, in state_dict order."""
    h = hashlib.sha256()
    for name, tensor in state_dict.items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


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
        ModelConfig.model_validate(config["model"])
    except ValueError:
        return "its model config is not valid"
    model = payload.get("model")
    if not isinstance(model, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in model.items()
    ):
        return "no model weights (a dict of named tensors)"
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


def step_of(path: Path) -> int:
    match = _STEP_FILE.match(path.name)
    return int(match.group(1)) if match else -1


def list_checkpoints(run_dir_or_ckpt_dir: Path) -> list[Path]:
    """Step checkpoints of a run (``RUN/checkpoints/step_*.pt``), oldest first."""
    directory = run_dir_or_ckpt_dir
    if (directory / "checkpoints").is_dir():
        directory = directory / "checkpoints"
    if not directory.is_dir():
        return []
    files = [p for p in directory.iterdir() if _STEP_FILE.match(p.name)]
    return sorted(files, key=step_of)


def latest_valid(
    run_dir: Path,
    warn: Callable[[str], None],
    accept: Callable[[dict[str, Any]], bool] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """The newest checkpoint that passes its checksum (and ``accept``); warns on each skip."""
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
        return path, payload
    raise CheckpointError(f"no valid checkpoint in {run_dir}")


def resolve(path: Path, warn: Callable[[str], None] | None = None) -> tuple[Path, dict[str, Any]]:
    """A checkpoint file, or a run directory meaning its newest valid checkpoint."""
    if path.is_dir():
        return latest_valid(path, warn or (lambda _msg: None))
    return path, read_checkpoint(path)


def model_path(spec: str | Path) -> Path:
    """The checkpoint or run directory a command line names; ``bundled`` is the shipped
    model (``./bundled`` names a directory of that name)."""
    return BUNDLED_PATH if str(spec) == BUNDLED else Path(spec)


def exported(payload: dict[str, Any], source: Path) -> dict[str, Any]:
    """A training checkpoint's weights, config and counters, without the optimizer, the
    rollout, the games in progress and the RNGs: loads everywhere a checkpoint does
    (players, ``keisei usi``, ``keisei play``), about a third of the size, not resumable."""
    out = {key: payload[key] for key in _EXPORTED_KEYS if key in payload}
    out["model"] = {name: t.detach().clone().contiguous() for name, t in payload["model"].items()}
    out["exported_from"] = {"path": str(source), "status": payload.get("status")}
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
    try:
        model_config = ModelConfig.model_validate(payload["config"]["model"])
        model = ActorCritic(model_config)
        load_weights(model, payload["model"], payload["config"]["model"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{ckpt_path}: cannot build its network ({exc})") from None
    model.to(device)
    model.eval()
    meta = {k: v for k, v in payload.items() if k not in ("model", "agent", "env", "rollout")}
    meta["path"] = str(ckpt_path)
    meta["global_step"] = payload["state"]["global_step"]
    return model, meta
