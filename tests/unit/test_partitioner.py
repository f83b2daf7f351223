"""Kafka's default partitioning (flyq.impl.partitioner) against kafka-python and Kafka's vectors."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flyq.errors import InvalidArgument
from flyq.impl.partitioner import (
    RoundRobinPartitioner,
    murmur2,
    partition_for_key,
    to_positive,
)

with warnings.catch_warnings():
    # kafka-python 3.x's package import uses the deprecated importlib.resources.read_text.
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.partitioner.default import DefaultPartitioner
    from kafka.partitioner.default import murmur2 as kafka_python_murmur2


class _Cluster:
    """The three ClusterMetadata methods kafka-python's DefaultPartitioner calls."""

    def __init__(self, topic: str, partitions: int) -> None:
        self._topic = topic
        self._partitions = set(range(partitions))

    def topics(self) -> set[str]:
        return {self._topic}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return self._partitions

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self._partitions


def kafka_python_partition(key: bytes, partitions: int) -> int:
    """The partition kafka-python's DefaultPartitioner picks for `key`."""
    cluster = _Cluster("t", partitions)
    return int(DefaultPartitioner().partition("t", key, key, b"v", b"v", cluster))


# From Apache Kafka's own test of the Java client, UtilsTest.testMurmur2
# (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java): signed Java ints.
JAVA_MURMUR2 = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
]

# From kafka-python's test_murmur2_java_compatibility (test/test_partitioner.py), which records
# them as the Java producer's choice among 1000 partitions.
JAVA_PARTITION_OF_1000 = [
    (b"", 681),
    (b"a", 524),
    (b"ab", 434),
    (b"abc", 107),
    (b"123456789", 566),
    (b"\x00 ", 742),
]


@pytest.mark.parametrize(("data", "expected"), JAVA_MURMUR2)
def test_murmur2_matches_kafka_java_vectors(data: bytes, expected: int) -> None:
    """murmur2 returns the signed 32-bit value Kafka's Java Utils.murmur2 returns."""
    assert murmur2(data) == expected


@pytest.mark.parametrize(("key", "expected"), JAVA_PARTITION_OF_1000)
def test_partition_for_key_matches_java_producer_vectors(key: bytes, expected: int) -> None:
    """partition_for_key picks the partition the Java producer picked (1000 partitions)."""
    assert partition_for_key(key, 1000) == expected


@given(st.binary(max_size=300))
def test_murmur2_agrees_with_kafka_python(data: bytes) -> None:
    """murmur2 has the same 32 bits as kafka-python's murmur2 (which returns them unsigned)."""
    ours = murmur2(data)
    assert -(1 << 31) <= ours < (1 << 31)
    assert ours & 0xFFFFFFFF == kafka_python_murmur2(data)


@given(st.binary(max_size=100), st.integers(1, 5000))
def test_partition_for_key_agrees_with_kafka_python_default_partitioner(
    key: bytes, partitions: int
) -> None:
    """partition_for_key is the partition kafka-python's DefaultPartitioner chooses."""
    assert partition_for_key(key, partitions) == kafka_python_partition(key, partitions)


def test_to_positive_clears_the_sign_bit_rather_than_negating() -> None:
    """to_positive is Kafka's `n & 0x7fffffff`, which differs from abs for negative numbers."""
    assert to_positive(-1) == 0x7FFFFFFF
    assert to_positive(-(1 << 31)) == 0
    assert to_positive(5) == 5


@pytest.mark.parametrize("partitions", [0, -1, True, 1.5])
def test_partition_for_key_rejects_a_bad_partition_count(partitions: object) -> None:
    """partition_for_key raises InvalidArgument unless partitions is an int >= 1."""
    with pytest.raises(InvalidArgument, match="partitions"):
        partition_for_key(b"k", partitions)  # type: ignore[arg-type]


def test_round_robin_cycles_per_topic() -> None:
    """Null-key partitions cycle 0..n-1 per topic, and topics do not share a counter."""
    round_robin = RoundRobinPartitioner()
    assert [round_robin.partition("a", 3) for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    assert [round_robin.partition("b", 2) for _ in range(3)] == [0, 1, 0]
    assert round_robin.partition("a", 3) == 1


def test_round_robin_start_and_set_next() -> None:
    """A round robin begins at `start` and `set_next` moves one topic's next choice."""
    round_robin = RoundRobinPartitioner(start=2)
    assert [round_robin.partition("a", 3) for _ in range(3)] == [2, 0, 1]
    round_robin.set_next("a", 1)
    assert [round_robin.partition("a", 3) for _ in range(2)] == [1, 2]
    assert round_robin.partition("b", 3) == 2
