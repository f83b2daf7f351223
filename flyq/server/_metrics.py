"""What the broker is doing, as Prometheus metrics (spec/metrics.md MET-1..MET-12).

Two kinds of metric live in one `CollectorRegistry` per broker (never prometheus_client's global
one: a test process runs many brokers):

- Events, counted as they happen: the server calls `connection_opened`, `bytes_received`,
  `request_answered`, `authentication`, `authorization_denied` ...; the file layer's fsync observer
  calls `fsync_observed` from the partitions' threads (prometheus_client's metrics are thread-safe).
- State, read at scrape time: `refresh` (on the event loop, every disk read on the Broker's
  executors) takes a `BrokerSnapshot` of every partition's offsets and sizes and every group's
  members and committed offsets; the pure `state_families` turns the last snapshot into metric
  families on each collection. Families are rebuilt from the snapshot, never updated in place,
  so the label sets of a deleted topic or group disappear with the next refresh (MET-10).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from flyq.broker import AsyncBroker, PartitionStatus
from flyq.errors import ERROR_TABLE, FlyQError
from flyq.impl.recovery import RecoveryReport
from flyq.protocol import APIS
from flyq.server._groups import GroupService

__all__ = [
    "AUTHENTICATION_MECHANISMS",
    "BrokerMetrics",
    "BrokerSnapshot",
    "api_name",
    "error_name",
    "response_error_codes",
    "state_families",
]

# MET-5: the mechanism label takes these values; any other name a client sent becomes "other",
# so a client cannot grow the label set without bound.
AUTHENTICATION_MECHANISMS = frozenset({
    "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER", "SSL"})

_ERROR_NAMES: Mapping[int, str] = {error.code: error.name for error in ERROR_TABLE.values()}
# Fetch long-polls (up to the client's max wait) share the histogram with sub-millisecond calls.
_REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    5.0, 10.0, 30.0)
_FSYNC_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                  0.5, 1.0, 2.5, 5.0)


def api_name(api_key: int) -> str:
    """Kafka's name of `api_key` from the schema table (MET-3), `api_<key>` if it has none."""
    schema = APIS.get(api_key)
    return schema.name if schema is not None else f"api_{api_key}"


def error_name(code: int) -> str:
    """Kafka's name of error `code` from `ERROR_TABLE` (MET-4), `code_<code>` if it has none."""
    return _ERROR_NAMES.get(code, f"code_{code}")


def response_error_codes(body: Mapping[str, Any]) -> Iterator[int]:
    """Every non-zero `error_code` anywhere in a response body: the top level, and each dict
    nested in it at any depth through dicts and lists (MET-4). Buffers are not looked into."""
    stack: list[object] = [body]
    while stack:
        value = stack.pop()
        if isinstance(value, Mapping):
            for key, item in value.items():
                if key == "error_code":
                    if isinstance(item, int) and item != 0:
                        yield item
                elif isinstance(item, Mapping | list | tuple):
                    stack.append(item)
        elif isinstance(value, list | tuple):
            stack.extend(item for item in value if isinstance(item, Mapping | list | tuple))


@attrs.frozen
class BrokerSnapshot:
    """What one `refresh` read: the partitions' health, each group's member count and committed
    offsets, and the partitions recovered at start that still exist."""

    partitions: tuple[PartitionStatus, ...] = ()
    members: Mapping[str, int] = attrs.field(factory=dict)
    committed: Mapping[str, Mapping[tuple[str, int], int]] = attrs.field(factory=dict)
    recovered: Mapping[tuple[str, int], RecoveryReport] = attrs.field(factory=dict)


_PARTITION = ["topic", "partition"]
_GROUP_PARTITION = ["group", "topic", "partition"]


def state_families(snapshot: BrokerSnapshot) -> list[Metric]:
    """The scrape-time families of `snapshot` (MET-7, MET-9, MET-10, MET-11); pure."""
    def family(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, documentation, labels=labels)

    log_start = family("flyq_log_start_offset", "First offset still in the log.", _PARTITION)
    high_watermark = family("flyq_high_watermark", "Offset up to which consumers read.",
                            _PARTITION)
    log_end = family("flyq_log_end_offset", "Offset the next appended record gets.", _PARTITION)
    durable = family("flyq_durable_offset", "Offset up to which the log was fsynced.",
                     _PARTITION)
    size = family("flyq_partition_size_bytes", "Bytes of the partition's segment files.",
                  _PARTITION)
    segments = family("flyq_partition_segments", "Segments of the partition's log.", _PARTITION)
    failed = family("flyq_partition_failed",
                    "1 if a storage error put the partition's log in the failed state, else 0.",
                    _PARTITION)
    for status in snapshot.partitions:
        labels = [status.topic, str(status.partition)]
        health = status.health
        log_start.add_metric(labels, health.log_start_offset)
        high_watermark.add_metric(labels, health.high_watermark)
        log_end.add_metric(labels, health.log_end_offset)
        durable.add_metric(labels, health.durable_offset)
        size.add_metric(labels, health.total_bytes)
        segments.add_metric(labels, health.segment_count)
        failed.add_metric(labels, 1 if health.state == "failed" else 0)

    high_watermarks = {(status.topic, status.partition): status.health.high_watermark
                       for status in snapshot.partitions}
    members = family("flyq_group_members", "Members of the group now (0: offsets only).",
                     ["group"])
    committed = family("flyq_group_committed_offset", "The group's committed offset.",
                       _GROUP_PARTITION)
    lag = family("flyq_group_lag", "High watermark minus the group's committed offset.",
                 _GROUP_PARTITION)
    for group in sorted({*snapshot.members, *snapshot.committed}):
        members.add_metric([group], snapshot.members.get(group, 0))
        for (topic, partition), offset in sorted(snapshot.committed.get(group, {}).items()):
            hw = high_watermarks.get((topic, partition))
            if hw is None:  # a deleted topic or partition: no lag to tell (MET-10)
                continue
            labels = [group, topic, str(partition)]
            committed.add_metric(labels, offset)
            lag.add_metric(labels, hw - offset)

    count = GaugeMetricFamily("flyq_partitions_recovered_at_start",
                              "Partitions the broker recovered (not closed cleanly) at start.",
                              value=len(snapshot.recovered))
    recovered = family("flyq_partition_recovered_at_start",
                       "1 for a partition recovered at start (absent when it was clean).",
                       _PARTITION)
    truncated = family("flyq_recovery_truncated_bytes",
                       "Bytes cut off the partition's log by recovery at start.", _PARTITION)
    rebuilt = family("flyq_recovery_indexes_rebuilt",
                     "Index files recovery rebuilt at start.", _PARTITION)
    removed = family("flyq_recovery_segments_removed",
                     "Segments recovery removed at start.", _PARTITION)
    for (topic, partition), report in sorted(snapshot.recovered.items()):
        labels = [topic, str(partition)]
        recovered.add_metric(labels, 1)
        truncated.add_metric(labels, report.bytes_truncated)
        rebuilt.add_metric(labels, report.indexes_rebuilt)
        removed.add_metric(labels, report.segments_removed)
    return [log_start, high_watermark, log_end, durable, size, segments, failed, members,
            committed, lag, count, recovered, truncated, rebuilt, removed]


class _StateCollector:
    """Collects the families of the owner's last snapshot."""

    def __init__(self, owner: BrokerMetrics) -> None:
        self._owner = owner

    def collect(self) -> Iterable[Metric]:
        return state_families(self._owner.snapshot)


class BrokerMetrics:
    """Every metric of one broker, in its own `registry` (MET-1).

    The server calls the event methods from the event loop; `fsync_observed` may be called from
    any thread. `groups` may be set after construction (the server creates the GroupService).
    """

    def __init__(self, broker: AsyncBroker, groups: GroupService | None = None) -> None:
        self.broker = broker
        self.groups = groups
        self.registry = CollectorRegistry(auto_describe=False)
        self.snapshot = BrokerSnapshot()
        self._recovered: dict[tuple[str, int], RecoveryReport] = {}
        self._refresh_lock = asyncio.Lock()
        registry = self.registry
        self._connections = Gauge("flyq_connections", "Open client connections.",
                                  ["listener"], registry=registry)
        self._connections_opened = Counter("flyq_connections_opened_total",
                                           "Client connections accepted.", ["listener"],
                                           registry=registry)
        self._received = Counter("flyq_received_bytes_total", "Bytes read from clients.",
                                 ["listener"], registry=registry)
        self._sent = Counter("flyq_sent_bytes_total", "Bytes written to clients.", ["listener"],
                             registry=registry)
        self._requests = Counter("flyq_requests_total", "Requests answered.", ["api", "version"],
                                 registry=registry)
        self._durations = Histogram("flyq_request_duration_seconds",
                                    "From a request's arrival to its answer.", ["api", "version"],
                                    buckets=_REQUEST_BUCKETS, registry=registry)
        self._errors = Counter("flyq_request_errors_total",
                               "Non-zero error codes in responses, each one counted.",
                               ["api", "error"], registry=registry)
        self._authentications = Counter("flyq_authentications_total",
                                        "Authentication attempts by outcome.",
                                        ["listener", "mechanism", "result"], registry=registry)
        self._denials = Counter("flyq_authorization_denials_total",
                                "Operations the ACLs denied.", ["operation", "resource_type"],
                                registry=registry)
        self._fsyncs = Histogram("flyq_fsync_duration_seconds",
                                 "How long each fdatasync of a file or fsync of a directory took.",
                                 buckets=_FSYNC_BUCKETS, registry=registry)
        registry.register(_StateCollector(self))
        # Children looked up once per label set: these run for every request and every read.
        self._request_children: dict[tuple[int, int], tuple[Counter, Histogram, str]] = {}
        self._received_children: dict[str, Counter] = {}
        self._sent_children: dict[str, Counter] = {}

    # --- events (MET-2..MET-8) ------------------------------------------------------------------

    def connection_opened(self, listener: str) -> None:
        """A client connection on `listener` was accepted."""
        self._connections.labels(listener).inc()
        self._connections_opened.labels(listener).inc()

    def connection_closed(self, listener: str) -> None:
        """A client connection on `listener` closed (once per `connection_opened`)."""
        self._connections.labels(listener).dec()

    def bytes_received(self, listener: str, count: int) -> None:
        """`count` bytes were read from a client on `listener`."""
        child = self._received_children.get(listener)
        if child is None:
            child = self._received_children[listener] = self._received.labels(listener)
        child.inc(count)

    def bytes_sent(self, listener: str, count: int) -> None:
        """`count` bytes were written to a client on `listener`."""
        child = self._sent_children.get(listener)
        if child is None:
            child = self._sent_children[listener] = self._sent.labels(listener)
        child.inc(count)

    def request_answered(self, listener: str, api_key: int, version: int, seconds: float,
                         response: Mapping[str, Any] | None) -> None:
        """A request was answered after `seconds` (`response` None: it had no answer, as a
        Produce with acks=0); every non-zero `error_code` of `response` is counted (MET-4)."""
        children = self._request_children.get((api_key, version))
        if children is None:
            name = api_name(api_key)
            children = (self._requests.labels(name, str(version)),
                        self._durations.labels(name, str(version)), name)
            self._request_children[(api_key, version)] = children
        requests, durations, name = children
        requests.inc()
        durations.observe(seconds)
        if response is not None:
            for code in response_error_codes(response):
                self._errors.labels(name, error_name(code)).inc()

    def authentication(self, listener: str, mechanism: str, succeeded: bool) -> None:
        """An authentication on `listener` with `mechanism` succeeded or failed (MET-5)."""
        label = mechanism if mechanism in AUTHENTICATION_MECHANISMS else "other"
        self._authentications.labels(listener, label,
                                     "success" if succeeded else "failure").inc()

    def authorization_denied(self, operation: str, resource_type: str) -> None:
        """The ACLs denied `operation` on a resource of `resource_type` (MET-6)."""
        self._denials.labels(operation, resource_type).inc()

    def fsync_observed(self, seconds: float) -> None:
        """One fsync took `seconds`: the file layer's observer (MET-8); any thread."""
        self._fsyncs.observe(seconds)

    def recovered(self, topic: str, partition: int, report: RecoveryReport) -> None:
        """What opening `topic`-`partition` at start recovered (MET-11); a clean report is not
        recorded."""
        if not report.clean:
            self._recovered[(topic, partition)] = report
            self.snapshot = attrs.evolve(self.snapshot, recovered=dict(self._recovered))

    # --- state (MET-9, MET-10) ------------------------------------------------------------------

    async def refresh(self) -> None:
        """Read the broker's state into `snapshot`, on the Broker's executors (MET-9).

        A topic or group deleted while it is read is left out, not an error (MET-10).
        """
        async with self._refresh_lock:
            partitions = await self._partitions()
            committed: dict[str, dict[tuple[str, int], int]] = {}
            for group in await self.broker.list_groups():
                try:
                    offsets = await self.broker.fetch_offsets(group)
                except FlyQError:  # deleted since listed
                    continue
                committed[group] = {key: value.offset for key, value in offsets.items()
                                    if value is not None}
            members: dict[str, int] = {}
            if self.groups is not None:
                for group_id in self.groups.coordinator.group_ids():
                    classic = self.groups.coordinator.describe(group_id)
                    if classic is not None:
                        members[group_id] = len(classic.members)
                for group_id in self.groups.consumer.group_ids():
                    consumer = self.groups.consumer.describe(group_id)
                    if consumer is not None:
                        members[group_id] = len(consumer.members)
            live = {(status.topic, status.partition) for status in partitions}
            self._recovered = {key: report for key, report in self._recovered.items()
                               if key in live}
            self.snapshot = BrokerSnapshot(partitions=partitions, members=members,
                                           committed=committed, recovered=dict(self._recovered))

    async def _partitions(self) -> tuple[PartitionStatus, ...]:
        topics = await self.broker.list_topics()
        outcomes = await asyncio.gather(*(self.broker.health(topic) for topic in topics),
                                        return_exceptions=True)
        statuses: list[PartitionStatus] = []
        for outcome in outcomes:
            if isinstance(outcome, FlyQError):  # deleted (or being altered) since listed
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            statuses.extend(outcome)
        return tuple(statuses)
