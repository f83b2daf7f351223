"""FlyQ's own Kafka client (the seed of it): an asyncio core over the sans-I/O
`flyq.protocol.ClientConnection`, the same schemas and codec the broker uses.

`BrokerConnection` is one connection with api-version negotiation; `AsyncAdmin` (and its sync
facade `Admin`) the admin operations on topics, configs, partitions, records, consumer groups and
their offsets (CLIENT-4, CLIENT-5, CLIENT-12..19); `AsyncProducer` and its sync facade
`Producer` batched, idempotent produce (spec/client.md CLIENT-6..11); `AsyncConsumer` (and its
sync facade `Consumer`) reads assigned partitions (CLIENT-20..29), or, with `subscribe`, those
its classic consumer group gives it (CLIENT-30..39). FlyQ's extension APIs, where
the broker advertises them: `AsyncAdmin.partition_state` / `verify_indexes`,
`AsyncConsumer.read_backward` / `tail` (CLIENT-40..43). `Security` (Kafka's client settings:
TLS, SASL PLAIN / SCRAM) is accepted by every `connect` and facade (CLIENT-50..56). Errors are
`flyq.errors.FlyQError`s.
"""

from flyq.client._admin import (
    EARLIEST,
    LATEST,
    Admin,
    AsyncAdmin,
    ConsumerGroupDescription,
    ConsumerMemberDescription,
    GroupDescription,
    GroupListing,
    IndexCheck,
    MemberDescription,
    PartitionState,
)
from flyq.client._batching import RecordMetadata
from flyq.client._connection import (
    DEFAULT_TIMEOUT,
    BrokerConnection,
    negotiated_version,
    parse_bootstrap,
)
from flyq.client._consumer import AsyncConsumer, Consumer, ConsumerRecord
from flyq.client._producer import AsyncProducer, Producer
from flyq.client._sasl_client import SaslClient
from flyq.client._security import SECURITY_PROTOCOLS, Security, parse_properties

__all__ = [
    "DEFAULT_TIMEOUT",
    "EARLIEST",
    "LATEST",
    "Admin",
    "AsyncAdmin",
    "AsyncConsumer",
    "AsyncProducer",
    "BrokerConnection",
    "Consumer",
    "ConsumerGroupDescription",
    "ConsumerMemberDescription",
    "ConsumerRecord",
    "GroupDescription",
    "GroupListing",
    "IndexCheck",
    "MemberDescription",
    "PartitionState",
    "Producer",
    "RecordMetadata",
    "SECURITY_PROTOCOLS",
    "SaslClient",
    "Security",
    "negotiated_version",
    "parse_bootstrap",
    "parse_properties",
]
