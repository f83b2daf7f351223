"""Scenarios run each in a fresh child process, so that peak RSS figures do not mix.

Each `child_*` function is called in a new interpreter (multiprocessing "spawn", one task per
process) and returns a dict of plain values: its timings, `start_rss_kib` (resident size when the
scenario began, after imports and test data) and `peak_rss_kib` (the process's peak RSS, VmHWM,
reset at the scenario's start when the kernel allows it: see `peak_reset`).
"""

from __future__ import annotations

import gc
import logging
import os
import struct
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from itertools import cycle, islice
from multiprocessing import get_context
from typing import Any

import attrs

from benchmarks.common import (
    MIB,
    dir_bytes,
    drop_page_cache,
    encode_all,
    make_batches,
    peak_rss_kib,
    profile_call,
    rss_kib,
    segment_files,
)
from flyq.impl.config import LogConfig
from flyq.impl.log import PartitionLog

READ_MAX_BYTES = MIB
DECODED_MAX_RECORDS = 1000
_BASE_OFFSET = struct.Struct(">q")


def run_in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Call `fn(*args)` in a freshly spawned Python process and return its result."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def _start() -> dict[str, Any]:
    """Reset the peak-RSS watermark if possible (Linux: write 5 to /proc/self/clear_refs)."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
        reset = True
    except OSError:
        reset = False
    return {"peak_reset": reset, "start_rss_kib": rss_kib()}


def _finish(state: dict[str, Any], **values: Any) -> dict[str, Any]:
    return {**state, **values, "peak_rss_kib": peak_rss_kib()}


# --- building a log ------------------------------------------------------------------------------


def child_build(directory: str, total_bytes: int, segment_bytes: int, value_size: int,
                batch_size: int) -> dict[str, Any]:
    """Append already-encoded batches until `total_bytes`, flush on roll, close cleanly."""
    encoded = encode_all(make_batches(value_size, batch_size, count=2))
    batch_bytes = len(encoded[0])
    batches = max(total_bytes // batch_bytes, 1)
    state = _start()
    log = PartitionLog.open(directory, LogConfig(segment_bytes=segment_bytes))
    start = time.perf_counter()
    for batch in islice(cycle(encoded), batches):
        log.append_encoded(batch)
    log.flush()
    seconds = time.perf_counter() - start
    log.close()
    return _finish(state, seconds=seconds, batches=batches, batch_bytes=batch_bytes,
                   requested_bytes=total_bytes,
                   bytes=batches * batch_bytes, records=batches * batch_size,
                   segments=len(segment_files(directory)))


# --- opening -------------------------------------------------------------------------------------


def child_open(directory: str, repeats: int, profile: bool) -> dict[str, Any]:
    """Time `PartitionLog.open` + first `log_end_offset` of a cleanly closed log, `repeats` x."""
    state = _start()
    times: list[float] = []
    end = -1
    report: Any = None
    for _ in range(repeats):
        start = time.perf_counter()
        log = PartitionLog.open(directory)
        end = log.log_end_offset
        times.append(time.perf_counter() - start)
        report = log.recovery_report
        log.close()
    result = _finish(state, times=times, log_end_offset=end, clean=bool(report.clean),
                     segments=len(segment_files(directory)))
    if profile:
        opened, text = profile_call(lambda: PartitionLog.open(directory))
        opened.close()
        result["profile"] = text
    return result


def _recovered_bytes(log: PartitionLog) -> int:
    scanned = log.recovery_report.segments_scanned
    return sum(info.size for info in log.segments[len(log.segments) - scanned:]) if scanned else 0


def child_recover(directory: str, repeats: int, cold: bool, profile: bool) -> dict[str, Any]:
    """Time opening the log after it was dropped without `close` (no clean-shutdown marker).

    Each repeat: (cold: evict the directory's pages from the page cache), time open + first
    `log_end_offset`, then drop the object without closing it, so the next open is unclean too.
    At the end the log is opened and closed cleanly again.
    """
    # The report is printed by the benchmark; the log's own warning per open would be noise.
    logging.getLogger("flyq.recovery").setLevel(logging.ERROR)
    state = _start()
    # A clean open removes the clean-shutdown marker; dropping the object leaves it absent.
    log = PartitionLog.open(directory)
    del log
    gc.collect()
    times: list[float] = []
    report: dict[str, Any] = {}
    scanned = 0
    end = -1
    for _ in range(repeats):
        if cold:
            drop_page_cache(directory)
        start = time.perf_counter()
        log = PartitionLog.open(directory)
        end = log.log_end_offset
        times.append(time.perf_counter() - start)
        report = attrs.asdict(log.recovery_report)
        scanned = _recovered_bytes(log)
        del log
        gc.collect()
    result = _finish(state, times=times, log_end_offset=end, report=report, scanned_bytes=scanned,
                     cold=cold)
    if profile:
        if cold:
            drop_page_cache(directory)
        opened, text = profile_call(lambda: PartitionLog.open(directory))
        del opened
        gc.collect()
        result["profile"] = text
    PartitionLog.open(directory).close()
    return result


# --- reading -------------------------------------------------------------------------------------


def _sweep_raw(log: PartitionLog, batch_bytes: int, batch_size: int) -> tuple[int, int, int]:
    """read_raw from 0 to the end; returns (bytes, records, calls).

    The log's batches are all `batch_bytes` long with `batch_size` records, so the next offset
    follows from the returned length; the last batch's base offset is checked against it.
    """
    offset, end = 0, log.log_end_offset
    total = calls = 0
    read_raw = log.read_raw
    while offset < end:
        data = read_raw(offset, READ_MAX_BYTES)
        calls += 1
        count = len(data) // batch_bytes
        last = _BASE_OFFSET.unpack_from(data, (count - 1) * batch_bytes)[0]
        first = _BASE_OFFSET.unpack_from(data, 0)[0]
        if count * batch_bytes != len(data) or last != first + (count - 1) * batch_size:
            raise AssertionError(f"read_raw({offset}) returned unexpected batches")
        total += len(data)
        offset = last + batch_size
    return total, end, calls


def child_read_raw(directory: str, batch_bytes: int, batch_size: int, cold: bool,
                   profile: bool) -> dict[str, Any]:
    """Sweep the log with `read_raw(offset, 1 MiB)`; cold: page cache evicted first."""
    state = _start()
    log = PartitionLog.open(directory)
    if cold:
        drop_page_cache(directory)
    start = time.perf_counter()
    total, records, calls = _sweep_raw(log, batch_bytes, batch_size)
    seconds = time.perf_counter() - start
    result = _finish(state, seconds=seconds, bytes=total, records=records, calls=calls, cold=cold)
    if profile:
        if cold:
            drop_page_cache(directory)
        _, result["profile"] = profile_call(lambda: _sweep_raw(log, batch_bytes, batch_size))
    log.close()
    return result


def _sweep_decoded(log: PartitionLog, limit: int) -> tuple[int, int]:
    offset, end = 0, min(log.log_end_offset, limit)
    count = value_bytes = 0
    read = log.read
    while offset < end:
        records = read(offset, max_records=DECODED_MAX_RECORDS)
        count += len(records)
        for record in records:
            value_bytes += len(record.value) if record.value is not None else 0
        offset = records[-1].offset + 1
    return count, value_bytes


def child_read_decoded(directory: str, limit: int, profile: bool) -> dict[str, Any]:
    """Sweep the first `limit` records with `read(offset, max_records=1000)` (warm cache)."""
    state = _start()
    log = PartitionLog.open(directory)
    log_records = log.log_end_offset
    start = time.perf_counter()
    count, value_bytes = _sweep_decoded(log, limit)
    seconds = time.perf_counter() - start
    log_bytes = dir_bytes(directory)
    result = _finish(state, seconds=seconds, records=count, value_bytes=value_bytes,
                     bytes=log_bytes * count // max(log_records, 1), log_records=log_records)
    if profile:
        _, result["profile"] = profile_call(lambda: _sweep_decoded(log, min(limit, 20_000)))
    log.close()
    return result


def child_pread(directory: str, cold: bool) -> dict[str, Any]:
    """Baseline: sequential `os.pread` of every `.log` file in 1 MiB chunks."""
    state = _start()
    paths = segment_files(directory)
    if cold:
        drop_page_cache(directory)
    total = 0
    start = time.perf_counter()
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            position = 0
            while True:
                data = os.pread(fd, READ_MAX_BYTES, position)
                if not data:
                    break
                position += len(data)
        finally:
            os.close(fd)
        total += position
    seconds = time.perf_counter() - start
    return _finish(state, seconds=seconds, bytes=total, cold=cold)


def child_idle() -> dict[str, Any]:
    """The RSS of a child that only imports flyq and the benchmarks: the floor of every figure."""
    state = _start()
    return _finish(state)
