"""``keisei usi``'s protocol, line by line, in-process: what each command answers (the exact
text a GUI parses), every note a bad command gets, the limits a ``go`` turns into, the
time a clock allows, and the failures it survives (a network that raises, a closed output,
undecodable input). The engine runs on string streams, so mutation testing sees it."""

from __future__ import annotations

import io
import re
import sys
import time
from collections.abc import Iterable, Iterator

import cshogi
import numpy as np
import pytest
import torch

from keisei.search.usi_commands import Go, parse_go, position_sfen, think_time
from keisei.search.usi_engine import DEFAULT_PLAYOUTS, OPTIONS, USIEngine, read_lines
from tests.evalutil import tiny_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MODEL = tiny_model(0)
ANSWERS = ("bestmove", "checkmate")
BUSY = "ignored go: a search is running (send stop first)"


def talk(engine: USIEngine, out: io.StringIO, lines: Iterable[str]) -> list[str]:
    """Run ``lines`` through ``engine`` and return what it wrote. After a ``go`` that ends
    by itself (not infinite, not ponder), the next line waits for its answer: the search
    runs in its own thread, and the end of the input would stop it without one."""

    def paced() -> Iterator[str]:
        for line in lines:
            answered = sum(ln.startswith(ANSWERS) for ln in out.getvalue().splitlines())
            yield line + "\n"
            words = line.split()
            refused = out.getvalue().splitlines()[-1:] == [f"info string {BUSY}"]
            if words[:1] == ["go"] and not {"infinite", "ponder"} & set(words) and not refused:
                # A search that ended without an answer fails in a second, not at the deadline.
                deadline, grace = time.monotonic() + 30, None
                while sum(ln.startswith(ANSWERS) for ln in out.getvalue().splitlines()) == answered:
                    now = time.monotonic()
                    if grace is None and not engine.searching():
                        grace = now + 1.0
                    assert now < min(deadline, grace or deadline), out.getvalue()
                    time.sleep(0.005)

    assert engine.run(paced()) == 0
    return out.getvalue().splitlines()


def engine() -> tuple[USIEngine, io.StringIO]:
    out = io.StringIO()
    return USIEngine(
        MODEL, name="keisei test", author="the authors", out=out, log=io.StringIO()
    ), out


def notes(lines: list[str]) -> list[str]:
    return [ln.removeprefix("info string ") for ln in lines if ln.startswith("info string ")]


def nodes_of(lines: list[str]) -> list[int]:
    """The node count of each search's last ``info depth`` line before its bestmove."""
    out, last = [], None
    for line in lines:
        if line.startswith("info depth"):
            words = line.split()
            last = int(words[words.index("nodes") + 1])
        elif line.startswith("bestmove"):
            out.append(last)
            last = None
    return out


def test_usi_declares_each_option_as_a_gui_reads_it() -> None:
    usi, out = engine()
    lines = talk(usi, out, ["usi", "quit", "usi"])  # nothing after quit is read
    assert lines == [
        "id name keisei test",
        "id author the authors",
        "option name Playouts type spin default 0 min 0 max 1000000000",
        "option name MoveSelection type combo default search var search var greedy var sample",
        "option name Temperature type string default 0",
        "option name Threads type spin default 1 min 1 max 256",
        "option name BatchSize type spin default 16 min 1 max 4096",
        "option name Device type string default cpu",
        "option name ResignValue type spin default -100 min -100 max 100",
        "option name MarginMs type spin default 400 min 0 max 60000",
        "option name CPuct type string default 1.5",
        "option name MateNodes type spin default 10000 min 0 max 10000000",
        "option name Seed type spin default 0 min 0 max 2147483647",
        "option name MultiPV type spin default 1 min 1 max 64",
        "option name USI_Ponder type check default false",
        "usiok",
    ]
    assert [o.name for o in OPTIONS][-1] == "USI_Ponder"


def test_setoption_notes_every_value_it_refuses_and_keeps_the_old_one() -> None:
    usi, out = engine()
    lines = talk(
        usi,
        out,
        [
            "setoption",
            "setoption nam Playouts value 3",
            "setoption name",
            "setoption name Playouts value 1000000001",
            "setoption name Playouts value -1",
            "setoption name Playouts value three",
            "setoption name MoveSelection value best",
            "setoption name USI_Ponder value yes",
            "setoption name USI_Ponder",
            "setoption name Multi PV value 3",
            "setoption name Multi PV",
            "setoption name Device value no such",
            "setoption nam " + "w" * 100,
            "setoption name USI_Hash value 256",  # a USI_ option keisei lacks: quietly
            "setoption name usi_ponder value TRUE",  # names and true/false in any case
            "setoption name playouts value 1000000000",
            "setoption name MultiPV value 64",
            "setoption name Threads value 0",
            "setoption name ResignValue value 101",
            "setoption name BatchSize value 4097",
            "setoption name Temperature value -1",
            "setoption name Device value cuda:x",
            "setoption name CPuct value 0.5",
            "setoption name MoveSelection value sample",
        ],
    )
    assert notes(lines) == [
        "ignored malformed setoption:",
        "ignored malformed setoption: nam Playouts value 3",
        "ignored malformed setoption: name",
        "ignored setoption Playouts '1000000001': 1000000001 is outside [0, 1000000000]",
        "ignored setoption Playouts '-1': -1 is outside [0, 1000000000]",
        "ignored setoption Playouts 'three': invalid literal for int() with base 10: 'three'",
        "ignored setoption MoveSelection 'best': not one of search, greedy, sample",
        "ignored setoption USI_Ponder 'yes': not true or false",
        "ignored setoption USI_Ponder '': not true or false",
        "ignored unknown option Multi PV",
        "ignored unknown option Multi PV",
        "ignored setoption Device 'no such': unknown device 'no such' (use cpu, cuda or cuda:N)",
        "ignored malformed setoption: " + ("nam " + "w" * 100)[:80],
        "ignored setoption Threads '0': 0 is outside [1, 256]",
        "ignored setoption ResignValue '101': 101 is outside [-100, 100]",
        "ignored setoption BatchSize '4097': 4097 is outside [1, 4096]",
        "ignored setoption Temperature '-1': must be a number >= 0 and <= 100",
        "ignored setoption Device 'cuda:x': unknown device 'cuda:x' (use cpu, cuda or cuda:N)",
    ]
    assert len(lines) == len(notes(lines))
    assert usi.values == {
        **{o.name: o.parse(o.default) for o in OPTIONS},
        "USI_Ponder": True,
        "Playouts": 1_000_000_000,
        "MultiPV": 64,
        "CPuct": 0.5,
        "MoveSelection": "sample",
    }


def test_the_options_that_alias_search_settings_reach_the_search() -> None:
    usi, out = engine()
    lines = [
        "setoption name BatchSize value 7",
        "setoption name MateNodes value 5",
        "setoption name CPuct value 2.5",
        "setoption name Temperature value 0.5",
        "isready",
    ]
    talk(usi, out, lines)
    config = usi.search.config
    assert (config.batch_size, config.mate_nodes, config.c_puct, config.temperature) == (
        7,
        5,
        2.5,
        0.5,
    )


def test_a_seed_restarts_the_engines_generator() -> None:
    usi, out = engine()
    talk(usi, out, ["setoption name Seed value 7"])
    assert usi.search.rng.random() == np.random.default_rng(7).random()


def test_position_keeps_what_it_can_and_says_what_it_dropped() -> None:
    usi, out = engine()
    board = cshogi.Board()
    first = board.move_from_usi("7g7f")
    lines = talk(usi, out, ["position startpos moves 7g7f 9z9z 2g2f"])
    assert notes(lines) == ["illegal move 9z9z at ply 2 in position: kept the 1 moves before it"]
    assert (usi.start_sfen, usi.moves, usi.position_ok) == (cshogi.STARTING_SFEN, [first], True)

    lines = talk(usi, out, ["position startpos 7g7f 3c3d"])
    assert notes(lines)[-1] == "ignored text after the position: 7g7f 3c3d"
    long = " ".join(["7g7f"] * 30)
    lines = talk(usi, out, [f"position startpos {long}", "position startpos moves " + "7" * 30])
    assert notes(lines)[-2:] == [
        f"ignored text after the position: {long[:80].strip()}",
        f"illegal move {'7' * 20} at ply 1 in position: kept the 0 moves before it",
    ]
    assert (usi.moves, usi.position_ok) == ([], True)

    lines = talk(usi, out, ["position startpos moves 3c3d"])  # white's move with black to move
    assert notes(lines)[-1] == "illegal move 3c3d at ply 1 in position: kept the 0 moves before it"
    # A pawn promoting outside the zone (cshogi's Board.is_legal lets it through).
    lines = talk(usi, out, ["position startpos moves 2g2f 7g7f+"])
    assert notes(lines)[-1] == "illegal move 7g7f+ at ply 2 in position: kept the 1 moves before it"
    assert len(usi.moves) == 1

    sfen = "lnsgkgsnl/1r5b1/ppppppppp/9/9/2P6/PP1PPPPPP/1B5R1/LNSGKGSNL w - 2"
    lines = talk(usi, out, [f"position sfen {sfen} moves 3c3d 2g2f"])
    assert usi.start_sfen == sfen and len(usi.moves) == 2

    lines = talk(usi, out, ["position sfen " + sfen.replace(" w ", " x ")])
    assert notes(lines)[-1].startswith("ignored position: ")
    assert usi.position_ok is False and usi.start_sfen == sfen  # the last good one stays

    for line, note in (
        ("position", "ignored position without startpos or sfen"),
        ("position fen 9/9 b - 1", "ignored position fen: expected startpos or sfen"),
        ("position " + "f" * 50, f"ignored position {'f' * 40}: expected startpos or sfen"),
    ):
        usi.position_ok = True
        assert notes(talk(usi, out, [line]))[-1] == note
        assert (usi.position_ok, usi.has_position) == (False, True)


def test_go_turns_its_limits_and_the_playouts_option_into_a_node_count() -> None:
    usi, out = engine()
    lines = talk(
        usi,
        out,
        [
            "go nodes 9",  # before any position: the start position
            "position startpos moves 7g7f",
            "setoption name Playouts value 5",
            "go nodes 9",  # the option caps nodes
            "go nodes 3",
            "go btime 600000 wtime 600000",  # a clock far from its end: the cap
            "setoption name Playouts value 0",
            "go nodes 4 wibble -3",
            "go nodes 4 movetime",
            "go nodes 4 " + "y" * 100,
            "position sfen 9/9 b - 1",
            "go nodes 4",
            "go mate 1000",
        ],
    )
    assert notes(lines)[:4] == [
        "go before position: searching the start position",
        "ignored in go: wibble -3",
        "ignored in go: movetime",
        "ignored in go: " + "y" * 80,
    ]
    unusable = "no usable position (see the note on the last position command)"
    assert notes(lines)[5:] == [unusable, unusable]
    assert nodes_of(lines) == [9, 5, 3, 5, 4, 4, 4, None]  # the last: no search
    note = f"info string {unusable}"
    assert lines[-4:] == [note, "bestmove resign", note, "checkmate nomate"]


def test_go_without_any_limit_searches_the_default_playouts() -> None:
    usi, out = engine()
    lines = talk(usi, out, ["setoption name BatchSize value 256", "position startpos", "go"])
    assert nodes_of(lines) == [DEFAULT_PLAYOUTS]


def test_info_and_bestmove_lines_have_the_fields_a_gui_parses() -> None:
    usi, out = engine()
    lines = talk(
        usi,
        out,
        ["setoption name USI_Ponder value true", "position startpos moves 2g2f", "go nodes 48"],
    )
    info = [ln for ln in lines if ln.startswith("info")]
    field = r"info depth (\d+) seldepth (\d+) nodes (\d+) nps \d+ time \d+ score cp (-?\d+) pv (.+)"
    parsed = [re.fullmatch(field, ln) for ln in info]
    assert all(parsed), info
    last = parsed[-1]
    assert last is not None
    depth, seldepth, nodes = (int(last.group(i)) for i in (1, 2, 3))
    pv = last.group(5).split()
    assert (nodes, depth) == (48, len(pv)) and seldepth >= depth
    # With pondering on, bestmove names the move it expects in reply: the pv's second.
    assert lines[-1] == f"bestmove {pv[0]} ponder {pv[1]}"
    board = cshogi.Board()
    board.push_usi("2g2f")
    for move in pv:
        assert board.is_legal(board.move_from_usi(move))
        board.push_usi(move)


TWO_MOVES = "8k/9/9/9/9/9/9/PP7/KL7 b - 1"  # 9h9g and 8h8g
ONE_MOVE = "l7k/9/9/9/9/9/9/9/K7r b - 1"  # in check, 9i8h its one escape
MATE_IN_ONE = "4k4/9/4P4/9/9/9/9/9/4K4 b G 1"  # G*5b
WON_NYUGYOKU = "RBBRGGSS1/4K4/P7P/9/9/9/9/9/5k3 b 2G 2"  # black to move has won


def test_multipv_lines_mate_scores_and_the_time_field() -> None:
    usi, out = engine()
    multipv = r"info multipv (\d) depth \d+ seldepth \d+ nodes 16 nps \d+ time \d+ "
    multipv += r"score cp -?\d+ pv (.+)"
    single = r"info depth (\d+) seldepth \d+ nodes (\d+) nps \d+ time (\d+) score (.+) pv (.+)"
    blocks = []
    for setup in (
        ["setoption name MultiPV value 2", "position startpos", "go nodes 16"],
        ["setoption name MultiPV value 3", f"position sfen {TWO_MOVES}", "go nodes 16"],
        [f"position sfen {ONE_MOVE}", "go nodes 16", "position startpos", "go nodes 1"],
        [f"position sfen {MATE_IN_ONE}", "go nodes 16"],
        ["setoption name MultiPV value 1", "go nodes 16"],
        ["setoption name MarginMs value 0", "position startpos", "go movetime 300"],
    ):
        before = len(out.getvalue().splitlines())
        blocks.append(talk(usi, out, setup)[before:])

    # MultiPV 2, and MultiPV 3 with two legal moves: a line per move, most visited first.
    for block in blocks[:2]:
        *info, best = block
        last = [re.fullmatch(multipv, ln) for ln in info[-2:]]
        assert last[0] is not None and last[1] is not None, info
        assert (last[0].group(1), last[1].group(1)) == ("1", "2")
        assert best == "bestmove " + last[0].group(2).split()[0]
        assert not any(ln.startswith("info depth") for ln in info)
        assert not any(ln.startswith("info multipv 3") for ln in info)
    assert {ln.split(" pv ")[1].split()[0] for ln in blocks[1][-3:-1]} == {"9h9g", "8h8g"}
    # One legal move: the one-line form whatever MultiPV says; a 1-move pv is depth 1.
    # A search of one playout still sends its info before the bestmove.
    assert all(ln.startswith(("info depth", "bestmove")) for ln in blocks[2])
    escape = re.fullmatch(single, blocks[2][0])
    assert escape is not None and (escape.group(1), escape.group(5)) == ("1", "9i8h")
    one = re.fullmatch(single, blocks[2][-2])
    assert one is not None and (one.group(1), one.group(2)) == ("1", "1")
    assert blocks[2][-1] == "bestmove " + one.group(5)
    # A mate found at the root: its score in plies, with MultiPV 3 and 1.
    for block in blocks[3:5]:
        assert re.fullmatch(single, block[0]) is not None
        assert block[0].endswith(" score mate 1 pv G*5b") and block[-1] == "bestmove G*5b"
    # 300 ms on the clock (no margin): the time field counts milliseconds.
    last = re.fullmatch(single, blocks[5][-2])
    assert last is not None and 250 <= int(last.group(3)) < 5000, blocks[5][-2]


def test_greedy_selection_plays_the_policys_most_probable_move_at_once() -> None:
    usi, out = engine()
    lines = talk(
        usi, out, ["setoption name MoveSelection value greedy", "position startpos", "go nodes 99"]
    )
    moves, probs, value = usi.search.policy(cshogi.Board())
    best = cshogi.move_to_usi(moves[int(np.argmax(probs))])
    match = re.fullmatch(
        r"info depth 1 seldepth 1 nodes 1 time \d+ score cp (-?\d+) pv (\S+)", lines[0]
    )
    assert match is not None and match.group(2) == best
    assert int(match.group(1)) == round(600 * np.log((1 + value) / (1 - value)))
    assert int(lines[0].split()[8]) < 10_000  # milliseconds since go
    assert lines[1:] == [f"bestmove {best}"]
    # Greedy whatever the temperature, and sample at temperature 0 is greedy too; a mated
    # side resigns, a won nyugyoku is declared.
    mated = "position sfen 4k4/9/4G4/9/9/9/9/9/4K4 b G 1 moves G*5b"
    lines = talk(
        usi,
        out,
        [
            "setoption name Temperature value 1",
            *["go nodes 1"] * 4,
            "setoption name MoveSelection value sample",
            "setoption name Temperature value 0",
            *["go nodes 1"] * 4,
            mated,
            "go nodes 1",
            f"position sfen {WON_NYUGYOKU}",
            "go nodes 1",
        ],
    )
    answers = [ln for ln in lines if ln.startswith("bestmove")]
    assert answers == [f"bestmove {best}"] * 9 + ["bestmove resign", "bestmove win"]


def test_search_selection_at_temperature_1_draws_by_visits() -> None:
    usi, out = engine()
    script = ["setoption name Temperature value 1", "position startpos", *["go nodes 16"] * 12]
    lines = talk(usi, out, script)
    assert len({ln for ln in lines if ln.startswith("bestmove")}) > 1


def test_resign_value_compares_the_root_value_in_hundredths() -> None:
    # This network values the start position at about -0.32 for black (score cp -402).
    usi, out = engine()
    lines = talk(
        usi,
        out,
        [
            "position startpos",
            "go nodes 1",
            "setoption name ResignValue value -40",
            "go nodes 1",
            "setoption name ResignValue value -20",
            "go nodes 1",
        ],
    )
    cp = int(lines[0].split()[lines[0].split().index("cp") + 1])
    assert -480 < cp < -240  # a value between -0.39 and -0.2 (-402 on an AMD EPYC)
    answers = [ln for ln in lines if ln.startswith("bestmove")]
    assert (
        answers == [answers[0], answers[0], "bestmove resign"] and answers[0] != "bestmove resign"
    )


def test_won_nyugyoku_is_noted_and_declared_and_ponder_needs_a_second_pv_move() -> None:
    usi, out = engine()
    lines = talk(
        usi,
        out,
        [
            "setoption name USI_Ponder value true",
            f"position sfen {WON_NYUGYOKU}",
            "go nodes 4",
            f"position sfen {ONE_MOVE}",
            "go nodes 1",
        ],
    )
    assert notes(lines) == ["nyugyoku: declaring the win"]
    assert [ln for ln in lines if ln.startswith("bestmove")] == ["bestmove win", "bestmove 9i8h"]


def test_a_long_search_reports_every_second() -> None:
    usi, out = engine()
    lines = talk(
        usi, out, ["setoption name MarginMs value 0", "position startpos", "go movetime 1500"]
    )
    infos = [ln for ln in lines if ln.startswith("info depth")]
    assert len(infos) == 2  # at 1 s, and the last
    nodes = [int(ln.split()[ln.split().index("nodes") + 1]) for ln in infos]
    assert 0 < nodes[0] < nodes[1]


def test_stop_ponderhit_and_gameover_out_of_turn() -> None:
    usi, out = engine()
    lines = talk(
        usi,
        out,
        [
            "stop",  # nothing running: nothing to say
            "ponderhit",
            "position startpos",
            "go infinite",
            "go nodes 4",
            "ponderhit",  # infinite is not ponder
            "gameover lose",  # ends the search without a bestmove
            "isready",
            "go ponder nodes 4",
            "usinewgame",  # the same
            "isready",
            "go infinite",
            "stop",
        ],
    )
    assert notes(lines) == [
        "ignored ponderhit: not pondering",
        BUSY,
        "ignored ponderhit: not pondering",
    ]
    answers = [ln for ln in lines if not ln.startswith("info")]
    assert answers[:2] == ["readyok", "readyok"]
    assert len(answers) == 3 and answers[2].startswith("bestmove ")
    assert not usi.searching()


def scripted(engine: USIEngine, out: io.StringIO, script: list[tuple[float, str]]) -> list[str]:
    """Run ``script`` (pause in seconds, line) through ``engine``; for each line, what the
    engine had written when it was sent."""
    before: list[str] = []

    def lines() -> Iterator[str]:
        for pause, line in script:
            time.sleep(pause)
            before.append(out.getvalue())
            yield line + "\n"

    assert engine.run(lines()) == 0
    return before


def test_ponderhit_starts_the_clock_of_the_side_to_move() -> None:
    """Pondering has no deadline; ponderhit gives it the time of the side to move: black's
    0 + 1000 - 400 ms here, not white's 15.6 s."""
    usi, out = engine()
    before = scripted(
        usi,
        out,
        [
            (0.0, "position startpos"),
            (0.0, "go ponder btime 0 wtime 600000 byoyomi 1000"),
            (0.3, "ponderhit"),
            (0.2, "isready"),  # not before its 0.6 s
            (2.8, "go btime 0 wtime 600000 byoyomi 1000"),  # but well within 15 s; again
            (3.0, "isready"),
        ],
    )
    assert [text.count("bestmove") for text in before] == [0, 0, 0, 0, 1, 2]


def test_a_ponder_or_infinite_search_done_early_waits_for_ponderhit_or_stop() -> None:
    # A mate found at the root ends the search at once; the answer still waits.
    usi, out = engine()
    before = scripted(
        usi,
        out,
        [
            (0.0, f"position sfen {MATE_IN_ONE}"),
            (0.0, "go ponder"),
            (0.4, "ponderhit"),
            (0.4, "go infinite"),
            (0.4, "ponderhit"),  # infinite is not ponder: ignored
            (0.4, "stop"),
            (0.4, "ponderhit"),  # nothing is pondering now
        ],
    )
    assert [text.count("bestmove") for text in before] == [0, 0, 0, 1, 1, 1, 2]
    lines = out.getvalue().splitlines()
    assert [ln for ln in lines if ln.startswith("bestmove")] == ["bestmove G*5b"] * 2
    assert notes(lines) == ["ignored ponderhit: not pondering"] * 2


def test_go_mate_says_nomate_in_check_and_timeout_past_its_budget() -> None:
    # Black, with a piece of each kind in hand, mates in 245 df-pn nodes (cshogi's count).
    drops = "4k4/9/9/9/9/9/9/9/4K4 b RBGSNLP 1"
    usi, out = engine()
    lines = talk(
        usi,
        out,
        [
            "position sfen 4k4/9/9/9/9/9/9/4r4/4K4 b G 1",  # black in check: not a mate search
            "go mate 1000",
            f"position sfen {drops}",
            "setoption name MateNodes value 1",  # 100 nodes
            "go mate infinite",
            "setoption name MateNodes value 0",  # one node (never none)
            "go mate",
            "setoption name MateNodes value 3",
            "go mate 1000",
            # The same after white's king has stepped aside: the moves are played first.
            "setoption name MateNodes value 100",
            f"position sfen {drops.replace(' b ', ' w ')} moves 5a4a",
            "go mate 1000",
        ],
    )
    assert lines[:3] == ["checkmate nomate", "checkmate timeout", "checkmate timeout"]
    assert len(lines) == 5
    for start, moves, line in (
        (drops, [], lines[3]),
        (drops.replace(" b ", " w "), ["5a4a"], lines[4]),
    ):
        assert line.startswith("checkmate ")
        board = cshogi.Board(start)
        for move in [*moves, *line.split()[1:]]:
            assert board.is_legal(board.move_from_usi(move)), move
            board.push_usi(move)
        assert board.is_check() and not list(board.legal_moves)


def test_a_network_that_fails_still_gets_a_legal_move_out_and_the_engine_goes_on() -> None:
    class Broken(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> None:
            raise RuntimeError("out of memory (a test's network)")

    log = io.StringIO()
    out = io.StringIO()
    usi = USIEngine(Broken(), out=out, log=log)
    ready = "isready " + "z" * 100
    lines = talk(usi, out, [ready, "position startpos", "go nodes 8", "usi"])
    board = cshogi.Board()
    first_legal = cshogi.move_to_usi(next(iter(board.legal_moves)))
    assert lines[:3] == [
        f"info string error handling {ready[:80]!r}: RuntimeError",
        "info string search failed (RuntimeError): playing a legal move",
        f"bestmove {first_legal}",
    ]
    # The engine's default name and author.
    assert lines[3:5] == ["id name keisei", "id author keisei"] and lines[-1] == "usiok"
    text = log.getvalue()
    assert "keisei usi: RuntimeError: out of memory (a test's network)" in text
    assert "keisei usi: search failed: RuntimeError: out of memory (a test's network)" in text
    assert text.count("Traceback (most recent call last)") == 2


def test_the_engine_talks_on_stdout_and_stderr_by_default_from_the_cpu() -> None:
    usi = USIEngine(MODEL)
    assert (usi.out, usi.log, usi.device) == (sys.stdout, sys.stderr, "cpu")


def test_sampled_moves_follow_the_seed_option() -> None:
    script = [
        "setoption name MoveSelection value sample",
        "setoption name Temperature value 1",
        "position startpos",
        *["go nodes 1"] * 12,
    ]
    runs = []
    for seed in (None, None, "5"):
        usi, out = engine()
        lines = talk(
            usi, out, script if seed is None else [f"setoption name Seed value {seed}", *script]
        )
        runs.append([ln for ln in lines if ln.startswith("bestmove")])
    assert runs[0] == runs[1] and runs[0] != runs[2]
    assert len(set(runs[0])) > 1  # sampled, not the most probable every time


def test_the_end_of_the_input_stops_a_search_without_an_answer() -> None:
    usi, out = engine()
    lines = talk(usi, out, ["position startpos", "go infinite"])
    assert not any(ln.startswith("bestmove") for ln in lines)
    assert not usi.searching()


def test_a_closed_output_ends_the_loop_without_reading_on() -> None:
    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError("the GUI is gone")

    usi = USIEngine(MODEL, out=Closed(), log=io.StringIO())
    rest = iter(["usi\n", "isready\n", "position startpos\n"])
    assert usi.run(rest) == 0
    assert list(rest) == ["isready\n", "position startpos\n"]
    usi.send("readyok")  # and never writes again
    assert usi._dead is True


def test_unknown_commands_are_named_and_blank_lines_are_nothing() -> None:
    usi, out = engine()
    long = "x" * 100
    lines = talk(usi, out, ["", "   ", "hello there", long, "isready"])
    assert notes(lines) == [
        "ignored unknown command: hello there",
        f"ignored unknown command: {long[:80]}",
    ]
    assert lines[-1] == "readyok"


def test_read_lines_decodes_bytes_and_ends_at_eof_or_a_broken_stream() -> None:
    stream = io.BytesIO(b"usi\n\xff\xfeisready\nquit")
    assert list(read_lines(stream)) == ["usi\n", "\ufffd\ufffdisready\n", "quit"]
    assert list(read_lines(io.StringIO("a\nb\n"))) == ["a\n", "b\n"]

    class Broken(io.BytesIO):
        def readline(self, size: int | None = -1) -> bytes:
            raise OSError("stdin closed")

    assert list(read_lines(Broken())) == []


def test_parse_go_reads_each_limit_and_names_what_it_ignores() -> None:
    assert parse_go([]) == (Go(), [])
    go, ignored = parse_go(
        [
            "btime",
            "1",
            "wtime",
            "2",
            "binc",
            "3",
            "winc",
            "4",
            "byoyomi",
            "5",
            "movetime",
            "6",
            "nodes",
            "7",
            "ponder",
            "infinite",
        ]
    )
    assert go == Go(1, 2, 3, 4, 5, 6, 7, infinite=True, ponder=True)
    assert ignored == []
    assert parse_go(["mate", "1000", "nodes", "5"]) == (Go(nodes=5, mate=True), [])
    assert parse_go(["mate"]) == (Go(mate=True), [])
    # mate's time is skipped wherever it stands; mate last skips to the end.
    assert parse_go(["ponder", "mate", "5", "nodes", "3"]) == (
        Go(nodes=3, ponder=True, mate=True),
        [],
    )
    assert parse_go(["nodes", "3", "mate"]) == (Go(nodes=3, mate=True), [])
    assert parse_go(["nodes", "-1", "btime", "1.5", "searchmoves", "7g7f"]) == (
        Go(),
        ["nodes -1", "btime 1.5", "searchmoves", "7g7f"],
    )
    assert parse_go(["nodes"]) == (Go(), ["nodes"])
    assert parse_go(["nodes", "0"]) == (Go(nodes=0), [])


@pytest.mark.parametrize(
    "go",
    [Go(movetime=0), Go(btime=0), Go(wtime=0), Go(byoyomi=1), Go(binc=1), Go(winc=1)],
)
def test_any_time_field_makes_a_go_clocked(go: Go) -> None:
    assert go.clocked
    assert not Go(byoyomi=0, binc=0, winc=0, nodes=5, infinite=True).clocked


@pytest.mark.parametrize(
    ("go", "turn", "margin", "seconds"),
    [
        (Go(movetime=1000), cshogi.WHITE, 0, 1.0),
        (Go(movetime=300), cshogi.BLACK, 400, 0.01),  # at least 10 ms
        (Go(btime=40_000, wtime=80_000, binc=500, winc=900), cshogi.BLACK, 100, 1.4),
        (Go(btime=40_000, wtime=80_000, binc=500, winc=900), cshogi.WHITE, 100, 2.8),
        (Go(btime=0, wtime=0, byoyomi=3000), cshogi.BLACK, 500, 2.5),
        # The target (a fortieth + the increment) capped at what is left but the margin.
        (Go(btime=1000, wtime=0, binc=5000), cshogi.BLACK, 200, 0.8),
        # The margin eats it all: half of what is left, at most 50 ms.
        (Go(btime=60, wtime=0), cshogi.BLACK, 400, 0.03),
        (Go(btime=0, wtime=0, byoyomi=60), cshogi.BLACK, 400, 0.03),  # byoyomi counts there
        (Go(btime=10_000, wtime=0), cshogi.BLACK, 20_000, 0.05),
        (Go(btime=None, wtime=5000, winc=100), cshogi.BLACK, 0, 0.0),  # own clock absent: 0
    ],
)
def test_think_time_by_hand(go: Go, turn: int, margin: int, seconds: float) -> None:
    assert think_time(go, turn, margin) == pytest.approx(seconds, abs=1e-12)


def test_position_sfen_takes_a_won_nyugyoku_and_refuses_nonsense() -> None:
    won = "RBBRGGSS1/4K4/P7P/9/9/9/9/9/5k3 b 2G 2"
    assert position_sfen(won) == won
    with pytest.raises(ValueError, match=r"^position"):
        position_sfen("9/9 b - 1")


def test_isready_sets_the_threads_option() -> None:
    before = torch.get_num_threads()
    usi, out = engine()
    try:
        talk(usi, out, ["setoption name Threads value 2", "isready"])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
