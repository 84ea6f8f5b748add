"""Actor-critic network: shapes, head structure, value range, config checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from torch import nn

from keisei.config import ModelSection
from keisei.game.encoding import NUM_ACTIONS, pack_mask, pack_obs, unpack_obs
from keisei.game.env import ShogiEnv
from keisei.rl.network import (
    ActorCritic,
    PolicyValue,
    load_weights,
    model_device,
    obs_to_tensor,
    packed_obs_to_tensor,
    parameter_count,
    unpack_bits,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def real_obs(n: int = 3) -> np.ndarray:
    return ShogiEnv(n).reset(0).obs


# A plain tower, one with squeeze-and-excitation, a WDL head: the networks the tests build.
NETWORKS = [
    ModelSection(blocks=2, channels=8),
    ModelSection(blocks=2, channels=8, se=True, se_ratio=2),
    ModelSection(blocks=1, channels=8, value_head="wdl"),
]


@pytest.mark.parametrize("config", NETWORKS)
def test_forward_shapes(config: ModelSection) -> None:
    torch.manual_seed(0)
    model = ActorCritic(config)
    out = model(obs_to_tensor(real_obs(3), "cpu"))
    assert isinstance(out, PolicyValue)
    assert out.logits.shape == (3, NUM_ACTIONS)
    assert out.value.shape == (3,)
    if config.value_head == "wdl":
        assert out.wdl_logits is not None
        assert out.wdl_logits.shape == (3, 3)
    else:
        assert out.wdl_logits is None
    assert model.config == config


def test_obs_to_tensor_is_float32_copy_of_planes() -> None:
    obs = real_obs(2)
    x = obs_to_tensor(obs, "cpu")
    assert x.dtype == torch.float32
    assert x.shape == (2, 119, 9, 9)
    assert torch.equal(x, torch.from_numpy(obs.astype(np.float32)))


def test_policy_head_is_spatial_without_dense_layer_to_actions() -> None:
    model = ActorCritic(ModelSection(blocks=1, channels=8))
    # The only dense layers are the value head's (2*81 -> 64 -> 1).
    linears = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]
    assert linears == [(162, 64), (64, 1)]
    # Policy head: 3x3 conv 8->8, GroupNorm(8), 1x1 conv 8->27, one bias per action id.
    head = sum(p.numel() for p in model.policy_conv.parameters()) + model.policy_bias.numel()
    assert head == 8 * 8 * 9 + 2 * 8 + 8 * 27 + NUM_ACTIONS == 2995
    # A dense trunk -> 2187 layer alone would be 8 * 81 * 2187 weights.
    total = sum(p.numel() for p in model.parameters())
    assert total < 8 * 81 * NUM_ACTIONS // 10


def test_policy_logits_follow_action_id_layout() -> None:
    """Logit kind*81 + square comes from plane ``kind`` at ``square`` (+ its own bias)."""
    torch.manual_seed(0)
    model = ActorCritic(ModelSection(blocks=1, channels=8))
    x = obs_to_tensor(real_obs(1), "cpu")
    with torch.no_grad():
        planes = model.policy_conv(model.tower(model.stem(x)))  # (1, 27, 9, 9)
        logits = model(x).logits
    kind, square = 13, 40
    expected = planes[0, kind, square // 9, square % 9] + model.policy_bias[kind * 81 + square]
    assert logits[0, kind * 81 + square] == expected


def test_wdl_value_is_win_minus_loss_in_range() -> None:
    torch.manual_seed(0)
    model = ActorCritic(ModelSection(blocks=1, channels=8, value_head="wdl"))
    with torch.no_grad():
        # Large weights push the logits far apart, so the range check is not trivial.
        last = model.value_head[-1]
        assert isinstance(last, nn.Linear)
        last.weight.mul_(1000.0)
        out = model(obs_to_tensor(real_obs(4), "cpu"))
    assert out.wdl_logits is not None
    probs = torch.softmax(out.wdl_logits, dim=1)
    assert torch.allclose(out.value, probs[:, 0] - probs[:, 2])
    assert bool(((out.value >= -1) & (out.value <= 1)).all())


def test_load_weights_round_trip() -> None:
    config = ModelSection(blocks=1, channels=8, se=True)
    torch.manual_seed(0)
    a = ActorCritic(config)
    torch.manual_seed(1)
    b = ActorCritic(config)
    load_weights(b, a.state_dict(), config.model_dump())
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name


def test_load_weights_refuses_other_shape_naming_both() -> None:
    saved = ActorCritic(ModelSection(blocks=2, channels=16))
    target = ActorCritic(ModelSection(blocks=1, channels=8, se=True, value_head="wdl"))
    with pytest.raises(ValueError) as info:
        load_weights(target, saved.state_dict(), saved.config.model_dump())
    assert str(info.value) == (
        "checkpoint network is blocks=2, channels=16, se=False, value_head=scalar; "
        "this network is blocks=1, channels=8, se=True, se_ratio=4, value_head=wdl"
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"blocks": 0}, "blocks"),
        ({"channels": 0}, "channels"),
        ({"se_ratio": 0}, "se_ratio"),
        ({"value_head": "mse"}, "value_head"),
        ({"width": 8}, "width"),
    ],
)
def test_out_of_range_config_rejected(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        ModelSection(**kwargs)
    assert [e["loc"] for e in info.value.errors()] == [(field,)]
    assert field in str(info.value)


def test_unpack_bits_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(5, 274), dtype=np.uint8)
    for count in (2187, 274 * 8, 1):
        expected = np.unpackbits(raw, axis=1, count=count)
        assert np.array_equal(unpack_bits(torch.from_numpy(raw), count).numpy(), expected)
    obs = real_obs(4)
    packed = pack_obs(obs)
    assert np.array_equal(unpack_obs(packed), obs)
    x = packed_obs_to_tensor(torch.from_numpy(packed))
    assert torch.equal(x, obs_to_tensor(obs, "cpu"))
    mask = rng.random((3, NUM_ACTIONS)) < 0.1
    assert np.array_equal(
        unpack_bits(torch.from_numpy(pack_mask(mask)), NUM_ACTIONS).bool().numpy(), mask
    )


def _reference_forward(model: ActorCritic, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The network of docs/architecture written out with torch.nn.functional over the
    model's own named parameters: every layer, norm (one group), activation and head."""
    p = dict(model.named_parameters())
    conv = nn.functional.conv2d
    norm = nn.functional.group_norm

    def gn(h: torch.Tensor, name: str) -> torch.Tensor:
        return norm(h, 1, p[f"{name}.weight"], p[f"{name}.bias"], eps=1e-5)

    h = torch.relu(gn(conv(x, p["stem.0.weight"], padding=1), "stem.1"))
    for b in range(model.config.blocks):
        pre = f"tower.{b}"
        y = torch.relu(gn(conv(h, p[f"{pre}.conv1.weight"], padding=1), f"{pre}.norm1"))
        y = gn(conv(y, p[f"{pre}.conv2.weight"], padding=1), f"{pre}.norm2")
        if model.config.se:
            s = y.mean(dim=(2, 3))
            s = torch.relu(s @ p[f"{pre}.se.fc.1.weight"].T + p[f"{pre}.se.fc.1.bias"])
            s = torch.sigmoid(s @ p[f"{pre}.se.fc.3.weight"].T + p[f"{pre}.se.fc.3.bias"])
            y = y * s[:, :, None, None]
        h = torch.relu(h + y)
    q = torch.relu(gn(conv(h, p["policy_conv.0.weight"], padding=1), "policy_conv.1"))
    logits = conv(q, p["policy_conv.3.weight"]).flatten(1) + p["policy_bias"]
    v = torch.relu(gn(conv(h, p["value_head.0.weight"]), "value_head.1")).flatten(1)
    v = torch.relu(v @ p["value_head.4.weight"].T + p["value_head.4.bias"])
    v = v @ p["value_head.6.weight"].T + p["value_head.6.bias"]
    if model.config.value_head == "wdl":
        probs = torch.softmax(v, dim=1)
        return logits, probs[:, 0] - probs[:, 2]
    return logits, torch.tanh(v[:, 0])


@pytest.mark.parametrize("config", NETWORKS)
def test_forward_is_the_documented_network_layer_by_layer(config: ModelSection) -> None:
    """Every parameter random (the zero-initialised last norm of a block would hide the
    block): the model's outputs are the functional reference's, and it has no parameter
    the reference does not use (a bias on a convolution, a second norm)."""
    torch.manual_seed(0)
    model = ActorCritic(config)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn_like(param) * 0.5)
    x = obs_to_tensor(real_obs(3), "cpu")
    with torch.no_grad():
        out = model(x)
        logits, value = _reference_forward(model, x)
    torch.testing.assert_close(out.logits, logits, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out.value, value, rtol=1e-4, atol=1e-5)
    hidden = 8 // 2 if config.se else 0
    stem = 119 * 8 * 9 + 2 * 8
    block = 2 * (8 * 8 * 9 + 2 * 8) + (8 * hidden * 2 + hidden + 8 if config.se else 0)
    policy = 8 * 8 * 9 + 2 * 8 + 8 * 27 + NUM_ACTIONS
    out_size = 3 if config.value_head == "wdl" else 1
    value_head = 8 * 2 + 2 * 2 + 162 * 64 + 64 + 64 * out_size + out_size
    expected = stem + config.blocks * block + policy + value_head
    assert sum(p.numel() for p in model.parameters()) == expected
    assert parameter_count(config) == expected


def test_squeeze_excitation_keeps_one_hidden_unit_at_least() -> None:
    # 4 channels at ratio 8: 4 // 8 = 0 hidden units would be no layer at all; one is kept.
    model = ActorCritic(ModelSection(blocks=1, channels=4, se=True, se_ratio=8))
    linears = [
        (m.in_features, m.out_features) for m in model.tower.modules() if isinstance(m, nn.Linear)
    ]
    assert linears == [(4, 1), (1, 4)]


def test_three_by_three_weights_are_channels_last_and_one_by_one_weights_are_not() -> None:
    model = ActorCritic(ModelSection(blocks=1, channels=8))
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    three = [m.weight for m in convs if m.kernel_size == (3, 3)]
    one = [m.weight for m in convs if m.kernel_size == (1, 1)]
    assert (len(three), len(one)) == (4, 2)
    for w in three:
        assert w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()
    for w in one:
        assert w.is_contiguous() and w.stride()[-1] == 1


def test_unpacked_planes_are_uint8_and_plain_contiguous_on_the_cpu() -> None:
    packed = torch.from_numpy(pack_obs(real_obs(2)))
    assert unpack_bits(packed, 16).dtype == torch.uint8
    x = packed_obs_to_tensor(packed)
    assert x.dtype == torch.float32 and x.is_contiguous()


def test_model_device_names_the_parameters_device_or_cpu_without_any() -> None:
    assert model_device(ActorCritic(ModelSection(blocks=1, channels=8))) == "cpu"
    with torch.device("meta"):
        assert model_device(nn.Linear(2, 2)) == "meta"
    assert model_device(nn.ReLU()) == "cpu"
