"""The arithmetic of the leader-epoch cache over tuples of ints (spec/replication-log.md).

Like `flyq.model._core`, every decision about which cache entries an operation keeps is taken here
by a function of plain ints and tuples, so that CrossHair can explore it
(`scripts/check_contracts.py`). Entries are `(epoch, start_offset)` pairs, strictly increasing in
both (EPOCH-3).
"""

from __future__ import annotations

__all__ = [
    "EPOCH_LIMIT",
    "NO_EPOCH",
    "end_offset_for_epoch",
    "epochs_after_append",
    "epochs_from_start",
    "epochs_truncated",
]

# Leader epochs are i32 values 0 <= epoch < 2**31; -1 means "no epoch" (partitionLeaderEpoch).
EPOCH_LIMIT = 1 << 31
NO_EPOCH = -1



def epochs_after_append(
    entries: tuple[tuple[int, int], ...], epoch: int, base_offset: int
) -> tuple[tuple[int, int], ...]:
    """The cache after a batch of `epoch` is appended at `base_offset` (EPOCH-4).

    pre: all(a[0] < b[0] and a[1] < b[1] for a, b in zip(entries, entries[1:]))
    pre: all(0 <= e[0] and e[1] < base_offset for e in entries)
    pre: epoch >= -1
    post: __return__[: len(entries)] == entries
    post: len(__return__) - len(entries) in (0, 1)
    post: (len(__return__) > len(entries)) == (epoch >= 0 and (not entries or entries[-1][0] < epoch))
    post: len(__return__) == len(entries) or __return__[-1] == (epoch, base_offset)
    """
    if epoch < 0 or (entries and entries[-1][0] >= epoch):
        return entries
    return (*entries, (epoch, base_offset))


def epochs_truncated(
    entries: tuple[tuple[int, int], ...], offset: int
) -> tuple[tuple[int, int], ...]:
    """The cache after `truncate(offset)`: entries starting at or above `offset` go (EPOCH-5).

    pre: all(a[0] < b[0] and a[1] < b[1] for a, b in zip(entries, entries[1:]))
    post: __return__ == entries[: len(__return__)]
    post: all(e[1] < offset for e in __return__)
    post: all(e[1] >= offset for e in entries[len(__return__) :])
    """
    kept = 0
    while kept < len(entries) and entries[kept][1] < offset:
        kept += 1
    return entries[:kept]


def epochs_from_start(
    entries: tuple[tuple[int, int], ...], log_start_offset: int, log_end_offset: int
) -> tuple[tuple[int, int], ...]:
    """The cache once `log_start_offset` has moved up (EPOCH-6, Kafka's truncateFromStart).

    Of the entries starting below the new start only the latest can still describe a record: it
    moves to `log_start_offset` unless another entry starts exactly there or no record is left.

    pre: all(a[0] < b[0] and a[1] < b[1] for a, b in zip(entries, entries[1:]))
    pre: log_start_offset <= log_end_offset
    pre: all(e[1] < log_end_offset for e in entries)
    post: all(a[0] < b[0] and a[1] < b[1] for a, b in zip(__return__, __return__[1:]))
    post: all(log_start_offset <= e[1] < log_end_offset for e in __return__)
    post: all(e in __return__ for e in entries if e[1] >= log_start_offset)
    post: all(e[0] in [x[0] for x in entries] for e in __return__)
    post: len(__return__) <= len(entries)
    """
    first_kept = 0
    while first_kept < len(entries) and entries[first_kept][1] < log_start_offset:
        first_kept += 1
    kept = entries[first_kept:]
    starts_at_new_start = bool(kept) and kept[0][1] == log_start_offset
    if first_kept == 0 or starts_at_new_start or log_start_offset == log_end_offset:
        return kept
    return ((entries[first_kept - 1][0], log_start_offset), *kept)


def end_offset_for_epoch(
    entries: tuple[tuple[int, int], ...], log_end_offset: int, epoch: int
) -> tuple[int, int]:
    """Kafka's OffsetsForLeaderEpoch answer for `epoch`: `(epoch found, its end offset)` (EPOCH-8).

    `(-1, -1)` if the cache is empty, `epoch` is -1, or `epoch` is above the latest cached epoch;
    `(epoch, first start_offset)` if `epoch` is below the earliest cached epoch; otherwise the
    largest cached epoch `<= epoch` and the start of the entry after it, or `log_end_offset` for
    the latest.

    pre: all(a[0] < b[0] and a[1] < b[1] for a, b in zip(entries, entries[1:]))
    pre: all(0 <= e[0] and e[1] < log_end_offset for e in entries)
    post: (__return__[0] == NO_EPOCH) == (not entries or epoch == NO_EPOCH or epoch > entries[-1][0])
    post: __return__[0] != NO_EPOCH or __return__[1] == NO_EPOCH
    post: __return__[0] == NO_EPOCH or __return__[0] <= epoch
    post: __return__[0] in (NO_EPOCH, epoch, *(e[0] for e in entries))
    post: __return__[0] == NO_EPOCH or __return__[1] in [*(e[1] for e in entries), log_end_offset]
    post: __return__[0] == NO_EPOCH or all(e[1] < __return__[1] for e in entries if e[0] <= epoch)
    """
    if not entries or epoch == NO_EPOCH or epoch > entries[-1][0]:
        return NO_EPOCH, NO_EPOCH
    if epoch < entries[0][0]:
        return epoch, entries[0][1]
    found = end = NO_EPOCH
    for index, (cached_epoch, _) in enumerate(entries):
        if cached_epoch > epoch:
            break
        found = cached_epoch
        end = entries[index + 1][1] if index + 1 < len(entries) else log_end_offset
    return found, end
