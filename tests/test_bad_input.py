"""Bad input gives one line on stderr and exit 2, creates nothing, and never a traceback.

The property tests walk the config schema (every key of ``TrainConfig``) and the parser
(every flag of every subcommand), so that a key or flag added later is covered without
editing this file: each draws values of the wrong kind or out of range and runs
``keisei.cli.main.main`` in-process. The cases that show only in a real process (cshogi's
C++ printing to file descriptor 1, Ctrl-C while torch loads, torch crashing on a huge
thread count) run ``python -m keisei``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import signal
import string
import subprocess
import sys
import time
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from keisei.cli.checks import (
    ENV_BYTES_PER_GAME,
    FloatRange,
    IntRange,
    check_memory,
    device,
    nproc_flag,
    train_memory_bytes,
    usable_cpus,
)
from keisei.cli.main import build_parser, main
from keisei.cli.watch import host_flag
from keisei.config import PRESETS, TrainConfig, load_config
from keisei.errors import UsageError
from keisei.game.env import validate_sfen
from keisei.rl.network import ActorCritic, parameter_count
from keisei.training.checkpoint import MAGIC
from keisei.training.state import TrainState

TIMEOUT = 120

# Start positions that cshogi reads but that are not legal: each side's king count, the
# side not to move in check, three pieces giving check (cshogi's is_ok prints a report
# and the board to stdout for the last two).
THREE_KINGS = "kkk6/9/9/9/9/9/9/9/8K b - 1"
NOT_TO_MOVE_IN_CHECK = "4k4/4R4/9/9/9/9/9/9/4K4 b - 1"
TRIPLE_CHECK = "4r3b/9/3n5/9/4K4/9/9/9/k8 b - 1"

FUZZ = settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- helpers ---------------------------------------------------------------------------------
def files_under(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def run_main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's errors (and only those) exit from parse_args
        assert isinstance(exc.code, int)
        return exc.code


def one_line_refusal(
    argv: list[str], capfd: pytest.CaptureFixture[str], root: Path, *names: str
) -> str:
    """Run ``argv``; assert exit 2, one stderr line naming one of ``names``, nothing made."""
    capfd.readouterr()
    before = files_under(root)
    code = run_main(argv)
    out, err = capfd.readouterr()
    assert code == 2, (argv, out, err)
    assert out == ""
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert any(name in err for name in names), (names, err)
    assert files_under(root) == before
    return err.strip()


# -- config keys -----------------------------------------------------------------------------
def config_fields(model: type[BaseModel] = TrainConfig, prefix: str = "") -> dict[str, FieldInfo]:
    """Every leaf key of the config schema, by dotted name."""
    out: dict[str, FieldInfo] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.update(config_fields(annotation, f"{prefix}{name}."))
        else:
            out[prefix + name] = info
    return out


def bound(info: FieldInfo, name: str) -> Any:
    return next((getattr(m, name) for m in info.metadata if hasattr(m, name)), None)


JUNK_TEXT = st.text(string.ascii_letters + "_-:,", min_size=1, max_size=10).filter(
    lambda t: t.lower() not in ("y", "n", "yes", "no", "on", "off", "true", "false", "null")
)
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
CONTAINERS = st.sampled_from([[1, 2], {"a": 1}])
HUGE = st.integers(1, 10**30)


def _int_values(info: FieldInfo) -> list[st.SearchStrategy[Any]]:
    low, high = bound(info, "ge"), bound(info, "le")
    options = [
        JUNK_TEXT,
        st.booleans(),
        st.floats(-1e6, 1e6).filter(lambda x: x != int(x)),
        NON_FINITE,
        CONTAINERS,
    ]
    if low is not None:
        options.append(HUGE.map(lambda k: low - k))
    if high is not None:
        options.append(HUGE.map(lambda k: high + k))
    return options


def _float_values(info: FieldInfo) -> list[st.SearchStrategy[Any]]:
    options = [JUNK_TEXT, st.booleans(), NON_FINITE, CONTAINERS]
    gt, ge, le = bound(info, "gt"), bound(info, "ge"), bound(info, "le")
    if gt is not None:
        options.append(st.floats(-1e300, gt).map(lambda x: min(x, gt)))
    if ge is not None:
        options.append(st.floats(-1e300, ge, exclude_max=True))
    if le is not None:
        options.append(st.floats(le, 1e300, exclude_min=True))
    return options


# Values that only this key refuses (the schema says "a string" or "a list of strings").
SEMANTIC: dict[str, list[Any]] = {
    "run.name": ["", ".", "..", "a/b", "a\\b"],
    "env.start_sfens": [
        ["hello"],
        [""],
        [THREE_KINGS],
        [NOT_TO_MOVE_IN_CHECK],
        [TRIPLE_CHECK],
        ["lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL x - 1"],
    ],
    "evaluation.opponents": [[""], ["zz-no-such-player"], ["usi:zz-no-such-engine"]],
}


def bad_config_values(key: str, info: FieldInfo) -> st.SearchStrategy[tuple[Any, ...]]:
    """One wrong value of each kind that applies to the key: its type, bounds, meaning."""
    annotation = info.annotation
    args = typing.get_args(annotation)
    optional = isinstance(annotation, types.UnionType) and type(None) in args
    if optional:
        (annotation,) = [a for a in args if a is not type(None)]
    options: list[st.SearchStrategy[Any]]
    if annotation is bool:
        options = [
            JUNK_TEXT,
            st.integers(2, 10**6),
            st.floats(0.1, 0.9),
            NON_FINITE,
            CONTAINERS,
        ]
    elif annotation is int:
        options = _int_values(info)
    elif annotation is float:
        options = _float_values(info)
    elif typing.get_origin(annotation) is Literal:
        choices = typing.get_args(annotation)
        options = [JUNK_TEXT.filter(lambda t: t not in choices), HUGE, CONTAINERS]
    elif annotation is str:
        options = [HUGE, CONTAINERS]
    elif typing.get_origin(annotation) is list:
        options = [HUGE, JUNK_TEXT, st.sampled_from([{"a": "b"}, [1], [[1]], [None]])]
    else:
        raise AssertionError(f"config key {key}: no strategy for {annotation}")
    if not optional and annotation is not str:
        options.append(st.none())
    if key in SEMANTIC:
        options.append(st.sampled_from(SEMANTIC[key]))
    return st.tuples(*options)


def yaml_text(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9)
    text = text.removesuffix("\n").removesuffix("\n...")
    back = yaml.safe_load(text)
    assert back == value or (isinstance(value, float) and math.isnan(value) and math.isnan(back))
    return text


CONFIG_FIELDS = config_fields()


def test_every_config_key_has_a_strategy() -> None:
    dumped = TrainConfig().model_dump()
    assert sorted(CONFIG_FIELDS) == sorted(f"{s}.{k}" for s in dumped for k in dumped[s])
    for key, info in CONFIG_FIELDS.items():
        bad_config_values(key, info)


@pytest.mark.parametrize("key", sorted(CONFIG_FIELDS))
@FUZZ
@given(data=st.data())
def test_config_key_refuses_wrong_values(
    key: str, data: st.DataObject, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    for value in data.draw(bad_config_values(key, CONFIG_FIELDS[key]), label=key):
        override = f"{key}={yaml_text(value)}"
        one_line_refusal(
            ["train", "--preset", "tiny", "--run-dir", str(run_dir), override],
            capfd,
            tmp_path,
            f"'{key}",
        )
        assert not run_dir.exists()


# -- CLI flags -------------------------------------------------------------------------------
def leaf_parsers() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every subcommand's parser (``checkpoint info`` as ("checkpoint", "info"))."""
    out: dict[tuple[str, ...], argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs and path:
            out[path] = parser
        for action in subs:
            for name, sub in action.choices.items():
                walk(sub, (*path, name))

    walk(build_parser(), ())
    return out


def base_argv(command: tuple[str, ...], root: Path, flag: str) -> list[str]:
    """A command line that is valid but for the flag under test, writing under ``root``."""
    target = str(root / "x")
    if command == ("train",):
        source = [] if flag in ("--config", "--preset") else ["--preset", "tiny"]
        return ["train", *source, "--run-dir", target]
    if command == ("pretrain",):
        records = root / "game.csa"
        records.write_text("V2.2\nPI\n+\n+7776FU\n-3334FU\n%TORYO\n")
        source = [] if flag in ("--config", "--preset") else ["--preset", "tiny"]
        given = [] if flag == "records" else [str(records)]
        return ["pretrain", *given, "--out", target, *source, "--epochs", "1"]
    if command == ("selfplay",):
        return ["selfplay", "--games", "1", "--out", target]
    if command == ("evaluate",):
        players = ["--agent", "random", "--opponent", "random"]
        return ["evaluate", *players, "--games", "1", "--records", target, "--quiet"]
    if command == ("ladder",):
        player = [] if flag == "player" else ["greedy"]
        return ["ladder", *player, "--games", "2", "--block", "2", "--records", target]
    if command == ("bench",):  # 'all' runs every section's checks
        section = [] if flag == "section" else ["all"]
        return ["bench", *section, "--seconds", "0.01", "--rounds", "1"]
    if command == ("checkpoint", "info"):
        return ["checkpoint", "info"]
    if command == ("checkpoint", "export"):
        if flag == "path":
            return ["checkpoint", "export", "--out", str(root / "x.pt")]
        return ["checkpoint", "export", str(root / "missing.pt")]
    if command == ("ratings",):
        return ["ratings"] if flag == "run_dirs" else ["ratings", str(root)]
    if command == ("usi",):
        return ["usi"] if flag == "checkpoint" else ["usi", str(root / "x.pt")]
    if command == ("play",):
        return ["play"] if flag == "checkpoint" else ["play", str(root / "x.pt")]
    if command == ("watch",):  # a valid command line would serve until stopped
        return ["watch"] if flag == "run_dirs" else ["watch", str(root)]
    raise AssertionError(f"no base command line for {command}")


def _text_not_number(t: str) -> bool:
    for parse in (int, float):
        try:
            parse(t)
            return False
        except ValueError:
            pass
    return True


NOT_A_NUMBER = st.text(string.ascii_letters + string.digits + "_-.:", min_size=1).filter(
    _text_not_number
)


def _is_address(text: str) -> bool:
    try:
        host_flag(text)
    except argparse.ArgumentTypeError:
        return False
    return True


def bad_flag_values(action: argparse.Action, root: Path) -> st.SearchStrategy[tuple[str, ...]]:
    """One wrong value of each kind that applies to the flag."""
    kind = action.type
    options: list[st.SearchStrategy[str]]
    if isinstance(kind, IntRange):
        # No keisei flag takes a negative number: seeds, counts, plies and sizes.
        options = [
            NOT_A_NUMBER,
            st.sampled_from(["1.5", "nan", "inf", "1e3", "0x10"]),
            st.integers(-(10**30), -1).map(str),
            st.integers(kind.high + 1, kind.high + 10**30).map(str),
        ]
    elif isinstance(kind, FloatRange):
        options = [
            NOT_A_NUMBER,
            st.sampled_from(["nan", "inf", "-inf", "NaN", "-Infinity"]),
            st.floats(-1e300, -1e-300).map(repr),
        ]
    elif action.choices is not None:
        choices = list(action.choices)
        options = [JUNK_TEXT.map(lambda t: f"zz{t}").filter(lambda t: t not in choices)]
    elif kind is device or action.dest == "device":
        options = [st.sampled_from(["junk", "mps", "cuda:99", "cpu0", "cuda:x", "meta"])]
    elif kind is Path:
        blocker = root / "a_file"
        options = [st.sampled_from([f"{blocker}/sub", f"{blocker}/sub/deeper.json"])]
    elif kind is nproc_flag:
        options = [
            JUNK_TEXT.filter(lambda t: t != "auto" and not t.strip().lstrip("+-").isdigit()),
            st.integers(-(10**30), 0).map(str),
        ]
    elif kind is host_flag:
        options = [JUNK_TEXT.filter(lambda t: not _is_address(t))]
    elif action.dest == "preset":
        options = [JUNK_TEXT.filter(lambda t: t not in PRESETS)]
    elif action.dest in ("agent", "opponent", "resume", "init", "player", "start"):
        options = [JUNK_TEXT.map(lambda t: f"zz{t}")]
    elif action.dest.endswith("_option"):
        options = [JUNK_TEXT]  # no '=': not NAME=VALUE
    elif action.dest == "overrides":
        options = [JUNK_TEXT.map(lambda t: f"zz{t}")]  # not key=value
    else:
        raise AssertionError(f"flag {action.option_strings or action.dest}: no strategy")
    return st.tuples(*options)


def flag_cases() -> list[tuple[tuple[str, ...], str]]:
    cases = []
    for command, parser in leaf_parsers().items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction) or action.nargs == 0:
                continue  # --help, --json, --quiet: no value to get wrong
            cases.append(
                (command, action.option_strings[-1] if action.option_strings else action.dest)
            )
    return cases


def find_action(command: tuple[str, ...], flag: str) -> argparse.Action:
    parser = leaf_parsers()[command]
    return next(a for a in parser._actions if flag in a.option_strings or a.dest == flag)


FLAG_CASES = flag_cases()


def test_flag_cases_cover_every_subcommand() -> None:
    # The walk finds nested subcommands too; a new subcommand needs a base_argv entry.
    commands = {c for c, _ in FLAG_CASES}
    assert commands >= {
        ("train",),
        ("checkpoint", "info"),
        ("selfplay",),
        ("evaluate",),
        ("ratings",),
        ("bench",),
    }
    assert (("evaluate",), "--agent-temperature") in FLAG_CASES
    assert (("checkpoint", "info"), "path") in FLAG_CASES


@pytest.mark.parametrize(
    ("command", "flag"), FLAG_CASES, ids=lambda c: " ".join(c) if isinstance(c, tuple) else c
)
@FUZZ
@given(data=st.data())
def test_flag_refuses_wrong_values(
    command: tuple[str, ...],
    flag: str,
    data: st.DataObject,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # evaluate's default records directory, and the like
    (tmp_path / "a_file").touch()
    action = find_action(command, flag)
    for value in data.draw(bad_flag_values(action, tmp_path), label=flag):
        argv = base_argv(command, tmp_path, flag)
        argv += [f"{flag}={value}"] if action.option_strings else [value]
        # A value is named instead of its flag only where the value is a path or a name.
        names = [flag, action.dest] if action.option_strings else [action.dest]
        if not isinstance(action.type, IntRange | FloatRange) and action.choices is None:
            names.append(value)
        one_line_refusal(argv, capfd, tmp_path, *names)
        assert not (tmp_path / "x").exists()


# -- the cases of issue 12, with their messages ----------------------------------------------
def train_argv(tmp_path: Path, *extra: str) -> list[str]:
    return ["train", "--preset", "tiny", "--run-dir", str(tmp_path / "run"), *extra]


SFEN_FIELDS = "expected 3 or 4 fields: board, side to move, pieces in hand[, move number]"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "env.start_sfens=[hello]",
            f"config key 'env.start_sfens' entry 0 is not a valid SFEN: 'hello' ({SFEN_FIELDS})",
        ),
        (
            "env.start_sfens=['']",
            f"config key 'env.start_sfens' entry 0 is not a valid SFEN: '' ({SFEN_FIELDS})",
        ),
        (
            f"env.start_sfens=['{THREE_KINGS}']",
            f"config key 'env.start_sfens' entry 0 is not a valid SFEN: '{THREE_KINGS}' "
            "(each side needs exactly one king)",
        ),
        (
            f"env.start_sfens=['{NOT_TO_MOVE_IN_CHECK}']",
            f"config key 'env.start_sfens' entry 0 is not a legal position: "
            f"'{NOT_TO_MOVE_IN_CHECK}' (white, not to move, is in check)",
        ),
        (
            f"env.start_sfens=['{TRIPLE_CHECK}']",
            f"config key 'env.start_sfens' entry 0 is not a legal position: '{TRIPLE_CHECK}' "
            "(cshogi's is_ok)",
        ),
        (
            "run.seed=18446744073709551616",
            "config key 'run.seed': Input should be less than or equal to "
            "18446744073709551615 (got 18446744073709551616)",
        ),
        (
            "ppo.learning_rate=.inf",
            "config key 'ppo.learning_rate': must be a finite number (got inf)",
        ),
        (
            "ppo.entropy_coef=.inf",
            "config key 'ppo.entropy_coef': must be a finite number (got inf)",
        ),
        ("ppo.value_coef=.nan", "config key 'ppo.value_coef': must be a finite number (got nan)"),
        (
            "ppo.weight_decay=-.inf",
            "config key 'ppo.weight_decay': must be a finite number (got -inf)",
        ),
        (
            "run.torch_threads=100000",
            "config key 'run.torch_threads': Input should be less than or equal to 1024 "
            "(got 100000)",
        ),
        (
            "evaluation.opponents=[zz-nobody]",
            "config key 'evaluation.opponents': evaluation opponent 'zz-nobody': "
            "no such checkpoint",
        ),
        ("run.seed=true", "config key 'run.seed': must be a number, not a boolean (got True)"),
    ],
)
def test_train_config_cases(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], override: str, message: str
) -> None:
    line = one_line_refusal(train_argv(tmp_path, override), capfd, tmp_path, "config key")
    assert line == f"keisei train: error: {message}"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["env.overlap=true", "env.num_games=1"],
            "config key 'env.overlap' needs at least 2 games per process to split in halves; "
            "env.num_games is 1",
        ),
        (
            ["env.overlap=true", "--nproc", "4"],
            "config key 'env.overlap' needs at least 2 games per process to split in halves; "
            "env.num_games is 4 over 4 processes",
        ),
        (
            ["env.overlap=true", "gumbel.simulations=4"],
            "config key 'env.overlap' cannot be combined with the Gumbel search "
            "(gumbel.simulations is 4): use one or the other",
        ),
    ],
)
def test_overlap_needs_halves_of_games(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], overrides: list[str], message: str
) -> None:
    line = one_line_refusal(train_argv(tmp_path, *overrides), capfd, tmp_path, "env.overlap")
    assert line == f"keisei train: error: {message}"


def test_torch_threads_beyond_four_per_cpu(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    threads = min(4 * usable_cpus() + 1, 1024)
    if threads <= 4 * usable_cpus():
        pytest.skip("a machine with more than 255 CPUs")
    argv = train_argv(tmp_path, f"run.torch_threads={threads}")
    line = one_line_refusal(argv, capfd, tmp_path, "run.torch_threads")
    assert line == (
        f"keisei train: error: config key 'run.torch_threads' is {threads}, more than 4 per "
        f"CPU of this machine ({usable_cpus()} CPUs): use at most {4 * usable_cpus()} "
        "(0: torch's default)"
    )


def test_memory_counts_the_parameters_of_the_network_the_config_builds() -> None:
    """Drift: the estimate once counted parameters from copied constants, without ``se``."""
    plain = load_config("tiny")
    se = load_config("tiny", overrides=["model.se=true"])
    assert parameter_count(plain.model) == 23_280
    assert parameter_count(se.model) == 23_322  # squeeze-and-excitation: 42 more
    model = ActorCritic(se.model)
    assert parameter_count(se.model) == sum(p.numel() for p in model.parameters())
    sizes = {"env.num_games": 4, "rollout.steps_per_game": 16, "model.blocks": 1}
    sizes |= {"model.channels": 8, "ppo.minibatch_size": 32}  # the tiny preset's
    needed = train_memory_bytes(sizes, network=plain.model)
    assert train_memory_bytes(sizes, network=se.model) - needed == 16 * 42
    check_memory(plain, needed)  # fits exactly
    with pytest.raises(UsageError, match="the run would need about"):
        check_memory(se, needed)


def test_memory_says_what_fits(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    config = load_config("tiny", overrides=["env.num_games=10000000"])
    sizes = {"env.num_games": 10_000_000, "rollout.steps_per_game": 16, "model.blocks": 1}
    sizes |= {"model.channels": 8, "ppo.minibatch_size": config.ppo.minibatch_size}
    needed = train_memory_bytes(sizes)
    available = 8 * 10**9
    with pytest.raises(UsageError) as info:
        check_memory(config, available)
    fits = 41_502  # the most games that fit in 8 GB with the rest of the tiny preset
    assert train_memory_bytes({**sizes, "env.num_games": fits}) <= available
    assert train_memory_bytes({**sizes, "env.num_games": fits + 1}) > available
    assert str(info.value) == (
        f"config key 'env.num_games' is 10,000,000: the run would need about "
        f"{needed / 1e9:,.1f} GB of memory, 8.0 GB is available; at most {fits:,} fits "
        "with the rest of the config"
    )
    # And through the command, against this machine's memory.
    argv = train_argv(tmp_path, "env.num_games=10000000")
    line = one_line_refusal(argv, capfd, tmp_path, "env.num_games")
    assert line.startswith("keisei train: error: config key 'env.num_games' is 10,000,000: ")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine with CUDA")
def test_cuda_without_cuda(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    line = one_line_refusal(train_argv(tmp_path, "run.device=cuda"), capfd, tmp_path, "run")
    assert line == (
        "keisei train: error: config key 'run.device' is 'cuda' but no CUDA device is available"
    )
    argv = ["evaluate", "--agent", "random", "--opponent", "random", "--device", "cuda"]
    line = one_line_refusal(argv, capfd, tmp_path, "--device")
    assert line == (
        "keisei evaluate: error: argument --device: 'cuda': no CUDA device is available "
        "(see 'keisei evaluate --help')"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["selfplay", "--seed", "-1", "--out", "OUT"],
            "keisei selfplay: error: argument --seed: must be >= 0, got -1 "
            "(see 'keisei selfplay --help')",
        ),
        (
            ["evaluate", "--agent", "random", "--opponent", "random", "--seed", "-1"],
            "keisei evaluate: error: argument --seed: must be >= 0, got -1 "
            "(see 'keisei evaluate --help')",
        ),
        (
            ["evaluate", "--agent", "random", "--opponent", "random", "--device", "junk"],
            "keisei evaluate: error: argument --device: unknown device 'junk' "
            "(use cpu, cuda or cuda:N) (see 'keisei evaluate --help')",
        ),
        (
            ["evaluate", "--agent", "random", "--opponent", "random", "--agent-temperature", "nan"],
            "keisei evaluate: error: argument --agent-temperature: must be a finite number, "
            "got 'nan' (see 'keisei evaluate --help')",
        ),
        (
            ["evaluate", "--agent", "random", "--opponent", "random", "--agent-temperature", "inf"],
            "keisei evaluate: error: argument --agent-temperature: must be a finite number, "
            "got 'inf' (see 'keisei evaluate --help')",
        ),
        (
            ["evaluate", "--agent", "random", "--opponent", "random", "--agent-temperature=-1"],
            "keisei evaluate: error: --agent-temperature must be >= 0, got -1.0",
        ),
        (
            ["selfplay", "--max-plies", "2147483648", "--out", "OUT"],
            "keisei selfplay: error: argument --max-plies: must be <= 2147483647, "
            "got 2147483648 (see 'keisei selfplay --help')",
        ),
        (
            ["evaluate", "--agent", "random", "--opponent", "random", "--agent-temperature=1e-320"],
            "keisei evaluate: error: --agent-temperature must be 0 (greedy) or at least 1e-06, "
            "got 1e-320",
        ),
        (
            ["evaluate", "--agent", "random", "--opponent", "random", "--agent-time-limit=1e10"],
            "keisei evaluate: error: --agent-time-limit must be <= 1e+06, got 10000000000.0",
        ),
        (
            ["evaluate", "--agent", "random", "--opponent", "random", "--opponent-byoyomi=2e9"],
            "keisei evaluate: error: argument --opponent-byoyomi: expected an integer, got '2e9' "
            "(see 'keisei evaluate --help')",
        ),
        (
            [
                "evaluate",
                "--agent",
                "random",
                "--opponent",
                "random",
                "--opponent-byoyomi=2000000000",
            ],
            "keisei evaluate: error: --opponent-byoyomi must be <= 1e+09, got 2000000000",
        ),
        (
            ["bench", "env", "--seconds", "inf"],
            "keisei bench: error: argument --seconds: must be a finite number, got 'inf' "
            "(see 'keisei bench --help')",
        ),
    ],
)
def test_flag_cases(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    line = one_line_refusal(argv, capfd, tmp_path, "--")
    assert line == message


def test_evaluate_parallel_beyond_memory(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    n = 10**10
    argv = ["evaluate", "--agent", "random", "--opponent", "random", "--games", str(n)]
    line = one_line_refusal([*argv, "--parallel", str(n)], capfd, tmp_path, "--parallel")
    # The rest names this machine's available memory and how many games fit in it.
    assert line.startswith(
        f"keisei evaluate: error: --parallel {n}: {n:,} games at once would need about "
        f"{n * ENV_BYTES_PER_GAME / 1e9:,.1f} GB of memory, "
    )


# -- checkpoints with a valid header and checksum but a foreign payload ---------------------
def write_foreign(path: Path, payload: Any) -> Path:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    path.write_bytes(MAGIC + hashlib.sha256(data).hexdigest().encode() + b"\n" + data)
    return path


FOREIGN = [
    ([1, 2, 3], "it holds a list, not a checkpoint dictionary"),
    ({"weights": torch.zeros(2)}, "no config with a model section"),
    (
        {"config": {"model": {}}, "model": [], "state": {}},
        "no model weights (a dict of named tensors)",
    ),
    (
        {"config": {"model": {}}, "model": {}, "state": {"steps": 1}},
        "training state has no counter 'global_step'",
    ),
    (
        {"config": {"model": {}}, "model": {}, "state": {"global_step": 1, "episodes": "2"}},
        "training state counter 'episodes' is not a count: '2'",
    ),
]


@pytest.mark.parametrize(("payload", "problem"), FOREIGN)
@pytest.mark.parametrize("command", ["train", "checkpoint", "evaluate"])
def test_foreign_checkpoint_payload(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    payload: Any,
    problem: str,
    command: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_foreign(tmp_path / "foreign.pt", payload)
    argv = {
        "train": ["train", "--resume", str(path), "--run-dir", str(tmp_path / "run")],
        "checkpoint": ["checkpoint", "info", str(path)],
        "evaluate": ["evaluate", "--agent", str(path), "--opponent", "random"],
    }[command]
    line = one_line_refusal(argv, capfd, tmp_path, str(path))
    prefix = "--agent: " if command == "evaluate" else ""
    name = "checkpoint info" if command == "checkpoint" else command
    assert line == (
        f"keisei {name}: error: {prefix}{path} is not a keisei training checkpoint ({problem})"
    )


def test_checkpoint_without_training_parts_cannot_be_resumed(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Readable for evaluate and info (config, weights, counters), not for a resume."""
    config = load_config("tiny")
    model = ActorCritic(config.model)
    payload = {
        "config": config.model_dump(mode="json"),
        "model": model.state_dict(),
        "state": TrainState().to_dict(),
    }
    path = write_foreign(tmp_path / "weights_only.pt", payload)
    argv = ["train", "--resume", str(path), "--run-dir", str(tmp_path / "run")]
    line = one_line_refusal(argv, capfd, tmp_path, str(path))
    assert line == (
        f"keisei train: error: checkpoint {path} cannot be resumed: it has no agent, rollout, "
        "env, rng (not written by keisei train)"
    )


# -- what shows only in a real process -------------------------------------------------------
def test_validate_sfen_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    """cshogi's C++ is_ok writes a report and the board to file descriptor 1."""
    for sfen in (NOT_TO_MOVE_IN_CHECK, TRIPLE_CHECK):
        with pytest.raises(ValueError, match="is not a legal position"):
            validate_sfen(sfen)
    assert capfd.readouterr() == ("", "")


def console_script() -> tuple[str, ...]:
    """Interpreter arguments that run pyproject.toml's ``keisei`` script as its wrapper does."""
    pyproject = Path(__file__).parent.parent / "pyproject.toml"
    entry = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["scripts"]["keisei"]
    module, function = entry.split(":")
    return ("-c", f"import sys; from {module} import {function}; sys.exit({function}())")


def keisei(*args: str, launcher: tuple[str, ...] = ("-m", "keisei")) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *launcher, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            f"env.start_sfens=['{TRIPLE_CHECK}']",
            f"config key 'env.start_sfens' entry 0 is not a legal position: '{TRIPLE_CHECK}' "
            "(cshogi's is_ok)",
        ),
        (
            "run.torch_threads=100000",  # torch.set_num_threads(100000): SIGSEGV
            "config key 'run.torch_threads': Input should be less than or equal to 1024 "
            "(got 100000)",
        ),
    ],
)
def test_real_process_refuses_in_one_line(tmp_path: Path, override: str, message: str) -> None:
    proc = keisei(*train_argv(tmp_path, override))
    out, err = proc.communicate(timeout=TIMEOUT)
    assert (proc.returncode, out, err) == (2, "", f"keisei train: error: {message}\n")
    assert list(tmp_path.iterdir()) == []


def wait_for_sigint_handler(pid: int) -> None:
    """Until the interpreter catches SIGINT (before that, SIGINT kills it without a word)."""
    status = Path(f"/proc/{pid}/status")
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        caught = next(x for x in status.read_text().splitlines() if x.startswith("SigCgt:"))
        if int(caught.split()[1], 16) & (1 << (signal.SIGINT - 1)):
            return
        time.sleep(0.005)
    raise AssertionError("the interpreter never caught SIGINT")


def wait_for_library(pid: int, name: str) -> None:
    """Until the process has mapped a shared library whose path contains ``name``: a point
    inside its imports however fast or loaded the machine is (a fixed delay is not)."""
    maps = Path(f"/proc/{pid}/maps")
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if name in maps.read_text():
            return
        time.sleep(0.001)
    raise AssertionError(f"the process never loaded {name}")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("library", ["libtorch_cpu", "_cshogi"])
@pytest.mark.parametrize(
    "launcher", [("-m", "keisei"), console_script()], ids=["python -m keisei", "console script"]
)
def test_ctrl_c_while_starting(tmp_path: Path, library: str, launcher: tuple[str, ...]) -> None:
    """SIGINT while Python imports torch and cshogi: exit 130, one line, nothing created."""
    proc = keisei(*train_argv(tmp_path), launcher=launcher)
    wait_for_sigint_handler(proc.pid)
    wait_for_library(proc.pid, library)  # into the imports, well before training starts
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=TIMEOUT)
    assert (proc.returncode, out, err) == (130, "", "keisei: interrupted\n")
    assert list(tmp_path.iterdir()) == []


def test_files_that_are_not_text(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    garbage = b"\xff\xfe\x00not text"
    config = tmp_path / "bin.yaml"
    config.write_bytes(garbage)
    run_dir = tmp_path / "rd"
    run_dir.mkdir()
    (run_dir / "ratings.json").write_bytes(garbage)
    reason = "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
    cases = [
        (
            ["train", "--config", str(config), "--run-dir", str(tmp_path / "run")],
            f"keisei train: error: cannot read config file {config}: {reason}",
        ),
        (
            ["ratings", str(run_dir)],
            f"keisei ratings: error: cannot read {run_dir}/ratings.json: {reason}",
        ),
        (
            ["evaluate", "--agent", "random", "--opponent", "random", "--ratings", str(run_dir)],
            f"keisei evaluate: error: cannot read {run_dir}/ratings.json: {reason}",
        ),
    ]
    for argv, message in cases:
        assert one_line_refusal(argv, capfd, tmp_path, str(tmp_path)) == message
