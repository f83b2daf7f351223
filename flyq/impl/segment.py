"""One segment: a `.log` of record batches with its offset and time indexes (spec/format.md).

A segment knows how to append a batch, find where an offset or a timestamp starts, scan batch
headers, seal itself, rebuild its indexes from its `.log` and validate its `.log` after a crash.
Sealed segments open their files lazily, so opening a log with many segments touches few files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import attrs

from flyq.codec.index_entry import encode_offset_entry, encode_time_entry
from flyq.codec.record_batch import (
    BATCH_HEADER_SIZE,
    BatchHeader,
    decode_batch,
    decode_batch_header,
)
from flyq.codec.segment_name import (
    LOG_SUFFIX,
    OFFSET_INDEX_SUFFIX,
    TIME_INDEX_SUFFIX,
    segment_name,
)
from flyq.errors import CorruptRecordBatch, CorruptSegment
from flyq.impl.filelayer import FileHandle, FileLayer
from flyq.impl.index import OffsetIndex, TimeIndex
from flyq.impl.index_policy import NO_TIMESTAMP, IndexPolicy
from flyq.impl.recovery_policy import RecoveryPolicy
from flyq.records import StoredRecord

__all__ = ["ScanResult", "Segment"]

# Batches are read in chunks this large when reading records; header-only scans read less, since
# they mostly cover one index interval of headers.
_CHUNK_BYTES = 256 * 1024
_HEADER_CHUNK_BYTES = 8 * 1024


@attrs.frozen
class ScanResult:
    """Outcome of validating a segment's `.log`: how far it is valid and why it stops there."""

    valid_bytes: int
    next_offset: int
    problem: str | None


class Segment:
    """Files and in-memory state of one segment."""

    def __init__(self, layer: FileLayer, directory: str, base_offset: int,
                 index_interval_bytes: int) -> None:
        self.layer = layer
        self.base_offset = base_offset
        self.log_path = os.path.join(directory, segment_name(base_offset, LOG_SUFFIX))
        self.offset_index_path = os.path.join(
            directory, segment_name(base_offset, OFFSET_INDEX_SUFFIX)
        )
        self.time_index_path = os.path.join(directory, segment_name(base_offset, TIME_INDEX_SUFFIX))
        self.index_interval_bytes = index_interval_bytes
        self._log: FileHandle | None = None
        self._offset_index: OffsetIndex | None = None
        self._time_index: TimeIndex | None = None
        # Set while this segment is the active one: the index rule's running state.
        self.policy: IndexPolicy | None = None
        self.created_ms = 0

    # --- files ------------------------------------------------------------------------------------

    @property
    def log(self) -> FileHandle:
        """The `.log` file, opened on first use."""
        if self._log is None:
            self._log = self.layer.open(self.log_path, create=True)
        return self._log

    @property
    def offset_index(self) -> OffsetIndex:
        """The offset index, opened on first use."""
        if self._offset_index is None:
            self._offset_index = OffsetIndex(self.layer, self.offset_index_path)
        return self._offset_index

    @property
    def time_index(self) -> TimeIndex:
        """The time index, opened on first use."""
        if self._time_index is None:
            self._time_index = TimeIndex(self.layer, self.time_index_path)
        return self._time_index

    @property
    def size(self) -> int:
        """Bytes of batches in the `.log`."""
        return self.policy.size if self.policy is not None else self.log.size()

    def close(self) -> None:
        """Close every open file of the segment."""
        for index in (self._offset_index, self._time_index):
            if index is not None:
                index.close()
        if self._log is not None:
            self._log.close()
        self._log = self._offset_index = self._time_index = None

    def remove_files(self) -> None:
        """Close and delete the segment's files (durable once the directory is fsynced)."""
        self.close()
        for path in (self.log_path, self.offset_index_path, self.time_index_path):
            if self.layer.exists(path):
                self.layer.remove(path)

    # --- appending --------------------------------------------------------------------------------

    def activate(self, policy: IndexPolicy, index_max_bytes: int, now_ms: int) -> None:
        """Make this the active segment with `policy` as its index state."""
        self.policy = policy
        self.created_ms = now_ms
        self.offset_index.preallocate(index_max_bytes)
        self.time_index.preallocate(index_max_bytes)

    def append(self, parts: Sequence[bytes | bytearray | memoryview], header: BatchHeader) -> None:
        """Write a batch (given in parts) at the end and the index entries the index rule asks
        for."""
        policy = self._active_policy()
        position = policy.size
        point = policy.on_batch(header.base_offset, header.next_offset, header.max_timestamp,
                                header.size)
        self.log.pwritev(parts, position)
        if point is not None:
            self.offset_index.append(point.relative_offset, point.position)
            if point.time_entry is not None:
                self.time_index.append(*point.time_entry)

    def index_full(self) -> bool:
        """Whether a further index entry might not fit (one time slot is kept for sealing)."""
        return (self.offset_index.entries >= self.offset_index.capacity
                or self.time_index.entries >= self.time_index.capacity - 1)

    def seal(self) -> None:
        """Write the closing time entry, trim the indexes and fsync everything."""
        policy = self._active_policy()
        entry = policy.seal_entry()
        if entry is not None:
            self.time_index.append(*entry)
        self.log.fsync()
        self.offset_index.trim()
        self.time_index.trim()
        self.policy = None

    def trim_indexes(self) -> None:
        """Trim the indexes to their entries and make them durable (clean close)."""
        self.offset_index.trim()
        self.time_index.trim()

    def _active_policy(self) -> IndexPolicy:
        if self.policy is None:
            raise AssertionError(f"{self.log_path} is sealed")
        return self.policy

    # --- reading ----------------------------------------------------------------------------------

    def _framed(self, position: int, expected: int, end: int, *, with_bytes: bool
                ) -> Iterator[tuple[int, BatchHeader, bytes, int]]:
        """(position, header, buffer, offset in buffer) for each batch in [position, end), read in
        chunks; with `with_bytes` the buffer holds the whole batch. A batch that fails its framing
        or breaks the offset sequence (`expected` is the first base offset) raises
        `CorruptSegment` naming the file and the batch's byte position."""
        handle = self.log
        chunk = b""
        chunk_start = position
        chunk_size = _CHUNK_BYTES if with_bytes else _HEADER_CHUNK_BYTES
        while position < end:
            at = position - chunk_start
            if len(chunk) - at < BATCH_HEADER_SIZE:
                chunk = handle.pread(min(chunk_size, end - position), position)
                chunk_start, at = position, 0
            try:
                header = decode_batch_header(chunk, at, source=self.log_path,
                                             limit=end - chunk_start)
            except CorruptRecordBatch as exc:
                raise CorruptSegment(self.log_path, position, str(exc)) from exc
            if header.base_offset != expected:
                raise CorruptSegment(self.log_path, position,
                                     f"batch base offset {header.base_offset}, expected {expected}")
            if with_bytes and at + header.size > len(chunk):
                chunk = handle.pread(max(header.size, min(_CHUNK_BYTES, end - position)), position)
                chunk_start, at = position, 0
            yield position, header, chunk, at
            expected = header.next_offset
            position += header.size

    def scan(self, start: tuple[int, int], end: int, *, with_bytes: bool = False
             ) -> Iterator[tuple[int, BatchHeader, memoryview | None]]:
        """Yield (position, header, batch bytes if asked) for each batch in [position, end).

        `start` is (position, base offset of the batch there). A batch that fails its framing,
        or whose base offset breaks the sequence, raises `CorruptSegment` naming file and byte.
        """
        position, expected = start
        for at_position, header, chunk, at in self._framed(position, expected, end,
                                                           with_bytes=with_bytes):
            data = memoryview(chunk)[at : at + header.size] if with_bytes else None
            yield at_position, header, data

    def start_position(self, offset: int) -> tuple[int, int]:
        """Where to scan from to find `offset`: (position, base offset) of the index floor entry,
        else the segment's start."""
        entry = self.offset_index.floor(offset - self.base_offset) if offset > self.base_offset \
            else None
        return self._entry_start(entry)

    def _entry_start(self, entry: tuple[int, int] | None) -> tuple[int, int]:
        if entry is None:
            return 0, self.base_offset
        return entry[1], self.base_offset + entry[0]

    def batches_from(self, offset: int, end: int) -> Iterator[tuple[int, BatchHeader]]:
        """Headers of the batch holding `offset` (or the first after it) and all later ones."""
        for position, header, _ in self.scan(self.start_position(offset), end):
            if header.next_offset > offset:
                yield position, header

    def decode(self, data: memoryview, position: int) -> tuple[StoredRecord, ...]:
        """Records of the batch `data` read at `position`, its CRC checked."""
        try:
            return decode_batch(data, verify_crc=True, source=self.log_path).records
        except CorruptRecordBatch as exc:
            raise CorruptSegment(self.log_path, position + exc.position, str(exc)) from exc

    def read_batch(self, position: int, header: BatchHeader) -> tuple[StoredRecord, ...]:
        """Records of the batch at `position`."""
        return self.decode(memoryview(self.log.pread(header.size, position)), position)

    def max_timestamp(self) -> int:
        """Largest record timestamp (NO_TIMESTAMP if empty); a sealed segment's is in its index."""
        if self.policy is not None:
            return self.policy.max_timestamp
        last = self.time_index.last_timestamp()
        return NO_TIMESTAMP if last is None else last

    def offset_for_timestamp(self, timestamp: int, min_offset: int, end: int) -> int | None:
        """First offset >= `min_offset` in this segment whose timestamp is >= `timestamp`.

        The first time entry with M >= timestamp bounds the answer from above; the offset entry
        before it starts the scan, because no time entry between them means the maximum timestamp
        did not grow past the previous entry's, which is below `timestamp` (IDX-3).
        """
        bound = self.time_index.first_at_least(timestamp)
        if bound is None:
            last = self.offset_index.entries
            start_entry = self.offset_index.entry(last - 1) if last else None
        else:
            start_entry = self.offset_index.lower(bound[1])
        start = max(self._entry_start(start_entry), self.start_position(min_offset))
        for position, header, data in self.scan(start, end, with_bytes=True):
            if header.next_offset <= min_offset or header.max_timestamp < timestamp:
                continue
            assert data is not None
            for record in self.decode(data, position):
                if record.offset >= min_offset and record.timestamp >= timestamp:
                    return record.offset
        return None

    # --- rebuilding and recovery ------------------------------------------------------------------

    def expected_indexes(self, *, sealed: bool, valid_bytes: int | None = None
                         ) -> tuple[bytes, bytes, IndexPolicy]:
        """Offset- and time-index bytes a fresh rebuild from the `.log` produces (IDX-1)."""
        end = self.log.size() if valid_bytes is None else valid_bytes
        policy = IndexPolicy(self.base_offset, self.index_interval_bytes)
        offset_entries: list[bytes] = []
        time_entries: list[bytes] = []
        for _, header, _ in self.scan((0, self.base_offset), end):
            point = policy.on_batch(header.base_offset, header.next_offset,
                                    header.max_timestamp, header.size)
            if point is not None:
                offset_entries.append(encode_offset_entry(point.relative_offset, point.position))
                if point.time_entry is not None:
                    time_entries.append(encode_time_entry(*point.time_entry))
        if sealed:
            seal = policy.seal_entry()
            if seal is not None:
                time_entries.append(encode_time_entry(*seal))
        return b"".join(offset_entries), b"".join(time_entries), policy

    def rebuild_indexes(self, *, sealed: bool, index_max_bytes: int) -> IndexPolicy:
        """Rewrite both indexes from the `.log`; returns the index state after the last batch."""
        offset_bytes, time_bytes, policy = self.expected_indexes(sealed=sealed)
        max_bytes = None if sealed else index_max_bytes
        self.offset_index.rewrite(_split(offset_bytes, OffsetIndex.entry_size), max_bytes=max_bytes)
        self.time_index.rewrite(_split(time_bytes, TimeIndex.entry_size), max_bytes=max_bytes)
        return policy

    def validate_log(self, policy: RecoveryPolicy) -> ScanResult:
        """Check every batch's framing, CRC and offsets; say where the valid prefix ends."""
        valid, expected = 0, self.base_offset
        batches = self._framed(0, self.base_offset, self.log.size(), with_bytes=True)
        try:
            for position, header, chunk, at in batches:
                try:
                    policy.check_batch(chunk, at, header, self.log_path)
                except CorruptRecordBatch as exc:
                    return ScanResult(valid, expected, f"byte {position}: {exc}")
                valid, expected = position + header.size, header.next_offset
        except CorruptSegment as exc:
            return ScanResult(valid, expected, f"byte {exc.position}: {exc.reason}")
        return ScanResult(valid, expected, None)

    def index_problem(self, *, sealed: bool) -> str | None:
        """Cheap checks of a trusted segment's indexes that read no `.log` bytes, or None if fine.

        Sizes are whole entries, offset entries strictly increase in both fields from above 0
        (no index point is at a segment's first batch) and point inside the `.log`, time entries
        strictly increase in timestamp and never go back in offset from 1 on, and a sealed segment
        with batches has a time entry.
        """
        log_size = self.log.size()
        offset_index, time_index = self.offset_index, self.time_index
        if offset_index.file_size() % offset_index.entry_size:
            return f"{self.offset_index_path} size is not a multiple of {offset_index.entry_size}"
        if time_index.file_size() % time_index.entry_size:
            return f"{self.time_index_path} size is not a multiple of {time_index.entry_size}"
        previous = (0, 0)
        for i in range(offset_index.entries):
            relative, position = offset_index.entry(i)
            if relative <= previous[0] or position <= previous[1] or position >= log_size:
                return f"{self.offset_index_path} entry {i} ({relative}, {position}) is out of order"
            previous = (relative, position)
        previous = (NO_TIMESTAMP, 1)
        for i in range(time_index.entries):
            timestamp, relative = time_index.entry(i)
            if timestamp <= previous[0] or relative < previous[1]:
                return f"{self.time_index_path} entry {i} ({timestamp}, {relative}) is out of order"
            previous = (timestamp, relative)
        if sealed and log_size > 0 and time_index.entries == 0:
            return f"{self.time_index_path} has no entry for a sealed segment"
        if offset_index.entries:
            # One header read: the last entry must point at the batch it names.
            relative, position = offset_index.entry(offset_index.entries - 1)
            try:
                header = decode_batch_header(self.log.pread(BATCH_HEADER_SIZE, position), 0,
                                             source=self.log_path, limit=log_size - position)
            except CorruptRecordBatch as exc:
                return f"{self.offset_index_path} last entry points at a bad batch: {exc}"
            if header.base_offset != self.base_offset + relative:
                return (f"{self.offset_index_path} last entry names offset "
                        f"{self.base_offset + relative}, the batch there starts at "
                        f"{header.base_offset}")
        return None


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]
