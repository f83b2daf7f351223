"""The consumer protocol's embedded messages (flyq/protocol/_consumer.py; spec/protocol.md
"Consumer protocol data"), checked against kafka-python's independent encoder."""

from __future__ import annotations

import warnings

import pytest

from flyq.errors import ProtocolError
from flyq.protocol import (
    decode_assignment,
    decode_subscription,
    encode_assignment,
    encode_subscription,
)

with warnings.catch_warnings():
    # kafka-python 3.x's package import uses the deprecated importlib.resources.read_text.
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.protocol.consumer.metadata import (
        ConsumerProtocolAssignment,
        ConsumerProtocolSubscription,
    )


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_subscription_as_kafka_python_writes_it(version: int) -> None:
    """protocol.md "Consumer protocol data": every version kafka-python writes decodes to its topics,
    and encodes to the same bytes."""
    theirs = ConsumerProtocolSubscription(
        version=version, topics=["a", "b"], user_data=b"u",
        owned_partitions=[("a", [0, 2])], generation_id=7, rack_id="r1",
    ).encode(version=version)
    decoded = decode_subscription(bytes(theirs))
    assert decoded["version"] == version
    assert decoded["topics"] == ["a", "b"]
    assert decoded["user_data"] == b"u"
    if version >= 1:
        assert decoded["owned_partitions"] == [{"topic": "a", "partitions": [0, 2]}]
    kept = {key: decoded[key] for key in ("user_data", "owned_partitions", "generation_id",
                                         "rack_id")}
    assert encode_subscription(["a", "b"], version, **kept) == bytes(theirs)


@pytest.mark.parametrize("version", [0, 1, 3])
def test_assignment_as_kafka_python_writes_it(version: int) -> None:
    """protocol.md "Consumer protocol data": an assignment kafka-python writes decodes to its
    partitions; ours is byte-identical."""
    theirs = ConsumerProtocolAssignment(
        version=version, assigned_partitions=[("t", [0, 1]), ("u", [3])], user_data=None,
    ).encode(version=version)
    decoded = decode_assignment(bytes(theirs))
    assert decoded["assigned_partitions"] == [{"topic": "t", "partitions": [0, 1]},
                                              {"topic": "u", "partitions": [3]}]
    assert encode_assignment({"t": [0, 1], "u": [3]}, version) == bytes(theirs)


def test_a_newer_version_is_read_as_the_newest_with_trailing_bytes_ignored() -> None:
    """protocol.md "Consumer protocol data", as Kafka's ConsumerProtocol: version 9 reads as 3, fields
    it does not know are skipped."""
    data = bytearray(encode_subscription(["x"], 3))
    data[0:2] = (9).to_bytes(2, "big")
    decoded = decode_subscription(bytes(data) + b"\x01\x02\x03")
    assert decoded["version"] == 9 and decoded["topics"] == ["x"]


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff\xff", b"\x00\x00\x00\x00\x00\x05\x00\x01a"],
                         ids=["empty", "half-version", "negative-version", "truncated-topics"])
def test_malformed_data_is_a_protocol_error(data: bytes) -> None:
    """protocol.md "Consumer protocol data": malformed data raises ProtocolError, never struct.error or
    IndexError."""
    with pytest.raises(ProtocolError):
        decode_subscription(data)
    with pytest.raises(ProtocolError):
        decode_assignment(data)
