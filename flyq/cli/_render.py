"""Everything the CLI prints: bytes as text and JSON, records, tables, the --format option.

- Data goes to stdout, summaries and errors to stderr. (The progress bar, drawn only on a terminal's
  stderr, is `flyq/cli/_progress.py`.)
- Bytes in JSON output: a key, value or header value that is valid UTF-8 is a JSON string under its
  own name (`"value": "..."`); one that is not is base64 under the name with `_b64` appended
  (`"value_b64": "..."`); null stays `null` under the plain name. Exactly one of the two names is
  present.
- Bytes in text output: UTF-8 as is, with `\\` doubled, tab, newline and carriage return written as
  `\\t`, `\\n`, `\\r`, and each byte that is not valid UTF-8 as `\\xNN`; null prints as `null`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from typing import Any, BinaryIO

import attrs
import click

from flyq.records import Header, StoredRecord

__all__ = [
    "ProducedRange",
    "format_option",
    "headers_text",
    "print_json",
    "produced_json",
    "produced_text",
    "record_json",
    "record_text",
    "table",
    "text",
    "write_record",
]

_TEXT_ESCAPES = str.maketrans({"\t": "\\t", "\n": "\\n", "\r": "\\r"})


def format_option(function: Any) -> Any:
    """The `--format text|json` option, as `output_format`."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="text for people, json (one document) for programs.",
    )(function)


def text(data: bytes | None) -> str:
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


def record_json(partition: int, record: StoredRecord) -> dict[str, object]:
    """One consumed record as a JSON object."""
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


def headers_text(headers: Iterable[Header]) -> str:
    """Headers as `k=v,k=v` text."""
    return ",".join(f"{text(key.encode('utf-8'))}={text(value)}" for key, value in headers)


def record_text(partition: int, record: StoredRecord) -> str:
    """One consumed record as a tab-separated line."""
    fields = [f"{partition}:{record.offset}", str(record.timestamp), text(record.key),
              text(record.value)]
    if record.headers:
        fields.append(headers_text(record.headers))
    return "\t".join(fields)


def write_record(out: BinaryIO, partition: int, record: StoredRecord, output_format: str) -> None:
    """Write one record line in `output_format`."""
    if output_format == "json":
        line = json.dumps(record_json(partition, record), ensure_ascii=False)
    else:
        line = record_text(partition, record)
    out.write(line.encode("utf-8", "surrogateescape") + b"\n")


@attrs.frozen
class ProducedRange:
    """What one run of `flyq produce` appended to one partition: how many records, and the offsets
    of the first and the last of them."""

    records: int
    first_offset: int
    last_offset: int


def produced_text(topic_name: str, partitions: Mapping[int, ProducedRange],
                  batches: int | None) -> str:
    """The summary line of `flyq produce` (stderr); `batches` is the number of appends where the
    command knows it (offline), None where it does not (a producer batches on its own)."""
    records = sum(produced.records for produced in partitions.values())
    if records == 1:
        [(partition, produced)] = partitions.items()
        return f"Produced 1 record to {topic_name}-{partition} at offset {produced.last_offset}."
    spread = ", ".join(f"partition {partition}: {produced.records}"
                       for partition, produced in sorted(partitions.items()))
    return (f"Produced {records} record(s) to {topic_name!r}"
            + ("" if batches is None else f" in {batches} batch(es)")
            + (f" ({spread})." if spread else "."))


def produced_json(topic_name: str, partitions: Mapping[int, ProducedRange]) -> dict[str, object]:
    """`flyq produce --format json`: the topic, the record count, and per partition (in partition
    order) its count and the offsets of its first and last record."""
    return {
        "topic": topic_name,
        "records": sum(produced.records for produced in partitions.values()),
        "partitions": [{"partition": partition, "records": produced.records,
                        "first_offset": produced.first_offset,
                        "last_offset": produced.last_offset}
                       for partition, produced in sorted(partitions.items())],
    }


def print_json(document: object) -> None:
    """One JSON document on stdout."""
    click.echo(json.dumps(document, default=str))


def table(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
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
            "  ".join(value.ljust(width) for value, width in zip(cell, widths, strict=True)).rstrip()
        )
