"""Kafka's default partitioning of keyed records, bit for bit (pure: no state, no I/O).

Keyed records go to `(murmur2(key) & 0x7fffffff) % partitions`, with `murmur2` bit for bit the Java
client's `org.apache.kafka.common.utils.Utils.murmur2`, so a key lands on the same partition number
in FlyQ as in a Kafka topic with the same partition count. The broker (`flyq.impl.partitioner`) and
the client (`flyq.client`) both place keys with this one function.
"""

from __future__ import annotations

from flyq.errors import InvalidArgument
from flyq.values import is_int

__all__ = ["check_partitions", "murmur2", "partition_for_key", "to_positive"]

_SEED = 0x9747B28C
_M = 0x5BD1E995
_R = 24
_U32 = 0xFFFFFFFF
_SIGN_BIT = 0x80000000
_INT31_MASK = 0x7FFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's MurmurHash2 of `data` as a signed 32-bit integer (Java's `int`).

    Java does this arithmetic in wrapping 32-bit ints with unsigned shifts (`>>>`); here every step
    is masked to 32 bits, which gives the same bits, and the result is read back as signed.
    """
    length = len(data)
    h = (_SEED ^ length) & _U32
    whole = length - (length & 3)
    for i in range(0, whole, 4):
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * _M) & _U32
        k ^= k >> _R
        k = (k * _M) & _U32
        h = ((h * _M) & _U32) ^ k
    extra = length & 3
    # Java's switch falls through: 3 mixes bytes 2, 1, 0; 2 mixes 1, 0; 1 mixes 0.
    if extra >= 3:
        h ^= data[whole + 2] << 16
    if extra >= 2:
        h ^= data[whole + 1] << 8
    if extra >= 1:
        h ^= data[whole]
        h = (h * _M) & _U32
    h ^= h >> 13
    h = (h * _M) & _U32
    h ^= h >> 15
    return h - (1 << 32) if h & _SIGN_BIT else h


def to_positive(number: int) -> int:
    """Kafka's `Utils.toPositive`: clear the sign bit of a 32-bit int (not `abs`)."""
    return number & _INT31_MASK


def check_partitions(partitions: int) -> None:
    """`InvalidArgument` unless `partitions` is an integer >= 1."""
    if not is_int(partitions) or partitions < 1:
        raise InvalidArgument("partitions", partitions, "an integer >= 1")


def partition_for_key(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for a record with this (non-null) key."""
    if not isinstance(key, bytes):
        raise InvalidArgument("key", key, "bytes (a null key is partitioned round robin)")
    check_partitions(partitions)
    return to_positive(murmur2(key)) % partitions
