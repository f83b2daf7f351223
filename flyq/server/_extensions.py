"""FlyQ's extension APIs (spec/protocol.md "Extension APIs", EXT-1..6) as calls on the AsyncBroker.

What Kafka's protocol cannot say: a backward read, the durable offset beside the high watermark,
partition health, index verification. The reads, health snapshots and verification are the
Broker's (`read_backward`, `partition_health`), the same the offline CLI runs (`flyq consume
--backward`, `flyq health [--verify]`); here they are only turned into response bodies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flyq.broker import AsyncBroker
from flyq.errors import InvalidArgument, LogFailed, TopicAuthorizationFailed, kafka_error
from flyq.impl.log import PartitionHealth
from flyq.records import StoredRecord
from flyq.server._access import Access

__all__ = ["MAX_READ_BACKWARD_RECORDS", "ExtensionHandlers"]

Body = dict[str, Any]
ErrorOf = Callable[[BaseException, str], tuple[int, str]]

# EXT-3: one FlyqReadBackward answers at most this many records, whatever `max_records` asks; the
# client continues from the last offset answered minus one.
MAX_READ_BACKWARD_RECORDS = 10_000

_NONE = 0
_NO_OFFSETS: Body = {"log_start_offset": -1, "high_watermark": -1, "log_end_offset": -1}


def _record(record: StoredRecord) -> Body:
    return {"offset": record.offset, "timestamp": record.timestamp, "key": record.key,
            "value": record.value,
            "headers": [{"key": key, "value": value} for key, value in record.headers]}


def _state(health: PartitionHealth) -> Body:
    check = health.index_check
    return {
        "log_start_offset": health.log_start_offset,
        "high_watermark": health.high_watermark,
        "log_end_offset": health.log_end_offset,
        "durable_offset": health.durable_offset,
        "segment_count": health.segment_count,
        "size_bytes": health.total_bytes,
        "state": health.state,
        "failure": health.failure,
        "last_index_check_ms": -1 if check is None else check.checked_ms,
        "problems": [] if check is None else list(check.mismatches),
    }


class ExtensionHandlers:
    """The handlers of FLYQ_API_KEYS over one `AsyncBroker`; `error_of` turns an exception into
    (Kafka code, message) as for Kafka's APIs; `access` answers who may read or describe what
    (spec/authorization.md AUTHZ-19)."""

    def __init__(self, broker: AsyncBroker, error_of: ErrorOf, access: Access) -> None:
        self.broker = broker
        self.error_of = error_of
        self.access = access

    async def read_backward(self, version: int, body: Body) -> Body:
        """FlyqReadBackward (EXT-2, EXT-3): decoded records newest first."""
        topic, partition = body["topic"], body["partition"]
        answer: Body = {"throttle_time_ms": 0, "error_code": _NONE, "error_message": None,
                        **_NO_OFFSETS, "records": []}
        from_offset = body["from_offset"]
        if not self.access.allowed("Read", "Topic", topic):  # AUTHZ-19
            answer["error_code"], answer["error_message"] = self.access.refusal(
                TopicAuthorizationFailed, "Read", topic)
            return answer
        if body["max_records"] < 1 or body["max_bytes"] < 1:
            answer.update(error_code=kafka_error(InvalidArgument).code,
                          error_message="max_records and max_bytes must be >= 1")
            return answer
        try:
            records = await self.broker.read_backward(
                topic, partition, None if from_offset == -1 else from_offset,
                max_records=min(body["max_records"], MAX_READ_BACKWARD_RECORDS),
                max_bytes=body["max_bytes"])
            start, end, high_watermark = await self.broker.log_offsets(topic, partition)
        except Exception as exc:  # noqa: BLE001 - answered in the response
            answer["error_code"], answer["error_message"] = self.error_of(
                exc, f"read backward from {topic}-{partition}")
            return answer
        answer.update(log_start_offset=start, high_watermark=high_watermark,
                      log_end_offset=end, records=[_record(record) for record in records])
        return answer

    async def partition_state(self, version: int, body: Body) -> Body:
        """FlyqPartitionState (EXT-4): offsets, durable offset, size and health per partition."""
        return await self._each(body, verify=False, answer=_state)

    async def verify_index(self, version: int, body: Body) -> Body:
        """FlyqVerifyIndex (EXT-5): each index compared with a rebuild now (IDX-1, HLT-3)."""
        return await self._each(body, verify=True, answer=self._verified)

    @staticmethod
    def _verified(health: PartitionHealth) -> Body:
        check = health.index_check
        if health.state != "online" or check is None:
            # HLT-3: a failed log is not verified; its last check does not answer this one.
            return {"error_code": kafka_error(LogFailed).code,
                    "error_message": health.failure or f"the log is {health.state}",
                    "checked_ms": -1, "problems": []}
        return {"checked_ms": check.checked_ms, "problems": list(check.mismatches)}

    async def _each(self, body: Body, *, verify: bool,
                    answer: Callable[[PartitionHealth], Body]) -> Body:
        topics = []
        described = self.access.topics("Describe", (topic["name"] for topic in body["topics"]))
        for topic in body["topics"]:
            name = topic["name"]
            partitions = []
            for number in topic["partitions"]:
                one: Body = {"partition_index": number, "error_code": _NONE,
                             "error_message": None}
                if name not in described:  # AUTHZ-19
                    one["error_code"], one["error_message"] = self.access.refusal(
                        TopicAuthorizationFailed, "Describe", name)
                    partitions.append(one)
                    continue
                try:
                    health = await self.broker.partition_health(name, number, verify=verify)
                except Exception as exc:  # noqa: BLE001 - answered per partition
                    one["error_code"], one["error_message"] = self.error_of(
                        exc, f"health of {name}-{number}")
                    partitions.append(one)
                    continue
                one.update(answer(health))
                partitions.append(one)
            topics.append({"name": name, "partitions": partitions})
        return {"throttle_time_ms": 0, "topics": topics}
