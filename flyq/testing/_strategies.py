"""Shared Hypothesis strategies: records, batches, read limits and model states.

Records are drawn to hit what spec/log.md says must survive a round trip (LOG-4): null distinct from
empty in keys, values and header values; header keys that repeat; timestamps that are not monotonic
and often equal (a small pool plus the wide range 0..2**40); and, now and then, a large value. Large
values are a short drawn pattern repeated, so they cost little to generate and shrink.
"""

from __future__ import annotations

from typing import TypeVar

from hypothesis import strategies as st

from flyq.codec.record_batch import (
    BATCH_HEADER_SIZE,
    COMPRESSION_GZIP,
    COMPRESSION_NONE,
    encode_batch,
)
from flyq.model import LogState, append, batch_boundaries, delete_records_below, empty_log, truncate
from flyq.records import Header, Record

__all__ = [
    "KIB",
    "LARGE_VALUE_MAX",
    "TIMESTAMP_MAX",
    "TIMESTAMP_POOL",
    "batches",
    "byte_limits",
    "corrupt_crc",
    "crc_corruptions",
    "encoded_batches",
    "header_keys",
    "headers",
    "invalid_limits",
    "log_states",
    "optional_bytes",
    "record_limits",
    "records",
    "timestamps",
]

KIB = 1024
# Values go up to this size now and then; pass `large_value_max=0` to keep every value small.
LARGE_VALUE_MAX = 20 * KIB
TIMESTAMP_MAX = 1 << 40
# Few distinct values, so equal timestamps and out-of-order runs are common.
TIMESTAMP_POOL = (0, 1, 2, 3, 999, 1_000, 1_700_000_000_000, TIMESTAMP_MAX)
# One draw in this many takes the rare branch of `_now_and_then`.
_RARELY = 12

T = TypeVar("T")


def _now_and_then(common: st.SearchStrategy[T], rare: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    # The rare branch is the *last* index, so shrinking (towards 0) moves away from it.
    return st.integers(0, _RARELY - 1).flatmap(lambda n: rare if n == _RARELY - 1 else common)


def _repeat(pattern: bytes, size: int) -> bytes:
    return (pattern * (size // len(pattern) + 1))[:size]


def timestamps() -> st.SearchStrategy[int]:
    """Record timestamps: often from a small pool (so equal), otherwise anywhere in 0..2**40."""
    return st.one_of(st.sampled_from(TIMESTAMP_POOL), st.integers(0, TIMESTAMP_MAX))


def optional_bytes(*, small_max: int = 16, large_max: int = 0) -> st.SearchStrategy[bytes | None]:
    """None, b"", up to `small_max` bytes, or (rarely, if `large_max` > 0) up to `large_max`."""
    common = st.one_of(st.none(), st.just(b""), st.binary(min_size=1, max_size=small_max))
    if large_max <= small_max:
        return common
    large = st.builds(_repeat, st.binary(min_size=1, max_size=8), st.integers(small_max + 1, large_max))
    return _now_and_then(common, large)


def header_keys() -> st.SearchStrategy[str]:
    """Header keys: mostly from a small pool so that keys repeat; any UTF-8 text otherwise."""
    return st.one_of(
        st.sampled_from(("", "k", "trace-id", "é", "日本")),
        st.text(max_size=8),
    )


def headers(*, max_size: int = 4) -> st.SearchStrategy[tuple[Header, ...]]:
    """Ordered header pairs with repeated keys and null or empty values."""
    pair = st.tuples(header_keys(), optional_bytes(small_max=8))
    return st.lists(pair, max_size=max_size).map(tuple)


def records(*, large_value_max: int = LARGE_VALUE_MAX) -> st.SearchStrategy[Record]:
    """Valid records; values are occasionally up to `large_value_max` bytes (0: never large)."""
    return st.builds(
        Record,
        value=optional_bytes(small_max=32, large_max=large_value_max),
        key=optional_bytes(small_max=16),
        headers=headers(),
        timestamp=timestamps(),
    )


def batches(
    *, min_size: int = 1, max_size: int = 8, large_value_max: int = LARGE_VALUE_MAX
) -> st.SearchStrategy[list[Record]]:
    """What one `append` carries: a list of `min_size`..`max_size` valid records."""
    return st.lists(records(large_value_max=large_value_max), min_size=min_size, max_size=max_size)


def record_limits() -> st.SearchStrategy[int | None]:
    """Valid `max_records`: absent or an int >= 1."""
    return st.one_of(st.none(), st.integers(1, 12))


def byte_limits() -> st.SearchStrategy[int | None]:
    """Valid `max_bytes`: absent, small (cuts inside a batch) or large."""
    return st.one_of(st.none(), st.integers(1, 64), st.integers(1, 64 * KIB))


def invalid_limits() -> st.SearchStrategy[object]:
    """Values `max_records` / `max_bytes` must refuse with `InvalidArgument`."""
    return st.one_of(
        st.integers(max_value=0),
        st.sampled_from([True, False, 1.0, 2.5, "1", b"1", [1]]),
    )


@st.composite
def log_states(
    draw: st.DrawFn,
    *,
    max_steps: int = 8,
    max_batch_size: int = 4,
    large_value_max: int = 0,
    start_offsets: st.SearchStrategy[int] | None = None,
) -> LogState:
    """A model `LogState` reached by appends, prefix deletions and truncations from empty.

    Deletions land anywhere, so the first batch often starts below `log_start_offset`. Batches are
    kept small by default: generating records dominates the cost of a state.
    """
    if start_offsets is None:
        start_offsets = st.sampled_from((0, 0, 0, 1_000, (1 << 62)))
    state = empty_log(draw(start_offsets, label="log_start_offset"))
    for _ in range(draw(st.integers(0, max_steps), label="steps")):
        step = draw(st.sampled_from(("append", "append", "append", "delete", "truncate")))
        if step == "append":
            state, _ = append(
                state, draw(batches(max_size=max_batch_size, large_value_max=large_value_max))
            )
        elif step == "delete":
            offset = draw(st.integers(state.log_start_offset, state.log_end_offset))
            state = delete_records_below(state, offset)
        else:
            state = truncate(state, draw(st.sampled_from(batch_boundaries(state))))
    return state


@st.composite
def encoded_batches(
    draw: st.DrawFn, *, max_size: int = 8, large_value_max: int = 0
) -> tuple[list[Record], bytes]:
    """A batch of valid records and its RecordBatch v2 encoding with arbitrary producer fields:
    base offset, compression (none or gzip), leader epoch, producer id, epoch and sequence, and
    the transactional bit. What `append_encoded` must accept whatever those fields hold."""
    batch = draw(batches(max_size=max_size, large_value_max=large_value_max))
    data = encode_batch(
        draw(st.integers(0, 1 << 40), label="base_offset"),
        batch,
        compression=draw(st.sampled_from([COMPRESSION_NONE, COMPRESSION_GZIP])),
        partition_leader_epoch=draw(st.integers(-1, (1 << 31) - 1)),
        producer_id=draw(st.one_of(st.just(-1), st.integers(-1, (1 << 63) - 1)),
                         label="producer_id"),
        producer_epoch=draw(st.integers(-1, (1 << 15) - 1)),
        base_sequence=draw(st.integers(-1, (1 << 31) - 1)),
        is_transactional=draw(st.booleans()),
    )
    return batch, data


# Bytes whose change only the CRC can notice (format.md §1): the CRC itself, the producer fields,
# and the records. Changing any other header field is a framing error found before the CRC.
_CRC_FIELD = range(17, 21)
_PRODUCER_FIELDS = range(43, 57)


def crc_corruptions() -> st.SearchStrategy[tuple[int, int]]:
    """(position, nonzero xor mask) pairs for `corrupt_crc`; positions past the header are taken
    modulo the records' length when applied."""
    positions = st.one_of(
        st.sampled_from(_CRC_FIELD),
        st.sampled_from(_PRODUCER_FIELDS),
        st.integers(BATCH_HEADER_SIZE, BATCH_HEADER_SIZE + 4096),
    )
    return st.tuples(positions, st.integers(1, 255))


def corrupt_crc(data: bytes, corruption: tuple[int, int]) -> bytes:
    """`data` (one encoded batch) with one byte flipped so that its CRC no longer matches."""
    position, mask = corruption
    if position >= BATCH_HEADER_SIZE:
        position = BATCH_HEADER_SIZE + (position - BATCH_HEADER_SIZE) % (len(data) - BATCH_HEADER_SIZE)
    out = bytearray(data)
    out[position] ^= mask
    return bytes(out)
