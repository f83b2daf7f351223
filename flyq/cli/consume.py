"""`flyq consume`: print a topic's records, optionally as a consumer group (GRP-CLI-1..2).

Offline it reads the data directory through the Broker; with `--bootstrap HOST:PORT` (or
$FLYQ_BOOTSTRAP) it reads a running broker through `flyq.client.Consumer` (CLI-NET-1..4 in
spec/client.md), and `--follow` then waits for new records until SIGINT or SIGTERM; without
`--follow` a progress bar goes to stderr where that is a terminal (CLI-NET-9).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import attrs
import click

from flyq.broker import Broker, ReadSpan
from flyq.cli._network import (
    StopSignals,
    admin_run,
    bootstrap_option,
    chosen_bootstrap,
    client_security,
)
from flyq.cli._progress import Progress, progress
from flyq.cli._render import write_record
from flyq.cli._root import cli, data_dir_option, open_broker
from flyq.client import AsyncAdmin, Consumer, ConsumerRecord
from flyq.errors import InvalidPartition
from flyq.records import StoredRecord

__all__ = ["consume"]


@cli.command()
@click.argument("topic_name", metavar="TOPIC")
@click.option(
    "--partition", type=click.IntRange(min=0),
    help="Read only this partition.  [default: all, one after the other]",
)
@click.option(
    "--from-beginning", is_flag=True,
    help="Start at each partition's log_start_offset (the default when reading forward).",
)
@click.option(
    "--offset", type=click.IntRange(min=0),
    help="Start at this offset (needs --partition). With --backward, read it and the "
    "records below it.",
)
@click.option(
    "--timestamp", type=click.IntRange(min=0),
    help="Start at the first record whose timestamp (ms) is >= this. With --backward, "
    "print the records before that one instead.",
)
@click.option(
    "--tail", type=click.IntRange(min=1), help="Only the last N records of each partition."
)
@click.option(
    "--backward", is_flag=True,
    help="Newest first; starts at the newest record unless --offset or --timestamp says otherwise.",
)
@click.option(
    "--max", "max_records", type=click.IntRange(min=1),
    help="Stop after this many records in total.",
)
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text",
    show_default=True,
    help="text: PARTITION:OFFSET, TIMESTAMP, KEY, VALUE[, HEADERS] tab-separated. json: one object "
    "per line with partition, offset, timestamp, key, value, headers; bytes that are not UTF-8 "
    "appear base64-encoded as key_b64 / value_b64.",
)
@click.option(
    "--group",
    help="Consumer group: start each partition at the group's committed offset and commit what "
    "was printed before exiting.",
)
@click.option(
    "--reset", type=click.Choice(["earliest", "latest", "error"]),
    help="With --group, where a partition starts when the group has no committed offset for it "
    "or it lies outside [log_start_offset, log_end_offset]: earliest (log_start_offset), latest "
    "(log_end_offset) or error (exit 1).  [default: earliest]",
)
@click.option(
    "--follow", is_flag=True,
    help="With --bootstrap: after the records there are, wait for new ones (as tail -f) until "
    "Ctrl-C or SIGTERM; with --group, commit what was printed then.",
)
@bootstrap_option
@data_dir_option
@click.pass_context
def consume(ctx: click.Context, topic_name: str, partition: int | None, from_beginning: bool,
            offset: int | None, timestamp: int | None, tail: int | None, backward: bool,
            max_records: int | None, output_format: str, group: str | None,
            reset: str | None, follow: bool, bootstrap: str | None) -> None:
    """Print the records of TOPIC and exit (it does not wait for new ones unless --follow)."""
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    if follow and bootstrap is None:
        raise click.UsageError("--follow needs --bootstrap: a running broker appends the records "
                               "to wait for")
    if follow and backward:
        raise click.UsageError("--follow waits for newer records; it cannot read --backward")
    starts = [name for name, given in (("--from-beginning", from_beginning),
                                       ("--offset", offset is not None),
                                       ("--timestamp", timestamp is not None),
                                       ("--tail", tail is not None)) if given]
    if group is not None:
        given = starts + (["--backward"] if backward else [])
        if given:
            raise click.UsageError(
                f"--group starts at the group's committed offsets; it cannot be combined with "
                f"{', '.join(given)} (move the group with `flyq groups reset-offsets`)"
            )
        if bootstrap is not None:
            _consume_network(bootstrap, topic_name, partition, _Start(), max_records,
                             output_format, group, reset or "earliest", follow)
            return
        _consume_group(open_broker(ctx), topic_name, group, reset or "earliest", partition,
                       max_records, output_format)
        return
    if reset is not None:
        raise click.UsageError("--reset applies to --group only")
    if len(starts) > 1:
        raise click.UsageError(f"choose one start position, not {' and '.join(starts)}")
    if from_beginning and backward:
        raise click.UsageError("--from-beginning reads forward; drop it or --backward")
    if offset is not None and partition is None:
        raise click.UsageError("--offset needs --partition: offsets are per partition")
    if bootstrap is not None:
        _consume_network(bootstrap, topic_name, partition,
                         _Start(offset, timestamp, tail, backward), max_records, output_format,
                         None, "earliest", follow)
        return
    broker = open_broker(ctx)
    partitions = _partitions(broker, topic_name, partition)
    out = sys.stdout.buffer
    printed = 0
    for number in partitions:
        span = broker.plan_read(topic_name, number, offset=offset, timestamp=timestamp,
                                tail=tail, backward=backward)
        if span is None:
            continue
        remaining = None if max_records is None else max_records - printed
        for record in broker.read_span(topic_name, number, span, remaining):
            write_record(out, number, record, output_format)
            printed += 1
        if max_records is not None and printed >= max_records:
            break
    out.flush()
    click.echo(f"Consumed {printed} record(s) from {topic_name!r}.", err=True)


def _partitions(broker: Broker, topic_name: str, partition: int | None) -> list[int]:
    if partition is not None:
        broker.check_partition(topic_name, partition)
        return [partition]
    return list(range(broker.metadata(topic_name).partitions))


def _consume_group(broker: Broker, topic_name: str, group: str, reset: str,
                   partition: int | None, max_records: int | None, output_format: str) -> None:
    """Print from the group's committed offsets, then commit what was printed, durably."""
    partitions = _partitions(broker, topic_name, partition)
    # Every start is resolved before anything is printed, so --reset error prints nothing.
    starts = broker.group_start_offsets(group, topic_name, partitions,
                                        reset)  # type: ignore[arg-type]
    out = sys.stdout.buffer
    printed = 0
    positions: dict[int, int] = {}
    for number, start in starts.items():
        if max_records is not None and printed >= max_records:
            break
        position = start
        remaining = None if max_records is None else max_records - printed
        for record in broker.read_span(topic_name, number, ReadSpan(start, backward=False),
                                       remaining):
            write_record(out, number, record, output_format)
            printed += 1
            position = record.offset + 1
        positions[number] = position
    out.flush()
    committed = broker.fetch_offsets(group, [(topic_name, number) for number in positions])
    changed = {(topic_name, number): position for number, position in positions.items()
               if (value := committed[(topic_name, number)]) is None or value.offset != position}
    if changed:
        broker.commit_offsets(group, changed)
    click.echo(
        f"Consumed {printed} record(s) from {topic_name!r}; committed group {group!r}.", err=True
    )


# --- over a running broker (--bootstrap) ---------------------------------------------------------

@attrs.frozen
class _Start:
    """Where a network read starts: the options of the offline command, same meanings."""

    offset: int | None = None
    timestamp: int | None = None
    tail: int | None = None
    backward: bool = False


_POLL_SECONDS = 0.5  # how soon a read sees a stop request while the broker has nothing new
_POLL_WAIT_MS = 500  # the broker's long-poll wait while following
_BOUNDED_WAIT_MS = 20


def _stored(record: ConsumerRecord) -> StoredRecord:
    return StoredRecord(record.offset, record.timestamp, record.key, record.value, record.headers)


class _Printer:
    """Writes records and counts them against --max; `printed[tp]` is the offset after the last
    record of tp written (what a group commits)."""

    def __init__(self, out: BinaryIO, output_format: str, max_records: int | None,
                 bar: Progress) -> None:
        self.out = out
        self.output_format = output_format
        self.max_records = max_records
        self.bar = bar
        self.count = 0
        self.printed: dict[tuple[str, int], int] = {}

    @property
    def remaining(self) -> int | None:
        return None if self.max_records is None else self.max_records - self.count

    @property
    def full(self) -> bool:
        return self.max_records is not None and self.count >= self.max_records

    def write(self, records: Iterable[ConsumerRecord]) -> None:
        for record in records:
            if self.full:
                return
            write_record(self.out, record.partition, _stored(record), self.output_format)
            self.count += 1
            self.printed[(record.topic, record.partition)] = record.offset + 1
            self.bar.advance()
        self.out.flush()


def _consume_network(bootstrap: str, topic_name: str, partition: int | None, start: _Start,
                     max_records: int | None, output_format: str, group: str | None,
                     reset: str, follow: bool) -> None:
    """Print TOPIC's records from a running broker (CLI-NET-1..4)."""
    # CLI-NET-9: the bar's total is known for a forward read without a group, whose start
    # offsets are listed here; --follow has no end, so it draws no bar.
    counted = not (follow or start.backward or group is not None)

    async def plan(admin: AsyncAdmin) -> tuple[list[int], dict[tuple[str, int], int],
                                               dict[tuple[str, int], int],
                                               dict[tuple[str, int], int]]:
        count = (await admin.partition_counts([topic_name]))[topic_name]
        if partition is not None and partition >= count:
            raise InvalidPartition(topic_name, partition, count)
        numbers = [partition] if partition is not None else list(range(count))
        tps = [(topic_name, number) for number in numbers]
        found = ({} if start.timestamp is None or not (start.backward or counted)
                 else await admin.list_offsets(tps, start.timestamp))
        firsts = (await admin.list_start_offsets(tps)
                  if counted and start.offset is None and start.timestamp is None else {})
        return numbers, await admin.list_end_offsets(tps), found, firsts

    numbers, ends, found, firsts = admin_run(bootstrap, plan)
    tps = [(topic_name, number) for number in numbers]
    total = _expected(tps, start, ends, found, firsts, max_records) if counted else None
    # Records printed to the terminal show the progress themselves; a bar would garble them.
    with progress(total, f"consume {topic_name}",
                  force=None if not follow and not sys.stdout.isatty() else False) as bar:
        printer = _Printer(sys.stdout.buffer, output_format, max_records, bar)
        _read_network(bootstrap, tps, start, ends, found, printer, group, reset, follow)
    committed = f"; committed group {group!r}" if group is not None else ""
    click.echo(f"Consumed {printer.count} record(s) from {topic_name!r}{committed}.", err=True)


def _expected(tps: list[tuple[str, int]], start: _Start, ends: dict[tuple[str, int], int],
              found: dict[tuple[str, int], int], firsts: dict[tuple[str, int], int],
              max_records: int | None) -> int:
    """The offsets a forward read covers, up to the end offsets listed at the start: the
    records it prints, fewer where offsets are missing (compacted, control batches)."""
    total = 0
    for tp in tps:
        if start.offset is not None:
            first = start.offset
        elif start.timestamp is not None:
            first = ends[tp] if found[tp] < 0 else found[tp]
        else:
            first = firsts[tp]
        span = max(ends[tp] - first, 0)
        total += span if start.tail is None else min(span, start.tail)
    return total if max_records is None else min(total, max_records)


def _read_network(bootstrap: str, tps: list[tuple[str, int]], start: _Start,
                  ends: dict[tuple[str, int], int], found: dict[tuple[str, int], int],
                  printer: _Printer, group: str | None, reset: str, follow: bool) -> None:
    # A bounded read knows where each partition ends, so a fetch that finds nothing new (the
    # consumer's read-ahead past the end, which the next partition's fetch queues behind) should
    # come back at once rather than after the broker's long-poll wait.
    consumer = Consumer(bootstrap, group_id=group, enable_auto_commit=False,
                        auto_offset_reset=reset, security=client_security(),
                        fetch_max_wait_ms=_POLL_WAIT_MS if follow else _BOUNDED_WAIT_MS)
    try:
        with StopSignals() as stop:
            if start.backward:
                for tp in tps:
                    if printer.full:
                        break
                    printer.write(_backward(consumer, tp, start, found.get(tp), printer))
            elif follow:
                _place_all(consumer, tps, start, printer, group is not None)
                while not printer.full and not stop.requested:
                    printer.write(consumer.poll(_POLL_SECONDS, printer.remaining))
            else:
                for tp in tps:
                    if printer.full or stop.requested:
                        break
                    _place_all(consumer, [tp], start, printer, group is not None)
                    while (not printer.full and not stop.requested
                           and consumer.position(tp) < ends[tp]):
                        printer.write(consumer.poll(_POLL_SECONDS, printer.remaining))
            if group is not None and printer.printed:
                consumer.commit(printer.printed)
    finally:
        consumer.close(commit=False)


def _place_all(consumer: Consumer, tps: list[tuple[str, int]], start: _Start,
               printer: _Printer, in_group: bool) -> None:
    """Assign `tps` and seek each to where `start` says (no seek: a group's committed offset);
    --tail prints its records here, and reading goes on after them."""
    consumer.assign(tps)
    for tp in tps:
        if start.offset is not None:
            consumer.seek(tp, start.offset)
        elif start.timestamp is not None:
            consumer.seek_to_timestamp(tp, start.timestamp)
        elif start.tail is not None:
            last = consumer.tail(tp, start.tail)
            printer.write(last)
            if last:
                consumer.seek(tp, last[-1].offset + 1)
            else:
                consumer.seek_to_beginning([tp])
        elif not in_group:
            consumer.seek_to_beginning([tp])


def _backward(consumer: Consumer, tp: tuple[str, int], start: _Start, found: int | None,
              printer: _Printer) -> Iterator[ConsumerRecord]:
    """`tp`'s records newest first, as the offline --backward prints them."""
    limit = start.tail
    if start.offset is not None:
        from_offset: int | None = start.offset
    elif start.timestamp is not None and found is not None and found >= 0:
        if found == 0:
            return
        from_offset = found - 1  # the records before the first at or after the timestamp
    else:
        from_offset = None
    while True:
        want = 500 if printer.remaining is None else min(500, printer.remaining)
        if limit is not None:
            want = min(want, limit)
        if want <= 0:
            return
        records = consumer.read_backward(tp, from_offset, want)
        yield from records
        if limit is not None:
            limit -= len(records)
        if len(records) < want or records[-1].offset == 0:
            return  # CLIENT-42: fewer than asked means the log start was reached
        from_offset = records[-1].offset - 1
