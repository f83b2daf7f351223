"""The broker's log lines: one line per event, as text or as JSON (spec/metrics.md LINE-1..4).

Peers choose some of what gets logged (client ids, topic and group names), so a line break in a
message must never start a forged log line: the text format escapes every character that
`str.splitlines` breaks at; the JSON format escapes everything outside printable ASCII
(`ensure_ascii`), tracebacks included, so each event is exactly one line in both.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Mapping
from typing import Any

from flyq.errors import InvalidArgument

__all__ = ["LOG_FORMATS", "JsonFormatter", "OneLineFormatter", "escape_line", "formatter"]

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Every character str.splitlines() breaks a line at (LINE-1).
_LINE_BREAKS = {
    "\n": "\\n", "\r": "\\r", "\x0b": "\\x0b", "\x0c": "\\x0c", "\x1c": "\\x1c",
    "\x1d": "\\x1d", "\x1e": "\\x1e", "\x85": "\\x85", "\u2028": "\\u2028", "\u2029": "\\u2029",
}
_ESCAPES = str.maketrans(_LINE_BREAKS)
# Attributes every LogRecord has; anything else on a record came from `extra=` (LINE-3).
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}
_CORE_FIELDS = ("ts", "level", "logger", "message")


def escape_line(text: str) -> str:
    """`text` with each line-breaking character written as its Python escape (LINE-1)."""
    return text.translate(_ESCAPES)


class OneLineFormatter(logging.Formatter):
    """The text format, `TEXT_FORMAT`, kept to one line: line breaks in the message and in an
    appended traceback are escaped (LINE-1)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return escape_line(super().format(record))


def _timestamp(created: float) -> str:
    moment = datetime.datetime.fromtimestamp(created, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _jsonable(value: object) -> object:
    """`value` if JSON encodes it as it is, else its str."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line (LINE-2, LINE-3): `ts` (ISO 8601 UTC, milliseconds), `level`,
    `logger`, `message`, then the record's `extra=` fields (one named like a core field gets an
    `extra_` prefix), `exception` (the formatted traceback) and `stack` when present."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key in _RECORD_FIELDS:
                continue
            fields[f"extra_{key}" if key in _CORE_FIELDS else key] = _jsonable(value)
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            fields["exception"] = record.exc_text
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        return json.dumps(fields, ensure_ascii=True, separators=(",", ":"))


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of `--log-format` `log_format` ("text" or "json")."""
    if log_format == "json":
        return JsonFormatter()
    if log_format == "text":
        return OneLineFormatter()
    raise InvalidArgument("--log-format", log_format, f"one of {', '.join(LOG_FORMATS)}")
