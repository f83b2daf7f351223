"""Both sides of one Kafka connection, sans I/O (h11's shape; spec/protocol.md "Frames").

`ServerConnection` is the broker's side, `ClientConnection` the client's (its rules are at the
class). Server rules:

1. Bytes go in with `receive_data`; `b""` means the peer closed its side. Data after that is a
   caller error (`InvalidArgument`).
2. `next_request` returns the next complete frame as a `Request`, in arrival order, or None when it
   needs more bytes (or the peer has closed: `peer_closed`). A frame is an int32 size and that many
   bytes. A size below 0 or above `max_frame_bytes` is refused as soon as the 4 size bytes arrive,
   before any of the payload is buffered; a peer closing mid-frame is an error too.
3. A request whose API key is not in the schema table, or whose version is outside both the table's
   and the `supported` range, still has its header parsed (the v1 prefix is readable for any API) and
   comes back with `body=None` and `unsupported` saying why; nothing is raised.
4. Any `ProtocolError` breaks the connection: every later `next_request` raises the same error
   (Kafka closes a connection that sent a malformed request).
5. Responses leave in request order (Kafka's ordering guarantee per connection): `send_response`
   and `api_versions_fallback` answer the oldest request that awaits an answer. A Produce request
   with acks=0 awaits none.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Mapping
from typing import Any

import attrs

from flyq.errors import InvalidArgument, ProtocolError, UnsupportedVersion
from flyq.protocol._codec import (
    Buffer,
    decode_message,
    decode_message_from,
    encode_message,
    encoded_size,
)
from flyq.protocol._header import (
    API_VERSIONS_KEY,
    RequestHeader,
    decode_request_header,
    decode_response_header,
    encode_request_header,
    encode_response_header,
    response_header_version,
)
from flyq.protocol._schemas import API_VERSIONS, APIS
from flyq.protocol._types import ApiSchema

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "ClientConnection",
    "Request",
    "Response",
    "ServerConnection",
    "api_versions_body",
]

DEFAULT_MAX_FRAME_BYTES = 100 * 1024 * 1024
UNSUPPORTED_VERSION_CODE = 35
_FRAME_SIZE = struct.Struct(">i")
_PRODUCE_KEY = 0


@attrs.frozen(eq=False)
class Request:
    """One request frame. `frame` is its payload (header and body, without the size prefix): the
    `records` memoryviews of `body` are slices of it. `body` is None exactly when `unsupported`
    says why the body was not decoded."""

    header: RequestHeader
    body: dict[str, Any] | None
    frame: memoryview
    unsupported: str | None = None
    api: ApiSchema | None = None
    trailing: int = 0  # bytes after the body's last field, ignored as Kafka does (PROTO-2)

    @property
    def expects_response(self) -> bool:
        """False only for a Produce request with acks=0, which Kafka never answers."""
        return not (self.header.api_key == _PRODUCE_KEY and self.body is not None
                    and self.body.get("acks") == 0)


def api_versions_body(
    supported: Mapping[int, tuple[int, int]], error_code: int = 0, throttle_time_ms: int = 0
) -> dict[str, Any]:
    """An ApiVersions response body advertising `supported` (api_key -> (min, max) version)."""
    return {
        "error_code": error_code,
        "api_keys": [
            {"api_key": key, "min_version": low, "max_version": high}
            for key, (low, high) in sorted(supported.items())
        ],
        "throttle_time_ms": throttle_time_ms,
    }


class _FrameReader:
    """Bytes in, frame payloads out (rules 1 and 2), for both sides of a connection."""

    def __init__(self, max_frame_bytes: int) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.peer_closed = False
        self._buffer = bytearray()
        self._start = 0  # bytes of `_buffer` already handed out as frames

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        if self.peer_closed:
            raise InvalidArgument("data", bytes(data[:16]), "no data after the peer closed")
        if not data:
            self.peer_closed = True
        else:
            self._buffer += data

    def next_frame(self) -> memoryview | None:
        available = len(self._buffer) - self._start
        if available < _FRAME_SIZE.size:
            self._check_not_closed(available)
            return None
        size = _FRAME_SIZE.unpack_from(self._buffer, self._start)[0]
        if size < 0 or size > self.max_frame_bytes:
            raise ProtocolError(f"frame size {size} outside 0..{self.max_frame_bytes}",
                                field="size", position=0, source="frame")
        if available < _FRAME_SIZE.size + size:
            self._check_not_closed(available)
            return None
        begin = self._start + _FRAME_SIZE.size
        # The frame gets its own immutable copy: records views into it stay valid while this
        # connection's buffer moves on.
        with memoryview(self._buffer) as view:  # released at once: the buffer may resize
            frame = memoryview(view[begin : begin + size].tobytes())
        self._start = begin + size
        if self._start * 2 >= len(self._buffer):
            del self._buffer[: self._start]
            self._start = 0
        return frame

    def _check_not_closed(self, available: int) -> None:
        if self.peer_closed and available:
            raise ProtocolError(f"peer closed the connection {available} bytes into a frame",
                                field="size", position=0, source="frame")


class ServerConnection:
    """Bytes in, `Request`s out; response bodies in, frame buffers out. No sockets, no clock."""

    def __init__(
        self, supported: Mapping[int, tuple[int, int]], max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    ) -> None:
        self.supported = dict(supported)
        self._frames = _FrameReader(max_frame_bytes)
        self._broken: ProtocolError | None = None
        self._awaiting: deque[Request] = deque()

    @property
    def max_frame_bytes(self) -> int:
        """The largest frame accepted from now on (rule 2); a SASL listener raises it once the
        connection has authenticated (spec/security.md AUTH-2)."""
        return self._frames.max_frame_bytes

    @max_frame_bytes.setter
    def max_frame_bytes(self, value: int) -> None:
        self._frames.max_frame_bytes = value

    @property
    def peer_closed(self) -> bool:
        """Whether the peer closed its side (`receive_data(b"")`)."""
        return self._frames.peer_closed

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Buffer bytes read from the peer; `b""` means the peer closed its side."""
        self._frames.receive_data(data)

    def next_request(self) -> Request | None:
        """The next complete request, or None until more bytes arrive. Raises `ProtocolError`."""
        if self._broken is not None:
            raise self._broken
        try:
            request = self._next_request()
        except ProtocolError as error:
            self._broken = error
            raise
        if request is not None and request.expects_response:
            self._awaiting.append(request)
        return request

    def _next_request(self) -> Request | None:
        frame = self._frames.next_frame()
        return None if frame is None else self._parse(frame)

    def _parse(self, frame: memoryview) -> Request:
        header, pos = decode_request_header(frame)
        api = APIS.get(header.api_key)
        version = header.api_version
        served = self.supported.get(header.api_key)
        if api is None:
            why = f"api key {header.api_key} is unknown"
        elif served is None:
            why = f"{api.name} (api key {api.key}) is not served"
        elif not (served[0] <= version <= served[1] and api.versions[0] <= version <= api.versions[1]):
            why = f"{api.name} version {version} is outside {served[0]}..{served[1]}"
        else:
            body, end = decode_message_from(api.request, version, frame, pos)
            # Kafka ignores bytes after the last field, and librdkafka sends some (PROTO-2).
            return Request(header, body, frame, None, api, trailing=len(frame) - end)
        return Request(header, None, frame, why, api)

    def _answer(self, request: Request) -> None:
        if not self._awaiting or self._awaiting[0] is not request:
            raise InvalidArgument("request", request.header,
                                  "the oldest request awaiting a response (responses go in order)")
        self._awaiting.popleft()

    def send_response(self, request: Request, body: Mapping[str, Any]) -> list[Buffer]:
        """The whole response frame for `request` as buffers: size, header, encoded body.

        The size is computed from the buffers' lengths; records buffers are elements of the list
        as given. Raises `UnsupportedVersion` for a request that came back `unsupported`.
        """
        if request.unsupported is not None or request.api is None:
            raise UnsupportedVersion(request.api.name if request.api else str(request.header.api_key),
                                     "response", request.header.api_version,
                                     self.supported.get(request.header.api_key, (0, -1)))
        self._answer(request)
        version = request.header.api_version
        return _frame(request, request.api, version, body,
                      response_header_version(request.header.api_key, version))

    def api_versions_fallback(self, request: Request) -> list[Buffer]:
        """For an ApiVersions request at a version this server does not support: a v0 response
        (header v0) with error 35 UNSUPPORTED_VERSION listing the supported ranges, as Kafka
        answers; the client retries at a version from that list."""
        if request.header.api_key != API_VERSIONS_KEY:
            raise InvalidArgument("request", request.header, "an ApiVersions request")
        self._answer(request)
        body = api_versions_body(self.supported, error_code=UNSUPPORTED_VERSION_CODE)
        return _frame(request, API_VERSIONS, 0, body, 0)


def _frame(request: Request, api: ApiSchema, version: int, body: Mapping[str, Any],
           header_version: int) -> list[Buffer]:
    header = encode_response_header(request.header.correlation_id, header_version)
    parts = encode_message(api.response, version, body, prefix=bytes(_FRAME_SIZE.size) + header)
    size = encoded_size(parts) - _FRAME_SIZE.size
    first = bytearray(parts[0])
    _FRAME_SIZE.pack_into(first, 0, size)
    parts[0] = bytes(first)
    return parts


@attrs.frozen(eq=False)
class Response:
    """One response frame, decoded: the request's correlation id, api key and version (for an
    ApiVersions answer to a version the server refused: 0, the version its body is in)."""

    correlation_id: int
    api_key: int
    version: int
    body: dict[str, Any]


@attrs.frozen
class _Sent:
    correlation_id: int
    api_key: int
    version: int


class ClientConnection:
    """Request bodies in, frame bytes out; bytes in, `Response`s out. No sockets, no clock.

    Rules (the mirror of the server's):

    1. `send_request` encodes a request with the header version the API version calls for
       (PROTO-4) and the next correlation id (counting from `first_correlation_id`, wrapping at
       2^31); every request but a Produce with acks=0 awaits a response.
    2. `receive_data` as on the server (`b""`: the peer closed; data after that is a caller error).
    3. `next_response` returns the next complete frame decoded, or None until more bytes arrive.
       Responses come in request order (PROTO-3), so a frame must answer the oldest request
       awaiting one: its correlation id, then its header (v0 or v1) and its whole body at that
       request's version. An ApiVersions body that does not decode at the version asked is read
       at v0: a server refusing the version answers so (PROTO-14).
    4. Anything else is a `ProtocolError`: a frame size outside 0..`max_frame_bytes`, a frame
       nobody awaits, a correlation id out of order, a malformed header or body, the peer closing
       mid-frame. After one, every later `next_response` raises the same error.
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
                 first_correlation_id: int = 0) -> None:
        self._frames = _FrameReader(max_frame_bytes)
        self._next_id = first_correlation_id
        self._awaiting: deque[_Sent] = deque()
        self._broken: ProtocolError | None = None

    @property
    def peer_closed(self) -> bool:
        """Whether the peer closed its side (`receive_data(b"")`)."""
        return self._frames.peer_closed

    @property
    def awaiting(self) -> int:
        """How many requests await a response."""
        return len(self._awaiting)

    def send_request(self, api_key: int, version: int, body: Mapping[str, Any],
                     client_id: str | None = None) -> bytes:
        """The whole request frame; `UnsupportedVersion` for an API or version the schema table
        lacks, `InvalidArgument` for a body the schema cannot carry."""
        api = APIS.get(api_key)
        if api is None or not api.versions[0] <= version <= api.versions[1]:
            raise UnsupportedVersion(api.name if api else str(api_key), "request", version,
                                     api.versions if api else (0, -1))
        correlation_id = self._next_id
        header = encode_request_header(RequestHeader(api_key, version, correlation_id, client_id))
        parts = encode_message(api.request, version, body,
                               prefix=bytes(_FRAME_SIZE.size) + header)
        data = bytearray(b"".join(parts))
        _FRAME_SIZE.pack_into(data, 0, len(data) - _FRAME_SIZE.size)
        self._next_id = (correlation_id + 1) & 0x7FFFFFFF
        if not (api_key == _PRODUCE_KEY and body.get("acks") == 0):
            self._awaiting.append(_Sent(correlation_id, api_key, version))
        return bytes(data)

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Buffer bytes read from the server; `b""` means it closed its side."""
        self._frames.receive_data(data)

    def next_response(self) -> Response | None:
        """The next complete response, or None until more bytes arrive. Raises `ProtocolError`."""
        if self._broken is not None:
            raise self._broken
        try:
            frame = self._frames.next_frame()
            return None if frame is None else self._parse(frame)
        except ProtocolError as error:
            self._broken = error
            raise

    def _parse(self, frame: memoryview) -> Response:
        if not self._awaiting:
            raise ProtocolError("a response frame arrived with no request awaiting one",
                                field="correlation_id", position=0, source="frame")
        sent = self._awaiting[0]
        correlation_id, pos = decode_response_header(
            frame, response_header_version(sent.api_key, sent.version))
        if correlation_id != sent.correlation_id:
            raise ProtocolError(f"correlation id {correlation_id}, expected {sent.correlation_id} "
                                "(responses come in request order)", field="correlation_id",
                                position=0, source="response header")
        self._awaiting.popleft()
        schema = APIS[sent.api_key].response
        body_view = frame[pos:]
        try:
            body = decode_message(schema, sent.version, body_view)
            version = sent.version
        except ProtocolError:
            if sent.api_key != API_VERSIONS_KEY or sent.version == 0:
                raise
            body, version = decode_message(schema, 0, body_view), 0
        return Response(correlation_id, sent.api_key, version, body)
