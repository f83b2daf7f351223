"""Exhaustive and sampled crash exploration of the disk log finds no violation (spec/crash-model.md)."""

from __future__ import annotations

import pytest

from flyq.crash import (
    MODES,
    WORKLOAD_KINDS,
    ExplorationSettings,
    Workload,
    explore,
    make_workload,
)
from flyq.impl import LogConfig
from flyq.records import Record
from tests.crash.conftest import EXPLORED, crash_states_target

pytestmark = pytest.mark.crash


def test_no_crash_state_breaks_a_promise() -> None:
    """CM-1..CM-8, CM-12, CM-13: every explored post-crash disk, of the workload kinds the
    bound reaches, recovers to a prefix the model agrees with."""
    target = crash_states_target()
    settings = ExplorationSettings(seed=0, max_states=target, workload_sizes=(2, 4, 7, 10, 14))
    report = explore(settings)
    EXPLORED.append(("seed 0 exploration", report))
    assert [v.reproduction() for v in report.violations] == []
    assert report.distinct_states >= target, f"only {report.distinct_states} states exist"
    assert all(report.states[mode] > 0 for mode in MODES)
    # Kinds come in turn within each size; test_epoch_exploration.py gives each epoch kind a
    # share of its own, so a small bound still reaches them.
    assert report.states_by_kind[WORKLOAD_KINDS[0]] > 0
    assert report.recovery_crash_states > 0


def test_exploration_replays_from_its_seed() -> None:
    """Determinism: the same seed explores the same states in the same order."""
    settings = ExplorationSettings(seed=7, max_states=150, workload_sizes=(3,))
    first, second = explore(settings), explore(settings)
    assert first.states == second.states
    assert first.recovery_crash_states == second.recovery_crash_states



def _failed_fsync_workloads() -> list[Workload]:
    """A flush whose fsync fails after unflushed appends; and an append whose roll's fsync fails
    (segments of 180 bytes hold one batch of two records), both followed by more appends."""
    batches = tuple(
        (Record(value=b"v%d" % i * 6, key=b"k", timestamp=5 + i),) * (1 + i % 2) for i in range(4)
    )
    config = LogConfig(segment_bytes=180, index_interval_bytes=60, index_max_bytes=48)
    failed_flush = (("append", 0), ("flush", 0), ("append", 1), ("append", 2), ("fail_fsync", 0),
                    ("append", 3))
    failed_roll = (("append", 0), ("append", 1), ("fail_next_fsync", 0), ("append", 2),
                   ("append", 3))
    return [Workload(-1, config, batches, failed_flush), Workload(-2, config, batches, failed_roll)]


def test_failed_fsyncs_lose_nothing_acknowledged() -> None:
    """CM-1..CM-8 around a failed fsync (recovery.md §1.3): whatever the log still called durable
    after its flush failed survives every crash, and the reopened log agrees with the model."""
    # Two fixed workloads: every one of their crash states (about 1,000) whatever the CI bound.
    settings = ExplorationSettings(seed=0, max_states=10**6, recovery_crash_every=0)
    report = explore(settings, workloads=_failed_fsync_workloads())
    EXPLORED.append(("workloads with a failed fsync", report))
    assert [v.reproduction() for v in report.violations] == []
    assert all(report.states[mode] > 0 for mode in MODES)


def test_seeded_workloads_fail_fsyncs() -> None:
    """The seeded workloads the main exploration runs include flushes whose fsync fails."""
    steps = [kind for n in range(10) for kind, _ in make_workload(4 * 1009 + n, 10).steps]
    assert "fail_fsync" in steps
