"""The two clocks FlyQ reads, each for one purpose; everything else takes a clock as an argument.

- `wall_clock_ms`: milliseconds since the Unix epoch. Record timestamps (LogAppendTime), retention
  by age, segment age, creation times: values that are compared with timestamps in records or
  survive a restart.
- `monotonic_ms`: milliseconds from an arbitrary start that never goes back. Intervals inside one
  process only (when a background flush is next due).
"""

from __future__ import annotations

import time

__all__ = ["monotonic_ms", "wall_clock_ms"]


def wall_clock_ms() -> int:
    """Milliseconds since the Unix epoch (time of day: may jump when the system clock is set)."""
    return time.time_ns() // 1_000_000


def monotonic_ms() -> int:
    """Milliseconds of a clock that never goes back; only differences between readings mean
    anything."""
    return time.monotonic_ns() // 1_000_000
