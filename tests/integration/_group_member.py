"""One confluent-kafka group member, run as its own process by the consumer-group tests:
`python _group_member.py '{"bootstrap": ..., "group": ..., "topic": ..., "client_id": ...}'`
(optional keys: `strategy`, `session_ms`, `heartbeat_ms`, `debug`).

It subscribes, and prints one JSON line per event, flushed at once, for the test to read:
`{"event": "assign"|"revoke"|"lost", "partitions": [...]}`, `{"event": "record", "partition": p,
"offset": o}` (processing a record is printing this; then its next offset is committed
synchronously),
`{"event": "error", "error": ...}`. In on_revoke it commits the positions of what it is losing
before giving it up ("commit before revocation"). SIGTERM closes it cleanly (LeaveGroup).
"""

from __future__ import annotations

import json
import signal
import sys
from typing import Any

import confluent_kafka


def emit(**event: Any) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main(settings: dict[str, Any]) -> None:
    stopping = False

    def stop(_signal: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    config = {
        "bootstrap.servers": settings["bootstrap"], "group.id": settings["group"],
        "client.id": settings["client_id"], "auto.offset.reset": "earliest",
        "enable.auto.commit": False, "session.timeout.ms": settings.get("session_ms", 6000),
        "heartbeat.interval.ms": settings.get("heartbeat_ms", 300),
        "max.poll.interval.ms": 30_000, "fetch.wait.max.ms": 100,
        "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 500,
        "partition.assignment.strategy": settings.get("strategy", "range"),
        "error_cb": lambda error: emit(event="error", error=str(error)),
    }
    if settings.get("debug"):
        config["debug"] = settings["debug"]
    consumer = confluent_kafka.Consumer(config)

    def on_assign(_consumer: confluent_kafka.Consumer, partitions: list[Any]) -> None:
        emit(event="assign", partitions=sorted(tp.partition for tp in partitions))

    def on_revoke(_consumer: confluent_kafka.Consumer, partitions: list[Any]) -> None:
        # Commit before revocation: the positions of what is going away (a no-op when every
        # processed record was committed already, which _NO_OFFSET says).
        if partitions:
            positions = [tp for tp in consumer.position(partitions) if tp.offset >= 0]
            if positions:
                try:
                    consumer.commit(offsets=positions, asynchronous=False)
                except confluent_kafka.KafkaException as exc:
                    emit(event="error", error=f"commit on revoke: {exc}")
        emit(event="revoke", partitions=sorted(tp.partition for tp in partitions))

    def on_lost(_consumer: confluent_kafka.Consumer, partitions: list[Any]) -> None:
        emit(event="lost", partitions=sorted(tp.partition for tp in partitions))

    consumer.subscribe([settings["topic"]], on_assign=on_assign, on_revoke=on_revoke,
                       on_lost=on_lost)
    try:
        while not stopping:
            message = consumer.poll(0.1)
            if message is None:
                continue
            if message.error() is not None:
                emit(event="error", error=str(message.error()))
                continue
            # Processing is reporting the record; only then is it committed, so a kill between
            # the two redelivers it (at least once) and never loses it.
            emit(event="record", partition=message.partition(), offset=message.offset())
            try:
                consumer.commit(message=message, asynchronous=False)
            except confluent_kafka.KafkaException as exc:
                # Refused in a rebalance: whoever gets the partition next starts from the last
                # commit, and sees this record again.
                emit(event="error", error=f"commit: {exc}")
    finally:
        consumer.close()
        emit(event="closed")


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
