"""A reusable lockstep state machine: the reference model against any partition log.

Another implementation of `flyq.api.LogInterface` runs this suite against itself by providing a
`LogHarness` (how to open, close cleanly, crash, fail an fsync and inspect its log) and calling
`make_log_machine(harness_factory)`; tests/property/test_log_vs_model.py does so for FlyQ's own
disk log. Every rule names the spec/log.md (or recovery.md) invariants it checks.

The model's `append_encoded` decodes the batch and appends its records, with the idempotent
producer checks of spec/idempotence.md; the model has no `read_raw`, so the machine decodes what
`read_raw` returns to compare it with the model's batches. Idempotent producers (a few ids,
retries of recent batches, gaps, epoch bumps and fenced epochs) are driven by
`append_idempotent`, and the producer tables are compared after every step, so reopen steps check
the snapshots and the header scan (IDEM-10, IDEM-11).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from flyq.api import AppendResult, LogInterface
from flyq.codec.record_batch import DecodedBatch, decode_batch, encode_batch
from flyq.errors import FlyQError
from flyq.model import ModelLog, empty_log
from flyq.records import Record
from flyq.testing._strategies import batches, corrupt_crc, crc_corruptions, encoded_batches

__all__ = ["LogHarness", "LogSettings", "make_log_machine"]


class LogSettings(Protocol):
    """Sizes the machine draws to force rolls and retention; a harness maps them onto its own
    configuration (None: that limit is off)."""

    segment_bytes: int
    index_interval_bytes: int
    index_max_bytes: int
    segment_ms: int
    retention_bytes: int | None
    retention_ms: int | None
    # False: the log is opened as a replica with an explicit high watermark (HWM-3).
    high_watermark_follows_end: bool


class LogHarness(Protocol):
    """How the machine drives one implementation under test."""

    def open(self) -> LogInterface:
        """Open (or reopen) the log; after a crash this runs the implementation's recovery."""
        ...

    def close(self, log: LogInterface) -> None:
        """Close cleanly."""
        ...

    def crash(self, log: LogInterface) -> None:
        """Abandon the log as a killed process would: no flush, no clean shutdown, nothing lost
        that the operating system accepted."""
        ...

    def flush(self, log: LogInterface) -> None:
        """Make everything durable (DUR-2); a no-op for a log without a disk."""
        ...

    def advance_clock(self, milliseconds: int) -> None:
        """Move the harness's clock forward (age-based rolls, time-based flushes, retention)."""
        ...

    def apply_retention(self, log: LogInterface, now_ms: int | None = None) -> int | None:
        """Run one retention pass at `now_ms` (None: the harness's clock) and return the new
        `log_start_offset`, or None if the implementation has no retention. The harness checks
        what only it can see (which segments RET-1 deletes, that the new start is a segment base,
        RET-3); the machine then applies `delete_records_below` of the returned offset to the
        model (RET-2)."""
        ...

    def append_encoded(self, log: LogInterface, batch: bytes) -> AppendResult:
        """Append one encoded RecordBatch v2 (its base offset is the log's to assign)."""
        ...

    def read_raw(self, log: LogInterface, offset: int, max_bytes: int) -> bytes | memoryview:
        """Whole stored batches from the one holding `offset`, at most `max_bytes` bytes unless
        the first batch alone is larger: bytes, or a memoryview of bytes read (no second copy)."""
        ...

    def fail_next_fsync(self) -> bool:
        """Make the next fsync of the log's files fail with `StorageError`; False if this
        harness cannot inject the fault (the machine then skips the rule)."""
        ...

    def cancel_fsync_failure(self) -> None:
        """Withdraw a failure `fail_next_fsync` armed that no fsync took."""
        ...

    def durable_offset(self, log: LogInterface) -> int:
        """The log's `durable_offset` (DUR-1)."""
        ...

    def problems(self, log: LogInterface) -> list[str]:
        """Implementation-specific invariant violations (e.g. an index that differs from a
        rebuild, IDX-1); empty when all is well."""
        ...

    def cleanup(self) -> None:
        """Release everything the harness created."""
        ...


@st.composite
def _settings(draw: st.DrawFn) -> dict[str, int | None]:
    return {
        "segment_bytes": draw(st.one_of(st.integers(200, 600), st.integers(200, 6000))),
        "index_interval_bytes": draw(st.sampled_from([1, 64, 200, 1000, 4096])),
        "index_max_bytes": draw(st.sampled_from([24, 48, 96, 4096])),
        "segment_ms": draw(st.sampled_from([50, 1000, 10**9])),
        "retention_bytes": draw(st.sampled_from([None, 300, 2000])),
        "retention_ms": draw(st.sampled_from([None, 50, 5000])),
        "high_watermark_follows_end": draw(st.booleans()),
    }


def _outcome(call: Callable[[], object]) -> tuple[str, object]:
    """('ok', value) or ('error', exception type name): how model and impl are compared."""
    try:
        return ("ok", call())
    except FlyQError as exc:
        return ("error", type(exc).__name__)


def _decoded_batches(raw: bytes | memoryview) -> list[DecodedBatch]:
    """Every batch in `raw`, which must be whole batches with valid CRCs and nothing else."""
    out: list[DecodedBatch] = []
    position = 0
    while position < len(raw):
        decoded = decode_batch(raw, position, source="read_raw result")
        out.append(decoded)
        position += decoded.header.size
    return out


def make_log_machine(
    harness_factory: Callable[[dict[str, int | None]], LogHarness],
) -> type[RuleBasedStateMachine]:
    """A state machine class that runs `ModelLog` and the harness's log in lockstep."""

    class LogVersusModel(RuleBasedStateMachine):
        """After every step every observable of the log equals the model's."""

        def __init__(self) -> None:
            super().__init__()
            self.model = ModelLog()
            self.settings: dict[str, int | None] = {}
            self.harness: LogHarness | None = None
            self.log: LogInterface | None = None
            # Encoded idempotent batches sent so far, for retries (append_idempotent).
            self.sent: list[bytes] = []

        @initialize(settings=_settings())
        def open_log(self, settings: dict[str, int | None]) -> None:
            """Start from an empty log with sizes small enough to roll often (SEG-2)."""
            self.settings = settings
            self.harness = harness_factory(settings)
            self.model = ModelLog(
                empty_log(high_watermark_follows_end=bool(settings["high_watermark_follows_end"]))
            )
            self.log = self.harness.open()

        def teardown(self) -> None:
            if self.harness is not None:
                if self.log is not None:
                    self.harness.close(self.log)
                self.harness.cleanup()

        def _both(self, call: Callable[[LogInterface], object]) -> tuple[object, object]:
            assert self.log is not None
            log = self.log
            expected = _outcome(lambda: call(self.model))
            actual = _outcome(lambda: call(log))
            assert actual == expected, f"model: {expected!r}\nimpl:  {actual!r}"
            return expected, actual

        def _offset(self, data: st.DataObject) -> int:
            """An offset near the log's range, including just outside it."""
            low, high = self.model.log_start_offset, self.model.log_end_offset
            return data.draw(
                st.one_of(st.integers(low - 2, high + 2), st.sampled_from([low, high, high - 1])),
                label="offset",
            )

        @rule(records=batches())
        def append(self, records: list[Record]) -> None:
            """LOG-2, LOG-3: appends assign the same offsets."""
            self._both(lambda log: log.append(records))

        @rule(many=st.lists(batches(), min_size=2, max_size=8))
        def append_several(self, many: list[list[Record]]) -> None:
            """LOG-2, SEG-2: a run of appends assigns the same offsets and rolls segments (so that
            retention has sealed segments to delete)."""
            for records in many:

                def append(log: LogInterface, records: list[Record] = records) -> object:
                    return log.append(records)

                self._both(append)

        @rule(encoded=encoded_batches(), corruption=st.none() | crc_corruptions())
        def append_encoded(self, encoded: tuple[list[Record], bytes],
                           corruption: tuple[int, int] | None) -> None:
            """LOG-2, LOG-4, IDEM-2..6: an encoded batch, whatever its base offset, is appended as
            its records would be, after the idempotent checks its producer fields call for; one
            whose CRC does not match is refused as decoding it refuses (ChecksumMismatch) and
            changes nothing."""
            assert self.harness is not None and self.log is not None
            harness, log = self.harness, self.log
            _, data = encoded
            if corruption is not None:
                data = corrupt_crc(data, corruption)

            expected = _outcome(lambda: self.model.append_encoded(data))
            actual = _outcome(lambda: harness.append_encoded(log, data))
            assert actual == expected, f"model: {expected!r}\nimpl:  {actual!r}"
            if corruption is not None:
                assert expected == ("error", "ChecksumMismatch"), expected

        @rule(data=st.data(), records=batches(max_size=3, large_value_max=0),
              producer_id=st.integers(0, 2), retry=st.booleans())
        def append_idempotent(self, data: st.DataObject, records: list[Record],
                              producer_id: int, retry: bool) -> None:
            """IDEM-2..8: an idempotent producer's batch, a retry of a recent one, one with a gap
            or a rewind, a new or a fenced epoch: both answer alike (duplicates with the
            original offsets) and hold the same producer table."""
            assert self.harness is not None and self.log is not None
            harness, log = self.harness, self.log
            if retry and self.sent:
                batch = data.draw(st.sampled_from(self.sent[-8:]), label="retried batch")
            else:
                table = {pid: (epoch, entries) for pid, epoch, entries in
                         self.model.producer_entries()}
                epoch, entries = table.get(producer_id, (0, ()))
                following = (entries[-1][1] + 1) % (1 << 31) if entries else 0
                epoch = data.draw(st.sampled_from([epoch, epoch, epoch, epoch + 1,
                                                   max(epoch - 1, 0)]), label="producer epoch")
                sequence = data.draw(st.sampled_from(
                    [following, following, following, 0, following + 1, max(following - 1, 0)]),
                    label="base sequence")
                batch = encode_batch(0, records, producer_id=producer_id,
                                     producer_epoch=epoch, base_sequence=sequence)
                self.sent.append(batch)
            expected = _outcome(lambda: self.model.append_encoded(batch))
            actual = _outcome(lambda: harness.append_encoded(log, batch))
            assert actual == expected, f"model: {expected!r}\nimpl:  {actual!r}"

        @invariant()
        def producers_agree(self) -> None:
            """IDEM-1, IDEM-9, IDEM-11: the producer table is the model's fold, after appends,
            truncation, prefix deletion, retention and every kind of reopen."""
            if self.log is None:
                return
            assert self.log.producer_entries() == self.model.producer_entries()

        @rule(data=st.data(), max_bytes=st.one_of(st.integers(1, 3000), st.sampled_from([0, -1])))
        def read_raw(self, data: st.DataObject, max_bytes: int) -> None:
            """LOG-5, LOG-9: raw reads are whole stored batches equal to the model's, starting at
            the batch holding the offset, within max_bytes except for the first batch; refusals
            are those of `read` with the same arguments."""
            assert self.harness is not None and self.log is not None
            harness, log = self.harness, self.log
            offset = self._offset(data)
            expected = _outcome(lambda: self.model.read(offset, max_bytes=max_bytes))
            actual = _outcome(lambda: harness.read_raw(log, offset, max_bytes))
            if expected[0] == "error":
                assert actual == expected, f"model: {expected!r}\nimpl:  {actual!r}"
                return
            assert actual[0] == "ok", f"model: {expected!r}\nimpl:  {actual!r}"
            raw = actual[1]
            assert isinstance(raw, (bytes, memoryview))
            got = _decoded_batches(raw)
            model_batches = self.model.state.batches
            following = [batch for batch in model_batches if batch.next_offset > offset]
            if offset == self.model.log_end_offset:
                assert got == [], "a raw read at log_end_offset returned batches"
                return
            assert got, f"a raw read at {offset} below log_end_offset returned nothing"
            assert following[0].base_offset <= offset
            assert len(got) <= len(following)
            for decoded, batch in zip(got, following, strict=False):
                assert decoded.header.base_offset == batch.base_offset
                assert tuple(r.record for r in decoded.records) == batch.records
                assert [r.offset for r in decoded.records] == list(
                    range(batch.base_offset, batch.next_offset))
            assert len(got) == 1 or len(raw) <= max_bytes, (len(raw), max_bytes)

        @rule()
        def append_empty(self) -> None:
            """LOG-3: an empty batch is refused and changes nothing."""
            self._both(lambda log: log.append([]))

        @rule(data=st.data(), max_records=st.none() | st.integers(0, 20),
              max_bytes=st.none() | st.integers(0, 3000))
        def read(self, data: st.DataObject, max_records: int | None,
                 max_bytes: int | None) -> None:
            """LOG-5, LOG-6, LOG-9: forward reads agree, including out of range and limits."""
            offset = self._offset(data)
            self._both(lambda log: log.read(offset, max_records=max_records, max_bytes=max_bytes))

        @rule(data=st.data(), max_records=st.none() | st.integers(1, 20),
              max_bytes=st.none() | st.integers(1, 3000))
        def read_backward(self, data: st.DataObject, max_records: int | None,
                          max_bytes: int | None) -> None:
            """LOG-7, LOG-9: backward reads agree."""
            offset = self._offset(data)
            self._both(
                lambda log: log.read_backward(offset, max_records=max_records, max_bytes=max_bytes)
            )

        @rule(timestamp=st.one_of(st.integers(0, 40), st.integers(0, 2**41)))
        def seek_timestamp(self, timestamp: int) -> None:
            """LOG-8: timestamp seeks agree (timestamps are not monotonic)."""
            self._both(lambda log: log.offset_for_timestamp(timestamp))

        @rule(data=st.data())
        def truncate(self, data: st.DataObject) -> None:
            """LOG-10: truncation at batch boundaries agrees; elsewhere both refuse alike."""
            low, high = self.model.log_start_offset, self.model.log_end_offset
            offset = data.draw(
                st.one_of(st.sampled_from(self.model.batch_boundaries()),
                          st.integers(low - 1, high + 1)),
                label="truncate to",
            )
            self._both(lambda log: log.truncate(offset))

        @rule(data=st.data())
        def delete_records_below(self, data: st.DataObject) -> None:
            """LOG-11: prefix deletion agrees, at or between batch boundaries."""
            offset = self._offset(data)
            self._both(lambda log: log.delete_records_below(offset))

        @rule()
        def apply_retention(self) -> None:
            """RET-2: retention is delete_records_below of the start it reports; nothing at or
            above it is lost (every read agrees afterwards)."""
            self._retention(None)

        @rule(data=st.data(), delta=st.sampled_from([-1, 0, 1]))
        def apply_retention_at_a_boundary(self, data: st.DataObject, delta: int) -> None:
            """RET-1, RET-2: a retention run at `t + retention_ms + delta` for a stored timestamp
            `t`, where "strictly older than now - retention_ms" decides."""
            retention_ms = self.settings.get("retention_ms")
            # The newest timestamp of the oldest segment is one of the running maxima over the
            # batches, oldest first: few values, so the boundary is hit often.
            running: list[int] = []
            for batch in self.model.state.batches:
                newest_here = max(record.timestamp for record in batch.records)
                if not running or newest_here > running[-1]:
                    running.append(newest_here)
            if retention_ms is None or not running:
                return
            newest = data.draw(st.sampled_from(running), label="boundary timestamp")
            self._retention(newest + retention_ms + delta)

        def _retention(self, now_ms: int | None) -> None:
            assert self.harness is not None and self.log is not None
            before = self.model.log_start_offset
            new_start = self.harness.apply_retention(self.log, now_ms)
            if new_start is None:
                return
            assert before <= new_start <= self.model.log_end_offset, (before, new_start)
            self.model.delete_records_below(new_start)
            self._whole_log_agrees()

        @rule()
        def flush(self) -> None:
            """DUR-2: a flush makes everything durable."""
            assert self.harness is not None and self.log is not None
            self.harness.flush(self.log)

        @rule(records=batches(max_size=3, large_value_max=0))
        def flush_fails(self, records: list[Record]) -> None:
            """DUR-1, recovery.md §1.3: a flush whose fsync fails raises `StorageError`, leaves
            `durable_offset` where it was, and puts the log in the failed state: every later call
            raises `LogFailed` until a reopen, which recovers everything the model holds."""
            assert self.harness is not None and self.log is not None
            harness, log = self.harness, self.log
            # Something unflushed, so that a durable_offset moved too early shows.
            self._both(lambda log: log.append(records))
            if not harness.fail_next_fsync():
                return
            before = harness.durable_offset(log)
            assert before <= log.log_end_offset
            assert _outcome(lambda: harness.flush(log)) == ("error", "StorageError")
            assert harness.durable_offset(log) == before, (
                f"durable_offset moved from {before} to {harness.durable_offset(log)} though "
                "the fsync failed")
            for name, call in (
                ("append", lambda: log.append(records)),
                ("read", lambda: log.read(self.model.log_start_offset)),
                ("flush", lambda: harness.flush(log)),
                ("truncate", lambda: log.truncate(self.model.log_end_offset)),
            ):
                assert _outcome(call) == ("error", "LogFailed"), f"{name} after a failed fsync"
            harness.close(log)
            self.log = None
            self.log = harness.open()
            self.model.reopen()
            self._whole_log_agrees()

        @rule(records=batches(max_size=3, large_value_max=0))
        def append_when_fsync_fails(self, records: list[Record]) -> None:
            """DUR-1, recovery.md §1.3: an append whose fsync fails (a roll sealing the active
            segment, or the flush policy) raises `StorageError`, leaves `durable_offset` where it
            was and fails the log; a reopen holds the model's records, plus the batch if it was
            written before the fsync. An append that fsyncs nothing is an ordinary append."""
            assert self.harness is not None and self.log is not None
            harness, log = self.harness, self.log
            if not harness.fail_next_fsync():
                return
            before = harness.durable_offset(log)
            old_end = self.model.log_end_offset
            expected = _outcome(lambda: self.model.append(records))
            actual = _outcome(lambda: log.append(records))
            if actual == expected:
                harness.cancel_fsync_failure()
                return
            assert expected[0] == "ok", f"model: {expected!r}\nimpl:  {actual!r}"
            assert actual == ("error", "StorageError"), f"model: {expected!r}\nimpl:  {actual!r}"
            assert harness.durable_offset(log) == before, (
                f"durable_offset moved from {before} to {harness.durable_offset(log)} though "
                "the fsync failed")
            assert _outcome(lambda: log.append(records)) == ("error", "LogFailed")
            harness.close(log)
            self.log = None
            self.log = harness.open()
            if self.log.log_end_offset == old_end:
                # The batch never reached the log: the model loses it before it reopens.
                self.model.truncate(old_end)
            self.model.reopen()
            self._whole_log_agrees()

        @rule(milliseconds=st.sampled_from([1, 60, 2000]))
        def advance_clock(self, milliseconds: int) -> None:
            """SEG-2: time passes, so segments roll on age."""
            assert self.harness is not None
            self.harness.advance_clock(milliseconds)

        @rule()
        def reopen_clean(self) -> None:
            """DUR-4: a clean close and open keeps every observable."""
            assert self.harness is not None and self.log is not None
            self.harness.close(self.log)
            self.log = None
            self.log = self.harness.open()
            self.model.reopen()
            self._whole_log_agrees()

        @precondition(lambda self: self.log is not None)
        @rule()
        def reopen_after_kill(self) -> None:
            """DUR-3: a killed process loses nothing the OS accepted; recovery keeps it all."""
            assert self.harness is not None and self.log is not None
            self.harness.crash(self.log)
            self.log = None
            self.log = self.harness.open()
            self.model.reopen()
            self._whole_log_agrees()

        def _whole_log_agrees(self) -> None:
            """LOG-4: after a reopen every record reads back as the model holds it."""
            self._both(lambda log: log.read(log.log_start_offset))

        @invariant()
        def offsets_agree(self) -> None:
            """LOG-1: log start and end offsets agree with the model."""
            if self.log is None:
                return
            assert (self.log.log_start_offset, self.log.log_end_offset) == (
                self.model.log_start_offset,
                self.model.log_end_offset,
            )

        @invariant()
        def high_watermark_agrees(self) -> None:
            """HW-1, HWM-1, HWM-2: the high watermark agrees with the model and lies in the log;
            on one node it is the log end offset."""
            if self.log is None:
                return
            assert self.log.high_watermark == self.model.high_watermark
            assert self.log.log_start_offset <= self.log.high_watermark <= self.log.log_end_offset
            if self.model.state.explicit_high_watermark is None:
                assert self.log.high_watermark == self.log.log_end_offset

        # --- replication (spec/replication-log.md): leader epochs, follower appends, the high
        # watermark of a replica.

        def _epoch_near_newest(self, data: st.DataObject) -> int:
            """An epoch around the newest one the log knows, sometimes an invalid one."""
            newest = max(self.model.leader_epoch, self.model.state.latest_epoch, 0)
            return data.draw(
                st.one_of(st.integers(max(newest - 1, 0), newest + 2), st.sampled_from([-1, 0])),
                label="epoch",
            )

        @rule(data=st.data())
        def become_leader(self, data: st.DataObject) -> None:
            """EPOCH-1: a new epoch is taken, a lower one is fenced, alike in both."""
            epoch = self._epoch_near_newest(data)
            self._both(lambda log: log.become_leader(epoch))

        @rule(data=st.data(), records=batches())
        def append_replicated(self, data: st.DataObject, records: list[Record]) -> None:
            """FOLLOW-1, FOLLOW-2, EPOCH-4: a leader's batch keeps its offsets and epoch; a batch
            at the wrong offset or going back in epoch is refused alike."""
            end = self.model.log_end_offset
            base = data.draw(st.sampled_from([end, end, end, end + 1, max(end - 1, 0)]),
                             label="base_offset")
            epoch = self._epoch_near_newest(data)
            batch = encode_batch(base, records, partition_leader_epoch=epoch)
            self._both(lambda log: log.append_replicated(batch))

        @rule(data=st.data())
        def advance_high_watermark(self, data: st.DataObject) -> None:
            """HWM-2, HWM-3: a replica's high watermark moves up to the log end, never back."""
            low, high = self.model.high_watermark, self.model.log_end_offset
            offset = data.draw(st.one_of(st.integers(low - 1, high + 1), st.just(high)),
                               label="high watermark")
            self._both(lambda log: log.advance_high_watermark(offset))

        @rule(data=st.data())
        def truncate_to_epoch_end(self, data: st.DataObject) -> None:
            """EPOCH-8, FOLLOW-3, EPOCH-5: a follower asks where an epoch ends and truncates
            there; both answer alike and both cut the epoch cache alike."""
            epoch = self._epoch_near_newest(data)
            answer, _ = self._both(lambda log: log.end_offset_for_epoch(epoch))
            assert isinstance(answer, tuple) and answer[0] == "ok"
            _, end = answer[1]
            if end != -1 and end < self.model.log_end_offset:
                self._both(lambda log: log.truncate(end))

        @rule(data=st.data(), max_records=st.none() | st.integers(1, 20),
              max_bytes=st.none() | st.integers(1, 3000))
        def read_up_to_high_watermark(self, data: st.DataObject, max_records: int | None,
                                      max_bytes: int | None) -> None:
            """HWM-5: reads that stop at the high watermark agree."""
            offset = self._offset(data)
            self._both(lambda log: log.read(offset, max_records=max_records, max_bytes=max_bytes,
                                             up_to_high_watermark=True))

        @invariant()
        def epochs_agree(self) -> None:
            """EPOCH-3, EPOCH-7, EPOCH-11: leader epoch and epoch cache agree with the model."""
            if self.log is None:
                return
            assert self.log.leader_epoch == self.model.leader_epoch
            assert self.log.epoch_entries() == self.model.epoch_entries()

        @invariant()
        def implementation_invariants(self) -> None:
            """IDX-1 and others the harness knows: e.g. every index equals a fresh rebuild."""
            if self.log is None or self.harness is None:
                return
            assert self.harness.problems(self.log) == []

    return LogVersusModel
