"""Regenerate tests/golden/vectors/protocol/Flyq*.json: golden vectors of FlyQ's extension APIs.

Run by hand only, never by CI: `python scripts/gen_extension_vectors.py`. kafka-python cannot know
FlyQ's private APIs (spec/protocol.md "Extension APIs", EXT-6), so the bytes come from the small
`struct`-based encoder below, written from the byte layouts in spec/protocol.md "Layouts" and sharing
no code with `flyq.protocol` (this script imports nothing from flyq). Each vector is
`{name, api_key, version, kind, hex, decoded}` as tests/golden/test_protocol_vectors.py reads them:
`decoded` is the message as JSON, bytes as lowercase hex.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "tests" / "golden" / "vectors" / "protocol"

INT16 = struct.Struct(">h")
INT32 = struct.Struct(">i")
INT64 = struct.Struct(">q")
NO_TAGS = b"\x00"  # an empty tagged-fields section: unsigned varint 0

Encoder = Callable[[Any], bytes]


def uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def compact_string(text: str | None) -> bytes:
    if text is None:
        return uvarint(0)
    data = text.encode("utf-8")
    return uvarint(len(data) + 1) + data


def compact_bytes(hex_text: str | None) -> bytes:
    if hex_text is None:
        return uvarint(0)
    data = bytes.fromhex(hex_text)
    return uvarint(len(data) + 1) + data


def compact_array(items: list[Any], element: Encoder) -> bytes:
    return uvarint(len(items) + 1) + b"".join(element(item) for item in items)


def i16(n: int) -> bytes:
    return INT16.pack(n)


def i32(n: int) -> bytes:
    return INT32.pack(n)


def i64(n: int) -> bytes:
    return INT64.pack(n)


# --- the layouts of spec/protocol.md, table by table ----------------------------------------------

def read_backward_request(m: dict[str, Any]) -> bytes:
    return (compact_string(m["topic"]) + i32(m["partition"]) + i64(m["from_offset"])
            + i32(m["max_records"]) + i32(m["max_bytes"]) + NO_TAGS)


def header(h: dict[str, Any]) -> bytes:
    return compact_string(h["key"]) + compact_bytes(h["value"]) + NO_TAGS


def record(r: dict[str, Any]) -> bytes:
    return (i64(r["offset"]) + i64(r["timestamp"]) + compact_bytes(r["key"])
            + compact_bytes(r["value"]) + compact_array(r["headers"], header) + NO_TAGS)


def read_backward_response(m: dict[str, Any]) -> bytes:
    return (i32(m["throttle_time_ms"]) + i16(m["error_code"]) + compact_string(m["error_message"])
            + i64(m["log_start_offset"]) + i64(m["high_watermark"]) + i64(m["log_end_offset"])
            + compact_array(m["records"], record) + NO_TAGS)


def partitions_request(m: dict[str, Any]) -> bytes:
    def topic(t: dict[str, Any]) -> bytes:
        return compact_string(t["name"]) + compact_array(t["partitions"], i32) + NO_TAGS
    return compact_array(m["topics"], topic) + NO_TAGS


def per_partition_response(partition: Encoder) -> Encoder:
    def topic(t: dict[str, Any]) -> bytes:
        return compact_string(t["name"]) + compact_array(t["partitions"], partition) + NO_TAGS

    def message(m: dict[str, Any]) -> bytes:
        return i32(m["throttle_time_ms"]) + compact_array(m["topics"], topic) + NO_TAGS
    return message


def state_partition(p: dict[str, Any]) -> bytes:
    return (i32(p["partition_index"]) + i16(p["error_code"]) + compact_string(p["error_message"])
            + i64(p["log_start_offset"]) + i64(p["high_watermark"]) + i64(p["log_end_offset"])
            + i64(p["durable_offset"]) + i32(p["segment_count"]) + i64(p["size_bytes"])
            + compact_string(p["state"]) + compact_string(p["failure"])
            + i64(p["last_index_check_ms"]) + compact_array(p["problems"], compact_string)
            + NO_TAGS)


def verify_partition(p: dict[str, Any]) -> bytes:
    return (i32(p["partition_index"]) + i16(p["error_code"]) + compact_string(p["error_message"])
            + i64(p["checked_ms"]) + compact_array(p["problems"], compact_string) + NO_TAGS)


# --- sample messages (JSON form) ------------------------------------------------------------------

def state(index: int, **changes: Any) -> dict[str, Any]:
    base = {"partition_index": index, "error_code": 0, "error_message": None,
            "log_start_offset": 5, "high_watermark": 100, "log_end_offset": 103,
            "durable_offset": 97, "segment_count": 3, "size_bytes": 1 << 33, "state": "online",
            "failure": None, "last_index_check_ms": -1, "problems": []}
    return {**base, **changes}


SAMPLES: list[tuple[str, int, str, Encoder, str, dict[str, Any]]] = [
    ("FlyqReadBackward", 30000, "request", read_backward_request, "tail", {
        "topic": "orders", "partition": 0, "from_offset": -1, "max_records": 5,
        "max_bytes": 2147483647}),
    ("FlyqReadBackward", 30000, "request", read_backward_request, "from-offset", {
        "topic": "t\u00e9", "partition": 7, "from_offset": 1 << 40, "max_records": 1,
        "max_bytes": 1}),
    ("FlyqReadBackward", 30000, "response", read_backward_response, "records", {
        "throttle_time_ms": 0, "error_code": 0, "error_message": None, "log_start_offset": 3,
        "high_watermark": 100, "log_end_offset": 101, "records": [
            {"offset": 99, "timestamp": 1_700_000_000_123, "key": "6b3939", "value": "ab" * 200,
             "headers": [{"key": "trace", "value": "0102"}, {"key": "empty", "value": None}]},
            {"offset": 98, "timestamp": -1, "key": None, "value": "", "headers": []},
        ]}),
    ("FlyqReadBackward", 30000, "response", read_backward_response, "error", {
        "throttle_time_ms": 0, "error_code": 1, "error_message": "offset 500 is out of range",
        "log_start_offset": -1, "high_watermark": -1, "log_end_offset": -1, "records": []}),
    ("FlyqPartitionState", 30001, "request", partitions_request, "two-topics", {
        "topics": [{"name": "a", "partitions": [0, 1, 2]}, {"name": "b", "partitions": []}]}),
    ("FlyqPartitionState", 30001, "response", per_partition_response(state_partition), "mixed", {
        "throttle_time_ms": 0, "topics": [
            {"name": "a", "partitions": [
                state(0),
                state(1, state="failed", failure="a storage error: disk full",
                      last_index_check_ms=1_700_000_000_000,
                      problems=["/data/a-1/00000000000000000000.index differs from a rebuild"]),
                state(9, error_code=3, error_message="a has no partition 9",
                      log_start_offset=-1, high_watermark=-1, log_end_offset=-1,
                      durable_offset=-1, segment_count=0, size_bytes=0, state=""),
            ]}]}),
    ("FlyqVerifyIndex", 30002, "request", partitions_request, "one", {
        "topics": [{"name": "orders", "partitions": [3]}]}),
    ("FlyqVerifyIndex", 30002, "response", per_partition_response(verify_partition), "mixed", {
        "throttle_time_ms": 0, "topics": [{"name": "orders", "partitions": [
            {"partition_index": 0, "error_code": 0, "error_message": None,
             "checked_ms": 1_700_000_000_000, "problems": []},
            {"partition_index": 1, "error_code": 0, "error_message": None,
             "checked_ms": 1_700_000_000_001, "problems": [
                 "/d/orders-1/00000000000000000000.index differs from a rebuild",
                 "/d/orders-1/00000000000000000000.timeindex differs from a rebuild"]},
            {"partition_index": 2, "error_code": 56, "error_message": "failed: I/O error",
             "checked_ms": -1, "problems": []},
        ]}]}),
]


def main() -> None:
    files: dict[str, list[dict[str, Any]]] = {}
    for name, key, kind, encode, label, message in SAMPLES:
        files.setdefault(name, []).append({
            "name": f"{name}{kind.capitalize()}v0-{label}", "api_key": key, "version": 0,
            "kind": kind, "hex": encode(message).hex(), "decoded": message})
    for name, vectors in files.items():
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(vectors, indent=1, ensure_ascii=False) + "\n")
        print(f"{path}: {len(vectors)} vectors")


if __name__ == "__main__":
    main()
