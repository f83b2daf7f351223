"""Seeded workloads the explorer records, and what each one promises at every point.

A workload is a list of steps derived from a seed alone (no clock, no global randomness), so any
reported failure replays from its seed. Running it against a `RecordingFileLayer` leaves marks in
the history saying what the log had acknowledged: how far it was durable, which log start offset
it had persisted and which appends had begun. Some flushes are told to fail their fsync (the disk
reports an error): the log must then report nothing more as durable than before, and is reopened.

Epoch workloads (`make_epoch_workload`) also move leader epochs: a leader that becomes leader and
appends under rising epochs, or a replica that appends its leaders' batches, advances its high
watermark and truncates to `end_offset_for_epoch` answers. Each carries the model's state after
every step, and marks say which step had started and which had returned.

A topic workload does the same for `TopicStore`: creates, alters and deletes of two topics, with
marks saying which operations had returned.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import attrs

from flyq.codec.record_batch import encode_batch
from flyq.crash.recording import MARK, Op, RecordingFileLayer
from flyq.crash.variants import FailingFsyncLayer
from flyq.errors import FlyQError, StorageError
from flyq.impl.config import LogConfig
from flyq.impl.filelayer import FileLayer
from flyq.impl.leader_epochs import NO_EPOCH
from flyq.impl.log import PartitionLog
from flyq.impl.recovery import RecoveryPolicy
from flyq.impl.topic import TopicMetadata, TopicStore, derived_topic_id
from flyq.model import LogState, ModelLog, batch_boundaries, empty_log
from flyq.records import Record, StoredRecord

__all__ = ["LEADER", "LOG_DIRECTORY", "PLAIN", "REPLICA", "TOPICS_DIRECTORY", "WORKLOAD_KINDS",
           "Expectations", "TopicWorkload", "Workload", "epoch_workload", "expectations_at",
           "make_epoch_workload", "make_seeded_workload", "make_topic_workload", "make_workload",
           "open_topic_store", "run_topic_workload", "run_workload", "topic_states_at"]

# Where the log lives on the recorded disk; materialised disks map this onto a real directory.
DISK_ROOT = "/disk"
LOG_DIRECTORY = DISK_ROOT + "/log"
FIXED_CLOCK_MS = 1_700_000_000_000

APPEND_STARTED = "append_started"
DURABLE = "durable"
START_REQUESTED = "start_requested"
START_ACKNOWLEDGED = "start_acknowledged"
STEP_STARTED = "step_started"
STEP_DONE = "step_done"


@attrs.frozen
class Workload:
    """Steps: ("append", batch index), ("flush",), ("reopen",), ("delete_below", offset),
    ("fail_fsync",): a flush whose fsync fails; ("fail_next_fsync",): whatever fsyncs next (a
    roll, a flush, a close) fails. A failed log is reopened. Epoch workloads add
    ("become_leader", epoch), ("replicate", batch index), ("truncate", offset) and
    ("advance_hw", offset)."""

    seed: int
    config: LogConfig
    batches: tuple[tuple[Record, ...], ...]
    steps: tuple[tuple[str, int], ...]
    # Epoch workloads (`make_epoch_workload`) only: their kind, the epoch each "replicate"
    # step's batch carries (by batch index), and the model's state before the first step and
    # after each one.
    kind: str = "plain"
    batch_epochs: tuple[int, ...] = ()
    states: tuple[LogState, ...] = ()

    @property
    def replica(self) -> bool:
        """Whether the log is opened with an explicit high watermark (HWM-3)."""
        return self.kind == REPLICA

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
        if not self.states:
            kinds = ",".join(kind for kind, _ in self.steps)
            return f"seed {self.seed}: {len(self.batches)} batches; steps {kinds}"
        steps = ",".join(f"{kind} {argument}" if kind not in ("flush", "reopen", "fail_fsync")
                         else kind for kind, argument in self.steps)
        return f"seed {self.seed} {self.kind}: {len(self.batches)} batches; steps {steps}"


def _seeded_config(rng: random.Random) -> LogConfig:
    return LogConfig(
        segment_bytes=rng.choice([180, 260, 400]),
        index_interval_bytes=rng.choice([1, 60, 150]),
        index_max_bytes=rng.choice([24, 48, 96]),
    )


def _seeded_batches(rng: random.Random, size: int) -> tuple[tuple[Record, ...], ...]:
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
    return tuple(batches)


def make_workload(seed: int, size: int) -> Workload:
    """A workload of about `size` appends with flushes, reopens and a prefix deletion."""
    rng = random.Random(seed)
    config = _seeded_config(rng)
    batches = _seeded_batches(rng, size)
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
    return Workload(seed, config, batches, tuple(steps))


LEADER = "leader"
REPLICA = "replica"
PLAIN = "plain"
WORKLOAD_KINDS = (PLAIN, LEADER, REPLICA)


def _model_step(model: ModelLog, batches: Sequence[tuple[Record, ...]],
                batch_epochs: Sequence[int], kind: str, argument: int) -> None:
    """What one step of an epoch workload does to the model (`run_workload` does it to the
    log). A failed fsync reopens the failed log."""
    if kind == "become_leader":
        model.become_leader(argument)
    elif kind == "append":
        model.append(list(batches[argument]))
    elif kind == "replicate":
        model.append_replicated(encode_batch(model.log_end_offset, batches[argument],
                                             partition_leader_epoch=batch_epochs[argument]))
    elif kind == "truncate":
        model.truncate(argument)
    elif kind == "delete_below":
        model.delete_records_below(argument)
    elif kind == "advance_hw":
        model.advance_high_watermark(argument)
    elif kind in ("reopen", "fail_fsync"):
        model.reopen()
    elif kind != "flush":
        raise ValueError(f"{kind!r} is not a step of an epoch workload")


class _EpochWorkloadBuilder:
    """Steps of an epoch workload, each tried on the model first: a step the model refuses
    (a fenced epoch, a batch going back in epoch) is left out, so every step is valid where it
    stands, and the model's state after each step is kept (spec/crash-model.md §4.2)."""

    def __init__(self, rng: random.Random, batches: tuple[tuple[Record, ...], ...],
                 replica: bool) -> None:
        self.rng = rng
        self.batches = batches
        self.batch_epochs = [NO_EPOCH] * len(batches)
        self.model = ModelLog(empty_log(high_watermark_follows_end=not replica))
        self.steps: list[tuple[str, int]] = []
        self.states: list[LogState] = [self.model.state]

    def take(self, kind: str, argument: int = 0) -> None:
        try:
            _model_step(self.model, self.batches, self.batch_epochs, kind, argument)
        except FlyQError:
            return
        self.steps.append((kind, argument))
        self.states.append(self.model.state)

    def become_leader(self) -> None:
        state = self.model.state
        self.take("become_leader", max(state.leader_epoch, state.latest_epoch, -1)
                  + self.rng.choice([1, 1, 2]))

    def truncate(self) -> None:
        """To an `end_offset_for_epoch` answer (FOLLOW-3) or to a seeded batch boundary."""
        state = self.model.state
        end = state.log_end_offset
        epochs = [epoch for epoch, _ in state.epochs]
        target = end
        # Near the end, as a follower cuts a divergent tail: the answer for one of the two
        # latest epochs, or one of the last two batch boundaries.
        if epochs and self.rng.random() < 0.6:
            target = self.model.end_offset_for_epoch(self.rng.choice(epochs[-2:]))[1]
        if not state.log_start_offset <= target < end:
            below = [offset for offset in batch_boundaries(state) if offset < end]
            if not below:
                return
            target = self.rng.choice(below[-2:])
        self.take("truncate", target)

    def after_append(self) -> None:
        """A seeded follow-up: flush, reopen, truncate, prefix deletion or a failed fsync."""
        state = self.model.state
        roll = self.rng.random()
        if roll < 0.2:
            self.take("flush")
        elif roll < 0.27:
            self.take("reopen")
        elif roll < 0.4:
            self.truncate()
        elif roll < 0.47 and state.high_watermark > state.log_start_offset:
            self.take("delete_below",
                      self.rng.randrange(state.log_start_offset + 1, state.high_watermark + 1))
        elif 0.47 <= roll < 0.53:
            self.take("fail_fsync")


def make_epoch_workload(seed: int, size: int, kind: str) -> Workload:
    """A workload of `size` batches that moves leader epochs (spec/crash-model.md §4.2).

    `LEADER`: a log in follows-the-end mode that becomes leader under rising epochs and appends
    under them, with truncations (to `end_offset_for_epoch` answers or batch boundaries), prefix
    deletions, flushes, reopens and failed fsyncs. `REPLICA`: a log with an explicit high
    watermark that appends its leaders' batches with `append_replicated` (epochs rising, the
    follower truncating to an `end_offset_for_epoch` answer when a new leader comes), advances
    its high watermark and sometimes leads and appends itself.
    """
    if kind not in (LEADER, REPLICA):
        raise ValueError(f"epoch workload kind {kind!r}: expected {LEADER!r} or {REPLICA!r}")
    rng = random.Random(seed)
    config = _seeded_config(rng)
    batches = _seeded_batches(rng, size)
    builder = _EpochWorkloadBuilder(rng, batches, replica=kind == REPLICA)
    model = builder.model
    if kind == LEADER:
        builder.take("become_leader", rng.choice([0, 1, 3]))
    source_epoch = rng.choice([0, 2])
    for index in range(size):
        if kind == LEADER:
            if rng.random() < 0.3:
                builder.become_leader()
            builder.take("append", index)
        else:
            roll = rng.random()
            if roll < 0.25:
                # A new leader: the follower truncates to its answer before fetching (FOLLOW-3).
                source_epoch = max(source_epoch, model.state.latest_epoch) + rng.choice([1, 2])
                if rng.random() < 0.6:
                    builder.truncate()
            if roll > 0.9:
                builder.become_leader()
                builder.take("append", index)
            else:
                builder.batch_epochs[index] = max(source_epoch, model.state.latest_epoch)
                builder.take("replicate", index)
            state = model.state
            if rng.random() < 0.5 and state.high_watermark < state.log_end_offset:
                builder.take("advance_hw",
                             rng.randint(state.high_watermark + 1, state.log_end_offset))
        builder.after_append()
    return Workload(seed, config, batches, tuple(builder.steps), kind=kind,
                    batch_epochs=tuple(builder.batch_epochs), states=tuple(builder.states))


def epoch_workload(config: LogConfig, batches: tuple[tuple[Record, ...], ...],
                   steps: tuple[tuple[str, int], ...], kind: str,
                   batch_epochs: tuple[int, ...] = (), seed: int = -1) -> Workload:
    """An epoch workload of given steps, its model states worked out by running them on the
    model; a step the model refuses raises its error."""
    if kind not in (LEADER, REPLICA):
        raise ValueError(f"epoch workload kind {kind!r}: expected {LEADER!r} or {REPLICA!r}")
    model = ModelLog(empty_log(high_watermark_follows_end=kind != REPLICA))
    states = [model.state]
    for step_kind, argument in steps:
        _model_step(model, batches, batch_epochs, step_kind, argument)
        states.append(model.state)
    return Workload(seed, config, batches, steps, kind=kind, batch_epochs=batch_epochs,
                    states=tuple(states))


def make_seeded_workload(seed: int, size: int, kind: str) -> Workload:
    """The workload of `kind` (one of `WORKLOAD_KINDS`) that `seed` and `size` give."""
    if kind == PLAIN:
        return make_workload(seed, size)
    return make_epoch_workload(seed, size, kind)


def _fixed_clock() -> int:
    return FIXED_CLOCK_MS


def open_log(layer: FileLayer, config: LogConfig, policy: RecoveryPolicy | None = None,
             directory: str = LOG_DIRECTORY, *, replica: bool = False) -> PartitionLog:
    """Open the workload's log the way every run of the harness does (a replica: with an
    explicit high watermark)."""
    return PartitionLog.open(directory, config, file_layer=layer, clock=_fixed_clock,
                             recovery_policy=policy, high_watermark_follows_end=not replica)


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

    def reopened() -> PartitionLog:
        return open_log(target, workload.config, policy, replica=workload.replica)

    log = reopened()
    start_requested = 0
    ends = workload.batch_ends()
    epochs = bool(workload.states)

    def run_step(kind: str, argument: int) -> None:
        nonlocal log, start_requested
        if kind == "append" and epochs:
            log.append(list(workload.batches[argument]))
        elif kind == "append":
            layer.mark(APPEND_STARTED, ends[argument + 1])
            if log.log_end_offset < ends[argument + 1]:
                log.append(list(workload.batches[argument]))
        elif kind == "flush":
            log.flush()
        elif kind == "reopen":
            log.close()
            log = reopened()
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
        elif kind == "become_leader":
            log.become_leader(argument)
        elif kind == "replicate":
            log.append_replicated(encode_batch(
                log.log_end_offset, workload.batches[argument],
                partition_leader_epoch=workload.batch_epochs[argument]))
        elif kind == "truncate":
            log.truncate(argument)
        elif kind == "advance_hw":
            log.advance_high_watermark(argument)
        else:
            raise AssertionError(f"unknown workload step {kind!r}")

    for number, (kind, argument) in enumerate(workload.steps):
        if epochs:
            layer.mark(STEP_STARTED, number)
        taken = faults.failures
        try:
            run_step(kind, argument)
        except StorageError:
            if faults.failures == taken:
                raise
            layer.mark(DURABLE, log.durable_offset)
            log.close()
            log = reopened()
            if kind in ("append", "delete_below") and not epochs:
                run_step(kind, argument)
        layer.mark(DURABLE, log.durable_offset)
        if epochs:
            layer.mark(STEP_DONE, number)
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
    # Epoch workloads: which of `Workload.states` the surviving log is a cut of, and the high
    # watermark values the checkpoint may hold (the last acknowledged and the one in flight).
    reference: int = -1
    min_high_watermark: int = 0
    max_high_watermark: int = 0


def expectations_at(history: list[Op], crash_point: int,
                    workload: Workload | None = None) -> Expectations:
    """What the workload had been promised before history[crash_point]."""
    if workload is not None and workload.states:
        return _epoch_expectations_at(workload, history, crash_point)
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


def _epoch_expectations_at(workload: Workload, history: list[Op], crash_point: int
                           ) -> Expectations:
    """The promises of an epoch workload: the state after the last step that returned, and
    the one the step in flight (if any) leads to. Its records are those of the state after an
    append in flight (its epoch entry is durable before its batch, EPOCH-9), otherwise of the
    state before the step (a truncation or prefix deletion in flight may not have happened)."""
    durable = 0
    started = done = -1
    for op in history[:crash_point]:
        if op.kind != MARK:
            continue
        if op.label == DURABLE:
            # The latest, not the largest: a truncation lowers what is durable (LOG-10).
            durable = op.value
        elif op.label == STEP_STARTED:
            started = op.value
        elif op.label == STEP_DONE:
            done = op.value
    before = workload.states[done + 1]
    after = before
    reference = done + 1
    if started > done:
        after = workload.states[started + 1]
        kind, argument = workload.steps[started]
        if kind in ("append", "replicate"):
            reference = started + 1
        elif kind == "truncate":
            durable = min(durable, argument)
    hw_values = (before.high_watermark, after.high_watermark)
    return Expectations(
        durable_offset=durable,
        max_log_end_offset=workload.states[reference].log_end_offset,
        min_log_start_offset=before.log_start_offset,
        max_log_start_offset=max(before.log_start_offset, after.log_start_offset),
        reference=reference,
        min_high_watermark=min(hw_values),
        max_high_watermark=max(hw_values),
    )


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
    return TopicStore(data_dir, file_layer=layer, clock=_fixed_clock,
                      new_topic_id=derived_topic_id)


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
