"""Checks a recovered log against what the workload was promised (spec/crash-model.md, CM-*).

The disk is real files in a directory; the log is opened by the real, unmodified recovery code
through the real file layer (or a recovery policy under test). Every answer is compared with the
reference model holding the prefix that survived.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial

from flyq.api import LogInterface
from flyq.broker.layout import partition_directory
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
from flyq.impl.log import PartitionLog
from flyq.impl.recovery import RecoveryPolicy
from flyq.impl.topic import TopicStore
from flyq.model import ModelLog
from flyq.records import Record

__all__ = ["check_recovered_log", "check_recovered_topics"]


def _outcome(call: Callable[[], object]) -> object:
    try:
        return call()
    except FlyQError as exc:
        return type(exc).__name__


def _model_for(workload: Workload, log_start: int, log_end: int) -> ModelLog:
    model = ModelLog()
    for batch in workload.batches:
        if model.log_end_offset >= log_end:
            break
        model.append(list(batch))
    model.delete_records_below(log_start)
    return model


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


def check_recovered_log(directory: str, workload: Workload, expected: Expectations,
                        policy: RecoveryPolicy | None = None, *, deep: bool = True) -> list[str]:
    """Open the log in `directory` and list every way it breaks the crash model's promises."""
    layer = OsFileLayer()
    try:
        log = open_log(layer, workload.config, policy, directory)
    except FlyQError as exc:
        return [f"recovery failed: {type(exc).__name__}: {exc}"]
    problems: list[str] = []
    try:
        start, end = log.log_start_offset, log.log_end_offset
        if end not in workload.batch_ends() and end != start:
            problems.append(f"log ends at {end}, inside a batch (batch ends "
                            f"{workload.batch_ends()})")
        if end < expected.durable_offset:
            problems.append(f"log ends at {end} but {expected.durable_offset} was durable")
        if end > max(expected.max_log_end_offset, start):
            problems.append(f"log ends at {end} but appends up to {expected.max_log_end_offset} "
                            "had started")
        if not expected.min_log_start_offset <= start <= expected.max_log_start_offset:
            problems.append(f"log start {start} outside [{expected.min_log_start_offset}, "
                            f"{expected.max_log_start_offset}]")
        planned = workload.planned_records()
        records = _outcome(lambda: log.read(start))
        if records != planned[start:end]:
            problems.append(f"records from {start} are {records!r}, not the appended "
                            f"{planned[start:end]!r}")
        problems.extend(log.index_mismatches())
        problems.extend(_stray_bytes(directory))
        if problems or not deep:
            return problems
        model = _model_for(workload, start, end)
        problems.extend(_compare_reads(log, model))
        extra = [Record(value=b"after-recovery", key=b"r", timestamp=7)]
        if _outcome(lambda: log.append(extra)) != _outcome(lambda: model.append(extra)):
            problems.append("append after recovery disagrees with the model")
        log.close()
        reopened = open_log(layer, workload.config, policy, directory)
        try:
            if not reopened.recovery_report.clean:
                problems.append("a clean close after recovery did not reopen cleanly")
            if reopened.read(reopened.log_start_offset) != model.read(model.log_start_offset):
                problems.append("records after recovery, append and reopen differ from the model")
            problems.extend(reopened.index_mismatches())
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
