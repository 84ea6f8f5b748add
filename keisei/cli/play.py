"""``keisei play CHECKPOINT|RUN_DIR``: play a game against the network in the terminal.

The board is drawn with rich (Japanese piece names, white's pieces marked ``v`` and red,
both hands, the last move highlighted, the side to move). Moves are typed in USI (``7g7f``,
``P*5e``, ``8h2b+``) or in a simple Japanese form: destination, piece, and 成 / 不成 / 打
where needed (``76歩``, ``７六歩``, ``同歩``, ``22角成``); a move that is illegal or
ambiguous is explained and asked again. ``undo`` takes back your last move (and the
engine's reply), ``resign`` resigns, ``quit`` stops the game, ``help`` lists this.
keisei answers with PUCT search (``--playouts``). Games end by the training environment's
own judge (``keisei.game.rules.Game``: mate, fourfold repetition or perpetual check,
nyugyoku; no ply limit); the record is then written as KIF, CSA and USI
(``keisei.game.records``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path
from typing import Any

import cshogi
import torch
from cshogi import KIF
from rich.console import Console, Group
from rich.text import Text

from keisei.cli.checks import check_creatable, load_cli_model
from keisei.errors import UsageError
from keisei.game.env import GameResult
from keisei.game.records import write_records
from keisei.game.rules import Game
from keisei.search.mcts import Limits, PUCTSearch, score_cp
from keisei.training.rundir import RunDir

PIECES = cshogi.PIECE_JAPANESE_SYMBOLS  # by piece type, 1..14
HAND_ORDER = (6, 5, 7, 4, 3, 2, 1)  # 飛 角 金 銀 桂 香 歩, as cshogi piece types
# cshogi's pieces_in_hand order (pawn, lance, knight, silver, gold, bishop, rook) -> type
HAND_TYPES = (1, 2, 3, 4, 7, 5, 6)
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
        line.append(f" {ranks[rank]}")
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


def parse_move(board: cshogi.Board, text: str, last: int) -> tuple[int, str]:
    """(a legal move, "") for ``text``, or (0, why not)."""
    text = text.strip()
    legal = list(board.legal_moves)
    try:
        move = int(board.move_from_usi(text))
    except Exception:
        move = 0
    if move and move in legal:
        return move, ""
    if re.fullmatch(r"[1-9][a-i][1-9][a-i]\+?|[PLNSGBR]\*[1-9][a-i]", text):
        return 0, f"{text} is not legal here"
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
        return 0, f"{text} is not legal here"
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
    check_creatable(directory, "--records")  # before anything is loaded or played
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
    result: GameResult | None = None
    note: str | None = None
    shown = -1  # the board is drawn again only when the position changed
    while result is None:
        board = game.board
        last = game.moves[-1] if game.moves else 0
        if shown != len(game.moves):
            console.print(render(board, last, you))
            shown = len(game.moves)
        if board.turn != you:
            position = search.set_position(game.start_sfen, game.moves)
            found = search.search(position, Limits(playouts=args.playouts))
            move = found.best
            assert move is not None  # the game is not over: there is a legal move
            score = f"mate {found.mate}" if found.mate else f"{score_cp(found.value):+d} cp"
            console.print(
                f"keisei plays {KIF.move_to_kif(move)} ({cshogi.move_to_usi(move)}), "
                f"{found.playouts} playouts, {score}"
            )
            result = game.push(move)
            continue
        text = _ask(console, "your move> ")
        if text is None or text.strip() == "quit":
            note = "stopped by the player"
            result = game.ended(None, "max_plies")
            break
        command = text.strip()
        if command == "":
            continue
        if command == "help":
            console.print(HELP)
        elif command == "resign":
            result = game.ended(1 - you, "resign")
        elif command == "undo":
            # Back to the last position where it was your turn before this one.
            if len(game.moves) < 2:
                console.print("nothing to undo")
                continue
            game.pop()
            game.pop()
            console.print("took back your last move and keisei's reply")
        else:
            move, why = parse_move(board, command, last)
            if not move:
                console.print(f"[yellow]{why}[/yellow]")
                continue
            result = game.push(move)
    assert result is not None
    console.print(render(game.board, game.moves[-1] if game.moves else 0, you))
    winner = (
        "draw" if result.winner is None else ("you win" if result.winner == you else "keisei wins")
    )
    console.print(f"game over: {result.reason}, {winner} ({result.plies} plies)")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    names = ("you", engine) if you == cshogi.BLACK else (engine, "you")
    files = write_records(result, directory, f"play-{stamp}", names, note)
    console.print(f"records: {', '.join(str(directory / f) for f in files.values())}")
    return 0
