"""The pure figures of `flyq.perf` (spec/client.md CLI-BENCH-2..4): percentiles, the latency
summary, the run settings' checks and the json / text forms of a result."""

from __future__ import annotations

import pytest

from flyq.errors import InvalidArgument
from flyq.perf import (
    CLIENTS,
    BenchResult,
    ConsumeSettings,
    Latency,
    ProduceSettings,
    latency_summary,
    payloads,
    percentile,
    run_produce,
)


def test_percentile_interpolates_between_closest_ranks() -> None:
    """CLI-BENCH-2: p50 of 1..4 is 2.5; p95 and p99 of 10..50 are 40 + 0.8 * 10 and 40 + 0.96 * 10;
    p0 and p100 are the smallest and the largest."""
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    ordered = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert percentile(ordered, 95) == pytest.approx(48.0)
    assert percentile(ordered, 99) == pytest.approx(49.6)
    assert percentile(ordered, 0) == 10.0
    assert percentile(ordered, 100) == 50.0
    assert percentile([7.0], 99) == 7.0


def test_percentile_refuses_no_values_and_out_of_range_p() -> None:
    """An empty sample or p outside 0..100 is InvalidArgument."""
    with pytest.raises(InvalidArgument):
        percentile([], 50)
    with pytest.raises(InvalidArgument):
        percentile([1.0], 101)


def test_latency_summary_is_per_record_ack_minus_send_in_ms() -> None:
    """CLI-BENCH-2: latencies 10, 20, 30, 40, 50 ms (sent out of order of size) give p50 30,
    p95 48, p99 49.6, max 50, avg 30."""
    sent = [0.0, 1.0, 2.0, 3.0, 4.0]
    acked = [0.030, 1.050, 2.010, 3.040, 4.020]
    assert latency_summary(sent, acked) == Latency(
        p50_ms=pytest.approx(30.0), p95_ms=pytest.approx(48.0), p99_ms=pytest.approx(49.6),
        max_ms=pytest.approx(50.0), avg_ms=pytest.approx(30.0))


def test_latency_summary_needs_one_ack_per_send() -> None:
    """Send and ack times of different lengths are InvalidArgument."""
    with pytest.raises(InvalidArgument):
        latency_summary([0.0, 1.0], [0.5])


def test_result_json_fields_and_rates() -> None:
    """CLI-BENCH-4: 2,000 records of 100 B in 0.5 s are 4,000 records/s and 0.4 MB/s (10^6
    bytes), under the stable field names; a consume run's latency_ms is null."""
    latency = Latency(p50_ms=1.0, p95_ms=2.0, p99_ms=3.0, max_ms=4.0, avg_ms=1.5)
    produced = BenchResult(mode="produce", client="flyq", topic="t", records=2000,
                           bytes=200_000, elapsed_s=0.5, latency=latency,
                           settings={"acks": "all"})
    assert produced.to_json() == {
        "mode": "produce", "client": "flyq", "topic": "t", "records": 2000, "bytes": 200_000,
        "elapsed_s": 0.5, "records_per_s": 4000.0, "mb_per_s": 0.4,
        "latency_ms": {"p50": 1.0, "p95": 2.0, "p99": 3.0, "max": 4.0, "avg": 1.5},
        "settings": {"acks": "all"}}
    consumed = BenchResult(mode="consume", client="aiokafka", topic="t", records=10,
                           bytes=1000, elapsed_s=0.25, latency=None, settings={})
    assert consumed.to_json()["latency_ms"] is None
    assert consumed.to_json()["records_per_s"] == 40.0


def test_summary_lines() -> None:
    """CLI-BENCH-4: the text form is one line in kafka-producer-perf-test's words."""
    latency = Latency(p50_ms=1.0, p95_ms=2.0, p99_ms=3.0, max_ms=4.0, avg_ms=1.5)
    produced = BenchResult(mode="produce", client="flyq", topic="t", records=2000,
                           bytes=200_000, elapsed_s=0.5, latency=latency, settings={})
    assert produced.summary() == (
        "2000 records sent, 4000.0 records/sec (0.40 MB/sec), 1.50 ms avg latency, 4.00 ms max "
        "latency, 1.00 ms 50th, 2.00 ms 95th, 3.00 ms 99th; 0.500 s, client flyq.")
    consumed = BenchResult(mode="consume", client="kafka-python", topic="t", records=10,
                           bytes=1000, elapsed_s=0.25, latency=None, settings={})
    assert consumed.summary() == (
        "10 records consumed, 40.0 records/sec (0.00 MB/sec); 0.250 s, client kafka-python.")


def test_payloads_are_deterministic_and_sized() -> None:
    """CLI-BENCH-1: the values are the same on every call, of the asked size, not all equal."""
    first = payloads(100)
    assert first == payloads(100)
    assert {len(value) for value in first} == {100}
    assert len(set(first)) > 1


@pytest.mark.parametrize("changes", [{"records": 0}, {"record_size": -1}, {"batch_size": 0},
                                     {"acks": "2"}, {"acks": "1", "idempotence": True}])
def test_produce_settings_out_of_range_are_refused(changes: dict[str, object]) -> None:
    """Counts below 1, a negative size, unknown acks and idempotence without acks=all are
    InvalidArgument."""
    arguments: dict[str, object] = {"bootstrap": "h:1", "topic": "t", "records": 1,
                                    "record_size": 1, **changes}
    with pytest.raises(InvalidArgument):
        ProduceSettings(**arguments)  # type: ignore[arg-type]


def test_consume_settings_need_a_record() -> None:
    """Reading fewer than one record is InvalidArgument."""
    with pytest.raises(InvalidArgument):
        ConsumeSettings("h:1", "t", 0)


def test_unknown_client_is_refused_before_connecting() -> None:
    """A client not in CLIENTS is InvalidArgument naming the choices (nothing is contacted)."""
    with pytest.raises(InvalidArgument, match=" \\| ".join(CLIENTS)):
        run_produce("kcat", ProduceSettings("127.0.0.1:1", "t", 1, 1))
