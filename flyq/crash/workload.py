"""Seeded workloads the explorer records, and what each one promises at every point.

A workload is a list of steps derived from a seed alone (no clock, no global randomness), so any
reported failure replays from its seed. Running it against a `RecordingFileLayer` leaves marks in
the history saying what the log had acknowledged: how far it was durable, which log start offset
it had persisted and which appends had begun.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs

from flyq.crash.recording import MARK, Op, RecordingFileLayer
from flyq.impl.config import LogConfig
from flyq.impl.filelayer import FileLayer
from flyq.impl.log import PartitionLog
from flyq.impl.recovery_policy import RecoveryPolicy
from flyq.records import Record, StoredRecord

__all__ = ["LOG_DIRECTORY", "Expectations", "Workload", "expectations_at", "make_workload",
           "run_workload"]

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
    """Steps: ("append", batch index), ("flush",), ("reopen",), ("delete_below", offset)."""

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
    """Run the workload's steps, marking in the history what each acknowledged."""
    target: FileLayer = wrap(layer) if wrap is not None else layer
    log = open_log(target, workload.config, policy)
    start_requested = 0
    for kind, argument in workload.steps:
        if kind == "append":
            batch = workload.batches[argument]
            layer.mark(APPEND_STARTED, log.log_end_offset + len(batch))
            log.append(list(batch))
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
        layer.mark(DURABLE, log.durable_offset)
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
