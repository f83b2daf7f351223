"""`flyq log dump|verify`: inspect segment files offline, like kafka-dump-log.

Batches are decoded by `flyq.codec.record_batch`; `verify` of a `.log` is `Segment.validate_log`
with the recovery policy (the same framing, CRC and offset checks recovery makes), and an index
next to its `.log` is compared with `Segment.expected_indexes` (IDX-1).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

import click

from flyq.broker.layout import TOPIC_METADATA_FILE
from flyq.cli._render import headers_text, text
from flyq.cli._root import cli
from flyq.codec.index_entry import (
    OFFSET_ENTRY_SIZE,
    TIME_ENTRY_SIZE,
    decode_offset_entry,
    decode_time_entry,
)
from flyq.codec.record_batch import decode_batch, decode_batch_header, verify_batch_crc
from flyq.codec.segment_name import LOG_SUFFIX, parse_segment_name, segment_name
from flyq.errors import ChecksumMismatch, DecodeError
from flyq.impl.filelayer import OsFileLayer
from flyq.impl.index_policy import NO_TIMESTAMP
from flyq.impl.recovery import RecoveryPolicy
from flyq.impl.segment import Segment
from flyq.impl.topic import TopicMetadata

__all__ = ["log_group"]

_COMPRESSION_NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
# Only a rebuild depends on the interval; without the topic's topic.json none is compared.
_ANY_INDEX_INTERVAL = 4096


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
                    f"headers: [{headers_text(record.headers)}] key: {text(record.key)} "
                    f"value: {text(record.value)}\n".encode("utf-8", "surrogateescape")
                )
        position += header.size
    return None


def _entry_size(suffix: str) -> int:
    return OFFSET_ENTRY_SIZE if suffix == ".index" else TIME_ENTRY_SIZE


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


def _index_entries(view: memoryview, suffix: str, count: int
                   ) -> Iterator[tuple[int, tuple[int, int]]]:
    size = _entry_size(suffix)
    decode = decode_offset_entry if suffix == ".index" else decode_time_entry
    for index in range(count):
        yield index * size, decode(view, index * size)


def _dump_index(view: memoryview, path: str, suffix: str, out: BinaryIO) -> None:
    base = _segment_base(path) or 0
    size = _entry_size(suffix)
    used, unused = _used_entries(view, size)
    for position, (first, second) in _index_entries(view, suffix, used):
        if suffix == ".index":
            line = (f"position: {position} offset: {base + first} relativeOffset: {first} "
                    f"batchPosition: {second}")
        else:
            line = (f"position: {position} timestamp: {first} offset: {base + second} "
                    f"relativeOffset: {second}")
        out.write(line.encode() + b"\n")
    if unused:
        out.write(f"{unused} all-zero entries from byte {used * size} to the end "
                  "(preallocated, unused)\n".encode())
    if len(view) % size:
        out.write(f"{len(view) % size} bytes at byte {len(view) - len(view) % size} do not make "
                  f"a whole {size}-byte entry\n".encode())


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


@contextlib.contextmanager
def _segment(path: str, base_offset: int, index_interval_bytes: int = _ANY_INDEX_INTERVAL
             ) -> Iterator[Segment]:
    """The segment whose `.log` is `path` (named by its base offset, or any other name)."""
    segment = Segment(OsFileLayer(), os.path.dirname(path) or ".", base_offset,
                      index_interval_bytes)
    # An inspected file need not carry a segment name: read it under the name it has.
    segment.log_path = path
    try:
        yield segment
    finally:
        segment.close()


def _verify_log(view: memoryview, path: str) -> tuple[str, str | None]:
    """(what was found, first problem or None) of a `.log`, by `Segment.validate_log`."""
    base = _segment_base(path)
    if base is None:
        try:
            base = decode_batch_header(view, 0, source=path).base_offset if len(view) else 0
        except DecodeError:
            base = 0
    with _segment(path, base) as segment:
        result = segment.validate_log(RecoveryPolicy().check_batch)
    batches = records = 0
    position = 0
    problem: str | None = None
    # The valid prefix, batch by batch through the codec: counts, and each record's encoding.
    while position < result.valid_bytes:
        try:
            batch = decode_batch(view, position, verify_crc=True, source=path)
        except DecodeError as exc:
            problem = f"first problem at byte {exc.position} (batch at byte {position}): {exc}"
            break
        batches += 1
        records += len(batch.records)
        position += batch.header.size
    if problem is None and result.problem is not None:
        position = result.valid_bytes
        try:
            decode_batch(view, position, verify_crc=True, source=path)
        except DecodeError as exc:
            problem = f"first problem at byte {exc.position} (batch at byte {position}): {exc}"
        else:
            # Framing and CRC hold; the offsets do not follow (LOG-2).
            reason = result.problem.split(": ", 1)[-1]
            problem = f"first problem at byte {position}: {reason} (offsets are dense, LOG-2)"
    found = f"{batches} batch(es), {records} record(s)"
    if batches:
        found += f", offsets {base}..{(result.next_offset if problem is None else 0) - 1}"
    return found, problem


def _verify_index(view: memoryview, path: str, suffix: str) -> tuple[int, str | None]:
    """(entries checked, first problem or None) of an index file: whole entries, IDX-2/IDX-3
    order, and, when its `.log` is beside it, equality with a rebuild from it (IDX-1)."""
    size = _entry_size(suffix)
    if len(view) % size:
        return 0, (f"first problem at byte {len(view) - len(view) % size}: the file is "
                   f"{len(view)} bytes, not a whole number of {size}-byte entries")
    used, _ = _used_entries(view, size)
    # The index rule's own orders: offset entries strictly increase in both fields, time entries
    # strictly increase in timestamp and never go back in offset (IDX-2, IDX-3).
    previous = (-1, -1) if suffix == ".index" else (NO_TIMESTAMP, 0)
    for position, entry in _index_entries(view, suffix, used):
        increasing = entry[0] > previous[0] and (
            entry[1] > previous[1] if suffix == ".index" else entry[1] >= previous[1])
        if position and not increasing:
            rule = "IDX-2" if suffix == ".index" else "IDX-3"
            return used, (f"first problem at byte {position}: entry {entry} does not follow "
                          f"{previous} ({rule})")
        previous = entry
    base = _segment_base(path)
    log_path = os.path.join(os.path.dirname(path), segment_name(base, LOG_SUFFIX)) \
        if base is not None else None
    interval = _topic_index_interval(path)
    if log_path is not None and interval is not None and os.path.exists(log_path):
        with _segment(log_path, base or 0, interval) as segment:
            offset_bytes, time_bytes, _ = segment.expected_indexes(sealed=False)
            _, sealed_time, _ = segment.expected_indexes(sealed=True)
        expected = offset_bytes if suffix == ".index" else time_bytes
        actual = bytes(view[: used * size]) if any(view[: used * size]) else b""
        if actual != expected and (suffix == ".index" or actual != sealed_time):
            return used, (f"first problem at byte 0: the entries differ from a rebuild from "
                          f"{log_path} (IDX-1)")
    return used, None


def _topic_index_interval(path: str) -> int | None:
    """index_interval_bytes from the topic.json two levels up (DATA_DIR/NAME/NAME-P/file), if any."""
    topic_dir = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    metadata_path = os.path.join(topic_dir, TOPIC_METADATA_FILE)
    try:
        with open(metadata_path, "rb") as file:
            return TopicMetadata.from_json(file.read(), source=metadata_path).config \
                .index_interval_bytes
    except (OSError, DecodeError):
        return None


@log_group.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def log_verify(path: str) -> None:
    """Check a segment file; exit 0 if it is sound, else 1 naming the byte of the first problem.

    For a .log: every batch's framing, CRC-32C and record encoding, and that offsets are dense
    and increasing from batch to batch. For a .index/.timeindex: entry size and ordering, and
    equality with a rebuild when its .log is beside it.
    """
    suffix = _file_kind(path)
    with _mapped(path) as view:
        size = len(view)
        if suffix == ".log":
            found, problem = _verify_log(view, path)
        else:
            entries, problem = _verify_index(view, path, suffix)
            found = f"{entries} entries"
    if problem is not None:
        raise click.ClickException(f"{path}: {problem}")
    click.echo(f"OK {path}: {found}, {size} bytes")
