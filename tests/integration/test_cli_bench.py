"""`flyq bench produce|consume` (spec/client.md CLI-BENCH-1..4) against a real `flyq broker`,
through flyq's own client and confluent-kafka; the topic's end offsets are read back with
flyq's AsyncAdmin. Also `flyq.perf`'s progress callback, in process."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flyq.client import AsyncAdmin
from flyq.perf import ConsumeSettings, ProduceSettings, run_consume, run_produce
from tests.integration.broker_process import BrokerProcess
from tests.integration.test_cli import fails, ok, run
from tests.integration.test_cli_network import final_drawing, run_with_terminal_stderr

pytestmark = pytest.mark.integration

RECORDS = 2000
PARTITIONS = 2


def end_offsets(bootstrap: str, topic: str) -> dict[tuple[str, int], int]:
    """Every partition's log end offset of `topic`."""
    async def ask() -> dict[tuple[str, int], int]:
        async with await AsyncAdmin.connect(bootstrap) as admin:
            count = (await admin.partition_counts([topic]))[topic]
            return await admin.list_end_offsets([(topic, n) for n in range(count)])
    return asyncio.run(ask())


def bench(*args: str) -> dict[str, Any]:
    """Run `flyq bench ... --format json` and parse its one JSON object."""
    out = ok("bench", *args, "--format", "json")
    [line] = out.splitlines()
    result: dict[str, Any] = json.loads(line)
    return result


@pytest.mark.parametrize("client", ["flyq", "confluent-kafka"])
def test_produce_then_consume(broker: BrokerProcess, client: str) -> None:
    """CLI-BENCH-1..4: produce N records (the topic created with 2 partitions) and read them
    back: both report N records and N x size bytes, the end offsets sum to N, the latency
    percentiles are ordered and the rates agree with records / elapsed."""
    topic = f"bench-{client}"
    produced = bench("produce", "--bootstrap", broker.bootstrap, "--topic", topic,
                     "--records", str(RECORDS), "--record-size", "100", "--client", client,
                     "--partitions", str(PARTITIONS), "--batch-size", "4096")
    assert (produced["mode"], produced["client"], produced["records"], produced["bytes"]) == (
        "produce", client, RECORDS, RECORDS * 100)
    assert produced["settings"] == {"record_size": 100, "batch_size": 4096, "linger_ms": 5,
                                    "acks": "all", "idempotence": True}
    latency = produced["latency_ms"]
    assert 0 <= latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert produced["records_per_s"] == pytest.approx(RECORDS / produced["elapsed_s"])
    offsets = end_offsets(broker.bootstrap, topic)
    assert len(offsets) == PARTITIONS
    assert sum(offsets.values()) == RECORDS

    consumed = bench("consume", "--bootstrap", broker.bootstrap, "--topic", topic,
                     "--records", str(RECORDS), "--client", client)
    assert (consumed["mode"], consumed["records"], consumed["bytes"]) == (
        "consume", RECORDS, RECORDS * 100)
    assert consumed["latency_ms"] is None
    assert consumed["mb_per_s"] == pytest.approx(RECORDS * 100 / consumed["elapsed_s"] / 1e6)


def test_text_summary_and_no_idempotence(broker: BrokerProcess) -> None:
    """CLI-BENCH-4: the text form is one summary line; acks=1 runs without idempotence."""
    out = ok("bench", "produce", "--bootstrap", broker.bootstrap, "--topic", "plain",
             "--records", "50", "--record-size", "10", "--acks", "1")
    [line] = out.splitlines()
    assert line.startswith("50 records sent, ") and "ms 99th" in line
    assert sum(end_offsets(broker.bootstrap, "plain").values()) == 50


@pytest.mark.parametrize("args", [
    ("produce", "--topic", "t", "--records", "10", "--record-size", "1", "--client", "kcat"),
    ("produce", "--topic", "t", "--records", "0", "--record-size", "1"),
    ("produce", "--topic", "t", "--records", "10", "--record-size", "1", "--acks", "2"),
    ("consume", "--topic", "t", "--records", "10", "--format", "xml"),
    ("consume", "--topic", "t"),
])
def test_bad_options_are_usage_errors(args: tuple[str, ...]) -> None:
    """An unknown client, acks or format, or a missing or out-of-range count is a usage error
    (exit 2, no traceback) before any connection (nothing listens on the port given)."""
    result = run("bench", *args, "--bootstrap", "127.0.0.1:1")
    assert result.returncode == 2, result.stderr
    assert b"Usage:" in result.stderr and b"Traceback" not in result.stderr


def test_missing_bootstrap_is_a_usage_error() -> None:
    """CLI-BENCH-1: bench talks to a running broker, so --bootstrap (or FLYQ_BOOTSTRAP) is needed."""
    result = run("bench", "consume", "--topic", "t", "--records", "1")
    assert result.returncode == 2
    assert b"--bootstrap" in result.stderr


def test_unreachable_broker_is_one_error_line() -> None:
    """A broker that is not there is one `Error:` line naming it, exit 1, no traceback."""
    assert "127.0.0.1:1" in fails("bench", "consume", "--bootstrap", "127.0.0.1:1", "--topic",
                                  "t", "--records", "1")


@pytest.mark.parametrize("client", ["flyq", "kafka-python"])
def test_progress_callback_counts_every_record_once(broker: BrokerProcess, client: str) -> None:
    """`on_progress(n)` gets positive steps, from the calling thread, that add up to the records
    acknowledged (produce) and received (consume), in about a hundred calls at most."""
    caller = threading.get_ident()
    steps: dict[str, list[int]] = {"produce": [], "consume": []}

    def recorder(mode: str) -> Callable[[int], None]:
        def record(n: int) -> None:
            assert threading.get_ident() == caller
            steps[mode].append(n)
        return record

    run_produce(client, ProduceSettings(broker.bootstrap, "progress", RECORDS, 10),
                on_progress=recorder("produce"))
    run_consume(client, ConsumeSettings(broker.bootstrap, "progress", RECORDS),
                on_progress=recorder("consume"))
    for mode, calls in steps.items():
        assert sum(calls) == RECORDS, mode
        assert all(n > 0 for n in calls) and 1 <= len(calls) <= 101, (mode, calls)


def test_bench_draws_its_bar_on_a_terminal(broker: BrokerProcess, tmp_path: Path) -> None:
    """CLI-BENCH-4, CLI-NET-9: with stderr a terminal, bench produce and bench consume draw a
    bar that ends at N of N, and stdout still holds only the one json line."""
    empty = tmp_path / "stdin"
    empty.write_bytes(b"")
    for mode in ("produce", "consume"):
        size = ("--record-size", "10") if mode == "produce" else ()
        out, drawn = run_with_terminal_stderr(
            "bench", mode, "--bootstrap", broker.bootstrap, "--topic", "bar", "--records",
            "300", *size, "--format", "json", stdin=empty)
        assert json.loads(out)["records"] == 300
        assert b"300/300" in final_drawing(drawn)
