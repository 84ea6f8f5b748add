"""``keisei pretrain`` on real records (written by ``keisei selfplay``), and ``train --init``."""

from __future__ import annotations

import copy
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import cshogi
import numpy as np
import numpy.typing as npt
import pytest
import torch

from keisei.cli.main import main
from keisei.config import TrainConfig, load_config
from keisei.game.encoding import (
    PACKED_MASK_BYTES,
    PACKED_OBS_BYTES,
    move_label,
    unpack_mask,
    unpack_obs,
)
from keisei.game.env import ShogiEnv
from keisei.game.records import RecordGame, read_record, record_files
from keisei.rl.network import ActorCritic
from keisei.training.checkpoint import Diverged, list_checkpoints, load_model, read_checkpoint
from keisei.training.pretrain import Positions, positions, pretrain, split, unique
from tests.conftest import Train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MINIMAL_CSA = "V2.2\nPI\n+\n+7776FU\n-3334FU\n%TORYO\n"


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 random games of 60 plies, each written as .csa and .kif."""
    out = tmp_path_factory.mktemp("pretrain") / "records"
    assert main(["selfplay", "--games", "6", "--seed", "3", "--max-plies", "60",
                 "--out", str(out)]) == 0  # fmt: skip
    return out


@pytest.fixture(scope="module")
def pretrained(records: Path) -> Path:
    """A tiny network pretrained on the 6 games."""
    out = records.parent / "pre.pt"
    argv = ["pretrain", str(records), "--out", str(out), "--preset", "tiny"]
    assert main([*argv, "--epochs", "3", "--batch-size", "32", "--validation-fraction", "0.2"]) == 0
    return out


def test_pretrain_learns_the_records_and_writes_a_player(pretrained: Path) -> None:
    payload = read_checkpoint(pretrained)
    assert payload["status"] == "pretrained" and payload["state"]["global_step"] == 0
    source = payload["pretrained_from"]
    # 12 files, 6 distinct games (the .kif repeats the .csa), 2 of them held out.
    assert (source["files"], source["games"], source["epochs"]) == (12, 6, 3)
    assert source["positions"] + source["held_out_positions"] == 6 * 60
    losses = [row["loss"] for row in source["history"]]
    assert losses == sorted(losses, reverse=True) and losses[-1] < losses[0]
    assert all("validation_accuracy" in row for row in source["history"])
    model, meta = load_model(pretrained)
    assert meta["global_step"] == 0 and model.config.channels == 8


@pytest.mark.parametrize(
    ("target", "diverged"),
    [
        # The value loss overflows; its gradient is clipped to nothing.
        (1e30, "a non-finite loss (loss inf, value_loss inf)"),
        (float("nan"), "a non-finite loss (loss nan, value_loss nan) and non-finite weights "
         "in 21 tensors (policy_bias, stem.0.weight, stem.1.weight, ...)"),
    ],
)  # fmt: skip
def test_pretrain_stops_at_the_batch_that_diverges(
    records: Path, target: float, diverged: str
) -> None:
    """Value targets no record holds, set after the first epoch (the samples are the real
    seam): no configurable setting overflows within its bounds."""
    data = positions(unique([g for f in record_files([records]) for g in read_record(f)]))
    epochs: list[float] = []

    def poison(row: dict[str, float]) -> None:
        epochs.append(row["epoch"])
        data.results[:] = target

    with pytest.raises(Diverged) as info:
        pretrain(load_config("tiny"), data, positions([]), 3, 32, 0, poison)
    assert str(info.value) == f"epoch 2, batch 1 of {math.ceil(len(data) / 32)} gave {diverged}"
    assert epochs == [1.0]


def test_train_init_starts_from_the_pretrained_weights(
    pretrained: Path, train: Train, tmp_path: Path
) -> None:
    assert train.run(tmp_path / "init", "--init", str(pretrained), "run.total_steps=64") == 0
    assert train.run(tmp_path / "plain", "run.total_steps=64") == 0
    log = (tmp_path / "init" / "train.log").read_text()
    assert f"Initialised the network from {pretrained}" in log

    def sha(run: Path) -> str:
        return str(read_checkpoint(list_checkpoints(run / "checkpoints")[-1])["weights_sha256"])

    assert sha(tmp_path / "init") != sha(tmp_path / "plain")
    # Two ranks start from the same weights (rank 0 sends them).
    assert train.run(tmp_path / "ranks", "--init", str(pretrained), "--nproc", "2",
                     "run.total_steps=64") == 0  # fmt: skip
    assert (
        f"Initialised the network from {pretrained}"
        in (tmp_path / "ranks" / "train.log").read_text()
    )


def test_init_refusals(
    pretrained: Path, train: Train, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert train.run(run, "--init", str(pretrained), "model.channels=16") == 2
    assert (
        f"--init {pretrained} has 'model.channels' 8 but this run's config has 16"
        in capsys.readouterr().err
    )
    assert train.run(run, "--init", str(tmp_path / "missing.pt")) == 2
    assert "--init: checkpoint not found" in capsys.readouterr().err
    assert train.run(run, "--resume", "latest", "--init", str(pretrained)) == 2
    assert "--init starts a fresh run" in capsys.readouterr().err
    assert train.run(run, "--resume", str(pretrained)) == 2
    assert "it was written by `keisei pretrain` (weights only)" in capsys.readouterr().err
    assert not run.exists()


def test_records_are_read_with_their_results(tmp_path: Path) -> None:
    path = tmp_path / "game.csa"
    path.write_text(MINIMAL_CSA)
    (game,) = read_record(path)
    assert (len(game.moves), game.winner) == (2, 1)  # black resigned: white won


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: None, "no such record file or directory: "),
        (lambda d: (d / "r").mkdir(), "no moves in the records given (0 .csa/.kif/.kifu files"),
        (lambda d: (d / "r").write_text("x"), " is not a .csa, .kif or .kifu record"),
    ],
)
def test_pretrain_refuses_bad_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: object, message: str
) -> None:
    setup(tmp_path)  # type: ignore[operator]
    out = tmp_path / "pre.pt"
    assert main(["pretrain", str(tmp_path / "r"), "--out", str(out), "--preset", "tiny"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_pretrain_names_an_illegal_move_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csa"
    bad.write_text(MINIMAL_CSA.replace("-3334FU", "-3355FU"))
    out = tmp_path / "pre.pt"
    assert main(["pretrain", str(bad), "--out", str(out), "--preset", "tiny"]) == 2
    assert f"{bad}: the move at ply 2 is not legal" in capsys.readouterr().err
    out.write_text("keep")
    good = tmp_path / "good.csa"
    good.write_text(MINIMAL_CSA)
    assert main(["pretrain", str(good), "--out", str(out), "--preset", "tiny"]) == 2
    assert "already exists" in capsys.readouterr().err and out.read_text() == "keep"


# -- records as GUIs and truncated downloads leave them (issue 23, item 10) ----------------
# A main line of 2 moves, then 投了, then two variations (変化) and no closing sentence:
# cshogi's reader appends the variations' moves to the main line.
KIF_WITH_VARIATIONS = """\
# ---- Kifu for Windows 棋譜ファイル ----
開始日時：2024/01/01 10:00:00
手合割：平手
先手：先手の人
後手：後手の人
手数----指手---------消費時間--
   1 ７六歩(77)   ( 0:01/00:00:01)
   2 ３四歩(33)   ( 0:01/00:00:01)+
   3 投了         ( 0:01/00:00:02)

変化：2手
   2 ８四歩(83)   ( 0:01/00:00:01)
   3 ２六歩(27)   ( 0:01/00:00:02)

変化：3手
   3 ２六歩(27)   ( 0:01/00:00:02)
"""


def gui_records(directory: Path) -> Path:
    """The same KIF as Shift_JIS, UTF-8 and UTF-8 with a byte-order mark; a CSA game with a
    score comment before its first move; a truncated CSA; a file in no text encoding; the
    KIF again as .kifu (the UTF-8 KIF suffix); the KIF cut inside its second move."""
    directory.mkdir()
    (directory / "a_sjis.kif").write_bytes(KIF_WITH_VARIATIONS.encode("cp932"))
    (directory / "b_utf8.kif").write_bytes(KIF_WITH_VARIATIONS.encode("utf-8"))
    (directory / "c_bom.kif").write_bytes(KIF_WITH_VARIATIONS.encode("utf-8-sig"))
    (directory / "d_score.csa").write_text(MINIMAL_CSA.replace("+\n+", "+\n'** 30\n+"))
    (directory / "e_truncated.csa").write_text(MINIMAL_CSA.replace("FU\n%TORYO\n", "F\n"))
    (directory / "f_binary.kif").write_bytes(b"\x81\xff\xfe\x00")
    (directory / "g_utf8.kifu").write_bytes(KIF_WITH_VARIATIONS.encode("utf-8"))
    cut = KIF_WITH_VARIATIONS[: KIF_WITH_VARIATIONS.index("３四歩(3") + 5]
    (directory / "h_cut.kif").write_bytes(cut.encode("utf-8"))
    return directory


def test_gui_records_are_read_main_line_only(tmp_path: Path) -> None:
    records = gui_records(tmp_path / "rec")
    for name in ("a_sjis.kif", "b_utf8.kif", "c_bom.kif", "g_utf8.kifu"):
        (game,) = read_record(records / name)
        assert [cshogi.move_to_usi(m) for m in game.moves] == ["7g7f", "3c3d"], name
        assert (game.variations, game.winner) == (2, None), name
    (game,) = read_record(records / "d_score.csa")
    assert (len(game.moves), game.winner) == (2, 1)
    with pytest.raises(ValueError) as info:
        read_record(records / "e_truncated.csa")
    assert str(info.value) == f"{records / 'e_truncated.csa'}: line 5 is truncated: '-3334F'"
    with pytest.raises(ValueError) as info:
        read_record(records / "f_binary.kif")
    assert str(info.value) == (
        f"{records / 'f_binary.kif'} is neither UTF-8 nor Shift_JIS (cp932) text"
    )


def test_pretrain_skips_bad_records_and_counts_them(tmp_path: Path) -> None:
    records = gui_records(tmp_path / "rec")
    out = tmp_path / "pre.pt"
    argv = ["pretrain", str(records), "--out", str(out), "--preset", "tiny", "--epochs", "1"]
    # A real process: cshogi's reader crashed the interpreter on the score comment.
    done = subprocess.run(
        [sys.executable, "-m", "keisei", *argv], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {out}\n"
    lines = done.stderr.splitlines()
    assert lines[:4] == [
        f"keisei pretrain: warning: skipped {records / 'e_truncated.csa'}: line 5 is "
        "truncated: '-3334F'",
        f"keisei pretrain: warning: skipped {records / 'f_binary.kif'} is neither UTF-8 nor "
        "Shift_JIS (cp932) text",
        f"keisei pretrain: warning: skipped {records / 'h_cut.kif'}: line 8 is truncated: "
        "'   2 ３四歩(3'",
        "8 files (3 unreadable, skipped), 2 games (3 repeats skipped, 8 variations skipped): "
        "2 positions to train on, 2 held out",
    ]
    assert len(lines) == 5 and lines[4].startswith("epoch 1: loss ")
    source = read_checkpoint(out)["pretrained_from"]
    assert (source["files"], source["games"], source["positions"]) == (8, 2, 2)


def test_pretrain_strict_stops_at_a_bad_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = gui_records(tmp_path / "rec")
    out = tmp_path / "pre.pt"
    argv = ["pretrain", str(records), "--out", str(out), "--preset", "tiny", "--strict"]
    assert main(argv) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"keisei pretrain: error: {records / 'e_truncated.csa'}: line 5 is truncated: '-3334F'"
    ]
    assert not out.exists()


# -- the math, by hand (issue 24) ----------------------------------------------------------
# Bishop handicap: White, without its bishop, moves first.
BISHOP_HANDICAP = "lnsgkgsnl/1r7/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL w - 1"


def some_moves(sfen: str, plies: int) -> tuple[int, ...]:
    """``plies`` legal moves from ``sfen``, picked by a fixed rule."""
    board, moves = cshogi.Board(sfen), []
    for ply in range(plies):
        legal = sorted(board.legal_moves)
        moves.append(legal[(7 * ply + 3) % len(legal)])
        board.push(moves[-1])
    return tuple(moves)


def test_positions_are_the_environments_observations_with_each_sides_result() -> None:
    won = RecordGame(Path("won.csa"), BISHOP_HANDICAP, some_moves(BISHOP_HANDICAP, 9), 0)
    drawn = RecordGame(
        Path("drawn.csa"), cshogi.STARTING_SFEN, some_moves(cshogi.STARTING_SFEN, 4), None
    )
    data = positions([won, drawn])
    # What the C++ environment shows the network before each move of the same games.
    obs, masks, actions = [], [], []
    for game in (won, drawn):
        env = ShogiEnv(1, start_sfens=[game.start_sfen])
        step = env.reset()
        for move in game.moves:
            obs.append(step.packed_obs[0])
            masks.append(step.packed_mask[0])
            actions.append(move_label(move, int(step.to_move[0])))
            step = env.step([actions[-1]])
    assert data.obs.dtype == data.masks.dtype == np.uint8 and len(data) == 13
    assert np.array_equal(data.obs, np.stack(obs)) and np.array_equal(data.masks, np.stack(masks))
    assert data.moves.dtype == np.int64 and data.moves.tolist() == actions
    # Black (0) won the handicap game White started: -1 on White's moves, +1 on Black's.
    assert data.results.dtype == np.float32
    assert data.results.tolist() == [-1.0, 1.0] * 4 + [-1.0] + [0.0] * 4
    empty = positions([])
    assert (empty.obs.shape, empty.obs.dtype) == ((0, PACKED_OBS_BYTES), np.uint8)
    assert (empty.masks.shape, empty.masks.dtype) == ((0, PACKED_MASK_BYTES), np.uint8)
    assert (empty.moves.dtype, empty.results.dtype) == (np.int64, np.float32)


def test_split_holds_out_the_last_games_and_never_all() -> None:
    games = [RecordGame(Path(f"{i}.csa"), cshogi.STARTING_SFEN, (), None) for i in range(10)]

    def held(n: int, fraction: float) -> int:
        train, validation = split(games[:n], fraction)
        assert train + validation == games[:n]
        return len(validation)

    assert [held(0, 0.2), held(1, 0.5), held(2, 0.0), held(2, 0.2), held(2, 0.99)] == [
        0,
        0,
        0,
        1,
        1,
    ]
    assert [held(3, 0.99), held(5, 0.2), held(10, 0.25)] == [2, 1, 3]


def tiny(**ppo: float) -> TrainConfig:
    config = load_config("tiny")
    return config.model_copy(update={"ppo": config.ppo.model_copy(update=ppo)})


def with_value_head(config: TrainConfig, value_head: str) -> TrainConfig:
    model = config.model.model_copy(update={"value_head": value_head})
    return config.model_copy(update={"model": model})


@torch.no_grad()
def by_hand(model: ActorCritic, data: Positions, rows: npt.NDArray[np.int64]) -> dict[str, Any]:
    """The masked cross-entropy of the moves, the value loss (MSE, or the W/D/L
    cross-entropy of the results 1/0/-1 as win/draw/loss) and the moves predicted."""
    out = model(torch.as_tensor(unpack_obs(data.obs[rows]), dtype=torch.float32))
    legal = torch.as_tensor(unpack_mask(data.masks[rows]))
    log_p = torch.log_softmax(out.logits.masked_fill(~legal, float("-inf")), dim=1)
    moves, results = torch.as_tensor(data.moves[rows]), torch.as_tensor(data.results[rows])
    policy = -log_p[torch.arange(len(rows)), moves].mean()
    if out.wdl_logits is None:
        value = ((out.value - results) ** 2).mean()
    else:
        outcome = (1 - results).long()  # won 0, drawn 1, lost 2
        value = -torch.log_softmax(out.wdl_logits, dim=1)[torch.arange(len(rows)), outcome].mean()
    correct = int((log_p.argmax(dim=1) == moves).sum())
    return {"policy_loss": float(policy), "value_loss": float(value), "correct": correct}


def weighted(parts: list[tuple[int, dict[str, Any]]], value_coef: float) -> dict[str, float]:
    """Row-weighted means of minibatch metrics, as an epoch's row has them."""
    n = sum(rows for rows, _ in parts)
    mean = {k: sum(rows * p[k] for rows, p in parts) / n for k in ("policy_loss", "value_loss")}
    return {
        "loss": mean["policy_loss"] + value_coef * mean["value_loss"],
        **mean,
        "accuracy": sum(p["correct"] for _, p in parts) / n,
    }


def held_out(model: ActorCritic, data: Positions) -> dict[str, float]:
    model.eval()
    row = weighted([(len(data), by_hand(model, data, np.arange(len(data))))], 0.0)
    return {f"validation_{k}": v for k, v in row.items() if k != "loss"}


@pytest.fixture(scope="module")
def split_records(records: Path) -> tuple[Positions, Positions]:
    games = unique([g for f in record_files([records]) for g in read_record(f)])
    train, validation = split(games, 0.34)
    return positions(train), positions(validation)


@pytest.mark.parametrize("value_head", ["scalar", "wdl"])
def test_one_batch_epochs_are_the_losses_by_hand_and_one_adamw_step(
    split_records: tuple[Positions, Positions], value_head: str
) -> None:
    data, validation = split_records
    lr, decay = 0.01, 0.25
    config = with_value_head(tiny(learning_rate=lr, weight_decay=decay), value_head)
    one, first = pretrain(config, data, validation, 1, len(data), 7)
    _, history = pretrain(config, data, validation, 2, len(data), 7)
    assert len(first) == 1 and len(history) == 2 and history[0] == first[0]
    torch.manual_seed(7)
    initial = ActorCritic(config.model)  # the weights pretrain starts from
    start = {name: p.detach().clone() for name, p in initial.named_parameters()}
    rows = np.arange(len(data))
    coef = config.ppo.value_coef
    expected = weighted([(len(data), by_hand(initial, data, rows))], coef)
    assert history[0]["epoch"] == 1.0 and history[1]["epoch"] == 2.0
    # Epoch 1's training metrics are the initial weights' (in train mode, before the step);
    # its held-out ones are the stepped weights' in eval mode; epoch 2's training metrics
    # are those weights' again, in train mode.
    assert {k: history[0][k] for k in expected} == pytest.approx(expected, rel=1e-5)
    assert {k: v for k, v in history[0].items() if k.startswith("validation_")} == (
        pytest.approx(held_out(copy.deepcopy(one), validation), rel=1e-5)
    )
    after = weighted([(len(data), by_hand(copy.deepcopy(one).train(), data, rows))], coef)
    assert {k: history[1][k] for k in after} == pytest.approx(after, rel=1e-5)
    assert 0 < history[1]["accuracy"] < 1
    # AdamW's first step: decay by lr * weight_decay, then lr * g / (|g| + eps), which is lr
    # in size wherever the gradient is not tiny.
    steps = [p.detach() - start[name] * (1 - lr * decay) for name, p in one.named_parameters()]
    assert max(float(s.abs().max()) for s in steps) == pytest.approx(lr, rel=1e-4)
    assert all(float(s.abs().max()) <= lr * (1 + 1e-4) for s in steps)


def test_an_epoch_of_minibatches_weighs_each_by_its_rows(
    split_records: tuple[Positions, Positions],
) -> None:
    """At a learning rate of 1e-12 no step moves a float32 weight measurably, and the
    network normalises each position alone (GroupNorm): an epoch's metrics over minibatches
    of 32 are the initial weights' over all the rows at once, each row counted once."""
    data, validation = split_records
    config, batch = tiny(learning_rate=1e-12), 32
    assert len(data) % batch and len(validation) > 2 * batch  # a short last batch; 3+ held out
    model, (row,) = pretrain(config, data, validation, 1, batch, 5)
    torch.manual_seed(5)
    initial = ActorCritic(config.model)
    expected = weighted([(len(data), by_hand(initial, data, np.arange(len(data))))], 0.5)
    assert config.ppo.value_coef == 0.5
    assert {k: row[k] for k in expected} == pytest.approx(expected, rel=1e-5)
    # Held out in batches of 32, in eval mode: the same as all at once.
    held = {k: v for k, v in row.items() if k.startswith("validation_")}
    assert held == pytest.approx(held_out(model, validation), rel=1e-5)


def test_the_epochs_order_is_the_seeded_permutation(records: Path) -> None:
    """A position whose result is NaN stops the run at the minibatch that holds it: the
    one torch.randperm of a generator seeded with the run's seed puts it in."""
    games = unique([g for f in record_files([records]) for g in read_record(f)])
    n, batch = len(positions(games)), 32
    order = torch.randperm(n, generator=torch.Generator().manual_seed(9)).tolist()
    for poisoned in (0, 1, 2):
        data = positions(games)
        data.results[poisoned] = float("nan")
        with pytest.raises(Diverged) as info:
            pretrain(load_config("tiny"), data, positions([]), 1, batch, 9)
        where = order.index(poisoned) // batch + 1
        assert str(info.value).startswith(f"epoch 1, batch {where} of {math.ceil(n / batch)} gave")
