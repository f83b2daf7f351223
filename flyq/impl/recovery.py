"""Recovery: the decisions an unclean open makes, and the record of index repairs
(spec/recovery.md).

`PartitionLog.open` takes a `RecoveryPolicy`; the default is the only one FlyQ ships. The crash
harness injects deliberately broken subclasses to prove that it notices when recovery is wrong,
without a single test-only branch in the log. The index-repairs file (spec/format.md section 5.5)
is encoded and decoded here, purely.
"""

from __future__ import annotations

import json

from flyq.codec.record_batch import BatchHeader, verify_batch_crc
from flyq.errors import CorruptCheckpoint
from flyq.impl.segment import ScanResult, Segment

__all__ = ["RecoveryPolicy", "decode_index_repairs", "encode_index_repairs"]

INDEX_REPAIRS_VERSION = 1

# One remembered repair: (at_ms, segment base offset, index file name, reason).
RepairEntry = tuple[int, int, str, str]


def encode_index_repairs(entries: list[RepairEntry]) -> bytes:
    """The index-repairs file holding `entries`, oldest first (format.md section 5.5)."""
    document = {
        "version": INDEX_REPAIRS_VERSION,
        "repairs": [{"at_ms": at_ms, "base_offset": base, "file": name, "reason": reason}
                    for at_ms, base, name, reason in entries],
    }
    return json.dumps(document, sort_keys=True).encode() + b"\n"


def decode_index_repairs(data: bytes, *, source: str) -> list[RepairEntry]:
    """Entries of an index-repairs file; `CorruptCheckpoint` if it is not one."""
    try:
        document = json.loads(data.decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptCheckpoint(f"not UTF-8 JSON ({exc})", field="document", position=0,
                                source=source) from exc
    if not isinstance(document, dict) or document.get("version") != INDEX_REPAIRS_VERSION:
        raise CorruptCheckpoint(f"expected version {INDEX_REPAIRS_VERSION}", field="version",
                                position=0, source=source)
    repairs = document.get("repairs")
    if not isinstance(repairs, list):
        raise CorruptCheckpoint("expected a list", field="repairs", position=0, source=source)
    entries: list[RepairEntry] = []
    for i, item in enumerate(repairs):
        fields = (item.get("at_ms"), item.get("base_offset"), item.get("file"),
                  item.get("reason")) if isinstance(item, dict) else None
        if (fields is None or not all(isinstance(v, int) and not isinstance(v, bool)
                                      for v in fields[:2])
                or not all(isinstance(v, str) for v in fields[2:])
                or "/" in str(fields[2]) or "\\" in str(fields[2])):
            raise CorruptCheckpoint("expected at_ms, base_offset (integers), file, reason "
                                    "(strings, file a plain name)", field=f"repairs[{i}]",
                                    position=0, source=source)
        at_ms, base, name, reason = fields
        assert isinstance(at_ms, int) and isinstance(base, int)
        assert isinstance(name, str) and isinstance(reason, str)
        entries.append((at_ms, base, name, reason))
    return entries


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

    def trusted_contiguity_problem(self, segment: Segment, next_base: int) -> str | None:
        """Whether a trusted sealed segment starts at its name and ends where the next segment
        starts, or None (REC-12); reads its first header and at most one index interval of
        headers at its end."""
        return segment.contiguity_problem(next_base)
