"""Crash exploration of idempotent appends and their retries (IDEM-5, IDEM-10..12, CM-14).

A seeded workload appends idempotent batches of two producers (with an epoch bump), retries
recent ones, flushes, rolls segments (snapshots) and reopens. On every disk a crash can leave, the
reopened log's producer table is the fold of its batches, and retrying every batch sent, oldest
first, never stores one twice: a batch acknowledged durable is answered as a duplicate with its
original offsets while it is among its producer's last 5, and is out of order after that.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile

import pytest

from flyq.codec.record_batch import BatchHeader, decode_batch_header, encode_batch, iter_batch_headers
from flyq.crash import MODES, RecordingFileLayer, crash_states
from flyq.crash.recording import MARK
from flyq.crash.workload import DISK_ROOT, LOG_DIRECTORY, open_log
from flyq.errors import InvalidProducerEpoch, OutOfOrderSequence
from flyq.impl.config import LogConfig
from flyq.impl.log import PartitionLog
from flyq.model._producers import last_sequence, producer_table
from flyq.records import Record
from tests.crash.conftest import crash_states_target

pytestmark = pytest.mark.crash

SHARE = 5
DURABLE = "idem_durable"


class _Sent:
    def __init__(self, data: bytes, base: int, last: int) -> None:
        self.data, self.base, self.last = data, base, last


def _run(seed: int, layer: RecordingFileLayer) -> tuple[LogConfig, list[_Sent]]:
    """The workload: marks `DURABLE` with the count of sent batches a returned flush covers."""
    rng = random.Random(seed)
    config = LogConfig(segment_bytes=rng.choice([200, 320]), index_interval_bytes=60)
    log = open_log(layer, config)
    sent: list[_Sent] = []
    next_seq = {1: 0, 2: 0}
    epoch = {1: 0, 2: 0}
    for step in range(rng.randint(6, 14)):
        kind = rng.choice(["append", "append", "append", "retry", "flush", "reopen", "bump"])
        if kind == "bump" and step > 3:
            epoch[2] += 1
            next_seq[2] = 0
            kind = "append"
        if kind in ("append", "bump"):
            pid = rng.choice([1, 2])
            count = rng.choice([1, 2])
            data = encode_batch(0, [Record(value=rng.randbytes(8), timestamp=step)] * count,
                                producer_id=pid, producer_epoch=epoch[pid],
                                base_sequence=next_seq[pid])
            next_seq[pid] = last_sequence(next_seq[pid], count) + 1
            result = log.append_encoded(data)
            assert not result.duplicate
            sent.append(_Sent(data, result.base_offset, result.last_offset))
        elif kind == "retry" and sent:
            retried = rng.choice(sent[-3:])
            try:
                again = log.append_encoded(retried.data)
            except (OutOfOrderSequence, InvalidProducerEpoch):
                continue
            assert again.duplicate and again.base_offset == retried.base
        elif kind == "flush":
            log.flush()
            layer.mark(DURABLE, len(sent))
        elif kind == "reopen":
            log.close()
            layer.mark(DURABLE, len(sent))
            log = open_log(layer, config)
    log.close()
    layer.mark(DURABLE, len(sent))
    return config, sent


def _headers(log: PartitionLog) -> list[BatchHeader]:
    """Every stored batch's header, segment by segment (a raw read stops at a segment's end)."""
    out: list[BatchHeader] = []
    offset = log.log_start_offset
    while offset < log.log_end_offset:
        out.extend(header for _, header in iter_batch_headers(log.read_raw(offset, 1 << 30)))
        offset = out[-1].next_offset
    return out


def _check(directory: str, config: LogConfig, sent: list[_Sent], durable: int) -> None:
    log = PartitionLog.open(directory, config)
    try:
        stored = _headers(log)
        fold = producer_table(
            ((h.producer_id, h.producer_epoch, h.base_sequence,
              last_sequence(h.base_sequence, h.records_count), h.base_offset, h.last_offset,
              h.max_timestamp) for h in stored), log.log_start_offset)
        assert log.producer_entries() == fold
        for number, batch in enumerate(sent):
            header = decode_batch_header(batch.data)
            cached = {(e[0], e[1]) for pid, ep, entries in log.producer_entries()
                      if pid == header.producer_id and ep == header.producer_epoch
                      for e in entries}
            window = (header.base_sequence,
                      last_sequence(header.base_sequence, header.records_count)) in cached
            end = log.log_end_offset
            try:
                result = log.append_encoded(batch.data)
            except (OutOfOrderSequence, InvalidProducerEpoch):
                assert number >= durable or not window, f"durable batch {number} refused"
                assert log.log_end_offset == end
                continue
            if number < durable or window:
                assert result.duplicate, f"batch {number} written twice"
            if number < durable:
                assert (result.base_offset, result.last_offset) == (batch.base, batch.last)
        keys = [(h.producer_id, h.producer_epoch, h.base_sequence) for h in _headers(log)]
        assert len(keys) == len(set(keys)), "a batch is stored twice"
    finally:
        log.close()


def test_retries_after_any_crash_are_duplicates() -> None:
    """IDEM-5, IDEM-11, CM-14: after any post-crash disk, a retried batch acknowledged durable is
    a duplicate with its original offsets, none is stored twice, and the table is the fold."""
    target = max(crash_states_target() // SHARE, 60)
    seen: set[str] = set()
    scratch = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    rng = random.Random(0)
    seed = 0
    while len(seen) < target and seed < 400:
        layer = RecordingFileLayer(directories={DISK_ROOT})
        config, sent = _run(seed, layer)
        seed += 1
        history = [*layer.history, None]
        durable_at = []  # the durable offset acknowledged before each point
        durable = 0
        for op in history:
            if op is not None and op.kind == MARK and op.label == DURABLE:
                durable = op.value
            durable_at.append(durable)
        # Crash points in a seeded random order, so that a bounded run (CI) that stops at its
        # target samples the whole workload rather than only its first operations.
        points = [p for p, op in enumerate(history) if op is None or op.kind != MARK]
        rng.shuffle(points)
        for point in points:
            if len(seen) >= target:
                break
            for mode in MODES:
                for state in crash_states(layer, point, mode, rng=rng, torn_lengths=3,
                                          subset_budget=8):
                    digest = state.digest() + str(durable_at[point])
                    if digest in seen:
                        continue
                    seen.add(digest)
                    root = tempfile.mkdtemp(prefix="flyq-idem-", dir=scratch)
                    try:
                        state.materialise(DISK_ROOT, root)
                        directory = root + LOG_DIRECTORY[len(DISK_ROOT):]
                        if os.path.isdir(directory):
                            _check(directory, config, sent, durable_at[point])
                    finally:
                        shutil.rmtree(root, ignore_errors=True)
    assert len(seen) >= target
