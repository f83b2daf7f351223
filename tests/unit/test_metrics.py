"""BrokerMetrics (spec/metrics.md MET-1..MET-11) over a real AsyncBroker on a temporary directory;
the exposition is read back with prometheus_client's own parser, never through our objects."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from flyq.broker import AsyncBroker
from flyq.broker.layout import partition_directory
from flyq.impl.filelayer import OsFileLayer, set_fsync_observer
from flyq.impl.recovery import RecoveryReport
from flyq.records import Record
from flyq.server._groups import GroupService
from flyq.server._metrics import BrokerMetrics, response_error_codes
from flyq.server._metrics_http import parse_request_head, render_response, route

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(metrics: BrokerMetrics) -> Samples:
    """Every sample of the exposition text, keyed by (sample name, labels)."""
    text = generate_latest(metrics.registry).decode()
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def names_with(samples: Samples, name: str, **labels: str) -> list[frozenset[tuple[str, str]]]:
    """The label sets of `name` samples that include `labels`."""
    wanted = set(labels.items())
    return [key for sample_name, key in samples if sample_name == name and wanted <= key]


def run(tmp_path: Path, scenario: Callable[[AsyncBroker], Awaitable[None]]) -> None:
    async def main() -> None:
        broker = await AsyncBroker.open(str(tmp_path / "d"), create=True)
        try:
            await scenario(broker)
        finally:
            await broker.close()
    asyncio.run(main())


def records(count: int) -> list[Record]:
    return [Record(value=b"v%d" % index, timestamp=1) for index in range(count)]


def test_partition_gauges_match_what_was_produced(tmp_path: Path) -> None:
    """MET-9: after produces and a refresh, each partition's offsets, size and segment count are
    what was produced and what is on disk."""
    async def scenario(broker: AsyncBroker) -> None:
        metrics = BrokerMetrics(broker)
        await broker.create_topic("t", 2)
        await broker.produce_records("t", records(3), 0, durable=True)
        await broker.produce_records("t", records(1), 1)
        await metrics.refresh()
        samples = scrape(metrics)
        p0 = {"topic": "t", "partition": "0"}
        p1 = {"topic": "t", "partition": "1"}
        assert value(samples, "flyq_log_start_offset", **p0) == 0
        assert value(samples, "flyq_log_end_offset", **p0) == 3
        assert value(samples, "flyq_high_watermark", **p0) == 3
        assert value(samples, "flyq_durable_offset", **p0) == 3  # the produce was durable
        assert value(samples, "flyq_log_end_offset", **p1) == 1
        assert value(samples, "flyq_partition_failed", **p0) == 0
        for partition, labels in ((0, p0), (1, p1)):
            directory = partition_directory(str(tmp_path / "d"), "t", partition)
            logs = [name for name in os.listdir(directory) if name.endswith(".log")]
            on_disk = sum(os.path.getsize(os.path.join(directory, name)) for name in logs)
            assert on_disk > 0
            assert value(samples, "flyq_partition_size_bytes", **labels) == on_disk
            assert value(samples, "flyq_partition_segments", **labels) == len(logs)
        # More records move the gauges at the next refresh, not before.
        await broker.produce_records("t", records(2), 0)
        assert value(scrape(metrics), "flyq_log_end_offset", **p0) == 3
        await metrics.refresh()
        assert value(scrape(metrics), "flyq_log_end_offset", **p0) == 5
    run(tmp_path, scenario)


def test_group_lag_and_members(tmp_path: Path) -> None:
    """MET-9: a group's lag is the high watermark minus its committed offset; members are counted
    from the coordinator, 0 for a group with offsets only."""
    async def scenario(broker: AsyncBroker) -> None:
        groups = GroupService()
        metrics = BrokerMetrics(broker, groups)
        await broker.create_topic("t", 2)
        await broker.produce_records("t", records(7), 0)
        await broker.produce_records("t", records(4), 1)
        await broker.commit_offsets("offsets-only", {("t", 0): 2, ("t", 1): 4})
        for _ in range(2):
            groups.consumer_heartbeat(group_id="live", member_id="", member_epoch=0,
                                      topics={"t": 2}, subscribed_topic_names=["t"],
                                      rebalance_timeout_ms=30_000, owned={})
        # A classic member, straight on the coordinator: it is a member from its JoinGroup on.
        groups.coordinator.join(1, groups.now_ms(), group_id="classic", client_id="c",
                                session_timeout_ms=30_000, rebalance_timeout_ms=30_000,
                                member_id="", group_instance_id="static-1",
                                protocol_type="consumer", protocols=[("range", b"")],
                                require_known_member_id=False)
        await metrics.refresh()
        samples = scrape(metrics)
        assert value(samples, "flyq_group_members", group="classic") == 1
        assert value(samples, "flyq_group_lag", group="offsets-only", topic="t",
                     partition="0") == 7 - 2
        assert value(samples, "flyq_group_lag", group="offsets-only", topic="t",
                     partition="1") == 0
        assert value(samples, "flyq_group_committed_offset", group="offsets-only", topic="t",
                     partition="0") == 2
        assert value(samples, "flyq_group_members", group="offsets-only") == 0
        assert value(samples, "flyq_group_members", group="live") == 2
        assert names_with(samples, "flyq_group_lag", group="live") == []
    run(tmp_path, scenario)


def test_stale_label_sets_disappear(tmp_path: Path) -> None:
    """MET-10: a deleted topic's partition series, its recovery series and lag rows, and a
    deleted group's series, are gone after the next refresh; the others stay."""
    async def scenario(broker: AsyncBroker) -> None:
        metrics = BrokerMetrics(broker)
        await broker.create_topic("gone", 1)
        await broker.create_topic("kept", 1)
        await broker.produce_records("gone", records(2), 0)
        await broker.produce_records("kept", records(2), 0)
        await broker.commit_offsets("g", {("gone", 0): 1, ("kept", 0): 1})
        await broker.commit_offsets("h", {("kept", 0): 2})
        metrics.recovered("gone", 0, RecoveryReport(clean=False, bytes_truncated=5))
        await metrics.refresh()
        before = scrape(metrics)
        for name in ("flyq_high_watermark", "flyq_log_end_offset", "flyq_partition_segments",
                     "flyq_recovery_truncated_bytes"):
            assert names_with(before, name, topic="gone"), name
        assert names_with(before, "flyq_group_lag", group="g", topic="gone")
        assert value(before, "flyq_partitions_recovered_at_start") == 1

        await broker.delete_topic("gone")
        await broker.delete_group("h")
        await metrics.refresh()
        after = scrape(metrics)
        for name in ("flyq_log_start_offset", "flyq_high_watermark", "flyq_log_end_offset",
                     "flyq_durable_offset", "flyq_partition_size_bytes",
                     "flyq_partition_segments", "flyq_partition_failed",
                     "flyq_partition_recovered_at_start", "flyq_recovery_truncated_bytes",
                     "flyq_group_lag", "flyq_group_committed_offset"):
            assert names_with(after, name, topic="gone") == [], name
        assert value(after, "flyq_partitions_recovered_at_start") == 0
        assert names_with(after, "flyq_group_members", group="h") == []
        assert names_with(after, "flyq_group_lag", group="h") == []
        assert value(after, "flyq_high_watermark", topic="kept", partition="0") == 2
        assert value(after, "flyq_group_lag", group="g", topic="kept", partition="0") == 1
    run(tmp_path, scenario)


def test_request_counts_durations_and_nested_error_codes(tmp_path: Path) -> None:
    """MET-3, MET-4: requests and durations per Kafka API name and version; every non-zero
    error_code at any depth counted once under Kafka's error name (code_N if unnamed)."""
    async def scenario(broker: AsyncBroker) -> None:
        metrics = BrokerMetrics(broker)
        response = {
            "throttle_time_ms": 0,
            "error_code": 0,
            "responses": [
                {"name": "a", "partition_responses": [
                    {"index": 0, "error_code": 3, "record_errors": []},
                    {"index": 1, "error_code": 0},
                    {"index": 2, "error_code": 3,
                     "nested": {"deeper": [{"error_code": 29}]}}]},
                {"name": "b", "partition_responses": [{"index": 0, "error_code": 9999}]},
            ],
            "records": memoryview(b"error_code"),
        }
        metrics.request_answered("PLAINTEXT", 0, 9, 0.25, response)
        metrics.request_answered("PLAINTEXT", 0, 9, 0.5, {"error_code": 0})
        metrics.request_answered("PLAINTEXT", 3, 12, 0.001, None)
        metrics.request_answered("PLAINTEXT", 18, 3, 0.001, {"error_code": 35, "api_keys": []})
        metrics.request_answered("PLAINTEXT", 29_999, 0, 0.001, {"error_code": 0})
        samples = scrape(metrics)
        assert value(samples, "flyq_requests_total", api="Produce", version="9") == 2
        assert value(samples, "flyq_requests_total", api="Metadata", version="12") == 1
        assert value(samples, "flyq_requests_total", api="api_29999", version="0") == 1
        assert value(samples, "flyq_request_duration_seconds_count", api="Produce",
                     version="9") == 2
        assert value(samples, "flyq_request_duration_seconds_sum", api="Produce",
                     version="9") == 0.75
        assert value(samples, "flyq_request_duration_seconds_bucket", api="Produce",
                     version="9", le="0.25") == 1
        assert value(samples, "flyq_request_errors_total", api="Produce",
                     error="UNKNOWN_TOPIC_OR_PARTITION") == 2
        assert value(samples, "flyq_request_errors_total", api="Produce",
                     error="TOPIC_AUTHORIZATION_FAILED") == 1
        assert value(samples, "flyq_request_errors_total", api="Produce",
                     error="code_9999") == 1
        assert value(samples, "flyq_request_errors_total", api="ApiVersions",
                     error="UNSUPPORTED_VERSION") == 1
        assert len(names_with(samples, "flyq_request_errors_total")) == 4
    run(tmp_path, scenario)


def test_response_error_codes_walks_every_depth() -> None:
    """MET-4: codes from the top level, dicts in lists in dicts, lists of lists; zeros and
    non-dict values named error_code-like are not codes."""
    body = {"error_code": 1, "a": [[{"error_code": 2}], {"b": {"error_code": 3}}],
            "error_codes": [4], "c": ({"error_code": 0},)}
    assert sorted(response_error_codes(body)) == [1, 2, 3]


def test_connection_byte_and_security_counters(tmp_path: Path) -> None:
    """MET-2, MET-5, MET-6: connections gauge and counter per listener, bytes per listener,
    authentications by listener, mechanism and result (unknown mechanisms as "other"), denials
    by operation and resource type."""
    async def scenario(broker: AsyncBroker) -> None:
        metrics = BrokerMetrics(broker)
        metrics.connection_opened("PLAINTEXT")
        metrics.connection_opened("PLAINTEXT")
        metrics.connection_opened("SASL_SSL")
        metrics.connection_closed("PLAINTEXT")
        metrics.bytes_received("PLAINTEXT", 100)
        metrics.bytes_received("PLAINTEXT", 23)
        metrics.bytes_sent("SASL_SSL", 7)
        metrics.authentication("SASL_SSL", "SCRAM-SHA-256", succeeded=True)
        metrics.authentication("SASL_SSL", "SCRAM-SHA-256", succeeded=False)
        metrics.authentication("SASL_SSL", "SCRAM-SHA-256", succeeded=False)
        metrics.authentication("SASL_SSL", "made-up\nmechanism", succeeded=False)
        metrics.authorization_denied("Write", "Topic")
        metrics.authorization_denied("Write", "Topic")
        metrics.authorization_denied("Read", "Group")
        samples = scrape(metrics)
        assert value(samples, "flyq_connections", listener="PLAINTEXT") == 1
        assert value(samples, "flyq_connections", listener="SASL_SSL") == 1
        assert value(samples, "flyq_connections_opened_total", listener="PLAINTEXT") == 2
        assert value(samples, "flyq_received_bytes_total", listener="PLAINTEXT") == 123
        assert value(samples, "flyq_sent_bytes_total", listener="SASL_SSL") == 7
        auth = {"listener": "SASL_SSL", "mechanism": "SCRAM-SHA-256"}
        assert value(samples, "flyq_authentications_total", result="success", **auth) == 1
        assert value(samples, "flyq_authentications_total", result="failure", **auth) == 2
        assert value(samples, "flyq_authentications_total", listener="SASL_SSL",
                     mechanism="other", result="failure") == 1
        assert value(samples, "flyq_authorization_denials_total", operation="Write",
                     resource_type="Topic") == 2
        assert value(samples, "flyq_authorization_denials_total", operation="Read",
                     resource_type="Group") == 1
    run(tmp_path, scenario)


def test_fsync_observer_feeds_the_histogram_only_while_installed(tmp_path: Path) -> None:
    """MET-8: while the observer is installed each real fsync of a durable produce is observed;
    once removed, fsyncs are not."""
    async def scenario(broker: AsyncBroker) -> None:
        metrics = BrokerMetrics(broker)
        await broker.create_topic("t", 1)

        def count() -> float | None:
            return value(scrape(metrics), "flyq_fsync_duration_seconds_count")
        assert count() == 0
        set_fsync_observer(metrics.fsync_observed)
        try:
            await broker.produce_records("t", records(1), 0, durable=True)
            await broker.produce_records("t", records(1), 0, durable=True)
        finally:
            set_fsync_observer(None)
        observed = count()
        assert observed is not None
        assert observed >= 2
        await broker.produce_records("t", records(1), 0, durable=True)
        assert count() == observed
    run(tmp_path, scenario)


def test_os_layer_reports_each_fsync_duration(tmp_path: Path) -> None:
    """MET-8: OsFileLayer calls the observer once per fdatasync and per directory fsync, with a
    non-negative duration in seconds; not at all once it is removed."""
    seen: list[float] = []
    layer = OsFileLayer()
    handle = layer.open(str(tmp_path / "f"), create=True)
    set_fsync_observer(seen.append)
    try:
        handle.pwrite(b"x", 0)
        handle.fsync()
        handle.fsync()
        layer.fsync_dir(str(tmp_path))
    finally:
        set_fsync_observer(None)
    handle.fsync()
    handle.close()
    assert len(seen) == 3
    assert all(isinstance(seconds, float) and 0 <= seconds < 60 for seconds in seen)


def test_recovery_reports(tmp_path: Path) -> None:
    """MET-11: an unclean report gives the partition's recovery gauges; a clean one none."""
    async def scenario(broker: AsyncBroker) -> None:
        metrics = BrokerMetrics(broker)
        await broker.create_topic("t", 2)
        metrics.recovered("t", 0, RecoveryReport(clean=True))
        metrics.recovered("t", 1, RecoveryReport(clean=False, segments_scanned=4,
                                                 bytes_truncated=17, indexes_rebuilt=2,
                                                 segments_removed=1))
        await metrics.refresh()
        samples = scrape(metrics)
        p1 = {"topic": "t", "partition": "1"}
        assert value(samples, "flyq_partitions_recovered_at_start") == 1
        assert value(samples, "flyq_partition_recovered_at_start", **p1) == 1
        assert value(samples, "flyq_recovery_truncated_bytes", **p1) == 17
        assert value(samples, "flyq_recovery_indexes_rebuilt", **p1) == 2
        assert value(samples, "flyq_recovery_segments_removed", **p1) == 1
        assert names_with(samples, "flyq_partition_recovered_at_start", partition="0") == []
    run(tmp_path, scenario)


def test_brokers_do_not_share_a_registry(tmp_path: Path) -> None:
    """MET-1: two BrokerMetrics in one process count separately."""
    async def scenario(broker: AsyncBroker) -> None:
        first, second = BrokerMetrics(broker), BrokerMetrics(broker)
        first.connection_opened("PLAINTEXT")
        assert value(scrape(first), "flyq_connections", listener="PLAINTEXT") == 1
        assert value(scrape(second), "flyq_connections", listener="PLAINTEXT") is None
    run(tmp_path, scenario)


@pytest.mark.parametrize(("head", "expected"), [
    (b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", ("GET", "/metrics")),
    (b"GET /metrics?name[]=flyq_connections HTTP/1.0\r\n\r\n", ("GET", "/metrics")),
    (b"HEAD / HTTP/1.1\r\n\r\n", ("HEAD", "/")),
])
def test_parse_request_head(head: bytes, expected: tuple[str, str]) -> None:
    """MET-12: the method and the path without its query come from the request line."""
    assert parse_request_head(head) == expected


@pytest.mark.parametrize("head", [b"GET /metrics\r\n\r\n", b"\r\n\r\n",
                                  b"GET /m\xe9trics HTTP/1.1\r\n\r\n", b"GET  HTTP/1.1\r\n\r\n",
                                  b"GET /metrics SPDY/3\r\n\r\n"])
def test_parse_request_head_refuses_what_is_not_http(head: bytes) -> None:
    """MET-12: a request line that is not `METHOD TARGET HTTP/1.x` in ASCII is refused."""
    from flyq.errors import ProtocolError  # noqa: PLC0415
    with pytest.raises(ProtocolError, match="HTTP request line"):
        parse_request_head(head)


def test_route_and_response() -> None:
    """MET-12: GET and HEAD of /metrics and / are served, other paths 404, other methods 405;
    a response states its length and closes the connection, HEAD without the body."""
    assert route("GET", "/metrics") == 200
    assert route("HEAD", "/") == 200
    assert route("GET", "/metricsx") == 404
    assert route("POST", "/metrics") == 405
    whole = render_response(200, b"abc", "text/plain")
    assert whole.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nContent-Length: 3\r\n" in whole
    assert b"\r\nConnection: close\r\n" in whole
    assert whole.endswith(b"\r\n\r\nabc")
    assert render_response(200, b"abc", "text/plain", head_only=True).endswith(b"\r\n\r\n")


SPEC = Path(__file__).resolve().parents[2] / "spec" / "metrics.md"


def spec_table() -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (type, label names) from the table of spec/metrics.md."""
    rows = {}
    for line in SPEC.read_text().splitlines():
        if line.startswith("| `flyq_"):
            name, kind, labels = (cell.strip() for cell in line.strip("|").split("|")[:3])
            rows[name.strip("`")] = (kind, frozenset(
                label.strip() for label in labels.split(",") if label.strip()))
    return rows


def test_spec_table_lists_exactly_the_exposed_metrics(tmp_path: Path) -> None:
    """MET-1..MET-11: with every event recorded once and a refreshed snapshot holding a
    partition, a group and a recovery, the exposed families are exactly spec/metrics.md's table,
    with its types and label names."""
    async def scenario(broker: AsyncBroker) -> None:
        metrics = BrokerMetrics(broker, GroupService())
        await broker.create_topic("t", 1)
        await broker.produce_records("t", records(1), 0)
        await broker.commit_offsets("g", {("t", 0): 0})
        metrics.connection_opened("L")
        metrics.bytes_received("L", 1)
        metrics.bytes_sent("L", 1)
        metrics.request_answered("L", 0, 9, 0.1, {"error_code": 3})
        metrics.authentication("L", "PLAIN", succeeded=True)
        metrics.authorization_denied("Read", "Topic")
        metrics.fsync_observed(0.001)
        metrics.recovered("t", 0, RecoveryReport(clean=False))
        await metrics.refresh()
        text = generate_latest(metrics.registry).decode()
        exposed = {}
        for family in text_string_to_metric_families(text):
            if family.name.endswith("_created"):  # prometheus_client's creation times
                continue
            name = family.name + "_total" if family.type == "counter" else family.name
            labels = frozenset(key for sample in family.samples for key in sample.labels
                               if key != "le")
            exposed[name] = (family.type, labels)
        assert exposed == spec_table()
    run(tmp_path, scenario)
