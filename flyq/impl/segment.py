"""One segment: a `.log` of record batches with its offset and time indexes (spec/format.md).

A segment knows how to append a batch, find where an offset or a timestamp starts, scan batch
headers, seal itself, rebuild its indexes from its `.log` and validate its `.log` after a crash.
Sealed segments open their files lazily, so opening a log with many segments touches few files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence

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
from flyq.errors import CorruptIndex, CorruptRecordBatch, CorruptSegment
from flyq.impl.filelayer import FileHandle, FileLayer
from flyq.impl.index import OffsetIndex, TimeIndex
from flyq.impl.index_policy import NO_TIMESTAMP, IndexPolicy
from flyq.records import StoredRecord

__all__ = ["Batch", "ScanResult", "Segment"]

# (position, header, the batch's bytes when asked for) as scans yield them.
Batch = tuple[int, BatchHeader, memoryview | None]

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
                 index_interval_bytes: int, *, create: bool = True) -> None:
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
        # A segment found on disk must keep its `.log`: a missing one is an error, never re-created
        # empty (which would make reads skip its offsets).
        self._create_log = create
        # Entries whose structure `check_indexes` passed; a lookup re-checks when this changed.
        self._checked_entries: tuple[int, int] | None = None

    # --- files ------------------------------------------------------------------------------------

    @property
    def log(self) -> FileHandle:
        """The `.log` file, opened on first use."""
        if self._log is None:
            self._log = self.layer.open(self.log_path, create=self._create_log)
            self._create_log = False
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

    def _framed(self, position: int, expected: int, end: int, *, with_bytes: bool,
                from_index: bool = False) -> Iterator[tuple[int, BatchHeader, bytes, int]]:
        """(position, header, buffer, offset in buffer) for each batch in [position, end), read in
        chunks; with `with_bytes` the buffer holds the whole batch. A batch that fails its framing
        or breaks the offset sequence (`expected` is the first base offset) raises
        `CorruptSegment` naming the file and the batch's byte position; with `from_index` (the
        start came from an index entry) a first batch that is not there raises `CorruptIndex`,
        since the entry, not the `.log`, is what is wrong."""
        handle = self.log
        first = from_index and position > 0
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
                if first:
                    raise self._bad_entry(position, expected, f"no batch there ({exc})") from exc
                raise CorruptSegment(self.log_path, position, str(exc)) from exc
            if header.base_offset != expected:
                reason = f"batch base offset {header.base_offset}, expected {expected}"
                if first:
                    raise self._bad_entry(position, expected, reason)
                raise CorruptSegment(self.log_path, position, reason)
            first = False
            if with_bytes and at + header.size > len(chunk):
                chunk = handle.pread(max(header.size, min(_CHUNK_BYTES, end - position)), position)
                chunk_start, at = position, 0
            yield position, header, chunk, at
            expected = header.next_offset
            position += header.size

    def _bad_entry(self, position: int, offset: int, reason: str) -> CorruptIndex:
        return CorruptIndex(f"the entry for offset {offset} points at byte {position}: {reason}",
                            field="offset entry", position=position, source=self.offset_index_path)

    def scan(self, start: tuple[int, int], end: int, *, with_bytes: bool = False,
             from_index: bool = False) -> Iterator[Batch]:
        """Yield (position, header, batch bytes if asked) for each batch in [position, end).

        `start` is (position, base offset of the batch there). A batch that fails its framing,
        or whose base offset breaks the sequence, raises `CorruptSegment` naming file and byte;
        with `from_index`, a first batch that is not where the index said raises `CorruptIndex`.
        """
        position, expected = start
        for at_position, header, chunk, at in self._framed(position, expected, end,
                                                           with_bytes=with_bytes,
                                                           from_index=from_index):
            data = memoryview(chunk)[at : at + header.size] if with_bytes else None
            yield at_position, header, data

    def start_position(self, offset: int, end: int) -> tuple[int, int]:
        """Where to scan from to find `offset`: (position, base offset) of the index floor entry,
        else the segment's start.

        Raises `CorruptIndex` when the floor entry cannot be right: it points at or past `end`
        (the segment's size), or its successor does not lie past it. Whether a batch starting at
        that offset is really there is checked by the scan (`from_index`).
        """
        if offset <= self.base_offset:
            return 0, self.base_offset
        index = self.offset_index
        relative = offset - self.base_offset
        count = index.count_at_most(relative)
        if count == 0:
            return 0, self.base_offset
        entry = index.entry(count - 1)
        if entry[1] >= end or entry[0] == 0 or entry[1] == 0:
            raise CorruptIndex(f"entry {count - 1} {entry} is outside the segment's "
                               f"{end} bytes of batches", field="offset entry",
                               position=(count - 1) * index.entry_size,
                               source=self.offset_index_path)
        if count < index.entries:
            after = index.entry(count)
            if after[0] <= entry[0] or after[1] <= entry[1]:
                raise CorruptIndex(f"entries {count - 1} {entry} and {count} {after} are out of "
                                   "order", field="offset entry",
                                   position=count * index.entry_size,
                                   source=self.offset_index_path)
        return self._entry_start(entry)

    def _entry_start(self, entry: tuple[int, int] | None) -> tuple[int, int]:
        if entry is None:
            return 0, self.base_offset
        return entry[1], self.base_offset + entry[0]

    def locate(self, offset: int, end: int, *, with_bytes: bool = False
               ) -> tuple[list[Batch], Iterator[Batch]]:
        """The batches from where the offset index says to look for `offset` up to the one
        holding it (or the first after it), and an iterator over the rest of the segment.

        Checks what the index led to (IDX-5): the entry lies inside the segment, a batch starting
        at its offset is there, and no index point lies between it and the batch holding
        `offset` (IDX-4's bound); else raises `CorruptIndex` before anything is returned.
        """
        start = self.start_position(offset, end)
        batches = self.scan(start, end, with_bytes=with_bytes, from_index=True)
        ahead: list[Batch] = []
        for item in batches:
            position, header, _ = item
            if header.base_offset <= offset and position - start[0] >= self.index_interval_bytes:
                raise CorruptIndex(
                    f"no entry for the batch at byte {position} (offset {header.base_offset}), "
                    f"{position - start[0]} bytes after the one used for offset {offset}",
                    field="offset entry", position=0, source=self.offset_index_path,
                )
            ahead.append(item)
            if header.next_offset > offset:
                break
        return ahead, batches

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

    def checked_max_timestamp(self, next_offset: int) -> int:
        """`max_timestamp`, after the checks that need no `.log` byte and read two entries: a
        sealed time index holds whole entries and its last entry is ordered after the one before
        it and lies inside the segment (`next_offset` is where the next segment starts).
        Raises `CorruptIndex` otherwise."""
        if self.policy is not None:
            return self.policy.max_timestamp
        time_index = self.time_index
        size = time_index.file_size()
        if size % time_index.entry_size:
            raise self._bad_time(f"size {size} is not a multiple of {time_index.entry_size}",
                                 size)
        count = time_index.entries
        if count:
            timestamp, relative = time_index.entry(count - 1)
            before = time_index.entry(count - 2) if count > 1 else (NO_TIMESTAMP, 1)
            if (timestamp <= before[0] or relative < before[1]
                    or relative > next_offset - self.base_offset):
                raise self._bad_time(f"last entry ({timestamp}, {relative}) does not follow "
                                     f"{before} inside the segment", count - 1)
        return self.max_timestamp()

    def _bad_time(self, reason: str, entry: int) -> CorruptIndex:
        return CorruptIndex(reason, field="time entry", position=entry * TimeIndex.entry_size,
                            source=self.time_index_path)

    def index_size_damage(self) -> CorruptIndex | None:
        """The damage if an index file does not hold whole entries (a stat of each), else None."""
        for index in (self.offset_index, self.time_index):
            size = index.file_size()
            if size % index.entry_size:
                return CorruptIndex(f"size {size} is not a multiple of {index.entry_size}",
                                    field="index file", position=size, source=index.path)
        return None

    def check_indexes(self, *, next_offset: int | None, end: int, sealed: bool) -> None:
        """Raise `CorruptIndex` unless the entries not checked before keep IDX-2 and IDX-3's
        structure: whole entries, offset entries strictly increasing from above 0 and inside the
        segment's `end` bytes and below `next_offset`, time entries strictly increasing in
        timestamp (from 0), at relative offset 1 or more and never back, each at an offset entry's
        relative offset or, for the last one, at the segment's end (the seal entry: `next_offset`
        when known, else past the last offset entry), and a sealed segment with batches has one.
        Reads no `.log` byte; entries already checked (an active segment's grow) are not read
        again."""
        offset_index, time_index = self.offset_index, self.time_index
        done_offsets, done_times = self._checked_entries or (0, 0)
        if done_offsets > offset_index.entries or done_times > time_index.entries:
            done_offsets = done_times = 0
        if (done_offsets, done_times) == (0, 0):
            damage = self.index_size_damage()
            if damage is not None:
                raise damage
        limit = None if next_offset is None else next_offset - self.base_offset
        previous = offset_index.entry(done_offsets - 1) if done_offsets else (0, 0)
        for i in range(done_offsets, offset_index.entries):
            relative, position = offset_index.entry(i)
            if (relative <= previous[0] or position <= previous[1] or position >= end
                    or (limit is not None and relative >= limit)):
                raise CorruptIndex(f"entry {i} ({relative}, {position}) is out of order or "
                                   "outside the segment", field="offset entry",
                                   position=i * offset_index.entry_size,
                                   source=self.offset_index_path)
            previous = (relative, position)
        last_point = offset_index.entry(offset_index.entries - 1)[0] if offset_index.entries else 0
        previous = time_index.entry(done_times - 1) if done_times else (NO_TIMESTAMP, 1)
        for i in range(done_times, time_index.entries):
            timestamp, relative = time_index.entry(i)
            at_end = (i == time_index.entries - 1
                      and (relative == limit if limit is not None else relative > last_point))
            at_point = at_end or (offset_index.floor(relative) or (0, 0))[0] == relative
            if (timestamp <= previous[0] or relative < previous[1] or not at_point
                    or (limit is not None and relative > limit)):
                raise self._bad_time(f"entry {i} ({timestamp}, {relative}) is out of order or "
                                     f"not at an entry of {self.offset_index_path}", i)
            previous = (timestamp, relative)
        if sealed and end > 0 and time_index.entries == 0:
            raise self._bad_time("a sealed segment with batches has no entry", 0)
        self._checked_entries = (offset_index.entries, time_index.entries)

    def offset_for_timestamp(self, timestamp: int, min_offset: int, end: int, *,
                             next_offset: int, sealed: bool) -> int | None:
        """First offset >= `min_offset` in this segment whose timestamp is >= `timestamp`.

        The first time entry with M >= timestamp bounds the answer from above; the offset entry
        before it starts the scan, because no time entry between them means the maximum timestamp
        did not grow past the previous entry's, which is below `timestamp` (IDX-3). So when the
        scan starts there, a record >= `timestamp` must turn up before the bound's offset.
        Raises `CorruptIndex` when the indexes fail `check_indexes`, the start entry does not
        point at its batch, or that promised record does not turn up.
        """
        self.check_indexes(next_offset=next_offset, end=end, sealed=sealed)
        bound = self.time_index.first_at_least(timestamp)
        if bound is None:
            last = self.offset_index.entries
            start_entry = self.offset_index.entry(last - 1) if last else None
        else:
            start_entry = self.offset_index.lower(bound[1])
        time_start = self._entry_start(start_entry)
        floor_start = self.start_position(min_offset, end)
        start = max(time_start, floor_start)
        # The bound promises a record >= timestamp in [time_start, bound) only if none of that
        # range lies below `min_offset`.
        promised = (None if bound is None or time_start[1] < min_offset
                    else self.base_offset + bound[1])
        for position, header, data in self.scan(start, end, with_bytes=True, from_index=True):
            if promised is not None and header.base_offset >= promised:
                break
            if header.next_offset <= min_offset or header.max_timestamp < timestamp:
                continue
            assert data is not None
            for record in self.decode(data, position):
                if record.offset >= min_offset and record.timestamp >= timestamp:
                    return record.offset
        if promised is not None:
            raise self._bad_time(f"entry {bound} promises a timestamp >= {timestamp} before "
                                 f"offset {promised}, the records there have none",
                                 self.time_index.count_below(timestamp))
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
        self._checked_entries = None
        max_bytes = None if sealed else index_max_bytes
        self.offset_index.rewrite(_split(offset_bytes, OffsetIndex.entry_size), max_bytes=max_bytes)
        self.time_index.rewrite(_split(time_bytes, TimeIndex.entry_size), max_bytes=max_bytes)
        return policy

    def validate_log(self, check_batch: Callable[[bytes, int, BatchHeader, str], None]
                     ) -> ScanResult:
        """Check every batch's framing, offsets and `check_batch` (which raises
        `CorruptRecordBatch`); say where the valid prefix ends."""
        valid, expected = 0, self.base_offset
        batches = self._framed(0, self.base_offset, self.log.size(), with_bytes=True)
        try:
            for position, header, chunk, at in batches:
                try:
                    check_batch(chunk, at, header, self.log_path)
                except CorruptRecordBatch as exc:
                    return ScanResult(valid, expected, f"byte {position}: {exc}")
                valid, expected = position + header.size, header.next_offset
        except CorruptSegment as exc:
            return ScanResult(valid, expected, f"byte {exc.position}: {exc.reason}")
        return ScanResult(valid, expected, None)

    def contiguity_problem(self, next_base: int) -> str | None:
        """None if the `.log`'s first batch starts at the segment's base offset and its last batch
        ends at `next_base`; else what differs. Reads the first header, then the headers from the
        last offset entry to the end (at most one index interval of them), so the offset index
        must have passed `index_problem` or been rebuilt."""
        size = self.log.size()
        next_offset = self.base_offset
        try:
            start = (0, self.base_offset)
            if self.offset_index.entries:
                first = decode_batch_header(self.log.pread(BATCH_HEADER_SIZE, 0), 0,
                                            source=self.log_path, limit=size)
                if first.base_offset != self.base_offset:
                    return (f"{self.log_path} starts at offset {first.base_offset}, not at its "
                            f"base offset {self.base_offset}")
                start = self._entry_start(self.offset_index.entry(self.offset_index.entries - 1))
            for _, header, _ in self.scan(start, size):
                next_offset = header.next_offset
        except (CorruptSegment, CorruptRecordBatch) as exc:
            return f"{self.log_path}: {exc}"
        if next_offset != next_base:
            return (f"{self.log_path} ends at offset {next_offset} but the next segment starts "
                    f"at {next_base}")
        return None

    def index_problem(self, *, sealed: bool) -> str | None:
        """Cheap checks of a trusted segment's indexes, or None if fine: `check_indexes` over
        every entry, then one header read: the last offset entry must point at the batch it
        names (spec/recovery.md section 3.4)."""
        log_size = self.log.size()
        self._checked_entries = None
        try:
            self.check_indexes(next_offset=None, end=log_size, sealed=sealed)
        except CorruptIndex as exc:
            return str(exc)
        offset_index = self.offset_index
        if offset_index.entries:
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
