"""One small sync interface over confluent-kafka, kafka-python and aiokafka, so that each scenario
of `test_broker_clients.py` runs unchanged against the three (aiokafka on a private event loop).

Records are compared as `Rec` tuples: offset, key, value, headers, timestamp (ms).
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Coroutine, Sequence
from typing import Any, NamedTuple, TypeVar

import confluent_kafka
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

with warnings.catch_warnings():
    # kafka-python 3.x's package import uses the deprecated importlib.resources.read_text.
    warnings.simplefilter("ignore", DeprecationWarning)
    import aiokafka
    import aiokafka.admin
    import aiokafka.errors
    import kafka
    import kafka.admin
    import kafka.structs
    from aiokafka.admin.config_resource import ConfigResource as AioConfigResource
    from aiokafka.admin.config_resource import ConfigResourceType as AioConfigResourceType

__all__ = ["CLIENTS", "ClientError", "Rec", "kafka", "make_admin", "make_consumer", "make_producer"]

CLIENTS = ("confluent-kafka", "kafka-python", "aiokafka")
TIMEOUT = 15.0
T = TypeVar("T")


class Rec(NamedTuple):
    """A consumed record, as every client reports it."""

    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp: int


class ClientError(Exception):
    """A per-topic / per-resource admin error: the Kafka code and the broker's message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"error {code}: {message}")
        self.code = code
        self.message = message


def _headers(raw: Sequence[tuple[str, bytes]] | None) -> tuple[tuple[str, bytes], ...]:
    return tuple((name, bytes(value)) for name, value in (raw or ()))


class _Loop:
    """A private event loop for aiokafka, driven synchronously with a bounded wait."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = TIMEOUT) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, timeout))

    def close(self) -> None:
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


# --- admin -----------------------------------------------------------------------------------


class Admin:
    """create / describe / alter / grow / delete topics and delete records."""

    incremental = True

    def create(self, name: str, partitions: int, configs: dict[str, str] | None = None,
               replication_factor: int = 1) -> None:
        raise NotImplementedError

    def describe(self, name: str) -> dict[str, str]:
        raise NotImplementedError

    def alter(self, name: str, configs: dict[str, str]) -> None:
        raise NotImplementedError

    def create_partitions(self, name: str, total: int) -> None:
        raise NotImplementedError

    def delete(self, name: str) -> None:
        raise NotImplementedError

    def delete_records(self, name: str, partition: int, before: int) -> int:
        raise NotImplementedError

    def topics(self) -> dict[str, int]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class ConfluentAdmin(Admin):
    def __init__(self, bootstrap: str) -> None:
        self.client = AdminClient({"bootstrap.servers": bootstrap, "client.id": "confluent-kafka"})

    @staticmethod
    def _wait(futures: dict[Any, Any]) -> list[Any]:
        results = []
        for future in futures.values():
            try:
                results.append(future.result(timeout=TIMEOUT))
            except confluent_kafka.KafkaException as exc:
                error = exc.args[0]
                raise ClientError(error.code(), error.str()) from exc
        return results

    def create(self, name: str, partitions: int, configs: dict[str, str] | None = None,
               replication_factor: int = 1) -> None:
        self._wait(self.client.create_topics(
            [NewTopic(name, partitions, replication_factor, config=configs or {})],
            operation_timeout=10))

    def describe(self, name: str) -> dict[str, str]:
        [entries] = self._wait(self.client.describe_configs(
            [ConfigResource(confluent_kafka.admin.ResourceType.TOPIC, name)]))
        return {key: entry.value for key, entry in entries.items()}

    def alter(self, name: str, configs: dict[str, str]) -> None:
        self._wait(self.client.incremental_alter_configs([ConfigResource(
            confluent_kafka.admin.ResourceType.TOPIC, name, incremental_configs=[
                ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
                for key, value in configs.items()])]))

    def create_partitions(self, name: str, total: int) -> None:
        self._wait(self.client.create_partitions([NewPartitions(name, total)]))

    def delete(self, name: str) -> None:
        self._wait(self.client.delete_topics([name], operation_timeout=10))

    def delete_records(self, name: str, partition: int, before: int) -> int:
        [deleted] = self._wait(self.client.delete_records(
            [confluent_kafka.TopicPartition(name, partition, before)]))
        return int(deleted.low_watermark)

    def topics(self) -> dict[str, int]:
        metadata = self.client.list_topics(timeout=TIMEOUT)
        return {name: len(topic.partitions) for name, topic in metadata.topics.items()}


class KafkaPythonAdmin(Admin):
    def __init__(self, bootstrap: str) -> None:
        self.client = kafka.admin.KafkaAdminClient(bootstrap_servers=bootstrap,
                                                   client_id="kafka-python",
                                                   request_timeout_ms=int(TIMEOUT * 1000))

    @staticmethod
    def _check(results: Sequence[dict[str, Any]]) -> None:
        for result in results:
            if result["error_code"]:
                raise ClientError(result["error_code"], str(result.get("error_message")))

    def create(self, name: str, partitions: int, configs: dict[str, str] | None = None,
               replication_factor: int = 1) -> None:
        result = self.client.create_topics(
            {name: {"num_partitions": partitions, "replication_factor": replication_factor,
                    "configs": configs or {}}}, raise_errors=False)
        self._check(result["topics"])

    def describe(self, name: str) -> dict[str, str]:
        result = self.client.describe_configs(
            [kafka.admin.ConfigResource(kafka.admin.ConfigResourceType.TOPIC, name)],
            config_filter="all")
        return {key: entry["value"] for key, entry in result["topic"][name].items()}

    def alter(self, name: str, configs: dict[str, str]) -> None:
        result = self.client.alter_configs(
            [kafka.admin.ConfigResource(kafka.admin.ConfigResourceType.TOPIC, name, configs)],
            raise_on_unknown=False)
        error = result["topic"][name]
        if error is not None and getattr(error, "errno", 0):
            raise ClientError(error.errno, str(error))

    def create_partitions(self, name: str, total: int) -> None:
        response = self.client.create_partitions({name: total}, raise_errors=False)
        self._check([{"error_code": result.error_code, "error_message": result.error_message}
                     for result in response.results])

    def delete(self, name: str) -> None:
        self._check(self.client.delete_topics([name], raise_errors=False)["topics"])

    def delete_records(self, name: str, partition: int, before: int) -> int:
        result = self.client.delete_records({kafka.TopicPartition(name, partition): before})
        return int(result[kafka.TopicPartition(name, partition)]["low_watermark"])

    def topics(self) -> dict[str, int]:
        return {topic["name"]: len(topic["partitions"]) for topic in self.client.describe_topics()}

    def close(self) -> None:
        self.client.close()


class AioAdmin(Admin):
    incremental = False  # aiokafka 0.14 has AlterConfigs only: the given set replaces the config

    def __init__(self, bootstrap: str) -> None:
        self.loop = _Loop()

        async def start() -> aiokafka.admin.AIOKafkaAdminClient:
            client = aiokafka.admin.AIOKafkaAdminClient(bootstrap_servers=bootstrap,
                                                        client_id="aiokafka")
            await client.start()
            return client

        self.client = self.loop.run(start())

    @staticmethod
    def _check(errors: Sequence[tuple[Any, ...]]) -> None:
        for entry in errors:
            if entry[1]:
                raise ClientError(entry[1], str(entry[2]) if len(entry) > 2 else "")

    def create(self, name: str, partitions: int, configs: dict[str, str] | None = None,
               replication_factor: int = 1) -> None:
        response = self.loop.run(self.client.create_topics([aiokafka.admin.NewTopic(
            name, partitions, replication_factor, topic_configs=configs or {})]))
        self._check(response.topic_errors)

    def describe(self, name: str) -> dict[str, str]:
        [response] = self.loop.run(self.client.describe_configs([AioConfigResource(
            AioConfigResourceType.TOPIC, name)]))
        [resource] = response.resources
        error_code, error_message, _, _, entries = resource[:5]
        if error_code:
            raise ClientError(error_code, str(error_message))
        return {entry[0]: entry[1] for entry in entries}

    def alter(self, name: str, configs: dict[str, str]) -> None:
        responses = self.loop.run(self.client.alter_configs([AioConfigResource(
            AioConfigResourceType.TOPIC, name, configs)]))
        for response in responses:
            for error_code, error_message, *_ in response.resources:
                if error_code:
                    raise ClientError(error_code, str(error_message))

    def create_partitions(self, name: str, total: int) -> None:
        try:
            self.loop.run(self.client.create_partitions(
                {name: aiokafka.admin.NewPartitions(total)}))
        except aiokafka.errors.KafkaError as exc:
            raise ClientError(exc.errno, str(exc)) from exc

    def delete(self, name: str) -> None:
        response = self.loop.run(self.client.delete_topics([name]))
        self._check(response.topic_error_codes)

    def delete_records(self, name: str, partition: int, before: int) -> int:
        tp = aiokafka.TopicPartition(name, partition)
        result = self.loop.run(self.client.delete_records(
            {tp: aiokafka.admin.RecordsToDelete(before)}))
        return int(result[tp])

    def topics(self) -> dict[str, int]:
        return {topic["topic"]: len(topic["partitions"])
                for topic in self.loop.run(self.client.describe_topics())}

    def close(self) -> None:
        self.loop.run(self.client.close())
        self.loop.close()


def make_admin(client: str, bootstrap: str) -> Admin:
    """The admin adapter of `client`."""
    return {"confluent-kafka": ConfluentAdmin, "kafka-python": KafkaPythonAdmin,
            "aiokafka": AioAdmin}[client](bootstrap)


# --- producer ----------------------------------------------------------------------------------


class Producer:
    """send() records to one partition; flush() returns how many were acknowledged."""

    def send(self, topic: str, partition: int, key: bytes | None, value: bytes | None,
             headers: Sequence[tuple[str, bytes]] = (), timestamp: int | None = None) -> None:
        raise NotImplementedError

    def flush(self) -> list[int]:
        """Wait for every send; the offsets the broker acknowledged (-1 where acks=0)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class ConfluentProducer(Producer):
    def __init__(self, bootstrap: str, acks: int, compression: str) -> None:
        self.client = confluent_kafka.Producer({
            "bootstrap.servers": bootstrap, "client.id": "confluent-kafka", "acks": acks,
            "compression.type": compression, "enable.idempotence": False,
            "linger.ms": 5, "message.timeout.ms": int(TIMEOUT * 1000)})
        self.results: list[Any] = []

    def _delivered(self, error: Any, message: Any) -> None:
        offset = message.offset()  # None for acks=0
        self.results.append(error if error is not None else -1 if offset is None else offset)

    def send(self, topic: str, partition: int, key: bytes | None, value: bytes | None,
             headers: Sequence[tuple[str, bytes]] = (), timestamp: int | None = None) -> None:
        self.client.produce(topic, value, key, partition=partition, headers=list(headers),
                            timestamp=timestamp or 0, on_delivery=self._delivered)

    def flush(self) -> list[int]:
        left = self.client.flush(TIMEOUT)
        assert left == 0, f"{left} record(s) not delivered within {TIMEOUT} s"
        errors = [result for result in self.results if not isinstance(result, int)]
        assert not errors, errors
        offsets, self.results = self.results, []
        return offsets


class KafkaPythonProducer(Producer):
    def __init__(self, bootstrap: str, acks: int, compression: str) -> None:
        self.client = kafka.KafkaProducer(
            bootstrap_servers=bootstrap, client_id="kafka-python",
            acks="all" if acks == -1 else acks,
            compression_type=None if compression == "none" else compression,
            enable_idempotence=False, linger_ms=5)
        self.futures: list[Any] = []

    def send(self, topic: str, partition: int, key: bytes | None, value: bytes | None,
             headers: Sequence[tuple[str, bytes]] = (), timestamp: int | None = None) -> None:
        self.futures.append(self.client.send(topic, value=value, key=key, partition=partition,
                                             headers=list(headers), timestamp_ms=timestamp))

    def flush(self) -> list[int]:
        self.client.flush(TIMEOUT)
        offsets = [future.get(TIMEOUT).offset for future in self.futures]
        self.futures = []
        return offsets

    def close(self) -> None:
        self.client.close(TIMEOUT)


class AioProducer(Producer):
    def __init__(self, bootstrap: str, acks: int, compression: str) -> None:
        self.loop = _Loop()

        async def start() -> aiokafka.AIOKafkaProducer:
            client = aiokafka.AIOKafkaProducer(
                bootstrap_servers=bootstrap, client_id="aiokafka",
                acks="all" if acks == -1 else acks,
                compression_type=None if compression == "none" else compression,
                enable_idempotence=False, linger_ms=5)
            await client.start()
            return client

        self.client = self.loop.run(start())
        self.futures: list[asyncio.Future[Any]] = []

    def send(self, topic: str, partition: int, key: bytes | None, value: bytes | None,
             headers: Sequence[tuple[str, bytes]] = (), timestamp: int | None = None) -> None:
        self.futures.append(self.loop.run(self.client.send(
            topic, value=value, key=key, partition=partition, headers=list(headers),
            timestamp_ms=timestamp)))

    def flush(self) -> list[int]:
        async def wait() -> list[int]:
            results = [await future for future in self.futures]
            return [-1 if result is None else result.offset for result in results]  # acks=0
        offsets = self.loop.run(wait())
        self.futures = []
        return offsets

    def close(self) -> None:
        self.loop.run(self.client.stop())
        self.loop.close()


def make_producer(client: str, bootstrap: str, acks: int = -1,
                  compression: str = "none") -> Producer:
    """The producer adapter of `client` (idempotence off: InitProducerId is not served yet)."""
    return {"confluent-kafka": ConfluentProducer, "kafka-python": KafkaPythonProducer,
            "aiokafka": AioProducer}[client](bootstrap, acks, compression)


# --- consumer ----------------------------------------------------------------------------------


class Consumer:
    """assign() one partition at an offset (or -1: the end), read records, commit offsets."""

    def assign(self, topic: str, partition: int, offset: int) -> None:
        raise NotImplementedError

    def read(self, count: int, timeout: float = TIMEOUT) -> list[Rec]:
        """Up to `count` records, waiting at most `timeout` s for them."""
        raise NotImplementedError

    def offset_for_time(self, timestamp: int) -> int:
        raise NotImplementedError

    def end_offset(self) -> int:
        raise NotImplementedError

    def commit(self, offset: int) -> None:
        raise NotImplementedError

    def committed(self) -> int | None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class ConfluentConsumer(Consumer):
    def __init__(self, bootstrap: str, group: str, fetch_wait_ms: int) -> None:
        self.client = confluent_kafka.Consumer({
            "bootstrap.servers": bootstrap, "client.id": "confluent-kafka", "group.id": group,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": fetch_wait_ms})
        self.tp = confluent_kafka.TopicPartition("", 0)

    def assign(self, topic: str, partition: int, offset: int) -> None:
        start = confluent_kafka.OFFSET_END if offset == -1 else offset
        self.tp = confluent_kafka.TopicPartition(topic, partition)
        self.client.assign([confluent_kafka.TopicPartition(topic, partition, start)])

    def read(self, count: int, timeout: float = TIMEOUT) -> list[Rec]:
        records: list[Rec] = []
        deadline = time.monotonic() + timeout
        while len(records) < count and time.monotonic() < deadline:
            message = self.client.poll(max(0.0, min(1.0, deadline - time.monotonic())))
            if message is None:
                continue
            assert message.error() is None, message.error()
            records.append(Rec(message.offset(), message.key(), message.value(),
                               _headers(message.headers()), message.timestamp()[1]))
        return records

    def offset_for_time(self, timestamp: int) -> int:
        [tp] = self.client.offsets_for_times(
            [confluent_kafka.TopicPartition(self.tp.topic, self.tp.partition, timestamp)],
            timeout=TIMEOUT)
        return int(tp.offset)

    def end_offset(self) -> int:
        return int(self.client.get_watermark_offsets(self.tp, timeout=TIMEOUT)[1])

    def commit(self, offset: int) -> None:
        self.client.commit(offsets=[confluent_kafka.TopicPartition(
            self.tp.topic, self.tp.partition, offset)], asynchronous=False)

    def committed(self) -> int | None:
        [tp] = self.client.committed([self.tp], timeout=TIMEOUT)
        assert tp.error is None, tp.error
        return None if tp.offset < 0 else int(tp.offset)

    def close(self) -> None:
        self.client.close()


class KafkaPythonConsumer(Consumer):
    def __init__(self, bootstrap: str, group: str, fetch_wait_ms: int) -> None:
        self.client = kafka.KafkaConsumer(
            bootstrap_servers=bootstrap, client_id="kafka-python", group_id=group,
            enable_auto_commit=False, auto_offset_reset="earliest",
            fetch_max_wait_ms=fetch_wait_ms, request_timeout_ms=max(30_000, fetch_wait_ms + 5000))
        self.tp = kafka.TopicPartition("", 0)

    def assign(self, topic: str, partition: int, offset: int) -> None:
        self.tp = kafka.TopicPartition(topic, partition)
        self.client.assign([self.tp])
        if offset == -1:
            self.client.seek_to_end(self.tp)
        else:
            self.client.seek(self.tp, offset)

    def read(self, count: int, timeout: float = TIMEOUT) -> list[Rec]:
        records: list[Rec] = []
        deadline = time.monotonic() + timeout
        while len(records) < count and time.monotonic() < deadline:
            wait_ms = int(max(0.0, min(1.0, deadline - time.monotonic())) * 1000)
            batches = self.client.poll(timeout_ms=wait_ms, max_records=count - len(records))
            for message in batches.get(self.tp, []):
                records.append(Rec(message.offset, message.key, message.value,
                                   _headers(message.headers), message.timestamp))
        return records

    def offset_for_time(self, timestamp: int) -> int:
        found = self.client.offsets_for_times({self.tp: timestamp})[self.tp]
        return -1 if found is None else int(found.offset)

    def end_offset(self) -> int:
        return int(self.client.end_offsets([self.tp])[self.tp])

    def commit(self, offset: int) -> None:
        self.client.commit({self.tp: kafka.structs.OffsetAndMetadata(offset, "", -1)})

    def committed(self) -> int | None:
        found = self.client.committed(self.tp)
        return None if found is None else int(found)

    def close(self) -> None:
        self.client.close(autocommit=False)


class AioConsumer(Consumer):
    def __init__(self, bootstrap: str, group: str, fetch_wait_ms: int) -> None:
        self.loop = _Loop()

        async def start() -> aiokafka.AIOKafkaConsumer:
            client = aiokafka.AIOKafkaConsumer(
                bootstrap_servers=bootstrap, client_id="aiokafka", group_id=group,
                enable_auto_commit=False, auto_offset_reset="earliest",
                fetch_max_wait_ms=fetch_wait_ms,
                request_timeout_ms=max(40_000, fetch_wait_ms + 5000))
            await client.start()
            return client

        self.client = self.loop.run(start())
        self.tp = aiokafka.TopicPartition("", 0)

    def assign(self, topic: str, partition: int, offset: int) -> None:
        self.tp = aiokafka.TopicPartition(topic, partition)

        async def assign() -> None:
            self.client.assign([self.tp])
            if offset == -1:
                await self.client.seek_to_end(self.tp)
            else:
                self.client.seek(self.tp, offset)

        self.loop.run(assign())

    def read(self, count: int, timeout: float = TIMEOUT) -> list[Rec]:
        records: list[Rec] = []
        deadline = time.monotonic() + timeout
        while len(records) < count and time.monotonic() < deadline:
            wait_ms = int(max(0.0, min(1.0, deadline - time.monotonic())) * 1000)
            batches = self.loop.run(self.client.getmany(
                self.tp, timeout_ms=wait_ms, max_records=count - len(records)))
            for message in batches.get(self.tp, []):
                records.append(Rec(message.offset, message.key, message.value,
                                   _headers(message.headers), message.timestamp))
        return records

    def offset_for_time(self, timestamp: int) -> int:
        found = self.loop.run(self.client.offsets_for_times({self.tp: timestamp}))[self.tp]
        return -1 if found is None else int(found.offset)

    def end_offset(self) -> int:
        return int(self.loop.run(self.client.end_offsets([self.tp]))[self.tp])

    def commit(self, offset: int) -> None:
        self.loop.run(self.client.commit({self.tp: offset}))

    def committed(self) -> int | None:
        found = self.loop.run(self.client.committed(self.tp))
        return None if found is None else int(found)

    def close(self) -> None:
        self.loop.run(self.client.stop())
        self.loop.close()


def make_consumer(client: str, bootstrap: str, group: str = "tests",
                  fetch_wait_ms: int = 100) -> Consumer:
    """The consumer adapter of `client`: assign() only (JoinGroup is not served yet)."""
    return {"confluent-kafka": ConfluentConsumer, "kafka-python": KafkaPythonConsumer,
            "aiokafka": AioConsumer}[client](bootstrap, group, fetch_wait_ms)
