"""A fault-injecting TCP proxy between Kafka clients and a broker, for integration tests.

It relays bytes both ways on 127.0.0.1 and reads the Kafka frames as they pass (size, api key,
correlation id; nothing else), so a test can make it lose exactly the answer it wants lost:
`drop_answer(api_key, nth)` forwards the nth request of that api to the broker, then cuts the
client's connection instead of relaying the answer (the broker acted; the client never heard).
Clients must be told the proxy's address as the broker's (`flyq broker --advertised`), or they
reconnect to the broker directly after their first Metadata. Threads, bounded waits, and
everything closed by `close()`.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable

__all__ = ["FaultProxy"]

_SIZE = struct.Struct(">i")
_REQUEST_PREFIX = struct.Struct(">hhi")  # api key, api version, correlation id


class _Frames:
    """Splits a byte stream into Kafka frames (size-prefixed)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= _SIZE.size:
            size = _SIZE.unpack_from(self._buffer)[0]
            if len(self._buffer) < _SIZE.size + size:
                break
            frames.append(bytes(self._buffer[: _SIZE.size + size]))
            del self._buffer[: _SIZE.size + size]
        return frames


class FaultProxy:
    """Listens on a free 127.0.0.1 port and relays each connection to `upstream`."""

    def __init__(self, upstream: Callable[[], tuple[str, int]]) -> None:
        self._upstream = upstream  # asked per connection: the broker may restart elsewhere
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._drops: dict[int, int] = {}  # api key -> requests of it still to pass first
        self.dropped: list[int] = []  # correlation ids whose answers were cut
        self.requests: dict[int, int] = {}  # api key -> requests relayed
        self._sockets: list[socket.socket] = []
        self._closed = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    @property
    def address(self) -> str:
        """HOST:PORT of the proxy."""
        return f"127.0.0.1:{self.port}"

    def drop_answer(self, api_key: int, nth: int) -> None:
        """Cut the connection instead of relaying the answer to the `nth` (1-based) next request
        of `api_key`."""
        with self._lock:
            self._drops[api_key] = nth

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self._upstream(), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            pending: dict[int, bool] = {}  # correlation id -> drop its answer
            with self._lock:
                self._sockets += [client, server]
            for target, args in ((self._client_to_server, (client, server, pending)),
                                 (self._server_to_client, (server, client, pending))):
                thread = threading.Thread(target=target, args=args, daemon=True)
                thread.start()
                self._threads.append(thread)

    def _client_to_server(self, client: socket.socket, server: socket.socket,
                          pending: dict[int, bool]) -> None:
        frames = _Frames()
        try:
            while data := client.recv(65536):
                for frame in frames.feed(data):
                    api_key, _, correlation = _REQUEST_PREFIX.unpack_from(frame, _SIZE.size)
                    with self._lock:
                        self.requests[api_key] = self.requests.get(api_key, 0) + 1
                        left = self._drops.get(api_key)
                        drop = left == 1
                        if left is not None:
                            if drop:
                                del self._drops[api_key]
                            else:
                                self._drops[api_key] = left - 1
                    pending[correlation] = drop
                    server.sendall(frame)
        except OSError:
            pass
        finally:
            _shut(client, server)

    def _server_to_client(self, server: socket.socket, client: socket.socket,
                          pending: dict[int, bool]) -> None:
        frames = _Frames()
        try:
            while data := server.recv(65536):
                for frame in frames.feed(data):
                    correlation = _SIZE.unpack_from(frame, _SIZE.size)[0]
                    if pending.pop(correlation, False):
                        with self._lock:
                            self.dropped.append(correlation)
                        return  # the answer is lost: both sides are cut below
                    client.sendall(frame)
        except OSError:
            pass
        finally:
            _shut(client, server)

    def close(self) -> None:
        """Stop accepting and cut every relayed connection."""
        self._closed.set()
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for each in sockets:
            _shut(each)
        for thread in self._threads:
            thread.join(timeout=5)


def _shut(*sockets: socket.socket) -> None:
    for each in sockets:
        with contextlib.suppress(OSError):
            each.shutdown(socket.SHUT_RDWR)
        each.close()
