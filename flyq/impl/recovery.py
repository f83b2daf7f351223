"""Recovery: the decisions an unclean open makes, and the record of index repairs
(spec/recovery.md).

`PartitionLog.open` takes a `RecoveryPolicy`; the default is the only one FlyQ ships. The crash
harness injects deliberately broken subclasses to prove that it notices when recovery is wrong,
without a single test-only branch in the log. The index-repairs file (spec/format.md section 5.5)
is encoded and decoded here, purely.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence

import attrs

from flyq.codec.record_batch import BatchHeader, verify_batch_crc
from flyq.codec.segment_name import LOG_SUFFIX, parse_segment_name
from flyq.errors import CorruptCheckpoint, CorruptSegment, DecodeError
from flyq.impl.checkpoint_file import TEMP_SUFFIX
from flyq.impl.index_policy import NO_TIMESTAMP, IndexPolicy
from flyq.impl.leader_epochs import entries_cut_to_log
from flyq.impl.segment import ScanResult, Segment

__all__ = [
    "DirectoryListing",
    "Recovered",
    "RecoveryPolicy",
    "RecoveryReport",
    "classify_directory",
    "clean_open_policy",
    "decode_index_repairs",
    "encode_index_repairs",
    "marker_matches",
    "recover_segments",
]


@attrs.frozen
class RecoveryReport:
    """What open found and did (spec/recovery.md, section 4)."""

    clean: bool
    segments_scanned: int = 0
    bytes_truncated: int = 0
    indexes_rebuilt: int = 0
    segments_removed: int = 0
    problems: tuple[str, ...] = ()


@attrs.frozen
class DirectoryListing:
    """What a partition directory's names say (spec/recovery.md section 3.1 step 3)."""

    bases: frozenset[int]
    orphans: tuple[str, ...]
    unindexed: frozenset[int]
    problems: tuple[str, ...]


def classify_directory(names: Sequence[str]) -> DirectoryListing:
    """Segments, orphans and unindexed segments among a partition directory's `names`."""
    bases = frozenset(base for base, suffix in _segment_names(names) if suffix == LOG_SUFFIX)
    # An atomic replace that did not reach its rename: the old file is the truth.
    orphans = [name for name in names if name.endswith(TEMP_SUFFIX)]
    indexed: dict[int, int] = {}
    for name in names:
        if name.endswith(TEMP_SUFFIX):
            continue
        try:
            base, suffix = parse_segment_name(name)
        except DecodeError:
            continue
        if suffix != LOG_SUFFIX and base not in bases:
            orphans.append(name)
        elif suffix != LOG_SUFFIX:
            indexed[base] = indexed.get(base, 0) + 1
    # A segment missing an index file cannot be trusted as it stands: rebuild it.
    unindexed = frozenset(base for base in bases if indexed.get(base, 0) < 2)
    problems = tuple(f"segment {base} is missing an index file" for base in sorted(unindexed))
    return DirectoryListing(bases, tuple(orphans), unindexed, problems)


def _segment_names(names: Sequence[str]) -> list[tuple[int, str]]:
    out = []
    for name in names:
        if name.endswith(TEMP_SUFFIX):
            continue
        try:
            out.append(parse_segment_name(name))
        except DecodeError:
            continue
    return out


def marker_matches(marker: tuple[int, ...], active: Segment) -> bool:
    """Whether the clean-shutdown marker describes `active` as it is (section 3.2)."""
    log_end, active_base, active_size, _ = marker
    return (active.base_offset == active_base and active.log.size() == active_size
            and log_end >= active_base)


def clean_open_policy(active: Segment, marker: tuple[int, ...], index_interval_bytes: int
                      ) -> IndexPolicy:
    """The active segment's index-rule state as `close` left it (section 3.3)."""
    log_end, _, active_size, active_max_timestamp = marker
    last_entry = (active.offset_index.entry(active.offset_index.entries - 1)
                  if active.offset_index.entries else None)
    last_time = active.time_index.last_timestamp()
    return IndexPolicy(
        base_offset=active.base_offset,
        index_interval_bytes=index_interval_bytes,
        size=active_size,
        bytes_since_entry=active_size - (last_entry[1] if last_entry else 0),
        max_timestamp=active_max_timestamp,
        last_time_entry_timestamp=NO_TIMESTAMP if last_time is None else last_time,
        next_offset=log_end,
    )

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

    def cut_epoch_cache(self, entries: list[tuple[int, int]], log_start_offset: int,
                        log_end_offset: int) -> list[tuple[int, int]]:
        """The restored epoch cache cut to the recovered log (EPOCH-10)."""
        return entries_cut_to_log(entries, log_start_offset, log_end_offset)


@attrs.frozen
class Recovered:
    """The outcome of an unclean open: the segments kept (the last one active), where the log
    ends, the active segment's index state and the report."""

    segments: tuple[Segment, ...]
    log_end: int
    active_policy: IndexPolicy
    report: RecoveryReport


def recover_segments(segments: Sequence[Segment], *, recovery_point: int,
                     unindexed: frozenset[int], policy: RecoveryPolicy, index_max_bytes: int,
                     problems: list[str]) -> Recovered:
    """Validate the segments from the one holding the recovery point on; check the older ones'
    indexes and contiguity (section 3.4). Appends to `problems`; the caller fsyncs the directory
    if segments were removed and activates the last kept segment."""
    bases = [segment.base_offset for segment in segments]
    first_to_scan = max(bisect.bisect_right(bases, recovery_point) - 1, 0)
    scanned = truncated = rebuilt = removed = 0
    kept: list[Segment] = []
    log_end = segments[-1].base_offset
    active_policy = IndexPolicy(log_end, segments[-1].index_interval_bytes)
    for i, segment in enumerate(segments):
        sealed = i < len(segments) - 1
        if i < first_to_scan:
            missing = segment.base_offset in unindexed
            problem = None if missing else policy.trusted_index_problem(segment)
            if problem is not None:
                problems.append(problem)
            gap = None
            if missing or problem is not None:
                try:
                    segment.rebuild_indexes(sealed=True, index_max_bytes=0)
                    rebuilt += 1
                except CorruptSegment as exc:
                    gap = str(exc)
            if gap is None:
                gap = policy.trusted_contiguity_problem(segment, segments[i + 1].base_offset)
            if gap is None:
                kept.append(segment)
                continue
            # Not what a sealed segment can be under the crash model: validate it and
            # everything after it as if past the recovery point, which cuts at the gap.
            problems.append(gap)
            first_to_scan = i
        result = segment.validate_log(policy.check_batch)
        scanned += 1
        cut_after = False
        log_size = segment.log.size()
        if result.problem is not None:
            problems.append(f"{segment.log_path}: {result.problem}")
            tail = segment.log.pread(log_size - result.valid_bytes, result.valid_bytes)
            keep = policy.valid_end(result, tail)
            truncated += log_size - keep
            segment.log.truncate(keep)
            cut_after = True
        elif sealed and segments[i + 1].base_offset != result.next_offset:
            problems.append(
                f"{segment.log_path} ends at offset {result.next_offset} but the next "
                f"segment starts at {segments[i + 1].base_offset}"
            )
            cut_after = True
        segment.log.fsync()
        kept.append(segment)
        if cut_after:
            for later in segments[i + 1 :]:
                truncated += later.log.size()
                later.remove_files()
                removed += 1
            sealed = False
        if policy.rebuild_scanned_indexes():
            index_policy = segment.rebuild_indexes(sealed=sealed, index_max_bytes=index_max_bytes)
            rebuilt += 1
        else:
            index_policy = segment.expected_indexes(sealed=sealed)[2]
        if not sealed:
            log_end, active_policy = result.next_offset, index_policy
            break
        segment.close()
    report = RecoveryReport(clean=False, segments_scanned=scanned, bytes_truncated=truncated,
                            indexes_rebuilt=rebuilt, segments_removed=removed)
    return Recovered(tuple(kept), log_end, active_policy, report)
