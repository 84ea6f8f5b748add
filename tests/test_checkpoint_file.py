"""keisei/training/checkpoint.py by itself: the file's bytes, the header, the weights' hash,
the finiteness checks, the payload checks, pruning, skipping and loading.

No training: payloads are built from the tiny preset's real network, so each check runs in
milliseconds (this file is the fast subset that mutation testing runs on the module). The
same refusals seen through the commands, on files a real run wrote, are in
test_invariants.py.
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from keisei import __version__
from keisei.config import TrainConfig
from keisei.rl.network import ActorCritic
from keisei.training.checkpoint import (
    BUNDLED_PATH,
    EXPORTED_KEYS,
    HEADER_KEYS,
    MAGIC,
    CheckpointError,
    Diverged,
    averaged,
    check_finite,
    checkpoint_header,
    exported,
    latest_valid,
    list_checkpoints,
    load_model,
    model_path,
    nonfinite,
    prune,
    read_checkpoint,
    remove_stale_temporaries,
    resolve,
    split_ranks,
    step_of,
    weights_problem,
    weights_sha256,
    write_checkpoint,
)
from tests.ckptutil import STATE, payload_of, poison, step_path


# -- the file ------------------------------------------------------------------------------
def test_the_file_is_magic_checksum_newline_payload(
    tiny_config: TrainConfig, tmp_path: Path
) -> None:
    payload = payload_of(tiny_config)
    path = tmp_path / "c.pt"
    assert write_checkpoint(path, payload) == path
    blob = path.read_bytes()
    assert MAGIC == b"KEISEI-CKPT 1\n"
    assert blob[:14] == MAGIC
    data = blob[14 + 65 :]
    assert blob[14 : 14 + 64] == hashlib.sha256(data).hexdigest().encode()
    assert blob[14 + 64 : 14 + 65] == b"\n"
    loaded = torch.load(io.BytesIO(data), weights_only=False)
    assert list(loaded) == list(payload)
    back = read_checkpoint(path)
    assert back["state"] == STATE
    assert back["weights_sha256"] == payload["weights_sha256"]
    for name, tensor in payload["model"].items():
        assert torch.equal(back["model"][name], tensor)
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary left


def test_the_header_in_its_order(tiny_config: TrainConfig) -> None:
    weights = ActorCritic(tiny_config.model).state_dict()
    head = checkpoint_header(tiny_config, "finished", weights)
    assert tuple(head) == HEADER_KEYS
    assert (head["format"], head["keisei_version"], head["status"]) == (1, __version__, "finished")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", head["created"])
    assert head["config"] == tiny_config.model_dump(mode="json")
    assert head["config_sha256"] == tiny_config.sha256()
    assert head["action_space"] == {"actions": 2187, "planes": 119}
    assert head["model"] is weights
    assert head["weights_sha256"] == weights_sha256(weights)
    marked = checkpoint_header(tiny_config, "running", weights, consistent=False)
    assert tuple(marked) == (*HEADER_KEYS[:3], "consistent", *HEADER_KEYS[3:])
    assert marked["consistent"] is False
    assert checkpoint_header(tiny_config, "running", weights, consistent=True)["consistent"]


def test_weights_hash_by_hand() -> None:
    """sha256 over ``name|dtype|shape|`` and the bytes in C order, tensor by tensor."""
    base = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    weights = {
        "a": base.t(),  # not contiguous: hashed as its values in C order
        "b": torch.tensor([1, 2], dtype=torch.int64),
        "empty": torch.zeros(0, 4),
    }
    h = hashlib.sha256()
    h.update(b"a|torch.float32|(3, 2)|")
    h.update(np.arange(6, dtype=np.float32).reshape(2, 3).T.tobytes())
    h.update(b"b|torch.int64|(2,)|")
    h.update(np.array([1, 2], dtype=np.int64).tobytes())
    h.update(b"empty|torch.float32|(0, 4)|")
    assert weights_sha256(weights) == h.hexdigest()
    reordered = {k: weights[k] for k in ("b", "a", "empty")}
    assert weights_sha256(reordered) != h.hexdigest()


# -- finiteness ----------------------------------------------------------------------------
def test_nonfinite_names_float_tensors_with_nan_or_inf_in_order() -> None:
    weights = {
        "fine": torch.ones(3),
        "nan": torch.tensor([0.0, float("nan")]),
        "ints": torch.tensor([1, 2]),
        "empty": torch.zeros(0),
        "inf": torch.tensor([float("-inf")]),
    }
    assert nonfinite(weights) == ["nan", "inf"]
    assert nonfinite({"ints": torch.tensor([3])}) == []
    assert nonfinite({}) == []


def test_check_finite_names_what_is_not_finite() -> None:
    fine = {"w": torch.ones(2)}
    assert check_finite("update 1", {"loss": 0.5, "kl": 0.0}, fine) is None
    cases = [
        ({"loss": float("nan"), "kl": 0.1, "value": float("inf")}, fine,
         "update 2 gave a non-finite loss (loss nan, value inf)"),
        ({"loss": 1.0}, {"w": torch.tensor([float("nan")]), "v": torch.ones(1)},
         "update 2 gave non-finite weights in 1 tensor (w)"),
        ({"loss": 1.0}, {k: torch.tensor([float("inf")]) for k in "abc"},
         "update 2 gave non-finite weights in 3 tensors (a, b, c)"),
        ({"loss": float("-inf")}, {k: torch.tensor([float("nan")]) for k in "abcd"},
         "update 2 gave a non-finite loss (loss -inf) and non-finite weights in 4 tensors "
         "(a, b, c, ...)"),
    ]  # fmt: skip
    for losses, weights, message in cases:
        with pytest.raises(Diverged) as info:
            check_finite("update 2", losses, weights)
        assert str(info.value) == message


def test_weights_problem_names_the_tensors(tiny_config: TrainConfig) -> None:
    payload = payload_of(tiny_config)
    assert weights_problem(payload) is None
    names = list(payload["model"])
    for name in names[:4]:
        poison(payload["model"][name])
    assert weights_problem(payload) == (
        f"its weights are not finite: NaN or infinity in 4 of {len(names)} tensors "
        f"({names[0]}, {names[1]}, {names[2]}, ...)"
    )
    payload = payload_of(tiny_config)
    for name in names[:3]:
        poison(payload["model"][name])
    assert weights_problem(payload) == (
        f"its weights are not finite: NaN or infinity in 3 of {len(names)} tensors "
        f"({names[0]}, {names[1]}, {names[2]})"
    )
    payload = payload_of(tiny_config)
    poison(payload["model"][names[1]], float("inf"))
    assert weights_problem(payload) == (
        f"its weights are not finite: NaN or infinity in 1 of {len(names)} tensors ({names[1]})"
    )


# -- reading -------------------------------------------------------------------------------
def test_read_refuses_each_damage_by_name(tiny_config: TrainConfig, tmp_path: Path) -> None:
    good = write_checkpoint(tmp_path / "good.pt", payload_of(tiny_config)).read_bytes()
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(tmp_path / "no.pt")
    assert str(info.value) == f"checkpoint not found: {tmp_path / 'no.pt'}"
    (tmp_path / "dir.pt").mkdir()
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(tmp_path / "dir.pt")
    assert str(info.value) == f"checkpoint path is a directory: {tmp_path / 'dir.pt'}"
    header = len(MAGIC) + 65
    cases = [
        (b"", "is not a keisei checkpoint (bad header)"),
        (MAGIC[:-1] + b"?" + good[14:], "is not a keisei checkpoint (bad header)"),
        (good[: header - 1], "is truncated"),
        (good[:header], "is corrupt or truncated (checksum mismatch)"),  # a header, no payload
        (good[:-1], "is corrupt or truncated (checksum mismatch)"),
        # A byte of the stored digest that is not even ASCII: still a checksum mismatch.
        (good[:20] + b"\xff" + good[21:], "is corrupt or truncated (checksum mismatch)"),
    ]
    for i, (data, problem) in enumerate(cases):
        path = tmp_path / f"bad{i}.pt"
        path.write_bytes(data)
        with pytest.raises(CheckpointError) as info:
            read_checkpoint(path)
        assert str(info.value) == f"{path} {problem}", i


def written(tmp_path: Path, payload: Any) -> Path:
    path = tmp_path / "p.pt"
    write_checkpoint(path, payload)
    return path


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda p: [p], "it holds a list, not a checkpoint dictionary"),
        (lambda p: p | {"config": "tiny"}, "no config with a model section"),
        (lambda p: p | {"config": {"model": None}}, "no config with a model section"),
        (lambda p: p | {"config": {"model": {"channels": "many"}}},
         "its model config is not valid"),
        (lambda p: {k: v for k, v in p.items() if k != "model"},
         "no model weights (a dict of named tensors)"),
        (lambda p: p | {"model": [1]}, "no model weights (a dict of named tensors)"),
        (lambda p: p | {"model": {"w": [1.0]}}, "no model weights (a dict of named tensors)"),
        (lambda p: p | {"model": {1: torch.ones(1)}}, "no model weights (a dict of named tensors)"),
        (lambda p: p | {"average": [1]}, "an average that is not {weights, count}"),
        (lambda p: p | {"average": {"weights": p["model"], "count": 0}},
         "an average of 0 snapshots"),
        (lambda p: p | {"average": {"weights": p["model"]}},
         "an average that is not {weights, count}"),
        (lambda p: p | {"average": {"weights": p["model"], "count": True}},
         "an average of True snapshots"),
        (lambda p: p | {"average": {"weights": p["model"], "count": "2"}},
         "an average of '2' snapshots"),
        (lambda p: p | {"average": {"weights": {}, "count": 2}},
         "an average whose tensors are not the model's"),
        (lambda p: p | {"average": {"weights": dict.fromkeys(p["model"], 0.0), "count": 2}},
         "an average whose FIRST is not shaped as the model's"),
        (lambda p: p | {"average": {"weights": {k: v[:0] for k, v in p["model"].items()},
                                    "count": 2}},
         "an average whose FIRST is not shaped as the model's"),
        (lambda p: p | {"state": []}, "no training state"),
        (lambda p: p | {"state": {"updates": 1}}, "training state has no counter 'global_step'"),
        (lambda p: p | {"state": STATE | {"global_step": 1.0}},
         "training state counter 'global_step' is not a count: 1.0"),
        (lambda p: p | {"state": STATE | {"finished_plies": -1}},
         "training state counter 'finished_plies' is not a count: -1"),
        (lambda p: p | {"state": STATE | {"episodes": False}},
         "training state counter 'episodes' is not a count: False"),
        (lambda p: p | {"state": STATE | {"reasons": {"checkmate": 1.5}}},
         "training state has no termination reason counts"),
        (lambda p: p | {"state": STATE | {"reasons": {3: 1}}},
         "training state has no termination reason counts"),
        (lambda p: p | {"state": STATE | {"best_score": True}},
         "training state has a best_score that is not a number"),
        (lambda p: p | {"state": STATE | {"extra": 1}},
         "training state has unknown fields ['extra']"),
    ],
)  # fmt: skip
def test_payload_problems_are_named(
    tiny_config: TrainConfig, tmp_path: Path, change: Any, problem: str
) -> None:
    payload = payload_of(tiny_config)
    path = written(tmp_path, change(payload))
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path)
    problem = problem.replace("FIRST", next(iter(payload["model"])))  # the first tensor's name
    assert str(info.value) == f"{path} is not a keisei training checkpoint ({problem})"


@pytest.mark.parametrize(
    "state",
    [
        {"global_step": 0},  # the other counters and the reasons read as absent
        STATE | {"best_score": 0.75},
        STATE | {"best_score": 1},
        STATE | {"reasons": {}},
    ],
)
def test_payloads_every_reader_can_use(
    tiny_config: TrainConfig, tmp_path: Path, state: Any
) -> None:
    path = written(tmp_path, payload_of(tiny_config) | {"state": state})
    assert read_checkpoint(path)["state"] == state


# -- a run's checkpoints -------------------------------------------------------------------
def test_steps_and_listing(tmp_path: Path) -> None:
    assert step_of(Path("step_0000000064.pt")) == 64
    assert step_of(Path("final.pt")) == -1
    assert step_of(Path("step_12.pt.tmp")) == -1
    run = tmp_path / "run"
    assert list_checkpoints(run) == []
    checkpoints = run / "checkpoints"
    checkpoints.mkdir(parents=True)
    for name in ("step_10.pt", "step_9.pt", "final.pt", "best.pt", "step_0000000100.pt"):
        (checkpoints / name).write_bytes(b"")
    expected = [checkpoints / n for n in ("step_9.pt", "step_10.pt", "step_0000000100.pt")]
    assert list_checkpoints(run) == expected  # a run directory
    assert list_checkpoints(checkpoints) == expected  # its checkpoints directory


def test_prune_without_periodic_ones_and_keeping_none(tmp_path: Path) -> None:
    for step in (50, 100, 150, 200, 230, 260):
        step_path(tmp_path, step).write_bytes(b"")
    # keep_last 0: no periodic one kept, the newer non-periodic ones (230, 260) are.
    removed = prune(tmp_path, 0, 100)
    assert [step_of(p) for p in removed] == [50, 100, 150, 200]
    assert [step_of(p) for p in list_checkpoints(tmp_path)] == [230, 260]
    # No periodic checkpoint at all: every one is newer than "all of them".
    assert prune(tmp_path, 3, 1000) == []
    # keep_last 1 with the newest periodic: only it and what is newer than it stay.
    step_path(tmp_path, 300).write_bytes(b"")
    assert [step_of(p) for p in prune(tmp_path, 1, 100)] == [230, 260]
    assert [step_of(p) for p in list_checkpoints(tmp_path)] == [300]
    assert prune(tmp_path, 0, 7) == []  # the newest is never removed
    # keep_last 1 with a newer interrupted one: the newest periodic stays beside it.
    for step in (400, 450):
        step_path(tmp_path, step).write_bytes(b"")
    assert [step_of(p) for p in prune(tmp_path, 1, 100)] == [300]
    assert [step_of(p) for p in list_checkpoints(tmp_path)] == [400, 450]


def test_split_ranks_and_export(tiny_config: TrainConfig, tmp_path: Path) -> None:
    payload = payload_of(tiny_config, "finished") | {
        "agent": {"opt": 1},
        "rollout": "r0",
        "env": "e0",
        "rng": "g0",
        "actor": {},
        "world_size": 2,
        "peer_ranks": [{"rollout": "r1", "env": "e1", "rng": "g1", "actor": {"x": 1}}],
        "wandb_run_id": "abc",
    }
    shared, own = split_ranks(payload)
    assert own == [
        {"rollout": "r0", "env": "e0", "rng": "g0", "actor": {}},
        {"rollout": "r1", "env": "e1", "rng": "g1", "actor": {"x": 1}},
    ]
    assert list(shared) == [*HEADER_KEYS, "state", "agent", "wandb_run_id"]
    one = {k: v for k, v in payload.items() if k not in ("actor", "world_size", "peer_ranks")}
    assert split_ranks(one)[1] == [{"rollout": "r0", "env": "e0", "rng": "g0", "actor": None}]

    small = exported(payload, tmp_path / "src.pt")
    assert list(small) == [*EXPORTED_KEYS, "exported_from"]
    assert small["exported_from"] == {
        "path": str(tmp_path / "src.pt"),
        "status": "finished",
        "averaged": 0,
    }
    for name, tensor in payload["model"].items():
        copy = small["model"][name]
        assert torch.equal(copy, tensor) and copy.data_ptr() != tensor.data_ptr()
    assert exported({"model": {}}, tmp_path)["exported_from"]["status"] is None
    # It says how many processes trained it and how many snapshots its weights average,
    # and so does an export of it (`checkpoint info` of bundled said 1 rank, 0 averaged).
    assert small["world_size"] == 2 and averaged(small) == 0
    average = {"count": 3, "weights": payload["model"]}
    small = exported(payload | {"average": average}, tmp_path / "src.pt")
    assert (small["exported_from"]["averaged"], averaged(small)) == (3, 3)
    again = exported(small, tmp_path / "small.pt")
    assert (again["world_size"], again["exported_from"]["averaged"], averaged(again)) == (2, 3, 3)


def test_latest_valid_skips_what_it_cannot_use_newest_first(
    tiny_config: TrainConfig, tmp_path: Path
) -> None:
    checkpoints = tmp_path / "run" / "checkpoints"
    good = write_checkpoint(step_path(checkpoints, 64), payload_of(tiny_config))
    mid = payload_of(tiny_config) | {"consistent": False}
    write_checkpoint(step_path(checkpoints, 128), mid)
    nan = payload_of(tiny_config)
    poison(nan["model"]["policy_bias"])
    write_checkpoint(step_path(checkpoints, 192), nan)
    step_path(checkpoints, 256).write_bytes(b"garbage")
    warnings: list[str] = []

    def consistent(p: dict[str, Any]) -> bool:
        return bool(p.get("consistent", True))

    path, payload = latest_valid(tmp_path / "run", warnings.append, consistent)
    assert path == good and payload["state"] == STATE
    p = [step_path(checkpoints, s) for s in (256, 192, 128)]
    assert warnings == [
        f"skipping checkpoint {p[0]}: {p[0]} is not a keisei checkpoint (bad header)",
        f"skipping checkpoint {p[1]}: its weights are not finite: NaN or infinity in 1 of 21 "
        "tensors (policy_bias)",
        f"skipping checkpoint {p[2]}: written by a failed run mid-update",
    ]
    # Without ``accept`` the mid-update one is taken; ``resolve`` of the directory is this.
    warnings.clear()
    assert resolve(tmp_path / "run", warnings.append)[0] == p[2]
    assert len(warnings) == 2
    assert resolve(good)[0] == good
    good.unlink()
    with pytest.raises(CheckpointError) as info:
        latest_valid(tmp_path / "run", warnings.append, consistent)
    assert str(info.value) == f"no valid checkpoint in {tmp_path / 'run'}"


def test_stale_temporaries_are_removed(tmp_path: Path) -> None:
    names = [".step_1.pt.ab12.tmp", ".final.pt.zz.tmp", "step_1.pt", ".step_1.pt", "x.tmp"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / ".dir.pt.q.tmp").mkdir()
    removed = remove_stale_temporaries(tmp_path)
    assert removed == [tmp_path / ".final.pt.zz.tmp", tmp_path / ".step_1.pt.ab12.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".dir.pt.q.tmp", ".step_1.pt", "step_1.pt", "x.tmp",
    ]  # fmt: skip


# -- loading a network ---------------------------------------------------------------------
def test_load_model(tiny_config: TrainConfig, tmp_path: Path) -> None:
    payload = payload_of(tiny_config) | {"agent": {}, "env": 1, "rollout": 2, "rng": 3}
    path = written(tmp_path, payload)
    model, meta = load_model(path)
    assert not model.training
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, payload["model"][name])
    assert meta["path"] == str(path) and meta["global_step"] == 64
    assert set(payload) - set(meta) == {"model", "agent", "env", "rollout"}
    assert load_model(str(path))[1]["global_step"] == 64

    nan = payload_of(tiny_config)
    poison(nan["model"]["policy_bias"])
    path = written(tmp_path, nan)
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    assert str(info.value) == (
        f"{path} cannot be used: its weights are not finite: NaN or infinity in 1 of 21 "
        "tensors (policy_bias)"
    )
    short = payload_of(tiny_config)
    del short["model"]["policy_bias"]
    path = written(tmp_path, short)
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    assert str(info.value).startswith(f"{path}: cannot build its network (Error(s) in loading")
    assert 'Missing key(s) in state_dict: "policy_bias"' in str(info.value)


def test_model_path_names_bundled() -> None:
    assert model_path("bundled") == BUNDLED_PATH
    assert BUNDLED_PATH.name == "default.pt" and BUNDLED_PATH.parent.name == "bundled"
    assert model_path("./bundled") == Path("bundled")
    assert model_path(Path("runs/x")) == Path("runs/x")
