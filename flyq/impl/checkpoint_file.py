"""Reading and atomically replacing small checkpoint files through the file layer.

Atomic replace: write `NAME.tmp`, fsync it, rename it over `NAME`, fsync the directory. A crash
leaves either the old file or the new one, plus perhaps a stray `.tmp` that open removes.
"""

from __future__ import annotations

import os

from flyq.codec.checkpoint import decode_checkpoint, encode_checkpoint
from flyq.impl.filelayer import FileLayer

__all__ = ["TEMP_SUFFIX", "read_checkpoint", "read_whole_file", "replace_file", "write_checkpoint"]

TEMP_SUFFIX = ".tmp"


def read_whole_file(layer: FileLayer, path: str) -> bytes | None:
    """The file's bytes, or None if it does not exist."""
    if not layer.exists(path):
        return None
    handle = layer.open(path, create=False)
    try:
        return handle.pread(handle.size(), 0)
    finally:
        handle.close()


def replace_file(layer: FileLayer, path: str, data: bytes) -> None:
    """Durably replace `path` with `data` (temp file, fsync, rename, directory fsync)."""
    temp = path + TEMP_SUFFIX
    handle = layer.open(temp, create=True)
    try:
        handle.truncate(0)
        handle.pwrite(data, 0)
        handle.fsync()
    finally:
        handle.close()
    layer.rename(temp, path)
    layer.fsync_dir(os.path.dirname(path) or ".")


def read_checkpoint(layer: FileLayer, path: str, count: int) -> tuple[int, ...] | None:
    """Values of a checkpoint file, None if missing; `CorruptCheckpoint` if damaged."""
    data = read_whole_file(layer, path)
    if data is None:
        return None
    return decode_checkpoint(data, expected_count=count, source=path)


def write_checkpoint(layer: FileLayer, path: str, values: tuple[int, ...]) -> None:
    """Durably replace the checkpoint file at `path`."""
    replace_file(layer, path, encode_checkpoint(values))
