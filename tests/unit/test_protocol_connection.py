"""ServerConnection: framing, pipelining, limits, unsupported versions and the ApiVersions fallback."""

from __future__ import annotations

import struct

import pytest

from flyq.errors import InvalidArgument, ProtocolError, UnsupportedVersion
from flyq.protocol import (
    RequestHeader,
    ServerConnection,
    api_versions_body,
    decode_message,
    decode_response_header,
    encode_message,
    encode_request_header,
)
from flyq.protocol._schemas import API_VERSIONS, METADATA, PRODUCE

SUPPORTED = {18: (0, 3), 3: (0, 12), 0: (3, 11)}


def frame(api_key: int, version: int, correlation_id: int, body: dict[str, object]) -> bytes:
    schema = {18: API_VERSIONS, 3: METADATA, 0: PRODUCE}[api_key].request
    payload = encode_request_header(RequestHeader(api_key, version, correlation_id, "client"))
    payload += b"".join(encode_message(schema, version, body))
    return struct.pack(">i", len(payload)) + payload


def test_pipelined_requests_come_out_in_order() -> None:
    """Several frames in one receive_data give one Request each, in order, then None."""
    conn = ServerConnection(SUPPORTED)
    conn.receive_data(frame(18, 0, 1, {}) + frame(3, 9, 2, {"topics": None}) + frame(18, 3, 3, {}))
    ids = []
    while (request := conn.next_request()) is not None:
        ids.append(request.header.correlation_id)
        assert request.body is not None and request.unsupported is None
    assert ids == [1, 2, 3]


def test_request_split_byte_by_byte() -> None:
    """A frame fed one byte at a time is returned once complete, and not before."""
    conn = ServerConnection(SUPPORTED)
    data = frame(3, 9, 5, {"topics": [{"name": "t"}]})
    for i in range(len(data) - 1):
        conn.receive_data(data[i : i + 1])
        assert conn.next_request() is None
    conn.receive_data(data[-1:])
    request = conn.next_request()
    assert request is not None and request.body is not None
    assert request.body["topics"][0]["name"] == "t"


def test_oversized_frame_is_refused_before_buffering() -> None:
    """A size above max_frame_bytes raises as soon as the 4 size bytes arrive, and stays broken."""
    conn = ServerConnection(SUPPORTED, max_frame_bytes=1000)
    conn.receive_data(struct.pack(">i", 1001))
    with pytest.raises(ProtocolError, match="frame size 1001"):
        conn.next_request()
    with pytest.raises(ProtocolError):
        conn.next_request()
    negative = ServerConnection(SUPPORTED)
    negative.receive_data(struct.pack(">i", -5))
    with pytest.raises(ProtocolError):
        negative.next_request()


def test_unsupported_version_is_reported_not_raised() -> None:
    """A version outside `supported` gives a Request with a parsed header, body None, a reason."""
    conn = ServerConnection(SUPPORTED)
    conn.receive_data(frame(3, 12, 9, {}) + frame(0, 2, 10, {"acks": 1}))
    conn.receive_data(struct.pack(">i", 10) + struct.pack(">hhih", 99, 0, 11, -1))
    metadata = conn.next_request()
    produce = conn.next_request()
    unknown = conn.next_request()
    assert metadata is not None and metadata.unsupported is None
    assert produce is not None and produce.body is None and produce.unsupported
    assert produce.header.correlation_id == 10
    assert unknown is not None and unknown.body is None and "99" in (unknown.unsupported or "")


def test_api_versions_v4_gets_the_v0_fallback() -> None:
    """ApiVersions v4 (unsupported) is answered by a v0 response, header v0, error 35."""
    conn = ServerConnection(SUPPORTED)
    conn.receive_data(_api_versions_v4(77))
    request = conn.next_request()
    assert request is not None and request.unsupported is not None
    wire = b"".join(conn.api_versions_fallback(request))
    (size,) = struct.unpack_from(">i", wire)
    assert size == len(wire) - 4
    correlation_id, pos = decode_response_header(memoryview(wire), 0, pos=4)
    assert correlation_id == 77
    body = decode_message(API_VERSIONS.response, 0, memoryview(wire)[pos:])
    assert body["error_code"] == 35
    assert {k["api_key"]: (k["min_version"], k["max_version"]) for k in body["api_keys"]} == SUPPORTED


def _api_versions_v4(correlation_id: int) -> bytes:
    # Header v2 (v4 is flexible): prefix, client_id "c", no tags; body: two compact strings, no tags.
    payload = struct.pack(">hhih", 18, 4, correlation_id, 1) + b"c" + b"\x00" + b"\x01\x01\x00"
    return struct.pack(">i", len(payload)) + payload


def test_send_response_frames_header_and_records() -> None:
    """A response frame is size, header (v1 when flexible), body; records buffers kept as given."""
    conn = ServerConnection(SUPPORTED)
    conn.receive_data(frame(3, 9, 42, {"topics": None}))
    request = conn.next_request()
    assert request is not None
    parts = conn.send_response(request, {"brokers": [], "topics": []})
    wire = b"".join(parts)
    assert struct.unpack_from(">i", wire) == (len(wire) - 4,)
    assert wire[4:9] == bytes.fromhex("0000002a00")  # correlation id 42, empty tagged section
    decoded = decode_message(METADATA.response, 9, memoryview(wire)[9:])
    assert decoded["brokers"] == [] and decoded["topics"] == []


def test_truncated_body_breaks_the_connection() -> None:
    """A frame whose body is short is a ProtocolError naming the field."""
    conn = ServerConnection(SUPPORTED)
    good = frame(3, 9, 1, {"topics": [{"name": "topic"}]})
    bad = struct.pack(">i", len(good) - 6) + good[4:-2]
    conn.receive_data(bad)
    with pytest.raises(ProtocolError, match="Metadata v9 request"):
        conn.next_request()


def test_peer_closing_mid_frame_is_an_error() -> None:
    """b"" after half a frame is a ProtocolError; after whole frames it just sets peer_closed."""
    conn = ServerConnection(SUPPORTED)
    conn.receive_data(frame(18, 0, 1, {}))
    conn.receive_data(b"")
    assert conn.next_request() is not None
    assert conn.next_request() is None and conn.peer_closed
    half = ServerConnection(SUPPORTED)
    half.receive_data(frame(18, 0, 1, {})[:7])
    half.receive_data(b"")
    with pytest.raises(ProtocolError, match="closed"):
        half.next_request()


def test_api_versions_body_lists_ranges_sorted_with_no_error() -> None:
    """The body advertises every (key, min, max), ascending by key, error 0 and no throttle."""
    assert api_versions_body({3: (0, 12), 0: (3, 11)}) == {
        "error_code": 0, "throttle_time_ms": 0, "api_keys": [
            {"api_key": 0, "min_version": 3, "max_version": 11},
            {"api_key": 3, "min_version": 0, "max_version": 12}]}


def test_data_after_the_peer_closed_is_a_caller_error() -> None:
    """Rule 1: receive_data after b"" raises InvalidArgument naming `data`."""
    conn = ServerConnection(SUPPORTED)
    conn.receive_data(b"")
    with pytest.raises(InvalidArgument) as info:
        conn.receive_data(b"x")
    assert info.value.name == "data"


def test_frame_size_limits_are_exact() -> None:
    """Rule 2: a frame of exactly max_frame_bytes is buffered; one byte more, or a negative
    size, is refused at once naming the size field of the frame."""
    request = frame(18, 0, 1, {})
    exact = ServerConnection(SUPPORTED, max_frame_bytes=len(request) - 4)
    exact.receive_data(request)
    assert exact.next_request() is not None
    for size in (len(request) - 3, -1):
        conn = ServerConnection(SUPPORTED, max_frame_bytes=len(request) - 4)
        conn.receive_data(struct.pack(">i", size))
        with pytest.raises(ProtocolError) as info:
            conn.next_request()
        assert (info.value.field, info.value.position, info.value.source) == ("size", 0, "frame")


def test_a_broken_connection_stays_broken() -> None:
    """Rule 4: after a ProtocolError every next_request raises it again, even for good frames."""
    conn = ServerConnection(SUPPORTED)
    conn.receive_data(struct.pack(">i", -5))
    with pytest.raises(ProtocolError) as first:
        conn.next_request()
    conn.receive_data(frame(18, 0, 1, {}))
    with pytest.raises(ProtocolError) as again:
        conn.next_request()
    assert again.value is first.value


def test_frames_split_across_calls_after_compaction() -> None:
    """Many frames and a partial one: the buffer is compacted and the partial frame completes."""
    conn = ServerConnection(SUPPORTED)
    frames = [frame(18, 0, index, {}) for index in range(6)]
    stream = b"".join(frames)
    cut = len(stream) - 5
    conn.receive_data(stream[:cut])
    ids = []
    while (request := conn.next_request()) is not None:
        ids.append(request.header.correlation_id)
    assert ids == [0, 1, 2, 3, 4]
    conn.receive_data(stream[cut:])
    request = conn.next_request()
    assert request is not None and request.header.correlation_id == 5
    assert bytes(request.frame) == frames[5][4:]


def test_responses_must_answer_the_oldest_request() -> None:
    """Rule 5: answering a later request first is refused; acks=0 Produce awaits no answer."""
    conn = ServerConnection(SUPPORTED)
    produce = {"acks": 0, "timeout_ms": 1, "topic_data": []}
    conn.receive_data(frame(18, 0, 1, {}) + frame(0, 3, 2, produce) + frame(18, 0, 3, {}))
    first, silent, third = conn.next_request(), conn.next_request(), conn.next_request()
    assert first is not None and silent is not None and third is not None
    assert not silent.expects_response and first.expects_response
    with pytest.raises(InvalidArgument) as info:
        conn.send_response(third, api_versions_body(SUPPORTED))
    assert info.value.name == "request"
    conn.send_response(first, api_versions_body(SUPPORTED))
    wire = b"".join(conn.send_response(third, api_versions_body(SUPPORTED)))
    assert decode_response_header(memoryview(wire)[4:], 0) == (3, 4)


def test_unsupported_requests_cannot_get_an_ordinary_response() -> None:
    """Rule 3: an unsupported request gets UnsupportedVersion naming the served range from
    send_response; only ApiVersions has a fallback."""
    conn = ServerConnection(SUPPORTED)
    conn.receive_data(frame(3, 13, 1, {"topics": None}))
    request = conn.next_request()
    assert request is not None and request.unsupported == (
        "Metadata version 13 is outside 0..12")
    with pytest.raises(UnsupportedVersion) as unsupported:
        conn.send_response(request, {})
    assert (unsupported.value.version, unsupported.value.versions) == (13, (0, 12))
    with pytest.raises(InvalidArgument) as info:
        conn.api_versions_fallback(request)
    assert info.value.name == "request"


def test_unknown_and_unserved_apis_say_why() -> None:
    """Rule 3: an unknown key and a known but unserved one are reported with their reason."""
    conn = ServerConnection({18: (0, 3)})
    conn.receive_data(struct.pack(">ihhih", 10, 999, 0, 1, -1) + frame(3, 1, 2, {"topics": None}))
    unknown, unserved = conn.next_request(), conn.next_request()
    assert unknown is not None and unknown.unsupported == "api key 999 is unknown"
    assert unserved is not None and unserved.unsupported == "Metadata (api key 3) is not served"
    assert unknown.body is None and unserved.body is None
