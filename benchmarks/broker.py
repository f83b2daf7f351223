"""The Broker's produce path and group commit, each next to what it is measured against.

    python -m benchmarks.broker [--quick]     (also section 7 of `make bench`)

Timed regions:
  7a. produce path, 1 KiB x 1000 records per batch, flush on roll (the append_encoded target case):
      broker:     `Broker.produce(topic, 0, batch)` for every pre-encoded batch, then one
                  `flush_partition`;
      log:        `PartitionLog.append_encoded` of the same batches, then one `flush()`;
      baseline:   `os.write` of the same batches into a fresh file, fdatasync per segment size and
                  at the end (benchmarks/append.py's baseline).
  7b. durable appends, 1 KiB x 1 record per batch, 8 writers on one partition:
      group commit:  8 coroutines, each awaiting `AsyncBroker.produce(..., durable=True)` in turn;
      separate:      the same number of batches as `PartitionLog.append_encoded` + `flush()` each,
                     one after the other (what 8 writers cost without sharing an fsync).
Opening and closing, building and encoding batches are outside the timings. Runs alternate and
each starts after a sync(); ratios compare figures from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import cycle, islice
from typing import Any

from benchmarks.append import settle
from benchmarks.common import KIB, MIB, encode_all, make_batches, median, write_all
from benchmarks.report import rate, table
from flyq.broker import AsyncBroker, Broker
from flyq.impl.config import LogConfig
from flyq.impl.log import PartitionLog

__all__ = ["report", "run"]

TOPIC = "bench"
WRITERS = 8
# (7a batches, 7b produces per writer): full and --quick sizes.
FULL_SIZES = (256, 250)
QUICK_SIZES = (26, 25)
RUNS = 3


def _produce_broker(directory: str, batches: list[bytes], count: int,
                    segment_bytes: int) -> float:
    with Broker.open(directory, create=True) as broker:
        broker.create_topic(TOPIC, 1, {"segment_bytes": segment_bytes})
        broker.log(TOPIC, 0)  # opened outside the timed region
        settle()
        start = time.perf_counter()
        for batch in islice(cycle(batches), count):
            broker.produce(TOPIC, 0, batch)
        broker.flush_partition(TOPIC, 0)
        seconds = time.perf_counter() - start
    shutil.rmtree(directory)
    return seconds


def _produce_log(directory: str, batches: list[bytes], count: int, segment_bytes: int) -> float:
    with PartitionLog.open(directory, LogConfig(segment_bytes=segment_bytes)) as log:
        settle()
        start = time.perf_counter()
        for batch in islice(cycle(batches), count):
            log.append_encoded(batch)
        log.flush()
        seconds = time.perf_counter() - start
    shutil.rmtree(directory)
    return seconds


def _produce_baseline(path: str, batches: list[bytes], count: int, segment_bytes: int) -> float:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        settle()
        start = time.perf_counter()
        filled = 0
        for chunk in islice(cycle(batches), count):
            if filled and filled + len(chunk) > segment_bytes:
                os.fdatasync(fd)
                filled = 0
            write_all(fd, chunk)
            filled += len(chunk)
        os.fdatasync(fd)
        seconds = time.perf_counter() - start
    finally:
        os.close(fd)
        os.remove(path)
    return seconds


def produce_path(work: str, count: int, say: Callable[[str], None]) -> dict[str, Any]:
    """7a: the Broker's produce path vs PartitionLog.append_encoded vs the disk."""
    batches = encode_all(make_batches(KIB, 1000))
    batch_bytes = len(batches[0])
    total = batch_bytes * count
    segment_bytes = max(min(256 * MIB, (total // 2) // MIB * MIB), MIB, batch_bytes)
    times: dict[str, list[float]] = {"broker": [], "log": [], "baseline": []}
    for run_number in range(RUNS):
        order = ["baseline", "log", "broker"] if run_number % 2 == 0 else [
            "broker", "log", "baseline"]
        for name in order:
            target = os.path.join(work, f"7a-{name}")
            if name == "broker":
                seconds = _produce_broker(target, batches, count, segment_bytes)
            elif name == "log":
                seconds = _produce_log(target, batches, count, segment_bytes)
            else:
                seconds = _produce_baseline(target, batches, count, segment_bytes)
            times[name].append(seconds)
        say(f"  7a run {run_number + 1}/{RUNS}: " + ", ".join(
            f"{name} {times[name][-1]:.2f} s" for name in ("broker", "log", "baseline")))
    seconds = {name: median(values) for name, values in times.items()}
    return {
        "batches": count, "batch_bytes": batch_bytes, "total_bytes": total,
        "segment_bytes": segment_bytes, "runs": RUNS, "seconds": seconds,
        "bytes_per_s": {name: total / value for name, value in seconds.items()},
        "broker_vs_baseline": seconds["baseline"] / seconds["broker"],
        "broker_vs_log": seconds["log"] / seconds["broker"],
    }


async def _group_commit_run(directory: str, batches: list[bytes], per_writer: int
                            ) -> tuple[float, int]:
    broker = await AsyncBroker.open(directory, create=True)
    await broker.create_topic(TOPIC, 1)
    await broker.produce(TOPIC, 0, batches[0])  # opens the log outside the timed region

    async def writer(number: int) -> None:
        for index in range(per_writer):
            await broker.produce(TOPIC, 0, batches[(number + index) % len(batches)],
                                 durable=True)

    await asyncio.to_thread(settle)
    start = time.perf_counter()
    await asyncio.gather(*(writer(number) for number in range(WRITERS)))
    seconds = time.perf_counter() - start
    fsyncs = broker.group_commits
    await broker.close()
    shutil.rmtree(directory)
    return seconds, fsyncs


def _separate_run(directory: str, batches: list[bytes], count: int) -> float:
    with PartitionLog.open(directory) as log:
        settle()
        start = time.perf_counter()
        for batch in islice(cycle(batches), count):
            log.append_encoded(batch)
            log.flush()
        seconds = time.perf_counter() - start
    shutil.rmtree(directory)
    return seconds


def group_commit(work: str, per_writer: int, say: Callable[[str], None]) -> dict[str, Any]:
    """7b: 8 concurrent durable writers through AsyncBroker vs 8x separate append+fsync."""
    batches = encode_all(make_batches(KIB, 1))
    count = per_writer * WRITERS
    grouped: list[float] = []
    separate: list[float] = []
    fsyncs: list[int] = []
    for run_number in range(RUNS):
        order = ["grouped", "separate"] if run_number % 2 == 0 else ["separate", "grouped"]
        for name in order:
            target = os.path.join(work, f"7b-{name}")
            if name == "grouped":
                seconds, syncs = asyncio.run(_group_commit_run(target, batches, per_writer))
                grouped.append(seconds)
                fsyncs.append(syncs)
            else:
                separate.append(_separate_run(target, batches, count))
        say(f"  7b run {run_number + 1}/{RUNS}: group commit {grouped[-1]:.2f} s "
            f"({fsyncs[-1]} fsyncs), separate {separate[-1]:.2f} s ({count} fsyncs)")
    grouped_s, separate_s = median(grouped), median(separate)
    return {
        "writers": WRITERS, "appends": count, "batch_bytes": len(batches[0]), "runs": RUNS,
        "group_commit_s": grouped_s, "separate_s": separate_s,
        "group_commit_fsyncs": int(median([float(value) for value in fsyncs])),
        "group_commit_appends_per_s": count / grouped_s,
        "separate_appends_per_s": count / separate_s,
        "speedup": separate_s / grouped_s,
    }


def run(quick: bool, work: str, say: Callable[[str], None]) -> dict[str, Any]:
    """Section 7: both measurements."""
    batches, per_writer = QUICK_SIZES if quick else FULL_SIZES
    say("7. Broker: produce path (7a) and group commit (7b)")
    return {"produce": produce_path(work, batches, say),
            "group_commit": group_commit(work, per_writer, say)}


def report(results: dict[str, Any]) -> str:
    """Section 7 as text."""
    produce, grouped = results["produce"], results["group_commit"]
    speeds = produce["bytes_per_s"]
    rows_a = [[name, f"{produce['seconds'][name]:.3f}", rate(speeds[name] / 1e6)]
              for name in ("broker", "log", "baseline")]
    rows_b = [
        ["group commit (AsyncBroker)", str(grouped["group_commit_fsyncs"]),
         f"{grouped['group_commit_s']:.3f}", rate(grouped["group_commit_appends_per_s"])],
        ["separate append+fsync", str(grouped["appends"]), f"{grouped['separate_s']:.3f}",
         rate(grouped["separate_appends_per_s"])],
    ]
    return "\n".join([
        "7. Broker service",
        f"  7a. produce path: {produce['batches']} pre-encoded batches of 1 KiB x 1000 "
        f"({produce['total_bytes'] / MIB:.0f} MiB), flush on roll, segment "
        f"{produce['segment_bytes'] // MIB} MiB; medians of {produce['runs']} alternating runs.",
        "",
        table(["path", "seconds", "MB/s"], rows_a, left=1),
        "",
        f"  Broker.produce / disk baseline = {produce['broker_vs_baseline']:.2f}; "
        f"Broker.produce / PartitionLog.append_encoded = {produce['broker_vs_log']:.2f}",
        "",
        f"  7b. durable appends of 1 KiB x 1 batches: {grouped['writers']} writers x "
        f"{grouped['appends'] // grouped['writers']} appends on one partition; medians of "
        f"{grouped['runs']} runs.",
        "",
        table(["path", "fsyncs", "seconds", "appends/s"], rows_b, left=1),
        "",
        f"  group commit speedup over separate append+fsync = {grouped['speedup']:.2f}x",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.broker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    args = parser.parse_args(argv)
    # On the repository's filesystem, as `make bench` prefers: a tmpfs would make fsync free.
    parent = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix="flyq-bench-broker-", dir=parent)
    try:
        print(report(run(args.quick, work, lambda message: print(message, file=sys.stderr))))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
