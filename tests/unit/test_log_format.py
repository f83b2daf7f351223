"""The broker's log formats (spec/metrics.md LINE-1..4): one line per event, text or JSON."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from flyq.errors import InvalidArgument
from flyq.server._log_format import JsonFormatter, OneLineFormatter, formatter

# Every character Python's str.splitlines() breaks at, inside one message.
BREAKS = "a\nb\rc\r\nd\x0be\x0cf\x1cg\x1dh\x1ei\x85j\u2028k\u2029l"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, logging.StreamHandler[io.StringIO]]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("flyq.test.logformat")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def lines(handler: logging.StreamHandler[io.StringIO]) -> list[str]:
    return handler.stream.getvalue().splitlines()


def fail() -> None:
    raise ValueError("bad\nthing")


def test_json_line_fields_extra_and_traceback(
        captured: tuple[logging.Logger, logging.StreamHandler[io.StringIO]]) -> None:
    """LINE-2, LINE-3: one JSON object per line: ts in ISO 8601 UTC, level, logger, message,
    the extra= fields, and a traceback as an escaped field, not a second line."""
    logger, handler = captured
    handler.setFormatter(formatter("json"))
    logger.info("topic %s created", "t\n2", extra={"topic": "t", "partitions": 3,
                                                   "level": "mine", "where": ("a", 1)})
    try:
        fail()
    except ValueError:
        logger.exception("boom %d", 7)
    first, second = lines(handler)
    record = json.loads(first)
    assert record["level"] == "INFO"
    assert record["logger"] == "flyq.test.logformat"
    assert record["message"] == "topic t\n2 created"
    assert record["topic"] == "t"
    assert record["partitions"] == 3
    assert record["extra_level"] == "mine"  # an extra never overwrites a core field
    assert record["where"] == ["a", 1]
    assert record["ts"].endswith("Z")
    assert "T" in record["ts"]
    error = json.loads(second)
    assert error["level"] == "ERROR"
    assert error["message"] == "boom 7"
    assert error["exception"].startswith("Traceback (most recent call last):")
    assert "ValueError: bad\nthing" in error["exception"]
    assert "taskName" not in error
    assert "exc_info" not in error


def test_json_timestamp_is_utc_with_milliseconds() -> None:
    """LINE-2: ts is the record's creation time in UTC, ISO 8601 with milliseconds and a Z."""
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "m", None, None)
    record.created = 86_400 + 3_600 + 0.25  # 1970-01-02 01:00:00.250 UTC
    assert json.loads(JsonFormatter().format(record))["ts"] == "1970-01-02T01:00:00.250Z"


def test_json_is_ascii_and_one_line_whatever_the_message() -> None:
    """LINE-1, LINE-2: a message with every line-breaking character is one ASCII line that
    decodes back to the message."""
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", (BREAKS + " é",), None)
    line = JsonFormatter().format(record)
    assert len(line.splitlines()) == 1
    assert line.isascii()
    assert json.loads(line)["message"] == BREAKS + " é"


def test_text_stays_one_line_with_line_breaks_and_a_traceback(
        captured: tuple[logging.Logger, logging.StreamHandler[io.StringIO]]) -> None:
    """LINE-1, LINE-4: the text format keeps `time LEVEL logger: message`; line breaks in the
    message and the traceback are escaped, so each event is one line."""
    logger, handler = captured
    handler.setFormatter(formatter("text"))
    logger.warning("client %s said", BREAKS)
    try:
        fail()
    except ValueError:
        logger.exception("failed")
    first, second = lines(handler)
    assert " WARNING flyq.test.logformat: client a\\nb\\rc\\r\\nd\\x0be" in first
    assert first.endswith("k\\u2029l said")
    assert " ERROR flyq.test.logformat: failed\\nTraceback (most recent call last):" in second
    assert second.endswith("ValueError: bad\\nthing")


def test_text_format_unchanged_for_plain_messages() -> None:
    """LINE-4: a message without line breaks reads exactly as the default text format had it."""
    record = logging.LogRecord("flyq.server", logging.INFO, __file__, 1, "hello %s", ("x",),
                               None)
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    assert OneLineFormatter().format(record) == plain.format(record)


def test_unknown_format_is_refused() -> None:
    """LINE-2: only text and json exist."""
    with pytest.raises(InvalidArgument, match="--log-format"):
        formatter("xml")
