"""``keisei play CHECKPOINT|RUN_DIR``: play a game against the network in the terminal.

The board is drawn with rich (Japanese piece names, white's pieces marked ``v`` and red,
both hands, the last move highlighted, the side to move, ranks as 一..九 and a..i). Moves
are typed in USI (``7g7f``, ``P*5e``, ``8h2b+``, in either case) or in a simple Japanese
form: destination, piece, and 成 / 不成 / 打 where needed (``76歩``, ``７六歩``, ``同歩``,
``22角成``); a move that is illegal says which rule it breaks (``why_illegal``), an
ambiguous one its candidates, and the move is asked again. What the player typed is
escaped before rich prints it. ``undo`` takes back your last move (and the engine's
reply), ``resign`` resigns, ``quit`` (or Ctrl-C: exit 130) stops the game, recorded as
``abandoned``; ``help`` lists this.
keisei answers with PUCT search (``--playouts``). Games end by the training environment's
own judge (``keisei.game.rules.Game``: mate, fourfold repetition or perpetual check,
nyugyoku; no ply limit); the record is then written as KIF, CSA and USI
(``keisei.game.records``) under a fresh name (``keisei.files.fresh_files``) in a records
directory checked before the game (``check_output_dir``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path
from typing import Any

import cshogi
import torch
from cshogi import KIF
from rich.console import Console, Group
from rich.markup import escape
from rich.text import Text

from keisei.cli.checks import load_cli_model
from keisei.errors import UsageError
from keisei.files import check_output_dir, fresh_files
from keisei.game.env import GameResult
from keisei.game.records import usi_position, write_records
from keisei.game.rules import DROP_LETTERS, HAND_TYPES, PIECE_NAMES, Game, why_illegal
from keisei.search.mcts import Limits, PUCTSearch, score_cp
from keisei.training.rundir import RunDir

PIECES = cshogi.PIECE_JAPANESE_SYMBOLS  # by piece type, 1..14
HAND_ORDER = (6, 5, 7, 4, 3, 2, 1)  # 飛 角 金 銀 桂 香 歩, as cshogi piece types
DIGITS = {**{str(i): i for i in range(1, 10)}, **{chr(0xFF10 + i): i for i in range(1, 10)}}
DIGITS.update(dict(zip("一二三四五六七八九", range(1, 10), strict=True)))
# Japanese names of the moving piece -> cshogi piece type (before the move).
NAMES = {
    "歩": 1, "香": 2, "桂": 3, "銀": 4, "角": 5, "飛": 6, "金": 7, "玉": 8, "王": 8,
    "と": 9, "成香": 10, "杏": 10, "成桂": 11, "圭": 11, "成銀": 12, "全": 12,
    "馬": 13, "龍": 14, "竜": 14,
}  # fmt: skip
HELP = (
    "moves: USI (7g7f, P*5e, 8h2b+) or 76歩 / ７六歩 / 同歩 / 22角成 / 55角打; "
    "commands: undo, resign, quit, help"
)
_USI = re.compile(r"[1-9][a-i][1-9][a-i]\+?|[PLNSBRG]\*[1-9][a-i]", re.IGNORECASE)
_JAPANESE = re.compile(r"^(同|(\S)(\S))\s*(成香|成桂|成銀|\S)(不成|成|打)?$")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "play",
        help="play against a checkpoint in the terminal",
        description="Play one game against the network of CHECKPOINT (a .pt file) or "
        "RUN_DIR (its newest valid checkpoint), which answers by PUCT search. Type moves in "
        f"USI or simple Japanese notation; {HELP}. The game is saved as KIF, CSA and USI.",
    )
    p.add_argument("checkpoint", type=Path, metavar="CHECKPOINT|RUN_DIR|bundled")
    p.add_argument("--color", choices=("black", "white"), default="black", help="your side")
    p.add_argument("--playouts", type=int, default=200, help="keisei's playouts per move")
    p.add_argument(
        "--records", type=Path, metavar="DIR", help="where to save the game (default: plays/)"
    )
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.set_defaults(func=run)


def render(board: cshogi.Board, last: int, you: int) -> Group:
    """The board, both hands and the side to move."""
    target = cshogi.move_to(last) if last else -1
    lines = [Text("  ９ ８ ７ ６ ５ ４ ３ ２ １")]
    ranks = "一二三四五六七八九"
    for rank in range(9):
        line = Text(" ")
        for file in range(8, -1, -1):
            square = file * 9 + rank
            piece = board.piece(square)
            style = "reverse" if square == target else ""
            if piece == 0:
                line.append(" ・", style=style)
            elif piece >= 16:
                line.append("v" + PIECES[piece - 16], style=f"red {style}".strip())
            else:
                line.append(" " + PIECES[piece], style=f"bold {style}".strip())
        line.append(f" {ranks[rank]} {'abcdefghi'[rank]}")
        lines.append(line)
    hands = board.pieces_in_hand
    for color, mark in ((cshogi.WHITE, "☖後手"), (cshogi.BLACK, "☗先手")):
        counts = dict(zip(HAND_TYPES, hands[color], strict=True))
        held = " ".join(
            PIECES[t] + (str(counts[t]) if counts[t] > 1 else "") for t in HAND_ORDER if counts[t]
        )
        who = "you" if color == you else "keisei"
        lines.append(Text(f"{mark} ({who}) 持駒: {held or 'なし'}"))
    turn = "☗先手" if board.turn == cshogi.BLACK else "☖後手"
    last_text = f", last move {KIF.move_to_kif(last)} ({cshogi.move_to_usi(last)})" if last else ""
    lines.append(Text(f"ply {board.move_number - 1}{last_text}; {turn} to move"))
    return Group(*lines)


def usi_text(text: str) -> str | None:
    """``text`` as a USI move if it is shaped like one in any case (``7G7F`` -> ``7g7f``,
    ``p*5e`` -> ``P*5e``: a drop's piece letter is upper case, whoever drops), else None."""
    if _USI.fullmatch(text) is None:
        return None
    return text[0].upper() + text[1:].lower() if text[1] == "*" else text.lower()


def _japanese_why(board: cshogi.Board, to: int, kind: int, suffix: str) -> str:
    """Why no legal move of a ``kind`` piece (cshogi type) to ``to`` with ``suffix``."""
    square = f"{to // 9 + 1}{'abcdefghi'[to % 9]}"
    name = PIECE_NAMES[kind]
    drop = f"{DROP_LETTERS[kind - 1]}*{square}" if kind <= 7 else None
    if suffix == "打":
        return why_illegal(board, drop) if drop else f"a {name} cannot be dropped"
    own = 1 if board.turn == cshogi.BLACK else 17
    starts = [sq for sq in range(81) if board.piece(sq) == own + kind - 1]
    promote = {"成": ("+",), "不成": ("",)}.get(suffix, ("", "+"))
    reasons = [
        why_illegal(board, f"{sq // 9 + 1}{'abcdefghi'[sq % 9]}{square}{plus}")
        for sq in starts
        for plus in promote
    ]
    if drop is not None and suffix == "":
        reasons.append(why_illegal(board, drop))
    telling = [r for r in reasons if "cannot move to" not in r and not r.startswith("you have no")]
    if telling:
        return telling[0]
    if starts:
        return f"no {name} of yours can move to {square}"
    return reasons[-1] if reasons else f"you have no {name}"


def parse_move(board: cshogi.Board, text: str, last: int) -> tuple[int, str]:
    """(a legal move, "") for ``text``, or (0, why not)."""
    text = text.strip()
    legal = list(board.legal_moves)
    usi = usi_text(text)
    if usi is not None:
        why = why_illegal(board, usi)
        if why:
            return 0, f"{usi} is not legal here: {why}"
        return int(board.move_from_usi(usi)), ""
    m = _JAPANESE.match(text.replace(" ", "").replace("\u3000", ""))
    if m is None:
        return 0, f"not a move: {text!r} ({HELP})"
    if m.group(1) == "同":
        if not last:
            return 0, "同 needs a previous move"
        to = cshogi.move_to(last)
    else:
        file, rank = DIGITS.get(m.group(2)), DIGITS.get(m.group(3))
        if file is None or rank is None:
            return 0, f"not a square: {m.group(2)}{m.group(3)}"
        to = (file - 1) * 9 + (rank - 1)
    kind = NAMES.get(m.group(4))
    if kind is None:
        return 0, f"not a piece: {m.group(4)}"
    suffix = m.group(5) or ""
    found = []
    for candidate in legal:
        if cshogi.move_to(candidate) != to:
            continue
        drop = cshogi.move_is_drop(candidate)
        if drop:
            moved = HAND_TYPES[cshogi.move_drop_hand_piece(candidate)]
        else:
            moved = board.piece(cshogi.move_from(candidate)) & 15
        if moved != kind or (suffix == "打" and not drop):
            continue
        promotes = bool(cshogi.move_is_promotion(candidate))
        if (suffix == "成" and not promotes) or (suffix == "不成" and promotes):
            continue
        found.append(candidate)
    if not found:
        return 0, f"{text} is not legal here: {_japanese_why(board, to, kind, suffix)}"
    if len(found) > 1:
        drops = [c for c in found if cshogi.move_is_drop(c)]
        if suffix != "打" and drops and len(found) - len(drops) == 1:
            found = [c for c in found if not cshogi.move_is_drop(c)]  # 打 is said when meant
    if len(found) > 1:
        options = ", ".join(cshogi.move_to_usi(c) for c in found)
        return 0, f"{text} is ambiguous ({options}): type the move in USI"
    return found[0], ""


def _ask(console: Console, prompt: str) -> str | None:
    try:
        return console.input(prompt)
    except EOFError:
        return None


def run(args: argparse.Namespace) -> int:
    if args.playouts < 1:
        raise UsageError(f"--playouts must be >= 1, got {args.playouts}")
    if args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    directory: Path = args.records if args.records is not None else Path("plays")
    check_output_dir(directory, "--records")  # before anything is loaded or played
    model, meta = load_cli_model(args.checkpoint, args.device)
    torch.set_num_threads(args.threads)
    console = Console(highlight=False)
    you = cshogi.BLACK if args.color == "black" else cshogi.WHITE
    ckpt = Path(str(meta["path"]))
    owner = RunDir.of(ckpt).path
    engine = f"keisei {owner.name} step {meta['global_step']}"
    search = PUCTSearch(model, device=args.device)
    game = Game()
    console.print(f"You play {'☗先手 (black)' if you == cshogi.BLACK else '☖後手 (white)'}.")
    console.print(HELP)
    try:
        result, note = _play(console, game, search, you, args.playouts)
    except KeyboardInterrupt:  # Ctrl-C: the game so far is kept
        result, note = game.ended(None, "abandoned"), "interrupted (Ctrl-C)"
        console.print("\ninterrupted: the game so far is saved")
    else:
        console.print(render(game.board, game.moves[-1] if game.moves else 0, you))
        winner = {None: "no result" if result.reason == "abandoned" else "draw", you: "you win"}
        said = winner.get(result.winner, "keisei wins")
        console.print(f"game over: {result.reason}, {said} ({result.plies} plies)")
    names = ("you", engine) if you == cshogi.BLACK else (engine, "you")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        # A fresh name: another game that ended this second keeps its records.
        stem = fresh_files(directory / f"play-{stamp}", (".csa", ".kif", ".usi")).name
        files = write_records(result, directory, stem, names, note)
    except OSError as exc:  # the directory went away or filled up during the game
        print(
            f"keisei play: error: cannot write the records in {directory} "
            f"({exc.strerror or exc}); the game: position {usi_position(result)}",
            file=sys.stderr,
        )
        return 1
    shown = escape(", ".join(str(directory / f) for f in files.values()))
    console.print(f"records: {shown}", soft_wrap=True)  # the paths stay whole
    return 130 if note == "interrupted (Ctrl-C)" else 0


def _play(
    console: Console, game: Game, search: PUCTSearch, you: int, playouts: int
) -> tuple[GameResult, str | None]:
    """The game until its end or the player's stop: (the result, a note for the records)."""
    shown = -1  # the board is drawn again only when the position changed
    while True:
        board = game.board
        last = game.moves[-1] if game.moves else 0
        if shown != len(game.moves):
            console.print(render(board, last, you))
            shown = len(game.moves)
        if board.turn != you:
            position = search.set_position(game.start_sfen, game.moves)
            found = search.search(position, Limits(playouts=playouts))
            move = found.best
            assert move is not None  # the game is not over: there is a legal move
            score = f"mate {found.mate}" if found.mate else f"{score_cp(found.value):+d} cp"
            console.print(
                f"keisei plays {KIF.move_to_kif(move)} ({cshogi.move_to_usi(move)}), "
                f"{found.playouts} playouts, {score}"
            )
            result = game.push(move)
        else:
            text = _ask(console, "your move> ")
            command = "quit" if text is None else text.strip()
            if command == "quit":
                return game.ended(None, "abandoned"), "stopped by the player"
            if command == "resign":
                return game.ended(1 - you, "resign"), None
            result = _command(console, game, command, last)
        if result is not None:
            return result, None


def _command(console: Console, game: Game, command: str, last: int) -> GameResult | None:
    """Carry out a command other than quit or resign, or play the move it names."""
    if command == "":
        return None
    if command == "help":
        console.print(HELP)
    elif command == "undo":
        # Back to the last position where it was your turn before this one.
        if len(game.moves) < 2:
            console.print("nothing to undo")
            return None
        game.pop()
        game.pop()
        console.print("took back your last move and keisei's reply")
    else:
        move, why = parse_move(game.board, command, last)
        if not move:
            console.print(f"[yellow]{escape(why)}[/yellow]")  # why quotes what was typed
            return None
        return game.push(move)
    return None
