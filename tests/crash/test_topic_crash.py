"""Crash exploration of topic create, alter and delete (spec/crash-model.md §9, TOPIC-1, TOPIC-4)."""

from __future__ import annotations

import pytest

from flyq.crash import MODES, ExplorationSettings, explore_topics, make_topic_workload
from flyq.crash.recording import RecordingFileLayer
from flyq.crash.variants import NoDirectoryFsync
from flyq.crash.workload import DISK_ROOT, run_topic_workload
from tests.crash.conftest import EXPLORED, crash_states_target

pytestmark = pytest.mark.crash

# Topic operations leave fewer distinct disks than the log's workloads: a fifth of the target.
SHARE = 5


def test_no_crash_state_breaks_a_topic() -> None:
    """TOPIC-1, TOPIC-4: after any crash, the committed topics are those of the last returned
    operation (or of the one in flight), each complete and readable; no half-created topic is
    listed; a topic not listed can be created again."""
    target = max(crash_states_target() // SHARE, 100)
    settings = ExplorationSettings(seed=0, max_states=target, workload_sizes=(1, 3, 5),
                                   workloads_per_size=200, recovery_crash_every=0)
    report = explore_topics(settings)
    EXPLORED.append(("topic operations", report))
    assert [v.reproduction() for v in report.violations] == []
    assert report.distinct_states >= target, f"only {report.distinct_states} states exist"
    assert all(report.states[mode] > 0 for mode in MODES)


def test_topic_workloads_do_every_operation() -> None:
    """The explored topic workloads create, alter, delete and re-create topics."""
    kinds = set()
    for number in range(20):
        workload = make_topic_workload(5 * 1009 + number, 5)
        run_topic_workload(workload, RecordingFileLayer(directories={DISK_ROOT}))
        kinds.update(step[0] for step in workload.steps)
        names = [step[1] for step in workload.steps if step[0] == "create"]
        kinds.update({"re-create"} if len(names) > len(set(names)) else set())
    assert kinds == {"create", "alter", "delete", "re-create"}


def test_forgotten_directory_fsyncs_are_caught_in_topics() -> None:
    """CM-9 for topics: a file layer that forgets directory fsyncs loses committed topics, and
    the topic exploration says so."""
    settings = ExplorationSettings(seed=0, max_states=2000, workload_sizes=(1, 3),
                                   workloads_per_size=20, modes=("reorder",),
                                   stop_at_first_violation=True)
    report = explore_topics(settings, wrap=NoDirectoryFsync)
    assert report.violations, "the topic exploration did not notice lost directory entries"
