"""What a live classic consumer group reads: its members' subscribed topics (OffsetDelete's
GROUP_SUBSCRIBED_TO_TOPIC check, spec/protocol.md "Group administration").

Kafka's coordinator knows them by decoding each member's ConsumerProtocolSubscription for the
group's chosen protocol; when it cannot (another protocol type, no protocol chosen yet, metadata
that does not decode) it answers "subscribed" to be safe. So does `subscribed_topics`, with None.
"""

from __future__ import annotations

from flyq.errors import ProtocolError
from flyq.groups._classic import GroupView
from flyq.protocol import CONSUMER_PROTOCOL_TYPE, decode_subscription

__all__ = ["is_subscribed", "subscribed_topics"]


def subscribed_topics(view: GroupView) -> frozenset[str] | None:
    """The union of the members' subscribed topics, or None when they cannot be known."""
    if view.protocol_type != CONSUMER_PROTOCOL_TYPE or view.protocol_name is None:
        return None
    topics: set[str] = set()
    for member in view.members:
        metadata = dict(member.protocols).get(view.protocol_name)
        if metadata is None:
            return None
        try:
            topics.update(decode_subscription(metadata)["topics"])
        except ProtocolError:
            return None
    return frozenset(topics)


def is_subscribed(view: GroupView, topic: str) -> bool:
    """Whether a member of the group may be reading `topic` (True when unknown, as Kafka)."""
    topics = subscribed_topics(view)
    return topics is None or topic in topics
