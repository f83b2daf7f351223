"""Recovery of the disk log from damaged files (spec/recovery.md)."""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import pytest

from flyq.codec.checkpoint import encode_checkpoint
from flyq.codec.index_entry import (
    decode_offset_entry,
    decode_time_entry,
    encode_offset_entry,
    encode_time_entry,
)
from flyq.errors import CorruptSegment
from flyq.impl import LogConfig, OsFileLayer, PartitionLog, RecoveryReport
from flyq.records import Record

SMALL = LogConfig(segment_bytes=600, index_interval_bytes=100, index_max_bytes=96)


def _fill(directory: Path, batches: int = 30, config: LogConfig = SMALL) -> list[list[Record]]:
    written = []
    with PartitionLog.open(str(directory), config) as log:
        for i in range(batches):
            records = [Record(value=b"v%03d-%d" % (i, j), key=b"k", timestamp=1000 + (i * 7) % 50)
                       for j in range(1 + i % 3)]
            log.append(records)
            written.append(records)
    return written


def _values(log: PartitionLog) -> list[bytes | None]:
    return [record.value for record in log.read(log.log_start_offset)]


def _expected_values(written: list[list[Record]]) -> list[bytes | None]:
    return [record.value for batch in written for record in batch]


def _segment_files(directory: Path, suffix: str) -> list[Path]:
    return sorted(directory.glob(f"*{suffix}"))


def _make_unclean(directory: Path) -> None:
    (directory / "clean-shutdown").unlink()


def test_empty_log_reopens_empty(tmp_path: Path) -> None:
    """An empty log closed and reopened is empty, cleanly, and accepts appends at offset 0."""
    PartitionLog.open(str(tmp_path), SMALL).close()
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        assert log.recovery_report.clean
        assert (log.log_start_offset, log.log_end_offset) == (0, 0)
        assert log.read(0) == []
        assert log.append([Record(b"x")]).base_offset == 0


def test_empty_log_recovers_unclean(tmp_path: Path) -> None:
    """An empty log whose marker is gone recovers to an empty log."""
    PartitionLog.open(str(tmp_path), SMALL).close()
    _make_unclean(tmp_path)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        assert not log.recovery_report.clean
        assert log.log_end_offset == 0


def test_clean_reopen_keeps_everything(tmp_path: Path) -> None:
    """DUR-4: a clean reopen finds every record and rebuilds nothing."""
    written = _fill(tmp_path)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        assert log.recovery_report.clean
        assert log.recovery_report.indexes_rebuilt == 0
        assert _values(log) == _expected_values(written)


def test_unclean_open_scans_only_past_recovery_point(tmp_path: Path) -> None:
    """REC: an unclean open validates the active segment only, since older ones were fsynced."""
    written = _fill(tmp_path)
    segments = len(_segment_files(tmp_path, ".log"))
    assert segments > 3
    _make_unclean(tmp_path)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        report = log.recovery_report
        assert not report.clean
        assert report.segments_scanned == 1
        assert report.bytes_truncated == 0
        assert _values(log) == _expected_values(written)


def test_torn_tail_is_truncated(tmp_path: Path) -> None:
    """DUR-3: a batch cut short at the end is dropped whole; earlier batches stay."""
    written = _fill(tmp_path)
    active = _segment_files(tmp_path, ".log")[-1]
    size = active.stat().st_size
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        last_batch = log.read_raw(written_count(written) - 1, 1)
    os.truncate(active, size - 5)
    _make_unclean(tmp_path)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        assert log.recovery_report.bytes_truncated == len(last_batch) - 5
        assert _values(log) == _expected_values(written[:-1])
        assert log.index_mismatches() == []


def written_count(written: list[list[Record]]) -> int:
    return sum(len(batch) for batch in written)


def test_corrupt_crc_in_active_segment_truncates_from_it(tmp_path: Path) -> None:
    """A bit flip in the last batch of the active segment drops that batch on unclean open."""
    written = _fill(tmp_path)
    active = _segment_files(tmp_path, ".log")[-1]
    data = bytearray(active.read_bytes())
    data[-1] ^= 0x01
    active.write_bytes(bytes(data))
    _make_unclean(tmp_path)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        assert any("CRC" in problem for problem in log.recovery_report.problems)
        assert _values(log) == _expected_values(written[:-1])


def test_zero_filled_tail_is_not_a_batch(tmp_path: Path) -> None:
    """Zeros appended past the last batch (a preallocated or torn tail) are cut off."""
    written = _fill(tmp_path)
    active = _segment_files(tmp_path, ".log")[-1]
    with active.open("ab") as handle:
        handle.write(bytes(100))
    _make_unclean(tmp_path)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        assert log.recovery_report.bytes_truncated == 100
        assert _values(log) == _expected_values(written)


def test_garbage_after_last_batch_is_cut(tmp_path: Path) -> None:
    """Random bytes past the last batch are not served and are truncated away."""
    written = _fill(tmp_path)
    active = _segment_files(tmp_path, ".log")[-1]
    with active.open("ab") as handle:
        handle.write(os.urandom(77))
    _make_unclean(tmp_path)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        assert log.recovery_report.bytes_truncated == 77
        assert _values(log) == _expected_values(written)
        assert log.append([Record(b"after")]).base_offset == written_count(written)


def test_clean_marker_with_wrong_size_forces_recovery(tmp_path: Path) -> None:
    """A clean-shutdown marker that disagrees with the active segment's size is not trusted."""
    written = _fill(tmp_path)
    active = _segment_files(tmp_path, ".log")[-1]
    with active.open("ab") as handle:
        handle.write(b"\xff" * 9)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        assert not log.recovery_report.clean
        assert _values(log) == _expected_values(written)


def test_zero_length_active_segment(tmp_path: Path) -> None:
    """A zero-length active segment (rolled, nothing appended) recovers cleanly to the same end."""
    written = _fill(tmp_path)
    end = written_count(written)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        log.truncate(log.segments[-1].base_offset)
        base = log.log_end_offset
    assert (tmp_path / f"{base:020d}.log").stat().st_size == 0
    _make_unclean(tmp_path)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        assert log.log_end_offset == base
        assert base < end


@pytest.mark.parametrize("damage", ["past_end", "partial", "garbage", "missing"])
def test_damaged_sealed_index_is_rebuilt(tmp_path: Path, damage: str) -> None:
    """A sealed segment's bad offset index is found without a full scan and rebuilt (IDX-1)."""
    written = _fill(tmp_path)
    index = _segment_files(tmp_path, ".index")[0]
    assert index.stat().st_size > 0
    if damage == "past_end":
        with index.open("ab") as handle:
            handle.write(encode_offset_entry(10_000, 1 << 30))
    elif damage == "partial":
        with index.open("ab") as handle:
            handle.write(b"\x00\x00\x00")
    elif damage == "garbage":
        index.write_bytes(os.urandom(index.stat().st_size))
    else:
        index.unlink()
    _make_unclean(tmp_path)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        assert log.recovery_report.indexes_rebuilt >= 2
        assert log.index_mismatches() == []
        assert _values(log) == _expected_values(written)


def test_time_index_going_backwards_is_rebuilt(tmp_path: Path) -> None:
    """A sealed time index whose timestamps go backwards is detected and rebuilt."""
    written = _fill(tmp_path)
    time_index = _segment_files(tmp_path, ".timeindex")[0]
    time_index.write_bytes(encode_time_entry(5000, 1) + encode_time_entry(10, 2))
    _make_unclean(tmp_path)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        assert any("out of order" in problem for problem in log.recovery_report.problems)
        assert log.index_mismatches() == []
        assert log.offset_for_timestamp(0) == 0
        assert _values(log) == _expected_values(written)


def test_bit_flip_in_sealed_segment_is_reported_on_read(tmp_path: Path) -> None:
    """A corrupt byte in a trusted sealed segment is reported by a read, never served."""
    _fill(tmp_path)
    first = _segment_files(tmp_path, ".log")[0]
    data = bytearray(first.read_bytes())
    data[len(data) // 2] ^= 0x10
    first.write_bytes(bytes(data))
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        with pytest.raises(CorruptSegment) as caught:
            log.read(0)
        assert caught.value.path == str(first)


def test_recovery_point_past_end_is_harmless(tmp_path: Path) -> None:
    """A recovery point beyond the log's end does not skip validating the active segment."""
    written = _fill(tmp_path)
    (tmp_path / "recovery-point").write_bytes(encode_checkpoint((10**9,)))
    active = _segment_files(tmp_path, ".log")[-1]
    with active.open("ab") as handle:
        handle.write(b"junk")
    _make_unclean(tmp_path)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        assert log.recovery_report.bytes_truncated == 4
        assert _values(log) == _expected_values(written)


def test_stray_temp_file_is_removed(tmp_path: Path) -> None:
    """An interrupted atomic replace leaves NAME.tmp; open removes it and keeps the old file."""
    _fill(tmp_path)
    (tmp_path / "recovery-point.tmp").write_bytes(b"half")
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        assert log.log_end_offset > 0
    assert not (tmp_path / "recovery-point.tmp").exists()


@pytest.mark.parametrize("clean", [True, False])
def test_corrupt_log_start_checkpoint_falls_back_and_reports(tmp_path: Path, clean: bool) -> None:
    """REC-13: a damaged log-start-offset file is reported, saying that the first segment's base
    is used and records below the lost start may be readable again, on clean and unclean opens."""
    _fill(tmp_path)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        log.delete_records_below(5)
    (tmp_path / "log-start-offset").write_bytes(b"FQCPgarbage")
    if not clean:
        _make_unclean(tmp_path)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        assert log.recovery_report.clean == clean
        assert any("log-start-offset" in problem and "falls back" in problem
                   for problem in log.recovery_report.problems)
        assert log.log_start_offset == 0


@pytest.mark.parametrize("clean", [True, False])
def test_changed_index_interval_rebuilds_every_index(tmp_path: Path, clean: bool) -> None:
    """IDX-1, REC-9: reopening with another index_interval_bytes leaves no index that differs
    from a rebuild with the new interval, and says so; appends continue by the new rule."""
    written = _fill(tmp_path)
    if not clean:
        _make_unclean(tmp_path)
    wider = attrs.evolve(SMALL, index_interval_bytes=250)
    with PartitionLog.open(str(tmp_path), wider) as log:
        assert any("index_interval_bytes 100, now 250" in p for p in log.recovery_report.problems)
        assert log.index_mismatches() == []
        log.append([Record(b"more", timestamp=2000)])
        assert log.index_mismatches() == []
        assert _values(log) == [*_expected_values(written), b"more"]
    with PartitionLog.open(str(tmp_path), wider) as log:
        assert log.recovery_report == RecoveryReport(clean=True)


class _DirectorySyncs(OsFileLayer):
    """The real file layer, noting every directory fsync."""

    def __init__(self) -> None:
        self.synced: list[str] = []

    def fsync_dir(self, path: str) -> None:
        self.synced.append(path)
        super().fsync_dir(path)


def test_open_makes_every_created_directory_durable(tmp_path: Path) -> None:
    """DUR-5: opening a log in directories that do not exist yet fsyncs the parent of each one
    it creates, outermost first, before anything is written inside."""
    layer = _DirectorySyncs()
    directory = tmp_path / "a" / "b" / "c"
    PartitionLog.open(str(directory), SMALL, file_layer=layer).close()
    assert layer.synced[:3] == [str(tmp_path), str(tmp_path / "a"), str(tmp_path / "a" / "b")]


def _entries(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _offset_entries(path: Path) -> list[tuple[int, int]]:
    return [decode_offset_entry(e) for e in _entries(path.read_bytes(), 8)]


def _time_entries(path: Path) -> list[tuple[int, int]]:
    return [decode_time_entry(e) for e in _entries(path.read_bytes(), 12)]


def _write_offsets(path: Path, entries: list[tuple[int, int]]) -> None:
    path.write_bytes(b"".join(encode_offset_entry(r, p) for r, p in entries))


def _write_times(path: Path, entries: list[tuple[int, int]]) -> None:
    path.write_bytes(b"".join(encode_time_entry(t, r) for t, r in entries))


def _damage_offsets(kind: str, entries: list[tuple[int, int]], log_size: int
                    ) -> list[tuple[int, int]]:
    (r0, p0), (r1, p1) = entries[0], entries[1]
    if kind == "relative_repeats":
        return [(r0, p0), (r0, p1), *entries[2:]]
    if kind == "position_repeats":
        return [(r0, p0), (r1, p0), *entries[2:]]
    if kind == "relative_zero":
        return [(0, p0), *entries[1:]]
    if kind == "position_zero":
        return [(r0, 0), *entries[1:]]
    if kind == "position_past_log":
        return [*entries[:-1], (entries[-1][0], log_size)]
    if kind == "last_names_wrong_offset":
        return [*entries[:-1], (entries[-1][0] - 1, entries[-1][1])]
    assert kind == "last_points_mid_batch"
    return [*entries[:-1], (entries[-1][0], entries[-1][1] + 1)]


@pytest.mark.parametrize("kind", ["relative_repeats", "position_repeats", "relative_zero",
                                  "position_zero", "position_past_log",
                                  "last_names_wrong_offset", "last_points_mid_batch"])
def test_each_offset_index_check_catches_its_damage(tmp_path: Path, kind: str) -> None:
    """REC-5: every cheap check of a trusted offset index catches the damage it is for."""
    written = _fill(tmp_path, batches=40)
    index = _segment_files(tmp_path, ".index")[0]
    log_size = _segment_files(tmp_path, ".log")[0].stat().st_size
    entries = _offset_entries(index)
    assert len(entries) >= 3
    _write_offsets(index, _damage_offsets(kind, entries, log_size))
    _make_unclean(tmp_path)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        assert any(str(index) in problem for problem in log.recovery_report.problems), kind
        assert _offset_entries(index) == entries
        assert _values(log) == _expected_values(written)


@pytest.mark.parametrize("kind", ["timestamp_repeats", "relative_goes_back", "relative_zero",
                                  "emptied"])
def test_each_time_index_check_catches_its_damage(tmp_path: Path, kind: str) -> None:
    """REC-5: every cheap check of a trusted time index catches the damage it is for."""
    written = _fill(tmp_path, batches=40)
    time_index = _segment_files(tmp_path, ".timeindex")[0]
    entries = _time_entries(time_index)
    assert len(entries) >= 2
    (t0, r0), (t1, r1) = entries[0], entries[1]
    damaged = {
        "timestamp_repeats": [(t0, r0), (t0, r1), *entries[2:]],
        "relative_goes_back": [(t0, r1), (t1, r0), *entries[2:]],
        "relative_zero": [(t0, 0), *entries[1:]],
        "emptied": [],
    }[kind]
    _write_times(time_index, damaged)
    _make_unclean(tmp_path)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        assert any(str(time_index) in problem for problem in log.recovery_report.problems), kind
        assert _time_entries(time_index) == entries
        assert _values(log) == _expected_values(written)


def test_intact_trusted_indexes_are_not_rebuilt(tmp_path: Path) -> None:
    """REC-5: undamaged sealed segments below the recovery point pass the checks untouched."""
    _fill(tmp_path, batches=40)
    _make_unclean(tmp_path)
    with PartitionLog.open(str(tmp_path), SMALL) as log:
        assert log.recovery_report.problems == ()
        assert log.recovery_report.indexes_rebuilt == log.recovery_report.segments_scanned == 1
