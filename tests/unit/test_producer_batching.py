"""The producer's pure core (flyq.client._batching, spec/client.md CLIENT-6..8, 10): where each record
goes and when its batch is ready, with time as an argument."""

from __future__ import annotations

import random

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flyq.client._batching import Partitioner, RecordAccumulator, _length_size, record_size
from flyq.client._producer import Acks, AsyncProducer, backoff_seconds
from flyq.codec._varint import encode_varint
from flyq.codec.record_batch import BATCH_HEADER_SIZE, encode_batch
from flyq.errors import InvalidArgument
from flyq.records import Record
from tests.unit.test_partitioner import JAVA_PARTITION_OF_1000, kafka_python_partition


def partitioner(seed: int = 0) -> Partitioner:
    """A partitioner with seeded randomness."""
    return Partitioner(random.Random(seed))


@pytest.mark.parametrize(("key", "expected"), JAVA_PARTITION_OF_1000)
def test_keyed_records_go_where_the_java_producer_puts_them(key: bytes, expected: int) -> None:
    """CLIENT-7: a keyed record's partition is the Java producer's (1000 partitions)."""
    assert partitioner().partition("t", key, 1000) == expected


@given(st.binary(max_size=64), st.integers(1, 500), st.integers(0, 2**32))
def test_keyed_placement_agrees_with_kafka_python(key: bytes, partitions: int, seed: int) -> None:
    """CLIENT-7: the client's keyed placement is kafka-python's DefaultPartitioner's, whatever the
    sticky state."""
    assert partitioner(seed).partition("t", key, partitions) == kafka_python_partition(
        key, partitions)


@given(st.one_of(st.none(), st.binary(max_size=8)), st.integers(1, 50), st.data())
def test_an_explicit_partition_wins(key: bytes | None, partitions: int, data: st.DataObject
                                    ) -> None:
    """CLIENT-7: an explicit partition is used as given, key or not."""
    explicit = data.draw(st.integers(0, partitions - 1))
    assert partitioner().partition("t", key, partitions, explicit) == explicit


@pytest.mark.parametrize("explicit", [-1, 3])
def test_an_explicit_partition_out_of_range_is_refused(explicit: int) -> None:
    """CLIENT-7: an explicit partition outside the topic's is InvalidArgument."""
    with pytest.raises(InvalidArgument):
        partitioner().partition("t", None, 3, explicit)


def test_null_keys_stick_to_one_partition_until_its_batch_closes() -> None:
    """CLIENT-7: null-key records of a topic all go to one partition; once the batch there is
    closed they move to a different one; another topic's closed batch changes nothing."""
    chooser = partitioner(7)
    first = chooser.partition("t", None, 4)
    assert {chooser.partition("t", None, 4) for _ in range(100)} == {first}
    chooser.batch_closed("u", first, 4)
    chooser.batch_closed("t", (first + 1) % 4, 4)
    assert chooser.partition("t", None, 4) == first
    chooser.batch_closed("t", first, 4)
    second = chooser.partition("t", None, 4)
    assert second != first
    assert {chooser.partition("t", None, 4) for _ in range(100)} == {second}


@given(st.integers(2, 20), st.integers(0, 2**32))
def test_sticky_switches_always_change_partition(partitions: int, seed: int) -> None:
    """CLIENT-7: every switch of the sticky partition picks another valid partition, and over
    many switches null keys reach more than one partition."""
    chooser = partitioner(seed)
    seen = set()
    for _ in range(30):
        current = chooser.partition("t", None, partitions)
        assert 0 <= current < partitions
        seen.add(current)
        chooser.batch_closed("t", current, partitions)
        assert chooser.partition("t", None, partitions) != current
    assert len(seen) > 1


def record(size: int) -> Record:
    """A record of `size` value bytes, no key."""
    return Record(value=b"x" * size, timestamp=0)


def test_a_batch_is_ready_after_linger_and_not_before() -> None:
    """CLIENT-6: a batch that is not full is ready `linger` seconds after its first record."""
    accumulator: RecordAccumulator[int] = RecordAccumulator(batch_size=16384, linger=0.005)
    accumulator.append("t", 0, record(10), 1, now=100.0)
    accumulator.append("t", 0, record(10), 2, now=100.004)
    assert accumulator.ready(100.0049, set()) == []
    assert accumulator.next_ready_time(set()) == pytest.approx(100.005)
    [batch] = accumulator.ready(100.005, set())
    assert batch.tokens == [1, 2]
    assert len(accumulator) == 0


def test_a_batch_closes_when_the_next_record_would_pass_batch_size() -> None:
    """CLIENT-6: records fill a batch up to `batch_size` bytes; the one that does not fit opens
    the next batch, and the closed batch is ready at once (no linger)."""
    size = record_size(record(100))
    accumulator: RecordAccumulator[int] = RecordAccumulator(batch_size=61 + 3 * size + 10,
                                                            linger=60.0)
    closed = [accumulator.append("t", 0, record(100), index, now=0.0) for index in range(4)]
    assert closed == [False, False, False, True]
    [batch] = accumulator.ready(0.0, set())
    assert batch.tokens == [0, 1, 2]
    assert batch.size <= accumulator.batch_size
    assert accumulator.ready(0.0, set()) == []


def test_a_record_larger_than_batch_size_gets_a_batch_of_its_own() -> None:
    """CLIENT-6: an oversized record is one closed batch, not refused here."""
    accumulator: RecordAccumulator[int] = RecordAccumulator(batch_size=100, linger=60.0)
    assert accumulator.append("t", 0, record(1000), 0, now=0.0)
    [batch] = accumulator.ready(0.0, set())
    assert batch.tokens == [0]


def test_busy_partitions_wait_and_order_is_kept_on_requeue() -> None:
    """CLIENT-8: a partition with a batch in flight sends nothing else; a requeued (retried)
    batch goes out before later ones of its partition, once its backoff has passed."""
    accumulator: RecordAccumulator[int] = RecordAccumulator(batch_size=100, linger=0.0)
    accumulator.append("t", 0, record(80), 0, now=0.0)
    accumulator.append("t", 0, record(80), 1, now=0.0)
    accumulator.append("t", 1, record(10), 2, now=0.0)
    first = accumulator.ready(0.0, set())
    assert sorted(batch.tokens[0] for batch in first) == [0, 2]
    assert accumulator.ready(0.0, {("t", 0)}) == []
    sent = next(batch for batch in first if batch.partition == 0)
    sent.attempts, sent.retry_at = 1, 0.5
    accumulator.requeue(sent)
    assert accumulator.ready(0.4, set()) == []
    assert [batch.tokens for batch in accumulator.ready(0.5, set())] == [[0]]
    assert [batch.tokens for batch in accumulator.ready(0.5, set())] == [[1]]


def test_flush_makes_every_batch_ready_now() -> None:
    """CLIENT-6: while flushing, batches are ready without waiting for linger."""
    accumulator: RecordAccumulator[int] = RecordAccumulator(batch_size=16384, linger=60.0)
    accumulator.append("t", 0, record(1), 0, now=0.0)
    assert accumulator.ready(0.0, set()) == []
    accumulator.flush()
    assert len(accumulator.ready(0.0, set())) == 1


def test_expired_batches_are_taken_out_and_the_rest_keep_their_order() -> None:
    """CLIENT-11: `take_created_before` takes exactly the waiting batches opened before the
    deadline, of every partition; the later ones stay, in order, and are still handed out."""
    accumulator: RecordAccumulator[int] = RecordAccumulator(batch_size=100, linger=0.0)
    accumulator.append("t", 0, record(80), 0, now=0.0)
    accumulator.append("t", 0, record(80), 1, now=1.0)
    accumulator.append("t", 1, record(10), 2, now=0.5)
    accumulator.append("t", 0, record(80), 3, now=2.0)
    taken = accumulator.take_created_before(1.0)
    assert sorted(batch.tokens[0] for batch in taken) == [0, 2]
    assert len(accumulator) == 2
    assert [batch.tokens for batch in accumulator.ready(5.0, set())] == [[1]]
    assert [batch.tokens for batch in accumulator.ready(5.0, set())] == [[3]]
    assert accumulator.take_created_before(10.0) == []


@pytest.mark.parametrize(("attempt", "expected"),
                         [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (60, 1.0)])
def test_backoff_doubles_up_to_its_bound(attempt: int, expected: float) -> None:
    """CLIENT-10: the wait before retry n is retry_backoff_ms * 2^(n-1), at most the maximum."""
    assert backoff_seconds(attempt, 100, 1000) == pytest.approx(expected)


@pytest.mark.parametrize("config", [
    {"acks": 2}, {"acks": "one"}, {"acks": 1, "enable_idempotence": True},
    {"acks": 0, "enable_idempotence": True}, {"compression": "snappy"},
    {"buffer_memory": 0}, {"max_block_ms": -1}])
def test_invalid_producer_config_is_refused(config: dict[str, object]) -> None:
    """CLIENT-6/9: acks outside 0, 1, -1/'all', idempotence without acks=all, or an unknown
    compression is InvalidArgument, before anything connects."""
    with pytest.raises(InvalidArgument):
        AsyncProducer("127.0.0.1:1", **config)  # type: ignore[arg-type]


@pytest.mark.parametrize(("acks", "idempotent"), [("all", True), (-1, True), (1, False),
                                                  (0, False)])
def test_idempotence_is_the_default_with_acks_all(acks: Acks, idempotent: bool) -> None:
    """CLIENT-9: the producer is idempotent by default exactly when acks is all."""
    producer = AsyncProducer("127.0.0.1:1", acks=acks)
    assert (producer.acks, producer.idempotent) == (-1 if acks == "all" else acks, idempotent)


_HEADERS = st.lists(st.tuples(st.text(max_size=70), st.one_of(st.none(), st.binary(max_size=70))),
                    max_size=3)
_SIZED_RECORD = st.builds(
    Record, value=st.one_of(st.none(), st.binary(max_size=9000)),
    key=st.one_of(st.none(), st.binary(max_size=200)),
    headers=_HEADERS.map(tuple), timestamp=st.integers(0, (1 << 20) - 1))


@given(st.lists(_SIZED_RECORD, min_size=1, max_size=6))
def test_record_size_bounds_the_encoded_size_within_five_bytes_each(records: list[Record]
                                                                    ) -> None:
    """CLIENT-6: the estimate of each record is at least what it takes in an encoded batch
    (timestamps within 2^20 ms of each other), and at most 5 bytes more (the deltas' 4 bytes of
    slack may lengthen the length varint): a batch closed by the estimate never passes
    batch_size."""
    encoded = len(encode_batch(0, records)) - BATCH_HEADER_SIZE
    estimated = sum(record_size(record) for record in records)
    assert encoded <= estimated <= encoded + 5 * len(records)


def test_waiting_bytes_count_exactly_the_batches_not_handed_out() -> None:
    """CLIENT-6: `waiting_bytes` is the sum of the waiting batches' sizes through appends,
    `ready`, `requeue`, `take_created_before` and `clear` (what buffer_memory bounds)."""
    accumulator: RecordAccumulator[int] = RecordAccumulator(batch_size=200, linger=0.0)

    def waiting() -> int:
        return sum(batch.size for batch in accumulator.batches())
    for index in range(5):
        accumulator.append("t", index % 2, record(80), index, now=float(index))
        assert accumulator.waiting_bytes == waiting() > 0
    taken = accumulator.ready(10.0, set())
    assert accumulator.waiting_bytes == waiting()
    accumulator.requeue(taken[0])
    assert accumulator.waiting_bytes == waiting()
    accumulator.take_created_before(2.5)
    assert accumulator.waiting_bytes == waiting()
    accumulator.clear()
    assert accumulator.waiting_bytes == 0


@pytest.mark.parametrize("length", [0, 63, 64, 8191, 8192, (1 << 20) - 1, 1 << 20,
                                    (1 << 27) - 1, 1 << 27])
def test_a_length_takes_the_bytes_of_its_zigzag_varint(length: int) -> None:
    """CLIENT-6: the estimate counts a length as the codec encodes it (zigzag varint), at every
    boundary where it takes one byte more."""
    out = bytearray()
    encode_varint(length, out)
    assert _length_size(length) == len(out)


@given(_SIZED_RECORD.map(lambda r: attrs.evolve(r, timestamp=0)))
def test_a_lone_records_estimate_is_four_or_five_bytes_over(one: Record) -> None:
    """CLIENT-6: alone in a batch (both deltas 0, one byte each) a record is estimated exactly 4
    bytes over what it takes (the deltas' slack), or 5 where that slack lengthens its length."""
    encoded = len(encode_batch(0, [one])) - BATCH_HEADER_SIZE
    # Below 60 bytes the slack cannot lengthen the (one-byte) length varint.
    assert record_size(one) - encoded == 4 if encoded < 60 else record_size(one) - encoded in (4, 5)


def test_a_closed_batch_is_ready_at_once_not_after_linger() -> None:
    """CLIENT-6: the sender's next wake-up for a closed batch is now (its creation), not after
    linger; an open one's is after linger."""
    accumulator: RecordAccumulator[int] = RecordAccumulator(batch_size=100, linger=60.0)
    accumulator.append("t", 0, record(10), 0, now=5.0)
    assert accumulator.next_ready_time(set()) == 65.0
    accumulator.append("t", 0, record(95), 1, now=6.0)  # closes the first batch
    assert accumulator.next_ready_time(set()) == 5.0


def test_one_partition_keeps_null_keys_where_they_are() -> None:
    """CLIENT-7: with one partition, a closed batch leaves the sticky partition at 0."""
    partitioner = Partitioner(random.Random(1))
    assert partitioner.partition("t", None, 1) == 0
    partitioner.batch_closed("t", 0, 1)
    assert partitioner.partition("t", None, 1) == 0


@pytest.mark.parametrize("partitions", [0, -1])
def test_a_topic_without_partitions_is_refused(partitions: int) -> None:
    """CLIENT-7: a partition count below 1 is InvalidArgument naming it, for keyed records too."""
    with pytest.raises(InvalidArgument, match="partitions"):
        Partitioner(random.Random(1)).partition("t", b"key", partitions)


def test_refusals_name_the_value() -> None:
    """CLIENT-6, CLIENT-7: an explicit partition out of range names it and the valid range; a
    batch_size below 1 names it."""
    with pytest.raises(InvalidArgument, match=r"partition.*\b7\b.*0\.\.2"):
        Partitioner(random.Random(1)).partition("t", None, 3, 7)
    with pytest.raises(InvalidArgument, match=r"batch_size.*\b0\b"):
        RecordAccumulator(batch_size=0, linger=0.0)


def test_batches_hold_the_records_appended_and_fill_up_to_batch_size_exactly() -> None:
    """CLIENT-6: a batch whose records take exactly batch_size holds them all (only passing it
    closes it early), and hands out the very records appended, in order."""
    size = record_size(record(50))
    accumulator: RecordAccumulator[int] = RecordAccumulator(batch_size=61 + 2 * size,
                                                            linger=60.0)
    appended = [record(50), record(50), record(50)]
    for index, one in enumerate(appended):
        accumulator.append("t", 0, one, index, now=0.0)
    first, second = accumulator.ready(0.0, set()), accumulator.ready(0.0, set())
    assert [batch.tokens for batch in first] == [[0, 1]] and second == []
    assert first[0].records == appended[:2]
    assert RecordAccumulator(batch_size=1, linger=0.0).batch_size == 1
    with pytest.raises(InvalidArgument, match="linger"):
        RecordAccumulator(batch_size=1, linger=-1.0)


def test_next_ready_time_of_a_retry_is_its_backoff_and_busy_partitions_wait() -> None:
    """CLIENT-8, CLIENT-10: a requeued batch (into a partition with nothing else waiting) is
    next ready at its retry time; a partition in flight offers no time at all."""
    accumulator: RecordAccumulator[int] = RecordAccumulator(batch_size=100, linger=1.0)
    accumulator.append("t", 0, record(10), 0, now=0.0)
    [sent] = accumulator.ready(5.0, set())
    sent.attempts, sent.retry_at = 1, 7.5
    accumulator.requeue(sent)
    assert accumulator.next_ready_time(set()) == 7.5
    assert accumulator.next_ready_time({("t", 0)}) is None
    assert accumulator.ready(7.4, set()) == [] and accumulator.ready(7.5, set()) == [sent]


def test_a_batch_opened_at_the_deadline_is_not_expired() -> None:
    """CLIENT-11: `take_created_before` takes batches opened strictly before the deadline."""
    accumulator: RecordAccumulator[int] = RecordAccumulator(batch_size=100, linger=0.0)
    accumulator.append("t", 0, record(80), 0, now=1.0)
    assert accumulator.take_created_before(1.0) == []
    assert accumulator.waiting_bytes == sum(batch.size for batch in accumulator.batches()) > 0


def test_a_sticky_partition_beyond_the_count_is_chosen_again() -> None:
    """CLIENT-7: null keys sticking to a partition the count no longer has move to one it has."""
    seed = next(seed for seed in range(100)
                if Partitioner(random.Random(seed)).partition("t", None, 3) == 2)
    partitioner = Partitioner(random.Random(seed))
    assert partitioner.partition("t", None, 3) == 2
    assert partitioner.partition("t", None, 2) in (0, 1)
