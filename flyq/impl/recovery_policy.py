"""The decisions an unclean open makes, gathered in one injectable object (spec/recovery.md).

`PartitionLog.open` takes a `RecoveryPolicy`; the default is the only one FlyQ ships. The crash
harness injects deliberately broken subclasses to prove that it notices when recovery is wrong,
without a single test-only branch in the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyq.codec.record_batch import BatchHeader, verify_batch_crc

if TYPE_CHECKING:
    from flyq.impl.segment import ScanResult, Segment

__all__ = ["RecoveryPolicy"]


class RecoveryPolicy:
    """What recovery checks and keeps. Every method is a decision spec/recovery.md states."""

    def check_batch(self, buffer: bytes, position: int, header: BatchHeader, source: str) -> None:
        """Raise `CorruptRecordBatch` unless the framed batch at `position` is intact (REC-2)."""
        verify_batch_crc(buffer, position, header, source=source)

    def valid_end(self, result: ScanResult, tail: bytes) -> int:
        """Where to cut a segment whose scan stopped early; `tail` is everything after the
        valid prefix. Nothing of an invalid tail is kept (REC-3)."""
        return result.valid_bytes

    def rebuild_scanned_indexes(self) -> bool:
        """Whether indexes of scanned segments are rebuilt rather than trusted (REC-4)."""
        return True

    def trusted_index_problem(self, segment: Segment) -> str | None:
        """Cheap check of a sealed segment below the recovery point; None if it passes (REC-5)."""
        return segment.index_problem(sealed=True)
