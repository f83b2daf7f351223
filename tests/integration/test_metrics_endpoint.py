"""`flyq broker --metrics HOST:PORT` (spec/metrics.md MET-9, MET-11, MET-12) and `--log-format json`
(LINE-2): a real broker process, produced to with confluent-kafka, scraped with urllib."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import confluent_kafka
import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from flyq.broker.layout import partition_directory
from tests.integration.broker_process import REPO_ROOT, BrokerProcess

pytestmark = pytest.mark.integration

_METRICS_LINE = re.compile(r"metrics on http://127\.0\.0\.1:(\d+)/metrics")
_ARGS = ("--metrics", "127.0.0.1:0", "--log-format", "json")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def metrics_broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    """A broker with the metrics endpoint on a free port and JSON logs."""
    process = BrokerProcess(tmp_path / "data", extra_args=_ARGS).start()
    try:
        yield process
    finally:
        if process.running:
            try:
                process.stop()
            finally:
                if process.running:
                    process.kill()


def metrics_url(process: BrokerProcess) -> str:
    match = _METRICS_LINE.search(process.stderr_text(current_only=True))
    assert match is not None, process.stderr_text(current_only=True)
    return f"http://127.0.0.1:{match.group(1)}/metrics"


def scrape(process: BrokerProcess) -> Samples:
    with urllib.request.urlopen(metrics_url(process), timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain")
        text = answer.read().decode()
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def produce(process: BrokerProcess, topic: str, count: int) -> None:
    producer = confluent_kafka.Producer({"bootstrap.servers": process.bootstrap, "acks": "all",
                                         "enable.idempotence": False, "client.id": "metrics"})
    for index in range(count):
        producer.produce(topic, b"value-%d" % index, partition=0)
        producer.flush(10)  # one produce request per record: one fsync each (flush.messages=1)
    assert producer.flush(10) == 0


def create_topic(process: BrokerProcess, name: str, configs: dict[str, str]) -> None:
    admin = AdminClient({"bootstrap.servers": process.bootstrap})
    futures = admin.create_topics([NewTopic(name, 1, 1, config=configs)])
    futures[name].result(timeout=10)


def test_high_watermark_and_fsync_histogram_move_with_produces(
        metrics_broker: BrokerProcess) -> None:
    """MET-9, MET-8, MET-12: after each confluent-kafka produce round a scrape shows the
    partition's high watermark at the records produced and more fsyncs observed."""
    create_topic(metrics_broker, "m", {"flush.messages": "1"})
    produce(metrics_broker, "m", 5)
    first = scrape(metrics_broker)
    partition = frozenset({("topic", "m"), ("partition", "0")})
    assert first[("flyq_high_watermark", partition)] == 5
    assert first[("flyq_log_end_offset", partition)] == 5
    assert first[("flyq_durable_offset", partition)] == 5
    fsyncs = first[("flyq_fsync_duration_seconds_count", frozenset())]
    assert fsyncs >= 5

    produce(metrics_broker, "m", 3)
    second = scrape(metrics_broker)
    assert second[("flyq_high_watermark", partition)] == 8
    assert second[("flyq_fsync_duration_seconds_count", frozenset())] >= fsyncs + 3
    assert second[("flyq_fsync_duration_seconds_sum", frozenset())] > 0


def test_other_paths_are_404_and_logs_are_json(metrics_broker: BrokerProcess) -> None:
    """MET-12, LINE-2: a path other than /metrics or / is 404, / serves the metrics too; every
    line the broker logged is one JSON object with ts, level, logger and message."""
    url = metrics_url(metrics_broker)
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(url.replace("/metrics", "/nothing"), timeout=10)
    assert raised.value.code == 404
    raised.value.close()
    with urllib.request.urlopen(url.replace("/metrics", "/"), timeout=10) as answer:
        assert b"flyq_partitions_recovered_at_start" in answer.read()
    metrics_broker.stop()
    lines = metrics_broker.stderr_text(current_only=True).splitlines()
    assert any("metrics on http://" in line for line in lines)
    for line in lines:
        record = json.loads(line)
        assert {"ts", "level", "logger", "message"} <= record.keys(), line


def test_recovery_at_start_is_reported(metrics_broker: BrokerProcess) -> None:
    """MET-11: a partition whose log was cut short by a kill -9 and then damaged at its tail is
    reported as recovered at start, with the bytes recovery cut off."""
    produce(metrics_broker, "r", 3)
    assert scrape(metrics_broker)[("flyq_partitions_recovered_at_start", frozenset())] == 0
    metrics_broker.kill()
    directory = partition_directory(str(metrics_broker.data_dir), "r", 0)
    active = max(name for name in os.listdir(directory) if name.endswith(".log"))
    garbage = b"\x00" * 7 + b"not a batch"
    with open(os.path.join(directory, active), "ab") as file:
        file.write(garbage)
    metrics_broker.start()
    samples = scrape(metrics_broker)
    partition = frozenset({("topic", "r"), ("partition", "0")})
    assert samples[("flyq_partitions_recovered_at_start", frozenset())] == 1
    assert samples[("flyq_partition_recovered_at_start", partition)] == 1
    assert samples[("flyq_recovery_truncated_bytes", partition)] == len(garbage)
    assert samples[("flyq_high_watermark", partition)] == 3


def test_metrics_address_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    """MET-12: a --metrics address that cannot be bound ends the broker with exit code 1 and an
    `Error:` line naming --metrics, no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        done = subprocess.run(
            [sys.executable, "-m", "flyq", "broker", "--data-dir", str(tmp_path / "data"),
             "--listen", "127.0.0.1:0", "--metrics", f"127.0.0.1:{port}"],
            capture_output=True, timeout=60, env=environment, cwd=str(tmp_path), check=False)
    stderr = done.stderr.decode()
    assert done.returncode == 1, stderr
    assert f"Error: --metrics='127.0.0.1:{port}': expected an address this host can listen on" \
        in stderr
    assert "Traceback" not in stderr


def test_stop_with_a_scrape_half_sent(metrics_broker: BrokerProcess) -> None:
    """MET-12: a scrape connection still sending its request when the broker stops is closed;
    the broker exits 0 without logging an error."""
    port = int(metrics_url(metrics_broker).rsplit(":", 1)[1].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"GET /metr")
        scrape(metrics_broker)  # the endpoint is answering others meanwhile
        assert metrics_broker.stop() == 0
        assert connection.recv(100) == b""  # closed unanswered
    for line in metrics_broker.stderr_text(current_only=True).splitlines():
        assert json.loads(line)["level"] != "ERROR", line


def test_group_members_and_lag_of_a_live_consumer(metrics_broker: BrokerProcess) -> None:
    """MET-9: a confluent-kafka consumer in group `g` shows as one member; after it commits
    offset 2 of 5 records, the group's lag is 3, and it moves with further produces."""
    produce(metrics_broker, "lagged", 5)
    consumer = confluent_kafka.Consumer({
        "bootstrap.servers": metrics_broker.bootstrap, "group.id": "g",
        "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        consumer.subscribe(["lagged"])
        for _ in range(60):  # bounded: until the group assigned the partition
            consumer.poll(0.5)
            if consumer.assignment():
                break
        assert consumer.assignment()
        consumer.commit(offsets=[confluent_kafka.TopicPartition("lagged", 0, 2)],
                        asynchronous=False)
        partition = frozenset({("group", "g"), ("topic", "lagged"), ("partition", "0")})
        samples = scrape(metrics_broker)
        assert samples[("flyq_group_members", frozenset({("group", "g")}))] == 1
        assert samples[("flyq_group_committed_offset", partition)] == 2
        assert samples[("flyq_group_lag", partition)] == 3
        produce(metrics_broker, "lagged", 4)
        assert scrape(metrics_broker)[("flyq_group_lag", partition)] == 7
    finally:
        consumer.close()
    assert scrape(metrics_broker)[("flyq_group_members", frozenset({("group", "g")}))] == 0


def test_request_byte_connection_and_security_counters_move(tmp_path: Path) -> None:
    """MET-2, MET-3, MET-5, MET-6: the server's own counters: requests per API, bytes each way,
    connections per listener, authentications by mechanism and result, ACL denials."""
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-m", "flyq", "users", "add", "alice", "--data-dir",
                    str(data), "--password-stdin"], input="alice-secret\n", text=True,
                   check=True, cwd=REPO_ROOT, capture_output=True)
    config = tmp_path / "broker.toml"
    config.write_text('[server]\n"authorizer.enabled" = true\n"super.users" = "User:alice"\n')
    process = BrokerProcess(data, listeners=("PLAINTEXT", "SASL_PLAINTEXT"),
                            extra_args=(*_ARGS, "--config", str(config))).start()
    try:
        sasl = {"bootstrap.servers": process.address("SASL_PLAINTEXT"),
                "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256",
                "sasl.username": "alice", "sasl.password": "alice-secret"}
        producer = confluent_kafka.Producer(sasl)
        for index in range(5):
            producer.produce("counted", b"%d" % index, partition=0)
        assert producer.flush(15) == 0
        wrong = confluent_kafka.Producer({**sasl, "sasl.password": "nope"})
        wrong.produce("counted", b"never")
        wrong.flush(2)
        # ANONYMOUS on PLAINTEXT has no ACL: its Metadata request for the topic is denied.
        AdminClient({"bootstrap.servers": process.address("PLAINTEXT")}).list_topics(
            "counted", timeout=10)
        samples = scrape(process)

        def value(name: str, **labels: str) -> float:
            return samples.get((name, frozenset(labels.items())), 0.0)

        produce_requests = sum(v for (name, labels), v in samples.items()
                               if name == "flyq_requests_total" and ("api", "Produce") in labels)
        assert produce_requests >= 1
        assert value("flyq_received_bytes_total", listener="SASL_PLAINTEXT") > 5
        assert value("flyq_sent_bytes_total", listener="SASL_PLAINTEXT") > 0
        assert value("flyq_connections_opened_total", listener="SASL_PLAINTEXT") >= 1
        assert value("flyq_authentications_total", listener="SASL_PLAINTEXT",
                     mechanism="SCRAM-SHA-256", result="success") >= 1
        assert value("flyq_authentications_total", listener="SASL_PLAINTEXT",
                     mechanism="SCRAM-SHA-256", result="failure") >= 1
        assert value("flyq_authorization_denials_total", operation="Describe",
                     resource_type="Topic") >= 1
        assert value("flyq_high_watermark", topic="counted", partition="0") == 5
    finally:
        assert process.stop() == 0
