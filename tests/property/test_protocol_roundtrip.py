"""Property tests of the protocol codec, ServerConnection and ClientConnection (spec/protocol.md).

Values come from the schema table itself (`tests.protocol_values.values`): every API, version and
kind round-trips; damaged encodings and arbitrary bytes give a value or `ProtocolError`, never any
other exception. Example counts follow the Hypothesis profile (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import struct
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from flyq.errors import ProtocolError
from flyq.protocol import (
    APIS,
    ClientConnection,
    MessageSchema,
    ServerConnection,
    decode_message,
    encode_message,
    encode_response_header,
    response_header_version,
)
from flyq.protocol._header import RequestHeader, encode_request_header
from tests.protocol_values import project, values

CASES = [
    (schema, version)
    for api in APIS.values()
    for schema in (api.request, api.response)
    for version in range(api.versions[0], api.versions[1] + 1)
]
SUPPORTED = {api.key: api.versions for api in APIS.values()}


@st.composite
def messages(draw: st.DrawFn) -> tuple[MessageSchema, int, dict[str, Any]]:
    schema, version = draw(st.sampled_from(CASES))
    return schema, version, draw(values(schema.fields, version, schema.flexible(version)))


def decode_or_protocol_error(schema: MessageSchema, version: int, data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_message(schema, version, memoryview(data))


@given(messages())
def test_encode_then_decode_round_trips(case: tuple[MessageSchema, int, dict[str, Any]]) -> None:
    """decode(encode(v)) == v for every API, version and kind, and re-encodes to the same bytes."""
    schema, version, value = case
    wire = b"".join(encode_message(schema, version, value))
    decoded = decode_message(schema, version, memoryview(wire))
    assert project(schema.fields, version, decoded) == project(schema.fields, version, value)
    assert b"".join(encode_message(schema, version, decoded)) == wire


@given(messages(), st.data())
def test_damaged_encodings_raise_only_protocol_error(
    case: tuple[MessageSchema, int, dict[str, Any]], data: st.DataObject
) -> None:
    """Truncations and bit flips of a valid encoding decode or raise ProtocolError, nothing else."""
    schema, version, value = case
    wire = bytearray(b"".join(encode_message(schema, version, value)))
    cut = data.draw(st.integers(0, max(len(wire) - 1, 0)))
    decode_or_protocol_error(schema, version, bytes(wire[:cut]))
    if wire:
        bit = data.draw(st.integers(0, len(wire) * 8 - 1))
        wire[bit // 8] ^= 1 << (bit % 8)
        decode_or_protocol_error(schema, version, bytes(wire))


@given(st.sampled_from(CASES), st.binary(max_size=64))
def test_arbitrary_bytes_raise_only_protocol_error(
    case: tuple[MessageSchema, int], data: bytes
) -> None:
    """Arbitrary bytes decode or raise ProtocolError, for any schema and version."""
    schema, version = case
    decode_or_protocol_error(schema, version, data)


@given(messages(), st.binary(max_size=32), st.integers(0, 200), st.integers(1, 17))
def test_connection_survives_garbage(
    case: tuple[MessageSchema, int, dict[str, Any]], junk: bytes, flip: int, chunk: int
) -> None:
    """Frames damaged anywhere, fed in chunks, give Requests or ProtocolError, nothing else."""
    schema, version, value = case
    payload = bytearray(encode_request_header(RequestHeader(schema.api_key, version, 1, "c")))
    if schema.kind == "request":
        payload += b"".join(encode_message(schema, version, value))
    wire = bytearray(struct.pack(">i", len(payload)) + payload + junk)
    wire[flip % len(wire)] ^= 0x5A
    conn = ServerConnection(SUPPORTED, max_frame_bytes=4096)
    try:
        for i in range(0, len(wire), chunk):
            conn.receive_data(bytes(wire[i : i + chunk]))
            while conn.next_request() is not None:
                pass
        conn.receive_data(b"")
        conn.next_request()
    except ProtocolError:
        pass


@given(st.integers(4097, (1 << 31) - 1) | st.integers(-(1 << 31), -1))
def test_huge_frame_size_is_refused_before_buffering(size: int) -> None:
    """A size prefix beyond the limit raises on its 4 bytes alone, with no payload buffered."""
    conn = ServerConnection(SUPPORTED, max_frame_bytes=4096)
    conn.receive_data(struct.pack(">i", size))
    try:
        conn.next_request()
    except ProtocolError as error:
        assert error.field == "size"
    else:
        raise AssertionError("an oversized frame was accepted")


API_CASES = [(api.key, version) for api in APIS.values()
             for version in range(api.versions[0], api.versions[1] + 1)]


@st.composite
def exchanges(draw: st.DrawFn) -> tuple[int, int, dict[str, Any], dict[str, Any]]:
    key, version = draw(st.sampled_from(API_CASES))
    api = APIS[key]
    request = draw(values(api.request.fields, version, api.request.flexible(version)))
    response = draw(values(api.response.fields, version, api.response.flexible(version)))
    return key, version, request, response


@given(st.lists(exchanges(), min_size=1, max_size=4), st.integers(1, 64))
def test_client_and_server_connections_round_trip(
    cases: list[tuple[int, int, dict[str, Any], dict[str, Any]]], chunk: int
) -> None:
    """PROTO-15: pipelined requests from a ClientConnection reach a ServerConnection as sent, and
    its responses, fed back in chunks, come out in order, each at its request's version."""
    client = ClientConnection()
    server = ServerConnection(SUPPORTED)
    sent = []
    for key, version, drawn, _ in cases:
        # A Produce with acks=0 gets no response (PROTO-3); this test wants one for each.
        request = {**drawn, "acks": 1} if key == 0 and drawn.get("acks") == 0 else drawn
        sent.append(request)
        server.receive_data(client.send_request(key, version, request, "c"))
    replies = b""
    for (key, version, _, response), request in zip(cases, sent, strict=True):
        got = server.next_request()
        assert got is not None and got.body is not None
        assert (got.header.api_key, got.header.api_version) == (key, version)
        schema = APIS[key].request
        assert project(schema.fields, version, got.body) == project(schema.fields, version, request)
        replies += b"".join(bytes(part) for part in server.send_response(got, response))
    answers = []
    for index in range(0, len(replies), chunk):
        client.receive_data(replies[index:index + chunk])
        while (answer := client.next_response()) is not None:
            answers.append(answer)
    assert [(a.correlation_id, a.api_key, a.version) for a in answers] == [
        (index, key, version) for index, (key, version, _, _) in enumerate(cases)]
    for answer, (key, version, _, response) in zip(answers, cases, strict=True):
        fields = APIS[key].response.fields
        assert project(fields, version, answer.body) == project(fields, version, response)


@given(exchanges(), st.binary(max_size=32), st.integers(0, 200), st.integers(1, 17))
def test_client_connection_survives_garbage(
    case: tuple[int, int, dict[str, Any], dict[str, Any]], junk: bytes, flip: int, chunk: int
) -> None:
    """PROTO-15: a response frame damaged anywhere, fed in chunks, gives Responses or
    ProtocolError, nothing else."""
    key, version, _, response = case
    client = ClientConnection(max_frame_bytes=4096)
    client.send_request(key, version, {})
    header = encode_response_header(0, response_header_version(key, version))
    payload = header + b"".join(encode_message(APIS[key].response, version, response))
    wire = bytearray(struct.pack(">i", len(payload)) + payload + junk)
    wire[flip % len(wire)] ^= 0x5A
    try:
        for index in range(0, len(wire), chunk):
            client.receive_data(bytes(wire[index:index + chunk]))
            while client.next_response() is not None:
                pass
        client.receive_data(b"")
        client.next_response()
    except ProtocolError:
        pass
