"""A raw Kafka client for group tests that need to misbehave on purpose (stop heartbeating, commit
with a stale generation): requests and answers go through FlyQ's own protocol codec, the socket is
driven by the test. One request in flight per `RawClient`; use one client per member.

Also the consumer protocol's subscription and assignment bytes (version 0), and a DescribeGroups
reader that decodes each member's assignment.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from flyq.protocol import (
    APIS,
    RequestHeader,
    decode_message,
    decode_response_header,
    encode_message,
    encode_request_header,
    response_header_version,
)

__all__ = ["RawClient", "assignment_bytes", "decode_assignment", "subscription_bytes"]

JOIN_GROUP, HEARTBEAT, LEAVE_GROUP, SYNC_GROUP, DESCRIBE_GROUPS = 11, 12, 13, 14, 15
OFFSET_COMMIT, OFFSET_FETCH = 8, 9
# Non-flexible versions the broker serves; JoinGroup v5 requires a known member id (KIP-394).
VERSIONS = {JOIN_GROUP: 5, HEARTBEAT: 3, LEAVE_GROUP: 3, SYNC_GROUP: 3, DESCRIBE_GROUPS: 4,
            OFFSET_COMMIT: 7, OFFSET_FETCH: 5}
MEMBER_ID_REQUIRED = 79
_SIZE = struct.Struct(">i")
_I16 = struct.Struct(">h")


def _string(text: str) -> bytes:
    data = text.encode()
    return _I16.pack(len(data)) + data


def subscription_bytes(topics: list[str]) -> bytes:
    """ConsumerProtocolSubscription v0: the topics, null user data."""
    return (_I16.pack(0) + _SIZE.pack(len(topics)) + b"".join(map(_string, topics))
            + _SIZE.pack(-1))


def assignment_bytes(assigned: dict[str, list[int]]) -> bytes:
    """ConsumerProtocolAssignment v0: topic -> partitions, null user data."""
    out = _I16.pack(0) + _SIZE.pack(len(assigned))
    for topic, partitions in assigned.items():
        out += _string(topic) + _SIZE.pack(len(partitions))
        out += b"".join(_SIZE.pack(partition) for partition in partitions)
    return out + _SIZE.pack(-1)


def decode_assignment(data: bytes) -> dict[str, list[int]]:
    """The topic -> partitions of a ConsumerProtocolAssignment (any version; user data ignored)."""
    if not data:
        return {}
    pos = 2
    (count,) = _SIZE.unpack_from(data, pos)
    pos += 4
    out: dict[str, list[int]] = {}
    for _ in range(count):
        (length,) = _I16.unpack_from(data, pos)
        topic = data[pos + 2:pos + 2 + length].decode()
        pos += 2 + length
        (partitions,) = _SIZE.unpack_from(data, pos)
        pos += 4
        out[topic] = list(struct.unpack_from(f">{partitions}i", data, pos))
        pos += 4 * partitions
    return out


class RawClient:
    """One connection to the broker; `call` sends a request and waits for its answer."""

    def __init__(self, address: str, client_id: str, timeout: float = 15.0) -> None:
        host, port = address.rsplit(":", 1)
        self.client_id = client_id
        self._sock = socket.create_connection((host, int(port)), timeout=timeout)
        self._correlation = 0
        self._waiting: tuple[int, int, int] | None = None  # api key, version, correlation id

    def send(self, api_key: int, body: dict[str, Any]) -> None:
        """Send one request (its answer is read by `receive`)."""
        assert self._waiting is None, "one request in flight per RawClient"
        version = VERSIONS[api_key]
        self._correlation += 1
        header = encode_request_header(
            RequestHeader(api_key, version, self._correlation, self.client_id))
        parts = encode_message(APIS[api_key].request, version, body, prefix=header)
        payload = b"".join(bytes(part) for part in parts)
        self._sock.sendall(_SIZE.pack(len(payload)) + payload)
        self._waiting = (api_key, version, self._correlation)

    def receive(self) -> dict[str, Any]:
        """The answer to the request sent last."""
        assert self._waiting is not None, "nothing was sent"
        api_key, version, correlation = self._waiting
        (size,) = _SIZE.unpack(self._exactly(_SIZE.size))
        frame = memoryview(self._exactly(size))
        answered, pos = decode_response_header(frame, response_header_version(api_key, version))
        assert answered == correlation, f"answer to {answered}, expected {correlation}"
        self._waiting = None
        return decode_message(APIS[api_key].response, version, frame[pos:])

    def call(self, api_key: int, body: dict[str, Any]) -> dict[str, Any]:
        """Send a request and wait for its answer."""
        self.send(api_key, body)
        return self.receive()

    def _exactly(self, size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            chunk = self._sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            data += chunk
        return bytes(data)

    def close(self) -> None:
        self._sock.close()

    # --- the group calls, with the fields a consumer sends -------------------------------------

    def join(self, group: str, topics: list[str], member_id: str = "",
             session_timeout_ms: int = 6000, rebalance_timeout_ms: int = 6000) -> None:
        """Send a JoinGroup (answered when the rebalance completes: read it with `receive`)."""
        self.send(JOIN_GROUP, {
            "group_id": group, "session_timeout_ms": session_timeout_ms,
            "rebalance_timeout_ms": rebalance_timeout_ms, "member_id": member_id,
            "group_instance_id": None, "protocol_type": "consumer",
            "protocols": [{"name": "range", "metadata": subscription_bytes(topics)}]})

    def join_new(self, group: str, topics: list[str], **timeouts: int) -> str:
        """The KIP-394 first round: a member id from a 79 answer, then send the real join."""
        self.join(group, topics, **timeouts)
        first = self.receive()
        assert first["error_code"] == MEMBER_ID_REQUIRED, first
        self.join(group, topics, member_id=first["member_id"], **timeouts)
        return str(first["member_id"])

    def sync(self, group: str, generation: int, member_id: str,
             assignments: dict[str, dict[str, list[int]]] | None = None) -> dict[str, Any]:
        return self.call(SYNC_GROUP, {
            "group_id": group, "generation_id": generation, "member_id": member_id,
            "group_instance_id": None,
            "assignments": [{"member_id": member, "assignment": assignment_bytes(assigned)}
                            for member, assigned in (assignments or {}).items()]})

    def heartbeat(self, group: str, generation: int, member_id: str) -> int:
        return int(self.call(HEARTBEAT, {
            "group_id": group, "generation_id": generation, "member_id": member_id,
            "group_instance_id": None})["error_code"])

    def commit(self, group: str, generation: int, member_id: str, topic: str, partition: int,
               offset: int) -> int:
        """OffsetCommit of one partition; its error code."""
        answer = self.call(OFFSET_COMMIT, {
            "group_id": group, "generation_id_or_member_epoch": generation,
            "member_id": member_id, "group_instance_id": None,
            "topics": [{"name": topic, "partitions": [{
                "partition_index": partition, "committed_offset": offset,
                "committed_leader_epoch": -1, "committed_metadata": None}]}]})
        [topic_answer] = answer["topics"]
        [partition_answer] = topic_answer["partitions"]
        return int(partition_answer["error_code"])

    def committed(self, group: str, topic: str, partition: int) -> int:
        """The committed offset of one partition (-1: none)."""
        answer = self.call(OFFSET_FETCH, {
            "group_id": group, "topics": [{"name": topic, "partition_indexes": [partition]}]})
        [topic_answer] = answer["topics"]
        [partition_answer] = topic_answer["partitions"]
        assert partition_answer["error_code"] == 0, partition_answer
        return int(partition_answer["committed_offset"])

    def describe(self, group: str) -> dict[str, Any]:
        """DescribeGroups of one group: state, and each member's id, client id and assignment."""
        [answer] = self.call(DESCRIBE_GROUPS, {
            "groups": [group], "include_authorized_operations": False})["groups"]
        return {"error_code": answer["error_code"], "state": answer["group_state"],
                "protocol": answer["protocol_data"],
                "members": {member["member_id"]: (member["client_id"],
                                                  decode_assignment(member["member_assignment"]))
                            for member in answer["members"]}}
