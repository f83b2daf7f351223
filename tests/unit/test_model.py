"""The reference model against spec/log.md: hand-computed cases, every error path, properties.

Expected values are worked out by hand from the spec, not copied from the model. Payload sizes
(LOG-9) used below: `A` = key b"k" (1) + value b"abc" (3) + header "h" (1) + b"xy" (2) = 7;
`B` = header key "é" (2 UTF-8 bytes) + None (0) = 2; `C` = empty key and value = 0;
`D` = value b"0123456789" = 10.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from flyq import model
from flyq.api import AppendResult
from flyq.codec.record_batch import encode_batch
from flyq.errors import (
    DecodeError,
    EmptyBatch,
    FencedLeaderEpoch,
    InvalidArgument,
    InvalidOffset,
    InvalidRecord,
    OffsetOutOfRange,
    UnexpectedAppendOffset,
)
from flyq.model import Batch, LogState, ModelLog
from flyq.model import _core as core
from flyq.model import _epochs as epochs
from flyq.records import Record, StoredRecord, payload_size
from tests.strategies import (
    batches,
    byte_limits,
    invalid_limits,
    log_states,
    record_limits,
    timestamps,
)

ROOT = Path(__file__).resolve().parents[2]

A = Record(value=b"abc", key=b"k", headers=(("h", b"xy"),), timestamp=5)
B = Record(value=None, key=None, headers=(("é", None),), timestamp=100)
C = Record(value=b"", key=b"", timestamp=3)
D = Record(value=b"0123456789", timestamp=100)
E = Record(value=b"e", timestamp=7)


def rec(value: bytes = b"v", timestamp: int = 0) -> Record:
    """A small valid record."""
    return Record(value=value, timestamp=timestamp)


def log_of(*sizes: int) -> ModelLog:
    """A model log with one batch per size, holding records valued by their offset."""
    log = ModelLog()
    for size in sizes:
        base = log.log_end_offset
        log.append([rec(str(base + i).encode()) for i in range(size)])
    return log


def offsets(records: list[StoredRecord]) -> list[int]:
    """The offsets of `records`, in order."""
    return [r.offset for r in records]


def abcd() -> ModelLog:
    """Batch [A, B] at 0..1, batch [C] at 2, batch [D, E] at 3..4."""
    log = ModelLog()
    log.append([A, B])
    log.append([C])
    log.append([D, E])
    return log


# --- LOG-1, LOG-2, LOG-3: appends -----------------------------------------------------------------


def test_empty_log_starts_at_zero() -> None:
    """LOG-1: a new log has log_start_offset == log_end_offset == 0 and reads nothing."""
    log = ModelLog()
    assert (log.log_start_offset, log.log_end_offset) == (0, 0)
    assert log.read(0) == []
    assert log.batch_boundaries() == (0,)


def test_appends_assign_dense_offsets() -> None:
    """LOG-2, LOG-3: batches of 3, 1, 2 records get 0..2, 3..3, 4..5."""
    log = ModelLog()
    assert log.append([rec(), rec(), rec()]) == AppendResult(base_offset=0, last_offset=2)
    assert log.append([rec()]) == AppendResult(base_offset=3, last_offset=3)
    assert log.append([rec(), rec()]) == AppendResult(base_offset=4, last_offset=5)
    assert log.log_end_offset == 6
    assert offsets(log.read(0)) == [0, 1, 2, 3, 4, 5]
    assert [b.base_offset for b in log.state.batches] == [0, 3, 4]


def test_empty_log_at_a_start_offset() -> None:
    """LOG-2: a log created empty at 1000 gives its first record offset 1000."""
    log = ModelLog(model.empty_log(1000))
    assert log.append([rec(), rec()]) == AppendResult(base_offset=1000, last_offset=1001)
    assert (log.log_start_offset, log.log_end_offset) == (1000, 1002)


@pytest.mark.parametrize("start", [-1, 1 << 63, True, 1.0, "0"])
def test_empty_log_refuses_a_non_offset(start: object) -> None:
    """LOG-1: a log's start must be an int offset in 0..2**63 - 1."""
    with pytest.raises(InvalidArgument):
        model.empty_log(start)  # type: ignore[arg-type]


def test_records_read_back_exactly() -> None:
    """LOG-4: null vs empty, repeated header keys, equal and falling timestamps all survive."""
    records = [
        Record(value=None, key=b"", headers=(("k", None), ("k", b""), ("k", b"1")), timestamp=9),
        Record(value=b"", key=None, headers=(), timestamp=9),
        Record(value=b"x", key=b"y", headers=(("", b"z"),), timestamp=2),
    ]
    log = ModelLog()
    log.append(records)
    assert log.read(0) == [
        StoredRecord(offset=0, timestamp=9, key=b"", value=None,
                     headers=(("k", None), ("k", b""), ("k", b"1"))),
        StoredRecord(offset=1, timestamp=9, key=None, value=b"", headers=()),
        StoredRecord(offset=2, timestamp=2, key=b"y", value=b"x", headers=(("", b"z"),)),
    ]  # fmt: skip


def test_header_list_is_copied_on_append() -> None:
    """LOG-4: headers given as a list are stored as they were at append, as a tuple."""
    header_list = [("a", b"1")]
    log = ModelLog()
    log.append([Record(value=b"v", headers=header_list)])  # type: ignore[arg-type]
    header_list.append(("b", b"2"))
    assert log.read(0)[0].headers == (("a", b"1"),)


@pytest.mark.parametrize("records", [[], ()])
def test_empty_append_raises_and_changes_nothing(records: list[Record]) -> None:
    """LOG-3: an empty batch raises EmptyBatch; the log is unchanged."""
    log = log_of(2)
    before = log.state
    with pytest.raises(EmptyBatch):
        log.append(records)
    assert log.state is before


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (Record(value="text"), "value"),  # type: ignore[arg-type]
        (Record(value=b"", key=bytearray(b"k")), "key"),  # type: ignore[arg-type]
        (Record(value=b"", timestamp=-1), "timestamp"),
        (Record(value=b"", timestamp=1 << 63), "timestamp"),
        (Record(value=b"", headers=((1, b""),)), "header 0 key"),  # type: ignore[arg-type]
        (Record(value=b"", headers=(("k", "v"),)), "header 0 value"),  # type: ignore[arg-type]
        (Record(value=b"", headers=(("k",),)), "header 0"),  # type: ignore[arg-type]
        (b"raw bytes", "Record"),
    ],
)
def test_invalid_record_anywhere_rejects_the_whole_batch(bad: object, field: str) -> None:
    """LOG-3: a bad record, even after good ones, raises InvalidRecord naming the field."""
    log = log_of(1)
    before = log.state
    with pytest.raises(InvalidRecord, match=field) as info:
        log.append([rec(), rec(), bad])  # type: ignore[list-item]
    assert not isinstance(info.value, EmptyBatch)
    assert log.state is before
    assert log.log_end_offset == 1


@pytest.mark.parametrize("records", [None, 5, Record(value=b"")])
def test_append_of_a_non_sequence_is_invalid_argument(records: object) -> None:
    """LOG-3: append needs a sequence of records; anything else changes nothing."""
    log = log_of(1)
    before = log.state
    with pytest.raises(InvalidArgument):
        log.append(records)  # type: ignore[arg-type]
    assert log.state is before


def test_append_refuses_to_pass_the_last_offset() -> None:
    """LOG-1: offsets stay below 2**63; a batch that would pass that raises, changing nothing."""
    log = ModelLog(model.empty_log((1 << 63) - 3))
    assert log.append([rec(), rec()]) == AppendResult((1 << 63) - 3, (1 << 63) - 2)
    assert log.log_end_offset == (1 << 63) - 1
    before = log.state
    with pytest.raises(OffsetOutOfRange):
        log.append([rec()])
    assert log.state is before


# --- LOG-5, LOG-6, LOG-9: forward reads -----------------------------------------------------------


def test_payload_sizes_used_by_these_tests() -> None:
    """LOG-9: the payload sizes worked out by hand in the module docstring."""
    assert [payload_size(r.key, r.value, r.headers) for r in (A, B, C, D, E)] == [7, 2, 0, 10, 1]


def test_read_crosses_batches_and_skips_records_below_offset() -> None:
    """LOG-6: a read from mid-batch returns the rest of the log, oldest first, no earlier ones."""
    log = abcd()
    assert [r.record for r in log.read(1)] == [B, C, D, E]
    assert offsets(log.read(1)) == [1, 2, 3, 4]
    assert offsets(log.read(4)) == [4]


def test_read_at_log_end_returns_nothing() -> None:
    """LOG-5: a read at log_end_offset returns no records."""
    assert abcd().read(5) == []


@pytest.mark.parametrize("offset", [-1, 6, 1 << 63])
def test_read_out_of_range(offset: int) -> None:
    """LOG-5: reads outside log_start_offset..log_end_offset raise, naming both offsets."""
    with pytest.raises(OffsetOutOfRange) as info:
        abcd().read(offset)
    assert (info.value.offset, info.value.log_start_offset, info.value.log_end_offset) == (
        offset,
        0,
        5,
    )
    assert "log_start_offset=0" in str(info.value)
    assert "log_end_offset=5" in str(info.value)


@pytest.mark.parametrize(
    ("offset", "max_records", "max_bytes", "expected"),
    [
        (0, 2, None, [0, 1]),
        (0, 1, None, [0]),
        (0, 99, None, [0, 1, 2, 3, 4]),
        (0, None, 7, [0]),  # 7 fits exactly; B would make 9
        (0, None, 8, [0]),
        (0, None, 9, [0, 1, 2]),  # 7 + 2 + 0 = 9; D would make 19
        (0, None, 18, [0, 1, 2]),
        (0, None, 19, [0, 1, 2, 3]),  # 19; E would make 20
        (0, None, 1, [0]),  # the first record is returned even though 7 > 1
        (3, None, 1, [3]),  # D alone (10 > 1)
        (1, None, 2, [1, 2]),  # 2 + 0; D would make 12
        (0, 2, 100, [0, 1]),  # max_records stops first
        (0, 4, 9, [0, 1, 2]),  # max_bytes stops first
    ],
)
def test_read_limits(
    offset: int, max_records: int | None, max_bytes: int | None, expected: list[int]
) -> None:
    """LOG-6, LOG-9: a read stops at the end, max_records, or the record passing max_bytes."""
    assert offsets(abcd().read(offset, max_records=max_records, max_bytes=max_bytes)) == expected


# --- LOG-7: backward reads ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "max_records", "max_bytes", "expected"),
    [
        (4, None, None, [4, 3, 2, 1, 0]),
        (2, None, None, [2, 1, 0]),
        (0, None, None, [0]),
        (4, 2, None, [4, 3]),
        (4, None, 10, [4]),  # E (1) then D would make 11
        (4, None, 11, [4, 3, 2]),  # 1 + 10 + 0 = 11; B would make 13
        (3, None, 10, [3, 2]),  # D (10), C (0); B would make 12
        (2, None, 9, [2, 1, 0]),  # 0 + 2 + 7
        (2, None, 8, [2, 1]),
        (3, None, 1, [3]),  # the first record is returned whatever its size
    ],
)
def test_read_backward(
    offset: int, max_records: int | None, max_bytes: int | None, expected: list[int]
) -> None:
    """LOG-7, LOG-9: newest first from offset down to log_start_offset, with LOG-6's limits."""
    records = abcd().read_backward(offset, max_records=max_records, max_bytes=max_bytes)
    assert offsets(records) == expected


@pytest.mark.parametrize("offset", [-1, 5, 6])
def test_read_backward_out_of_range(offset: int) -> None:
    """LOG-7: read_backward needs log_start_offset <= offset < log_end_offset."""
    with pytest.raises(OffsetOutOfRange) as info:
        abcd().read_backward(offset)
    assert (info.value.log_start_offset, info.value.log_end_offset) == (0, 5)


def test_read_backward_always_raises_on_an_empty_log() -> None:
    """LOG-7: an empty log has no offset to read backward from, even at log_start_offset."""
    for log in (ModelLog(), log_of(3)):
        log.truncate(log.log_start_offset)
        with pytest.raises(OffsetOutOfRange):
            log.read_backward(log.log_start_offset)


def test_read_backward_stops_at_log_start() -> None:
    """LOG-7: after a prefix deletion backward reads end at the new log_start_offset."""
    log = abcd()
    log.delete_records_below(2)
    assert offsets(log.read_backward(4)) == [4, 3, 2]
    with pytest.raises(OffsetOutOfRange):
        log.read_backward(1)


# --- argument checks ------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [0, -1, True, False, 1.0, 2.5, "1", b"1"])
@pytest.mark.parametrize("name", ["max_records", "max_bytes"])
@pytest.mark.parametrize("backward", [False, True])
def test_invalid_limits_raise_before_the_log_is_looked_at(
    limit: object, name: str, backward: bool
) -> None:
    """LOG-6, LOG-7: a bad limit raises InvalidArgument even where the offset is out of range."""
    log = ModelLog()  # every offset is out of range for read_backward; 99 is for read
    call = log.read_backward if backward else log.read
    with pytest.raises(InvalidArgument) as info:
        call(99, **{name: limit})  # type: ignore[arg-type]
    assert info.value.name == name


@pytest.mark.parametrize("offset", ["0", 0.0, True, None, b"\x00"])
@pytest.mark.parametrize(
    "operation",
    [
        lambda log, o: log.read(o),
        lambda log, o: log.read_backward(o),
        lambda log, o: log.truncate(o),
        lambda log, o: log.delete_records_below(o),
        lambda log, o: log.offset_for_timestamp(o),
    ],
    ids=["read", "read_backward", "truncate", "delete_records_below", "offset_for_timestamp"],
)
def test_non_int_offsets_are_invalid_arguments(
    offset: object, operation: Callable[[ModelLog, object], object]
) -> None:
    """LOG-1: offsets and timestamps are ints (bool is not one); others raise InvalidArgument."""
    log = log_of(2)
    before = log.state
    with pytest.raises(InvalidArgument):
        operation(log, offset)
    assert log.state is before


# --- LOG-8: timestamp seeks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (-10, 0),
        (0, 0),
        (4, 0),
        (5, 0),
        (6, 1),
        (7, 1),
        (8, 1),
        (100, 1),
        (101, None),
    ],
)
def test_offset_for_timestamp_scans_non_monotonic_timestamps(
    timestamp: int, expected: int | None
) -> None:
    """LOG-8: the smallest offset with timestamp >= t over timestamps 5, 100, 3, 100, 7."""
    log = abcd()
    assert [r.timestamp for r in log.read(0)] == [5, 100, 3, 100, 7]
    assert log.offset_for_timestamp(timestamp) == expected


def test_offset_for_timestamp_is_not_a_binary_search() -> None:
    """LOG-8: for t=6 the answer is offset 1 (ts 100), where bisecting would land on offset 3."""
    assert abcd().offset_for_timestamp(6) == 1


def test_offset_for_timestamp_ignores_deleted_records() -> None:
    """LOG-8, LOG-11: records below log_start_offset are never found."""
    log = abcd()
    log.delete_records_below(2)  # readable timestamps now C=3, D=100, E=7
    assert log.offset_for_timestamp(0) == 2
    assert log.offset_for_timestamp(4) == 3
    assert log.offset_for_timestamp(101) is None


def test_offset_for_timestamp_on_an_empty_log() -> None:
    """LOG-8: an empty log finds nothing."""
    assert ModelLog().offset_for_timestamp(0) is None


# --- LOG-10: truncate -----------------------------------------------------------------------------


def test_truncate_to_a_batch_base() -> None:
    """LOG-10: truncate(3) on batches 0..2, 3..4, 5 leaves 0..2; appends continue at 3."""
    log = log_of(3, 2, 1)
    assert log.batch_boundaries() == (0, 3, 5, 6)
    log.truncate(3)
    assert (log.log_start_offset, log.log_end_offset) == (0, 3)
    assert [r.value for r in log.read(0)] == [b"0", b"1", b"2"]
    assert log.append([rec()]) == AppendResult(base_offset=3, last_offset=3)


def test_truncate_to_log_end_changes_nothing() -> None:
    """LOG-10: log_end_offset is a boundary; truncating to it removes nothing."""
    log = log_of(3, 2)
    log.truncate(5)
    assert offsets(log.read(0)) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("offset", [1, 2, 4])
def test_truncate_inside_a_batch_is_invalid_offset(offset: int) -> None:
    """LOG-10: offsets inside a batch are not boundaries: InvalidOffset, log unchanged."""
    log = log_of(3, 2, 1)
    before = log.state
    with pytest.raises(InvalidOffset):
        log.truncate(offset)
    assert log.state is before


@pytest.mark.parametrize("offset", [-1, 7, 1 << 63])
def test_truncate_out_of_range(offset: int) -> None:
    """LOG-10: truncate needs log_start_offset <= offset <= log_end_offset."""
    with pytest.raises(OffsetOutOfRange) as info:
        log_of(3, 2, 1).truncate(offset)
    assert (info.value.log_start_offset, info.value.log_end_offset) == (0, 6)


def test_truncate_to_log_start_empties_but_keeps_log_start() -> None:
    """LOG-10: after a mid-batch deletion, truncating to log_start_offset empties the log."""
    log = log_of(3, 2, 1)
    log.delete_records_below(1)
    assert log.batch_boundaries() == (1, 3, 5, 6)
    with pytest.raises(OffsetOutOfRange):
        log.truncate(0)  # the first batch's base is below log_start_offset now
    log.truncate(1)
    assert (log.log_start_offset, log.log_end_offset) == (1, 1)
    assert log.read(1) == []
    assert log.append([rec(b"again")]) == AppendResult(base_offset=1, last_offset=1)
    assert [(r.offset, r.value) for r in log.read(1)] == [(1, b"again")]


# --- LOG-11: delete_records_below -----------------------------------------------------------------


def test_delete_records_below_mid_batch() -> None:
    """LOG-11: the start moves to any offset; the records below it are gone, the end stays."""
    log = log_of(3, 2, 1)
    log.delete_records_below(4)
    assert (log.log_start_offset, log.log_end_offset) == (4, 6)
    assert offsets(log.read(4)) == [4, 5]
    assert log.batch_boundaries() == (4, 5, 6)
    with pytest.raises(OffsetOutOfRange):
        log.read(3)
    # The batch 0..2 lies wholly below the start and is dropped; 3..4 keeps its base.
    assert [b.base_offset for b in log.state.batches] == [3, 5]


def test_delete_records_below_never_moves_the_start_back() -> None:
    """LOG-11: an offset at or below log_start_offset does nothing."""
    log = log_of(3, 2)
    log.delete_records_below(2)
    before = log.state
    log.delete_records_below(1)
    log.delete_records_below(2)
    assert log.state == before
    assert log.log_start_offset == 2


def test_delete_records_below_log_end_empties_the_log() -> None:
    """LOG-11: deleting up to log_end_offset leaves an empty log that appends continue."""
    log = log_of(3, 2)
    log.delete_records_below(5)
    assert (log.log_start_offset, log.log_end_offset) == (5, 5)
    assert log.state.batches == ()
    assert log.read(5) == []
    assert log.append([rec()]) == AppendResult(base_offset=5, last_offset=5)


@pytest.mark.parametrize("offset", [-1, 6, 1 << 63])
def test_delete_records_below_out_of_range(offset: int) -> None:
    """LOG-11: offsets above log_end_offset, or not offsets at all, raise OffsetOutOfRange."""
    log = log_of(3, 2)
    before = log.state
    with pytest.raises(OffsetOutOfRange) as info:
        log.delete_records_below(offset)
    assert (info.value.log_start_offset, info.value.log_end_offset) == (0, 5)
    assert log.state is before


# --- LOG-12 and the wrapper -----------------------------------------------------------------------


def test_reads_and_seeks_do_not_change_the_log() -> None:
    """LOG-12: reads, backward reads, seeks and boundary queries leave the state as it was."""
    log = abcd()
    before = log.state
    log.read(0, max_records=2)
    log.read_backward(4, max_bytes=3)
    log.offset_for_timestamp(6)
    log.batch_boundaries()
    assert log.state is before


def test_model_log_returns_lists_and_exposes_its_state() -> None:
    """LogInterface: reads are lists; `state` is the frozen value the pure functions take."""
    log = abcd()
    assert isinstance(log.read(0), list)
    assert isinstance(log.read_backward(0), list)
    assert log.read(0) == list(model.read(log.state, 0))
    assert log.batch_boundaries() == model.batch_boundaries(log.state)


def test_pure_operations_return_new_states() -> None:
    """LOG-3: the pure functions leave their input state as it was."""
    state = model.empty_log()
    state2, result = model.append(state, [rec()])
    assert (state.log_end_offset, state2.log_end_offset, result) == (0, 1, AppendResult(0, 0))
    assert model.truncate(state2, 0).log_end_offset == 0
    assert state2.log_end_offset == 1


@pytest.mark.parametrize(
    "build",
    [
        lambda: Batch(base_offset=0, records=()),
        lambda: Batch(base_offset=-1, records=(rec(),)),
        lambda: LogState(-1),
        lambda: LogState(0, (Batch(0, (rec(),)), Batch(2, (rec(),)))),  # gap at offset 1
        lambda: LogState(5, (Batch(0, (rec(),)),)),  # first batch below log_start_offset
        lambda: LogState(0, (Batch(1, (rec(),)),)),  # first batch above log_start_offset
        lambda: LogState(0, (Batch((1 << 63) - 1, (rec(),)),)),
    ],
)
def test_broken_states_cannot_be_built(build: Callable[[], object]) -> None:
    """LOG-1, LOG-2: a LogState or Batch that breaks the state rules refuses to exist."""
    with pytest.raises(ValueError, match=r"."):
        build()


# --- properties -----------------------------------------------------------------------------------

_POSTCONDITION = re.compile(r"^\s*post:\s*(.+?)\s*$", re.MULTILINE)


def assert_postconditions(function: Callable[..., object], result: object, **args: object) -> None:
    """Evaluate `function`'s PEP 316 `post:` lines on one concrete call, as CrossHair would."""
    conditions = _POSTCONDITION.findall(inspect.getdoc(function) or "")
    assert conditions, f"{function.__name__} states no postconditions"
    namespace = {**vars(sys.modules[function.__module__]), **args, "__return__": result}
    for condition in conditions:
        assert eval(condition, namespace), f"{function.__name__}: post: {condition}"


@given(state=log_states(), records=batches(large_value_max=0))
def test_append_contracts_hold(state: LogState, records: list[Record]) -> None:
    """LOG-2, LOG-3, LOG-4: append's stated postconditions hold on reachable states."""
    result = model.append(state, records)
    assert_postconditions(model.append, result, state=state, records=records)


@given(state=log_states(), data=st.data(), max_records=record_limits(), max_bytes=byte_limits())
def test_read_contracts_hold(
    state: LogState, data: st.DataObject, max_records: int | None, max_bytes: int | None
) -> None:
    """LOG-6, LOG-7, LOG-9: read's and read_backward's stated postconditions hold."""
    offset = data.draw(st.integers(state.log_start_offset, state.log_end_offset))
    args = {"state": state, "offset": offset, "max_records": max_records, "max_bytes": max_bytes,
            "up_to_high_watermark": False}
    assert_postconditions(model.read, model.read(state, offset, max_records, max_bytes), **args)
    if offset < state.log_end_offset:
        result = model.read_backward(state, offset, max_records, max_bytes)
        assert_postconditions(model.read_backward, result, **args)


@given(state=log_states(), data=st.data(), timestamp=timestamps())
def test_change_and_seek_contracts_hold(state: LogState, data: st.DataObject, timestamp: int) -> None:
    """LOG-8, LOG-10, LOG-11: the other operations' stated postconditions hold."""
    found = model.offset_for_timestamp(state, timestamp)
    assert_postconditions(model.offset_for_timestamp, found, state=state, timestamp=timestamp)
    assert_postconditions(model.batch_boundaries, model.batch_boundaries(state), state=state)
    point = data.draw(st.sampled_from(model.batch_boundaries(state)))
    result = model.truncate(state, point)
    assert_postconditions(model.truncate, result, state=state, offset=point)
    below = data.draw(st.integers(0, state.log_end_offset))
    result = model.delete_records_below(state, below)
    assert_postconditions(model.delete_records_below, result, state=state, offset=below)


@given(
    sizes=st.lists(st.integers(0, 50), max_size=12).map(tuple),
    max_records=record_limits(),
    max_bytes=st.none() | st.integers(1, 120),
)
def test_read_count_contracts_hold(
    sizes: tuple[int, ...], max_records: int | None, max_bytes: int | None
) -> None:
    """LOG-6, LOG-9: the read-limit core meets its contract (also proved by CrossHair)."""
    result = core.read_count(sizes, max_records, max_bytes)
    assert_postconditions(
        core.read_count, result, sizes=sizes, max_records=max_records, max_bytes=max_bytes
    )


@given(appended=st.lists(batches(large_value_max=0), max_size=6))
def test_appends_read_back_in_order(appended: list[list[Record]]) -> None:
    """LOG-2, LOG-4: after appends from empty, read(0) is every record in order at 0, 1, ..."""
    log = ModelLog()
    for records in appended:
        log.append(records)
    everything = [record for records in appended for record in records]
    assert log.read(0) == [
        StoredRecord(offset=i, timestamp=r.timestamp, key=r.key, value=r.value, headers=r.headers)
        for i, r in enumerate(everything)
    ]


@given(state=log_states(), data=st.data())
def test_read_forward_is_read_backward_reversed(state: LogState, data: st.DataObject) -> None:
    """LOG-6, LOG-7: the records in [low, high] read forward are those read backward, reversed."""
    assume(state.log_start_offset < state.log_end_offset)
    low = data.draw(st.integers(state.log_start_offset, state.log_end_offset - 1))
    high = data.draw(st.integers(low, state.log_end_offset - 1))
    span = high - low + 1
    forward = model.read(state, low, max_records=span)
    backward = model.read_backward(state, high, max_records=span)
    assert len(forward) == span
    assert forward == tuple(reversed(backward))


@given(state=log_states(large_value_max=1024), data=st.data(), max_bytes=byte_limits())
def test_byte_limit_is_tight(state: LogState, data: st.DataObject, max_bytes: int | None) -> None:
    """LOG-6, LOG-9: a read stops only at the end or when the next record would pass max_bytes."""
    offset = data.draw(st.integers(state.log_start_offset, state.log_end_offset))
    result = model.read(state, offset, max_bytes=max_bytes)
    rest = model.read(state, offset)
    assert result == rest[: len(result)]

    def size(r: StoredRecord) -> int:
        return payload_size(r.key, r.value, r.headers)

    total = sum(size(r) for r in result)
    if len(result) > 1:
        assert max_bytes is not None or len(result) == len(rest)
        assert max_bytes is None or total <= max_bytes
    if len(result) < len(rest):
        assert max_bytes is not None
        assert total + size(rest[len(result)]) > max_bytes


@given(state=log_states(), timestamp=timestamps())
def test_offset_for_timestamp_matches_brute_force(state: LogState, timestamp: int) -> None:
    """LOG-8: the seek equals a scan over every readable offset, one record at a time."""
    expected = None
    for offset in range(state.log_start_offset, state.log_end_offset):
        (record,) = model.read(state, offset, max_records=1)
        if record.timestamp >= timestamp:
            expected = offset
            break
    assert model.offset_for_timestamp(state, timestamp) == expected


@given(state=log_states(), data=st.data())
def test_truncate_accepts_exactly_the_boundaries(state: LogState, data: st.DataObject) -> None:
    """LOG-10: in range, truncate succeeds at log start/end and batch bases, else InvalidOffset."""
    offset = data.draw(st.integers(state.log_start_offset, state.log_end_offset))
    bases = {b.base_offset for b in state.batches}
    is_boundary = offset in {state.log_start_offset, state.log_end_offset} | bases
    try:
        after = model.truncate(state, offset)
    except InvalidOffset:
        assert not is_boundary
    else:
        assert is_boundary
        assert after.log_end_offset == offset


@given(state=log_states(), data=st.data(), limit=invalid_limits())
def test_invalid_limits_always_refused(state: LogState, data: st.DataObject, limit: object) -> None:
    """LOG-6: any limit that is not None or an int >= 1 raises InvalidArgument."""
    offset = data.draw(st.integers(state.log_start_offset - 2, state.log_end_offset + 2))
    name = data.draw(st.sampled_from(["max_records", "max_bytes"]))
    with pytest.raises(InvalidArgument):
        model.read(state, offset, **{name: limit})  # type: ignore[arg-type]


# --- the contract checker -------------------------------------------------------------------------


def test_contract_checker_reports_a_broken_postcondition(tmp_path: Path) -> None:
    """Contracts: scripts/check_contracts.py exits 1 when CrossHair refutes a postcondition."""
    (tmp_path / "broken_contract_module.py").write_text(
        textwrap.dedent(
            '''
            def grow(count: int) -> int:
                """
                pre: count >= 1
                post: __return__ == count + 1
                """
                return count + 2 if count > 3 else count + 1
            '''
        )
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "check_contracts.py"),
            "--module",
            "broken_contract_module",
            "--per-condition-timeout",
            "5",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "broken_contract_module.py" in completed.stdout
    assert "1 counterexamples or contract errors" in completed.stdout


# --- spec/replication-log.md: leader epochs, follower appends, the high watermark -----------------


def epoch_log() -> ModelLog:
    """Epoch 1 appends 0..1 and 2, epoch 3 appends 3..4: cache ((1, 0), (3, 3)), end 5."""
    log = ModelLog()
    log.become_leader(1)
    log.append([rec(), rec()])
    log.append([rec()])
    log.become_leader(3)
    log.append([rec(), rec()])
    return log


def test_appends_are_stamped_with_the_leader_epoch() -> None:
    """EPOCH-2: every batch carries the epoch it was appended under, -1 before any."""
    log = ModelLog()
    log.append([rec()])
    log.become_leader(2)
    log.append([rec()])
    assert [b.partition_leader_epoch for b in log.state.batches] == [-1, 2]


def test_epoch_entry_is_assigned_at_the_first_append_of_an_epoch() -> None:
    """EPOCH-4: become_leader alone adds nothing; the first batch of the epoch does."""
    log = ModelLog()
    log.append([rec()])
    log.become_leader(1)
    assert log.epoch_entries() == ()
    log.append([rec(), rec()])
    log.append([rec()])
    assert log.epoch_entries() == ((1, 1),)
    log.become_leader(4)
    log.become_leader(4)
    log.append([rec()])
    assert log.epoch_entries() == ((1, 1), (4, 4))
    assert log.leader_epoch == 4


@pytest.mark.parametrize("epoch", [0, 2])
def test_become_leader_refuses_a_lower_epoch(epoch: int) -> None:
    """EPOCH-1: an epoch below the current one is fenced and changes nothing."""
    log = epoch_log()
    before = log.state
    with pytest.raises(FencedLeaderEpoch):
        log.become_leader(epoch)
    assert log.state is before


@pytest.mark.parametrize("epoch", [-1, 1 << 31, True, "3", 2.0])
def test_become_leader_refuses_a_non_epoch(epoch: object) -> None:
    """EPOCH-1: an epoch must be an int in 0 .. 2**31 - 1."""
    with pytest.raises(InvalidArgument):
        ModelLog().become_leader(epoch)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("epoch", "expected"),
    [(-1, (-1, -1)), (0, (0, 0)), (1, (1, 3)), (2, (1, 3)), (3, (3, 5)), (4, (-1, -1)),
     (9, (-1, -1))],
)
def test_end_offset_for_epoch(epoch: int, expected: tuple[int, int]) -> None:
    """EPOCH-8: the largest epoch <= the one asked and where the next epoch starts, or the end;
    an epoch older than the cache gets the first start, one newer than the cache UNDEFINED."""
    assert epoch_log().end_offset_for_epoch(epoch) == expected


def test_end_offset_for_epoch_on_an_empty_cache() -> None:
    """EPOCH-8: no entries answers UNDEFINED (-1, -1) whatever the epoch."""
    log = log_of(3)
    assert log.end_offset_for_epoch(0) == (-1, -1)
    assert log.end_offset_for_epoch(5) == (-1, -1)


@pytest.mark.parametrize(
    ("offset", "expected"), [(5, ((1, 0), (3, 3))), (3, ((1, 0),)), (2, ((1, 0),)), (0, ())]
)
def test_truncate_drops_entries_from_the_offset_up(
    offset: int, expected: tuple[tuple[int, int], ...]
) -> None:
    """EPOCH-5: truncate(offset) drops every entry starting at or above offset."""
    log = epoch_log()
    log.truncate(offset)
    assert log.epoch_entries() == expected
    assert log.leader_epoch == 3


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(1, ((1, 1), (3, 3))), (3, ((3, 3),)), (4, ((3, 4),)), (5, ())],
)
def test_delete_records_below_moves_the_latest_entry_below_to_the_start(
    offset: int, expected: tuple[tuple[int, int], ...]
) -> None:
    """EPOCH-6: entries below the new start go, except the latest, moved up to it."""
    log = epoch_log()
    log.delete_records_below(offset)
    assert log.epoch_entries() == expected


def test_a_replicated_batch_keeps_its_offsets_and_epoch() -> None:
    """FOLLOW-1, FOLLOW-2: base offset and epoch come from the batch; leader_epoch stays."""
    log = ModelLog()
    result = log.append_replicated(encode_batch(0, [A, B], partition_leader_epoch=7))
    assert result == AppendResult(0, 1)
    assert log.epoch_entries() == ((7, 0),)
    assert log.leader_epoch == -1
    assert [r.record for r in log.read(0)] == [A, B]
    log.append_replicated(encode_batch(2, [C], partition_leader_epoch=7))
    log.append_replicated(encode_batch(3, [D], partition_leader_epoch=9))
    assert log.epoch_entries() == ((7, 0), (9, 3))


@pytest.mark.parametrize("base", [0, 4, 6])
def test_a_replicated_batch_must_start_at_log_end(base: int) -> None:
    """FOLLOW-1: a batch that does not start at log_end_offset is refused, changing nothing."""
    log = log_of(5)
    before = log.state
    with pytest.raises(UnexpectedAppendOffset):
        log.append_replicated(encode_batch(base, [A]))
    assert log.state is before


def test_a_replicated_batch_must_not_go_back_in_epoch() -> None:
    """FOLLOW-1: a batch with an epoch below the latest cached one is refused."""
    log = epoch_log()
    with pytest.raises(InvalidRecord):
        log.append_replicated(encode_batch(5, [A], partition_leader_epoch=2))
    log.append_replicated(encode_batch(5, [A], partition_leader_epoch=-1))
    assert log.epoch_entries() == ((1, 0), (3, 3))


def test_a_damaged_replicated_batch_is_refused() -> None:
    """FOLLOW-1: a bad CRC raises a DecodeError; trailing bytes raise InvalidRecord."""
    data = bytearray(encode_batch(0, [A]))
    log = ModelLog()
    with pytest.raises(InvalidRecord):
        log.append_replicated(bytes(data) + b"\x00")
    data[-1] ^= 0xFF
    with pytest.raises(DecodeError):
        log.append_replicated(bytes(data))
    assert log.log_end_offset == 0


def test_a_superseded_leader_cannot_append() -> None:
    """EPOCH-2: once the log holds a newer epoch's batches, the old leader is fenced."""
    log = ModelLog()
    log.become_leader(1)
    log.append_replicated(encode_batch(0, [A], partition_leader_epoch=2))
    with pytest.raises(FencedLeaderEpoch):
        log.append([B])
    with pytest.raises(FencedLeaderEpoch):
        log.become_leader(1)
    log.become_leader(2)
    assert log.append([B]) == AppendResult(1, 1)


def test_single_node_high_watermark_follows_the_end() -> None:
    """HWM-2: by default the high watermark is log_end_offset and cannot be moved by hand."""
    log = log_of(2, 1)
    assert log.high_watermark == 3
    with pytest.raises(InvalidArgument):
        log.advance_high_watermark(2)


def test_replica_high_watermark_moves_only_up_to_the_end() -> None:
    """HWM-3, HWM-4: explicit high watermark: starts at log start, up only, lowered by truncate."""
    log = ModelLog(model.empty_log(high_watermark_follows_end=False))
    log.append([rec(), rec()])
    log.append([rec()])
    assert log.high_watermark == 0
    log.advance_high_watermark(3)
    with pytest.raises(OffsetOutOfRange):
        log.advance_high_watermark(2)
    with pytest.raises(OffsetOutOfRange):
        log.advance_high_watermark(4)
    log.truncate(2)
    assert log.high_watermark == 2
    log.append([rec()])
    assert log.high_watermark == 2


def test_replica_cannot_delete_records_above_its_high_watermark() -> None:
    """HWM-4: delete_records_below never passes the high watermark."""
    log = ModelLog(model.empty_log(high_watermark_follows_end=False))
    log.append([rec(), rec(), rec()])
    log.advance_high_watermark(1)
    with pytest.raises(OffsetOutOfRange):
        log.delete_records_below(2)
    log.delete_records_below(1)
    assert (log.log_start_offset, log.high_watermark) == (1, 1)


def test_reads_can_stop_at_the_high_watermark() -> None:
    """HWM-5: with up_to_high_watermark only records below it are read, even mid-batch."""
    log = ModelLog(model.empty_log(high_watermark_follows_end=False))
    log.append([rec(b"0"), rec(b"1"), rec(b"2")])
    log.append([rec(b"3")])
    log.advance_high_watermark(2)
    assert offsets(log.read(0, up_to_high_watermark=True)) == [0, 1]
    assert offsets(log.read(1, up_to_high_watermark=True, max_records=5)) == [1]
    assert log.read(2, up_to_high_watermark=True) == []
    assert log.read(4, up_to_high_watermark=True) == []
    assert offsets(log.read(0)) == [0, 1, 2, 3]
    with pytest.raises(OffsetOutOfRange):
        log.read(5, up_to_high_watermark=True)


def test_reopen_takes_the_latest_cached_epoch() -> None:
    """EPOCH-11: leader_epoch is not kept by itself: after reopen it is the latest cached."""
    log = epoch_log()
    log.become_leader(6)
    log.reopen()
    assert log.leader_epoch == 3
    log.truncate(0)
    log.reopen()
    assert log.leader_epoch == -1


@st.composite
def epoch_caches(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    """A strictly increasing cache of (epoch, start_offset) entries."""
    epochs = draw(st.lists(st.integers(0, 20), unique=True, max_size=6).map(sorted))
    starts = draw(
        st.lists(st.integers(0, 40), unique=True, min_size=len(epochs), max_size=len(epochs))
    )
    return tuple(zip(epochs, sorted(starts), strict=True))


@given(entries=epoch_caches(), data=st.data())
def test_epoch_cache_contracts_hold(entries: tuple[tuple[int, int], ...], data: st.DataObject) -> None:
    """EPOCH-4..8: the epoch cache functions' stated postconditions hold on drawn caches."""
    end = data.draw(st.integers(max((s for _, s in entries), default=-1) + 1, 50))
    epoch = data.draw(st.integers(-1, 25))
    offset = data.draw(st.integers(0, 50))
    start = data.draw(st.integers(0, end))
    assert_postconditions(epochs.epochs_after_append,
                          epochs.epochs_after_append(entries, epoch, end),
                          entries=entries, epoch=epoch, base_offset=end)
    assert_postconditions(epochs.epochs_truncated, epochs.epochs_truncated(entries, offset),
                          entries=entries, offset=offset)
    assert_postconditions(epochs.epochs_from_start, epochs.epochs_from_start(entries, start, end),
                          entries=entries, log_start_offset=start, log_end_offset=end)
    assert_postconditions(epochs.end_offset_for_epoch, epochs.end_offset_for_epoch(entries, end, epoch),
                          entries=entries, log_end_offset=end, epoch=epoch)


@given(state=log_states(), data=st.data(), records=batches(large_value_max=0))
def test_replication_contracts_hold(
    state: LogState, data: st.DataObject, records: list[Record]
) -> None:
    """EPOCH-1, EPOCH-8, FOLLOW-2, HWM-3: the replication operations' postconditions hold."""
    epoch = data.draw(st.integers(0, 5))
    led = model.become_leader(state, epoch)
    assert_postconditions(model.become_leader, led, state=state, epoch=epoch)
    batch = encode_batch(state.log_end_offset, records, partition_leader_epoch=epoch)
    result = model.append_replicated(led, batch)
    assert_postconditions(model.append_replicated, result, state=led, batch=batch)
    grown = result[0]
    asked = data.draw(st.integers(-1, 6))
    answer = model.end_offset_for_epoch(grown, asked)
    assert_postconditions(model.end_offset_for_epoch, answer, state=grown, epoch=asked)
    replica = LogState(grown.log_start_offset, grown.batches, grown.leader_epoch, grown.epochs,
                       grown.log_start_offset)
    target = data.draw(st.integers(replica.log_start_offset, replica.log_end_offset))
    moved = model.advance_high_watermark(replica, target)
    assert_postconditions(model.advance_high_watermark, moved, state=replica, offset=target)
    point = data.draw(st.sampled_from(model.batch_boundaries(moved)))
    cut = model.truncate(moved, point)
    assert_postconditions(model.truncate, cut, state=moved, offset=point)
    assert_postconditions(model.reopen, model.reopen(cut), state=cut)
