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
from flyq.codec.record_batch import (
    decode_batch,
    decode_batch_header,
    verify_batch_crc,
)
from flyq.codec.segment_name import parse_segment_name
from flyq.crash.cli_command import crash_test
from flyq.errors import ChecksumMismatch, DecodeError, FlyQError, OffsetOutOfRange
from flyq.impl.config import LogConfig
from flyq.impl.log import PartitionLog
from flyq.impl.partitioner import RoundRobinPartitioner
from flyq.impl.topic import Topic, TopicStore
from flyq.records import Header, Record, StoredRecord

__all__ = ["cli", "main"]

DEFAULT_DATA_DIR = "./flyq-data"
DEFAULT_BATCH_RECORDS = 1000
DEFAULT_BATCH_BYTES = 1 << 20
# Most records fetched per read call while consuming: bounds memory, not output.
_READ_MAX_RECORDS = 1000
_COMPRESSION_NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


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


@click.group(cls=_FlyQGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
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
    """Create, list, describe and delete topics."""


_CONFIG_FIELDS = {field.name: field for field in attrs.fields(LogConfig)}


def _parse_config(pairs: tuple[str, ...]) -> LogConfig:
    values: dict[str, Any] = {}  # int or None; LogConfig's validators check each value
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
    return LogConfig(**values)


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
def topic_create(name: str, partitions: int, config_pairs: tuple[str, ...], data_dir: str) -> None:
    """Create topic NAME with empty partitions."""
    config = _parse_config(config_pairs)
    TopicStore(data_dir).create(name, partitions, config)
    click.echo(f"Created topic {name!r} with {partitions} partition(s) in {data_dir}.")


@topic.command("list")
@_data_dir_option
def topic_list(data_dir: str) -> None:
    """Print the name of every topic, one per line."""
    for name in TopicStore(data_dir).list():
        click.echo(name)


@topic.command("describe")
@click.argument("name")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
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
        "log_end_offset",
        "durable_offset",
        "segments",
        "size_bytes",
    )
    widths = [max(len(column), *(len(str(row[column])) for row in rows)) for column in columns]
    click.echo(
        "  ".join(
            column.upper().ljust(width) for column, width in zip(columns, widths, strict=True)
        )
    )
    for row in rows:
        click.echo(
            "  ".join(
                str(row[column]).ljust(width) for column, width in zip(columns, widths, strict=True)
            ).rstrip()
        )


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
    data_dir: str,
) -> None:
    """Print the records of TOPIC and exit (it does not wait for new ones)."""
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
                if output_format == "json":
                    line = json.dumps(_record_json(number, record), ensure_ascii=False)
                else:
                    line = _record_text(number, record)
                out.write(line.encode("utf-8", "surrogateescape") + b"\n")
                printed += 1
            if max_records is not None and printed >= max_records:
                break
    out.flush()
    click.echo(f"Consumed {printed} record(s) from {topic_name!r}.", err=True)


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
