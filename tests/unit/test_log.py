"""The disk log beyond the model: rolls, flush policy, raw reads, checks on the hot path."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from flyq.codec.checkpoint import encode_checkpoint
from flyq.codec.record_batch import decode_batch, encode_batch, iter_batch_headers
from flyq.errors import (
    ChecksumMismatch,
    CorruptRecordBatch,
    DirectoryLocked,
    EmptyBatch,
    InvalidArgument,
    InvalidConfig,
    InvalidOffset,
    InvalidRecord,
    LogClosed,
    LogFailed,
    OffsetOutOfRange,
    RecordTooLarge,
    StorageError,
)
from flyq.impl import LogConfig, OsFileLayer, PartitionLog
from flyq.impl.filelayer import FileHandle
from flyq.impl.log import LogState
from flyq.records import Record


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 5_000

    def __call__(self) -> int:
        return self.now


def _open(path: Path, clock: Clock | None = None, **config: int) -> PartitionLog:
    return PartitionLog.open(str(path), LogConfig(**config), clock=clock or Clock())


def test_offsets_are_dense_across_rolls(tmp_path: Path) -> None:
    """LOG-2, SEG-1: offsets continue across segment rolls and segment names are base offsets."""
    with _open(tmp_path, segment_bytes=300) as log:
        for i in range(20):
            assert log.append([Record(b"x" * 40, timestamp=i)]).base_offset == i
        bases = [segment.base_offset for segment in log.segments]
    assert len(bases) > 2
    names = sorted(path.name for path in tmp_path.glob("*.log"))
    assert names == [f"{base:020d}.log" for base in bases]


def test_oversized_batch_gets_its_own_segment(tmp_path: Path) -> None:
    """SEG-2: a batch larger than segment_bytes fills a new segment alone and reads back."""
    with _open(tmp_path, segment_bytes=200) as log:
        log.append([Record(b"small")])
        log.append([Record(b"B" * 1000)])
        log.append([Record(b"small again")])
        sizes = [segment.size for segment in log.segments]
        assert len(sizes) == 3 and sizes[1] > 1000
        assert [r.value for r in log.read(0)] == [b"small", b"B" * 1000, b"small again"]


def test_roll_on_age(tmp_path: Path) -> None:
    """SEG-2: a non-empty segment older than segment_ms rolls at the next append."""
    clock = Clock()
    with _open(tmp_path, clock, segment_ms=100) as log:
        log.append([Record(b"a")])
        clock.now += 99
        log.append([Record(b"b")])
        assert len(log.segments) == 1
        clock.now += 1
        log.append([Record(b"c")])
        assert [s.base_offset for s in log.segments] == [0, 2]


def test_roll_when_index_full(tmp_path: Path) -> None:
    """SEG-2: with room for three offset entries a segment rolls once they are used."""
    with _open(tmp_path, index_interval_bytes=1, index_max_bytes=24) as log:
        for _ in range(10):
            log.append([Record(b"v")])
        assert len(log.segments) > 1
        assert log.index_mismatches() == []


def test_flush_every_n_records(tmp_path: Path) -> None:
    """DUR-2: flush_messages=3 makes the log durable once 3 records are unflushed."""
    with _open(tmp_path, flush_messages=3) as log:
        log.append([Record(b"1"), Record(b"2")])
        assert log.durable_offset == 0
        log.append([Record(b"3")])
        assert log.durable_offset == 3


def test_flush_every_t_ms(tmp_path: Path) -> None:
    """DUR-2: flush_ms is checked at append; the first append after the interval flushes."""
    clock = Clock()
    with _open(tmp_path, clock, flush_ms=50) as log:
        log.append([Record(b"1")])
        assert log.durable_offset == 0
        clock.now += 50
        log.append([Record(b"2")])
        assert log.durable_offset == 2


def test_roll_makes_sealed_data_durable(tmp_path: Path) -> None:
    """DUR-2: a roll fsyncs the sealed segment, so durable_offset reaches the new base."""
    with _open(tmp_path, segment_bytes=150) as log:
        log.append([Record(b"a" * 80)])
        log.append([Record(b"b" * 80)])
        assert log.durable_offset == 1
        log.flush()
        assert log.durable_offset == 2


def test_read_raw_returns_whole_batches(tmp_path: Path) -> None:
    """read_raw hands back whole stored batches, at least one, within max_bytes otherwise."""
    with _open(tmp_path) as log:
        for i in range(5):
            log.append([Record(b"%d-%d" % (i, j), timestamp=i) for j in range(3)])
        one = log.read_raw(4, 1)
        headers = list(iter_batch_headers(one, verify_crc=True))
        assert [header.base_offset for _, header in headers] == [3]
        everything = log.read_raw(0, 1 << 20)
        offsets = [r.offset for _, h in iter_batch_headers(everything)
                   for r in decode_batch(everything, _).records]
        assert offsets == list(range(15))
        assert log.read_raw(15, 100) == b""
        two = log.read_raw(0, len(one) * 2)
        assert len(list(iter_batch_headers(two))) == 2


def test_append_encoded_rewrites_base_offset(tmp_path: Path) -> None:
    """An already-encoded batch is stored at the log end whatever base offset it carried."""
    with _open(tmp_path) as log:
        log.append([Record(b"first")])
        result = log.append_encoded(encode_batch(999, [Record(b"a"), Record(b"b")]))
        assert (result.base_offset, result.last_offset) == (1, 2)
        assert [(r.offset, r.value) for r in log.read(0)] == [(0, b"first"), (1, b"a"), (2, b"b")]


def test_append_encoded_refuses_bad_bytes(tmp_path: Path) -> None:
    """A corrupt or mis-sized encoded batch is refused with a FlyQ error and nothing is stored."""
    batch = bytearray(encode_batch(0, [Record(b"payload")]))
    flipped = bytearray(batch)
    flipped[-1] ^= 1
    with _open(tmp_path) as log:
        with pytest.raises(ChecksumMismatch):
            log.append_encoded(bytes(flipped))
        with pytest.raises(CorruptRecordBatch, match="batchLength"):
            log.append_encoded(bytes(batch) + b"\x00")
        with pytest.raises(CorruptRecordBatch):
            log.append_encoded(bytes(batch[:30]))
        assert log.log_end_offset == 0


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    """LOG-3, LOG-5: empty batches, bad records, bad limits and offsets raise FlyQ errors."""
    with _open(tmp_path) as log:
        with pytest.raises(EmptyBatch):
            log.append([])
        with pytest.raises(InvalidRecord):
            log.append([Record(b"x", timestamp=-5)])
        with pytest.raises(InvalidRecord):
            log.append([Record("text")])  # type: ignore[arg-type]
        log.append([Record(b"ok")])
        with pytest.raises(InvalidArgument):
            log.read(0, max_records=0)
        with pytest.raises(OffsetOutOfRange) as caught:
            log.read(5)
        assert (caught.value.log_start_offset, caught.value.log_end_offset) == (0, 1)
        with pytest.raises(OffsetOutOfRange):
            log.read_backward(1)


def test_truncate_inside_batch_is_refused(tmp_path: Path) -> None:
    """LOG-10: truncation inside a batch raises InvalidOffset and keeps the log."""
    with _open(tmp_path) as log:
        log.append([Record(b"a"), Record(b"b"), Record(b"c")])
        with pytest.raises(InvalidOffset):
            log.truncate(1)
        assert log.log_end_offset == 3


def test_batch_over_limit_is_refused(tmp_path: Path) -> None:
    """A batch above max_batch_bytes raises RecordTooLarge naming both sizes."""
    with _open(tmp_path, max_batch_bytes=100) as log:
        with pytest.raises(RecordTooLarge) as caught:
            log.append([Record(b"z" * 200)])
        assert caught.value.limit == 100 and caught.value.size > 200


def test_closed_log_refuses_use(tmp_path: Path) -> None:
    """A closed log raises LogClosed rather than touching closed files."""
    log = _open(tmp_path)
    log.close()
    with pytest.raises(LogClosed):
        log.append([Record(b"late")])
    log.close()


def test_config_is_validated() -> None:
    """Out-of-range configuration raises InvalidConfig naming the key."""
    with pytest.raises(InvalidConfig) as caught:
        LogConfig(segment_bytes=0)
    assert caught.value.key == "segment_bytes"
    with pytest.raises(InvalidConfig):
        LogConfig(index_max_bytes=8)


def test_delete_records_below_persists_and_removes_segments(tmp_path: Path) -> None:
    """LOG-11: the new log start survives reopen and whole segments below it are deleted."""
    with _open(tmp_path, segment_bytes=200) as log:
        for i in range(30):
            log.append([Record(b"r%02d" % i + b"." * 30)])
        before = len(log.segments)
        log.delete_records_below(17)
        assert len(log.segments) < before
        assert all(s.base_offset <= 17 for s in log.segments[:1])
    with _open(tmp_path, segment_bytes=200) as log:
        assert log.log_start_offset == 17
        assert log.read(17, max_records=1)[0].value == b"r17" + b"." * 30
        with pytest.raises(OffsetOutOfRange):
            log.read(16)


def test_timestamp_seek_with_non_monotonic_timestamps(tmp_path: Path) -> None:
    """LOG-8: the first offset with timestamp >= T, not a binary search over records."""
    timestamps = [50, 10, 90, 20, 90, 5, 100, 0]
    with _open(tmp_path, segment_bytes=160, index_interval_bytes=1) as log:
        for ts in timestamps:
            log.append([Record(b"v" * 20, timestamp=ts)])
        assert len(log.segments) > 2
        for target in [0, 6, 11, 50, 51, 90, 91, 100, 101]:
            expected = next((i for i, ts in enumerate(timestamps) if ts >= target), None)
            assert log.offset_for_timestamp(target) == expected, target


def test_clean_reopen_keeps_time_index_with_timestamp_zero(tmp_path: Path) -> None:
    """DUR-4, IDX-1: a last time entry stamped 0 survives a clean reopen without a duplicate."""
    config = {"index_interval_bytes": 1}
    with _open(tmp_path, **config) as log:
        log.append([Record(b"a", timestamp=0)])
        log.append([Record(b"b", timestamp=0)])
    with _open(tmp_path, **config) as log:
        assert log.recovery_report.clean
        log.append([Record(b"c", timestamp=0)])
        assert log.index_mismatches() == []


def test_log_start_past_recovered_end_is_reported(tmp_path: Path) -> None:
    """A log start beyond the recovered end restarts the log there and says so in the report."""
    with _open(tmp_path) as log:
        log.append([Record(b"a")])
    (tmp_path / "log-start-offset").write_bytes(encode_checkpoint((40,)))
    (tmp_path / "clean-shutdown").unlink()
    with _open(tmp_path) as log:
        assert (log.log_start_offset, log.log_end_offset) == (40, 40)
        assert any("restarts empty" in p for p in log.recovery_report.problems)


def test_second_open_of_a_directory_is_refused(tmp_path: Path) -> None:
    """One owner per partition directory: a second open raises DirectoryLocked until close."""
    log = _open(tmp_path)
    with pytest.raises(DirectoryLocked) as caught:
        _open(tmp_path)
    assert caught.value.directory == str(tmp_path)
    log.close()
    with _open(tmp_path) as again:
        assert again.recovery_report.clean


def test_errors_survive_pickling() -> None:
    """FlyQ errors cross process boundaries with their message and attributes intact."""
    error = OffsetOutOfRange(9, log_start_offset=1, log_end_offset=5, valid="reads", topic="t",
                             partition=2)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is OffsetOutOfRange
    assert str(copy) == str(error)
    assert (copy.offset, copy.log_end_offset, copy.topic) == (9, 5, "t")


def test_dropped_log_releases_its_directory(tmp_path: Path) -> None:
    """A log dropped without close() no longer locks its directory; the next open recovers."""
    log = _open(tmp_path)
    log.append([Record(b"kept")])
    del log
    with _open(tmp_path) as again:
        assert not again.recovery_report.clean
        assert [r.value for r in again.read(0)] == [b"kept"]


class _ReadTrackingLayer(OsFileLayer):
    """The real file layer, remembering where `.log` files are read from."""

    def __init__(self) -> None:
        self.log_read_positions: list[int] = []

    def open(self, path: str, *, create: bool) -> FileHandle:
        handle = super().open(path, create=create)
        if path.endswith(".log"):
            original = handle.pread

            def tracked(size: int, position: int) -> bytes:
                self.log_read_positions.append(position)
                return original(size, position)

            handle.pread = tracked  # type: ignore[method-assign]
        return handle


def test_finding_a_start_scans_at_most_one_index_interval(tmp_path: Path) -> None:
    """IDX-4: reads, raw reads and timestamp seeks start scanning at most one index interval
    (plus a batch) before the batch they are after, never at the segment's start."""
    interval = 2048
    config = LogConfig(index_interval_bytes=interval)
    count = 3000
    with PartitionLog.open(str(tmp_path), config) as log:
        for i in range(count):
            log.append([Record(b"v" * 40, timestamp=1000 + i)])
    layer = _ReadTrackingLayer()
    with PartitionLog.open(str(tmp_path), config, file_layer=layer) as log:
        batch = len(log.read_raw(0, 1))
        assert log.segments[0].size == count * batch  # equal-sized batches: offset i at i * batch
        operations = {
            "read": lambda o: log.read(o, max_records=1)[0].offset,
            "read_raw": lambda o: o if log.read_raw(o, batch) else None,
            "seek": lambda o: log.offset_for_timestamp(1000 + o),
            "read_backward": lambda o: log.read_backward(o, max_records=1)[0].offset,
        }
        for name, operation in operations.items():
            for offset in (1, 700, 1500, 2999):
                layer.log_read_positions.clear()
                assert operation(offset) == offset, name
                earliest = min(layer.log_read_positions)
                assert offset * batch - earliest <= interval + batch, (name, offset, earliest)


def test_roll_when_offset_index_full_and_time_index_not(tmp_path: Path) -> None:
    """SEG-2: equal timestamps keep the time index nearly empty; a full offset index alone rolls."""
    config = LogConfig(index_interval_bytes=1, index_max_bytes=48)  # 6 offset entries, 4 time
    with PartitionLog.open(str(tmp_path), config) as log:
        for _ in range(20):
            log.append([Record(b"same", timestamp=7)])
        assert len(log.segments) >= 3
        assert log.index_mismatches() == []
    for index in tmp_path.glob("*.index"):
        assert index.stat().st_size <= 48


def test_batches_straddling_read_chunks(tmp_path: Path) -> None:
    """LOG-4, LOG-6..8, REC-2: batches larger than and straddling the 256 KiB read chunks read
    back whole, forwards, backwards, by timestamp and through unclean recovery."""
    sizes = [70_000, 300_000, 5, 190_000, 260_000, 1, 120_000]
    values = [bytes([i % 251]) * size for i, size in enumerate(sizes)]
    with _open(tmp_path, index_interval_bytes=100_000) as log:
        for i, value in enumerate(values):
            log.append([Record(value, timestamp=10 * i), Record(b"tail-%d" % i, timestamp=10 * i)])
    (tmp_path / "clean-shutdown").unlink()
    with _open(tmp_path, index_interval_bytes=100_000) as log:
        assert log.recovery_report.bytes_truncated == 0
        expected = [v for i, value in enumerate(values) for v in (value, b"tail-%d" % i)]
        assert [r.value for r in log.read(0)] == expected
        assert [r.value for r in log.read_backward(13)] == expected[::-1]
        for i in range(len(values)):
            assert log.offset_for_timestamp(10 * i) == 2 * i
            assert [r.value for r in log.read(2 * i, max_records=1)] == [values[i]]
        assert log.index_mismatches() == []


class _FailingLayer(OsFileLayer):
    """The real file layer, whose renames fail (a full disk, say) once `failing` is set."""

    def __init__(self) -> None:
        self.failing = False

    def rename(self, source: str, target: str) -> None:
        if self.failing:
            raise StorageError("rename (injected)", source)
        super().rename(source, target)


def _every_operation(log: PartitionLog) -> list[Callable[[], object]]:
    return [lambda: log.append([Record(b"x")]), lambda: log.read(0), lambda: log.read_raw(0, 10),
            lambda: log.read_backward(0), lambda: log.offset_for_timestamp(0), log.flush,
            lambda: log.truncate(1), lambda: log.delete_records_below(1), log.apply_retention]


def test_storage_error_after_flush_in_delete_records_below_fails_the_log(tmp_path: Path) -> None:
    """REC-14: a storage error inside the log (here the checkpoint write after
    delete_records_below's flush) puts it in the failed state: every operation then raises
    LogFailed naming the cause, health says "failed", and close writes no marker."""
    layer = _FailingLayer()
    log = PartitionLog.open(str(tmp_path), LogConfig(segment_bytes=200), file_layer=layer,
                            clock=Clock())
    for i in range(10):
        log.append([Record(b"r%d" % i + b"." * 30, timestamp=i)])
    layer.failing = True
    with pytest.raises(StorageError):
        log.delete_records_below(3)
    layer.failing = False
    assert log.state is LogState.FAILED
    for operation in _every_operation(log):
        with pytest.raises(LogFailed) as caught:
            operation()
        assert isinstance(caught.value.__cause__, StorageError)
        assert "rename (injected)" in str(caught.value)
    assert log.health().state == "failed"
    log.close()
    assert log.state is LogState.CLOSED
    assert not (tmp_path / "clean-shutdown").exists()
    with pytest.raises(LogClosed):
        log.read(0)
    with PartitionLog.open(str(tmp_path), LogConfig(segment_bytes=200)) as reopened:
        assert not reopened.recovery_report.clean
        assert [r.offset for r in reopened.read(reopened.log_start_offset)][-1] == 9


def test_missing_sealed_log_is_not_recreated_empty(tmp_path: Path) -> None:
    """REC-14: a sealed `.log` that vanished under a running log is a storage error (the log
    fails) and is not re-created empty, which would make reads skip its offsets."""
    log = PartitionLog.open(str(tmp_path), LogConfig(segment_bytes=200), clock=Clock())
    for i in range(10):
        log.append([Record(b"r%d" % i + b"." * 30, timestamp=i)])
    first = sorted(tmp_path.glob("*.log"))[0]
    first.unlink()
    with pytest.raises(StorageError):
        log.read(0)
    assert not first.exists()
    with pytest.raises(LogFailed):
        log.read(0)
    log.close()


@pytest.mark.parametrize("clean", [True, False])
def test_segment_age_counts_from_creation_across_reopen(tmp_path: Path, clean: bool) -> None:
    """SEG-2: the active segment's age counts from its creation, not from the last open."""
    clock = Clock()
    clock.now = 0
    config = {"segment_ms": 1000}
    with _open(tmp_path, clock, **config) as log:
        clock.now = 100
        log.append([Record(b"a", timestamp=1)])
        clock.now = 1100
        log.append([Record(b"b", timestamp=2)])  # 1100 ms after creation at 0: rolls
        assert len(log.segments) == 2
        clock.now = 1500
    if not clean:
        (tmp_path / "clean-shutdown").unlink()
    clock.now = 2000
    with _open(tmp_path, clock, **config) as log:
        clock.now = 2150  # 1050 ms after the second segment was created at 1100
        log.append([Record(b"c", timestamp=3)])
        assert [s.base_offset for s in log.segments] == [0, 1, 2]


def test_truncate_inside_the_active_segment_keeps_its_age(tmp_path: Path) -> None:
    """SEG-2: truncating inside the active segment does not make it younger."""
    clock = Clock()
    clock.now = 0
    with _open(tmp_path, clock, segment_ms=1000) as log:
        log.append([Record(b"a", timestamp=1)])
        log.append([Record(b"b", timestamp=2)])
        clock.now = 900
        log.truncate(1)
        clock.now = 1000
        log.append([Record(b"c", timestamp=3)])
        assert [s.base_offset for s in log.segments] == [0, 1]
