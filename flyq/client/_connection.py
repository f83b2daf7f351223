"""One asyncio connection to a broker: sockets and timers over the sans-I/O `ClientConnection`.

It owns the socket, a reader task and the futures of the requests in flight; framing, correlation
ids and decoding are `ClientConnection`'s. On opening it asks ApiVersions (v3, or v0 when the
broker refuses v3) and from then on sends each request at the highest version both sides know,
within the range the caller can read (`request(..., versions=(low, high))`).

Errors: a refused, reset or closed socket, or a frame that does not parse, is `ConnectionBroken`
(cause in `__cause__`) for every request in flight and after; a request after `close()` is
`ConnectionClosed`; no answer within `timeout` is `RequestTimedOut` (the connection is then
closed, as its responses would no longer line up with the requests).

Security (CLIENT-50..56): with `security=Security(...)` the socket is TLS (SSL, SASL_SSL) and,
after ApiVersions, the connection authenticates with SASL (SaslHandshake v1, then
SaslAuthenticate with the tokens of the sans-I/O `SaslClient`) before `open` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Mapping
from typing import Any

from flyq.client._sasl_client import SaslClient
from flyq.client._security import PLAINTEXT, Security, ssl_context
from flyq.errors import (
    AuthenticationFailed,
    ConnectionBroken,
    ConnectionClosed,
    FlyQError,
    InvalidArgument,
    ProtocolError,
    RequestTimedOut,
    UnsupportedSaslMechanism,
    UnsupportedVersion,
    error_from_code,
)
from flyq.protocol import APIS, ClientConnection, Response

__all__ = ["DEFAULT_TIMEOUT", "BrokerConnection", "negotiated_version", "parse_bootstrap"]

DEFAULT_TIMEOUT = 30.0
API_VERSIONS = 18
_PRODUCE = 0
_SASL_HANDSHAKE = 17
_SASL_AUTHENTICATE = 36
_UNSUPPORTED_SASL_MECHANISM = 33
_READ_SIZE = 1 << 16
_UNSUPPORTED_VERSION = 35


def parse_bootstrap(bootstrap: str) -> tuple[str, int]:
    """HOST:PORT (the first of a comma-separated list) as (host, port); `InvalidArgument` else."""
    first = bootstrap.split(",", 1)[0].strip()
    host, sep, port = first.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidArgument("bootstrap", bootstrap, "HOST:PORT, the port in 1..65535")
    return host.strip("[]"), int(port)


def negotiated_version(api_key: int, served: Mapping[int, tuple[int, int]],
                       versions: tuple[int, int] | None = None) -> int:
    """The highest version of `api_key` the broker serves (`served`: ApiVersions' ranges), the
    schema table knows and `versions` (what the caller can read) allows; `UnsupportedVersion`
    naming the API if there is none, as from a broker that does not advertise it at all
    (CLIENT-1, CLIENT-40)."""
    api = APIS[api_key]
    low, high = api.versions
    if versions is not None:
        low, high = max(low, versions[0]), min(high, versions[1])
    served_range = served.get(api_key)
    if served_range is None:
        raise UnsupportedVersion(api.name, "request (the broker does not serve this API)", high,
                                 (0, -1))
    low, high = max(low, served_range[0]), min(high, served_range[1])
    if low > high:
        raise UnsupportedVersion(api.name, "request", high, served_range)
    return high


class BrokerConnection:
    """Requests out, awaited responses in; use `BrokerConnection.open`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 client_id: str, timeout: float, security: Security = PLAINTEXT) -> None:
        self.client_id = client_id
        self.timeout = timeout
        # Kept so that connections opened from this one (a group's coordinator) use the same.
        self.security = security
        self.versions: dict[int, tuple[int, int]] = {}
        self._reader = reader
        self._writer = writer
        self._protocol = ClientConnection()
        self._waiting: deque[asyncio.Future[Response]] = deque()
        self._failure: FlyQError | None = None
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def open(cls, bootstrap: str, *, client_id: str = "flyq",
                   timeout: float = DEFAULT_TIMEOUT,
                   security: Security = PLAINTEXT) -> BrokerConnection:
        """Connect to `bootstrap` (HOST:PORT) with `security` (TLS when its protocol says so),
        learn the broker's api versions and authenticate with SASL when its protocol says so
        (CLIENT-53, CLIENT-54)."""
        host, port = parse_bootstrap(bootstrap)
        context = ssl_context(security) if security.tls else None
        opening = (asyncio.open_connection(host, port, ssl=context, server_hostname=host,
                                           ssl_handshake_timeout=timeout)
                   if context is not None else asyncio.open_connection(host, port))
        try:
            reader, writer = await asyncio.wait_for(opening, timeout)
        except TimeoutError as exc:
            raise RequestTimedOut(f"no connection to {host}:{port} within {timeout}s") from exc
        except OSError as exc:
            raise ConnectionBroken(f"cannot connect to {host}:{port} "
                                   f"({security.security_protocol}): {exc}") from exc
        connection = cls(reader, writer, client_id, timeout, security)
        try:
            await connection._negotiate()
            if security.sasl:
                await connection._authenticate(security)
        except BaseException:
            await connection.close()
            raise
        return connection

    async def _negotiate(self) -> None:
        version, body = 3, {"client_software_name": "flyq", "client_software_version": "0"}
        response = await self._send(API_VERSIONS, version, body)
        if response.body["error_code"] == _UNSUPPORTED_VERSION:
            response = await self._send(API_VERSIONS, 0, {})
        if response.body["error_code"]:
            raise error_from_code(response.body["error_code"], "ApiVersions")
        self.versions = {entry["api_key"]: (entry["min_version"], entry["max_version"])
                         for entry in response.body["api_keys"]}

    async def _authenticate(self, security: Security) -> None:
        """SaslHandshake v1, then SaslAuthenticate until the exchange completes (CLIENT-54).
        The broker closes the connection after a refusal, so every error here is final."""
        mechanism = security.sasl_mechanism
        username = security.sasl_username
        assert mechanism is not None and username is not None
        assert security.sasl_password is not None  # Security checked all three (CLIENT-50)
        handshake = await self._send(_SASL_HANDSHAKE, self.version_for(_SASL_HANDSHAKE, (1, 1)),
                                     {"mechanism": mechanism})
        code = handshake.body["error_code"]
        if code == _UNSUPPORTED_SASL_MECHANISM:
            raise UnsupportedSaslMechanism(mechanism, tuple(handshake.body["mechanisms"] or ()))
        if code:
            raise error_from_code(code, f"SaslHandshake for {mechanism}")
        client = SaslClient(mechanism, username, security.sasl_password)
        version = self.version_for(_SASL_AUTHENTICATE, (0, 2))
        token: bytes | None = client.first_token()
        while token is not None:
            answer = await self._send(_SASL_AUTHENTICATE, version, {"auth_bytes": token})
            code = answer.body["error_code"]
            if code:
                why = answer.body["error_message"] or error_from_code(code).args[0]
                raise AuthenticationFailed(mechanism, username, f"the broker refused: {why}")
            token = client.receive(answer.body["auth_bytes"] or b"")

    @property
    def failed(self) -> bool:
        """Whether the connection is broken or closed (every request would fail)."""
        return self._failure is not None

    def version_for(self, api_key: int, versions: tuple[int, int] | None = None) -> int:
        """`negotiated_version` against the versions this broker advertised."""
        return negotiated_version(api_key, self.versions, versions)

    async def request(self, api_key: int, body: Mapping[str, Any],
                      versions: tuple[int, int] | None = None) -> Response:
        """Send `body` at the negotiated version (see `version_for`) and await its response."""
        return await self._send(api_key, self.version_for(api_key, versions), body)

    async def send_unanswered(self, api_key: int, body: Mapping[str, Any],
                              versions: tuple[int, int] | None = None) -> None:
        """Send a request Kafka never answers (a Produce with acks=0) and return once it is
        written to the socket; `ConnectionBroken` if writing fails."""
        if self._failure is not None:
            raise self._failure
        if not (api_key == _PRODUCE and body.get("acks") == 0):
            raise InvalidArgument("request", APIS[api_key].name, "a Produce with acks=0")
        version = self.version_for(api_key, versions)
        data = self._protocol.send_request(api_key, version, body, self.client_id)
        try:
            self._writer.write(data)
            await self._writer.drain()
        except OSError as exc:
            error = ConnectionBroken(f"sending to the broker failed: {exc}")
            self._fail(error, exc)
            raise error from exc

    async def _send(self, api_key: int, version: int, body: Mapping[str, Any]) -> Response:
        if self._failure is not None:
            raise self._failure
        data = self._protocol.send_request(api_key, version, body, self.client_id)
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        try:
            self._writer.write(data)
            await self._writer.drain()
        except OSError as exc:
            self._fail(ConnectionBroken(f"sending to the broker failed: {exc}"), exc)
        try:
            # A timeout or a cancelled caller cancels `future`; it keeps its place in the queue,
            # so the response it would have had is still matched (and dropped).
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError as exc:
            name = APIS[api_key].name
            error = RequestTimedOut(f"{name} v{version}: no answer within {self.timeout}s")
            self._fail(error, exc)
            raise error from exc

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._reader.read(_READ_SIZE)
                if self._failure is not None:
                    return  # failed meanwhile (a timeout): its futures are settled already
                self._protocol.receive_data(data)
                while (response := self._protocol.next_response()) is not None:
                    future = self._waiting.popleft()
                    if not future.done():
                        future.set_result(response)
                if not data:
                    self._fail(ConnectionBroken("the broker closed the connection"), None)
                    return
        except ProtocolError as exc:
            self._fail(ConnectionBroken(f"malformed response: {exc}"), exc)
        except OSError as exc:
            self._fail(ConnectionBroken(f"reading from the broker failed: {exc}"), exc)

    def _fail(self, error: FlyQError, cause: BaseException | None) -> None:
        """Fail every request in flight and every later one with `error`; close the socket."""
        if self._failure is not None:
            return
        error.__cause__ = cause
        self._failure = error
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)
        self._writer.close()

    async def close(self) -> None:
        """Close the connection; requests in flight and later ones get `ConnectionClosed`."""
        self._fail(ConnectionClosed("the connection was closed by this client"), None)
        if self._task is not asyncio.current_task():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    async def __aenter__(self) -> BrokerConnection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
