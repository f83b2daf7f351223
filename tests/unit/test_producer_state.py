"""Idempotent producers (IDEM-1..13): the pure table against hand-computed cases and against the
model's fold, the snapshot codec, and the Broker's producer ids."""

from __future__ import annotations

import os
import random
import struct
from pathlib import Path

import crc32c
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flyq.api import AppendResult
from flyq.broker import Broker
from flyq.broker._producer_ids import PRODUCER_ID_BLOCK
from flyq.broker.layout import PRODUCER_IDS_FILE
from flyq.codec.producer_snapshot import (
    decode_producer_snapshot,
    encode_producer_snapshot,
    parse_snapshot_name,
    snapshot_name,
)
from flyq.codec.record_batch import BatchHeader, decode_batch_header, encode_batch
from flyq.crash import MODES, RecordingFileLayer, crash_states
from flyq.crash.recording import MARK
from flyq.crash.workload import DISK_ROOT
from flyq.errors import (
    CorruptCheckpoint,
    DecodeError,
    InvalidProducerEpoch,
    InvalidRecord,
    OutOfOrderSequence,
)
from flyq.impl import LogConfig, PartitionLog
from flyq.impl.producer_state import (
    APPEND,
    SEQUENCE_LIMIT,
    Duplicate,
    ProducerStateTable,
    last_sequence,
)
from flyq.model._producers import check_producer_batch, producer_table
from flyq.records import Record

MAX_SEQ = SEQUENCE_LIMIT - 1


def header(base_offset: int, pid: int, epoch: int, seq: int, count: int = 1, *,
           transactional: bool = False, timestamp: int = 7) -> BatchHeader:
    records = [Record(value=b"v", timestamp=timestamp) for _ in range(count)]
    return decode_batch_header(encode_batch(base_offset, records, producer_id=pid,
                                            producer_epoch=epoch, base_sequence=seq,
                                            is_transactional=transactional))


class Log:
    """A table plus a log end, appending as PartitionLog does (check, then record)."""

    def __init__(self) -> None:
        self.table = ProducerStateTable()
        self.end = 0

    def append(self, pid: int, epoch: int, seq: int, count: int = 1) -> Duplicate | tuple[int, int]:
        h = header(self.end, pid, epoch, seq, count)
        verdict = self.table.check(h)
        if isinstance(verdict, Duplicate):
            return verdict
        self.table.record(h)
        self.end = h.next_offset
        return (h.base_offset, h.last_offset)


def test_last_sequence_wraps() -> None:
    """IDEM values: last_seq = base + count - 1 modulo 2**31."""
    assert last_sequence(0, 1) == 0
    assert last_sequence(5, 3) == 7
    assert last_sequence(MAX_SEQ, 1) == MAX_SEQ
    assert last_sequence(MAX_SEQ, 2) == 0
    assert last_sequence(MAX_SEQ - 1, 4) == 1


def test_new_producer_needs_sequence_zero() -> None:
    """IDEM-4: an unknown producer starts at sequence 0; any other is out of order (45)."""
    log = Log()
    with pytest.raises(OutOfOrderSequence) as info:
        log.append(7, 0, 3)
    assert info.value.code == 45 and not info.value.retriable
    assert log.table.entries() == ()
    assert log.append(7, 0, 0, 2) == (0, 1)
    assert log.table.entries() == ((7, 0, ((0, 1, 0, 1, 7),)),)


def test_in_order_gap_and_rewind() -> None:
    """IDEM-6: the next batch starts at last_seq + 1; a gap or a rewind is out of order."""
    log = Log()
    log.append(1, 0, 0, 3)
    with pytest.raises(OutOfOrderSequence) as info:
        log.append(1, 0, 4)
    assert info.value.expected == 3
    with pytest.raises(OutOfOrderSequence):
        log.append(1, 0, 1)
    assert log.append(1, 0, 3, 2) == (3, 4)


def test_duplicates_of_each_of_the_last_five() -> None:
    """IDEM-5, IDEM-6: a retry of any of the last 5 batches answers its original offsets and
    writes nothing; the 6th-newest is out of order."""
    log = Log()
    placed = [log.append(9, 2, 0, 2)]
    log.append(4, 0, 0)  # another producer interleaves
    for i in range(1, 6):
        placed.append(log.append(9, 2, 2 * i, 2))
    before = (log.table.entries(), log.end)
    for i in range(1, 6):
        dup = log.append(9, 2, 2 * i, 2)
        assert isinstance(dup, Duplicate)
        assert (dup.base_offset, dup.last_offset) == placed[i]
        assert dup.timestamp == 7
    assert (log.table.entries(), log.end) == before
    with pytest.raises(OutOfOrderSequence):
        log.append(9, 2, 0, 2)
    # Same first sequence, different length: not a duplicate, and out of order.
    with pytest.raises(OutOfOrderSequence):
        log.append(9, 2, 10, 1)


def test_wrap_around_after_max_sequence() -> None:
    """IDEM-6: after sequence 2**31 - 1 comes 0."""
    log = Log()
    table = log.table
    # Reach the top by a batch recorded as a follower would (record never refuses, IDEM-8).
    table.record(header(0, 3, 0, MAX_SEQ - 1, 2))
    log.end = 2
    assert table.entries()[0][2] == ((MAX_SEQ - 1, MAX_SEQ, 0, 1, 7),)
    assert table.check(header(log.end, 3, 0, 0)) == APPEND
    with pytest.raises(OutOfOrderSequence):
        table.check(header(log.end, 3, 0, MAX_SEQ))
    assert log.append(3, 0, 0, 3) == (2, 4)
    assert log.append(3, 0, 3) == (5, 5)
    # A batch crossing the wrap: base 2**31 - 2, 4 records, last sequence 1.
    log2 = Log()
    log2.table.record(header(0, 5, 1, MAX_SEQ - 5, 4))
    log2.end = 4
    assert log2.append(5, 1, MAX_SEQ - 1, 4) == (4, 7)
    assert log2.table.entries()[0][2][-1][:2] == (MAX_SEQ - 1, 1)
    assert log2.append(5, 1, 2) == (8, 8)
    dup = log2.append(5, 1, MAX_SEQ - 1, 4)
    assert isinstance(dup, Duplicate) and dup.base_offset == 4


def test_epoch_bump_resets_and_needs_zero() -> None:
    """IDEM-4, IDEM-8: a higher epoch must start at 0 and replaces the producer's entries."""
    log = Log()
    log.append(2, 0, 0)
    log.append(2, 0, 1)
    with pytest.raises(OutOfOrderSequence):
        log.append(2, 1, 2)
    assert log.append(2, 1, 0) == (2, 2)
    assert log.table.entries() == ((2, 1, ((0, 0, 2, 2, 7),)),)
    # The old epoch's batches are no longer duplicates: the old epoch is fenced.
    with pytest.raises(InvalidProducerEpoch):
        log.append(2, 0, 1)


def test_lower_epoch_is_fenced() -> None:
    """IDEM-3: an epoch below the stored one is INVALID_PRODUCER_EPOCH (47); nothing changes."""
    log = Log()
    log.append(8, 5, 0)
    before = log.table.entries()
    with pytest.raises(InvalidProducerEpoch) as info:
        log.append(8, 4, 1)
    assert info.value.code == 47 and not info.value.retriable
    assert (info.value.producer_epoch, info.value.stored_epoch) == (4, 5)
    assert log.table.entries() == before


def test_transactional_checked_and_malformed_batches_refused() -> None:
    """IDEM-2: transactional batches are checked as idempotent ones; idempotent ones without
    epoch or sequence are InvalidRecord."""
    table = ProducerStateTable()
    with pytest.raises(OutOfOrderSequence):
        table.check(header(0, 1, 0, 3, transactional=True))
    tx = header(0, 1, 0, 0, transactional=True)
    assert table.check(tx) == APPEND
    table.record(tx)
    assert isinstance(table.check(tx), Duplicate)
    table.clear()
    with pytest.raises(InvalidRecord):
        table.check(header(0, 1, -1, 0))
    with pytest.raises(InvalidRecord):
        table.check(header(0, 1, 0, -1))
    assert len(table) == 0


def test_drop_below_forgets_entries_and_producers() -> None:
    """IDEM-9: entries ending below the log start go, and producers left with none."""
    log = Log()
    log.append(1, 0, 0, 2)  # 0..1
    log.append(2, 0, 0, 2)  # 2..3
    log.append(1, 0, 2, 2)  # 4..5
    log.table.drop_below(3)
    assert log.table.entries() == ((1, 0, ((2, 3, 4, 5, 7),)), (2, 0, ((0, 1, 2, 3, 7),)))
    log.table.drop_below(4)
    assert log.table.entries() == ((1, 0, ((2, 3, 4, 5, 7),)),)
    # The dropped producer is unknown again: only sequence 0 is accepted (IDEM-4).
    with pytest.raises(OutOfOrderSequence):
        log.append(2, 0, 2)


# --- the table against the model's fold ------------------------------------------------------------

_ops = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 12), st.integers(1, 3)),
    max_size=40,
)


@given(ops=_ops)
def test_table_agrees_with_model_fold(ops: list[tuple[int, int, int, int]]) -> None:
    """IDEM-1..8: for any stream of idempotent batches the table answers as the model does and
    holds the model's fold of what was written."""
    log = Log()
    written: list[tuple[int, int, int, int, int, int, int]] = []
    for pid, epoch, seq, count in ops:
        model_table = producer_table(written, 0)
        try:
            model = ("ok", check_producer_batch(model_table, pid, epoch, seq, count, False))
        except (OutOfOrderSequence, InvalidProducerEpoch) as exc:
            model = ("error", type(exc).__name__)
        try:
            got = log.append(pid, epoch, seq, count)
            impl = ("ok", (got.base_offset, got.last_offset, 0, 0, 7)
                    if isinstance(got, Duplicate) else None)
            if not isinstance(got, Duplicate):
                written.append((pid, epoch, seq, last_sequence(seq, count), got[0], got[1], 7))
        except (OutOfOrderSequence, InvalidProducerEpoch) as exc:
            impl = ("error", type(exc).__name__)
        if model[0] == "ok" and model[1] is not None:
            entry = model[1]
            assert isinstance(entry, tuple)
            model = ("ok", (entry[2], entry[3], 0, 0, 7))
        assert impl == model
        assert log.table.entries() == producer_table(written, 0)


# --- snapshots ---------------------------------------------------------------------------------------


def _sample_table() -> ProducerStateTable:
    log = Log()
    for i in range(7):
        log.append(1, 3, i)
    log.append(1 << 40, 0, 0, 3)
    log.append(0, 32767, 0)
    return log.table


def test_snapshot_round_trip() -> None:
    """IDEM-10, snapshot layout: a table survives encode and decode exactly, and equal tables
    give equal bytes."""
    table = _sample_table()
    data = table.snapshot(11)
    offset, back = ProducerStateTable.from_snapshot(data, source="t")
    assert offset == 11
    assert back.entries() == table.entries()
    assert back.snapshot(11) == data
    assert decode_producer_snapshot(encode_producer_snapshot(0, ()), source="t") == (0, ())
    assert data[:4] == b"FQPS"
    # 18-byte prefix, 3 producers x 11 bytes, 5 + 1 + 1 entries x 32 bytes, the CRC.
    assert len(data) == 18 + 3 * 11 + 7 * 32 + 4


def test_snapshot_every_bit_flip_is_detected() -> None:
    """IDEM-11, snapshot layout: flipping any single bit makes decoding raise CorruptCheckpoint."""
    data = _sample_table().snapshot(11)
    for bit in range(len(data) * 8):
        damaged = bytearray(data)
        damaged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(CorruptCheckpoint):
            decode_producer_snapshot(bytes(damaged), source="t")


def test_snapshot_torn_and_structural_damage() -> None:
    """Snapshot layout: truncated files and a CRC-valid file with bad fields are refused, naming
    the field."""
    data = _sample_table().snapshot(11)
    for cut in range(len(data)):
        with pytest.raises(CorruptCheckpoint):
            decode_producer_snapshot(data[:cut], source="t")
    # Producers out of order, with a correct CRC: the structure check names the field.
    bad = encode_producer_snapshot(0, ((2, 0, ((0, 0, 0, 0, 0),)), (1, 0, ((0, 0, 1, 1, 0),))))
    with pytest.raises(CorruptCheckpoint) as info:
        decode_producer_snapshot(bad, source="t")
    assert info.value.field == "producer_id"


def test_snapshot_names() -> None:
    """IDEM-10: snapshot files are named by the 20-digit offset."""
    assert snapshot_name(42) == "00000000000000000042.snapshot"
    assert parse_snapshot_name("00000000000000000042.snapshot") == 42
    assert parse_snapshot_name("00000000000000000042.log") is None
    assert parse_snapshot_name("00000000000000000042.snapshot.tmp") is None
    assert parse_snapshot_name("42.snapshot") is None


# --- the disk log ------------------------------------------------------------------------------------


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 5_000

    def __call__(self) -> int:
        return self.now


def _batch(pid: int, epoch: int, seq: int, count: int = 1) -> bytes:
    return encode_batch(0, [Record(value=b"v%d" % i, timestamp=1) for i in range(count)],
                        producer_id=pid, producer_epoch=epoch, base_sequence=seq)


def _open(path: Path, clock: Clock | None = None, **config: int | str) -> PartitionLog:
    return PartitionLog.open(str(path), LogConfig(**config),  # type: ignore[arg-type]
                             clock=clock or Clock())


def _snapshots(path: Path) -> list[int]:
    return sorted(o for o in map(parse_snapshot_name, os.listdir(path)) if o is not None)


def test_log_answers_duplicates_with_original_offsets(tmp_path: Path) -> None:
    """IDEM-5, IDEM-7: a retried batch is answered with its original offsets and not written."""
    with _open(tmp_path) as log:
        first = log.append_encoded(_batch(1, 0, 0, 2))
        log.append_encoded(_batch(2, 0, 0))
        again = log.append_encoded(_batch(1, 0, 0, 2))
        assert (first.duplicate, first.log_append_time) == (False, -1)
        assert again == AppendResult(0, 1, log_append_time=-1, duplicate=True)
        assert log.log_end_offset == 3
        with pytest.raises(OutOfOrderSequence):
            log.append_encoded(_batch(1, 0, 5))
        log.append_encoded(_batch(2, 3, 0))
        with pytest.raises(InvalidProducerEpoch):
            log.append_encoded(_batch(2, 2, 1))
        assert log.log_end_offset == 4


def test_log_append_time_is_reported(tmp_path: Path) -> None:
    """IDEM-7, IDEM-5: a LogAppendTime log answers its stamp, also for a duplicate."""
    clock = Clock()
    with _open(tmp_path, clock, message_timestamp_type="LogAppendTime") as log:
        result = log.append_encoded(_batch(1, 0, 0))
        assert result.log_append_time == 5_000
        clock.now = 6_000
        assert log.append([Record(value=b"x", timestamp=1)]).log_append_time == 6_000
        dup = log.append_encoded(_batch(1, 0, 0))
        assert (dup.duplicate, dup.log_append_time, dup.base_offset) == (True, 5_000, 0)


def _fill(log: PartitionLog) -> list[AppendResult]:
    return [log.append_encoded(_batch(pid, 0, seq)) for seq in range(6) for pid in (1, 2)]


@pytest.mark.parametrize("damage", ["none", "crash", "delete", "corrupt"])
def test_duplicates_survive_reopen(tmp_path: Path, damage: str) -> None:
    """IDEM-10, IDEM-11: after a clean or unclean reopen, with snapshots deleted or damaged, the
    table is the same and a retry of a recent batch is still a duplicate."""
    log = _open(tmp_path, segment_bytes=300)
    results = _fill(log)
    entries = log.producer_entries()
    if damage == "crash":
        log.flush()
        for segment in log._segments:  # drop handles without the clean-shutdown marker
            segment.close()
        assert log._lock is not None
        log._lock.release()
    else:
        log.close()
    assert 1 <= len(_snapshots(tmp_path)) <= 2
    for offset in _snapshots(tmp_path):
        path = tmp_path / snapshot_name(offset)
        if damage == "delete":
            path.unlink()
        elif damage == "corrupt":
            data = bytearray(path.read_bytes())
            data[20] ^= 1
            path.write_bytes(bytes(data))
    with _open(tmp_path, segment_bytes=300) as log:
        assert log.producer_entries() == entries
        dup = log.append_encoded(_batch(2, 0, 5))
        assert dup.duplicate and dup.base_offset == results[-1].base_offset
        if damage == "corrupt":
            assert any("snapshot" in p for p in log.recovery_report.problems)


def test_truncate_rebuilds_the_table(tmp_path: Path) -> None:
    """IDEM-9, IDEM-12: after truncation the table is the fold of the batches left; snapshots
    above the truncation point are deleted."""
    with _open(tmp_path, segment_bytes=300) as log:
        results = _fill(log)
        cut = results[4].base_offset  # producer 1's seq 2
        log.truncate(cut)
        assert all(o <= cut for o in _snapshots(tmp_path))
        entries = dict((pid, e) for pid, _, e in log.producer_entries())
        assert entries[1][-1][:2] == (1, 1) and entries[2][-1][:2] == (1, 1)
        assert len(entries[1]) == 2
        again = log.append_encoded(_batch(1, 0, 2))
        assert not again.duplicate and again.base_offset == cut


def test_retention_drops_producers(tmp_path: Path) -> None:
    """IDEM-9: a producer whose batches are all below the log start is forgotten."""
    with _open(tmp_path) as log:
        log.append_encoded(_batch(1, 0, 0))
        log.append_encoded(_batch(2, 0, 0))
        log.delete_records_below(1)
        assert [pid for pid, _, _ in log.producer_entries()] == [2]
        with pytest.raises(OutOfOrderSequence):
            log.append_encoded(_batch(1, 0, 1))


# --- producer ids -----------------------------------------------------------------------------------


def test_init_producer_id_never_repeats_across_reopen(tmp_path: Path) -> None:
    """IDEM-13: ids are unique across clean reopens; epoch is 0; the block file is reserved."""
    data = str(tmp_path / "data")
    seen: list[int] = []
    for _ in range(3):
        with Broker.open(data, create=True) as broker:
            for _ in range(3):
                producer_id, epoch = broker.init_producer_id()
                assert epoch == 0
                seen.append(producer_id)
    assert len(set(seen)) == len(seen)
    assert seen[:3] == [0, 1, 2]
    assert seen[3] == PRODUCER_ID_BLOCK
    assert os.path.exists(os.path.join(data, PRODUCER_IDS_FILE))


def test_init_producer_id_survives_every_crash(tmp_path: Path) -> None:
    """IDEM-13: on every disk a crash can leave (unsynced work lost in any order), a reopened
    broker hands out only ids above every id returned before the crash."""
    layer = RecordingFileLayer(directories={DISK_ROOT})
    broker = Broker.open(DISK_ROOT + "/data", create=True, file_layer=layer)
    returned: list[tuple[int, int]] = []  # (history length when returned, id)
    for _ in range(PRODUCER_ID_BLOCK + 2):
        producer_id, _ = broker.init_producer_id()
        returned.append((len(layer.history), producer_id))
    points = sorted({0, len(layer.history), *(i for i, op in enumerate(layer.history)
                                                if op.kind != MARK)})
    rng = random.Random(0)
    checked = 0
    for point in points:
        acknowledged = [pid for at, pid in returned if at <= point]
        for mode in MODES:
            for state in crash_states(layer, point, mode, rng=rng, torn_lengths=4):
                root = tmp_path / f"s{checked}"
                state.materialise(DISK_ROOT, str(root))
                with Broker.open(str(root / "data"), create=True) as again:
                    fresh, _ = again.init_producer_id()
                assert all(fresh > pid for pid in acknowledged), (point, mode, fresh)
                checked += 1
    assert checked > len(points)


def _snapshot_bytes(*, magic: bytes = b"FQPS", version: int = 1, offset: int = 7,
                    producers: tuple[tuple[int, int, int, tuple[tuple[int, ...], ...]], ...] = (),
                    count: int | None = None, tail: bytes = b"") -> bytes:
    """A snapshot laid out by hand from the spec's table (not by the encoder), CRC made valid:
    producers are (producer_id, epoch, entries count, entries)."""
    out = bytearray(struct.pack(">4sHqI", magic, version, offset,
                                len(producers) if count is None else count))
    for producer_id, epoch, n, entries in producers:
        out += struct.pack(">qhB", producer_id, epoch, n)
        for entry in entries:
            out += struct.pack(">iiqqq", *entry)
    out += tail
    return bytes(out + struct.pack(">I", crc32c.crc32c(bytes(out))))


_GOOD_ENTRY = (0, 4, 10, 14, 99)


@pytest.mark.parametrize(("data", "field", "position"), [
    (_snapshot_bytes(magic=b"FQPX"), "magic", 0),
    (_snapshot_bytes(version=2), "version", 4),
    (_snapshot_bytes(offset=-1), "offset", 6),
    (_snapshot_bytes(count=1), "producer", 18),
    (_snapshot_bytes(producers=((5, 0, 1, (_GOOD_ENTRY,)), (5, 0, 1, (_GOOD_ENTRY,)))),
     "producer_id", 61),
    (_snapshot_bytes(producers=((5, -1, 1, (_GOOD_ENTRY,)),)), "epoch", 26),
    (_snapshot_bytes(producers=((5, 0, 0, ()),)), "entries", 28),
    (_snapshot_bytes(producers=((5, 0, 6, (_GOOD_ENTRY,) * 6),)), "entries", 28),
    (_snapshot_bytes(producers=((5, 0, 1, ()),)), "entry", 29),
    (_snapshot_bytes(producers=((5, 0, 1, ((-1, 4, 10, 14, 99),)),)), "sequence", 29),
    (_snapshot_bytes(producers=((5, 0, 1, ((0, -4, 10, 14, 99),)),)), "sequence", 29),
    (_snapshot_bytes(producers=((5, 0, 1, ((0, 4, 15, 14, 99),)),)), "base_offset", 37),
    (_snapshot_bytes(producers=((5, 0, 2, (_GOOD_ENTRY, (5, 6, 14, 16, 99))),)),
     "base_offset", 69),
    (_snapshot_bytes(tail=b"\0"), "length", 18),
    (b"\0" * 21, "length", 0),
])
def test_snapshot_field_checks_name_field_and_byte(data: bytes, field: str,
                                                   position: int) -> None:
    """Snapshot layout: a CRC-valid file breaking one field's rule is refused naming that field
    and its byte position (offsets from the spec's table, computed by hand)."""
    with pytest.raises(CorruptCheckpoint) as info:
        decode_producer_snapshot(data, source="t")
    assert (info.value.field, info.value.position) == (field, position)


def test_snapshot_hand_laid_out_decodes_and_crc_is_checked_first() -> None:
    """Snapshot layout: the hand-laid bytes decode to their fields; a wrong CRC is named first."""
    data = _snapshot_bytes(producers=((5, 3, 2, (_GOOD_ENTRY, (5, 6, 15, 16, 98))),))
    assert decode_producer_snapshot(data, source="t") == (
        7, ((5, 3, (_GOOD_ENTRY, (5, 6, 15, 16, 98))),))
    assert encode_producer_snapshot(7, ((5, 3, (_GOOD_ENTRY, (5, 6, 15, 16, 98))),)) == data
    damaged = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(CorruptCheckpoint) as info:
        decode_producer_snapshot(damaged, source="t")
    assert (info.value.field, info.value.position) == ("crc", len(data) - 4)
    assert decode_producer_snapshot(_snapshot_bytes(), source="t") == (7, ())


@pytest.mark.parametrize("offset", [-1, 1 << 63])
def test_snapshot_name_refuses_offsets_out_of_range(offset: int) -> None:
    """IDEM-10: no snapshot is named for an offset outside 0 <= offset < 2**63."""
    with pytest.raises(DecodeError) as info:
        snapshot_name(offset)
    assert info.value.field == "offset"


def test_snapshot_names_at_the_limits() -> None:
    """IDEM-10: the largest offset names a file and parses back; anything larger does not."""
    largest = (1 << 63) - 1
    assert parse_snapshot_name(snapshot_name(largest)) == largest
    assert parse_snapshot_name(snapshot_name(0)) == 0
    assert parse_snapshot_name("9" * 20 + ".snapshot") is None
    assert parse_snapshot_name("-" + "0" * 19 + ".snapshot") is None
    assert parse_snapshot_name("0" * 19 + ".snapshot") is None
