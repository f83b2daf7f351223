"""`flyq consume|topic|health --bootstrap` (flyq/cli over `flyq.client`, spec/client.md
CLI-NET-1..7) against a real `flyq broker`, the records produced by confluent-kafka."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading

import confluent_kafka.admin
import pytest

from flyq.client import AsyncAdmin
from tests.integration._clients import make_admin, make_producer
from tests.integration.broker_process import BrokerProcess
from tests.integration.test_cli import REPO_ROOT, fails, ok, run

pytestmark = pytest.mark.integration

TOPIC = "events"
COUNT = 20
WAIT = 30.0


def produce(broker: BrokerProcess, partition: int, values: list[bytes]) -> None:
    """Produce `values` (keys k<value>, one header) to TOPIC's `partition` with confluent-kafka."""
    producer = make_producer("confluent-kafka", broker.bootstrap)
    try:
        for value in values:
            producer.send(TOPIC, partition, b"k" + value, value, headers=[("h", b"x")])
        producer.flush()
    finally:
        producer.close()


@pytest.fixture
def filled(broker: BrokerProcess) -> BrokerProcess:
    """TOPIC with two partitions: values v0..v19 in partition 0, w0..w2 in partition 1."""
    make_admin("confluent-kafka", broker.bootstrap).create(TOPIC, 2)
    produce(broker, 0, [b"v%d" % i for i in range(COUNT)])
    produce(broker, 1, [b"w%d" % i for i in range(3)])
    return broker


def values(text: str) -> list[str]:
    """The VALUE column of `consume` text output."""
    return [line.split("\t")[3] for line in text.splitlines()]


def test_consume_prints_what_confluent_produced(filled: BrokerProcess) -> None:
    """CLI-NET-1: every record, partition after partition, in the offline text and json forms;
    --partition, --offset, --max; FLYQ_BOOTSTRAP works as --bootstrap."""
    bootstrap = filled.bootstrap
    out = ok("consume", TOPIC, "--bootstrap", bootstrap)
    assert values(out) == [f"v{i}" for i in range(COUNT)] + ["w0", "w1", "w2"]
    fields = out.splitlines()[0].split("\t")
    assert (fields[0], fields[2], fields[4]) == ("0:0", "kv0", "h=x")
    [first] = [json.loads(line) for line in
               ok("consume", TOPIC, "--bootstrap", bootstrap, "--format", "json",
                  "--max", "1").splitlines()]
    assert (first["partition"], first["offset"], first["key"], first["value"],
            first["headers"]) == (0, 0, "kv0", "v0", [{"key": "h", "value": "x"}])
    assert values(ok("consume", TOPIC, "--bootstrap", bootstrap, "--partition", "0",
                     "--offset", "17")) == ["v17", "v18", "v19"]
    assert values(ok("consume", TOPIC, "--bootstrap", bootstrap, "--partition", "1")) == [
        "w0", "w1", "w2"]
    via_env = run("consume", TOPIC, "--max", "2", env={"FLYQ_BOOTSTRAP": bootstrap})
    assert via_env.returncode == 0, via_env.stderr
    assert values(via_env.stdout.decode()) == ["v0", "v1"]
    assert "missing" in fails("consume", "missing", "--bootstrap", bootstrap)
    assert "partition 2 does not exist" in fails("consume", TOPIC, "--bootstrap", bootstrap,
                                                 "--partition", "2")


def test_tail_and_backward(filled: BrokerProcess) -> None:
    """CLI-NET-2: --tail 5 is each partition's last 5 oldest first; --backward newest first,
    from the end, from --offset, with --tail and --max, as the offline command prints them."""
    bootstrap = filled.bootstrap
    assert values(ok("consume", TOPIC, "--bootstrap", bootstrap, "--tail", "5")) == [
        "v15", "v16", "v17", "v18", "v19", "w0", "w1", "w2"]
    assert values(ok("consume", TOPIC, "--bootstrap", bootstrap, "--backward",
                     "--partition", "0")) == [f"v{i}" for i in range(COUNT - 1, -1, -1)]
    assert values(ok("consume", TOPIC, "--bootstrap", bootstrap, "--backward",
                     "--partition", "0", "--offset", "2")) == ["v2", "v1", "v0"]
    assert values(ok("consume", TOPIC, "--bootstrap", bootstrap, "--backward",
                     "--tail", "2")) == ["v19", "v18", "w2", "w1"]
    assert values(ok("consume", TOPIC, "--bootstrap", bootstrap, "--backward",
                     "--max", "3")) == ["v19", "v18", "v17"]


def test_timestamp_starts(filled: BrokerProcess) -> None:
    """CLI-NET-1..2: --timestamp forward starts at the first record at or after it (none after
    the newest: nothing); backward it prints the records before that one, newest first."""
    bootstrap = filled.bootstrap
    future = str(2 ** 50)
    assert len(values(ok("consume", TOPIC, "--bootstrap", bootstrap, "--timestamp", "0"))) == 23
    assert values(ok("consume", TOPIC, "--bootstrap", bootstrap, "--timestamp", future)) == []
    assert values(ok("consume", TOPIC, "--bootstrap", bootstrap, "--backward",
                     "--timestamp", "0")) == []
    assert values(ok("consume", TOPIC, "--bootstrap", bootstrap, "--backward", "--partition",
                     "1", "--timestamp", future)) == ["w2", "w1", "w0"]


def test_group_commits_what_was_printed(filled: BrokerProcess) -> None:
    """CLI-NET-3: --group starts at the committed offsets (earliest without one) and commits the
    offset after the last record printed; the next run goes on from there."""
    bootstrap = filled.bootstrap
    assert values(ok("consume", TOPIC, "--bootstrap", bootstrap, "--group", "g",
                     "--partition", "0", "--max", "4")) == ["v0", "v1", "v2", "v3"]
    assert committed(bootstrap, "g") == {(TOPIC, 0): 4}
    assert values(ok("consume", TOPIC, "--bootstrap", bootstrap, "--group", "g",
                     "--partition", "0", "--max", "2")) == ["v4", "v5"]
    assert committed(bootstrap, "g") == {(TOPIC, 0): 6}


def committed(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    """`group`'s committed offsets, asked of the broker."""
    async def ask() -> dict[tuple[str, int], int]:
        async with await AsyncAdmin.connect(bootstrap) as admin:
            return await admin.list_group_offsets(group)
    return asyncio.run(ask())


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_follow_prints_a_new_record_and_commits_on_a_stop_signal(filled: BrokerProcess,
                                                                  stop: signal.Signals) -> None:
    """CLI-NET-4: --follow prints the records there are, then one produced while it runs; on
    SIGINT or SIGTERM it exits 0 and the group's committed offset is after the last record
    printed."""
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    environment.pop("FLYQ_BOOTSTRAP", None)
    environment.pop("FLYQ_DATA_DIR", None)
    with subprocess.Popen(
        [sys.executable, "-m", "flyq", "consume", TOPIC, "--bootstrap", filled.bootstrap,
         "--partition", "1", "--group", "follower", "--follow"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment,
    ) as process:
        assert process.stdout is not None
        lines: list[str] = []
        seen = threading.Event()

        def read() -> None:
            assert process.stdout is not None
            for raw in process.stdout:
                lines.append(raw.decode())
                if "late" in lines[-1]:
                    seen.set()
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        produce(filled, 1, [b"late"])
        try:
            assert seen.wait(WAIT), lines
        finally:
            process.send_signal(stop)
        _, stderr = process.communicate(timeout=WAIT)
        reader.join(WAIT)
    assert process.returncode == 0, stderr.decode()
    assert values("".join(lines)) == ["w0", "w1", "w2", "late"]
    assert b"Traceback" not in stderr
    assert b"committed group 'follower'" in stderr
    assert committed(filled.bootstrap, "follower") == {(TOPIC, 1): 4}


def test_an_offline_command_on_a_running_brokers_directory_points_to_bootstrap(
        filled: BrokerProcess) -> None:
    """CLI-NET-5: the data directory a broker holds is locked; an offline command that has
    --bootstrap says to use it, one that has not says to stop the broker."""
    error = fails("consume", TOPIC, "--data-dir", str(filled.data_dir))
    assert "in use by another FlyQ process" in error and "--bootstrap HOST:PORT" in error
    error = fails("retention", "run", TOPIC, "--data-dir", str(filled.data_dir))
    assert "in use by another FlyQ process" in error
    assert "`flyq retention run` has no --bootstrap" in error


def test_health_over_the_broker(filled: BrokerProcess) -> None:
    """CLI-NET-6: `flyq health --bootstrap` shows each partition's offsets, durable offset,
    size and state as the broker reports them; --verify finds every index in agreement."""
    rows = json.loads(ok("health", "--bootstrap", filled.bootstrap, "--format", "json"))
    assert [(row["topic"], row["partition"], row["state"], row["log_end_offset"])
            for row in rows] == [(TOPIC, 0, "online", COUNT), (TOPIC, 1, "online", 3)]
    assert all(0 <= row["durable_offset"] <= row["high_watermark"] for row in rows)
    assert all(row["total_bytes"] > 0 and row["index_check"] is None for row in rows)
    verified = json.loads(ok("health", TOPIC, "--verify", "--bootstrap", filled.bootstrap,
                             "--format", "json"))
    assert [row["index_check"]["problems"] for row in verified] == [[], []]
    text = ok("health", TOPIC, "--verify", "--bootstrap", filled.bootstrap)
    assert f"{TOPIC}-0: indexes match a rebuild" in text
    assert "unknown" in fails("health", "missing", "--bootstrap", filled.bootstrap).lower()


def test_topic_commands_over_the_broker(broker: BrokerProcess) -> None:
    """CLI-NET-7: topic create (with --config, sent in Kafka's names), list, alter, describe
    and delete against a running broker; confluent-kafka's admin sees the topic and config."""
    bootstrap = broker.bootstrap
    assert "Created topic 'made'" in ok("topic", "create", "made", "--partitions", "3",
                                        "--config", "retention_ms=60000",
                                        "--config", "segment.bytes=1048576",
                                        "--bootstrap", bootstrap)
    assert ok("topic", "list", "--bootstrap", bootstrap).split() == ["made"]
    assert json.loads(ok("topic", "list", "--bootstrap", bootstrap, "--format", "json")) == [
        "made"]
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": bootstrap})
    resource = confluent_kafka.admin.ConfigResource("topic", "made")
    described = admin.describe_configs([resource])[resource].result(10)
    assert (described["retention.ms"].value, described["segment.bytes"].value) == (
        "60000", "1048576")
    assert "retention_ms=None" in ok("topic", "alter", "made", "--config", "retention_ms=none",
                                     "--bootstrap", bootstrap)
    described = admin.describe_configs([resource])[resource].result(10)
    assert described["retention.ms"].value == "-1"
    document = json.loads(ok("topic", "describe", "made", "--bootstrap", bootstrap,
                             "--format", "json"))
    assert [(row["partition"], row["log_end_offset"]) for row in document["partitions"]] == [
        (0, 0), (1, 0), (2, 0)]
    assert "Partitions: 3" in ok("topic", "describe", "made", "--bootstrap", bootstrap)
    assert "exists" in fails("topic", "create", "made", "--bootstrap", bootstrap).lower()
    ok("topic", "delete", "made", "--bootstrap", bootstrap)
    assert ok("topic", "list", "--bootstrap", bootstrap).split() == []
    assert "made" in fails("topic", "delete", "made", "--bootstrap", bootstrap)
