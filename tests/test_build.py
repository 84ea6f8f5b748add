"""The built C++ extension (issue 11): what it exports, cshogi beside it, the build's checks.

A compiler that linked libstdc++ statically into keisei.game._games made it export
thousands of libstdc++ symbols, GNU_UNIQUE ``std::locale`` facet ids among them; with
cshogi's module (on the system libstdc++) in the same process, whichever of the two was
imported second crashed in its first ``istream >> int``. setup.py now exports only the
module init; these tests keep it so and use both modules in either import order.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import ModuleType

import pytest
import torch

from keisei.config import PRESETS, load_config
from keisei.training.build import device_hint

ROOT = Path(__file__).resolve().parents[1]
EXPORTED = {"PyInit__games"}


def extension_path() -> Path:
    spec = importlib.util.find_spec("keisei.game._games")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin)


def defined_dynamic_symbols(tool: str, path: Path) -> set[str]:
    """The names the shared object defines in its dynamic symbol table."""
    if tool == "nm":
        out = subprocess.run(
            ["nm", "-D", "--defined-only", "-P", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return {line.split()[0] for line in out.splitlines() if line.strip()}
    out = subprocess.run(
        ["readelf", "--dyn-syms", "-W", str(path)], capture_output=True, text=True, check=True
    ).stdout
    names = set()
    for line in out.splitlines():
        # Num: Value Size Type Bind Vis Ndx Name
        fields = line.split()
        is_entry = len(fields) >= 8 and fields[0].endswith(":") and fields[0][:-1].isdigit()
        if is_entry and fields[6] != "UND" and fields[4] != "LOCAL" and fields[3] != "SECTION":
            names.add(fields[7].split("@")[0])
    return names


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF export list: Linux only")
@pytest.mark.parametrize("tool", ["nm", "readelf"])
def test_extension_exports_only_its_module_init(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} (binutils) not installed")
    assert defined_dynamic_symbols(tool, extension_path()) == EXPORTED


# Both modules parse SFENs with istream >> int (cshogi's Position::set, here and in
# cshogi's own module): cshogi's Board, its set_sfen, keisei's GameBatch and ShogiEnv.
USE_BOTH = """
import sys

MIDGAME = "ln1g3nl/1r1s1kg2/p2ppp1p1/2p3p1p/1p7/2P1P1P1P/PPSP1P3/2G1G2R1/LN2K1SNL b BSPb 1"


def use_games():
    from keisei.game._games import GameBatch

    games = GameBatch(2)
    games.set_game(0, MIDGAME)
    games.set_game(1, MIDGAME)
    return games.sfen(1), len(games.legal_moves(0))


def use_cshogi():
    import cshogi

    board = cshogi.Board(MIDGAME)
    board.set_sfen(cshogi.STARTING_SFEN)
    board.push_usi("7g7f")
    return board.sfen(), len(list(board.legal_moves))


def use_env():
    import cshogi
    from keisei.game.env import ShogiEnv

    env = ShogiEnv(3, max_plies=16, start_sfens=[MIDGAME])
    step = env.reset(seed=1)
    board = cshogi.Board(MIDGAME)
    action = int(step.legal_actions[0])
    board.push(env.move_of(0, action))
    step = env.step(step.legal_actions[:1].repeat(3))
    assert [b.sfen() for b in env.boards()] == [board.sfen()] * 3
    return board.sfen(), int(step.mask.sum())


first, second = (use_cshogi, use_games) if sys.argv[1] == "cshogi" else (use_games, use_cshogi)
for part in (first(), second(), use_env()):
    print(*part)
"""


def expected_lines() -> list[str]:
    import cshogi

    from keisei.game.env import ShogiEnv

    midgame = "ln1g3nl/1r1s1kg2/p2ppp1p1/2p3p1p/1p7/2P1P1P1P/PPSP1P3/2G1G2R1/LN2K1SNL b BSPb 1"
    board = cshogi.Board(midgame)
    games = f"{board.sfen()} {len(list(board.legal_moves))}"
    board = cshogi.Board()
    board.push_usi("7g7f")
    start = f"{board.sfen()} {len(list(board.legal_moves))}"
    env = ShogiEnv(3, max_plies=16, start_sfens=[midgame])
    step = env.reset(seed=1)
    board = cshogi.Board(midgame)
    board.push(env.move_of(0, int(step.legal_actions[0])))
    legal = len(list(board.legal_moves))
    env_line = f"{board.sfen()} {3 * legal}"
    return [games, start, env_line]


@pytest.mark.parametrize("first", ["cshogi", "keisei"])
def test_cshogi_and_extension_in_either_import_order(first: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", USE_BOTH, first],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = expected_lines()
    if first == "cshogi":
        lines[0], lines[1] = lines[1], lines[0]
    assert done.stdout.splitlines() == lines


def load_setup() -> ModuleType:
    """setup.py as a module (it calls setup() only when run as a script; needs pybind11,
    a dev dependency)."""
    spec = importlib.util.spec_from_file_location("keisei_setup", ROOT / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_check_names_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = load_setup()
    include = sysconfig.get_paths()["include"]
    compiler = shutil.which("c++") or shutil.which("g++")
    if compiler is not None:
        assert setup.missing_build_tools([compiler, "-pthread"], include) is None
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    monkeypatch.setenv("CXX", "/nonexistent/g++")
    assert setup.missing_build_tools(["/nonexistent/g++", "-pthread"], str(tmp_path)) == (
        "keisei: cannot build keisei.game._games: C++ compiler '/nonexistent/g++' not found "
        "(named by CXX; Debian/Ubuntu: apt install g++); Python headers not found, no "
        f"{tmp_path / 'Python.h'} (Debian/Ubuntu: apt install python{version}-dev)"
    )
    monkeypatch.delenv("CXX")
    assert setup.missing_build_tools(["no-such-g++"], include) == (
        "keisei: cannot build keisei.game._games: C++ compiler 'no-such-g++' not found "
        "(Python's default; or set CXX; Debian/Ubuntu: apt install g++)"
    )


def test_build_with_a_missing_cxx_stops_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "CXX": "/nonexistent/g++"}
    done = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "-b", str(tmp_path), "-t", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "error: keisei: cannot build keisei.game._games: C++ compiler '/nonexistent/g++' "
        "not found (named by CXX; Debian/Ubuntu: apt install g++)"
    )
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_gpu_preset_loads_and_validates() -> None:
    config = load_config("gpu")
    assert "gpu" in PRESETS
    assert config.run.name == "gpu"
    assert config.run.device == "cuda"
    assert config.run.total_steps == 20_000_000
    assert (config.model.blocks, config.model.channels) == (10, 128)
    assert (config.env.num_games, config.rollout.steps_per_game) == (512, 32)
    assert config.steps_per_update == 16_384
    assert (config.ppo.minibatch_size, config.ppo.epochs, config.ppo.bf16) == (1024, 2, True)
    assert config.checkpoint.every_steps == 524_288
    assert config.evaluation.every_steps == 2_097_152
    assert config.logging.record_every_episodes == 1000
    # Everything else is the default preset's.
    default = load_config("default").model_dump()
    changed = {
        section: {k: v for k, v in values.items() if default[section][k] != v}
        for section, values in config.model_dump().items()
    }
    assert {s: c for s, c in changed.items() if c} == {
        "run": {
            "name": "gpu",
            "total_steps": 20_000_000,
            "device": "cuda",
            "torch_threads": 4,
            "nproc": 1,
        },
        "env": {"num_games": 512, "threads": 8},
        "model": {"blocks": 10, "channels": 128},
        "ppo": {
            "minibatch_size": 1024,
            "bf16": True,
            "compile": True,
            "compile_mode": "reduce-overhead",
        },
        "checkpoint": {"every_steps": 524_288},
        "evaluation": {"every_steps": 2_097_152},
        "logging": {"record_every_episodes": 1000},
    }


def test_cuda_with_the_default_network_suggests_the_gpu_preset() -> None:
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    hint = device_hint(load_config("default"), cuda)
    assert hint is not None and "--preset gpu" in hint
    assert device_hint(load_config("default"), cpu) is None
    assert device_hint(load_config("gpu"), cuda) is None
