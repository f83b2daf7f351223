"""TLS between a socket and a connection, on `ssl.MemoryBIO` (TLS-1, TLS-5).

The broker runs TLS itself rather than through the event loop's TLS transport so that it sees
every handshake: a refused certificate is logged with OpenSSL's reason and counted, the alert
reaches the client, and no byte the client sends before the handshake starts can be lost (an
event loop may start reading a socket before a protocol could hand it to `start_tls`). The
connection above sees an ordinary transport (`TlsTransport`) and the plaintext.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable, Iterable
from typing import Any, cast

__all__ = ["TlsLayer", "TlsTransport"]

_log = logging.getLogger("flyq.server")
_READ_CHUNK = 256 * 1024


class TlsTransport(asyncio.Transport):
    """What the connection above writes to: plaintext in, TLS records to the socket."""

    def __init__(self, layer: TlsLayer) -> None:
        super().__init__()
        self._layer = layer

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._layer.send(data)

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        self._layer.send(b"".join(list_of_data))

    def close(self) -> None:
        self._layer.close()

    def abort(self) -> None:
        self._layer.raw.abort()

    def is_closing(self) -> bool:
        return self._layer.raw.is_closing()

    def pause_reading(self) -> None:
        self._layer.raw.pause_reading()

    def resume_reading(self) -> None:
        self._layer.raw.resume_reading()

    def is_reading(self) -> bool:
        return self._layer.raw.is_reading()

    def get_write_buffer_size(self) -> int:
        return self._layer.raw.get_write_buffer_size()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peercert":
            return self._layer.tls.getpeercert()
        if name == "ssl_object":
            return self._layer.tls
        return self._layer.raw.get_extra_info(name, default)


class TlsLayer(asyncio.Protocol):
    """The socket's protocol on a TLS listener: handshake, then decrypt into `inner`.

    `inner_factory` makes the connection once the handshake is done; `on_failure(peer, reason)`
    is told of a failed handshake (the layer then closes the socket after sending the alert).
    """

    def __init__(self, context: ssl.SSLContext, inner_factory: Callable[[], asyncio.Protocol],
                 on_failure: Callable[[str, str], None], handshake_seconds: float) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._inner_factory = inner_factory
        self._on_failure = on_failure
        self._handshake_seconds = handshake_seconds
        self._inner: asyncio.Protocol | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._raw: asyncio.Transport | None = None
        self._peer = "?"

    @property
    def raw(self) -> asyncio.Transport:
        """The socket's transport."""
        assert self._raw is not None
        return self._raw

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._raw = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self._peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._timer = asyncio.get_running_loop().call_later(self._handshake_seconds,
                                                            self._handshake_timed_out)

    def _handshake_timed_out(self) -> None:
        if self._inner is None and self._raw is not None:
            self._fail(f"no handshake within {self._handshake_seconds:g} s")

    def _fail(self, reason: str) -> None:
        self._on_failure(self._peer, reason)
        self._flush()  # the alert, if OpenSSL wrote one
        self.raw.close()

    def data_received(self, data: bytes) -> None:
        self._incoming.write(data)
        if self._inner is None:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                self._flush()
                return
            except ssl.SSLError as exc:
                self._fail(str(getattr(exc, "verify_message", None) or exc.reason or exc))
                return
            if self._timer is not None:
                self._timer.cancel()
            self._flush()
            self._inner = self._inner_factory()
            self._inner.connection_made(TlsTransport(self))
        self._read()

    def _read(self) -> None:
        chunks = []
        closed = False
        while True:
            try:
                chunk = self.tls.read(_READ_CHUNK)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLError as exc:
                _log.info("TLS error from %s: %s", self._peer, exc.reason or exc)
                self.raw.abort()
                return
            if not chunk:  # the peer's close_notify
                closed = True
                break
            chunks.append(chunk)
        self._flush()  # key updates, session tickets
        inner = self._inner
        if inner is None:
            return
        if chunks:
            inner.data_received(b"".join(chunks))
        if closed and not inner.eof_received():
            self.close()  # our close_notify in turn: a client's TLS shutdown waits for it

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt plaintext from the connection and write it to the socket."""
        if self.raw.is_closing():
            return
        self.tls.write(data)
        self._flush()

    def _flush(self) -> None:
        pending = self._outgoing.read()
        if pending and self._raw is not None and not self._raw.is_closing():
            self._raw.write(pending)

    def close(self) -> None:
        """Send close_notify, then close the socket once what was written is sent."""
        if self.raw.is_closing():
            return
        # SSLWantRead: the peer's close_notify is not awaited; the socket closes anyway.
        with contextlib.suppress(ssl.SSLError, ValueError):
            self.tls.unwrap()
        self._flush()
        self.raw.close()

    def eof_received(self) -> bool | None:
        if self._inner is not None:
            return self._inner.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._inner is not None:
            self._inner.connection_lost(exc)
        elif exc is not None:
            self._on_failure(self._peer, f"the connection broke during the handshake ({exc})")

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()
