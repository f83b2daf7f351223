"""Producer and consumer throughput through a Kafka client: what `flyq bench` and
`benchmarks/clients.py` measure (spec/client.md CLI-BENCH-1..4).

One driver per client: `flyq` (`flyq.client`), `confluent-kafka`, `kafka-python`, `aiokafka`; the
third-party ones are imported only when run, and a missing one is `InvalidArgument` naming its pip
package. Every driver does the same work with the same settings:
- produce: `records` values of `record_size` bytes (a pool of deterministic values built before
  the timing, cycled), null keys, no headers; timed from the first send to the end of the flush
  that leaves every record acknowledged. Each record's latency is from just before its send call
  to its acknowledgement callback.
- consume: the topic's partitions assigned (no group), each from its log start offset; timed
  from assign to the `records`-th record received.
Connecting, topic creation and the topic's metadata happen before the timing.

`on_progress(n)` is called, from the thread that called `run_produce` / `run_consume`, with the
number of records completed (acknowledged, or received) since its last call, in steps of about
a hundredth of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import importlib.metadata
import random
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal

import attrs

from flyq import __version__
from flyq.client import AsyncAdmin, AsyncConsumer, AsyncProducer, Security
from flyq.client._security import PLAINTEXT
from flyq.errors import FlyQError, InvalidArgument, TopicAlreadyExists

__all__ = [
    "CLIENTS",
    "DRIVER_SETTINGS",
    "Acks",
    "BenchFailed",
    "BenchResult",
    "ConsumeSettings",
    "Latency",
    "ProduceSettings",
    "client_version",
    "latency_summary",
    "percentile",
    "payloads",
    "run_consume",
    "run_produce",
]

CLIENTS: Final = ("flyq", "confluent-kafka", "kafka-python", "aiokafka")
# client -> (module to import, pip package to install)
_THIRD_PARTY: Final = {
    "confluent-kafka": ("confluent_kafka", "confluent-kafka"),
    "kafka-python": ("kafka", "kafka-python"),
    "aiokafka": ("aiokafka", "aiokafka"),
}
MB: Final = 1_000_000
PAYLOAD_POOL: Final = 64
# Records a consumer may take per poll: large enough that polling is not what is measured.
POLL_RECORDS: Final = 10_000
# Delivery callbacks of confluent-kafka run inside poll(): it is served this often.
CONFLUENT_POLL_EVERY: Final = 100
PROGRESS_EVERY: Final = 100  # sends between two looks at the acknowledged count
CONSUMER_GROUP: Final = "flyq-bench"  # librdkafka needs a group.id even without a group
# What each driver passes its client, as ProduceSettings name them: the report says it.
DRIVER_SETTINGS: Final = {
    "flyq": "AsyncProducer(acks, enable_idempotence, linger_ms, batch_size); "
            "AsyncConsumer(max_poll_records=10000), poll(1.0); asyncio's default event loop",
    "confluent-kafka": "Producer(acks, enable.idempotence, linger.ms, batch.size, "
                       "compression.type=none), poll(0) every 100 produce(); Consumer defaults, "
                       "consume(<=10000, 1.0)",
    "kafka-python": "KafkaProducer(acks, enable_idempotence, linger_ms, batch_size); "
                    "KafkaConsumer defaults, poll(max_records=10000)",
    "aiokafka": "AIOKafkaProducer(acks, enable_idempotence, linger_ms, max_batch_size); "
                "AIOKafkaConsumer defaults, getmany(max_records=10000); asyncio's default loop",
}
Acks = Literal["0", "1", "all"]
Progress = Callable[[int], object]


class BenchFailed(FlyQError):
    """A run did not complete: a delivery failed, or the records did not all arrive in time."""


@attrs.frozen
class ProduceSettings:
    """What `run_produce` does; the client settings every driver passes on."""

    bootstrap: str
    topic: str
    records: int
    record_size: int
    batch_size: int = 16384
    linger_ms: int = 5
    acks: Acks = "all"
    idempotence: bool = True
    partitions: int = 1  # of the topic, when it is created
    security: Security = PLAINTEXT  # how flyq's client connects (spec/client.md CLIENT-56)

    def __attrs_post_init__(self) -> None:
        for name in ("records", "batch_size", "partitions"):
            if getattr(self, name) < 1:
                raise InvalidArgument(name, getattr(self, name), ">= 1")
        if self.record_size < 0 or self.linger_ms < 0:
            raise InvalidArgument("record_size/linger_ms", (self.record_size, self.linger_ms),
                                  ">= 0")
        if self.acks not in ("0", "1", "all"):
            raise InvalidArgument("acks", self.acks, "0, 1 or all")
        if self.idempotence and self.acks != "all":
            raise InvalidArgument("acks", self.acks, "all for an idempotent producer")


@attrs.frozen
class ConsumeSettings:
    """What `run_consume` does: read `records` records of `topic` from the beginning."""

    bootstrap: str
    topic: str
    records: int
    # A run fails when no record arrives for this long (fewer records than asked).
    idle_timeout_s: float = 30.0
    security: Security = PLAINTEXT  # how flyq's client connects (spec/client.md CLIENT-56)

    def __attrs_post_init__(self) -> None:
        if self.records < 1:
            raise InvalidArgument("records", self.records, ">= 1")


@attrs.frozen
class Latency:
    """Send-to-acknowledgement latency of the records of a produce run, in milliseconds."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    avg_ms: float


@attrs.frozen
class BenchResult:
    """One run's figures; `to_json` is the stable form (CLI-BENCH-4)."""

    mode: Literal["produce", "consume"]
    client: str
    topic: str
    records: int
    bytes: int  # of values
    elapsed_s: float
    latency: Latency | None  # produce runs only
    settings: dict[str, Any]

    @property
    def records_per_s(self) -> float:
        """Records per second over the timed region."""
        return self.records / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        """Megabytes (10^6 bytes) of values per second over the timed region."""
        return self.bytes / self.elapsed_s / MB if self.elapsed_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """The run as one JSON object (field names: CLI-BENCH-4)."""
        return {
            "mode": self.mode, "client": self.client, "topic": self.topic,
            "records": self.records, "bytes": self.bytes, "elapsed_s": self.elapsed_s,
            "records_per_s": self.records_per_s, "mb_per_s": self.mb_per_s,
            "latency_ms": None if self.latency is None else {
                "p50": self.latency.p50_ms, "p95": self.latency.p95_ms,
                "p99": self.latency.p99_ms, "max": self.latency.max_ms,
                "avg": self.latency.avg_ms},
            "settings": dict(self.settings),
        }

    def summary(self) -> str:
        """One line, as kafka-producer-perf-test's last line (or its consumer's)."""
        verb = "sent" if self.mode == "produce" else "consumed"
        line = (f"{self.records} records {verb}, {self.records_per_s:.1f} records/sec "
                f"({self.mb_per_s:.2f} MB/sec)")
        if self.latency is not None:
            lat = self.latency
            line += (f", {lat.avg_ms:.2f} ms avg latency, {lat.max_ms:.2f} ms max latency, "
                     f"{lat.p50_ms:.2f} ms 50th, {lat.p95_ms:.2f} ms 95th, "
                     f"{lat.p99_ms:.2f} ms 99th")
        return line + f"; {self.elapsed_s:.3f} s, client {self.client}."


# --- pure figures --------------------------------------------------------------------------------


def percentile(ordered: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) of the sorted `ordered`, linear between the closest ranks
    (numpy's default method)."""
    if not ordered:
        raise InvalidArgument("values", [], "at least one value")
    if not 0 <= p <= 100:
        raise InvalidArgument("p", p, "0..100")
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(sent: Sequence[float], acked: Sequence[float]) -> Latency:
    """Percentiles of `acked[i] - sent[i]` (seconds in, milliseconds out)."""
    if len(sent) != len(acked):
        raise InvalidArgument("acked", len(acked), f"{len(sent)} times, one per send")
    ordered = sorted((done - start) * 1000 for start, done in zip(sent, acked, strict=True))
    return Latency(p50_ms=percentile(ordered, 50), p95_ms=percentile(ordered, 95),
                   p99_ms=percentile(ordered, 99), max_ms=percentile(ordered, 100),
                   avg_ms=sum(ordered) / len(ordered))


def payloads(record_size: int, seed: int = 7) -> list[bytes]:
    """PAYLOAD_POOL distinct values of `record_size` bytes, the same for every run and client."""
    rng = random.Random(seed)
    return [rng.randbytes(record_size) for _ in range(PAYLOAD_POOL)]


class _Progress:
    """Turns a running count of completed records into `on_progress(delta)` calls."""

    def __init__(self, total: int, on_progress: Progress | None) -> None:
        self._callback = on_progress
        self._step = max(1, total // 100)
        self._reported = 0

    def update(self, done: int) -> None:
        if self._callback is not None and done - self._reported >= self._step:
            self._callback(done - self._reported)
            self._reported = done

    def finish(self, done: int) -> None:
        if self._callback is not None and done > self._reported:
            self._callback(done - self._reported)
            self._reported = done


@attrs.define
class _ProduceRun:
    """Per-record send and acknowledgement times, filled by a driver."""

    records: int
    sent: list[float] = attrs.field(init=False)
    acked: list[float] = attrs.field(init=False)
    done: int = 0
    errors: list[str] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        self.sent = [0.0] * self.records
        self.acked = [0.0] * self.records

    def ack(self, index: int, error: object | None) -> None:
        self.acked[index] = time.perf_counter()
        self.done += 1
        if error is not None and len(self.errors) < 5:
            self.errors.append(f"record {index}: {error}")

    def check(self) -> None:
        if self.errors:
            raise BenchFailed("delivery failed: " + "; ".join(self.errors))
        if self.done != self.records:
            raise BenchFailed(f"{self.done} of {self.records} records acknowledged")


def _third_party(client: str) -> Any:
    """The client's module, imported now; `InvalidArgument` naming the pip package if missing."""
    module, package = _THIRD_PARTY[client]
    try:
        with warnings.catch_warnings():
            # kafka-python 3.x imports the deprecated importlib.resources.read_text.
            warnings.simplefilter("ignore", DeprecationWarning)
            return importlib.import_module(module)
    except ImportError as exc:
        raise InvalidArgument("client", client, f"an installed client: pip install {package}"
                              ) from exc


def client_version(client: str) -> str:
    """The installed version of `client`'s package ("not installed" when it is missing)."""
    if client == "flyq":
        return __version__
    try:
        return importlib.metadata.version(_THIRD_PARTY[client][1])
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _check_client(client: str, security: Security) -> None:
    if client not in CLIENTS:
        raise InvalidArgument("client", client, " | ".join(CLIENTS))
    if client != "flyq" and security != PLAINTEXT:
        raise InvalidArgument("client", client, "flyq: only flyq's own client takes the "
                              f"security settings ({security.security_protocol}) in bench")
    if client in _THIRD_PARTY:
        _third_party(client)


# --- setup through flyq's admin client -----------------------------------------------------------


async def _ensure_topic(bootstrap: str, topic: str, partitions: int,
                        security: Security) -> None:
    async with await AsyncAdmin.connect(bootstrap, security=security) as admin:
        with contextlib.suppress(TopicAlreadyExists):
            await admin.create_topic(topic, partitions)


async def _partition_count(bootstrap: str, topic: str, security: Security) -> int:
    async with await AsyncAdmin.connect(bootstrap, security=security) as admin:
        return (await admin.partition_counts([topic]))[topic]


# --- produce drivers ------------------------------------------------------------------------------


async def _produce_flyq(s: ProduceSettings, values: list[bytes], run: _ProduceRun,
                        progress: _Progress) -> float:
    producer = await AsyncProducer.connect(
        s.bootstrap, client_id="flyq-bench", acks=-1 if s.acks == "all" else int(s.acks),
        enable_idempotence=s.idempotence, linger_ms=s.linger_ms, batch_size=s.batch_size,
        security=s.security)
    try:
        def acked(index: int, future: asyncio.Future[Any]) -> None:
            run.ack(index, None if future.cancelled() else future.exception())

        pool, sent, topic, now = len(values), run.sent, s.topic, time.perf_counter
        start = now()
        for index in range(s.records):
            sent[index] = now()
            future = await producer.send(topic, values[index % pool])
            future.add_done_callback(functools.partial(acked, index))
            if index % PROGRESS_EVERY == 0:
                progress.update(run.done)
        await producer.flush()
        elapsed = now() - start
        await asyncio.sleep(0)  # the last done-callbacks
    finally:
        await producer.close()
    return elapsed


def _produce_confluent(s: ProduceSettings, values: list[bytes], run: _ProduceRun,
                       progress: _Progress) -> float:
    ck = _third_party("confluent-kafka")
    producer = ck.Producer({
        "bootstrap.servers": s.bootstrap, "client.id": "flyq-bench", "acks": s.acks,
        "enable.idempotence": s.idempotence, "linger.ms": s.linger_ms,
        "batch.size": s.batch_size, "compression.type": "none"})
    producer.list_topics(s.topic, timeout=30)

    def acked(index: int, error: Any, _message: Any) -> None:
        run.ack(index, error)

    pool, sent, topic, now = len(values), run.sent, s.topic, time.perf_counter
    start = now()
    for index in range(s.records):
        sent[index] = now()
        while True:
            try:
                producer.produce(topic, values[index % pool],
                                 on_delivery=functools.partial(acked, index))
                break
            except BufferError:  # its queue is full: serve deliveries, then try again
                producer.poll(0.01)
        if index % CONFLUENT_POLL_EVERY == 0:
            producer.poll(0)
            progress.update(run.done)
    left = producer.flush(60)
    elapsed = now() - start
    if left:
        raise BenchFailed(f"{left} records still unacknowledged 60 s after the last send")
    return elapsed


def _produce_kafka_python(s: ProduceSettings, values: list[bytes], run: _ProduceRun,
                          progress: _Progress) -> float:
    kafka = _third_party("kafka-python")
    producer = kafka.KafkaProducer(
        bootstrap_servers=s.bootstrap, client_id="flyq-bench",
        acks="all" if s.acks == "all" else int(s.acks), enable_idempotence=s.idempotence,
        linger_ms=s.linger_ms, batch_size=s.batch_size)
    try:
        producer.partitions_for(s.topic)

        # Callbacks run on kafka-python's sender thread; progress is reported from this one.
        def ok(index: int, _metadata: Any) -> None:
            run.ack(index, None)

        def failed(index: int, error: Any) -> None:
            run.ack(index, error)

        pool, sent, topic, now = len(values), run.sent, s.topic, time.perf_counter
        start = now()
        for index in range(s.records):
            sent[index] = now()
            future = producer.send(topic, values[index % pool])
            future.add_callback(functools.partial(ok, index))
            future.add_errback(functools.partial(failed, index))
            if index % PROGRESS_EVERY == 0:
                progress.update(run.done)
        producer.flush()
        elapsed = now() - start
    finally:
        producer.close()
    return elapsed


async def _produce_aiokafka(s: ProduceSettings, values: list[bytes], run: _ProduceRun,
                            progress: _Progress) -> float:
    aiokafka = _third_party("aiokafka")
    producer = aiokafka.AIOKafkaProducer(
        bootstrap_servers=s.bootstrap, client_id="flyq-bench",
        acks="all" if s.acks == "all" else int(s.acks), enable_idempotence=s.idempotence,
        linger_ms=s.linger_ms, max_batch_size=s.batch_size)
    await producer.start()
    try:
        await producer.partitions_for(s.topic)

        def acked(index: int, future: asyncio.Future[Any]) -> None:
            run.ack(index, None if future.cancelled() else future.exception())

        pool, sent, topic, now = len(values), run.sent, s.topic, time.perf_counter
        start = now()
        for index in range(s.records):
            sent[index] = now()
            future = await producer.send(topic, values[index % pool])
            future.add_done_callback(functools.partial(acked, index))
            if index % PROGRESS_EVERY == 0:
                progress.update(run.done)
        await producer.flush()
        elapsed = now() - start
        await asyncio.sleep(0)  # the last done-callbacks
    finally:
        await producer.stop()
    return elapsed


def run_produce(client: str, settings: ProduceSettings,
                on_progress: Progress | None = None) -> BenchResult:
    """Produce `settings.records` records through `client`, creating the topic (with
    `settings.partitions` partitions) if it does not exist; the figures (CLI-BENCH-1, -2)."""
    _check_client(client, settings.security)
    values = payloads(settings.record_size)
    asyncio.run(_ensure_topic(settings.bootstrap, settings.topic, settings.partitions,
                              settings.security))
    run = _ProduceRun(settings.records)
    progress = _Progress(settings.records, on_progress)
    if client == "flyq":
        elapsed = asyncio.run(_produce_flyq(settings, values, run, progress))
    elif client == "confluent-kafka":
        elapsed = _produce_confluent(settings, values, run, progress)
    elif client == "kafka-python":
        elapsed = _produce_kafka_python(settings, values, run, progress)
    else:
        elapsed = asyncio.run(_produce_aiokafka(settings, values, run, progress))
    run.check()
    progress.finish(run.done)
    return BenchResult(
        mode="produce", client=client, topic=settings.topic, records=settings.records,
        bytes=settings.records * settings.record_size, elapsed_s=elapsed,
        latency=latency_summary(run.sent, run.acked),
        settings={"record_size": settings.record_size, "batch_size": settings.batch_size,
                  "linger_ms": settings.linger_ms, "acks": settings.acks,
                  "idempotence": settings.idempotence})


# --- consume drivers ------------------------------------------------------------------------------


@attrs.define
class _ConsumeRun:
    """What a consume driver counts."""

    wanted: int
    idle_timeout_s: float
    records: int = 0
    bytes: int = 0
    last_record: float = attrs.field(factory=time.perf_counter)

    def add(self, count: int, size: int) -> None:
        self.records += count
        self.bytes += size
        if count:
            self.last_record = time.perf_counter()
        elif time.perf_counter() - self.last_record > self.idle_timeout_s:
            raise BenchFailed(f"{self.records} of {self.wanted} records received, then none "
                              f"for {self.idle_timeout_s:g} s")


async def _consume_flyq(s: ConsumeSettings, partitions: int, run: _ConsumeRun,
                        progress: _Progress) -> float:
    consumer = await AsyncConsumer.connect(
        s.bootstrap, client_id="flyq-bench", enable_auto_commit=False,
        auto_offset_reset="earliest", max_poll_records=POLL_RECORDS, security=s.security)
    try:
        now = time.perf_counter
        start = now()
        consumer.assign([(s.topic, number) for number in range(partitions)])
        await consumer.seek_to_beginning()
        while run.records < run.wanted:
            records = await consumer.poll(1.0)
            run.add(len(records), sum(len(record.value or b"") for record in records))
            progress.update(run.records)
        elapsed = now() - start
    finally:
        await consumer.close()
    return elapsed


def _consume_confluent(s: ConsumeSettings, partitions: int, run: _ConsumeRun,
                       progress: _Progress) -> float:
    ck = _third_party("confluent-kafka")
    consumer = ck.Consumer({
        "bootstrap.servers": s.bootstrap, "client.id": "flyq-bench",
        "group.id": CONSUMER_GROUP, "enable.auto.commit": False,
        "auto.offset.reset": "earliest"})
    try:
        consumer.list_topics(s.topic, timeout=30)
        now = time.perf_counter
        start = now()
        consumer.assign([ck.TopicPartition(s.topic, number, ck.OFFSET_BEGINNING)
                         for number in range(partitions)])
        while run.records < run.wanted:
            # consume() waits for all it asks for (or the timeout): never ask past the end.
            messages = consumer.consume(min(POLL_RECORDS, run.wanted - run.records), 1.0)
            size = 0
            for message in messages:
                if message.error() is not None:
                    raise BenchFailed(f"consume: {message.error()}")
                size += len(message.value() or b"")
            run.add(len(messages), size)
            progress.update(run.records)
        elapsed = now() - start
    finally:
        consumer.close()
    return elapsed


def _consume_kafka_python(s: ConsumeSettings, partitions: int, run: _ConsumeRun,
                          progress: _Progress) -> float:
    kafka = _third_party("kafka-python")
    consumer = kafka.KafkaConsumer(
        bootstrap_servers=s.bootstrap, client_id="flyq-bench", group_id=None,
        enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        consumer.partitions_for_topic(s.topic)
        now = time.perf_counter
        start = now()
        consumer.assign([kafka.TopicPartition(s.topic, number) for number in range(partitions)])
        consumer.seek_to_beginning()
        while run.records < run.wanted:
            batches = consumer.poll(timeout_ms=1000, max_records=POLL_RECORDS)
            for records in batches.values():
                run.add(len(records), sum(len(record.value or b"") for record in records))
            if not batches:
                run.add(0, 0)
            progress.update(run.records)
        elapsed = now() - start
    finally:
        consumer.close()
    return elapsed


async def _consume_aiokafka(s: ConsumeSettings, partitions: int, run: _ConsumeRun,
                            progress: _Progress) -> float:
    aiokafka = _third_party("aiokafka")
    consumer = aiokafka.AIOKafkaConsumer(
        bootstrap_servers=s.bootstrap, client_id="flyq-bench", enable_auto_commit=False,
        auto_offset_reset="earliest")
    await consumer.start()
    try:
        await consumer.topics()  # metadata, before the timing
        now = time.perf_counter
        start = now()
        consumer.assign([aiokafka.TopicPartition(s.topic, number)
                         for number in range(partitions)])
        await consumer.seek_to_beginning()
        while run.records < run.wanted:
            batches = await consumer.getmany(timeout_ms=1000, max_records=POLL_RECORDS)
            for records in batches.values():
                run.add(len(records), sum(len(record.value or b"") for record in records))
            if not batches:
                run.add(0, 0)
            progress.update(run.records)
        elapsed = now() - start
    finally:
        await consumer.stop()
    return elapsed


def run_consume(client: str, settings: ConsumeSettings,
                on_progress: Progress | None = None) -> BenchResult:
    """Read `settings.records` records of the topic from the beginning through `client`; the
    figures (CLI-BENCH-1, -3). `BenchFailed` if they do not all arrive."""
    _check_client(client, settings.security)
    partitions = asyncio.run(_partition_count(settings.bootstrap, settings.topic,
                                              settings.security))
    run = _ConsumeRun(settings.records, settings.idle_timeout_s)
    progress = _Progress(settings.records, on_progress)
    if client == "flyq":
        elapsed = asyncio.run(_consume_flyq(settings, partitions, run, progress))
    elif client == "confluent-kafka":
        elapsed = _consume_confluent(settings, partitions, run, progress)
    elif client == "kafka-python":
        elapsed = _consume_kafka_python(settings, partitions, run, progress)
    else:
        elapsed = asyncio.run(_consume_aiokafka(settings, partitions, run, progress))
    progress.finish(run.records)
    return BenchResult(mode="consume", client=client, topic=settings.topic, records=run.records,
                       bytes=run.bytes, elapsed_s=elapsed, latency=None,
                       settings={"partitions": partitions, "poll_records": POLL_RECORDS})
