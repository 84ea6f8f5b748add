"""Output paths: nothing is overwritten, and an output that cannot be created is refused in
one line (exit 2) before the work starts, for every command's output flag
(``keisei.files.check_new_file`` and ``check_output_dir``) and for
``scripts/keisei-usi --wrapper``."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keisei.cli.main import main
from keisei.training.checkpoint import BUNDLED_PATH, read_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = Path(__file__).resolve().parent.parent
MINIMAL_CSA = "V2.2\nPI\n+\n+7776FU\n-3334FU\n%TORYO\n"
NOT_CREATABLE = "(No such file or directory)"  # /proc takes no new files, even from root
EVALUATE = ["evaluate", "--agent", "random", "--opponent", "greedy", "--games", "1", "--quiet"]


def contents(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run ``argv``: exit 2, nothing on stdout, one line on stderr (returned)."""
    capsys.readouterr()
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    return line


def test_selfplay_refuses_a_directory_holding_an_evaluations_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The case: evaluate's records, then selfplay into the same directory.
    monkeypatch.chdir(tmp_path)
    argv = ["evaluate", "--agent", "random", "--opponent", "greedy", "--games", "2", "--quiet"]
    assert main([*argv, "--records", "e1"]) == 0
    before = contents(tmp_path)
    assert "e1/game_0.kif" in before
    line = refused(capsys, ["selfplay", "--games", "2", "--out", "e1"])
    assert line == (
        "keisei selfplay: error: --out e1 is not empty; choose a new directory "
        "(nothing is overwritten)"
    )
    assert contents(tmp_path) == before
    # evaluate --records says the same about a selfplay directory.
    assert main(["selfplay", "--games", "1", "--out", "s1"]) == 0
    before = contents(tmp_path)
    line = refused(capsys, [*argv, "--records", "s1"])
    assert line == (
        "keisei evaluate: error: --records s1 is not empty; choose a new directory "
        "(nothing is overwritten)"
    )
    assert contents(tmp_path) == before


def test_evaluate_json_never_replaces_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    report.write_text("keep\n")
    argv = EVALUATE
    line = refused(capsys, [*argv, "--json", str(report), "--records", str(tmp_path / "r")])
    assert line == (
        f"keisei evaluate: error: --json {report} already exists; choose a new file "
        "(nothing is overwritten)"
    )
    assert report.read_text() == "keep\n" and not (tmp_path / "r").exists()
    # A new file in a directory still to be made is fine, as before.
    fresh = tmp_path / "new" / "report.json"
    assert main([*argv, "--json", str(fresh), "--records", str(tmp_path / "r")]) == 0
    assert fresh.is_file()


def test_evaluate_default_records_directory_is_never_shared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two evaluations that start in the same second name the same default directory: the
    # second one takes a fresh name instead of writing over the first's records.
    monkeypatch.chdir(tmp_path)
    now = dt.datetime.now()
    taken = [
        tmp_path / "evaluations" / f"random-vs-greedy-{now + dt.timedelta(seconds=s):%Y%m%d-%H%M%S}"
        for s in range(30)
    ]
    for directory in taken:
        directory.mkdir(parents=True)
        (directory / "game_0.kif").write_text("keep\n")
    before = contents(tmp_path)
    assert main(EVALUATE) == 0
    after = contents(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before
    (made,) = {Path(k).parent for k in after if k not in before}
    assert made.parent == Path("evaluations") and made.name.endswith("-2")
    assert sorted(p.name for p in (tmp_path / made).iterdir()) == [
        "game_0.csa",
        "game_0.kif",
        "game_0.usi",
    ]


def write_csa(tmp_path: Path) -> Path:
    record = tmp_path / "game.csa"
    record.write_text(MINIMAL_CSA)
    return record


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        ("pretrain", "--out"),
        ("export", "--out"),
        ("selfplay", "--out"),
        ("evaluate", "--json"),
        ("evaluate", "--records"),
    ],
)
def test_outputs_that_cannot_be_created_are_refused_before_the_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, flag: str
) -> None:
    target = "/proc/keisei-x.pt" if command in ("pretrain", "export") else "/proc/keisei-x"
    record = write_csa(tmp_path)
    argv = {
        "pretrain": ["pretrain", str(record), "--preset", "tiny", "--epochs", "1"],
        "export": ["checkpoint", "export", str(BUNDLED_PATH)],
        "selfplay": ["selfplay", "--games", "1"],
        "evaluate": [*EVALUATE, "--records", str(tmp_path / "r")],
    }[command]
    if flag == "--records":
        argv = argv[:-2]
    name = "checkpoint export" if command == "export" else command
    kind = "directories" if flag == "--records" or command == "selfplay" else "files"
    # The error comes first: no epoch of pretraining, no game, and nothing written.
    line = refused(capsys, [*argv, flag, target])
    assert line == (
        f"keisei {name}: error: {flag} {target}: cannot create {kind} in /proc {NOT_CREATABLE}"
    )
    assert list(tmp_path.iterdir()) == [tmp_path / "game.csa"]


def test_evaluate_ratings_directory_must_take_the_ratings_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default records directory
    # ratings.json is written after the match: a directory that takes no file is refused first.
    line = refused(capsys, [*EVALUATE, "--ratings", "/proc", "--records", "/proc/keisei-r"])
    assert line == (
        f"keisei evaluate: error: --records /proc/keisei-r: cannot create directories in /proc "
        f"{NOT_CREATABLE}"
    )
    line = refused(capsys, [*EVALUATE, "--ratings", "/proc"])
    assert (
        line
        == f"keisei evaluate: error: --ratings /proc: cannot create files in /proc {NOT_CREATABLE}"
    )


@pytest.mark.parametrize("command", ["pretrain", "export", "evaluate"])
def test_missing_output_directory_is_named_as_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    record = write_csa(tmp_path)
    target = tmp_path / "nodir" / "x" / "y.pt"
    argv = {
        "pretrain": ["pretrain", str(record), "--preset", "tiny", "--out", str(target)],
        "export": ["checkpoint", "export", str(BUNDLED_PATH), "--out", str(target)],
        "evaluate": [*EVALUATE, "--records", str(target)],
    }[command]
    if command == "evaluate":  # a directory is made with its parents; a file in a file is not
        (tmp_path / "nodir").write_text("keep\n")
        line = refused(capsys, argv)
        assert line == (
            f"keisei evaluate: error: --records {target}: {tmp_path / 'nodir'} is a file, "
            "not a directory"
        )
        return
    name = "checkpoint export" if command == "export" else command
    line = refused(capsys, argv)
    assert line == f"keisei {name}: error: --out {target}: {target.parent} does not exist"
    assert not (tmp_path / "nodir").exists()


# -- scripts/keisei-usi --wrapper ----------------------------------------------------------
def wrapper(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``scripts/keisei-usi --wrapper ARGS`` as a user runs it (reusing this venv)."""
    env = {**os.environ, "KEISEI_VENV": os.environ.get("KEISEI_VENV", sys.prefix)}
    return subprocess.run(
        [str(ROOT / "scripts" / "keisei-usi"), "--wrapper", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_wrapper_never_overwrites_and_refuses_what_is_not_a_checkpoint(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("keep: me\n")
    (tmp_path / "notes").write_text("keep\n")
    before = contents(tmp_path)
    cases = [
        # the case: the run's config given as the wrapper's file
        (["bundled", str(config)],
         f"{config} already exists; choose a new file (nothing is overwritten)"),
        (["bundled", "nodir/x.sh"], "nodir/x.sh: nodir does not exist"),
        (["bundled", "notes/x.sh"], "notes/x.sh: notes is not a directory"),
        (["bundled", "/proc/keisei-x.sh"], "cannot create /proc/keisei-x.sh"),
        ([str(config), "new.sh"], f"{config} is not a keisei checkpoint (bad header)"),
        ([str(tmp_path), "new.sh"], f"no valid checkpoint in {tmp_path}"),
    ]  # fmt: skip
    for args, message in cases:
        done = wrapper(tmp_path, *args)
        assert (done.returncode, done.stdout) == (2, ""), (args, done)
        assert done.stderr.splitlines() == [f"keisei-usi: --wrapper: {message}"], args
        assert contents(tmp_path) == before
    # A run whose one checkpoint is cut short: keisei's warning says why, then the reason.
    cut = tmp_path / "cut" / "checkpoints" / "step_0000000064.pt"
    cut.parent.mkdir(parents=True)
    cut.write_bytes(BUNDLED_PATH.read_bytes()[:100])
    done = wrapper(tmp_path, str(tmp_path / "cut"), "new.sh")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"warning: skipping checkpoint {cut}: {cut} is corrupt or truncated (checksum mismatch)",
        f"keisei-usi: --wrapper: no valid checkpoint in {tmp_path / 'cut'}",
    ]
    done = wrapper(tmp_path, "bundled", "engine.sh")
    assert (done.returncode, done.stdout, done.stderr) == (0, "engine.sh\n", "")
    engine = tmp_path / "engine.sh"
    assert os.access(engine, os.X_OK)
    assert engine.read_text().splitlines()[-1] == (
        f'exec {ROOT / "scripts" / "keisei-usi"} bundled "$@"'
    )
    again = wrapper(tmp_path, "bundled", "engine.sh")
    assert again.returncode == 2
    assert again.stderr.splitlines() == [
        "keisei-usi: --wrapper: engine.sh already exists; choose a new file "
        "(nothing is overwritten)"
    ]


def test_bench_json_never_replaces_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "bench.json"
    report.write_text("keep\n")
    line = refused(capsys, ["bench", "env", "--seconds", "0.1", "--json", str(report)])
    assert line == (
        f"keisei bench: error: --json {report} already exists; choose a new file "
        "(nothing is overwritten)"
    )
    assert report.read_text() == "keep\n"


@pytest.mark.parametrize(
    ("argv", "command", "extras"),
    [
        (["evaluate", "--agent", "random", "--opponent", "random", "--out", "x"], "evaluate",
         "--out x"),
        (["checkpoint", "export", "bundled", "--out", "x.pt", "--bogus", "1"],
         "checkpoint export", "--bogus 1"),
        (["selfplay", "--games", "1", "--out", "o", "--records", "r"], "selfplay",
         "--records r"),
    ],
)  # fmt: skip
def test_an_unknown_flag_is_named_by_its_subcommand(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    command: str,
    extras: str,
) -> None:
    # The error names the subcommand whose flags were wrong, and its --help.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:  # argparse's own errors end by SystemExit
        main(argv)
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"keisei {command}: error: unrecognized arguments: {extras} (see 'keisei {command} --help')"
    ]
    assert list(tmp_path.iterdir()) == []


def test_long_player_names_keep_apart_in_default_records_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Names past the 40 characters of a directory-name part differ only at their ends
    # (playouts=400 against playouts=40): a bare cut would give both one name.
    monkeypatch.chdir(tmp_path)
    made = []
    for playouts in (400, 40):
        agent = f"search:bundled[playouts={playouts},cpuct=1.25]"
        argv = ["evaluate", "--agent", agent, "--opponent", "random", "--games", "1"]
        assert main([*argv, "--max-plies", "2", "--quiet"]) == 0
        (new,) = set((tmp_path / "evaluations").iterdir()) - set(made)
        made.append(new)
    parts = [p.name.split("-vs-random-")[0] for p in made]
    assert parts[0] != parts[1] and all(len(p) == 40 for p in parts)
    step = read_checkpoint(BUNDLED_PATH)["state"]["global_step"]
    cut = f"search_bundled_step_{step}_playouts"[:31] + "-"  # then the whole name's hash
    assert [p[:32] for p in parts] == [cut] * 2
