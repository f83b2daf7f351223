"""`make bench`: throughput, open/recovery time and peak RSS of flyq's partition log.

    python -m benchmarks.run [--quick] [--out FILE.json] [--data-dir DIR] [--repeat N] [--profile]
                             [--skip-servers] [--skip-clients] [--skip-security]

Sections (progress goes to stderr, the report to stdout):
  1+2. append throughput for 100 B and 1 KiB values in batches of 1, 100 and 1000 records, through
       `append_encoded` (batches encoded before the timed region) and `append` (encode + append),
       flushing on roll or after every batch, each next to the disk's own write+fdatasync figure
       for the same bytes written in the same chunks (see benchmarks/append.py for what is timed).
  3.   forward reads: `read_raw(offset, 1 MiB)` and `read(offset, max_records=1000)` sweeps, next
       to sequential `os.pread` of the same files in 1 MiB chunks.
  4.   clean open of a 1 GiB log (64 MiB segments, and one 1 GiB segment): median of 5.
  5.   unclean open (object dropped without close) of the same logs, warm and cold page cache.
  6.   peak RSS of appending 256 MiB vs 1 GiB, and of opening/reading the 1 GiB log, each scenario
       in its own child process.
  7.   the Broker: its produce path against PartitionLog.append_encoded and the disk (1 KiB x 1000,
       flush on roll), and 8 concurrent durable writers with group commit against 8 separate
       append+fsync calls (see benchmarks/broker.py).
  8.   cost per record of validating an encoded batch on the produce path (benchmarks/validation.py).
  9.   the network broker side by side with Redis Streams and Tansu: produce and consume
       throughput, single-record latency and server CPU per record through real clients, each
       server in its own process (benchmarks/servers.py; --skip-servers leaves it out).
  10.  flyq.client next to confluent-kafka, kafka-python and aiokafka: produce and consume
       throughput against one FlyQ broker (benchmarks/clients.py; --skip-clients leaves it out).
  11.  the cost of TLS and of SASL: produce/consume throughput and connect+authenticate time
       over PLAINTEXT, SSL, SASL_PLAINTEXT (SCRAM-SHA-256, PLAIN) and SASL_SSL listeners of one
       broker, as ratios to PLAINTEXT (benchmarks/security.py; --skip-security leaves it out).
The data directory (a fresh temporary directory, on the repository's filesystem by default) is
removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from benchmarks import append as ap
from benchmarks import broker as bk
from benchmarks import clients as cl
from benchmarks import scenarios as sc
from benchmarks import security as se
from benchmarks import servers as sv
from benchmarks import validation as va
from benchmarks.common import GIB, KIB, MIB, encode_all, make_batches, median
from benchmarks.report import count, machine_info, mib, rate, size_label, table

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

APPEND_TARGET = 0.8  # already-encoded 1 KiB x 1000, flush on roll: >= 0.8 of the disk baseline
TARGET_RUNS = 5  # the target case is close to its bar on a noisy VM disk: a median of 5 pairs
OPEN_TARGET_MS = 100.0  # clean open of a 1 GiB log
BIG_LOG_FREE_BYTES = 4 * GIB  # below this, the 1 GiB cases are skipped
QUICK_BIG_LOG_FREE_BYTES = 512 * MIB  # the same for --quick's 64 MiB logs

VALUE_SIZES = (100, KIB)
BATCH_SIZES = (1, 100, 1000)
# Batches per flush-on-roll case: (append_encoded, append), about 1-3 s each on a 2-core VM.
ROLL_BATCHES: dict[tuple[int, int], tuple[int, int]] = {
    (100, 1): (100_000, 100_000),
    (100, 100): (3_000, 3_000),
    (100, 1000): (400, 400),
    (KIB, 1): (40_000, 40_000),
    (KIB, 100): (2_500, 2_500),
    (KIB, 1000): (520, 256),  # append_encoded: 512 MiB, two rolls at 256 MiB
}
# Batches per flush-per-batch case (an fdatasync per batch, about 1 ms each at best).
SYNC_BATCHES: dict[tuple[int, int], int] = {
    (100, 1): 2_000,
    (100, 100): 1_000,
    (100, 1000): 500,
    (KIB, 1): 2_000,
    (KIB, 100): 1_000,
    (KIB, 1000): 300,
}
QUICK_DIVISOR = 10
OPEN_REPEATS = 5
RECOVER_WARM_REPEATS = 5
RECOVER_COLD_REPEATS = 3


def say(message: str) -> None:
    """Progress, to stderr so stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="small smoke run: a tenth of the append sizes, a 64 MiB 'big' log")
    parser.add_argument("--out", metavar="FILE.json", help="also write every figure as JSON")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="where to create the temporary data directory (default: the system "
                             "temp dir if it is on the repository's filesystem, else "
                             "benchmarks/results/ in the repository)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="runs per append case (the target case: at least 5); see the report")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile every scenario, not only those that miss their target")
    parser.add_argument("--skip-servers", action="store_true",
                        help="leave out section 9 (FlyQ's broker next to Redis and Tansu)")
    parser.add_argument("--skip-clients", action="store_true",
                        help="leave out section 10 (flyq.client next to the other Kafka clients)")
    parser.add_argument("--skip-security", action="store_true",
                        help="leave out section 11 (the cost of TLS and of SASL)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    return args


def choose_parent(requested: str | None) -> tuple[str, str]:
    """Directory to create the data directory in, and why."""
    if requested:
        os.makedirs(requested, exist_ok=True)
        return os.path.abspath(requested), "--data-dir"
    temp = tempfile.gettempdir()
    if os.stat(temp).st_dev == os.stat(REPO_DIR).st_dev:
        return temp, f"{temp} is on the repository's filesystem"
    results = os.path.join(REPO_DIR, "benchmarks", "results")
    os.makedirs(results, exist_ok=True)
    return results, f"{temp} is not on the repository's filesystem; using the repository's"


# --- section 1+2 ---------------------------------------------------------------------------------


def append_cases(quick: bool, repeat: int) -> list[ap.AppendCase]:
    cases = []
    for flush in (ap.FLUSH_ON_ROLL, ap.FLUSH_PER_BATCH):
        for value_size in VALUE_SIZES:
            for batch_size in BATCH_SIZES:
                for api in (ap.ENCODED, ap.ENCODE_APPEND):
                    key = (value_size, batch_size)
                    if flush == ap.FLUSH_ON_ROLL:
                        batches = ROLL_BATCHES[key][0 if api == ap.ENCODED else 1]
                    else:
                        batches = SYNC_BATCHES[key]
                    if quick:
                        batches = max(batches // QUICK_DIVISOR, 20)
                    target = (api == ap.ENCODED and flush == ap.FLUSH_ON_ROLL
                              and key == (KIB, 1000))
                    runs = max(repeat, TARGET_RUNS) if target else repeat
                    cases.append(ap.AppendCase(value_size, batch_size, api, flush, batches,
                                               repeats=runs, target=target))
    return cases


def run_appends(args: argparse.Namespace, work: str, small_log: str) -> list[dict[str, Any]]:
    say("1+2. append throughput (each case: disk baseline and flyq runs, alternating)")
    results = []
    for case in append_cases(args.quick, args.repeat):
        keep = small_log if (case.value_size, case.batch_size, case.api, case.flush) == (
            100, 1, ap.ENCODED, ap.FLUSH_ON_ROLL) else None
        results.append(ap.run_case(case, work, keep_log=keep, say=say))
    return results


def ratio_text(value: float) -> str:
    """A ratio: two decimals, three below 0.1."""
    return f"{value:.3f}" if value < 0.1 else f"{value:.2f}"


def append_report(results: list[dict[str, Any]]) -> str:
    headers = ["value", "batch", "api", "flush", "batches", "records", "MiB", "segment",
               "segs", "flyq rec/s", "flyq MB/s", "disk MB/s", "ratio", "runs"]
    rows = []
    for r in results:
        rows.append([
            size_label(r["value_size"]), str(r["batch_size"]), r["api"], r["flush"],
            count(r["batches"]), count(r["records"]), mib(r["total_bytes"]),
            size_label(r["segment_bytes"]) if r["flush"] == ap.FLUSH_ON_ROLL else "-",
            str(r["segments"]), rate(r["records_per_s"]), rate(r["flyq_bytes_per_s"] / 1e6),
            rate(r["baseline_bytes_per_s"] / 1e6), ratio_text(r["ratio"]) + (
                " *" if r["target"] else ""), str(r["runs"]),
        ])
    notes = [
        "1+2. Append throughput vs the disk baseline",
        "  MB = 10^6 bytes of encoded batches as written; ratio = disk baseline time / flyq time.",
        "  flush on roll: default flush policy (segment fsynced at each roll) and one log.flush() "
        "at the end;",
        "    baseline: os.write of each batch into a fresh file, fdatasync per segment size and "
        "at the end.",
        "  flush per batch: LogConfig(flush_messages=1), i.e. fdatasync inside every append;",
        "    baseline: os.write of each batch + fdatasync after each.",
        "  segment: segment_bytes (flush on roll: min(256 MiB, half the bytes) so every case rolls;"
        " per batch: 256 MiB).",
        "  runs: baseline/flyq pairs in alternating order (B F, F B, ...), each after a sync();"
        " flush on roll: full-size",
        "    runs, medians shown; flush per batch: the batches split over the runs, times summed"
        " (fsync latency drifts).",
        "  * = the issue's target case.  Records: random values, no key, no headers, one fixed "
        "timestamp.",
        "",
        table(headers, rows, left=4),
    ]
    return "\n".join(notes)


def append_target(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    for r in results:
        if r["target"]:
            return r
    return None


# --- sections 3-6 --------------------------------------------------------------------------------


def timed_child(label: str, fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    say(f"  {label} ...")
    start = time.perf_counter()
    result = sc.run_in_child(fn, *args)
    say(f"  {label}: done in {time.perf_counter() - start:.1f} s")
    return result


def read_section(name: str, directory: str, batch_bytes: int, batch_size: int,
                 decoded_limit: int, *, cold: bool, profile: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"log": name, "batch_bytes": batch_bytes, "batch_size": batch_size}
    caches = (False, True) if cold else (False,)
    for is_cold in caches:
        tag = "cold" if is_cold else "warm"
        out[f"read_raw_{tag}"] = timed_child(f"{name}: read_raw sweep ({tag})", sc.child_read_raw,
                                             directory, batch_bytes, batch_size, is_cold, profile)
        out[f"pread_{tag}"] = timed_child(f"{name}: pread baseline ({tag})", sc.child_pread,
                                          directory, is_cold)
    out["decoded_warm"] = timed_child(f"{name}: decoded read sweep (warm)",
                                      sc.child_read_decoded, directory, decoded_limit, profile)
    return out


def read_report(sections: list[dict[str, Any]]) -> str:
    headers = ["log", "what", "cache", "records", "MiB", "s", "rec/s", "MB/s", "pread MB/s",
               "ratio", "peak RSS MiB"]
    rows = []
    for section in sections:
        for key, what in (("read_raw", "read_raw(max_bytes=1 MiB)"),
                          ("decoded", "read(max_records=1000)")):
            for tag in ("warm", "cold"):
                r = section.get(f"{key}_{tag}")
                if r is None:
                    continue
                base = section[f"pread_{tag}"]
                base_rate = base["bytes"] / base["seconds"]
                flyq_rate = r["bytes"] / r["seconds"]
                rows.append([section["log"], what, tag, count(r["records"]), mib(r["bytes"]),
                             f"{r['seconds']:.2f}", rate(r["records"] / r["seconds"]),
                             rate(flyq_rate / 1e6), rate(base_rate / 1e6),
                             ratio_text(flyq_rate / base_rate), mib(r["peak_rss_kib"] * KIB)])
            if key == "read_raw":
                for tag in ("warm", "cold"):
                    base = section.get(f"pread_{tag}")
                    if base is not None:
                        rows.append([section["log"], "os.pread 1 MiB chunks (baseline)", tag, "-",
                                     mib(base["bytes"]), f"{base['seconds']:.2f}", "-",
                                     rate(base["bytes"] / base["seconds"] / 1e6), "-", "-",
                                     mib(base["peak_rss_kib"] * KIB)])
    return "\n".join([
        "3. Forward read throughput",
        "  MB/s: bytes of stored batches covered per second (decoded read: the log's bytes per "
        "record x records read);",
        "  ratio = flyq MB/s / pread MB/s, same cache state.  warm: pages in the page cache "
        "(just written);",
        "  cold: POSIX_FADV_DONTNEED on every file of the log first.  The decoded sweep of a big "
        "log covers a prefix.",
        "",
        table(headers, rows, left=3),
    ])


def big_logs(args: argparse.Namespace, work: str) -> dict[str, Any]:
    """Sections 3-6 on the two 1 GiB logs (64 MiB at --quick)."""
    total = 64 * MIB if args.quick else GIB
    small_segments = 8 * MIB if args.quick else 64 * MIB
    rss_small_total = 16 * MIB if args.quick else 256 * MIB
    decoded_limit = 16_000 if args.quick else 131_072
    out: dict[str, Any] = {"total_bytes": total, "logs": []}
    # Peak RSS of appending: same config (small segments), 256 MiB vs 1 GiB (the latter builds A).
    rss_dir = os.path.join(work, "rss-append")
    out["append_rss_small"] = timed_child(
        f"append {size_label(rss_small_total)} (peak RSS)", sc.child_build, rss_dir,
        rss_small_total, small_segments, KIB, 1000)
    shutil.rmtree(rss_dir)
    for name, segment_bytes in ((f"{size_label(total)} log, {size_label(small_segments)} "
                                 "segments", small_segments),
                                (f"{size_label(total)} log, 1 GiB segment (default)", GIB)):
        directory = os.path.join(work, "big-log")
        say(f"{name}:")
        entry: dict[str, Any] = {"name": name, "segment_bytes": segment_bytes}
        entry["build"] = timed_child("build with append_encoded 1 KiB x 1000", sc.child_build,
                                     directory, total, segment_bytes, KIB, 1000)
        entry["open"] = timed_child(f"clean open x{OPEN_REPEATS}", sc.child_open, directory,
                                    OPEN_REPEATS, args.profile)
        if median(entry["open"]["times"]) * 1000 >= OPEN_TARGET_MS and not args.profile:
            entry["open"]["profile"] = timed_child("profile clean open", sc.child_open,
                                                   directory, 1, True)["profile"]
        if segment_bytes == small_segments:
            entry["reads"] = read_section(name, directory, entry["build"]["batch_bytes"], 1000,
                                          decoded_limit, cold=True, profile=args.profile)
        entry["recover_warm"] = timed_child(f"unclean open x{RECOVER_WARM_REPEATS} (warm)",
                                            sc.child_recover, directory, RECOVER_WARM_REPEATS,
                                            False, args.profile)
        entry["recover_cold"] = timed_child(f"unclean open x{RECOVER_COLD_REPEATS} (cold)",
                                            sc.child_recover, directory, RECOVER_COLD_REPEATS,
                                            True, args.profile)
        shutil.rmtree(directory)
        out["logs"].append(entry)
    return out


def open_report(big: dict[str, Any]) -> str:
    headers = ["log", "segments", "median ms", "min ms", "max ms", "target", "peak RSS MiB"]
    rows = []
    for entry in big["logs"]:
        r = entry["open"]
        times = [t * 1000 for t in r["times"]]
        mid = median(times)
        rows.append([entry["name"], str(r["segments"]), f"{mid:.2f}", f"{min(times):.2f}",
                     f"{max(times):.2f}",
                     f"< {OPEN_TARGET_MS:.0f} ms: {'met' if mid < OPEN_TARGET_MS else 'MISSED'}",
                     mib(r["peak_rss_kib"] * KIB)])
    return "\n".join([
        "4. Clean open (PartitionLog.open + first log_end_offset; closed cleanly between opens; "
        f"{OPEN_REPEATS} opens)",
        "",
        table(headers, rows),
    ])


def recover_report(big: dict[str, Any]) -> str:
    headers = ["log", "cache", "opens", "median ms", "min ms", "max ms", "scanned MiB",
               "scanned MB/s", "peak RSS MiB"]
    rows = []
    reports = []
    for entry in big["logs"]:
        for tag in ("warm", "cold"):
            r = entry[f"recover_{tag}"]
            times = [t * 1000 for t in r["times"]]
            mid = median(times)
            rows.append([entry["name"], tag, str(len(times)), f"{mid:.1f}", f"{min(times):.1f}",
                         f"{max(times):.1f}", mib(r["scanned_bytes"]),
                         rate(r["scanned_bytes"] / (mid / 1000) / 1e6),
                         mib(r["peak_rss_kib"] * KIB)])
        report = entry["recover_warm"]["report"]
        fields = ", ".join(f"{key}={value!r}" for key, value in report.items())
        reports.append(f"  {entry['name']}: RecoveryReport({fields})")
    return "\n".join([
        "5. Unclean open (the log object dropped without close(), so no clean-shutdown marker; "
        "each open is timed,",
        "   then dropped unclosed again). Scanned = the segments from the recovery point on "
        "(RecoveryReport.segments_scanned);",
        "   cold: POSIX_FADV_DONTNEED on every file of the log before each open. MB/s = scanned "
        "bytes / median time.",
        "",
        table(headers, rows, left=2),
        "",
        *reports,
    ])


def rss_report(idle: dict[str, Any], big: dict[str, Any],
               small_reads: dict[str, Any] | None) -> str:
    headers = ["scenario", "peak RSS MiB", "RSS at start MiB"]
    rows = [["child process that only imports (floor)", mib(idle["peak_rss_kib"] * KIB),
             mib(idle["start_rss_kib"] * KIB)]]
    small = big["append_rss_small"]
    logs = big["logs"]
    large = logs[0]["build"]
    rows.append([f"append {size_label(small['requested_bytes'])} (1 KiB x 1000, "
                 f"{size_label(logs[0]['segment_bytes'])} segments)",
                 mib(small["peak_rss_kib"] * KIB), mib(small["start_rss_kib"] * KIB)])
    rows.append([f"append {size_label(big['total_bytes'])} (same config)",
                 mib(large["peak_rss_kib"] * KIB), mib(large["start_rss_kib"] * KIB)])
    rows.append([f"append {size_label(big['total_bytes'])} (one 1 GiB segment)",
                 mib(logs[1]["build"]["peak_rss_kib"] * KIB),
                 mib(logs[1]["build"]["start_rss_kib"] * KIB)])
    for entry in logs:
        rows.append([f"open x{OPEN_REPEATS}: {entry['name']}",
                     mib(entry["open"]["peak_rss_kib"] * KIB),
                     mib(entry["open"]["start_rss_kib"] * KIB)])
        reads = entry.get("reads")
        if reads:
            for key, what in (("read_raw_warm", "read_raw sweep"),
                              ("decoded_warm", "decoded read sweep (prefix)")):
                rows.append([f"open + {what}: {entry['name']}",
                             mib(reads[key]["peak_rss_kib"] * KIB),
                             mib(reads[key]["start_rss_kib"] * KIB)])
        rows.append([f"unclean open (warm): {entry['name']}",
                     mib(entry["recover_warm"]["peak_rss_kib"] * KIB),
                     mib(entry["recover_warm"]["start_rss_kib"] * KIB)])
    if small_reads:
        rows.append([f"open + decoded read sweep: {small_reads['log']}",
                     mib(small_reads["decoded_warm"]["peak_rss_kib"] * KIB),
                     mib(small_reads["decoded_warm"]["start_rss_kib"] * KIB)])
    ratio = large["peak_rss_kib"] / small["peak_rss_kib"]
    small_growth = (small["peak_rss_kib"] - small["start_rss_kib"]) * KIB
    large_growth = (large["peak_rss_kib"] - large["start_rss_kib"]) * KIB
    reset = all(r.get("peak_reset") for r in (idle, small, large))
    return "\n".join([
        "6. Peak RSS (VmHWM of a fresh child process per scenario"
        + (", watermark reset at the scenario's start)" if reset else ")"),
        "",
        table(headers, rows),
        "",
        f"  append {size_label(big['total_bytes'])} / append "
        f"{size_label(small['requested_bytes'])}: peak RSS ratio {ratio:.2f} "
        f"(above the RSS at start: {mib(large_growth)} MiB vs {mib(small_growth)} MiB)",
    ])


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (args.skip_servers and args.skip_clients and args.skip_security):
        sv.stop_servers_on_signals()
    parent, why = choose_parent(args.data_dir)
    work = tempfile.mkdtemp(prefix="flyq-bench-", dir=parent)
    started = time.perf_counter()
    try:
        machine = machine_info(work, REPO_DIR)
        free = shutil.disk_usage(work).free
        say(f"data dir: {work} ({why}); filesystem {machine['filesystem_type']}, "
            f"{free / GIB:.1f} GiB free")
        results: dict[str, Any] = {"quick": args.quick, "machine": machine,
                                   "free_bytes_at_start": free}
        need = QUICK_BIG_LOG_FREE_BYTES if args.quick else BIG_LOG_FREE_BYTES
        if free < need:
            say(f"only {free / GIB:.1f} GiB free: the 1 GiB cases (sections 3-6 on big logs) "
                f"will be SKIPPED (they need {need / GIB:.1f} GiB)")
        results["idle"] = sc.run_in_child(sc.child_idle)
        small_log = os.path.join(work, "small-batch-log")
        results["append"] = run_appends(args, work, small_log)
        target = append_target(results["append"])
        if (target is not None and target["ratio"] < APPEND_TARGET) or args.profile:
            case = next(c for c in append_cases(args.quick, 1) if c.target)
            say("  profiling the target append case ...")
            results["append_target_profile"] = ap.profile_target(case, work, case.batches)
        results["broker"] = bk.run(args.quick, work, say)
        say("3. reads of the 100 B x 1 log left by the append_encoded flush-on-roll case")
        small_batch = len(encode_all(make_batches(100, 1, count=1))[0])
        small_name = "100 B x 1 log"
        results["small_reads"] = read_section(small_name, small_log, small_batch, 1,
                                              10**12, cold=False, profile=args.profile)
        shutil.rmtree(small_log)
        free = shutil.disk_usage(work).free
        if free < need:
            say(f"SKIPPED the 1 GiB cases: {free / GIB:.1f} GiB free in {work}, "
                f"they need {need / GIB:.1f} GiB")
            results["big"] = None
            results["big_skipped"] = f"{free / GIB:.1f} GiB free, need {need / GIB:.1f} GiB"
        else:
            say(f"3-6. {size_label(64 * MIB if args.quick else GIB)} logs")
            results["big"] = big_logs(args, work)
        say("8. batch validation cost per record")
        results["validation"] = va.run(
            max(va.DEFAULT_BATCHES // QUICK_DIVISOR, 20) if args.quick else va.DEFAULT_BATCHES,
            work=work)
        if not args.skip_servers:
            results["servers"] = sv.run(args.quick, say, parent=work,
                                        repeat=1 if args.quick else 3)
        if not args.skip_clients:
            results["clients"] = cl.run(args.quick, say, parent=work)
        if not args.skip_security:
            results["security"] = se.run(args.quick, say, parent=work)
        results["elapsed_s"] = time.perf_counter() - started
        print(render(results, why))
        if args.out:
            with open(args.out, "w", encoding="utf-8") as out:
                json.dump(results, out, indent=2)
            say(f"wrote {args.out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        say(f"removed {work}")
    return 0


def render(results: dict[str, Any], why: str) -> str:
    machine = results["machine"]
    parts = [
        "flyq storage benchmarks" + (" (--quick: smoke sizes, not the real figures)"
                                     if results["quick"] else ""),
        f"  python {machine['python']} ({machine['python_implementation']}), "
        f"{machine['platform']}",
        f"  cpus: {machine['cpu_count']} ({machine['cpus_usable']} usable), "
        f"{machine['cpu_model']}; memory {machine['memory']}",
        f"  data dir: {machine['data_dir']} ({why}); same filesystem as the repo: "
        f"{machine['same_filesystem_as_repo']}",
        f"  filesystem: {machine['filesystem_type']}; {machine['mount']}",
        *("  df: " + line for line in machine["df"].splitlines()),
        f"  total run time {results['elapsed_s']:.0f} s",
        "",
        append_report(results["append"]),
    ]
    target = append_target(results["append"])
    if target is not None:
        verdict = "met" if target["ratio"] >= APPEND_TARGET else "MISSED"
        parts.append("")
        parts.append(f"  TARGET append_encoded 1 KiB x 1000, flush on roll: {target['ratio']:.2f} "
                     f"of the disk baseline (runs: flyq "
                     + ", ".join(f"{s:.2f}" for s in target["flyq_seconds_all"])
                     + " s; disk " + ", ".join(f"{s:.2f}" for s in target["baseline_seconds_all"])
                     + f" s); target >= {APPEND_TARGET}: {verdict}")
    if "append_target_profile" in results:
        parts += ["", "  profile of the target append case (cProfile, by own time):",
                  _indent(results["append_target_profile"], 4)]
    parts += ["", bk.report(results["broker"])]
    big = results.get("big")
    sections = [results["small_reads"]]
    if big:
        sections += [entry["reads"] for entry in big["logs"] if "reads" in entry]
    parts += ["", read_report(sections)]
    parts += _profiles("read profile", sections, ("read_raw_warm", "read_raw_cold",
                                                  "decoded_warm"))
    if big:
        parts += ["", open_report(big)]
        parts += _profiles("clean open profile", big["logs"], ("open",))
        parts += ["", recover_report(big)]
        parts += _profiles("unclean open profile", big["logs"], ("recover_warm", "recover_cold"))
        parts += ["", rss_report(results["idle"], big, results["small_reads"])]
    else:
        parts += ["", f"3-6 on the 1 GiB logs: SKIPPED ({results.get('big_skipped')})"]
    if "validation" in results:
        parts += ["", va.report(results["validation"])]
    if "servers" in results:
        parts += ["", sv.report(results["servers"])]
    if "clients" in results:
        parts += ["", cl.report(results["clients"])]
    if "security" in results:
        parts += ["", se.report(results["security"])]
    return "\n".join(parts)


def _profiles(title: str, entries: list[dict[str, Any]], keys: tuple[str, ...]) -> list[str]:
    out = []
    for entry in entries:
        for key in keys:
            profile = (entry.get(key) or {}).get("profile")
            if profile:
                name = entry.get("name") or entry.get("log")
                out += ["", f"  {title}: {name}, {key} (cProfile, by own time):",
                        _indent(profile, 4)]
    return out


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())


if __name__ == "__main__":
    sys.exit(main())
