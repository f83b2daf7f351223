"""Malformed, truncated, stalled and pipelined traffic on raw sockets against a real `flyq broker`.

Frames are built here by hand with `struct` (flyq.protocol is not imported, so a bug shared by
FlyQ's encoder and decoder cannot hide). After each abuse the broker must still answer a fresh
ApiVersions request and a real client must read back the records produced before (SRV-3).
"""

from __future__ import annotations

import re
import signal
import socket
import struct
import time
from collections.abc import Iterator

import confluent_kafka
import pytest

from tests.integration._clients import make_consumer
from tests.integration.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

API_VERSIONS = 18
METADATA = 3
PRODUCE = 0
UNSUPPORTED_VERSION = 35
SEEDED = [(f"key-{i}".encode(), f"value-{i}".encode()) for i in range(5)]
CLOSE_TIMEOUT = 5.0

_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")


# --- hand-built frames ---------------------------------------------------------------------------


def string(text: str | None) -> bytes:
    """A Kafka (non-compact) nullable string: int16 length, UTF-8 bytes."""
    if text is None:
        return _INT16.pack(-1)
    data = text.encode()
    return _INT16.pack(len(data)) + data


def frame(api_key: int, version: int, correlation_id: int, body: bytes = b"",
          client_id: str | None = "raw-socket", flexible: bool = False) -> bytes:
    """Size-prefixed request with a v1 header (api key, version, correlation id, client id), or
    a v2 header (the same and an empty tagged-fields section) when `flexible`."""
    payload = (struct.pack(">hhi", api_key, version, correlation_id) + string(client_id)
               + (b"\x00" if flexible else b"") + body)
    return _INT32.pack(len(payload)) + payload


def varint(value: int) -> bytes:
    """Zig-zag varint, as in Kafka's record format."""
    value = (value << 1) ^ (value >> 63)
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the record batch checksum."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def record_batch(records: list[tuple[bytes, bytes]], timestamp: int) -> bytes:
    """A magic-2 record batch, uncompressed, no producer id; CRC over attributes..end."""
    body = bytearray()
    for delta, (key, value) in enumerate(records):
        record = (b"\x00" + varint(0) + varint(delta) + varint(len(key)) + key
                  + varint(len(value)) + value + varint(0))
        body += varint(len(record)) + record
    after_crc = struct.pack(">hiqqqhii", 0, len(records) - 1, timestamp, timestamp, -1, -1, -1,
                            len(records)) + bytes(body)
    after_length = struct.pack(">ibI", -1, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


def produce_frame(topic: str, records: list[tuple[bytes, bytes]], correlation_id: int,
                  acks: int = -1) -> bytes:
    """Produce v3 (non-flexible) of one batch to partition 0."""
    batch = record_batch(records, int(time.time() * 1000))
    body = (string(None) + struct.pack(">hi", acks, 10_000) + _INT32.pack(1) + string(topic)
            + _INT32.pack(1) + _INT32.pack(0) + _INT32.pack(len(batch)) + batch)
    return frame(PRODUCE, 3, correlation_id, body)


# --- reading answers -----------------------------------------------------------------------------


def connect(broker: BrokerProcess) -> socket.socket:
    """A TCP connection to the broker with a bounded receive timeout."""
    sock = socket.create_connection(("127.0.0.1", broker.port or 0), timeout=CLOSE_TIMEOUT)
    sock.settimeout(CLOSE_TIMEOUT)
    return sock


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    """`size` bytes, or AssertionError if the broker closes first."""
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"connection closed after {len(data)} of {size} bytes"
        data += chunk
    return bytes(data)


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """(correlation id, body) of one response with a v0 header."""
    size = _INT32.unpack(recv_exactly(sock, 4))[0]
    payload = recv_exactly(sock, size)
    return _INT32.unpack_from(payload)[0], payload[4:]


def closed_by_peer(sock: socket.socket, timeout: float = CLOSE_TIMEOUT) -> bool:
    """Whether the broker closes the connection within `timeout` s (any data is discarded)."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return False


def parse_api_versions_v0(body: bytes) -> tuple[int, dict[int, tuple[int, int]]]:
    """(error code, {api key: (min, max)}) of an ApiVersions v0 response body."""
    error_code, count = struct.unpack_from(">hi", body)
    ranges = {}
    for index in range(count):
        key, low, high = struct.unpack_from(">hhh", body, 6 + 6 * index)
        ranges[key] = (low, high)
    assert len(body) == 6 + 6 * count, "trailing bytes after the v0 body"
    return error_code, ranges


def api_versions_round_trip(broker: BrokerProcess) -> dict[int, tuple[int, int]]:
    """A fresh connection's ApiVersions v0 answer; it must be error 0."""
    with connect(broker) as sock:
        sock.sendall(frame(API_VERSIONS, 0, 4242))
        correlation_id, body = read_response(sock)
    assert correlation_id == 4242
    error_code, ranges = parse_api_versions_v0(body)
    assert error_code == 0
    return ranges


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def seeded(broker: BrokerProcess) -> Iterator[BrokerProcess]:
    """The broker with topic `kept` holding SEEDED; after the test, they must all still be there
    and a fresh connection must be served."""
    producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap, "acks": "all",
                                         "enable.idempotence": False, "client.id": "seed"})
    for key, value in SEEDED:
        producer.produce("kept", value, key, partition=0)
    assert producer.flush(15) == 0
    yield broker
    assert broker.running, broker.stderr_text(current_only=True)
    assert API_VERSIONS in api_versions_round_trip(broker)
    assert read_kept(broker)[: len(SEEDED)] == SEEDED


def read_kept(broker: BrokerProcess) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of `kept` partition 0, read with confluent-kafka."""
    consumer = make_consumer("confluent-kafka", broker.bootstrap)
    try:
        consumer.assign("kept", 0, 0)
        end = consumer.end_offset()
        records = consumer.read(end, timeout=10)
    finally:
        consumer.close()
    assert [record.offset for record in records] == list(range(end))
    return [(record.key, record.value) for record in records]


# --- the abuse -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [2**31 - 1, -(2**31)], ids=["2GiB-1", "negative"])
def test_huge_frame_size_closes_connection(seeded: BrokerProcess, size: int) -> None:
    """A frame claiming ~2 GiB (or a negative size) closes that connection, nothing else."""
    with connect(seeded) as sock:
        sock.sendall(_INT32.pack(size) + b"\x00" * 64)
        assert closed_by_peer(sock)


@pytest.mark.parametrize("data", [
    b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    _INT32.pack(40) + bytes(range(200, 240)),
], ids=["http", "framed-garbage"])
def test_garbage_closes_connection(seeded: BrokerProcess, data: bytes) -> None:
    """Bytes that are not a Kafka request close that connection; the broker serves on."""
    with connect(seeded) as sock:
        sock.sendall(data)
        assert closed_by_peer(sock)


def test_truncated_frame_then_close(seeded: BrokerProcess) -> None:
    """A peer that closes 10 bytes into a 100-byte frame leaves nothing behind."""
    with connect(seeded) as sock:
        sock.sendall(_INT32.pack(100) + frame(API_VERSIONS, 0, 1)[4:14])
    assert API_VERSIONS in api_versions_round_trip(seeded)


def test_half_frame_stall_does_not_block_others(seeded: BrokerProcess) -> None:
    """While one connection sits on half a Produce frame, others are served normally."""
    request = produce_frame("kept", [(b"stalled", b"never completed")], 7)
    with connect(seeded) as stalled:
        stalled.sendall(request[: len(request) // 2])
        for _ in range(3):
            assert API_VERSIONS in api_versions_round_trip(seeded)
        assert read_kept(seeded) == SEEDED
        time.sleep(1.0)
        assert not closed_by_peer(stalled, timeout=0.2)
    assert read_kept(seeded) == SEEDED


def test_abrupt_disconnect_after_produce(seeded: BrokerProcess) -> None:
    """A reset right after a Produce request: the batch is appended whole or not at all."""
    sock = connect(seeded)
    sock.sendall(produce_frame("kept", [(b"abrupt", b"a"), (b"abrupt", b"b")], 9))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # RST, not FIN
    time.sleep(0.5)
    records = read_kept(seeded)
    assert records in (SEEDED, [*SEEDED, (b"abrupt", b"a"), (b"abrupt", b"b")]), records


def test_raw_produce_is_acknowledged(seeded: BrokerProcess) -> None:
    """The hand-built Produce v3 frame is valid: acks=-1 answers offset 5, error 0."""
    with connect(seeded) as sock:
        sock.sendall(produce_frame("kept", [(b"raw", b"record")], 11))
        correlation_id, body = read_response(sock)
    assert correlation_id == 11
    topics, = struct.unpack_from(">i", body)
    name_length, = struct.unpack_from(">h", body, 4)
    assert body[6: 6 + name_length] == b"kept"
    pos = 6 + name_length
    partitions, index, error_code, base_offset = struct.unpack_from(">iihq", body, pos)
    assert (topics, partitions, index, error_code, base_offset) == (1, 1, 0, 0, 5)
    assert read_kept(seeded) == [*SEEDED, (b"raw", b"record")]


def test_api_versions_unsupported_version(seeded: BrokerProcess) -> None:
    """ApiVersions v99 is answered with error 35 and a v0 body listing the served ranges."""
    # ApiVersions v3+ is flexible, so a client guessing v99 sends header v2 and a v3-shaped body
    # (compact client software name and version, no tagged fields), as librdkafka does.
    body = b"\x05flyq" + b"\x041.0" + b"\x00"
    with connect(seeded) as sock:
        sock.sendall(frame(API_VERSIONS, 99, 31337, body, flexible=True))
        correlation_id, body = read_response(sock)
        assert correlation_id == 31337
        error_code, ranges = parse_api_versions_v0(body)
        assert error_code == UNSUPPORTED_VERSION
        assert ranges[API_VERSIONS][0] == 0 and ranges[API_VERSIONS][1] >= 3
        assert {PRODUCE, 1, 2, METADATA} <= set(ranges)
        # The connection stays usable: the client retries at a listed version.
        sock.sendall(frame(API_VERSIONS, 0, 31338))
        assert read_response(sock)[0] == 31338


def test_unknown_api_key_closes_connection(seeded: BrokerProcess) -> None:
    """A request for an api key Kafka does not define closes that connection."""
    with connect(seeded) as sock:
        sock.sendall(frame(1000, 0, 5))
        assert closed_by_peer(sock)


def test_pipelined_requests_answered_in_order(seeded: BrokerProcess) -> None:
    """50 ApiVersions/Metadata requests sent at once come back in order of correlation id."""
    requests = []
    for correlation_id in range(100, 150):
        if correlation_id % 2:
            requests.append(frame(METADATA, 1, correlation_id, _INT32.pack(-1)))
        else:
            requests.append(frame(API_VERSIONS, correlation_id % 3, correlation_id))
    with connect(seeded) as sock:
        sock.sendall(b"".join(requests))
        answers = [read_response(sock) for _ in requests]
    assert [correlation_id for correlation_id, _ in answers] == list(range(100, 150))
    for correlation_id, body in answers:
        if correlation_id % 2 == 0:
            assert struct.unpack_from(">h", body)[0] == 0
        else:
            brokers, node_id = struct.unpack_from(">ii", body)  # Metadata v1: brokers first
            assert (brokers, node_id) == (1, 0)


def test_a_second_sigterm_while_stopping_still_closes_cleanly(seeded: BrokerProcess) -> None:
    """SRV-5: a second SIGTERM that lands while the broker is stopping (a second Ctrl-C, or
    `timeout` passing its own on) does not cut the close short: exit 0, the next start recovers
    nothing, and the records are there."""
    broker = seeded
    process = broker.process
    assert process is not None
    process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    while "broker stopping" not in broker.stderr_text(current_only=True):
        assert time.monotonic() < deadline, "the broker never started stopping"
        time.sleep(0.0005)
    process.send_signal(signal.SIGTERM)  # while it closes
    assert broker.stop() == 0
    broker.start()
    assert re.search(r"\d+ partitions opened, 0 recovered", broker.stderr_text(current_only=True))
