"""What the Broker's scheduler must do at a given time: a pure decision (spec/broker.md BRK-7).

The Broker hands `plan_duties` a snapshot of its clocks; the duties come back as data, so the rules
are tested with plain numbers and the Broker (or its asyncio task) only carries them out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs

from flyq.errors import InvalidConfig
from flyq.values import is_int

__all__ = ["Duty", "PartitionClock", "ScheduleSettings", "plan_duties"]

DutyKind = Literal["flush", "retention", "flush_offsets"]


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not is_int(value) or value < 1:
        raise InvalidConfig(attribute.name, value, "must be an integer >= 1")


@attrs.frozen
class ScheduleSettings:
    """How often the scheduler's duties come due. Milliseconds."""

    # Kafka's log.retention.check.interval.ms.
    retention_check_ms: int = attrs.field(default=300_000, validator=_positive)
    # The oldest unflushed consumer-group commit is written out within this long (GRP-7).
    offsets_flush_ms: int = attrs.field(default=1_000, validator=_positive)
    # Period of the asyncio scheduler task: the lateness bound of every duty.
    tick_ms: int = attrs.field(default=100, validator=_positive)


@attrs.frozen
class PartitionClock:
    """What the planner needs to know about one open partition log."""

    topic: str
    partition: int
    flush_ms: int | None
    # When the oldest record not yet fsynced was appended; None when everything is durable.
    unflushed_since_ms: int | None
    retention_enabled: bool
    # The last retention run, or when the log was opened.
    last_retention_ms: int


@attrs.frozen
class Duty:
    """One piece of work the scheduler found due: flush or retention of a partition, or a flush
    of the consumer-group offset store (topic and partition None)."""

    kind: DutyKind
    topic: str | None = None
    partition: int | None = None


def plan_duties(
    partitions: Iterable[PartitionClock],
    offsets_dirty_since_ms: int | None,
    now_ms: int,
    settings: ScheduleSettings,
) -> tuple[Duty, ...]:
    """The duties due at `now_ms`, partitions in the order given, the offset store last.

    - flush: the partition has `flush_ms` and its oldest unflushed record is that old.
    - retention: the partition has a retention limit and `retention_check_ms` passed since its
      last run (or its open).
    - flush_offsets: the offset store's oldest unflushed change is `offsets_flush_ms` old.
    """
    duties: list[Duty] = []
    for clock in partitions:
        since = clock.unflushed_since_ms
        if clock.flush_ms is not None and since is not None and now_ms - since >= clock.flush_ms:
            duties.append(Duty("flush", clock.topic, clock.partition))
        if (clock.retention_enabled
                and now_ms - clock.last_retention_ms >= settings.retention_check_ms):
            duties.append(Duty("retention", clock.topic, clock.partition))
    if (offsets_dirty_since_ms is not None
            and now_ms - offsets_dirty_since_ms >= settings.offsets_flush_ms):
        duties.append(Duty("flush_offsets"))
    return tuple(duties)
