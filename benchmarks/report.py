"""Machine description and plain-text tables for the benchmark report."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any


def _command(*argv: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"({argv[0]} failed: {exc})"
    return done.stdout.strip()


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total() -> str:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / (1 << 20):.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _mount_of(mount_point: str) -> str:
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) >= 4 and fields[1] == mount_point:
                    return f"{fields[0]} on {fields[1]} type {fields[2]} ({fields[3]})"
    except OSError:
        pass
    return "unknown"


def machine_info(data_dir: str, repo_dir: str) -> dict[str, Any]:
    """What the figures were measured on."""
    df = _command("df", "-PT", data_dir)
    df_fields = df.splitlines()[-1].split() if df and not df.startswith("(") else []
    mount_point = df_fields[-1] if df_fields else ""
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = os.cpu_count() or 0
    return {
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "cpu_model": _cpu_model(),
        "memory": _mem_total(),
        "data_dir": data_dir,
        "filesystem_type": _command("stat", "-f", "-c", "%T", data_dir),
        "df": df,
        "mount": _mount_of(mount_point) if mount_point else "unknown",
        "same_filesystem_as_repo": os.stat(data_dir).st_dev == os.stat(repo_dir).st_dev,
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 1,
          indent: str = "  ") -> str:
    """An aligned text table: the first `left` columns left-aligned, the rest right-aligned."""
    widths = [len(header) for header in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [cell.ljust(widths[i]) if i < left else cell.rjust(widths[i])
                 for i, cell in enumerate(cells)]
        return (indent + "  ".join(parts)).rstrip()

    rule = indent + "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def count(value: float) -> str:
    """An integer with thousands separators."""
    return f"{round(value):,}"


def rate(value: float) -> str:
    """A rate with three significant-ish digits."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def mib(value: float) -> str:
    """Bytes as MiB."""
    return f"{value / (1 << 20):,.1f}"


def size_label(value: int) -> str:
    """A byte size as B/KiB/MiB/GiB, exact when it is a power-of-two multiple."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= scale and value % scale == 0:
            return f"{value // scale} {unit}"
    if value >= 1 << 20:
        return f"{value / (1 << 20):.1f} MiB"
    return f"{value} B"


def finish(title: str, results: dict[str, Any], report_text: str, started: float,
           data_dir: str | None, repo_dir: str, out: str | None) -> int:
    """Print a standalone benchmark's heading (the machine, the run time) and report; write the
    results, the machine added, to `out` as JSON if given. The exit code: 0."""
    results["machine"] = machine_info(data_dir or tempfile.gettempdir(), repo_dir)
    results["elapsed_s"] = time.perf_counter() - started
    machine = results["machine"]
    print(f"{title}: python {machine['python']}, {machine['platform']}; cpus: "
          f"{machine['cpu_count']} ({machine['cpus_usable']} usable), {machine['cpu_model']}; "
          f"total run time {results['elapsed_s']:.0f} s\n")
    print(report_text)
    if out:
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
        print(f"wrote {out}", file=sys.stderr, flush=True)
    return 0
