"""Damaged indexes never make a read wrong (IDX-5): every read kind agrees with the model.

Each test writes a log and feeds `ModelLog` the same records, damages one index file of the active
or a sealed segment directly on disk (while the log is open, or after a clean close so that open
trusts the files), then runs one read kind over every offset or many timestamps and compares with
the model. When the damaged index is one that read kind consults, the repair must be reported in
health, logged on "flyq.index", and the indexes must equal a rebuild afterwards.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flyq.codec.index_entry import (
    OFFSET_ENTRY_SIZE,
    TIME_ENTRY_SIZE,
    decode_offset_entry,
    decode_time_entry,
    encode_offset_entry,
    encode_time_entry,
)
from flyq.codec.record_batch import decode_batch, iter_batch_headers
from flyq.impl import LogConfig, PartitionLog
from flyq.model import ModelLog
from flyq.records import Record, StoredRecord

# A few index entries per segment, several segments, room in the preallocated indexes.
CONFIG = LogConfig(segment_bytes=2400, index_interval_bytes=150, index_max_bytes=1200)
CLOCK_MS = 1_700_000_000_000
BATCHES = 70


def _clock() -> int:
    return CLOCK_MS


def _batch(number: int) -> list[Record]:
    # Rising timestamps with a dip every fifth batch, so time entries come and go (IDX-3).
    base = 10_000 + 20 * number - (35 if number % 5 == 0 else 0)
    return [Record(b"v%03d-%d" % (number, j) + b"." * (number % 7) * 5, key=b"k%d" % j,
                   timestamp=base + j) for j in range(1 + number % 3)]


def _write(directory: Path) -> tuple[PartitionLog, ModelLog]:
    log = PartitionLog.open(str(directory), CONFIG, clock=_clock)
    model = ModelLog()
    for number in range(BATCHES):
        records = _batch(number)
        assert log.append(records) == model.append(records)
    return log, model


# --- damage ---------------------------------------------------------------------------------------


def _rewrite(path: Path, data: bytes) -> None:
    # In place (no new inode), so a log that has the file mapped sees the damage.
    with open(path, "r+b") as handle:
        handle.write(data)


def _map_entries(path: Path, entries: int, change: Callable[[int, tuple[int, int]], tuple[int, int]],
                 *, time: bool) -> None:
    size = TIME_ENTRY_SIZE if time else OFFSET_ENTRY_SIZE
    data = bytearray(path.read_bytes())
    for i in range(entries):
        at = i * size
        entry = (decode_time_entry if time else decode_offset_entry)(data, at)
        new = change(i, entry)
        data[at : at + size] = (encode_time_entry(*new) if time else encode_offset_entry(*new))
    _rewrite(path, bytes(data))


def _garbage(path: Path, entries: int, time: bool, log_size: int, next_relative: int) -> None:
    size = TIME_ENTRY_SIZE if time else OFFSET_ENTRY_SIZE
    at = entries * size // 2 - 6
    _rewrite_at(path, max(at, 0), random.Random(7).randbytes(13))


def _zeroed(path: Path, entries: int, time: bool, log_size: int, next_relative: int) -> None:
    size = TIME_ENTRY_SIZE if time else OFFSET_ENTRY_SIZE
    first = entries // 3
    _rewrite_at(path, first * size, bytes(size * max(entries // 3, 1)))


def _shifted(path: Path, entries: int, time: bool, log_size: int, next_relative: int) -> None:
    if time:
        _map_entries(path, entries, lambda i, e: (e[0], e[1] + 1), time=True)
    else:
        _map_entries(path, entries, lambda i, e: (e[0], e[1] + 5), time=False)


def _past_the_end(path: Path, entries: int, time: bool, log_size: int, next_relative: int
                  ) -> None:
    last = entries - 1
    if time:
        _map_entries(path, entries, lambda i, e: (e[0], next_relative + 40) if i == last else e,
                     time=True)
    else:
        _map_entries(path, entries, lambda i, e: (e[0], log_size + 100) if i == last else e,
                     time=False)


def _truncated(path: Path, entries: int, time: bool, log_size: int, next_relative: int) -> None:
    size = TIME_ENTRY_SIZE if time else OFFSET_ENTRY_SIZE
    os.truncate(path, (entries // 2) * size - 3)


def _out_of_order(path: Path, entries: int, time: bool, log_size: int, next_relative: int
                  ) -> None:
    size = TIME_ENTRY_SIZE if time else OFFSET_ENTRY_SIZE
    data = bytearray(path.read_bytes())
    i = entries // 2 - 1
    first, second = data[i * size : (i + 1) * size], data[(i + 1) * size : (i + 2) * size]
    data[i * size : (i + 2) * size] = second + first
    _rewrite(path, bytes(data))


def _rewrite_at(path: Path, position: int, data: bytes) -> None:
    with open(path, "r+b") as handle:
        handle.seek(position)
        handle.write(data)


DAMAGES = {"garbage": _garbage, "zeroed": _zeroed, "shifted": _shifted,
           "past_the_end": _past_the_end, "truncated": _truncated, "out_of_order": _out_of_order}


# --- read kinds -----------------------------------------------------------------------------------


def _read_every_offset(log: PartitionLog, model: ModelLog) -> None:
    for offset in range(model.log_start_offset, model.log_end_offset + 1):
        assert log.read(offset, max_records=4) == model.read(offset, max_records=4), offset
    assert log.read(model.log_start_offset) == model.read(model.log_start_offset)


def _read_backward(log: PartitionLog, model: ModelLog) -> None:
    for offset in range(model.log_end_offset - 1, model.log_start_offset - 1, -1):
        assert (log.read_backward(offset, max_records=4)
                == model.read_backward(offset, max_records=4)), offset


def _raw_records(data: bytes) -> Iterator[StoredRecord]:
    for position, header in iter_batch_headers(data):
        yield from decode_batch(memoryview(data)[position : position + header.size]).records


def _read_raw(log: PartitionLog, model: ModelLog) -> None:
    for offset in range(model.log_start_offset, model.log_end_offset):
        records = [r for r in _raw_records(log.read_raw(offset, 1)) if r.offset >= offset]
        assert records and records == model.read(offset)[: len(records)], offset


def _seek_timestamps(log: PartitionLog, model: ModelLog) -> None:
    stamps = {r.timestamp for r in model.read(model.log_start_offset)}
    for timestamp in sorted({t + d for t in stamps for d in (-1, 0, 1)}):
        assert log.offset_for_timestamp(timestamp) == model.offset_for_timestamp(timestamp), \
            timestamp


READS = {"read": _read_every_offset, "read_backward": _read_backward, "read_raw": _read_raw,
         "offset_for_timestamp": _seek_timestamps}


def _segment_files(directory: Path, which: str, suffix: str) -> Path:
    logs = sorted(directory.glob("*.log"))
    # Sealed: one in the middle, so segments before and after it are read too.
    chosen = logs[-1] if which == "active" else logs[len(logs) // 2]
    return chosen.with_suffix(suffix)


def _entries_of(path: Path, log: PartitionLog, *, time: bool) -> int:
    """Entries of an index file: its size, or for the open active segment (preallocated) what
    health counts minus the sealed files' entries."""
    size = TIME_ENTRY_SIZE if time else OFFSET_ENTRY_SIZE
    suffix = ".timeindex" if time else ".index"
    files = sorted(path.parent.glob("*" + suffix))
    if log.state.value != "online" or path != files[-1]:
        return path.stat().st_size // size
    health = log.health()
    total = health.time_index_entries if time else health.offset_index_entries
    return total - sum(p.stat().st_size // size for p in files[:-1])


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("kind", [".index", ".timeindex"])
@pytest.mark.parametrize("segment", ["active", "sealed"])
@pytest.mark.parametrize("opened", ["clean", "running"])
def test_damaged_index_never_changes_a_read(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                            opened: str, segment: str, kind: str, damage: str,
                                            read: str) -> None:
    """IDX-5: every read agrees with the model after index damage; a consulted index that was
    damaged is rebuilt, logged and reported in health, and equals a rebuild afterwards."""
    if opened == "running" and segment == "active" and damage == "truncated":
        pytest.skip("the open log maps the active index: truncating it under the map is not a "
                    "disk fault but a SIGBUS")
    log, model = _write(tmp_path)
    time = kind == ".timeindex"
    path = _segment_files(tmp_path, segment, kind)
    if opened == "clean":
        log.close()
    entries = _entries_of(path, log, time=time)
    assert entries >= 4, "the damage needs entries to work on"
    log_path = path.with_suffix(".log")
    logs = sorted(tmp_path.glob("*.log"))
    later = logs[logs.index(log_path) + 1] if log_path != logs[-1] else None
    next_relative = ((int(later.stem) if later else model.log_end_offset) - int(log_path.stem))
    before = path.read_bytes()
    DAMAGES[damage](path, entries, time, log_path.stat().st_size, next_relative)
    assert path.read_bytes() != before
    if opened == "clean":
        log = PartitionLog.open(str(tmp_path), CONFIG, clock=_clock)
        assert log.recovery_report.clean and log.recovery_report.indexes_rebuilt == 0
    with log, caplog.at_level(logging.WARNING, logger="flyq.index"):
        READS[read](log, model)
        consulted = read == "offset_for_timestamp" or not time
        repairs = log.health().index_repairs
        if consulted:
            assert [r.path for r in repairs] == [str(path)]
            assert repairs[0].base_offset == int(path.stem)
            assert any(str(path) in m and "rebuilt" in m for m in caplog.messages)
            assert log.index_mismatches() == []
        # Whatever was repaired, the reads were right, and stay right once all is rebuilt.
        READS[read](log, model)


def test_user_trial_read_in_the_middle_after_random_bytes(tmp_path: Path) -> None:
    """IDX-5: 300 records of ~900 bytes, 13 random bytes into the middle of the `.index` of a
    cleanly closed log: reading 3 from offset 150 gives 150, 151, 152, and a later process's
    health still says the index was found damaged and rebuilt."""
    generator = random.Random(300)
    with PartitionLog.open(str(tmp_path), clock=_clock) as log:
        for i in range(300):
            log.append([Record(generator.randbytes(900), key=b"%d" % i, timestamp=i)])
    index = next(tmp_path.glob("*.index"))
    size = index.stat().st_size
    _rewrite_at(index, size // 2, generator.randbytes(13))
    with PartitionLog.open(str(tmp_path), clock=_clock) as log:
        assert [r.offset for r in log.read(150, max_records=3)] == [150, 151, 152]
        assert log.index_mismatches() == []
    with PartitionLog.open(str(tmp_path), clock=_clock) as log:
        (repair,) = log.health().index_repairs
    assert repair.path == str(index) and repair.base_offset == 0
    assert repair.at_ms == CLOCK_MS and "rebuilt" not in repair.reason


def test_repairs_are_kept_bounded_and_survive_restarts(tmp_path: Path) -> None:
    """IDX-5: each repair is remembered across restarts, at most the last 16."""
    log, _ = _write(tmp_path)
    log.close()
    index = sorted(tmp_path.glob("*.index"))[0]
    for _ in range(18):
        _rewrite_at(index, 0, encode_offset_entry(0, 10**6))
        with PartitionLog.open(str(tmp_path), CONFIG, clock=_clock) as log:
            log.read(1, max_records=1)
    with PartitionLog.open(str(tmp_path), CONFIG, clock=_clock) as log:
        repairs = log.health().index_repairs
    assert len(repairs) == 16 and {r.path for r in repairs} == {str(index)}


def test_damaged_repair_file_is_reported_not_fatal(tmp_path: Path) -> None:
    """IDX-5, REC-12: a damaged index-repairs file is a recovery problem; the log opens and the
    next repair replaces it."""
    log, model = _write(tmp_path)
    log.close()
    (tmp_path / "index-repairs").write_bytes(b"{not json")
    with PartitionLog.open(str(tmp_path), CONFIG, clock=_clock) as log:
        assert any("index-repairs" in p for p in log.recovery_report.problems)
        assert log.health().index_repairs == ()
        assert log.read(0) == model.read(0)
