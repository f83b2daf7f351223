"""Helpers shared by the benchmark modules: sizes, test data, page cache, peak RSS, profiles."""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import random
import resource
import time
from collections.abc import Callable, Iterable
from typing import Any

from flyq.codec.record_batch import encode_batch
from flyq.records import Record

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30
MB = 1_000_000  # throughput figures are in MB/s, MB = 10^6 bytes
# Every benchmark record carries this timestamp (ms since the epoch); keys and headers are empty.
TIMESTAMP = 1_700_000_000_000
# Distinct batches cycled through by the append benchmarks (pre-built outside the timed region).
POOL_SIZE = 8


def make_batches(value_size: int, batch_size: int, count: int = POOL_SIZE,
                 seed: int = 1) -> list[list[Record]]:
    """`count` record lists of `batch_size` records, each with a random `value_size`-byte value."""
    rng = random.Random(seed)
    return [
        [Record(value=rng.randbytes(value_size), timestamp=TIMESTAMP) for _ in range(batch_size)]
        for _ in range(count)
    ]


def encode_all(batches: Iterable[list[Record]]) -> list[bytes]:
    """Each record list encoded as one RecordBatch v2 at base offset 0."""
    return [encode_batch(0, records) for records in batches]


def write_all(fd: int, data: bytes) -> None:
    """`os.write` all of `data` (a regular file takes it in one call; loop on a short write)."""
    written = os.write(fd, data)
    if written != len(data):
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view):]


def segment_files(directory: str) -> list[str]:
    """The `.log` files of a partition directory, oldest segment first."""
    return sorted(os.path.join(directory, name) for name in os.listdir(directory)
                  if name.endswith(".log"))


def dir_bytes(directory: str) -> int:
    """Total size of the `.log` files of a partition directory."""
    return sum(os.path.getsize(path) for path in segment_files(directory))


def drop_page_cache(directory: str) -> None:
    """Evict a directory's (clean) file pages from the page cache: POSIX_FADV_DONTNEED per file."""
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            continue
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_kib() -> int:
    """Peak resident set size of this process in KiB (VmHWM; else getrusage ru_maxrss)."""
    value = _status_kib("VmHWM")
    return value if value is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rss_kib() -> int:
    """Current resident set size in KiB (VmRSS; else the peak)."""
    value = _status_kib("VmRSS")
    return value if value is not None else peak_rss_kib()


def profile_call(fn: Callable[[], Any], limit: int = 14) -> tuple[Any, str]:
    """Run `fn` under cProfile; return its result and a top-`limit` summary by own time."""
    profiler = cProfile.Profile()
    start = time.perf_counter()
    result = profiler.runcall(fn)
    elapsed = time.perf_counter() - start
    out = io.StringIO()
    out.write(f"wall {elapsed * 1000:.1f} ms under the profiler\n")
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(limit)
    text = out.getvalue()
    # Drop pstats' preamble lines, keep the call count line and the table.
    lines = [line for line in text.splitlines() if line.strip()
             and not line.strip().startswith(("Ordered by", "List reduced"))]
    return result, "\n".join(lines)


def median(values: list[float]) -> float:
    """Median of a non-empty list."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
