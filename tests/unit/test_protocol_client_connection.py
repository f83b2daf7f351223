"""ClientConnection (flyq/protocol/_connection.py): the client's side, checked against the
server's side (ServerConnection) and against hand-built malformed frames."""

from __future__ import annotations

import struct

import pytest

from flyq.errors import InvalidArgument, ProtocolError, UnsupportedVersion
from flyq.protocol import ClientConnection, Response, ServerConnection, encode_response_header
from flyq.server import SUPPORTED_VERSIONS


def serve(client: ClientConnection, server: ServerConnection, data: bytes,
          answer: dict[int, dict[str, object]]) -> None:
    """Feed `data` to the server and its answers (by api key) back to the client."""
    server.receive_data(data)
    while (request := server.next_request()) is not None:
        if not request.expects_response:
            continue
        if request.unsupported is not None:
            parts = server.api_versions_fallback(request)
        else:
            parts = server.send_response(request, answer[request.header.api_key])
        client.receive_data(b"".join(bytes(part) for part in parts))


def test_round_trip_against_the_server_side() -> None:
    """PROTO-15, PROTO-4: requests at flexible and non-flexible versions reach the server intact, with
    their client id and increasing correlation ids; responses come back in order with their bodies."""
    client = ClientConnection()
    server = ServerConnection(SUPPORTED_VERSIONS)
    data = (client.send_request(18, 3, {"client_software_name": "flyq",
                                        "client_software_version": "1"}, "me")
            + client.send_request(42, 2, {"groups_names": ["a", "b"]}, "me")
            + client.send_request(47, 0, {"group_id": "g", "topics": []}, None))
    server.receive_data(data)
    requests = [server.next_request() for _ in range(3)]
    assert [(r.header.api_key, r.header.api_version, r.header.correlation_id, r.header.client_id)
            for r in requests if r is not None] == [(18, 3, 0, "me"), (42, 2, 1, "me"),
                                                      (47, 0, 2, None)]
    assert requests[1] is not None and requests[1].body == {"groups_names": ["a", "b"]}
    bodies = [{"error_code": 0, "api_keys": [{"api_key": 42, "min_version": 0,
                                              "max_version": 2}], "throttle_time_ms": 0},
              {"throttle_time_ms": 0, "results": [{"group_id": "a", "error_code": 68}]},
              {"error_code": 69, "throttle_time_ms": 0, "topics": []}]
    out = b""
    for request, body in zip(requests, bodies, strict=True):
        assert request is not None
        out += b"".join(bytes(part) for part in server.send_response(request, body))
    # Byte by byte: nothing comes out before a frame is whole.
    got: list[Response] = []
    for index in range(len(out)):
        client.receive_data(out[index:index + 1])
        while (response := client.next_response()) is not None:
            got.append(response)
    assert [(r.correlation_id, r.api_key, r.version) for r in got] == [(0, 18, 3), (1, 42, 2),
                                                                       (2, 47, 0)]
    assert got[1].body["results"] == [{"group_id": "a", "error_code": 68}]
    assert got[2].body["error_code"] == 69
    assert client.awaiting == 0 and client.next_response() is None


def test_api_versions_refused_version_is_read_at_v0() -> None:
    """PROTO-14 from the client's side: a v0 error body answering a v4 request is Response v0."""
    client = ClientConnection()
    server = ServerConnection(SUPPORTED_VERSIONS)
    serve(client, server, client.send_request(18, 4, {}), {})
    response = client.next_response()
    assert response is not None and response.version == 0
    assert response.body["error_code"] == 35 and response.body["api_keys"]


def test_produce_acks_0_awaits_nothing() -> None:
    """PROTO-15: a Produce with acks=0 gets no response slot; the next request's response fits."""
    client = ClientConnection(first_correlation_id=7)
    client.send_request(0, 9, {"acks": 0, "timeout_ms": 1, "topic_data": []})
    client.send_request(42, 0, {"groups_names": []})
    assert client.awaiting == 1
    client.receive_data(_frame(8, b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"))
    response = client.next_response()
    assert response is not None and response.correlation_id == 8 and response.api_key == 42


def _frame(correlation_id: int, body: bytes, header_version: int = 0) -> bytes:
    payload = encode_response_header(correlation_id, header_version) + body
    return struct.pack(">i", len(payload)) + payload


@pytest.mark.parametrize(("data", "match"), [
    (_frame(5, b"\x00\x00\x00\x00\x00\x00\x00\x00"), "correlation id 5, expected 0"),
    (_frame(0, b"\x00\x00\x00\x00\x00\x00\x00"), "DeleteGroups v0 response"),
    (_frame(0, b"\x00\x00\x00\x00\x00\x00\x00\x00\x00"), "bytes left"),
    (struct.pack(">i", -2), "frame size -2"),
    (struct.pack(">i", 2) + b"\x00\x00", "response header needs 4 bytes"),
], ids=["out-of-order", "truncated-body", "trailing-bytes", "negative-size", "short-header"])
def test_malformed_responses_break_the_connection(data: bytes, match: str) -> None:
    """PROTO-15, PROTO-13: each is a ProtocolError, and the connection stays broken."""
    client = ClientConnection()
    client.send_request(42, 0, {"groups_names": []})
    client.receive_data(data)
    with pytest.raises(ProtocolError, match=match) as first:
        client.next_response()
    with pytest.raises(ProtocolError) as again:
        client.next_response()
    assert again.value is first.value


def test_unsolicited_frames_and_closing_mid_frame_are_errors() -> None:
    """PROTO-15, PROTO-13: a frame nobody awaits, or the peer closing inside a frame, is a
    ProtocolError; closing between frames is not, and data after closing is a caller error."""
    client = ClientConnection()
    client.receive_data(_frame(0, b""))
    with pytest.raises(ProtocolError, match="no request awaiting"):
        client.next_response()
    client = ClientConnection()
    client.send_request(42, 0, {"groups_names": []})
    client.receive_data(_frame(0, b"\x00\x00\x00\x00\x00\x00\x00\x00")[:6])
    client.receive_data(b"")
    with pytest.raises(ProtocolError, match="peer closed"):
        client.next_response()
    closed = ClientConnection()
    closed.receive_data(b"")
    assert closed.next_response() is None and closed.peer_closed
    with pytest.raises(InvalidArgument):
        closed.receive_data(b"x")


def test_unknown_apis_and_versions_are_refused_before_sending() -> None:
    """PROTO-15: an api key or version the schema table lacks raises UnsupportedVersion; a body the
    schema cannot carry raises InvalidArgument; neither takes a correlation id."""
    client = ClientConnection()
    with pytest.raises(UnsupportedVersion):
        client.send_request(9999, 0, {})
    with pytest.raises(UnsupportedVersion):
        client.send_request(42, 3, {})
    with pytest.raises(InvalidArgument):
        client.send_request(42, 0, {"groups_names": None})
    assert client.awaiting == 0
    data = client.send_request(42, 0, {"groups_names": []})
    assert struct.unpack_from(">i", data, 8)[0] == 0


def test_correlation_ids_wrap_at_int32() -> None:
    """PROTO-15: after 2^31 - 1 the next correlation id is 0."""
    client = ClientConnection(first_correlation_id=0x7FFFFFFF)
    first = client.send_request(42, 0, {"groups_names": []})
    second = client.send_request(42, 0, {"groups_names": []})
    assert struct.unpack_from(">i", first, 8)[0] == 0x7FFFFFFF
    assert struct.unpack_from(">i", second, 8)[0] == 0
