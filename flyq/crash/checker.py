"""Checks a recovered log against what the workload was promised (spec/crash-model.md, CM-*).

The disk is real files in a directory; the log is opened by the real, unmodified recovery code
through the real file layer (or a recovery policy under test). Every answer is compared with the
reference model holding the prefix that survived, its epoch cache cut to it and, for a replica,
its high watermark clamped into it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial

import attrs

from flyq.api import LogInterface
from flyq.broker.layout import partition_directory
from flyq.codec.checkpoint import encode_checkpoint
from flyq.codec.record_batch import iter_batch_headers
from flyq.crash.workload import (
    TOPIC_NAMES,
    Expectations,
    TopicState,
    Workload,
    open_log,
    open_topic_store,
)
from flyq.errors import FlyQError
from flyq.impl.filelayer import OsFileLayer
from flyq.impl.leader_epochs import HIGH_WATERMARK_FILE, LEADER_EPOCH_CHECKPOINT_FILE
from flyq.impl.log import PartitionLog
from flyq.impl.recovery import RecoveryPolicy
from flyq.impl.topic import TopicStore
from flyq.model import (
    LogState,
    ModelLog,
    batch_boundaries,
    delete_records_below,
    empty_log,
    end_offset_for_epoch,
    reopen,
    truncate,
)
from flyq.records import Record

__all__ = ["check_recovered_log", "check_recovered_topics"]


def _outcome(call: Callable[[], object]) -> object:
    try:
        return call()
    except FlyQError as exc:
        return type(exc).__name__


def _reference(workload: Workload, expected: Expectations) -> LogState:
    """The log the surviving one must be a cut of: every batch of a plain workload appended,
    or the model's state that `expected` names for an epoch workload."""
    if workload.states:
        return workload.states[expected.reference]
    model = ModelLog()
    for batch in workload.batches:
        model.append(list(batch))
    return model.state


def _recovered_state(reference: LogState, start: int, end: int,
                     high_watermark: int | None) -> LogState:
    """What the model says a log recovered to `[start, end)` of `reference` is: its prefix
    deletion at `start` and truncation at `end` cut the epoch cache (EPOCH-6, EPOCH-5, which is
    EPOCH-10), and a reopen sets `leader_epoch` (EPOCH-11)."""
    state = attrs.evolve(reference, explicit_high_watermark=None)
    if start > state.log_end_offset:
        state = empty_log(start)
    else:
        state = truncate(delete_records_below(state, start), end)
    return attrs.evolve(reopen(state), explicit_high_watermark=high_watermark)


def _compare_reads(log: PartitionLog, model: ModelLog) -> list[str]:
    problems = []
    start, end = model.log_start_offset, model.log_end_offset
    subjects: tuple[tuple[str, LogInterface], ...] = (("log", log), ("model", model))

    def compare(description: str, call: Callable[[LogInterface], object]) -> None:
        actual, expected = (_outcome(partial(call, subject)) for _, subject in subjects)
        if actual != expected:
            problems.append(f"{description} gave {actual!r}, the model {expected!r}")

    for offset in range(start - 1, end + 2):
        for limit in (None, 2):

            def forward(s: LogInterface, o: int = offset, m: int | None = limit) -> object:
                return s.read(o, max_records=m)

            compare(f"read({offset}, max_records={limit})", forward)

        def backward(s: LogInterface, o: int = offset) -> object:
            return s.read_backward(o, max_records=3)

        compare(f"read_backward({offset})", backward)
    timestamps = {record.timestamp for record in model.read(start)} if end > start else set()
    for timestamp in sorted({0, *timestamps, *(t + 1 for t in timestamps)}):

        def seek(s: LogInterface, t: int = timestamp) -> object:
            return s.offset_for_timestamp(t)

        compare(f"offset_for_timestamp({timestamp})", seek)
    return problems


def _stray_bytes(directory: str) -> list[str]:
    """Every `.log` must be whole batches with valid CRCs, nothing else (no unappended byte)."""
    problems = []
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".log"):
            continue
        with open(os.path.join(directory, name), "rb") as handle:
            data = handle.read()
        try:
            for _ in iter_batch_headers(data, verify_crc=True, source=name):
                pass
        except FlyQError as exc:
            problems.append(f"{name} holds bytes that are not whole valid batches: {exc}")
    return problems


def _high_watermark_problems(high_watermark: int, start: int, end: int,
                             expected: Expectations, replica: bool) -> list[str]:
    """HWM-6: a replica's high watermark is the checkpointed one, clamped into the recovered
    log; HWM-2: otherwise it is the log end."""
    if not replica:
        if high_watermark != end:
            return [f"high watermark {high_watermark} is not the log end {end} (HWM-2)"]
        return []
    low, high = (min(max(value, start), end)
                 for value in (expected.min_high_watermark, expected.max_high_watermark))
    if not low <= high_watermark <= high:
        return [f"high watermark {high_watermark} after recovery, expected "
                f"{low if low == high else f'{low}..{high}'}: the checkpointed "
                f"{expected.min_high_watermark}..{expected.max_high_watermark} clamped into "
                f"[{start}, {end}] (HWM-6)"]
    return []


def _epoch_problems(log: PartitionLog, state: LogState, when: str) -> list[str]:
    """EPOCH-10, EPOCH-11: the epoch cache and `leader_epoch` are the model's."""
    problems = []
    if log.epoch_entries() != state.epochs:
        problems.append(f"epoch cache {when} is {log.epoch_entries()}, the model's cut to "
                        f"[{state.log_start_offset}, {state.log_end_offset}) is {state.epochs} "
                        "(EPOCH-10)")
    if log.leader_epoch != state.leader_epoch:
        problems.append(f"leader_epoch {when} is {log.leader_epoch}, the model "
                        f"{state.leader_epoch} (EPOCH-11)")
    for epoch in range(-1, state.latest_epoch + 2):
        answer, wanted = log.end_offset_for_epoch(epoch), end_offset_for_epoch(state, epoch)
        if answer != wanted:
            problems.append(f"end_offset_for_epoch({epoch}) {when} is {answer}, the model "
                            f"{wanted} (EPOCH-8)")
    return problems


def _checkpoint_problems(directory: str, state: LogState) -> list[str]:
    """What was cut is written back: the epoch checkpoint holds the model's cache (EPOCH-10)
    and a replica's high-watermark checkpoint its clamped high watermark (HWM-6); a file never
    needed (an always empty cache, a high watermark never moved or not explicit) is absent."""
    problems = []
    files = ((LEADER_EPOCH_CHECKPOINT_FILE, tuple(v for entry in state.epochs for v in entry),
              not state.epochs, "EPOCH-10"),
             (HIGH_WATERMARK_FILE, (state.high_watermark,),
              state.explicit_high_watermark in (None, state.log_start_offset), "HWM-6"))
    for name, values, may_be_absent, rule in files:
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            if not may_be_absent:
                problems.append(f"{name} is missing; it should hold {values} ({rule})")
            continue
        with open(path, "rb") as handle:
            data = handle.read()
        if state.explicit_high_watermark is None and name == HIGH_WATERMARK_FILE:
            problems.append(f"{name} exists though the high watermark follows the end (HWM-6)")
        elif data != encode_checkpoint(values):
            problems.append(f"{name} holds {data.hex()}, not {values} ({rule})")
    return problems


def check_recovered_log(directory: str, workload: Workload, expected: Expectations,
                        policy: RecoveryPolicy | None = None, *, deep: bool = True) -> list[str]:
    """Open the log in `directory` and list every way it breaks the crash model's promises."""
    layer = OsFileLayer()
    try:
        log = open_log(layer, workload.config, policy, directory, replica=workload.replica)
    except FlyQError as exc:
        return [f"recovery failed: {type(exc).__name__}: {exc}"]
    problems: list[str] = []
    reference = _reference(workload, expected)
    try:
        start, end = log.log_start_offset, log.log_end_offset
        boundaries = batch_boundaries(reference)
        if end not in boundaries and end != start:
            problems.append(f"log ends at {end}, inside a batch (batch ends {list(boundaries)})")
        if end < expected.durable_offset:
            problems.append(f"log ends at {end} but {expected.durable_offset} was durable")
        if end > max(expected.max_log_end_offset, start):
            problems.append(f"log ends at {end} but appends up to {expected.max_log_end_offset} "
                            "had started")
        if not expected.min_log_start_offset <= start <= expected.max_log_start_offset:
            problems.append(f"log start {start} outside [{expected.min_log_start_offset}, "
                            f"{expected.max_log_start_offset}]")
        planned = [r for r in reference.readable() if start <= r.offset < end]
        records = _outcome(lambda: log.read(start))
        if records != planned:
            problems.append(f"records from {start} are {records!r}, not the appended "
                            f"{planned!r}")
        problems.extend(log.index_mismatches())
        problems.extend(_stray_bytes(directory))
        if problems:
            return problems
        high_watermark = log.high_watermark
        problems.extend(_high_watermark_problems(high_watermark, start, end, expected,
                                                 workload.replica))
        if problems:
            return problems
        state = _recovered_state(reference, start, end,
                                 high_watermark if workload.replica else None)
        problems.extend(_epoch_problems(log, state, "after recovery"))
        problems.extend(_checkpoint_problems(directory, state))
        if problems or not deep:
            return problems
        model = ModelLog(state)
        problems.extend(_compare_reads(log, model))
        if workload.states:
            # A new epoch after recovery: its entry is written over the cut checkpoint.
            epoch = state.latest_epoch + 1
            if (_outcome(lambda: log.become_leader(epoch))
                    != _outcome(lambda: model.become_leader(epoch))):
                problems.append(f"become_leader({epoch}) after recovery disagrees with the model")
        extra = [Record(value=b"after-recovery", key=b"r", timestamp=7)]
        if _outcome(lambda: log.append(extra)) != _outcome(lambda: model.append(extra)):
            problems.append("append after recovery disagrees with the model")
        problems.extend(_epoch_problems(log, model.state, "after an append after recovery"))
        log.close()
        reopened = open_log(layer, workload.config, policy, directory, replica=workload.replica)
        try:
            if not reopened.recovery_report.clean:
                problems.append("a clean close after recovery did not reopen cleanly")
            if reopened.read(reopened.log_start_offset) != model.read(model.log_start_offset):
                problems.append("records after recovery, append and reopen differ from the model")
            problems.extend(reopened.index_mismatches())
            model.reopen()
            problems.extend(_epoch_problems(reopened, model.state, "after a clean reopen"))
            if reopened.high_watermark != model.high_watermark:
                problems.append(f"high watermark {reopened.high_watermark} after a clean reopen, "
                                f"the model {model.high_watermark} (HWM-6)")
        finally:
            reopened.close()
    except FlyQError as exc:
        problems.append(f"{type(exc).__name__} after recovery: {exc}")
    finally:
        log.close()
    return problems


def _topic_problems(store: TopicStore, state: TopicState) -> list[str]:
    """How the topics in `store` differ from the committed topics `state`."""
    listed = store.list()
    if listed != sorted(state):
        return [f"topics listed are {listed}, expected {sorted(state)}"]
    problems = []
    for name, expected in sorted(state.items()):
        try:
            found = store.metadata(name)
        except FlyQError as exc:
            problems.append(f"topic {name!r} is listed but unreadable: {type(exc).__name__}: "
                            f"{exc}")
            continue
        if found != expected:
            problems.append(f"topic {name!r} is {found!r}, expected {expected!r}")
            continue
        for partition in range(found.partitions):
            if not os.path.isdir(partition_directory(store.data_dir, name, partition)):
                problems.append(f"topic {name!r} has no directory for partition {partition}")
        if problems:
            continue
        try:
            with store.open(name) as topic:
                for partition in range(topic.partitions):
                    log = topic.partition(partition)
                    if (log.log_start_offset, log.log_end_offset) != (0, 0):
                        problems.append(f"partition {partition} of {name!r} is not empty")
        except FlyQError as exc:
            problems.append(f"topic {name!r} does not open: {type(exc).__name__}: {exc}")
    return problems


def check_recovered_topics(data_dir: str, allowed: list[TopicState]) -> list[str]:
    """List how the topics in `data_dir` break TOPIC-1/TOPIC-4 after a crash: the committed
    topics must be exactly one of the `allowed` states, each listed topic complete and readable,
    and a topic absent from it creatable again (the residue of a half-done create is cleared)."""
    store = open_topic_store(OsFileLayer(), data_dir)
    try:
        attempts = [_topic_problems(store, state) for state in allowed]
    except FlyQError as exc:
        return [f"listing topics failed: {type(exc).__name__}: {exc}"]
    if all(attempts):
        return [f"matches no allowed state: {'; or: '.join('; '.join(a) for a in attempts)}"]
    for name in TOPIC_NAMES:
        if name in store.list():
            continue
        try:
            store.create(name, 1)
            if name not in store.list():
                return [f"topic {name!r} created after the crash is not listed"]
        except FlyQError as exc:
            return [f"creating {name!r} after the crash failed: {type(exc).__name__}: {exc}"]
    return []
