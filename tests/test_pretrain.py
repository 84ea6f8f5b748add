"""``keisei pretrain`` on real records (written by ``keisei selfplay``), and ``train --init``."""

from __future__ import annotations

from pathlib import Path

import pytest

from keisei.cli.main import main
from keisei.game.records import read_record
from keisei.training.checkpoint import list_checkpoints, load_model, read_checkpoint
from tests.conftest import Train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MINIMAL_CSA = "V2.2\nPI\n+\n+7776FU\n-3334FU\n%TORYO\n"


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny network pretrained on 6 random games (each written as .csa and .kif)."""
    root = tmp_path_factory.mktemp("pretrain")
    assert main(["selfplay", "--games", "6", "--seed", "3", "--max-plies", "60",
                 "--out", str(root / "records")]) == 0  # fmt: skip
    out = root / "pre.pt"
    argv = ["pretrain", str(root / "records"), "--out", str(out), "--preset", "tiny"]
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
        (lambda d: (d / "r").mkdir(), "no moves in the records given (0 .csa/.kif files"),
        (lambda d: (d / "r").write_text("x"), " is not a .csa or .kif record"),
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
