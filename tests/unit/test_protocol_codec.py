"""The protocol codec on hand-written bytes (spec/protocol.md), zero-copy records and its errors.

Expected bytes are written out field by field from the layouts in spec/protocol.md, not produced by
the code under test.
"""

from __future__ import annotations

import uuid

import pytest

from flyq.errors import InvalidArgument, ProtocolError, UnsupportedVersion
from flyq.protocol import (
    RequestHeader,
    decode_message,
    decode_request_header,
    encode_message,
    encode_request_header,
    encoded_size,
)
from flyq.protocol._schemas import API_VERSIONS, FETCH, JOIN_GROUP, METADATA, PRODUCE

PRODUCE_V3 = bytes.fromhex(
    "ffff"  # transactional_id: null (int16 length -1)
    "0001"  # acks 1
    "000003e8"  # timeout_ms 1000
    "00000001"  # topic_data: 1 element
    "000174"  # name "t"
    "00000001"  # partition_data: 1 element
    "00000000"  # index 0
    "00000003" "78797a"  # records: 3 bytes "xyz"
)


def joined(parts: list[bytes | memoryview]) -> bytes:
    return b"".join(parts)


def test_api_versions_v0_request_frame() -> None:
    """An ApiVersions v0 request is a header v1 and an empty body."""
    header = RequestHeader(api_key=18, api_version=0, correlation_id=7, client_id="ab")
    assert encode_request_header(header) == bytes.fromhex("0012" "0000" "00000007" "0002" "6162")
    assert encode_message(API_VERSIONS.request, 0, {}) == []
    decoded, end = decode_request_header(memoryview(bytes.fromhex("00120000000000070002616200")))
    assert (decoded, end) == (header, 12)  # v1 has no tagged section: the 00 is the body


def test_api_versions_v0_response() -> None:
    """ApiVersions v0 response: error_code, int32-counted api_keys of three int16 each."""
    wire = bytes.fromhex("0000" "00000001" "0012" "0000" "0003")
    value = {"error_code": 0, "api_keys": [{"api_key": 18, "min_version": 0, "max_version": 3}]}
    assert joined(encode_message(API_VERSIONS.response, 0, value)) == wire
    decoded = decode_message(API_VERSIONS.response, 0, memoryview(wire))
    assert decoded["api_keys"] == value["api_keys"]
    assert decoded["throttle_time_ms"] == 0  # absent in v0: its default


def test_metadata_v9_request_is_compact_and_tagged() -> None:
    """Metadata v9: compact array and string (length+1 varints), a tagged section per struct."""
    wire = bytes.fromhex(
        "02"  # topics: compact count 1+1
        "0274"  # name: compact length 1+1, "t"
        "00"  # topic tagged fields: none
        "01"  # allow_auto_topic_creation true
        "00"  # include_cluster_authorized_operations false
        "00"  # include_topic_authorized_operations false
        "00"  # top-level tagged fields: none
    )
    value = {"topics": [{"name": "t"}], "allow_auto_topic_creation": True}
    assert joined(encode_message(METADATA.request, 9, value)) == wire
    decoded = decode_message(METADATA.request, 9, memoryview(wire))
    assert decoded["topics"] == [{"name": "t", "topic_id": uuid.UUID(int=0)}]
    assert decoded["allow_auto_topic_creation"] is True


def test_metadata_header_v2_keeps_client_id_non_compact() -> None:
    """Request header v2: client_id keeps its int16 length, then an empty tagged section."""
    header = RequestHeader(api_key=3, api_version=9, correlation_id=1, client_id="c")
    assert encode_request_header(header) == bytes.fromhex("0003" "0009" "00000001" "000163" "00")


def test_null_array_and_defaults() -> None:
    """Metadata v1 null topics is int32 -1; a missing key takes Kafka's default (true here)."""
    assert joined(encode_message(METADATA.request, 1, {"topics": None})) == bytes.fromhex("ffffffff")
    assert joined(encode_message(METADATA.request, 4, {"topics": []})) == bytes.fromhex("0000000001")


def test_a_declared_null_default_is_none_where_the_version_lacks_the_field() -> None:
    """PROTO-7: JoinGroup v4 has no group_instance_id (nullable from v5, default null): decoded,
    it is None, as in Kafka's classes, and not the empty string a v5 join could send."""
    value = {"group_id": "g", "session_timeout_ms": 6000, "rebalance_timeout_ms": 6000,
             "member_id": "", "protocol_type": "consumer", "protocols": []}
    for version in (0, 4):
        decoded = decode_message(JOIN_GROUP.request, version,
                                 memoryview(joined(encode_message(JOIN_GROUP.request, version,
                                                                  value))))
        assert decoded["group_instance_id"] is None
    present = decode_message(JOIN_GROUP.request, 5, memoryview(joined(encode_message(
        JOIN_GROUP.request, 5, {**value, "group_instance_id": ""}))))
    assert present["group_instance_id"] == ""


def test_produce_records_are_views_into_the_input() -> None:
    """A decoded records field is a memoryview into the caller's buffer, not a copy."""
    source = bytearray(PRODUCE_V3)
    value = decode_message(PRODUCE.request, 3, memoryview(source))
    records = value["topic_data"][0]["partition_data"][0]["records"]
    assert isinstance(records, memoryview)
    assert records.obj is source
    assert bytes(records) == b"xyz"
    source[-1] = ord("Z")
    assert bytes(records) == b"xyZ"


def test_records_buffers_stay_separate_elements() -> None:
    """Encoding a sequence of record buffers keeps each one, by identity, as its own element."""
    first, second = b"abc", memoryview(b"defg")
    partition = {"index": 0, "records": [first, second]}
    value = {"acks": 1, "timeout_ms": 1000, "topic_data": [{"name": "t",
                                                            "partition_data": [partition]}]}
    parts = encode_message(PRODUCE.request, 3, value)
    assert parts[1] is first and parts[2] is second
    assert len(parts) == 3
    assert encoded_size(parts) == len(joined(parts))
    assert joined(parts)[-11:] == b"\x00\x00\x00\x07abcdefg"


def test_fetch_response_has_few_elements() -> None:
    """A Fetch response with three partitions is a handful of buffers, not one per field."""
    records = [b"r0", b"r1", b"r2"]
    value = {"responses": [{"topic": "t", "partitions": [
        {"partition_index": i, "records": records[i]} for i in range(3)]}]}
    parts = encode_message(FETCH.response, 12, value)
    assert len(parts) == 7
    assert [parts[1], parts[3], parts[5]] == records
    assert all(parts[2 * i + 1] is records[i] for i in range(3))


@pytest.mark.parametrize(
    ("wire", "field"),
    [
        (PRODUCE_V3[:-1], "topic_data[0].partition_data[0].records"),  # truncated
        (PRODUCE_V3[:3], "acks"),  # truncated scalar
        (PRODUCE_V3 + b"\x00", "<message>"),  # trailing garbage
        (PRODUCE_V3[:12] + b"\xff\xfe" + PRODUCE_V3[14:], "topic_data[0].name"),  # length -2
        (PRODUCE_V3[:12] + b"\x00\x01\xff" + PRODUCE_V3[15:], "topic_data[0].name"),  # bad UTF-8
        (PRODUCE_V3[:8] + b"\x7f\xff\xff\xff" + PRODUCE_V3[12:], "topic_data"),  # absurd count
        (PRODUCE_V3[:15] + b"\xff\xff\xff\xff" + PRODUCE_V3[19:], "topic_data[0].partition_data"),
    ],
    ids=["truncated", "short-scalar", "trailing", "negative-length", "utf8", "huge-count", "null"],
)
def test_malformed_bytes_raise_protocol_error(wire: bytes, field: str) -> None:
    """Malformed input raises ProtocolError naming the field path and the API and version."""
    with pytest.raises(ProtocolError) as caught:
        decode_message(PRODUCE.request, 3, memoryview(wire))
    assert caught.value.field == field
    assert "Produce v3 request" in str(caught.value)
    assert caught.value.code == 42


def test_varint_too_long_and_unknown_tags() -> None:
    """A 6-byte varint is malformed; an unknown tagged field is skipped, a known one decoded."""
    with pytest.raises(ProtocolError, match="longer than 5 bytes"):
        decode_message(API_VERSIONS.request, 3, memoryview(b"\x80\x80\x80\x80\x80\x01"))
    # ApiVersions v3 request: client_software_name "", version "", tagged: tag 9 with 2 bytes.
    wire = bytes.fromhex("01" "01" "01" "09" "02" "abcd")
    unknown = decode_message(API_VERSIONS.request, 3, memoryview(wire))
    assert unknown == {"client_software_name": "", "client_software_version": ""}
    # ApiVersions v3 response: tag 1 = finalized_features_epoch int64 5.
    wire = bytes.fromhex("0000" "01" "00000000" "01" "01" "08" "0000000000000005")
    decoded = decode_message(API_VERSIONS.response, 3, memoryview(wire))
    assert decoded["finalized_features_epoch"] == 5
    assert joined(encode_message(API_VERSIONS.response, 3, decoded)) == wire


def test_encode_errors_name_the_field() -> None:
    """A value the schema cannot carry raises InvalidArgument naming its path."""
    with pytest.raises(InvalidArgument, match=r"topic_data\[0\]\.partition_data\[0\]\.index"):
        encode_message(PRODUCE.request, 3, {"topic_data": [{"partition_data": [{"index": 1 << 40}]}]})
    with pytest.raises(InvalidArgument, match="acks"):
        encode_message(PRODUCE.request, 3, {"acks": "all"})
    with pytest.raises(UnsupportedVersion):
        encode_message(PRODUCE.request, 99, {})


def test_multi_byte_unsigned_varints() -> None:
    """Compact lengths of 128 and more take several varint bytes, low 7 bits first; a tag number
    can too (ApiVersions v3 request, built by hand)."""
    name = "n" * 200  # compact string length 201 = 0xC9 0x01
    wire = bytes.fromhex("c901") + name.encode() + bytes.fromhex("01" "00")
    assert decode_message(API_VERSIONS.request, 3, memoryview(wire)) == {
        "client_software_name": name, "client_software_version": ""}
    assert joined(encode_message(API_VERSIONS.request, 3, {
        "client_software_name": name, "client_software_version": ""})) == wire
    # An unknown tag 300 (0xAC 0x02) of 1 byte is skipped.
    tagged = bytes.fromhex("01" "01" "01" "ac02" "01" "ff")
    assert decode_message(API_VERSIONS.request, 3, memoryview(tagged))["client_software_name"] == ""
    # The largest 5-byte varint that fits 32 bits is a length; one more bit overflows.
    with pytest.raises(ProtocolError, match="overflows 32 bits") as info:
        decode_message(API_VERSIONS.request, 3, memoryview(bytes.fromhex("8080808010")))
    assert info.value.position == 0
    with pytest.raises(ProtocolError, match="runs past the end") as info:
        decode_message(API_VERSIONS.request, 3, memoryview(bytes.fromhex("01" "80")))
    assert info.value.position == 1


def test_length_prefixes_need_their_bytes() -> None:
    """A non-flexible string whose 2-byte length is cut, or whose bytes run past the end, names
    the field and where (Produce v3 request's transactional id at byte 0)."""
    with pytest.raises(ProtocolError) as info:
        decode_message(PRODUCE.request, 3, memoryview(b"\x00"))
    assert (info.value.field, info.value.position) == ("transactional_id", 0)
    with pytest.raises(ProtocolError) as info:
        decode_message(PRODUCE.request, 3, memoryview(b"\x00\x05ab"))
    assert info.value.field == "transactional_id"
