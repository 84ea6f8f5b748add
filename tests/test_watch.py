"""``keisei watch``: a real server process over a real tiny run, asked over raw HTTP.

What it shows is checked against the run's own files (events.jsonl, ratings.json, the
records read back by cshogi); that it never writes into a run (every file hashed before and
after); damaged files (truncated lines, a broken ratings.json, a truncated record) are
named and the rest served; paths stay inside the run; off loopback a token is required.
The page in a real browser: tests/test_watch_browser.py.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cshogi
import pytest
import torch

from keisei.cli.main import main
from keisei.evaluation.players import CheckpointPlayer
from keisei.evaluation.ratings import RatingsError, RatingTable
from keisei.game.encoding import move_label
from keisei.game.records import read_record
from keisei.rl.network import obs_to_tensor
from keisei.training.checkpoint import load_model
from keisei.training.rundir import RunDir
from keisei.watch.run import RunView
from tests.boardutil import legal_masks, observations
from tests.conftest import read_events, wait_for_event
from tests.watchutil import Watch, tree_hashes

TOTAL = 1536


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run with two evaluations, every other game recorded."""
    run = tmp_path_factory.mktemp("watch") / "run"
    subprocess.run(
        [
            sys.executable, "-m", "keisei", "train", "--preset", "tiny", "--run-dir", str(run),
            "--total-steps", str(TOTAL), "evaluation.enabled=true", "evaluation.every_steps=768",
            "evaluation.games=2", "logging.record_every_episodes=2", "logging.tensorboard=false",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    return run


@pytest.fixture
def run_copy(finished_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copied-run"
    shutil.copytree(finished_run, copy)
    return copy


def test_summary_is_the_runs_own_files(finished_run: Path) -> None:
    events = read_events(finished_run)
    end = next(e for e in events if e["kind"] == "end")
    with Watch(str(finished_run)) as watch:
        assert watch.json("/api/runs") == [{"id": 0, "name": "run", "path": str(finished_run)}]
        s = watch.json("/api/runs/0/summary")
        assert watch.stop() == (130, "keisei watch: stopped (SIGINT)\n")
    assert s["status"] == {
        "step": TOTAL, "total": TOTAL, "fresh": True, "resumed_from": None, "state": "finished"
    }  # fmt: skip
    updates = [e for e in events if e["kind"] == "update"]
    assert s["curves"]["step"] == [e["step"] for e in updates]
    assert s["curves"]["entropy"] == [e["entropy"] for e in updates]
    evaluations = [e for e in events if e["kind"] == "evaluation"]
    assert [(e["step"], e["rating"], e["low"], e["high"]) for e in s["evaluations"]] == [
        (e["step"], e["rating"], e["rating_low"], e["rating_high"]) for e in evaluations
    ]
    assert s["results"] == {"draw": end["draws"]} and end["black_wins"] == end["white_wins"] == 0
    assert s["reasons"] == {k: v for k, v in end["reasons"].items() if v}
    table = RatingTable.load(finished_run)
    assert s["ratings"]["players"] == table.standings()
    assert sorted(p["player"] for p in s["ratings"]["players"]) == sorted(table.players)
    assert s["ratings"]["scale"] == "random = 0"
    assert s["checkpoints"] == ["step_0000000768.pt", "step_0000001536.pt", "best.pt"]
    recorded = sorted(p.stem for p in RunDir(finished_run).games.glob("*.kif"))
    assert sorted(g["name"] for g in s["games"]) == recorded
    assert s["damaged"] == []


def test_a_game_replays_to_the_records_final_position(finished_run: Path) -> None:
    episodes = {e["episode"]: e for e in read_events(finished_run) if e["kind"] == "episode"}
    with Watch(str(finished_run)) as watch:
        games = watch.json("/api/runs/0/summary")["games"]
        for entry in games[:3]:
            game = watch.json(f"/api/runs/0/game/{entry['record']}")
            record = read_record(finished_run / entry["record"])[0]
            board = cshogi.Board(record.start_sfen)
            for move in record.moves:
                board.push(move)
            assert game["sfens"][-1] == board.sfen()
            assert game["usi"] == [cshogi.move_to_usi(m) for m in record.moves]
            assert game["kif"][:2] == [
                cshogi.KIF.move_to_kif(record.moves[0]),
                cshogi.KIF.move_to_kif(record.moves[1], record.moves[0]),
            ]
            event = episodes[int(entry["name"].split("_")[1])]
            assert (game["result"], game["reason"]) == (event["result"], event["reason"])
            assert (entry["result"], entry["reason"], entry["plies"]) == (
                event["result"], event["reason"], event["plies"]
            )  # fmt: skip
            assert game["names"] == ["black", "white"]
            ply = len(record.moves)
            status, headers, svg = watch.request(f"/api/runs/0/board/{entry['record']}?ply={ply}")
            assert status == 200 and headers["content-type"] == "image/svg+xml"
            assert svg.decode() == board.to_svg(lastmove=record.moves[-1], scale=2.0)
            status, headers, data = watch.request(f"/api/runs/0/files/{entry['files']['csa']}")
            assert status == 200 and data == (finished_run / entry["files"]["csa"]).read_bytes()
            assert headers["content-disposition"].startswith("attachment;")


def test_the_network_on_the_shown_position(finished_run: Path) -> None:
    with Watch(str(finished_run)) as watch:
        entry = watch.json("/api/runs/0/summary")["games"][0]
        got = watch.json(f"/api/runs/0/analysis/{entry['record']}?ply=5&checkpoint=best.pt")
        status, _, body = watch.request(f"/api/runs/0/analysis/{entry['record']}?ply=5")
        assert (status, json.loads(body)) == (404, {"error": "no checkpoint '' in run"})
    record = read_record(finished_run / entry["record"])[0]
    board = cshogi.Board(record.start_sfen)
    for move in record.moves[:5]:
        board.push(move)
    # The same position through the evaluation's network player, as a match plays it.
    model, _ = load_model(RunDir(finished_run).best)
    obs, mask = observations([board]), legal_masks([board])
    legal = list(board.legal_moves)
    probs = CheckpointPlayer(model, "best").policy(obs, mask).probs[0]
    with torch.inference_mode():
        value = float(model(obs_to_tensor(obs, "cpu")).value[0])
    best = sorted(legal, key=lambda m: -float(probs[move_label(m, board.turn)]))[:5]
    # The server's torch may run on another thread count: the last bits may differ.
    assert got["value"] == pytest.approx(value, abs=1e-6)
    assert got["turn"] == "white" and got["ply"] == 5
    assert [m["usi"] for m in got["moves"]] == [cshogi.move_to_usi(m) for m in best]
    expected = [float(probs[move_label(m, 1)]) for m in best]
    assert [m["p"] for m in got["moves"]] == pytest.approx(expected, abs=1e-6)


def test_watch_never_writes_into_a_run(run_copy: Path) -> None:
    before = tree_hashes(run_copy)
    with Watch(str(run_copy)) as watch:
        s = watch.json("/api/runs/0/summary")
        for entry in s["games"][:2]:
            record = entry["record"]
            watch.json(f"/api/runs/0/game/{record}")
            assert watch.request(f"/api/runs/0/board/{record}?ply=3")[0] == 200
            for name in s["checkpoints"]:
                watch.json(f"/api/runs/0/analysis/{record}?ply=3&checkpoint={name}")
            for path in entry["files"].values():
                assert watch.request(f"/api/runs/0/files/{path}")[0] == 200
        for page in ("/", "/static/watch.js", "/static/uPlot.iife.min.js"):
            assert watch.request(page)[0] == 200
        watch.json("/api/runs/0/summary")
        watch.stop()
    assert tree_hashes(run_copy) == before


def test_paths_outside_the_run_are_refused(run_copy: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    record = next(RunDir(run_copy).games.glob("*.kif"))
    shutil.copy(record, outside / "game.kif")
    (RunDir(run_copy).games / "escape.kif").symlink_to(outside / "game.kif")
    (RunDir(run_copy).games / "away").symlink_to(outside, target_is_directory=True)
    refused = [
        "/api/runs/0/files/games/../config.yaml",
        "/api/runs/0/files/games/../../secret/game.kif",
        "/api/runs/0/files/%2e%2e/config.yaml",
        "/api/runs/0/files/games/%2e%2e/%2e%2e/secret/game.kif",
        "/api/runs/0/files/games%2F..%2F..%2Fsecret%2Fgame.kif",
        f"/api/runs/0/files/{outside}/game.kif",
        f"/api/runs/0/files//{outside}/game.kif",
        "/api/runs/0/files/games/escape.kif",
        "/api/runs/0/files/games/away/game.kif",
        "/api/runs/0/game/games/escape.kif",
        "/api/runs/0/board/games/away/game.kif",
        "/api/runs/0/files/config.yaml",
        "/api/runs/0/files/checkpoints/best.pt",
        "/api/runs/0/files/games/..%5C..%5Csecret%5Cgame.kif",
        "/api/runs/1/summary",
        "/static/../server.py",
        "/static/%2e%2e%2fserver.py",
        "/static/index.html",
        f"/api/runs/0/analysis/games/{record.name}?checkpoint=../../secret/x.pt",
    ]
    with Watch(str(run_copy)) as watch:
        for path in refused:
            status, _, body = watch.request(path)
            assert status in (403, 404), (path, status)
            assert b"total_steps" not in body and record.read_bytes()[:60] not in body, path
        assert watch.request(f"/api/runs/0/files/games/{record.name}")[0] == 200


def test_damaged_files_are_named_and_the_rest_is_served(run_copy: Path) -> None:
    run = RunDir(run_copy)
    lines = run.events.read_bytes().split(b"\n")[:-1]
    lines[2] = b'{"time": 1, "kind": "upd'  # a line cut short in the middle of the log
    torn = lines[-1][:10]
    run.events.write_bytes(b"\n".join([*lines[:-1], torn]))
    run.ratings.write_text(run.ratings.read_text()[:100])
    with pytest.raises(RatingsError) as broken:
        RatingTable.load(run_copy)
    games = sorted(run.games.glob("*.csa"))
    games[0].write_bytes(games[0].read_bytes()[:301])  # in the middle of a move
    with pytest.raises(ValueError) as unreadable:
        read_record(games[0])
    with Watch(str(run_copy)) as watch:
        s = watch.json("/api/runs/0/summary")
        status, _, body = watch.request(f"/api/runs/0/game/games/{games[0].name}")
        assert watch.json(f"/api/runs/0/game/games/{games[1].name}")["usi"]
    assert s["damaged"] == [
        "events.jsonl: line 3 is not a JSON event",
        f"events.jsonl: line {len(lines)} is incomplete (10 bytes without an end of line)",
        f"ratings.json: {broken.value}",
    ]
    assert (status, json.loads(body)) == (422, {"error": " ".join(str(unreadable.value).split())})
    assert s["ratings"] is None and s["status"]["step"] > 0 and len(s["curves"]["step"]) > 10
    assert len(s["evaluations"]) == 2


def test_a_growing_and_a_rewritten_log_are_followed(run_copy: Path) -> None:
    run = RunDir(run_copy)
    full = run.events.read_bytes()
    lines = full.split(b"\n")[:-1]
    run.events.write_bytes(b"\n".join(lines[:20]) + b"\n" + lines[20][:7])
    view = RunView(run_copy, "run")
    first = view.summary()
    assert first["damaged"] == [
        "events.jsonl: line 21 is incomplete (7 bytes without an end of line)"
    ]
    with open(run.events, "ab") as f:  # the writer finishes the line and goes on
        f.write(full[len(b"\n".join(lines[:20])) + 1 + 7 :])
    assert _without_time(view.summary()) == _without_time(RunView(run_copy, "run").summary())
    assert view.summary()["status"]["state"] == "finished"
    # A resumed run cuts the log back and writes on: the same size, other lines.
    cut = b"\n".join(lines[:10]) + b"\n"
    rest = full[len(cut) :].replace(b'"kind":"end"', b'"kind":"eNd"')
    run.events.write_bytes(cut + rest)
    assert view.summary()["status"]["state"] == "running"


def _without_time(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "status"}


def test_off_loopback_the_page_needs_the_token(finished_run: Path) -> None:
    with Watch("--host", "0.0.0.0", str(finished_run)) as watch:
        assert watch.token and len(watch.token) >= 24
        assert watch.lines[1] == (
            f"keisei watch: listening on 0.0.0.0, not only this machine: the page needs the "
            f"token {watch.token} (in the address above)\n"
        )
        denied = {"error": "a token is required: open the address keisei watch printed"}
        for path in ("/", "/api/runs", "/api/runs/0/summary", "/static/watch.js"):
            status, _, body = watch.request(path)
            assert (status, json.loads(body)) == (403, denied)
        assert watch.request("/api/runs?token=wrong")[0] == 403
        assert watch.request("/", {"Cookie": "keisei_watch_token=wrong"})[0] == 403
        status, headers, _ = watch.request(f"/?token={watch.token}")
        assert status == 200
        assert headers["set-cookie"].startswith(f"keisei_watch_token={watch.token};")
        assert "HttpOnly" in headers["set-cookie"] and "SameSite=strict" in headers["set-cookie"]
        cookie = {"Cookie": f"keisei_watch_token={watch.token}"}
        assert watch.request("/api/runs/0/summary", cookie)[0] == 200
        assert watch.request("/api/runs", {**cookie, "Host": "elsewhere.example"})[0] == 200


def test_on_loopback_only_loopback_host_names(finished_run: Path) -> None:
    with Watch(str(finished_run)) as watch:
        assert watch.token is None and len(watch.lines) == 1
        for host in ("evil.example", "evil.example:80", f"192.0.2.1:{watch.port}"):
            status, _, body = watch.request("/api/runs", {"Host": host})
            assert (status, json.loads(body)) == (
                403, {"error": "this server answers only to a loopback host name"}
            )  # fmt: skip
        for host in (f"localhost:{watch.port}", f"127.0.0.1:{watch.port}", "[::1]:80"):
            assert watch.request("/api/runs", {"Host": host})[0] == 200
        assert watch.stop(signal.SIGTERM) == (143, "keisei watch: stopped (SIGTERM)\n")


def test_several_runs_side_by_side(finished_run: Path, run_copy: Path) -> None:
    with Watch(str(finished_run), str(run_copy)) as watch:
        runs = watch.json("/api/runs")
        assert [r["name"] for r in runs] == ["run", "copied-run"]
        assert (
            watch.json("/api/runs/1/summary")["curves"]
            == watch.json("/api/runs/0/summary")["curves"]
        )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["MISSING"], "keisei watch: error: run directory MISSING does not exist"),
        (["FILE"], "keisei watch: error: run directory FILE is not a directory"),
        (["RUN", "RUN"], "keisei watch: error: a run directory is named twice"),
        (
            ["RUN", "--port", "65536"],
            "keisei watch: error: argument --port: must be <= 65535, got 65536 "
            "(see 'keisei watch --help')",
        ),
        (
            ["RUN", "--host", "example.com"],
            "keisei watch: error: argument --host: expected an IP address (e.g. 127.0.0.1, "
            "0.0.0.0, ::1) or localhost, got 'example.com' (see 'keisei watch --help')",
        ),
        (
            ["RUN", "--host", "192.0.2.7"],
            "keisei watch: error: cannot listen on 192.0.2.7 port 0: "
            "Cannot assign requested address",
        ),
        (
            ["RUN", "--port", "BUSY"],
            "keisei watch: error: cannot listen on 127.0.0.1 port BUSY: Address already in use",
        ),
    ],
)
def test_bad_input_is_one_line(
    argv: list[str],
    message: str,
    finished_run: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "FILE").touch()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = str(busy.getsockname()[1])
    names = {"MISSING": str(tmp_path / "MISSING"), "FILE": str(tmp_path / "FILE")}
    names |= {"RUN": str(finished_run), "BUSY": port}
    before = tree_hashes(finished_run)
    try:
        code = main(["watch", *[names.get(a, a) for a in argv]])
    except SystemExit as exc:
        code = exc.code  # argparse's errors
    finally:
        busy.close()
    out, err = capfd.readouterr()
    expected = message
    for key, value in names.items():
        expected = expected.replace(f" {key} ", f" {value} ").replace(f" {key}:", f" {value}:")
    assert (code, out, err) == (2, "", expected + "\n")
    assert tree_hashes(finished_run) == before


HANDICAP = "lnsgkgsn1/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL w - 1"  # lance


def test_an_interrupted_run_from_a_handicap_start(tmp_path: Path) -> None:
    """The state and the reason of a run stopped by SIGTERM; a game that starts from a
    handicap position (cshogi's KIF reader reads moves only from the standard start: the
    viewer opens the CSA record)."""
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "keisei", "train", "--preset", "tiny", "--run-dir", str(run),
            "--total-steps", "100000000", f"env.start_sfens=['{HANDICAP}']",
            "logging.record_every_episodes=1", "logging.tensorboard=false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_event(run, "episode")
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143
    s = RunView(run, "run").summary()
    assert s["status"]["state"] == "interrupted" and s["status"]["reason"] == "by SIGTERM"
    assert s["status"]["step"] == read_events(run)[-1]["step"]
    entry = s["games"][0]
    assert entry["record"].endswith(".csa")
    with Watch(str(run)) as watch:
        game = watch.json(f"/api/runs/0/game/{entry['record']}")
    record = read_record(run / entry["record"])[0]
    board = cshogi.Board(HANDICAP)
    for move in record.moves:
        board.push(move)
    assert game["start"] == HANDICAP and game["sfens"][-1] == board.sfen()
