"""flyq.client.BrokerConnection's failure modes over real sockets (spec/client.md CLIENT-2,
CLIENT-3): a peer that never answers, one that answers garbage, one that hangs up, closing; and
version negotiation with an older broker (CLIENT-1) built from ServerConnection."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable

import pytest

from flyq.client import BrokerConnection
from flyq.errors import (
    ConnectionBroken,
    ConnectionClosed,
    ProtocolError,
    RequestTimedOut,
    UnsupportedVersion,
)
from flyq.protocol import ServerConnection, api_versions_body
from tests.integration.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def with_peer(handler: Handler, scenario: Callable[[str], Awaitable[None]]) -> None:
    """Run `scenario(bootstrap)` against a local server whose connections `handler` serves."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await scenario(f"127.0.0.1:{port}")
    finally:
        server.close()
        await server.wait_closed()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # reads until the client hangs up, never answers
    writer.close()


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(4)
    writer.write(struct.pack(">i", 6) + b"\x00\x00\x00\x00\xff\xff")
    await writer.drain()
    await reader.read()
    writer.close()


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(4)
    writer.close()


def test_a_silent_broker_times_out() -> None:
    """CLIENT-3: no ApiVersions answer within the timeout is RequestTimedOut."""
    async def scenario(bootstrap: str) -> None:
        with pytest.raises(RequestTimedOut, match="ApiVersions"):
            await BrokerConnection.open(bootstrap, timeout=0.3)
    asyncio.run(with_peer(silent, scenario))


def test_garbage_and_hang_ups_break_the_connection() -> None:
    """CLIENT-2: a malformed answer is ConnectionBroken caused by a ProtocolError; a peer closing
    the connection is ConnectionBroken too."""
    async def malformed(bootstrap: str) -> None:
        with pytest.raises(ConnectionBroken) as broken:
            await BrokerConnection.open(bootstrap, timeout=5)
        assert isinstance(broken.value.__cause__, ProtocolError)

    async def closed(bootstrap: str) -> None:
        with pytest.raises(ConnectionBroken, match="closed the connection"):
            await BrokerConnection.open(bootstrap, timeout=5)

    asyncio.run(with_peer(garbage, malformed))
    asyncio.run(with_peer(hang_up, closed))


def test_requests_after_close_are_closed_not_broken(broker: BrokerProcess) -> None:
    """CLIENT-2: after close() a request is ConnectionClosed (closed by its owner), and the
    negotiated versions are the broker's advertised ranges."""
    async def scenario() -> None:
        connection = await BrokerConnection.open(broker.bootstrap)
        assert connection.versions[42] == (0, 2) and connection.version_for(47) == 0
        await connection.close()
        with pytest.raises(ConnectionClosed):
            await connection.request(16, {})
    asyncio.run(scenario())


def test_versions_are_negotiated_with_an_older_broker() -> None:
    """CLIENT-1: a broker refusing ApiVersions v3 is asked again at v0; requests then go at the
    highest common version, and an API it does not serve is UnsupportedVersion before sending."""
    supported = {18: (0, 2), 16: (0, 3)}
    seen: list[tuple[int, int]] = []

    async def old_broker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = ServerConnection(supported)
        while data := await reader.read(65536):
            connection.receive_data(data)
            while (request := connection.next_request()) is not None:
                seen.append((request.header.api_key, request.header.api_version))
                if request.unsupported is not None:
                    parts = connection.api_versions_fallback(request)
                elif request.header.api_key == 18:
                    parts = connection.send_response(request, api_versions_body(supported))
                else:
                    parts = connection.send_response(request, {"error_code": 0, "groups": []})
                writer.writelines(parts)
        writer.close()

    async def scenario(bootstrap: str) -> None:
        async with await BrokerConnection.open(bootstrap, timeout=5) as connection:
            assert connection.version_for(16) == 3
            with pytest.raises(UnsupportedVersion):
                connection.version_for(42)
            response = await connection.request(16, {})
            assert (response.version, response.body["groups"]) == (3, [])

    asyncio.run(with_peer(old_broker, scenario))
    assert seen == [(18, 3), (18, 0), (16, 3)]
