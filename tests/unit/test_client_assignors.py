"""The leader's assignors of `flyq.client._group` (spec/client.md CLIENT-32) against the
examples Kafka documents: the javadoc of `org.apache.kafka.clients.consumer.RangeAssignor` and
`RoundRobinAssignor`, and cases of Kafka's `RangeAssignorTest`. The expected placements are
copied from there, not computed."""

from __future__ import annotations

import pytest

from flyq.client._group import (
    decode_assigned,
    leader_assignments,
    parse_strategies,
    range_assign,
    roundrobin_assign,
)
from flyq.errors import InvalidArgument
from flyq.protocol import decode_assignment


def tps(*names: str) -> list[tuple[str, int]]:
    """"t0p2" -> ("t0", 2), in the order given."""
    return [(name[:name.rindex("p")], int(name[name.rindex("p") + 1:])) for name in names]


def test_range_javadoc_example() -> None:
    """RangeAssignor javadoc: C0, C1 on t0, t1 of 3 partitions each -> C0: [t0p0, t0p1, t1p0,
    t1p1], C1: [t0p2, t1p2]."""
    subscriptions = {"C1": ["t0", "t1"], "C0": ["t0", "t1"]}  # given out of order on purpose
    assert range_assign(subscriptions, {"t0": 3, "t1": 3}) == {
        "C0": tps("t0p0", "t0p1", "t1p0", "t1p1"), "C1": tps("t0p2", "t1p2")}


def test_range_mixed_subscriptions() -> None:
    """RangeAssignorTest.testMultipleConsumersMixedTopics: topic1 (3 partitions) for
    consumer1..3, topic2 (2) for consumer2 only -> consumer1 [topic1p0], consumer2 [topic1p1,
    topic2p0, topic2p1], consumer3 [topic1p2]."""
    subscriptions = {"consumer1": ["topic1"], "consumer2": ["topic1", "topic2"],
                     "consumer3": ["topic1"]}
    assert range_assign(subscriptions, {"topic1": 3, "topic2": 2}) == {
        "consumer1": tps("topic1p0"), "consumer2": tps("topic1p1", "topic2p0", "topic2p1"),
        "consumer3": tps("topic1p2")}


def test_range_more_members_than_partitions() -> None:
    """RangeAssignorTest.testTwoConsumersOneTopicOnePartition: the first member gets the one
    partition, the second none; an unknown topic (no partition count) assigns nothing."""
    assert range_assign({"consumer1": ["topic"], "consumer2": ["topic"]}, {"topic": 1}) == {
        "consumer1": tps("topicp0"), "consumer2": []}
    assert range_assign({"consumer": ["gone"]}, {}) == {"consumer": []}


def test_roundrobin_javadoc_example() -> None:
    """RoundRobinAssignor javadoc: C0, C1 on t0, t1 of 3 partitions each -> C0: [t0p0, t0p2,
    t1p1], C1: [t0p1, t1p0, t1p2]."""
    subscriptions = {"C1": ["t0", "t1"], "C0": ["t0", "t1"]}
    assert roundrobin_assign(subscriptions, {"t0": 3, "t1": 3}) == {
        "C0": tps("t0p0", "t0p2", "t1p1"), "C1": tps("t0p1", "t1p0", "t1p2")}


def test_roundrobin_javadoc_example_with_differing_subscriptions() -> None:
    """RoundRobinAssignor javadoc: t0, t1, t2 of 1, 2, 3 partitions; C0 on t0, C1 on t0, t1,
    C2 on t0, t1, t2 -> C0: [t0p0], C1: [t1p0], C2: [t1p1, t2p0, t2p1, t2p2]."""
    subscriptions = {"C0": ["t0"], "C1": ["t0", "t1"], "C2": ["t0", "t1", "t2"]}
    assert roundrobin_assign(subscriptions, {"t0": 1, "t1": 2, "t2": 3}) == {
        "C0": tps("t0p0"), "C1": tps("t1p0"), "C2": tps("t1p1", "t2p0", "t2p1", "t2p2")}


def test_leader_assignments_give_every_member_its_bytes() -> None:
    """The leader's SyncGroup entries: one ConsumerProtocolAssignment per member, a member
    with nothing included (empty), decoding back to the assignor's placement."""
    encoded = leader_assignments("range", {"b": ["t"], "a": ["t"], "c": ["t"]}, {"t": 2})
    assert set(encoded) == {"a", "b", "c"}
    assert {member: decode_assigned(data) for member, data in encoded.items()} == {
        "a": {("t", 0)}, "b": {("t", 1)}, "c": set()}
    assert decode_assignment(encoded["c"])["assigned_partitions"] == []
    assert decode_assigned(b"") == set()


def test_parse_strategies() -> None:
    """partition_assignment_strategy: a comma list or a sequence of known, distinct names."""
    assert parse_strategies("range, roundrobin") == ("range", "roundrobin")
    assert parse_strategies(["roundrobin"]) == ("roundrobin",)
    for bad in ("", "sticky", "range,range", []):
        with pytest.raises(InvalidArgument):
            parse_strategies(bad)
