"""`flyq consume|produce|topic|health --bootstrap` (flyq/cli over `flyq.client`, spec/client.md
CLI-NET-1..9) against a real `flyq broker`, the records produced and read back by
confluent-kafka."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import NamedTuple

import confluent_kafka.admin
import pytest

from flyq.client import AsyncAdmin
from tests.integration._clients import Rec, make_admin, make_consumer, make_producer
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


# --- produce --bootstrap (CLI-NET-8) and progress bars (CLI-NET-9) ------------------------------

STAMP = "1700000000000"
KEYED = b"".join(b"customer-%d:order %d\n" % (i % 7, i) for i in range(40))
KEYLESS = b"".join(b"note %d\n" % i for i in range(5))


class Placed(NamedTuple):
    """A stored record and its partition."""

    partition: int
    record: Rec


def read_back(bootstrap: str, topic: str, partitions: int) -> list[Placed]:
    """Every record of `topic`, partition after partition, read by confluent-kafka."""
    consumer = make_consumer("confluent-kafka", bootstrap)
    found: list[Placed] = []
    try:
        for partition in range(partitions):
            consumer.assign(topic, partition, 0)
            end = consumer.end_offset()
            records = consumer.read(end) if end else []
            assert len(records) == end
            found.extend(Placed(partition, record) for record in records)
    finally:
        consumer.close()
    return found


def read_offline(data_dir: Path, topic: str) -> list[Placed]:
    """Every record of `topic` in a data directory, read by the offline `flyq consume`."""
    found = []
    for line in ok("consume", topic, "--format", "json", data_dir=data_dir).splitlines():
        document = json.loads(line)
        found.append(Placed(document["partition"], Rec(
            document["offset"], None if document["key"] is None else document["key"].encode(),
            document["value"].encode(),
            tuple((header["key"], header["value"].encode()) for header in document["headers"]),
            document["timestamp"])))
    return found


def test_produce_sends_what_the_offline_command_appends(broker: BrokerProcess,
                                                        tmp_path: Path) -> None:
    """CLI-NET-8: keyed lines with headers, then keyless ones, produced with --bootstrap, are
    read back by confluent-kafka with the keys, values, headers, timestamps, partitions and
    offsets that the offline command stores from the same input; the --format json summaries
    are the same document; FLYQ_BOOTSTRAP works as --bootstrap."""
    offline = tmp_path / "offline"
    ok("topic", "create", TOPIC, "--partitions", "3", data_dir=offline)
    ok("topic", "create", TOPIC, "--partitions", "3", "--bootstrap", broker.bootstrap)
    keyed = ("produce", TOPIC, "--key-separator", ":", "--header", "h=x", "--header",
             "source=cli", "--timestamp", STAMP, "--format", "json")
    # Keyless lines go round robin from the least-filled partition, which the keyed ones chose.
    keyless = ("produce", TOPIC, "--timestamp", STAMP, "--format", "json")
    offline_summaries = [json.loads(ok(*keyed, data_dir=offline, stdin=KEYED)),
                         json.loads(ok(*keyless, data_dir=offline, stdin=KEYLESS))]
    network_summaries = [json.loads(ok(*keyed, "--bootstrap", broker.bootstrap, stdin=KEYED)),
                         json.loads(ok(*keyless, "--bootstrap", broker.bootstrap,
                                       stdin=KEYLESS))]
    assert network_summaries == offline_summaries
    assert [summary["records"] for summary in network_summaries] == [40, 5]
    stored = read_back(broker.bootstrap, TOPIC, 3)
    assert stored == read_offline(offline, TOPIC)
    assert {placed.record.headers for placed in stored if placed.record.key is not None} == {
        (("h", b"x"), ("source", b"cli"))}
    text = run("produce", TOPIC, "--value", "solo", "--bootstrap", broker.bootstrap)
    assert text.returncode == 0 and text.stdout == b""
    assert re.fullmatch(rb"Produced 1 record to events-\d at offset \d+\.\n", text.stderr)
    summary = run("produce", TOPIC, "--partition", "2", "--compression", "gzip",
                  stdin=b"a\nb\n", env={"FLYQ_BOOTSTRAP": broker.bootstrap})
    assert summary.stderr == b"Produced 2 record(s) to 'events' (partition 2: 2).\n"


def test_produce_errors_over_the_broker(broker: BrokerProcess) -> None:
    """CLI-NET-8: an unknown topic (not created by asking), a partition the topic lacks, a line
    without the key separator and a record the broker refuses are one `Error:` line, exit 1;
    offline batching options are usage errors with --bootstrap."""
    bootstrap = broker.bootstrap
    assert "missing" in fails("produce", "missing", "--value", "x", "--bootstrap", bootstrap)
    assert ok("topic", "list", "--bootstrap", bootstrap).split() == []
    ok("topic", "create", TOPIC, "--partitions", "2", "--bootstrap", bootstrap)
    assert "partition 2 does not exist" in fails("produce", TOPIC, "--value", "x",
                                                 "--partition", "2", "--bootstrap", bootstrap)
    error = fails("produce", TOPIC, "--key-separator", ":", "--bootstrap", bootstrap,
                  stdin=b"k:1\nk:2\nnone\nk:4\n")
    assert "line 3 has no key separator ':'; the 2 record(s) before it were produced" in error
    assert len(read_back(bootstrap, TOPIC, 2)) == 2
    ok("topic", "create", "small", "--config", "max_batch_bytes=200", "--bootstrap", bootstrap)
    error = fails("produce", "small", "--bootstrap", bootstrap, stdin=b"x" * 600 + b"\n")
    assert "MESSAGE_TOO_LARGE" in error and "0 of the 1 record(s) sent were produced" in error
    usage = run("produce", TOPIC, "--batch-records", "5", "--bootstrap", bootstrap)
    assert usage.returncode == 2 and b"--batch-records: only without --bootstrap" in usage.stderr
    usage = run("produce", TOPIC, "--linger-ms", "5", "--data-dir", str(broker.data_dir))
    assert usage.returncode == 2 and b"--linger-ms: only with --bootstrap" in usage.stderr


def run_with_terminal_stderr(*args: str, stdin: Path) -> tuple[bytes, bytes]:
    """Run the CLI with stdin from a file and stderr on a pseudo-terminal: stdout, and what the
    terminal got."""
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    environment.pop("FLYQ_BOOTSTRAP", None)
    environment.pop("FLYQ_DATA_DIR", None)
    controller, terminal = pty.openpty()
    with stdin.open("rb") as source, subprocess.Popen(
        [sys.executable, "-m", "flyq", *args], stdin=source, stdout=subprocess.PIPE,
        stderr=terminal, env=environment,
    ) as process:
        os.close(terminal)
        drawn = bytearray()
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the process closed the terminal's last descriptor
                break
            if not chunk:
                break
            drawn += chunk
        assert process.stdout is not None
        out = process.stdout.read()
        assert process.wait(WAIT) == 0, bytes(drawn)
    os.close(controller)
    return out, bytes(drawn)


def final_drawing(drawn: bytes) -> bytes:
    """The last drawing of the bar on a terminal (which writes a newline as CR LF): the text
    after the last `\\r` of the first line."""
    bar_line = drawn.replace(b"\r\n", b"\n").split(b"\n")[0]
    assert bar_line.startswith(b"\r"), drawn
    return bar_line.rsplit(b"\r", 1)[-1]


def test_progress_bars_only_on_a_terminal_and_never_on_stdout(broker: BrokerProcess,
                                                              tmp_path: Path) -> None:
    """CLI-NET-9: with stderr a terminal, produce --bootstrap (input from a file: its line count
    is the total) and consume --bootstrap draw a bar ending at the total, and their stdout is
    byte for byte what it is with stderr a pipe, where no bar is drawn."""
    bootstrap = broker.bootstrap
    ok("topic", "create", TOPIC, "--partitions", "2", "--bootstrap", bootstrap)
    lines = tmp_path / "lines"
    lines.write_bytes(KEYED)
    produce_args = ("produce", TOPIC, "--key-separator", ":", "--timestamp", STAMP,
                    "--format", "json", "--bootstrap", bootstrap)
    out, drawn = run_with_terminal_stderr(*produce_args, stdin=lines)
    assert b"40/40" in final_drawing(drawn)
    piped = run(*produce_args, stdin=KEYED)
    assert b"\r" not in piped.stderr
    # The second run appended after the first: the same document but for the offsets.
    first, second = json.loads(out), json.loads(piped.stdout)
    assert [(entry["partition"], entry["records"]) for entry in first["partitions"]] == [
        (entry["partition"], entry["records"]) for entry in second["partitions"]]
    for consume_args, total in ((("consume", TOPIC, "--bootstrap", bootstrap), b"80/80"),
                                (("consume", TOPIC, "--bootstrap", bootstrap, "--format", "json",
                                  "--tail", "3"), b"6/6")):
        out, drawn = run_with_terminal_stderr(*consume_args, stdin=lines)
        piped = run(*consume_args)
        assert out == piped.stdout and out
        assert total in final_drawing(drawn)
        assert b"\r" not in piped.stderr


def test_produce_from_stdin_stops_on_sigint_and_reports(broker: BrokerProcess) -> None:
    """CLI-NET-8: SIGINT while produce --bootstrap waits on stdin stops the reading; the lines
    read are delivered and reported, exit 0, as consume --follow does (CLI-NET-4)."""
    bootstrap = broker.bootstrap
    ok("topic", "create", TOPIC, "--partitions", "1", "--bootstrap", bootstrap)
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    environment.pop("FLYQ_BOOTSTRAP", None)
    environment.pop("FLYQ_DATA_DIR", None)
    with subprocess.Popen(
        [sys.executable, "-m", "flyq", "produce", TOPIC, "--bootstrap", bootstrap],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment,
    ) as process:
        assert process.stdin is not None
        process.stdin.write(b"one\ntwo\nunfinished")
        process.stdin.flush()
        consumer = make_consumer("confluent-kafka", bootstrap)
        try:
            consumer.assign(TOPIC, 0, 0)
            assert [record.value for record in consumer.read(2, WAIT)] == [b"one", b"two"]
        finally:
            consumer.close()
        process.send_signal(signal.SIGINT)
        # stdin stays open: the signal, not its end, stops the reading.
        process.wait(WAIT)
        assert process.stdout is not None and process.stderr is not None
        out, stderr = process.stdout.read(), process.stderr.read()
    assert process.returncode == 0, stderr.decode()
    assert out == b""
    assert stderr == b"Produced 2 record(s) to 'events' (partition 0: 2).\n"
