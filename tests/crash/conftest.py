"""Crash-suite plumbing: how many states to explore, and the count in pytest's terminal summary."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from flyq.crash import ExplorationReport

# `pytest -m crash` explores this many distinct post-crash disks; `make test` bounds it for CI.
FULL_STATES = 10_000
EXPLORED: list[tuple[str, ExplorationReport]] = []


def crash_states_target() -> int:
    """Distinct crash states the exploration must reach (env FLYQ_CRASH_STATES, else the full run)."""
    return int(os.environ.get("FLYQ_CRASH_STATES", FULL_STATES))


@pytest.fixture(autouse=True)
def _quiet_recovery_warnings() -> Iterator[None]:
    """Recovery reports are expected by the thousand here; keep them out of failure output."""
    recovery_logger = logging.getLogger("flyq.recovery")
    level = recovery_logger.level
    recovery_logger.setLevel(logging.ERROR)
    yield
    recovery_logger.setLevel(level)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how many distinct post-crash disks each exploration checked."""
    if not EXPLORED:
        return
    terminalreporter.section("crash states explored")
    for name, report in EXPLORED:
        per_mode = ", ".join(f"{mode} {count}" for mode, count in report.states.items())
        per_kind = ", ".join(f"{kind} {count}" for kind, count in report.states_by_kind.items())
        per_kind = f" ({per_kind})" if per_kind else ""
        terminalreporter.write_line(
            f"{name}: {report.distinct_states} distinct post-crash disk states ({per_mode}, "
            f"during recovery {report.recovery_crash_states}); {report.recoveries} recoveries, "
            f"{report.workloads} workloads{per_kind}, {len(report.violations)} violations"
        )
