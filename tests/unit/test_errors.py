"""Errors and their Kafka error codes (spec/errors.md ERR-1..5).

Three sources are compared: `ERROR_TABLE` in flyq/errors.py, the table of spec/errors.md §2, and
kafka-python's `kafka.errors` (an independent Kafka client), whose known differences from Kafka's
protocol guide are spec/errors.md §3 and `KAFKA_PYTHON_DIFFERENCES` below.
"""

from __future__ import annotations

import importlib
import pickle
import pkgutil
import re
import warnings
from pathlib import Path

import pytest

import flyq
import flyq.errors
from flyq.errors import (
    ERROR_TABLE,
    ChecksumMismatch,
    FlyQError,
    KafkaError,
    LogClosed,
    LogFailed,
    OffsetStoreClosed,
    StorageError,
    kafka_error,
)

with warnings.catch_warnings():
    # kafka-python 3.x's package import uses the deprecated importlib.resources.read_text.
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka.errors

SPEC = Path(__file__).resolve().parents[2] / "spec" / "errors.md"
ROW = re.compile(
    r"^\| `(?P<cls>\w+)` \| (?P<code>-?\d+) \| (?P<name>[A-Z_]+) \| (?P<retriable>yes|no) \| "
    r"(?P<entry>own|`\w+`) \|"
)
# code -> (kafka-python's name, kafka-python's retriable flag) where they differ from the protocol
# guide (spec/errors.md §3); any other difference fails.
KAFKA_PYTHON_DIFFERENCES = {
    -1: ("UNKNOWN", False),
    2: ("CORRUPT_MESSAGE", False),
    6: ("NOT_LEADER_FOR_PARTITION", True),
    10: ("MESSAGE_SIZE_TOO_LARGE", False),
    17: ("INVALID_TOPIC", False),
}


def spec_rows() -> dict[str, tuple[KafkaError, str]]:
    """Class name -> (Kafka error, entry) for every row of spec/errors.md §2."""
    rows: dict[str, tuple[KafkaError, str]] = {}
    for line in SPEC.read_text().splitlines():
        match = ROW.match(line)
        if match:
            assert match["cls"] not in rows, f"{match['cls']} has two rows"
            error = KafkaError(int(match["code"]), match["name"], match["retriable"] == "yes")
            rows[match["cls"]] = (error, match["entry"].strip("`"))
    return rows


def flyq_error_classes() -> dict[str, type[FlyQError]]:
    """Every FlyQError subclass defined in the flyq package, after importing all its modules."""
    for module in pkgutil.walk_packages(flyq.__path__, "flyq."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: dict[str, type[FlyQError]] = {}
    pending: list[type[FlyQError]] = [FlyQError]
    while pending:
        cls = pending.pop()
        if cls.__module__.split(".")[0] == "flyq":
            assert found.setdefault(cls.__name__, cls) is cls, f"two classes named {cls.__name__}"
        pending.extend(cls.__subclasses__())
    return found


def nearest_listed(cls: type[FlyQError]) -> type[FlyQError]:
    return next(base for base in cls.__mro__ if base in ERROR_TABLE)


def test_spec_table_equals_code_table() -> None:
    """ERR-1, ERR-4: spec/errors.md §2 and ERROR_TABLE agree row by row, in both directions."""
    rows = spec_rows()
    classes = flyq_error_classes()
    assert len(rows) >= len(ERROR_TABLE) > 20
    for cls, error in ERROR_TABLE.items():
        assert cls.__name__ in rows, f"{cls.__name__} is in ERROR_TABLE but not in the spec"
        assert rows[cls.__name__] == (error, "own"), cls.__name__
    for name, (error, entry) in rows.items():
        assert name in classes, f"the spec lists {name}, which flyq does not define"
        cls = classes[name]
        assert kafka_error(cls) == error, name
        if entry == "own":
            assert cls in ERROR_TABLE, f"the spec says {name} has its own entry"
        else:
            assert cls not in ERROR_TABLE, f"{name} has its own entry, the spec says {entry}'s"
            assert nearest_listed(cls).__name__ == entry, name


def test_every_flyq_error_class_has_a_row() -> None:
    """ERR-4: every FlyQError subclass in flyq has a spec row; those of flyq/errors.py are listed."""
    rows = spec_rows()
    classes = flyq_error_classes()
    assert "InvalidBrokerConfig" in classes  # the walk reaches modules other than flyq.errors
    assert sorted(set(classes) - set(rows)) == []
    in_errors_module = {c for c in classes.values() if c.__module__ == "flyq.errors"}
    assert in_errors_module == set(ERROR_TABLE)


@pytest.mark.parametrize("error", sorted(set(ERROR_TABLE.values()), key=lambda e: e.code),
                         ids=lambda e: e.name)
def test_codes_agree_with_kafka_python(error: KafkaError) -> None:
    """ERR-2: each code's name and retriable flag are Kafka's, checked against kafka-python."""
    theirs = kafka.errors.for_code(error.code)
    assert theirs.errno == error.code
    expected = KAFKA_PYTHON_DIFFERENCES.get(error.code, (error.name, error.retriable))
    assert (theirs.message, theirs.retriable) == expected


def test_each_code_has_one_name() -> None:
    """ERR-2: no two Kafka errors in the table share a code or a name."""
    errors = set(ERROR_TABLE.values())
    assert len({e.code for e in errors}) == len({e.name for e in errors}) == len(errors)


def test_documented_differences_are_the_spec_ones() -> None:
    """ERR-2: the kafka-python differences the test accepts are exactly spec/errors.md §3."""
    section = SPEC.read_text().partition("## 3.")[2]
    codes = {int(m) for m in re.findall(r"^\| (-?\d+) \|", section, flags=re.MULTILINE)}
    assert codes == set(KAFKA_PYTHON_DIFFERENCES)


def test_closed_and_broken_differ() -> None:
    """ERR-3: closed by its owner and broken from outside answer different codes."""
    closed = {LogClosed("log is closed").code, OffsetStoreClosed("store is closed").code}
    broken = {LogFailed("d", OSError(5, "EIO")).code, StorageError("fsync", "f").code}
    assert broken == {56}
    assert closed.isdisjoint(broken)
    assert all(kafka_error(cls).retriable for cls in (LogClosed, OffsetStoreClosed))


def test_accessors_read_the_nearest_listed_entry() -> None:
    """ERR-1, ERR-5: code, retriable and kafka_error come from the nearest listed class."""

    class Unlisted(ChecksumMismatch):
        pass

    error = Unlisted(expected=1, actual=2, position=0)
    assert (error.code, error.retriable, error.kafka_error.name) == (2, True, "CORRUPT_MESSAGE")
    assert kafka_error(error) == kafka_error(Unlisted) == ERROR_TABLE[ChecksumMismatch]
    assert flyq.errors.FencedLeaderEpoch(3, 5, "become_leader").code == 74


def test_non_flyq_errors_are_unknown_server_errors() -> None:
    """ERR-1: an exception that is not a FlyQError is UNKNOWN_SERVER_ERROR."""
    assert kafka_error(ValueError("bug")) == KafkaError(-1, "UNKNOWN_SERVER_ERROR", False)
    assert kafka_error(KeyError) == kafka_error(FlyQError("x"))


def test_codes_survive_pickling() -> None:
    """ERR-5: an error rebuilt from a pickle keeps its attributes and its Kafka error."""
    error = pickle.loads(pickle.dumps(LogFailed("/data/t-0", OSError(5, "EIO"))))
    assert (type(error), error.directory, error.code) == (LogFailed, "/data/t-0", 56)


@pytest.mark.parametrize("error", sorted(set(ERROR_TABLE.values()), key=lambda e: e.code),
                         ids=lambda e: e.name)
def test_error_from_code_keeps_the_code(error: KafkaError) -> None:
    """ERR-6: the error a client raises for a code carries that code (or keeps it, RemoteError)."""
    raised = flyq.errors.error_from_code(error.code, "why")
    assert isinstance(raised, FlyQError)
    assert "why" in str(raised) and error.name in str(raised)
    if isinstance(raised, flyq.errors.RemoteError):
        assert raised.error_code == error.code == -1
    else:
        assert raised.code == error.code


def test_error_from_code_prefers_the_plain_class_and_keeps_unknown_codes() -> None:
    """ERR-6: 56 is a StorageError, 69 an UnknownGroup with its fields; a code without a class a
    RemoteError keeping it."""
    assert type(flyq.errors.error_from_code(56)) is StorageError
    unknown = flyq.errors.error_from_code(69, group="g")
    assert isinstance(unknown, flyq.errors.UnknownGroup) and unknown.group == "g"
    other = flyq.errors.error_from_code(44, "policy")
    assert isinstance(other, flyq.errors.RemoteError) and other.error_code == 44
