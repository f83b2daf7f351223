"""Topics (flyq.impl.topic, TOPIC-1..3): what callers rely on beyond the happy path.

Each test closes a gap that mutation testing showed: the attributes errors carry (STYLE.md
"Errors": they name what and where), what a topic hands its partition logs, and close failures.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from flyq.errors import (
    CorruptCheckpoint,
    InvalidArgument,
    InvalidConfig,
    InvalidPartition,
    InvalidTopicName,
    LogClosed,
    OffsetOutOfRange,
    StorageError,
)
from flyq.impl.config import LogConfig
from flyq.impl.filelayer import OsFileLayer
from flyq.impl.partitioner import RoundRobinPartitioner
from flyq.impl.topic import METADATA_FILE, TopicStore, validate_topic_name
from flyq.records import Record


def unkeyed(count: int) -> list[Record]:
    return [Record(value=b"v%d" % i, key=None, timestamp=1000 + i) for i in range(count)]


@pytest.mark.parametrize(("name", "shown"), [(b"raw", repr(b"raw")), (7, "7"), (None, "None")])
def test_non_str_topic_name_is_named_with_its_type(name: object, shown: str) -> None:
    """TOPIC-2: a name that is not a str is refused, naming its repr and its type."""
    with pytest.raises(InvalidTopicName) as caught:
        validate_topic_name(name)  # type: ignore[arg-type]
    assert caught.value.name == repr(name)
    assert shown in str(caught.value)
    assert type(name).__name__ in str(caught.value)


@pytest.mark.parametrize("name", ["", ".", "..", "x" * 250, "a b"])
def test_invalid_topic_name_error_carries_the_name(name: str) -> None:
    """TOPIC-2: InvalidTopicName.name is the name refused, not a placeholder."""
    with pytest.raises(InvalidTopicName) as caught:
        validate_topic_name(name)
    assert caught.value.name == name
    assert str(caught.value).startswith(f"invalid topic name {name!r}: ")


def test_created_ms_defaults_to_the_wall_clock(tmp_path: Path) -> None:
    """TOPIC-1: without an injected clock, created_ms is the wall clock in milliseconds."""
    before = time.time_ns() // 1_000_000
    metadata = TopicStore(str(tmp_path)).create("t", 1)
    after = time.time_ns() // 1_000_000
    assert before <= metadata.created_ms <= after


def write_metadata(tmp_path: Path, document: object) -> tuple[TopicStore, str]:
    store = TopicStore(str(tmp_path))
    store.create("t", 1)
    path = os.path.join(str(tmp_path), "t", METADATA_FILE)
    Path(path).write_bytes(document if isinstance(document, bytes)
                           else json.dumps(document).encode())
    return store, path


GOOD = {"version": 1, "name": "t", "partitions": 1, "created_ms": 5, "config": {}}


@pytest.mark.parametrize(
    ("document", "field", "position", "words"),
    [
        (b'{"name": "t\xff"}', "topic.json", 11, "UTF-8"),
        (b"{not json", "topic.json", 1, "JSON"),
        (b"[1]", "topic.json", 0, "JSON object"),
        ({**GOOD, "version": 9}, "version", 0, "9"),
        ({**GOOD, "name": 3}, "name", 0, "3"),
        ({**GOOD, "partitions": 0}, "partitions", 0, "0"),
        ({**GOOD, "created_ms": "soon"}, "created_ms", 0, "soon"),
        ({**GOOD, "config": [1]}, "config", 0, "[1]"),
        ({**GOOD, "config": {"colour": 1}}, "config", 0, "colour"),
        ({**GOOD, "config": {"segment_bytes": 0}}, "config.segment_bytes", 0, "segment_bytes"),
        ({**GOOD, "name": "u"}, "name", 0, "'u'"),
        ({**GOOD, "topic_id": "not-a-uuid"}, "topic_id", 0, "not-a-uuid"),
        ({**GOOD, "topic_id": 7}, "topic_id", 0, "7"),
        ({**GOOD, "topic_id": "00000000-0000-0000-0000-000000000000"}, "topic_id", 0, "non-zero"),
    ],
)
def test_bad_topic_json_names_field_position_and_file(
    tmp_path: Path, document: object, field: str, position: int, words: str
) -> None:
    """format.md §6: a bad topic.json raises CorruptCheckpoint naming field, byte and file."""
    store, path = write_metadata(tmp_path, document)
    with pytest.raises(CorruptCheckpoint) as caught:
        store.metadata("t")
    error = caught.value
    assert (error.field, error.position, error.source) == (field, position, path)
    assert words in str(error)
    assert "None" not in str(error)


def test_missing_topic_json_is_reported_not_created(tmp_path: Path) -> None:
    """TOPIC-1: a topic directory without topic.json is reported and topic.json is not made."""
    store = TopicStore(str(tmp_path))
    store.create("t", 1)
    path = tmp_path / "t" / METADATA_FILE
    path.unlink()
    with pytest.raises(CorruptCheckpoint) as caught:
        store.metadata("t")
    assert (caught.value.field, caught.value.position, caught.value.source) == (
        METADATA_FILE, 0, str(path))
    assert "delete the topic" in str(caught.value)
    assert not path.exists()


@pytest.mark.parametrize(("arguments", "name", "value"), [
    ((0, None), "partitions", 0),
    ((True, None), "partitions", True),
    ((1, {"segment_bytes": 1}), "config", {"segment_bytes": 1}),
])
def test_create_argument_errors_name_argument_and_value(
    tmp_path: Path, arguments: tuple[object, object], name: str, value: object
) -> None:
    """TOPIC-1: create refuses a bad argument with InvalidArgument naming it and its value."""
    partitions, config = arguments
    with pytest.raises(InvalidArgument) as caught:
        TopicStore(str(tmp_path)).create("t", partitions, config)  # type: ignore[arg-type]
    assert (caught.value.name, caught.value.value) == (name, value)
    assert str(caught.value).partition(": expected ")[2] not in ("", "None")


class FsyncRecordingLayer(OsFileLayer):
    """The real file layer, recording which directories are created and fsynced."""

    def __init__(self) -> None:
        self.made: list[str] = []
        self.synced: list[str] = []

    def make_dirs(self, path: str) -> None:
        self.made.append(path)
        super().make_dirs(path)

    def fsync_dir(self, path: str) -> None:
        self.synced.append(path)
        super().fsync_dir(path)


def test_create_makes_a_missing_data_dir_durably(tmp_path: Path) -> None:
    """TOPIC-1: a missing data directory is created and its parent fsynced; an existing one is
    left alone."""
    data_dir = str(tmp_path / "data")
    layer = FsyncRecordingLayer()
    TopicStore(data_dir, file_layer=layer).create("a", 1)
    assert layer.made[0] == data_dir
    assert layer.synced[0] == str(tmp_path)
    layer.made.clear()
    layer.synced.clear()
    TopicStore(data_dir, file_layer=layer).create("b", 1)
    assert data_dir not in layer.made
    assert str(tmp_path) not in layer.synced


def test_list_skips_foreign_entries_and_keeps_going(tmp_path: Path) -> None:
    """TOPIC-2: entries that are not topic names are skipped, never end the listing."""
    store = TopicStore(str(tmp_path))
    names = [f"t{i}" for i in range(8)]
    for name in names:
        store.create(name, 1)
    for foreign in (" first", "~last", "a b", "lost+found"):
        (tmp_path / foreign).mkdir()
    assert store.list() == names


def test_partition_errors_name_topic_and_partition(tmp_path: Path) -> None:
    """TOPIC-3: InvalidArgument and InvalidPartition name the partition asked for."""
    store = TopicStore(str(tmp_path))
    store.create("t", 2)
    with store.open("t") as topic:
        with pytest.raises(InvalidArgument) as wrong_type:
            topic.partition("0")  # type: ignore[arg-type]
        assert (wrong_type.value.name, wrong_type.value.value) == ("partition", "0")
        assert str(wrong_type.value) == "partition='0': expected an integer"
        with pytest.raises(InvalidPartition) as missing:
            topic.partition(2)
        assert (missing.value.topic, missing.value.partition) == ("t", 2)


def test_partition_logs_get_the_topic_clock_and_their_name(tmp_path: Path) -> None:
    """TOPIC-3: a partition log uses the store's clock and names its topic and partition."""
    store = TopicStore(str(tmp_path), clock=lambda: 4242)
    store.create("t", 2)
    with store.open("t") as topic:
        log = topic.partition(1)
        assert log.health().last_flush_ms == 4242
        topic.append(unkeyed(1), partition=1)
        with pytest.raises(OffsetOutOfRange) as caught:
            list(log.read(5))
        assert (caught.value.topic, caught.value.partition) == ("t", 1)


def test_describe_reports_the_high_watermark(tmp_path: Path) -> None:
    """TOPIC-3: describe reports each partition's high watermark."""
    store = TopicStore(str(tmp_path))
    store.create("t", 1)
    with store.open("t") as topic:
        topic.append(unkeyed(3))
    (partition,) = store.describe("t").partitions
    assert partition.high_watermark == partition.log_end_offset == 3


def test_open_uses_the_given_round_robin(tmp_path: Path) -> None:
    """TOPIC-3: null-key records follow the round robin handed to open, per topic."""
    store = TopicStore(str(tmp_path))
    store.create("a", 4)
    store.create("b", 4)
    round_robin = RoundRobinPartitioner(start=2)
    with store.open("a", round_robin=round_robin) as a, store.open("b", round_robin=round_robin) as b:
        assert a.assign(unkeyed(3)) == [2, 3, 0]
        assert b.assign(unkeyed(2)) == [2, 3]
        assert a.assign(unkeyed(1)) == [1]


class FailingRenameLayer(OsFileLayer):
    """The real file layer, whose renames fail once `broken` is set (a disk gone bad)."""

    broken = False

    def rename(self, source: str, target: str) -> None:
        if self.broken:
            raise StorageError("rename", source)
        super().rename(source, target)


def test_close_closes_every_log_and_raises_the_first_failure(tmp_path: Path) -> None:
    """TOPIC-3: a failing partition close does not stop the others; its error is raised."""
    layer = FailingRenameLayer()
    store = TopicStore(str(tmp_path), file_layer=layer)
    store.create("t", 2, LogConfig())
    topic = store.open("t")
    logs = [topic.partition(0), topic.partition(1)]
    layer.broken = True
    with pytest.raises(StorageError) as caught:
        topic.close()
    assert caught.value.path.startswith(os.path.join(str(tmp_path), "t", "t-0"))
    layer.broken = False
    for log in logs:
        with pytest.raises(Exception, match="closed"):
            log.append(unkeyed(1))


def test_closed_topic_error_names_the_topic(tmp_path: Path) -> None:
    """TOPIC-3: a closed topic refuses partition and append with LogClosed naming the topic."""
    store = TopicStore(str(tmp_path))
    store.create("orders", 1)
    topic = store.open("orders")
    topic.close()
    with pytest.raises(LogClosed, match="'orders'"):
        topic.partition(0)
    with pytest.raises(LogClosed, match="'orders'"):
        topic.append(unkeyed(1))


def test_alter_unknown_key_names_key_value_and_the_known_keys(tmp_path: Path) -> None:
    """TOPIC-4: alter refuses an unknown key with InvalidConfig naming it, its value and the keys."""
    store = TopicStore(str(tmp_path))
    store.create("t", 1)
    with pytest.raises(InvalidConfig) as caught:
        store.alter("t", {"colour": 3})
    assert (caught.value.key, caught.value.value) == ("colour", 3)
    assert "segment_bytes, " in str(caught.value)
