"""Retention, watermarks and partition health of the disk log (spec/log.md RET-1..4, HW-1, HLT-1..3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flyq.errors import InvalidConfig, LogClosed, LogFailed, OffsetOutOfRange, StorageError
from flyq.impl import LogConfig, OsFileLayer, PartitionLog, SegmentInfo
from flyq.impl.filelayer import FileHandle
from flyq.model import ModelLog
from flyq.records import Record

_MIB = 1 << 20


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: int = 100_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def _open(path: Path, clock: Clock, **config: int | None) -> PartitionLog:
    return PartitionLog.open(str(path), LogConfig(segment_bytes=300, **config), clock=clock)


def _append_all(log: PartitionLog, timestamps: list[int]) -> None:
    """One 40-byte record per batch, with the given timestamps."""
    for i, timestamp in enumerate(timestamps):
        log.append([Record(b"%03d" % i + b"." * 37, timestamp=timestamp)])


def _segment_max_timestamps(segments: list[SegmentInfo], timestamps: list[int],
                            log_end: int) -> list[int]:
    """Largest written timestamp of each segment, from what the test appended (offset = index)."""
    ends = [s.base_offset for s in segments[1:]] + [log_end]
    return [max(timestamps[s.base_offset:end]) for s, end in zip(segments, ends, strict=True)]


def _log_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.glob("*.log"))


def test_retention_by_time_deletes_expired_sealed_segments(tmp_path: Path) -> None:
    """RET-1, RET-2: sealed segments whose largest timestamp is older than now - retention_ms go,
    oldest first, and the log start becomes the first kept segment's base."""
    clock = Clock()
    timestamps = [1_000 + i for i in range(12)] + [99_500 + i for i in range(12)]
    with _open(tmp_path, clock, retention_ms=5_000) as log:
        _append_all(log, timestamps)
        segments = log.segments
        assert len(segments) > 3
        maxima = _segment_max_timestamps(segments, timestamps, log.log_end_offset)
        expected = 0
        while expected < len(segments) - 1 and maxima[expected] < clock.now - 5_000:
            expected += 1
        assert 0 < expected < len(segments) - 1
        clock.now += 7
        result = log.apply_retention()
        assert result.segments_deleted == expected
        assert result.log_start_offset == log.log_start_offset == segments[expected].base_offset
        assert result.bytes_freed == sum(s.size for s in segments[:expected])
        assert log.segments == segments[expected:]
        assert log.log_end_offset == len(timestamps)
        assert [r.timestamp for r in log.read(log.log_start_offset)] == timestamps[
            segments[expected].base_offset :
        ]
        assert log.health().last_retention_ms == clock.now
    assert _log_files(tmp_path) == [f"{s.base_offset:020d}.log" for s in segments[expected:]]


def test_retention_by_time_stops_at_first_unexpired_segment(tmp_path: Path) -> None:
    """RET-1: an expired segment after an unexpired one stays: deletion is oldest first."""
    clock = Clock()
    timestamps = [99_000 + i for i in range(12)] + [10 + i for i in range(12)] + [99_900] * 4
    with _open(tmp_path, clock, retention_ms=5_000) as log:
        _append_all(log, timestamps)
        before = log.segments
        assert _segment_max_timestamps(before, timestamps, log.log_end_offset)[0] >= 95_000
        result = log.apply_retention()
        assert (result.segments_deleted, result.log_start_offset, result.bytes_freed) == (0, 0, 0)
        assert log.segments == before


def test_retention_by_size_keeps_at_least_retention_bytes(tmp_path: Path) -> None:
    """RET-1: the oldest sealed segments go while the rest still holds retention_bytes or more."""
    clock = Clock()
    with _open(tmp_path, clock, retention_bytes=700) as log:
        _append_all(log, [5] * 30)
        segments = log.segments
        remaining = sum(s.size for s in segments)
        expected = 0
        while expected < len(segments) - 1 and remaining - segments[expected].size >= 700:
            remaining -= segments[expected].size
            expected += 1
        assert 0 < expected < len(segments) - 1
        result = log.apply_retention()
        assert result.segments_deleted == expected
        assert result.log_start_offset == segments[expected].base_offset
        assert result.bytes_freed == sum(s.size for s in segments[:expected])
        kept = sum(s.size for s in log.segments)
        assert kept >= 700
        assert kept - log.segments[0].size < 700
        # RET-4: a second run at the same clock deletes nothing.
        again = log.apply_retention()
        assert (again.segments_deleted, again.log_start_offset) == (0, result.log_start_offset)


def test_retention_never_deletes_the_active_segment(tmp_path: Path) -> None:
    """RET-1: with every record expired and a tiny size limit, only the active segment stays and
    log_end_offset does not move."""
    clock = Clock(10**9)
    with _open(tmp_path, clock, retention_ms=1, retention_bytes=1) as log:
        _append_all(log, list(range(20)))
        segments = log.segments
        result = log.apply_retention()
        assert result.segments_deleted == len(segments) - 1
        assert log.segments == segments[-1:]
        assert not log.segments[0].sealed
        assert log.log_start_offset == segments[-1].base_offset
        assert log.log_end_offset == 20
        assert len(log.read(log.log_start_offset)) == 20 - segments[-1].base_offset


def test_retention_with_nothing_to_delete(tmp_path: Path) -> None:
    """RET-2: a run that deletes nothing changes nothing but records its time."""
    clock = Clock()
    with _open(tmp_path, clock, retention_ms=10**6, retention_bytes=10**6) as log:
        _append_all(log, [clock.now] * 20)
        segments, files = log.segments, _log_files(tmp_path)
        assert log.health().last_retention_ms is None
        result = log.apply_retention(now_ms=clock.now + 3)
        assert (result.segments_deleted, result.log_start_offset, result.bytes_freed) == (0, 0, 0)
        assert log.segments == segments
        assert _log_files(tmp_path) == files
        assert log.health().last_retention_ms == clock.now + 3
    with _open(tmp_path, clock) as log:
        # Retention off: a run is allowed and deletes nothing.
        assert log.apply_retention().segments_deleted == 0


def test_retention_start_survives_clean_reopen(tmp_path: Path) -> None:
    """RET-2, LOG-11: the log start retention sets survives a clean close and open."""
    clock = Clock()
    with _open(tmp_path, clock, retention_bytes=300) as log:
        _append_all(log, [1] * 20)
        start = log.apply_retention().log_start_offset
        assert start > 0
    with _open(tmp_path, clock) as log:
        assert log.recovery_report.clean
        assert log.log_start_offset == start == log.segments[0].base_offset
        assert log.read(start, max_records=1)[0].value == b"%03d" % start + b"." * 37


def test_retention_start_survives_unclean_reopen(tmp_path: Path) -> None:
    """RET-2, LOG-11: the log start retention sets survives a process that dies without close."""
    clock = Clock()
    log = _open(tmp_path, clock, retention_bytes=300)
    _append_all(log, [1] * 20)
    start = log.apply_retention().log_start_offset
    assert start > 0
    del log  # dropped without close: no clean-shutdown marker
    with _open(tmp_path, clock) as again:
        assert not again.recovery_report.clean
        assert again.log_start_offset == start == again.segments[0].base_offset
        assert again.log_end_offset == 20
        assert [r.offset for r in again.read(start)] == list(range(start, 20))


def test_read_below_start_after_retention_names_both_offsets(tmp_path: Path) -> None:
    """RET-3, LOG-5: a read below the start retention left raises OffsetOutOfRange naming the
    log start and log end offsets."""
    clock = Clock()
    with _open(tmp_path, clock, retention_bytes=300) as log:
        _append_all(log, [1] * 20)
        start = log.apply_retention().log_start_offset
        assert start > 0
        with pytest.raises(OffsetOutOfRange) as caught:
            log.read(start - 1)
    assert (caught.value.log_start_offset, caught.value.log_end_offset) == (start, 20)
    assert f"log_start_offset={start}" in str(caught.value)
    assert "log_end_offset=20" in str(caught.value)


def test_retention_config_is_validated() -> None:
    """RET-1: retention_ms and retention_bytes are None or integers >= 1."""
    for key in ("retention_ms", "retention_bytes"):
        for bad in (0, -1, True, "5"):
            with pytest.raises(InvalidConfig) as caught:
                LogConfig(**{key: bad})  # type: ignore[arg-type]
            assert caught.value.key == key
    assert LogConfig(retention_ms=1, retention_bytes=1).retention_bytes == 1


def test_high_watermark_is_log_end_offset(tmp_path: Path) -> None:
    """HW-1: on one node the high watermark equals log_end_offset, in the model and on disk."""
    model = ModelLog()
    with _open(tmp_path, Clock()) as log:
        for subject in (model, log):
            assert subject.high_watermark == 0
            subject.append([Record(b"a"), Record(b"b")])
            assert subject.high_watermark == subject.log_end_offset == 2
            subject.delete_records_below(1)
            assert subject.high_watermark == 2
            subject.truncate(1)
            assert subject.high_watermark == subject.log_end_offset == 1
        assert model.state.high_watermark == 1


def test_health_reports_what_was_written(tmp_path: Path) -> None:
    """HLT-2: offsets, sizes, index counts and density, flush and retention times, recovery."""
    clock = Clock()
    with _open(tmp_path, clock, index_interval_bytes=1, retention_bytes=400) as log:
        _append_all(log, list(range(25)))
        clock.now += 10
        log.flush()
        clock.now += 5
        log.apply_retention()
        clock.now += 5
        segments = log.segments
        health = log.health()
        total = sum(s.size for s in segments)
        assert health.state == "online" and health.failure is None
        assert health.segment_count == len(segments)
        assert health.total_bytes == total
        assert (health.log_start_offset, health.high_watermark, health.log_end_offset) == (
            segments[0].base_offset, 25, 25)
        assert health.durable_offset == 25
        # The retention run flushed (recovery.md 2.6): the last flush is its time.
        assert health.last_flush_ms == clock.now - 5
        assert health.last_retention_ms == clock.now - 5
        assert health.recovery_report.clean
        # index_interval_bytes=1 (format.md 2.2): every batch but a segment's first is an index
        # point; with rising timestamps each point gets a time entry, and each sealed segment a
        # seal entry. One record per batch, and the kept segments start at the log start.
        batches = 25 - segments[0].base_offset
        assert health.offset_index_entries == batches - len(segments)
        assert health.time_index_entries == batches - 1
        assert health.offset_index_entries_per_mib == pytest.approx(
            health.offset_index_entries / (total / _MIB))
        assert health.time_index_entries_per_mib == pytest.approx(
            health.time_index_entries / (total / _MIB))
        assert health.index_check is None


def test_health_verify_runs_the_index_check(tmp_path: Path) -> None:
    """HLT-3, IDX-1: verify=True runs index_mismatches and keeps its result and time."""
    clock = Clock()
    with _open(tmp_path, clock) as log:
        _append_all(log, [3] * 12)
        checked = log.health(verify=True).index_check
        assert checked is not None
        assert (checked.checked_ms, checked.mismatches) == (clock.now, ())
        clock.now += 50
        assert log.health().index_check == checked


def test_health_of_empty_log(tmp_path: Path) -> None:
    """HLT-1, HLT-2: an empty log has one empty segment, zero density, no retention run yet;
    a closed log refuses."""
    with _open(tmp_path, Clock()) as log:
        health = log.health()
    assert (health.segment_count, health.total_bytes, health.log_end_offset) == (1, 0, 0)
    assert health.offset_index_entries_per_mib == health.time_index_entries_per_mib == 0.0
    assert health.last_retention_ms is None
    with pytest.raises(LogClosed):
        log.health()


class _FailingFsyncLayer(OsFileLayer):
    """The real file layer, whose file fsyncs fail once `failing` is set."""

    def __init__(self) -> None:
        self.failing = False

    def open(self, path: str, *, create: bool) -> FileHandle:
        handle = super().open(path, create=create)
        original = handle.fsync

        def fsync() -> None:
            if self.failing:
                raise StorageError("fsync (injected)", path)
            original()

        handle.fsync = fsync  # type: ignore[method-assign]
        return handle


def test_health_reports_failed_state(tmp_path: Path) -> None:
    """HLT-1, HLT-3: after a storage error the log reports "failed" and why, and is not verified."""
    layer = _FailingFsyncLayer()
    log = PartitionLog.open(str(tmp_path), LogConfig(), file_layer=layer, clock=Clock())
    log.append([Record(b"x")])
    layer.failing = True
    with pytest.raises(StorageError):
        log.flush()
    health = log.health(verify=True)
    assert health.state == "failed"
    assert health.failure is not None and "fsync (injected)" in health.failure
    assert health.index_check is None
    with pytest.raises(LogFailed):
        log.apply_retention()
    log.close()


def test_retention_removes_a_sealed_segment_already_below_the_start(tmp_path: Path) -> None:
    """RET-1: a segment sealed wholly below the log start (start moved, then a roll) is deleted
    by the next retention run, and reported."""
    config = LogConfig(segment_bytes=200, retention_ms=50)
    with PartitionLog.open(str(tmp_path), config, clock=lambda: 10_000) as log:
        log.append([Record(b"x" * 60, timestamp=0)])
        log.delete_records_below(1)
        log.append([Record(b"y" * 160, timestamp=0)])
        assert [s.base_offset for s in log.segments] == [0, 1]
        result = log.apply_retention()
        assert (result.segments_deleted, result.log_start_offset) == (1, 1)
        assert [s.base_offset for s in log.segments] == [1]
        assert [r.value for r in log.read(1)] == [b"y" * 160]
