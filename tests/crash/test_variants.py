"""Proof that the harness can fail: every deliberately broken recovery is caught (CM-9)."""

from __future__ import annotations

import errno

import pytest

from flyq.crash import (
    BROKEN_VARIANTS,
    BrokenVariant,
    ExplorationSettings,
    FailingFsyncLayer,
    RecordingFileLayer,
    explore,
)
from flyq.errors import StorageError

pytestmark = pytest.mark.crash


@pytest.mark.parametrize("variant", BROKEN_VARIANTS, ids=lambda v: v.name.replace(" ", "-"))
def test_broken_variant_is_caught_with_a_small_reproduction(variant: BrokenVariant) -> None:
    """The explorer reports the broken recovery, on a workload of the smallest size tried."""
    settings = ExplorationSettings(seed=0, max_states=5000, workload_sizes=(2, 4, 7),
                                   stop_at_first_violation=True)
    report = explore(settings, policy=variant.policy, wrap=variant.wrap)
    assert report.violations, f"{variant.name} slipped through {report.distinct_states} states"
    violation = report.violations[0]
    print(f"{variant.name}: {violation.reproduction()}")
    # Workloads run smallest first, so the first violation is already a small reproduction.
    assert "2 batches" in violation.workload
    assert violation.problems


def test_every_variant_is_listed() -> None:
    """The variants the crash model names are all present, so none can be dropped quietly."""
    assert {variant.name for variant in BROKEN_VARIANTS} == {
        "skip the CRC check",
        "trust a stale index",
        "truncate one byte too late",
        "treat a zero-filled tail as valid",
        "forget directory fsyncs",
        "forget to truncate the epoch cache",
    }


def test_failing_fsync_layer_fails_once_and_makes_nothing_durable() -> None:
    """The injected fault: the armed fsync raises StorageError (an EIO cause), records no fsync
    on the recording layer (nothing became durable), and the next fsync works again."""
    recording = RecordingFileLayer(directories={"/disk"})
    layer = FailingFsyncLayer(recording)
    handle = layer.open("/disk/file", create=True)
    handle.pwrite(b"data", 0)
    layer.fail_next_fsync()
    with pytest.raises(StorageError, match="fdatasync") as failure:
        handle.fsync()
    assert isinstance(failure.value.__cause__, OSError)
    assert failure.value.__cause__.errno == errno.EIO
    assert [op.kind for op in recording.history] == ["create", "write"]
    assert (layer.failures, layer.armed) == (1, False)
    handle.fsync()
    assert [op.kind for op in recording.history] == ["create", "write", "fsync"]
