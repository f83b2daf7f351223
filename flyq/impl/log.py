"""The disk partition log: segments, flush policy, reads, truncation, prefix deletion, retention.

Semantics are spec/log.md's, checked against `flyq.model` by tests/property; what open trusts and
rebuilds is spec/recovery.md's. All file access goes through the injected `FileLayer`; time comes
from the injected clock.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType

import attrs

from flyq.api import AppendResult
from flyq.codec.record_batch import (
    COMPRESSION_GZIP,
    COMPRESSION_NONE,
    BatchHeader,
    decode_batch,
    decode_batch_header,
    encode_base_offset,
    encode_batch,
    encode_batch_start,
    verify_batch_crc,
    whole_batches_length,
)
from flyq.codec.segment_name import LOG_SUFFIX, parse_segment_name
from flyq.errors import (
    CorruptCheckpoint,
    DecodeError,
    EmptyBatch,
    FlyQError,
    InvalidArgument,
    InvalidOffset,
    InvalidRecord,
    LogClosed,
    OffsetOutOfRange,
    RecordTooLarge,
    StorageError,
    UnexpectedAppendOffset,
)
from flyq.impl.checkpoint_file import TEMP_SUFFIX, read_checkpoint, write_checkpoint
from flyq.impl.config import LogConfig
from flyq.impl.filelayer import FileLayer, FileLock, OsFileLayer
from flyq.impl.index_policy import NO_TIMESTAMP, IndexPolicy
from flyq.impl.leader_epochs import ReplicaState, whole_batches_below
from flyq.impl.recovery_policy import RecoveryPolicy
from flyq.impl.segment import Segment
from flyq.records import Record, StoredRecord, payload_size, validate_record

__all__ = [
    "IndexCheck",
    "PartitionHealth",
    "PartitionLog",
    "RecoveryReport",
    "RetentionResult",
    "SegmentInfo",
]

logger = logging.getLogger("flyq.recovery")

CLEAN_SHUTDOWN_FILE = "clean-shutdown"
RECOVERY_POINT_FILE = "recovery-point"
LOG_START_OFFSET_FILE = "log-start-offset"
LOCK_FILE = ".lock"
# log_end_offset, active base offset, active .log size, active max timestamp
_CLEAN_SHUTDOWN_VALUES = 4
_U32_MAX = (1 << 32) - 1
_OFFSET_MAX = (1 << 63) - 1
_MIB = 1 << 20


def _system_clock() -> int:
    return time.time_ns() // 1_000_000


@attrs.frozen
class RecoveryReport:
    """What open found and did (spec/recovery.md, section 4)."""

    clean: bool
    segments_scanned: int = 0
    bytes_truncated: int = 0
    indexes_rebuilt: int = 0
    segments_removed: int = 0
    problems: tuple[str, ...] = ()


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


def _or_none(timestamp: int | None) -> int:
    return NO_TIMESTAMP if timestamp is None else timestamp


def _check_limit(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
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
    if isinstance(value, bool) or not isinstance(value, int):
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
        self._closed = False
        self._lock: FileLock | None = None
        self._failure: FlyQError | None = None
        self._last_retention_ms: int | None = None
        self._index_check: IndexCheck | None = None
        self.recovery_report = RecoveryReport(clean=True)
        self._replica = ReplicaState(layer, directory, high_watermark_follows_end=True)

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
                  clock or _system_clock, topic, partition, recovery_policy or RecoveryPolicy())
        log._replica.high_watermark_follows_end = high_watermark_follows_end
        log._open()
        return log

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def _new_segment(self, base_offset: int) -> Segment:
        return Segment(self._layer, self.directory, base_offset, self.config.index_interval_bytes)

    def _open(self) -> None:
        layer = self._layer
        if not layer.exists(self.directory):
            layer.make_dirs(self.directory)
            # The new directory's own entry is durable only once its parent is fsynced.
            layer.fsync_dir(os.path.dirname(os.path.abspath(self.directory)))
        # One owner per partition directory: a second opener would rebuild files we have mapped.
        self._lock = layer.lock(self._path(LOCK_FILE))
        try:
            self._open_locked()
            self._loaded_replica_state(self._replica.load(self._log_start, self._log_end))
        except BaseException:
            self._lock.release()
            raise

    def _open_locked(self) -> None:
        layer = self._layer
        problems: list[str] = []
        bases: set[int] = set()
        orphans: list[str] = []
        names = layer.list_dir(self.directory)
        for name in names:
            if name.endswith(TEMP_SUFFIX):
                # An atomic replace that did not reach its rename: the old file is the truth.
                orphans.append(name)
                continue
            try:
                base, suffix = parse_segment_name(name)
            except DecodeError:
                continue
            if suffix == LOG_SUFFIX:
                bases.add(base)
        indexed: dict[int, int] = {}
        for name in names:
            try:
                base, suffix = parse_segment_name(name)
            except DecodeError:
                continue
            if suffix != LOG_SUFFIX and base not in bases:
                orphans.append(name)
            elif suffix != LOG_SUFFIX:
                indexed[base] = indexed.get(base, 0) + 1
        # A segment missing an index file cannot be trusted as it stands: rebuild it.
        unindexed = {base for base in bases if indexed.get(base, 0) < 2}
        problems.extend(f"segment {base} is missing an index file" for base in sorted(unindexed))
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
        point_values = self._read_checkpoint(RECOVERY_POINT_FILE, 1, problems)
        self._recovery_point = point_values[0] if point_values else 0
        self._segments = [self._new_segment(base) for base in sorted(bases)]
        if not self._segments:
            first = start_values[0] if start_values else 0
            segment = self._new_segment(first)
            segment.log.fsync()
            self._segments = [segment]
            layer.fsync_dir(self.directory)
            self._log_end = first
            self._activate(segment, IndexPolicy(first, self.config.index_interval_bytes))
            self.recovery_report = RecoveryReport(clean=True)
        elif marker is not None and not unindexed and self._marker_matches(marker):
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
        self._durable = self._log_end
        self._last_flush_ms = self._clock()
        self.recovery_report = attrs.evolve(self.recovery_report, problems=tuple(problems))
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

    def _marker_matches(self, marker: tuple[int, ...]) -> bool:
        log_end, active_base, active_size, _ = marker
        active = self._segments[-1]
        return (active.base_offset == active_base and active.log.size() == active_size
                and log_end >= active_base)

    def _open_clean(self, marker: tuple[int, ...]) -> None:
        log_end, _, active_size, active_max_timestamp = marker
        active = self._segments[-1]
        last_entry = (active.offset_index.entry(active.offset_index.entries - 1)
                      if active.offset_index.entries else None)
        policy = IndexPolicy(
            base_offset=active.base_offset,
            index_interval_bytes=self.config.index_interval_bytes,
            size=active_size,
            bytes_since_entry=active_size - (last_entry[1] if last_entry else 0),
            max_timestamp=active_max_timestamp,
            last_time_entry_timestamp=_or_none(active.time_index.last_timestamp()),
            next_offset=log_end,
        )
        self._log_end = log_end
        self._activate(active, policy)
        self.recovery_report = RecoveryReport(clean=True)

    def _recover(self, problems: list[str], unindexed: set[int]) -> None:
        """Validate the segments past the recovery point; sanity-check the others' indexes."""
        recovery = self._recovery_policy
        segments = self._segments
        bases = [segment.base_offset for segment in segments]
        first_to_scan = max(bisect.bisect_right(bases, self._recovery_point) - 1, 0)
        scanned = truncated = rebuilt = removed = 0
        kept: list[Segment] = []
        for i, segment in enumerate(segments):
            sealed = i < len(segments) - 1
            if i < first_to_scan:
                missing = segment.base_offset in unindexed
                problem = None if missing else recovery.trusted_index_problem(segment)
                if problem is not None:
                    problems.append(problem)
                if missing or problem is not None:
                    segment.rebuild_indexes(sealed=True, index_max_bytes=0)
                    rebuilt += 1
                kept.append(segment)
                continue
            result = segment.validate_log(recovery)
            scanned += 1
            cut_after = False
            log_size = segment.log.size()
            if result.problem is not None:
                problems.append(f"{segment.log_path}: {result.problem}")
                tail = segment.log.pread(log_size - result.valid_bytes, result.valid_bytes)
                keep = recovery.valid_end(result, tail)
                truncated += log_size - keep
                segment.log.truncate(keep)
                cut_after = True
            elif sealed and segments[i + 1].base_offset != result.next_offset:
                problems.append(
                    f"{segment.log_path} ends at offset {result.next_offset} but the next "
                    f"segment starts at {segments[i + 1].base_offset}"
                )
                cut_after = True
            segment.log.fsync()
            kept.append(segment)
            if cut_after:
                for later in segments[i + 1 :]:
                    truncated += later.log.size()
                    later.remove_files()
                    removed += 1
                sealed = False
            if recovery.rebuild_scanned_indexes():
                policy = segment.rebuild_indexes(sealed=sealed,
                                                 index_max_bytes=self.config.index_max_bytes)
                rebuilt += 1
            else:
                policy = segment.expected_indexes(sealed=sealed)[2]
            if not sealed:
                self._log_end = result.next_offset
                self._activate(segment, policy)
            else:
                segment.close()
            if cut_after:
                break
        if removed:
            self._layer.fsync_dir(self.directory)
        self._segments = kept
        self.recovery_report = RecoveryReport(
            clean=False, segments_scanned=scanned, bytes_truncated=truncated,
            indexes_rebuilt=rebuilt, segments_removed=removed,
        )

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

    def _check_usable(self) -> None:
        if self._failure is not None:
            raise LogClosed(f"{self.directory} failed earlier and must be reopened: "
                            f"{self._failure}") from self._failure
        if self._closed:
            raise LogClosed(f"{self.directory} is closed")

    def _out_of_range(self, offset: int, valid: str) -> OffsetOutOfRange:
        return OffsetOutOfRange(offset, log_start_offset=self._log_start,
                                log_end_offset=self._log_end, valid=valid, topic=self._topic,
                                partition=self._partition)

    # --- appending --------------------------------------------------------------------------------

    def append(self, records: Sequence[Record]) -> AppendResult:
        """Encode `records` as one batch and append it (LOG-2, LOG-3)."""
        self._check_usable()
        batch = list(records)
        if not batch:
            raise EmptyBatch
        for record in batch:
            validate_record(record)
        data = encode_batch(self._log_end, batch)
        return self._append((data,), decode_batch_header(data))

    def append_encoded(self, batch: bytes | bytearray | memoryview) -> AppendResult:
        """Append one already-encoded RecordBatch v2; its base offset is rewritten.

        Checks the framing and CRC, no per-record work: this is the hot path.
        """
        self._check_usable()
        header = decode_batch_header(batch, source="appended batch")
        if header.size != len(batch):
            raise InvalidRecord(
                f"appended batch is {len(batch)} bytes but its header says {header.size}"
            )
        if header.compression not in (COMPRESSION_NONE, COMPRESSION_GZIP):
            raise InvalidRecord(f"compression codec {header.compression} is not supported")
        if header.base_timestamp < 0 or header.max_timestamp < header.base_timestamp:
            raise InvalidRecord(
                f"batch timestamps base={header.base_timestamp} max={header.max_timestamp} "
                "are not valid"
            )
        verify_batch_crc(batch, 0, header, source="appended batch")
        # Written as the new baseOffset plus the rest of the caller's bytes: no copy of the batch.
        parts = (encode_base_offset(self._log_end), memoryview(batch)[8:])
        return self._append(parts, attrs.evolve(header, base_offset=self._log_end))

    def _append(self, parts: Sequence[bytes | bytearray | memoryview],
                header: BatchHeader, *, replicated: bool = False) -> AppendResult:
        if header.size > self.config.max_batch_bytes:
            raise RecordTooLarge(header.size, self.config.max_batch_bytes)
        if header.next_offset > _OFFSET_MAX:
            raise self._out_of_range(header.last_offset, "a batch's last offset must leave "
                                                         "log_end_offset < 2**63 (LOG-13)")
        parts, header = self._stamped(parts, header, replicated)
        now = self._clock()
        try:
            self._maybe_roll(header, now)
            self._active.append(parts, header)
        except StorageError as exc:
            self._failure = exc
            raise
        self._log_end = header.next_offset
        self._replica.appended(header.partition_leader_epoch, header.base_offset)
        self._unflushed_records += header.records_count
        flush_messages, flush_ms = self.config.flush_messages, self.config.flush_ms
        if (flush_messages is not None and self._unflushed_records >= flush_messages) or (
            flush_ms is not None and now - self._last_flush_ms >= flush_ms
        ):
            self.flush()
        return AppendResult(header.base_offset, header.last_offset)

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
        try:
            self._replica.advance_high_watermark(offset, self._log_start, self._log_end)
        except StorageError as exc:
            self._failure = exc
            raise

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

    def flush(self) -> None:
        """Make every appended record durable (DUR-2)."""
        self._check_usable()
        try:
            self._active.log.fsync()
        except StorageError as exc:
            self._failure = exc
            raise
        self._durable = self._log_end
        self._unflushed_records = 0
        self._last_flush_ms = self._clock()

    def close(self) -> None:
        """Flush, trim the active indexes and write the clean-shutdown marker (DUR-4).

        Files are closed and the directory lock released even if that fails; a failed log is
        closed without a marker, so its next open recovers it.
        """
        if self._closed:
            return
        self._closed = True
        try:
            if self._failure is None:
                self._active.log.fsync()
                active = self._active
                active.trim_indexes()
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
        records = self._records_from(offset)
        if up_to_high_watermark:
            high_watermark = self.high_watermark
            records = itertools.takewhile(lambda r: r.offset < high_watermark, records)
        return _take(records, max_records, max_bytes)

    def _records_from(self, offset: int) -> Iterator[StoredRecord]:
        index = self._segment_index(offset)
        while index < len(self._segments) and offset < self._log_end:
            segment = self._segments[index]
            end = self._segment_end(index)
            for position, header, data in segment.scan(segment.start_position(offset), end,
                                                       with_bytes=True):
                if header.next_offset <= offset:
                    continue
                assert data is not None
                for record in segment.decode(data, position):
                    if record.offset >= offset:
                        yield record
                offset = header.next_offset
            index += 1

    def read_raw(self, offset: int, max_bytes: int, *,
                 up_to_high_watermark: bool = False) -> bytes:
        """Whole stored batches from the one holding `offset`, as bytes (a Kafka fetch).

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
        index = self._segment_index(offset)
        segment = self._segments[index]
        end = self._segment_end(index)
        found = next(segment.batches_from(offset, end), None)
        if found is None:
            return b""
        position, header = found
        # One read of up to max_bytes (or the first batch whole), then cut after the last batch
        # that fits: no byte is read twice.
        data = segment.log.pread(min(max(max_bytes, header.size), end - position), position)
        data = data[: whole_batches_length(data)]
        return whole_batches_below(data, self.high_watermark) if up_to_high_watermark else data

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
        return _take(self._records_backward(offset), max_records, max_bytes)

    def _records_backward(self, offset: int) -> Iterator[StoredRecord]:
        """Walk back one index interval at a time: scan it forward, then yield it in reverse."""
        index = self._segment_index(offset)
        target = offset
        while index >= 0 and target >= self._log_start:
            segment = self._segments[index]
            end = self._segment_end(index)
            while target >= max(segment.base_offset, self._log_start):
                batches: list[tuple[int, BatchHeader]] = []
                for position, header, _ in segment.scan(segment.start_position(target), end):
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
        if isinstance(timestamp, bool) or not isinstance(timestamp, int):
            raise InvalidArgument("timestamp", timestamp, "an integer number of milliseconds")
        self._check_usable()
        if self._log_start == self._log_end:
            return None
        if self._sealed_max is None:
            running = NO_TIMESTAMP
            self._sealed_max = []
            for segment in self._segments[:-1]:
                running = max(running, segment.max_timestamp())
                self._sealed_max.append(running)
        # The first segment whose running maximum reaches `timestamp` is the first that can hold
        # the answer; only the first segment can hold records below the log start.
        index = bisect.bisect_left(self._sealed_max, timestamp)
        while index < len(self._segments):
            segment = self._segments[index]
            if segment.max_timestamp() >= timestamp:
                found = segment.offset_for_timestamp(
                    timestamp, max(self._log_start, segment.base_offset), self._segment_end(index)
                )
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
            found = next(segment.batches_from(offset, self._segment_end(index)), None)
            if found is not None:
                position, batch_base = found[0], found[1].base_offset
        if offset not in (batch_base, self._log_start):
            raise InvalidOffset(offset, f"not a batch boundary: the batch holding it starts at "
                                        f"{batch_base}")
        try:
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
                self._activate(segment, policy)
            self._log_end = offset
            self._durable = min(self._durable, offset)
            # After the log: a crash in between leaves entries past the end, which open cuts.
            self._replica.truncated(offset)
        except StorageError as exc:
            self._failure = exc
            raise

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
        write_checkpoint(self._layer, self._path(LOG_START_OFFSET_FILE), (offset,))
        self._log_start = offset
        self._replica.start_moved(offset, self._log_end)
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
        if isinstance(now, bool) or not isinstance(now, int):
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
        if self._closed:
            raise LogClosed(f"{self.directory} is closed")
        if verify and self._failure is None:
            self._index_check = IndexCheck(checked_ms=self._clock(),
                                           mismatches=tuple(self.index_mismatches()))
        total = sum(segment.size for segment in self._segments)
        offset_entries = sum(segment.offset_index.entries for segment in self._segments)
        time_entries = sum(segment.time_index.entries for segment in self._segments)
        mib = total / _MIB
        return PartitionHealth(
            state="online" if self._failure is None else "failed",
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
