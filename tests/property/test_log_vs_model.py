"""FlyQ's disk log against the reference model, through the reusable lockstep machine."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile

from flyq.api import AppendResult, LogInterface
from flyq.codec.record_batch import iter_batch_headers
from flyq.codec.segment_name import LOG_SUFFIX, segment_name
from flyq.impl import LogConfig, OsFileLayer, PartitionLog, SegmentInfo
from flyq.impl.filelayer import FileHandle, FileLock, MappedFile
from flyq.testing import FailingFsyncLayer, LogHarness, make_log_machine


class _KillableFileLayer(OsFileLayer):
    """The real file layer, remembering open files so a "kill" can drop them all at once.

    Closing descriptors and maps without a flush is what the kernel does to a killed process:
    every write it accepted stays in the page cache and so in the file.
    """

    def __init__(self) -> None:
        self.handles: list[FileHandle] = []
        self.maps: list[MappedFile] = []
        self.locks: list[FileLock] = []

    def lock(self, path: str) -> FileLock:
        held = super().lock(path)
        self.locks.append(held)
        return held

    def open(self, path: str, *, create: bool) -> FileHandle:
        handle = super().open(path, create=create)
        self.handles.append(handle)
        original_map = handle.map

        def tracked_map() -> MappedFile:
            mapped = original_map()
            self.maps.append(mapped)
            return mapped

        handle.map = tracked_map  # type: ignore[method-assign]
        return handle

    def kill(self) -> None:
        for mapped in self.maps:
            mapped.close()
        for handle in self.handles:
            handle.close()
        for held in self.locks:
            held.release()
        self.maps.clear()
        self.handles.clear()
        self.locks.clear()


def _scratch() -> str | None:
    """tmpfs when there is one: these are real files, and fsync there costs nothing."""
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


class DiskLogHarness:
    """Drives `PartitionLog` in a temporary directory with a controlled clock."""

    def __init__(self, settings: dict[str, int | None]) -> None:
        self.directory = tempfile.mkdtemp(prefix="flyq-prop-", dir=_scratch())
        config = dict(settings)
        self.high_watermark_follows_end = bool(config.pop("high_watermark_follows_end", True))
        self.config = LogConfig(**config)
        self.now = 1_000_000
        self.layer = _KillableFileLayer()
        self.faults = FailingFsyncLayer(self.layer)

    def _clock(self) -> int:
        return self.now

    def open(self) -> LogInterface:
        return PartitionLog.open(self.directory, self.config, file_layer=self.faults,
                                 clock=self._clock,
                                 high_watermark_follows_end=self.high_watermark_follows_end)

    def close(self, log: LogInterface) -> None:
        assert isinstance(log, PartitionLog)
        log.close()

    def crash(self, log: LogInterface) -> None:
        self.layer.kill()

    def append_encoded(self, log: LogInterface, batch: bytes) -> AppendResult:
        assert isinstance(log, PartitionLog)
        return log.append_encoded(batch)

    def read_raw(self, log: LogInterface, offset: int, max_bytes: int) -> bytes:
        assert isinstance(log, PartitionLog)
        return log.read_raw(offset, max_bytes)

    def fail_next_fsync(self) -> bool:
        self.faults.fail_next_fsync()
        return True

    def cancel_fsync_failure(self) -> None:
        self.faults.disarm()

    def durable_offset(self, log: LogInterface) -> int:
        assert isinstance(log, PartitionLog)
        return log.durable_offset

    def flush(self, log: LogInterface) -> None:
        assert isinstance(log, PartitionLog)
        log.flush()
        assert log.durable_offset == log.log_end_offset

    def advance_clock(self, milliseconds: int) -> None:
        self.now += milliseconds

    def apply_retention(self, log: LogInterface, now_ms: int | None = None) -> int | None:
        assert isinstance(log, PartitionLog)
        now = self.now if now_ms is None else now_ms
        before = log.segments
        expected_deleted = self._retention_by_rule(before, now, log.high_watermark)
        result = log.apply_retention(now)
        after = log.segments
        assert result.segments_deleted == expected_deleted, (
            f"RET-1 deletes {expected_deleted} segments, retention deleted "
            f"{result.segments_deleted}")
        assert result.log_start_offset == log.log_start_offset
        # RET-1: whole sealed segments, oldest first; the active one stays.
        assert before[result.segments_deleted:] == after
        assert all(segment.sealed for segment in before[: result.segments_deleted])
        assert result.bytes_freed == sum(s.size for s in before[: result.segments_deleted])
        if result.segments_deleted:
            # RET-3: the new start is the first kept segment's base.
            assert result.log_start_offset == after[0].base_offset
        # RET-4: at the same clock, a second run deletes nothing.
        again = log.apply_retention(now)
        assert (again.segments_deleted, again.log_start_offset) == (0, result.log_start_offset)
        return result.log_start_offset

    def _newest_timestamp(self, base_offset: int) -> int:
        """The largest record timestamp in a segment, read from its `.log` by the codec."""
        with open(os.path.join(self.directory, segment_name(base_offset, LOG_SUFFIX)),
                  "rb") as handle:
            data = handle.read()
        return max((header.max_timestamp for _, header in iter_batch_headers(data)), default=-1)

    def _retention_by_rule(self, segments: list[SegmentInfo], now: int,
                           high_watermark: int) -> int:
        """How many segments RET-1 deletes, worked out from the segment files and the config."""
        retention_ms, retention_bytes = self.config.retention_ms, self.config.retention_bytes
        remaining = sum(segment.size for segment in segments)
        deleted = 0
        for segment, following in itertools.pairwise(segments):
            if following.base_offset > high_watermark:
                break
            expired = (retention_ms is not None
                       and self._newest_timestamp(segment.base_offset) < now - retention_ms)
            surplus = retention_bytes is not None and remaining - segment.size >= retention_bytes
            if not (expired or surplus):
                break
            remaining -= segment.size
            deleted += 1
        return deleted

    def problems(self, log: LogInterface) -> list[str]:
        assert isinstance(log, PartitionLog)
        problems = log.index_mismatches()
        if not log.log_start_offset <= log.durable_offset <= log.log_end_offset:
            problems.append(f"durable_offset {log.durable_offset} outside the log")
        return problems

    def cleanup(self) -> None:
        assert not self.faults.armed, "an injected fsync failure was never taken"
        self.layer.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


def _harness(settings: dict[str, int | None]) -> LogHarness:
    return DiskLogHarness(settings)


TestDiskLogAgreesWithModel = make_log_machine(_harness).TestCase
