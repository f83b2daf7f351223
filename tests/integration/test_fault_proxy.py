"""The fault proxy itself, against a tiny asyncio Kafka-frame server: it relays frames both ways
and each fault mode (drop an answer, cut a request frame in half, delay answers) does exactly what
it says, to the request it was armed for and no other."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from tests.integration.fault_proxy import FaultProxy

pytestmark = pytest.mark.integration

HEARTBEAT = 12
METADATA = 3
OFFSET_COMMIT = 8
TIMEOUT = 5.0


class FrameServer:
    """Answers each request frame with `correlation id + api key + the request body`, and keeps,
    per connection, every byte it received and whether the stream ended."""

    def __init__(self) -> None:
        self.received: list[bytearray] = []
        self.ended: list[bool] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop).result(TIMEOUT)
        self.port: int = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = len(self.received)
        self.received.append(bytearray())
        self.ended.append(False)
        pending = bytearray()
        try:
            while data := await reader.read(65536):
                self.received[index] += data
                pending += data
                while len(pending) >= 4 and len(pending) >= 4 + (
                        size := struct.unpack_from(">i", pending)[0]):
                    frame = bytes(pending[4:4 + size])
                    del pending[:4 + size]
                    api_key, _, correlation = struct.unpack_from(">hhi", frame)
                    body = struct.pack(">ih", correlation, api_key) + frame[8:]
                    writer.write(struct.pack(">i", len(body)) + body)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass  # cancelled by close(): end quietly (start_server's callback would log it)
        finally:
            self.ended[index] = True
            writer.close()

    async def _shutdown(self) -> None:
        self._server.close()
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(TIMEOUT)
        self._loop.close()


def request(api_key: int, correlation: int, body: bytes = b"payload") -> bytes:
    """A request frame: size, api key, version 0, correlation id, then `body`."""
    rest = struct.pack(">hhi", api_key, 0, correlation) + body
    return struct.pack(">i", len(rest)) + rest


def read_answer(sock: socket.socket) -> tuple[int, int, bytes] | None:
    """(correlation id, api key, body) of the next answer, or None at end of stream."""
    head = recv_exactly(sock, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">i", head)
    frame = recv_exactly(sock, size)
    assert frame is not None, "the stream ended inside an answer"
    correlation, api_key = struct.unpack_from(">ih", frame)
    return correlation, api_key, frame[6:]


def recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            assert not data, "the stream ended inside a frame"
            return None
        data += chunk
    return data


@pytest.fixture
def upstream() -> Iterator[FrameServer]:
    server = FrameServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def proxy(upstream: FrameServer) -> Iterator[FaultProxy]:
    with FaultProxy(lambda: ("127.0.0.1", upstream.port)) as relay:
        yield relay


def connect(proxy: FaultProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT)


def test_relays_frames_both_ways_and_counts_requests(proxy: FaultProxy,
                                                     upstream: FrameServer) -> None:
    """Pipelined requests reach the broker whole and in order, every answer comes back to its
    request, and `requests` counts them per api key."""
    with connect(proxy) as sock:
        frames = [request(METADATA, 1), request(HEARTBEAT, 2, b"x" * 70_000),
                  request(HEARTBEAT, 3, b"")]
        sock.sendall(b"".join(frames))
        assert [read_answer(sock) for _ in frames] == [
            (1, METADATA, b"payload"), (2, HEARTBEAT, b"x" * 70_000), (3, HEARTBEAT, b"")]
    assert bytes(upstream.received[0]) == b"".join(frames)
    assert proxy.requests == {METADATA: 1, HEARTBEAT: 2}
    assert proxy.dropped == [] and proxy.cut == []


def test_drop_answer_forwards_the_nth_request_and_cuts_instead_of_answering(
        proxy: FaultProxy, upstream: FrameServer) -> None:
    """drop_answer(12, 2): the first Heartbeat is answered, the second reaches the broker but the
    client's connection ends instead of its answer; other apis don't count; the next connection
    is relayed normally (the fault fires once)."""
    proxy.drop_answer(HEARTBEAT, 2)
    with connect(proxy) as sock:
        sock.sendall(request(HEARTBEAT, 10))
        assert read_answer(sock) == (10, HEARTBEAT, b"payload")
        sock.sendall(request(METADATA, 11))
        assert read_answer(sock) == (11, METADATA, b"payload")
        sock.sendall(request(HEARTBEAT, 12))
        assert read_answer(sock) is None
    assert bytes(upstream.received[0]).endswith(request(HEARTBEAT, 12))
    assert proxy.dropped == [12]
    assert proxy.requests == {HEARTBEAT: 2, METADATA: 1}
    with connect(proxy) as sock:
        sock.sendall(request(HEARTBEAT, 13))
        assert read_answer(sock) == (13, HEARTBEAT, b"payload")
    assert proxy.dropped == [12]


def test_cut_frame_sends_half_a_request_then_closes_both_sides(
        proxy: FaultProxy, upstream: FrameServer) -> None:
    """cut_frame(8, 1): the broker gets exactly the first half of that OffsetCommit frame and then
    end of stream; the client gets end of stream, no answer; the request is not counted."""
    proxy.cut_frame(OFFSET_COMMIT, 1)
    commit = request(OFFSET_COMMIT, 21, bytes(range(200)))
    with connect(proxy) as sock:
        sock.sendall(request(METADATA, 20))
        assert read_answer(sock) == (20, METADATA, b"payload")
        sock.sendall(commit)
        assert read_answer(sock) is None
    assert proxy.wait_for(lambda _: upstream.ended[0], TIMEOUT), "the broker side stayed open"
    assert bytes(upstream.received[0]) == request(METADATA, 20) + commit[: len(commit) // 2]
    assert proxy.cut == [21]
    assert proxy.requests == {METADATA: 1}
    assert proxy.dropped == []


def test_delay_holds_answers_of_one_api_or_of_all(proxy: FaultProxy) -> None:
    """delay(12, s): a Heartbeat answer comes no sooner than s after its request while a Metadata
    answer on another connection overtakes it; delay(None, s) holds every api; 0 lifts it."""
    seconds = 1.0
    proxy.delay(HEARTBEAT, seconds)
    with connect(proxy) as slow, connect(proxy) as fast:
        started = time.monotonic()
        slow.sendall(request(HEARTBEAT, 30))
        fast.sendall(request(METADATA, 31))
        assert read_answer(fast) == (31, METADATA, b"payload")
        slow.setblocking(False)
        with pytest.raises(BlockingIOError):
            slow.recv(1)  # the Heartbeat answer is still held
        slow.setblocking(True)
        slow.settimeout(TIMEOUT)
        assert read_answer(slow) == (30, HEARTBEAT, b"payload")
        assert time.monotonic() - started >= seconds
        proxy.delay(None, seconds)
        started = time.monotonic()
        fast.sendall(request(METADATA, 32) + request(METADATA, 33))
        assert read_answer(fast) == (32, METADATA, b"payload")
        assert read_answer(fast) == (33, METADATA, b"payload")
        assert seconds <= time.monotonic() - started < 2 * seconds, "held twice over"
        proxy.delay(None, 0)
        proxy.delay(HEARTBEAT, 0)
        started = time.monotonic()
        slow.sendall(request(HEARTBEAT, 34))
        assert read_answer(slow) == (34, HEARTBEAT, b"payload")
    with pytest.raises(ValueError, match="negative"):
        proxy.delay(None, -1)


def test_close_cuts_connections_and_stops_listening(upstream: FrameServer) -> None:
    """close() ends relayed connections and the listener, and may be called twice."""
    proxy = FaultProxy(lambda: ("127.0.0.1", upstream.port))
    with connect(proxy) as sock:
        sock.sendall(request(METADATA, 40))
        assert read_answer(sock) == (40, METADATA, b"payload")
        proxy.close()
        assert read_answer(sock) is None
    proxy.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT).close()
    assert proxy.connections == 1
