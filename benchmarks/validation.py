"""Cost of validating an encoded batch on the produce path, per record, next to the disk.

    python -m benchmarks.validation [--batches N] [--repeat N] [--out FILE.json]

Timed regions, each the best of `--repeat` passes over a pool of pre-encoded batches (uncompressed,
1000 records each, values of 100 B and 1 KiB):
  framing + CRC:  `decode_batch_header` and `verify_batch_crc`, what `append_encoded` checked before.
  validate_batch: the one-pass validation `append_encoded` runs now (spec/format.md 1.8).
  decode_batch:   a full decode building `StoredRecord`s, for comparison.
Then the 1 KiB x 1000 `append_encoded` flush-on-roll case of benchmarks/append.py, `--batches`
batches, next to its disk baseline: validation's cost per record is also given as a fraction of the
disk baseline's time per record (the disk's own write+fdatasync of the same bytes).
The checks are timed in CPU time of this process (`time.process_time_ns`), the best of several
passes, because the machine is shared: wall time would count other processes' turns on the CPU.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from benchmarks import append as ap
from benchmarks.common import KIB, encode_all, make_batches
from flyq.codec.record_batch import (
    MAX_UNCOMPRESSED_BYTES,
    decode_batch,
    decode_batch_header,
    validate_batch,
    verify_batch_crc,
)

VALUE_SIZES = (100, KIB)
BATCH_SIZE = 1000
# The produce path's aim: records per second of 100 B records on this machine.
RECORDS_PER_S_AIM = 1_000_000
DEFAULT_BATCHES = 128  # 1 KiB x 1000 append_encoded batches: 128 MiB, a roll at 64 MiB
DEFAULT_REPEAT = 7


def _framing_and_crc(batch: bytes) -> None:
    verify_batch_crc(batch, 0, decode_batch_header(batch))


def _validate(batch: bytes) -> None:
    validate_batch(batch, max_uncompressed_bytes=MAX_UNCOMPRESSED_BYTES)


def _decode(batch: bytes) -> None:
    decode_batch(batch)


CHECKS: tuple[tuple[str, Callable[[bytes], None]], ...] = (
    ("framing + CRC", _framing_and_crc),
    ("validate_batch", _validate),
    ("decode_batch", _decode),
)


def best_ns_per_record(check: Callable[[bytes], None], pool: list[bytes], repeat: int) -> float:
    """Best over `repeat` passes of `check` over every batch of `pool`, in CPU ns per record."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time_ns()
        for batch in pool:
            check(batch)
        best = min(best, time.process_time_ns() - start)
    return best / (len(pool) * BATCH_SIZE)


def measure_checks(repeat: int) -> list[dict[str, Any]]:
    """ns/record of each check for each value size."""
    rows = []
    for value_size in VALUE_SIZES:
        pool = encode_all(make_batches(value_size, BATCH_SIZE))
        for name, check in CHECKS:
            rows.append({"value_size": value_size, "batch_size": BATCH_SIZE, "check": name,
                         "ns_per_record": best_ns_per_record(check, pool, repeat)})
    return rows


def measure_append(batches: int, repeat: int, work: str) -> dict[str, Any]:
    """The 1 KiB x 1000 append_encoded flush-on-roll case of benchmarks/append.py, smaller."""
    case = ap.AppendCase(KIB, BATCH_SIZE, ap.ENCODED, ap.FLUSH_ON_ROLL, batches,
                         repeats=max(1, repeat // 2))
    return ap.run_case(case, work, say=lambda _: None)


def run(batches: int = DEFAULT_BATCHES, repeat: int = DEFAULT_REPEAT,
        work: str | None = None) -> dict[str, Any]:
    """Every figure of this module, as a JSON-able dict."""
    checks = measure_checks(repeat)
    own_work = work is None
    work_dir = tempfile.mkdtemp(prefix="flyq-validation-") if work is None else work
    try:
        append = measure_append(batches, repeat, work_dir)
    finally:
        if own_work:
            shutil.rmtree(work_dir, ignore_errors=True)
    disk_ns = append["baseline_seconds"] * 1e9 / append["records"]
    flyq_ns = append["flyq_seconds"] * 1e9 / append["records"]
    for row in checks:
        row["fraction_of_disk_1kib"] = row["ns_per_record"] / disk_ns
    return {
        "checks": checks,
        "append_1kib_x_1000": {
            "batches": append["batches"],
            "disk_ns_per_record": disk_ns,
            "append_encoded_ns_per_record": flyq_ns,
            "append_ratio_to_disk": append["ratio"],
        },
        "budget_ns_per_record": 1e9 / RECORDS_PER_S_AIM,
    }


def report(results: dict[str, Any]) -> str:
    """The figures as a text table."""
    append = results["append_1kib_x_1000"]
    lines = [
        "batch validation on the produce path (uncompressed, 1000 records per batch; best of "
        "several passes)",
        f"  {'value':>6} {'check':<15} {'ns/record':>10} {'records/s':>12} {'of disk 1 KiB':>14}",
    ]
    for row in results["checks"]:
        size = "1 KiB" if row["value_size"] == KIB else f"{row['value_size']} B"
        lines.append(f"  {size:>6} {row['check']:<15} {row['ns_per_record']:10.0f} "
                     f"{1e9 / row['ns_per_record']:12,.0f} {row['fraction_of_disk_1kib']:14.2f}")
    lines += [
        f"  budget at {RECORDS_PER_S_AIM:,} records/s: {results['budget_ns_per_record']:.0f} "
        "ns/record for the whole produce path",
        f"  append_encoded 1 KiB x 1000, flush on roll, {append['batches']} batches: "
        f"{append['append_encoded_ns_per_record']:.0f} ns/record, disk baseline "
        f"{append['disk_ns_per_record']:.0f} ns/record, ratio {append['append_ratio_to_disk']:.2f}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.validation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=DEFAULT_BATCHES,
                        help="batches of the 1 KiB x 1000 append case")
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, help="passes per check")
    parser.add_argument("--out", help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    results = run(args.batches, args.repeat)
    print(report(results))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
