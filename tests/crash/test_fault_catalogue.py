"""A catalogue of real-world storage failures, each rebuilt on real files and recovered by the real
code (spec/recovery.md REC-1..REC-10, spec/crash-model.md).

Every test writes a log with `PartitionLog` through the real file layer, noting where each batch
landed from the files' sizes and keeping the index bytes a clean close wrote, then damages files
directly the way the failure it is named after does, reopens, and asserts the exact outcome.
Expected values come from what the test wrote, never from the code under test. Tests marked
`xfail(strict=True)` demonstrate a bug that is still open; each names the known gap it belongs to.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from flyq.codec.checkpoint import decode_checkpoint, encode_checkpoint
from flyq.errors import CorruptSegment
from flyq.impl import LogConfig, PartitionLog, RecoveryReport
from flyq.records import Record, StoredRecord

pytestmark = pytest.mark.crash

FIXED_CLOCK_MS = 1_700_000_000_000
# About five batches a segment, two or three index points each, and small preallocated indexes.
SMALL = LogConfig(segment_bytes=600, index_interval_bytes=100, index_max_bytes=96)
OFFSET_ENTRY_BYTES = 8
TIME_ENTRY_BYTES = 12
BATCH_HEADER_BYTES = 61
MARKER = "clean-shutdown"


def _fixed_clock() -> int:
    return FIXED_CLOCK_MS


@attrs.frozen
class Batch:
    """One appended batch and where the test saw it land."""

    records: tuple[Record, ...]
    segment: str
    position: int
    size: int
    base_offset: int

    @property
    def next_offset(self) -> int:
        return self.base_offset + len(self.records)


@attrs.frozen
class Written:
    """A log the test wrote and closed, and what it knows about it."""

    directory: Path
    config: LogConfig
    batches: tuple[Batch, ...]
    # Bytes of every index file as the clean close left them.
    indexes: dict[str, bytes]

    @property
    def end(self) -> int:
        return self.batches[-1].next_offset

    def segments(self) -> list[str]:
        """`.log` names, oldest first."""
        return sorted({batch.segment for batch in self.batches})

    def in_segment(self, segment: str) -> list[Batch]:
        return [batch for batch in self.batches if batch.segment == segment]

    def base_of(self, segment: str) -> int:
        return self.in_segment(segment)[0].base_offset

    def path(self, name: str) -> Path:
        return self.directory / name

    def records(self, start: int = 0, end: int | None = None) -> list[StoredRecord]:
        """The stored records the test appended with offsets in [start, end)."""
        out = []
        for batch in self.batches:
            for i, record in enumerate(batch.records):
                offset = batch.base_offset + i
                if start <= offset < (self.end if end is None else end):
                    out.append(StoredRecord(offset, record.timestamp, record.key, record.value,
                                            record.headers))
        return out

    def first_at_or_after(self, timestamp: int, start: int = 0) -> int | None:
        """LOG-8 by brute force over what the test appended."""
        return next((r.offset for r in self.records(start) if r.timestamp >= timestamp), None)


def _records_of(number: int, timestamp: int | None) -> tuple[Record, ...]:
    # Mostly rising timestamps with a dip now and then, so time entries come and go (IDX-3).
    return tuple(
        Record(value=b"v%03d-%d" % (number, j), key=b"k%d" % (number % 4),
               timestamp=(1000 + 10 * number - 7 * (number % 5 == 0) + j) if timestamp is None
               else timestamp)
        for j in range(1 + number % 3)
    )


def _write(directory: Path, batches: int = 30, config: LogConfig = SMALL,
           timestamp: int | None = None, delete_below: int = 0) -> Written:
    """Append `batches` batches, noting each one's place from the `.log` sizes, then delete the
    records below `delete_below` if asked; close cleanly."""
    placed: list[Batch] = []
    offset = 0
    with PartitionLog.open(str(directory), config, clock=_fixed_clock) as log:
        for number in range(batches):
            records = _records_of(number, timestamp)
            log.append(list(records))
            newest = max(directory.glob("*.log"))
            size = newest.stat().st_size
            previous = placed[-1] if placed else None
            position = previous.position + previous.size if (
                previous is not None and previous.segment == newest.name) else 0
            placed.append(Batch(records, newest.name, position, size - position, offset))
            offset += len(records)
        if delete_below:
            log.delete_records_below(delete_below)
    return Written(directory, config, tuple(placed), _index_bytes(directory))


def _open(written: Written) -> PartitionLog:
    return PartitionLog.open(str(written.directory), written.config, clock=_fixed_clock)


def _index_bytes(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes()
            for pattern in ("*.index", "*.timeindex") for path in directory.glob(pattern)}


def _assert_whole_and_rebuilt(written: Written, end: int | None = None) -> None:
    """After the damage: the records up to `end`, seeks as written, and after a clean close the
    very index bytes the undamaged log had (IDX-1, REC-9)."""
    end = written.end if end is None else end
    with _open(written) as log:
        start = log.log_start_offset
        readable = written.records(start, end)
        assert log.read(start) == readable
        assert log.index_mismatches() == []
        for timestamp in sorted({t for r in readable for t in (r.timestamp, r.timestamp + 1)}):
            expected = next((r.offset for r in readable if r.timestamp >= timestamp), None)
            assert log.offset_for_timestamp(timestamp) == expected, timestamp
    if end == written.end:
        assert _index_bytes(written.directory) == written.indexes


def _unclean(written: Written) -> None:
    written.path(MARKER).unlink()


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A fresh directory, on tmpfs when there is one."""
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    directory = Path(tempfile.mkdtemp(prefix="flyq-faults-", dir=base))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def written(scratch: Path) -> Written:
    """Thirty batches over several segments, closed cleanly."""
    log = _write(scratch / "log")
    assert len(log.segments()) >= 4
    return log


# --- index files ----------------------------------------------------------------------------------


def test_preallocated_index_left_zero_filled_after_crash(written: Written) -> None:
    """REC-4, IDX-1: zero entries past the active indexes' real ones are not read as entries."""
    # A kill leaves the active indexes preallocated: zeros past their entries (format.md §2.4).
    active = written.segments()[-1].removesuffix(".log")
    for suffix, entry_bytes in ((".index", OFFSET_ENTRY_BYTES), (".timeindex", TIME_ENTRY_BYTES)):
        os.truncate(written.path(active + suffix),
                    SMALL.index_max_bytes // entry_bytes * entry_bytes)
    _unclean(written)
    with _open(written) as log:
        assert log.recovery_report == RecoveryReport(clean=False, segments_scanned=1,
                                                     indexes_rebuilt=1)
    _assert_whole_and_rebuilt(written)


@pytest.mark.parametrize("suffix, entry_bytes",
                         [(".index", OFFSET_ENTRY_BYTES), (".timeindex", TIME_ENTRY_BYTES)])
def test_sealed_index_longer_than_its_trimmed_size(written: Written, suffix: str,
                                                   entry_bytes: int) -> None:
    """REC-5, format.md §2.4: a sealed index still at its preallocated size is rebuilt."""
    # The trim's ftruncate never reached the disk: zero entries follow the real ones.
    path = written.path(written.segments()[0].removesuffix(".log") + suffix)
    assert path.stat().st_size < SMALL.index_max_bytes - entry_bytes
    os.truncate(path, SMALL.index_max_bytes // entry_bytes * entry_bytes)
    _unclean(written)
    with _open(written) as log:
        report = log.recovery_report
        assert (report.segments_scanned, report.indexes_rebuilt) == (1, 2)
        assert len(report.problems) == 1
        assert path.name in report.problems[0]
    _assert_whole_and_rebuilt(written)


@pytest.mark.parametrize("suffix, cut", [(".index", 3), (".index", 7), (".timeindex", 5)])
def test_torn_last_index_entry(written: Written, suffix: str, cut: int) -> None:
    """REC-5, format.md §2.4: a sealed index whose last entry is cut short is found and rebuilt."""
    path = written.path(written.segments()[1].removesuffix(".log") + suffix)
    size = path.stat().st_size
    assert size >= 2 * OFFSET_ENTRY_BYTES
    os.truncate(path, size - cut)
    _unclean(written)
    with _open(written) as log:
        report = log.recovery_report
        assert (report.segments_scanned, report.indexes_rebuilt) == (1, 2)
        assert len(report.problems) == 1
        assert path.name in report.problems[0]
    _assert_whole_and_rebuilt(written)


@pytest.mark.parametrize("which", ["sealed", "active"])
@pytest.mark.parametrize("suffix", [".index", ".timeindex"])
def test_missing_index_file(written: Written, which: str, suffix: str) -> None:
    """REC-5, recovery.md §3.1: a lost index file forces an unclean open that rebuilds it."""
    # The clean-shutdown marker is kept: a missing index file overrides it.
    segment = written.segments()[1 if which == "sealed" else -1]
    written.path(segment.removesuffix(".log") + suffix).unlink()
    with _open(written) as log:
        report = log.recovery_report
        assert not report.clean
        # The active segment is scanned and rebuilt anyway; a sealed one is rebuilt besides.
        assert (report.segments_scanned, report.indexes_rebuilt) == (
            1, 2 if which == "sealed" else 1)
        assert len(report.problems) == 1
        assert str(written.base_of(segment)) in report.problems[0]
    _assert_whole_and_rebuilt(written)


def test_time_index_timestamps_go_backwards(written: Written) -> None:
    """REC-5, IDX-3: a sealed time index whose timestamps go backwards is not trusted for seeks."""
    path = written.path(written.segments()[1].removesuffix(".log") + ".timeindex")
    data = path.read_bytes()
    entries = [data[i : i + TIME_ENTRY_BYTES] for i in range(0, len(data), TIME_ENTRY_BYTES)]
    assert len(entries) >= 2
    path.write_bytes(b"".join(reversed(entries)))
    _unclean(written)
    with _open(written) as log:
        report = log.recovery_report
        assert (report.segments_scanned, report.indexes_rebuilt) == (1, 2)
        assert len(report.problems) == 1
        assert path.name in report.problems[0]
    _assert_whole_and_rebuilt(written)


# --- segment files --------------------------------------------------------------------------------


@pytest.mark.parametrize("keep_marker", [False, True], ids=["unclean", "stale-marker"])
def test_garbage_appended_past_last_batch(written: Written, keep_marker: bool) -> None:
    """REC-3, CM-4: bytes after the last batch are cut exactly, the batches before kept."""
    # A write the disk half-remembers, with or without a marker left from before it.
    active = written.segments()[-1]
    size = written.path(active).stat().st_size
    garbage = random.Random(0).randbytes(77)
    with written.path(active).open("ab") as handle:
        handle.write(garbage)
    if not keep_marker:
        _unclean(written)
    with _open(written) as log:
        report = log.recovery_report
        assert (report.clean, report.segments_scanned, report.bytes_truncated) == (
            False, 1, len(garbage))
        assert report.problems[-1].startswith(f"{written.path(active)}: byte {size}:")
        assert len(report.problems) == (2 if keep_marker else 1)
    assert written.path(active).stat().st_size == size
    _assert_whole_and_rebuilt(written)
    with _open(written) as log:
        assert log.append([Record(b"after")]).base_offset == written.end


@pytest.mark.parametrize("cut", [1, 30, BATCH_HEADER_BYTES, -1],
                         ids=["first-byte", "in-header", "header-only", "last-byte-missing"])
def test_log_cut_mid_batch(written: Written, cut: int) -> None:
    """REC-1, REC-3, CM-2: a `.log` cut inside its last batch loses that batch whole, no more."""
    last = written.batches[-1]
    keep = last.position + (cut if cut > 0 else last.size + cut)
    os.truncate(written.path(last.segment), keep)
    _unclean(written)
    with _open(written) as log:
        report = log.recovery_report
        assert (log.log_end_offset, report.bytes_truncated) == (last.base_offset,
                                                                keep - last.position)
        assert len(report.problems) == 1
        assert report.problems[0].startswith(f"{written.path(last.segment)}: byte {last.position}:")
    _assert_whole_and_rebuilt(written, last.base_offset)


@pytest.mark.parametrize("from_batch", [-3, -1], ids=["three-batches", "last-batch"])
def test_unflushed_tail_zero_filled_after_power_loss(written: Written, from_batch: int) -> None:
    """REC-3, CM-2: zeros where the last batches were are cut, the batches before them kept."""
    # A file system that kept the new size but not the data (ext4 after power loss, say).
    first_lost = written.batches[from_batch]
    path = written.path(first_lost.segment)
    size = path.stat().st_size
    assert first_lost.segment == written.batches[-1].segment
    with path.open("r+b") as handle:
        handle.seek(first_lost.position)
        handle.write(bytes(size - first_lost.position))
    _unclean(written)
    with _open(written) as log:
        report = log.recovery_report
        assert (log.log_end_offset, report.bytes_truncated) == (first_lost.base_offset,
                                                                size - first_lost.position)
    _assert_whole_and_rebuilt(written, first_lost.base_offset)


@pytest.mark.parametrize("keep_marker", [True, False], ids=["clean", "unclean"])
def test_bit_flip_in_middle_of_sealed_segment_is_reported_not_served(written: Written,
                                                                     keep_marker: bool) -> None:
    """REC-5, format.md §1.7: reads reaching a flipped bit raise CorruptSegment, others serve."""
    # Sealed segments below the recovery point are trusted: open never reads their bytes.
    segment = written.segments()[1]
    batches = written.in_segment(segment)
    hit = batches[len(batches) // 2]
    path = written.path(segment)
    data = bytearray(path.read_bytes())
    data[hit.position + BATCH_HEADER_BYTES + 2] ^= 0x10
    path.write_bytes(bytes(data))
    if not keep_marker:
        _unclean(written)
    with _open(written) as log:
        assert (log.recovery_report.clean, log.recovery_report.bytes_truncated) == (keep_marker, 0)
        for reader in (lambda: log.read(0), lambda: log.read(hit.base_offset),
                       lambda: log.read_backward(written.end - 1)):
            with pytest.raises(CorruptSegment) as caught:
                reader()
            assert caught.value.path == str(path)
            assert hit.position <= caught.value.position < hit.position + hit.size
        assert log.read(0, max_records=hit.base_offset) == written.records(0, hit.base_offset)
        assert log.read(hit.next_offset) == written.records(hit.next_offset)
        assert log.index_mismatches() == []


def test_lost_directory_entry_of_newest_segment(written: Written) -> None:
    """REC-1, REC-9: with the newest `.log` lost, the log ends at its base and continues there."""
    # Its creation never made durable (or a cleanup deleted it): its index files are orphans.
    active = written.segments()[-1]
    written.path(active).unlink()
    _unclean(written)
    base = written.base_of(active)
    with _open(written) as log:
        assert (log.log_end_offset, log.recovery_report.segments_scanned) == (base, 1)
        assert not written.path(active.removesuffix(".log") + ".index").exists()
        assert log.read(0) == written.records(0, base)
        assert log.index_mismatches() == []
        assert log.append([Record(b"after")]).base_offset == base


# --- checkpoint files -----------------------------------------------------------------------------


def test_recovery_checkpoint_points_past_log_end(written: Written) -> None:
    """REC-2, REC-10: a recovery point past the log end still validates the active segment."""
    written.path("recovery-point").write_bytes(encode_checkpoint((10**9,)))
    active = written.segments()[-1]
    with written.path(active).open("ab") as handle:
        handle.write(b"\xff" * 9)
    _unclean(written)
    with _open(written) as log:
        report = log.recovery_report
        assert (report.segments_scanned, report.bytes_truncated) == (1, 9)
    point = decode_checkpoint(written.path("recovery-point").read_bytes(), expected_count=1,
                              source="recovery-point")
    assert point == (written.base_of(active),)
    _assert_whole_and_rebuilt(written)


def test_zero_filled_recovery_point_rescans_every_segment(written: Written) -> None:
    """REC-2, format.md §5.1: a zero-filled recovery-point counts as missing: all is validated."""
    size = written.path("recovery-point").stat().st_size
    written.path("recovery-point").write_bytes(bytes(size))
    _unclean(written)
    with _open(written) as log:
        report = log.recovery_report
        assert (report.segments_scanned, report.indexes_rebuilt, report.bytes_truncated) == (
            len(written.segments()), len(written.segments()), 0)
        assert len(report.problems) == 1
        assert "recovery-point" in report.problems[0]
    _assert_whole_and_rebuilt(written)


@pytest.mark.parametrize("torn", [False, True], ids=["complete", "torn"])
@pytest.mark.parametrize("name", ["recovery-point", "log-start-offset", "clean-shutdown",
                                  "active .index"])
def test_interrupted_rename_of_temporary_file(scratch: Path, name: str, torn: bool) -> None:
    """format.md §5.2, REC-7, LOG-11: a stray NAME.tmp is removed and the old NAME stays in force."""
    # A crash between writing NAME.tmp (whole or torn) and renaming it over NAME.
    written = _write(scratch / "log", delete_below=5)
    active_index = written.segments()[-1].removesuffix(".log") + ".index"
    target, replacement = {
        "recovery-point": ("recovery-point", encode_checkpoint((0,))),
        "log-start-offset": ("log-start-offset", encode_checkpoint((12,))),
        "clean-shutdown": (MARKER, written.path(MARKER).read_bytes()),
        "active .index": (active_index, bytes(OFFSET_ENTRY_BYTES * 2)),
    }[name]
    # For the marker, a close that crashed before its rename; else a crash inside a later open,
    # delete or rebuild, after that open had removed the marker.
    _unclean(written)
    temporary = written.path(f"{target}.tmp")
    temporary.write_bytes(replacement[: len(replacement) // 2] if torn else replacement)
    with _open(written) as log:
        assert not temporary.exists()
        report = log.recovery_report
        assert (report.clean, report.problems) == (False, ())
        assert log.log_start_offset == 5
        assert log.read(5) == written.records(5)
    _assert_whole_and_rebuilt(written)


@pytest.mark.parametrize("change", ["grew", "rolled"])
def test_stale_clean_shutdown_marker_from_an_earlier_run(scratch: Path, change: str) -> None:
    """REC-7, recovery.md §3.2: a clean-shutdown marker from an earlier run is not trusted."""
    # Restored from a backup or copied with the files; the active segment has grown or rolled.
    directory = scratch / "log"
    first = _write(directory, batches=10)
    stale = first.path(MARKER).read_bytes()
    more = 1 if change == "grew" else 12
    with PartitionLog.open(str(directory), SMALL, clock=_fixed_clock) as log:
        for number in range(10, 10 + more):
            log.append(list(_records_of(number, None)))
    rolled = len(list(directory.glob("*.log"))) > len(first.segments())
    assert rolled == (change == "rolled")
    expected = _write(scratch / "reference", batches=10 + more)
    (directory / MARKER).write_bytes(stale)
    with PartitionLog.open(str(directory), SMALL, clock=_fixed_clock) as log:
        report = log.recovery_report
        assert (report.clean, report.segments_scanned, report.bytes_truncated) == (False, 1, 0)
        assert len(report.problems) == 1
        assert log.read(0) == expected.records()
        assert log.index_mismatches() == []
    assert _index_bytes(directory) == expected.indexes


def test_clean_reopen_after_records_with_timestamp_zero(scratch: Path) -> None:
    """REC-8, IDX-1, IDX-3: a clean reopen after timestamp-0 records indexes as one run would."""
    # Producers that never set timestamps; recovery.md Known gap 1 (fixed in the code).
    once = _write(scratch / "once", batches=20, timestamp=0)
    directory = scratch / "twice"
    _write(directory, batches=10, timestamp=0)
    with PartitionLog.open(str(directory), SMALL, clock=_fixed_clock) as log:
        assert log.recovery_report.clean
        for number in range(10, 20):
            log.append(list(_records_of(number, 0)))
        assert log.index_mismatches() == []
    segment_files = sorted(p.name for p in once.directory.iterdir()
                           if p.suffix in (".log", ".index", ".timeindex"))
    assert sorted(p.name for p in directory.iterdir()
                  if p.suffix in (".log", ".index", ".timeindex")) == segment_files
    for name in segment_files:
        assert (directory / name).read_bytes() == (once.directory / name).read_bytes(), name


# --- open bugs ------------------------------------------------------------------------------------


def test_sealed_time_index_zeroed_by_a_lost_page_is_not_trusted(scratch: Path) -> None:
    """REC-5, REC-9, LOG-8: a sealed time index zeroed by a lost page is rebuilt, not trusted."""
    # A disk that acknowledged a flush it never did leaves the one time entry as zeros.
    # No index points: each sealed segment's time index is its seal entry alone (format.md §2.2).
    config = LogConfig(segment_bytes=600, index_interval_bytes=1 << 20, index_max_bytes=96)
    written = _write(scratch / "log", config=config)
    path = written.path(written.segments()[0].removesuffix(".log") + ".timeindex")
    assert path.stat().st_size == TIME_ENTRY_BYTES
    path.write_bytes(bytes(TIME_ENTRY_BYTES))
    _unclean(written)
    with _open(written) as log:
        timestamp = written.batches[0].records[0].timestamp
        assert log.offset_for_timestamp(timestamp) == written.first_at_or_after(timestamp)
        assert log.index_mismatches() == []


def test_sealed_segment_that_lost_its_last_batch_is_not_read_across(written: Written) -> None:
    """REC-12, LOG-1, REC-1: a trusted sealed `.log` that lost its last batch is found at open;
    the log is cut at the gap, so no read skips offsets."""
    # A disk that acknowledged a flush it never did.
    segment = written.segments()[1]
    lost = written.in_segment(segment)[-1]
    os.truncate(written.path(segment), lost.position)
    _unclean(written)
    with _open(written) as log:
        assert any(segment in problem and f"ends at offset {lost.base_offset}" in problem
                   for problem in log.recovery_report.problems)
        assert log.log_end_offset == lost.base_offset
        assert log.read(0) == written.records(0, lost.base_offset)
    _assert_whole_and_rebuilt(written, lost.base_offset)


def test_trusted_segment_not_starting_at_its_name_is_cut(written: Written) -> None:
    """REC-12: a trusted sealed `.log` whose first batch is not its base offset (here: its first
    batch lost) is found at open and the log ends where the segment should have started."""
    segment = written.segments()[1]
    first, second = written.in_segment(segment)[:2]
    data = written.path(segment).read_bytes()
    written.path(segment).write_bytes(data[second.position :])
    _unclean(written)
    with _open(written) as log:
        assert any(segment in problem for problem in log.recovery_report.problems)
        assert log.log_end_offset == first.base_offset
        assert log.read(0) == written.records(0, first.base_offset)
