"""``keisei usi``: the engine as a real subprocess, driven by cshogi's USI client, raw pipes
and keisei's own USIPlayer (as a GUI would drive it); the command reader in-process."""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cshogi
import pytest
from cshogi import CSA
from cshogi.cli import main as cshogi_match
from cshogi.usi import Engine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keisei.cli.main import main
from keisei.evaluation.match import play_match
from keisei.evaluation.players import GreedyPlayer
from keisei.evaluation.specs import parse_player
from keisei.search.usi_engine import Go, USIEngine, parse_go, think_time
from tests.evalutil import fairy_stockfish, save_tiny_checkpoint, tiny_model
from tests.searchutil import Peer, engine_wrapper


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("usi") / "run"
    save_tiny_checkpoint(run, 3)
    return run


@pytest.fixture(scope="module")
def wrapper(run_dir: Path) -> Path:
    return engine_wrapper(run_dir.parent, run_dir)


FUZZ_MODEL = tiny_model(0)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def legal_after(moves: list[str], answer: str) -> bool:
    board = cshogi.Board()
    for m in moves:
        board.push_usi(m)
    move = board.move_from_usi(answer)
    return bool(move) and board.is_legal(move)


def test_cshogi_client_handshake_and_time_controls(wrapper: Path) -> None:
    engine = Engine(str(wrapper))
    try:
        assert engine.name == "keisei 0.1.0 run step 3"
        lines = engine.usi()
        options = [ln for ln in lines if ln.startswith("option name ")]
        assert any(ln.startswith("option name Playouts type spin") for ln in options)
        assert any("MoveSelection type combo default search" in ln for ln in options)
        engine.setoption("USI_Hash", 256)  # accepted quietly
        engine.setoption("Threads", 1)
        engine.isready()
        engine.usinewgame()
        engine.position(moves=["7g7f"])
        info: list[str] = []
        began = time.monotonic()
        best, _ = engine.go(btime=0, wtime=0, byoyomi=1000, listener=info.append)
        elapsed = time.monotonic() - began
        assert legal_after(["7g7f"], best)
        assert elapsed < 1.0 + 0.5  # the margin keeps it inside 1 s; 0.5 s of slack
        last = [ln for ln in info if ln.startswith("info depth")][-1]
        assert " score cp " in last and " pv " in last and " nps " in last
        engine.position(moves=["7g7f", best])
        info.clear()
        best2, _ = engine.go(nodes=40, listener=info.append)
        assert legal_after(["7g7f", best], best2)
        assert any(" nodes 40 " in ln for ln in info)
        # Sudden death with an increment: a short think, still legal.
        engine.position(moves=["7g7f", best, best2])
        began = time.monotonic()
        best3, _ = engine.go(btime=3000, wtime=3000, binc=100, winc=100)
        assert legal_after(["7g7f", best, best2], best3)
        assert time.monotonic() - began < 1.5
        # Almost no time left: still a legal move, within what is left (and some slack).
        engine.position(moves=["7g7f", best, best2, best3])
        began = time.monotonic()
        best4, _ = engine.go(btime=200, wtime=200)
        assert legal_after(["7g7f", best, best2, best3], best4)
        assert time.monotonic() - began < 0.2 + 0.3
    finally:
        proc = engine.proc
        engine.quit()  # cshogi waits for the process to exit
        assert proc.wait(timeout=10) == 0


def test_robust_against_bad_input_stop_and_eof(wrapper: Path, tmp_path: Path) -> None:
    with (tmp_path / "stderr").open("wb") as stderr:
        peer = Peer([str(wrapper)], stderr)
        try:
            peer.send("usi")
            peer.expect("usiok")
            peer.send("stop")  # nothing running
            peer.send("go nodes 5")  # before position: the start position
            best = peer.expect("bestmove").split()[1]
            assert legal_after([], best)
            for garbage in ("hello world", "setoption", "setoption name Playouts value x"):
                peer.send(garbage)
            peer.send(b"\xff\xfe garbage")
            peer.send("position sfen nonsense b - 1")
            peer.send("position startpos moves 7g7f 9z9z 3c3d")
            peer.send("isready")
            peer.expect("readyok")
            notes = [ln for ln in peer.seen if ln.startswith("info string ")]
            assert any("unknown command: hello world" in ln for ln in notes)
            assert any("malformed setoption" in ln for ln in notes)
            assert any("setoption Playouts" in ln for ln in notes)
            assert any("not a valid SFEN" in ln for ln in notes)
            assert any("illegal move 9z9z at ply 2" in ln for ln in notes)
            # The position kept 7g7f: White answers.
            peer.send("go nodes 10")
            best = peer.expect("bestmove").split()[1]
            assert legal_after(["7g7f"], best)
            # Infinite: no bestmove before stop; a second go is refused; isready answered.
            peer.send("go infinite")
            peer.send("go nodes 1")
            peer.send("isready")
            peer.expect("readyok", timeout=5)
            assert not any(ln.startswith("bestmove") for ln in peer.quiet(0.5))
            assert any("ignored go: a search is running" in ln for ln in peer.seen)
            peer.send("stop")
            best = peer.expect("bestmove", timeout=5).split()[1]
            assert legal_after(["7g7f"], best)
            # EOF in the middle of a search: a clean exit.
            peer.send("go infinite")
            time.sleep(0.2)
            assert peer.proc.stdin is not None
            peer.proc.stdin.close()
            assert peer.proc.wait(timeout=10) == 0
        finally:
            if peer.proc.poll() is None:
                peer.proc.kill()
    assert b"Traceback" not in (tmp_path / "stderr").read_bytes()


def test_missing_or_corrupt_checkpoint_exits_2_before_usiok(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["usi", str(tmp_path / "nothing")]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "no such checkpoint or run directory" in out.err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"KEISEI-CKPT 1\n" + b"0" * 64 + b"\ngarbage")
    assert main(["usi", str(bad)]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "corrupt" in out.err


def test_match_against_greedy_through_keisei_usi_player(wrapper: Path) -> None:
    player = parse_player(f"usi:{wrapper}[nodes=16,Threads=1]")
    with player, GreedyPlayer(seed=1) as greedy:
        result = play_match(player, greedy, games=2, max_plies=30, parallel=2)
    assert len(result.games) == 2
    assert [(g.reason, g.detail) for g in result.faults()] == []
    assert all(g.plies > 0 for g in result.games)


def scripted(lines: list[tuple[float, str]]) -> Iterator[str]:
    """Command lines, each after a pause (seconds)."""
    for pause, line in lines:
        time.sleep(pause)
        yield line + "\n"


def test_ponder_then_ponderhit_in_process(one_torch_thread: None) -> None:
    out = io.StringIO()
    engine = USIEngine(tiny_model(0), out=out, log=sys.stderr)
    script = [
        (0.0, "setoption name USI_Ponder value true"),
        (0.0, "position startpos moves 7g7f"),
        (0.0, "go ponder btime 0 wtime 0 byoyomi 600"),
        (0.4, "ponderhit"),
        (1.0, "isready"),
        (0.0, "quit"),
    ]
    marks: list[tuple[str, int]] = []

    def watch() -> Iterator[str]:
        for line in scripted(script):
            marks.append((line.strip(), len(out.getvalue())))
            yield line

    assert engine.run(watch()) == 0
    text = out.getvalue()
    at_ponderhit = dict(marks)["ponderhit"]
    assert "bestmove" not in text[:at_ponderhit]  # nothing before ponderhit
    bestmove = [ln for ln in text.splitlines() if ln.startswith("bestmove")]
    assert len(bestmove) == 1 and legal_after(["7g7f"], bestmove[0].split()[1])


def test_policy_modes_and_nyugyoku_and_mated_in_process(one_torch_thread: None) -> None:
    out = io.StringIO()
    engine = USIEngine(tiny_model(0), out=out, log=sys.stderr)
    lines = [
        "setoption name MoveSelection value greedy",
        "position startpos",
        "go nodes 10",
        "setoption name MoveSelection value sample",
        "setoption name Temperature value 1.0",
        "go nodes 10",
        "setoption name MoveSelection value search",
        "position sfen RBBRGGSS1/4K4/P7P/9/9/9/9/9/4k4 w 2G 1 moves 5i4i",
        "go nodes 10",
        "position sfen 4k4/9/4P4/9/9/9/9/9/4K4 b G 1 moves G*5b",
        "go nodes 10",
        "setoption name ResignValue value 100",
        "position startpos",
        "go nodes 10",
    ]
    # A pause after each go: its answer comes from the search thread.
    paced = [
        (0.3 if previous.startswith("go") else 0.0, ln)
        for previous, ln in zip(["", *lines], lines, strict=False)
    ]
    assert engine.run(scripted([*paced, (0.3, "isready")])) == 0
    answers = [ln.split()[1] for ln in out.getvalue().splitlines() if ln.startswith("bestmove")]
    assert len(answers) == 5
    assert legal_after([], answers[0]) and legal_after([], answers[1])
    assert answers[2:] == ["win", "resign", "resign"]


def test_go_parsing_and_time_management() -> None:
    go, notes = parse_go(["btime", "1000", "wtime", "2000", "byoyomi", "500", "nodes", "x", "foo"])
    assert go == Go(btime=1000, wtime=2000, byoyomi=500)
    assert notes == ["nodes x", "foo"]
    assert think_time(Go(movetime=1000), cshogi.BLACK, 300) == pytest.approx(0.7)
    assert think_time(Go(), cshogi.BLACK, 300) is None
    # Byoyomi only: all of it but the margin.
    assert think_time(Go(btime=0, wtime=0, byoyomi=1000), cshogi.WHITE, 400) == pytest.approx(0.6)
    # Sudden death: a fortieth of the clock; never past what is left.
    assert think_time(Go(btime=40_000, wtime=1), cshogi.BLACK, 0) == pytest.approx(1.0)
    assert think_time(Go(btime=40_000, wtime=100), cshogi.WHITE, 400) == pytest.approx(0.05)
    assert think_time(Go(btime=40_000, wtime=0), cshogi.WHITE, 400) == pytest.approx(0.0)


def test_complete_games_against_fairy_stockfish_with_cshogi_match_runner(
    wrapper: Path, tmp_path: Path
) -> None:
    records = tmp_path / "csa"
    records.mkdir()
    result = cshogi_match(
        str(wrapper),
        fairy_stockfish(),
        options1={"Threads": 1},
        options2={"UCI_Variant": "shogi", "Skill Level": -20, "Threads": 1},
        games=2,
        byoyomi=100,
        draw=40,  # plies: the games end (drawn) at 40 if nobody won before
        csa=str(records),
        print_summary=False,
    )
    assert result["total"] == 2
    assert result["engine1_won"] + result["engine2_won"] + result["draw"] == 2
    files = sorted(records.glob("*.csa"))
    assert len(files) == 2
    for path in files:
        for kif in CSA.Parser.parse_file(str(path)):
            assert "ILLEGAL" not in kif.endgame and "TIME_UP" not in kif.endgame
            board = cshogi.Board(kif.sfen)
            for move in kif.moves:
                assert board.is_legal(move)
                board.push(move)


_WORDS = [
    "usi",
    "isready",
    "usinewgame",
    "gameover",
    "win",
    "stop",
    "ponderhit",
    "go",
    "position",
    "startpos",
    "sfen",
    "moves",
    "setoption",
    "name",
    "value",
    "btime",
    "wtime",
    "byoyomi",
    "binc",
    "winc",
    "movetime",
    "nodes",
    "infinite",
    "ponder",
    "mate",
    "Playouts",
    "MoveSelection",
    "greedy",
    "sample",
    "Temperature",
    "BatchSize",
    "CPuct",
    "USI_Hash",
    "7g7f",
    "3c3d",
    "2g2f",
    "8c8d",
    "P*5e",
    "7g7f+",
    "9z9z",
    "0",
    "-1",
    "3",
    "100",
    "1e9",
    "lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL",
    "b",
    "w",
    "-",
    "1",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.lists(st.sampled_from(_WORDS), min_size=1, max_size=12).map(" ".join),
            st.text(max_size=30).filter(lambda t: "\n" not in t and "\r" not in t),
        ),
        max_size=12,
    )
)
def test_fuzzed_commands_never_break_the_reader(lines: list[str]) -> None:
    lines = [ln for ln in lines if ln.split()[:1] != ["quit"]]
    out, log = io.StringIO(), io.StringIO()
    engine = USIEngine(FUZZ_MODEL, out=out, log=log)
    script = ["setoption name Playouts value 4", *lines, "stop", "isready"]
    assert engine.run(ln + "\n" for ln in script) == 0
    assert "readyok" in out.getvalue().splitlines()
    assert "Traceback" not in log.getvalue()


def test_go_mate_and_an_unusable_position_in_process() -> None:
    out = io.StringIO()
    engine = USIEngine(FUZZ_MODEL, out=out, log=sys.stderr)
    lines = [
        "position sfen 8k/9/8P/9/9/9/9/9/K8 b GS 1",
        "go mate 1000",
        "position startpos",
        "go mate infinite",
        "position sfen xx b - 1",  # refused: go must not search the previous position
        "go nodes 3",
        "isready",
    ]
    assert engine.run(ln + "\n" for ln in lines) == 0
    answers = [ln for ln in out.getvalue().splitlines() if not ln.startswith("info")]
    assert answers == ["checkmate G*1b", "checkmate nomate", "bestmove resign", "readyok"]


def test_multipv_shows_the_most_visited_root_moves_in_process(one_torch_thread: None) -> None:
    out = io.StringIO()
    engine = USIEngine(tiny_model(0), out=out, log=sys.stderr)
    script = [
        (0.0, "setoption name MultiPV value 3"),
        (0.0, "position startpos"),
        (0.0, "go nodes 64"),
        (1.0, "isready"),
    ]
    assert engine.run(scripted(script)) == 0
    lines = out.getvalue().splitlines()
    bestmove = [ln.split()[1] for ln in lines if ln.startswith("bestmove")]
    assert len(bestmove) == 1
    # The last info block before bestmove: ranks 1, 2, 3, each with its own first move.
    infos = [ln.split() for ln in lines if ln.startswith("info multipv")]
    last = infos[-3:]
    assert [int(ln[2]) for ln in last] == [1, 2, 3]
    firsts = [ln[ln.index("pv") + 1] for ln in last]
    assert len(set(firsts)) == 3 and all(legal_after([], m) for m in firsts)
    assert firsts[0] == bestmove[0]
    assert not any(ln.startswith("info depth") for ln in lines)  # MultiPV 1's form is not used
