"""The crash harness: record what a log does to its disk, rebuild every disk a crash could leave,
recover each with the real code and check it against the reference model (spec/crash-model.md).

To point it at another implementation of the file-layer interface, run your workload against a
`RecordingFileLayer`, call `crash_states` for each crash point and mode, and open the materialised
disks with your own recovery; `explore` does all of this for FlyQ's partition log, and
`explore_topics` for topic create, alter and delete.
"""

from flyq.crash.checker import check_recovered_log, check_recovered_topics
from flyq.crash.disk import MODES, CrashState, crash_states
from flyq.crash.explorer import (
    ExplorationReport,
    ExplorationSettings,
    Violation,
    explore,
    explore_topics,
)
from flyq.crash.recording import Op, RecordingFileLayer
from flyq.crash.variants import BROKEN_VARIANTS, BrokenVariant, FailingFsyncLayer
from flyq.crash.workload import (
    WORKLOAD_KINDS,
    Expectations,
    TopicWorkload,
    Workload,
    epoch_workload,
    expectations_at,
    make_epoch_workload,
    make_seeded_workload,
    make_topic_workload,
    make_workload,
)

__all__ = [
    "BROKEN_VARIANTS",
    "MODES",
    "WORKLOAD_KINDS",
    "BrokenVariant",
    "CrashState",
    "Expectations",
    "FailingFsyncLayer",
    "ExplorationReport",
    "ExplorationSettings",
    "Op",
    "RecordingFileLayer",
    "TopicWorkload",
    "Violation",
    "Workload",
    "check_recovered_log",
    "check_recovered_topics",
    "crash_states",
    "epoch_workload",
    "expectations_at",
    "explore",
    "explore_topics",
    "make_epoch_workload",
    "make_seeded_workload",
    "make_topic_workload",
    "make_workload",
]
