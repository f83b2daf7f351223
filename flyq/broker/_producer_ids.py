"""Producer ids that never repeat over a data directory's life (IDEM-13).

Ids are handed out from blocks of `PRODUCER_ID_BLOCK`. The end of the current block is written
durably (the one atomic replace, `write_checkpoint`) before the block's first id is returned, so
an open after any crash continues above every id ever returned; a crash loses at most the unused
rest of a block.
"""

from __future__ import annotations

import threading

from flyq.impl.checkpoint_file import read_checkpoint, write_checkpoint
from flyq.impl.filelayer import FileLayer

__all__ = ["PRODUCER_ID_BLOCK", "ProducerIdAllocator"]

PRODUCER_ID_BLOCK = 1000


class ProducerIdAllocator:
    """Unique producer ids backed by a one-value checkpoint file: the end of the reserved block."""

    def __init__(self, layer: FileLayer, path: str) -> None:
        self._layer = layer
        self._path = path
        self._lock = threading.Lock()
        self._next: int | None = None
        self._end = 0

    def allocate(self) -> int:
        """The next unused id; reserves (durably) a new block when the current one is used up.
        A damaged block file raises `CorruptCheckpoint`: guessing could repeat an id."""
        with self._lock:
            if self._next is None:
                stored = read_checkpoint(self._layer, self._path, 1)
                self._next = self._end = stored[0] if stored else 0
            if self._next >= self._end:
                end = self._next + PRODUCER_ID_BLOCK
                write_checkpoint(self._layer, self._path, (end,))
                self._end = end
            producer_id = self._next
            self._next += 1
            return producer_id
