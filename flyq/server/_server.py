"""The asyncio network broker: sockets in, `ServerConnection` frames through, `ApiHandlers` calls.

Rules this module keeps (spec/protocol.md §7, SRV-1..7):

- SRV-1 Answers leave a connection in the order its requests arrived (Kafka's rule), while later
  requests are already being handled; Produce requests of one connection run one after another,
  so a client's batches for a partition are appended in the order it sent them.
- SRV-2 Back-pressure: a connection is not read while the request bytes it sent that are not yet
  answered exceed `max_unanswered_bytes`, while `max_in_flight_requests` of its requests are
  unanswered, or while its socket's send buffer is full.
- SRV-3 A malformed frame, a frame over `socket.request.max.bytes`, or a request for an api key or
  version FlyQ does not serve closes that connection only (ApiVersions at an unsupported version is
  answered with UNSUPPORTED_VERSION and the supported ranges, as Kafka does). Nothing is stored
  for a request that was not decoded whole.
- SRV-4 At most `max_connections` connections; one more is closed at once. A connection with
  nothing in flight for `connections_max_idle_ms` is closed.
- SRV-5 Stop (SIGTERM/SIGINT): stop accepting, answer waiting long-poll fetches at once, let
  in-flight requests finish and their answers be written (bounded by a grace period), close the
  connections, then close the Broker, which flushes and writes the clean-shutdown markers. A
  second signal while stopping does not cut this short.
- SRV-6 The event loop never waits on the disk: every Broker call runs on the Broker's executors.
- SRV-8 One asyncio server per listener (spec/security.md LSN-1..6); TLS listeners wrap their
  sockets with the listener's `SSLContext`. Each connection authenticates as its listener demands
  (AUTH-1..8): a SASL connection may send nothing but ApiVersions and the SASL APIs, in frames of
  at most `sasl.server.max.receive.size`, until it has authenticated; a failed authentication is
  answered after `connection.failed.authentication.delay.ms` and the connection closed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import functools
import logging
import time
from collections.abc import Callable
from typing import Any, cast

import attrs

from flyq.auth import SaslServer
from flyq.broker import AsyncBroker
from flyq.errors import AuthenticationFailed, FlyQError
from flyq.protocol import Request, ServerConnection
from flyq.server._apis import SUPPORTED_VERSIONS, ApiHandlers, ApiKey, CloseConnection
from flyq.server._authentication import (
    SASL_AUTHENTICATE_KEY,
    SASL_HANDSHAKE_KEY,
    AuthOutcome,
    ConnectionAuthentication,
    FailedAuthentications,
    SaslExchange,
)
from flyq.server._context import REQUEST, RequestContext
from flyq.server._listeners import Listener
from flyq.server._metrics import BrokerMetrics
from flyq.server._settings import ServerSettings
from flyq.server._tls import PrincipalRules, server_context, subject_dn
from flyq.server._tls_layer import TlsLayer

__all__ = ["BrokerServer"]

_log = logging.getLogger("flyq.server")
_STOP_GRACE_SECONDS = 10.0
_IDLE_CHECK_SECONDS = 1.0
_MAX_VERSIONS_SEEN = 10_000
_TLS_HANDSHAKE_SECONDS = 10.0
_LINGER_SECONDS = 1.0


@attrs.define
class _InFlight:
    request: Request
    task: asyncio.Task[dict[str, Any] | None] | None
    size: int
    ready: list[bytes | memoryview] | None = None  # a pre-built answer (ApiVersions fallback)
    started: float = 0.0  # time.perf_counter() when it arrived
    close_after: bool = False  # a failed authentication: close once this answer is written


class _ClientConnection(asyncio.Protocol):
    """One client socket (SRV-1..4)."""

    def __init__(self, server: BrokerServer, listener: Listener) -> None:
        self._server = server
        self.listener = listener
        settings = server.settings
        # AUTH-2: a SASL connection gets small frames until it has authenticated.
        self._codec = ServerConnection(
            SUPPORTED_VERSIONS, max_frame_bytes=settings.sasl_max_receive_bytes if listener.sasl
            else settings.socket_request_max_bytes)
        self.auth: ConnectionAuthentication | None = None
        self._transport: asyncio.Transport | None = None
        self._in_flight: collections.deque[_InFlight] = collections.deque()
        self._unanswered = 0
        self._reading_paused = False
        self._writing_paused = False
        self._closing = False
        self._failed = False  # an authentication failed: nothing more is read (AUTH-5)
        self._authenticating = False  # a SASL step is under way: requests wait (AUTH-4)
        self._linger: asyncio.TimerHandle | None = None  # closes a refused connection (AUTH-5)
        self._last_produce: asyncio.Task[Any] | None = None
        self.last_active = time.monotonic()
        self.peer = "?"
        self.host = ""

    # --- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport but have its methods.
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.host = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        if not self._server.admit(self):
            _log.warning("connection from %s refused: max.connections %d reached", self.peer,
                         self._server.settings.max_connections)
            self._transport.abort()
            return
        try:
            tls_principal = self._tls_principal(transport)
        except AuthenticationFailed as exc:
            self._server.count_authentication(self.listener, "SSL", succeeded=False)
            self.close(f"authentication failed for {self.peer} on {self.listener.name}: {exc}")
            return
        self.auth = ConnectionAuthentication(
            self.listener, tls_principal=tls_principal,
            exchange=self._server.new_sasl_exchange if self.listener.sasl else None)
        if self._server.metrics is not None:
            self._server.metrics.connection_opened(self.listener.name)
        _log.debug("connection from %s on %s as %s", self.peer, self.listener.name,
                   self.auth.principal if self.auth.authenticated else "(not yet authenticated)")

    def _tls_principal(self, transport: asyncio.BaseTransport) -> str | None:
        """TLS-3/4: the principal of a verified client certificate, None without one."""
        if not self.listener.tls:
            return None
        peercert = transport.get_extra_info("peercert")
        if not peercert:
            return None
        principal = self._server.principal_rules.principal(subject_dn(peercert))
        if not self.listener.sasl:
            self._server.count_authentication(self.listener, "SSL", succeeded=True)
        return principal

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if self._linger is not None:
            self._linger.cancel()
        if self._server.forget(self) and self._server.metrics is not None:
            self._server.metrics.connection_closed(self.listener.name)
        for entry in self._in_flight:
            if entry.task is not None:
                entry.task.cancel()
        self._in_flight.clear()
        _log.debug("connection from %s closed%s", self.peer, f": {exc}" if exc else "")

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._update_reading()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self.last_active = time.monotonic()
        if self._server.metrics is not None:
            self._server.metrics.bytes_received(self.listener.name, len(data))
        try:
            self._codec.receive_data(data)
        except FlyQError as exc:
            self.close(f"bad request from {self.peer}: {exc}")
            return
        self._process()

    def _process(self) -> None:
        """Handle the complete requests received, unless an authentication step is under way
        (its outcome decides what may follow) or failed."""
        try:
            while not self._closing and not self._failed and not self._authenticating:
                request = self._codec.next_request()
                if request is None:
                    break
                self._accept(request)
        except FlyQError as exc:
            self.close(f"bad request from {self.peer}: {exc}")
            return
        self._update_reading()

    def eof_received(self) -> bool | None:
        # Answer what was asked, then close: a half-closed client still reads.
        if not self._in_flight:
            return None
        self._closing = True
        return True

    # --- requests -------------------------------------------------------------------------------

    def _accept(self, request: Request) -> None:
        header = request.header
        size = len(request.frame) if getattr(request, "frame", None) is not None else 0
        if request.unsupported is not None:
            if header.api_key == ApiKey.API_VERSIONS:
                entry = _InFlight(request, None, size,
                                  ready=self._codec.api_versions_fallback(request))
                self._in_flight.append(entry)
                self._unanswered += size
                self._drain()
                return
            self.close(f"closing {self.peer}: {request.unsupported} "
                       f"(client {header.client_id!r})")
            return
        auth = self.auth
        assert auth is not None  # set when the connection was admitted
        if not auth.admits(header.api_key):
            self._server.count_authentication(self.listener, auth.mechanism or "none",
                                              succeeded=False)
            self.close(f"closing {self.peer}: {request.api.name if request.api else header.api_key}"
                       f" before authentication on the {self.listener.name} listener (only "
                       "ApiVersions and the SASL APIs are allowed)")
            return
        self._server.count_request(header.api_key, header.api_version, header.client_id)
        if header.api_key in (SASL_HANDSHAKE_KEY, SASL_AUTHENTICATE_KEY):
            assert request.body is not None
            self._authenticate(request, auth, size)
            return
        if request.trailing:
            _log.debug("%d bytes after the body of %s from %s ignored (as Kafka does)",
                       request.trailing, header, self.peer)
        assert request.body is not None  # decoded whenever `unsupported` is None
        coroutine = self._server.handlers.handle(header.api_key, header.api_version,
                                                 request.body)
        context = contextvars.copy_context()
        context.run(REQUEST.set, RequestContext(header.client_id or "", self.host,
                                                auth.principal, self.listener.name))
        if header.api_key == ApiKey.PRODUCE:
            coroutine = self._after(self._last_produce, coroutine)
        task = asyncio.get_running_loop().create_task(coroutine, context=context)
        if header.api_key == ApiKey.PRODUCE:
            self._last_produce = task
        self._in_flight.append(_InFlight(request, task, size, started=time.perf_counter()))
        self._unanswered += size
        task.add_done_callback(self._task_done)

    def _authenticate(self, request: Request, auth: ConnectionAuthentication, size: int) -> None:
        """SaslHandshake / SaslAuthenticate (AUTH-3..6): answered in order like any request.
        Nothing more is read until the step is done (a PLAIN check runs PBKDF2, off the loop); a
        failure is answered after the failure delay, then the connection closes."""
        assert request.body is not None
        entry = _InFlight(request, None, size, started=time.perf_counter())
        self._authenticating = True
        task = asyncio.get_running_loop().create_task(
            self._sasl_step(auth, request.header.api_key, request.body, entry))
        entry.task = task
        self._in_flight.append(entry)
        self._unanswered += size
        task.add_done_callback(self._task_done)

    async def _sasl_step(self, auth: ConnectionAuthentication, api_key: int,
                         request: dict[str, Any], entry: _InFlight) -> dict[str, Any]:
        server = self._server
        try:
            if api_key == SASL_HANDSHAKE_KEY:
                body, outcome = auth.handshake(request, entry.request.header.api_version)
            else:
                now_ms = int(time.monotonic() * 1000)
                blocked = server.failed_authentications.blocked_for_ms(self.host, now_ms)
                body, outcome = await asyncio.to_thread(
                    functools.partial(auth.authenticate, request, blocked_for_ms=blocked))
                if outcome is AuthOutcome.FAILED and not blocked:
                    server.failed_authentications.record(self.host, now_ms)
            if outcome is AuthOutcome.AUTHENTICATED:
                self._codec.max_frame_bytes = server.settings.socket_request_max_bytes
                server.count_authentication(self.listener, auth.mechanism or "?", succeeded=True)
                _log.info("%s authenticated as %s with %s on %s", self.peer, auth.principal,
                          auth.mechanism, self.listener.name)
            elif outcome is AuthOutcome.FAILED:
                self._failed = True
                entry.close_after = True
                server.count_authentication(self.listener, auth.mechanism or "?",
                                            succeeded=False)
                _log.info("authentication failed for %s on %s: %s", self.peer,
                          self.listener.name, auth.failure)
                await asyncio.sleep(server.settings.failed_authentication_delay_ms / 1000)
            return body
        finally:
            self._authenticating = False
            if not self._closing:
                self._process()

    @staticmethod
    async def _after(previous: asyncio.Task[Any] | None, coroutine: Any) -> Any:
        if previous is not None and not previous.done():
            with contextlib.suppress(BaseException):
                await asyncio.shield(previous)
        return await coroutine

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._drain()

    def _drain(self) -> None:
        """Write every answer that is ready, in request order (SRV-1)."""
        transport = self._transport
        while self._in_flight and transport is not None:
            entry = self._in_flight[0]
            if entry.task is not None and not entry.task.done():
                break
            self._in_flight.popleft()
            self._unanswered -= entry.size
            if entry.ready is not None:
                transport.writelines(entry.ready)
                continue
            assert entry.task is not None
            if entry.task.cancelled():
                continue
            failure = entry.task.exception()
            if isinstance(failure, CloseConnection):
                self.close(f"closing {self.peer}: {failure}")
                return
            if failure is not None:
                _log.error("request %s from %s failed", entry.request.header, self.peer,
                           exc_info=failure)
                self.close(f"closing {self.peer} after an internal error")
                return
            body = entry.task.result()
            metrics = self._server.metrics
            if metrics is not None:
                header = entry.request.header
                metrics.request_answered(self.listener.name, header.api_key, header.api_version,
                                         time.perf_counter() - entry.started, body)
            if body is None:
                continue
            try:
                buffers = self._codec.send_response(entry.request, body)
            except FlyQError as exc:
                _log.error("cannot encode the answer to %s: %s", entry.request.header, exc)
                self.close(f"closing {self.peer} after an encoding error")
                return
            transport.writelines(buffers)
            if metrics is not None:
                metrics.bytes_sent(self.listener.name, sum(len(part) for part in buffers))
            if entry.close_after:
                self._close_after_failure(transport)
                return
        self.last_active = time.monotonic()
        if self._closing and not self._in_flight and transport is not None:
            transport.close()
            return
        self._update_reading()

    def _close_after_failure(self, transport: asyncio.Transport) -> None:
        """AUTH-5: the refusal is written; now end the connection without losing it. Closing a
        socket that still holds unread bytes sends a reset, which can overtake the refusal, so
        the rest of what the client sent is read and dropped until it closes (or a second has
        passed). No half-close first: kafka-python drops a connection at the end of its input
        before it reads the answer that came with it."""
        self._closing = True
        self._in_flight.clear()
        if self._reading_paused:
            transport.resume_reading()
            self._reading_paused = False
        self._linger = asyncio.get_running_loop().call_later(_LINGER_SECONDS, transport.close)

    def _update_reading(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        settings = self._server.settings
        pause = (self._writing_paused or self._failed or self._authenticating
                 or self._unanswered > settings.max_unanswered_bytes
                 or len(self._in_flight) >= settings.max_in_flight_requests)
        if pause and not self._reading_paused:
            transport.pause_reading()
            self._reading_paused = True
        elif not pause and self._reading_paused:
            transport.resume_reading()
            self._reading_paused = False

    # --- closing --------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Whether requests are in flight."""
        return bool(self._in_flight)

    def close(self, reason: str | None = None) -> None:
        """Close now (SRV-3): pending answers are dropped."""
        if reason:
            _log.info("%s", reason)
        self._closing = True
        if self._transport is not None:
            self._transport.abort()

    def close_when_answered(self) -> None:
        """Stop reading and close once every in-flight request was answered (SRV-5)."""
        self._closing = True
        if self._transport is None:
            return
        if not self._in_flight:
            self._transport.close()
        elif not self._reading_paused:
            self._transport.pause_reading()
            self._reading_paused = True


class BrokerServer:
    """A listening broker over one `AsyncBroker` (SRV-1..8). `await start()`, then `await stop()`."""

    def __init__(self, broker: AsyncBroker, settings: ServerSettings, cluster_id: str, *,
                 metrics: BrokerMetrics | None = None) -> None:
        self.broker = broker
        self.settings = settings
        self.metrics = metrics
        self.handlers = ApiHandlers(broker, settings, cluster_id)
        if metrics is not None:
            self.handlers.authorization.on_denied = metrics.authorization_denied
        self.failed_authentications = FailedAuthentications(
            settings.failed_authentication_limit, settings.failed_authentication_window_ms)
        self.principal_rules = PrincipalRules.parse(
            settings.tls.principal_mapping_rules if settings.tls is not None else "DEFAULT")
        self._connections: set[_ClientConnection] = set()
        self._servers: list[asyncio.Server] = []
        self._idle_task: asyncio.Task[None] | None = None
        self.stopped = False
        # (api_key, version, client_id) -> requests served: what each client used (spec §5).
        self.versions_seen: collections.Counter[tuple[int, int, str | None]] = (
            collections.Counter())

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the first listener bound (port 0 in the settings picks a free one)."""
        listener = self.settings.listeners[0]
        return listener.host, listener.port

    def new_sasl_exchange(self) -> SaslExchange:
        """A SASL server for one connection, over the stored credentials (AUTH-3)."""
        return SaslServer(self.settings.sasl_enabled_mechanisms, self.handlers.credentials.get)

    async def start(self) -> None:
        """Bind every listener and start accepting connections (SRV-8)."""
        loop = asyncio.get_running_loop()
        context = (server_context(self.settings.tls) if self.settings.tls is not None else None)
        bound = []
        for listener in self.settings.listeners:
            factory: Callable[[], asyncio.Protocol] = functools.partial(
                _ClientConnection, self, listener)
            if listener.tls and context is not None:
                factory = functools.partial(
                    TlsLayer, context, factory,
                    functools.partial(self._tls_failed, listener), _TLS_HANDSHAKE_SECONDS)
            server = await loop.create_server(factory, listener.host, listener.port,
                                              reuse_address=True)
            self._servers.append(server)
            port = int(server.sockets[0].getsockname()[1])
            # A free port was asked for: clients must be told the one bound.
            bound.append(attrs.evolve(listener, port=port) if listener.port == 0 else listener)
        self.settings = attrs.evolve(self.settings, listeners=tuple(bound))
        self.handlers.settings = self.settings
        self._idle_task = loop.create_task(self._close_idle())
        self.handlers.groups.start()

    def _tls_failed(self, listener: Listener, peer: str, reason: str) -> None:
        """TLS-5: a refused handshake, in one line, counted as a failed authentication."""
        _log.info("TLS handshake with %s on %s failed: %s", peer, listener.name, reason)
        self.count_authentication(listener, "SSL", succeeded=False)

    def admit(self, connection: _ClientConnection) -> bool:
        """Register a new connection unless `max_connections` are open (SRV-4)."""
        if len(self._connections) >= self.settings.max_connections:
            return False
        self._connections.add(connection)
        return True

    def forget(self, connection: _ClientConnection) -> bool:
        """A connection closed; whether it had been admitted."""
        admitted = connection in self._connections
        self._connections.discard(connection)
        return admitted and connection.auth is not None

    def count_authentication(self, listener: Listener, mechanism: str, *,
                             succeeded: bool) -> None:
        """An authentication's outcome, for the metrics."""
        if self.metrics is not None:
            self.metrics.authentication(listener.name, mechanism, succeeded)

    def count_request(self, api_key: int, version: int, client_id: str | None) -> None:
        """Remember which api versions clients use (logged at debug, kept for tests)."""
        key = (api_key, version, client_id)
        if key not in self.versions_seen:
            # Client ids are the peers' to choose: past a bound, new ones are not remembered.
            if len(self.versions_seen) >= _MAX_VERSIONS_SEEN:
                return
            _log.debug("client %r uses api %d v%d", client_id, api_key, version)
        self.versions_seen[key] += 1

    async def _close_idle(self) -> None:
        limit = self.settings.connections_max_idle_ms / 1000
        while True:
            await asyncio.sleep(min(_IDLE_CHECK_SECONDS, limit))
            now = time.monotonic()
            for connection in list(self._connections):
                if not connection.busy and now - connection.last_active > limit:
                    connection.close(f"closing idle connection from {connection.peer}")

    async def stop(self) -> None:
        """SRV-5: stop accepting, answer what is in flight, close connections and the Broker."""
        self.stopped = True
        if self._idle_task is not None:
            self._idle_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._idle_task
        for server in self._servers:
            server.close()
        self.handlers.watch.close()  # waiting fetches answer now with what they have
        await self.handlers.groups.stop()  # joins waiting for a rebalance get no answer
        for connection in list(self._connections):
            connection.close_when_answered()
        deadline = time.monotonic() + _STOP_GRACE_SECONDS
        while any(connection.busy for connection in self._connections) and (
                time.monotonic() < deadline):
            await asyncio.sleep(0.01)
        for connection in list(self._connections):
            connection.close()
        for server in self._servers:
            await server.wait_closed()
        await self.broker.close()
