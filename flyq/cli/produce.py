"""`flyq produce`: stdin lines (or one --value) as records, appended in batches by the Broker.

Offline it appends through the Broker of the data directory; with `--bootstrap HOST:PORT` (or
$FLYQ_BOOTSTRAP) it sends the same records, to the same partitions, through
`flyq.client.Producer` to a running broker (CLI-NET-8 in spec/client.md).
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import select
import stat
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import BinaryIO

import click

from flyq.broker import DEFAULT_BATCH_BYTES, DEFAULT_BATCH_RECORDS, ProduceResult
from flyq.cli._network import StopSignals, admin_run, bootstrap_option, chosen_bootstrap
from flyq.cli._progress import Progress, progress
from flyq.cli._render import ProducedRange, format_option, print_json, produced_json, produced_text
from flyq.cli._root import cli, data_dir_option, open_broker
from flyq.client import AsyncAdmin, Producer, RecordMetadata
from flyq.clock import wall_clock_ms
from flyq.errors import FlyQError, InvalidPartition
from flyq.impl.partitioner import RoundRobinPartitioner
from flyq.records import Header, Record

__all__ = ["produce"]

# Offline options that have no meaning over the network, and the reverse.
_OFFLINE_ONLY = ("batch_records", "batch_bytes")
_NETWORK_ONLY = ("linger_ms", "batch_size", "compression")
_POLL_SECONDS = 0.5  # how soon reading stdin sees a stop request while no line comes
_READ_BYTES = 1 << 16
# Records sent but not yet acknowledged, at most: reading waits for acks beyond this, so a
# large input is not all held in memory at once.
_MAX_UNACKNOWLEDGED = 10_000


class _MissingSeparator(Exception):
    """A stdin line without the key separator; stops the record stream."""

    def __init__(self, line_number: int) -> None:
        super().__init__(line_number)
        self.line_number = line_number


def _parse_headers(pairs: tuple[str, ...]) -> tuple[Header, ...]:
    headers: list[Header] = []
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals:
            raise click.BadParameter(f"{pair!r}: expected KEY=VALUE", param_hint="--header")
        headers.append((key, value.encode("utf-8")))
    return tuple(headers)


def _without_line_end(raw: bytes) -> bytes:
    line = raw[:-1] if raw.endswith(b"\n") else raw
    return line[:-1] if line.endswith(b"\r") else line


def _stdin_lines(stream: BinaryIO) -> Iterator[bytes]:
    for raw in stream:
        yield _without_line_end(raw)


def _stoppable_lines(fd: int, stop: StopSignals) -> Iterator[bytes]:
    """The lines of `fd` until its end or a stop request, which is seen within _POLL_SECONDS
    even while no input comes; an unfinished last line is dropped on a stop."""
    pending = b""
    while not stop.requested:
        ready, _, _ = select.select([fd], [], [], _POLL_SECONDS)
        if not ready or stop.requested:
            continue
        chunk = os.read(fd, _READ_BYTES)
        if not chunk:
            if pending:
                yield _without_line_end(pending)
            return
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            yield _without_line_end(line)


def _line_records(lines: Iterable[bytes], key: bytes | None, separator: bytes | None,
                  headers: tuple[Header, ...], timestamp: int | None) -> Iterator[Record]:
    for number, line in enumerate(lines, start=1):
        record_key, value = key, line
        if separator is not None:
            record_key, found, value = line.partition(separator)
            if not found:
                raise _MissingSeparator(number)
        stamp = timestamp if timestamp is not None else wall_clock_ms()
        yield Record(value=value, key=record_key, headers=headers, timestamp=stamp)


def _count_lines(fd: int) -> int | None:
    """The lines left in `fd` if it is a regular file (read without moving its position), else
    None: a pipe or terminal cannot be counted ahead."""
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        return None
    position = os.lseek(fd, 0, os.SEEK_CUR)
    count, last = 0, b"\n"
    while chunk := os.pread(fd, _READ_BYTES, position):
        count += chunk.count(b"\n")
        last = chunk[-1:]
        position += len(chunk)
    return count + (last != b"\n")


def _missing_separator(missing: _MissingSeparator, separator: str | None,
                       produced: int) -> click.ClickException:
    return click.ClickException(
        f"line {missing.line_number} has no key separator {separator!r}; "
        f"the {produced} record(s) before it were produced")


def _offline_ranges(results: list[ProduceResult]) -> dict[int, ProducedRange]:
    ranges: dict[int, ProducedRange] = {}
    for result in results:
        before = ranges.get(result.partition)
        ranges[result.partition] = ProducedRange(
            result.record_count, result.base_offset, result.last_offset) if before is None \
            else ProducedRange(before.records + result.record_count,
                               min(before.first_offset, result.base_offset),
                               max(before.last_offset, result.last_offset))
    return ranges


def _report(topic_name: str, ranges: dict[int, ProducedRange], batches: int | None,
            output_format: str) -> None:
    if output_format == "json":
        print_json(produced_json(topic_name, ranges))
    else:
        click.echo(produced_text(topic_name, ranges, batches), err=True)


@cli.command()
@click.argument("topic_name", metavar="TOPIC")
@click.option("--value", help="Produce one record with this value instead of reading stdin.")
@click.option(
    "--key", help="Key (UTF-8) of every record. Without a key, records are spread round robin."
)
@click.option(
    "--key-separator",
    metavar="SEP",
    help="Split each stdin line at the first SEP into key and value (a line without SEP is an "
    "error).",
)
@click.option(
    "--header", "header_pairs", multiple=True, metavar="KEY=VALUE",
    help="Header of every record, repeatable.",
)
@click.option(
    "--partition", type=click.IntRange(min=0),
    help="Send every record to this partition instead of choosing by key.",
)
@click.option(
    "--timestamp", type=click.IntRange(min=0),
    help="Timestamp (ms since the epoch) of every record.  [default: now]",
)
@click.option(
    "--batch-records", type=click.IntRange(min=1), default=DEFAULT_BATCH_RECORDS,
    show_default=True, help="Offline: most stdin lines per append call.",
)
@click.option(
    "--batch-bytes", type=click.IntRange(min=1), default=DEFAULT_BATCH_BYTES, show_default=True,
    help="Offline: most stdin bytes per append call.",
)
@click.option(
    "--linger-ms", type=click.IntRange(min=0),
    help="With --bootstrap: how long a batch waits for more records.  [default: 5]",
)
@click.option(
    "--batch-size", type=click.IntRange(min=1),
    help="With --bootstrap: most bytes per batch sent.  [default: 16384]",
)
@click.option(
    "--compression", type=click.Choice(["none", "gzip"]),
    help="With --bootstrap: compression of the batches sent.  [default: none]",
)
@format_option
@bootstrap_option
@data_dir_option
@click.pass_context
def produce(ctx: click.Context, topic_name: str, value: str | None, key: str | None,
            key_separator: str | None, header_pairs: tuple[str, ...], partition: int | None,
            timestamp: int | None, batch_records: int, batch_bytes: int,
            linger_ms: int | None, batch_size: int | None, compression: str | None,
            output_format: str, bootstrap: str | None) -> None:
    """Append records to TOPIC: one per stdin line, or one with --value.

    Keyed records go to the partition Kafka's default partitioner would pick (murmur2 of the key);
    records without a key go round robin. Lines are appended in batches; a summary goes to stderr
    (with --format json, one document to stdout instead). With --bootstrap the records go to a
    running broker, to the same partitions; Ctrl-C or SIGTERM then stops reading stdin, and what
    was read is delivered and reported (exit 0).
    """
    if key is not None and key_separator is not None:
        raise click.UsageError("--key and --key-separator cannot be used together")
    if value is not None and key_separator is not None:
        raise click.UsageError("--key-separator splits stdin lines; it does not apply to --value")
    if key_separator == "":
        raise click.BadParameter("must not be empty", param_hint="--key-separator")
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    given = {name for name in (*_OFFLINE_ONLY, *_NETWORK_ONLY)
             if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE}
    wrong = given & set(_NETWORK_ONLY if bootstrap is None else _OFFLINE_ONLY)
    if wrong:
        names = ", ".join("--" + name.replace("_", "-") for name in sorted(wrong))
        raise click.UsageError(f"{names}: only {'with' if bootstrap is None else 'without'} "
                               "--bootstrap")
    headers = _parse_headers(header_pairs)
    fixed_key = key.encode("utf-8") if key is not None else None
    separator = key_separator.encode("utf-8") if key_separator is not None else None
    if bootstrap is not None:
        config = {name: setting for name, setting in (
            ("linger_ms", linger_ms), ("batch_size", batch_size), ("compression", compression))
            if setting is not None}
        _produce_network(bootstrap, topic_name, value, fixed_key, key_separator, headers,
                         partition, timestamp, config, output_format)
        return
    broker = open_broker(ctx)
    results: list[ProduceResult] = []
    if value is not None:
        stamp = timestamp if timestamp is not None else wall_clock_ms()
        record = Record(value=value.encode("utf-8"), key=fixed_key, headers=headers,
                        timestamp=stamp)
        results.extend(broker.produce_records(topic_name, [record], partition))
    else:
        stdin = sys.stdin.buffer
        if stdin.isatty():
            batch_records = 1
            click.echo("Type one record per line; end with Ctrl-D.", err=True)
        records = _line_records(_stdin_lines(stdin), fixed_key, separator, headers, timestamp)
        try:
            results.extend(broker.produce_stream(topic_name, records, partition,
                                                 batch_records=batch_records,
                                                 batch_bytes=batch_bytes))
        except _MissingSeparator as missing:
            produced = sum(result.record_count for result in results)
            raise _missing_separator(missing, key_separator, produced) from None
    _report(topic_name, _offline_ranges(results), len(results), output_format)


# --- to a running broker (--bootstrap) -----------------------------------------------------------

class _Deliveries:
    """The records sent and not yet acknowledged, oldest first, and what the acknowledged ones
    added to each partition; the first delivery error is kept and stops the run."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.sent = 0
        self.ranges: dict[int, ProducedRange] = {}
        self.error: FlyQError | None = None
        self._waiting: collections.deque[concurrent.futures.Future[RecordMetadata]] = (
            collections.deque())

    @property
    def delivered(self) -> int:
        return sum(produced.records for produced in self.ranges.values())

    def add(self, future: concurrent.futures.Future[RecordMetadata]) -> None:
        self.sent += 1
        self._waiting.append(future)
        self.settle(block=len(self._waiting) > _MAX_UNACKNOWLEDGED)

    def settle(self, *, block: bool) -> None:
        """Take in the outcomes at the head of the queue: those there are, or (block) at least
        the oldest one."""
        while self._waiting and (block or self._waiting[0].done()):
            block = False
            future = self._waiting.popleft()
            error = future.exception()
            if error is not None:
                if not isinstance(error, FlyQError):
                    raise error
                self.error = self.error or error
                continue
            metadata = future.result()
            before = self.ranges.get(metadata.partition)
            self.ranges[metadata.partition] = ProducedRange(1, metadata.offset, metadata.offset) \
                if before is None else ProducedRange(before.records + 1,
                                                     min(before.first_offset, metadata.offset),
                                                     max(before.last_offset, metadata.offset))
            self.bar.advance()

    def wait_all(self) -> None:
        while self._waiting:
            self.settle(block=True)


def _produce_network(bootstrap: str, topic_name: str, value: str | None,
                     fixed_key: bytes | None, key_separator: str | None,
                     headers: tuple[Header, ...], partition: int | None, timestamp: int | None,
                     config: Mapping[str, object], output_format: str) -> None:
    """Send the records the offline command would append, to the partitions it would choose,
    through `Producer`; report as it does (CLI-NET-8)."""
    spread = partition is None and fixed_key is None and key_separator is None

    async def plan(admin: AsyncAdmin) -> tuple[int, dict[tuple[str, int], int]]:
        # Asked first, without creating the topic: the broker may create topics on first use,
        # and the offline command never does.
        count = (await admin.partition_counts([topic_name]))[topic_name]
        if partition is not None and partition >= count:
            raise InvalidPartition(topic_name, partition, count)
        ends = ({} if not spread else
                await admin.list_end_offsets([(topic_name, number) for number in range(count)]))
        return count, ends

    count, ends = admin_run(bootstrap, plan)
    round_robin = None
    if spread:
        # BRK-4: null-key records go round robin from the least-filled partition.
        filled = [ends[(topic_name, number)] for number in range(count)]
        round_robin = RoundRobinPartitioner(filled.index(min(filled)))
    separator = key_separator.encode("utf-8") if key_separator is not None else None
    stdin_fd = sys.stdin.fileno()
    interactive = value is None and os.isatty(stdin_fd)
    total = 1 if value is not None else _count_lines(stdin_fd)
    missing: _MissingSeparator | None = None
    # A bar would garble what is typed at the terminal.
    with progress(total, f"produce {topic_name}", force=False if interactive else None) as bar, \
            Producer(bootstrap, **config) as producer:
        deliveries = _Deliveries(bar)

        def send(records: Iterable[Record]) -> None:
            for record in records:
                if deliveries.error is not None:
                    return
                target = partition if round_robin is None else round_robin.partition(
                    topic_name, count)
                deliveries.add(producer.send(topic_name, record.value, record.key, target,
                                             record.headers, record.timestamp))

        if value is not None:
            send([Record(value=value.encode("utf-8"), key=fixed_key, headers=headers,
                         timestamp=timestamp if timestamp is not None else wall_clock_ms())])
        else:
            if interactive:
                click.echo("Type one record per line; end with Ctrl-D.", err=True)
            with StopSignals() as stop:
                try:
                    send(_line_records(_stoppable_lines(stdin_fd, stop), fixed_key, separator,
                                       headers, timestamp))
                except _MissingSeparator as stopped:
                    missing = stopped
        producer.flush()
        deliveries.wait_all()
    if deliveries.error is not None:
        raise click.ClickException(
            " ".join(f"{deliveries.error}; {deliveries.delivered} of the {deliveries.sent} "
                     "record(s) sent were produced".split()))
    if missing is not None:
        raise _missing_separator(missing, key_separator, deliveries.delivered)
    _report(topic_name, deliveries.ranges, None, output_format)

