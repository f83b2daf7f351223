"""flyq.client next to confluent-kafka, kafka-python and aiokafka, against one FlyQ broker.

    python -m benchmarks.clients [--quick] [--out FILE.json] [--clients NAMES] [--data-dir DIR]
                                 (also section 10 of `make bench`)

For each value size (100 B and 1 KiB) a FlyQ broker is started as section 9 starts it
(`benchmarks.servers.running_server`: its own process, a fresh temporary directory, a free
127.0.0.1 port), and each client in turn produces N records to a topic of its own (one
partition) and then reads them back from the beginning. The drivers are `flyq bench`'s
(`flyq.perf`, spec/client.md CLI-BENCH-1..4): the same settings for every client, acks=all,
idempotence on, batch size 16384 bytes, linger 5 ms, no compression; produce is timed from the
first send to the flush that leaves every record acknowledged, consume from assign() to the
N-th record. The client runs in this process, the broker in its own: on a 2-core machine they
compete for the CPUs, the same way for every client.

The issue's goal for flyq.client: at least aiokafka's records/s, and at least twice
kafka-python's, for produce and for consume, at both sizes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks import servers as sv
from benchmarks.report import count, finish, rate, size_label, table
from flyq.perf import (
    CLIENTS,
    DRIVER_SETTINGS,
    ConsumeSettings,
    ProduceSettings,
    client_version,
    run_consume,
    run_produce,
)

__all__ = ["goal_lines", "report", "run"]

KIB = 1 << 10
# (value size, records): a few seconds per run for the slowest client (kafka-python) at full
# size; --quick is a smoke run.
FULL_SIZES = ((100, 200_000), (KIB, 100_000))
QUICK_SIZES = ((100, 10_000), (KIB, 5_000))
BATCH_SIZE = 16384
LINGER_MS = 5
PHASES = ("produce", "consume")
# The goals: flyq.client's records/s over the other client's, at least.
GOALS = (("aiokafka", 1.0), ("kafka-python", 2.0))


def say(message: str) -> None:
    """Progress, to stderr so stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


def run_client(client: str, bootstrap: str, value_size: int, records: int,
               say: Callable[[str], None], round_number: int = 0) -> dict[str, Any]:
    """One client's produce then consume run; {"error": ...} if either fails."""
    topic = f"bench-{client}-{value_size}-{round_number}"
    try:
        say(f"    {client}: produce ...")
        produced = run_produce(client, ProduceSettings(
            bootstrap, topic, records, value_size, batch_size=BATCH_SIZE, linger_ms=LINGER_MS))
        say(f"    {client}: {produced.summary()}")
        say(f"    {client}: consume ...")
        consumed = run_consume(client, ConsumeSettings(bootstrap, topic, records))
        say(f"    {client}: {consumed.summary()}")
    except Exception as exc:  # noqa: BLE001 - a client's failure fails its run, not the others
        say(f"    {client}: FAILED: {type(exc).__name__}: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"produce": produced.to_json(), "consume": consumed.to_json()}


def median_run(repeats: list[dict[str, Any]]) -> dict[str, Any]:
    """A client's run whose every figure is the median over `repeats` (latencies each on their
    own); the first failure if any repeat failed, so a flaky client is not hidden."""
    failed = next((run_ for run_ in repeats if "error" in run_), None)
    if failed is not None:
        return failed

    def median(values: list[Any]) -> Any:
        if isinstance(values[0], dict):
            return {key: median([value[key] for value in values]) for key in values[0]}
        if isinstance(values[0], (int, float)) and not isinstance(values[0], bool):
            return statistics.median(values)
        return values[0]
    merged = {phase: {key: median([run_[phase][key] for run_ in repeats])
                      for key in repeats[0][phase]} for phase in PHASES}
    merged["records_per_s_of_each_repeat"] = {
        phase: [run_[phase]["records_per_s"] for run_ in repeats] for phase in PHASES}
    return merged


def run(quick: bool, say: Callable[[str], None] = say, *, clients: Sequence[str] = CLIENTS,
        parent: str | None = None, repeat: int = 3) -> dict[str, Any]:
    """Every client at every size, one fresh broker per size, `repeat` rounds (each figure the
    median of the rounds); the figures as a dict."""
    sizes = QUICK_SIZES if quick else FULL_SIZES
    say("10. flyq.client next to confluent-kafka, kafka-python and aiokafka")
    results: dict[str, Any] = {
        "quick": quick, "repeats": repeat,
        "sizes": [{"value_size": v, "records": n} for v, n in sizes],
        "batch_size": BATCH_SIZE, "linger_ms": LINGER_MS,
        "clients": {name: {"version": client_version(name), "settings": DRIVER_SETTINGS[name]}
                    for name in clients},
        "runs": {},
    }
    for value_size, records in sizes:
        say(f"  {count(records)} x {size_label(value_size)}: starting a FlyQ broker ...")
        try:
            with sv.running_server("flyq", parent or tempfile.gettempdir()) as (server,
                                                                                 bootstrap):
                results["broker"] = " ".join(server.argv)
                repeats: dict[str, list[dict[str, Any]]] = {client: [] for client in clients}
                for round_number in range(repeat):
                    # The clients take turns, the first one changing each round, so a slow
                    # spell of the machine or the broker's own warm-up hits them all.
                    turn = round_number % len(clients)
                    for client in [*clients[turn:], *clients[:turn]]:
                        repeats[client].append(run_client(client, bootstrap, value_size,
                                                          records, say, round_number))
                results["runs"][str(value_size)] = {
                    client: median_run(runs) for client, runs in repeats.items()}
        except sv.ServerUnavailable as exc:
            say(f"  the FlyQ broker did not start: {exc}")
            results["runs"][str(value_size)] = {
                client: {"error": f"the FlyQ broker did not start: {exc}"} for client in clients}
    return results


# --- the report ----------------------------------------------------------------------------------


def figure(results: dict[str, Any], client: str, value_size: int, phase: str) -> float | None:
    """A client's records/s in one phase at one size, or None (not run, or failed)."""
    run_ = results["runs"].get(str(value_size), {}).get(client)
    if not run_ or "error" in run_:
        return None
    return float(run_[phase]["records_per_s"])


def size_table(results: dict[str, Any], value_size: int, records: int) -> str:
    headers = ["client", "produce rec/s", "MB/s", "p50 ms", "p99 ms", "consume rec/s", "MB/s"]
    rows = []
    for client in results["clients"]:
        run_ = results["runs"].get(str(value_size), {}).get(client, {"error": "not run"})
        if "error" in run_:
            rows.append([client, "FAILED", "-", "-", "-", "-", "-"])
            continue
        produced, consumed = run_["produce"], run_["consume"]
        rows.append([client, rate(produced["records_per_s"]), rate(produced["mb_per_s"]),
                     rate(produced["latency_ms"]["p50"]), rate(produced["latency_ms"]["p99"]),
                     rate(consumed["records_per_s"]), rate(consumed["mb_per_s"])])
    return "\n".join([f"  {count(records)} records x {size_label(value_size)}", "",
                      table(headers, rows, left=1)])


def ratio_table(results: dict[str, Any]) -> str:
    headers = ["size", "flyq / ...", "produce rec/s", "consume rec/s"]
    rows = []
    for size in results["sizes"]:
        value_size = size["value_size"]
        for other in results["clients"]:
            if other == "flyq":
                continue
            rows.append([size_label(value_size), other, *(
                sv.ratio_cell(figure(results, "flyq", value_size, phase),
                              figure(results, other, value_size, phase)) for phase in PHASES)])
    return table(headers, rows, left=2)


def goal_lines(results: dict[str, Any]) -> list[str]:
    """The issue's goals for flyq.client, one PASS/FAIL/n-a line each."""
    lines = []
    for size in results["sizes"]:
        value_size = size["value_size"]
        for phase in PHASES:
            for other, bound in GOALS:
                name = (f"{size_label(value_size)}: {phase} rec/s >= "
                        + ("" if bound == 1 else f"{bound:g}x ") + other)
                missing = next((f"{client} not run or failed" for client in ("flyq", other)
                                if figure(results, client, value_size, phase) is None), "")
                lines.append(sv.goal_line(name, figure(results, "flyq", value_size, phase),
                                          figure(results, other, value_size, phase), bound,
                                          higher_is_better=True, missing=missing))
    return lines


def report(results: dict[str, Any]) -> str:
    lines = [
        "10. flyq.client next to confluent-kafka, kafka-python and aiokafka"
        + (" (--quick sizes)" if results["quick"] else ""),
        "  One FlyQ broker per size (`python -m flyq broker`, own process); the clients take "
        "turns in this process,",
        "  each on a topic of its own (1 partition): produce N records, then read them back "
        "from the beginning.",
        f"  Every client: acks=all, idempotence on, batch size {results['batch_size']} B, "
        f"linger {results['linger_ms']} ms, no compression, null keys.",
        "  produce: first send to the flush that leaves every record acknowledged; p50/p99: "
        "each record's send-to-ack.",
        "  consume: assign() (no group) to the N-th record.  MB = 10^6 bytes of values.",
        f"  Each figure is the median of {results.get('repeats', 1)} rounds; in each round the "
        "clients take turns, the first one changing from round to round.",
        "  Drivers: flyq.perf (`flyq bench`, spec/client.md CLI-BENCH-1..4):",
    ]
    for client, entry in results["clients"].items():
        lines.append(f"    {client} {entry['version']}: {entry['settings']}")
    for size in results["sizes"]:
        value_size = size["value_size"]
        for client, run_ in results["runs"].get(str(value_size), {}).items():
            if "error" in run_:
                lines.append(f"  {size_label(value_size)} {client} FAILED: {run_['error']}")
    for size in results["sizes"]:
        lines += ["", size_table(results, size["value_size"], size["records"])]
    lines += ["", "  flyq.client's records/s over the other client's (above 1.00x: flyq is "
              "faster):", "", ratio_table(results), "", "  Goals (flyq.client):",
              *goal_lines(results)]
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.clients", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: " + ", ".join(f"{count(n)} x {size_label(v)}"
                                                         for v, n in QUICK_SIZES))
    parser.add_argument("--out", metavar="FILE.json", help="also write every figure as JSON")
    parser.add_argument("--clients", default=",".join(CLIENTS), metavar="NAMES",
                        help=f"comma-separated clients to run (default: {','.join(CLIENTS)})")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="rounds per size; each figure is the median (default: 3)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="where the broker's temp dir goes (default: the system temp dir)")
    args = parser.parse_args(argv)
    args.clients = [name.strip() for name in args.clients.split(",") if name.strip()]
    unknown = sorted(set(args.clients) - set(CLIENTS))
    if unknown or "flyq" not in args.clients:
        parser.error(f"--clients takes names from {','.join(CLIENTS)}, flyq among them; "
                     f"got {args.clients}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sv.stop_servers_on_signals()
    started = time.perf_counter()
    try:
        results = run(args.quick, clients=args.clients, parent=args.data_dir,
                      repeat=args.repeat)
    except KeyboardInterrupt:
        say("interrupted; the broker is stopped")
        return 130
    return finish("flyq client benchmarks", results, report(results), started,
                  args.data_dir, sv.REPO_DIR, args.out)


if __name__ == "__main__":
    sys.exit(main())
