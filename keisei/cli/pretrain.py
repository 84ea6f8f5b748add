"""``keisei pretrain``: a network trained on game records, to start PPO from (``--init``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from keisei.config import ConfigError, load_config
from keisei.errors import UsageError
from keisei.files import check_new_file
from keisei.game.records import RecordGame, read_record, record_files
from keisei.training.checkpoint import Diverged, write_checkpoint
from keisei.training.pretrain import positions, pretrain, pretrained_payload, split, unique


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "pretrain",
        help="train a network on CSA/KIF game records (a warm start for train --init)",
        description="Train the config's network on every position of CSA/KIF records (the "
        "move played, the game's result) and write it as a checkpoint: a player, and the "
        "start of `keisei train --init FILE`. Records are UTF-8 (with or without a "
        "byte-order mark) or Shift_JIS; of a KIF, the main line is read (its variations are "
        "counted and skipped). A record that cannot be read is reported (file and reason), "
        "skipped and counted, unless --strict. Training stops at the first batch whose loss "
        "or weights are not finite (NaN, infinity), writing nothing. Exit codes: 0 done, "
        "1 diverged, 2 bad input.",
    )
    p.add_argument("records", nargs="+", type=Path, help="record files or directories")
    p.add_argument("--out", type=Path, required=True, help="the checkpoint to write (new file)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--config", type=Path, help="YAML config file (over the default preset)")
    source.add_argument("--preset", help="embedded preset: default, tiny or gpu")
    p.add_argument("--epochs", type=int, default=2, help="passes over the records (default 2)")
    p.add_argument(
        "--batch-size", type=int, default=256, help="positions per minibatch (default 256)"
    )
    p.add_argument(
        "--validation-fraction",
        type=float,
        default=0.1,
        help="share of the games (the last ones) held out and measured (default 0.1)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first record that cannot be read (exit 2); by default such a "
        "file is reported, skipped and counted",
    )
    p.add_argument("--set", dest="overrides", nargs="*", default=[], metavar="key.sub=value",
                   help="config overrides, as for train (e.g. model.channels=64)")  # fmt: skip
    p.set_defaults(func=run)


def read_records(files: list[Path], strict: bool) -> tuple[list[RecordGame], int]:
    """The games of ``files`` and how many files could not be read: each such file is
    reported on stderr (file and reason) and skipped, or, ``strict``, refused (exit 2)."""
    games: list[RecordGame] = []
    bad = 0
    for path in files:
        try:
            games += read_record(path)
        except ValueError as exc:
            if strict:
                raise UsageError(str(exc)) from None
            bad += 1
            print(f"keisei pretrain: warning: skipped {exc}", file=sys.stderr)
    return games, bad


def run(args: argparse.Namespace) -> int:
    if args.epochs < 1:
        raise UsageError(f"--epochs must be >= 1, got {args.epochs}")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {args.batch_size}")
    if not 0.0 <= args.validation_fraction < 1.0:
        raise UsageError(f"--validation-fraction must be in [0, 1), got {args.validation_fraction}")
    dest: Path = args.out
    check_new_file(dest, "--out")
    try:
        config = load_config(args.preset, args.config, args.overrides)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    try:
        files = record_files(list(args.records))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    read, bad = read_records(files, args.strict)
    games = unique(read)
    if not any(game.moves for game in games):
        skipped = f", {bad} skipped as unreadable" if bad else ""
        raise UsageError(
            f"no moves in the records given ({len(files)} .csa/.kif/.kifu files{skipped}, "
            f"{len(games)} games)"
        )
    train_games, held_games = split(games, args.validation_fraction)
    train, held = positions(train_games), positions(held_games)
    if len(train) == 0:
        raise UsageError("the training games have no moves (all moves are in the held-out games)")
    repeats = len(read) - len(games)
    variations = sum(game.variations for game in read)
    notes = [
        f"{n} {what} skipped" for n, what in ((repeats, "repeats"), (variations, "variations")) if n
    ]
    print(
        f"{len(files)} files"
        + (f" ({bad} unreadable, skipped)" if bad else "")
        + f", {len(games)} games"
        + (f" ({', '.join(notes)})" if notes else "")
        + f": {len(train)} positions to train on, {len(held)} held out",
        file=sys.stderr,
    )

    def progress(row: dict[str, float]) -> None:
        held_part = (
            f", held out: policy {row['validation_policy_loss']:.4f} value "
            f"{row['validation_value_loss']:.4f} accuracy {row['validation_accuracy']:.3f}"
            if "validation_accuracy" in row
            else ""
        )
        print(
            f"epoch {int(row['epoch'])}: loss {row['loss']:.4f} policy {row['policy_loss']:.4f} "
            f"value {row['value_loss']:.4f} accuracy {row['accuracy']:.3f}{held_part}",
            file=sys.stderr,
        )

    try:
        model, history = pretrain(
            config, train, held, args.epochs, args.batch_size, args.seed, progress
        )
    except Diverged as exc:
        print(f"keisei pretrain: error: {exc}; {dest} is not written", file=sys.stderr)
        return 1
    source = {
        "files": len(files),
        "games": len(games),
        "positions": len(train),
        "held_out_positions": len(held),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "history": history,
    }
    write_checkpoint(dest, pretrained_payload(config, model, source))
    print(f"wrote {dest}")
    return 0
