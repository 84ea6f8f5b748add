"""Reads the records of a W&B offline run file (``run-*.wandb``) for the tests.

The file is a 7-byte header (``:W&B``, magic, version) followed by a LevelDB-style log:
32 KiB blocks of chunks, each with a 7-byte header (crc32c, little-endian length, type
FULL=1/FIRST=2/MIDDLE=3/LAST=4). Each reassembled record is a ``wandb_internal_pb2.Record``.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError
from wandb.proto import wandb_internal_pb2

BLOCK = 32768
HEADER = 7


def records(path: Path) -> list[Any]:
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    out = []
    pos = HEADER
    pending = b""
    while pos + HEADER <= len(data):
        left_in_block = BLOCK - pos % BLOCK
        if left_in_block < HEADER:
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if pos + HEADER + length > len(data):
            break  # wandb-core is still writing this chunk
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind == 0 and length == 0:
            continue
        pending += chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            try:
                record.ParseFromString(pending)
            except DecodeError:
                if pos + HEADER <= len(data):
                    raise
                break  # the file's last record, read while wandb-core writes it
            out.append(record)
            pending = b""
    return out


def record_types(path: Path) -> list[str]:
    return [str(r.WhichOneof("record_type")) for r in records(path)]


def history(path: Path) -> list[dict[str, Any]]:
    """The rows logged with ``run.log``, with ``_step`` and the logged keys."""
    rows = []
    for record in records(path):
        if record.WhichOneof("record_type") == "history":
            rows.append(
                {
                    item.key or "/".join(item.nested_key): json.loads(item.value_json)
                    for item in record.history.item
                }
            )
    return rows
