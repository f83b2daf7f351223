"""flyq/protocol/_schemas.py agrees with Kafka's JSON message definitions, field by field.

The JSON files are the ones kafka-python 3 ships (`kafka/protocol/schemas/resources`); they are read
here, at test time only. The two ConsumerGroup APIs (68, 69), which kafka-python does not ship, are
listed in `NOT_IN_KAFKA_PYTHON` and checked only for their shape.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from flyq.protocol import APIS, FLYQ_API_KEYS, FLYQ_KEY_RANGE, Field, snake_case
from flyq.protocol._types import parse_versions

# Found without importing kafka (its import warns, and filterwarnings = error).
_KAFKA = importlib.util.find_spec("kafka")
if _KAFKA is None or _KAFKA.origin is None:  # pragma: no cover - kafka-python is a dev dependency
    pytest.skip("kafka-python is not installed", allow_module_level=True)
RESOURCES = Path(_KAFKA.origin).parent / "protocol" / "schemas" / "resources"

NOT_IN_KAFKA_PYTHON = {68, 69} | FLYQ_API_KEYS
REQUIRED = {0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 29, 30, 31, 32,
            33, 36, 37, 42, 44, 47, 50, 51, 60, 68, 69}
COMMENTS = re.compile(r"(?m)^\s*//.*\n?")


def load(name: str) -> dict[str, Any]:
    """Kafka's JSON definition, comments removed and common structs inlined."""
    text = (RESOURCES / f"{name}.json").read_text()
    data: dict[str, Any] = json.loads(COMMENTS.sub("", text))
    common = {s["name"]: s["fields"] for s in data.get("commonStructs", [])}

    def inline(fields: list[dict[str, Any]]) -> None:
        for field in fields:
            element = field["type"].removeprefix("[]")
            if element[0].isupper() and "fields" not in field:
                field["fields"] = common[element]
            inline(field.get("fields", []))

    inline(data["fields"])
    return data


def kafka_type(type_name: str) -> str:
    element = type_name.removeprefix("[]")
    if element[0].isupper():
        element = "struct"
    return ("[]" if type_name.startswith("[]") else "") + element


def kafka_default(field: dict[str, Any], ours: Field) -> object:
    raw = field["default"]
    if raw == "null":
        return None
    if ours.type == "bool":
        return raw == "true"
    if ours.type.startswith("int"):
        return int(raw, 0) if isinstance(raw, str) else raw
    return raw


def compare(path: str, ours: tuple[Field, ...], theirs: list[dict[str, Any]]) -> list[str]:
    """Differences between our fields and Kafka's, as readable lines."""
    problems: list[str] = []
    if [f.name for f in ours] != [snake_case(t["name"]) for t in theirs]:
        return [f"{path}: fields {[f.name for f in ours]} != {[t['name'] for t in theirs]}"]
    for field, kafka in zip(ours, theirs, strict=True):
        where = f"{path}.{field.name}"
        expected = (kafka_type(kafka["type"]), parse_versions(kafka["versions"]),
                    parse_versions(kafka.get("nullableVersions")), kafka.get("tag"),
                    parse_versions(kafka.get("taggedVersions")))
        actual = (field.type, field.versions, field.nullable, field.tag, field.tagged)
        if actual != expected:
            problems.append(f"{where}: {actual} != {expected}")
        if "default" in kafka and kafka_default(kafka, field) != field.default:
            problems.append(f"{where}: default {field.default!r} != {kafka['default']!r}")
        if "default" not in kafka and field.has_default:
            problems.append(f"{where}: has a default Kafka does not declare")
        problems += compare(where, field.fields, kafka.get("fields", []))
    return problems


def test_table_holds_the_required_apis() -> None:
    """The table has every API the server work needs, keyed by its api_key."""
    assert set(APIS) >= REQUIRED
    assert all(key == api.key for key, api in APIS.items())


def test_extension_keys_are_in_the_private_range() -> None:
    """EXT-1: FlyQ's own APIs, and only they, use keys from the private range; Kafka's do not."""
    assert FLYQ_API_KEYS
    assert {key for key in APIS if key in FLYQ_KEY_RANGE} == FLYQ_API_KEYS
    assert all(APIS[key].name.startswith("Flyq") for key in FLYQ_API_KEYS)
    assert max(FLYQ_KEY_RANGE) < 1 << 15  # api_key is an int16


@pytest.mark.parametrize("key", sorted(set(APIS) - NOT_IN_KAFKA_PYTHON))
def test_api_agrees_with_kafka_json(key: int) -> None:
    """Names, types, versions, nullable versions, tags and defaults equal Kafka's, recursively."""
    api = APIS[key]
    for schema in (api.request, api.response):
        kafka = load(f"{api.name}{schema.kind.capitalize()}")
        assert kafka["apiKey"] == api.key
        assert parse_versions(kafka["validVersions"]) == (api.oldest, api.versions[1])
        flexible = parse_versions(kafka["flexibleVersions"])
        assert (flexible[0] if flexible else None) == schema.flexible_from
        assert compare(schema.name, schema.fields, kafka["fields"]) == []


def test_snake_case_is_mechanical() -> None:
    """The key rule: underscore before each capital but the first, then lower case."""
    pairs = {"PartitionIndex": "partition_index", "ThrottleTimeMs": "throttle_time_ms",
             "TopicId": "topic_id", "ApiKeys": "api_keys", "ProducerId": "producer_id",
             "MaxWaitMs": "max_wait_ms", "IsolationLevel": "isolation_level",
             "HighWatermark": "high_watermark", "LogStartOffset": "log_start_offset",
             "CommittedOffset": "committed_offset"}
    assert {k: snake_case(k) for k in pairs} == pairs


def test_comparison_can_fail() -> None:
    """The comparison reports a changed type, version range or name."""
    kafka = [{"name": "ErrorCode", "type": "int16", "versions": "0+"}]
    assert compare("x", (Field("error_code", "int16", (0, 0x7FFF)),), kafka) == []
    assert compare("x", (Field("error_code", "int32", (0, 0x7FFF)),), kafka) != []
    assert compare("x", (Field("error_code", "int16", (1, 0x7FFF)),), kafka) != []
    assert compare("x", (Field("errors", "int16", (0, 0x7FFF)),), kafka) != []
