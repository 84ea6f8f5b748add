"""Game records: KIF, CSA and USI move lists of finished games, for every way a game ends.

The one implementation of records: training, ``keisei selfplay`` and matches all write
through ``write_records``. cshogi's exporters write the header and the moves; the ending
(the special move and, in KIF, the closing sentence) is written here, from the
``GameResult``'s winner and reason, so that a reader gets back exactly that result:

========================  ===================  ============  ==============================
reason                    CSA                  KIF           KIF closing sentence
========================  ===================  ============  ==============================
checkmate                 ``%TSUMI``           詰み          まで64手で後手の勝ち
no_legal_moves            ``%TSUMI``           詰み          まで64手で後手の勝ち
perpetual_check           ``%+ILLEGAL_ACTION`` 反則勝ち      まで12手で後手の反則勝ち
                          (black lost) or      (the checker  (or 反則負け naming the loser,
                          ``%-ILLEGAL_ACTION`` just moved)   when the checker is to move)
repetition                ``%SENNICHITE``      千日手        まで80手で千日手
nyugyoku                  ``%KACHI``           入玉勝ち      まで201手で後手の入玉勝ち
max_plies                 ``%HIKIWAKE``        中断          まで512手で中断
abandoned                 ``%CHUDAN``          中断          まで12手で中断
resign, engine_crash      ``%TORYO``           投了          まで64手で先手の勝ち
engine_illegal_move       ``%ILLEGAL_MOVE``    反則負け      まで64手で後手の反則負け
engine_timeout            ``%TIME_UP``         切れ負け      まで64手で先手の勝ち
========================  ===================  ============  ==============================

``abandoned`` is a game a player stopped (``keisei play``'s ``quit`` or Ctrl-C): no
result. The last four are forfeits by an external player (``keisei.evaluation``): they
happen on the forfeiting side's turn, so the side to move loses. Sides are named 先手 (black) and
後手 (white), as in the KIF header cshogi writes, also for games that start with white to
move. A comment (``'keisei: REASON[: NOTE]`` before CSA's special move, ``*keisei: ...``
after KIF's) names keisei's reason and, for forfeits, what happened.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cshogi
from cshogi import CSA, KIF

from keisei.files import atomic_paths
from keisei.game.env import GameResult
from keisei.game.rules import is_legal_move

# Fixed so that the same game always gives the same bytes (records are compared in tests).
_EPOCH = dt.datetime(2000, 1, 1)
SIDES: tuple[str, str] = ("先手", "後手")  # black, white, as in cshogi's KIF header

# Reasons after which the side to move has lost: (CSA special move, KIF special move,
# closing sentence after "まで{n}手で", filled with the winner's or the loser's side).
_SIDE_TO_MOVE_LOSES: dict[str, tuple[str, str, str]] = {
    "checkmate": ("%TSUMI", "詰み", "{winner}の勝ち"),
    "no_legal_moves": ("%TSUMI", "詰み", "{winner}の勝ち"),
    "resign": ("%TORYO", "投了", "{winner}の勝ち"),
    "engine_crash": ("%TORYO", "投了", "{winner}の勝ち"),
    "engine_timeout": ("%TIME_UP", "切れ負け", "{winner}の勝ち"),
    "engine_illegal_move": ("%ILLEGAL_MOVE", "反則負け", "{loser}の反則負け"),
}
_DRAWS: dict[str, tuple[str, str, str]] = {
    "repetition": ("%SENNICHITE", "千日手", "千日手"),
    "max_plies": ("%HIKIWAKE", "中断", "中断"),
    "abandoned": ("%CHUDAN", "中断", "中断"),
}
#: Every reason records can end with: the environment's and external players' forfeits.
RECORD_REASONS: tuple[str, ...] = (
    *_SIDE_TO_MOVE_LOSES,
    *_DRAWS,
    "perpetual_check",
    "nyugyoku",
)


@dataclass(frozen=True)
class Ending:
    """How a record ends: the CSA and KIF special moves and the KIF closing sentence."""

    csa: str  # e.g. "%TSUMI"
    kif: str  # e.g. "詰み"
    sentence: str  # e.g. "まで64手で後手の勝ち"


def side_to_move_at_end(game: GameResult) -> int:
    """cshogi.BLACK or cshogi.WHITE: the side to move after the game's last move."""
    start = 0 if game.start_sfen.split()[1] == "b" else 1  # cshogi.BLACK, cshogi.WHITE
    return start ^ (len(game.moves) % 2)


def ending(game: GameResult) -> Ending:
    """The ending of ``game``'s records; ValueError if its winner cannot go with its reason."""
    n = len(game.moves)
    to_move = side_to_move_at_end(game)
    reason, winner = game.reason, game.winner

    def need(expected: int | None, why: str) -> None:
        if winner != expected:
            who = "a draw" if winner is None else f"won by {SIDES[winner]}"
            raise ValueError(f"a game ending by {reason} ({why}) cannot be {who}")

    if reason in _SIDE_TO_MOVE_LOSES:
        need(1 - to_move, "the side to move loses")
        csa, kif, sentence = _SIDE_TO_MOVE_LOSES[reason]
    elif reason in _DRAWS:
        need(None, "a draw")
        csa, kif, sentence = _DRAWS[reason]
    elif reason == "nyugyoku":
        need(to_move, "the side to move declares and wins")
        csa, kif, sentence = "%KACHI", "入玉勝ち", "{winner}の入玉勝ち"
    elif reason == "perpetual_check":
        if winner is None:
            raise ValueError("a game ending by perpetual_check cannot be a draw")
        loser = 1 - winner
        # CSA names the side whose illegal action lost the game; KIF says whether the side
        # to move wins (its opponent's last check was the foul) or loses.
        csa = "%+ILLEGAL_ACTION" if loser == cshogi.BLACK else "%-ILLEGAL_ACTION"
        if loser == to_move:
            kif, sentence = "反則負け", "{loser}の反則負け"
        else:
            kif, sentence = "反則勝ち", "{winner}の反則勝ち"
    else:
        raise ValueError(f"no record ending for reason {reason!r}")
    if winner is not None:
        sentence = sentence.format(winner=SIDES[winner], loser=SIDES[1 - winner])
    return Ending(csa, kif, f"まで{n}手で{sentence}")


def _note_lines(game: GameResult, note: str | None) -> list[str]:
    text = f"keisei: {game.reason}" + (f": {note}" if note else "")
    return [line.strip() for line in text.splitlines() if line.strip()]


def usi_moves(game: GameResult) -> list[str]:
    return [cshogi.move_to_usi(m) for m in game.moves]


def usi_position(game: GameResult) -> str:
    """The game as a USI ``position`` command argument (``sfen ... moves ...``)."""
    moves = " ".join(usi_moves(game))
    head = "startpos" if game.start_sfen == cshogi.STARTING_SFEN else f"sfen {game.start_sfen}"
    return f"{head} moves {moves}" if moves else head


def write_csa(
    game: GameResult,
    path: Path,
    names: tuple[str, str] = ("black", "white"),
    note: str | None = None,
) -> None:
    """CSA V2.2; ``note`` (what happened, e.g. an engine's fault) goes into a comment."""
    end = ending(game)
    exporter = CSA.Exporter(str(path))
    try:
        exporter.info(cshogi.Board(game.start_sfen), names=list(names), version="V2.2")
        for move in game.moves:
            exporter.move(move)
        for line in _note_lines(game, note):
            # ASCII only: CSA files are read as Shift_JIS or UTF-8 depending on the reader.
            exporter.f.write("'" + line.encode("ascii", "replace").decode("ascii") + "\n")
        exporter.endgame(end.csa)
    finally:
        exporter.close()


def write_kif(
    game: GameResult,
    path: Path,
    names: tuple[str, str] = ("black", "white"),
    note: str | None = None,
) -> None:
    """KIF (Shift_JIS, as Shogi GUIs expect; use a ``.kifu`` suffix for UTF-8).

    cshogi's exporter writes the header and the moves; the special move, the comment and
    the closing sentence are written here (cshogi's own ``end`` names the winner by move
    parity from black and numbers a draw two moves too far).
    """
    end = ending(game)
    exporter = KIF.Exporter(str(path))
    try:
        start = game.start_sfen
        handicap = None if start == cshogi.STARTING_SFEN else cshogi.Board(start)
        exporter.header(list(names), starttime=_EPOCH, handicap=handicap)
        for move in game.moves:
            exporter.move(move)
        # The special move, in the layout of cshogi's move lines (names padded to 12 columns).
        pad = " " * (12 - 2 * len(end.kif))
        exporter.kifu.write(f"{len(game.moves) + 1:>4} {end.kif}{pad}      ( 0:00/00:00:00)\n")
        encoding = exporter.kifu.encoding
        for line in _note_lines(game, note):
            safe = line.encode(encoding, "replace").decode(encoding)
            exporter.kifu.write(f"*{safe}\n")
        exporter.kifu.write(end.sentence + "\n")
    finally:
        exporter.close()


def write_records(
    game: GameResult,
    directory: Path,
    stem: str,
    names: tuple[str, str] = ("black", "white"),
    note: str | None = None,
) -> dict[str, str]:
    """Write ``stem.csa``, ``stem.kif`` and ``stem.usi``; return their file names.

    Works for every ending in ``RECORD_REASONS``; ``note`` says what happened (for a
    forfeit: the engine's fault) and is written as a comment in the CSA and KIF records.
    """
    ending(game)  # an impossible result fails before any file is written
    files = {"csa": f"{stem}.csa", "kif": f"{stem}.kif", "usi": f"{stem}.usi"}
    # All three or none, never a torn one (a reader would take a cut KIF for a game
    # without a result). The temporary names end in .tmp: KIF in Shift_JIS, as .kif.
    with atomic_paths([directory / name for name in files.values()]) as (csa, kif, usi):
        write_csa(game, csa, names, note)
        write_kif(game, kif, names, note)
        usi.write_text(usi_position(game) + "\n", encoding="ascii")
    return files


# -- reading -----------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordGame:
    """One game read from a CSA or KIF file: where it starts, its moves, who won."""

    path: Path
    start_sfen: str
    moves: tuple[int, ...]
    winner: int | None  # cshogi.BLACK, cshogi.WHITE or None (a draw or no result)
    variations: int = 0  # KIF variations (変化) after the main line, not read
    names: tuple[str, ...] = ()  # the players, black first, as the header names them
    note: str = ""  # the comment keisei writes after the last move (_note_lines), if any

    @property
    def reason(self) -> str | None:
        """keisei's reason for the game's end (``max_plies``, ``checkmate``, ...) as its
        records name it in their note, or None for a record from elsewhere."""
        for line in self.note.splitlines():
            text = line.strip().lstrip("'*").strip()
            if text.startswith("keisei: "):
                return text[len("keisei: ") :].split(":")[0].strip() or None
        return None


RECORD_SUFFIXES = (".csa", ".kif", ".kifu")  # .kifu: KIF in UTF-8
# A KIF variation starts with a line "変化：N手"; cshogi's reader would append its moves to
# the main line.
_VARIATION = re.compile(r"^[ \t\u3000]*変化[：:]", re.MULTILINE)


def record_files(paths: list[Path]) -> list[Path]:
    """The .csa, .kif and .kifu files among ``paths`` (directories searched recursively), sorted;
    ValueError naming a path that does not exist or a file of another kind."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p for p in path.rglob("*") if p.suffix.lower() in RECORD_SUFFIXES and p.is_file()
            )
        elif path.is_file():
            if path.suffix.lower() not in RECORD_SUFFIXES:
                raise ValueError(f"{path} is not a .csa, .kif or .kifu record")
            files.append(path)
        else:
            raise ValueError(f"no such record file or directory: {path}")
    return files


def _winner(board: cshogi.Board, code: int) -> int | None:
    # A final position without a legal move is a loss for its side to move, whatever the
    # file says (cshogi reads CSA's %TSUMI as no result).
    if len(board.legal_moves) == 0:
        return 1 - int(board.turn)
    return {cshogi.BLACK_WIN: cshogi.BLACK, cshogi.WHITE_WIN: cshogi.WHITE}.get(code)


def record_text(path: Path) -> str:
    """A record file's text: UTF-8 after a byte-order mark, else UTF-8, else Shift_JIS
    (cp932: what KIF files traditionally are); ValueError if it is none of them."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path} cannot be read ({exc.strerror or exc})") from None
    encodings = ("utf-8-sig",) if data.startswith(codecs.BOM_UTF8) else ("utf-8", "cp932")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.replace("\r\n", "\n").replace("\r", "\n")
    if len(encodings) == 1:
        raise ValueError(f"{path} starts with a UTF-8 byte-order mark but is not UTF-8 text")
    raise ValueError(f"{path} is neither UTF-8 nor Shift_JIS (cp932) text")


def _csa_lines(text: str) -> list[str]:
    """CSA lines, with a score comment (``'** ``) before a game's first move made a plain
    comment: cshogi's reader would store it for a move that does not exist (a crash)."""
    lines, moved = text.split("\n"), False
    for i, line in enumerate(lines):
        if line == "/":
            moved = False
        elif line[:1] in "+-" and len(line) > 1:
            moved = True
        elif line.startswith("'** ") and not moved:
            lines[i] = "' " + line[1:]
    return lines


def _shown(line: str) -> str:
    return repr(line if len(line) <= 40 else line[:40] + "...")


# cshogi's KIF reader skips a line it cannot read: a move line cut short (a truncated
# download) would read as a shorter game. Its spellings, then the special moves it skips
# on purpose (keisei writes 入玉勝ち; the closing sentence gives the result).
_KIF_SPELLINGS = (("王", "玉"), ("竜", "龍"), ("成銀", "全"), ("成桂", "圭"), ("成香", "杏"))
_KIF_SPECIAL = re.compile(r"\A *[0-9]+\s+(入玉勝ち|宣言勝ち|不戦勝|不戦敗|封じ手|不詰)")
_CSA_SPECIAL = re.compile(
    r"\A%(TORYO|CHUDAN|SENNICHITE|TIME_UP|ILLEGAL_MOVE|[+-]ILLEGAL_ACTION|JISHOGI|KACHI"
    r"|HIKIWAKE|MATTA|TSUMI|FUZUMI|ERROR)(,T[0-9]+)?\s*\Z"
)


def _kif_cut(line: str) -> bool:
    """A KIF line that starts as a move (its number) but is not a whole one: the move or
    its time in parentheses cut short."""
    if not re.match(r"\A *[0-9]", line):
        return False
    for old, new in _KIF_SPELLINGS:
        line = line.replace(old, new)
    whole = KIF.Parser.MOVE_RE.match(line) or _KIF_SPECIAL.match(line)
    return not whole or line.count("(") > line.count(")")


def _csa_cut(line: str, moved: bool) -> bool:
    """A CSA line that starts as a special move (``%``) but is none, or a lone ``+`` or
    ``-`` after a game's moves (a move cut after its sign; before them it is the side to
    move). Moves cut later are cshogi's errors (``_parse``)."""
    if line.startswith("%"):
        return not _CSA_SPECIAL.match(line)
    return moved and line.strip() in ("+", "-")


def _check_end(path: Path, lines: list[str], cut: Callable[[str], bool]) -> None:
    """ValueError if the file's last line with text is ``cut``: the record was cut there,
    and would be read as a game that ends earlier or without its result."""
    for number in range(len(lines), 0, -1):
        line = lines[number - 1]
        if line.strip():
            if cut(line):
                raise ValueError(f"{path}: line {number} is truncated: {_shown(line)}")
            return


def _parse(path: Path, lines: list[str], parse: Callable[[str], list[Any]]) -> list[Any]:
    """``parse`` of the lines, or ValueError naming the file and the first line it fails
    at (the shortest failing prefix; the parsers raise whatever their input provokes)."""
    try:
        return parse("\n".join(lines) + "\n")
    except Exception as exc:  # cshogi's C++ errors come as any type
        error = exc
    low, high = 1, len(lines)  # the prefix of `high` lines fails; find the shortest
    while low < high:
        mid = (low + high) // 2
        try:
            parse("\n".join(lines[:mid]) + "\n")
        except Exception:
            high = mid
        else:
            low = mid + 1
    line = lines[high - 1]
    shown = _shown(line)
    if isinstance(error, IndexError):  # C++ std::out_of_range: a line shorter than it must be
        raise ValueError(f"{path}: line {high} is truncated: {shown}") from None
    raise ValueError(f"{path}: line {high} cannot be read ({error}): {shown}") from None


def _note(parser: Any) -> str:
    """The comment after a game's last move: CSA's game comment, KIF's last move's (the
    game comment when it has no moves)."""
    comments = [] if isinstance(parser, CSA.Parser) else list(parser.comments or ())
    return str((comments[-1] if comments else None) or parser.comment or "")


def read_record(path: Path) -> list[RecordGame]:
    """Every game of one CSA or KIF file (UTF-8, with or without a byte-order mark, or
    Shift_JIS; of a KIF, the main line: its variations are counted, not read), its moves
    checked by replaying them; ValueError naming the file and what is wrong: the line
    that cannot be read (the last one cut short too), or the ply of the first move that
    is not legal."""
    text = record_text(path)
    variations = 0
    if path.suffix.lower() == ".csa":
        lines = _csa_lines(text)
        parsed = _parse(path, lines, lambda t: list(CSA.Parser.parse_str(t)))
        last_game = lines[max((i for i, line in enumerate(lines) if line == "/"), default=0) :]
        moved = any(line[:1] in "+-" and len(line) > 1 for line in last_game)
        _check_end(path, lines, lambda line: _csa_cut(line, moved))
    else:
        found = _VARIATION.search(text)
        if found is not None:
            variations = len(_VARIATION.findall(text))
            text = text[: found.start()]
        lines = text.split("\n")
        parsed = _parse(path, lines, lambda t: [KIF.Parser.parse_str(t)])
        _check_end(path, lines, _kif_cut)
    games = []
    for parser in parsed:
        if not parser.sfen:
            raise ValueError(f"{path} has no start position")
        board = cshogi.Board(parser.sfen)
        for ply, move in enumerate(parser.moves, start=1):
            if not is_legal_move(board, move):
                raise ValueError(f"{path}: the move at ply {ply} is not legal")
            board.push(move)
        winner = _winner(board, int(parser.win or 0))
        moves = tuple(int(m) for m in parser.moves)
        names = tuple(str(n) for n in (parser.names or ()) if n is not None)
        games.append(RecordGame(path, parser.sfen, moves, winner, variations, names, _note(parser)))
    return games
