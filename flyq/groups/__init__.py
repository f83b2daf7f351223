"""Consumer-group coordination, sans-I/O (spec/group-coordinator.md).

`ClassicCoordinator` implements Kafka's classic group protocol (JoinGroup, SyncGroup, Heartbeat,
LeaveGroup) and the OffsetCommit fencing check, as a pure state machine: time is an argument.
"""

from __future__ import annotations

from flyq.groups._classic import (
    FENCED_INSTANCE_ID,
    ILLEGAL_GENERATION,
    INCONSISTENT_GROUP_PROTOCOL,
    INVALID_GROUP_ID,
    INVALID_SESSION_TIMEOUT,
    MEMBER_ID_REQUIRED,
    NONE,
    REBALANCE_IN_PROGRESS,
    TRANSITIONS,
    UNKNOWN_MEMBER_ID,
    ClassicCoordinator,
    GroupEvent,
    GroupState,
    GroupView,
    HeartbeatResponse,
    JoinGroupMember,
    JoinGroupResponse,
    LeaveGroupResponse,
    LeaveMemberResponse,
    MemberView,
    Outcome,
    Response,
    SyncGroupResponse,
)
from flyq.groups._subscriptions import is_subscribed, subscribed_topics

__all__ = [
    "FENCED_INSTANCE_ID",
    "ILLEGAL_GENERATION",
    "INCONSISTENT_GROUP_PROTOCOL",
    "INVALID_GROUP_ID",
    "INVALID_SESSION_TIMEOUT",
    "MEMBER_ID_REQUIRED",
    "NONE",
    "REBALANCE_IN_PROGRESS",
    "TRANSITIONS",
    "UNKNOWN_MEMBER_ID",
    "ClassicCoordinator",
    "GroupEvent",
    "GroupState",
    "GroupView",
    "HeartbeatResponse",
    "JoinGroupMember",
    "JoinGroupResponse",
    "LeaveGroupResponse",
    "LeaveMemberResponse",
    "MemberView",
    "Outcome",
    "Response",
    "SyncGroupResponse",
    "is_subscribed",
    "subscribed_topics",
]
