"""Exhaustive and sampled crash exploration of the disk log finds no violation (spec/crash-model.md)."""

from __future__ import annotations

import pytest

from flyq.crash import MODES, ExplorationSettings, explore
from tests.crash.conftest import EXPLORED, crash_states_target

pytestmark = pytest.mark.crash


def test_no_crash_state_breaks_a_promise() -> None:
    """CM-1..CM-8: every explored post-crash disk recovers to a prefix the model agrees with."""
    target = crash_states_target()
    settings = ExplorationSettings(seed=0, max_states=target, workload_sizes=(2, 4, 7, 10, 14))
    report = explore(settings)
    EXPLORED.append(("seed 0 exploration", report))
    assert [v.reproduction() for v in report.violations] == []
    assert report.distinct_states >= target, f"only {report.distinct_states} states exist"
    assert all(report.states[mode] > 0 for mode in MODES)
    assert report.recovery_crash_states > 0


def test_exploration_replays_from_its_seed() -> None:
    """Determinism: the same seed explores the same states in the same order."""
    settings = ExplorationSettings(seed=7, max_states=150, workload_sizes=(3,))
    first, second = explore(settings), explore(settings)
    assert first.states == second.states
    assert first.recovery_crash_states == second.recovery_crash_states
