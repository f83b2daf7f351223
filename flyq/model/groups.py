"""The executable reference model of the consumer-group offset store: spec/groups.md as values.

Pure: no I/O, no clock, no randomness, never imports `flyq.impl`. A `GroupsState` is a frozen value
and each operation returns a new one. Besides what the store answers now (`committed`) it keeps
what a crash may leave (GRP-9): the state the last returned flush made durable, and every state
the store passed through since, any of which a later (background or in-flight) flush may have
written. `ModelOffsetStore` wraps a state in the mutable shape of `flyq.impl.groups.OffsetStore`
(the `OffsetStoreInterface` protocol) so both can run side by side in property tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

import attrs

from flyq.codec.offsets import (
    CommittedOffset,
    OffsetKey,
    validate_commit,
    validate_group_id,
    validate_key,
)
from flyq.errors import UnknownGroup

__all__ = [
    "GroupsState",
    "ModelOffsetStore",
    "OffsetStoreInterface",
    "Snapshot",
    "commit",
    "crash_outcomes",
    "crash_problems",
    "delete_group",
    "describe",
    "empty_store",
    "fetch",
    "flush",
    "groups",
    "recovered",
    "snapshot_of",
]

Snapshot = tuple[tuple[OffsetKey, CommittedOffset], ...]
"""Every committed offset of a store, sorted by key: a hashable, comparable state."""


def snapshot_of(offsets: Mapping[OffsetKey, CommittedOffset]) -> Snapshot:
    """The snapshot holding exactly `offsets`."""
    return tuple(sorted(offsets.items()))


@attrs.frozen
class GroupsState:
    """The committed offsets, and what a crash may leave of them.

    `committed`: what fetch answers (GRP-3). `durable`: the snapshot the last returned flush (or
    durable commit, or clean close) covered (GRP-6). `unflushed`: the snapshot after each change
    since then, oldest first; `dirty` iff there is one (GRP-5).
    """

    committed: Snapshot = ()
    durable: Snapshot = ()
    unflushed: tuple[Snapshot, ...] = ()

    @property
    def dirty(self) -> bool:
        """Whether a change happened since the last flush (GRP-5)."""
        return bool(self.unflushed)


def empty_store() -> GroupsState:
    """A store that was just created (GRP-10)."""
    return GroupsState()


def _changed(state: GroupsState, offsets: dict[OffsetKey, CommittedOffset]) -> GroupsState:
    new = snapshot_of(offsets)
    return attrs.evolve(state, committed=new, unflushed=(*state.unflushed, new))


def commit(state: GroupsState, group: str, topic: str, partition: int, offset: int,
           metadata: str = "", *, durable: bool = False) -> GroupsState:
    """Set the committed offset of (group, topic, partition) (GRP-2, GRP-3); `durable` also
    flushes (GRP-6). Invalid arguments raise before anything changes."""
    key, value = validate_commit(group, topic, partition, offset, metadata)
    offsets = dict(state.committed)
    offsets[key] = value
    new = _changed(state, offsets)
    return flush(new) if durable else new


def fetch(state: GroupsState, group: str, topic: str, partition: int) -> CommittedOffset | None:
    """The committed offset of the key, or None if none was committed (GRP-3)."""
    key = validate_key(group, topic, partition)
    return dict(state.committed).get(key)


def groups(state: GroupsState) -> list[str]:
    """Group ids holding at least one committed offset, sorted (GRP-4)."""
    return sorted({group for (group, _, _), _ in state.committed})


def describe(state: GroupsState, group: str) -> dict[tuple[str, int], CommittedOffset]:
    """(topic, partition) -> committed offset for one group; empty if it has none (GRP-4)."""
    validate_group_id(group)
    return {(topic, partition): value for (g, topic, partition), value in state.committed
            if g == group}


def delete_group(state: GroupsState, group: str, *, durable: bool = False) -> GroupsState:
    """Remove every committed offset of `group`; `UnknownGroup` if it has none (GRP-4)."""
    validate_group_id(group)
    kept = {key: value for key, value in state.committed if key[0] != group}
    if len(kept) == len(state.committed):
        raise UnknownGroup(group)
    new = _changed(state, kept)
    return flush(new) if durable else new


def delete_offsets(state: GroupsState, group: str, partitions: Iterable[tuple[str, int]], *,
                   durable: bool = False) -> GroupsState:
    """Remove `group`'s committed offsets of `partitions` (GRP-14): every key is checked first;
    keys without an offset are skipped, and a call that removes nothing changes nothing."""
    doomed = {validate_key(group, topic, partition) for topic, partition in partitions}
    kept = {key: value for key, value in state.committed if key not in doomed}
    if len(kept) == len(state.committed):
        return state
    new = _changed(state, kept)
    return flush(new) if durable else new


def flush(state: GroupsState) -> GroupsState:
    """Everything committed so far is durable (GRP-6); a clean store stays as it is."""
    return GroupsState(committed=state.committed, durable=state.committed, unflushed=())


def crash_outcomes(state: GroupsState) -> tuple[Snapshot, ...]:
    """Every state a crash of a store in `state` may leave (GRP-9): the durable snapshot or the
    snapshot after any later change, never a mixture, never anything older."""
    return (state.durable, *state.unflushed)


def crash_problems(outcomes: tuple[Snapshot, ...], found: Snapshot) -> list[str]:
    """Why `found`, a store reopened after a crash, is not one of `outcomes`; empty if it is.

    The per-key statement of GRP-9 first (each key holds its durable value or a later committed
    one), then the whole-store one (all keys come from the same moment).
    """
    if found in outcomes:
        return []
    problems: list[str] = []
    durable = dict(outcomes[0])
    found_map = dict(found)
    later: dict[OffsetKey, set[CommittedOffset | None]] = {}
    for snapshot in outcomes:
        as_map = dict(snapshot)
        for key in set(as_map) | set(durable) | set(found_map):
            later.setdefault(key, set()).add(as_map.get(key))
    for key in sorted(set(later) | set(found_map)):
        value = found_map.get(key)
        if value not in later.get(key, {None}):
            problems.append(
                f"{key}: found {value!r}, expected the durable {durable.get(key)!r} or a later "
                f"committed value {sorted(map(repr, later.get(key, set())))}"
            )
    if not problems:
        problems.append("every key holds an allowed value, but not all from the same moment "
                        "(a flush was not atomic)")
    return problems


def recovered(found: Snapshot) -> GroupsState:
    """The state of a store reopened after a crash that left `found` (everything in it durable)."""
    return GroupsState(committed=found, durable=found, unflushed=())


class OffsetStoreInterface(Protocol):
    """What the model and `flyq.impl.groups.OffsetStore` both offer (and raise)."""

    @property
    def dirty(self) -> bool: ...

    def commit(self, group: str, topic: str, partition: int, offset: int, metadata: str = "", *,
               durable: bool = False) -> None: ...

    def fetch(self, group: str, topic: str, partition: int) -> CommittedOffset | None: ...

    def groups(self) -> list[str]: ...

    def describe(self, group: str) -> dict[tuple[str, int], CommittedOffset]: ...

    def delete_group(self, group: str, *, durable: bool = False) -> None: ...

    def delete_offsets(self, group: str, partitions: Iterable[tuple[str, int]], *,
                       durable: bool = False) -> None: ...

    def flush(self) -> None: ...


class ModelOffsetStore:
    """A `GroupsState` in the mutable shape of the store."""

    def __init__(self, state: GroupsState | None = None) -> None:
        self.state = state if state is not None else empty_store()

    @property
    def dirty(self) -> bool:
        return self.state.dirty

    def commit(self, group: str, topic: str, partition: int, offset: int, metadata: str = "", *,
               durable: bool = False) -> None:
        self.state = commit(self.state, group, topic, partition, offset, metadata, durable=durable)

    def fetch(self, group: str, topic: str, partition: int) -> CommittedOffset | None:
        return fetch(self.state, group, topic, partition)

    def groups(self) -> list[str]:
        return groups(self.state)

    def describe(self, group: str) -> dict[tuple[str, int], CommittedOffset]:
        return describe(self.state, group)

    def delete_group(self, group: str, *, durable: bool = False) -> None:
        self.state = delete_group(self.state, group, durable=durable)

    def delete_offsets(self, group: str, partitions: Iterable[tuple[str, int]], *,
                       durable: bool = False) -> None:
        self.state = delete_offsets(self.state, group, partitions, durable=durable)

    def flush(self) -> None:
        self.state = flush(self.state)
