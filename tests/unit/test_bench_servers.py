"""The pure helpers of benchmarks/servers.py: /proc stat parsing, ratios and goals (its
percentiles are flyq.perf's, tested in tests/unit/test_perf.py)."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.servers import (
    goal_line,
    goal_lines,
    median_runs,
    parse_proc_stat,
    ratio_cell,
    tree_cpu_ticks,
)


def _stat(pid: int, comm: str, ppid: int, utime: int, stime: int, cutime: int = 0,
          cstime: int = 0) -> str:
    """A /proc/PID/stat line: fields 3-17 as given or zero, then a tail proc(5) has after them."""
    fields = ["S", str(ppid), "0", "0", "0", "-1", "4194560", "0", "0", "0", "0",
              str(utime), str(stime), str(cutime), str(cstime)]
    return f"{pid} ({comm}) {' '.join(fields)} 20 0 4 0 1234 5678 90\n"


def test_parse_proc_stat_counts_fields_from_the_last_parenthesis() -> None:
    """A command name with spaces and ')' does not shift ppid, utime+stime or cutime+cstime."""
    line = _stat(1234, "redis server) x (y)", 77, 150, 25, 7, 3)
    assert parse_proc_stat(line) == (1234, 77, 175, 10)


def test_tree_cpu_ticks_sums_the_process_its_descendants_and_what_they_reaped() -> None:
    """Root 5+1, child 3, grandchild 2 count (11); an unrelated process does not."""
    stats = {
        10: _stat(10, "server", 1, 4, 1, 1, 0),
        11: _stat(11, "worker", 10, 2, 1),
        12: _stat(12, "helper", 11, 1, 1),
        13: _stat(13, "other", 1, 60, 40),
    }
    assert tree_cpu_ticks(10, stats) == 11
    assert tree_cpu_ticks(11, stats) == 5


def test_tree_cpu_ticks_of_a_missing_process_is_an_error() -> None:
    """A root that is not in the stat lines (exited) is reported, not counted as zero."""
    with pytest.raises(ValueError, match="not running"):
        tree_cpu_ticks(99, {10: _stat(10, "server", 1, 4, 1)})


def test_ratio_cell_formats_flyq_over_other() -> None:
    """Two decimals, three below 0.1, and '-' when a figure is missing or the divisor is 0."""
    assert ratio_cell(3.0, 1.5) == "2.00x"
    assert ratio_cell(1.0, 3.0) == "0.33x"
    assert ratio_cell(0.05, 1.0) == "0.050x"
    assert ratio_cell(None, 1.0) == "-"
    assert ratio_cell(1.0, None) == "-"
    assert ratio_cell(1.0, 0.0) == "-"


def test_goal_line_passes_at_the_bound_and_fails_past_it() -> None:
    """>= goals pass at exactly the bound; <= goals fail just above it."""
    assert goal_line("produce", 450.0, 150.0, 3.0, higher_is_better=True, missing="-") == (
        "  PASS  produce: 3.00x (goal >= 3x)")
    assert goal_line("produce", 440.0, 150.0, 3.0, higher_is_better=True, missing="-") == (
        "  FAIL  produce: 2.93x (goal >= 3x)")
    assert goal_line("p99", 210.0, 100.0, 2.0, higher_is_better=False, missing="-") == (
        "  FAIL  p99: 2.10x (goal <= 2x)")
    assert goal_line("cpu", 0.3, 0.4, 1.0, higher_is_better=False, missing="-") == (
        "  PASS  cpu: 0.75x (goal <= 1x)")


def test_goal_line_says_why_it_cannot_judge() -> None:
    """A missing figure gives the reason; a zero divisor says so rather than dividing."""
    assert goal_line("produce", None, 1.0, 3.0, higher_is_better=True,
                     missing="flyq not available") == "  n/a   produce: flyq not available"
    assert goal_line("cpu", 0.1, 0.0, 1.0, higher_is_better=False, missing="-").startswith(
        "  n/a   cpu: the other server's figure is 0")


def _results(flyq: dict[str, Any]) -> dict[str, Any]:
    def run_(produce: float, consume: float, p99: float, cpu: float) -> dict[str, Any]:
        return {"produce": {"records_per_s": produce, "server_cpu_s_per_million": cpu},
                "consume": {"records_per_s": consume}, "latency": {"p99_us": p99}}

    return {
        "sizes": [{"value_size": 100, "records": 10}],
        "servers": {
            "flyq": flyq,
            "redis": {"available": True, "runs": {"100": run_(100.0, 400.0, 100.0, 2.0)}},
            "tansu": {"available": True, "runs": {"100": run_(250.0, 500.0, 300.0, 0.5)}},
        },
    }


def test_goal_lines_without_flyq_are_all_not_applicable() -> None:
    """FlyQ not available: each of the six goals is n/a and says why."""
    lines = goal_lines(_results({"available": False, "reason": "no broker command"}))
    assert len(lines) == 6
    assert all(line.startswith("  n/a") and "flyq not available" in line for line in lines)


def test_goal_lines_judge_each_goal_against_the_right_server() -> None:
    """Produce 3x Redis passes, consume 1.5x Redis fails, Tansu and latency goals as computed."""
    flyq = {"available": True, "runs": {"100": {
        "produce": {"records_per_s": 300.0, "server_cpu_s_per_million": 0.6},
        "consume": {"records_per_s": 599.0}, "latency": {"p99_us": 200.0}}}}
    verdicts = [line.split()[0] for line in goal_lines(_results(flyq))]
    # produce >= 3x Redis (3.00), consume >= 1.5x Redis (1.4975), produce >= Tansu (1.2),
    # consume >= Tansu (1.198), CPU <= Tansu (1.2), p99 <= 2x Redis (2.0)
    assert verdicts == ["PASS", "FAIL", "PASS", "PASS", "FAIL", "PASS"]


def test_median_runs_takes_each_figure_s_median_and_keeps_failures() -> None:
    """Repeated runs merge into medians per figure; a run that failed once stays failed."""
    def entry(rate: float, failed: bool = False) -> dict[str, Any]:
        runs: dict[str, Any] = {
            "100": {"produce": {"records_per_s": rate, "note": "x"},
                    "stop": {"exit_code": 0, "seconds": 0.1, "killed": False}},
            "1024": {"error": "boom"} if failed else {"produce": {"records_per_s": rate}}}
        return {"available": True, "version": "v", "runs": runs}
    merged = median_runs([entry(3.0), entry(1.0), entry(10.0, failed=True)])
    assert merged["runs"]["100"]["produce"] == {"records_per_s": 3.0, "note": "x"}
    assert len(merged["runs"]["100"]["stop"]) == 3
    assert merged["runs"]["1024"] == {"error": "boom"}
    assert merged["repeats"] == 3
