"""A partition log's replication state on disk: the leader-epoch cache and a replica's high
watermark (spec/replication-log.md).

Both live in checkpoint files (spec/format.md §5) replaced atomically whenever they change, so a
crash leaves the old or the new content; open cuts them to the recovered log (EPOCH-10, HWM-6).
`flyq.impl.log.PartitionLog` owns one `ReplicaState` and calls it at open, after each append, on
truncation and when the log start moves.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable

from flyq.codec.checkpoint import decode_checkpoint
from flyq.codec.record_batch import BatchHeader, iter_batch_headers
from flyq.errors import (
    CorruptCheckpoint,
    FencedLeaderEpoch,
    InvalidArgument,
    InvalidRecord,
    OffsetOutOfRange,
)
from flyq.impl.checkpoint_file import read_checkpoint, read_whole_file, write_checkpoint
from flyq.impl.filelayer import FileLayer
from flyq.values import is_int

__all__ = [
    "HIGH_WATERMARK_FILE",
    "LEADER_EPOCH_CHECKPOINT_FILE",
    "NO_EPOCH",
    "ReplicaState",
    "entries_cut_to_log",
    "entries_from_start",
    "whole_batches_below",
]

LEADER_EPOCH_CHECKPOINT_FILE = "leader-epoch-checkpoint"
HIGH_WATERMARK_FILE = "high-watermark"
NO_EPOCH = -1
_EPOCH_LIMIT = 1 << 31
# A checkpoint's fixed bytes: magic, version, count, CRC (format.md §5.1).
_CHECKPOINT_OVERHEAD = 12
_VALUE_SIZE = 8


def whole_batches_below(data: bytes | memoryview, offset: int) -> bytes | memoryview:
    """The leading whole batches of `data` that end at or below `offset` (HWM-5)."""
    end = 0
    for position, header in iter_batch_headers(data):
        if header.next_offset > offset:
            break
        end = position + header.size
    return data[:end]


def entries_from_start(entries: list[tuple[int, int]], log_start_offset: int,
                       log_end_offset: int) -> list[tuple[int, int]]:
    """EPOCH-6: of the entries below a new log start only the latest survives, moved up to it
    (unless an entry starts exactly there or no record is left)."""
    below = [entry for entry in entries if entry[1] < log_start_offset]
    kept = [entry for entry in entries if entry[1] >= log_start_offset]
    if below and log_start_offset < log_end_offset and (
            not kept or kept[0][1] != log_start_offset):
        kept.insert(0, (below[-1][0], log_start_offset))
    return kept


def entries_cut_to_log(entries: list[tuple[int, int]], log_start_offset: int,
                       log_end_offset: int) -> list[tuple[int, int]]:
    """EPOCH-10: the cache open keeps for a recovered log: EPOCH-5 at its end (entries whose
    batches a crash lost go), then EPOCH-6 at its start."""
    below_end = [entry for entry in entries if entry[1] < log_end_offset]
    return entries_from_start(below_end, log_start_offset, log_end_offset)


def _increasing(entries: list[tuple[int, int]]) -> bool:
    return all(a[0] < b[0] and a[1] < b[1] for a, b in itertools.pairwise(entries))


class ReplicaState:
    """Leader epoch, epoch cache and (for a replica) the explicit high watermark of one log."""

    def __init__(self, layer: FileLayer, directory: str, high_watermark_follows_end: bool) -> None:
        self._layer = layer
        self._directory = directory
        self.high_watermark_follows_end = high_watermark_follows_end
        self.leader_epoch = NO_EPOCH
        self._entries: list[tuple[int, int]] = []
        # Only meaningful when the high watermark does not follow the end (HWM-3).
        self._high_watermark = 0

    def _path(self, name: str) -> str:
        return os.path.join(self._directory, name)

    # --- open (EPOCH-10, EPOCH-11, HWM-6) -------------------------------------------------------

    def load(self, log_start_offset: int, log_end_offset: int,
             cut: Callable[[list[tuple[int, int]], int, int], list[tuple[int, int]]]
             = entries_cut_to_log) -> list[str]:
        """Restore the cache and high watermark, cut to the recovered log by `cut` (the
        recovery policy's decision); returns problems."""
        problems: list[str] = []
        entries = self._read_entries(problems)
        self._entries = cut(entries, log_start_offset, log_end_offset)
        if self._entries != entries:
            self._write_entries()
        self.leader_epoch = self.latest_epoch
        if not self.high_watermark_follows_end:
            try:
                stored = read_checkpoint(self._layer, self._path(HIGH_WATERMARK_FILE), 1)
            except CorruptCheckpoint as exc:
                problems.append(str(exc))
                stored = None
            value = stored[0] if stored is not None else log_start_offset
            self._high_watermark = min(max(value, log_start_offset), log_end_offset)
            if stored is not None and self._high_watermark != value:
                # Written back: else a later open would clamp the stale value into records
                # appended since, which were never committed.
                self._set_high_watermark(self._high_watermark)
        return problems

    def _read_entries(self, problems: list[str]) -> list[tuple[int, int]]:
        path = self._path(LEADER_EPOCH_CHECKPOINT_FILE)
        data = read_whole_file(self._layer, path)
        if data is None:
            return []
        count = max(len(data) - _CHECKPOINT_OVERHEAD, 0) // _VALUE_SIZE
        try:
            values = decode_checkpoint(data, expected_count=count, source=path)
        except CorruptCheckpoint as exc:
            problems.append(str(exc))
            return []
        entries = list(zip(values[0::2], values[1::2], strict=False))
        if (count % 2 or not _increasing(entries)
                or not all(0 <= epoch < _EPOCH_LIMIT and start >= 0 for epoch, start in entries)):
            problems.append(f"{path}: entries {values} are not increasing (epoch, start) pairs; "
                            "the epoch cache starts empty")
            return []
        return entries

    def _write_entries(self) -> None:
        values = tuple(value for entry in self._entries for value in entry)
        write_checkpoint(self._layer, self._path(LEADER_EPOCH_CHECKPOINT_FILE), values)

    # --- epochs (EPOCH-1..8) ----------------------------------------------------------------------

    @property
    def latest_epoch(self) -> int:
        """The newest cached epoch, or -1."""
        return self._entries[-1][0] if self._entries else NO_EPOCH

    def entries(self) -> tuple[tuple[int, int], ...]:
        """The cache, oldest first (EPOCH-7)."""
        return tuple(self._entries)

    def become_leader(self, epoch: int) -> None:
        """EPOCH-1: a lower epoch than any known is fenced."""
        if not is_int(epoch) or not 0 <= epoch < _EPOCH_LIMIT:
            raise InvalidArgument("epoch", epoch, "a leader epoch: 0 <= epoch < 2**31")
        newest = max(self.leader_epoch, self.latest_epoch)
        if epoch < newest:
            raise FencedLeaderEpoch(epoch, newest, "become_leader: epochs never go back")
        self.leader_epoch = epoch

    def check_leader_append(self) -> None:
        """EPOCH-2: a leader whose log holds a newer epoch's batches has been superseded."""
        if self.latest_epoch > self.leader_epoch:
            raise FencedLeaderEpoch(self.leader_epoch, self.latest_epoch,
                                    "append: the log holds batches of a newer leader epoch")

    def check_replicated(self, header: BatchHeader) -> None:
        """FOLLOW-1: the epochs of a log's batches never go back."""
        epoch = header.partition_leader_epoch
        if epoch < NO_EPOCH or (epoch != NO_EPOCH and epoch < self.latest_epoch):
            raise InvalidRecord(
                f"replicated batch at {header.base_offset} has partitionLeaderEpoch {epoch}, "
                f"below the log's latest epoch {self.latest_epoch}"
            )

    def appended(self, epoch: int, base_offset: int) -> None:
        """EPOCH-4, EPOCH-9: the first batch of a new epoch adds an entry, checkpointed."""
        if epoch >= 0 and epoch > self.latest_epoch:
            self._entries.append((epoch, base_offset))
            self._write_entries()

    def end_offset_for_epoch(self, epoch: int, log_end_offset: int) -> tuple[int, int]:
        """EPOCH-8: Kafka's OffsetsForLeaderEpoch answer."""
        if not is_int(epoch):
            raise InvalidArgument("epoch", epoch, "an int")
        entries = self._entries
        if not entries or epoch == NO_EPOCH or epoch > entries[-1][0]:
            return NO_EPOCH, NO_EPOCH
        if epoch < entries[0][0]:
            # Kafka answers an epoch older than the cache with the earliest known start.
            return epoch, entries[0][1]
        answer = (NO_EPOCH, NO_EPOCH)
        for index, (cached, _) in enumerate(self._entries):
            if cached > epoch:
                break
            following = self._entries[index + 1][1] if index + 1 < len(self._entries) else None
            answer = (cached, log_end_offset if following is None else following)
        return answer

    # --- changes of the log (EPOCH-5, EPOCH-6, HWM-4) ------------------------------------------

    def truncated(self, offset: int) -> None:
        """After `truncate(offset)`: drop entries from `offset` up; lower the high watermark."""
        kept = [entry for entry in self._entries if entry[1] < offset]
        if kept != self._entries:
            self._entries = kept
            self._write_entries()
        if not self.high_watermark_follows_end and self._high_watermark > offset:
            self._set_high_watermark(offset)

    def start_moved(self, log_start_offset: int, log_end_offset: int) -> None:
        """After the log start moved up to `log_start_offset` (EPOCH-6)."""
        kept = entries_from_start(self._entries, log_start_offset, log_end_offset)
        if kept != self._entries:
            self._entries = kept
            self._write_entries()

    # --- high watermark (HWM-1..6) -------------------------------------------------------------

    def high_watermark(self, log_end_offset: int) -> int:
        """The high watermark of a log ending at `log_end_offset`."""
        return log_end_offset if self.high_watermark_follows_end else self._high_watermark

    def advance_high_watermark(self, offset: int, log_start_offset: int,
                               log_end_offset: int) -> None:
        """HWM-2, HWM-3: up only, to `log_end_offset` at most; checkpointed before returning."""
        if not is_int(offset):
            raise InvalidArgument("offset", offset, "an int")
        if self.high_watermark_follows_end:
            raise InvalidArgument("advance_high_watermark", offset,
                                  "a log opened with an explicit high watermark")
        if not self._high_watermark <= offset <= log_end_offset:
            raise OffsetOutOfRange(
                offset, log_start_offset=log_start_offset, log_end_offset=log_end_offset,
                valid=f"the high watermark moves from {self._high_watermark} up to "
                      "log_end_offset at most",
            )
        if offset != self._high_watermark:
            self._set_high_watermark(offset)

    def _set_high_watermark(self, offset: int) -> None:
        write_checkpoint(self._layer, self._path(HIGH_WATERMARK_FILE), (offset,))
        self._high_watermark = offset
