"""The Broker service: the one object that owns a data directory (spec/broker.md).

The CLI and the wire-protocol server are thin adapters over `Broker` (synchronous) and
`AsyncBroker` (the asyncio facade: one serial executor per partition, group commit, scheduler).
`flyq.broker.layout` is a pure leaf that `flyq.impl` imports too, so the service classes load
lazily here instead of at package import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flyq.broker._async import AsyncBroker
    from flyq.broker._broker import (
        DEFAULT_BATCH_BYTES,
        DEFAULT_BATCH_RECORDS,
        EARLIEST_TIMESTAMP,
        LATEST_TIMESTAMP,
        MAX_TIMESTAMP,
        Broker,
        DataDirectoryNotFound,
        FetchResult,
        GroupPartitionLag,
        ListOffsetsResult,
        NoCommittedOffset,
        OffsetChange,
        PartitionRetention,
        PartitionStatus,
        ProduceResult,
        ReadSpan,
        ResetTarget,
    )
    from flyq.broker._schedule import Duty, ScheduleSettings

__all__ = [
    "DEFAULT_BATCH_BYTES",
    "DEFAULT_BATCH_RECORDS",
    "EARLIEST_TIMESTAMP",
    "LATEST_TIMESTAMP",
    "MAX_TIMESTAMP",
    "AsyncBroker",
    "Broker",
    "DataDirectoryNotFound",
    "Duty",
    "FetchResult",
    "GroupPartitionLag",
    "ListOffsetsResult",
    "NoCommittedOffset",
    "OffsetChange",
    "PartitionRetention",
    "PartitionStatus",
    "ProduceResult",
    "ReadSpan",
    "ResetTarget",
    "ScheduleSettings",
]

_HOMES = {"AsyncBroker": "_async", "Duty": "_schedule", "ScheduleSettings": "_schedule"}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'flyq.broker' has no attribute {name!r}")
    module = importlib.import_module(f"flyq.broker.{_HOMES.get(name, '_broker')}")
    return getattr(module, name)
