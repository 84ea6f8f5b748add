"""``keisei checkpoint export --onnx``: dlshogi's layout (docs/file-formats.md), ONNX Runtime's
outputs against PyTorch's on real positions, and a game played by the exported file.

Tolerance: float32 on both sides, absolute, policy logits within 1e-4 and the value output
within 1e-5 (measured: about 1e-5 and 1e-7 on these networks)."""

from __future__ import annotations

import re
from pathlib import Path

import cshogi
import numpy as np
import onnx
import pytest
import torch
from cshogi import dlshogi

from keisei import __version__
from keisei.cli.main import main
from keisei.config import ModelSection, load_config
from keisei.game.env import ShogiEnv, random_legal
from keisei.rl.network import ActorCritic
from keisei.training.checkpoint import BUNDLED_PATH, load_model, read_checkpoint
from keisei.training.onnx_export import OnnxForward, positions, session, to_onnx

pytestmark = pytest.mark.usefixtures("one_torch_thread")

POLICY_ATOL = 1e-4
VALUE_ATOL = 1e-5


@pytest.fixture(scope="module")
def bundled_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "bundled.onnx"
    assert main(["checkpoint", "export", "bundled", "--onnx", str(out)]) == 0
    return out


def random_network(model: ModelSection, seed: int = 0) -> ActorCritic:
    """A network of ``model``'s shape whose every weight matters: the blocks' zero-scale
    norms (identity at initialisation) and the zero policy bias get noise too."""
    torch.manual_seed(seed)
    network = ActorCritic(model).eval()
    with torch.no_grad():
        for p in network.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return network


def torch_outputs(model: ActorCritic, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """keisei's own logits and value in [-1, 1], straight from ``ActorCritic``."""
    with torch.inference_mode():
        out = model(torch.from_numpy(obs).float())
    return out.logits.numpy(), out.value.numpy()


def onnx_outputs(data: bytes | Path, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f1 = np.ascontiguousarray(obs[:, :62], dtype=np.float32)
    f2 = np.ascontiguousarray(obs[:, 62:], dtype=np.float32)
    policy, value = session(data).run(
        ["output_policy", "output_value"], {"input1": f1, "input2": f2}
    )
    return np.asarray(policy), np.asarray(value)


def assert_matches(model: ActorCritic, data: bytes | Path, obs: np.ndarray) -> None:
    logits, value = torch_outputs(model, obs)
    policy, win = onnx_outputs(data, obs)
    assert policy.shape == (len(obs), 2187) and policy.dtype == np.float32
    assert win.shape == (len(obs), 1) and win.dtype == np.float32
    np.testing.assert_allclose(policy, logits, rtol=0, atol=POLICY_ATOL)
    # dlshogi's value output is a win probability: keisei's v in [-1, 1] as (v + 1) / 2.
    np.testing.assert_allclose(win[:, 0], (value + 1) / 2, rtol=0, atol=VALUE_ATOL)
    assert ((win >= 0) & (win <= 1)).all()


def test_export_bundled_writes_dlshogi_layout(
    bundled_onnx: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = onnx.load(str(bundled_onnx))
    onnx.checker.check_model(model)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 18)]

    def layout(values: list[onnx.ValueInfoProto]) -> list[tuple[str, int, list[int | str]]]:
        return [
            (
                v.name,
                v.type.tensor_type.elem_type,
                [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim],
            )
            for v in values
        ]

    f32 = onnx.TensorProto.FLOAT
    assert layout(list(model.graph.input)) == [
        ("input1", f32, ["batch_size", 62, 9, 9]),
        ("input2", f32, ["batch_size", 57, 9, 9]),
    ]
    assert layout(list(model.graph.output)) == [
        ("output_policy", f32, ["batch_size", 2187]),
        ("output_value", f32, ["batch_size", 1]),
    ]
    assert model.doc_string == f"keisei {__version__}: policy-value network, dlshogi's layout"
    payload = read_checkpoint(BUNDLED_PATH)
    props = {p.key: p.value for p in model.metadata_props}
    assert props == {
        "keisei_version": __version__,
        "weights_sha256": payload["weights_sha256"],
        "global_step": str(payload["state"]["global_step"]),
        "model": "blocks=2, channels=32, se=False, value_head=wdl",
        "source": str(BUNDLED_PATH),
        "value": "expected score for the side to move in [0, 1]: (v + 1) / 2 of keisei's "
        "value v in [-1, 1] (WDL head: P(win) + P(draw) / 2)",
    }
    # Nothing is overwritten: a second export to the same file is refused, the file kept.
    before = bundled_onnx.read_bytes()
    capsys.readouterr()
    assert main(["checkpoint", "export", "bundled", "--onnx", str(bundled_onnx)]) == 2
    assert capsys.readouterr().err == (
        f"keisei checkpoint export: error: --onnx {bundled_onnx} already exists; choose a new file "
        "(nothing is overwritten)\n"
    )
    assert bundled_onnx.read_bytes() == before


def test_export_prints_what_it_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "m.onnx"
    assert main(["checkpoint", "export", "bundled", "--onnx", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"keisei checkpoint export: error: --onnx {out}: {out.parent} does not exist\n"
    )
    assert not out.parent.exists()
    out = tmp_path / "m.onnx"
    assert main(["checkpoint", "export", "bundled", "--onnx", str(out)]) == 0
    printed = capsys.readouterr().out
    match = re.fullmatch(
        rf"exported {re.escape(str(BUNDLED_PATH))} to {re.escape(str(out))} as ONNX "
        rf"\(opset 18, {out.stat().st_size:,} bytes\); ONNX Runtime matches PyTorch on 32 "
        r"positions within (\S+) \(policy logits\) and (\S+) \(value\)\n",
        printed,
    )
    assert match is not None, printed
    assert float(match[1]) <= 1e-3 and float(match[2]) <= 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no temporary left


def test_export_wants_one_destination(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pt, path = tmp_path / "m.pt", tmp_path / "m.onnx"
    with pytest.raises(SystemExit) as exc:
        main(["checkpoint", "export", "bundled", "--out", str(pt), "--onnx", str(path)])
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "keisei checkpoint export: error: argument --onnx: not allowed with argument --out "
        "(see 'keisei checkpoint export --help')"
    )
    with pytest.raises(SystemExit) as exc:
        main(["checkpoint", "export", "bundled"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "keisei checkpoint export: error: one of the arguments --out --onnx is required "
        "(see 'keisei checkpoint export --help')"
    )
    assert list(tmp_path.iterdir()) == []


def test_bundled_onnx_matches_pytorch(bundled_onnx: Path) -> None:
    model, _ = load_model(BUNDLED_PATH)
    obs = positions(48, seed=3)
    assert_matches(model, bundled_onnx, obs)
    assert_matches(model, bundled_onnx, obs[:1])  # the batch dimension is dynamic


@pytest.mark.parametrize(
    ("preset", "changes"),
    [
        ("default", {}),
        ("gpu", {}),
        ("default", {"value_head": "wdl", "se": True}),
    ],
    ids=["default", "gpu", "default-wdl-se"],
)
def test_random_networks_match_pytorch(preset: str, changes: dict[str, object]) -> None:
    config = load_config(preset).model.model_copy(update=changes)
    model = random_network(config)
    data = to_onnx(model, {})
    obs = positions(16, seed=1)
    assert_matches(model, data, obs)
    assert_matches(model, data, obs[:5])


def test_inputs_are_cshogi_dlshogi_features() -> None:
    # The file's inputs are what cshogi's make_input_features writes for a board:
    # keisei's planes split after plane 62, on real positions of random games.
    env = ShogiEnv(3, max_plies=100)
    step = env.reset(5)
    rng = np.random.default_rng(5)
    for _ in range(40):
        f1 = np.zeros((3, dlshogi.FEATURES1_NUM, 9, 9), np.float32)
        f2 = np.zeros((3, dlshogi.FEATURES2_NUM, 9, 9), np.float32)
        for i, board in enumerate(env.boards()):
            dlshogi.make_input_features(board, f1[i], f2[i])
        assert (dlshogi.FEATURES1_NUM, dlshogi.FEATURES2_NUM) == (62, 57)
        np.testing.assert_array_equal(step.obs[:, :62], f1)
        np.testing.assert_array_equal(step.obs[:, 62:], f2)
        step = env.step(random_legal(step, rng))


def test_bundled_onnx_plays_a_legal_game(bundled_onnx: Path) -> None:
    # An ONNX Runtime player: the legal move of the highest logit every ply, for both
    # sides, replayed on a cshogi board; the environment refuses an illegal action.
    forward = OnnxForward(bundled_onnx)
    env = ShogiEnv(1, max_plies=160)
    step = env.reset(0)
    board = cshogi.Board()
    plies = 0
    while True:
        logits, values = forward(step.obs)
        assert logits.shape == (1, 2187) and -1 <= values[0] <= 1
        action = int(np.where(step.mask[0], logits[0], -np.inf).argmax())
        move = env.move_of(0, action)
        assert board.is_legal(move)
        board.push(move)
        step = env.step(np.array([action]))
        plies += 1
        if step.done[0]:
            break
    result = step.finished[0]
    assert result is not None and result.plies == plies == len(result.moves)
    assert result.reason in ("checkmate", "repetition", "perpetual_check", "max_plies", "nyugyoku")


def test_check_positions_are_the_start_then_every_seventh_ply_of_random_games() -> None:
    """What the export is checked on: the start position, then after every 7th ply the
    positions of 4 random games (seeded; restarted at their end or at 200 plies)."""
    env = ShogiEnv(4, max_plies=200)
    step = env.reset(3)
    rng = np.random.default_rng(3)
    expected = [step.obs[0]]
    for ply in range(1, 15):
        step = env.step(random_legal(step, rng))
        if ply % 7 == 0:
            expected.extend(step.obs)
    obs = positions(9, seed=3)
    assert obs.dtype == np.uint8 and np.array_equal(obs, np.stack(expected[:9]))
    assert np.array_equal(positions(9, seed=3), obs) and not np.array_equal(positions(9), obs)


def test_onnx_forward_runs_one_thread_unless_told(bundled_onnx: Path) -> None:
    for forward, threads in ((OnnxForward(bundled_onnx), 1), (OnnxForward(bundled_onnx, 2), 2)):
        assert forward.session.get_session_options().intra_op_num_threads == threads
