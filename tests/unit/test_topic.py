"""Topics on disk (flyq.impl.topic): names, metadata, lifecycle, produce path (TOPIC-1..3)."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flyq.codec.record_batch import iter_batch_headers
from flyq.errors import (
    CorruptCheckpoint,
    EmptyBatch,
    FlyQError,
    InvalidArgument,
    InvalidConfig,
    InvalidPartition,
    InvalidRecord,
    InvalidTopicName,
    LogClosed,
    TopicAlreadyExists,
    UnknownTopic,
)
from flyq.impl.config import LogConfig
from flyq.impl.filelayer import FileHandle, OsFileLayer
from flyq.impl.topic import METADATA_FILE, TopicStore, validate_topic_name
from flyq.records import Record

with warnings.catch_warnings():
    # kafka-python 3.x's package import uses the deprecated importlib.resources.read_text.
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.partitioner.default import DefaultPartitioner


class _Cluster:
    """The three ClusterMetadata methods kafka-python's DefaultPartitioner calls."""

    def __init__(self, partitions: int) -> None:
        self._partitions = set(range(partitions))

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return self._partitions

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self._partitions


def kafka_python_partition(key: bytes, partitions: int) -> int:
    """The partition kafka-python's DefaultPartitioner picks for `key`."""
    return int(DefaultPartitioner().partition("t", key, key, b"v", b"v", _Cluster(partitions)))


class RecordingLayer(OsFileLayer):
    """The real file layer, recording each directory-level call as (operation, path)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def open(self, path: str, *, create: bool) -> FileHandle:
        self.calls.append(("open", path))
        return super().open(path, create=create)

    def make_dirs(self, path: str) -> None:
        self.calls.append(("make_dirs", path))
        super().make_dirs(path)

    def rename(self, source: str, target: str) -> None:
        self.calls.append(("rename", f"{source} -> {target}"))
        super().rename(source, target)

    def remove(self, path: str) -> None:
        self.calls.append(("remove", path))
        super().remove(path)

    def remove_tree(self, path: str) -> None:
        self.calls.append(("remove_tree", path))
        super().remove_tree(path)

    def fsync_dir(self, path: str) -> None:
        self.calls.append(("fsync_dir", path))
        super().fsync_dir(path)


def keyed(*keys: bytes | None) -> list[Record]:
    """One record per key; the value says which input position it came from."""
    return [
        Record(value=str(i).encode(), key=key, timestamp=1000 + i) for i, key in enumerate(keys)
    ]


def all_records(store: TopicStore, name: str) -> dict[int, list[Record]]:
    """Every record of every partition, as appended, oldest first."""
    with store.open(name) as topic:
        return {
            partition: [stored.record for stored in topic.partition(partition).read(0)]
            for partition in range(topic.partitions)
        }


# --- names (TOPIC-2) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "must not be empty"),
        (".", "'.' and '..' are not allowed"),
        ("..", "'.' and '..' are not allowed"),
        ("../x", "character '/' at index 2"),
        ("a/b", "character '/' at index 1"),
        ("a\\b", "character '\\\\\\\\' at index 1"),
        ("x" * 250, "is 250 characters long, at most 249"),
        ("has space", "character ' ' at index 3"),
        ("caf\u00e9", "character '\u00e9' at index 3"),
        ("a:b", "character ':' at index 1"),
        ("nul\x00", "character '\\\\x00' at index 3"),
    ],
)
def test_invalid_topic_names_name_the_broken_rule(name: str, rule: str) -> None:
    """validate_topic_name raises InvalidTopicName whose message names the rule broken."""
    with pytest.raises(InvalidTopicName, match=rule):
        validate_topic_name(name)


@pytest.mark.parametrize("name", ["a", "orders", "A-b_c.1", "x" * 249, "...", "..a", ".hidden"])
def test_valid_topic_names_pass(name: str) -> None:
    """Names of 1..249 legal characters other than '.' and '..' are accepted."""
    validate_topic_name(name)


@pytest.mark.parametrize("name", ["../x", ".", "..", "a/b", "", "x" * 250, "a b"])
def test_create_with_a_bad_name_touches_nothing(tmp_path: Path, name: str) -> None:
    """create refuses a bad name before writing anything, so nothing escapes the data dir."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with pytest.raises(InvalidTopicName):
        TopicStore(str(data_dir)).create(name, 1)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["data"]


@pytest.mark.parametrize("operation", ["describe", "delete", "open", "metadata"])
def test_every_operation_validates_the_name(tmp_path: Path, operation: str) -> None:
    """describe/delete/open refuse a path-like name with InvalidTopicName, not a file error."""
    (tmp_path / "x").mkdir()
    store = TopicStore(str(tmp_path / "data"))
    with pytest.raises(InvalidTopicName):
        getattr(store, operation)("../x")
    assert (tmp_path / "x").exists()


def test_reserved_names_are_never_topics(tmp_path: Path) -> None:
    """TOPIC-2, BRK-1: the config file's name cannot be created, deleted, altered or listed as a
    topic, so `delete flyq.toml` never removes the broker config file."""
    data_dir = tmp_path / "data"
    (data_dir / "flyq.toml").mkdir(parents=True)
    (data_dir / "flyq.toml" / "topic.json").write_bytes(b"{}")
    store = TopicStore(str(data_dir))
    for operation in (lambda: store.create("flyq.toml", 1), lambda: store.delete("flyq.toml"),
                      lambda: store.alter("flyq.toml", {"segment_ms": 5})):
        with pytest.raises(InvalidTopicName, match="reserved"):
            operation()
    assert store.list() == []
    assert (data_dir / "flyq.toml" / "topic.json").exists()


# --- lifecycle (TOPIC-1) --------------------------------------------------------------------------


def test_create_list_describe_delete(tmp_path: Path) -> None:
    """A created topic is listed and described with empty partitions; delete removes it."""
    store = TopicStore(str(tmp_path / "data"), clock=lambda: 1_700_000_000_000)
    assert store.list() == []
    metadata = store.create("orders", 3)
    store.create("audit", 1)
    assert metadata.partitions == 3
    assert metadata.created_ms == 1_700_000_000_000
    assert store.list() == ["audit", "orders"]
    description = store.describe("orders")
    assert description.metadata == metadata
    assert [p.partition for p in description.partitions] == [0, 1, 2]
    for partition in description.partitions:
        assert (partition.log_start_offset, partition.log_end_offset) == (0, 0)
        assert partition.durable_offset == 0
    assert sorted(os.listdir(tmp_path / "data" / "orders")) == [
        "orders-0",
        "orders-1",
        "orders-2",
        METADATA_FILE,
    ]
    store.delete("orders")
    assert store.list() == ["audit"]
    assert not (tmp_path / "data" / "orders").exists()
    with pytest.raises(UnknownTopic, match="'orders' does not exist"):
        store.describe("orders")


def test_describe_reports_offsets_segments_and_bytes(tmp_path: Path) -> None:
    """describe shows each partition's end offset, durable offset, segment count and size."""
    store = TopicStore(str(tmp_path))
    store.create("t", 2, LogConfig(segment_bytes=200))
    with store.open("t") as topic:
        for i in range(5):
            topic.append([Record(value=b"x" * 60, timestamp=i)], partition=1)
    partitions = store.describe("t").partitions
    assert (partitions[0].log_end_offset, partitions[0].size_bytes) == (0, 0)
    assert partitions[1].log_end_offset == 5
    assert partitions[1].durable_offset == 5
    assert partitions[1].segments >= 2  # 200-byte segments cannot hold five 60-byte values
    assert partitions[1].size_bytes > 5 * 60


def test_create_existing_topic_raises(tmp_path: Path) -> None:
    """create of an existing topic raises TopicAlreadyExists and keeps its data."""
    store = TopicStore(str(tmp_path))
    store.create("t", 1)
    with store.open("t") as topic:
        topic.append(keyed(b"k"))
    with pytest.raises(TopicAlreadyExists, match="'t' already exists"):
        store.create("t", 5)
    assert store.metadata("t").partitions == 1
    assert len(all_records(store, "t")[0]) == 1


@pytest.mark.parametrize("partitions", [0, -3, True, 2.0, "3"])
def test_create_needs_at_least_one_partition(tmp_path: Path, partitions: object) -> None:
    """create raises InvalidArgument unless partitions is an int >= 1, and creates nothing."""
    store = TopicStore(str(tmp_path))
    with pytest.raises(InvalidArgument, match="partitions"):
        store.create("t", partitions)  # type: ignore[arg-type]
    assert store.list() == []
    assert not (tmp_path / "t").exists()


def test_unknown_topic_errors(tmp_path: Path) -> None:
    """open, describe and delete of a missing topic raise UnknownTopic naming it."""
    store = TopicStore(str(tmp_path / "missing-data-dir"))
    for operation in (store.open, store.describe, store.delete):
        with pytest.raises(UnknownTopic, match="'nope'"):
            operation("nope")


def test_metadata_round_trips_config_and_clock(tmp_path: Path) -> None:
    """topic.json keeps name, partitions, created_ms and every LogConfig field."""
    config = LogConfig(
        segment_bytes=4096,
        segment_ms=60_000,
        index_interval_bytes=128,
        index_max_bytes=1024,
        flush_messages=10,
        flush_ms=None,
        max_batch_bytes=2048,
    )
    store = TopicStore(str(tmp_path), clock=lambda: 42)
    created = store.create("t", 4, config)
    document = json.loads((tmp_path / "t" / METADATA_FILE).read_text())
    assert document["name"] == "t"
    assert document["partitions"] == 4
    assert document["created_ms"] == 42
    assert uuid.UUID(document["topic_id"]) == created.topic_id
    assert document["config"]["segment_bytes"] == 4096
    assert document["config"]["flush_ms"] is None
    assert TopicStore(str(tmp_path)).metadata("t") == created
    with TopicStore(str(tmp_path)).open("t") as topic:
        assert topic.metadata.config == config


def test_metadata_is_written_atomically_and_last(tmp_path: Path) -> None:
    """create makes the partition dirs, then writes topic.json via temp file, rename, dir fsync."""
    layer = RecordingLayer()
    TopicStore(str(tmp_path), file_layer=layer).create("t", 2)
    topic_dir = str(tmp_path / "t")
    final = os.path.join(topic_dir, METADATA_FILE)
    temp = final + ".tmp"
    calls = layer.calls
    rename = calls.index(("rename", f"{temp} -> {final}"))
    assert calls.index(("open", temp)) < rename
    assert calls[rename + 1] == ("fsync_dir", topic_dir)
    for partition in (0, 1):
        assert calls.index(("make_dirs", os.path.join(topic_dir, f"t-{partition}"))) < rename
    # The topic dir's entry and its partition dirs are durable before the commit point.
    before_commit = calls[: calls.index(("open", temp))]
    assert ("fsync_dir", str(tmp_path)) in before_commit
    assert ("fsync_dir", topic_dir) in before_commit
    assert not os.path.exists(temp)


def test_delete_removes_metadata_before_the_data(tmp_path: Path) -> None:
    """delete removes topic.json (the commit point) and fsyncs before removing the tree."""
    layer = RecordingLayer()
    store = TopicStore(str(tmp_path), file_layer=layer)
    store.create("t", 1)
    layer.calls.clear()
    store.delete("t")
    topic_dir = str(tmp_path / "t")
    assert layer.calls[:3] == [
        ("remove", os.path.join(topic_dir, METADATA_FILE)),
        ("fsync_dir", topic_dir),
        ("remove_tree", topic_dir),
    ]


def test_leftover_directory_is_not_a_topic(tmp_path: Path) -> None:
    """A topic dir without topic.json is not listed, refuses open, and create or delete clear it."""
    store = TopicStore(str(tmp_path))
    (tmp_path / "half" / "half-0").mkdir(parents=True)
    (tmp_path / "half" / "half-0" / "junk").write_bytes(b"x")
    (tmp_path / "stray-file").write_bytes(b"x")
    assert store.list() == []
    with pytest.raises(CorruptCheckpoint, match=r"topic\.json.*missing"):
        store.open("half")
    store.create("half", 2)
    assert not (tmp_path / "half" / "half-0" / "junk").exists()
    assert store.list() == ["half"]
    (tmp_path / "half" / METADATA_FILE).unlink()
    store.delete("half")
    assert not (tmp_path / "half").exists()


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"{not json", "topic.json"),
        (b"\xff\xfe", "topic.json"),
        (b"[]", "topic.json"),
        (b'{"version": 99}', "version"),
        (
            b'{"version": 1, "name": "t", "partitions": 0, "created_ms": 1, "config": {}}',
            "partitions",
        ),
        (
            b'{"version": 1, "name": "t", "partitions": "2", "created_ms": 1, "config": {}}',
            "partitions",
        ),
        (b'{"version": 1, "name": "u", "partitions": 2, "created_ms": 1, "config": {}}', "name"),
        (
            b'{"version": 1, "name": "t", "partitions": 2, "created_ms": 1, "config": {"x": 1}}',
            "config",
        ),
        (
            b'{"version": 1, "name": "t", "partitions": 2, "created_ms": 1,'
            b' "config": {"segment_bytes": 0}}',
            "config.segment_bytes",
        ),
    ],
)
def test_corrupt_metadata_is_reported_with_the_file(
    tmp_path: Path, content: bytes, field: str
) -> None:
    """A damaged topic.json raises CorruptCheckpoint naming the field and the file."""
    store = TopicStore(str(tmp_path))
    store.create("t", 2)
    path = tmp_path / "t" / METADATA_FILE
    path.write_bytes(content)
    with pytest.raises(CorruptCheckpoint) as raised:
        store.open("t")
    assert raised.value.field == field
    assert raised.value.source == str(path)
    assert str(path) in str(raised.value)


def test_json_error_position_is_a_byte_position(tmp_path: Path) -> None:
    """A JSON syntax error reports the byte at which parsing failed."""
    store = TopicStore(str(tmp_path))
    store.create("t", 1)
    (tmp_path / "t" / METADATA_FILE).write_bytes(b'{"name": "\xc3\xa9", oops}')
    with pytest.raises(CorruptCheckpoint) as raised:
        store.metadata("t")
    assert raised.value.position == len(b'{"name": "\xc3\xa9", ')


# --- the produce path (TOPIC-3) -------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    keys=st.lists(st.binary(max_size=12), min_size=1, max_size=60),
    partitions=st.integers(1, 7),
)
def test_keyed_records_land_where_kafka_python_puts_them(
    keys: list[bytes], partitions: int
) -> None:
    """Each keyed record goes to kafka-python's DefaultPartitioner choice, in input order."""
    with tempfile.TemporaryDirectory() as data_dir:
        store = TopicStore(data_dir)
        store.create("t", partitions)
        records = keyed(*keys)
        with store.open("t") as topic:
            topic.append(records)
        stored = all_records(store, "t")
    for partition in range(partitions):
        expected = [
            r for r in records if kafka_python_partition(r.key or b"", partitions) == partition
        ]
        assert stored[partition] == expected


def test_one_batch_per_partition_in_first_appearance_order(tmp_path: Path) -> None:
    """append groups records by partition: one batch each, in order of first appearance."""
    store = TopicStore(str(tmp_path))
    store.create("t", 3)
    records = keyed(*[f"key-{i % 10}".encode() for i in range(100)])
    targets = [kafka_python_partition(r.key or b"", 3) for r in records]
    order = list(dict.fromkeys(targets))
    with store.open("t") as topic:
        results = topic.append(records)
        assert [partition for partition, _ in results] == order
        for partition, result in results:
            assert result.base_offset == 0
            assert result.last_offset == targets.count(partition) - 1
            log_path = tmp_path / "t" / f"t-{partition}" / "00000000000000000000.log"
            topic.partition(partition).flush()
            assert len(list(iter_batch_headers(log_path.read_bytes()))) == 1
        second = topic.append(records)
    assert [(p, r.base_offset) for p, r in second] == [(p, targets.count(p)) for p in order]


def test_per_partition_order_survives_many_appends(tmp_path: Path) -> None:
    """Records of one key come back in produce order across appends and a reopen."""
    store = TopicStore(str(tmp_path))
    store.create("t", 4)
    with store.open("t") as topic:
        for round_number in range(5):
            topic.append(
                [
                    Record(value=f"{round_number}-{i}".encode(), key=f"k{i % 6}".encode())
                    for i in range(30)
                ]
            )
    stored = all_records(store, "t")
    for key in {f"k{i}".encode() for i in range(6)}:
        homes = [p for p, records in stored.items() if any(r.key == key for r in records)]
        assert len(homes) == 1
        values = [r.value for r in stored[homes[0]] if r.key == key]
        expected = [
            f"{n}-{i}".encode() for n in range(5) for i in range(30) if f"k{i % 6}".encode() == key
        ]
        assert values == expected


def test_explicit_partition_wins_over_the_key(tmp_path: Path) -> None:
    """With partition=p every record goes to p as one batch, whatever its key."""
    store = TopicStore(str(tmp_path))
    store.create("t", 3)
    records = keyed(b"a", b"b", None, b"c")
    with store.open("t") as topic:
        assert [p for p, _ in topic.append(records, partition=2)] == [2]
    assert all_records(store, "t") == {0: [], 1: [], 2: records}


@pytest.mark.parametrize(
    ("partition", "error"),
    [
        (3, InvalidPartition),
        (-1, InvalidPartition),
        (True, InvalidArgument),
        ("1", InvalidArgument),
    ],
)
def test_bad_explicit_partition_appends_nothing(
    tmp_path: Path, partition: object, error: type[FlyQError]
) -> None:
    """An explicit partition outside 0..n-1 raises and leaves every partition unchanged."""
    store = TopicStore(str(tmp_path))
    store.create("t", 3)
    with store.open("t") as topic:
        with pytest.raises(error):
            topic.append(keyed(b"a"), partition=partition)  # type: ignore[arg-type]
        with pytest.raises(error):
            topic.partition(partition)  # type: ignore[arg-type]
    assert all_records(store, "t") == {0: [], 1: [], 2: []}


def test_null_keys_go_round_robin(tmp_path: Path) -> None:
    """Null-key records cycle through the partitions, continuing across append calls."""
    store = TopicStore(str(tmp_path))
    store.create("t", 3)
    with store.open("t") as topic:
        topic.append(keyed(None, None, None, None))
        topic.append(keyed(None, None))
    stored = all_records(store, "t")
    assert [len(stored[p]) for p in range(3)] == [2, 2, 2]
    assert [r.value for r in stored[0]] == [b"0", b"3"]
    assert [r.value for r in stored[2]] == [b"2", b"1"]


def _invalid_batches() -> Sequence[tuple[list[Record], type[FlyQError]]]:
    # Keys a, b, f go to partitions 1, 2, 0: the bad record's batch would be appended last.
    assert [kafka_python_partition(key, 3) for key in (b"a", b"b", b"f")] == [1, 2, 0]
    return [
        ([], EmptyBatch),
        ([*keyed(b"a", b"b"), Record(value=b"x", key=b"f", timestamp=-1)], InvalidRecord),
        (
            [*keyed(b"a", b"b"), Record(value="text", key=b"f")],  # type: ignore[arg-type]
            InvalidRecord,
        ),
    ]


@pytest.mark.parametrize(("records", "error"), _invalid_batches())
def test_invalid_records_change_no_partition(
    tmp_path: Path, records: list[Record], error: type[FlyQError]
) -> None:
    """An empty or invalid append raises before any partition is appended to."""
    store = TopicStore(str(tmp_path))
    store.create("t", 3)
    with store.open("t") as topic, pytest.raises(error):
        topic.append(records)
    assert all_records(store, "t") == {0: [], 1: [], 2: []}


def test_partitions_open_lazily(tmp_path: Path) -> None:
    """Opening a topic opens no partition log; partition(p) opens only p's files."""
    layer = RecordingLayer()
    store = TopicStore(str(tmp_path), file_layer=layer)
    store.create("t", 3)
    layer.calls.clear()
    with store.open("t") as topic:
        opened_at_open = [path for op, path in layer.calls if op == "open"]
        assert opened_at_open == [str(tmp_path / "t" / METADATA_FILE)]
        topic.partition(1)
        assert topic.partition(1) is topic.partition(1)
    metadata_path = str(tmp_path / "t" / METADATA_FILE)
    partition_files = [path for op, path in layer.calls if op == "open" and path != metadata_path]
    assert partition_files
    assert all(path.startswith(str(tmp_path / "t" / "t-1") + os.sep) for path in partition_files)


def test_closed_topic_refuses_use(tmp_path: Path) -> None:
    """After close, append and partition raise LogClosed; close again is a no-op."""
    store = TopicStore(str(tmp_path))
    store.create("t", 1)
    topic = store.open("t")
    log = topic.partition(0)
    topic.close()
    topic.close()
    with pytest.raises(LogClosed):
        topic.append(keyed(b"a"))
    with pytest.raises(LogClosed):
        topic.partition(0)
    with pytest.raises(LogClosed):
        log.append(keyed(b"a"))


# --- alter (TOPIC-4) ------------------------------------------------------------------------------


def test_alter_persists_the_new_config(tmp_path: Path) -> None:
    """alter rewrites topic.json; a new TopicStore sees the change and the rest unchanged."""
    store = TopicStore(str(tmp_path), clock=lambda: 7)
    store.create("t", 2, LogConfig(segment_bytes=4096))
    altered = store.alter("t", {"segment_ms": 5, "flush_messages": 3})
    expected = LogConfig(segment_bytes=4096, segment_ms=5, flush_messages=3)
    assert altered.config == expected
    reread = TopicStore(str(tmp_path)).metadata("t")
    assert reread.config == expected
    assert (reread.partitions, reread.created_ms) == (2, 7)
    assert not (tmp_path / "t" / (METADATA_FILE + ".tmp")).exists()


def test_alter_can_unset_an_optional_field(tmp_path: Path) -> None:
    """None unsets flush_messages."""
    store = TopicStore(str(tmp_path))
    store.create("t", 1, LogConfig(flush_messages=9))
    assert store.alter("t", {"flush_messages": None}).config.flush_messages is None


def test_alter_applies_at_the_next_open(tmp_path: Path) -> None:
    """A partition log opened after alter uses the new config."""
    store = TopicStore(str(tmp_path))
    store.create("t", 1)
    store.alter("t", {"max_batch_bytes": 100})
    with store.open("t") as topic:
        assert topic.metadata.config.max_batch_bytes == 100


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"segment_bytes": 0}, "segment_bytes"),
        ({"bogus": 1}, "bogus"),
        ({"index_max_bytes": 8}, "index_max_bytes"),
    ],
)
def test_alter_validates_and_changes_nothing(
    tmp_path: Path, changes: dict[str, int | None], key: str
) -> None:
    """A bad key or value raises InvalidConfig naming the key; topic.json stays as it was."""
    store = TopicStore(str(tmp_path))
    store.create("t", 1)
    before = (tmp_path / "t" / METADATA_FILE).read_bytes()
    with pytest.raises(InvalidConfig) as raised:
        store.alter("t", changes)
    assert raised.value.key == key
    assert (tmp_path / "t" / METADATA_FILE).read_bytes() == before


def test_alter_unknown_topic(tmp_path: Path) -> None:
    """alter of a topic that does not exist raises UnknownTopic."""
    with pytest.raises(UnknownTopic):
        TopicStore(str(tmp_path)).alter("nope", {"segment_ms": 1})


def test_topic_ids_are_kept_and_new_for_each_incarnation(tmp_path: Path) -> None:
    """TOPIC-6: create picks a non-zero id, topic.json keeps it through alter and growth, and a
    topic deleted and created again under the same name gets another id."""
    store = TopicStore(str(tmp_path), clock=lambda: 42)
    first = store.create("t", 1)
    assert first.topic_id.int != 0
    store.alter("t", {"segment_ms": 1000})
    store.add_partitions("t", 3)
    assert TopicStore(str(tmp_path)).metadata("t").topic_id == first.topic_id
    other = store.create("u", 1)
    store.delete("t")
    again = store.create("t", 1)  # same name, same clock reading
    assert len({first.topic_id, other.topic_id, again.topic_id}) == 3


def test_a_topic_json_without_an_id_gets_the_same_derived_id_at_every_read(tmp_path: Path) -> None:
    """TOPIC-6, format.md §6: files written before ids were kept have the uuid5 of name and time,
    and an alter writes that id down."""
    store = TopicStore(str(tmp_path))
    store.create("t", 1)
    path = tmp_path / "t" / METADATA_FILE
    document = json.loads(path.read_text())
    del document["topic_id"]
    document["created_ms"] = 1234
    path.write_text(json.dumps(document))
    expected = uuid.uuid5(uuid.UUID("5c1f1f0e-7d4a-4e8e-9a51-0f1a7c6b2d93"), "t/1234")
    assert TopicStore(str(tmp_path)).metadata("t").topic_id == expected
    assert TopicStore(str(tmp_path)).metadata("t").topic_id == expected
    store.alter("t", {"segment_ms": 1000})
    assert json.loads(path.read_text())["topic_id"] == str(expected)
