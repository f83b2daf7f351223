"""FlyQ's own Kafka client (the seed of it): an asyncio core over the sans-I/O
`flyq.protocol.ClientConnection`, the same schemas and codec the broker uses.

`BrokerConnection` is one connection with api-version negotiation; `AsyncAdmin` the admin
operations on topics, consumer groups and their offsets. Errors are `flyq.errors.FlyQError`s.
"""

from flyq.client._admin import (
    EARLIEST,
    LATEST,
    AsyncAdmin,
    ConsumerGroupDescription,
    ConsumerMemberDescription,
    GroupDescription,
    GroupListing,
    MemberDescription,
)
from flyq.client._connection import DEFAULT_TIMEOUT, BrokerConnection, parse_bootstrap

__all__ = [
    "DEFAULT_TIMEOUT",
    "EARLIEST",
    "LATEST",
    "AsyncAdmin",
    "BrokerConnection",
    "ConsumerGroupDescription",
    "ConsumerMemberDescription",
    "GroupDescription",
    "GroupListing",
    "MemberDescription",
    "parse_bootstrap",
]
