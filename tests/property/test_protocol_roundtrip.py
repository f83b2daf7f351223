"""Property tests of the protocol codec and ServerConnection (spec/protocol.md).

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
from flyq.protocol import APIS, MessageSchema, ServerConnection, decode_message, encode_message
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
