"""Golden byte vectors, checked in both directions.

The vectors live in `vectors/*.json` and are regenerated only by `scripts/make_golden.py`, from
kafka-python's encoder or from bytes written out by hand, never from FlyQ. Each is
`{name, hex, decoded, error, note}`: a valid vector must decode to `decoded` and, where FlyQ encodes
that kind of value canonically, `decoded` must encode back to `hex`; an error vector must make the
decoder raise exactly the FlyQ exception class named by `error` (and, where given, name `field`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import flyq.errors
from flyq.codec._varint import decode_varint, encode_varint
from flyq.codec.checkpoint import decode_checkpoint, encode_checkpoint
from flyq.codec.index_entry import (
    decode_offset_entry,
    decode_time_entry,
    encode_offset_entry,
    encode_time_entry,
)
from flyq.codec.record_batch import (
    COMPRESSION_NONE,
    MAX_UNCOMPRESSED_BYTES,
    decode_batch,
    encode_batch,
    validate_batch,
)
from flyq.codec.segment_name import parse_segment_name, segment_name
from flyq.records import Record

pytestmark = pytest.mark.golden

VECTORS = Path(__file__).parent / "vectors"
Vector = dict[str, Any]


def _load(file_name: str) -> list[Vector]:
    with (VECTORS / file_name).open(encoding="utf-8") as f:
        vectors: list[Vector] = json.load(f)
    return vectors


def _cases(file_name: str, *, errors: bool) -> list[Any]:
    return [
        pytest.param(v, id=v["name"])
        for v in _load(file_name)
        if (v["error"] is not None) == errors
    ]


def _unhex(value: str | None) -> bytes | None:
    return None if value is None else bytes.fromhex(value)


def _records_of(decoded: Vector) -> list[Record]:
    return [
        Record(
            value=_unhex(r["value"]),
            key=_unhex(r["key"]),
            headers=tuple((k, _unhex(v)) for k, v in r["headers"]),
            timestamp=r["timestamp"],
        )
        for r in decoded["records"]
    ]


def _check_error(vector: Vector, decode: Callable[[bytes], object]) -> None:
    expected = getattr(flyq.errors, vector["error"])
    assert issubclass(expected, flyq.errors.FlyQError)
    with pytest.raises(flyq.errors.FlyQError) as info:
        decode(bytes.fromhex(vector["hex"]))
    assert type(info.value) is expected, f"raised {type(info.value).__name__}: {info.value}"
    if "field" in vector:
        assert info.value.field == vector["field"], str(info.value)  # type: ignore[attr-defined]


# --- the files themselves -------------------------------------------------------------------------

VECTOR_FILES = sorted(p.name for p in VECTORS.glob("*.json"))


@pytest.mark.parametrize("file_name", VECTOR_FILES)
def test_vector_file_is_well_formed(file_name: str) -> None:
    """Every vector has a unique name, valid hex, and exactly one of `decoded` and `error`."""
    vectors = _load(file_name)
    assert vectors
    names = [v["name"] for v in vectors]
    assert len(names) == len(set(names))
    for v in vectors:
        assert {"name", "hex", "decoded", "error", "note"} <= v.keys()
        bytes.fromhex(v["hex"])
        assert (v["decoded"] is None) != (v["error"] is None), v["name"]


def test_expected_vector_files_exist() -> None:
    """All seven vector files are checked in, so a deleted file cannot silently skip its tests."""
    assert set(VECTOR_FILES) >= {
        "record_batch.json",
        "record_batch_errors.json",
        "varint.json",
        "offset_index_entry.json",
        "time_index_entry.json",
        "checkpoint.json",
        "segment_name.json",
    }


# --- record batches -------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", _cases("record_batch.json", errors=False))
def test_record_batch_decodes_to_expected(vector: Vector) -> None:
    """decode_batch(hex) yields the header fields and records kafka-python put in."""
    data = bytes.fromhex(vector["hex"])
    batch = decode_batch(data)
    header = vector["decoded"]["header"]
    for field, value in header.items():
        assert getattr(batch.header, field) == value, field
    assert batch.header.size == len(data)
    got = [
        {
            "offset": r.offset,
            "timestamp": r.timestamp,
            "key": None if r.key is None else r.key.hex(),
            "value": None if r.value is None else r.value.hex(),
            "headers": [[k, None if v is None else v.hex()] for k, v in r.headers],
        }
        for r in batch.records
    ]
    assert got == vector["decoded"]["records"]
    is_control = vector["decoded"].get("is_control", False)
    assert batch.header.is_control == is_control
    assert all(r.is_control == is_control for r in batch.records)


@pytest.mark.parametrize("vector", _cases("record_batch.json", errors=False))
def test_record_batch_vectors_pass_validation(vector: Vector) -> None:
    """validate_batch accepts every valid vector and returns the header decode_batch reads."""
    data = bytes.fromhex(vector["hex"])
    header = validate_batch(data, max_uncompressed_bytes=MAX_UNCOMPRESSED_BYTES)
    assert header == decode_batch(data).header


# Compressed bytes are not canonical (gzip headers, levels): those vectors are decode-only. So are
# LogAppendTime and control batches, which a broker stamps and encode_batch never writes.
UNCOMPRESSED_BATCHES = [
    case
    for case in _cases("record_batch.json", errors=False)
    if case.values[0]["decoded"]["header"]["attributes"] & 0x07 == COMPRESSION_NONE
    and not case.values[0]["decoded"]["header"]["attributes"] & 0x28
]


@pytest.mark.parametrize("vector", UNCOMPRESSED_BATCHES)
def test_record_batch_encodes_to_expected(vector: Vector) -> None:
    """encode_batch(decoded) with the vector's epoch and producer fields reproduces hex exactly."""
    header = vector["decoded"]["header"]
    encoded = encode_batch(
        header["base_offset"],
        _records_of(vector["decoded"]),
        partition_leader_epoch=header["partition_leader_epoch"],
        producer_id=header["producer_id"],
        producer_epoch=header["producer_epoch"],
        base_sequence=header["base_sequence"],
        is_transactional=bool(header["attributes"] & 0x10),
    )
    assert encoded.hex() == vector["hex"]


def test_default_epoch_matches_java_producer_vector() -> None:
    """With no epoch given, encode_batch writes partitionLeaderEpoch -1, as Java's producer does."""
    (vector,) = [
        v for v in _load("record_batch.json") if v["name"] == "java_producer_epoch_minus_one"
    ]
    assert encode_batch(0, _records_of(vector["decoded"])).hex() == vector["hex"]


@pytest.mark.parametrize("vector", _cases("record_batch_errors.json", errors=True))
def test_record_batch_error_vectors_raise_named_error(vector: Vector) -> None:
    """A malformed batch raises exactly the named FlyQ error, never a leaked built-in one."""
    _check_error(vector, decode_batch)


@pytest.mark.parametrize("vector", _cases("record_batch_errors.json", errors=True))
def test_record_batch_error_vectors_fail_validation_alike(vector: Vector) -> None:
    """validate_batch rejects every malformed batch with decode_batch's class and field."""
    _check_error(
        vector, lambda data: validate_batch(data, max_uncompressed_bytes=MAX_UNCOMPRESSED_BYTES)
    )


# --- varints --------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", _cases("varint.json", errors=False))
def test_varint_vectors_both_directions(vector: Vector) -> None:
    """A varint decodes to its value consuming every byte, and the value encodes back to it."""
    data = bytes.fromhex(vector["hex"])
    assert decode_varint(data, 0, "v") == (vector["decoded"]["value"], len(data))
    out = bytearray()
    encode_varint(vector["decoded"]["value"], out)
    assert out.hex() == vector["hex"]


@pytest.mark.parametrize("vector", _cases("varint.json", errors=True))
def test_varint_error_vectors(vector: Vector) -> None:
    """A truncated, over-long or overflowing varint raises the named error."""
    _check_error(vector, lambda data: decode_varint(data, 0, "v"))


# --- index entries --------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", _cases("offset_index_entry.json", errors=False))
def test_offset_entry_vectors_both_directions(vector: Vector) -> None:
    """An 8-byte offset entry decodes to (relative_offset, position) and encodes back."""
    d = vector["decoded"]
    assert decode_offset_entry(bytes.fromhex(vector["hex"])) == (
        d["relative_offset"],
        d["position"],
    )
    assert encode_offset_entry(d["relative_offset"], d["position"]).hex() == vector["hex"]


@pytest.mark.parametrize("vector", _cases("offset_index_entry.json", errors=True))
def test_offset_entry_error_vectors(vector: Vector) -> None:
    """A torn offset entry raises the named error."""
    _check_error(vector, decode_offset_entry)


@pytest.mark.parametrize("vector", _cases("time_index_entry.json", errors=False))
def test_time_entry_vectors_both_directions(vector: Vector) -> None:
    """A 12-byte time entry decodes to (timestamp, relative_offset) and encodes back."""
    d = vector["decoded"]
    assert decode_time_entry(bytes.fromhex(vector["hex"])) == (d["timestamp"], d["relative_offset"])
    assert encode_time_entry(d["timestamp"], d["relative_offset"]).hex() == vector["hex"]


@pytest.mark.parametrize("vector", _cases("time_index_entry.json", errors=True))
def test_time_entry_error_vectors(vector: Vector) -> None:
    """A torn time entry raises the named error."""
    _check_error(vector, decode_time_entry)


# --- checkpoints ----------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", _cases("checkpoint.json", errors=False))
def test_checkpoint_vectors_both_directions(vector: Vector) -> None:
    """A checkpoint file decodes to its values and the values encode back to the same file."""
    values = tuple(vector["decoded"]["values"])
    data = bytes.fromhex(vector["hex"])
    assert decode_checkpoint(data, source="golden", **vector["params"]) == values
    assert encode_checkpoint(values).hex() == vector["hex"]


@pytest.mark.parametrize("vector", _cases("checkpoint.json", errors=True))
def test_checkpoint_error_vectors(vector: Vector) -> None:
    """A torn, foreign or damaged checkpoint raises the named error naming the bad field."""
    _check_error(vector, lambda data: decode_checkpoint(data, source="golden", **vector["params"]))


# --- segment names --------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", _cases("segment_name.json", errors=False))
def test_segment_name_vectors_both_directions(vector: Vector) -> None:
    """A segment file name parses to (base_offset, suffix), which formats back to the name."""
    name = bytes.fromhex(vector["hex"]).decode("utf-8")
    d = vector["decoded"]
    assert parse_segment_name(name) == (d["base_offset"], d["suffix"])
    assert segment_name(d["base_offset"], d["suffix"]) == name


@pytest.mark.parametrize("vector", _cases("segment_name.json", errors=True))
def test_segment_name_error_vectors(vector: Vector) -> None:
    """A name that is not 20 ASCII digits of an int64 plus a known suffix raises the named error."""
    _check_error(vector, lambda data: parse_segment_name(data.decode("utf-8")))
