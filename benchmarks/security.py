"""The cost of TLS and of SASL on produce/consume throughput, against one FlyQ broker.

    python -m benchmarks.security [--quick] [--out FILE.json] [--repeat N] [--data-dir DIR]
                                  (also section 11 of `make bench`; --skip-security there)

ONE `python -m flyq broker` process (started with benchmarks/servers.py's ServerProcess, its own
process and session) serves four listeners on free 127.0.0.1 ports: PLAINTEXT, SSL,
SASL_PLAINTEXT and SASL_SSL (spec/security.md LSN-1..6), with a certificate made at run time by
tests/tls_files.py (an ECDSA P-256 key) and one SCRAM user made before the start with
`flyq users add bench --password-stdin` (spec/sasl.md SASL-22; 8192 iterations, the default).
The ports are read from the broker's `FlyQ broker listening on HOST:PORT ... for PROTOCOL`
lines (LSN-5).

Cases, each a confluent-kafka client configuration against the listener of its protocol:
PLAINTEXT (the baseline), SSL, SASL_PLAINTEXT with SCRAM-SHA-256, SASL_PLAINTEXT with PLAIN, and
SASL_SSL with SCRAM-SHA-256. For each value size (100 B and 1 KiB) and each case: N records
produced to a fresh topic of the case's own (one partition) with section 9's produce workload
(benchmarks/servers.py kafka_produce: acks=all, linger.ms=5, no idempotence, no compression)
and a batch.size of 64 KiB, then all of them consumed from offset 0 with section 9's consume
workload (kafka_consume). Every figure is the median of 3 rounds; in each round the cases take
turns, the first one changing from round to round, so a slow spell of the machine or the
broker's warm-up hits every case. Also the connect+authenticate time: median of 20 fresh clients
per case, each timed from creating the confluent-kafka Producer (enable.sparse.connections=false,
so it connects at once rather than on librdkafka's 50 ms sparse-connect timer) to the answer of
its first Metadata request (TCP connect, TLS handshake, ApiVersions, SaslHandshake and
SaslAuthenticate before it), after one untimed warm-up per case, the cases again taking turns.
A case that cannot connect is reported FAILED and its throughput runs are not attempted.

The report gives each figure next to PLAINTEXT's from the same run, as a ratio ("SSL produce
0.71x"); nothing is asserted about wall-clock figures. Client and broker share the machine's
CPUs, as in sections 9 and 10.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs

from benchmarks import servers as sv
from benchmarks.clients import median_run
from benchmarks.common import median
from benchmarks.report import count, finish, rate, size_label, table

__all__ = ["BASELINE", "CASES", "Case", "client_config", "parse_listeners", "ratio",
           "ratio_text", "report", "rotation", "run", "summary_lines"]

KIB = 1 << 10
# (value size, records): a few seconds per produce run at full size (200,000 x 100 B took
# under a second, and rounds then differed by up to 2x); --quick is a smoke run.
FULL_SIZES = ((100, 1_000_000), (KIB, 300_000))
QUICK_SIZES = ((100, 5_000), (KIB, 2_000))
FULL_CONNECTS = 20
CONNECT_TIMEOUT_S = 10.0
QUICK_CONNECTS = 5
BATCH_SIZE = 64 * KIB
LINGER_MS = 5  # kafka_produce's
USER = "bench"
PHASES = ("produce", "consume")
WARMUP_TOPIC = "bench-security-warmup"
PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_LISTENING = re.compile(r"FlyQ broker listening on (\S+):(\d+) \(advertised [^)]*\) for (\w+)")
_SERVING = "FlyQ broker serving data directory"

T = TypeVar("T")


@attrs.frozen
class Case:
    """A client configuration: a listener's security protocol and, for SASL, a mechanism."""

    protocol: str
    mechanism: str | None = None

    @property
    def name(self) -> str:
        return self.protocol if self.mechanism is None else f"{self.protocol} {self.mechanism}"


BASELINE = Case("PLAINTEXT")
CASES = (BASELINE, Case("SSL"), Case("SASL_PLAINTEXT", "SCRAM-SHA-256"),
         Case("SASL_PLAINTEXT", "PLAIN"), Case("SASL_SSL", "SCRAM-SHA-256"))


def say(message: str) -> None:
    """Progress, to stderr so stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


# --- pure helpers (tests/unit/test_bench_security.py) --------------------------------------------


def parse_listeners(text: str) -> dict[str, str]:
    """Security protocol -> `HOST:PORT` from a broker's `FlyQ broker listening on ...` lines."""
    return {match.group(3): f"{match.group(1)}:{match.group(2)}"
            for match in _LISTENING.finditer(text)}


def rotation(items: Sequence[T], round_number: int) -> list[T]:
    """`items` in the order of round `round_number`: the first one moves on by one each round."""
    if not items:
        return []
    turn = round_number % len(items)
    return [*items[turn:], *items[:turn]]


def client_config(case: Case, addresses: dict[str, str], *, ca_file: str,
                  password: str) -> dict[str, Any]:
    """confluent-kafka settings that reach the broker through `case`'s listener."""
    config: dict[str, Any] = {"bootstrap.servers": addresses[case.protocol],
                              "security.protocol": case.protocol}
    if case.protocol in ("SSL", "SASL_SSL"):
        config["ssl.ca.location"] = ca_file
    if case.mechanism is not None:
        config.update({"sasl.mechanism": case.mechanism, "sasl.username": USER,
                       "sasl.password": password})
    return config


def ratio(value: float | None, baseline: float | None) -> float | None:
    """`value` / `baseline`, or None when either is missing or the baseline is 0."""
    if value is None or baseline is None or baseline == 0:
        return None
    return value / baseline


def ratio_text(value: float | None) -> str:
    """A ratio as `0.71x` (three decimals below 0.1), `-` when missing."""
    if value is None:
        return "-"
    return f"{value:.3f}x" if value < 0.1 else f"{value:.2f}x"


def figure(results: dict[str, Any], case: str, value_size: int, phase: str,
           key: str = "records_per_s") -> float | None:
    """One case's median figure in one phase at one size, or None (not run, or failed)."""
    run_ = results["runs"].get(str(value_size), {}).get(case)
    if not run_ or "error" in run_:
        return None
    return float(run_[phase][key])


def connect_ms(results: dict[str, Any], case: str) -> float | None:
    """One case's median connect+authenticate time in ms, or None (failed)."""
    entry = results["connect"].get(case)
    if not entry or "error" in entry:
        return None
    return float(entry["median_ms"])


def summary_lines(results: dict[str, Any]) -> list[str]:
    """One line per non-baseline case: its records/s over PLAINTEXT's per phase and size, and its
    connect time over PLAINTEXT's (above 1x: slower to connect)."""
    base = BASELINE.name
    lines = []
    for name in results["cases"]:
        if name == base:
            continue
        parts = []
        for phase in PHASES:
            cells = []
            for size in results["sizes"]:
                value_size = size["value_size"]
                cells.append(ratio_text(ratio(figure(results, name, value_size, phase),
                                              figure(results, base, value_size, phase)))
                             + f" ({size_label(value_size)})")
            parts.append(f"{phase} " + ", ".join(cells))
        parts.append("connect "
                     + ratio_text(ratio(connect_ms(results, name), connect_ms(results, base))))
        lines.append(f"  {name}: " + "; ".join(parts))
    return lines


# --- the broker ----------------------------------------------------------------------------------


def add_user(data_dir: str, password: str) -> None:
    """The SCRAM user `bench`, stored offline before the broker starts (SASL-22)."""
    argv = [sys.executable, "-m", "flyq", "users", "add", USER, "--data-dir", data_dir,
            "--password-stdin"]
    done = subprocess.run(argv, input=password + "\n", capture_output=True, text=True,
                          env=sv.flyq_env(), timeout=60, check=False)
    if done.returncode != 0:
        raise sv.ServerUnavailable(f"`{' '.join(argv)}` exited with {done.returncode}: "
                                   f"{done.stderr.strip() or done.stdout.strip()}")


def wait_listeners(server: sv.ServerProcess,
                   timeout: float = sv.START_TIMEOUT_S) -> dict[str, str]:
    """Protocol -> `HOST:PORT` once the broker says it serves; ServerUnavailable otherwise."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        with open(server.log_path, encoding="utf-8", errors="replace") as log:
            text = log.read()
        if _SERVING in text:
            addresses = parse_listeners(text)
            missing = [p for p in PROTOCOLS if p not in addresses]
            if missing:
                raise sv.ServerUnavailable(f"no listening line for {', '.join(missing)}: "
                                           f"{sv._tail(server.log_path)}")
            return addresses
        code = server.proc.poll()
        if code is not None:
            raise sv.ServerUnavailable(f"`{' '.join(server.argv)}` exited with status {code} "
                                       f"before listening: {sv._tail(server.log_path)}")
        time.sleep(0.05)
    raise sv.ServerUnavailable(f"`{' '.join(server.argv)}` did not say it serves within "
                               f"{timeout:.0f} s: {sv._tail(server.log_path)}")


@contextlib.contextmanager
def running_broker(parent: str, password: str
                   ) -> Iterator[tuple[sv.ServerProcess, dict[str, str], str]]:
    """A fresh temp dir, certificates, the user, and the broker on its four listeners; yields
    (process, protocol -> address, CA file). The broker is stopped and the dir removed on exit."""
    from tests.tls_files import make_tls_files  # noqa: PLC0415 - the one copy; a dev extra

    work = tempfile.mkdtemp(prefix="flyq-bench-security-", dir=parent)
    server: sv.ServerProcess | None = None
    try:
        tls = make_tls_files(Path(work) / "tls")
        data_dir = os.path.join(work, "data")
        add_user(data_dir, password)
        argv = [sys.executable, "-m", "flyq", "broker", "--data-dir", data_dir,
                *(arg for protocol in PROTOCOLS
                  for arg in ("--listen", f"{protocol}://127.0.0.1:0")),
                "--ssl-cert", str(tls.server_cert), "--ssl-key", str(tls.server_key)]
        server = sv.ServerProcess("flyq", argv, 0, work, sv.flyq_env())
        yield server, wait_listeners(server), str(tls.ca)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


# --- workloads -----------------------------------------------------------------------------------


def connect_seconds(config: dict[str, Any]) -> float:
    """A fresh client, from its creation to the answer of its first Metadata request.

    enable.sparse.connections=false makes librdkafka connect to the bootstrap broker as it is
    created; with the default, the first connection usually waits for librdkafka's sparse-connect
    timer (reconnect.backoff.ms / 2, 50 ms), which would swamp the figures being compared.
    """
    errors: list[str] = []
    start = time.perf_counter()
    producer = sv.confluent_kafka.Producer({**config, "enable.sparse.connections": False,
                                            "error_cb": lambda e: errors.append(str(e))})
    try:
        producer.list_topics(timeout=CONNECT_TIMEOUT_S)
    except sv.confluent_kafka.KafkaException as exc:
        raise sv.RunFailed(f"connecting: {errors[0] if errors else exc}") from exc
    elapsed = time.perf_counter() - start
    del producer  # rd_kafka_destroy, outside the timing
    if errors:
        raise sv.RunFailed(f"connecting: {errors[0]}")
    return elapsed


def run_connects(configs: dict[str, dict[str, Any]], samples: int,
                 say: Callable[[str], None]) -> dict[str, Any]:
    """`samples` fresh connections per case, the cases taking turns; the median per case."""
    say(f"  connect+authenticate: {samples} fresh clients per case ...")
    times: dict[str, list[float]] = {name: [] for name in configs}
    failed: dict[str, str] = {}
    for round_number in range(-1, samples):  # round -1: one untimed warm-up each
        for name in rotation(list(configs), round_number):
            if name in failed:
                continue
            try:
                elapsed = connect_seconds(configs[name])
                if round_number >= 0:
                    times[name].append(elapsed)
            except Exception as exc:  # noqa: BLE001 - one case's failure, not the others'
                failed[name] = f"{type(exc).__name__}: {exc}"
                say(f"    {name}: connect FAILED: {failed[name]}")
    out: dict[str, Any] = {}
    for name, seconds in times.items():
        if name in failed:
            out[name] = {"error": failed[name]}
            continue
        ms = [s * 1000 for s in seconds]
        out[name] = {"samples": len(ms), "median_ms": median(ms), "min_ms": min(ms),
                     "max_ms": max(ms), "all_ms": ms}
        say(f"    {name}: median {out[name]['median_ms']:.1f} ms")
    return out


def run_case(name: str, config: dict[str, Any], pid: int, values: list[bytes],
             round_number: int, say: Callable[[str], None]) -> dict[str, Any]:
    """Produce `values` to a fresh topic through `config`, then consume them all."""
    topic = f"bench-security-{name.replace(' ', '-')}-{len(values[0])}-{round_number}"
    try:
        sv.create_topics(config["bootstrap.servers"], [topic], config)
        produced = sv.kafka_produce(config["bootstrap.servers"], topic, values, pid,
                                    idempotent=False, warmup_topic=WARMUP_TOPIC,
                                    config={**config, "batch.size": BATCH_SIZE})
        consumed = sv.kafka_consume(config["bootstrap.servers"], topic, len(values),
                                    produced["bytes"], pid, config)
    except Exception as exc:  # noqa: BLE001 - one case's failure, not the others'
        say(f"    {name}: FAILED: {type(exc).__name__}: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"}
    say(f"    {name}: produce {rate(produced['records_per_s'])} rec/s, consume "
        f"{rate(consumed['records_per_s'])} rec/s")
    return {"produce": produced, "consume": consumed}


def run(quick: bool, say: Callable[[str], None] = say, *, parent: str | None = None,
        repeat: int = 3) -> dict[str, Any]:
    """Section 11: every case at every size, `repeat` rounds, and the connect times; the figures
    as a dict."""
    sizes = QUICK_SIZES if quick else FULL_SIZES
    samples = QUICK_CONNECTS if quick else FULL_CONNECTS
    say("11. the cost of TLS and of SASL (one FlyQ broker, four listeners)")
    results: dict[str, Any] = {
        "quick": quick, "repeats": repeat, "connect_samples": samples,
        "sizes": [{"value_size": v, "records": n} for v, n in sizes],
        "batch_size": BATCH_SIZE, "linger_ms": LINGER_MS,
        "cases": [case.name for case in CASES],
        "client": sv.client_versions()["confluent-kafka"], "runs": {}, "connect": {},
    }
    if sv.confluent_kafka is None:
        results["error"] = "confluent-kafka not installed: pip install confluent-kafka"
        return results
    password = secrets.token_hex(16)
    try:
        with running_broker(parent or tempfile.gettempdir(), password) as (server, addresses,
                                                                            ca_file):
            results["broker"] = " ".join(server.argv)
            results["listeners"] = addresses
            say(f"  broker pid {server.pid}: "
                + ", ".join(f"{p}://{a}" for p, a in addresses.items()))
            configs = {case.name: client_config(case, addresses, ca_file=ca_file,
                                                password=password) for case in CASES}
            sv.create_topics(addresses["PLAINTEXT"], [WARMUP_TOPIC])
            results["connect"] = run_connects(configs, samples, say)
            # A case that cannot connect would fail every round after long client timeouts.
            skipped = {name: f"not run: its connect+authenticate failed ({entry['error']})"
                       for name, entry in results["connect"].items() if "error" in entry}
            for value_size, records in sizes:
                values = sv.make_values(value_size, records)
                repeats: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
                for round_number in range(repeat):
                    say(f"  {count(records)} x {size_label(value_size)}, round "
                        f"{round_number + 1} of {repeat}")
                    for name in rotation(list(configs), round_number):
                        if name in skipped:
                            repeats[name].append({"error": skipped[name]})
                            continue
                        repeats[name].append(run_case(name, configs[name], server.pid, values,
                                                      round_number, say))
                results["runs"][str(value_size)] = {
                    name: median_run(runs) for name, runs in repeats.items()}
    except sv.ServerUnavailable as exc:
        say(f"  the FlyQ broker did not start: {exc}")
        results["error"] = f"the FlyQ broker did not start: {exc}"
    return results


# --- the report ----------------------------------------------------------------------------------


def size_table(results: dict[str, Any], value_size: int, records: int) -> str:
    headers = ["case", "produce rec/s", "MB/s", "vs PLAINTEXT", "srv CPU s/M",
               "consume rec/s", "MB/s", "vs PLAINTEXT", "srv CPU s/M"]
    base = BASELINE.name
    rows = []
    for name in results["cases"]:
        run_ = results["runs"].get(str(value_size), {}).get(name, {"error": "not run"})
        if "error" in run_:
            rows.append([name, "FAILED", *["-"] * 7])
            continue
        row = [name]
        for phase in PHASES:
            row += [rate(run_[phase]["records_per_s"]), rate(run_[phase]["mb_per_s"]),
                    ratio_text(ratio(figure(results, name, value_size, phase),
                                     figure(results, base, value_size, phase))),
                    rate(run_[phase]["server_cpu_s_per_million"])]
        rows.append(row)
    return "\n".join([f"  {count(records)} records x {size_label(value_size)}", "",
                      table(headers, rows, left=1)])


def connect_table(results: dict[str, Any]) -> str:
    headers = ["case", "median ms", "min ms", "max ms", "vs PLAINTEXT"]
    rows = []
    for name in results["cases"]:
        entry = results["connect"].get(name, {"error": "not run"})
        if "error" in entry:
            rows.append([name, "FAILED", "-", "-", "-"])
            continue
        rows.append([name, rate(entry["median_ms"]), rate(entry["min_ms"]),
                     rate(entry["max_ms"]),
                     ratio_text(ratio(connect_ms(results, name), connect_ms(results,
                                                                            BASELINE.name)))])
    return table(headers, rows, left=1)


def report(results: dict[str, Any]) -> str:
    lines = [
        "11. The cost of TLS and of SASL on produce/consume throughput"
        + (" (--quick sizes)" if results["quick"] else ""),
        "  One FlyQ broker (own process) with four listeners: PLAINTEXT, SSL, SASL_PLAINTEXT, "
        "SASL_SSL (ECDSA P-256 certificate,",
        "  SCRAM credentials of 8192 iterations); confluent-kafka "
        f"{results['client']} in this process, one topic per case and round.",
        f"  produce: acks=all, linger {results['linger_ms']} ms, batch.size "
        f"{size_label(results['batch_size'])}, no idempotence, no compression (section 9's "
        "workload), first produce() to flush().",
        "  consume: assign() from offset 0 to the N-th record.  MB = 10^6 bytes of values.  "
        "srv CPU s/M: broker CPU s per million records.",
        f"  Each figure is the median of {results['repeats']} rounds, the cases taking turns "
        "(the first changing each round); vs PLAINTEXT:",
        "  the case's figure over PLAINTEXT's in the same run (below 1.00x: slower).",
    ]
    if "error" in results:
        return "\n".join([*lines, f"  NOT RUN: {results['error']}"])
    for size in results["sizes"]:
        for name, run_ in results["runs"].get(str(size["value_size"]), {}).items():
            if "error" in run_:
                lines.append(f"  {size_label(size['value_size'])} {name} FAILED: {run_['error']}")
    for size in results["sizes"]:
        lines += ["", size_table(results, size["value_size"], size["records"])]
    lines += ["", f"  Connect+authenticate: a fresh Producer (enable.sparse.connections=false) "
              f"until its first Metadata answer, median of {results['connect_samples']} per case",
              "  after one warm-up each (vs PLAINTEXT above 1.00x: slower to connect).", "",
              connect_table(results), "",
              "  Ratios against PLAINTEXT (records/s; connect: time):", *summary_lines(results)]
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.security", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: " + ", ".join(f"{count(n)} x {size_label(v)}"
                                                         for v, n in QUICK_SIZES)
                        + f", {QUICK_CONNECTS} connects per case")
    parser.add_argument("--out", metavar="FILE.json", help="also write every figure as JSON")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="rounds per size; each figure is the median (default: 3)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="where the broker's temp dir goes (default: the system temp dir)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sv.stop_servers_on_signals()
    if args.data_dir:
        os.makedirs(args.data_dir, exist_ok=True)
    started = time.perf_counter()
    try:
        results = run(args.quick, parent=args.data_dir, repeat=args.repeat)
    except KeyboardInterrupt:
        say("interrupted; the broker is stopped")
        return 130
    return finish("flyq security benchmarks", results, report(results), started,
                  args.data_dir, sv.REPO_DIR, args.out)


if __name__ == "__main__":
    sys.exit(main())
