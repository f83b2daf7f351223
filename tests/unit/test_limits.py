"""Every time and size limit of `LogConfig` at the limit, one below and one above.

Each expectation is worked out by hand from the rule its invariant states (spec/log.md SEG-2,
DUR-2, RET-1; spec/format.md §1, §2.2, §2.3 and the `config` table), never read from the code.
Batch sizes come from the codec: a one-record batch of a fixed record has a fixed size `Z`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flyq.codec.record_batch import encode_batch
from flyq.errors import InvalidConfig, RecordTooLarge
from flyq.impl import LogConfig, PartitionLog
from flyq.records import Record

T0 = 1_000_000
LIMIT_OFFSETS = (-1, 0, 1)


def _record(timestamp: int = T0, value: bytes = b"v" * 20) -> Record:
    return Record(value=value, key=b"k", timestamp=timestamp)


# The on-disk size of a batch holding `_record()` alone (batchLength + 12).
Z = len(encode_batch(0, [_record()]))


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def _open(path: Path, clock: Clock | None = None, **config: int | None) -> PartitionLog:
    return PartitionLog.open(str(path), LogConfig(**config), clock=clock or Clock())


def _bases(log: PartitionLog) -> list[int]:
    return [segment.base_offset for segment in log.segments]


# --- validation boundaries ------------------------------------------------------------------------

POSITIVE = ("segment_bytes", "segment_ms", "index_interval_bytes", "max_batch_bytes")
OPTIONAL = ("flush_messages", "flush_ms", "retention_ms", "retention_bytes")


@pytest.mark.parametrize("name", POSITIVE + OPTIONAL)
def test_each_limit_accepts_one_and_refuses_zero(name: str) -> None:
    """format.md config table: every limit is an integer >= 1 (>= 24 for index_max_bytes)."""
    assert getattr(LogConfig(**{name: 1}), name) == 1
    assert getattr(LogConfig(**{name: 2}), name) == 2
    with pytest.raises(InvalidConfig, match=name):
        LogConfig(**{name: 0})


@pytest.mark.parametrize("name", OPTIONAL)
def test_optional_limits_may_be_unset(name: str) -> None:
    """format.md config table: flush and retention limits are null (off) by default."""
    assert getattr(LogConfig(**{name: None}), name) is None


@pytest.mark.parametrize(("value", "accepted"), [(23, False), (24, True), (25, True)])
def test_index_max_bytes_minimum(value: int, accepted: bool) -> None:
    """format.md §2.3: index_max_bytes >= 24, room for two time-index entries."""
    if accepted:
        assert LogConfig(index_max_bytes=value).index_max_bytes == value
    else:
        with pytest.raises(InvalidConfig, match="index_max_bytes"):
            LogConfig(index_max_bytes=value)


@pytest.mark.parametrize(("value", "accepted"),
                         [((1 << 31) - 2, True), ((1 << 31) - 1, True), (1 << 31, False)])
def test_segment_bytes_maximum(value: int, accepted: bool) -> None:
    """format.md config table: segment_bytes <= 2^31 - 1 (index positions are u32, Kafka int32)."""
    if accepted:
        assert LogConfig(segment_bytes=value).segment_bytes == value
    else:
        with pytest.raises(InvalidConfig, match="segment_bytes"):
            LogConfig(segment_bytes=value)


# --- behaviour at each limit ----------------------------------------------------------------------


@pytest.mark.parametrize(("delta", "second_rolls"), [(-1, True), (0, False), (1, False)])
def test_segment_bytes_boundary(tmp_path: Path, delta: int, second_rolls: bool) -> None:
    """SEG-2: a roll happens when the active size plus the batch would *exceed* segment_bytes;
    two batches exactly filling it share a segment."""
    with _open(tmp_path, segment_bytes=2 * Z + delta) as log:
        log.append([_record()])
        log.append([_record()])
        assert _bases(log) == ([0, 1] if second_rolls else [0])
        log.append([_record()])
        assert _bases(log)[-1] == 2, "a third batch never fits with two"


@pytest.mark.parametrize(("delta", "rolls"), [(-1, False), (0, True), (1, True)])
def test_segment_ms_boundary(tmp_path: Path, delta: int, rolls: bool) -> None:
    """SEG-2: the active segment rolls once its age is *at least* segment_ms."""
    clock = Clock()
    with _open(tmp_path, clock, segment_ms=500) as log:
        log.append([_record()])
        clock.now += 500 + delta
        log.append([_record()])
        assert _bases(log) == ([0, 1] if rolls else [0])


@pytest.mark.parametrize(("delta", "entries"), [(-1, 1), (0, 1), (1, 0)])
def test_index_interval_bytes_boundary(tmp_path: Path, delta: int, entries: int) -> None:
    """format.md §2.2: a batch is an index point when the bytes since the last one *reach* the
    interval; after one batch of Z bytes, the second batch is a point iff interval <= Z."""
    with _open(tmp_path, index_interval_bytes=Z + delta) as log:
        log.append([_record(timestamp=T0)])
        log.append([_record(timestamp=T0 + 1)])
        health = log.health()
        assert (health.offset_index_entries, health.time_index_entries) == (entries, entries)


@pytest.mark.parametrize(("index_max_bytes", "bases"),
                         [(35, [0, 2]), (36, [0, 3]), (37, [0, 3])])
def test_index_max_bytes_boundary(tmp_path: Path, index_max_bytes: int, bases: list[int]) -> None:
    """format.md §2.3, SEG-2: time capacity floor(index_max_bytes / 12), one slot kept for the seal
    entry, so 35 bytes hold one time entry before the segment is full and 36 hold two (with the
    interval at 1 byte and rising timestamps, every batch after a segment's first is an entry)."""
    with _open(tmp_path, index_interval_bytes=1, index_max_bytes=index_max_bytes) as log:
        for i in range(4):
            log.append([_record(timestamp=T0 + i)])
        assert _bases(log) == bases


@pytest.mark.parametrize(("delta", "flushed"), [(-1, True), (0, True), (1, False)])
def test_flush_messages_boundary(tmp_path: Path, delta: int, flushed: bool) -> None:
    """DUR-2: the append that brings the unflushed records *to* flush_messages flushes."""
    with _open(tmp_path, flush_messages=3 + delta) as log:
        log.append([_record(), _record(), _record()])
        assert log.durable_offset == (3 if flushed else 0)


@pytest.mark.parametrize(("delta", "flushed"), [(-1, False), (0, True), (1, True)])
def test_flush_ms_boundary(tmp_path: Path, delta: int, flushed: bool) -> None:
    """DUR-2: an append flushes when *at least* flush_ms has passed since the last flush (open)."""
    clock = Clock()
    with _open(tmp_path, clock, flush_ms=100) as log:
        clock.now += 100 + delta
        log.append([_record()])
        assert log.durable_offset == (1 if flushed else 0)


@pytest.mark.parametrize(("delta", "accepted"), [(-1, False), (0, True), (1, True)])
@pytest.mark.parametrize("encoded", [False, True])
def test_max_batch_bytes_boundary(tmp_path: Path, delta: int, accepted: bool,
                                  encoded: bool) -> None:
    """format.md config table: a batch of exactly max_batch_bytes (batchLength + 12) is accepted,
    one byte more is refused with RecordTooLarge, by `append` and `append_encoded` alike."""
    with _open(tmp_path, max_batch_bytes=Z + delta) as log:
        def append() -> object:
            if encoded:
                return log.append_encoded(encode_batch(0, [_record()]))
            return log.append([_record()])

        if accepted:
            append()
            assert log.log_end_offset == 1
        else:
            with pytest.raises(RecordTooLarge):
                append()
            assert log.log_end_offset == 0


def _three_segments(path: Path, first_timestamp: int, **config: int | None) -> PartitionLog:
    """A log of three one-batch segments (two sealed) whose oldest has `first_timestamp`."""
    log = _open(path, segment_bytes=Z, **config)
    log.append([_record(timestamp=first_timestamp)])
    log.append([_record(timestamp=first_timestamp + 10_000)])
    log.append([_record(timestamp=first_timestamp + 10_000)])
    assert _bases(log) == [0, 1, 2]
    return log


@pytest.mark.parametrize(("delta", "deleted"), [(-1, 0), (0, 0), (1, 1)])
def test_retention_ms_boundary(tmp_path: Path, delta: int, deleted: int) -> None:
    """RET-1: a sealed segment expires only when its largest timestamp is *strictly older* than
    now - retention_ms; one exactly that old is kept."""
    with _three_segments(tmp_path, T0, retention_ms=1000) as log:
        result = log.apply_retention(now_ms=T0 + 1000 + delta)
        assert result.segments_deleted == deleted
        assert log.log_start_offset == deleted


@pytest.mark.parametrize(("delta", "deleted"), [(-1, 1), (0, 1), (1, 0)])
def test_retention_bytes_boundary(tmp_path: Path, delta: int, deleted: int) -> None:
    """RET-1: the oldest sealed segment is surplus when the log without it still holds *at least*
    retention_bytes (three segments of Z bytes: without the first, 2Z remain)."""
    with _three_segments(tmp_path, T0, retention_bytes=2 * Z + delta) as log:
        result = log.apply_retention(now_ms=T0)
        assert result.segments_deleted == deleted
        assert result.bytes_freed == deleted * Z
