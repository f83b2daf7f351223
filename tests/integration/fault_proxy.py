"""A fault-injecting TCP proxy between Kafka clients and a broker, for integration tests.

An asyncio relay with its own event loop in one background thread, so that synchronous client
tests can drive it. It listens on 127.0.0.1, relays each connection to an upstream address asked
per connection (the broker may restart elsewhere), and reads only the frame size and the request
header prefix (api key, api version, correlation id) of what passes. Faults, each armed for the
`nth` (1-based) next request of one api:

- `drop_answer(api_key, nth)`: forward the request, then cut the client's connection instead of
  relaying its answer (the broker acted; the client never heard);
- `cut_frame(api_key, nth)`: send only the first half of the request frame to the broker, then
  close both sides (the broker sees a truncated frame and then end of stream);
- `delay(api_key, seconds)`: relay answers (of one api, or of all with `api_key=None`) `seconds`
  after the broker sent them, in order.

Counters: `requests` (api key -> requests relayed whole), `dropped` (correlation ids whose answers
were cut), `cut` (correlation ids of truncated requests). Clients must be told the proxy's address
as the broker's (`flyq broker --advertised`), or they reconnect to the broker directly after
their first Metadata. Every wait is bounded; `close()` (or leaving the `with` block) stops it all.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
import time
from collections.abc import Callable
from types import TracebackType

__all__ = ["FaultProxy"]

_SIZE = struct.Struct(">i")
_REQUEST_PREFIX = struct.Struct(">hhi")  # api key, api version, correlation id
_CORRELATION = struct.Struct(">i")
MAX_FRAME_BYTES = 100 * 1024 * 1024
CONNECT_TIMEOUT = 5.0
CLOSE_TIMEOUT = 5.0


class FaultProxyError(Exception):
    """The proxy could not start or stop within its bounded waits."""


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """One size-prefixed Kafka frame (prefix included), or None at a clean end of stream."""
    try:
        head = await reader.readexactly(_SIZE.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ConnectionError("stream ended inside a frame's size") from exc
        return None
    (size,) = _SIZE.unpack(head)
    if not 0 <= size <= MAX_FRAME_BYTES:
        raise ConnectionError(f"frame size {size} out of range")
    try:
        return head + await reader.readexactly(size)
    except asyncio.IncompleteReadError as exc:
        raise ConnectionError(f"stream ended inside a {size}-byte frame") from exc


class _Pending:
    """What the server-to-client side must do with one answer."""

    __slots__ = ("api_key", "drop")

    def __init__(self, api_key: int, drop: bool) -> None:
        self.api_key = api_key
        self.drop = drop


class FaultProxy:
    """Listens on a free 127.0.0.1 port and relays each connection to `upstream()`."""

    def __init__(self, upstream: Callable[[], tuple[str, int]]) -> None:
        self._upstream = upstream
        self._lock = threading.Lock()  # guards the fault tables and counters below
        self._drops: dict[int, int] = {}  # api key -> requests of it still to pass, this included
        self._cuts: dict[int, int] = {}
        self._delays: dict[int | None, float] = {}  # None: every api
        self._requests: dict[int, int] = {}
        self._dropped: list[int] = []
        self._cut: list[int] = []
        self._connections = 0
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy",
                                        daemon=True)
        self._thread.start()
        try:
            self._server = self._call(asyncio.start_server(self._relay, "127.0.0.1", 0))
        except BaseException:
            self._stop_loop()
            raise
        self.port: int = self._server.sockets[0].getsockname()[1]

    # --- the test's side ------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """HOST:PORT of the proxy."""
        return f"127.0.0.1:{self.port}"

    def drop_answer(self, api_key: int, nth: int) -> None:
        """Cut the client's connection instead of relaying the answer to the `nth` (1-based) next
        request of `api_key`; that request itself reaches the broker."""
        with self._lock:
            self._drops[api_key] = _positive(nth)

    def cut_frame(self, api_key: int, nth: int) -> None:
        """Send only the first half of the `nth` (1-based) next request frame of `api_key` to the
        broker, then close both sides of that connection."""
        with self._lock:
            self._cuts[api_key] = _positive(nth)

    def delay(self, api_key: int | None, seconds: float) -> None:
        """Relay answers of `api_key` (every api if None) `seconds` after the broker sent them;
        0 removes the delay."""
        if seconds < 0:
            raise ValueError(f"a delay cannot be negative: {seconds}")
        with self._lock:
            if seconds == 0:
                self._delays.pop(api_key, None)
            else:
                self._delays[api_key] = seconds

    @property
    def requests(self) -> dict[int, int]:
        """api key -> requests relayed whole to the broker (a copy)."""
        with self._lock:
            return dict(self._requests)

    @property
    def dropped(self) -> list[int]:
        """Correlation ids whose answers were cut, in order (a copy)."""
        with self._lock:
            return list(self._dropped)

    @property
    def cut(self) -> list[int]:
        """Correlation ids of the requests sent half (a copy)."""
        with self._lock:
            return list(self._cut)

    @property
    def connections(self) -> int:
        """Client connections accepted so far."""
        with self._lock:
            return self._connections

    def wait_for(self, condition: Callable[[FaultProxy], bool], timeout: float) -> bool:
        """Poll `condition(self)` until it holds or `timeout` s pass; whether it held."""
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        """Stop accepting, cut every relayed connection, stop the loop's thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self._shutdown())
        finally:
            self._stop_loop()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # --- the loop's side ------------------------------------------------------------------------

    def _call(self, coroutine: object) -> object:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)  # type: ignore[arg-type]
        try:
            return future.result(CLOSE_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise FaultProxyError(f"the proxy's loop did not answer within {CLOSE_TIMEOUT} s") from None

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CLOSE_TIMEOUT)
        if self._thread.is_alive():
            raise FaultProxyError(f"the proxy's thread did not end within {CLOSE_TIMEOUT} s")
        self._loop.close()

    async def _shutdown(self) -> None:
        self._server.close()
        # Every task on this private loop but this one: the relays, including any accepted just
        # now whose first step has not run yet, so that none is left pending.
        for _ in range(3):
            tasks = asyncio.all_tasks() - {asyncio.current_task()}
            if not tasks:
                break
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()

    def _take(self, table: dict[int, int], api_key: int) -> bool:
        """Count one request against an armed fault; whether it is the one (lock held)."""
        left = table.get(api_key)
        if left is None:
            return False
        if left == 1:
            del table[api_key]
            return True
        table[api_key] = left - 1
        return False

    async def _relay(self, client_reader: asyncio.StreamReader,
                     client_writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self._connections += 1
        server_writer: asyncio.StreamWriter | None = None
        try:
            host, port = self._upstream()
            server_reader, server_writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), CONNECT_TIMEOUT)
            pending: dict[int, _Pending] = {}
            sides = [asyncio.ensure_future(self._forward(client_reader, server_writer, pending)),
                     asyncio.ensure_future(self._answer(server_reader, client_writer, pending))]
            try:
                await asyncio.wait(sides, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for side in sides:
                    side.cancel()
                await asyncio.gather(*sides, return_exceptions=True)
        except (OSError, TimeoutError):
            pass
        except asyncio.CancelledError:
            # close(): end quietly (asyncio's start_server callback would log a cancelled task).
            pass
        finally:
            for writer in (client_writer, server_writer):
                if writer is not None:
                    writer.close()
            for writer in (client_writer, server_writer):
                if writer is not None:
                    with contextlib.suppress(OSError, asyncio.CancelledError, TimeoutError):
                        await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT)

    async def _forward(self, client: asyncio.StreamReader, server: asyncio.StreamWriter,
                       pending: dict[int, _Pending]) -> None:
        """Client to broker: count requests, arm drops, cut the chosen frame in half."""
        with contextlib.suppress(OSError):
            while (frame := await read_frame(client)) is not None:
                if len(frame) < _SIZE.size + _REQUEST_PREFIX.size:
                    raise ConnectionError("a request shorter than its header")
                api_key, _, correlation = _REQUEST_PREFIX.unpack_from(frame, _SIZE.size)
                with self._lock:
                    if self._take(self._cuts, api_key):
                        self._cut.append(correlation)
                        cut = True
                    else:
                        cut = False
                        self._requests[api_key] = self._requests.get(api_key, 0) + 1
                        drop = self._take(self._drops, api_key)
                if cut:
                    server.write(frame[: len(frame) // 2])
                    await server.drain()
                    return  # the relay then closes both sides
                pending[correlation] = _Pending(api_key, drop)
                server.write(frame)
                await server.drain()

    async def _answer(self, server: asyncio.StreamReader, client: asyncio.StreamWriter,
                      pending: dict[int, _Pending]) -> None:
        """Broker to client: delay answers, or cut the connection instead of relaying one."""
        queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()
        deliver = asyncio.ensure_future(self._deliver(queue, client))
        try:
            with contextlib.suppress(OSError):
                while (frame := await read_frame(server)) is not None:
                    (correlation,) = _CORRELATION.unpack_from(frame, _SIZE.size)
                    # Acks=0 Produce has no answer, so an entry may never be popped; harmless.
                    what = pending.pop(correlation, None)
                    if what is not None and what.drop:
                        with self._lock:
                            self._dropped.append(correlation)
                        break  # the answer is lost: the relay closes both sides
                    with self._lock:
                        delay = self._delays.get(None, 0.0)
                        if what is not None:
                            delay = max(delay, self._delays.get(what.api_key, 0.0))
                    # Due times run from arrival, so pipelined answers are held once each, not
                    # one after the other, and stay in order.
                    queue.put_nowait((time.monotonic() + delay, frame))
            queue.put_nowait((0.0, None))
            await deliver  # answers that came before the end still go out first
        finally:
            deliver.cancel()
            await asyncio.gather(deliver, return_exceptions=True)

    async def _deliver(self, queue: asyncio.Queue[tuple[float, bytes | None]],
                       client: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while True:
                due, frame = await queue.get()
                if frame is None:
                    return
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                client.write(frame)
                await client.drain()


def _positive(nth: int) -> int:
    if nth < 1:
        raise ValueError(f"nth counts from 1, not {nth}")
    return nth
