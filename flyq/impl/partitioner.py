"""Choosing a partition for a record, the way Kafka's default partitioner does.

Keyed records go to `(murmur2(key) & 0x7fffffff) % partitions`, with `murmur2` bit for bit the Java
client's `org.apache.kafka.common.utils.Utils.murmur2`, so a key lands on the same partition number
in FlyQ as in a Kafka topic with the same partition count. Records with a null key are spread round
robin, one counter per topic. The keyed rule itself lives in `flyq.codec.partition` (re-exported
here), shared with the client.
"""

from __future__ import annotations

from flyq.codec.partition import check_partitions, murmur2, partition_for_key, to_positive
from flyq.errors import InvalidArgument
from flyq.values import is_int

__all__ = ["RoundRobinPartitioner", "murmur2", "partition_for_key", "to_positive"]

class RoundRobinPartitioner:
    """Partitions for null-key records: each topic's records cycle through 0, 1, ..., n-1, 0, ...

    The counter is per topic and starts at `start` (taken modulo the partition count), so
    interleaved produces to two topics do not disturb each other's rotation.
    """

    def __init__(self, start: int = 0) -> None:
        if not is_int(start) or start < 0:
            raise InvalidArgument("start", start, "an integer >= 0")
        self._start = start
        self._counters: dict[str, int] = {}

    def partition(self, topic: str, partitions: int) -> int:
        """The next partition for a null-key record of `topic`."""
        check_partitions(partitions)
        counter = self._counters.get(topic, self._start)
        self._counters[topic] = counter + 1
        return counter % partitions

    def set_next(self, topic: str, partition: int) -> None:
        """Make `partition` the next choice for `topic` (e.g. its least-filled partition)."""
        if not is_int(partition) or partition < 0:
            raise InvalidArgument("partition", partition, "an integer >= 0")
        self._counters[topic] = partition
