"""The executable reference models: the partition log (spec/log.md), the offset store (spec/groups.md),
the classic group coordinator (spec/group-coordinator.md) and the ACL authorizer (spec/acl.md), as
pure functions.

Pure: no I/O, no clock, no randomness, and it never imports `flyq.impl`. A `LogState` is a frozen
value; each operation returns a new one. `ModelLog` wraps a state in the mutable shape of
`flyq.api.LogInterface`, so the model and the disk log can run side by side in property tests.
"""

from flyq.model._acl import model_authorize, model_filter_matches
from flyq.model._classic_group import ClassicState, ModelClassicCoordinator
from flyq.model._log import ModelLog
from flyq.model._state import (
    Batch,
    LogState,
    advance_high_watermark,
    append,
    append_encoded,
    append_replicated,
    batch_boundaries,
    become_leader,
    delete_records_below,
    empty_log,
    end_offset_for_epoch,
    offset_for_timestamp,
    read,
    read_backward,
    reopen,
    truncate,
)
from flyq.model.groups import GroupsState, ModelOffsetStore, OffsetStoreInterface

__all__ = [
    "Batch",
    "ClassicState",
    "GroupsState",
    "LogState",
    "ModelClassicCoordinator",
    "ModelLog",
    "ModelOffsetStore",
    "OffsetStoreInterface",
    "advance_high_watermark",
    "append",
    "append_encoded",
    "append_replicated",
    "batch_boundaries",
    "become_leader",
    "delete_records_below",
    "empty_log",
    "end_offset_for_epoch",
    "model_authorize",
    "model_filter_matches",
    "offset_for_timestamp",
    "read",
    "read_backward",
    "reopen",
    "truncate",
]
