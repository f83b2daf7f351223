"""`flyq produce`: stdin lines (or one --value) as records, appended in batches by the Broker.

Offline it appends through the Broker of the data directory; with `--bootstrap HOST:PORT` (or
$FLYQ_BOOTSTRAP) it sends the same records, to the same partitions, through
`flyq.client.AsyncProducer` to a running broker (CLI-NET-8 in spec/client.md).
"""

from __future__ import annotations

import asyncio
import collections
import os
import select
import stat
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import BinaryIO

import click

from flyq.broker import DEFAULT_BATCH_BYTES, DEFAULT_BATCH_RECORDS, ProduceResult
from flyq.cli._network import (
    StopSignals,
    admin_run,
    bootstrap_option,
    chosen_bootstrap,
    client_security,
)
from flyq.cli._progress import Progress, progress
from flyq.cli._render import ProducedRange, format_option, print_json, produced_json, produced_text
from flyq.cli._root import cli, data_dir_option, open_broker
from flyq.client import AsyncAdmin, AsyncProducer, RecordMetadata
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
_TYPE_LINES = "Type one record per line; end with Ctrl-D."


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


class _LineReader:
    """The lines of a file descriptor, a chunk at a time, each `read` waiting at most
    _POLL_SECONDS (so a stop request is seen even while no input comes); `at_end` once the input
    ended. An unfinished last line counts as a line at the end, and is dropped on a stop."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.at_end = False
        self._pending = b""

    def read(self) -> list[bytes]:
        ready, _, _ = select.select([self.fd], [], [], _POLL_SECONDS)
        if not ready:
            return []
        chunk = os.read(self.fd, _READ_BYTES)
        if not chunk:
            self.at_end = True
            return [_without_line_end(self._pending)] if self._pending else []
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        return [_without_line_end(line) for line in lines]


class _LineParser:
    """Input lines as records: split at the key separator if there is one, numbered from 1 so a
    line without the separator can be named."""

    def __init__(self, key: bytes | None, separator: bytes | None, headers: tuple[Header, ...],
                 timestamp: int | None) -> None:
        self.key = key
        self.separator = separator
        self.headers = headers
        self.timestamp = timestamp
        self.number = 0

    def record(self, line: bytes) -> Record:
        self.number += 1
        record_key, value = self.key, line
        if self.separator is not None:
            record_key, found, value = line.partition(self.separator)
            if not found:
                raise _MissingSeparator(self.number)
        stamp = self.timestamp if self.timestamp is not None else wall_clock_ms()
        return Record(value=value, key=record_key, headers=self.headers, timestamp=stamp)


def _line_records(lines: Iterable[bytes], parser: _LineParser) -> Iterator[Record]:
    for line in lines:
        yield parser.record(line)


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


def _widen(ranges: dict[int, ProducedRange], partition: int, records: int, first_offset: int,
           last_offset: int) -> None:
    """Add `records` produced to `partition` at offsets first_offset..last_offset."""
    before = ranges.get(partition)
    ranges[partition] = ProducedRange(records, first_offset, last_offset) if before is None \
        else ProducedRange(before.records + records, min(before.first_offset, first_offset),
                           max(before.last_offset, last_offset))


def _offline_ranges(results: list[ProduceResult]) -> dict[int, ProducedRange]:
    ranges: dict[int, ProducedRange] = {}
    for result in results:
        _widen(ranges, result.partition, result.record_count, result.base_offset,
               result.last_offset)
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
    parser = _LineParser(fixed_key, separator, headers, timestamp)
    the_value = None if value is None else parser.record(value.encode("utf-8"))
    if bootstrap is not None:
        config = {name: setting for name, setting in (
            ("linger_ms", linger_ms), ("batch_size", batch_size), ("compression", compression))
            if setting is not None}
        _produce_network(bootstrap, topic_name, the_value, parser, partition, config,
                         key_separator, output_format)
        return
    broker = open_broker(ctx)
    results: list[ProduceResult] = []
    if the_value is not None:
        results.extend(broker.produce_records(topic_name, [the_value], partition))
    else:
        stdin = sys.stdin.buffer
        if stdin.isatty():
            batch_records = 1
            click.echo(_TYPE_LINES, err=True)
        records = _line_records(_stdin_lines(stdin), parser)
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
    added to each partition; the first delivery error is kept (and stops the sending)."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.sent = 0
        self.ranges: dict[int, ProducedRange] = {}
        self.error: FlyQError | None = None
        self._waiting: collections.deque[asyncio.Future[RecordMetadata]] = collections.deque()

    @property
    def delivered(self) -> int:
        return sum(produced.records for produced in self.ranges.values())

    def add(self, future: asyncio.Future[RecordMetadata]) -> None:
        self.sent += 1
        self._waiting.append(future)
        self._take_done()

    async def wait(self, most: int = 0) -> None:
        """Wait until at most `most` records are unacknowledged."""
        while len(self._waiting) > most:
            await asyncio.wait([self._waiting[0]])
            self._take_done()

    def _take_done(self) -> None:
        while self._waiting and self._waiting[0].done():
            future = self._waiting.popleft()
            error = future.exception()
            if error is not None:
                if not isinstance(error, FlyQError):
                    raise error
                self.error = self.error or error
                continue
            metadata = future.result()
            _widen(self.ranges, metadata.partition, 1, metadata.offset, metadata.offset)
            self.bar.advance()


def _produce_network(bootstrap: str, topic_name: str, the_value: Record | None,
                     parser: _LineParser, partition: int | None, config: Mapping[str, object],
                     key_separator: str | None, output_format: str) -> None:
    """Send the records the offline command would append, to the partitions it would choose,
    through `AsyncProducer`; report as it does (CLI-NET-8)."""
    spread = partition is None and parser.key is None and parser.separator is None

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
    security = client_security()
    round_robin = None
    if spread:
        # BRK-4: null-key records go round robin from the least-filled partition.
        filled = [ends[(topic_name, number)] for number in range(count)]
        round_robin = RoundRobinPartitioner(filled.index(min(filled)))
    # stdin is not looked at with --value: it may be closed, or not a file at all.
    interactive = the_value is None and sys.stdin.isatty()
    missing: _MissingSeparator | None = None

    async def send_all(producer: AsyncProducer, deliveries: _Deliveries,
                       stop: StopSignals) -> None:
        async def send(record: Record) -> None:
            target = partition if round_robin is None else round_robin.partition(topic_name,
                                                                                 count)
            deliveries.add(await producer.send(topic_name, record.value, record.key, target,
                                               record.headers, record.timestamp))
            await deliveries.wait(_MAX_UNACKNOWLEDGED)

        if the_value is not None:
            await send(the_value)
            return
        if interactive:
            click.echo(_TYPE_LINES, err=True)
        reader = _LineReader(sys.stdin.fileno())
        loop = asyncio.get_running_loop()
        while not (reader.at_end or stop.requested or deliveries.error):
            # The blocking read in a thread: the producer's timers go on meanwhile.
            for line in await loop.run_in_executor(None, reader.read):
                if stop.requested or deliveries.error:
                    return
                await send(parser.record(line))

    async def main(deliveries: _Deliveries, stop: StopSignals) -> None:
        nonlocal missing
        async with await AsyncProducer.connect(bootstrap, security=security,
                                               **config) as producer:
            try:
                await send_all(producer, deliveries, stop)
            except _MissingSeparator as stopped:
                missing = stopped
            await producer.flush()
            await deliveries.wait()

    # No bar for one record, nor where it would garble what is typed at the terminal. The
    # signals are taken before the event loop starts, so that asyncio.run leaves SIGINT to them.
    quiet = the_value is not None or interactive
    with progress(None if quiet else _count_lines(sys.stdin.fileno()), f"produce {topic_name}",
                  force=False if quiet else None) as bar, StopSignals() as stop:
        deliveries = _Deliveries(bar)
        asyncio.run(main(deliveries, stop))
    if deliveries.error is not None:
        raise click.ClickException(
            " ".join(f"{deliveries.error}; {deliveries.delivered} of the {deliveries.sent} "
                     "record(s) sent were produced".split()))
    if missing is not None:
        raise _missing_separator(missing, key_separator, deliveries.delivered)
    _report(topic_name, deliveries.ranges, None, output_format)
