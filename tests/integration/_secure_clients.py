"""The three Kafka clients with security settings (spec/security.md): produce, consume, commit
and list topics over SSL, SASL_PLAINTEXT and SASL_SSL, each failure raised as `Refused` with the
client's own words, so tests can check what the client reported."""

from __future__ import annotations

import asyncio
import time
import warnings
from typing import Any

import attrs
import confluent_kafka
import pytest
from confluent_kafka.admin import AdminClient

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import aiokafka
    import aiokafka.helpers
    import kafka

__all__ = ["CLIENTS", "REFUSED_CLIENT_MARKS", "Creds", "Refused", "commit", "consume", "produce",
           "topics"]

CLIENTS = ("confluent-kafka", "kafka-python", "aiokafka")
# The marks of a test module that lets clients be refused: kafka-python and aiokafka leave the
# sockets of a refused connection to the garbage collector, which conftest's
# `collect_refused_clients` runs under these filters, not in some later test.
REFUSED_CLIENT_MARKS = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.usefixtures("collect_refused_clients"),
]
TIMEOUT = 6.0


@attrs.frozen
class Creds:
    """How a client connects: Kafka's security settings."""

    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    user: str | None = None
    password: str | None = None
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None


class Refused(Exception):
    """The client failed; the message is what the client reported."""


def _confluent(creds: Creds, bootstrap: str, errors: list[Any]) -> dict[str, Any]:
    config: dict[str, Any] = {"bootstrap.servers": bootstrap, "security.protocol": creds.protocol,
                              "error_cb": errors.append, "client.id": "confluent-kafka"}
    optional = {"sasl.mechanism": creds.mechanism, "sasl.username": creds.user,
                "sasl.password": creds.password, "ssl.ca.location": creds.cafile,
                "ssl.certificate.location": creds.certfile, "ssl.key.location": creds.keyfile}
    config.update({key: value for key, value in optional.items() if value is not None})
    return config


def _kafka_python(creds: Creds, bootstrap: str) -> dict[str, Any]:
    options: dict[str, Any] = {"bootstrap_servers": bootstrap, "security_protocol": creds.protocol,
                               "client_id": "kafka-python",
                               "request_timeout_ms": int(TIMEOUT * 1000),
                               "bootstrap_timeout_ms": 3000}  # a refused login: fail fast
    optional = {"sasl_mechanism": creds.mechanism, "sasl_plain_username": creds.user,
                "sasl_plain_password": creds.password, "ssl_cafile": creds.cafile,
                "ssl_certfile": creds.certfile, "ssl_keyfile": creds.keyfile}
    options.update({key: value for key, value in optional.items() if value is not None})
    return options


def _aiokafka(creds: Creds, bootstrap: str) -> dict[str, Any]:
    options: dict[str, Any] = {"bootstrap_servers": bootstrap, "security_protocol": creds.protocol,
                               "client_id": "aiokafka", "request_timeout_ms": int(TIMEOUT * 1000)}
    if creds.mechanism is not None:
        options.update(sasl_mechanism=creds.mechanism, sasl_plain_username=creds.user,
                       sasl_plain_password=creds.password)
    if "SSL" in creds.protocol:
        options["ssl_context"] = aiokafka.helpers.create_ssl_context(
            cafile=creds.cafile, certfile=creds.certfile, keyfile=creds.keyfile)
    return options


# librdkafka's errors that mean no broker will take the records: give up at once.
_HOPELESS = {confluent_kafka.KafkaError._AUTHENTICATION, confluent_kafka.KafkaError._SSL,
             confluent_kafka.KafkaError._ALL_BROKERS_DOWN}


def _flush_until_refused(producer: Any, errors: list[Any]) -> None:
    deadline = time.monotonic() + TIMEOUT + 2
    while time.monotonic() < deadline and producer.flush(0.2) > 0:
        if any(error.code() in _HOPELESS for error in errors):
            return


def _refused(errors: list[Any], default: str) -> Refused:
    return Refused("; ".join(f"{error.name()}: {error.str()}" for error in errors) or default)


def produce(client: str, bootstrap: str, creds: Creds, topic: str,
            values: list[bytes]) -> list[int]:
    """Produce `values` to partition 0 with acks=all; the offsets, or `Refused`."""
    if client == "confluent-kafka":
        errors: list[Any] = []
        producer = confluent_kafka.Producer({**_confluent(creds, bootstrap, errors),
                                             "message.timeout.ms": int(TIMEOUT * 1000)})
        results: list[Any] = []
        for value in values:
            producer.produce(topic, value, partition=0,
                             on_delivery=lambda error, message: results.append(
                                 error if error is not None else message.offset()))
        _flush_until_refused(producer, errors)
        failures = [result for result in results if not isinstance(result, int)]
        if failures or len(results) < len(values):
            raise _refused(errors, "; ".join(str(failure) for failure in failures)
                           or "not delivered")
        return results
    try:
        if client == "kafka-python":
            producer = kafka.KafkaProducer(acks="all", max_block_ms=int(TIMEOUT * 1000),
                                           **_kafka_python(creds, bootstrap))
            try:
                futures = [producer.send(topic, value, partition=0) for value in values]
                return [future.get(TIMEOUT).offset for future in futures]
            finally:
                producer.close(2)
        return _run(_aio_produce(creds, bootstrap, topic, values))
    except Exception as exc:
        raise Refused(f"{type(exc).__name__}: {exc}") from exc


async def _aio_produce(creds: Creds, bootstrap: str, topic: str, values: list[bytes]) -> list[int]:
    producer = aiokafka.AIOKafkaProducer(acks="all", **_aiokafka(creds, bootstrap))
    await _start(producer)
    try:
        return [(await producer.send_and_wait(topic, value, partition=0)).offset
                for value in values]
    finally:
        await producer.stop()


def consume(client: str, bootstrap: str, creds: Creds, topic: str, count: int, *,
            group: str | None = None, commit: bool = False) -> list[bytes]:
    """Up to `count` values of partition 0 from offset 0 (then commit them to `group` if
    `commit`), or `Refused`."""
    try:
        if client == "confluent-kafka":
            return _confluent_consume(bootstrap, creds, topic, count, group, commit)
        if client == "kafka-python":
            return _kafka_python_consume(bootstrap, creds, topic, count, group, commit)
        return _run(_aio_consume(creds, bootstrap, topic, count, group, commit))
    except Refused:
        raise
    except Exception as exc:
        raise Refused(f"{type(exc).__name__}: {exc}") from exc


def _confluent_consume(bootstrap: str, creds: Creds, topic: str, count: int, group: str | None,
                       commit: bool) -> list[bytes]:
    errors: list[Any] = []
    consumer = confluent_kafka.Consumer({**_confluent(creds, bootstrap, errors),
                                         "group.id": group or "secure-tests",
                                         "enable.auto.commit": False})
    try:
        consumer.assign([confluent_kafka.TopicPartition(topic, 0, 0)])
        values: list[bytes] = []
        deadline = time.monotonic() + TIMEOUT
        while len(values) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if errors:
                raise _refused(errors, "")
            if message is None:
                continue
            if message.error():
                raise Refused(f"{message.error().name()}: {message.error().str()}")
            values.append(message.value())
        if commit and values:
            consumer.commit(offsets=[confluent_kafka.TopicPartition(topic, 0, len(values))],
                            asynchronous=False)
        return values
    finally:
        consumer.close()


def _kafka_python_consume(bootstrap: str, creds: Creds, topic: str, count: int,
                          group: str | None, commit: bool) -> list[bytes]:
    consumer = kafka.KafkaConsumer(group_id=group, enable_auto_commit=False,
                                   **_kafka_python(creds, bootstrap))
    try:
        partition = kafka.TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek(partition, 0)
        values: list[bytes] = []
        deadline = time.monotonic() + TIMEOUT
        while len(values) < count and time.monotonic() < deadline:
            for message in consumer.poll(timeout_ms=500).get(partition, []):
                values.append(message.value)
        if commit and values:
            consumer.commit({partition: kafka.structs.OffsetAndMetadata(len(values), "", -1)})
        return values
    finally:
        consumer.close(autocommit=False)


async def _aio_consume(creds: Creds, bootstrap: str, topic: str, count: int, group: str | None,
                       commit: bool) -> list[bytes]:
    consumer = aiokafka.AIOKafkaConsumer(group_id=group, enable_auto_commit=False,
                                         **_aiokafka(creds, bootstrap))
    await _start(consumer)
    try:
        partition = aiokafka.TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek(partition, 0)
        values: list[bytes] = []
        deadline = time.monotonic() + TIMEOUT
        while len(values) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(partition, timeout_ms=500)
            values.extend(message.value for message in batches.get(partition, []))
        if commit and values:
            await consumer.commit({partition: len(values)})
        return values
    finally:
        await consumer.stop()


def commit(client: str, bootstrap: str, creds: Creds, topic: str, group: str,
           offset: int) -> None:
    """Commit `offset` for partition 0 of `topic` to `group` without reading first, or
    `Refused`."""
    try:
        if client == "confluent-kafka":
            errors: list[Any] = []
            consumer = confluent_kafka.Consumer({**_confluent(creds, bootstrap, errors),
                                                 "group.id": group, "enable.auto.commit": False})
            try:
                results = consumer.commit(offsets=[confluent_kafka.TopicPartition(topic, 0,
                                                                                  offset)],
                                          asynchronous=False)
                failed = [result.error for result in results or [] if result.error]
                if failed:
                    raise Refused(f"{failed[0].name()}: {failed[0].str()}")
            finally:
                consumer.close()
        elif client == "kafka-python":
            consumer = kafka.KafkaConsumer(group_id=group, enable_auto_commit=False,
                                           **_kafka_python(creds, bootstrap))
            try:
                consumer.commit({kafka.TopicPartition(topic, 0):
                                 kafka.structs.OffsetAndMetadata(offset, "", -1)})
            finally:
                consumer.close(autocommit=False)
        else:
            _run(_aio_commit(creds, bootstrap, topic, group, offset))
    except Refused:
        raise
    except Exception as exc:
        raise Refused(f"{type(exc).__name__}: {exc}") from exc


async def _aio_commit(creds: Creds, bootstrap: str, topic: str, group: str, offset: int) -> None:
    consumer = aiokafka.AIOKafkaConsumer(group_id=group, enable_auto_commit=False,
                                         **_aiokafka(creds, bootstrap))
    await _start(consumer)
    try:
        partition = aiokafka.TopicPartition(topic, 0)
        consumer.assign([partition])  # aiokafka commits only assigned partitions
        await consumer.commit({partition: offset})
    finally:
        await consumer.stop()


def topics(client: str, bootstrap: str, creds: Creds) -> set[str]:
    """The topic names the client's Metadata shows, or `Refused`."""
    try:
        if client == "confluent-kafka":
            errors: list[Any] = []
            admin = AdminClient(_confluent(creds, bootstrap, errors))
            return set(admin.list_topics(timeout=TIMEOUT).topics)
        if client == "kafka-python":
            consumer = kafka.KafkaConsumer(**_kafka_python(creds, bootstrap))
            try:
                return set(consumer.topics())
            finally:
                consumer.close()
        return _run(_aio_topics(creds, bootstrap))
    except Exception as exc:
        raise Refused(f"{type(exc).__name__}: {exc}") from exc


async def _aio_topics(creds: Creds, bootstrap: str) -> set[str]:
    consumer = aiokafka.AIOKafkaConsumer(**_aiokafka(creds, bootstrap))
    await _start(consumer)
    try:
        return set(await consumer.topics())
    finally:
        await consumer.stop()


async def _start(client: Any) -> None:
    """aiokafka's start(); a client whose start failed is stopped too, or it complains when it
    is garbage-collected."""
    try:
        await client.start()
    except BaseException:
        await client.stop()
        raise


def _run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, TIMEOUT * 2))
