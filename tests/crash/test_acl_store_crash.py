"""Crash exploration of the ACL store (spec/acl.md ACL-14).

A seeded workload of adds and removes runs against a `RecordingFileLayer`; after every call a
`step` mark records which calls had returned. Every disk a crash could leave, in every mode, is
reopened; the store must hold the set after the last returned call, or (if a call was in flight)
the set after that call. A file layer that forgets directory fsyncs proves the check can fail.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from flyq.auth import Acl, AclFilter
from flyq.auth._acl_store import AclStore
from flyq.crash import MODES, crash_states
from flyq.crash.recording import MARK, RecordingFileLayer
from flyq.crash.variants import NoDirectoryFsync
from flyq.errors import FlyQError
from flyq.impl.filelayer import FileLayer
from tests.crash.conftest import crash_states_target

pytestmark = pytest.mark.crash

DISK_ROOT = "/disk"
STEP = "step"
# The store writes one small file: far fewer distinct disks than the log's workloads.
SHARE = 20

Step = tuple[str, list[Acl] | list[AclFilter]]


def make_workload(seed: int, size: int) -> list[Step]:
    """Adds of one to three ACLs and removes by principal or by everything."""
    rng = random.Random(seed)
    steps: list[Step] = []
    for _ in range(size):
        if rng.random() < 0.35:
            steps.append(("remove", [rng.choice([AclFilter(), AclFilter(
                principal=rng.choice(["User:a", "User:b"]))])]))
        else:
            steps.append(("add", [Acl(rng.choice(["User:a", "User:b"]), "*", "Topic",
                                      rng.choice(["Literal", "Prefixed"]), rng.choice("tuv"),
                                      rng.choice(["Read", "Write"]), "Allow")
                                  for _ in range(rng.randint(1, 3))]))
    return steps


def record(workload: list[Step], wrap: Callable[[RecordingFileLayer], FileLayer] | None
           ) -> tuple[RecordingFileLayer, list[frozenset[Acl]]]:
    """Run the workload on a recording disk; `sets[i]` is the set once step mark i is recorded."""
    layer = RecordingFileLayer(directories={DISK_ROOT})
    store = AclStore.open(DISK_ROOT, file_layer=wrap(layer) if wrap else layer)
    sets = [frozenset[Acl]()]
    layer.mark(STEP, 0)
    for kind, values in workload:
        if kind == "add":
            store.add(values)  # type: ignore[arg-type]
        else:
            store.remove(values)  # type: ignore[arg-type]
        sets.append(store.acls())
        layer.mark(STEP, len(sets) - 1)
    return layer, sets


def allowed_at(layer: RecordingFileLayer, sets: list[frozenset[Acl]], point: int
               ) -> set[frozenset[Acl]]:
    """ACL-14: the set of the last returned step, or of the step in flight."""
    done = 0
    for op in layer.history[:point]:
        if op.kind == MARK and op.label == STEP:
            done = op.value
    allowed = {sets[done]}
    in_flight = point > 0 and layer.history[point - 1].kind != MARK
    if in_flight and done + 1 < len(sets):
        allowed.add(sets[done + 1])
    return allowed


def explore(target: int, *, wrap: Callable[[RecordingFileLayer], FileLayer] | None = None,
            stop_at_first: bool = False, max_workloads: int = 400
            ) -> tuple[dict[str, int], list[str]]:
    """Distinct disks checked per mode, and the violations, until `target` disks were checked."""
    rng = random.Random(0)
    seen: set[str] = set()
    per_mode = dict.fromkeys(MODES, 0)
    violations: list[str] = []
    for number in range(max_workloads):
        workload = make_workload(number, 1 + number % 6)
        layer, sets = record(workload, wrap)
        for point in range(len(layer.history) + 1):
            if point < len(layer.history) and layer.history[point].kind == MARK:
                continue
            allowed = allowed_at(layer, sets, point)
            for mode in MODES:
                for state in crash_states(layer, point, mode, rng=rng, torn_lengths=4,
                                          subset_budget=16):
                    digest = f"{number}:{state.digest()}"
                    if digest in seen:
                        continue
                    seen.add(digest)
                    per_mode[mode] += 1
                    disk = RecordingFileLayer(dict(state.files),
                                              directories=set(state.directories))
                    try:
                        found = AclStore.open(DISK_ROOT, file_layer=disk).acls()
                    except FlyQError as exc:
                        found = None
                        problem = f"reopen raised {type(exc).__name__}: {exc}"
                    else:
                        problem = f"holds {sorted(map(repr, found))}"
                    if found not in allowed:
                        violations.append(f"workload {number}, {mode} crash before op {point} "
                                          f"({state.choice}): {problem}")
                        if stop_at_first:
                            return per_mode, violations
        if sum(per_mode.values()) >= target:
            break
    return per_mode, violations


def test_every_crash_leaves_the_old_or_the_new_set() -> None:
    """ACL-14: after any crash in any mode, the reopened store holds the set of the last
    returned add or remove, or the one in flight; never a damaged file or a mix."""
    target = max(crash_states_target() // SHARE, 100)
    per_mode, violations = explore(target)
    assert violations == []
    assert sum(per_mode.values()) >= target, f"only {per_mode} states exist"
    assert all(count > 0 for count in per_mode.values())


def test_forgotten_directory_fsyncs_are_caught() -> None:
    """ACL-14, CM-9: a file layer that forgets directory fsyncs loses a returned change, and the
    exploration says so."""
    _, violations = explore(2000, wrap=NoDirectoryFsync, stop_at_first=True)
    assert violations, "the ACL exploration did not notice lost directory entries"
