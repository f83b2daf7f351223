"""The arithmetic of the log, over plain ints and tuples of ints: what CrossHair checks.

Every decision the model makes about *which* records an operation touches is taken here, by a
function whose inputs are offsets, payload sizes or timestamps rather than records, so that
`crosshair check --analysis_kind=PEP316` can explore it symbolically (`scripts/check_contracts.py`).
`flyq.model._state` only gathers those inputs from a `LogState`, calls these functions and builds
the result. The `pre:`/`post:` lines are PEP 316 contracts; each restates a clause of spec/log.md.
"""

from __future__ import annotations

__all__ = [
    "OFFSET_LIMIT",
    "assign_offsets",
    "fits_in_offsets",
    "first_at_or_after",
    "kept_batch_count",
    "live_batch_start",
    "read_count",
    "read_positions",
    "truncation_points",
]

# Offsets are integers 0 <= offset < 2**63 (spec/log.md, State); `log_end_offset` is an offset too.
OFFSET_LIMIT = 1 << 63


def assign_offsets(log_end_offset: int, count: int) -> tuple[int, int]:
    """Offsets `(base_offset, last_offset)` that an append of `count` records gets (LOG-2, LOG-3).

    pre: 0 <= log_end_offset
    pre: count >= 1
    post: __return__[0] == log_end_offset
    post: __return__[1] - __return__[0] + 1 == count
    """
    return log_end_offset, log_end_offset + count - 1


def fits_in_offsets(log_end_offset: int, count: int) -> bool:
    """Whether `count` more records leave `log_end_offset` a valid offset (below 2**63).

    pre: 0 <= log_end_offset < OFFSET_LIMIT
    pre: count >= 1
    post: __return__ == (log_end_offset + count < OFFSET_LIMIT)
    """
    return count <= OFFSET_LIMIT - 1 - log_end_offset


def read_positions(log_start_offset: int, log_end_offset: int, offset: int, backward: bool) -> range:
    """Positions a read from `offset` considers, in the order it returns them (LOG-6, LOG-7).

    Positions index the readable records: position 0 holds `log_start_offset`.

    pre: 0 <= log_start_offset <= offset <= log_end_offset
    pre: not backward or offset < log_end_offset
    post: all(0 <= p < log_end_offset - log_start_offset for p in __return__)
    post: len(__return__) == 0 or __return__[0] == offset - log_start_offset
    post: all(b - a == (-1 if backward else 1) for a, b in zip(__return__, __return__[1:]))
    post: not backward or len(__return__) == offset - log_start_offset + 1
    post: backward or len(__return__) == log_end_offset - offset
    """
    first = offset - log_start_offset
    if backward:
        return range(first, -1, -1)
    return range(first, log_end_offset - log_start_offset)


def read_count(sizes: tuple[int, ...], max_records: int | None, max_bytes: int | None) -> int:
    """How many of the candidate records a read returns, given their payload sizes in read order.

    The candidates are the records from the read's offset to the end of the log (LOG-6) or down to
    `log_start_offset` (LOG-7). The read stops at the end, after `max_records`, or before the record
    that would take the payload total above `max_bytes` unless it is the first (LOG-6, LOG-9).

    pre: all(size >= 0 for size in sizes)
    pre: max_records is None or max_records >= 1
    pre: max_bytes is None or max_bytes >= 1
    post: 0 <= __return__ <= len(sizes)
    post: (__return__ >= 1) == (len(sizes) >= 1)
    post: max_records is None or __return__ <= max_records
    post: max_bytes is None or __return__ <= 1 or sum(sizes[:__return__]) <= max_bytes
    post: __return__ in (len(sizes), max_records) or max_bytes is not None
    post: __return__ in (len(sizes), max_records) or sum(sizes[: __return__ + 1]) > (max_bytes or 0)
    """
    count = 0
    total = 0
    for size in sizes:
        if max_records is not None and count >= max_records:
            break
        total += size
        # The first record is returned whatever its size, so a consumer always makes progress.
        if max_bytes is not None and total > max_bytes and count > 0:
            break
        count += 1
    return count


def first_at_or_after(timestamps: tuple[int, ...], timestamp: int) -> int | None:
    """Index of the first of `timestamps` that is `>= timestamp`, or None if none is (LOG-8).

    `timestamps` are the readable records' timestamps in offset order; they need not be sorted, so
    this is a scan and not a binary search.

    post: __return__ is None or (0 <= __return__ < len(timestamps))
    post: __return__ is None or timestamps[__return__] >= timestamp
    post: all(t < timestamp for t in timestamps[:__return__ if __return__ is not None else None])
    """
    for index, candidate in enumerate(timestamps):
        if candidate >= timestamp:
            return index
    return None


def truncation_points(
    log_start_offset: int, log_end_offset: int, base_offsets: tuple[int, ...]
) -> tuple[int, ...]:
    """Offsets `truncate` accepts (LOG-10), ascending.

    They are `log_start_offset`, `log_end_offset` and each batch `base_offset` between them. A
    batch that starts below `log_start_offset` has lost its first records to
    `delete_records_below`, so its base is no boundary of the readable log any more.

    pre: 0 <= log_start_offset <= log_end_offset
    pre: all(b < log_end_offset for b in base_offsets)
    pre: all(a < b for a, b in zip(base_offsets, base_offsets[1:]))
    post: __return__[0] == log_start_offset
    post: __return__[-1] == log_end_offset
    post: all(a < b for a, b in zip(__return__, __return__[1:]))
    post: all((b in __return__) == (b >= log_start_offset) for b in base_offsets)
    post: all(p in base_offsets or p in (log_start_offset, log_end_offset) for p in __return__)
    """
    inner = tuple(b for b in base_offsets if log_start_offset < b)
    if log_end_offset == log_start_offset:
        return (log_start_offset,)
    return (log_start_offset, *inner, log_end_offset)


def live_batch_start(next_offsets: tuple[int, ...], log_start_offset: int) -> int:
    """Index of the first batch that still holds a readable record (the rest can be dropped).

    `next_offsets[i]` is the offset just after batch `i`'s last record, ascending. A batch is wholly
    below `log_start_offset` when its next offset is `<= log_start_offset` (LOG-11).

    pre: all(a < b for a, b in zip(next_offsets, next_offsets[1:]))
    post: 0 <= __return__ <= len(next_offsets)
    post: all(n <= log_start_offset for n in next_offsets[:__return__])
    post: all(n > log_start_offset for n in next_offsets[__return__:])
    """
    index = 0
    while index < len(next_offsets) and next_offsets[index] <= log_start_offset:
        index += 1
    return index


def kept_batch_count(
    log_start_offset: int, base_offsets: tuple[int, ...], log_end_offset: int, offset: int
) -> int:
    """How many leading batches survive `truncate(offset)`, a truncation point (LOG-10).

    `base_offsets` are the batches' bases, ascending; the first batch holds `log_start_offset`
    (its base may be lower). Truncating to `log_start_offset` keeps nothing, even a batch that
    starts below it; otherwise the batches that start below `offset` stay.

    pre: 0 <= log_start_offset <= offset <= log_end_offset
    pre: offset in (log_start_offset, log_end_offset) or offset in base_offsets
    pre: all(a < b for a, b in zip(base_offsets, base_offsets[1:]))
    pre: all(b < log_end_offset for b in base_offsets)
    pre: not base_offsets or base_offsets[0] <= log_start_offset
    pre: base_offsets or log_start_offset == log_end_offset
    post: 0 <= __return__ <= len(base_offsets)
    post: all(b < offset for b in base_offsets[:__return__])
    post: __return__ == 0 or (*base_offsets, log_end_offset)[__return__] == offset
    post: __return__ > 0 or offset == log_start_offset
    """
    if offset == log_start_offset:
        return 0
    count = 0
    while count < len(base_offsets) and base_offsets[count] < offset:
        count += 1
    return count
