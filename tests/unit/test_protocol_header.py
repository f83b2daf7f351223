"""Request and response headers (spec/protocol.md "Headers"), byte for byte from the layout, and
every way a header can be malformed."""

from __future__ import annotations

import struct

import pytest

from flyq.errors import ProtocolError
from flyq.protocol import (
    RequestHeader,
    decode_request_header,
    decode_response_header,
    encode_request_header,
    encode_response_header,
    request_header_version,
    response_header_version,
)

METADATA, API_VERSIONS, PRODUCE, UNKNOWN = 3, 18, 0, 999


@pytest.mark.parametrize(("api_key", "version", "request_v", "response_v"), [
    (METADATA, 8, 1, 0), (METADATA, 9, 2, 1), (METADATA, 40, 2, 1),  # newer than the table
    (API_VERSIONS, 2, 1, 0), (API_VERSIONS, 3, 2, 0),  # ApiVersions answers with header v0
    (PRODUCE, 8, 1, 0), (PRODUCE, 9, 2, 1), (UNKNOWN, 5, 1, 0),
])
def test_header_versions(api_key: int, version: int, request_v: int, response_v: int) -> None:
    """v2/v1 exactly for flexible versions; ApiVersions responses and unknown APIs stay v0/v1."""
    assert request_header_version(api_key, version) == request_v
    assert response_header_version(api_key, version) == response_v


def test_request_header_v1_and_v2_bytes() -> None:
    """v1 is key, version, correlation id, int16-length client id; v2 adds a tagged section;
    a null client id is length -1 (bytes written out by hand from the layout)."""
    v1 = RequestHeader(METADATA, 8, 0x01020304, "ab")
    assert encode_request_header(v1) == b"\x00\x03\x00\x08\x01\x02\x03\x04\x00\x02ab"
    v2 = RequestHeader(METADATA, 9, 7, None)
    assert encode_request_header(v2) == b"\x00\x03\x00\x09\x00\x00\x00\x07\xff\xff\x00"
    for header, wire in ((v1, encode_request_header(v1)), (v2, encode_request_header(v2))):
        assert decode_request_header(memoryview(wire + b"body")) == (header, len(wire))


def test_request_header_skips_unknown_tagged_fields_and_starts_at_pos() -> None:
    """Tagged fields in a v2 header are skipped whole; decoding may start past a prefix."""
    wire = b"\x00\x03\x00\x09\x00\x00\x00\x07\x00\x01c" + b"\x02\x05\x02xy\x00\x00"
    header, end = decode_request_header(memoryview(b"??" + wire), 2)
    assert header == RequestHeader(METADATA, 9, 7, "c")
    assert end == 2 + len(wire)
    assert decode_request_header(memoryview(wire + b"zz"), 0, len(wire))[1] == len(wire)


@pytest.mark.parametrize(("wire", "position"), [
    (b"\x00\x03\x00\x08\x00\x00\x00", 0),  # 7 of the 10 fixed bytes
    (b"\x00\x03\x00\x08\x00\x00\x00\x01\x00\x05ab", 8),  # client id runs past the end
    (b"\x00\x03\x00\x08\x00\x00\x00\x01\xff\xfe", 8),  # length -2
    (b"\x00\x03\x00\x08\x00\x00\x00\x01\x00\x02a\xff", 11),  # not UTF-8 at byte 11
    (b"\x00\x03\x00\x09\x00\x00\x00\x01\xff\xff", 10),  # v2 without its tagged section
    (b"\x00\x03\x00\x09\x00\x00\x00\x01\xff\xff\x01\x00\x05ab", 13),  # tagged field too long
])
def test_malformed_request_headers(wire: bytes, position: int) -> None:
    """Each malformation is a ProtocolError naming the header and the byte where it is."""
    with pytest.raises(ProtocolError) as info:
        decode_request_header(memoryview(wire))
    assert (info.value.field, info.value.position) == ("header", position)


def test_response_headers() -> None:
    """v0 is the correlation id; v1 adds an empty tagged section; decoding skips tags."""
    assert encode_response_header(5, 0) == struct.pack(">i", 5)
    assert encode_response_header(-2, 1) == struct.pack(">i", -2) + b"\x00"
    assert decode_response_header(memoryview(b"\x00\x00\x00\x05rest"), 0) == (5, 4)
    tagged = b"\x00\x00\x00\x05" + b"\x01\x03\x01z" + b"rest"
    assert decode_response_header(memoryview(tagged), 1) == (5, 8)
    assert decode_response_header(memoryview(b"xx" + tagged), 1, 2) == (5, 10)
    for wire, version in ((b"\x00\x00\x05", 0), (b"\x00\x00\x00\x05", 1),
                          (b"\x00\x00\x00\x05\x01\x03\x05z", 1)):
        with pytest.raises(ProtocolError) as info:
            decode_response_header(memoryview(wire), version)
        assert info.value.field == "header"
