"""Kafka's topic configuration names, mapped onto FlyQ's `LogConfig` (spec/protocol.md, CFG-1..5).

Kafka clients and tools (CreateTopics, DescribeConfigs, AlterConfigs, IncrementalAlterConfigs,
`kafka-configs.sh`) speak of `retention.ms`, `segment.bytes`, ...; the Broker and `topic.json` speak
of `LogConfig` fields. This module is the one place that translates between them. Pure: no I/O.

- CFG-1 Every Kafka name below maps to one LogConfig field; values are Kafka's strings.
- CFG-2 `-1` for `retention.ms` / `retention.bytes` means unlimited (LogConfig None), as in Kafka;
  `flush.messages` / `flush.ms` at Kafka's "never" (Long.MAX_VALUE) also mean None.
- CFG-3 `cleanup.policy` accepts only `delete` (compaction is not built): it maps to no field.
- CFG-4 An unknown name, a value that is not an integer where one is expected, or a value a
  LogConfig validator refuses raises `InvalidConfig` naming the Kafka key and the value.
- CFG-5 Described values are the topic's stored config rendered back in Kafka's form; a value
  equal to LogConfig's default is reported as a default (config source DEFAULT_CONFIG).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from flyq.errors import InvalidConfig
from flyq.impl.config import LogConfig

__all__ = [
    "CLEANUP_POLICY",
    "KAFKA_TOPIC_CONFIGS",
    "DescribedConfig",
    "describe_topic_config",
    "kafka_topic_configs",
    "log_config_changes",
]

CLEANUP_POLICY = "cleanup.policy"
_LONG_MAX = (1 << 63) - 1
_UNLIMITED = -1

# Kafka name -> LogConfig field.
KAFKA_TOPIC_CONFIGS: Mapping[str, str] = {
    "retention.ms": "retention_ms",
    "retention.bytes": "retention_bytes",
    "segment.bytes": "segment_bytes",
    "segment.ms": "segment_ms",
    "segment.index.bytes": "index_max_bytes",
    "index.interval.bytes": "index_interval_bytes",
    "max.message.bytes": "max_batch_bytes",
    "message.timestamp.type": "message_timestamp_type",
    "flush.messages": "flush_messages",
    "flush.ms": "flush_ms",
}
_UNLIMITED_WHEN_MINUS_ONE = frozenset({"retention_ms", "retention_bytes"})
_NEVER_WHEN_LONG_MAX = frozenset({"flush_messages", "flush_ms"})
_TEXT = frozenset({"message_timestamp_type"})
_DEFAULTS = LogConfig()

# Kafka's ConfigType codes (DescribeConfigs v3+) and ConfigSource codes (v1+).
_TYPE_STRING, _TYPE_INT, _TYPE_LONG, _TYPE_LIST = 2, 3, 5, 7
_SOURCE_TOPIC, _SOURCE_DEFAULT = 1, 5
_INT_FIELDS = frozenset({"segment_bytes", "index_max_bytes", "index_interval_bytes",
                         "max_batch_bytes"})


@attrs.frozen
class DescribedConfig:
    """One DescribeConfigs entry of a topic."""

    name: str
    value: str
    is_default: bool
    config_type: int

    @property
    def config_source(self) -> int:
        """Kafka's ConfigSource: TOPIC_CONFIG for a value set on the topic, else DEFAULT_CONFIG."""
        return _SOURCE_DEFAULT if self.is_default else _SOURCE_TOPIC


def _field_value(name: str, field: str, value: str | None) -> int | str | None:
    """The LogConfig value for Kafka config `name`=`value` (None: back to the default)."""
    if value is None:
        return getattr(_DEFAULTS, field)  # type: ignore[no-any-return]
    if field in _TEXT:
        return value
    try:
        number = int(value.strip())
    except ValueError:
        raise InvalidConfig(name, value, "expected an integer") from None
    if field in _UNLIMITED_WHEN_MINUS_ONE and number == _UNLIMITED:
        return None
    if field in _NEVER_WHEN_LONG_MAX and number == _LONG_MAX:
        return None
    if number < 1:
        raise InvalidConfig(name, value, "must be an integer >= 1"
                            + (" or -1 for unlimited" if field in _UNLIMITED_WHEN_MINUS_ONE
                               else ""))
    return number


def log_config_changes(configs: Iterable[tuple[str, str | None]]) -> dict[str, int | str | None]:
    """LogConfig field changes for Kafka `(name, value)` pairs (CFG-1..4); None resets a key.

    Checked as a whole against LogConfig's validators, so an invalid set raises `InvalidConfig`
    naming the Kafka key before anything is stored.
    """
    changes: dict[str, int | str | None] = {}
    names: dict[str, str] = {}
    for name, value in configs:
        if name == CLEANUP_POLICY:
            if value is not None and value.strip() != "delete":
                raise InvalidConfig(name, value, "only 'delete' is supported (no compaction)")
            continue
        field = KAFKA_TOPIC_CONFIGS.get(name)
        if field is None:
            known = ", ".join(sorted([*KAFKA_TOPIC_CONFIGS, CLEANUP_POLICY]))
            raise InvalidConfig(name, value, f"unknown topic config; FlyQ knows {known}")
        changes[field] = _field_value(name, field, value)
        names[field] = name
    values: dict[str, Any] = {**attrs.asdict(_DEFAULTS), **changes}
    try:
        LogConfig(**values)
    except InvalidConfig as exc:
        key = names.get(str(exc.key), str(exc.key))
        raise InvalidConfig(key, exc.value, str(exc).split(": ", 1)[-1]) from exc
    return changes


def _kafka_value(field: str, value: int | str | None) -> str:
    if value is None:
        return str(_LONG_MAX if field in _NEVER_WHEN_LONG_MAX else _UNLIMITED)
    return str(value)


def kafka_topic_configs(changes: Mapping[str, int | str | None]) -> dict[str, str]:
    """LogConfig field changes (as `flyq topic create --config` gives them) in Kafka's names and
    values, for CreateTopics: the inverse of `log_config_changes` (CFG-1, CFG-2). A field without
    a Kafka name raises `InvalidConfig`."""
    names = {field: name for name, field in KAFKA_TOPIC_CONFIGS.items()}
    configs = {}
    for field, value in changes.items():
        if field not in names:
            raise InvalidConfig(field, value, "no Kafka topic config carries it over the network")
        configs[names[field]] = _kafka_value(field, value)
    return configs


def describe_topic_config(config: LogConfig,
                          keys: Iterable[str] | None = None) -> list[DescribedConfig]:
    """The topic config in Kafka's names (CFG-5); `keys` selects some (unknown keys are left out,
    as Kafka does)."""
    wanted = None if keys is None else set(keys)
    described = [DescribedConfig(CLEANUP_POLICY, "delete", True, _TYPE_LIST)]
    for name, field in KAFKA_TOPIC_CONFIGS.items():
        value = getattr(config, field)
        config_type = (_TYPE_STRING if field in _TEXT
                       else _TYPE_INT if field in _INT_FIELDS else _TYPE_LONG)
        described.append(DescribedConfig(name, _kafka_value(field, value),
                                         value == getattr(_DEFAULTS, field), config_type))
    return [entry for entry in described if wanted is None or entry.name in wanted]
