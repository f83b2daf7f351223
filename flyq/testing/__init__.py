"""Conformance suites another implementation runs against itself (like `trio.testing`).

Needs Hypothesis (`pip install flyq[testing]`). What is here:

- `make_log_machine(harness_factory)`: a Hypothesis state machine running the reference model
  (`flyq.model.ModelLog`) and a partition log in lockstep (spec/log.md). The log under test is
  reached only through a `LogHarness`; the sizes the machine draws arrive as `LogSettings`.
- `make_groups_machine(harness_factory)`: the same for the consumer-group offset store against
  `flyq.model.ModelOffsetStore` (spec/groups.md), through a `GroupsHarness`.
- The shared strategies: records, batches, encoded batches, CRC corruptions, read limits and
  model states.
- `FailingFsyncLayer`: a file-layer wrapper whose next fsync fails, for harnesses of logs that
  use `flyq.impl.FileLayer`.

Running the log machine against another implementation::

    from flyq.testing import LogHarness, make_log_machine

    class MyHarness:  # every method of LogHarness
        def __init__(self, settings: dict[str, int | None]) -> None:
            # segment_bytes, retention_ms, ... (None: off); high_watermark_follows_end False
            # asks for a replica whose high watermark moves only by advance_high_watermark.
            self.settings = settings
        def open(self): return MyLog.open(self.settings)
        def close(self, log): log.close()
        def crash(self, log): ...            # drop the log as a killed process would
        def flush(self, log): log.flush()
        def advance_clock(self, milliseconds): ...
        def apply_retention(self, log, now_ms=None): return None  # no retention
        def append_encoded(self, log, batch): return log.append_encoded(batch)
        def read_raw(self, log, offset, max_bytes): return log.read_raw(offset, max_bytes)
        def fail_next_fsync(self): return False  # cannot inject disk faults
        def cancel_fsync_failure(self): pass
        def durable_offset(self, log): return log.durable_offset
        def problems(self, log): return []
        def cleanup(self): ...

    TestMyLogAgreesWithModel = make_log_machine(MyHarness).TestCase

The machine also calls the log's replication operations directly (`become_leader`,
`append_replicated`, `advance_high_watermark`, `end_offset_for_epoch`, reads with
`up_to_high_watermark`; spec/replication-log.md). pytest collects the `TestCase`;
`HYPOTHESIS_PROFILE` and Hypothesis's `settings` bound the run.
tests/property/test_log_vs_model.py is the harness of FlyQ's own disk log.
"""

from flyq.crash.variants import FailingFsyncLayer
from flyq.testing._groups_machine import ALL_KEYS, GroupsHarness, make_groups_machine
from flyq.testing._log_machine import LogHarness, LogSettings, make_log_machine
from flyq.testing._strategies import (
    KIB,
    LARGE_VALUE_MAX,
    TIMESTAMP_MAX,
    TIMESTAMP_POOL,
    batches,
    byte_limits,
    corrupt_crc,
    crc_corruptions,
    encoded_batches,
    header_keys,
    headers,
    invalid_limits,
    log_states,
    optional_bytes,
    record_limits,
    records,
    timestamps,
)

__all__ = [
    "ALL_KEYS",
    "KIB",
    "LARGE_VALUE_MAX",
    "TIMESTAMP_MAX",
    "TIMESTAMP_POOL",
    "FailingFsyncLayer",
    "GroupsHarness",
    "LogHarness",
    "LogSettings",
    "batches",
    "byte_limits",
    "corrupt_crc",
    "crc_corruptions",
    "encoded_batches",
    "header_keys",
    "headers",
    "invalid_limits",
    "log_states",
    "make_groups_machine",
    "make_log_machine",
    "optional_bytes",
    "record_limits",
    "records",
    "timestamps",
]
