"""Kafka's consumer protocol payloads: `ConsumerProtocolSubscription` (a classic member's
JoinGroup metadata) and `ConsumerProtocolAssignment` (its SyncGroup assignment), as schema data.

On the wire each is an int16 version followed by the struct, never flexible (Kafka's
`ConsumerProtocol.serialize*`; spec/consumer-group-protocol.md CG-20: DescribeGroups describes a
consumer-protocol group's members with them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from flyq.protocol._codec import encode_message
from flyq.protocol._types import MessageSchema, f

__all__ = ["ASSIGNMENT", "SUBSCRIPTION", "encode_assignment", "encode_subscription"]

_TOPIC_PARTITIONS = (f("topic", "string", "0+"), f("partitions", "[]int32", "0+"))

SUBSCRIPTION = MessageSchema(-1, "ConsumerProtocolSubscription", "request", (0, 3), None, (
    f("topics", "[]string", "0+"),
    f("user_data", "bytes", "0+", nullable="0+", default=None),
    f("owned_partitions", "[]struct", "1+", fields=(
        f("topic", "string", "1+"), f("partitions", "[]int32", "1+"))),
    f("generation_id", "int32", "2+", default=-1),
    f("rack_id", "string", "3+", nullable="3+", default=None),
))

ASSIGNMENT = MessageSchema(-1, "ConsumerProtocolAssignment", "response", (0, 3), None, (
    f("assigned_partitions", "[]struct", "0+", fields=_TOPIC_PARTITIONS),
    f("user_data", "bytes", "0+", nullable="0+", default=None),
))


def _with_version(schema: MessageSchema, version: int, body: Mapping[str, object]) -> bytes:
    prefix = version.to_bytes(2, "big", signed=True)
    return b"".join(bytes(part) for part in encode_message(schema, version, body, prefix=prefix))


def encode_subscription(topics: Sequence[str], *, version: int = 0) -> bytes:
    """A subscription to `topics` (no user data, no owned partitions)."""
    return _with_version(SUBSCRIPTION, version, {"topics": list(topics), "user_data": None,
                                                 "owned_partitions": []})


def encode_assignment(assignment: Mapping[str, Iterable[int]], *, version: int = 0) -> bytes:
    """An assignment of `assignment` (topic -> partitions), no user data."""
    return _with_version(ASSIGNMENT, version, {
        "assigned_partitions": [{"topic": topic, "partitions": sorted(partitions)}
                                for topic, partitions in sorted(assignment.items())],
        "user_data": None})
