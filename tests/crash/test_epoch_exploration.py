"""Crash exploration of workloads that move leader epochs and a replica's high watermark finds no
violation (spec/crash-model.md §4.2, CM-12, CM-13)."""

from __future__ import annotations

import pytest

from flyq.crash import (
    MODES,
    ExplorationSettings,
    Workload,
    epoch_workload,
    explore,
    make_epoch_workload,
)
from flyq.crash.workload import LEADER, REPLICA
from flyq.impl import LogConfig
from flyq.model import end_offset_for_epoch
from flyq.records import Record
from tests.crash.conftest import EXPLORED, crash_states_target

pytestmark = pytest.mark.crash

_CONFIG = LogConfig(segment_bytes=180, index_interval_bytes=60, index_max_bytes=48)
_BATCHES = tuple((Record(value=b"v%d" % i * 5, key=b"k", timestamp=5 + i),) * (1 + i % 2)
                 for i in range(4))


@pytest.mark.parametrize("kind", [LEADER, REPLICA])
def test_epoch_workloads_break_no_promise(kind: str) -> None:
    """CM-1..CM-8, CM-12, CM-13 on seeded leader (or replica) workloads: every explored disk
    recovers to a cut of the model, epoch cache, leader_epoch and high watermark included."""
    target = crash_states_target() // 2
    settings = ExplorationSettings(seed=1, max_states=target, workload_sizes=(2, 4, 7, 10),
                                   workload_kinds=(kind,))
    report = explore(settings)
    EXPLORED.append((f"seed 1 {kind} workloads", report))
    assert [v.reproduction() for v in report.violations] == []
    assert report.distinct_states >= target, f"only {report.distinct_states} states exist"
    assert all(report.states[mode] > 0 for mode in MODES)
    assert report.states_by_kind == {kind: report.recoveries}
    assert report.recovery_crash_states > 0


def _fixed_epoch_workloads() -> list[Workload]:
    """A leader whose unflushed batch of a new epoch follows its durable epoch entry, then
    truncates to the end of the epoch before and deletes a prefix; a replica that advances its
    high watermark over unflushed replicated batches, then truncates below it (HWM-4)."""
    leader = epoch_workload(_CONFIG, _BATCHES, (
        ("become_leader", 1), ("append", 0), ("flush", 0), ("become_leader", 2), ("append", 1),
        ("truncate", 1), ("become_leader", 3), ("append", 2), ("delete_below", 2),
        ("append", 3)), LEADER, seed=-3)
    replica = epoch_workload(_CONFIG, _BATCHES, (
        ("replicate", 0), ("advance_hw", 1), ("flush", 0), ("replicate", 1), ("advance_hw", 3),
        ("truncate", 1), ("replicate", 2), ("advance_hw", 2), ("replicate", 3)), REPLICA,
        batch_epochs=(0, 1, 3, 3), seed=-4)
    return [leader, replica]


def test_fixed_epoch_workloads_lose_nothing_acknowledged() -> None:
    """CM-12, CM-13 at every crash state of two fixed workloads, whatever the CI bound: an
    epoch entry whose batch was lost is cut and the cut written back; the high watermark is the
    acknowledged one, clamped into what survived, and stays there after a later append."""
    settings = ExplorationSettings(seed=0, max_states=10**6, recovery_crash_every=0)
    report = explore(settings, workloads=_fixed_epoch_workloads())
    EXPLORED.append(("fixed epoch workloads", report))
    assert [v.reproduction() for v in report.violations] == []
    assert all(report.states[mode] > 0 for mode in MODES)


def test_fixed_workloads_move_epochs_and_the_high_watermark() -> None:
    """The fixed workloads do what their docstring says, on the model: the leader's truncation
    is the end offset of epoch 1, and the replica's truncation lowers its high watermark."""
    leader, replica = _fixed_epoch_workloads()
    assert end_offset_for_epoch(leader.states[5], 1) == (1, 1)
    assert leader.states[-1].epochs == ((3, 2),)
    assert replica.states[5].high_watermark == 3
    assert replica.states[6].high_watermark == 1
    assert replica.states[-1].epochs == ((0, 0), (3, 1))


def test_epoch_workloads_use_every_operation() -> None:
    """The seeded epoch workloads become leader, append under epochs and replicate, truncate
    (also to an `end_offset_for_epoch` answer), delete a prefix, advance a replica's high
    watermark, flush, reopen and fail fsyncs."""
    kinds: dict[str, set[str]] = {LEADER: set(), REPLICA: set()}
    truncations_to_an_answer = 0
    for kind, seen in kinds.items():
        for number in range(12):
            workload = make_epoch_workload(10 * 1009 + number, 10, kind)
            for index, (step, argument) in enumerate(workload.steps):
                seen.add(step)
                before = workload.states[index]
                if step == "truncate" and any(
                        end_offset_for_epoch(before, epoch)[1] == argument
                        for epoch, _ in before.epochs):
                    truncations_to_an_answer += 1
    common = {"become_leader", "append", "truncate", "delete_below", "flush", "reopen",
              "fail_fsync"}
    assert common <= kinds[LEADER]
    assert common | {"replicate", "advance_hw"} <= kinds[REPLICA]
    assert truncations_to_an_answer > 0


def test_epoch_workload_replays_from_its_seed() -> None:
    """Determinism: a seed gives the same workload, and replaying its steps on the model gives
    the states it carries."""
    for kind in (LEADER, REPLICA):
        workload = make_epoch_workload(77, 7, kind)
        assert make_epoch_workload(77, 7, kind) == workload
        replayed = epoch_workload(workload.config, workload.batches, workload.steps, kind,
                                  workload.batch_epochs, seed=77)
        assert replayed.states == workload.states
