"""The pure report of benchmarks/clients.py: figures, ratios and the issue's goal lines."""

from __future__ import annotations

from typing import Any

from benchmarks.clients import figure, goal_lines, median_run, ratio_table


def _results(produce: dict[str, float | None]) -> dict[str, Any]:
    """One 100 B size; each client's produce records/s as given (None: failed), consume 1000."""
    runs: dict[str, Any] = {}
    for client, rate in produce.items():
        runs[client] = ({"error": "boom"} if rate is None else
                        {"produce": {"records_per_s": rate}, "consume": {"records_per_s": 1000.0}})
    return {"sizes": [{"value_size": 100, "records": 10}],
            "clients": {client: {} for client in produce}, "runs": {"100": runs}}


def test_goal_lines_compare_flyq_with_aiokafka_and_twice_kafka_python() -> None:
    """flyq at 100 rec/s passes >= aiokafka at 90 (1.11x) and fails >= 2x kafka-python at 60
    (1.67x); consume, equal everywhere, passes 1x and fails 2x."""
    lines = goal_lines(_results({"flyq": 100.0, "aiokafka": 90.0, "kafka-python": 60.0}))
    assert lines == [
        "  PASS  100 B: produce rec/s >= aiokafka: 1.11x (goal >= 1x)",
        "  FAIL  100 B: produce rec/s >= 2x kafka-python: 1.67x (goal >= 2x)",
        "  PASS  100 B: consume rec/s >= aiokafka: 1.00x (goal >= 1x)",
        "  FAIL  100 B: consume rec/s >= 2x kafka-python: 1.00x (goal >= 2x)",
    ]


def test_a_failed_client_makes_its_goals_not_applicable() -> None:
    """A client whose run failed has no figure, and its goal lines say so instead of passing."""
    results = _results({"flyq": 100.0, "aiokafka": None, "kafka-python": 10.0})
    assert figure(results, "aiokafka", 100, "produce") is None
    lines = goal_lines(results)
    assert lines[0] == "  n/a   100 B: produce rec/s >= aiokafka: aiokafka not run or failed"
    assert lines[1].startswith("  PASS  100 B: produce rec/s >= 2x kafka-python: 10.00x")
    assert ratio_table(results).splitlines()[2].split()[-2:] == ["-", "-"]


def test_median_run_takes_each_figure_over_the_rounds_and_keeps_a_failure() -> None:
    """Section 10's repeats: each figure (latencies one by one) is the median of the rounds, the
    per-round records/s are kept, and a round that failed makes the client's entry that failure."""
    def run_(rate: float, p50: float) -> dict[str, Any]:
        return {"produce": {"records_per_s": rate, "client": "flyq",
                            "latency_ms": {"p50": p50, "p99": 2 * p50}},
                "consume": {"records_per_s": 10 * rate, "client": "flyq", "latency_ms": None}}
    merged = median_run([run_(3.0, 9.0), run_(1.0, 7.0), run_(2.0, 8.0)])
    assert merged["produce"]["records_per_s"] == 2.0
    assert merged["produce"]["latency_ms"] == {"p50": 8.0, "p99": 16.0}
    assert merged["consume"] == {"records_per_s": 20.0, "client": "flyq", "latency_ms": None}
    assert merged["records_per_s_of_each_repeat"]["produce"] == [3.0, 1.0, 2.0]
    assert median_run([run_(1.0, 1.0), {"error": "boom"}]) == {"error": "boom"}
