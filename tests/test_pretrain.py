"""``keisei pretrain`` on real records (written by ``keisei selfplay``), and ``train --init``."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import cshogi
import pytest

from keisei.cli.main import main
from keisei.config import load_config
from keisei.game.records import read_record, record_files
from keisei.training.checkpoint import Diverged, list_checkpoints, load_model, read_checkpoint
from keisei.training.pretrain import positions, pretrain, unique
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
        (1e30, "a non-finite loss (loss inf)"),
        (float("nan"), "a non-finite loss (loss nan) and non-finite weights in 21 tensors "
         "(policy_bias, stem.0.weight, stem.1.weight, ...)"),
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
