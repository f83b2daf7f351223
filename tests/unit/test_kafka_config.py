"""Kafka topic config names onto LogConfig (flyq/broker/kafka_config.py, CFG-1..5)."""

from __future__ import annotations

import attrs
import pytest

from flyq.broker.kafka_config import describe_topic_config, kafka_topic_configs, log_config_changes
from flyq.errors import InvalidConfig
from flyq.impl.config import LogConfig

LONG_MAX = "9223372036854775807"


def test_every_kafka_name_maps_to_its_field() -> None:
    """CFG-1: each name sets the LogConfig field the spec table names, with an integer value."""
    changes = log_config_changes([
        ("retention.ms", "60000"), ("retention.bytes", "1048576"), ("segment.bytes", "4096"),
        ("segment.ms", "1000"), ("segment.index.bytes", "4096"),
        ("index.interval.bytes", "128"), ("max.message.bytes", "2048"),
        ("message.timestamp.type", "LogAppendTime"), ("flush.messages", "1"),
        ("flush.ms", "10"), ("cleanup.policy", "delete"),
    ])
    assert changes == {
        "retention_ms": 60000, "retention_bytes": 1048576, "segment_bytes": 4096,
        "segment_ms": 1000, "index_max_bytes": 4096, "index_interval_bytes": 128,
        "max_batch_bytes": 2048, "message_timestamp_type": "LogAppendTime",
        "flush_messages": 1, "flush_ms": 10,
    }


def test_unlimited_and_never() -> None:
    """CFG-2: -1 retention is unlimited and Long.MAX flush is never: both are None."""
    assert log_config_changes([("retention.ms", "-1"), ("retention.bytes", "-1"),
                               ("flush.messages", LONG_MAX), ("flush.ms", LONG_MAX)]) == {
        "retention_ms": None, "retention_bytes": None, "flush_messages": None, "flush_ms": None}


@pytest.mark.parametrize(("name", "value", "message"), [
    ("cleanup.policy", "compact", "only 'delete'"),
    ("compression.type", "gzip", "unknown topic config"),
    ("retention.ms", "soon", "expected an integer"),
    ("segment.bytes", "0", ">= 1"),
    ("segment.bytes", "-1", ">= 1"),
    ("message.timestamp.type", "WallTime", "must be one of"),
    ("segment.bytes", str(1 << 40), "segment.bytes"),
])
def test_bad_configs_name_the_kafka_key(name: str, value: str, message: str) -> None:
    """CFG-4: the error names the Kafka key and says what was wrong."""
    with pytest.raises(InvalidConfig, match=message) as caught:
        log_config_changes([(name, value)])
    assert caught.value.key == name


def test_none_resets_to_the_default() -> None:
    """A config deleted (value None) goes back to LogConfig's default."""
    assert log_config_changes([("segment.bytes", None)]) == {
        "segment_bytes": LogConfig().segment_bytes}


def test_describe_renders_back_in_kafka_form() -> None:
    """CFG-5: values in Kafka's strings; a default value is reported as a default."""
    config = LogConfig(retention_ms=60000, segment_bytes=4096)
    described = {entry.name: entry for entry in describe_topic_config(config)}
    assert described["retention.ms"].value == "60000"
    assert not described["retention.ms"].is_default
    assert described["retention.ms"].config_source == 1
    assert described["retention.bytes"].value == "-1"
    assert described["retention.bytes"].is_default
    assert described["retention.bytes"].config_source == 5
    assert described["flush.ms"].value == LONG_MAX
    assert described["cleanup.policy"].value == "delete"
    only = describe_topic_config(config, ["segment.bytes", "no.such"])
    assert [(entry.name, entry.value) for entry in only] == [("segment.bytes", "4096")]


def test_describe_then_set_round_trips() -> None:
    """What describe reports, set back, gives the same config."""
    config = LogConfig(retention_ms=1234, message_timestamp_type="LogAppendTime", flush_ms=5)
    pairs = [(entry.name, entry.value) for entry in describe_topic_config(config)]
    assert attrs.evolve(LogConfig(), **log_config_changes(pairs)) == config


def test_describe_reports_kafka_config_types_and_every_name() -> None:
    """CFG-5: each entry carries Kafka's ConfigType (STRING 2, INT 3, LONG 5, LIST 7) and all
    names are described, in the spec table's order after cleanup.policy."""
    described = describe_topic_config(LogConfig())
    types = {entry.name: entry.config_type for entry in described}
    assert types == {
        "cleanup.policy": 7, "retention.ms": 5, "retention.bytes": 5, "segment.bytes": 3,
        "segment.ms": 5, "segment.index.bytes": 3, "index.interval.bytes": 3,
        "max.message.bytes": 3, "message.timestamp.type": 2, "flush.messages": 5,
        "flush.ms": 5,
    }
    assert all(entry.is_default and entry.config_source == 5 for entry in described)
    values = {entry.name: entry.value for entry in described}
    assert values["segment.bytes"] == str(1 << 30)
    assert values["message.timestamp.type"] == "CreateTime"
    assert values["flush.messages"] == LONG_MAX
    assert describe_topic_config(LogConfig(), []) == []


def test_values_are_trimmed_and_messages_say_what_is_allowed() -> None:
    """CFG-1..4: surrounding blanks are allowed; the refusal says the range, -1 where unlimited
    exists, and names the key."""
    assert log_config_changes([("segment.ms", " 5 ")]) == {"segment_ms": 5}
    assert log_config_changes([("cleanup.policy", " delete ")]) == {}
    assert log_config_changes([("cleanup.policy", None)]) == {}
    with pytest.raises(InvalidConfig) as caught:
        log_config_changes([("retention.bytes", "0")])
    assert str(caught.value) == (
        "config retention.bytes='0': must be an integer >= 1 or -1 for unlimited")
    with pytest.raises(InvalidConfig) as caught:
        log_config_changes([("flush.ms", "-1")])
    assert str(caught.value) == "config flush.ms='-1': must be an integer >= 1"
    with pytest.raises(InvalidConfig) as caught:
        log_config_changes([("segment.index.bytes", "8")])
    assert caught.value.key == "segment.index.bytes"
    assert caught.value.value == 8
    with pytest.raises(InvalidConfig) as caught:
        log_config_changes([("bogus", "1")])
    assert "cleanup.policy" in str(caught.value)
    assert "retention.ms" in str(caught.value)


def test_kafka_topic_configs_is_the_inverse_of_log_config_changes() -> None:
    """CFG-1, CFG-2: field changes in Kafka's names and values translate back to themselves;
    unlimited and never (None) go as -1 and Long.MAX_VALUE."""
    changes = {"retention_ms": None, "segment_bytes": 1 << 20, "flush_ms": None,
               "message_timestamp_type": "LogAppendTime"}
    configs = kafka_topic_configs(changes)
    assert configs == {"retention.ms": "-1", "segment.bytes": "1048576",
                       "flush.ms": str((1 << 63) - 1), "message.timestamp.type": "LogAppendTime"}
    assert log_config_changes(configs.items()) == changes
