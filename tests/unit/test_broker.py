"""The synchronous Broker (flyq.broker, spec/broker.md): every operation and its errors, real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flyq.broker import (
    Broker,
    DataDirectoryNotFound,
    NoCommittedOffset,
    ReadSpan,
    ScheduleSettings,
)
from flyq.broker.layout import (
    CONFIG_FILE,
    GROUPS_DIRECTORY,
    check_topic_name,
    partition_directory,
    topic_directory,
)
from flyq.codec.offsets import CommittedOffset, validate_key
from flyq.codec.record_batch import decode_batch, encode_batch, iter_batch_headers
from flyq.errors import (
    EmptyBatch,
    InvalidArgument,
    InvalidConfig,
    InvalidPartition,
    InvalidTopicName,
    LogClosed,
    OffsetOutOfRange,
    TopicAlreadyExists,
    UnknownGroup,
    UnknownTopic,
)
from flyq.impl.log import PartitionLog
from flyq.impl.partitioner import partition_for_key
from flyq.records import Record


class FakeClock:
    """A settable millisecond clock."""

    def __init__(self, now: int = 1_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def _broker(tmp_path: Path, clock: FakeClock | None = None) -> Broker:
    return Broker.open(str(tmp_path / "data"), create=True, clock=clock)


def _values(broker: Broker, topic: str, partition: int) -> list[bytes | None]:
    span = broker.plan_read(topic, partition)
    if span is None:
        return []
    return [record.value for record in broker.read_span(topic, partition, span)]


# --- opening and layout (BRK-1) -------------------------------------------------------------------


def test_a_missing_data_dir_is_an_error_naming_it(tmp_path: Path) -> None:
    """BRK-1: open without create refuses a missing directory by name and creates nothing."""
    missing = str(tmp_path / "typo")
    with pytest.raises(DataDirectoryNotFound, match="typo"):
        Broker.open(missing)
    assert not os.path.exists(missing)
    with Broker.open(missing, create=True) as broker:
        assert broker.list_topics() == []
    assert os.path.isdir(missing)


@pytest.mark.parametrize("name", [CONFIG_FILE, GROUPS_DIRECTORY, "a/b", "..", ""])
def test_reserved_and_illegal_names_are_refused(tmp_path: Path, name: str) -> None:
    """BRK-1, TOPIC-2: create/delete/alter refuse a reserved or illegal name, touching nothing."""
    data = tmp_path / "data"
    data.mkdir()
    (data / CONFIG_FILE).write_text("[log]\n")
    with Broker.open(str(data)) as broker:
        for operation in (lambda: broker.create_topic(name), lambda: broker.delete_topic(name),
                          lambda: broker.alter_topic_config(name, {"segment_ms": 5})):
            with pytest.raises(InvalidTopicName):
                operation()
    assert (data / CONFIG_FILE).read_text() == "[log]\n"


def test_layout_names_every_path(tmp_path: Path) -> None:
    """BRK-1: topic and partition directories are DATA/NAME and DATA/NAME/NAME-P."""
    assert topic_directory("d", "t") == os.path.join("d", "t")
    assert partition_directory("d", "t", 3) == os.path.join("d", "t", "t-3")
    assert check_topic_name("a.b_c-1") == "a.b_c-1"
    with pytest.raises(InvalidTopicName, match="reserved"):
        check_topic_name(CONFIG_FILE)


def test_offsets_and_topics_share_one_name_rule() -> None:
    """TOPIC-2, GRP-2: the offsets codec refuses exactly the names the topic store does."""
    for name in ("a/b", "..", "é", "a b"):
        with pytest.raises(InvalidTopicName):
            validate_key("g", name, 0)
        with pytest.raises(InvalidTopicName):
            check_topic_name(name)


# --- topics ---------------------------------------------------------------------------------------


def test_topic_lifecycle(tmp_path: Path) -> None:
    """BRK-9, TOPIC-1: create/list/describe/alter/delete; errors name the topic."""
    with _broker(tmp_path) as broker:
        created = broker.create_topic("t", 2, {"segment_bytes": 4096})
        assert (created.partitions, created.config.segment_bytes) == (2, 4096)
        with pytest.raises(TopicAlreadyExists, match="'t'"):
            broker.create_topic("t")
        assert broker.list_topics() == ["t"]
        described = broker.describe_topic("t")
        assert [p.log_end_offset for p in described.partitions] == [0, 0]
        assert [d.metadata.name for d in broker.describe_topics()] == ["t"]
        with pytest.raises(InvalidConfig, match="segment_bytes"):
            broker.alter_topic_config("t", {"segment_bytes": 0})
        with pytest.raises(InvalidConfig, match="nope"):
            broker.alter_topic_config("t", {"nope": 1})
        with pytest.raises(InvalidConfig, match="nope"):
            broker.create_topic("u", 1, {"nope": 1})
        with pytest.raises(InvalidArgument, match="partitions"):
            broker.create_topic("u", 0)
        broker.delete_topic("t")
        assert broker.list_topics() == []
        for operation in (lambda: broker.delete_topic("t"), lambda: broker.describe_topic("t")):
            with pytest.raises(UnknownTopic, match="'t'"):
                operation()


def test_create_uses_the_broker_config_file(tmp_path: Path) -> None:
    """BCFG-1..3: the config file gives defaults, create's configs override them."""
    data = tmp_path / "data"
    data.mkdir()
    (data / CONFIG_FILE).write_text("[log]\nsegment_bytes = 8192\nflush_messages = 3\n")
    with Broker.open(str(data)) as broker:
        config = broker.create_topic("t", 1, {"flush_messages": None}).config
    assert (config.segment_bytes, config.flush_messages) == (8192, None)


def test_alter_applies_to_the_open_logs_at_once(tmp_path: Path) -> None:
    """BRK-3: after alter, the next produce runs under the new config (logs were reopened)."""
    with _broker(tmp_path) as broker:
        broker.create_topic("t")
        broker.produce_records("t", [Record(value=b"x" * 100, timestamp=1)])
        assert broker.log("t", 0).config.segment_bytes == 1 << 30
        broker.alter_topic_config("t", {"segment_bytes": 150})
        broker.produce_records("t", [Record(value=b"y" * 100, timestamp=2)])
        assert broker.log("t", 0).config.segment_bytes == 150
        assert len(broker.describe_topic("t").partitions[0:1]) == 1
        assert broker.describe_topic("t").partitions[0].segments == 2


# --- produce --------------------------------------------------------------------------------------


def test_produce_encoded_batch_rewrites_the_base_offset(tmp_path: Path) -> None:
    """BRK-5: produce appends an encoded batch at the log end; durable means fsynced on return."""
    with _broker(tmp_path) as broker:
        broker.create_topic("t")
        first = broker.produce("t", 0, encode_batch(77, [Record(value=b"a", timestamp=5)]))
        second = broker.produce("t", 0, memoryview(encode_batch(
            0, [Record(value=b"b", timestamp=6), Record(value=b"c", timestamp=6)])), durable=True)
        assert (first.base_offset, second.base_offset, second.last_offset) == (0, 1, 2)
        assert second.log_start_offset == 0
        assert broker.log("t", 0).durable_offset == 3
        assert _values(broker, "t", 0) == [b"a", b"b", b"c"]


def test_produce_errors_name_topic_and_partition(tmp_path: Path) -> None:
    """BRK-9: unknown topics and partitions are refused with the name and the valid range."""
    with _broker(tmp_path) as broker:
        broker.create_topic("t", 2)
        batch = encode_batch(0, [Record(value=b"a", timestamp=1)])
        with pytest.raises(UnknownTopic, match="'nope'"):
            broker.produce("nope", 0, batch)
        with pytest.raises(InvalidPartition, match=r"0\.\.1; partition 2"):
            broker.produce("t", 2, batch)
        with pytest.raises(InvalidArgument, match="partition"):
            broker.produce("t", True, batch)  # type: ignore[arg-type]
        with pytest.raises(EmptyBatch):
            broker.produce_records("t", [])


def test_produce_records_partitions_like_kafka(tmp_path: Path) -> None:
    """TOPIC-3, BRK-4: keyed records by murmur2, unkeyed round robin from the least-filled."""
    with _broker(tmp_path) as broker:
        broker.create_topic("t", 3)
        broker.produce_records("t", [Record(value=b"x", timestamp=1)], partition=0)
        broker.produce_records("t", [Record(value=b"x", timestamp=1)], partition=1)
        results = broker.produce_records("t", [Record(value=b"u", timestamp=1)] * 3)
        # Partition 2 is the least filled, so the round robin starts there: 2, 0, 1.
        assert [r.partition for r in results] == [2, 0, 1]
        keys = [b"alice", b"bob", b"carol", b"dave"]
        keyed = broker.produce_records("t", [Record(value=k, key=k, timestamp=1) for k in keys])
        placed = {r.partition for r in keyed}
        assert placed == {partition_for_key(k, 3) for k in keys}
        for key in keys:
            partition = partition_for_key(key, 3)
            assert key in _values(broker, "t", partition)


def test_produce_stream_batches_and_keeps_records_before_a_failure(tmp_path: Path) -> None:
    """BRK-4: produce_stream appends batches of at most batch_records; a failing source still gets
    the records taken before it appended."""
    with _broker(tmp_path) as broker:
        broker.create_topic("t")
        results = list(broker.produce_stream(
            "t", (Record(value=b"%d" % i, timestamp=1) for i in range(25)), batch_records=10))
        assert [r.record_count for r in results] == [10, 10, 5]

        def failing() -> object:
            yield Record(value=b"a", timestamp=1)
            yield Record(value=b"b", timestamp=1)
            raise ValueError("source broke")

        appended = []
        with pytest.raises(ValueError, match="source broke"):
            appended.extend(broker.produce_stream("t", failing(), batch_records=10))  # type: ignore[arg-type]
        assert [r.record_count for r in appended] == [2]
        assert broker.log("t", 0).log_end_offset == 27
        with pytest.raises(InvalidArgument, match="batch_records"):
            list(broker.produce_stream("t", [], batch_records=0))


# --- fetch, reads, list offsets -------------------------------------------------------------------


def test_fetch_returns_raw_batches_and_watermarks(tmp_path: Path) -> None:
    """LOG-5, BRK-9: fetch gives whole stored batches from the one holding the offset, plus offsets."""
    with _broker(tmp_path) as broker:
        broker.create_topic("t")
        for value in (b"a", b"b", b"c"):
            broker.produce_records("t", [Record(value=value, timestamp=1)])
        fetched = broker.fetch("t", 0, 1, 1 << 20)
        headers = [header for _, header in iter_batch_headers(fetched.records)]
        assert [h.base_offset for h in headers] == [1, 2]
        assert decode_batch(fetched.records).records[0].value == b"b"
        assert (fetched.high_watermark, fetched.log_start_offset, fetched.log_end_offset) == (
            3, 0, 3)
        assert broker.fetch("t", 0, 3, 100).records == b""
        with pytest.raises(OffsetOutOfRange, match="t-0"):
            broker.fetch("t", 0, 4, 100)


def test_decoded_reads_forward_backward_tail_timestamp(tmp_path: Path) -> None:
    """LOG-5, LOG-7, LOG-8: plan_read/read_span forward, backward, tail N, from a timestamp."""
    with _broker(tmp_path) as broker:
        broker.create_topic("t")
        broker.produce_records("t", [Record(value=b"%d" % i, timestamp=100 * i) for i in range(5)])

        def read(limit: int | None = None, **start: object) -> list[int]:
            span = broker.plan_read("t", 0, **start)  # type: ignore[arg-type]
            return [] if span is None else [r.offset for r in broker.read_span("t", 0, span, limit)]

        assert read() == [0, 1, 2, 3, 4]
        assert read(2) == [0, 1]
        assert read(backward=True) == [4, 3, 2, 1, 0]
        assert read(tail=2) == [3, 4]
        assert read(tail=2, backward=True) == [4, 3]
        assert read(timestamp=250) == [3, 4]
        assert read(timestamp=250, backward=True) == [2, 1, 0]
        assert read(timestamp=999) == []
        assert read(offset=2, backward=True) == [2, 1, 0]
        assert broker.plan_read("t", 0, offset=5) == ReadSpan(5, False)
        with pytest.raises(OffsetOutOfRange, match="in t-0"):
            broker.plan_read("t", 0, offset=5, backward=True)


def test_list_offsets_earliest_latest_and_timestamp(tmp_path: Path) -> None:
    """LOG-8: ListOffsets -2 is the log start, -1 the log end, a time the first record at/after it."""
    with _broker(tmp_path) as broker:
        broker.create_topic("t")
        broker.produce_records("t", [Record(value=b"v", timestamp=t) for t in (10, 20, 30)])
        assert broker.list_offsets("t", 0, -2).offset == 0
        assert broker.list_offsets("t", 0, -1).offset == 3
        found = broker.list_offsets("t", 0, 15)
        assert (found.offset, found.timestamp) == (1, 20)
        assert broker.list_offsets("t", 0, 31).offset is None
        with pytest.raises(InvalidArgument, match="t-0"):
            broker.list_offsets("t", 0, -4)


# --- consumer groups ------------------------------------------------------------------------------


def test_commit_fetch_describe_delete_group(tmp_path: Path) -> None:
    """BRK-8, GRP-3, GRP-4: commits are durable, lag is high_watermark - committed."""
    data = str(tmp_path / "data")
    with Broker.open(data, create=True) as broker:
        broker.create_topic("t", 2)
        broker.produce_records("t", [Record(value=b"v", timestamp=1)] * 4, partition=0)
        assert broker.list_groups() == []
        assert broker.fetch_offsets("g") == {}
        broker.commit_offsets("g", {("t", 0): 1, ("t", 1): 0})
        with pytest.raises(InvalidPartition):
            broker.commit_offsets("g", {("t", 5): 1})
        with pytest.raises(UnknownTopic):
            broker.commit_offsets("g", {("nope", 0): 1})
    with Broker.open(data) as broker:
        assert broker.list_groups() == ["g"]
        assert broker.fetch_offsets("g", [("t", 0), ("t", 1), ("t", 9)])[("t", 9)] is None
        rows = broker.describe_group("g")
        assert [(r.partition, r.committed_offset, r.high_watermark, r.lag) for r in rows] == [
            (0, 1, 4, 3), (1, 0, 0, 0)]
        broker.delete_topic("t")
        assert [r.lag for r in broker.describe_group("g")] == [None, None]
        broker.delete_group("g")
        with pytest.raises(UnknownGroup):
            broker.describe_group("g")
        with pytest.raises(UnknownGroup):
            broker.delete_group("g")


def test_delete_offsets_is_durable(tmp_path: Path) -> None:
    """GRP-14 through the Broker: the named offsets are gone after a reopen, the others stay;
    before any commit it only checks the keys."""
    data = str(tmp_path / "data")
    with Broker.open(data, create=True) as broker:
        broker.delete_offsets("g", [("t", 0)])
        broker.create_topic("t", 2)
        broker.commit_offsets("g", {("t", 0): 0, ("t", 1): 0})
        broker.delete_offsets("g", [("t", 0)])
    with Broker.open(data) as broker:
        assert broker.fetch_offsets("g") == {("t", 1): CommittedOffset(0)}


def test_reset_offsets_targets(tmp_path: Path) -> None:
    """BRK-8: reset_offsets to-offset (checked against the range first), earliest, latest, time."""
    with _broker(tmp_path) as broker:
        broker.create_topic("t", 2)
        for partition in (0, 1):
            broker.produce_records("t", [Record(value=b"v", timestamp=t) for t in (10, 20, 30)],
                                   partition=partition)
        latest = broker.reset_offsets("g", "t", to_latest=True)
        assert [(c.old_offset, c.new_offset) for c in latest] == [(None, 3), (None, 3)]
        assert [c.new_offset for c in broker.reset_offsets("g", "t", to_earliest=True)] == [0, 0]
        assert [c.new_offset for c in broker.reset_offsets("g", "t", to_timestamp=15)] == [1, 1]
        assert [c.new_offset for c in broker.reset_offsets("g", "t", to_timestamp=99)] == [3, 3]
        one = broker.reset_offsets("g", "t", partition=1, to_offset=2)
        assert [(c.partition, c.old_offset, c.new_offset) for c in one] == [(1, 3, 2)]
        with pytest.raises(OffsetOutOfRange, match="in t-0"):
            broker.reset_offsets("g", "t", to_offset=4)
        assert broker.fetch_offsets("g", [("t", 0)])[("t", 0)].offset == 3  # type: ignore[union-attr]
        with pytest.raises(InvalidArgument, match="exactly one"):
            broker.reset_offsets("g", "t", to_latest=True, to_earliest=True)
        with pytest.raises(InvalidPartition):
            broker.reset_offsets("g", "t", partition=2, to_latest=True)


def test_group_start_offsets_reset_policies(tmp_path: Path) -> None:
    """GRP-CLI-1: committed offset if in range, else earliest/latest, or an error naming it."""
    with _broker(tmp_path) as broker:
        broker.create_topic("t")
        broker.produce_records("t", [Record(value=b"v", timestamp=1)] * 3)
        assert broker.group_start_offsets("g", "t", [0], "earliest") == {0: 0}
        assert broker.group_start_offsets("g", "t", [0], "latest") == {0: 3}
        with pytest.raises(NoCommittedOffset, match=r"t-0.*valid offsets are \[0, 3\]"):
            broker.group_start_offsets("g", "t", [0], "error")
        broker.commit_offsets("g", {("t", 0): 2})
        assert broker.group_start_offsets("g", "t", [0], "error") == {0: 2}
        with pytest.raises(InvalidArgument, match="reset"):
            broker.group_start_offsets("g", "t", [0], "sideways")  # type: ignore[arg-type]


# --- retention, health, scheduler (BRK-7) ---------------------------------------------------------


def test_retention_and_health_over_all_topics(tmp_path: Path) -> None:
    """RET-1, HLT-1..3: run_retention and health cover every partition of every topic, or one."""
    with _broker(tmp_path) as broker:
        broker.create_topic("a", 1, {"segment_bytes": 200, "retention_bytes": 200})
        broker.create_topic("b", 2)
        for _ in range(10):
            broker.produce_records("a", [Record(value=b"x" * 60, timestamp=1)])
        runs = broker.run_retention()
        assert [(r.topic, r.partition) for r in runs] == [("a", 0), ("b", 0), ("b", 1)]
        assert runs[0].result.segments_deleted > 0
        assert broker.list_offsets("a", 0, -2).offset == runs[0].result.log_start_offset
        statuses = broker.health("b", verify=True)
        assert [(s.topic, s.partition, s.health.state) for s in statuses] == [
            ("b", 0, "online"), ("b", 1, "online")]
        assert all(s.health.index_check is not None for s in statuses)


def test_read_backward_and_partition_health(tmp_path: Path) -> None:
    """LOG-7, HLT-2 (EXT-2, EXT-4): read_backward from the end or an offset is newest first and
    bounded; an offset past the end is OffsetOutOfRange; partition_health is that of the log."""
    with _broker(tmp_path) as broker:
        broker.create_topic("t", 2)
        broker.produce_records("t", [Record(value=b"%d" % i, timestamp=1) for i in range(6)], 0)
        assert [r.offset for r in broker.read_backward("t", 0, None, max_records=3)] == [5, 4, 3]
        assert [r.value for r in broker.read_backward("t", 0, 1, max_records=9)] == [b"1", b"0"]
        assert broker.read_backward("t", 1, None, max_records=1) == []
        with pytest.raises(OffsetOutOfRange):
            broker.read_backward("t", 0, 6, max_records=1)
        health = broker.partition_health("t", 0, verify=True)
        assert (health.log_end_offset, health.high_watermark) == (6, 6)
        assert health.index_check is not None and health.index_check.mismatches == ()


def test_tick_flushes_by_flush_ms(tmp_path: Path) -> None:
    """BRK-7: a record becomes durable at the first tick flush_ms after it was appended."""
    clock = FakeClock()
    with _broker(tmp_path, clock) as broker:
        broker.create_topic("t", 1, {"flush_ms": 500})
        broker.produce_records("t", [Record(value=b"v", timestamp=1)])
        log = broker.log("t", 0)
        assert log.durable_offset == 0
        clock.now += 499
        assert broker.tick() == ()
        assert log.durable_offset == 0
        clock.now += 1
        assert [d.kind for d in broker.tick()] == ["flush"]
        assert log.durable_offset == 1
        assert broker.tick() == ()


def test_tick_runs_retention_every_retention_check_ms(tmp_path: Path) -> None:
    """BRK-7: retention runs on a partition with a limit once retention_check_ms passed."""
    clock = FakeClock()
    schedule = ScheduleSettings(retention_check_ms=1000)
    with Broker.open(str(tmp_path / "d"), create=True, clock=clock, schedule=schedule) as broker:
        broker.create_topic("t", 1, {"segment_bytes": 200, "retention_bytes": 200})
        broker.create_topic("u")
        for _ in range(10):
            broker.produce_records("t", [Record(value=b"x" * 60, timestamp=1)])
        broker.produce_records("u", [Record(value=b"x", timestamp=1)])
        assert broker.tick() == ()
        clock.now += 1000
        duties = broker.tick()
        assert [(d.kind, d.topic) for d in duties] == [("retention", "t")]
        assert broker.list_offsets("t", 0, -2).offset > 0  # type: ignore[operator]
        assert broker.tick() == ()


def test_tick_flushes_offsets_written_without_durable(tmp_path: Path) -> None:
    """BRK-7: a non-durable commit is written by the tick offsets_flush_ms later (GRP-7)."""
    clock = FakeClock()
    data = str(tmp_path / "d")
    with Broker.open(data, create=True, clock=clock) as broker:
        broker.create_topic("t")
        broker.commit_offsets("g", {("t", 0): 0}, durable=False)
        offsets_file = os.path.join(data, GROUPS_DIRECTORY, "offsets")
        size_before = os.path.getsize(offsets_file)
        clock.now += broker.schedule.offsets_flush_ms - 1
        assert broker.tick() == ()
        assert os.path.getsize(offsets_file) == size_before
        clock.now += 1
        assert [d.kind for d in broker.tick()] == ["flush_offsets"]
        assert os.path.getsize(offsets_file) > size_before


def test_close_is_clean_and_idempotent(tmp_path: Path) -> None:
    """BRK-10: close shuts every log cleanly (no recovery at the next open); closed refuses."""
    data = str(tmp_path / "d")
    broker = Broker.open(data, create=True)
    broker.create_topic("t")
    broker.produce_records("t", [Record(value=b"v", timestamp=1)])
    broker.close()
    broker.close()
    with pytest.raises(LogClosed):
        broker.list_topics()
    with PartitionLog.open(partition_directory(data, "t", 0)) as log:
        assert log.recovery_report.clean
        assert log.log_end_offset == 1
