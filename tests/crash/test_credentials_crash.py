"""Crash exploration of the SCRAM credential store (spec/sasl.md SASL-14, SASL-15).

A seeded workload of credential upserts, deletions and multi-change alters runs against a
`RecordingFileLayer` on a data directory that does not exist yet; after every returned call a
`step` mark is recorded next to the credential set it left. Every disk a crash could leave, in
every mode of spec/crash-model.md, is written out as real files and reopened with the real
`OsFileLayer`: it must open without error and hold the set of the last returned call, or the
set of the call in flight. A file layer that forgets directory fsyncs must be caught.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator

import attrs
import pytest

from flyq.auth import SCRAM_MECHANISMS, CredentialStore, ScramCredential, make_credential
from flyq.crash import MODES, CrashState, ExplorationReport, crash_states
from flyq.crash.recording import MARK, RecordingFileLayer
from flyq.crash.variants import NoDirectoryFsync
from flyq.errors import FlyQError
from flyq.impl.filelayer import FileLayer
from tests.crash.conftest import EXPLORED, crash_states_target

pytestmark = pytest.mark.crash

DISK_ROOT = "/disk"
DATA_DIR = DISK_ROOT + "/data"
STEP = "step"
USERS = ("alice", "bob", "c,a=rol")

Snapshot = frozenset[tuple[str, str, ScramCredential]]
Wrap = Callable[[RecordingFileLayer], FileLayer]

# A few fixed credentials (hashing is slow; the store does not care which bytes it keeps).
CREDENTIALS = {(mechanism, n): make_credential(mechanism, f"pw{n}", iterations=4096)
               for mechanism in SCRAM_MECHANISMS for n in range(3)}


@attrs.frozen
class Step:
    """One call: upserts (user, credential) and deletions (user, mechanism) in one alter."""

    upsertions: tuple[tuple[str, ScramCredential], ...] = ()
    deletions: tuple[tuple[str, str], ...] = ()


def make_workload(seed: int, size: int) -> list[Step]:
    """Seeded upserts (new and replacing), deletions of stored credentials, and alters doing
    both at once."""
    rng = random.Random(seed)
    stored: set[tuple[str, str]] = set()
    steps = []
    for _ in range(size):
        deletions: tuple[tuple[str, str], ...] = ()
        if stored and rng.random() < 0.4:
            deletions = (rng.choice(sorted(stored)),)
        upsertions: tuple[tuple[str, ScramCredential], ...] = ()
        if not deletions or rng.random() < 0.4:
            user, mechanism = rng.choice(USERS), rng.choice(SCRAM_MECHANISMS)
            if (user, mechanism) not in deletions:
                upsertions = ((user, CREDENTIALS[mechanism, rng.randrange(3)]),)
        stored -= set(deletions)
        stored |= {(user, credential.mechanism) for user, credential in upsertions}
        steps.append(Step(upsertions, deletions))
    return steps


def apply(snapshot: Snapshot, step: Step) -> Snapshot:
    """The model: the credential set after `step`."""
    kept = {(user, credential.mechanism): credential for user, _, credential in snapshot}
    for key in step.deletions:
        del kept[key]
    for user, credential in step.upsertions:
        kept[user, credential.mechanism] = credential
    return frozenset((user, mechanism, credential) for (user, mechanism), credential in kept.items())


def snapshot_of(store: CredentialStore) -> Snapshot:
    found = set()
    for user, entries in store.users().items():
        for mechanism, _ in entries:
            credential = store.get(user, mechanism)
            assert credential is not None
            found.add((user, mechanism, credential))
    return frozenset(found)


def record(workload: list[Step], wrap: Wrap | None = None
           ) -> tuple[RecordingFileLayer, list[Snapshot]]:
    """Run the workload on a recording disk; `states[i]` is the set after the call whose mark
    carries value i (0: the empty store, opened)."""
    layer = RecordingFileLayer(directories={DISK_ROOT})
    store = CredentialStore.open(DATA_DIR, wrap(layer) if wrap is not None else layer)
    states: list[Snapshot] = [frozenset()]
    layer.mark(STEP, 0)
    for step in workload:
        store.alter(step.upsertions, step.deletions)
        states.append(apply(states[-1], step))
        assert snapshot_of(store) == states[-1]
        layer.mark(STEP, len(states) - 1)
    return layer, states


def allowed_at(layer: RecordingFileLayer, states: list[Snapshot], point: int
               ) -> tuple[Snapshot, ...]:
    """SASL-14: the set of the last returned call, or the one of the call after it (which may be
    in flight at `point`)."""
    done = max(op.value for op in layer.history[:point] if op.kind == MARK and op.label == STEP)
    return tuple(states[done:done + 2])


def _crash_points(layer: RecordingFileLayer) -> Iterator[int]:
    first_mark = next(i for i, op in enumerate(layer.history) if op.kind == MARK)
    for index in range(first_mark + 1, len(layer.history) + 1):
        if index == len(layer.history) or layer.history[index].kind != MARK:
            yield index


def check_state(state: CrashState, allowed: tuple[Snapshot, ...], root: str) -> str | None:
    """The problem of the store reopened from `state` with the real file layer, if any."""
    try:
        state.materialise(DISK_ROOT, root)
        try:
            found = snapshot_of(CredentialStore.open(root + DATA_DIR[len(DISK_ROOT):]))
        except FlyQError as exc:
            return f"reopen raised {type(exc).__name__}: {exc}"
        if found not in allowed:
            return (f"found users {sorted((u, m) for u, m, _ in found)}, allowed "
                    f"{[sorted((u, m) for u, m, _ in s) for s in allowed]}")
        return None
    finally:
        shutil.rmtree(root, ignore_errors=True)


def explore(target: int, *, wrap: Wrap | None = None, stop_at_first_violation: bool = False,
            max_workloads: int = 500) -> tuple[ExplorationReport, list[str]]:
    """Check distinct crash states of seeded workloads until `target` were checked."""
    states_per_mode = dict.fromkeys(MODES, 0)
    violations: list[str] = []
    rng = random.Random(0)
    seen: set[str] = set()
    checked_at: set[tuple[int, int, str]] = set()
    checked = workloads = 0
    scratch = tempfile.mkdtemp(prefix="flyq-credentials-crash-",
                               dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
    try:
        for number in range(max_workloads):
            workload = make_workload(number, 2 + number % 6)
            layer, states = record(workload, wrap)
            workloads += 1
            for point in _crash_points(layer):
                allowed = allowed_at(layer, states, point)
                for mode in MODES:
                    for state in crash_states(layer, point, mode, rng=rng, torn_lengths=4,
                                              subset_budget=32):
                        # Checked once per crash point (what is allowed depends on it), counted
                        # once per distinct disk.
                        digest = state.digest()
                        if (number, point, digest) in checked_at:
                            continue
                        checked_at.add((number, point, digest))
                        if digest not in seen:
                            seen.add(digest)
                            states_per_mode[mode] += 1
                        checked += 1
                        problem = check_state(state, allowed, os.path.join(scratch, str(checked)))
                        if problem is not None:
                            violations.append(f"workload {number} ({len(workload)} calls), {mode} "
                                              f"crash before op {point} ({state.choice}): "
                                              f"{problem}")
                            if stop_at_first_violation:
                                return _report(states_per_mode, checked, workloads), violations
            if sum(states_per_mode.values()) >= target:
                break
        return _report(states_per_mode, checked, workloads), violations
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _report(states: dict[str, int], checked: int, workloads: int) -> ExplorationReport:
    return ExplorationReport(states=dict(states), recovery_crash_states=0, recoveries=checked,
                             workloads=workloads)


def test_every_crash_leaves_the_old_or_the_new_credentials() -> None:
    """SASL-14, SASL-15: every post-crash disk opens without error and holds the credential set
    of the last returned call or of the call in flight, in every crash mode."""
    target = max(crash_states_target() // 10, 200)
    report, violations = explore(target)
    EXPLORED.append(("SCRAM credentials", report))
    assert violations == []
    assert report.distinct_states >= target
    assert all(report.states[mode] > 0 for mode in MODES)


def test_workloads_add_replace_and_delete() -> None:
    """SASL-14: the explored workloads add, replace and delete credentials, alone and in one
    alter, and reach an empty store again, so the exploration checks something."""
    kinds = set()
    for number in range(40):
        workload = make_workload(number, 2 + number % 6)
        _, states = record(workload)
        for step, before in zip(workload, states, strict=False):
            replaced = {(u, c.mechanism) for u, c in step.upsertions} & {
                (u, m) for u, m, _ in before}
            kinds |= {"upsert"} if step.upsertions else set()
            kinds |= {"delete"} if step.deletions else set()
            kinds |= {"both"} if step.upsertions and step.deletions else set()
            kinds |= {"replace"} if replaced else set()
        kinds |= {"emptied"} if any(not s for s in states[1:]) else set()
    assert kinds == {"upsert", "delete", "both", "replace", "emptied"}


def test_forgotten_directory_fsyncs_are_caught() -> None:
    """CM-9 for the credential store: a file layer that forgets directory fsyncs loses a
    returned change (the rename, or @security itself), and the exploration says so."""
    _, violations = explore(3000, wrap=NoDirectoryFsync, stop_at_first_violation=True)
    assert violations, "the exploration did not notice lost directory entries"
