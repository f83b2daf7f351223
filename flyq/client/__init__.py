"""FlyQ's own Kafka client (the seed of it): an asyncio core over the sans-I/O
`flyq.protocol.ClientConnection`, the same schemas and codec the broker uses.

`BrokerConnection` is one connection with api-version negotiation; `AsyncAdmin` the admin
operations on topics, consumer groups and their offsets; `AsyncProducer` and its sync facade
`Producer` batched, idempotent produce (spec/client.md CLIENT-6..11). Errors are
`flyq.errors.FlyQError`s.
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
from flyq.client._batching import RecordMetadata
from flyq.client._connection import DEFAULT_TIMEOUT, BrokerConnection, parse_bootstrap
from flyq.client._producer import AsyncProducer, Producer

__all__ = [
    "DEFAULT_TIMEOUT",
    "EARLIEST",
    "LATEST",
    "AsyncAdmin",
    "AsyncProducer",
    "BrokerConnection",
    "ConsumerGroupDescription",
    "ConsumerMemberDescription",
    "GroupDescription",
    "GroupListing",
    "MemberDescription",
    "Producer",
    "RecordMetadata",
    "parse_bootstrap",
]
