"""`flyq produce`: stdin lines (or one --value) as records, appended in batches by the Broker."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import BinaryIO

import click

from flyq.broker import DEFAULT_BATCH_BYTES, DEFAULT_BATCH_RECORDS, ProduceResult
from flyq.cli._root import cli, data_dir_option, open_broker
from flyq.clock import wall_clock_ms
from flyq.records import Header, Record

__all__ = ["produce"]


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


def _stdin_lines(stream: BinaryIO) -> Iterator[bytes]:
    for raw in stream:
        line = raw[:-1] if raw.endswith(b"\n") else raw
        yield line[:-1] if line.endswith(b"\r") else line


def _line_records(stream: BinaryIO, key: bytes | None, separator: bytes | None,
                  headers: tuple[Header, ...], timestamp: int | None) -> Iterator[Record]:
    for number, line in enumerate(_stdin_lines(stream), start=1):
        record_key, value = key, line
        if separator is not None:
            record_key, found, value = line.partition(separator)
            if not found:
                raise _MissingSeparator(number)
        stamp = timestamp if timestamp is not None else wall_clock_ms()
        yield Record(value=value, key=record_key, headers=headers, timestamp=stamp)


def _summary(topic_name: str, results: list[ProduceResult]) -> str:
    records = sum(result.record_count for result in results)
    if records == 1:
        last = results[-1]
        return f"Produced 1 record to {topic_name}-{last.partition} at offset {last.last_offset}."
    per_partition: dict[int, int] = {}
    for result in results:
        per_partition[result.partition] = per_partition.get(result.partition, 0) + \
            result.record_count
    spread = ", ".join(f"partition {target}: {count}"
                       for target, count in sorted(per_partition.items()))
    return (f"Produced {records} record(s) to {topic_name!r} in {len(results)} batch(es)"
            + (f" ({spread})." if spread else "."))


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
    show_default=True, help="Most stdin lines per append call.",
)
@click.option(
    "--batch-bytes", type=click.IntRange(min=1), default=DEFAULT_BATCH_BYTES, show_default=True,
    help="Most stdin bytes per append call.",
)
@data_dir_option
@click.pass_context
def produce(ctx: click.Context, topic_name: str, value: str | None, key: str | None,
            key_separator: str | None, header_pairs: tuple[str, ...], partition: int | None,
            timestamp: int | None, batch_records: int, batch_bytes: int) -> None:
    """Append records to TOPIC: one per stdin line, or one with --value.

    Keyed records go to the partition Kafka's default partitioner would pick (murmur2 of the key);
    records without a key go round robin. Lines are appended in batches; a summary goes to stderr.
    """
    if key is not None and key_separator is not None:
        raise click.UsageError("--key and --key-separator cannot be used together")
    if value is not None and key_separator is not None:
        raise click.UsageError("--key-separator splits stdin lines; it does not apply to --value")
    if key_separator == "":
        raise click.BadParameter("must not be empty", param_hint="--key-separator")
    headers = _parse_headers(header_pairs)
    fixed_key = key.encode("utf-8") if key is not None else None
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
        separator = key_separator.encode("utf-8") if key_separator is not None else None
        records = _line_records(stdin, fixed_key, separator, headers, timestamp)
        try:
            results.extend(broker.produce_stream(topic_name, records, partition,
                                                 batch_records=batch_records,
                                                 batch_bytes=batch_bytes))
        except _MissingSeparator as missing:
            produced = sum(result.record_count for result in results)
            raise click.ClickException(
                f"line {missing.line_number} has no key separator {key_separator!r}; "
                f"the {produced} record(s) before it were produced"
            ) from None
    click.echo(_summary(topic_name, results), err=True)
