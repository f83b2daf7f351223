"""The scrape endpoint: a minimal HTTP/1.x server on asyncio for `GET /metrics` (MET-12).

One request per connection, answered with `Connection: close`: what a Prometheus scrape needs and
nothing more, so no HTTP framework is pulled in. The request head is parsed by the pure
`parse_request_head` and `route`; the answer built by the pure `render_response`. Before each
`GET /metrics` (or `/`) the broker state is refreshed (`BrokerMetrics.refresh`, whose disk reads run
on the Broker's executors, never on the loop).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from flyq.errors import InvalidArgument, ProtocolError
from flyq.server._metrics import BrokerMetrics

__all__ = ["MetricsEndpoint", "parse_request_head", "render_response", "route"]

_log = logging.getLogger("flyq.server.metrics")
# A request head (request line and headers) longer than this is not a scrape: the connection closes.
MAX_HEAD_BYTES = 8192
# A client that has not sent a whole request head in this time is disconnected.
READ_TIMEOUT_SECONDS = 10.0
_PATHS = frozenset({"/", "/metrics"})
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error"}


def parse_request_head(head: bytes) -> tuple[str, str]:
    """(method, path without the query) of an HTTP/1.x request head; `ProtocolError` if its
    request line is not `METHOD TARGET HTTP/1.x` in ASCII."""
    line = head.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1.") or not parts[0] or not parts[1]:
        raise ProtocolError(f"expected 'METHOD TARGET HTTP/1.x', got {line[:80]!r}",
                            field="HTTP request line", position=0)
    try:
        method, target = parts[0].decode("ascii"), parts[1].decode("ascii")
    except UnicodeDecodeError as exc:
        raise ProtocolError("non-ASCII method or target", field="HTTP request line",
                            position=exc.start) from exc
    return method, target.split("?", 1)[0]


def route(method: str, path: str) -> int:
    """The status of a request: 200 for GET or HEAD of /metrics or /, 404 for any other path,
    405 for another method on those two."""
    if path not in _PATHS:
        return 404
    if method not in ("GET", "HEAD"):
        return 405
    return 200


def render_response(status: int, body: bytes, content_type: str, *,
                    head_only: bool = False) -> bytes:
    """A whole HTTP/1.1 response closing the connection (HEAD: the headers only)."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
             f"Content-Type: {content_type}",
             f"Content-Length: {len(body)}",
             "Connection: close"]
    if status == 405:
        lines.append("Allow: GET, HEAD")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    return head if head_only else head + body


class MetricsEndpoint:
    """The HTTP endpoint of one `BrokerMetrics` on `host`:`port` (0: a free port)."""

    def __init__(self, metrics: BrokerMetrics, host: str, port: int) -> None:
        self.metrics = metrics
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._scrapes: set[asyncio.Task[Any]] = set()  # connections being answered
        self._stopping = False

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) actually bound."""
        assert self._server is not None
        sockname = self._server.sockets[0].getsockname()
        return str(sockname[0]), int(sockname[1])

    async def start(self) -> None:
        """Bind and start answering; `InvalidArgument` naming --metrics if the address cannot
        be bound."""
        try:
            self._server = await asyncio.start_server(self._serve, self._host, self._port,
                                                      limit=MAX_HEAD_BYTES, reuse_address=True)
        except OSError as exc:
            raise InvalidArgument("--metrics", f"{self._host}:{self._port}",
                                  f"an address this host can listen on "
                                  f"({exc.strerror or exc})") from exc

    async def stop(self) -> None:
        """Stop listening; scrapes still being answered are cancelled, their connections closed
        (so none reads the Broker after this returns)."""
        if self._server is None:
            return
        self._stopping = True
        self._server.close()
        scrapes = list(self._scrapes)
        for task in scrapes:
            task.cancel()
        await asyncio.gather(*scrapes, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # start_server runs each connection in its own task
        self._scrapes.add(task)
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_SECONDS)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                    ConnectionError):
                return  # gone, too slow, or not a scrape: nothing to answer
            writer.write(await self._answer(head))
            await writer.drain()
        except ConnectionError:
            pass
        except asyncio.CancelledError:
            # Cancelled by `stop`: end quietly (asyncio's stream callback would log a cancelled
            # connection task as an error). Any other cancellation goes on.
            if not self._stopping:
                raise
        finally:
            self._scrapes.discard(task)
            writer.close()

    async def _answer(self, head: bytes) -> bytes:
        try:
            method, path = parse_request_head(head)
        except ProtocolError as exc:
            return render_response(400, f"{exc}\n".encode(), "text/plain; charset=utf-8")
        status = route(method, path)
        if status != 200:
            return render_response(status, f"{_REASONS[status]}: {method} {path}\n".encode(),
                                   "text/plain; charset=utf-8", head_only=method == "HEAD")
        try:
            await self.metrics.refresh()
            body = generate_latest(self.metrics.registry)
        except Exception as exc:  # noqa: BLE001 - a failed scrape must not end the endpoint
            _log.error("metrics scrape failed", exc_info=exc)
            return render_response(500, f"scrape failed: {type(exc).__name__}: {exc}\n".encode(),
                                   "text/plain; charset=utf-8")
        return render_response(200, body, CONTENT_TYPE_LATEST, head_only=method == "HEAD")
