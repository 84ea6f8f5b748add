"""keisei/training/resume.py by itself: which config changes a resume may make, where a
resume or ``--init`` starts from, and what of a run directory is set aside as another line
of training.

No training: checkpoints are built from the tiny preset's real network (tests/ckptutil.py),
the run directories by hand. The same plans carried out by real runs (a branch resumed
from an older checkpoint, a killed run's last events) are in test_run_dir.py and
test_train_faults.py.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from keisei.config import TrainConfig, load_config
from keisei.errors import UsageError
from keisei.training.checkpoint import write_checkpoint
from keisei.training.resume import (
    Line,
    aside_dir,
    begin_line,
    check_compatible,
    init_weights,
    nothing_to_do,
    resume_source,
    set_aside,
)
from keisei.training.rundir import RunDir
from tests.ckptutil import payload_of, poison, step_path, write_step

TINY = "tiny"


def config_with(*overrides: str) -> TrainConfig:
    return load_config(TINY, overrides=list(overrides))


# -- what a resume may change ----------------------------------------------------------------
def test_a_resume_may_change_the_speed_keys_and_the_budget(tiny_config: TrainConfig) -> None:
    saved = payload_of(tiny_config)
    changed = config_with("env.threads=2", "env.overlap=true", "run.total_steps=99999")
    check_compatible(saved, changed, Path("c.pt"))  # nothing raised
    del saved["config"]["env"]["threads"]  # a checkpoint older than the key
    check_compatible(saved, changed, Path("c.pt"))


@pytest.mark.parametrize(
    ("override", "edit", "message"),
    [
        ("gumbel.simulations=4", None,
         "config key 'gumbel.simulations' is 4 but checkpoint c.pt was trained with 0; a "
         "resumed run cannot turn the Gumbel search on or off (its rollout holds the search's "
         "policies or none)"),
        (None, lambda c: c["config"]["gumbel"].update(simulations=8),
         "config key 'gumbel.simulations' is 0 but checkpoint c.pt was trained with 8; a "
         "resumed run cannot turn the Gumbel search on or off (its rollout holds the search's "
         "policies or none)"),
        ("league.fraction=0.25", None,
         "config key 'league.fraction' is 0.25 but checkpoint c.pt was trained with 0.0; a "
         "resumed run cannot change it (it decides which games are the league's, and whether "
         "the rollout marks whose moves are trained)"),
        (None, lambda c: c.update(action_space={"actions": 2187, "planes": 46}),
         "checkpoint c.pt uses action space {'actions': 2187, 'planes': 46}, this keisei "
         "{'actions': 2187, 'planes': 119}"),
        ("model.channels=16", None,
         "config key 'model.channels' is 16 but checkpoint c.pt was trained with 8; a resumed "
         "run cannot change it"),
        ("env.max_plies=64", None,
         "config key 'env.max_plies' is 64 but checkpoint c.pt was trained with 48; a resumed "
         "run cannot change it"),
        (None, lambda c: c["config"]["model"].pop("se"),
         "config key 'model.se' is False but checkpoint c.pt was trained with None; a resumed "
         "run cannot change it"),
    ],
)  # fmt: skip
def test_a_resume_may_not_change_what_the_checkpoint_is(
    tiny_config: TrainConfig, override: str | None, edit: Any, message: str
) -> None:
    saved = payload_of(tiny_config)
    if edit is not None:
        edit(saved)
    config = config_with(override) if override else tiny_config
    with pytest.raises(UsageError) as info:
        check_compatible(saved, config, Path("c.pt"))
    assert str(info.value) == message


def test_a_checkpoint_older_than_the_search_the_league_and_the_action_space(
    tiny_config: TrainConfig,
) -> None:
    """Sections a checkpoint predates read as off; an action space it lacks is refused."""
    saved = payload_of(tiny_config)
    del saved["config"]["gumbel"], saved["config"]["league"]
    check_compatible(saved, tiny_config, Path("c.pt"))
    with pytest.raises(
        UsageError,
        match=re.escape("'gumbel.simulations' is 4 but checkpoint c.pt was trained with 0;"),
    ):
        check_compatible(
            saved, config_with("gumbel.simulations=4", "gumbel.considered=4"), Path("c.pt")
        )
    with pytest.raises(
        UsageError,
        match=re.escape("'league.fraction' is 0.25 but checkpoint c.pt was trained with 0.0;"),
    ):
        check_compatible(saved, config_with("league.fraction=0.25"), Path("c.pt"))
    del saved["action_space"]
    with pytest.raises(UsageError) as info:
        check_compatible(saved, tiny_config, Path("c.pt"))
    assert str(info.value) == (
        "checkpoint c.pt uses action space {}, this keisei {'actions': 2187, 'planes': 119}"
    )  # fmt: skip


@pytest.mark.parametrize(("saved", "now"), [(1, 0), (0, 1)])
def test_one_simulation_is_the_search_on(tiny_config: TrainConfig, saved: int, now: int) -> None:
    payload = payload_of(tiny_config)
    payload["config"]["gumbel"]["simulations"] = saved
    config = config_with(f"gumbel.simulations={now}", "gumbel.considered=1")
    with pytest.raises(UsageError, match=f"is {now} but checkpoint c.pt was trained with {saved};"):
        check_compatible(payload, config, Path("c.pt"))


def test_the_keys_after_a_free_one_are_still_checked(tiny_config: TrainConfig) -> None:
    """env.overlap may change; env.start_sfens and env.threads come after it."""
    saved = payload_of(tiny_config)
    sfen = "4k4/9/9/9/9/9/9/9/4K4 b G 1"
    with pytest.raises(UsageError, match=re.escape("config key 'env.start_sfens' is ")):
        check_compatible(saved, config_with(f'env.start_sfens=["{sfen}"]'), Path("c.pt"))


def test_the_gumbel_budget_may_change_while_the_search_stays_on(tiny_config: TrainConfig) -> None:
    saved = payload_of(config_with("gumbel.simulations=4", "gumbel.considered=4"))
    check_compatible(saved, config_with("gumbel.simulations=8"), Path("c.pt"))
    league = config_with("league.fraction=0.25")
    check_compatible(payload_of(league), league, Path("c.pt"))  # the same league: resumable


# -- where a run starts from -----------------------------------------------------------------
def test_resume_latest_takes_the_newest_consistent_checkpoint(
    tiny_config: TrainConfig, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    with pytest.raises(UsageError) as info:
        resume_source("latest", run)
    assert str(info.value) == f"--resume latest: run directory {run} does not exist"
    older = write_step(run, payload_of(tiny_config))
    write_step(run, payload_of(tiny_config, global_step=128) | {"consistent": False})
    path, payload, warnings = resume_source("latest", run)
    assert (path, payload["state"]["global_step"]) == (older, 64)
    newer = step_path(run / "checkpoints", 128)
    assert warnings == [f"skipping checkpoint {newer}: written by a failed run mid-update"]
    older.write_bytes(b"")
    with pytest.raises(UsageError) as info:
        resume_source("latest", run)
    assert str(info.value) == f"--resume latest: no valid checkpoint in {run}"
    assert info.value.warnings == (
        f"skipping checkpoint {newer}: written by a failed run mid-update",
        f"skipping checkpoint {older}: {older} is not a keisei checkpoint (bad header)",
    )


def test_resume_from_a_path(tiny_config: TrainConfig, tmp_path: Path) -> None:
    path = write_checkpoint(tmp_path / "c.pt", payload_of(tiny_config))
    # A path given is taken as it is, even one written mid-update.
    mid = write_checkpoint(tmp_path / "mid.pt", payload_of(tiny_config) | {"consistent": False})
    assert resume_source(str(path), tmp_path / "run")[::2] == (path, [])
    assert resume_source(str(mid), tmp_path / "run")[1]["consistent"] is False
    with pytest.raises(UsageError) as info:
        resume_source(str(tmp_path / "no.pt"), tmp_path)
    assert str(info.value) == f"checkpoint not found: {tmp_path / 'no.pt'}"
    nan = payload_of(tiny_config)
    poison(nan["model"]["policy_bias"])
    bad = write_checkpoint(tmp_path / "nan.pt", nan)
    with pytest.raises(UsageError) as info:
        resume_source(str(bad), tmp_path)
    assert str(info.value) == (
        f"checkpoint {bad} cannot be resumed: its weights are not finite: NaN or infinity in "
        "1 of 21 tensors (policy_bias)"
    )


def test_init_takes_weights_of_the_same_model_only(
    tiny_config: TrainConfig, tmp_path: Path
) -> None:
    payload = payload_of(tiny_config)
    path = write_checkpoint(tmp_path / "c.pt", payload)
    got = init_weights(str(path), tiny_config)
    assert list(got) == ["path", "model", "config"]
    assert got["path"] == str(path) and got["config"] == payload["config"]["model"]
    assert list(got["model"]) == list(payload["model"])
    run = tmp_path / "run"
    write_step(run, payload_of(tiny_config, global_step=96))
    assert init_weights(str(run), tiny_config)["path"] == str(run)  # a run: its newest
    with pytest.raises(UsageError) as info:
        init_weights(str(path), config_with("model.channels=16"))
    assert str(info.value) == (
        f"--init {path} has 'model.channels' 8 but this run's config has 16: give the run "
        "the same model (e.g. model.channels=8)"
    )
    older = payload_of(tiny_config)
    del older["config"]["model"]["se"]
    old_path = write_checkpoint(tmp_path / "old.pt", older)
    with pytest.raises(UsageError) as info:
        init_weights(str(old_path), tiny_config)
    assert str(info.value) == (
        f"--init {old_path} has 'model.se' None but this run's config has False: give the run "
        "the same model (e.g. model.se=None)"
    )
    with pytest.raises(UsageError) as info:
        init_weights(str(tmp_path / "none"), tiny_config)
    assert str(info.value) == f"--init: checkpoint not found: {tmp_path / 'none'}"
    poison(payload["model"]["policy_bias"], float("inf"))
    write_checkpoint(path, payload)
    with pytest.raises(UsageError) as info:
        init_weights(str(path), tiny_config)
    assert str(info.value) == (
        f"--init {path}: its weights are not finite: NaN or infinity in 1 of 21 tensors "
        "(policy_bias)"
    )


def test_nothing_to_do_at_or_past_the_total(tiny_config: TrainConfig) -> None:
    assert nothing_to_do(tiny_config, None, None) is None
    total = tiny_config.run.total_steps
    path = Path("c.pt")
    assert nothing_to_do(tiny_config, payload_of(tiny_config, global_step=total - 1), path) is None
    for step in (total, total + 1):
        assert nothing_to_do(tiny_config, payload_of(tiny_config, global_step=step), path) == (
            f"keisei train: Nothing to do: c.pt is at step {step} >= total_steps {total} "
            "(use --total-steps to extend)"
        )


# -- lines of training -----------------------------------------------------------------------
def event_line(step: int) -> str:
    return json.dumps({"kind": "update", "step": step}) + "\n"


def later_run(config: TrainConfig, root: Path) -> Path:
    """A run directory with checkpoints at 64, 128 and 192 (best at 192), events to 192
    with a torn last line, games up to episode 7 and evaluations at 64, 128 and 192."""
    run = root / "run"
    for step, episodes in ((64, 3), (128, 5), (192, 7)):
        write_step(run, payload_of(config, global_step=step, episodes=episodes))
    write_checkpoint(run / "checkpoints" / "best.pt", payload_of(config, global_step=192))
    events = "".join(event_line(s) for s in (0, 64, 64, 128, 192)) + '{"kind": "upd'
    (run / "events.jsonl").write_text(events, encoding="utf-8")
    (run / "games").mkdir()
    for n in range(1, 8):
        (run / "games" / f"episode_{n:06d}.csa").write_text("", encoding="utf-8")
    (run / "games" / "notes.txt").write_text("", encoding="utf-8")
    for step in (64, 128, 192):
        (run / "evaluations" / f"step_{step}").mkdir(parents=True)
        (run / "evaluations" / f"step_{step}" / "g.csa").write_text(str(step), encoding="utf-8")
    (run / "evaluations" / "other").mkdir()
    return run


def tree(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


def test_set_aside_moves_what_came_after_the_step(tiny_config: TrainConfig, tmp_path: Path) -> None:
    run = later_run(tiny_config, tmp_path)
    aside = tmp_path / "aside"
    said = set_aside(run, 64, 3, aside)
    assert said == [
        "checkpoints step_0000000128.pt, step_0000000192.pt, best.pt",
        "3 lines of events.jsonl",
        "4 files of games/",
        "evaluations/step_128, evaluations/step_192",
    ]
    assert tree(aside) == [
        "checkpoints/best.pt",
        "checkpoints/step_0000000128.pt",
        "checkpoints/step_0000000192.pt",
        "evaluations/step_128/g.csa",
        "evaluations/step_192/g.csa",
        "events.jsonl",
        *[f"games/episode_{n:06d}.csa" for n in range(4, 8)],
    ]
    assert (run / "events.jsonl").read_text() == "".join(event_line(s) for s in (0, 64, 64))
    assert (aside / "events.jsonl").read_text() == event_line(128) + event_line(192) + (
        '{"kind": "upd'
    )
    assert tree(run) == [
        "checkpoints/step_0000000064.pt",
        "evaluations/step_64/g.csa",
        "events.jsonl",
        *[f"games/episode_{n:06d}.csa" for n in range(1, 4)],
        "games/notes.txt",
    ]
    assert (run / "evaluations" / "other").is_dir()
    # Nothing after the last step: nothing moved, no directory made.
    assert set_aside(run, 64, 3, tmp_path / "again") == []
    assert not (tmp_path / "again").exists()
    # One of each, in the singular.
    with open(run / "events.jsonl", "a", encoding="utf-8") as f:
        f.write(event_line(128))
    (run / "games" / "episode_000004.csa").write_text("x")
    said = set_aside(run, 64, 3, tmp_path / "one")
    assert said == ["1 line of events.jsonl", "1 file of games/"]


def test_a_best_checkpoint_that_cannot_be_read_stays(
    tiny_config: TrainConfig, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    write_step(run, payload_of(tiny_config, global_step=64))
    (run / "checkpoints" / "best.pt").write_bytes(b"junk")
    assert set_aside(run, -1, 0, tmp_path / "aside") == ["checkpoints step_0000000064.pt"]
    assert (run / "checkpoints" / "best.pt").read_bytes() == b"junk"
    write_checkpoint(run / "checkpoints" / "best.pt", payload_of(tiny_config, global_step=64))
    assert set_aside(run, 64, 0, tmp_path / "aside2") == []  # best at the step itself stays


def test_begin_line_of_a_resume_and_of_a_fresh_start(
    tiny_config: TrainConfig, tmp_path: Path
) -> None:
    run = later_run(tiny_config, tmp_path)
    stale = run / "checkpoints" / ".step_0000000256.pt.x1.tmp"
    stale.write_bytes(b"half")
    extra: list[tuple[Path, int, Path]] = []

    def also(run_dir: Path, step: int, aside: Path) -> list[str]:
        extra.append((run_dir, step, aside))
        return ["1 evaluation of ratings.json"]

    line = begin_line(
        run, tiny_config, payload_of(tiny_config, global_step=128, episodes=5), [also]
    )
    assert (line.step, line.stale, line.branched) == (128, [stale], True)
    assert line.moved == [
        "checkpoints step_0000000192.pt, best.pt",
        "2 lines of events.jsonl",
        "2 files of games/",
        "evaluations/step_192",
        "1 evaluation of ratings.json",
    ]
    assert extra == [(run, 128, line.aside)]
    assert (
        re.fullmatch(r"\d{8}T\d{6}Z", line.aside.name) and line.aside.parent == run / "superseded"
    )
    assert (run / "config.yaml").read_text(encoding="utf-8").startswith("run:\n  name: tiny\n")
    assert line.warnings() == [
        f"removed {stale}, left by a run killed while writing a checkpoint",
        f"moved what came after step 128 to {line.aside}: checkpoints step_0000000192.pt, "
        "best.pt; 2 lines of events.jsonl; 2 files of games/; evaluations/step_192; 1 "
        "evaluation of ratings.json (another line of training, or a killed run's last moments)",
    ]
    again = begin_line(run, tiny_config, payload_of(tiny_config, global_step=128, episodes=5))
    assert (again.moved, again.stale, again.branched, again.warnings()) == ([], [], False, [])

    fresh = begin_line(run, tiny_config, None)
    assert (fresh.step, fresh.branched) == (-1, True)
    assert fresh.moved == [
        "checkpoints step_0000000064.pt, step_0000000128.pt",
        "4 lines of events.jsonl",
        "5 files of games/",
        "evaluations/step_64, evaluations/step_128",
    ]
    assert fresh.warnings()[0].startswith(f"moved what came after a fresh start to {fresh.aside}: ")
    assert fresh.aside != line.aside  # a second set-aside in the same second gets its own
    assert RunDir(run).checkpoints.is_dir() and list(RunDir(run).checkpoints.iterdir()) == []


def test_a_run_directory_is_made_with_its_parents(tiny_config: TrainConfig, tmp_path: Path) -> None:
    run = tmp_path / "a" / "b" / "run"
    line = begin_line(run, tiny_config, None)
    assert (line.moved, line.stale, line.branched) == ([], [], False)
    assert tree(run) == ["config.yaml"] and (run / "checkpoints").is_dir()


def stamp(seconds: int = 0) -> str:
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return now.strftime("%Y%m%dT%H%M%SZ")


def test_an_aside_dir_taken_once_gets_2(tmp_path: Path) -> None:
    stamps = [stamp(0), stamp(1)]
    for s in stamps:
        (tmp_path / "superseded" / s).mkdir(parents=True)
    assert aside_dir(tmp_path).name in (f"{stamps[0]}-2", f"{stamps[1]}-2")


def test_aside_dirs_are_named_in_utc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # UTC+9 all year: a local stamp would differ
    time.tzset()
    try:
        before, name, after = stamp(), aside_dir(tmp_path).name, stamp()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert name in (before, after)


def test_aside_dirs_are_new(tmp_path: Path) -> None:
    """``superseded/<UTC second>``, numbered -2, -3, ... while taken."""
    now = dt.datetime.now(dt.UTC)
    stamps = [(now + dt.timedelta(seconds=s)).strftime("%Y%m%dT%H%M%SZ") for s in (0, 1)]
    for stamp in stamps:  # this second and the next, in case the clock ticks over
        for name in (stamp, f"{stamp}-2"):
            (tmp_path / "superseded" / name).mkdir(parents=True)
    path = aside_dir(tmp_path)
    assert path.parent == tmp_path / "superseded" and not path.exists()
    assert path.name in (f"{stamps[0]}-3", f"{stamps[1]}-3")


def test_a_lines_warnings_say_nothing_when_nothing_happened() -> None:
    assert Line(5, [], [], Path("x"), False).warnings() == []
    assert Line(0, [], ["a"], Path("x"), False).warnings() == [
        "moved what came after step 0 to x: a (another line of training, or a killed run's "
        "last moments)"
    ]
