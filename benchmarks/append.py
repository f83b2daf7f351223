"""Append throughput of `PartitionLog` and the disk baseline for the same bytes and write pattern.

Timed regions:
  flyq, flush on roll:    every `append`/`append_encoded` call, then one `log.flush()`.
  flyq, flush per batch:  every call, with `LogConfig(flush_messages=1)`: the log fsyncs (fdatasync)
                          the active segment inside each append.
  baseline:               `os.write` of the same encoded batches, one per call, into a fresh file;
                          one fdatasync per segment (where flyq rolls) and at the end, or one after
                          every write for flush per batch.
Opening and closing the log, building records and pre-encoding batches are outside the timings.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from itertools import cycle, islice
from typing import Any

import attrs

from benchmarks.common import MIB, encode_all, make_batches, median, write_all
from flyq.impl.config import LogConfig
from flyq.impl.log import PartitionLog

ENCODED = "append_encoded"
ENCODE_APPEND = "append"
FLUSH_ON_ROLL = "on roll"
FLUSH_PER_BATCH = "per batch"

# The largest segment the flush-on-roll cases use; smaller cases use half their byte count, so
# every flush-on-roll case rolls at least once.
MAX_SEGMENT_BYTES = 256 * MIB
# Flush-per-batch cases alternate this many shorter flyq/baseline runs and sum them.
PER_BATCH_ROUNDS = 4


@attrs.frozen
class AppendCase:
    """One append benchmark: record value size, records per batch, API, flush policy, batches."""

    value_size: int
    batch_size: int
    api: str
    flush: str
    batches: int
    repeats: int = 1
    target: bool = False

    @property
    def label(self) -> str:
        size = f"{self.value_size // 1024} KiB" if self.value_size % 1024 == 0 else \
            f"{self.value_size} B"
        return f"{size} x {self.batch_size}"


def _segment_bytes(case: AppendCase, batch_bytes: int) -> int:
    if case.flush == FLUSH_PER_BATCH:
        return MAX_SEGMENT_BYTES
    total = batch_bytes * case.batches
    return max(min(MAX_SEGMENT_BYTES, (total // 2) // MIB * MIB), MIB, batch_bytes)


def _run_flyq(case: AppendCase, directory: str, segment_bytes: int, batches: list[Any],
              count: int, *, keep: bool) -> dict[str, Any]:
    config = LogConfig(segment_bytes=segment_bytes,
                       flush_messages=1 if case.flush == FLUSH_PER_BATCH else None)
    log = PartitionLog.open(directory, config)
    append = log.append_encoded if case.api == ENCODED else log.append
    items = islice(cycle(batches), count)
    settle()
    start = time.perf_counter()
    for item in items:
        append(item)
    if case.flush == FLUSH_ON_ROLL:
        log.flush()
    seconds = time.perf_counter() - start
    segments = len(log.segments)
    records = log.log_end_offset
    log.close()
    if not keep:
        shutil.rmtree(directory)
    return {"seconds": seconds, "segments": segments, "records": records}


def _run_baseline(case: AppendCase, path: str, segment_bytes: int, chunks: list[bytes],
                  count: int) -> dict[str, Any]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    syncs = 0
    try:
        items = islice(cycle(chunks), count)
        settle()
        start = time.perf_counter()
        if case.flush == FLUSH_PER_BATCH:
            for chunk in items:
                write_all(fd, chunk)
                os.fdatasync(fd)
            syncs = count
        else:
            filled = 0
            for chunk in items:
                if filled and filled + len(chunk) > segment_bytes:
                    os.fdatasync(fd)
                    syncs += 1
                    filled = 0
                write_all(fd, chunk)
                filled += len(chunk)
            os.fdatasync(fd)
            syncs += 1
        seconds = time.perf_counter() - start
    finally:
        os.close(fd)
        os.remove(path)
    return {"seconds": seconds, "fdatasyncs": syncs}


def settle() -> None:
    """Let the previous run's deferred work (writeback, freed-block discards) finish: sync()."""
    os.sync()


def _rounds(case: AppendCase) -> list[int]:
    """Batches per flyq/baseline pair: full-size repeats, or the per-batch case split in rounds."""
    if case.flush == FLUSH_PER_BATCH:
        rounds = max(case.repeats, PER_BATCH_ROUNDS)
        return [case.batches // rounds + (1 if i < case.batches % rounds else 0)
                for i in range(rounds)]
    return [case.batches] * case.repeats


def run_case(case: AppendCase, work_dir: str, *, keep_log: str | None = None,
             say: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure one case and its baseline in alternating runs; return the figures.

    Flush on roll: `case.repeats` full-size runs of each, medians reported. Flush per batch (whose
    fsync latency drifts on a VM): the batches are split over `PER_BATCH_ROUNDS` rounds of each
    and the times summed. The order alternates baseline/flyq, flyq/baseline, ... Each timed run
    starts after a sync(). With `keep_log`, the last flyq run's log is left (closed cleanly) there.
    """
    record_lists = make_batches(case.value_size, case.batch_size)
    encoded = encode_all(record_lists)
    batch_bytes = len(encoded[0])
    if any(len(chunk) != batch_bytes for chunk in encoded):
        raise AssertionError("pool batches differ in size")
    segment_bytes = _segment_bytes(case, batch_bytes)
    payload = record_lists if case.api == ENCODE_APPEND else encoded
    total_bytes = batch_bytes * case.batches
    flyq_runs: list[dict[str, Any]] = []
    base_runs: list[dict[str, Any]] = []
    rounds = _rounds(case)
    for i, count in enumerate(rounds):
        last = i == len(rounds) - 1
        directory = keep_log if (keep_log and last) else os.path.join(work_dir, "append-log")
        for which in (("baseline", "flyq") if i % 2 == 0 else ("flyq", "baseline")):
            if which == "baseline":
                base_runs.append(_run_baseline(case, os.path.join(work_dir, "baseline.bin"),
                                               segment_bytes, encoded, count))
                continue
            flyq_runs.append(_run_flyq(case, directory, segment_bytes, payload, count,
                                       keep=bool(keep_log and last)))
            if flyq_runs[-1]["records"] != count * case.batch_size:
                raise AssertionError(f"log holds {flyq_runs[-1]['records']} records, "
                                     f"expected {count * case.batch_size}")
    if case.flush == FLUSH_PER_BATCH:
        flyq_s = sum(run["seconds"] for run in flyq_runs)
        base_s = sum(run["seconds"] for run in base_runs)
    else:
        flyq_s = median([run["seconds"] for run in flyq_runs])
        base_s = median([run["seconds"] for run in base_runs])
    records = case.batches * case.batch_size
    result = {
        "value_size": case.value_size,
        "batch_size": case.batch_size,
        "api": case.api,
        "flush": case.flush,
        "flush_how": ("LogConfig(flush_messages=1): fdatasync inside every append"
                      if case.flush == FLUSH_PER_BATCH else "default flush policy; "
                      "fsync at each roll, one log.flush() at the end"),
        "target": case.target,
        "batches": case.batches,
        "records": records,
        "batch_bytes": batch_bytes,
        "total_bytes": total_bytes,
        "segment_bytes": segment_bytes,
        "segments": flyq_runs[-1]["segments"],
        "runs": len(rounds),
        "aggregate": "sum of rounds" if case.flush == FLUSH_PER_BATCH else "median of runs",
        "batches_per_run": rounds,
        "flyq_seconds": flyq_s,
        "flyq_seconds_all": [run["seconds"] for run in flyq_runs],
        "records_per_s": records / flyq_s,
        "flyq_bytes_per_s": total_bytes / flyq_s,
        "baseline_seconds": base_s,
        "baseline_seconds_all": [run["seconds"] for run in base_runs],
        "baseline_fdatasyncs": sum(run["fdatasyncs"] for run in base_runs),
        "baseline_bytes_per_s": total_bytes / base_s,
        "ratio": base_s / flyq_s,
    }
    say(f"  {case.label:>12} {case.api:>14} flush {case.flush:<9} "
        f"{total_bytes / MIB:8.1f} MiB  flyq {total_bytes / flyq_s / 1e6:8.1f} MB/s  "
        f"disk {total_bytes / base_s / 1e6:8.1f} MB/s  ratio {base_s / flyq_s:5.2f}")
    return result


def profile_target(case: AppendCase, work_dir: str, batches: int) -> str:
    """cProfile of the target case (a shorter run of `batches` batches), as a text summary."""
    from benchmarks.common import profile_call  # noqa: PLC0415 - only when profiling

    record_lists = make_batches(case.value_size, case.batch_size)
    encoded = encode_all(record_lists)
    short = attrs.evolve(case, batches=batches)
    segment_bytes = _segment_bytes(case, len(encoded[0]))
    directory = os.path.join(work_dir, "profile-log")
    payload = record_lists if case.api == ENCODE_APPEND else encoded
    _, text = profile_call(lambda: _run_flyq(short, directory, segment_bytes, payload, batches,
                                             keep=True))
    shutil.rmtree(directory)
    return text
