"""Timings the integration tests measure (a rebalance, say), printed at the end of the run by the
`pytest_terminal_summary` hook of tests/integration/conftest.py as `name: median X ms, max Y ms
(n=N)`. Figures only: the tests assert behaviour, never a wall-clock limit (STYLE.md)."""

from __future__ import annotations

import statistics

__all__ = ["TIMINGS", "record_timing", "summary_lines"]

TIMINGS: list[tuple[str, list[float]]] = []


def record_timing(name: str, seconds: list[float]) -> None:
    """Keep `seconds` (one figure per round) under `name` for the end-of-run summary."""
    if not seconds:
        raise ValueError(f"no figures for {name!r}")
    TIMINGS.append((name, list(seconds)))


def summary_lines() -> list[str]:
    """One line per recorded timing, in the order recorded."""
    return [f"{name}: median {statistics.median(figures) * 1000:.0f} ms, "
            f"max {max(figures) * 1000:.0f} ms (n={len(figures)})"
            for name, figures in TIMINGS]
