"""The disk log's argument checks, error facts, read limits and truncation across segments: the
properties a mutation run showed no other unit test pinned (spec/log.md, spec/replication-log.md)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from flyq.codec.checkpoint import decode_checkpoint, encode_checkpoint
from flyq.codec.index_entry import encode_offset_entry
from flyq.codec.record_batch import encode_batch
from flyq.errors import (
    FlyQError,
    InvalidArgument,
    InvalidOffset,
    LogClosed,
    OffsetOutOfRange,
    UnexpectedAppendOffset,
)
from flyq.impl import LogConfig, PartitionLog
from flyq.impl.log import SEGMENT_CREATED_FILE
from flyq.records import Record


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 5_000

    def __call__(self) -> int:
        return self.now


def _open(path: Path, *, replica: bool = False, **config: int) -> PartitionLog:
    return PartitionLog.open(str(path), LogConfig(**config), clock=Clock(), topic="orders",
                             partition=3, high_watermark_follows_end=not replica)


def _sized(tag: bytes) -> Record:
    """A record whose payload size (spec/log.md) is 2 + 3 + (1 + 1) = 7 bytes."""
    return Record(b"v" + tag + b"v", key=b"k" + tag[:1], headers=(("h", b"x"),))


def _check_invalid_argument(exc: InvalidArgument, name: str, value: object, fact: str) -> None:
    assert exc.name == name
    assert exc.value is value
    assert f"{name}={value!r}" in str(exc)
    assert fact in str(exc)


# --- argument checks: a bool is not an int, and the error names the argument ---------------------

_CALLS: dict[str, tuple[Callable[[PartitionLog, object], object], str, str]] = {
    "read offset": (lambda log, v: log.read(v), "offset", "integer"),
    "read max_records": (lambda log, v: log.read(0, max_records=v), "max_records", ">= 1"),
    "read max_bytes": (lambda log, v: log.read(0, max_bytes=v), "max_bytes", ">= 1"),
    "read_backward offset": (lambda log, v: log.read_backward(v), "offset", "integer"),
    "read_backward max_records": (lambda log, v: log.read_backward(0, max_records=v),
                                  "max_records", ">= 1"),
    "read_backward max_bytes": (lambda log, v: log.read_backward(0, max_bytes=v),
                                "max_bytes", ">= 1"),
    "read_raw offset": (lambda log, v: log.read_raw(v, 100), "offset", "integer"),
    "read_raw max_bytes": (lambda log, v: log.read_raw(0, v), "max_bytes", ">= 1"),
    "truncate": (lambda log, v: log.truncate(v), "offset", "integer"),
    "delete_records_below": (lambda log, v: log.delete_records_below(v), "offset", "integer"),
    "offset_for_timestamp": (lambda log, v: log.offset_for_timestamp(v), "timestamp",
                             "milliseconds"),
    "apply_retention": (lambda log, v: log.apply_retention(v), "now_ms", "milliseconds"),
    "end_offset_for_epoch": (lambda log, v: log.end_offset_for_epoch(v), "epoch", "int"),
    "become_leader": (lambda log, v: log.become_leader(v), "epoch", "2**31"),
    "advance_high_watermark": (lambda log, v: log.advance_high_watermark(v), "offset", "int"),
}


@pytest.mark.parametrize("call", _CALLS.values(), ids=list(_CALLS))
def test_a_bool_is_refused_where_an_int_is_expected(
    tmp_path: Path, call: tuple[Callable[[PartitionLog, object], object], str, str]
) -> None:
    """LOG-5, LOG-6: True is not an offset, limit, time or epoch; the error names the argument,
    the value and what was expected."""
    action, name, fact = call
    with _open(tmp_path, replica=True) as log:
        log.append([_sized(b"a"), _sized(b"b")])
        with pytest.raises(InvalidArgument) as caught:
            action(log, True)
        _check_invalid_argument(caught.value, name, True, fact)


@pytest.mark.parametrize("limit", ["max_records", "max_bytes"])
@pytest.mark.parametrize("backward", [False, True])
def test_a_zero_limit_is_refused(tmp_path: Path, limit: str, backward: bool) -> None:
    """LOG-6, LOG-7: max_records and max_bytes are integers >= 1; 0 names the limit."""
    with _open(tmp_path) as log:
        log.append([_sized(b"a")])
        read = log.read_backward if backward else log.read
        with pytest.raises(InvalidArgument) as caught:
            read(0, **{limit: 0})
        _check_invalid_argument(caught.value, limit, 0, ">= 1")
        with pytest.raises(InvalidArgument) as caught:
            log.read_raw(0, 0)
        _check_invalid_argument(caught.value, "max_bytes", 0, ">= 1")


def test_end_offset_for_epoch_refuses_a_non_int(tmp_path: Path) -> None:
    """EPOCH-8: the epoch asked about is an int; a str is refused naming the argument."""
    with _open(tmp_path) as log:
        with pytest.raises(InvalidArgument) as caught:
            log.end_offset_for_epoch("1")  # type: ignore[arg-type]
        _check_invalid_argument(caught.value, "epoch", "1", "int")


# --- OffsetOutOfRange names the offset, the range and the topic-partition -----------------------

_RANGES: dict[str, tuple[Callable[[PartitionLog], object], int, str]] = {
    "read": (lambda log: log.read(9), 9, "log_start_offset <= offset <= log_end_offset"),
    "read_raw": (lambda log: log.read_raw(9, 100), 9,
                 "log_start_offset <= offset <= log_end_offset"),
    "read_backward": (lambda log: log.read_backward(4), 4,
                      "log_start_offset <= offset < log_end_offset"),
    "truncate": (lambda log: log.truncate(9), 9, "log_start_offset <= offset <= log_end_offset"),
    "delete_records_below": (lambda log: log.delete_records_below(9), 9,
                             "0 <= offset <= log_end_offset"),
}


@pytest.mark.parametrize("call", _RANGES.values(), ids=list(_RANGES))
def test_out_of_range_errors_name_offset_range_and_partition(
    tmp_path: Path, call: tuple[Callable[[PartitionLog], object], int, str]
) -> None:
    """LOG-5, LOG-7, LOG-10, LOG-11: the error carries the offset, both log bounds, the accepted
    range and the topic-partition."""
    action, offset, valid = call
    with _open(tmp_path) as log:
        for tag in (b"a", b"b", b"c", b"d"):
            log.append([_sized(tag)])
        log.delete_records_below(1)
        with pytest.raises(OffsetOutOfRange) as caught:
            action(log)
    error = caught.value
    assert (error.offset, error.log_start_offset, error.log_end_offset) == (offset, 1, 4)
    assert (error.topic, error.partition) == ("orders", 3)
    message = str(error)
    assert f"offset {offset} " in message and "orders-3" in message
    assert valid in message
    assert "log_start_offset=1" in message and "log_end_offset=4" in message


def test_delete_above_the_high_watermark_names_it(tmp_path: Path) -> None:
    """HWM-4: delete_records_below past the high watermark is OffsetOutOfRange naming it."""
    with _open(tmp_path, replica=True) as log:
        log.append([_sized(b"a"), _sized(b"b"), _sized(b"c")])
        log.advance_high_watermark(1)
        with pytest.raises(OffsetOutOfRange) as caught:
            log.delete_records_below(2)
        assert caught.value.offset == 2
        assert "offset <= high_watermark 1" in str(caught.value) and "orders-3" in str(caught.value)
        assert log.log_start_offset == 0


def test_advance_high_watermark_error_names_the_bounds(tmp_path: Path) -> None:
    """HWM-3: past log_end_offset is OffsetOutOfRange naming offset, both bounds and the current
    high watermark; the high watermark stays."""
    with _open(tmp_path, replica=True) as log:
        log.append([_sized(b"a"), _sized(b"b"), _sized(b"c")])
        log.advance_high_watermark(2)
        log.delete_records_below(1)
        with pytest.raises(OffsetOutOfRange) as caught:
            log.advance_high_watermark(4)
        error = caught.value
        assert (error.offset, error.log_start_offset, error.log_end_offset) == (4, 1, 3)
        assert "from 2 " in str(error) and "log_end_offset" in str(error)
        assert log.high_watermark == 2


def test_advance_high_watermark_in_follows_end_mode_names_the_call(tmp_path: Path) -> None:
    """HWM-2: a log whose high watermark follows its end refuses an explicit advance."""
    with _open(tmp_path) as log:
        log.append([_sized(b"a")])
        with pytest.raises(InvalidArgument) as caught:
            log.advance_high_watermark(1)
        _check_invalid_argument(caught.value, "advance_high_watermark", 1, "high watermark")


def test_advance_high_watermark_to_where_it_is_is_allowed(tmp_path: Path) -> None:
    """HWM-3: only offset < high_watermark or > log_end_offset raise; the same offset is fine."""
    with _open(tmp_path, replica=True) as log:
        log.advance_high_watermark(0)
        log.append([_sized(b"a"), _sized(b"b")])
        log.advance_high_watermark(2)
        log.advance_high_watermark(2)
        assert log.high_watermark == 2


def test_truncate_inside_a_batch_names_the_batch_start(tmp_path: Path) -> None:
    """LOG-10: InvalidOffset names the offset asked for and where its batch starts."""
    with _open(tmp_path) as log:
        log.append([_sized(b"a")])
        log.append([_sized(b"b"), _sized(b"c"), _sized(b"d")])
        with pytest.raises(InvalidOffset) as caught:
            log.truncate(2)
        assert caught.value.offset == 2
        assert str(caught.value).startswith("offset 2:") and "starts at 1" in str(caught.value)


# --- read limits count payload sizes (LOG-9) --------------------------------------------------


@pytest.mark.parametrize(("max_bytes", "expected"), [(1, 1), (13, 1), (14, 2), (20, 2), (21, 3)])
def test_read_max_bytes_counts_payload_sizes(tmp_path: Path, max_bytes: int,
                                             expected: int) -> None:
    """LOG-6, LOG-9: forward and backward reads stop before the record that would take the sum of
    payload sizes (7 bytes each) above max_bytes, the first record always returned."""
    with _open(tmp_path) as log:
        log.append([_sized(b"a"), _sized(b"b")])
        log.append([_sized(b"c"), _sized(b"d")])
        forward = log.read(0, max_bytes=max_bytes)
        assert [r.offset for r in forward] == list(range(expected))
        backward = log.read_backward(3, max_bytes=max_bytes)
        assert [r.offset for r in backward] == list(range(3, 3 - expected, -1))
        capped = log.read(0, max_bytes=max_bytes, up_to_high_watermark=True)
        assert [r.offset for r in capped] == list(range(expected))


# --- truncation across segments (LOG-10) --------------------------------------------------------


def test_truncate_into_an_old_segment_removes_every_later_one(tmp_path: Path) -> None:
    """LOG-10, SEG-1: truncating into the first of several segments leaves that one segment,
    holding only the records below the offset; appends after it roll and read back as usual."""
    with _open(tmp_path, segment_bytes=300) as log:
        for i in range(12):
            log.append([Record(b"%d" % i + b"." * 60, timestamp=i)])
        log.flush()
        assert len(log.segments) >= 4 and log.segments[1].base_offset > 1
        log.truncate(1)
        assert log.log_end_offset == 1
        assert [s.base_offset for s in log.segments] == [0]
        assert [r.offset for r in log.read(0)] == [0]
        assert sorted(p.name for p in tmp_path.glob("*.log")) == [f"{0:020d}.log"]
        for i in range(1, 12):
            log.append([Record(b"after %d" % i + b"." * 60, timestamp=100 + i)])
        assert len(log.segments) >= 4
        assert [r.offset for r in log.read(0)] == list(range(12))
        for offset in range(1, 12):
            assert log.read(offset, max_records=1)[0].value.startswith(b"after %d" % offset)
            assert log.read_backward(offset, max_records=1)[0].offset == offset
            assert log.offset_for_timestamp(100 + offset) == offset
    with _open(tmp_path, segment_bytes=300) as log:
        assert log.log_end_offset == 12
        assert [r.offset for r in log.read(0)] == list(range(12))


# --- delete_records_below at or below the start does nothing (LOG-11) ---------------------------


def test_delete_at_the_log_start_does_nothing(tmp_path: Path) -> None:
    """LOG-11: offset <= log_start_offset does nothing: no start move, no flush, no file."""
    with _open(tmp_path) as log:
        log.append([_sized(b"a"), _sized(b"b")])
        log.delete_records_below(1)
        log.append([_sized(b"c")])
        durable = log.durable_offset
        assert durable < log.log_end_offset
        before = sorted(p.name for p in tmp_path.iterdir())
        log.delete_records_below(1)
        log.delete_records_below(0)
        assert log.log_start_offset == 1
        assert log.durable_offset == durable
        assert sorted(p.name for p in tmp_path.iterdir()) == before


# --- replicated appends (FOLLOW-1) -------------------------------------------------------------


def test_append_replicated_refuses_a_non_bytes_batch(tmp_path: Path) -> None:
    """FOLLOW-1: a batch is bytes; anything else is InvalidArgument naming it."""
    with _open(tmp_path, replica=True) as log:
        with pytest.raises(InvalidArgument) as caught:
            log.append_replicated("batch")  # type: ignore[arg-type]
        _check_invalid_argument(caught.value, "batch", "batch", "encoded record batch")


def test_append_replicated_at_the_wrong_offset_names_both(tmp_path: Path) -> None:
    """FOLLOW-1: a batch not starting at log_end_offset names its base and the log end."""
    with _open(tmp_path, replica=True) as log:
        log.append([_sized(b"a")])
        with pytest.raises(UnexpectedAppendOffset) as caught:
            log.append_replicated(encode_batch(5, [_sized(b"b")]))
        assert (caught.value.base_offset, caught.value.log_end_offset) == (5, 1)
        assert log.log_end_offset == 1


def test_append_replicated_with_trailing_bytes_names_both_sizes(tmp_path: Path) -> None:
    """FOLLOW-1: bytes beyond the batch's own length are refused naming both sizes."""
    batch = encode_batch(0, [_sized(b"a")])
    with _open(tmp_path, replica=True) as log:
        with pytest.raises(FlyQError) as caught:
            log.append_replicated(batch + b"\x00")
        assert str(len(batch) + 1) in str(caught.value) and str(len(batch)) in str(caught.value)
        assert log.log_end_offset == 0


@pytest.mark.parametrize("replicated", [False, True])
def test_a_corrupt_batch_error_says_which_batch(tmp_path: Path, replicated: bool) -> None:
    """FOLLOW-1, LOG-3: a corrupt encoded batch is refused with an error that names its source."""
    flipped = bytearray(encode_batch(0, [_sized(b"a")]))
    flipped[-1] ^= 1
    with _open(tmp_path, replica=replicated) as log:
        with pytest.raises(FlyQError) as caught:
            if replicated:
                log.append_replicated(bytes(flipped))
            else:
                log.append_encoded(bytes(flipped))
        source = "replicated batch" if replicated else "appended batch"
        assert source in str(caught.value)
        assert log.log_end_offset == 0


# --- offset_for_timestamp across segments (LOG-8) ----------------------------------------------


def _one_segment_per_append(path: Path) -> PartitionLog:
    # Every batch is larger than segment_bytes, so each append after the first rolls (SEG-2).
    return PartitionLog.open(str(path), LogConfig(segment_bytes=60), clock=Clock())


def _big(timestamp: int) -> Record:
    return Record(b"#" * 80, timestamp=timestamp)


def test_offset_for_timestamp_stays_right_while_segments_roll(tmp_path: Path) -> None:
    """LOG-8: with non-monotonic timestamps over five segments, seeks between rolls and after a
    reopen return the smallest offset whose timestamp is >= t."""
    stamps = [100, 300, 10, 50, 20]
    with _one_segment_per_append(tmp_path) as log:
        for count, stamp in enumerate(stamps, start=1):
            log.append([_big(stamp)])
            seen = stamps[:count]
            for target in (5, 60, 200, 301):
                expected = next((o for o, t in enumerate(seen) if t >= target), None)
                assert log.offset_for_timestamp(target) == expected, (count, target)
        assert [s.base_offset for s in log.segments] == [0, 1, 2, 3, 4]
    with _one_segment_per_append(tmp_path) as log:
        assert log.offset_for_timestamp(200) == 1
        assert log.offset_for_timestamp(40) == 0
        assert log.offset_for_timestamp(301) is None


def test_offset_for_timestamp_skips_what_lies_below_the_log_start(tmp_path: Path) -> None:
    """LOG-8, LOG-11: a large timestamp below log_start_offset is not an answer; the next
    segment's record is."""
    with _one_segment_per_append(tmp_path) as log:
        log.append([_big(300), _big(10)])
        log.append([_big(250)])
        log.append([_big(400)])
        log.delete_records_below(1)
        assert log.offset_for_timestamp(200) == 2
        assert log.offset_for_timestamp(5) == 1


# --- the flush policy counts from the last flush (DUR-2) -----------------------------------------


def test_flush_messages_counts_from_the_last_flush(tmp_path: Path) -> None:
    """DUR-2: flush_messages=3 flushes when 3 records are unflushed, counted after a flush."""
    with _open(tmp_path, flush_messages=3) as log:
        log.append([_sized(b"a")])
        log.flush()
        assert log.durable_offset == 1
        log.append([_sized(b"b"), _sized(b"c")])
        assert log.durable_offset == 1
        log.append([_sized(b"d")])
        assert log.durable_offset == 4


def test_a_roll_restarts_both_flush_counts(tmp_path: Path) -> None:
    """DUR-2, SEG-2: a roll flushes, so the record and time counts of the flush policy start
    again from it."""
    clock = Clock()
    config = LogConfig(segment_ms=100, flush_messages=3, flush_ms=150)
    with PartitionLog.open(str(tmp_path), config, clock=clock) as log:
        log.append([_sized(b"a")])
        clock.now += 100
        log.append([_sized(b"b")])
        assert [s.base_offset for s in log.segments] == [0, 1]
        assert log.durable_offset == 1
        clock.now += 49
        log.append([_sized(b"c")])
        assert log.durable_offset == 1
        log.append([_sized(b"d")])
        assert log.durable_offset == 4


# --- the default clock is wall-clock milliseconds (SEG-2) -----------------------------------------


def test_default_clock_is_wall_clock_milliseconds(tmp_path: Path) -> None:
    """SEG-2: without an injected clock, a segment's creation time is the wall clock in ms."""
    before = time.time_ns() // 1_000_000
    with PartitionLog.open(str(tmp_path)) as log:
        log.append([_sized(b"a")])
    after = time.time_ns() // 1_000_000
    base, created = decode_checkpoint((tmp_path / SEGMENT_CREATED_FILE).read_bytes(),
                                      expected_count=2, source=SEGMENT_CREATED_FILE)
    assert base == 0 and before <= created <= after


# --- a log restarted inside a batch (LOG-10, LOG-11) ---------------------------------------------


def test_truncate_to_a_start_inside_a_batch_restarts_a_working_log(tmp_path: Path) -> None:
    """LOG-10, LOG-11, IDX-1: truncating to a log start that lies inside a batch leaves an empty
    log at that offset that appends, reads, seeks, indexes and reopens like any other."""
    with _open(tmp_path, index_interval_bytes=1) as log:
        log.append([Record(b"a", timestamp=10), Record(b"b", timestamp=20),
                    Record(b"c", timestamp=30)])
        log.delete_records_below(1)
        assert log.offset_for_timestamp(15) == 1
        log.truncate(1)
        assert (log.log_start_offset, log.log_end_offset) == (1, 1)
        assert log.offset_for_timestamp(0) is None
        for i in range(3):
            log.append([Record(b"n%d" % i, timestamp=40 + i)])
        assert [r.offset for r in log.read(1)] == [1, 2, 3]
        assert log.offset_for_timestamp(41) == 2
        assert log.index_mismatches() == []
        assert [s.base_offset for s in log.segments] == [1]
    with _open(tmp_path) as log:
        assert [(r.offset, r.value) for r in log.read(1)] == [(1, b"n0"), (2, b"n1"), (3, b"n2")]


# --- closed and damaged logs say what and where -----------------------------------------------


def test_health_of_a_closed_log_names_the_directory(tmp_path: Path) -> None:
    """HLT-1: health on a closed log raises LogClosed naming its directory."""
    log = _open(tmp_path)
    log.close()
    with pytest.raises(LogClosed, match=str(tmp_path)):
        log.health()


def test_index_mismatches_names_each_differing_index(tmp_path: Path) -> None:
    """IDX-1: an index that differs from a rebuild is listed by its path, each kind apart."""
    with _open(tmp_path, index_interval_bytes=1, segment_bytes=400) as log:
        for i in range(12):
            log.append([Record(b"%02d" % i + b"." * 30, timestamp=i)])
        assert len(log.segments) > 1
        assert log.index_mismatches() == []
    offset_path, time_path = tmp_path / f"{0:020d}.index", tmp_path / f"{0:020d}.timeindex"
    offset_path.write_bytes(offset_path.read_bytes()[:-8])
    time_path.write_bytes(time_path.read_bytes()[:-12])
    with _open(tmp_path, index_interval_bytes=1, segment_bytes=400) as log:
        problems = log.index_mismatches()
    assert len(problems) == 2
    assert str(offset_path) in problems[0] and str(time_path) in problems[1]


def _damage_second_offset_entry(directory: Path) -> Path:
    index = directory / f"{0:020d}.index"
    with open(index, "r+b") as handle:
        handle.seek(8)
        handle.write(encode_offset_entry(1, 10**6))
    return index


def test_an_index_repair_is_recorded_and_logged_with_path_and_damage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """IDX-5: a damaged index found by a read is rebuilt; the repair and the warning name the
    index file and what was wrong with it (the entry's byte and its bad position)."""
    config = LogConfig(index_interval_bytes=1)
    with PartitionLog.open(str(tmp_path), config, clock=Clock()) as log:
        for i in range(6):
            log.append([Record(b"%d" % i)])
    index = _damage_second_offset_entry(tmp_path)
    with PartitionLog.open(str(tmp_path), config, clock=Clock()) as log, \
            caplog.at_level(logging.WARNING, logger="flyq.index"):
        assert [r.offset for r in log.read(1, max_records=1)] == [1]
        (repair,) = log.health().index_repairs
        assert (repair.path, repair.base_offset, repair.at_ms) == (str(index), 0, 5_000)
        assert "byte 8" in repair.reason and "1000000" in repair.reason
        (message,) = [m for m in caplog.messages if "rebuilt" in m]
        assert message.startswith(f"{index}: ") and repair.reason in message
        assert message.endswith("rebuilt")


def test_a_repaired_active_index_keeps_its_room(tmp_path: Path) -> None:
    """SEG-2, IDX-5: after the active segment's index is rebuilt, appends fill it up to
    index_max_bytes before a roll, as they would have without the damage."""
    config = LogConfig(index_interval_bytes=1, index_max_bytes=80)
    with PartitionLog.open(str(tmp_path), config, clock=Clock()) as log:
        for i in range(3):
            log.append([Record(b"%d" % i)])
    _damage_second_offset_entry(tmp_path)
    with PartitionLog.open(str(tmp_path), config, clock=Clock()) as log:
        assert [r.offset for r in log.read(1, max_records=1)] == [1]
        assert len(log.health().index_repairs) == 1
        # 10 offset entries fit; the first batch of a segment is no index point (format.md 2.2).
        for i in range(3, 11):
            log.append([Record(b"%d" % i)])
        assert [s.base_offset for s in log.segments] == [0]
        log.append([Record(b"11")])
        assert [s.base_offset for s in log.segments] == [0, 11]
        assert log.index_mismatches() == []



def test_a_log_far_from_offset_zero_does_not_roll_early(tmp_path: Path) -> None:
    """SEG-2: only next_offset - base_offset > 2**32 - 1 forces a roll; a log whose offsets
    start at 2**32 keeps appending into one segment."""
    start = 1 << 32
    (tmp_path / "log-start-offset").write_bytes(encode_checkpoint((start,)))
    with _open(tmp_path) as log:
        for tag in (b"a", b"b", b"c"):
            log.append([_sized(tag)])
        assert [s.base_offset for s in log.segments] == [start]
        assert [r.offset for r in log.read(start)] == [start, start + 1, start + 2]


def test_a_restarted_log_rolls_and_seeks_like_any_other(tmp_path: Path) -> None:
    """LOG-8, LOG-10, SEG-2: after truncating to a start inside a batch, later rolls work and
    seeks across the new segments find the smallest offset with timestamp >= t."""
    with _one_segment_per_append(tmp_path) as log:
        log.append([_big(10), _big(20), _big(30)])
        log.delete_records_below(1)
        log.truncate(1)
        log.append([_big(70)])
        log.append([_big(50)])
        log.append([_big(60)])
        assert [s.base_offset for s in log.segments] == [1, 2, 3]
        assert log.offset_for_timestamp(55) == 1
        assert log.offset_for_timestamp(71) is None
        log.truncate(2)
        log.append([_big(80)])
        assert log.offset_for_timestamp(75) == 2
