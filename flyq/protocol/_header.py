"""Request and response headers (spec/protocol.md "Headers").

Request header v1: api_key int16, api_version int16, correlation_id int32, client_id nullable string
with an int16 length (never compact, in v2 as well). v2 adds a tagged-fields section. Response header
v0: correlation_id int32; v1 adds a tagged-fields section. A request uses v2 and its response v1
exactly when the API version is flexible, except that ApiVersions responses always use v0 (a client
must be able to read the error of a version it guessed too high).
"""

from __future__ import annotations

import struct

import attrs

from flyq.errors import ProtocolError
from flyq.protocol._codec import _Fail, _put_uvarint, read_uvarint
from flyq.protocol._schemas import APIS

__all__ = [
    "API_VERSIONS_KEY",
    "RequestHeader",
    "decode_request_header",
    "decode_response_header",
    "encode_request_header",
    "encode_response_header",
    "request_header_version",
    "response_header_version",
]

API_VERSIONS_KEY = 18
_REQUEST_PREFIX = struct.Struct(">hhih")  # api_key, api_version, correlation_id, client_id length
_CORRELATION_ID = struct.Struct(">i")


@attrs.frozen
class RequestHeader:
    """The header of a request: which API and version, the id its response echoes, the client."""

    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None


def _flexible(api_key: int, api_version: int) -> bool:
    # Kafka's flexible ranges are open-ended ("9+"), so a version newer than the table knows is
    # flexible too; an unknown API is read with header v1 (its body is never decoded).
    api = APIS.get(api_key)
    return api is not None and api.request.flexible(api_version)


def request_header_version(api_key: int, api_version: int) -> int:
    """2 when the API version is flexible, else 1."""
    return 2 if _flexible(api_key, api_version) else 1


def response_header_version(api_key: int, api_version: int) -> int:
    """1 when the API version is flexible, else 0; always 0 for ApiVersions."""
    return 1 if api_key != API_VERSIONS_KEY and _flexible(api_key, api_version) else 0


def decode_request_header(
    buf: memoryview, pos: int = 0, end: int | None = None
) -> tuple[RequestHeader, int]:
    """Decode a request header at `pos` (v1 or v2 as its own api_key and api_version say);
    return it and the position of the body. Raises `ProtocolError`."""
    try:
        return _read_request_header(buf, pos, len(buf) if end is None else end)
    except _Fail as fail:
        raise ProtocolError(fail.what, field="header", position=fail.position,
                            source="request header") from None


def _read_request_header(buf: memoryview, pos: int, end: int) -> tuple[RequestHeader, int]:
    if end - pos < _REQUEST_PREFIX.size:
        raise _Fail(f"request header needs {_REQUEST_PREFIX.size} bytes, {end - pos} left", pos)
    api_key, api_version, correlation_id, length = _REQUEST_PREFIX.unpack_from(buf, pos)
    pos += _REQUEST_PREFIX.size
    client_id: str | None = None
    if length >= 0:
        if length > end - pos:
            raise _Fail(f"client_id length {length} runs past the end", pos - 2)
        try:
            client_id = str(buf[pos : pos + length], "utf-8")
        except UnicodeDecodeError as exc:
            raise _Fail(f"client_id is not UTF-8 ({exc.reason})", pos + exc.start) from None
        pos += length
    elif length != -1:
        raise _Fail(f"client_id length {length}", pos - 2)
    if _flexible(api_key, api_version):
        pos = _skip_tagged(buf, pos, end)
    return RequestHeader(api_key, api_version, correlation_id, client_id), pos


def _skip_tagged(buf: memoryview, pos: int, end: int) -> int:
    # The headers define no tagged fields: every one is unknown and skipped.
    count, pos = read_uvarint(buf, pos, end)
    for _ in range(count):
        _tag, pos = read_uvarint(buf, pos, end)
        size, pos = read_uvarint(buf, pos, end)
        if size > end - pos:
            raise _Fail(f"tagged field of {size} bytes runs past the end", pos)
        pos += size
    return pos


def encode_request_header(header: RequestHeader) -> bytes:
    """The bytes of a request header, v1 or v2 as its API version says."""
    client_id = None if header.client_id is None else header.client_id.encode("utf-8")
    out = bytearray(
        _REQUEST_PREFIX.pack(header.api_key, header.api_version, header.correlation_id,
                             -1 if client_id is None else len(client_id))
    )
    out += client_id or b""
    if _flexible(header.api_key, header.api_version):
        _put_uvarint(out, 0)
    return bytes(out)


def encode_response_header(correlation_id: int, version: int) -> bytes:
    """The bytes of a response header v0 or v1 (v1: an empty tagged-fields section)."""
    return _CORRELATION_ID.pack(correlation_id) + (b"\x00" if version >= 1 else b"")


def decode_response_header(buf: memoryview, version: int, pos: int = 0) -> tuple[int, int]:
    """Decode a response header v0 or v1 at `pos`; return (correlation_id, body position)."""
    if len(buf) - pos < _CORRELATION_ID.size:
        raise ProtocolError("response header needs 4 bytes", field="header", position=pos,
                            source="response header")
    try:
        correlation_id = _CORRELATION_ID.unpack_from(buf, pos)[0]
        pos += _CORRELATION_ID.size
        if version >= 1:
            pos = _skip_tagged(buf, pos, len(buf))
    except _Fail as fail:
        raise ProtocolError(fail.what, field="header", position=fail.position,
                            source="response header") from None
    return correlation_id, pos
