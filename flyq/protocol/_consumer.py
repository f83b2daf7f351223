"""The classic consumer protocol's embedded messages (spec/protocol.md "Consumer protocol data").

A JoinGroup member's `metadata` (protocol type "consumer") is a ConsumerProtocolSubscription and a
SyncGroup `assignment` a ConsumerProtocolAssignment: an int16 version, then the message at that
version (never flexible), as Kafka's `ConsumerProtocol` writes them. The schemas are data,
transcribed from Kafka's ConsumerProtocolSubscription.json and ConsumerProtocolAssignment.json
(versions 0-3), read by the one interpreter.

Rules, as Kafka's `ConsumerProtocol` reads them:
- A version below 0 is malformed; a version above the newest known is read as the newest (a newer
  client only appends fields), and bytes after the last known field are ignored.
- Anything malformed raises `ProtocolError`.
"""

from __future__ import annotations

from typing import Any

from flyq.errors import ProtocolError
from flyq.protocol._codec import decode_message_from, encode_message
from flyq.protocol._types import MessageSchema, f

__all__ = [
    "CONSUMER_PROTOCOL_ASSIGNMENT",
    "CONSUMER_PROTOCOL_SUBSCRIPTION",
    "CONSUMER_PROTOCOL_TYPE",
    "decode_assignment",
    "decode_subscription",
    "encode_assignment",
    "encode_subscription",
]

CONSUMER_PROTOCOL_TYPE = "consumer"
_NEWEST = 3

_VERSION = MessageSchema(-1, "ConsumerProtocolVersion", "data", (0, 0), None, (
    f("version", "int16", "0+"),
))

CONSUMER_PROTOCOL_SUBSCRIPTION = MessageSchema(
    -1, "ConsumerProtocolSubscription", "data", (0, _NEWEST), None, (
        f("topics", "[]string", "0+"),
        f("user_data", "bytes", "0+", nullable="0+", default=None),
        f("owned_partitions", "[]struct", "1+", fields=(
            f("topic", "string", "1+"),
            f("partitions", "[]int32", "1+"),
        )),
        f("generation_id", "int32", "2+", default=-1),
        f("rack_id", "string", "3+", nullable="3+", default=None),
    ))

CONSUMER_PROTOCOL_ASSIGNMENT = MessageSchema(
    -1, "ConsumerProtocolAssignment", "data", (0, _NEWEST), None, (
        f("assigned_partitions", "[]struct", "0+", fields=(
            f("topic", "string", "0+"),
            f("partitions", "[]int32", "0+"),
        )),
        f("user_data", "bytes", "0+", nullable="0+", default=None),
    ))


def _decode(schema: MessageSchema, data: bytes | memoryview) -> dict[str, Any]:
    view = memoryview(data)
    head, pos = decode_message_from(_VERSION, 0, view)
    version = head["version"]
    if version < 0:
        raise ProtocolError(f"version {version} is below 0", field="version", position=0,
                            source=schema.name)
    body, _ = decode_message_from(schema, min(version, _NEWEST), view, pos)
    body["version"] = version
    return body


def _encode(schema: MessageSchema, version: int, body: dict[str, Any]) -> bytes:
    head = b"".join(encode_message(_VERSION, 0, {"version": version}))
    return head + b"".join(bytes(part) for part in encode_message(schema, version, body))


def decode_subscription(data: bytes | memoryview) -> dict[str, Any]:
    """A ConsumerProtocolSubscription: `version`, `topics`, `user_data`, `owned_partitions`, ..."""
    return _decode(CONSUMER_PROTOCOL_SUBSCRIPTION, data)


def decode_assignment(data: bytes | memoryview) -> dict[str, Any]:
    """A ConsumerProtocolAssignment: `version`, `assigned_partitions` ([{topic, partitions}])."""
    return _decode(CONSUMER_PROTOCOL_ASSIGNMENT, data)


def encode_subscription(topics: list[str], version: int = 0, **fields: Any) -> bytes:
    """The bytes of a ConsumerProtocolSubscription at `version` (0..3)."""
    return _encode(CONSUMER_PROTOCOL_SUBSCRIPTION, version, {"topics": topics, **fields})


def encode_assignment(partitions: dict[str, list[int]], version: int = 0,
                      **fields: Any) -> bytes:
    """The bytes of a ConsumerProtocolAssignment at `version` (0..3)."""
    return _encode(CONSUMER_PROTOCOL_ASSIGNMENT, version, {
        "assigned_partitions": [{"topic": topic, "partitions": numbers}
                                for topic, numbers in partitions.items()], **fields})
