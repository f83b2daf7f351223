"""The server's limits on real sockets, in one process (spec/protocol.md SRV-2, SRV-4, SRV-5):
back-pressure, max.connections, idle connections, a clean stop with requests in flight."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from flyq.broker import AsyncBroker
from flyq.server import BrokerServer, Listener, ServerSettings

pytestmark = pytest.mark.integration

API_VERSIONS_V0 = struct.pack(">ihhih", 10, 18, 0, 1, 0)  # size, key, version, correlation, ""

ANY_PORT = (Listener("PLAINTEXT", "127.0.0.1", 0),)


def fetch_request(correlation: int, topic: bytes, max_wait_ms: int) -> bytes:
    """A Fetch v4 request for partition 0 at offset 0, built by hand (not with flyq.protocol)."""
    body = struct.pack(">iiiib", -1, max_wait_ms, 1, 1 << 20, 0)  # replica, wait, min, max, iso
    body += struct.pack(">i", 1) + struct.pack(">h", len(topic)) + topic
    body += struct.pack(">i", 1) + struct.pack(">iqi", 0, 0, 1 << 20)
    header = struct.pack(">hhih", 1, 4, correlation, 0)
    return struct.pack(">i", len(header) + len(body)) + header + body


def serve(tmp_path: Path, settings: ServerSettings,
          scenario: Callable[[BrokerServer], Awaitable[None]]) -> None:
    """Run `scenario` against a started server on a free port, then stop it."""
    async def main() -> None:
        broker = await AsyncBroker.open(str(tmp_path / "data"), create=True)
        await broker.create_topic("t", 1)
        server = BrokerServer(broker, settings, "cluster-x")
        await server.start()
        try:
            await scenario(server)
        finally:
            await server.stop()
    asyncio.run(main())


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(correlation id, rest) of one response frame."""
    size = struct.unpack(">i", await reader.readexactly(4))[0]
    payload = await reader.readexactly(size)
    return struct.unpack(">i", payload[:4])[0], payload[4:]


def test_back_pressure_pauses_reading(tmp_path: Path) -> None:
    """SRV-2: past max_unanswered_bytes of waiting requests, the connection is not read; once
    they are answered it is read again and the later request is answered."""
    async def scenario(server: BrokerServer) -> None:
        reader, writer = await asyncio.open_connection(*server.address)
        for correlation in range(20):  # ~50 bytes each, each waiting up to 1.5 s
            writer.write(fetch_request(correlation, b"t", 1500))
        await writer.drain()
        await asyncio.sleep(0.3)
        (connection,) = server._connections
        assert connection._reading_paused
        writer.write(API_VERSIONS_V0[:4] + struct.pack(">hhih", 18, 0, 99, 0))
        await writer.drain()
        seen = [(await asyncio.wait_for(read_frame(reader), 10))[0] for _ in range(21)]
        assert seen == [*range(20), 99]
        writer.close()
        await writer.wait_closed()
    serve(tmp_path, ServerSettings(listeners=ANY_PORT, max_unanswered_bytes=200), scenario)


def test_too_many_requests_in_flight_pause_reading(tmp_path: Path) -> None:
    """SRV-2: at max_in_flight_requests unanswered requests the connection is not read, however
    small the requests; answering them resumes it."""
    async def scenario(server: BrokerServer) -> None:
        reader, writer = await asyncio.open_connection(*server.address)
        for correlation in range(5):
            writer.write(fetch_request(correlation, b"t", 1000))
        await writer.drain()
        await asyncio.sleep(0.3)
        (connection,) = server._connections
        assert connection._reading_paused
        seen = [(await asyncio.wait_for(read_frame(reader), 10))[0] for _ in range(5)]
        assert seen == list(range(5))
        assert not connection._reading_paused
        writer.close()
        await writer.wait_closed()
    serve(tmp_path, ServerSettings(listeners=ANY_PORT, max_in_flight_requests=5), scenario)


def test_max_connections_and_idle_close(tmp_path: Path) -> None:
    """SRV-4: one connection over max.connections is closed at once; an idle one is closed
    after connections.max.idle.ms; the others are served."""
    async def scenario(server: BrokerServer) -> None:
        first = await asyncio.open_connection(*server.address)
        second = await asyncio.open_connection(*server.address)
        await asyncio.sleep(0.1)
        third_reader, third_writer = await asyncio.open_connection(*server.address)
        assert await asyncio.wait_for(third_reader.read(), 5) == b""
        reader, writer = second
        writer.write(API_VERSIONS_V0)
        assert (await asyncio.wait_for(read_frame(reader), 5))[0] == 1
        assert await asyncio.wait_for(first[0].read(), 5) == b""  # idle: closed
        for _, each in (first, second, (third_reader, third_writer)):
            each.close()
            await each.wait_closed()
    serve(tmp_path, ServerSettings(listeners=ANY_PORT, max_connections=2, connections_max_idle_ms=400),
          scenario)


def test_stop_answers_requests_in_flight(tmp_path: Path) -> None:
    """SRV-5: a long-poll fetch still waiting (for up to 10 s) when the server stops is answered
    at once, before the close, rather than at the end of its wait."""
    async def scenario(server: BrokerServer) -> None:
        reader, writer = await asyncio.open_connection(*server.address)
        writer.write(fetch_request(7, b"t", 10_000))
        await writer.drain()
        await asyncio.sleep(0.1)
        stopping = asyncio.ensure_future(server.stop())
        correlation, _ = await asyncio.wait_for(read_frame(reader), 5)
        assert correlation == 7
        assert await asyncio.wait_for(reader.read(), 5) == b""
        await stopping
        writer.close()
        await writer.wait_closed()
    serve(tmp_path, ServerSettings(listeners=ANY_PORT), scenario)
