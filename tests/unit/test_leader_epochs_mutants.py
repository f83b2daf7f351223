"""Leader epochs and the epoch cache: bounds, answers and error facts a mutation run showed no
other unit test pinned (spec/replication-log.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flyq.codec.checkpoint import encode_checkpoint
from flyq.codec.record_batch import LOG_APPEND_TIME, decode_batch, encode_batch
from flyq.errors import FencedLeaderEpoch, InvalidArgument, InvalidRecord
from flyq.impl import LogConfig, PartitionLog
from flyq.impl.leader_epochs import LEADER_EPOCH_CHECKPOINT_FILE
from flyq.records import Record


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 5_000

    def __call__(self) -> int:
        return self.now


def _open(path: Path, *, replica: bool = False) -> PartitionLog:
    return PartitionLog.open(str(path), LogConfig(), clock=Clock(),
                             high_watermark_follows_end=not replica)


def _records(count: int) -> list[Record]:
    return [Record(b"v%d" % i, timestamp=1) for i in range(count)]


@pytest.mark.parametrize("epoch", [2**31, -1])
def test_become_leader_refuses_an_epoch_outside_int32(tmp_path: Path, epoch: int) -> None:
    """EPOCH-1: a leader epoch is 0 <= epoch < 2**31; outside it is InvalidArgument naming it."""
    with _open(tmp_path) as log:
        with pytest.raises(InvalidArgument) as caught:
            log.become_leader(epoch)
        assert (caught.value.name, caught.value.value) == ("epoch", epoch)
        assert f"epoch={epoch}" in str(caught.value) and "2**31" in str(caught.value)
        assert log.leader_epoch == -1
        log.become_leader(2**31 - 1)
        assert log.leader_epoch == 2**31 - 1


def test_become_leader_again_with_the_same_epoch_changes_nothing(tmp_path: Path) -> None:
    """EPOCH-1: the same epoch again is accepted and changes nothing."""
    with _open(tmp_path) as log:
        log.become_leader(3)
        log.append(_records(1))
        log.become_leader(3)
        assert log.leader_epoch == 3
        assert log.epoch_entries() == ((3, 0),)


def test_a_lower_epoch_is_fenced_naming_both_epochs(tmp_path: Path) -> None:
    """EPOCH-1: FencedLeaderEpoch carries the epoch asked for and the newest known, and says
    which call refused it."""
    with _open(tmp_path) as log:
        log.become_leader(5)
        with pytest.raises(FencedLeaderEpoch) as caught:
            log.become_leader(4)
        assert (caught.value.epoch, caught.value.newest_epoch) == (4, 5)
        message = str(caught.value)
        assert "leader epoch 4 " in message and "epoch 5" in message
        assert "become_leader" in message
        assert log.leader_epoch == 5


def test_end_offset_for_epoch_answers_with_the_next_entry_start(tmp_path: Path) -> None:
    """EPOCH-8: for the largest cached epoch e <= epoch the end is the next entry's start, or
    log_end_offset for the latest entry."""
    with _open(tmp_path) as log:
        log.become_leader(0)
        log.append(_records(5))
        log.become_leader(2)
        log.append(_records(4))
        log.become_leader(4)
        log.append(_records(3))
        assert log.epoch_entries() == ((0, 0), (2, 5), (4, 9))
        assert log.end_offset_for_epoch(0) == (0, 5)
        assert log.end_offset_for_epoch(1) == (0, 5)
        assert log.end_offset_for_epoch(2) == (2, 9)
        assert log.end_offset_for_epoch(3) == (2, 9)
        assert log.end_offset_for_epoch(4) == (4, 12)
        assert log.end_offset_for_epoch(5) == (-1, -1)


def test_a_replicated_batch_going_back_in_epoch_names_the_facts(tmp_path: Path) -> None:
    """FOLLOW-1: a replicated batch below the latest epoch is refused naming its base offset,
    its epoch and the log's latest epoch."""
    with _open(tmp_path, replica=True) as log:
        log.append_replicated(encode_batch(0, _records(2), partition_leader_epoch=8))
        with pytest.raises(InvalidRecord) as caught:
            log.append_replicated(encode_batch(2, _records(1), partition_leader_epoch=7))
        message = str(caught.value)
        assert "at 2 " in message and "partitionLeaderEpoch 7" in message and "epoch 8" in message
        assert log.log_end_offset == 2


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ((1, 0, 1, 1), ()),
        ((1, 0, 2, 0), ()),
        ((5, 0, 6, 1), ((5, 0), (6, 1))),
    ],
    ids=["repeated-epoch", "repeated-start", "epochs-above-starts"],
)
def test_open_keeps_only_a_strictly_increasing_checkpoint(
    tmp_path: Path, values: tuple[int, ...], expected: tuple[tuple[int, int], ...]
) -> None:
    """EPOCH-3, EPOCH-10: a checkpoint is kept only if strictly increasing in both epoch and
    start offset; a repeated epoch or start makes it damaged and the cache starts empty."""
    with _open(tmp_path) as log:
        for _ in range(3):
            log.append(_records(1))
    (tmp_path / LEADER_EPOCH_CHECKPOINT_FILE).write_bytes(encode_checkpoint(values))
    with _open(tmp_path) as log:
        assert log.epoch_entries() == expected
        damaged = any(LEADER_EPOCH_CHECKPOINT_FILE in p for p in log.recovery_report.problems)
        assert damaged == (expected == ())


def test_a_superseded_leader_append_is_fenced_naming_both_epochs(tmp_path: Path) -> None:
    """EPOCH-2: once the log holds a newer leader's batches, an append as the older leader is
    FencedLeaderEpoch naming both epochs and the append."""
    with _open(tmp_path) as log:
        log.become_leader(2)
        log.append(_records(1))
        log.append_replicated(encode_batch(1, _records(1), partition_leader_epoch=5))
        with pytest.raises(FencedLeaderEpoch) as caught:
            log.append(_records(1))
        assert (caught.value.epoch, caught.value.newest_epoch) == (2, 5)
        assert "append" in str(caught.value)
        assert log.log_end_offset == 2


@pytest.mark.parametrize("encoded", [False, True])
def test_log_append_time_batches_are_stamped_with_the_leader_epoch(tmp_path: Path,
                                                                   encoded: bool) -> None:
    """EPOCH-2: with LogAppendTime the stored batch carries the leader epoch and its records
    read back whole."""
    config = LogConfig(message_timestamp_type=LOG_APPEND_TIME)
    with PartitionLog.open(str(tmp_path), config, clock=Clock()) as log:
        log.become_leader(7)
        records = [Record(b"first", key=b"k"), Record(b"second")]
        if encoded:
            log.append_encoded(encode_batch(0, records))
        else:
            log.append(records)
        stored = decode_batch(log.read_raw(0, 1 << 20))
        assert stored.header.partition_leader_epoch == 7
        assert [(r.key, r.value) for r in log.read(0)] == [(b"k", b"first"), (None, b"second")]
        assert [(r.record.key, r.record.value) for r in stored.records] == [
            (b"k", b"first"), (None, b"second")]


def test_truncate_above_the_high_watermark_leaves_it(tmp_path: Path) -> None:
    """HWM-4: truncate lowers the high watermark only if it was above the offset; below it, the
    high watermark and its checkpoint stay."""
    with _open(tmp_path, replica=True) as log:
        for _ in range(4):
            log.append(_records(1))
        log.advance_high_watermark(1)
        log.truncate(3)
        assert log.high_watermark == 1
    with _open(tmp_path, replica=True) as log:
        assert log.high_watermark == 1
        log.truncate(0)
        assert log.high_watermark == 0
