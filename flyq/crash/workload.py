"""Seeded workloads the explorer records, and what each one promises at every point.

A workload is a list of steps derived from a seed alone (no clock, no global randomness), so any
reported failure replays from its seed. Running it against a `RecordingFileLayer` leaves marks in
the history saying what the log had acknowledged: how far it was durable, which log start offset
it had persisted and which appends had begun. Some flushes are told to fail their fsync (the disk
reports an error): the log must then report nothing more as durable than before, and is reopened.

A topic workload does the same for `TopicStore`: creates, alters and deletes of two topics, with
marks saying which operations had returned.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs

from flyq.crash.recording import MARK, Op, RecordingFileLayer
from flyq.crash.variants import FailingFsyncLayer
from flyq.errors import StorageError
from flyq.impl.config import LogConfig
from flyq.impl.filelayer import FileLayer
from flyq.impl.log import PartitionLog
from flyq.impl.recovery import RecoveryPolicy
from flyq.impl.topic import TopicMetadata, TopicStore
from flyq.records import Record, StoredRecord

__all__ = ["LOG_DIRECTORY", "TOPICS_DIRECTORY", "Expectations", "TopicWorkload", "Workload",
           "expectations_at", "make_topic_workload", "make_workload", "open_topic_store",
           "run_topic_workload", "run_workload", "topic_states_at"]

# Where the log lives on the recorded disk; materialised disks map this onto a real directory.
DISK_ROOT = "/disk"
LOG_DIRECTORY = DISK_ROOT + "/log"
FIXED_CLOCK_MS = 1_700_000_000_000

APPEND_STARTED = "append_started"
DURABLE = "durable"
START_REQUESTED = "start_requested"
START_ACKNOWLEDGED = "start_acknowledged"


@attrs.frozen
class Workload:
    """Steps: ("append", batch index), ("flush",), ("reopen",), ("delete_below", offset),
    ("fail_fsync",): a flush whose fsync fails; ("fail_next_fsync",): whatever fsyncs next (a
    roll, a flush, a close) fails. A failed log is reopened."""

    seed: int
    config: LogConfig
    batches: tuple[tuple[Record, ...], ...]
    steps: tuple[tuple[str, int], ...]

    def planned_records(self) -> list[StoredRecord]:
        """Every record the workload appends, at the offset it gets (no truncation happens)."""
        out: list[StoredRecord] = []
        for batch in self.batches:
            for record in batch:
                out.append(StoredRecord(len(out), record.timestamp, record.key, record.value,
                                        record.headers))
        return out

    def batch_ends(self) -> list[int]:
        """Offsets at which a batch boundary lies, starting with 0."""
        ends = [0]
        for batch in self.batches:
            ends.append(ends[-1] + len(batch))
        return ends

    def describe(self) -> str:
        """A short human description for reports."""
        kinds = ",".join(kind for kind, _ in self.steps)
        return f"seed {self.seed}: {len(self.batches)} batches; steps {kinds}"


def make_workload(seed: int, size: int) -> Workload:
    """A workload of about `size` appends with flushes, reopens and a prefix deletion."""
    rng = random.Random(seed)
    config = LogConfig(
        segment_bytes=rng.choice([180, 260, 400]),
        index_interval_bytes=rng.choice([1, 60, 150]),
        index_max_bytes=rng.choice([24, 48, 96]),
    )
    batches = []
    for _ in range(size):
        count = rng.choice([1, 1, 2, 3])
        batch = tuple(
            Record(
                value=rng.randbytes(rng.choice([0, 3, 12, 40])),
                key=rng.choice([None, b"k", rng.randbytes(4)]),
                headers=(("h", rng.choice([None, b"v"])),) if rng.random() < 0.3 else (),
                timestamp=rng.choice([5, 5, 9, rng.randrange(0, 50)]),
            )
            for _ in range(count)
        )
        batches.append(batch)
    steps: list[tuple[str, int]] = []
    appended = 0
    for index in range(size):
        steps.append(("append", index))
        appended += len(batches[index])
        roll = rng.random()
        if roll < 0.25:
            steps.append(("flush", 0))
        elif roll < 0.32:
            steps.append(("reopen", 0))
        elif roll < 0.36 and appended > 2:
            steps.append(("delete_below", rng.randrange(1, appended)))
        elif 0.36 <= roll < 0.42:
            steps.append(("fail_fsync", 0))
        elif 0.42 <= roll < 0.48:
            steps.append(("fail_next_fsync", 0))
    return Workload(seed, config, tuple(batches), tuple(steps))


def _fixed_clock() -> int:
    return FIXED_CLOCK_MS


def open_log(layer: FileLayer, config: LogConfig, policy: RecoveryPolicy | None = None,
             directory: str = LOG_DIRECTORY) -> PartitionLog:
    """Open the workload's log the way every run of the harness does."""
    return PartitionLog.open(directory, config, file_layer=layer, clock=_fixed_clock,
                             recovery_policy=policy)


def run_workload(workload: Workload, layer: RecordingFileLayer,
                 policy: RecoveryPolicy | None = None,
                 wrap: Callable[[RecordingFileLayer], FileLayer] | None = None) -> None:
    """Run the workload's steps, marking in the history what each acknowledged.

    A step whose fsync was made to fail (`fail_fsync`, `fail_next_fsync`) leaves a failed log:
    what it still reports as durable is marked like any other promise, it is closed and reopened,
    and an append or prefix deletion that the failure stopped is done again, so the records keep
    the offsets `planned_records` gives them.
    """
    faults = FailingFsyncLayer(wrap(layer) if wrap is not None else layer)
    target: FileLayer = faults
    log = open_log(target, workload.config, policy)
    start_requested = 0
    ends = workload.batch_ends()

    def run_step(kind: str, argument: int) -> None:
        nonlocal log, start_requested
        if kind == "append":
            layer.mark(APPEND_STARTED, ends[argument + 1])
            if log.log_end_offset < ends[argument + 1]:
                log.append(list(workload.batches[argument]))
        elif kind == "flush":
            log.flush()
        elif kind == "reopen":
            log.close()
            log = open_log(target, workload.config, policy)
        elif kind == "delete_below":
            start_requested = max(start_requested, argument)
            layer.mark(START_REQUESTED, start_requested)
            log.delete_records_below(argument)
            layer.mark(START_ACKNOWLEDGED, log.log_start_offset)
        elif kind == "fail_fsync":
            faults.fail_next_fsync()
            log.flush()
            raise AssertionError("a flush did not fsync the log")
        elif kind == "fail_next_fsync":
            faults.fail_next_fsync()

    for kind, argument in workload.steps:
        taken = faults.failures
        try:
            run_step(kind, argument)
        except StorageError:
            if faults.failures == taken:
                raise
            layer.mark(DURABLE, log.durable_offset)
            log.close()
            log = open_log(target, workload.config, policy)
            if kind in ("append", "delete_below"):
                run_step(kind, argument)
        layer.mark(DURABLE, log.durable_offset)
    faults.disarm()
    log.close()
    layer.mark(DURABLE, log.log_end_offset)


@attrs.frozen
class Expectations:
    """What must hold of any disk left by a crash at one point of the history."""

    durable_offset: int
    max_log_end_offset: int
    min_log_start_offset: int
    max_log_start_offset: int


def expectations_at(history: list[Op], crash_point: int) -> Expectations:
    """What the workload had been promised before history[crash_point]."""
    durable = appended = acknowledged = requested = 0
    for op in history[:crash_point]:
        if op.kind != MARK:
            continue
        if op.label == DURABLE:
            durable = max(durable, op.value)
        elif op.label == APPEND_STARTED:
            appended = max(appended, op.value)
        elif op.label == START_ACKNOWLEDGED:
            acknowledged = max(acknowledged, op.value)
        elif op.label == START_REQUESTED:
            requested = max(requested, op.value)
    return Expectations(durable, appended, acknowledged, max(requested, acknowledged))


# --- topics ---------------------------------------------------------------------------------------

TOPICS_DIRECTORY = DISK_ROOT + "/data"
TOPIC_NAMES = ("a", "b")
TOPIC_STEP_STARTED = "topic_step_started"
TOPIC_STEP_DONE = "topic_step_done"
TopicState = dict[str, TopicMetadata]


@attrs.frozen
class TopicWorkload:
    """Steps ("create", name, partitions, config), ("alter", name, changes), ("delete", name),
    and `states[i]`: the committed topics after the first i steps, worked out from the steps
    alone (TOPIC-1, TOPIC-4)."""

    seed: int
    steps: tuple[tuple[object, ...], ...]
    states: tuple[TopicState, ...]

    def describe(self) -> str:
        """A short human description for reports."""
        return f"seed {self.seed}: topic steps " + ",".join(f"{s[0]} {s[1]}" for s in self.steps)


def make_topic_workload(seed: int, size: int) -> TopicWorkload:
    """About `size` topic operations, each valid for the topics existing at that point."""
    rng = random.Random(seed)
    steps: list[tuple[object, ...]] = []
    states: list[TopicState] = [{}]
    for _ in range(size):
        current = dict(states[-1])
        name = rng.choice(TOPIC_NAMES)
        if name not in current:
            config = LogConfig(segment_bytes=rng.choice([180, 4096]),
                               retention_ms=rng.choice([None, 60_000]))
            partitions = rng.choice([1, 2])
            steps.append(("create", name, partitions, config))
            current[name] = TopicMetadata(name, partitions, FIXED_CLOCK_MS, config)
        elif rng.random() < 0.6:
            segment_ms, retention_bytes = rng.choice([1000, 50_000]), rng.choice([None, 5000])
            steps.append(("alter", name,
                          {"segment_ms": segment_ms, "retention_bytes": retention_bytes}))
            config = attrs.evolve(current[name].config, segment_ms=segment_ms,
                                  retention_bytes=retention_bytes)
            current[name] = attrs.evolve(current[name], config=config)
        else:
            steps.append(("delete", name))
            del current[name]
        states.append(current)
    return TopicWorkload(seed, tuple(steps), tuple(states))


def open_topic_store(layer: FileLayer, data_dir: str = TOPICS_DIRECTORY) -> TopicStore:
    """The topic store the way every run of the harness opens it."""
    return TopicStore(data_dir, file_layer=layer, clock=_fixed_clock)


def run_topic_workload(workload: TopicWorkload, layer: RecordingFileLayer,
                       wrap: Callable[[RecordingFileLayer], FileLayer] | None = None) -> None:
    """Run the topic steps, marking in the history when each started and returned."""
    store = open_topic_store(wrap(layer) if wrap is not None else layer)
    for index, step in enumerate(workload.steps):
        layer.mark(TOPIC_STEP_STARTED, index)
        kind, name = step[0], step[1]
        assert isinstance(name, str)
        if kind == "create":
            partitions, config = step[2], step[3]
            assert isinstance(partitions, int) and isinstance(config, LogConfig)
            store.create(name, partitions, config)
        elif kind == "alter":
            changes = step[2]
            assert isinstance(changes, dict)
            store.alter(name, changes)
        else:
            store.delete(name)
        layer.mark(TOPIC_STEP_DONE, index)


def topic_states_at(workload: TopicWorkload, history: list[Op], crash_point: int
                    ) -> list[TopicState]:
    """The committed topics a crash before history[crash_point] may leave: those after the last
    step that returned, or after the step in flight as well."""
    done = started = -1
    for op in history[:crash_point]:
        if op.kind == MARK and op.label == TOPIC_STEP_DONE:
            done = op.value
        elif op.kind == MARK and op.label == TOPIC_STEP_STARTED:
            started = op.value
    allowed = [workload.states[done + 1]]
    if started > done:
        allowed.append(workload.states[started + 1])
    return allowed
