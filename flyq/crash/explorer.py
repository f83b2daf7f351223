"""Explore crash states: every crash point of recorded workloads, in every mode, then check.

Workloads are tried in rounds of increasing size and crash points earliest first, so the first
violation found for a broken recovery is already a small reproduction. Identical disks are checked
once. Every random choice comes from the printed seed.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator

import attrs

from flyq.crash.checker import check_recovered_log, check_recovered_topics
from flyq.crash.disk import MODES, CrashState, crash_states
from flyq.crash.recording import MARK, RecordingFileLayer
from flyq.crash.workload import (
    DISK_ROOT,
    LOG_DIRECTORY,
    TOPICS_DIRECTORY,
    WORKLOAD_KINDS,
    Expectations,
    Workload,
    expectations_at,
    make_seeded_workload,
    make_topic_workload,
    open_log,
    run_topic_workload,
    run_workload,
    topic_states_at,
)
from flyq.errors import FlyQError
from flyq.impl.filelayer import FileLayer
from flyq.impl.recovery import RecoveryPolicy

__all__ = ["ExplorationReport", "ExplorationSettings", "Violation", "explore", "explore_topics"]


@attrs.frozen
class Violation:
    """A crash state whose recovery broke a promise, with everything needed to replay it."""

    seed: int
    workload: str
    mode: str
    crash_point: int
    choice: str
    during_recovery: str | None
    problems: tuple[str, ...]

    def reproduction(self) -> str:
        """How to replay it."""
        where = f" then, during recovery, {self.during_recovery}" if self.during_recovery else ""
        return (f"workload seed {self.seed} ({self.workload}); crash in mode {self.mode} before "
                f"operation {self.crash_point} ({self.choice}){where}: "
                + "; ".join(self.problems[:3]))


@attrs.define
class ExplorationReport:
    """Counts per mode and the violations found."""

    states: dict[str, int] = attrs.Factory(lambda: dict.fromkeys(MODES, 0))
    recovery_crash_states: int = 0
    recoveries: int = 0
    workloads: int = 0
    violations: list[Violation] = attrs.Factory(list)
    # Distinct disks checked (both kinds) per workload kind.
    states_by_kind: dict[str, int] = attrs.Factory(dict)

    @property
    def distinct_states(self) -> int:
        """Distinct post-crash disks checked, across modes and crashes during recovery."""
        return sum(self.states.values()) + self.recovery_crash_states


@attrs.frozen
class ExplorationSettings:
    """How much to explore."""

    seed: int = 0
    max_states: int = 1000
    modes: tuple[str, ...] = MODES
    workload_sizes: tuple[int, ...] = (2, 4, 7, 10)
    # Of each size, a workload of each kind in turn (spec/crash-model.md §4.2).
    workload_kinds: tuple[str, ...] = WORKLOAD_KINDS
    workloads_per_size: int = 40
    torn_lengths: int | None = 6
    subset_budget: int = 24
    # Every Nth crashed state is also recovered part-way, crashed again and recovered, for at most
    # `recovery_states_per_crash` distinct second crashes, so one recovery cannot crowd out the
    # workloads still to explore.
    recovery_crash_every: int = 40
    recovery_states_per_crash: int = 40
    stop_at_first_violation: bool = False
    deep_check_every: int = 1
    # Where materialised disks go; tmpfs by default, since only the files' contents matter here.
    scratch_dir: str | None = None


def _default_scratch() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _materialise(state: CrashState, root: str) -> str:
    """Write a crash state as real files under `root`; return the log's real directory."""
    state.materialise(DISK_ROOT, root)
    return root + LOG_DIRECTORY[len(DISK_ROOT):]


def _record(workload: Workload, policy: RecoveryPolicy | None,
            wrap: Callable[[RecordingFileLayer], FileLayer] | None) -> RecordingFileLayer:
    layer = RecordingFileLayer(directories={DISK_ROOT})
    run_workload(workload, layer, policy, wrap)
    return layer


def _crash_points(layer: RecordingFileLayer) -> Iterator[int]:
    """Crash points just before each disk operation, and after the last."""
    for index, op in enumerate(layer.history):
        if op.kind != MARK:
            yield index
    yield len(layer.history)


def _recover_recording(state: CrashState, workload: Workload,
                       policy: RecoveryPolicy | None) -> RecordingFileLayer | None:
    """Run recovery on `state` through a recording layer, to crash it part-way later."""
    layer = RecordingFileLayer(dict(state.files), directories=set(state.directories))
    try:
        log = open_log(layer, workload.config, policy, replica=workload.replica)
    except FlyQError:
        return None
    del log  # recovery done: abandoned, as if the process died right after
    return layer


def _seeded_workloads(settings: ExplorationSettings) -> Iterator[Workload]:
    """Round robin over sizes, smallest first in each round, and over kinds within a size: a
    bounded run still reaches the larger workloads, and a broken recovery is first seen on the
    smallest that shows it."""
    for number in range(settings.workloads_per_size):
        for size in settings.workload_sizes:
            for kind in settings.workload_kinds:
                yield make_seeded_workload(settings.seed * 1_000_003 + size * 1009 + number,
                                           size, kind)


def explore(settings: ExplorationSettings, *, policy: RecoveryPolicy | None = None,
            wrap: Callable[[RecordingFileLayer], FileLayer] | None = None,
            progress: Callable[[int], None] | None = None,
            workloads: Iterable[Workload] | None = None) -> ExplorationReport:
    """Explore crash states until `settings.max_states` distinct disks have been checked.

    The workloads are the seeded ones of `settings`, or `workloads` when given.
    """
    report = ExplorationReport()
    seen: set[str] = set()
    rng = random.Random(settings.seed)
    scratch = tempfile.mkdtemp(prefix="flyq-crash-", dir=settings.scratch_dir or _default_scratch())
    counter = 0

    def check(state: CrashState, workload: Workload, expected: Expectations,
              during: str | None) -> bool:
        nonlocal counter
        counter += 1
        root = os.path.join(scratch, str(counter))
        try:
            directory = _materialise(state, root)
            deep = counter % settings.deep_check_every == 0
            problems = check_recovered_log(directory, workload, expected, policy, deep=deep)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        report.recoveries += 1
        report.states_by_kind[workload.kind] = report.states_by_kind.get(workload.kind, 0) + 1
        if progress is not None:
            progress(1)
        if problems:
            report.violations.append(Violation(
                workload.seed, workload.describe(), state.mode, state.crash_point, state.choice,
                during, tuple(problems)))
            return settings.stop_at_first_violation
        return False

    try:
        for workload in (_seeded_workloads(settings) if workloads is None else workloads):
            layer = _record(workload, policy, wrap)
            report.workloads += 1
            states_seen_here = 0
            for point in _crash_points(layer):
                expected = expectations_at(layer.history, point, workload)
                for mode in settings.modes:
                    for state in crash_states(layer, point, mode, rng=rng,
                                              torn_lengths=settings.torn_lengths,
                                              subset_budget=settings.subset_budget):
                        # The same disk under stronger promises is a new case (a later crash
                        # point may promise more of it than the first did).
                        digest = f"{state.digest()} {expected!r}"
                        if digest in seen:
                            continue
                        seen.add(digest)
                        report.states[mode] += 1
                        states_seen_here += 1
                        if check(state, workload, expected, None):
                            return report
                        if (settings.recovery_crash_every
                                and states_seen_here % settings.recovery_crash_every == 0
                                and _explore_recovery(state, workload, expected, settings,
                                                      rng, seen, report, check, policy)):
                            return report
                        if report.distinct_states >= settings.max_states:
                            return report
        return report
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _explore_recovery(state: CrashState, workload: Workload, expected: Expectations,
                      settings: ExplorationSettings, rng: random.Random, seen: set[str],
                      report: ExplorationReport,
                      check: Callable[[CrashState, Workload, Expectations, str | None], bool],
                      policy: RecoveryPolicy | None) -> bool:
    """Crash the recovery of `state` at each of its operations, then recover again."""
    recovery = _recover_recording(state, workload, policy)
    if recovery is None:
        return False
    budget = settings.recovery_states_per_crash
    for point in _crash_points(recovery):
        for mode in settings.modes:
            for second in crash_states(recovery, point, mode, rng=rng,
                                       torn_lengths=settings.torn_lengths,
                                       subset_budget=settings.subset_budget):
                digest = f"{second.digest()} {expected!r}"
                if digest in seen:
                    continue
                seen.add(digest)
                report.recovery_crash_states += 1
                during = (f"recovery of ({state.mode} @ {state.crash_point}: {state.choice}) "
                          f"crashed in mode {mode} before its operation {point} "
                          f"({second.choice})")
                if check(second, workload, expected, during):
                    return True
                if report.distinct_states >= settings.max_states:
                    return True
                budget -= 1
                if budget <= 0:
                    return False
    return False


def explore_topics(settings: ExplorationSettings, *,
                   wrap: Callable[[RecordingFileLayer], FileLayer] | None = None,
                   progress: Callable[[int], None] | None = None) -> ExplorationReport:
    """Explore crash states of topic create, alter and delete (TOPIC-1, TOPIC-4).

    Workloads come from `make_topic_workload` with the same seeds and rounds as `explore`; every
    crash point in every mode is materialised and checked by `check_recovered_topics`, until
    `settings.max_states` distinct disks. No crash during recovery: opening a topic store
    writes nothing.
    """
    report = ExplorationReport()
    seen: set[str] = set()
    rng = random.Random(settings.seed)
    scratch = tempfile.mkdtemp(prefix="flyq-crash-topics-",
                               dir=settings.scratch_dir or _default_scratch())
    try:
        for number in range(settings.workloads_per_size):
            for size in settings.workload_sizes:
                workload = make_topic_workload(
                    settings.seed * 1_000_003 + size * 1009 + number, size)
                layer = RecordingFileLayer(directories={DISK_ROOT})
                run_topic_workload(workload, layer, wrap)
                report.workloads += 1
                for point in _crash_points(layer):
                    allowed = topic_states_at(workload, layer.history, point)
                    promised = repr(allowed)
                    for mode in settings.modes:
                        for state in crash_states(layer, point, mode, rng=rng,
                                                  torn_lengths=settings.torn_lengths,
                                                  subset_budget=settings.subset_budget):
                            digest = f"{state.digest()} {promised}"
                            if digest in seen:
                                continue
                            seen.add(digest)
                            report.states[mode] += 1
                            root = os.path.join(scratch, str(report.recoveries))
                            try:
                                state.materialise(DISK_ROOT, root)
                                problems = check_recovered_topics(
                                    root + TOPICS_DIRECTORY[len(DISK_ROOT):], allowed)
                            finally:
                                shutil.rmtree(root, ignore_errors=True)
                            report.recoveries += 1
                            if progress is not None:
                                progress(1)
                            if problems:
                                report.violations.append(Violation(
                                    workload.seed, workload.describe(), state.mode,
                                    state.crash_point, state.choice, None, tuple(problems)))
                                if settings.stop_at_first_violation:
                                    return report
                            if report.distinct_states >= settings.max_states:
                                return report
        return report
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
