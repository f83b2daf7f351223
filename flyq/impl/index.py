"""Memory-mapped, preallocated index files (spec/format.md sections 2 and 3).

An active segment's index files are preallocated to `index_max_bytes` (rounded down to whole
entries) and mapped; entries are written into the map. When the segment is sealed, or the log is
closed cleanly, the file is trimmed to its entries, so a trimmed file's size says how many entries
it has. Sealed indexes are read through the same map.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flyq.codec.index_entry import (
    OFFSET_ENTRY_SIZE,
    TIME_ENTRY_SIZE,
    decode_offset_entry,
    decode_time_entry,
    encode_offset_entry,
    encode_time_entry,
)
from flyq.impl.checkpoint_file import replace_file
from flyq.impl.filelayer import FileHandle, FileLayer, MappedFile

__all__ = ["OffsetIndex", "TimeIndex"]


class _IndexFile:
    """Fixed-size entries in a file, written through a shared memory map."""

    entry_size: int

    def __init__(self, layer: FileLayer, path: str, *, entries: int | None = None) -> None:
        self.path = path
        self._layer = layer
        self._handle: FileHandle = layer.open(path, create=True)
        size = self._handle.size()
        # A trimmed file holds exactly its entries; a caller that knows better (rebuild) says so.
        self.entries = size // self.entry_size if entries is None else entries
        self._capacity = size // self.entry_size
        self._map: MappedFile | None = None
        self._remap()

    @property
    def capacity(self) -> int:
        """Entries the file has room for without growing."""
        return self._capacity

    @property
    def is_full(self) -> bool:
        """Whether no further entry fits."""
        return self.entries >= self._capacity

    def _remap(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._capacity > 0:
            self._map = self._handle.map()

    def _live_map(self) -> MappedFile:
        if self._map is None:
            raise AssertionError(f"{self.path} has no mapped entries")
        return self._map

    def file_size(self) -> int:
        """Bytes the file occupies now (preallocated or trimmed)."""
        return self._handle.size()

    def preallocate(self, max_bytes: int) -> None:
        """Grow the file to `max_bytes` (whole entries, never below the entries held) and map it."""
        capacity = max(max_bytes // self.entry_size, self.entries)
        if capacity != self._capacity:
            if self._map is not None:
                self._map.close()
                self._map = None
            self._handle.truncate(capacity * self.entry_size)
            self._capacity = capacity
        self._remap()

    def trim(self) -> None:
        """Cut the file to its entries and make it durable: done on seal and on clean close."""
        if self._map is not None:
            self._map.flush()
            self._map.close()
            self._map = None
        self._handle.truncate(self.entries * self.entry_size)
        self._handle.fsync()
        self._capacity = self.entries
        self._remap()

    def flush(self) -> None:
        """msync the mapped entries."""
        if self._map is not None:
            self._map.flush()

    def _append(self, data: bytes) -> None:
        if self.entries >= self._capacity:
            # Only a rebuild with a smaller configured size gets here; grow rather than fail.
            self.preallocate((self._capacity * 2 + 1) * self.entry_size)
        self._live_map().write(self.entries * self.entry_size, data)
        self.entries += 1

    def _entry_bytes(self, index: int) -> bytes:
        return self._live_map().read(index * self.entry_size, self.entry_size)

    def raw(self) -> bytes:
        """The bytes of the entries held (not the preallocated tail)."""
        if self.entries == 0:
            return b""
        return self._live_map().read(0, self.entries * self.entry_size)

    def rewrite(self, entries: Iterable[bytes], *, max_bytes: int | None) -> None:
        """Replace every entry (a rebuild) atomically; preallocate for appends when `max_bytes`.

        The new entries go to a temporary file renamed over the old one, so a crash mid-rebuild
        leaves the old index or the new one, never a prefix that would pass as complete.
        """
        if self._map is not None:
            self._map.close()
            self._map = None
        self._handle.close()
        data = b"".join(entries)
        replace_file(self._layer, self.path, data)
        self._handle = self._layer.open(self.path, create=False)
        self.entries = len(data) // self.entry_size
        self._capacity = self.entries
        if max_bytes is None:
            self._remap()
        else:
            self.preallocate(max_bytes)

    def close(self) -> None:
        """Unmap and close the file."""
        if self._map is not None:
            self._map.close()
            self._map = None
        self._handle.close()

    def _bisect(self, before: Callable[[int], bool]) -> int:
        """Number of leading entries for which `before(i)` holds (entries are sorted)."""
        low, high = 0, self.entries
        while low < high:
            middle = (low + high) // 2
            if before(middle):
                low = middle + 1
            else:
                high = middle
        return low


class OffsetIndex(_IndexFile):
    """relative offset -> byte position of the batch starting at that offset."""

    entry_size = OFFSET_ENTRY_SIZE

    def append(self, relative_offset: int, position: int) -> None:
        """Add an entry after the last one."""
        self._append(encode_offset_entry(relative_offset, position))

    def entry(self, index: int) -> tuple[int, int]:
        """(relative_offset, position) of entry `index`."""
        return decode_offset_entry(self._entry_bytes(index))

    def floor(self, relative_offset: int) -> tuple[int, int] | None:
        """The last entry whose relative offset is <= `relative_offset`, if any."""
        count = self.count_at_most(relative_offset)
        return self.entry(count - 1) if count else None

    def count_at_most(self, relative_offset: int) -> int:
        """How many leading entries have a relative offset <= `relative_offset` (a bisection:
        meaningful only while the entries are sorted, which callers check locally)."""
        return self._bisect(lambda i: self.entry(i)[0] <= relative_offset)

    def lower(self, relative_offset: int) -> tuple[int, int] | None:
        """The last entry whose relative offset is < `relative_offset`, if any."""
        count = self._bisect(lambda i: self.entry(i)[0] < relative_offset)
        return self.entry(count - 1) if count else None


class TimeIndex(_IndexFile):
    """Max timestamp of the records before a point -> relative offset of that point."""

    entry_size = TIME_ENTRY_SIZE

    def append(self, timestamp: int, relative_offset: int) -> None:
        """Add an entry after the last one."""
        self._append(encode_time_entry(timestamp, relative_offset))

    def entry(self, index: int) -> tuple[int, int]:
        """(timestamp, relative_offset) of entry `index`."""
        return decode_time_entry(self._entry_bytes(index))

    def first_at_least(self, timestamp: int) -> tuple[int, int] | None:
        """The first entry whose timestamp is >= `timestamp`, if any."""
        count = self.count_below(timestamp)
        return self.entry(count) if count < self.entries else None

    def count_below(self, timestamp: int) -> int:
        """How many leading entries have a timestamp < `timestamp` (a bisection over sorted
        entries)."""
        return self._bisect(lambda i: self.entry(i)[0] < timestamp)

    def last_timestamp(self) -> int | None:
        """Timestamp of the last entry, if any."""
        return self.entry(self.entries - 1)[0] if self.entries else None
