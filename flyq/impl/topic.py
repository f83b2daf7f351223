"""Topics on disk: a directory of partition logs plus a metadata file.

Layout under the data directory (decided by `flyq.broker.layout`):

    DATA_DIR/NAME/topic.json       name, partitions, created_ms, topic_id, config (LogConfig fields)
    DATA_DIR/NAME/NAME-0/ ...      one PartitionLog directory per partition, like Kafka's
    DATA_DIR/NAME/NAME-<n-1>/

Rules this module keeps:

- TOPIC-1 `topic.json` is the commit point of a topic. `create` writes it last (temp file, fsync,
  rename, fsync of the directory); `delete` removes it first. A directory without it is the residue
  of an interrupted create or delete: it is not listed, `create` clears it, `delete` removes it, and
  `open`/`describe` refuse it with `CorruptCheckpoint` naming the file.
- TOPIC-2 Names are 1..249 characters from ASCII letters, digits, `.`, `_`, `-`, and not `.` or
  `..`; so a name is always exactly one path component inside the data directory
  (`flyq.codec.topic_name`). Names the data directory reserves (`flyq.toml`) are refused too, and
  every path comes from `flyq.broker.layout`.
- TOPIC-3 A record with an explicit partition goes there; otherwise a keyed record goes to
  `partition_for_key(key, n)` (Kafka's murmur2 choice) and a null-key record round robin. One
  `Topic.append` call appends one batch per target partition, each holding that partition's records
  in the order they were given.
- TOPIC-4 `alter` changes a topic's stored config: the new `LogConfig` is validated as a whole,
  then `topic.json` is replaced atomically as `create` writes it (so a crash leaves the old file or
  the new one). Partition logs read their config when they open, so the new values apply at the
  next open; logs already open keep the old ones.
- TOPIC-5 `add_partitions` only grows a topic: new partition directories are made and synced
  before `topic.json` is replaced, so a crash leaves either the old count or the new one.
- TOPIC-6 Every topic has a topic id (Kafka's `Uuid`, never all zeros) chosen at `create` (random)
  and kept in `topic.json`, so deleting a topic and creating one of the same name gives a new id.
  `alter` and `add_partitions` keep it. A `topic.json` written before ids existed has none; its id
  is derived from its name and `created_ms` (`derived_topic_id`), the same at every read.

Every file operation goes through the `FileLayer`, as in the partition log.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import attrs

from flyq.api import AppendResult
from flyq.broker.layout import (
    TOPIC_METADATA_FILE,
    check_topic_name,
    partition_directory,
    topic_directory,
)
from flyq.clock import wall_clock_ms
from flyq.codec.topic_name import MAX_TOPIC_NAME_LENGTH, validate_topic_name
from flyq.errors import (
    CorruptCheckpoint,
    EmptyBatch,
    InvalidArgument,
    InvalidConfig,
    InvalidPartition,
    InvalidTopicName,
    LogClosed,
    TopicAlreadyExists,
    UnknownTopic,
)
from flyq.impl.checkpoint_file import replace_file
from flyq.impl.config import LogConfig
from flyq.impl.filelayer import FileLayer, OsFileLayer, make_dirs_durably
from flyq.impl.log import PartitionLog
from flyq.impl.partitioner import RoundRobinPartitioner, partition_for_key
from flyq.records import Record, validate_record
from flyq.values import is_int

__all__ = [
    "MAX_TOPIC_NAME_LENGTH",
    "METADATA_FILE",
    "PartitionDescription",
    "Topic",
    "TopicDescription",
    "TopicMetadata",
    "TopicStore",
    "derived_topic_id",
    "random_topic_id",
    "validate_topic_name",
]

METADATA_FILE = TOPIC_METADATA_FILE
METADATA_VERSION = 1
_CONFIG_FIELDS = tuple(field.name for field in attrs.fields(LogConfig))
# Names the topic ids derived for topic.json files written before ids were stored (TOPIC-6).
_TOPIC_ID_NAMESPACE = uuid.UUID("5c1f1f0e-7d4a-4e8e-9a51-0f1a7c6b2d93")


def derived_topic_id(name: str, created_ms: int) -> uuid.UUID:
    """The id of a topic whose `topic.json` holds none (TOPIC-6): a function of name and time."""
    return uuid.uuid5(_TOPIC_ID_NAMESPACE, f"{name}/{created_ms}")


def random_topic_id(name: str, created_ms: int) -> uuid.UUID:
    """A fresh id for a new topic (TOPIC-6); the arguments are unused, kept for injection."""
    del name, created_ms
    while True:
        topic_id = uuid.uuid4()
        if topic_id.int != 0:  # Kafka reserves the zero Uuid for "no id"
            return topic_id


@attrs.frozen
class TopicMetadata:
    """What `topic.json` holds."""

    name: str
    partitions: int
    created_ms: int
    config: LogConfig
    topic_id: uuid.UUID = attrs.field(
        default=attrs.Factory(lambda self: derived_topic_id(self.name, self.created_ms),
                              takes_self=True))

    def to_json(self) -> bytes:
        """The bytes of `topic.json`: ASCII JSON, keys in a fixed order."""
        document = {
            "version": METADATA_VERSION,
            "name": self.name,
            "partitions": self.partitions,
            "created_ms": self.created_ms,
            "topic_id": str(self.topic_id),
            "config": attrs.asdict(self.config),
        }
        return (json.dumps(document, indent=2) + "\n").encode("ascii")

    @classmethod
    def from_json(cls, data: bytes, *, source: str) -> TopicMetadata:
        """Parse `topic.json`; `CorruptCheckpoint` naming the field if anything is off."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CorruptCheckpoint(
                "not UTF-8 text", field="topic.json", position=exc.start, source=source
            ) from exc
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            position = len(text[: exc.pos].encode("utf-8"))
            raise CorruptCheckpoint(
                f"not valid JSON ({exc.msg})",
                field="topic.json",
                position=position,
                source=source,
            ) from exc
        if not isinstance(document, dict):
            raise _bad_field("topic.json", "expected a JSON object", source)
        version = document.get("version")
        if version != METADATA_VERSION:
            raise _bad_field("version", f"is {version!r}, expected {METADATA_VERSION}", source)
        name = document.get("name")
        if not isinstance(name, str):
            raise _bad_field("name", f"is {name!r}, expected a string", source)
        partitions = _int_field(document, "partitions", source)
        if partitions < 1:
            raise _bad_field("partitions", f"is {partitions}, expected >= 1", source)
        created_ms = _int_field(document, "created_ms", source)
        raw_topic_id = document.get("topic_id")
        topic_id = derived_topic_id(name, created_ms)
        if raw_topic_id is not None:
            topic_id = _topic_id_field(raw_topic_id, source)
        raw_config = document.get("config")
        if not isinstance(raw_config, dict):
            raise _bad_field("config", f"is {raw_config!r}, expected a JSON object", source)
        unknown = sorted(set(raw_config) - set(_CONFIG_FIELDS))
        if unknown:
            raise _bad_field("config", f"unknown keys {unknown}", source)
        try:
            # Missing keys take LogConfig's defaults, so files written before a field existed load.
            config = LogConfig(**raw_config)
        except InvalidConfig as exc:
            raise _bad_field(f"config.{exc.key}", str(exc), source) from exc
        return cls(name=name, partitions=partitions, created_ms=created_ms, config=config,
                   topic_id=topic_id)


def _bad_field(field: str, what: str, source: str) -> CorruptCheckpoint:
    return CorruptCheckpoint(what, field=field, position=0, source=source)


def _topic_id_field(value: object, source: str) -> uuid.UUID:
    bad = _bad_field("topic_id", f"is {value!r}, expected a non-zero UUID string", source)
    if not isinstance(value, str):
        raise bad
    try:
        topic_id = uuid.UUID(value)
    except ValueError:
        raise bad from None
    if topic_id.int == 0:
        raise bad
    return topic_id


def _int_field(document: dict[str, object], field: str, source: str) -> int:
    value = document.get(field)
    if not is_int(value):
        raise _bad_field(field, f"is {value!r}, expected an integer", source)
    return value


@attrs.frozen
class PartitionDescription:
    """State of one partition log as `describe` reports it."""

    partition: int
    log_start_offset: int
    high_watermark: int
    log_end_offset: int
    durable_offset: int
    segments: int
    size_bytes: int


@attrs.frozen
class TopicDescription:
    """A topic's metadata plus the state of each of its partitions."""

    metadata: TopicMetadata
    partitions: tuple[PartitionDescription, ...]


class TopicStore:
    """The topics of one data directory: create, list, describe, delete, open."""

    def __init__(
        self,
        data_dir: str,
        *,
        file_layer: FileLayer | None = None,
        clock: Callable[[], int] | None = None,
        new_topic_id: Callable[[str, int], uuid.UUID] = random_topic_id,
    ) -> None:
        self.data_dir = data_dir
        self._new_topic_id = new_topic_id  # TOPIC-6; the crash harness injects a deterministic one
        self._layer: FileLayer = file_layer if file_layer is not None else OsFileLayer()
        # The injected clock (ms) is handed to every partition log; topic.json's created_ms uses
        # it too, or the wall clock when none is injected.
        self._clock = clock

    def _topic_directory(self, name: str) -> str:
        return topic_directory(self.data_dir, name)

    def _now_ms(self) -> int:
        return self._clock() if self._clock is not None else wall_clock_ms()

    def create(self, name: str, partitions: int, config: LogConfig | None = None) -> TopicMetadata:
        """Create topic `name` with `partitions` empty partition logs (TOPIC-1)."""
        directory = self._topic_directory(name)
        if not is_int(partitions) or partitions < 1:
            raise InvalidArgument("partitions", partitions, "an integer >= 1")
        if config is None:
            config = LogConfig()
        elif not isinstance(config, LogConfig):
            raise InvalidArgument("config", config, "a LogConfig or None")
        layer = self._layer
        metadata_path = os.path.join(directory, METADATA_FILE)
        if layer.exists(metadata_path):
            raise TopicAlreadyExists(name)
        make_dirs_durably(layer, self.data_dir)
        if layer.exists(directory):
            # Residue of an interrupted create or delete: nothing in it was ever committed.
            layer.remove_tree(directory)
        layer.make_dirs(directory)
        layer.fsync_dir(self.data_dir)
        for partition in range(partitions):
            layer.make_dirs(partition_directory(self.data_dir, name, partition))
        layer.fsync_dir(directory)
        created_ms = self._now_ms()
        metadata = TopicMetadata(name=name, partitions=partitions, created_ms=created_ms,
                                 config=config, topic_id=self._new_topic_id(name, created_ms))
        self._write_atomically(directory, METADATA_FILE, metadata.to_json())
        return metadata

    def _write_atomically(self, directory: str, file_name: str, data: bytes) -> None:
        replace_file(self._layer, os.path.join(directory, file_name), data)

    def alter(self, name: str, changes: Mapping[str, int | str | None]) -> TopicMetadata:
        """Set the `LogConfig` fields in `changes` in topic `name`'s `topic.json` (TOPIC-4).

        Raises `InvalidConfig` for an unknown key or a value breaking a rule, changing nothing.
        """
        for key, value in changes.items():
            if key not in _CONFIG_FIELDS:
                raise InvalidConfig(
                    key, value, f"unknown key; expected one of {', '.join(_CONFIG_FIELDS)}"
                )
        metadata = self.metadata(name)
        # Per field an int, None or (TEXT_FIELDS) a word; LogConfig's validators check them all.
        values: dict[str, Any] = attrs.asdict(metadata.config)
        values.update(changes)
        config = LogConfig(**values)
        altered = attrs.evolve(metadata, config=config)
        self._write_atomically(self._topic_directory(name), METADATA_FILE, altered.to_json())
        return altered

    def add_partitions(self, name: str, count: int) -> TopicMetadata:
        """Grow topic `name` to `count` partitions (TOPIC-5, Kafka's CreatePartitions).

        The new partition directories are made and synced first, then `topic.json` is replaced:
        a crash before the replace leaves empty directories no metadata names, which a later
        call reuses. Raises `InvalidArgument` unless `count` exceeds the current count.
        """
        metadata = self.metadata(name)
        if not is_int(count) or count <= metadata.partitions:
            raise InvalidArgument("count", count,
                                  f"more than the {metadata.partitions} partitions {name!r} has")
        directory = self._topic_directory(name)
        layer = self._layer
        for partition in range(metadata.partitions, count):
            path = partition_directory(self.data_dir, name, partition)
            if not layer.exists(path):
                layer.make_dirs(path)
        layer.fsync_dir(directory)
        grown = attrs.evolve(metadata, partitions=count)
        self._write_atomically(directory, METADATA_FILE, grown.to_json())
        return grown

    def list(self) -> list[str]:
        """Names of the committed topics, sorted."""
        layer = self._layer
        if not layer.exists(self.data_dir):
            return []
        names = []
        for entry in layer.list_dir(self.data_dir):
            try:
                check_topic_name(entry)
            except InvalidTopicName:
                continue
            if layer.exists(os.path.join(self.data_dir, entry, METADATA_FILE)):
                names.append(entry)
        return names

    def metadata(self, name: str) -> TopicMetadata:
        """The parsed `topic.json` of topic `name`."""
        directory = self._topic_directory(name)
        layer = self._layer
        if not layer.exists(directory):
            raise UnknownTopic(name)
        path = os.path.join(directory, METADATA_FILE)
        if not layer.exists(path):
            raise CorruptCheckpoint(
                "the file is missing: the directory is left over from an interrupted create or "
                "delete; delete the topic to remove it",
                field=METADATA_FILE,
                position=0,
                source=path,
            )
        handle = layer.open(path, create=False)
        try:
            data = handle.pread(handle.size(), 0)
        finally:
            handle.close()
        metadata = TopicMetadata.from_json(data, source=path)
        if metadata.name != name:
            raise _bad_field("name", f"is {metadata.name!r} in the directory of {name!r}", path)
        return metadata

    def open(self, name: str, *, round_robin: RoundRobinPartitioner | None = None) -> Topic:
        """Open topic `name`; its partition logs open on first use."""
        metadata = self.metadata(name)
        return Topic(
            metadata,
            os.path.join(self.data_dir, name),
            file_layer=self._layer,
            clock=self._clock,
            round_robin=round_robin,
        )

    def describe(self, name: str) -> TopicDescription:
        """Metadata and per-partition offsets, segment count and bytes of topic `name`.

        Opens (and closes) every partition log, so an uncleanly closed one is recovered here.
        """
        with self.open(name) as topic:
            partitions = []
            for partition in range(topic.partitions):
                log = topic.partition(partition)
                segments = log.segments
                partitions.append(
                    PartitionDescription(
                        partition=partition,
                        log_start_offset=log.log_start_offset,
                        high_watermark=log.high_watermark,
                        log_end_offset=log.log_end_offset,
                        durable_offset=log.durable_offset,
                        segments=len(segments),
                        size_bytes=sum(segment.size for segment in segments),
                    )
                )
            return TopicDescription(metadata=topic.metadata, partitions=tuple(partitions))

    def delete(self, name: str) -> None:
        """Delete topic `name` and all its data (TOPIC-1: topic.json goes first).

        The caller must have closed any `Topic` it opened on it.
        """
        directory = self._topic_directory(name)
        layer = self._layer
        if not layer.exists(directory):
            raise UnknownTopic(name)
        metadata_path = os.path.join(directory, METADATA_FILE)
        if layer.exists(metadata_path):
            layer.remove(metadata_path)
            layer.fsync_dir(directory)
        layer.remove_tree(directory)
        layer.fsync_dir(self.data_dir)


class Topic:
    """An open topic: its partition logs, opened lazily, and the produce path (TOPIC-3)."""

    def __init__(
        self,
        metadata: TopicMetadata,
        directory: str,
        *,
        file_layer: FileLayer | None = None,
        clock: Callable[[], int] | None = None,
        round_robin: RoundRobinPartitioner | None = None,
    ) -> None:
        self.metadata = metadata
        self.directory = directory
        self._layer = file_layer
        self._clock = clock
        self._round_robin = round_robin if round_robin is not None else RoundRobinPartitioner()
        self._logs: dict[int, PartitionLog] = {}
        self._closed = False

    @property
    def name(self) -> str:
        """The topic's name."""
        return self.metadata.name

    @property
    def partitions(self) -> int:
        """How many partitions the topic has."""
        return self.metadata.partitions

    def _check_partition(self, partition: int) -> None:
        if not is_int(partition):
            raise InvalidArgument("partition", partition, "an integer")
        if not 0 <= partition < self.metadata.partitions:
            raise InvalidPartition(self.name, partition, self.metadata.partitions)

    def partition(self, partition: int) -> PartitionLog:
        """The log of `partition`, opened on first use."""
        if self._closed:
            raise LogClosed(f"topic {self.name!r} is closed")
        self._check_partition(partition)
        log = self._logs.get(partition)
        if log is None:
            log = PartitionLog.open(
                partition_directory(os.path.dirname(self.directory), self.name, partition),
                self.metadata.config,
                file_layer=self._layer,
                clock=self._clock,
                topic=self.name,
                partition=partition,
            )
            self._logs[partition] = log
        return log

    def assign(self, records: Sequence[Record], partition: int | None = None) -> list[int]:
        """The partition each of `records` goes to (TOPIC-3); advances the round robin."""
        if partition is not None:
            self._check_partition(partition)
            return [partition] * len(records)
        count = self.metadata.partitions
        return [
            partition_for_key(record.key, count)
            if record.key is not None
            else self._round_robin.partition(self.name, count)
            for record in records
        ]

    def append(
        self, records: Sequence[Record], partition: int | None = None
    ) -> list[tuple[int, AppendResult]]:
        """Append `records`, one batch per target partition; (partition, result) per batch.

        Batches are appended in the order their partitions first occur in `records`. Every record
        is validated before any batch is appended, so an invalid record changes nothing; a storage
        failure part way leaves the batches appended before it in place.
        """
        if self._closed:
            raise LogClosed(f"topic {self.name!r} is closed")
        if not records:
            raise EmptyBatch()
        for record in records:
            validate_record(record)
        groups: dict[int, list[Record]] = {}
        for record, target in zip(records, self.assign(records, partition), strict=True):
            groups.setdefault(target, []).append(record)
        return [(target, self.partition(target).append(batch)) for target, batch in groups.items()]

    def flush(self) -> None:
        """Flush every partition log opened so far."""
        for log in self._logs.values():
            log.flush()

    def close(self) -> None:
        """Close every opened partition log; idempotent. Closes the rest if one fails."""
        if self._closed:
            return
        self._closed = True
        logs, self._logs = list(self._logs.values()), {}
        failure: BaseException | None = None
        for log in logs:
            try:
                log.close()
            except BaseException as exc:  # noqa: BLE001 - close the others, then re-raise
                failure = failure or exc
        if failure is not None:
            raise failure

    def __enter__(self) -> Topic:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
