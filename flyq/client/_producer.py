"""`AsyncProducer` (asyncio) and `Producer` (its synchronous facade): spec/client.md CLIENT-6..11.

Where records go and when batches leave is `flyq.client._batching` (pure); this module owns the
connection, the timers and the futures. FlyQ is one node, so one connection carries every
request; it is reopened when it breaks. At most one batch per partition is in flight, so a
retried batch keeps its place and its sequence numbers (idempotence needs both).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import functools
import random
import threading
import time
from collections.abc import Iterable
from typing import Any, Literal

from flyq.client._batching import Partitioner, ProducerBatch, RecordAccumulator, RecordMetadata
from flyq.client._connection import BrokerConnection
from flyq.client._security import PLAINTEXT, Security
from flyq.client._sync import LoopThread
from flyq.codec.record_batch import COMPRESSION_GZIP, COMPRESSION_NONE, encode_batch
from flyq.errors import FlyQError, InvalidArgument, RequestTimedOut, UnknownTopic, error_from_code
from flyq.records import Header, Record

__all__ = ["AsyncProducer", "Producer", "RecordMetadata"]

_PRODUCE, _METADATA, _INIT_PRODUCER_ID = 0, 3, 22
_NOT_LEADER_OR_FOLLOWER, _UNKNOWN_TOPIC_OR_PARTITION, _UNKNOWN_TOPIC_ID = 6, 3, 100
_DUPLICATE_SEQUENCE_NUMBER = 46
_METADATA_ERRORS = {_NOT_LEADER_OR_FOLLOWER, _UNKNOWN_TOPIC_OR_PARTITION, _UNKNOWN_TOPIC_ID}
_COMPRESSION = {"none": COMPRESSION_NONE, "gzip": COMPRESSION_GZIP}
_SEQUENCE_MOD = 1 << 31
Acks = Literal[0, 1, -1, "all"]
Future = asyncio.Future[RecordMetadata]


def backoff_seconds(attempt: int, base_ms: int, max_ms: int) -> float:
    """The wait before retry number `attempt` (1, 2, ...): base * 2^(attempt-1), at most max
    (CLIENT-10)."""
    return min(base_ms * (1 << min(attempt - 1, 30)), max_ms) / 1000


class AsyncProducer:
    """Batched, idempotent produce to one FlyQ (or Kafka) broker; use `AsyncProducer.connect`."""

    def __init__(self, bootstrap: str, *, client_id: str = "flyq-producer", acks: Acks = "all",
                 enable_idempotence: bool | None = None, linger_ms: int = 5,
                 batch_size: int = 16384, compression: str = "none",
                 retry_backoff_ms: int = 100, retry_backoff_max_ms: int = 1000,
                 delivery_timeout_ms: int = 120_000, request_timeout_ms: int = 30_000,
                 metadata_max_age_ms: int = 300_000, buffer_memory: int = 1024 * 1024,
                 max_block_ms: int = 60_000, rng: random.Random | None = None,
                 security: Security = PLAINTEXT) -> None:
        if acks == "all":
            acks = -1
        if acks not in (0, 1, -1):
            raise InvalidArgument("acks", acks, "0, 1, -1 or 'all'")
        if enable_idempotence is None:
            enable_idempotence = acks == -1
        if enable_idempotence and acks != -1:
            raise InvalidArgument("acks", acks, "'all' (-1) for an idempotent producer")
        if buffer_memory < 1 or max_block_ms < 0:
            raise InvalidArgument("buffer_memory/max_block_ms", (buffer_memory, max_block_ms),
                                  "buffer_memory >= 1 and max_block_ms >= 0")
        if compression not in _COMPRESSION:
            raise InvalidArgument("compression", compression, "'none' or 'gzip'")
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.security = security
        self.acks: int = acks
        self.idempotent = enable_idempotence
        self.compression = _COMPRESSION[compression]
        self.retry_backoff_ms = retry_backoff_ms
        self.retry_backoff_max_ms = retry_backoff_max_ms
        self.delivery_timeout = delivery_timeout_ms / 1000
        self.request_timeout_ms = request_timeout_ms
        self.metadata_max_age = metadata_max_age_ms / 1000
        self.buffer_memory = buffer_memory
        self.max_block = max_block_ms / 1000
        self.producer_id, self.producer_epoch = -1, -1
        self._partitioner = Partitioner(rng or random.Random())
        self._accumulator: RecordAccumulator[Future] = RecordAccumulator(batch_size,
                                                                         linger_ms / 1000)
        self._partitions: dict[str, int] = {}
        self._metadata_time = 0.0
        self._metadata_stale = False
        self._metadata_retry_at = 0.0
        self._sequences: dict[tuple[str, int], int] = {}
        self._bump_epoch = False
        self._in_flight: set[tuple[str, int]] = set()
        self._requests: set[asyncio.Task[None]] = set()
        self._connection: BrokerConnection | None = None
        self._wake = asyncio.Event()
        self._room = asyncio.Event()  # set when waiting batches were handed to the sender
        self._connect_lock = asyncio.Lock()
        self._idle = asyncio.Event()
        self._closed = False
        self._sender: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, bootstrap: str, **config: Any) -> AsyncProducer:
        """A producer connected to `bootstrap` (HOST:PORT), with its producer id when
        idempotent; keyword arguments as the constructor's."""
        producer = cls(bootstrap, **config)
        try:
            await producer._init()
        except BaseException:
            await producer.close()
            raise
        return producer

    async def _init(self) -> None:
        connection = await self._connected()
        if self.idempotent:
            body = (await connection.request(
                _INIT_PRODUCER_ID, {"transactional_id": None, "transaction_timeout_ms": 60_000},
                (0, 4))).body
            if body["error_code"]:
                raise error_from_code(body["error_code"], "InitProducerId")
            self.producer_id, self.producer_epoch = body["producer_id"], body["producer_epoch"]
        self._sender = asyncio.get_running_loop().create_task(self._send_loop())

    async def _connected(self) -> BrokerConnection:
        """The open connection, reopened if it failed; one opening at a time (requests of
        several partitions may find it broken together)."""
        async with self._connect_lock:
            connection = self._connection
            if connection is None or connection.failed:
                if connection is not None:
                    await connection.close()
                self._connection = None
                connection = await BrokerConnection.open(
                    self.bootstrap, client_id=self.client_id, security=self.security,
                    timeout=max(self.request_timeout_ms / 1000, 1.0) + 5.0)
                self._connection = connection
            return connection

    # --- metadata -----------------------------------------------------------------------------

    async def _refresh(self, topics: Iterable[str]) -> dict[str, FlyQError]:
        """Ask Metadata for `topics` and learn their partition counts; the errors per topic."""
        names = sorted(set(topics))
        connection = await self._connected()
        body = (await connection.request(
            _METADATA, {"topics": [{"name": name} for name in names],
                        "allow_auto_topic_creation": True}, (4, 12))).body
        self._metadata_time = time.monotonic()
        errors: dict[str, FlyQError] = {}
        for topic in body["topics"]:
            if topic["error_code"]:
                errors[topic["name"]] = error_from_code(
                    topic["error_code"], f"metadata of {topic['name']}", name=topic["name"])
                self._partitions.pop(topic["name"], None)
            else:
                self._partitions[topic["name"]] = len(topic["partitions"])
        return errors

    async def _partition_count(self, topic: str, deadline: float) -> int:
        """The topic's partition count, asking Metadata (with backoff) until `deadline` while
        the answer is a retriable error (CLIENT-11)."""
        if self._partitions and time.monotonic() - self._metadata_time > self.metadata_max_age:
            # Periodic refresh (CLIENT-10): partitions added since are used from now on; a
            # failed refresh keeps what was known.
            with contextlib.suppress(FlyQError):
                await self._refresh(self._partitions)
        attempt = 0
        while topic not in self._partitions:
            attempt += 1
            try:
                error = (await self._refresh([topic, *self._partitions])).get(topic)
            except FlyQError as exc:
                error = exc
            if topic in self._partitions:
                break
            if error is None:
                error = UnknownTopic(topic)
            remaining = deadline - time.monotonic()
            if not error.retriable or remaining <= 0:
                raise error
            await asyncio.sleep(min(remaining, backoff_seconds(
                attempt, self.retry_backoff_ms, self.retry_backoff_max_ms)))
        return self._partitions[topic]

    # --- sending ------------------------------------------------------------------------------

    async def send(self, topic: str, value: bytes | None, key: bytes | None = None,
                   partition: int | None = None, headers: Iterable[Header] = (),
                   timestamp: int | None = None) -> Future:
        """Queue one record; the future resolves to its `RecordMetadata` or fails with the
        `FlyQError` that ended its delivery (CLIENT-11). Waits only for the topic's metadata."""
        if self._closed:
            raise InvalidArgument("producer", "closed", "an open producer")
        future: Future = asyncio.get_running_loop().create_future()
        record = Record(value, key, tuple(headers),
                        int(time.time() * 1000) if timestamp is None else timestamp)
        now = time.monotonic()
        count = self._partitions.get(topic)
        if count is None or now - self._metadata_time > self.metadata_max_age:
            # Not known, or due for the periodic refresh: the slow path. Else (nearly every
            # send) no coroutine is made, which is a good part of a record's cost.
            try:
                count = await self._partition_count(topic, now + self.delivery_timeout)
            except FlyQError as exc:
                future.set_exception(exc)
                return future
            now = time.monotonic()
        number = self._partitioner.partition(topic, key, count, partition)
        if self._accumulator.waiting_bytes >= self.buffer_memory:
            try:
                await self._wait_for_room(now + self.max_block)
            except FlyQError as exc:
                future.set_exception(exc)
                return future
            now = time.monotonic()
        if self._accumulator.append(topic, number, record, future, now):
            self._partitioner.batch_closed(topic, number, count)
        self._idle.clear()
        self._wake.set()
        return future

    async def _wait_for_room(self, deadline: float) -> None:
        """Wait until the waiting batches take less than `buffer_memory` bytes (CLIENT-6),
        at most until `deadline`, else `RequestTimedOut`."""
        while self._accumulator.waiting_bytes >= self.buffer_memory:
            if self._closed:
                raise InvalidArgument("producer", "closed", "an open producer")
            self._room.clear()
            self._wake.set()
            try:
                await asyncio.wait_for(self._room.wait(), max(deadline - time.monotonic(), 0))
            except TimeoutError:
                raise RequestTimedOut(
                    f"no room for a record within max_block_ms ({self.max_block}s): "
                    f"{self._accumulator.waiting_bytes} bytes are waiting to be sent, "
                    f"buffer_memory is {self.buffer_memory}") from None

    async def flush(self) -> None:
        """Send every queued record now and wait until each has its outcome."""
        self._accumulator.flush()
        self._wake.set()
        try:
            while len(self._accumulator) or self._in_flight:
                self._idle.clear()
                self._wake.set()
                await self._until_idle()
        finally:
            self._accumulator.flush_done()

    async def _until_idle(self) -> None:
        """Wait for the sender to be idle; if it stopped instead, raise what stopped it."""
        sender = self._sender
        if sender is None:
            raise InvalidArgument("producer", "not connected", "a connected producer")
        idle = asyncio.ensure_future(self._idle.wait())
        try:
            await asyncio.wait({idle, sender}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            idle.cancel()
        if sender.done():
            sender.result()  # the sender's own exception, if it has one
            raise InvalidArgument("producer", "closed", "an open producer")

    async def close(self) -> None:
        """Flush, then stop; later `send`s raise `InvalidArgument`."""
        if self._sender is not None and not self._closed:
            await self.flush()
        self._closed = True
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        for task in list(self._requests):
            task.cancel()
        for batch in self._accumulator.batches():
            _fail(batch, InvalidArgument("producer", "closed", "an open producer"))
        self._accumulator.clear()
        self._room.set()  # a send waiting for room wakes, finds the producer closed
        if self._connection is not None:
            await self._connection.close()

    async def __aenter__(self) -> AsyncProducer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _metadata_due(self, now: float) -> bool:
        """Whether the sender is to refresh the metadata before sending more (CLIENT-10)."""
        return now >= self._metadata_retry_at and (self._metadata_stale or bool(
            self._partitions and now - self._metadata_time > self.metadata_max_age))

    def _take_ready(self, now: float) -> list[ProducerBatch[Future]]:
        """The ready batches of partitions with nothing in flight, each marked in flight
        (CLIENT-8); expired ones fail instead (CLIENT-11). None while an epoch bump waits for
        the batches in flight (CLIENT-9)."""
        batches = [] if self._bump_epoch else self._accumulator.ready(now, self._in_flight)
        for batch in batches:
            self._expire_or_keep(batch, now)
        batches = [batch for batch in batches
                   if not all(token.done() for token in batch.tokens)]
        for batch in batches:
            self._partitioner.batch_closed(batch.topic, batch.partition,
                                           self._partitions.get(batch.topic, 1))
            self._in_flight.add(batch.key)
        if self._accumulator.waiting_bytes < self.buffer_memory:
            self._room.set()
        return batches

    async def _send_loop(self) -> None:
        while True:
            now = time.monotonic()
            if self._metadata_due(now):
                self._metadata_stale = False
                try:
                    await self._refresh(self._partitions)
                except FlyQError:
                    # Not again before a backoff: the broker may be down for a while.
                    self._metadata_retry_at = now + self.retry_backoff_max_ms / 1000
            if self._bump_epoch and not self._in_flight:
                try:
                    await self._new_epoch()
                except FlyQError as exc:
                    # Nothing is sent until the bump succeeds, so the waiting batches would
                    # never reach _take_ready's expiry: they expire here (CLIENT-11).
                    expired = self._accumulator.take_created_before(
                        time.monotonic() - self.delivery_timeout)
                    for batch in expired:
                        _fail(batch, RequestTimedOut(
                            f"{batch.topic}-{batch.partition}: not delivered within "
                            f"{self.delivery_timeout}s: the producer epoch could not be "
                            f"bumped ({exc})"))
                    await asyncio.sleep(self.retry_backoff_ms / 1000)
                continue
            batches = self._take_ready(now)
            if batches:
                task = asyncio.get_running_loop().create_task(self._produce(batches))
                self._requests.add(task)
                task.add_done_callback(self._requests.discard)
                continue
            if not len(self._accumulator) and not self._in_flight:
                self._idle.set()
            self._wake.clear()
            next_time = None if self._bump_epoch else self._accumulator.next_ready_time(
                self._in_flight)
            # A timer that sets the event, not wait_for: wait_for wraps the wait in a task of
            # its own, and every wake-up (each answer frees a partition) then costs two more
            # turns of the event loop before the next request can go out.
            timer = None if next_time is None else asyncio.get_running_loop().call_later(
                max(next_time - time.monotonic(), 0), self._wake.set)
            try:
                await self._wake.wait()
            finally:
                if timer is not None:
                    timer.cancel()

    async def _new_epoch(self) -> None:
        """Bump the producer epoch (InitProducerId v3+ with the current id and epoch) and start
        every partition's sequences again at 0, the queued batches re-sequenced (CLIENT-9)."""
        connection = await self._connected()
        body = (await connection.request(
            _INIT_PRODUCER_ID, {"transactional_id": None, "transaction_timeout_ms": 60_000,
                                "producer_id": self.producer_id,
                                "producer_epoch": self.producer_epoch}, (3, 4))).body
        if body["error_code"]:
            raise error_from_code(body["error_code"], "InitProducerId")
        self.producer_id, self.producer_epoch = body["producer_id"], body["producer_epoch"]
        self._sequences.clear()
        for batch in self._accumulator.batches():
            batch.encoded, batch.base_sequence = None, -1
        self._bump_epoch = False

    def _give_up(self, batch: ProducerBatch[Future], error: FlyQError) -> None:
        """Fail the batch's records. If it had sequences, the broker may never have seen them:
        later batches would be out of order, so the epoch is bumped before anything else goes."""
        if batch.base_sequence >= 0:
            self._bump_epoch = True
        _fail(batch, error)

    def _expire_or_keep(self, batch: ProducerBatch[Future], now: float) -> None:
        if now > batch.created + self.delivery_timeout:
            self._give_up(batch, RequestTimedOut(
                f"{batch.topic}-{batch.partition}: not delivered within "
                f"{self.delivery_timeout}s"))

    def _encode(self, batch: ProducerBatch[Future]) -> bytes:
        if batch.encoded is None:
            if self.idempotent:
                sequence = self._sequences.get(batch.key, 0)
                batch.base_sequence = sequence
                self._sequences[batch.key] = (sequence + len(batch.records)) % _SEQUENCE_MOD
            batch.encoded = encode_batch(
                0, batch.records, compression=self.compression, producer_id=self.producer_id,
                producer_epoch=self.producer_epoch, base_sequence=batch.base_sequence)
        return batch.encoded

    async def _produce(self, batches: list[ProducerBatch[Future]]) -> None:
        """Send `batches` in one request and settle them; then, as long as batches are ready
        and the sender has nothing else to do first, send those from this same task: an answer
        frees its partitions, and going back through the sender would cost the next request a
        few turns of the event loop."""
        while batches:
            await self._produce_once(batches)
            now = time.monotonic()
            batches = [] if self._metadata_due(now) else self._take_ready(now)

    async def _produce_once(self, batches: list[ProducerBatch[Future]]) -> None:
        by_topic: dict[str, list[dict[str, Any]]] = {}
        for batch in batches:
            by_topic.setdefault(batch.topic, []).append(
                {"index": batch.partition, "records": self._encode(batch)})
        body = {"transactional_id": None, "acks": self.acks,
                "timeout_ms": self.request_timeout_ms,
                "topic_data": [{"name": name, "partition_data": data}
                               for name, data in by_topic.items()]}
        try:
            connection = await self._connected()
            if self.acks == 0:
                await connection.send_unanswered(_PRODUCE, body, (3, 12))
                for batch in batches:
                    for record, token in zip(batch.records, batch.tokens, strict=True):
                        if not token.done():
                            token.set_result(RecordMetadata(batch.topic, batch.partition, -1,
                                                            record.timestamp))
                    self._in_flight.discard(batch.key)
                return
            response = (await connection.request(_PRODUCE, body, (3, 12))).body
        except FlyQError as exc:
            for batch in batches:
                self._retry_or_fail(batch, exc)
            return
        except asyncio.CancelledError:
            for batch in batches:
                _fail(batch, InvalidArgument("producer", "closed", "an open producer"))
            raise
        finally:
            self._wake.set()
        answers = {(topic["name"], answer["index"]): answer
                   for topic in response["responses"] for answer in topic["partition_responses"]}
        for batch in batches:
            answer = answers.get(batch.key)
            if answer is None:
                self._retry_or_fail(batch, error_from_code(_UNKNOWN_TOPIC_OR_PARTITION,
                                                           "no answer for the partition"))
            elif answer["error_code"] == _DUPLICATE_SEQUENCE_NUMBER:
                # The broker has stored this batch before but no longer knows its offset: it is
                # delivered, with offset -1, as Kafka's Java producer settles it (CLIENT-11).
                self._complete(batch, -1, answer["log_append_time_ms"])
            elif answer["error_code"]:
                if answer["error_code"] in _METADATA_ERRORS:
                    self._metadata_stale = True
                self._retry_or_fail(batch, error_from_code(
                    answer["error_code"], answer.get("error_message"), topic=batch.topic,
                    partition=batch.partition))
            else:
                self._complete(batch, answer["base_offset"], answer["log_append_time_ms"])

    def _complete(self, batch: ProducerBatch[Future], base_offset: int,
                  log_append_time: int) -> None:
        self._in_flight.discard(batch.key)
        topic, partition, append_time = batch.topic, batch.partition, log_append_time >= 0
        # -1: delivered, but the broker did not say where (a duplicate of a stored batch).
        offsets = (range(base_offset, base_offset + len(batch.records)) if base_offset >= 0
                   else [-1] * len(batch.records))
        for offset, record, token in zip(offsets, batch.records, batch.tokens, strict=True):
            if not token.done():
                token.set_result(RecordMetadata(
                    topic, partition, offset,
                    log_append_time if append_time else record.timestamp))

    def _retry_or_fail(self, batch: ProducerBatch[Future], error: FlyQError) -> None:
        """A retriable error within the delivery timeout requeues the batch (same bytes, same
        sequence) after a backoff; anything else fails its records (CLIENT-9, CLIENT-10)."""
        self._in_flight.discard(batch.key)
        batch.attempts += 1
        wait = backoff_seconds(batch.attempts, self.retry_backoff_ms, self.retry_backoff_max_ms)
        now = time.monotonic()
        if error.retriable and now + wait <= batch.created + self.delivery_timeout:
            batch.retry_at = now + wait
            self._accumulator.requeue(batch)
        else:
            self._give_up(batch, error)


def _fail(batch: ProducerBatch[Future], error: FlyQError) -> None:
    for token in batch.tokens:
        if not token.done():
            token.set_exception(error)


def _settle(done: Future, outer: concurrent.futures.Future[RecordMetadata]) -> None:
    error = done.exception()
    if error is not None:
        outer.set_exception(error)
    else:
        outer.set_result(done.result())


class Producer:
    """The synchronous facade: `AsyncProducer` on its own event-loop thread. `send` queues the
    record and returns at once a `concurrent.futures.Future[RecordMetadata]`; `flush` and
    `close` block."""

    def __init__(self, bootstrap: str, **config: Any) -> None:
        self._thread = LoopThread("flyq-producer")
        # Records handed over by `send`, in order; one drain task on the loop moves them into
        # the producer, so a burst of sends costs one wake-up of the loop, not one each.
        self._handed: collections.deque[tuple[tuple[Any, ...],
                                              concurrent.futures.Future[RecordMetadata]]]
        self._handed = collections.deque()
        self._lock = threading.Lock()
        self._draining = False
        self._drain: asyncio.Task[None] | None = None
        try:
            self._producer = self._thread.run(AsyncProducer.connect(bootstrap, **config))
        except BaseException:
            self._thread.stop()
            raise

    def send(self, topic: str, value: bytes | None, key: bytes | None = None,
             partition: int | None = None, headers: Iterable[Header] = (),
             timestamp: int | None = None) -> concurrent.futures.Future[RecordMetadata]:
        """Queue one record (as `AsyncProducer.send`) without waiting; the future resolves on
        delivery, or fails with what `AsyncProducer.send` would raise or deliver."""
        if self._thread.closed:
            raise InvalidArgument("producer", "closed", "an open producer")
        outer: concurrent.futures.Future[RecordMetadata] = concurrent.futures.Future()
        with self._lock:
            self._handed.append(((topic, value, key, partition, tuple(headers), timestamp),
                                 outer))
            wake, self._draining = not self._draining, True
        if wake:
            self._thread.loop.call_soon_threadsafe(self._start_drain)
        return outer

    def _start_drain(self) -> None:
        self._drain = self._thread.loop.create_task(self._drain_handed())

    async def _drain_handed(self) -> None:
        while True:
            with self._lock:
                if not self._handed:
                    self._draining = False
                    return
                arguments, outer = self._handed.popleft()
            try:
                inner = await self._producer.send(*arguments)
            except Exception as exc:  # noqa: BLE001 - it belongs to that record's future
                outer.set_exception(exc)
                continue
            inner.add_done_callback(functools.partial(_settle, outer=outer))

    async def _drained(self) -> None:
        while self._drain is not None and not self._drain.done():
            await asyncio.shield(self._drain)

    def flush(self) -> None:
        """Block until every record sent before has its outcome."""
        async def flush() -> None:
            await self._drained()
            await self._producer.flush()
        self._thread.run(flush())

    def close(self) -> None:
        """Flush and stop the producer and its loop thread."""
        if self._thread.closed:
            return
        async def close() -> None:
            await self._drained()
            await self._producer.close()
        try:
            self._thread.run(close())
        finally:
            self._thread.stop()

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

