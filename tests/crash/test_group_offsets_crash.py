"""Crash exploration of the consumer-group offset store (spec/groups.md GRP-9, GRP-10).

A seeded workload of commits, durable commits, deletes (of groups and of single offsets) and
flushes runs against a `RecordingFileLayer`; after every step a `step` mark is recorded next to the
model's state, so for any crash point we know which steps had returned (their durability promises
hold) and whether one was in flight. Every disk a crash could leave there, in every mode, is
written out as real files and reopened with the real `OsFileLayer`; the reopened store must hold
one of the states the model allows. Two deliberately broken stores, switched in by a subclass and
by a file-layer wrapper, prove the check can fail.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator

import attrs
import pytest

from flyq.crash import MODES, CrashState, ExplorationReport, crash_states
from flyq.crash.recording import MARK, RecordingFileLayer
from flyq.crash.variants import NoDirectoryFsync
from flyq.errors import FlyQError
from flyq.impl.filelayer import FileLayer
from flyq.impl.groups import OffsetStore
from flyq.model.groups import (
    GroupsState,
    Snapshot,
    commit,
    crash_outcomes,
    crash_problems,
    delete_group,
    delete_offsets,
    empty_store,
    flush,
    groups,
    snapshot_of,
)
from tests.crash.conftest import EXPLORED, crash_states_target

pytestmark = pytest.mark.crash

DISK_ROOT = "/disk"
STORE_DIRECTORY = DISK_ROOT + "/groups"
STEP = "step"

StoreFactory = Callable[[FileLayer], OffsetStore]


def _open_store(layer: FileLayer) -> OffsetStore:
    return OffsetStore.open(STORE_DIRECTORY, file_layer=layer)


# --- workloads ------------------------------------------------------------------------------------


@attrs.frozen
class Step:
    """One call on the store."""

    kind: str  # commit | delete | delete_offsets | flush
    group: str = ""
    topic: str = ""
    partition: int = 0
    offset: int = 0
    metadata: str = ""
    durable: bool = False


def make_workload(seed: int, size: int) -> list[Step]:
    """A seeded mix of commits (some durable), deletes of existing groups, deletes of one of
    their offsets (GRP-14) and flushes."""
    rng = random.Random(seed)
    steps: list[Step] = []
    live: dict[str, set[tuple[str, int]]] = {}  # group -> the keys it holds
    for _ in range(size):
        roll = rng.random()
        if roll < 0.12 and live:
            group = rng.choice(sorted(live))
            del live[group]
            steps.append(Step("delete", group, durable=rng.random() < 0.5))
        elif roll < 0.2 and live:
            # A key the group may or may not hold: GRP-14 skips absent ones.
            group = rng.choice(sorted(live))
            topic, partition = rng.choice(["t", "u"]), rng.randrange(2)
            live[group].discard((topic, partition))
            if not live[group]:
                del live[group]
            steps.append(Step("delete_offsets", group, topic, partition,
                              durable=rng.random() < 0.5))
        elif roll < 0.3:
            steps.append(Step("flush"))
        else:
            group = rng.choice(["g1", "g2", "grüppe"])
            topic, partition = rng.choice(["t", "u"]), rng.randrange(2)
            live.setdefault(group, set()).add((topic, partition))
            steps.append(Step("commit", group, topic, partition,
                              rng.randrange(10_000), rng.choice(["", "m", "ψ" * rng.randrange(4)]),
                              durable=rng.random() < 0.3))
    return steps


def _apply(store: OffsetStore, state: GroupsState, step: Step) -> GroupsState:
    if step.kind == "commit":
        store.commit(step.group, step.topic, step.partition, step.offset, step.metadata,
                     durable=step.durable)
        return commit(state, step.group, step.topic, step.partition, step.offset, step.metadata,
                      durable=step.durable)
    if step.kind == "delete":
        store.delete_group(step.group, durable=step.durable)
        return delete_group(state, step.group, durable=step.durable)
    if step.kind == "delete_offsets":
        key = [(step.topic, step.partition)]
        store.delete_offsets(step.group, key, durable=step.durable)
        return delete_offsets(state, step.group, key, durable=step.durable)
    store.flush()
    return flush(state)


def record(workload: list[Step], factory: StoreFactory) -> tuple[RecordingFileLayer,
                                                                 list[GroupsState]]:
    """Run open, the workload and close on a recording disk; `states[i]` is the model after the
    step whose mark carries value i (0: open, last: close)."""
    layer = RecordingFileLayer(directories={DISK_ROOT})
    store = factory(layer)
    states = [empty_store()]
    layer.mark(STEP, 0)
    for step in workload:
        states.append(_apply(store, states[-1], step))
        layer.mark(STEP, len(states) - 1)
    store.close()
    states.append(flush(states[-1]))
    layer.mark(STEP, len(states) - 1)
    return layer, states


def allowed_at(layer: RecordingFileLayer, states: list[GroupsState], point: int
               ) -> tuple[Snapshot, ...]:
    """GRP-9: what a crash just before `history[point]` may leave. The last returned step's
    promises hold; a step in flight (it already touched the disk) may have persisted its state."""
    done = -1
    for op in layer.history[:point]:
        if op.kind == MARK and op.label == STEP:
            done = op.value
    if done < 0:
        return ((),)  # open in progress: nothing can have been committed
    allowed = crash_outcomes(states[done])
    in_flight = point > 0 and layer.history[point - 1].kind != MARK
    if in_flight and done + 1 < len(states):
        allowed = (*allowed, states[done + 1].committed)
    return allowed


# --- checking -------------------------------------------------------------------------------------


def _materialise(state: CrashState, root: str) -> str:
    """Write a crash state as real files under `root` (standing for /disk); the store's path."""
    state.materialise(DISK_ROOT, root)
    return root + STORE_DIRECTORY[len(DISK_ROOT):]


def check_state(state: CrashState, allowed: tuple[Snapshot, ...], root: str) -> list[str]:
    """Problems of the store reopened from `state` with the real file layer (GRP-9, GRP-10)."""
    try:
        directory = _materialise(state, root)
        try:
            store = OffsetStore.open(directory)
        except FlyQError as exc:
            return [f"reopen raised {type(exc).__name__}: {exc}"]
        try:
            found = snapshot_of({(group, topic, partition): value
                                 for group in store.groups()
                                 for (topic, partition), value in store.describe(group).items()})
        finally:
            store.close()
        return crash_problems(allowed, found)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@attrs.define
class GroupsExploration:
    """What one exploration saw: distinct disks per mode, and every violation with its replay."""

    states: dict[str, int] = attrs.Factory(lambda: dict.fromkeys(MODES, 0))
    recovery_crash_states: int = 0
    checked: int = 0
    workloads: int = 0
    violations: list[str] = attrs.Factory(list)

    @property
    def distinct_states(self) -> int:
        return sum(self.states.values()) + self.recovery_crash_states


def _crash_points(layer: RecordingFileLayer) -> Iterator[int]:
    for index, op in enumerate(layer.history):
        if op.kind != MARK:
            yield index
    yield len(layer.history)


def _recovery_crashes(state: CrashState, rng: random.Random) -> Iterator[CrashState]:
    """Disks a second crash, during the reopen of `state`, could leave (recovery removes a stray
    temp file and may finish a creation: those writes must be crash-safe too)."""
    layer = RecordingFileLayer(dict(state.files), directories=set(state.directories))
    try:
        _open_store(layer)  # abandoned: the process dies right after recovery
    except FlyQError:
        return
    for point in _crash_points(layer):
        for mode in MODES:
            yield from crash_states(layer, point, mode, rng=rng, torn_lengths=2, subset_budget=8)


def explore_groups(target: int, *, seed: int = 0, factory: StoreFactory = _open_store,
                   stop_at_first_violation: bool = False, max_workloads: int = 2000,
                   recovery_crash_every: int = 5) -> GroupsExploration:
    """Explore crash states of seeded workloads until `target` distinct disks left by a crash of
    the workload (not counting second crashes during recovery) have been checked.

    Disks are deduplicated by digest per workload (the same bytes may be allowed after one workload
    and not after another) and counted across workloads. Every `recovery_crash_every`-th disk is
    also crashed again during its reopen; what that leaves must satisfy the same expectation.
    """
    report = GroupsExploration()
    rng = random.Random(seed)
    seen: set[str] = set()
    scratch_parent = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    scratch = tempfile.mkdtemp(prefix="flyq-groups-crash-", dir=scratch_parent)
    try:
        for number in range(max_workloads):
            workload_seed = seed * 1_000_003 + number
            workload = make_workload(workload_seed, 3 + number % 10)
            layer, states = record(workload, factory)
            report.workloads += 1
            checked_here: set[str] = set()
            for point in _crash_points(layer):
                allowed = allowed_at(layer, states, point)
                for mode in MODES:
                    for state in crash_states(layer, point, mode, rng=rng, torn_lengths=6,
                                              subset_budget=32):
                        digest = state.digest()
                        if digest in checked_here:
                            continue
                        checked_here.add(digest)
                        if digest not in seen:
                            seen.add(digest)
                            report.states[mode] += 1
                        report.checked += 1
                        problems = check_state(state, allowed,
                                               os.path.join(scratch, str(report.checked)))
                        if problems:
                            report.violations.append(
                                f"workload seed {workload_seed} ({len(workload)} steps), {mode} "
                                f"crash before op {point} ({state.choice}): {problems[0]}")
                            if stop_at_first_violation:
                                return report
                            continue
                        if report.checked % recovery_crash_every:
                            continue
                        for again in _recovery_crashes(state, rng):
                            digest = again.digest()
                            if digest in checked_here:
                                continue
                            checked_here.add(digest)
                            if digest not in seen:
                                seen.add(digest)
                                report.recovery_crash_states += 1
                            report.checked += 1
                            problems = check_state(again, allowed,
                                                   os.path.join(scratch, str(report.checked)))
                            if problems:
                                report.violations.append(
                                    f"workload seed {workload_seed}, {mode} crash before op "
                                    f"{point} ({state.choice}), then {again.mode} crash in "
                                    f"recovery before op {again.crash_point} ({again.choice}): "
                                    f"{problems[0]}")
                                if stop_at_first_violation:
                                    return report
            if sum(report.states.values()) >= target:
                return report
        return report
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _summary(report: GroupsExploration) -> ExplorationReport:
    """The exploration in the shape the crash suite's terminal summary prints."""
    return ExplorationReport(states=dict(report.states),
                             recovery_crash_states=report.recovery_crash_states,
                             recoveries=report.checked, workloads=report.workloads)


# --- the tests ------------------------------------------------------------------------------------


def test_no_crash_state_loses_or_invents_offsets() -> None:
    """GRP-9, GRP-10: every post-crash disk reopens, without error, to a state the model allows."""
    target = max(crash_states_target() // 2, 100)
    report = explore_groups(target)
    EXPLORED.append(("consumer-group offsets", _summary(report)))
    assert report.violations == []
    first_crash = sum(report.states.values())
    assert first_crash >= target, f"only {first_crash} first-crash states explored"
    assert all(report.states[mode] > 0 for mode in MODES)
    assert report.recovery_crash_states > 0


def test_workload_exercises_every_promise() -> None:
    """GRP-6, GRP-9: the recorded workloads include durable commits, deletes (of groups and of
    offsets, GRP-14), flushes and values
    that a crash may lose, so the exploration above checks something."""
    kinds: set[tuple[str, bool]] = set()
    lost_possible = False
    for number in range(20):
        workload = make_workload(number, 3 + number % 10)
        kinds |= {(step.kind, step.durable) for step in workload if step.kind != "flush"}
        _, states = record(workload, _open_store)
        lost_possible |= any(len(crash_outcomes(s)) > 1 for s in states)
        assert groups(states[-1]) == sorted({k[0] for k, _ in states[-1].committed})
    assert kinds == {("commit", False), ("commit", True), ("delete", False), ("delete", True),
                     ("delete_offsets", False), ("delete_offsets", True)}
    assert lost_possible


# --- broken variants: the check must be able to fail ------------------------------------------------


class _NoFsyncBeforeRename(OffsetStore):
    """Persists by rename without fsyncing the temp file first: the rename can outlive the data."""

    def _persist(self, data: bytes) -> None:
        temp = self._path + ".tmp"
        handle = self._layer.open(temp, create=True)
        try:
            handle.truncate(0)
            handle.pwrite(data, 0)
        finally:
            handle.close()
        self._layer.rename(temp, self._path)
        self._layer.fsync_dir(self._directory)


class _NoDirectoryFsyncAfterRename(OffsetStore):
    """Persists by temp file, fsync and rename, but returns before the rename is durable."""

    def _persist(self, data: bytes) -> None:
        temp = self._path + ".tmp"
        handle = self._layer.open(temp, create=True)
        try:
            handle.truncate(0)
            handle.pwrite(data, 0)
            handle.fsync()
        finally:
            handle.close()
        self._layer.rename(temp, self._path)


# name -> (store factory, what its first violation must say)
BROKEN: dict[str, tuple[StoreFactory, str]] = {
    "no-fsync-before-rename": (
        lambda layer: _NoFsyncBeforeRename.open(STORE_DIRECTORY, file_layer=layer),
        "reopen raised CorruptOffsetsFile"),
    "no-directory-fsync-after-rename": (
        lambda layer: _NoDirectoryFsyncAfterRename.open(STORE_DIRECTORY, file_layer=layer),
        "expected the durable"),
    "layer-forgets-directory-fsyncs": (
        lambda layer: OffsetStore.open(STORE_DIRECTORY, file_layer=NoDirectoryFsync(layer)),
        "reopen raised MissingOffsetsFile"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_persistence_is_caught(name: str) -> None:
    """GRP-9, GRP-10: a store that skips a required fsync is caught by the same exploration, with
    the symptom that fsync prevents (torn file, older offsets, lost file)."""
    factory, symptom = BROKEN[name]
    report = explore_groups(10**9, factory=factory, stop_at_first_violation=True,
                            max_workloads=50)
    assert report.violations, f"{name} was not caught in {report.checked} states"
    assert symptom in report.violations[0], report.violations[0]
