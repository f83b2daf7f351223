"""The `flyq` command line: thin click wrappers over `flyq.impl` and `flyq.codec`.

Output conventions:

- Data goes to stdout, summaries and errors to stderr. A `FlyQError` becomes one line
  `Error: <message>` on stderr and exit code 1, never a traceback.
- Bytes in JSON output: a key, value or header value that is valid UTF-8 is a JSON string under its
  own name (`"value": "..."`); one that is not is base64 under the name with `_b64` appended
  (`"value_b64": "..."`); null stays `null` under the plain name. Exactly one of the two names is
  present.
- Bytes in text output: UTF-8 as is, with `\\` doubled, tab, newline and carriage return written as
  `\\t`, `\\n`, `\\r`, and each byte that is not valid UTF-8 as `\\xNN`; null prints as `null`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import mmap
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

import attrs
import click

from flyq.codec.index_entry import (
    OFFSET_ENTRY_SIZE,
    TIME_ENTRY_SIZE,
    decode_offset_entry,
    decode_time_entry,
)
from flyq.codec.offsets import CommittedOffset
from flyq.codec.record_batch import (
    decode_batch,
    decode_batch_header,
    verify_batch_crc,
)
from flyq.codec.segment_name import parse_segment_name
from flyq.crash.cli_command import crash_test
from flyq.errors import (
    ChecksumMismatch,
    DecodeError,
    FlyQError,
    InvalidPartition,
    OffsetOutOfRange,
    UnknownGroup,
    UnknownTopic,
)
from flyq.impl.broker_config import CONFIG_ENV, CONFIG_FILE, load_broker_config
from flyq.impl.config import LogConfig
from flyq.impl.groups import OffsetStore
from flyq.impl.log import PartitionLog
from flyq.impl.partitioner import RoundRobinPartitioner
from flyq.impl.topic import Topic, TopicStore, validate_topic_name
from flyq.records import Header, Record, StoredRecord

__all__ = ["cli", "main"]

DEFAULT_DATA_DIR = "./flyq-data"
DEFAULT_BATCH_RECORDS = 1000
DEFAULT_BATCH_BYTES = 1 << 20
# Most records fetched per read call while consuming: bounds memory, not output.
_READ_MAX_RECORDS = 1000
_COMPRESSION_NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
# The consumer-group offset store inside the data directory. `@` is not allowed in a topic name
# (TOPIC-2), so no topic can ever collide with it and `topic list` never shows it.
GROUPS_DIRECTORY = "@consumer_offsets"


class _FlyQGroup(click.Group):
    """Root group: any `FlyQError` below it becomes click's one-line `Error: ...`, exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FlyQError as exc:
            raise click.ClickException(" ".join(str(exc).split())) from exc


def _data_dir_option(function: Any) -> Any:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        envvar="FLYQ_DATA_DIR",
        default=DEFAULT_DATA_DIR,
        show_default=True,
        show_envvar=True,
        help="Directory holding the topics.",
    )(function)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _format_option(function: Any) -> Any:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="text for people, json (one document) for programs.",
    )(function)


@click.group(cls=_FlyQGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar=CONFIG_ENV,
    show_envvar=True,
    help=f"Broker config file (TOML): its [log] table gives the config of new topics.  "
    f"[default: DATA_DIR/{CONFIG_FILE} if it exists]",
)
def cli(config_file: str | None) -> None:
    """FlyQ: a Kafka-inspired log. Topics live in a data directory as partition logs."""


# --- bytes as text and JSON -----------------------------------------------------------------------

_TEXT_ESCAPES = str.maketrans({"\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(data: bytes | None) -> str:
    """Bytes for a human: see the module docstring."""
    if data is None:
        return "null"
    # Doubling backslashes first keeps the `\xNN` that backslashreplace adds unambiguous.
    return data.replace(b"\\", b"\\\\").decode("utf-8", "backslashreplace").translate(_TEXT_ESCAPES)


def _json_bytes(target: dict[str, object], name: str, data: bytes | None) -> None:
    """Put `data` into `target` as `name` (UTF-8 string or null) or `name_b64` (base64)."""
    if data is None:
        target[name] = None
        return
    try:
        target[name] = data.decode("utf-8")
    except UnicodeDecodeError:
        target[name + "_b64"] = base64.b64encode(data).decode("ascii")


def _record_json(partition: int, record: StoredRecord) -> dict[str, object]:
    document: dict[str, object] = {
        "partition": partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
    }
    _json_bytes(document, "key", record.key)
    _json_bytes(document, "value", record.value)
    headers = []
    for header_key, header_value in record.headers:
        header: dict[str, object] = {"key": header_key}
        _json_bytes(header, "value", header_value)
        headers.append(header)
    document["headers"] = headers
    return document


def _headers_text(headers: Iterable[Header]) -> str:
    return ",".join(f"{_text(key.encode('utf-8'))}={_text(value)}" for key, value in headers)


def _record_text(partition: int, record: StoredRecord) -> str:
    fields = [
        f"{partition}:{record.offset}",
        str(record.timestamp),
        _text(record.key),
        _text(record.value),
    ]
    if record.headers:
        fields.append(_headers_text(record.headers))
    return "\t".join(fields)


# --- topics ---------------------------------------------------------------------------------------


@cli.group()
def topic() -> None:
    """Create, list, describe, alter and delete topics."""


_CONFIG_FIELDS = {field.name: field for field in attrs.fields(LogConfig)}


def _parse_config(pairs: tuple[str, ...]) -> dict[str, int | None]:
    """`--config KEY=VALUE` pairs as LogConfig field -> value; LogConfig checks the values."""
    values: dict[str, int | None] = {}
    for pair in pairs:
        key, equals, text = pair.partition("=")
        key = key.strip().replace("-", "_").replace(".", "_")
        if not equals or key not in _CONFIG_FIELDS:
            raise click.BadParameter(
                f"{pair!r}: expected KEY=VALUE with KEY one of {', '.join(_CONFIG_FIELDS)}",
                param_hint="--config",
            )
        if text.strip().lower() in ("none", "null", ""):
            values[key] = None
            continue
        try:
            values[key] = int(text)
        except ValueError:
            raise click.BadParameter(
                f"{pair!r}: {text!r} is not an integer", param_hint="--config"
            ) from None
    return values


@topic.command("create")
@click.argument("name")
@click.option(
    "--partitions", type=int, default=1, show_default=True, help="Number of partitions (>= 1)."
)
@click.option(
    "--config",
    "config_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Log setting, repeatable: segment_bytes, segment_ms, index_interval_bytes, "
    "index_max_bytes, flush_messages, flush_ms (none to unset), max_batch_bytes. Dotted "
    "names (segment.bytes) work too.",
)
@_data_dir_option
@click.pass_context
def topic_create(
    ctx: click.Context, name: str, partitions: int, config_pairs: tuple[str, ...], data_dir: str
) -> None:
    """Create topic NAME with empty partitions.

    Its config is the broker config file's [log] table (see `flyq --help`) with --config on top;
    the result is stored in the topic's topic.json.
    """
    validate_topic_name(name)
    if name == CONFIG_FILE:
        # DATA_DIR/flyq.toml is the broker config file, not a topic directory.
        raise click.UsageError(f"{name!r} is reserved for the broker config file")
    changes = _parse_config(config_pairs)
    defaults = load_broker_config(data_dir, ctx.find_root().params.get("config_file"))
    config = LogConfig(**{**attrs.asdict(defaults), **changes})
    TopicStore(data_dir).create(name, partitions, config)
    click.echo(f"Created topic {name!r} with {partitions} partition(s) in {data_dir}.")


@topic.command("alter")
@click.argument("name")
@click.option(
    "--config",
    "config_pairs",
    multiple=True,
    required=True,
    metavar="KEY=VALUE",
    help="Log setting to change, repeatable; same keys as `topic create`.",
)
@_data_dir_option
def topic_alter(name: str, config_pairs: tuple[str, ...], data_dir: str) -> None:
    """Change the stored config of topic NAME; it applies when its partition logs next open."""
    changes = _parse_config(config_pairs)
    config = attrs.asdict(TopicStore(data_dir).alter(name, changes).config)
    click.echo(f"Altered topic {name!r}: " + " ".join(f"{key}={config[key]}" for key in changes))


@topic.command("list")
@_format_option
@_data_dir_option
def topic_list(output_format: str, data_dir: str) -> None:
    """Print the name of every topic, one per line (json: an array of names)."""
    names = TopicStore(data_dir).list()
    if output_format == "json":
        click.echo(json.dumps(names))
        return
    for name in names:
        click.echo(name)


def _table(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Print `rows` as left-aligned columns under upper-case headings; None prints as `-`."""
    cells = [["-" if row[column] is None else str(row[column]) for column in columns] for row in rows]
    widths = [
        max([len(column), *(len(cell[index]) for cell in cells)])
        for index, column in enumerate(columns)
    ]
    click.echo(
        "  ".join(column.upper().ljust(width) for column, width in zip(columns, widths, strict=True))
    )
    for cell in cells:
        click.echo(
            "  ".join(text.ljust(width) for text, width in zip(cell, widths, strict=True)).rstrip()
        )


@topic.command("describe")
@click.argument("name")
@_format_option
@_data_dir_option
def topic_describe(name: str, output_format: str, data_dir: str) -> None:
    """Show a topic's settings and each partition's offsets and size."""
    description = TopicStore(data_dir).describe(name)
    metadata = description.metadata
    rows = [attrs.asdict(partition) for partition in description.partitions]
    if output_format == "json":
        document = {
            "name": metadata.name,
            "created_ms": metadata.created_ms,
            "config": attrs.asdict(metadata.config),
            "partitions": rows,
        }
        click.echo(json.dumps(document))
        return
    click.echo(
        f"Topic: {metadata.name}  Partitions: {metadata.partitions}  "
        f"CreatedMs: {metadata.created_ms}"
    )
    config = attrs.asdict(metadata.config)
    click.echo("Config: " + " ".join(f"{key}={value}" for key, value in config.items()))
    columns = (
        "partition",
        "log_start_offset",
        "high_watermark",
        "log_end_offset",
        "durable_offset",
        "segments",
        "size_bytes",
    )
    _table(columns, rows)


def _topic_names(store: TopicStore, name: str | None) -> list[str]:
    return [name] if name is not None else store.list()


@cli.command()
@click.argument("topic_name", metavar="[TOPIC]", required=False)
@click.option("--verify", is_flag=True, help="Also compare every index with a rebuild from its log.")
@_format_option
@_data_dir_option
def health(topic_name: str | None, verify: bool, output_format: str, data_dir: str) -> None:
    """Show each partition's state, watermarks, segments, indexes and last recovery."""
    store = TopicStore(data_dir)
    rows: list[dict[str, Any]] = []
    for name in _topic_names(store, topic_name):
        with store.open(name) as opened:
            for partition in range(opened.partitions):
                report = opened.partition(partition).health(verify=verify)
                row = {"topic": name, "partition": partition, **attrs.asdict(report)}
                rows.append(row)
    if output_format == "json":
        click.echo(json.dumps(rows, default=str))
        return
    columns = ("topic", "partition", "state", "segment_count", "total_bytes", "log_start_offset",
               "high_watermark", "log_end_offset", "durable_offset", "offset_index_entries",
               "time_index_entries")
    _table(columns, [{key: row.get(key) for key in columns} for row in rows])
    for row in rows:
        recovery = row["recovery_report"]
        problems = "; ".join(recovery["problems"]) if recovery["problems"] else "none"
        check = row["index_check"]
        index_state = ("not verified" if check is None else
                       "match a rebuild" if not check["mismatches"] else
                       "DIFFER: " + "; ".join(check["mismatches"]))
        repairs = row["index_repairs"]
        repaired = "" if not repairs else (
            f"; {len(repairs)} index repair(s), last: {repairs[-1]['path']} found damaged "
            f"({repairs[-1]['reason']}) and rebuilt")
        click.echo(f"{row['topic']}-{row['partition']}: opened "
                   f"{'cleanly' if recovery['clean'] else 'after recovery'}, problems: {problems}; "
                   f"indexes {index_state}{repaired}")


@cli.group()
def retention() -> None:
    """Delete whole old segments by each topic's retention_ms and retention_bytes."""


@retention.command("run")
@click.argument("topic_name", metavar="[TOPIC]", required=False)
@_format_option
@_data_dir_option
def retention_run(topic_name: str | None, output_format: str, data_dir: str) -> None:
    """Apply retention now to one topic or all of them."""
    store = TopicStore(data_dir)
    rows: list[dict[str, Any]] = []
    for name in _topic_names(store, topic_name):
        with store.open(name) as opened:
            for partition in range(opened.partitions):
                result = opened.partition(partition).apply_retention()
                rows.append({"topic": name, "partition": partition, **attrs.asdict(result)})
    if output_format == "json":
        click.echo(json.dumps(rows))
        return
    _table(("topic", "partition", "segments_deleted", "bytes_freed", "log_start_offset"), rows)


@topic.command("delete")
@click.argument("name")
@_data_dir_option
def topic_delete(name: str, data_dir: str) -> None:
    """Delete topic NAME and all its records."""
    TopicStore(data_dir).delete(name)
    click.echo(f"Deleted topic {name!r}.")


# --- produce --------------------------------------------------------------------------------------


def _parse_headers(pairs: tuple[str, ...]) -> tuple[Header, ...]:
    headers: list[Header] = []
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals:
            raise click.BadParameter(f"{pair!r}: expected KEY=VALUE", param_hint="--header")
        headers.append((key, value.encode("utf-8")))
    return tuple(headers)


def _least_filled_partition(topic: Topic) -> int:
    """Where a round robin of null-key records starts: spreads repeated small produces evenly."""
    ends = [topic.partition(partition).log_end_offset for partition in range(topic.partitions)]
    return ends.index(min(ends))


@attrs.define
class _ProduceTally:
    records: int = 0
    batches: int = 0
    per_partition: dict[int, int] = attrs.field(factory=dict)
    last: tuple[int, int] | None = None  # (partition, offset) of the last record appended

    def append(self, topic: Topic, records: list[Record], partition: int | None) -> None:
        for target, result in topic.append(records, partition):
            count = result.last_offset - result.base_offset + 1
            self.records += count
            self.batches += 1
            self.per_partition[target] = self.per_partition.get(target, 0) + count
            self.last = (target, result.last_offset)


def _stdin_lines(stream: BinaryIO) -> Iterator[bytes]:
    for raw in stream:
        line = raw[:-1] if raw.endswith(b"\n") else raw
        yield line[:-1] if line.endswith(b"\r") else line


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
    "--header",
    "header_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Header of every record, repeatable.",
)
@click.option(
    "--partition",
    type=click.IntRange(min=0),
    help="Send every record to this partition instead of choosing by key.",
)
@click.option(
    "--timestamp",
    type=click.IntRange(min=0),
    help="Timestamp (ms since the epoch) of every record.  [default: now]",
)
@click.option(
    "--batch-records",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_RECORDS,
    show_default=True,
    help="Most stdin lines per append call.",
)
@click.option(
    "--batch-bytes",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_BYTES,
    show_default=True,
    help="Most stdin bytes per append call.",
)
@_data_dir_option
def produce(
    topic_name: str,
    value: str | None,
    key: str | None,
    key_separator: str | None,
    header_pairs: tuple[str, ...],
    partition: int | None,
    timestamp: int | None,
    batch_records: int,
    batch_bytes: int,
    data_dir: str,
) -> None:
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
    separator = key_separator.encode("utf-8") if key_separator is not None else None
    tally = _ProduceTally()
    round_robin = RoundRobinPartitioner()
    with TopicStore(data_dir).open(topic_name, round_robin=round_robin) as topic:
        if fixed_key is None and separator is None and partition is None:
            round_robin.set_next(topic_name, _least_filled_partition(topic))

        def stamp() -> int:
            return timestamp if timestamp is not None else _now_ms()

        if value is not None:
            record = Record(
                value=value.encode("utf-8"), key=fixed_key, headers=headers, timestamp=stamp()
            )
            tally.append(topic, [record], partition)
        else:
            stdin = sys.stdin.buffer
            if stdin.isatty():
                batch_records = 1
                click.echo("Type one record per line; end with Ctrl-D.", err=True)
            pending: list[Record] = []
            pending_bytes = 0
            for number, line in enumerate(_stdin_lines(stdin), start=1):
                record_key, record_value = fixed_key, line
                if separator is not None:
                    record_key, found, record_value = line.partition(separator)
                    if not found:
                        if pending:
                            tally.append(topic, pending, partition)
                        raise click.ClickException(
                            f"line {number} has no key separator {key_separator!r}; "
                            f"the {tally.records} record(s) before it were produced"
                        )
                pending.append(
                    Record(value=record_value, key=record_key, headers=headers, timestamp=stamp())
                )
                pending_bytes += len(line)
                if len(pending) >= batch_records or pending_bytes >= batch_bytes:
                    tally.append(topic, pending, partition)
                    pending, pending_bytes = [], 0
            if pending:
                tally.append(topic, pending, partition)
    _report_produce(topic_name, tally)


def _report_produce(topic_name: str, tally: _ProduceTally) -> None:
    if tally.records == 1 and tally.last is not None:
        target, offset = tally.last
        click.echo(f"Produced 1 record to {topic_name}-{target} at offset {offset}.", err=True)
        return
    spread = ", ".join(
        f"partition {target}: {count}" for target, count in sorted(tally.per_partition.items())
    )
    click.echo(
        f"Produced {tally.records} record(s) to {topic_name!r} in {tally.batches} batch(es)"
        + (f" ({spread})." if spread else "."),
        err=True,
    )


# --- consume --------------------------------------------------------------------------------------


@attrs.frozen
class _Span:
    """Which records of one partition to print: from `start`, in one direction, at most `limit`."""

    start: int
    backward: bool
    limit: int | None = None


def _span(
    log: PartitionLog,
    topic_name: str,
    partition: int,
    *,
    offset: int | None,
    timestamp: int | None,
    tail: int | None,
    backward: bool,
) -> _Span | None:
    """The records `consume` prints from one partition, or None when there are none."""
    start_offset, end_offset = log.log_start_offset, log.log_end_offset
    if offset is not None:
        upper = end_offset - 1 if backward else end_offset
        if not start_offset <= offset <= upper:
            valid = (
                "a backward read starts at an offset in [log_start_offset, log_end_offset)"
                if backward
                else "a read starts at an offset in [log_start_offset, log_end_offset]"
            )
            raise OffsetOutOfRange(
                offset,
                log_start_offset=start_offset,
                log_end_offset=end_offset,
                valid=valid,
                topic=topic_name,
                partition=partition,
            )
        return _Span(offset, backward)
    if timestamp is not None:
        found = log.offset_for_timestamp(timestamp)
        if not backward:
            return None if found is None else _Span(found, backward=False)
        # Backward from a time: the records before the first one at or after it, newest first.
        first_after = end_offset if found is None else found
        return _Span(first_after - 1, True) if first_after > start_offset else None
    if start_offset == end_offset:
        return None
    if tail is not None:
        if backward:
            return _Span(end_offset - 1, True, tail)
        return _Span(max(start_offset, end_offset - tail), False)
    return _Span(end_offset - 1, True) if backward else _Span(start_offset, False)


def _read_span(log: PartitionLog, span: _Span, remaining: int | None) -> Iterator[StoredRecord]:
    """Records of `span`, a bounded read at a time; stops at the `log_end_offset` seen at first."""
    limit = span.limit if remaining is None or span.limit is None else min(span.limit, remaining)
    if limit is None:
        limit = remaining
    if span.backward:
        stop = log.log_start_offset
        offset = span.start
        while offset >= stop and (limit is None or limit > 0):
            count = _READ_MAX_RECORDS if limit is None else min(_READ_MAX_RECORDS, limit)
            records = log.read_backward(offset, max_records=count)
            if not records:
                return
            yield from records
            if limit is not None:
                limit -= len(records)
            offset = records[-1].offset - 1
    else:
        end = log.log_end_offset
        offset = span.start
        while offset < end and (limit is None or limit > 0):
            count = min(_READ_MAX_RECORDS, end - offset)
            if limit is not None:
                count = min(count, limit)
            records = log.read(offset, max_records=count)
            if not records:
                return
            yield from records
            if limit is not None:
                limit -= len(records)
            offset = records[-1].offset + 1


@cli.command()
@click.argument("topic_name", metavar="TOPIC")
@click.option(
    "--partition",
    type=click.IntRange(min=0),
    help="Read only this partition.  [default: all, one after the other]",
)
@click.option(
    "--from-beginning",
    is_flag=True,
    help="Start at each partition's log_start_offset (the default when reading forward).",
)
@click.option(
    "--offset",
    type=click.IntRange(min=0),
    help="Start at this offset (needs --partition). With --backward, read it and the "
    "records below it.",
)
@click.option(
    "--timestamp",
    type=click.IntRange(min=0),
    help="Start at the first record whose timestamp (ms) is >= this. With --backward, "
    "print the records before that one instead.",
)
@click.option(
    "--tail", type=click.IntRange(min=1), help="Only the last N records of each partition."
)
@click.option(
    "--backward",
    is_flag=True,
    help="Newest first; starts at the newest record unless --offset or --timestamp says otherwise.",
)
@click.option(
    "--max",
    "max_records",
    type=click.IntRange(min=1),
    help="Stop after this many records in total.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
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
    "--reset",
    type=click.Choice(["earliest", "latest", "error"]),
    help="With --group, where a partition starts when the group has no committed offset for it "
    "or it lies outside [log_start_offset, log_end_offset]: earliest (log_start_offset), latest "
    "(log_end_offset) or error (exit 1).  [default: earliest]",
)
@_data_dir_option
def consume(
    topic_name: str,
    partition: int | None,
    from_beginning: bool,
    offset: int | None,
    timestamp: int | None,
    tail: int | None,
    backward: bool,
    max_records: int | None,
    output_format: str,
    group: str | None,
    reset: str | None,
    data_dir: str,
) -> None:
    """Print the records of TOPIC and exit (it does not wait for new ones)."""
    if group is not None:
        given = [
            name
            for name, on in (
                ("--from-beginning", from_beginning),
                ("--offset", offset is not None),
                ("--timestamp", timestamp is not None),
                ("--tail", tail is not None),
                ("--backward", backward),
            )
            if on
        ]
        if given:
            raise click.UsageError(
                f"--group starts at the group's committed offsets; it cannot be combined with "
                f"{', '.join(given)} (move the group with `flyq groups reset-offsets`)"
            )
        _consume_group(
            data_dir, topic_name, group, reset or "earliest", partition, max_records, output_format
        )
        return
    if reset is not None:
        raise click.UsageError("--reset applies to --group only")
    chosen = [
        name
        for name, given in (
            ("--from-beginning", from_beginning),
            ("--offset", offset is not None),
            ("--timestamp", timestamp is not None),
            ("--tail", tail is not None),
        )
        if given
    ]
    if len(chosen) > 1:
        raise click.UsageError(f"choose one start position, not {' and '.join(chosen)}")
    if from_beginning and backward:
        raise click.UsageError("--from-beginning reads forward; drop it or --backward")
    if offset is not None and partition is None:
        raise click.UsageError("--offset needs --partition: offsets are per partition")
    out = sys.stdout.buffer
    printed = 0
    with TopicStore(data_dir).open(topic_name) as topic:
        partitions = range(topic.partitions) if partition is None else [partition]
        for number in partitions:
            log = topic.partition(number)
            span = _span(
                log,
                topic_name,
                number,
                offset=offset,
                timestamp=timestamp,
                tail=tail,
                backward=backward,
            )
            if span is None:
                continue
            remaining = None if max_records is None else max_records - printed
            for record in _read_span(log, span, remaining):
                _write_record(out, number, record, output_format)
                printed += 1
            if max_records is not None and printed >= max_records:
                break
    out.flush()
    click.echo(f"Consumed {printed} record(s) from {topic_name!r}.", err=True)


def _write_record(out: BinaryIO, partition: int, record: StoredRecord, output_format: str) -> None:
    if output_format == "json":
        line = json.dumps(_record_json(partition, record), ensure_ascii=False)
    else:
        line = _record_text(partition, record)
    out.write(line.encode("utf-8", "surrogateescape") + b"\n")


def _open_offsets(data_dir: str) -> OffsetStore:
    """The data directory's consumer-group offset store, created on first use."""
    return OffsetStore.open(os.path.join(data_dir, GROUPS_DIRECTORY))


def _group_start(
    store: OffsetStore, group: str, topic_name: str, partition: int, log: PartitionLog, reset: str
) -> int:
    """Where `group` starts reading `partition` (GRP-CLI-1)."""
    start_offset, end_offset = log.log_start_offset, log.log_end_offset
    committed = store.fetch(group, topic_name, partition)
    if committed is not None and start_offset <= committed.offset <= end_offset:
        return committed.offset
    if reset == "earliest":
        return start_offset
    if reset == "latest":
        return end_offset
    valid = f"valid offsets are [{start_offset}, {end_offset}] (log_start_offset, log_end_offset)"
    if committed is None:
        raise click.ClickException(
            f"group {group!r} has no committed offset for {topic_name}-{partition} and --reset is "
            f"error; {valid}"
        )
    raise OffsetOutOfRange(
        committed.offset,
        log_start_offset=start_offset,
        log_end_offset=end_offset,
        valid=f"group {group!r} committed it and --reset is error; {valid}",
        topic=topic_name,
        partition=partition,
    )


def _consume_group(
    data_dir: str,
    topic_name: str,
    group: str,
    reset: str,
    partition: int | None,
    max_records: int | None,
    output_format: str,
) -> None:
    """`consume --group`: print from the committed offsets, then commit durably (GRP-CLI-1..2)."""
    out = sys.stdout.buffer
    printed = 0
    with TopicStore(data_dir).open(topic_name) as topic, _open_offsets(data_dir) as store:
        partitions = range(topic.partitions) if partition is None else [partition]
        # Every start is resolved before anything is printed, so --reset error prints nothing.
        starts = {
            number: _group_start(store, group, topic_name, number, topic.partition(number), reset)
            for number in partitions
        }
        positions: dict[int, int] = {}
        for number, start in starts.items():
            if max_records is not None and printed >= max_records:
                break
            log = topic.partition(number)
            position = start
            remaining = None if max_records is None else max_records - printed
            for record in _read_span(log, _Span(start, backward=False), remaining):
                _write_record(out, number, record, output_format)
                printed += 1
                position = record.offset + 1
            positions[number] = position
        out.flush()
        for number, position in positions.items():
            committed = store.fetch(group, topic_name, number)
            if committed is None or committed.offset != position:
                store.commit(group, topic_name, number, position)
        store.flush()
    click.echo(
        f"Consumed {printed} record(s) from {topic_name!r}; committed group {group!r}.", err=True
    )


# --- consumer groups ------------------------------------------------------------------------------


@cli.group("groups")
def groups_group() -> None:
    """List and describe consumer groups, and move their committed offsets."""


def _high_watermark(log: PartitionLog) -> int:
    """The high watermark; on one node with no replication it is the log_end_offset."""
    value = getattr(log, "high_watermark", None)
    return log.log_end_offset if value is None else int(value)


@groups_group.command("list")
@_format_option
@_data_dir_option
def groups_list(output_format: str, data_dir: str) -> None:
    """Print every group with a committed offset, one per line (json: an array of ids)."""
    names: list[str] = []
    if os.path.isdir(os.path.join(data_dir, GROUPS_DIRECTORY)):
        with _open_offsets(data_dir) as store:
            names = store.groups()
    if output_format == "json":
        click.echo(json.dumps(names))
        return
    for name in names:
        click.echo(name)


def _group_rows(data_dir: str, group: str) -> list[dict[str, Any]]:
    """One row per (topic, partition) `group` committed, with the partition's offsets and lag."""
    committed: dict[tuple[str, int], CommittedOffset] = {}
    if os.path.isdir(os.path.join(data_dir, GROUPS_DIRECTORY)):
        with _open_offsets(data_dir) as store:
            committed = store.describe(group)
    if not committed:
        raise UnknownGroup(group)
    rows: list[dict[str, Any]] = []
    topics = TopicStore(data_dir)
    by_topic: dict[str, list[tuple[int, int]]] = {}
    for (topic_name, partition), value in committed.items():
        by_topic.setdefault(topic_name, []).append((partition, value.offset))
    for topic_name, entries in by_topic.items():
        try:
            topic: Topic | None = topics.open(topic_name)
        except UnknownTopic:
            topic = None  # deleted since the group committed: its offsets stay, with no lag
        try:
            for partition, offset in entries:
                row: dict[str, Any] = {
                    "topic": topic_name,
                    "partition": partition,
                    "committed_offset": offset,
                    "log_start_offset": None,
                    "log_end_offset": None,
                    "high_watermark": None,
                    "lag": None,
                }
                if topic is not None and partition < topic.partitions:
                    log = topic.partition(partition)
                    high_watermark = _high_watermark(log)
                    row["log_start_offset"] = log.log_start_offset
                    row["log_end_offset"] = log.log_end_offset
                    row["high_watermark"] = high_watermark
                    row["lag"] = high_watermark - offset
                rows.append(row)
        finally:
            if topic is not None:
                topic.close()
    return rows


@groups_group.command("describe")
@click.argument("group")
@_format_option
@_data_dir_option
def groups_describe(group: str, output_format: str, data_dir: str) -> None:
    """Show GROUP's committed offset, the log end and the lag of each partition it committed.

    lag = high_watermark - committed_offset (on one node the high watermark is the
    log_end_offset). A topic deleted since the commit shows `-` (json: null) for the rest.
    """
    rows = _group_rows(data_dir, group)
    if output_format == "json":
        click.echo(json.dumps({"group": group, "partitions": rows}))
        return
    click.echo(f"Group: {group}")
    _table(
        (
            "topic",
            "partition",
            "committed_offset",
            "log_start_offset",
            "log_end_offset",
            "high_watermark",
            "lag",
        ),
        rows,
    )


@groups_group.command("reset-offsets")
@click.argument("group")
@click.option("--topic", "topic_name", required=True, help="Topic whose offsets to move.")
@click.option(
    "--partition",
    type=click.IntRange(min=0),
    help="Only this partition.  [default: every partition of the topic]",
)
@click.option(
    "--to-offset",
    type=click.IntRange(min=0),
    help="This offset (in [log_start_offset, log_end_offset]).",
)
@click.option("--to-earliest", is_flag=True, help="Each partition's log_start_offset.")
@click.option("--to-latest", is_flag=True, help="Each partition's log_end_offset.")
@click.option(
    "--to-timestamp",
    type=click.IntRange(min=0),
    metavar="MS",
    help="The first record with timestamp >= MS (the log_end_offset when there is none).",
)
@_data_dir_option
def groups_reset_offsets(
    group: str,
    topic_name: str,
    partition: int | None,
    to_offset: int | None,
    to_earliest: bool,
    to_latest: bool,
    to_timestamp: int | None,
    data_dir: str,
) -> None:
    """Set GROUP's committed offsets on a topic, durably; prints each old and new offset."""
    chosen = [
        name
        for name, given in (
            ("--to-offset", to_offset is not None),
            ("--to-earliest", to_earliest),
            ("--to-latest", to_latest),
            ("--to-timestamp", to_timestamp is not None),
        )
        if given
    ]
    if len(chosen) != 1:
        raise click.UsageError(
            "choose exactly one of --to-offset, --to-earliest, --to-latest, --to-timestamp"
            + (f", not {' and '.join(chosen)}" if chosen else "")
        )
    with TopicStore(data_dir).open(topic_name) as topic:
        if partition is not None and partition >= topic.partitions:
            raise InvalidPartition(topic_name, partition, topic.partitions)
        partitions = range(topic.partitions) if partition is None else [partition]
        targets: dict[int, int] = {}
        # Every target is checked before any commit, so a refused reset changes nothing.
        for number in partitions:
            log = topic.partition(number)
            start_offset, end_offset = log.log_start_offset, log.log_end_offset
            if to_offset is not None:
                if not start_offset <= to_offset <= end_offset:
                    raise OffsetOutOfRange(
                        to_offset,
                        log_start_offset=start_offset,
                        log_end_offset=end_offset,
                        valid="a committed offset lies in [log_start_offset, log_end_offset]",
                        topic=topic_name,
                        partition=number,
                    )
                targets[number] = to_offset
            elif to_earliest:
                targets[number] = start_offset
            elif to_latest:
                targets[number] = end_offset
            else:
                assert to_timestamp is not None
                found = log.offset_for_timestamp(to_timestamp)
                targets[number] = end_offset if found is None else found
        with _open_offsets(data_dir) as store:
            old = {number: store.fetch(group, topic_name, number) for number in targets}
            for number, target in targets.items():
                store.commit(group, topic_name, number, target)
            store.flush()
    for number, target in targets.items():
        before = old[number]
        shown = "-" if before is None else str(before.offset)
        click.echo(f"{group} {topic_name}-{number}: {shown} -> {target}")


# --- log files ------------------------------------------------------------------------------------


@cli.group("log")
def log_group() -> None:
    """Inspect segment files (.log, .index, .timeindex) directly, like kafka-dump-log."""


@contextlib.contextmanager
def _mapped(path: str) -> Iterator[memoryview]:
    """The bytes of `path`, read-only and memory-mapped so a large segment is not copied."""
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) if size else None
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from exc
    if mapping is None:
        yield memoryview(b"")
        return
    view = memoryview(mapping)
    try:
        yield view
    finally:
        view.release()
        # Slices of the view die with the frames that made them; if one is still alive (held by
        # a traceback), the map closes when it is collected instead.
        with contextlib.suppress(BufferError):
            mapping.close()


def _file_kind(path: str) -> str:
    for suffix in (".timeindex", ".index", ".log"):
        if path.endswith(suffix):
            return suffix
    raise click.ClickException(
        f"cannot tell what {path} holds: expected a name ending in .log, .index or .timeindex"
    )


def _segment_base(path: str) -> int | None:
    try:
        base_offset, _ = parse_segment_name(os.path.basename(path))
    except DecodeError:
        return None
    return base_offset


def _dump_batches(view: memoryview, path: str, records: bool, out: BinaryIO) -> str | None:
    """Write one line per batch (and per record); the first framing problem, or None."""
    position = 0
    while position < len(view):
        try:
            header = decode_batch_header(view, position, source=path)
        except DecodeError as exc:
            return f"batch at byte {position}: {exc}"
        try:
            verify_batch_crc(view, position, header, source=path)
            crc_valid = True
        except ChecksumMismatch:
            crc_valid = False
        compression = _COMPRESSION_NAMES.get(header.compression, str(header.compression))
        out.write(
            f"position: {position} baseOffset: {header.base_offset} "
            f"lastOffset: {header.last_offset} count: {header.records_count} "
            f"size: {header.size} crcValid: {str(crc_valid).lower()} "
            f"maxTimestamp: {header.max_timestamp} baseTimestamp: {header.base_timestamp} "
            f"compression: {compression} isTransactional: {str(header.is_transactional).lower()} "
            f"crc: 0x{header.crc:08x}\n".encode()
        )
        if records:
            try:
                batch = decode_batch(view, position, verify_crc=False, source=path)
            except DecodeError as exc:
                return f"records of the batch at byte {position}: {exc}"
            for record in batch.records:
                key_size = -1 if record.key is None else len(record.key)
                value_size = -1 if record.value is None else len(record.value)
                out.write(
                    f"| offset: {record.offset} timestamp: {record.timestamp} "
                    f"keySize: {key_size} valueSize: {value_size} "
                    f"headers: [{_headers_text(record.headers)}] key: {_text(record.key)} "
                    f"value: {_text(record.value)}\n".encode("utf-8", "surrogateescape")
                )
        position += header.size
    return None


def _used_entries(view: memoryview, entry_size: int) -> tuple[int, int]:
    """(entries to show, trailing all-zero entries): zero entries past the first are unused space.

    An active segment's index is preallocated with zeros; IDX-2/IDX-3 make a zero entry after the
    first impossible, so a trailing run of them is unused space, not data.
    """
    whole = len(view) // entry_size
    used = whole
    zero = bytes(entry_size)
    while used > 1 and view[(used - 1) * entry_size : used * entry_size] == zero:
        used -= 1
    return used, whole - used


def _index_entries(
    view: memoryview, suffix: str, count: int
) -> Iterator[tuple[int, tuple[int, int]]]:
    size = OFFSET_ENTRY_SIZE if suffix == ".index" else TIME_ENTRY_SIZE
    decode = decode_offset_entry if suffix == ".index" else decode_time_entry
    for index in range(count):
        yield index * size, decode(view, index * size)


def _dump_index(view: memoryview, path: str, suffix: str, out: BinaryIO) -> None:
    base = _segment_base(path) or 0
    size = OFFSET_ENTRY_SIZE if suffix == ".index" else TIME_ENTRY_SIZE
    used, unused = _used_entries(view, size)
    for position, (first, second) in _index_entries(view, suffix, used):
        if suffix == ".index":
            line = (
                f"position: {position} offset: {base + first} relativeOffset: {first} "
                f"batchPosition: {second}"
            )
        else:
            line = (
                f"position: {position} timestamp: {first} offset: {base + second} "
                f"relativeOffset: {second}"
            )
        out.write(line.encode() + b"\n")
    if unused:
        out.write(
            f"{unused} all-zero entries from byte {used * size} to the end "
            "(preallocated, unused)\n".encode()
        )
    if len(view) % size:
        out.write(
            f"{len(view) % size} bytes at byte {len(view) - len(view) % size} do not make "
            f"a whole {size}-byte entry\n".encode()
        )


@log_group.command("dump")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--records", is_flag=True, help="Also print every record of each batch.")
def log_dump(path: str, records: bool) -> None:
    """Decode a segment file, like kafka-dump-log.

    For a .log, one line per batch: position, baseOffset, lastOffset, count, size, crcValid,
    maxTimestamp, baseTimestamp, compression, isTransactional, crc; with --records, one line per
    record too. For a .index or .timeindex, one line per entry. Exits 1 at a batch whose framing
    cannot be decoded, after printing the ones before it.
    """
    suffix = _file_kind(path)
    out = sys.stdout.buffer
    out.write(f"Dumping {path}\n".encode("utf-8", "surrogateescape"))
    problem = None
    with _mapped(path) as view:
        if suffix == ".log":
            problem = _dump_batches(view, path, records, out)
        else:
            _dump_index(view, path, suffix, out)
    out.flush()
    if problem is not None:
        raise click.ClickException(problem)


@attrs.define
class _LogCheck:
    batches: int = 0
    records: int = 0
    first_base_offset: int | None = None
    next_offset: int | None = None


def _verify_batches(view: memoryview, path: str, check: _LogCheck) -> str | None:
    """The first problem of a .log (framing, CRC, record encoding, offsets), or None."""
    base = _segment_base(path)
    position = 0
    while position < len(view):
        try:
            batch = decode_batch(view, position, verify_crc=True, source=path)
        except DecodeError as exc:
            return f"first problem at byte {exc.position} (batch at byte {position}): {exc}"
        header = batch.header
        if base is not None and header.base_offset < base:
            return (
                f"first problem at byte {position}: batch base offset {header.base_offset} "
                f"is below the segment's base offset {base} (from the file name)"
            )
        if check.next_offset is not None and header.base_offset != check.next_offset:
            return (
                f"first problem at byte {position}: batch base offset {header.base_offset}, "
                f"expected {check.next_offset} (offsets are dense and increasing, LOG-2)"
            )
        if check.first_base_offset is None:
            check.first_base_offset = header.base_offset
        check.batches += 1
        check.records += header.records_count
        check.next_offset = header.next_offset
        position += header.size
    return None


def _verify_index(view: memoryview, suffix: str) -> tuple[int, str | None]:
    """(entries checked, first problem or None) of an index file (IDX-2, IDX-3)."""
    size = OFFSET_ENTRY_SIZE if suffix == ".index" else TIME_ENTRY_SIZE
    if len(view) % size:
        return 0, (
            f"first problem at byte {len(view) - len(view) % size}: the file is "
            f"{len(view)} bytes, not a whole number of {size}-byte entries"
        )
    used, _ = _used_entries(view, size)
    previous: tuple[int, int] | None = None
    for position, entry in _index_entries(view, suffix, used):
        if previous is not None:
            if suffix == ".index" and not (entry[0] > previous[0] and entry[1] > previous[1]):
                return used, (
                    f"first problem at byte {position}: entry (relative offset "
                    f"{entry[0]}, position {entry[1]}) does not increase on "
                    f"{previous} in both (IDX-2)"
                )
            if suffix == ".timeindex" and not (entry[0] > previous[0] and entry[1] >= previous[1]):
                return used, (
                    f"first problem at byte {position}: entry (timestamp {entry[0]}, "
                    f"relative offset {entry[1]}) does not follow {previous}: "
                    "timestamps must increase, offsets not decrease (IDX-3)"
                )
        previous = entry
    return used, None


@log_group.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def log_verify(path: str) -> None:
    """Check a segment file; exit 0 if it is sound, else 1 naming the byte of the first problem.

    For a .log: every batch's framing, CRC-32C and record encoding, and that offsets are dense
    and increasing from batch to batch. For a .index/.timeindex: entry size and ordering.
    """
    suffix = _file_kind(path)
    with _mapped(path) as view:
        size = len(view)
        if suffix == ".log":
            check = _LogCheck()
            problem = _verify_batches(view, path, check)
            found = f"{check.batches} batch(es), {check.records} record(s)"
            if check.first_base_offset is not None and check.next_offset is not None:
                found += f", offsets {check.first_base_offset}..{check.next_offset - 1}"
        else:
            entries, problem = _verify_index(view, suffix)
            found = f"{entries} entries"
    if problem is not None:
        raise click.ClickException(f"{path}: {problem}")
    click.echo(f"OK {path}: {found}, {size} bytes")


cli.add_command(crash_test)


def main() -> None:
    """Entry point of the `flyq` command (and `python -m flyq`)."""
    # flyq.impl reports what an unclean open recovered as warnings; show them as one-liners.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        cli.main(prog_name="flyq")
    except BrokenPipeError:
        # The reader went away (`flyq consume ... | head`): stop quietly, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
