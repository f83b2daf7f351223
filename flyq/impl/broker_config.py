"""The broker configuration file: defaults for the `LogConfig` of new topics (TOML).

    # DATA_DIR/flyq.toml (or the file named by `flyq --config FILE` / FLYQ_CONFIG)
    [log]
    segment_bytes = 1048576
    flush_messages = 1000

Rules this module keeps:

- BCFG-1 The file is optional: with no file, new topics get `LogConfig()`'s defaults. A file named
  explicitly (`path`) must exist.
- BCFG-2 The tables are `[log]` and `[server]`. `[log]` keys are `LogConfig` field names, values
  TOML integers (or a word for `message_timestamp_type`). `[server]` belongs to the network broker
  (`flyq.server`, which checks it when `flyq broker` starts); it is skipped here.
  Anything else (an unknown table or key, a value of the wrong type or out of range, a file that is
  not TOML) raises `InvalidBrokerConfig` naming the key and the file: a typo is never ignored.
- BCFG-3 The file gives defaults only for topics created afterwards; a topic's effective config is
  the one stored in its `topic.json`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

import attrs

from flyq.broker.layout import CONFIG_FILE, config_path
from flyq.errors import FlyQError, InvalidConfig
from flyq.impl.config import TEXT_FIELDS, LogConfig
from flyq.values import is_int

__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILE",
    "InvalidBrokerConfig",
    "default_path",
    "load_broker_config",
    "parse_broker_config",
]

CONFIG_ENV = "FLYQ_CONFIG"
_LOG_TABLE = "log"
_SERVER_TABLE = "server"
_LOG_KEYS = tuple(field.name for field in attrs.fields(LogConfig))


class InvalidBrokerConfig(InvalidConfig):
    """The broker configuration file is not valid; the message names the file and the key."""

    def __init__(self, path: str, key: str, value: object, reason: str) -> None:
        # An empty key means the file as a whole (missing, unreadable, not TOML).
        shown = "" if value is None else f"={value!r}"
        where = f"config {key}{shown}: " if key else ""
        FlyQError.__init__(self, f"{path}: {where}{reason}")
        self.key = key
        self.value = value
        self.path = path


def default_path(data_dir: str) -> str:
    """Where the broker configuration file of `data_dir` lives."""
    return config_path(data_dir)


def load_broker_config(data_dir: str, path: str | None = None) -> LogConfig:
    """The `LogConfig` new topics start from (BCFG-1, BCFG-2).

    `path` names the file explicitly (it must exist); without it, `DATA_DIR/flyq.toml` is read if
    present.
    """
    explicit = path is not None
    file_path = path if path is not None else default_path(data_dir)
    try:
        with open(file_path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        if explicit:
            raise InvalidBrokerConfig(file_path, "", None, "the file does not exist") from None
        return LogConfig()
    except OSError as exc:
        raise InvalidBrokerConfig(
            file_path, "", None, f"cannot read it: {exc.strerror or exc}"
        ) from exc
    return parse_broker_config(data, source=file_path)


def parse_broker_config(data: bytes, *, source: str) -> LogConfig:
    """The `LogConfig` the TOML document `data` describes; `source` names it in errors."""
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidBrokerConfig(source, "", None, f"not UTF-8 text (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidBrokerConfig(source, "", None, f"not valid TOML ({exc})") from exc
    for key in document:
        if key not in (_LOG_TABLE, _SERVER_TABLE):
            raise InvalidBrokerConfig(
                source, key, None,
                f"unknown table or key; the tables are [{_LOG_TABLE}] and [{_SERVER_TABLE}]",
            )
    table = document.get(_LOG_TABLE, {})
    if not isinstance(table, Mapping):
        raise InvalidBrokerConfig(source, _LOG_TABLE, table, "expected a table")
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{_LOG_TABLE}.{key}"
        if key not in _LOG_KEYS:
            raise InvalidBrokerConfig(
                source, name, None, f"unknown key; expected one of {', '.join(_LOG_KEYS)}"
            )
        if key in TEXT_FIELDS:
            if not isinstance(value, str):
                raise InvalidBrokerConfig(source, name, value, "expected a string")
        elif not is_int(value):
            raise InvalidBrokerConfig(source, name, value, "expected an integer")
        values[key] = value
    try:
        return LogConfig(**values)
    except InvalidConfig as exc:
        reason = str(exc).split(": ", 1)[-1]
        raise InvalidBrokerConfig(source, f"{_LOG_TABLE}.{exc.key}", exc.value, reason) from exc
