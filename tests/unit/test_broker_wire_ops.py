"""Broker operations the wire protocol added: CreatePartitions, DeleteRecords, the cluster id,
ListOffsets MAX_TIMESTAMP (spec/broker.md BRK-11, TOPIC-5, LOG-8, LOG-11). Real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flyq.broker import MAX_TIMESTAMP, Broker
from flyq.broker.layout import CLUSTER_ID_FILE, check_topic_name, partition_directory
from flyq.errors import CorruptCheckpoint, InvalidArgument, InvalidTopicName, OffsetOutOfRange
from flyq.records import Record


def _broker(tmp_path: Path) -> Broker:
    return Broker.open(str(tmp_path / "data"), create=True)


def _produce(broker: Broker, topic: str, partition: int, *timestamps: int) -> None:
    for timestamp in timestamps:
        broker.produce_records(topic, [Record(value=b"v", timestamp=timestamp)], partition)


def test_create_partitions_grows_a_topic_and_survives_reopen(tmp_path: Path) -> None:
    """TOPIC-5: the new partitions take appends at once and are still there after a reopen."""
    with _broker(tmp_path) as broker:
        broker.create_topic("t", 2)
        grown = broker.create_partitions("t", 5)
        assert grown.partitions == 5
        _produce(broker, "t", 4, 10)
        assert broker.fetch("t", 4, 0, 1 << 20).high_watermark == 1
    with _broker(tmp_path) as broker:
        assert broker.metadata("t").partitions == 5
        assert os.path.isdir(partition_directory(broker.data_dir, "t", 4))


@pytest.mark.parametrize("count", [2, 1, 0, "3"])
def test_create_partitions_only_grows(tmp_path: Path, count: object) -> None:
    """TOPIC-5: a count not above the current one is refused and nothing changes."""
    with _broker(tmp_path) as broker:
        broker.create_topic("t", 2)
        with pytest.raises(InvalidArgument, match="more than the 2 partitions"):
            broker.create_partitions("t", count)  # type: ignore[arg-type]
        assert broker.metadata("t").partitions == 2


def test_create_partitions_reuses_residue_of_an_interrupted_grow(tmp_path: Path) -> None:
    """TOPIC-5: an empty partition directory left by a crash before topic.json changed is reused."""
    with _broker(tmp_path) as broker:
        broker.create_topic("t", 1)
        os.makedirs(partition_directory(broker.data_dir, "t", 1))
        assert broker.metadata("t").partitions == 1
        assert broker.create_partitions("t", 2).partitions == 2


def test_delete_records_moves_the_low_watermark(tmp_path: Path) -> None:
    """LOG-11: DeleteRecords returns the new log start offset; -1 means the high watermark."""
    with _broker(tmp_path) as broker:
        broker.create_topic("t", 1)
        _produce(broker, "t", 0, 1, 2, 3, 4)
        assert broker.delete_records("t", 0, 2) == 2
        assert broker.fetch("t", 0, 2, 1 << 20).log_start_offset == 2
        assert broker.delete_records("t", 0, -1) == 4
        with pytest.raises(OffsetOutOfRange):
            broker.delete_records("t", 0, 5)


def test_cluster_id_is_made_once_and_kept(tmp_path: Path) -> None:
    """BRK-11: 22 URL-safe base64 characters, the same after a reopen."""
    with _broker(tmp_path) as broker:
        first = broker.cluster_id()
        assert len(first) == 22
        assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        assert broker.cluster_id() == first
    with _broker(tmp_path) as broker:
        assert broker.cluster_id() == first


def test_a_damaged_cluster_id_is_refused_not_replaced(tmp_path: Path) -> None:
    """BRK-11: a cluster.id that is not an id raises, naming the file, and stays as it was."""
    data = tmp_path / "data"
    data.mkdir()
    (data / CLUSTER_ID_FILE).write_bytes(b"not an id\n")
    with Broker.open(str(data)) as broker, pytest.raises(CorruptCheckpoint, match=r"cluster\.id"):
        broker.cluster_id()
    assert (data / CLUSTER_ID_FILE).read_bytes() == b"not an id\n"


def test_cluster_id_is_a_reserved_name() -> None:
    """BRK-1: no topic may be called cluster.id, the data directory uses that name."""
    with pytest.raises(InvalidTopicName, match="reserved"):
        check_topic_name(CLUSTER_ID_FILE)


def test_list_offsets_max_timestamp(tmp_path: Path) -> None:
    """LOG-8: -3 answers the first record holding the largest timestamp, across segments."""
    with Broker.open(str(tmp_path / "data"), create=True) as broker:
        broker.create_topic("t", 1, {"segment_bytes": 200})
        assert broker.list_offsets("t", 0, MAX_TIMESTAMP).offset is None
        _produce(broker, "t", 0, 5, 90, 7, 90, 3, 8)
        assert len(broker.log("t", 0).segments) > 1
        found = broker.list_offsets("t", 0, MAX_TIMESTAMP)
        assert (found.offset, found.timestamp) == (1, 90)
        with pytest.raises(InvalidArgument, match="-3"):
            broker.list_offsets("t", 0, -4)
