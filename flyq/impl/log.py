"""The disk partition log: segments, flush policy, reads, truncation, prefix deletion, retention.

Semantics are spec/log.md's, checked against `flyq.model` by tests/property; what open trusts and
rebuilds is spec/recovery.md's. All file access goes through the injected `FileLayer`; time comes
from the injected clock.
"""

from __future__ import annotations

import bisect
import contextlib
import enum
import itertools
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType

import attrs

from flyq.api import AppendResult, ProducerEntries
from flyq.clock import wall_clock_ms
from flyq.codec.producer_snapshot import parse_snapshot_name, snapshot_name
from flyq.codec.record_batch import (
    BATCH_HEADER_SIZE,
    LOG_APPEND_TIME,
    BatchHeader,
    decode_batch,
    decode_batch_header,
    encode_base_offset,
    encode_batch,
    encode_batch_start,
    log_append_time_header,
    validate_batch,
    whole_batches_length,
)
from flyq.errors import (
    CorruptCheckpoint,
    CorruptIndex,
    EmptyBatch,
    FlyQError,
    InvalidArgument,
    InvalidOffset,
    InvalidRecord,
    LogClosed,
    LogFailed,
    OffsetOutOfRange,
    RecordTooLarge,
    StorageError,
    UnexpectedAppendOffset,
)
from flyq.impl.checkpoint_file import (
    read_checkpoint,
    read_whole_file,
    replace_file,
    write_checkpoint,
)
from flyq.impl.config import LogConfig
from flyq.impl.filelayer import FileLayer, FileLock, OsFileLayer, make_dirs_durably
from flyq.impl.index_policy import NO_TIMESTAMP, IndexPolicy
from flyq.impl.leader_epochs import ReplicaState, whole_batches_below
from flyq.impl.producer_state import APPEND, Duplicate, ProducerStateTable
from flyq.impl.recovery import (
    RecoveryPolicy,
    RecoveryReport,
    classify_directory,
    clean_open_policy,
    decode_index_repairs,
    encode_index_repairs,
    marker_matches,
    recover_segments,
)
from flyq.impl.segment import Segment
from flyq.records import Record, StoredRecord, payload_size, validate_record
from flyq.values import is_int

__all__ = [
    "IndexCheck",
    "IndexRepair",
    "LogState",
    "PartitionHealth",
    "PartitionLog",
    "RecoveryReport",
    "RetentionResult",
    "SegmentInfo",
]

logger = logging.getLogger("flyq.recovery")
index_logger = logging.getLogger("flyq.index")

CLEAN_SHUTDOWN_FILE = "clean-shutdown"
RECOVERY_POINT_FILE = "recovery-point"
LOG_START_OFFSET_FILE = "log-start-offset"
LOCK_FILE = ".lock"
INDEX_REPAIRS_FILE = "index-repairs"
INDEX_INTERVAL_FILE = "index-interval-bytes"
SEGMENT_CREATED_FILE = "active-segment-created"
# How many index repairs the partition directory remembers (format.md section 5.5).
INDEX_REPAIRS_KEPT = 16
# log_end_offset, active base offset, active .log size, active max timestamp
_CLEAN_SHUTDOWN_VALUES = 4
_U32_MAX = (1 << 32) - 1
_OFFSET_MAX = (1 << 63) - 1
_MIB = 1 << 20
# How many producer-state snapshots a partition directory keeps (IDEM-10).
PRODUCER_SNAPSHOTS_KEPT = 2


@attrs.frozen
class SegmentInfo:
    """A segment as `PartitionLog.segments` describes it."""

    base_offset: int
    size: int
    sealed: bool


@attrs.frozen
class RetentionResult:
    """What one `PartitionLog.apply_retention` run did (RET-1..RET-4)."""

    segments_deleted: int
    log_start_offset: int
    bytes_freed: int


@attrs.frozen
class IndexCheck:
    """The result of one index verification (IDX-1): when it ran and what differed."""

    checked_ms: int
    mismatches: tuple[str, ...]


@attrs.frozen
class IndexRepair:
    """An index a read found damaged and rebuilt (IDX-5): when, which segment and file, and why."""

    at_ms: int
    base_offset: int
    path: str
    reason: str


class LogState(enum.Enum):
    """Where a log is in its lifecycle (spec/recovery.md section 1.3); the value is what health
    reports."""

    OPEN = "online"
    FAILED = "failed"
    CLOSED = "closed"


class _Event(enum.Enum):
    FAIL = "a storage error"
    CLOSE = "close"


# The lifecycle as data: (state, event) -> next state. Work runs only in OPEN; `health` also in
# FAILED; nothing leaves CLOSED. A pair missing here is a bug in the log, not a user error.
_LIFECYCLE: dict[tuple[LogState, _Event], LogState] = {
    (LogState.OPEN, _Event.FAIL): LogState.FAILED,
    (LogState.FAILED, _Event.FAIL): LogState.FAILED,
    (LogState.OPEN, _Event.CLOSE): LogState.CLOSED,
    (LogState.FAILED, _Event.CLOSE): LogState.CLOSED,
}


@attrs.frozen
class PartitionHealth:
    """A snapshot of one partition log, as `PartitionLog.health` reports it (HLT-1..3).

    `state` is "online", or "failed" (with `failure` saying why) once a storage error has put the
    log in the failed state (spec/recovery.md section 1.3). Recovery happens inside `open`, so a
    log that can be asked is never "recovering"; `recovery_report` says what the last open did.
    Times are milliseconds by the log's injected clock.
    """

    state: str
    failure: str | None
    segment_count: int
    total_bytes: int
    log_start_offset: int
    high_watermark: int
    log_end_offset: int
    durable_offset: int
    # The last flush, roll or open: the last time everything appended had been made durable.
    last_flush_ms: int
    last_retention_ms: int | None
    recovery_report: RecoveryReport
    offset_index_entries: int
    time_index_entries: int
    # Index entries per MiB of `.log` bytes (0.0 for an empty log).
    offset_index_entries_per_mib: float
    time_index_entries_per_mib: float
    # The last verification (`health(verify=True)`), or None if none ran since open.
    index_check: IndexCheck | None
    # Indexes reads found damaged and rebuilt, oldest first; kept across restarts (IDX-5).
    index_repairs: tuple[IndexRepair, ...] = ()


def _check_limit(name: str, value: int | None) -> None:
    if value is not None and (not is_int(value) or value < 1):
        raise InvalidArgument(name, value, "an integer >= 1 or None")


def _take(records: Iterator[StoredRecord], max_records: int | None,
          max_bytes: int | None) -> list[StoredRecord]:
    """The records a read returns under its limits; the first always (LOG-6, LOG-9)."""
    out: list[StoredRecord] = []
    total = 0
    for record in records:
        size = payload_size(record.key, record.value, record.headers)
        if out and max_bytes is not None and total + size > max_bytes:
            break
        out.append(record)
        total += size
        if max_records is not None and len(out) >= max_records:
            break
    return out


def _check_offset(name: str, value: int) -> None:
    if not is_int(value):
        raise InvalidArgument(name, value, "an integer offset")


class PartitionLog:
    """One partition's log on disk. Not thread-safe: one owner calls it at a time."""

    def __init__(self, directory: str, config: LogConfig, layer: FileLayer,
                 clock: Callable[[], int], topic: str | None, partition: int | None,
                 recovery_policy: RecoveryPolicy) -> None:
        self.directory = directory
        self._recovery_policy = recovery_policy
        self.config = config
        self._layer = layer
        self._clock = clock
        self._topic = topic
        self._partition = partition
        self._segments: list[Segment] = []
        self._bases: list[int] = []
        self._log_start = 0
        self._log_end = 0
        self._durable = 0
        self._recovery_point = 0
        self._unflushed_records = 0
        self._last_flush_ms = 0
        # Cumulative max timestamp of the sealed segments, for timestamp seeks; None: recompute.
        self._sealed_max: list[int] | None = None
        self._state = LogState.OPEN
        self._lock: FileLock | None = None
        self._failure: FlyQError | None = None
        self._index_repairs: list[IndexRepair] = []
        self._last_retention_ms: int | None = None
        self._index_check: IndexCheck | None = None
        self.recovery_report = RecoveryReport(clean=True)
        self._replica = ReplicaState(layer, directory, high_watermark_follows_end=True)
        self._producers = ProducerStateTable()

    # --- opening ----------------------------------------------------------------------------------

    @classmethod
    def open(cls, directory: str, config: LogConfig | None = None, *,
             file_layer: FileLayer | None = None, clock: Callable[[], int] | None = None,
             topic: str | None = None, partition: int | None = None,
             recovery_policy: RecoveryPolicy | None = None,
             high_watermark_follows_end: bool = True) -> PartitionLog:
        """Open (or create) the log in `directory`, recovering it if it was not closed cleanly.

        With `high_watermark_follows_end=False` the log is a replica whose high watermark moves
        only by `advance_high_watermark` (spec/replication-log.md, HWM-3).
        """
        log = cls(directory, config or LogConfig(), file_layer or OsFileLayer(),
                  clock or wall_clock_ms, topic, partition, recovery_policy or RecoveryPolicy())
        log._replica.high_watermark_follows_end = high_watermark_follows_end
        log._open()
        return log

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def _new_segment(self, base_offset: int, *, create: bool = True) -> Segment:
        return Segment(self._layer, self.directory, base_offset, self.config.index_interval_bytes,
                       create=create)

    def _open(self) -> None:
        layer = self._layer
        make_dirs_durably(layer, self.directory)
        # One owner per partition directory: a second opener would rebuild files we have mapped.
        self._lock = layer.lock(self._path(LOCK_FILE))
        try:
            self._open_locked()
            self._loaded_replica_state(self._replica.load(
                self._log_start, self._log_end, self._recovery_policy.cut_epoch_cache))
            problems: list[str] = []
            self._rebuild_producers(problems)
            self._loaded_replica_state(problems)
        except BaseException:
            self._lock.release()
            raise

    def _open_locked(self) -> None:
        layer = self._layer
        listing = classify_directory(layer.list_dir(self.directory))
        problems = list(listing.problems)
        orphans = list(listing.orphans)
        bases, unindexed = listing.bases, listing.unindexed
        for name in orphans:
            layer.remove(self._path(name))
        marker = self._read_checkpoint(CLEAN_SHUTDOWN_FILE, _CLEAN_SHUTDOWN_VALUES, problems)
        if layer.exists(self._path(CLEAN_SHUTDOWN_FILE)):
            # Gone before anything else is written: a crash from here on must look unclean.
            layer.remove(self._path(CLEAN_SHUTDOWN_FILE))
            orphans.append(CLEAN_SHUTDOWN_FILE)
        if orphans:
            layer.fsync_dir(self.directory)
        start_values = self._read_checkpoint(LOG_START_OFFSET_FILE, 1, problems)
        if start_values is None and layer.exists(self._path(LOG_START_OFFSET_FILE)):
            problems.append(
                f"{self._path(LOG_START_OFFSET_FILE)} is damaged: the log start offset falls back "
                "to the first segment's base offset, so records below the start it held may be "
                "readable again (LOG-11)"
            )
        point_values = self._read_checkpoint(RECOVERY_POINT_FILE, 1, problems)
        self._recovery_point = point_values[0] if point_values else 0
        self._index_repairs = self._load_index_repairs(problems)
        self._segments = [self._new_segment(base, create=False) for base in sorted(bases)]
        if not self._segments:
            first = start_values[0] if start_values else 0
            segment = self._new_segment(first)
            segment.log.fsync()
            self._segments = [segment]
            layer.fsync_dir(self.directory)
            self._log_end = first
            self._activate(segment, IndexPolicy(first, self.config.index_interval_bytes))
            self._write_segment_created(segment)
            self.recovery_report = RecoveryReport(clean=True)
        elif marker is not None and not unindexed and marker_matches(marker, self._segments[-1]):
            self._open_clean(marker)
        else:
            if marker is not None and not unindexed:
                problems.append("clean-shutdown marker does not match the active segment")
            self._recover(problems, unindexed)
        self._bases = [segment.base_offset for segment in self._segments]
        first_base = self._bases[0]
        self._log_start = max(start_values[0] if start_values else first_base, first_base)
        if self._log_start > self._log_end:
            problems.append(
                f"log start offset {self._log_start} is past the recovered log end "
                f"{self._log_end}: the log restarts empty at {self._log_start}"
            )
            self._restart_at(self._log_start)
        self._remove_segments_below_start()
        rebuilt = self._pin_index_interval(problems)
        self._restore_segment_created(problems)
        self._durable = self._log_end
        self._last_flush_ms = self._clock()
        self.recovery_report = attrs.evolve(
            self.recovery_report, problems=tuple(problems),
            indexes_rebuilt=self.recovery_report.indexes_rebuilt + rebuilt,
        )
        if not self.recovery_report.clean:
            self._write_recovery_point(self._active.base_offset)
        if problems or not self.recovery_report.clean:
            logger.warning("opened %s: %s", self.directory, self.recovery_report)

    def _read_checkpoint(self, name: str, count: int, problems: list[str]
                         ) -> tuple[int, ...] | None:
        try:
            return read_checkpoint(self._layer, self._path(name), count)
        except CorruptCheckpoint as exc:
            problems.append(str(exc))
            return None

    def _pin_index_interval(self, problems: list[str]) -> int:
        """Rebuild every index if it was written with another `index_interval_bytes` (IDX-1);
        record the interval in use. Returns how many segments were rebuilt."""
        interval = self.config.index_interval_bytes
        path = self._path(INDEX_INTERVAL_FILE)
        pinned = self._read_checkpoint(INDEX_INTERVAL_FILE, 1, problems)
        damaged = pinned is None and self._layer.exists(path)
        rebuilt = 0
        if damaged or (pinned is not None and pinned[0] != interval):
            was = "an unknown interval" if pinned is None else f"{pinned[0]}"
            problems.append(f"indexes were written with index_interval_bytes {was}, now "
                            f"{interval}: every index is rebuilt")
            last = len(self._segments) - 1
            for i, segment in enumerate(self._segments):
                self._rebuild_segment_indexes(segment, sealed=i < last)
                rebuilt += 1
        if pinned != (interval,):
            write_checkpoint(self._layer, path, (interval,))
        return rebuilt

    def _restore_segment_created(self, problems: list[str]) -> None:
        """The active segment's age counts from its creation when that was recorded for it
        (SEG-2); otherwise from now."""
        values = self._read_checkpoint(SEGMENT_CREATED_FILE, 2, problems)
        if values is not None and values[0] == self._active.base_offset:
            self._active.created_ms = values[1]

    def _write_segment_created(self, segment: Segment) -> None:
        write_checkpoint(self._layer, self._path(SEGMENT_CREATED_FILE),
                         (segment.base_offset, segment.created_ms))

    def _rebuild_segment_indexes(self, segment: Segment, *, sealed: bool) -> None:
        """Rewrite a segment's indexes from its `.log`; an active segment takes the rebuilt index
        state (its `.log`, hence its size and maximum timestamp, is unchanged)."""
        policy = segment.rebuild_indexes(sealed=sealed,
                                         index_max_bytes=self.config.index_max_bytes)
        if not sealed:
            segment.policy = policy
        self._sealed_max = None

    def _load_index_repairs(self, problems: list[str]) -> list[IndexRepair]:
        """The repairs earlier runs recorded; a damaged file is a problem, never fatal."""
        path = self._path(INDEX_REPAIRS_FILE)
        data = read_whole_file(self._layer, path)
        if data is None:
            return []
        try:
            entries = decode_index_repairs(data, source=path)
        except CorruptCheckpoint as exc:
            problems.append(f"{exc}; earlier index repairs are not known")
            return []
        return [IndexRepair(at_ms, base, self._path(name), reason)
                for at_ms, base, name, reason in entries]

    def _repair_index(self, index: int, damage: CorruptIndex) -> None:
        """Rebuild segment `index`'s indexes after a read found `damage`, and record it (IDX-5).

        Called inside the guarded section of the read, so a storage error here fails the log.
        """
        segment = self._segments[index]
        self._rebuild_segment_indexes(segment, sealed=index < len(self._segments) - 1)
        path = damage.source or segment.offset_index_path
        repair = IndexRepair(self._clock(), segment.base_offset, path, str(damage))
        index_logger.warning("%s: %s; rebuilt", path, damage)
        self._index_repairs = [*self._index_repairs, repair][-INDEX_REPAIRS_KEPT:]
        replace_file(self._layer, self._path(INDEX_REPAIRS_FILE), encode_index_repairs(
            [(r.at_ms, r.base_offset, os.path.basename(r.path), r.reason)
             for r in self._index_repairs]
        ))

    def _open_clean(self, marker: tuple[int, ...]) -> None:
        log_end = marker[0]
        active = self._segments[-1]
        # A stat of each index; preallocation below would hide a torn entry.
        damage = active.index_size_damage()
        policy = clean_open_policy(active, marker, self.config.index_interval_bytes)
        self._log_end = log_end
        self._activate(active, policy)
        self.recovery_report = RecoveryReport(clean=True)
        if damage is not None:
            self._bases = [segment.base_offset for segment in self._segments]
            self._repair_index(len(self._segments) - 1, damage)

    def _recover(self, problems: list[str], unindexed: frozenset[int]) -> None:
        """Unclean open (spec/recovery.md section 3.4), decided in `flyq.impl.recovery`."""
        recovered = recover_segments(
            self._segments, recovery_point=self._recovery_point, unindexed=unindexed,
            policy=self._recovery_policy, index_max_bytes=self.config.index_max_bytes,
            problems=problems,
        )
        if recovered.report.segments_removed:
            self._layer.fsync_dir(self.directory)
        self._segments = list(recovered.segments)
        self._log_end = recovered.log_end
        self._activate(self._segments[-1], recovered.active_policy)
        self.recovery_report = recovered.report

    def _activate(self, segment: Segment, policy: IndexPolicy) -> None:
        segment.activate(policy, self.config.index_max_bytes, self._clock())

    def _restart_at(self, offset: int) -> None:
        """Drop every segment and start an empty one at `offset`."""
        for segment in self._segments:
            segment.remove_files()
        segment = self._new_segment(offset)
        self._activate(segment, IndexPolicy(offset, self.config.index_interval_bytes))
        segment.log.fsync()
        self._layer.fsync_dir(self.directory)
        self._write_segment_created(segment)
        self._segments = [segment]
        self._bases = [offset]
        self._log_end = offset
        self._durable = offset
        self._sealed_max = None
        self._write_recovery_point(offset)

    def _remove_segments_below_start(self) -> None:
        """Delete sealed segments whose every offset is below the log start offset."""
        keep_from = 0
        while (keep_from < len(self._segments) - 1
               and self._bases[keep_from + 1] <= self._log_start):
            keep_from += 1
        if keep_from:
            for segment in self._segments[:keep_from]:
                segment.remove_files()
            self._layer.fsync_dir(self.directory)
            del self._segments[:keep_from]
            del self._bases[:keep_from]
            self._sealed_max = None

    def _write_recovery_point(self, offset: int) -> None:
        write_checkpoint(self._layer, self._path(RECOVERY_POINT_FILE), (offset,))
        self._recovery_point = offset

    # --- state ------------------------------------------------------------------------------------

    @property
    def _active(self) -> Segment:
        return self._segments[-1]

    @property
    def log_start_offset(self) -> int:
        """Offset of the first readable record (LOG-1)."""
        return self._log_start

    @property
    def log_end_offset(self) -> int:
        """Offset the next appended record gets (LOG-1)."""
        return self._log_end

    @property
    def high_watermark(self) -> int:
        """Offset below which records are committed to every in-sync replica (HW-1, HWM-1).

        One node is its own only in-sync replica: unless the log was opened as a replica, this
        is `log_end_offset` (HWM-2).
        """
        return self._replica.high_watermark(self._log_end)

    @property
    def durable_offset(self) -> int:
        """Every record below this offset has been fsynced (DUR-1)."""
        return max(self._durable, self._log_start)

    @property
    def segments(self) -> list[SegmentInfo]:
        """The segments, oldest first."""
        last = len(self._segments) - 1
        return [SegmentInfo(s.base_offset, s.size, i < last) for i, s in enumerate(self._segments)]

    @property
    def state(self) -> LogState:
        """Where the log is in its lifecycle."""
        return self._state

    def _check_usable(self) -> None:
        if self._state is LogState.FAILED:
            assert self._failure is not None
            raise LogFailed(self.directory, self._failure) from self._failure
        if self._state is LogState.CLOSED:
            raise LogClosed(f"{self.directory} is closed")

    def _fail(self, error: StorageError) -> None:
        """Enter the failed state (spec/recovery.md section 1.3); the first cause is kept."""
        if self._failure is None:
            self._failure = error
        self._state = _LIFECYCLE[(self._state, _Event.FAIL)]

    @contextlib.contextmanager
    def _guarded(self) -> Iterator[None]:
        """The one path into the failed state: a `StorageError` inside puts the log there."""
        try:
            yield
        except StorageError as exc:
            self._fail(exc)
            raise

    def _out_of_range(self, offset: int, valid: str) -> OffsetOutOfRange:
        return OffsetOutOfRange(offset, log_start_offset=self._log_start,
                                log_end_offset=self._log_end, valid=valid, topic=self._topic,
                                partition=self._partition)

    # --- appending --------------------------------------------------------------------------------

    def append(self, records: Sequence[Record]) -> AppendResult:
        """Encode `records` as one batch and append it (LOG-2, LOG-3).

        A LogAppendTime log stamps the batch with its clock (spec/format.md 1.2).
        """
        self._check_usable()
        batch = list(records)
        if not batch:
            raise EmptyBatch
        for record in batch:
            validate_record(record)
        data = encode_batch(self._log_end, batch)
        header = decode_batch_header(data)
        if self.config.message_timestamp_type == LOG_APPEND_TIME:
            return self._append_stamped(data, header)
        return self._append((data,), header)

    def append_encoded(self, batch: bytes | bytearray | memoryview, *,
                       defer_flush: bool = False) -> AppendResult:
        """Append one already-encoded RecordBatch v2; its base offset is rewritten.

        The batch is validated in one pass (spec/format.md 1.7, 1.8) without building records, and
        written from the caller's buffer: no copy of the records. With `defer_flush` the flush
        policy does not run at this append: the caller flushes (a group commit, DUR-2).
        """
        self._check_usable()
        # gzip sections may not decompress past the largest batch this log accepts (gap 5).
        header = validate_batch(batch, max_uncompressed_bytes=self.config.max_batch_bytes,
                                source="appended batch")
        if self.config.message_timestamp_type == LOG_APPEND_TIME:
            return self._append_stamped(batch, header, defer_flush=defer_flush)
        # Written as the new baseOffset plus the rest of the caller's bytes: no copy of the batch.
        parts = (encode_base_offset(self._log_end), memoryview(batch)[8:])
        return self._append(parts, attrs.evolve(header, base_offset=self._log_end),
                            defer_flush=defer_flush)

    def _append_stamped(self, batch: bytes | bytearray | memoryview,
                        header: BatchHeader, *, defer_flush: bool = False) -> AppendResult:
        """Append `batch` stamped with LogAppendTime = the clock now: a new header, same records."""
        stamped = log_append_time_header(batch, header, base_offset=self._log_end,
                                         timestamp=self._clock())
        parts = (stamped[:8], stamped[8:], memoryview(batch)[BATCH_HEADER_SIZE:header.size])
        return self._append(parts, decode_batch_header(stamped, limit=header.size),
                            defer_flush=defer_flush)

    def _append(self, parts: Sequence[bytes | bytearray | memoryview],
                header: BatchHeader, *, replicated: bool = False,
                defer_flush: bool = False) -> AppendResult:
        if header.size > self.config.max_batch_bytes:
            raise RecordTooLarge(header.size, self.config.max_batch_bytes)
        if header.next_offset > _OFFSET_MAX:
            raise self._out_of_range(header.last_offset, "a batch's last offset must leave "
                                                         "log_end_offset < 2**63 (LOG-13)")
        parts, header = self._stamped(parts, header, replicated)
        # The one compare a non-idempotent batch pays (spec/idempotence.md).
        idempotent = header.producer_id >= 0
        if idempotent and not replicated:
            verdict = self._producers.check(header)
            if verdict is not APPEND:
                assert isinstance(verdict, Duplicate)
                return AppendResult(verdict.base_offset, verdict.last_offset,
                                    log_append_time=self._log_append_time(verdict.timestamp),
                                    duplicate=True)
        now = self._clock()
        with self._guarded():
            self._maybe_roll(header, now)
            # The epoch entry is made durable before the batch it names (Kafka's order): a crash
            # in between leaves an entry at the log end, which open cuts (EPOCH-9, EPOCH-10).
            self._replica.appended(header.partition_leader_epoch, header.base_offset)
            self._active.append(parts, header)
        self._log_end = header.next_offset
        if idempotent:
            self._producers.record(header)
        self._unflushed_records += header.records_count
        flush_messages, flush_ms = self.config.flush_messages, self.config.flush_ms
        if not defer_flush and (
            (flush_messages is not None and self._unflushed_records >= flush_messages)
            or (flush_ms is not None and now - self._last_flush_ms >= flush_ms)
        ):
            self.flush()
        return AppendResult(header.base_offset, header.last_offset,
                            log_append_time=self._log_append_time(header.max_timestamp))

    def _log_append_time(self, max_timestamp: int) -> int:
        """What a Produce response says in log_append_time_ms: the stamp of a LogAppendTime log,
        else -1 (IDEM-7)."""
        if self.config.message_timestamp_type == LOG_APPEND_TIME:
            return max_timestamp
        return -1

    def _stamped(self, parts: Sequence[bytes | bytearray | memoryview], header: BatchHeader,
                 replicated: bool) -> tuple[Sequence[bytes | bytearray | memoryview], BatchHeader]:
        """Check the batch's epoch and, for a leader append, stamp `leader_epoch` into it
        (EPOCH-2, FOLLOW-1). Bytes 0..15 are outside the CRC, so the rest is written as given."""
        if replicated:
            self._replica.check_replicated(header)
            return parts, header
        self._replica.check_leader_append()
        epoch = self._replica.leader_epoch
        if header.partition_leader_epoch == epoch:
            return parts, header
        skip = 16
        rest: list[bytes | bytearray | memoryview] = []
        for part in parts:
            view = memoryview(part)
            rest.append(view[min(skip, len(view)):])
            skip = max(skip - len(view), 0)
        start = encode_batch_start(header.base_offset, header.batch_length, epoch)
        return (start, *rest), attrs.evolve(header, partition_leader_epoch=epoch)

    def append_replicated(self, batch: bytes | bytearray | memoryview) -> AppendResult:
        """Append a leader's encoded batch keeping its base offset and epoch (FOLLOW-1, FOLLOW-2).

        Decoded in full first (CRC and every record), as a follower must not store what its
        leader could not have.
        """
        self._check_usable()
        if not isinstance(batch, bytes | bytearray | memoryview):
            raise InvalidArgument("batch", batch, "the bytes of one encoded record batch")
        decoded = decode_batch(batch, source="replicated batch")
        header = decoded.header
        if header.size != len(batch):
            raise InvalidRecord(
                f"replicated batch is {len(batch)} bytes but its header says {header.size}"
            )
        for stored in decoded.records:
            validate_record(stored.record)
        if header.base_offset != self._log_end:
            raise UnexpectedAppendOffset(header.base_offset, self._log_end)
        return self._append((batch,), header, replicated=True)

    # --- idempotent producers (spec/idempotence.md) -------------------------------------------

    def producer_entries(self) -> ProducerEntries:
        """The producer table, by ascending producer id (IDEM-1)."""
        return self._producers.entries()

    def _snapshot_offsets(self) -> list[int]:
        """Offsets of the snapshot files in the directory, ascending."""
        names = self._layer.list_dir(self.directory)
        return sorted(o for o in map(parse_snapshot_name, names) if o is not None)

    def _write_producer_snapshot(self) -> None:
        """Snapshot the table at the log end, atomically, and keep only the newest (IDEM-10).
        Called only when everything below the log end is durable (a roll, a clean close)."""
        offset = self._log_end
        replace_file(self._layer, self._path(snapshot_name(offset)),
                     self._producers.snapshot(offset))
        offsets = self._snapshot_offsets()
        for old in offsets[:-PRODUCER_SNAPSHOTS_KEPT]:
            self._layer.remove(self._path(snapshot_name(old)))

    def _remove_snapshots_above(self, offset: int) -> bool:
        """Delete the snapshots describing more than the log up to `offset` (IDEM-11, IDEM-12);
        True if any was. The caller makes the removal durable."""
        above = [o for o in self._snapshot_offsets() if o > offset]
        for old in above:
            self._layer.remove(self._path(snapshot_name(old)))
        return bool(above)

    def _load_producer_snapshot(self, offset: int) -> ProducerStateTable | None:
        """The table in the snapshot at `offset`; None if it is gone, `CorruptCheckpoint` if it
        does not decode or names another offset."""
        path = self._path(snapshot_name(offset))
        data = read_whole_file(self._layer, path)
        if data is None:
            return None
        stored_offset, table = ProducerStateTable.from_snapshot(data, source=path)
        if stored_offset != offset:
            raise CorruptCheckpoint(f"holds offset {stored_offset}", field="offset", position=6,
                                    source=path)
        return table

    def _rebuild_producers(self, problems: list[str]) -> None:
        """The table of the log as it stands: the newest snapshot at or below the log end that
        decodes, cut at the log start, plus the headers of the batches after it (IDEM-11)."""
        if self._remove_snapshots_above(self._log_end):
            self._layer.fsync_dir(self.directory)
        table, start = ProducerStateTable(), self._bases[0]
        for offset in reversed(self._snapshot_offsets()):
            try:
                loaded = self._load_producer_snapshot(offset)
            except CorruptCheckpoint as exc:
                problems.append(f"{exc}; an older producer snapshot or the log is used instead")
                continue
            if loaded is not None:
                table, start = loaded, max(offset, start)
                break
        table.drop_below(self._log_start)
        if start < self._log_end:
            first = self._segment_index(start)
            for index in range(first, len(self._segments)):
                at = start if index == first else self._bases[index]
                for _, header, _ in self._scan_from(index, at):
                    if header.base_offset >= start and header.producer_id >= 0:
                        table.record(header)
            table.drop_below(self._log_start)
        self._producers = table

    # --- replication state (spec/replication-log.md) -----------------------------------------

    def _loaded_replica_state(self, problems: list[str]) -> None:
        if problems:
            self.recovery_report = attrs.evolve(
                self.recovery_report, problems=(*self.recovery_report.problems, *problems))
            logger.warning("opened %s: %s", self.directory, problems)

    @property
    def leader_epoch(self) -> int:
        """The epoch appends are stamped with; -1 before any `become_leader` (EPOCH-1, EPOCH-11)."""
        return self._replica.leader_epoch

    def become_leader(self, epoch: int) -> None:
        """Stamp later appends with `epoch`; a lower epoch is fenced (EPOCH-1)."""
        self._check_usable()
        self._replica.become_leader(epoch)

    def epoch_entries(self) -> tuple[tuple[int, int], ...]:
        """The epoch cache: (epoch, start_offset) pairs, oldest first (EPOCH-7)."""
        return self._replica.entries()

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """Kafka's OffsetsForLeaderEpoch answer: (epoch, end offset) or (-1, -1) (EPOCH-8)."""
        return self._replica.end_offset_for_epoch(epoch, self._log_end)

    def advance_high_watermark(self, offset: int) -> None:
        """Move a replica's high watermark up to `offset`, checkpointed first (HWM-3, HWM-6)."""
        self._check_usable()
        with self._guarded():
            self._replica.advance_high_watermark(offset, self._log_start, self._log_end)

    def _maybe_roll(self, header: BatchHeader, now: int) -> None:
        active = self._active
        if active.size == 0:
            return
        if (active.size + header.size > self.config.segment_bytes
                or now - active.created_ms >= self.config.segment_ms
                or active.index_full()
                or header.next_offset - active.base_offset > _U32_MAX):
            self._roll(now)

    def _roll(self, now: int) -> None:
        """Seal the active segment and start a new one at the log end (SEG-2)."""
        old = self._active
        old_max = old.max_timestamp()
        old.seal()
        old.close()
        segment = self._new_segment(self._log_end)
        segment.activate(IndexPolicy(self._log_end, self.config.index_interval_bytes),
                         self.config.index_max_bytes, now)
        segment.log.fsync()
        self._layer.fsync_dir(self.directory)
        self._segments.append(segment)
        self._bases.append(segment.base_offset)
        if self._sealed_max is not None:
            previous = self._sealed_max[-1] if self._sealed_max else NO_TIMESTAMP
            self._sealed_max.append(max(previous, old_max))
        # The sealed segment was fsynced: everything below the new base is durable.
        self._durable = self._log_end
        self._unflushed_records = 0
        self._last_flush_ms = now
        self._write_recovery_point(segment.base_offset)
        self._write_segment_created(segment)
        self._write_producer_snapshot()

    def flush(self) -> None:
        """Make every appended record durable (DUR-2)."""
        self._check_usable()
        with self._guarded():
            self._active.log.fsync()
        self._durable = self._log_end
        self._unflushed_records = 0
        self._last_flush_ms = self._clock()

    def close(self) -> None:
        """Flush, trim the active indexes and write the clean-shutdown marker (DUR-4).

        Files are closed and the directory lock released even if that fails; a failed log is
        closed without a marker, so its next open recovers it.
        """
        if self._state is LogState.CLOSED:
            return
        was_open = self._state is LogState.OPEN
        self._state = _LIFECYCLE[(self._state, _Event.CLOSE)]
        try:
            if was_open:
                self._active.log.fsync()
                active = self._active
                active.trim_indexes()
                self._write_producer_snapshot()
                write_checkpoint(
                    self._layer, self._path(CLEAN_SHUTDOWN_FILE),
                    (self._log_end, active.base_offset, active.size, active.max_timestamp()),
                )
        finally:
            for segment in self._segments:
                segment.close()
            if self._lock is not None:
                self._lock.release()

    def __enter__(self) -> PartitionLog:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # --- reading ----------------------------------------------------------------------------------

    def _segment_index(self, offset: int) -> int:
        return max(bisect.bisect_right(self._bases, offset) - 1, 0)

    def _segment_end(self, index: int) -> int:
        return self._segments[index].size

    def read(self, offset: int, *, max_records: int | None = None,
             max_bytes: int | None = None,
             up_to_high_watermark: bool = False) -> list[StoredRecord]:
        """Records from `offset` upwards, oldest first (LOG-5, LOG-6, LOG-9, HWM-5)."""
        _check_limit("max_records", max_records)
        _check_limit("max_bytes", max_bytes)
        _check_offset("offset", offset)
        self._check_usable()
        if not self._log_start <= offset <= self._log_end:
            raise self._out_of_range(offset, "reads accept log_start_offset <= offset <= "
                                             "log_end_offset")
        records: Iterator[StoredRecord] = self._records_from(offset)
        if up_to_high_watermark:
            high_watermark = self.high_watermark
            records = itertools.takewhile(lambda r: r.offset < high_watermark, records)
        with self._guarded():
            return _take(records, max_records, max_bytes)

    def _scan_from(self, index: int, offset: int, *, with_bytes: bool = False
                   ) -> Iterator[tuple[int, BatchHeader, memoryview | None]]:
        """Batches of segment `index` from where its offset index says to look for `offset`.

        Checks what the index led to (IDX-5): the entry lies inside the segment, a batch starting
        at its offset is there, and no index point lies between it and the batch holding `offset`
        (which keeps IDX-4's bound). On a mismatch, before anything is yielded, the segment's
        indexes are rebuilt and recorded, and the lookup is repeated against the rebuilt index.
        """
        segment = self._segments[index]
        end = self._segment_end(index)
        try:
            ahead, rest = segment.locate(offset, end, with_bytes=with_bytes)
        except CorruptIndex as exc:
            self._repair_index(index, exc)
            ahead, rest = segment.locate(offset, end, with_bytes=with_bytes)
        yield from ahead
        yield from rest

    def _records_from(self, offset: int) -> Iterator[StoredRecord]:
        index = self._segment_index(offset)
        while index < len(self._segments) and offset < self._log_end:
            segment = self._segments[index]
            for position, header, data in self._scan_from(index, offset, with_bytes=True):
                if header.next_offset <= offset:
                    continue
                assert data is not None
                for record in segment.decode(data, position):
                    if record.offset >= offset:
                        yield record
                offset = header.next_offset
            index += 1

    def read_raw(self, offset: int, max_bytes: int, *,
                 up_to_high_watermark: bool = False) -> bytes | memoryview:
        """Whole stored batches from the one holding `offset` (a Kafka fetch): the bytes as read,
        or a view of them cut after the last whole batch (no second copy).

        At least one batch when `offset < log_end_offset`, else at most `max_bytes` bytes; never
        crosses a segment. The first batch may hold records below `offset`. No CRC check: the
        reader checks, as Kafka clients do. With `up_to_high_watermark`, only whole batches that
        end at or below the high watermark (HWM-5).
        """
        _check_limit("max_bytes", max_bytes)
        _check_offset("offset", offset)
        self._check_usable()
        if not self._log_start <= offset <= self._log_end:
            raise self._out_of_range(offset, "reads accept log_start_offset <= offset <= "
                                             "log_end_offset")
        if offset == self._log_end:
            return b""
        with self._guarded():
            data = self._read_raw(offset, max_bytes)
        return whole_batches_below(data, self.high_watermark) if up_to_high_watermark else data

    def _read_raw(self, offset: int, max_bytes: int) -> bytes | memoryview:
        index = self._segment_index(offset)
        segment = self._segments[index]
        end = self._segment_end(index)
        found = next(((position, header) for position, header, _ in self._scan_from(index, offset)
                      if header.next_offset > offset), None)
        if found is None:
            return b""
        position, header = found
        # One read of up to max_bytes (or the first batch whole), then cut after the last batch
        # that fits: no byte is read twice.
        data = segment.log.pread(min(max(max_bytes, header.size), end - position), position)
        whole = whole_batches_length(data)
        return data if whole == len(data) else memoryview(data)[:whole]

    def read_backward(self, offset: int, *, max_records: int | None = None,
                      max_bytes: int | None = None) -> list[StoredRecord]:
        """Records from `offset` downwards, newest first (LOG-7, LOG-9)."""
        _check_limit("max_records", max_records)
        _check_limit("max_bytes", max_bytes)
        _check_offset("offset", offset)
        self._check_usable()
        if not self._log_start <= offset < self._log_end:
            raise self._out_of_range(offset, "backward reads accept log_start_offset <= offset < "
                                             "log_end_offset")
        with self._guarded():
            return _take(self._records_backward(offset), max_records, max_bytes)

    def _records_backward(self, offset: int) -> Iterator[StoredRecord]:
        """Walk back one index interval at a time: scan it forward, then yield it in reverse."""
        index = self._segment_index(offset)
        target = offset
        while index >= 0 and target >= self._log_start:
            segment = self._segments[index]
            while target >= max(segment.base_offset, self._log_start):
                batches: list[tuple[int, BatchHeader]] = []
                for position, header, _ in self._scan_from(index, target):
                    if header.base_offset > target:
                        break
                    batches.append((position, header))
                if not batches:
                    break
                for position, header in reversed(batches):
                    if header.next_offset <= self._log_start:
                        return
                    for record in reversed(segment.read_batch(position, header)):
                        if self._log_start <= record.offset <= target:
                            yield record
                target = batches[0][1].base_offset - 1
            index -= 1

    def offset_for_timestamp(self, timestamp: int) -> int | None:
        """First offset whose record's timestamp is >= `timestamp`, or None (LOG-8)."""
        if not is_int(timestamp):
            raise InvalidArgument("timestamp", timestamp, "an integer number of milliseconds")
        self._check_usable()
        if self._log_start == self._log_end:
            return None
        with self._guarded():
            return self._offset_for_timestamp(timestamp)

    def max_timestamp_offset(self) -> int | None:
        """The first offset holding the largest timestamp in the log, or None for an empty log
        (Kafka's ListOffsets MAX_TIMESTAMP, LOG-8): the first record at or after that timestamp."""
        self._check_usable()
        if self._log_start == self._log_end:
            return None
        with self._guarded():
            sealed = self._sealed_maxima()
            largest = max(self._active.max_timestamp(), sealed[-1] if sealed else NO_TIMESTAMP)
            return self._offset_for_timestamp(largest)

    def _sealed_maxima(self) -> list[int]:
        """Running maximum timestamp of the sealed segments, oldest first (computed on the first
        seek after a change: one time entry and one index stat per sealed segment)."""
        if self._sealed_max is None:
            running = NO_TIMESTAMP
            maxima: list[int] = []
            for i, segment in enumerate(self._segments[:-1]):
                try:
                    segment_max = segment.checked_max_timestamp(self._bases[i + 1])
                except CorruptIndex as exc:
                    self._repair_index(i, exc)
                    segment_max = segment.max_timestamp()
                running = max(running, segment_max)
                maxima.append(running)
            self._sealed_max = maxima
        return self._sealed_max

    def _offset_for_timestamp(self, timestamp: int) -> int | None:
        # The first segment whose running maximum reaches `timestamp` is the first that can hold
        # the answer; only the first segment can hold records below the log start.
        index = bisect.bisect_left(self._sealed_maxima(), timestamp)
        last = len(self._segments) - 1
        while index <= last:
            segment = self._segments[index]
            if segment.max_timestamp() >= timestamp:
                def seek(segment: Segment = segment, index: int = index) -> int | None:
                    return segment.offset_for_timestamp(
                        timestamp, max(self._log_start, segment.base_offset),
                        self._segment_end(index),
                        next_offset=self._bases[index + 1] if index < last else self._log_end,
                        sealed=index < last,
                    )
                try:
                    found = seek()
                except CorruptIndex as exc:
                    # Checked against the rebuilt index again: a failure now is the `.log`'s.
                    self._repair_index(index, exc)
                    found = seek()
                if found is not None:
                    return found
            index += 1
        return None

    # --- changing the log -------------------------------------------------------------------------

    def truncate(self, offset: int) -> None:
        """Remove every record at or above `offset`, a batch boundary (LOG-10)."""
        _check_offset("offset", offset)
        self._check_usable()
        if not self._log_start <= offset <= self._log_end:
            raise self._out_of_range(offset, "truncate accepts log_start_offset <= offset <= "
                                             "log_end_offset")
        if offset == self._log_end:
            return
        index = self._segment_index(offset)
        segment = self._segments[index]
        position, batch_base = 0, segment.base_offset
        if offset != segment.base_offset:
            with self._guarded():
                found = next(((at, header) for at, header, _ in self._scan_from(index, offset)
                              if header.next_offset > offset), None)
            if found is not None:
                position, batch_base = found[0], found[1].base_offset
        if offset not in (batch_base, self._log_start):
            raise InvalidOffset(offset, f"not a batch boundary: the batch holding it starts at "
                                        f"{batch_base}")
        was_active = segment is self._active
        with self._guarded():
            # Before the log is cut: no crash may leave a snapshot of records that are gone.
            if self._remove_snapshots_above(offset):
                self._layer.fsync_dir(self.directory)
            if self._recovery_point > segment.base_offset:
                self._write_recovery_point(segment.base_offset)
            for later in reversed(self._segments[index + 1 :]):
                later.remove_files()
            del self._segments[index + 1 :]
            del self._bases[index + 1 :]
            self._sealed_max = None
            if batch_base != offset:
                # The log start sits inside a batch: nothing at or above it stays, so the log
                # restarts empty there, keeping segments' offsets contiguous.
                self._restart_at(offset)
            else:
                segment.log.truncate(position)
                segment.log.fsync()
                self._layer.fsync_dir(self.directory)
                policy = segment.rebuild_indexes(sealed=False,
                                                 index_max_bytes=self.config.index_max_bytes)
                created_ms = segment.created_ms
                self._activate(segment, policy)
                if was_active:
                    segment.created_ms = created_ms
                else:
                    # A sealed segment's creation time was not kept: its age counts from here.
                    self._write_segment_created(segment)
            self._log_end = offset
            self._durable = min(self._durable, offset)
            # After the log: a crash in between leaves entries past the end, which open cuts.
            self._replica.truncated(offset)
            self._rebuild_producers([])

    def delete_records_below(self, offset: int) -> None:
        """Advance the log start offset to `offset` and delete whole segments below it (LOG-11)."""
        _check_offset("offset", offset)
        self._check_usable()
        if not 0 <= offset <= self._log_end:
            raise self._out_of_range(offset, "delete_records_below accepts 0 <= offset <= "
                                             "log_end_offset")
        if offset > self.high_watermark:
            raise self._out_of_range(offset, "delete_records_below accepts offset <= "
                                             f"high_watermark {self.high_watermark} (HWM-4)")
        if offset <= self._log_start:
            return
        # Flushed first, so no crash can leave the log ending below its new start.
        self.flush()
        with self._guarded():
            write_checkpoint(self._layer, self._path(LOG_START_OFFSET_FILE), (offset,))
            self._log_start = offset
            self._replica.start_moved(offset, self._log_end)
            self._producers.drop_below(offset)
            self._remove_segments_below_start()

    def apply_retention(self, now_ms: int | None = None) -> RetentionResult:
        """Delete the oldest sealed segments that retention allows to go (RET-1..RET-4).

        Oldest first, each sealed segment is deleted while either its largest timestamp is older
        than `now_ms - retention_ms`, or the log without it still holds `retention_bytes` or more;
        the first segment that is neither stops the run. The active segment always stays. The
        deletion itself is `delete_records_below(base of the first kept segment)`, so it is
        persisted, and crash-safe, exactly as that is (spec/recovery.md section 2.6).
        `now_ms` defaults to the injected clock.
        """
        self._check_usable()
        now = self._clock() if now_ms is None else now_ms
        if not is_int(now):
            raise InvalidArgument("now_ms", now, "an integer number of milliseconds")
        retention_ms, retention_bytes = self.config.retention_ms, self.config.retention_bytes
        sizes = [segment.size for segment in self._segments]
        remaining = sum(sizes)
        keep_from = 0
        # Only committed records may go: a replica keeps segments reaching past its HW (HWM-4).
        while (keep_from < len(self._segments) - 1
               and self._bases[keep_from + 1] <= self.high_watermark):
            segment = self._segments[keep_from]
            expired = (retention_ms is not None
                       and segment.max_timestamp() < now - retention_ms)
            oversize = (retention_bytes is not None
                        and remaining - sizes[keep_from] >= retention_bytes)
            if not (expired or oversize):
                break
            remaining -= sizes[keep_from]
            keep_from += 1
        if keep_from:
            target = self._bases[keep_from]
            if target > self._log_start:
                self.delete_records_below(target)
            else:
                # The log start already passed these segments (a roll sealed one wholly below
                # it): only their files are left to remove.
                with self._guarded():
                    self._remove_segments_below_start()
        self._last_retention_ms = now
        return RetentionResult(segments_deleted=keep_from, log_start_offset=self._log_start,
                               bytes_freed=sum(sizes[:keep_from]))

    # --- health and verification ------------------------------------------------------------------

    def health(self, *, verify: bool = False) -> PartitionHealth:
        """A snapshot of the log's state (HLT-1, HLT-2); with `verify`, check every index first
        (HLT-3, IDX-1).

        A failed log still reports (state "failed"), but is not verified: its last check stands.
        A closed log raises `LogClosed`.
        """
        if self._state is LogState.CLOSED:
            raise LogClosed(f"{self.directory} is closed")
        if verify and self._state is LogState.OPEN:
            self._index_check = IndexCheck(checked_ms=self._clock(),
                                           mismatches=tuple(self.index_mismatches()))
        total = sum(segment.size for segment in self._segments)
        offset_entries = sum(segment.offset_index.entries for segment in self._segments)
        time_entries = sum(segment.time_index.entries for segment in self._segments)
        mib = total / _MIB
        return PartitionHealth(
            state=self._state.value,
            failure=None if self._failure is None else str(self._failure),
            segment_count=len(self._segments),
            total_bytes=total,
            log_start_offset=self.log_start_offset,
            high_watermark=self.high_watermark,
            log_end_offset=self.log_end_offset,
            durable_offset=self.durable_offset,
            last_flush_ms=self._last_flush_ms,
            last_retention_ms=self._last_retention_ms,
            recovery_report=self.recovery_report,
            offset_index_entries=offset_entries,
            time_index_entries=time_entries,
            offset_index_entries_per_mib=offset_entries / mib if total else 0.0,
            time_index_entries_per_mib=time_entries / mib if total else 0.0,
            index_check=self._index_check,
            index_repairs=tuple(self._index_repairs),
        )

    def index_mismatches(self) -> list[str]:
        """Segments whose index bytes differ from a fresh rebuild from their `.log` (IDX-1)."""
        problems = []
        last = len(self._segments) - 1
        for i, segment in enumerate(self._segments):
            offset_bytes, time_bytes, _ = segment.expected_indexes(
                sealed=i < last, valid_bytes=segment.size
            )
            if segment.offset_index.raw() != offset_bytes:
                problems.append(f"{segment.offset_index_path} differs from a rebuild")
            if segment.time_index.raw() != time_bytes:
                problems.append(f"{segment.time_index_path} differs from a rebuild")
        return problems
