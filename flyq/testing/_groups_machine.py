"""A reusable lockstep state machine: the offset-store model against any offset store.

Another implementation of `flyq.model.OffsetStoreInterface` runs it by providing a `GroupsHarness`
(open, close cleanly, kill, clean up) and calling `make_groups_machine(harness_factory)`. Every
rule names the spec/groups.md invariants it checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from flyq.codec.offsets import MAX_METADATA_BYTES
from flyq.errors import FlyQError
from flyq.model.groups import (
    ModelOffsetStore,
    OffsetStoreInterface,
    crash_outcomes,
    crash_problems,
    recovered,
    snapshot_of,
)

__all__ = ["ALL_KEYS", "GroupsHarness", "make_groups_machine"]

GROUPS = ["g1", "g2", "grüppe"]
TOPICS = ["t", "u"]
PARTITIONS = [0, 1, 2]
ALL_KEYS = [(g, t, p) for g in GROUPS for t in TOPICS for p in PARTITIONS]

groups_ids = st.sampled_from(GROUPS) | st.sampled_from(["", "x" * 250])
topics = st.sampled_from(TOPICS) | st.just("")
partitions = st.sampled_from(PARTITIONS) | st.just(-1)
offsets = st.integers(0, 6) | st.sampled_from([-1, (1 << 63) - 1])
metadata = st.sampled_from(["", "m", "ü" * 3, "x" * (MAX_METADATA_BYTES + 1)])


class GroupsHarness(Protocol):
    """How the machine drives one implementation under test."""

    def open(self) -> OffsetStoreInterface:
        """Open (or reopen) the store."""
        ...

    def close(self, store: OffsetStoreInterface) -> None:
        """Close cleanly (GRP-8)."""
        ...

    def kill(self, store: OffsetStoreInterface) -> None:
        """Abandon the store as a killed process would: no flush, nothing lost that the operating
        system accepted, locks released."""
        ...

    def cleanup(self) -> None:
        """Release everything the harness created."""
        ...


def _outcome(call: Callable[[], object]) -> tuple[str, object]:
    """('ok', value) or ('error', exception type name): how model and impl are compared."""
    try:
        return ("ok", call())
    except FlyQError as exc:
        return ("error", type(exc).__name__)


def make_groups_machine(
    harness_factory: Callable[[], GroupsHarness],
) -> type[RuleBasedStateMachine]:
    """A state machine class running `ModelOffsetStore` and the harness's store in lockstep."""

    class GroupsVersusModel(RuleBasedStateMachine):
        """After every step every observable of the store equals the model's."""

        def __init__(self) -> None:
            super().__init__()
            self.model = ModelOffsetStore()
            self.harness: GroupsHarness | None = None
            self.store: OffsetStoreInterface | None = None

        @initialize()
        def open_store(self) -> None:
            """GRP-10: a store never created opens empty."""
            self.harness = harness_factory()
            self.store = self.harness.open()

        def teardown(self) -> None:
            if self.harness is not None:
                if self.store is not None:
                    self.harness.kill(self.store)
                self.harness.cleanup()

        def _both(self, call: Callable[[OffsetStoreInterface], object]) -> object:
            assert self.store is not None
            store = self.store
            expected = _outcome(lambda: call(self.model))
            actual = _outcome(lambda: call(store))
            assert actual == expected, f"model: {expected!r}\nimpl:  {actual!r}"
            return actual

        @rule(group=groups_ids, topic=topics, partition=partitions, offset=offsets,
              metadata=metadata, durable=st.booleans())
        def commit(self, group: str, topic: str, partition: int, offset: int, metadata: str,
                   durable: bool) -> None:
            """GRP-2, GRP-3, GRP-6: commits (valid or not, durable or not) agree."""
            self._both(lambda s: s.commit(group, topic, partition, offset, metadata,
                                          durable=durable))

        @rule(group=groups_ids, topic=topics, partition=partitions)
        def fetch(self, group: str, topic: str, partition: int) -> None:
            """GRP-2, GRP-3: fetches agree, including refusals."""
            self._both(lambda s: s.fetch(group, topic, partition))

        @rule(group=groups_ids)
        def describe(self, group: str) -> None:
            """GRP-4: describe agrees."""
            self._both(lambda s: s.describe(group))

        @rule(group=groups_ids, durable=st.booleans())
        def delete_group(self, group: str, durable: bool) -> None:
            """GRP-4: deletes agree, including UnknownGroup."""
            self._both(lambda s: s.delete_group(group, durable=durable))

        @rule(group=groups_ids, keys=st.lists(st.tuples(topics, partitions), max_size=3),
              durable=st.booleans())
        def delete_offsets(self, group: str, keys: list[tuple[str, int]], durable: bool) -> None:
            """GRP-14: deleting some offsets agrees, including refusals and absent keys."""
            self._both(lambda s: s.delete_offsets(group, keys, durable=durable))

        @rule()
        def flush(self) -> None:
            """GRP-6: a flush makes everything durable."""
            self._both(lambda s: s.flush())

        @rule()
        def reopen_clean(self) -> None:
            """GRP-8: a clean close and reopen keeps every key and leaves the store clean."""
            assert self.harness is not None and self.store is not None
            self.harness.close(self.store)
            self.store = self.harness.open()
            self.model.flush()

        @rule()
        def reopen_after_kill(self) -> None:
            """GRP-9, GRP-12: a killed store reopens to exactly the last flushed state."""
            assert self.harness is not None and self.store is not None
            outcomes = crash_outcomes(self.model.state)
            self.harness.kill(self.store)
            self.store = None
            self.store = self.harness.open()
            found = snapshot_of({key: value for key in ALL_KEYS
                                 if (value := self.store.fetch(*key)) is not None})
            problems = crash_problems(outcomes, found)
            assert not problems, problems
            assert found == self.model.state.durable, "a kill lost or invented flushed offsets"
            self.model.state = recovered(found)

        @invariant()
        def every_key_agrees(self) -> None:
            """GRP-1, GRP-3, GRP-4, GRP-5: fetch of every key, groups() and dirty agree."""
            if self.store is None:
                return
            for key in ALL_KEYS:
                assert self.store.fetch(*key) == self.model.fetch(*key), key
            assert self.store.groups() == self.model.groups()
            assert self.store.dirty == self.model.dirty

    return GroupsVersusModel
