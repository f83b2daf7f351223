"""The pure helpers of `flyq.client._group` (spec/client.md CLIENT-31, CLIENT-32) besides the
assignors: reading a FindCoordinator answer at either shape, and the ConsumerProtocol payloads
a member reads."""

from __future__ import annotations

import pytest

from flyq.client._group import (
    _coordinator_moved,
    coordinator_address,
    decode_assigned,
    subscribed_topics,
)
from flyq.errors import ProtocolError, RemoteError, error_from_code
from flyq.protocol import encode_assignment, encode_subscription


def test_coordinator_address_before_and_from_v4() -> None:
    """CLIENT-31: v0-3 answer one key at the top level, v4+ a list of one coordinator."""
    assert coordinator_address("g", 3, {"error_code": 0, "error_message": None,
                                        "node_id": 1, "host": "h", "port": 9092}) == ("h", 9092)
    assert coordinator_address("g", 4, {"coordinators": [
        {"key": "g", "node_id": 1, "host": "k", "port": 19092, "error_code": 0,
         "error_message": None}]}) == ("k", 19092)


def test_coordinator_error_is_raised_with_the_group() -> None:
    """CLIENT-31: NOT_COORDINATOR (16, no FlyQ class) keeps its code, so the member finds the
    coordinator again instead of failing."""
    with pytest.raises(RemoteError) as caught:
        coordinator_address("g", 4, {"coordinators": [
            {"key": "g", "node_id": -1, "host": "", "port": -1, "error_code": 16,
             "error_message": "moved"}]})
    assert caught.value.error_code == 16 and "moved" in str(caught.value)


def test_member_payloads() -> None:
    """CLIENT-32: subscriptions of any version 0..3 are read (a newer client's too), an
    assignment decodes to its partitions, and a payload that does not parse is ProtocolError."""
    members = [("m1", encode_subscription(["b", "a"])),
               ("m2", encode_subscription(["c"], version=3, owned_partitions=[],
                                          generation_id=4, rack_id=None))]
    assert subscribed_topics(members) == {"m1": ["b", "a"], "m2": ["c"]}
    assert decode_assigned(encode_assignment({"a": [0, 2], "b": [1]}, version=3)) == {
        ("a", 0), ("a", 2), ("b", 1)}
    with pytest.raises(ProtocolError):
        subscribed_topics([("m", b"\x00")])


def test_which_errors_send_the_member_to_find_the_coordinator() -> None:
    """CLIENT-31: COORDINATOR_LOAD_IN_PROGRESS (14), COORDINATOR_NOT_AVAILABLE (15, a FlyQ class
    of its own) and NOT_COORDINATOR (16) mean finding the coordinator again; a fencing error
    (UNKNOWN_MEMBER_ID) does not."""
    assert all(_coordinator_moved(error_from_code(code)) for code in (14, 15, 16))
    assert not _coordinator_moved(error_from_code(25))
