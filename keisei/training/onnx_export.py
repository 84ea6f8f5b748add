"""A checkpoint's network as ONNX, in dlshogi's input/output layout, and ONNX Runtime over it.

The file (docs/file-formats.md, "ONNX export") is what dlshogi's
``convert_model_to_onnx.py`` writes, so that engines built for dlshogi's models load it:

* inputs ``input1`` float32 (N, 62, 9, 9) and ``input2`` float32 (N, 57, 9, 9): cshogi's
  ``dlshogi.make_input_features`` (features1, features2), which are keisei's 119 planes
  split after plane 62 (the network concatenates them back);
* outputs ``output_policy`` float32 (N, 2187): the policy logits, unmasked, indexed by
  dlshogi's move labels (``encoding.move_label``); ``output_value`` float32 (N, 1): the
  expected score for the side to move in [0, 1], ``(v + 1) / 2`` of keisei's value ``v``
  in [-1, 1] (with a WDL head ``P(win) + P(draw) / 2``), which dlshogi reads as its win
  probability (its own export appends a sigmoid);
* N is dynamic (``batch_size``); opset ``OPSET``; metadata properties ``METADATA_KEYS``.

Written by PyTorch's ``torch.export``-based exporter (``torch.onnx.export(dynamo=True)``,
which needs ``onnxscript``; the TorchScript exporter is deprecated since torch 2.9).
``OnnxForward`` runs such a file with ONNX Runtime as a search's ``Forward``.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from keisei import __version__
from keisei.game.encoding import NUM_PLANES
from keisei.game.env import ShogiEnv, random_legal
from keisei.rl.network import ActorCritic
from keisei.search.leaves import Outputs
from keisei.training.checkpoint import playing_weights, weights_sha256

if TYPE_CHECKING:
    import onnxruntime as ort

FEATURES1 = 62  # cshogi.dlshogi.FEATURES1_NUM: keisei's planes 0-61
FEATURES2 = NUM_PLANES - FEATURES1  # 57, cshogi.dlshogi.FEATURES2_NUM: planes 62-118
INPUTS = ("input1", "input2")
OUTPUTS = ("output_policy", "output_value")
OPSET = 18
METADATA_KEYS = (
    "keisei_version",
    "weights_sha256",
    "global_step",
    "model",
    "source",
    "value",
)
VALUE_MEANING = (
    "expected score for the side to move in [0, 1]: (v + 1) / 2 of keisei's value v in "
    "[-1, 1] (WDL head: P(win) + P(draw) / 2)"
)
# What the export's check against PyTorch accepts (float32 both sides; the differences
# measured on the shipped, default and gpu networks are below a tenth of these).
POLICY_TOLERANCE = 1e-3  # logits, absolute
VALUE_TOLERANCE = 1e-4  # output_value, absolute
CHECK_POSITIONS = 32  # real positions the export is checked on


class DlshogiLayout(nn.Module):
    """``model`` with dlshogi's two inputs and two outputs (see the module's docstring)."""

    def __init__(self, model: ActorCritic) -> None:
        super().__init__()
        self.model = model

    def forward(self, input1: torch.Tensor, input2: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(torch.cat((input1, input2), dim=1))
        return out.logits, ((out.value + 1.0) / 2.0).unsqueeze(1)


def split_planes(obs: npt.NDArray[Any]) -> dict[str, npt.NDArray[np.float32]]:
    """(N, 119, 9, 9) planes -> the file's inputs, float32."""
    planes = np.asarray(obs, dtype=np.float32).reshape(-1, NUM_PLANES, 9, 9)
    return {INPUTS[0]: planes[:, :FEATURES1], INPUTS[1]: planes[:, FEATURES1:]}


def to_onnx(model: ActorCritic, metadata: dict[str, str]) -> bytes:
    """``model`` (on the CPU, float32) as an ONNX file in dlshogi's layout, with
    ``metadata`` as its metadata properties."""
    wrapper = DlshogiLayout(model).eval()
    example = (torch.zeros(2, FEATURES1, 9, 9), torch.zeros(2, FEATURES2, 9, 9))
    batch = torch.export.Dim("batch_size")
    # The exporter logs that torchvision's operators are not registered, and warns that
    # the two inputs share one batch dimension: neither concerns this network.
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                wrapper,
                example,
                dynamo=True,
                verbose=False,
                opset_version=OPSET,
                input_names=list(INPUTS),
                output_names=list(OUTPUTS),
                dynamic_shapes=({0: batch}, {0: batch}),
                external_data=False,
            )
    finally:
        quiet.setLevel(level)
    assert program is not None
    program.model.metadata_props.update(metadata)
    program.model.doc_string = f"keisei {__version__}: policy-value network, dlshogi's layout"
    data: bytes = program.model_proto.SerializeToString()
    return data


def metadata_for(model: ActorCritic, payload: dict[str, Any], source: Path) -> dict[str, str]:
    """The file's metadata properties (``METADATA_KEYS``) for a checkpoint's network."""
    return {
        "keisei_version": __version__,
        # the weights exported: the checkpoint's weight average where it has one
        "weights_sha256": weights_sha256(playing_weights(payload)),
        "global_step": str(payload["state"]["global_step"]),
        "model": model.config.describe(),
        "source": str(source),
        "value": VALUE_MEANING,
    }


def session(model: bytes | Path, threads: int = 1) -> ort.InferenceSession:
    """An ONNX Runtime session on the CPU with ``threads`` threads."""
    # Imported here: every keisei command imports this module (through the CLI), and only
    # the export and its users need ONNX Runtime (60-90 ms to import).
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


class OnnxForward:
    """An exported file as a search's ``Forward`` (``keisei.search.leaves``): uint8
    planes (B, 119, 9, 9) in, logits (B, 2187) and keisei's values (B,) in [-1, 1] out
    (``2 * output_value - 1``)."""

    def __init__(self, model: bytes | Path, threads: int = 1) -> None:
        self.session = session(model, threads)

    def __call__(self, obs: npt.NDArray[np.uint8]) -> Outputs:
        policy, value = self.session.run(list(OUTPUTS), split_planes(obs))
        logits: npt.NDArray[np.float32] = np.asarray(policy, dtype=np.float32)
        values: npt.NDArray[np.float32] = (2.0 * np.asarray(value, np.float32) - 1.0)[:, 0]
        return logits, values


def positions(count: int, seed: int = 0, games: int = 4) -> npt.NDArray[np.uint8]:
    """``count`` planes (count, 119, 9, 9) of real positions: the start position and those
    of random games in a ``ShogiEnv`` (restarted when they end), one every few plies."""
    env = ShogiEnv(games, max_plies=200)
    step = env.reset(seed)
    rng = np.random.default_rng(seed)
    found = [step.obs[0].copy()]
    ply = 0
    while len(found) < count:
        step = env.step(random_legal(step, rng))
        ply += 1
        if ply % 7 == 0:
            found.extend(step.obs[: count - len(found)].copy())
    return np.stack(found[:count])


def differences(
    model: ActorCritic, onnx_model: bytes | Path, obs: npt.NDArray[np.uint8]
) -> tuple[float, float]:
    """The largest absolute differences (policy logits, output_value) between PyTorch's
    ``DlshogiLayout(model)`` and ONNX Runtime's run of ``onnx_model`` on ``obs``."""
    inputs = split_planes(obs)
    with torch.inference_mode():
        policy, value = DlshogiLayout(model).eval()(
            *(torch.from_numpy(np.ascontiguousarray(inputs[name])) for name in INPUTS)
        )
    got_policy, got_value = session(onnx_model).run(list(OUTPUTS), inputs)
    return (
        float(np.abs(np.asarray(got_policy) - policy.numpy()).max()),
        float(np.abs(np.asarray(got_value) - value.numpy()).max()),
    )


def export_checked(
    model: ActorCritic, payload: dict[str, Any], source: Path, samples: int = CHECK_POSITIONS
) -> tuple[bytes, tuple[float, float]]:
    """The file's bytes for a checkpoint's network, and its differences from PyTorch on
    ``samples`` real positions; ``ValueError`` when they exceed the tolerances."""
    data = to_onnx(model, metadata_for(model, payload, source))
    policy, value = differences(model, data, positions(samples))
    if policy > POLICY_TOLERANCE or value > VALUE_TOLERANCE:
        raise ValueError(
            f"ONNX Runtime's outputs differ from PyTorch's: policy by {policy:.2g} "
            f"(at most {POLICY_TOLERANCE:g}), value by {value:.2g} (at most {VALUE_TOLERANCE:g})"
        )
    return data, (policy, value)
