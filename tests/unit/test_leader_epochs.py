"""The disk log's replication state on real files: epoch stamping, the epoch-cache and
high-watermark checkpoints, and what open restores (spec/replication-log.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flyq.codec.checkpoint import decode_checkpoint, encode_checkpoint
from flyq.codec.record_batch import decode_batch_header, encode_batch, iter_batch_headers
from flyq.errors import (
    FencedLeaderEpoch,
    InvalidArgument,
    InvalidRecord,
    OffsetOutOfRange,
    UnexpectedAppendOffset,
)
from flyq.impl import LogConfig, PartitionLog
from flyq.impl.leader_epochs import HIGH_WATERMARK_FILE, LEADER_EPOCH_CHECKPOINT_FILE
from flyq.model import ModelLog, empty_log
from flyq.records import Record


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 5_000

    def __call__(self) -> int:
        return self.now


def _open(path: Path, *, replica: bool = False, **config: int) -> PartitionLog:
    return PartitionLog.open(str(path), LogConfig(**config), clock=Clock(),
                             high_watermark_follows_end=not replica)


def _rec(value: bytes = b"v") -> Record:
    return Record(value=value, timestamp=1)


def _epochs_on_disk(log: PartitionLog) -> list[int]:
    """partitionLeaderEpoch of every stored batch, oldest first."""
    data = log.read_raw(log.log_start_offset, 1 << 20)
    return [header.partition_leader_epoch for _, header in iter_batch_headers(data)]


def _checkpoint(path: Path, name: str) -> tuple[int, ...]:
    data = (path / name).read_bytes()
    return decode_checkpoint(data, expected_count=(len(data) - 12) // 8, source=name)


def test_appends_are_stamped_with_the_leader_epoch(tmp_path: Path) -> None:
    """EPOCH-2: append and append_encoded store partitionLeaderEpoch = leader_epoch, CRC intact."""
    with _open(tmp_path) as log:
        log.append([_rec()])
        log.become_leader(4)
        log.append([_rec(), _rec()])
        log.append_encoded(encode_batch(99, [_rec()], partition_leader_epoch=17))
        assert _epochs_on_disk(log) == [-1, 4, 4]
        assert [r.offset for r in log.read(0)] == [0, 1, 2, 3]
        assert log.index_mismatches() == []
    # A reopen runs no recovery on a clean log, so check the CRCs by recovering on purpose.
    os.remove(tmp_path / "clean-shutdown")
    with _open(tmp_path) as log:
        assert log.recovery_report.bytes_truncated == 0
        assert log.log_end_offset == 4


def test_epoch_cache_is_checkpointed_and_restored(tmp_path: Path) -> None:
    """EPOCH-4, EPOCH-9, EPOCH-11: entries are written when assigned and restored at open;
    leader_epoch reopens as the latest cached epoch."""
    with _open(tmp_path) as log:
        log.become_leader(1)
        log.append([_rec(), _rec()])
        log.become_leader(3)
        assert _checkpoint(tmp_path, LEADER_EPOCH_CHECKPOINT_FILE) == (1, 0)
        log.append([_rec()])
        assert _checkpoint(tmp_path, LEADER_EPOCH_CHECKPOINT_FILE) == (1, 0, 3, 2)
        log.become_leader(5)
    with _open(tmp_path) as log:
        assert log.epoch_entries() == ((1, 0), (3, 2))
        assert log.leader_epoch == 3
        assert log.end_offset_for_epoch(2) == (1, 2)
        assert log.end_offset_for_epoch(3) == (3, 3)
        assert log.end_offset_for_epoch(0) == (0, 0)
        assert log.end_offset_for_epoch(4) == (-1, -1)
        with pytest.raises(FencedLeaderEpoch):
            log.become_leader(2)


def test_open_drops_entries_whose_batches_a_crash_lost(tmp_path: Path) -> None:
    """EPOCH-10: the checkpoint was written but the new epoch's batch did not survive: open cuts
    the entry past the recovered log end and writes the cut cache back."""
    with _open(tmp_path) as log:
        log.become_leader(1)
        log.append([_rec(), _rec()])
        kept_bytes = log.segments[-1].size
        log.become_leader(2)
        log.append([_rec()])
        assert log.epoch_entries() == ((1, 0), (2, 2))
    # The crash: the last batch never reached the disk, and close never ran.
    os.remove(tmp_path / "clean-shutdown")
    os.truncate(tmp_path / f"{0:020d}.log", kept_bytes)
    with _open(tmp_path) as log:
        assert log.log_end_offset == 2
        assert log.epoch_entries() == ((1, 0),)
        assert log.leader_epoch == 1
        assert _checkpoint(tmp_path, LEADER_EPOCH_CHECKPOINT_FILE) == (1, 0)


@pytest.mark.parametrize(
    "data",
    [b"garbage", encode_checkpoint((1, 0, 2)), encode_checkpoint((3, 0, 2, 1))],
    ids=["torn", "odd-count", "not-increasing"],
)
def test_a_damaged_epoch_checkpoint_is_a_problem_and_an_empty_cache(
    tmp_path: Path, data: bytes
) -> None:
    """EPOCH-10: a damaged or non-increasing checkpoint is reported and treated as missing."""
    with _open(tmp_path) as log:
        log.append([_rec()])
    (tmp_path / LEADER_EPOCH_CHECKPOINT_FILE).write_bytes(data)
    with _open(tmp_path) as log:
        assert log.epoch_entries() == ()
        assert any(LEADER_EPOCH_CHECKPOINT_FILE in p for p in log.recovery_report.problems)


def test_truncate_and_delete_rewrite_the_checkpoint(tmp_path: Path) -> None:
    """EPOCH-5, EPOCH-6, EPOCH-9: truncation and prefix deletion cut the cache on disk too."""
    with _open(tmp_path) as log:
        for epoch in (1, 2, 3):
            log.become_leader(epoch)
            log.append([_rec(), _rec()])
        log.truncate(4)
        assert _checkpoint(tmp_path, LEADER_EPOCH_CHECKPOINT_FILE) == (1, 0, 2, 2)
        log.delete_records_below(3)
        assert log.epoch_entries() == ((2, 3),)
        assert _checkpoint(tmp_path, LEADER_EPOCH_CHECKPOINT_FILE) == (2, 3)


def test_replicated_batches_are_stored_byte_for_byte(tmp_path: Path) -> None:
    """FOLLOW-1, FOLLOW-2: the leader's bytes, base offset and epoch included, are stored as
    given; a batch at the wrong offset or going back in epoch is refused."""
    first = encode_batch(0, [_rec(b"a"), _rec(b"b")], partition_leader_epoch=6)
    second = encode_batch(2, [_rec(b"c")], partition_leader_epoch=8)
    with _open(tmp_path) as log:
        assert log.append_replicated(first).base_offset == 0
        assert log.append_replicated(second).last_offset == 2
        assert log.read_raw(0, 1 << 20) == first + second
        assert log.epoch_entries() == ((6, 0), (8, 2))
        assert log.leader_epoch == -1
        with pytest.raises(UnexpectedAppendOffset):
            log.append_replicated(encode_batch(2, [_rec()], partition_leader_epoch=8))
        with pytest.raises(InvalidRecord):
            log.append_replicated(encode_batch(3, [_rec()], partition_leader_epoch=7))
        with pytest.raises(FencedLeaderEpoch):
            log.append([_rec()])
        assert log.log_end_offset == 3


def test_replica_high_watermark_is_checkpointed_and_clamped(tmp_path: Path) -> None:
    """HWM-3, HWM-6: advances are written before they return; open clamps to the log."""
    with _open(tmp_path, replica=True) as log:
        log.append([_rec(), _rec(), _rec()])
        assert log.high_watermark == 0
        log.advance_high_watermark(2)
        assert _checkpoint(tmp_path, HIGH_WATERMARK_FILE) == (2,)
        with pytest.raises(OffsetOutOfRange):
            log.advance_high_watermark(1)
        with pytest.raises(OffsetOutOfRange):
            log.advance_high_watermark(4)
    with _open(tmp_path, replica=True) as log:
        assert log.high_watermark == 2
    (tmp_path / HIGH_WATERMARK_FILE).write_bytes(encode_checkpoint((50,)))
    with _open(tmp_path, replica=True) as log:
        assert log.high_watermark == 3
        log.truncate(0)
        assert log.high_watermark == 0
        assert _checkpoint(tmp_path, HIGH_WATERMARK_FILE) == (0,)
    with _open(tmp_path) as log:
        log.append([_rec()])
        assert log.high_watermark == log.log_end_offset == 1
        with pytest.raises(InvalidArgument):
            log.advance_high_watermark(1)


def test_raw_reads_can_stop_at_the_high_watermark(tmp_path: Path) -> None:
    """HWM-5: read_raw returns only whole batches ending at or below the high watermark."""
    first = encode_batch(0, [_rec(), _rec()])
    with _open(tmp_path, replica=True) as log:
        log.append_replicated(first)
        log.append_replicated(encode_batch(2, [_rec()]))
        log.advance_high_watermark(1)
        assert log.read_raw(0, 1 << 20, up_to_high_watermark=True) == b""
        assert [r.offset for r in log.read(0, up_to_high_watermark=True)] == [0]
        log.advance_high_watermark(2)
        assert log.read_raw(0, 1 << 20, up_to_high_watermark=True) == first
        assert len(log.read_raw(0, 1 << 20)) > len(first)


def test_replica_retention_keeps_what_is_not_committed(tmp_path: Path) -> None:
    """HWM-4: retention deletes only sealed segments that end at or below the high watermark."""
    with _open(tmp_path, replica=True, segment_bytes=100, retention_bytes=1) as log:
        for _ in range(4):
            log.append([Record(b"x" * 60, timestamp=1)])
        assert len(log.segments) == 4
        assert log.apply_retention().segments_deleted == 0
        log.advance_high_watermark(2)
        result = log.apply_retention()
        assert (result.segments_deleted, result.log_start_offset) == (2, 2)


def test_both_logs_refuse_to_pass_the_last_offset_alike(tmp_path: Path) -> None:
    """LOG-13: an append whose records would pass offset 2**63 - 1 raises OffsetOutOfRange in
    the disk log as in the model, and changes neither."""
    start = (1 << 63) - 3
    (tmp_path / "log-start-offset").write_bytes(encode_checkpoint((start,)))
    model_log = ModelLog(empty_log(start))
    with _open(tmp_path) as log:
        for subject in (log, model_log):
            assert subject.append([_rec(), _rec()]).last_offset == (1 << 63) - 2
            with pytest.raises(OffsetOutOfRange):
                subject.append([_rec()])
            assert subject.log_end_offset == (1 << 63) - 1
        with pytest.raises(OffsetOutOfRange):
            log.append_encoded(encode_batch(0, [_rec()]))


def test_stamped_header_decodes(tmp_path: Path) -> None:
    """EPOCH-2: the stamped batch's header decodes with its base offset and new epoch."""
    with _open(tmp_path) as log:
        log.become_leader(2)
        log.append([_rec()])
        header = decode_batch_header(log.read_raw(0, 1 << 20))
        assert (header.base_offset, header.partition_leader_epoch) == (0, 2)
