"""Actor-critic networks over keisei's observation and action encoding.

A network is described by its :class:`ModelSection` alone: a convolutional stem, a tower
of residual blocks (optionally with squeeze-and-excitation), a spatial policy head and a
value head.

* The policy head is convolutional: 27 planes over the 9x9 board, flattened in
  (C, H, W) order, are exactly the environment's action ids ``kind * 81 + square``.
  There is no dense layer from the flattened trunk to the 2187 actions: on a CPU that
  one layer would cost more than the whole tower.
* The value head is scalar (``tanh``) by default. With ``value_head="wdl"`` it gives
  three logits in the order (win, draw, loss) for the side to move, and the value is
  ``P(win) - P(loss)``.
* Normalization is ``GroupNorm``, not ``BatchNorm``: the network must compute the same
  function when acting (inference, any batch) and when training on PPO minibatches,
  otherwise the PPO probability ratio is not 1 before the first gradient step.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from keisei.config import ModelSection
from keisei.game.encoding import NUM_ACTIONS, NUM_MOVE_KINDS, NUM_PLANES

# Channels of the 1x1 convolution that feeds the value head's small dense layers.
_VALUE_PLANES = 2
_VALUE_HIDDEN = 64


class PolicyValue(NamedTuple):
    logits: torch.Tensor  # (B, 2187), unmasked
    value: torch.Tensor  # (B,) in [-1, 1], for the side to move
    wdl_logits: torch.Tensor | None  # (B, 3) (win, draw, loss) with a WDL head, else None


def _norm(channels: int) -> nn.GroupNorm:
    # One group: per-sample layer norm over (C, H, W), independent of the batch.
    return nn.GroupNorm(1, channels)


class SqueezeExcitation(nn.Module):
    """Channel gating from global pooling (Hu et al.), as in Leela/KataGo towers."""

    def __init__(self, channels: int, ratio: int) -> None:
        super().__init__()
        hidden = max(1, channels // ratio)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale: torch.Tensor = self.fc(self.pool(x))
        return x * scale[:, :, None, None]


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, se: bool, se_ratio: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm1 = _norm(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm2 = _norm(channels)
        # Zero scale on the last norm: each block starts as the identity, which keeps
        # deep towers trainable from the first update.
        nn.init.zeros_(self.norm2.weight)
        self.se: nn.Module = SqueezeExcitation(channels, se_ratio) if se else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.norm1(self.conv1(x)))
        y = self.se(self.norm2(self.conv2(y)))
        return torch.relu(x + y)


class ActorCritic(nn.Module):
    """ResNet actor-critic: (B, 119, 9, 9) float planes -> policy logits and value."""

    def __init__(self, config: ModelSection) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.stem = nn.Sequential(
            nn.Conv2d(NUM_PLANES, c, 3, padding=1, bias=False), _norm(c), nn.ReLU(inplace=True)
        )
        self.tower = nn.Sequential(
            *(ResidualBlock(c, config.se, config.se_ratio) for _ in range(config.blocks))
        )
        self.policy_conv = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1, bias=False),
            _norm(c),
            nn.ReLU(inplace=True),
            nn.Conv2d(c, NUM_MOVE_KINDS, 1, bias=False),
        )
        # One bias per action id (2187 numbers), as dlshogi does: cheap, and lets the
        # head prefer some (kind, square) pairs regardless of the trunk.
        self.policy_bias = nn.Parameter(torch.zeros(NUM_ACTIONS))
        out = 3 if config.value_head == "wdl" else 1
        self.value_head = nn.Sequential(
            nn.Conv2d(c, _VALUE_PLANES, 1, bias=False),
            _norm(_VALUE_PLANES),
            nn.ReLU(inplace=True),
            nn.Flatten(),
            nn.Linear(_VALUE_PLANES * 81, _VALUE_HIDDEN),
            nn.ReLU(inplace=True),
            nn.Linear(_VALUE_HIDDEN, out),
        )
        # Channels-last 3x3 weights make oneDNN (and cuDNN) run the convolutions in NHWC:
        # on CPU, PPO updates measured 15-18 % and acting 6-12 % faster (see
        # docs/performance.md); activations follow, inputs need no conversion. Values are
        # unchanged: state_dict tensors only have other strides, checkpoints and weight
        # hashes do not depend on them. (1x1 weights stay as they are: channels-last would
        # give them a last stride != 1.)
        for module in self.modules():
            if isinstance(module, nn.Conv2d) and module.kernel_size != (1, 1):
                module.weight.data = module.weight.data.contiguous(
                    memory_format=torch.channels_last
                )

    def forward(self, x: torch.Tensor) -> PolicyValue:
        h = self.tower(self.stem(x))
        # (B, 27, 9, 9) flattened in (C, H, W) order is kind * 81 + square: the action id.
        logits = self.policy_conv(h).flatten(1) + self.policy_bias
        v = self.value_head(h)
        if self.config.value_head == "wdl":
            probs = torch.softmax(v.float(), dim=1)
            return PolicyValue(logits, probs[:, 0] - probs[:, 2], v)
        return PolicyValue(logits, torch.tanh(v.squeeze(1)), None)


def parameter_count(config: ModelSection) -> int:
    """The number of parameters of the network ``config`` describes, counted on the network
    built on the meta device (shapes only: no memory, no initialisation). The blocks are all
    alike: the count of one is multiplied, so a tower of any depth costs two small builds."""

    def count(blocks: int) -> int:
        with torch.device("meta"):
            model = ActorCritic(config.model_copy(update={"blocks": blocks}))
        return sum(p.numel() for p in model.parameters())

    bare = count(0)
    return bare + config.blocks * (count(1) - bare)


def model_device(model: nn.Module) -> str:
    """The device of a model's parameters ("cpu" for a model without any)."""
    try:
        return str(next(model.parameters()).device)
    except StopIteration:
        return "cpu"


def to_device(host: npt.NDArray[Any], device: torch.device | str) -> torch.Tensor:
    """A host array as a tensor on ``device``; to a GPU through pinned host memory, so the
    copy runs without the host waiting for it."""
    device = torch.device(device)
    tensor = torch.from_numpy(np.ascontiguousarray(host))
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


def obs_to_tensor(obs: npt.NDArray[np.uint8], device: torch.device | str) -> torch.Tensor:
    """uint8 (B, 119, 9, 9) planes -> float32 tensor on ``device``.

    The uint8 array is moved first and converted there: a quarter of the bytes to copy.
    On a GPU the floats are laid out channels-last, the layout cuDNN runs the
    convolutions in.
    """
    x = to_device(obs, device).float()
    if x.device.type != "cuda":
        return x
    return x.contiguous(memory_format=torch.channels_last)


def unpack_bits(packed: torch.Tensor, count: int) -> torch.Tensor:
    """``np.unpackbits(packed, axis=-1, count=count)`` for a uint8 tensor, on its device.

    Lets a GPU receive observations and masks bit-packed (an eighth of the bytes) and
    expand them itself. Most significant bit first, as ``np.packbits`` packs.
    """
    shifts = torch.arange(7, -1, -1, dtype=torch.uint8, device=packed.device)
    bits = (packed.unsqueeze(-1) >> shifts) & 1
    return bits.flatten(-2)[..., :count]


def packed_obs_to_tensor(packed: torch.Tensor) -> torch.Tensor:
    """(B, 1205) bit-packed observations on any device -> float32 (B, 119, 9, 9) there."""
    x = unpack_bits(packed, NUM_PLANES * 81).view(-1, NUM_PLANES, 9, 9).float()
    if x.device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def load_weights(
    model: ActorCritic, state_dict: dict[str, Any], saved_config: dict[str, Any]
) -> None:
    """Load a checkpoint's weights, refusing ones saved from a differently shaped network."""
    saved = ModelSection.model_validate(saved_config)
    if saved != model.config:
        raise ValueError(
            f"checkpoint network is {saved.describe()}; this network is {model.config.describe()}"
        )
    model.load_state_dict(state_dict)
