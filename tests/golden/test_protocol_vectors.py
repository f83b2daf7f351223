"""Golden protocol vectors from kafka-python's encoder, checked in both directions.

`vectors/protocol/*.json` are written by scripts/gen_protocol_vectors.py (run by hand) from
kafka-python 3's `kafka.protocol` classes, which are generated from Kafka's JSON schemas and share no
code with FlyQ (for ConsumerGroupHeartbeat and ConsumerGroupDescribe, which kafka-python does not ship,
the script builds them with kafka-python's metaclass from Kafka's JSON files). Each vector is one
message body `{name, api_key, version, kind, hex, decoded}`.

FlyQ's extension APIs (`Flyq*.json`, EXT-6), which kafka-python cannot know, come from the `struct`
encoder of scripts/gen_extension_vectors.py, written from spec/protocol.md's layouts without flyq.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flyq.protocol import APIS, MessageSchema, decode_message, encode_message
from flyq.server import SUPPORTED_VERSIONS
from tests.protocol_values import convert, project

pytestmark = pytest.mark.golden

VECTORS = sorted((Path(__file__).parent / "vectors" / "protocol").glob("*.json"))
CASES = [vector for path in VECTORS for vector in json.loads(path.read_text())]


def schema_of(vector: dict[str, Any]) -> MessageSchema:
    api = APIS[vector["api_key"]]
    return api.request if vector["kind"] == "request" else api.response


def test_vectors_cover_the_required_ranges() -> None:
    """Every (api, version) the broker advertises (flyq.server.SUPPORTED_VERSIONS) has a golden
    vector, request and response."""
    have = {(v["api_key"], v["version"], v["kind"]) for v in CASES}
    required = SUPPORTED_VERSIONS
    missing = {
        (key, version, kind)
        for key, (low, high) in required.items()
        for version in range(low, high + 1)
        for kind in ("request", "response")
    } - have
    assert not missing


@pytest.mark.parametrize("vector", CASES, ids=[v["name"] for v in CASES])
def test_decode_matches_kafka_python(vector: dict[str, Any]) -> None:
    """Decoding the independent encoder's bytes gives the value it encoded (fields of that version)."""
    schema = schema_of(vector)
    version = vector["version"]
    decoded = decode_message(schema, version, memoryview(bytes.fromhex(vector["hex"])))
    assert convert(schema.fields, version, decoded, to_json=True) == vector["decoded"]


@pytest.mark.parametrize("vector", CASES, ids=[v["name"] for v in CASES])
def test_encode_matches_kafka_python(vector: dict[str, Any]) -> None:
    """Encoding the vector's value gives exactly kafka-python's bytes."""
    schema = schema_of(vector)
    version = vector["version"]
    value = convert(schema.fields, version, vector["decoded"], to_json=False)
    assert b"".join(encode_message(schema, version, value)).hex() == vector["hex"]
    assert project(schema.fields, version, value) == value
