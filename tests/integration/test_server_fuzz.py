"""Network fuzz of a live server (spec/protocol.md SRV-3, PROTO-11): whatever bytes a peer sends
(random, a real request mangled, truncated, or with flipped bits), it costs at most that peer's
connection; the server keeps answering others and the stored records stay as they were."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flyq.broker import AsyncBroker
from flyq.codec.record_batch import encode_batch
from flyq.records import Record
from flyq.server import BrokerServer, Listener, ServerSettings

pytestmark = pytest.mark.integration

# Hand-built requests (not from flyq.protocol) to mangle: ApiVersions v0, Metadata v1 for "t",
# Fetch v4 of t-0 from offset 0.
API_VERSIONS = struct.pack(">hhih", 18, 0, 1, 0)
METADATA = struct.pack(">hhih", 3, 1, 2, 0) + struct.pack(">ih", 1, 1) + b"t"
FETCH = (struct.pack(">hhih", 1, 4, 3, 0) + struct.pack(">iiiib", -1, 0, 1, 1 << 20, 0)
         + struct.pack(">ih", 1, 1) + b"t" + struct.pack(">iiqi", 1, 0, 0, 1 << 20))
REQUESTS = [API_VERSIONS, METADATA, FETCH]


def framed(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


class LiveServer:
    """A BrokerServer on its own event loop thread, with topic t holding three records."""

    def __init__(self, data_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stopped = asyncio.Event()
        self.address: tuple[str, int] = ("", 0)
        self.thread = threading.Thread(target=self.loop.run_until_complete,
                                       args=(self._serve(str(data_dir)),), daemon=True)
        self.thread.start()
        assert self.ready.wait(20)

    async def _serve(self, data_dir: str) -> None:
        self.stopped = asyncio.Event()
        broker = await AsyncBroker.open(data_dir, create=True)
        await broker.create_topic("t", 1)
        await broker.produce("t", 0, encode_batch(0, [Record(value=b"%d" % i, timestamp=1)
                                                      for i in range(3)]))
        self.broker = broker
        settings = ServerSettings(listeners=(Listener("PLAINTEXT", "127.0.0.1", 0),),
                                  socket_request_max_bytes=1 << 16)
        server = BrokerServer(broker, settings, "cluster-x")
        await server.start()
        self.address = server.address
        self.ready.set()
        await self.stopped.wait()
        await server.stop()

    def log_end_and_bytes(self) -> tuple[int, bytes]:
        async def read() -> tuple[int, bytes]:
            fetched = await self.broker.fetch("t", 0, 0, 1 << 20)
            return fetched.log_end_offset, bytes(fetched.records)
        return asyncio.run_coroutine_threadsafe(read(), self.loop).result(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.stopped.set)
        self.thread.join(20)
        self.loop.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("fuzz") / "data")
    try:
        yield server
    finally:
        server.stop()


def answered(address: tuple[str, int]) -> bool:
    """A fresh connection gets its ApiVersions answer."""
    with socket.create_connection(address, timeout=10) as connection:
        connection.sendall(framed(API_VERSIONS))
        size = struct.unpack(">i", connection.recv(4, socket.MSG_WAITALL))[0]
        payload = connection.recv(size, socket.MSG_WAITALL)
        return struct.unpack(">ih", payload[:6]) == (1, 0)


def mangled() -> st.SearchStrategy[bytes]:
    """Random bytes, and real requests truncated, extended or with bytes overwritten."""
    real = st.sampled_from(REQUESTS)
    cut = st.tuples(real, st.integers(0, 80)).map(lambda pair: framed(pair[0])[: pair[1]])
    grown = st.tuples(real, st.binary(max_size=40)).map(lambda pair: framed(pair[0] + pair[1]))
    flipped = st.tuples(real, st.integers(0, 200), st.integers(0, 255)).map(
        lambda triple: _overwrite(framed(triple[0]), triple[1], triple[2]))
    return st.one_of(st.binary(max_size=200), cut, grown, flipped)


def _overwrite(data: bytes, position: int, value: int) -> bytes:
    position %= len(data)
    return data[:position] + bytes([value]) + data[position + 1:]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=mangled())
def test_any_bytes_cost_only_their_connection(live: LiveServer, data: bytes) -> None:
    """SRV-3: after any bytes and a close, the server answers a new client, records unchanged."""
    before = live.log_end_and_bytes()
    with socket.create_connection(live.address, timeout=10) as connection:
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        connection.settimeout(5)
        try:
            while connection.recv(65536):
                pass
        except (TimeoutError, ConnectionResetError):
            pass
    assert answered(live.address)
    assert live.log_end_and_bytes() == before
