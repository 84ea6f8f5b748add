"""Every invariant and refusal of keisei/training and keisei/rl, triggered through a real seam.

The state invariants by a hook that corrupts the trainer's counters in a real tiny run;
the checkpoint checks by damaged copies of that run's checkpoint files (written with
keisei's own writer where the file itself must stay whole); the rollout and agent
refusals by the real objects. Where another test file already triggers a check, the
table in docs/testing.md names it instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import cshogi
import numpy as np
import pytest
import torch

from keisei.cli.main import build_parser, main
from keisei.cli.train import run as train_run
from keisei.config import GumbelSection, TrainConfig
from keisei.game.encoding import (
    NUM_ACTIONS,
    OBS_SHAPE,
    PACKED_MASK_BYTES,
    PACKED_OBS_BYTES,
    pack_mask,
    pack_obs,
    unpack_mask,
    unpack_obs,
)
from keisei.game.env import GameResult
from keisei.rl.network import ActorCritic
from keisei.rl.policy import MaskedCategorical
from keisei.rl.ppo import PPOAgent
from keisei.rl.rollout import RolloutBuffer, Row
from keisei.search.gumbel import GumbelSearch
from keisei.training.checkpoint import MAGIC, read_checkpoint, write_checkpoint
from keisei.training.hooks import HookContext
from keisei.training.rundir import LOCK_NAME
from keisei.training.state import TrainState
from tests.conftest import Train

STEP = "step_{:010d}.pt"
CORRUPT_AT = 128


class CorruptCounters:
    """A hook that breaks each of TrainState's three invariants once, through the state
    the Hook protocol hands it; the next checkpoint saves the broken counters."""

    name = "corrupt"
    every_steps = CORRUPT_AT

    def run(self, ctx: HookContext) -> None:
        if ctx.state.global_step == CORRUPT_AT:
            ctx.state.black_wins += 1  # episodes != wins + draws
            ctx.state.reasons["checkmate"] += 2  # episodes != sum of reasons
            ctx.state.finished_plies += 10_000  # more finished plies than plies


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run of 192 plies: clean checkpoints at 64 and 128, corrupted counters at 192."""
    root = tmp_path_factory.mktemp("invariants")
    run = root / "run"
    args = Train(root).args(
        run, "--total-steps", "192", "checkpoint.every_steps=64", "logging.tensorboard=false"
    )
    assert train_run(build_parser().parse_args(args), extra_hooks=[CorruptCounters()]) == 0
    return run


def ckpt(run_dir: Path, step: int) -> Path:
    return run_dir / "checkpoints" / STEP.format(step)


def info_lines(capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    capfd.readouterr()
    code = main(list(argv))
    out, err = capfd.readouterr()
    return code, out.splitlines(), err


# -- TrainState's invariants -----------------------------------------------------------------
def test_each_counter_invariant_is_reported(
    run_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    s = read_checkpoint(ckpt(run_dir, 192))["state"]
    code, out, _ = info_lines(capfd, "checkpoint", "info", str(ckpt(run_dir, 192)))
    assert code == 1
    assert out[-1] == "problems         " + str(
        [
            f"episodes {s['episodes']} != black_wins {s['black_wins']} + white_wins "
            f"{s['white_wins']} + draws {s['draws']}",
            f"episodes {s['episodes']} != sum over termination reasons "
            f"{sum(s['reasons'].values())}",
            f"finished_plies {s['finished_plies']} > global_step {s['global_step']}",
        ]
    )
    assert s["finished_plies"] > s["global_step"] == 192
    code, out, _ = info_lines(capfd, "checkpoint", "info", str(ckpt(run_dir, 128)))
    assert (code, out[-1]) == (0, "problems         []")


# -- damaged checkpoint files ----------------------------------------------------------------
def rewritten(run_dir: Path, tmp_path: Path, change: Any) -> Path:
    """A whole checkpoint file (valid header and checksum) with its payload changed."""
    payload = read_checkpoint(ckpt(run_dir, 128))
    change(payload)
    return write_checkpoint(tmp_path / "changed.pt", payload)


def with_bytes(tmp_path: Path, blob: bytes) -> Path:
    path = tmp_path / "damaged.pt"
    path.write_bytes(blob)
    return path


def refusal(capfd: pytest.CaptureFixture[str], path: Path) -> str:
    code, out, err = info_lines(capfd, "checkpoint", "info", str(path))
    assert (code, out, err.count("\n")) == (2, [], 1), err
    return err.strip()


def test_damaged_files_are_refused_by_name(
    run_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    blob = ckpt(run_dir, 128).read_bytes()
    header = len(MAGIC) + 65
    prefix = "keisei checkpoint info: error: "
    cases = [
        (b"PK\x03\x04" + blob[4:], "is not a keisei checkpoint (bad header)"),
        (blob[: header - 1], "is truncated"),
        (blob[:-1] + bytes([blob[-1] ^ 1]), "is corrupt or truncated (checksum mismatch)"),
    ]
    garbage = b"not a pickle at all"
    digest = hashlib.sha256(garbage).hexdigest().encode()
    cases.append((MAGIC + digest + b"\n" + garbage, "cannot be unpickled (UnpicklingError)"))
    for data, problem in cases:
        path = with_bytes(tmp_path, data)
        assert refusal(capfd, path) == f"{prefix}{path} {problem}"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda p: p["config"]["model"].update(blocks=0),
            "its model config is not valid",
        ),
        (lambda p: p.pop("state"), "no training state"),
        (
            lambda p: p["state"].update(draws=-1),
            "training state counter 'draws' is not a count: -1",
        ),
        (
            lambda p: p["state"].update(updates=True),
            "training state counter 'updates' is not a count: True",
        ),
        (
            lambda p: p["state"].update(reasons=["checkmate"]),
            "training state has no termination reason counts",
        ),
        (
            lambda p: p["state"].update(best_score="high"),
            "training state has a best_score that is not a number",
        ),
        (
            lambda p: p["state"].update(ratings=1, plies=2),
            "training state has unknown fields ['plies', 'ratings']",
        ),
    ],
)
def test_whole_files_with_a_broken_payload_are_refused(
    run_dir: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    change: Any,
    problem: str,
) -> None:
    path = rewritten(run_dir, tmp_path, change)
    assert refusal(capfd, path) == (
        f"keisei checkpoint info: error: {path} is not a keisei training checkpoint ({problem})"
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda p: p["model"]["policy_bias"].add_(1.0),
            "weights_sha256 does not match the stored weights",
        ),
        (lambda p: p.update(world_size=2), "world_size 2 but the games of 0 other ranks"),
    ],
)
def test_consistency_problems_of_a_whole_file(
    run_dir: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    change: Any,
    problem: str,
) -> None:
    path = rewritten(run_dir, tmp_path, change)
    code, out, _ = info_lines(capfd, "checkpoint", "info", str(path))
    assert (code, out[-1]) == (1, f"problems         {[problem]}")


def test_resume_refuses_a_directory_given_as_the_checkpoint(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "a_dir.pt"
    target.mkdir()
    argv = ["train", "--preset", "tiny", "--run-dir", str(tmp_path / "run"), "--resume"]
    code, out, err = info_lines(capfd, *argv, str(target))
    assert (code, out, err) == (
        2,
        [],
        f"keisei train: error: checkpoint path is a directory: {target}\n",
    )
    assert not (tmp_path / "run").exists()


def unreadable_checkpoint(path: Path) -> socket.socket:
    """A file named like a checkpoint that cannot even be opened: a Unix socket (ENXIO)."""
    here = Path.cwd()
    os.chdir(path.parent)  # a socket's path must be short
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(path.name)
    finally:
        os.chdir(here)
    return sock


def test_an_unreadable_newest_checkpoint_is_skipped_with_a_warning(
    run_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "r"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(ckpt(run_dir, 64), ckpt(run, 64))
    unreadable = ckpt(run, 128)
    with unreadable_checkpoint(unreadable):
        code, out, err = info_lines(capfd, "checkpoint", "info", str(run))
    assert (code, out[0]) == (0, f"path             {ckpt(run, 64)}")
    assert err.splitlines() == [
        f"warning: skipping checkpoint {unreadable}: unreadable ([Errno 6] No such device or "
        f"address: '{unreadable}')",
    ]


def no_valid_checkpoint(run_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> str:
    run = tmp_path / "r"
    (run / "checkpoints").mkdir(parents=True)
    ckpt(run, 64).write_bytes(ckpt(run_dir, 64).read_bytes()[:100])
    code, out, err = info_lines(capfd, "checkpoint", "info", str(run))
    assert (code, out) == (2, [])
    assert err.splitlines()[-1] == f"keisei checkpoint info: error: no valid checkpoint in {run}"
    return err


def test_a_run_without_a_valid_checkpoint_is_refused(
    run_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    no_valid_checkpoint(run_dir, tmp_path, capfd)


def test_a_run_without_a_valid_checkpoint_says_why_each_was_skipped(
    run_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "r"
    truncated = ckpt(run, 64)
    why = f"warning: skipping checkpoint {truncated}: {truncated} is corrupt or truncated "
    why += "(checksum mismatch)"
    assert no_valid_checkpoint(run_dir, tmp_path, capfd).splitlines() == [
        why,
        f"keisei checkpoint info: error: no valid checkpoint in {run}",
    ]
    code, out, err = info_lines(
        capfd, "train", "--preset", "tiny", "--run-dir", str(run), "--resume", "latest"
    )
    assert (code, out, err.splitlines()) == (
        2,
        [],
        [why, f"keisei train: error: --resume latest: no valid checkpoint in {run}"],
    )


def no_valid_run(run_dir: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """A run whose checkpoints are all invalid (step 64 truncated, step 128 with a NaN),
    and the warnings that say why each is skipped, newest first."""
    run = tmp_path / "r"
    (run / "checkpoints").mkdir(parents=True)
    ckpt(run, 64).write_bytes(ckpt(run_dir, 64).read_bytes()[:100])
    payload = read_checkpoint(ckpt(run_dir, 128))
    name = next(iter(payload["model"]))
    payload["model"][name].view(-1)[0] = float("nan")
    write_checkpoint(ckpt(run, 128), payload)
    return run, [
        f"warning: skipping checkpoint {ckpt(run, 128)}: its weights are not finite: NaN or "
        f"infinity in 1 of {len(payload['model'])} tensors ({name})",
        f"warning: skipping checkpoint {ckpt(run, 64)}: {ckpt(run, 64)} is corrupt or "
        "truncated (checksum mismatch)",
    ]


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["checkpoint", "export", "RUN", "--out", "OUT"], "keisei checkpoint export: error: "),
        (["checkpoint", "export", "RUN", "--onnx", "OUT"], "keisei checkpoint export: error: "),
        (["train", "--preset", "tiny", "--run-dir", "OUT", "--init", "RUN"],
         "keisei train: error: --init: "),
        (["usi", "RUN"], "keisei usi: error: "),
        (["play", "RUN", "--records", "OUT"], "keisei play: error: "),
        (["evaluate", "--agent", "RUN", "--opponent", "random", "--records", "OUT"],
         "keisei evaluate: error: --agent: "),
        (["evaluate", "--agent", "random", "--opponent", "search:RUN", "--records", "OUT"],
         "keisei evaluate: error: --opponent: "),
        (["ladder", "RUN", "--records", "OUT"], "keisei ladder: error: PLAYER: "),
    ],
    ids=["export", "onnx", "init", "usi", "play", "evaluate", "search", "ladder"],
)  # fmt: skip
def test_every_command_given_a_run_without_a_valid_checkpoint_says_why(
    run_dir: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    argv: list[str],
    error: str,
) -> None:
    """Each skip's warning (newest first), then the one-line error; nothing written."""
    run, warnings = no_valid_run(run_dir, tmp_path)
    out_path = tmp_path / "out"
    before = sorted(run.rglob("*"))
    argv = [a.replace("RUN", str(run)).replace("OUT", str(out_path)) for a in argv]
    code, out, err = info_lines(capfd, *argv)
    assert (code, out) == (2, [])
    assert err.splitlines() == [*warnings, f"{error}no valid checkpoint in {run}"]
    assert sorted(run.rglob("*")) == before
    assert not out_path.exists()


def test_a_command_given_a_run_says_which_damaged_checkpoints_it_passed_over(
    run_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "r"
    (run / "checkpoints").mkdir(parents=True)
    for step in (64, 128):
        shutil.copy(ckpt(run_dir, step), ckpt(run, step))
    with ckpt(run, 128).open("r+b") as f:
        f.truncate(1000)
    out = tmp_path / "model.pt"
    code, _, err = info_lines(capfd, "checkpoint", "export", str(run), "--out", str(out))
    assert (code, err.splitlines()[0]) == (
        0,
        f"warning: skipping checkpoint {ckpt(run, 128)}: {ckpt(run, 128)} is corrupt or "
        "truncated (checksum mismatch)",
    )
    assert read_checkpoint(out)["state"]["global_step"] == 64


def test_resume_latest_skips_a_checkpoint_written_mid_update(
    run_dir: Path, tmp_path: Path, train: Train
) -> None:
    run = tmp_path / "r"
    shutil.copytree(run_dir, run)
    for step in (192, 128):
        ckpt(run, step).unlink()
    for name in ("final.pt", "best.pt"):
        (run / "checkpoints" / name).unlink(missing_ok=True)
    payload = read_checkpoint(ckpt(run_dir, 128))
    payload["consistent"] = False
    write_checkpoint(ckpt(run, 128), payload)
    assert train.run(run, "--resume", "latest", "--total-steps", "128") == 0
    log = (run / "train.log").read_text(encoding="utf-8")
    assert f"skipping checkpoint {ckpt(run, 128)}: written by a failed run mid-update" in log
    assert f"Resumed from {ckpt(run, 64)} at step 64" in log


# -- the run-directory lock --------------------------------------------------------------------
def test_lock_held_before_its_owner_is_written(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A process holding the lock with the owner not yet written (as in its first moments)."""
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys\n"
            f"fd = os.open({str(run / LOCK_NAME)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        code, out, err = info_lines(
            capfd, "train", "--preset", "tiny", "--run-dir", str(run), "--total-steps", "64"
        )
    finally:
        holder.communicate("", timeout=30)
    assert (code, out, err) == (
        2,
        [],
        f"keisei train: error: run directory {run} is in use by another keisei train (a "
        "process that is starting up); wait for it to end or stop it, or choose another "
        "--run-dir\n",
    )
    assert sorted(p.name for p in run.iterdir()) == [LOCK_NAME]


# -- refusals of the rollout, the agent, the policy and the search ----------------------------
def rollout_row(envs: int = 2, **fields: Any) -> Row:
    """A row of zeros for ``envs`` games (bit-packed, as the trainer stores them)."""
    zeros = np.zeros(envs, np.float32)
    base: dict[str, Any] = {
        "packed_obs": np.zeros((envs, PACKED_OBS_BYTES), np.uint8),
        "packed_mask": np.zeros((envs, PACKED_MASK_BYTES), np.uint8),
        "actions": np.zeros(envs, np.int64),
        "logp": zeros,
        "values": zeros,
        "rewards": zeros,
        "dones": np.zeros(envs, bool),
    }
    return Row(**{**base, **fields})


def test_rollout_refusals(tiny_config: TrainConfig) -> None:
    with pytest.raises(ValueError, match=r"^steps and envs must be >= 1, got steps=0, envs=2$"):
        RolloutBuffer(0, 2)
    buf = RolloutBuffer(1, 2)
    zeros = np.zeros(2, np.float32)
    with pytest.raises(ValueError, match=r"^packed obs shape \(2, 7\) != \(2, 1205\)$"):
        buf.add(rollout_row(packed_obs=np.zeros((2, 7), np.uint8)))
    with pytest.raises(ValueError, match=r"^packed mask shape \(1, 274\) != \(2, 274\)$"):
        buf.add(rollout_row(packed_mask=np.zeros((1, PACKED_MASK_BYTES), np.uint8)))
    assert buf.pos == 0
    agent = PPOAgent(ActorCritic(tiny_config.model), tiny_config.ppo, total_updates=1)
    with pytest.raises(ValueError, match=r"^rollout buffer is empty$"):
        agent.update(buf, zeros, torch.Generator())
    buf.add(rollout_row())
    with pytest.raises(RuntimeError, match=r"^rollout buffer is full \(1 steps\); call reset\(\)$"):
        buf.add(rollout_row())
    with pytest.raises(ValueError, match=r"^total_updates must be >= 1, got 0$"):
        PPOAgent(ActorCritic(tiny_config.model), tiny_config.ppo, total_updates=0)


def test_policy_and_search_refusals(tiny_config: TrainConfig) -> None:
    with pytest.raises(ValueError, match=r"^mask shape \(2, 3\) != logits shape \(2, 4\)$"):
        MaskedCategorical(torch.zeros(2, 4), torch.ones(2, 3, dtype=torch.bool))
    model = ActorCritic(tiny_config.model)
    agent = PPOAgent(model, tiny_config.ppo, total_updates=1)
    with pytest.raises(ValueError, match=r"^simulations must be >= 1, got 0$"):
        GumbelSearch(GumbelSection(simulations=0), agent.outputs)
    search = GumbelSearch(GumbelSection(simulations=4), agent.outputs)
    mated = cshogi.Board("4k4/4G4/4G4/9/9/9/9/9/4K4 w - 1")  # white to move, mated
    boards = [cshogi.Board(), mated]
    logits, values = np.zeros((2, NUM_ACTIONS), np.float32), np.zeros(2, np.float32)
    with pytest.raises(
        ValueError, match=r"^game 1 has no legal move: a finished game was searched$"
    ):
        search.run(boards, logits, values, torch.Generator())


def test_rollout_stores_each_array_in_its_place_and_names_a_targets_mismatch() -> None:
    one = RolloutBuffer(1, 1)  # the smallest rollout there is
    assert (one.steps, one.envs) == (1, 1)
    buf = RolloutBuffer(2, 2)
    obs, mask = np.zeros((2, *OBS_SHAPE), np.uint8), np.ones((2, NUM_ACTIONS), bool)
    obs[1, 3, 4, 5] = 1
    mask[0, 7] = False
    f = np.float32
    buf.add(
        rollout_row(
            packed_obs=pack_obs(obs),
            packed_mask=pack_mask(mask),
            actions=np.array([3, 9]),
            logp=np.array([-1.5, -2.5], f),
            values=np.array([0.25, -0.5], f),
            rewards=np.array([1.0, -1.0], f),
            dones=np.array([True, False]),
        )
    )
    assert buf.pos == 1
    assert buf.actions[0].tolist() == [3, 9]
    assert buf.logp[0].tolist() == [-1.5, -2.5]
    assert buf.values[0].tolist() == [0.25, -0.5]
    assert buf.rewards[0].tolist() == [1.0, -1.0]
    assert buf.dones[0].tolist() == [True, False]
    assert unpack_obs(buf.obs[0]).tolist() == obs.tolist()
    assert unpack_mask(buf.masks[0]).tolist() == mask.tolist()
    searched = RolloutBuffer(1, 2, targets=True)
    assert searched.targets is not None and searched.targets.dtype == np.float16
    with pytest.raises(ValueError, match=r"^this buffer stores policy targets: give them$"):
        searched.add(rollout_row())
    with pytest.raises(ValueError, match=r"^this buffer stores no policy targets$"):
        buf.add(rollout_row(targets=np.zeros((2, NUM_ACTIONS), f)))
    target = np.zeros((2, NUM_ACTIONS), f)
    target[:, 5] = 1.0
    searched.add(rollout_row(targets=target))
    assert searched.targets[0].astype(np.float32).tolist() == target.tolist()
    assert "targets" in searched.state_dict() and "targets" not in buf.state_dict()
    with pytest.raises(ValueError) as refused:
        buf.load_state_dict(searched.state_dict())
    assert str(refused.value) == (
        "saved rollout stores policy targets and this buffer does not (they are stored with "
        "gumbel.simulations > 0)"
    )
    with pytest.raises(ValueError) as refused:
        searched.load_state_dict(RolloutBuffer(1, 2).state_dict())
    assert str(refused.value) == (
        "saved rollout stores no policy targets and this buffer does (they are stored with "
        "gumbel.simulations > 0)"
    )
    league = RolloutBuffer(1, 2, learner=True)
    with pytest.raises(ValueError, match=r"^this buffer stores marks of the learner's moves: give"):
        league.add(rollout_row())
    with pytest.raises(ValueError, match=r"^this buffer stores no marks of the learner's moves$"):
        buf.add(rollout_row(learner=np.ones(2, bool)))
    league.add(rollout_row(learner=np.array([False, True])))
    assert league.learner is not None and league.learner[0].tolist() == [False, True]
    with pytest.raises(ValueError) as refused:
        buf.load_state_dict(league.state_dict())
    assert str(refused.value) == (
        "saved rollout stores marks of the learner's moves and this buffer does not (they "
        "are stored with league.fraction > 0)"
    )


def test_the_counters_of_each_finished_game() -> None:
    """Two black wins, three white wins and a draw, each counted once in its place."""
    state = TrainState(global_step=40)
    games = [(0, "checkmate", 7), (0, "nyugyoku", 6), (1, "checkmate", 8), (None, "max_plies", 9)]
    games += [(1, "checkmate", 1), (1, "perpetual_check", 2)]
    for winner, reason, plies in games:
        state.record_game(GameResult(winner, reason, plies, cshogi.STARTING_SFEN, ()))
    assert (state.episodes, state.black_wins, state.white_wins, state.draws) == (6, 2, 3, 1)
    assert state.finished_plies == 33
    assert {k: v for k, v in state.reasons.items() if v} == {
        "checkmate": 3,
        "nyugyoku": 1,
        "max_plies": 1,
        "perpetual_check": 1,
    }
    assert state.check_invariants() == []
    # A checkpoint from before a termination reason existed: the missing reasons are 0.
    reasons = {"checkmate": 3, "nyugyoku": 1, "max_plies": 1, "perpetual_check": 1}
    old = TrainState.from_dict({**state.to_dict(), "reasons": reasons})
    assert old.reasons == state.reasons and old.check_invariants() == []
