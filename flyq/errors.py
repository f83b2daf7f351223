"""The one error hierarchy of FlyQ.

Every error FlyQ raises on purpose is a `FlyQError`. Subclasses name what was wrong and carry where it
was (topic, partition, offset, file, byte position) as attributes as well as in the message, so callers
can act on them without parsing text.

Every FlyQError class also has its Kafka protocol error: the numeric code a broker puts on the wire,
Kafka's name for it, and whether a Kafka client retries it. They come from one explicit table,
`ERROR_TABLE` at the end of this module (normative copy: spec/errors.md). An error's entry is that of
the nearest class in its method resolution order that the table lists, so a subclass defined
elsewhere inherits its base's code; `FlyQError` itself is listed, so every error has one.
`exc.kafka_error`, `exc.code` and `exc.retriable` read it, as does `kafka_error(exc_or_class)`.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

__all__ = [
    "ERROR_TABLE",
    "KafkaError",
    "kafka_error",
    "FencedLeaderEpoch",
    "UnexpectedAppendOffset",
    "InvalidProducerEpoch",
    "OutOfOrderSequence",
    "ChecksumMismatch",
    "CorruptRecordBatch",
    "CorruptIndex",
    "CorruptSegment",
    "CorruptCheckpoint",
    "DecodeError",
    "ProtocolError",
    "UnsupportedVersion",
    "DirectoryLocked",
    "EmptyBatch",
    "FlyQError",
    "InvalidArgument",
    "InvalidConfig",
    "InvalidOffset",
    "InvalidPartition",
    "InvalidRecord",
    "InvalidTopicName",
    "LogClosed",
    "LogFailed",
    "OffsetOutOfRange",
    "RecordTooLarge",
    "StorageError",
    "TopicAlreadyExists",
    "UnknownTopic",
    "UnknownTopicId",
    "CorruptOffsetsFile",
    "InvalidGroupId",
    "MissingOffsetsFile",
    "OffsetMetadataTooLarge",
    "OffsetStoreClosed",
    "UnknownGroup",
    "NonEmptyGroup",
    "GroupSubscribedToTopic",
    "IllegalGeneration",
    "UnknownMemberId",
    "RebalanceInProgress",
    "RemoteError",
    "ConnectionBroken",
    "ConnectionClosed",
    "RequestTimedOut",
    "error_from_code",
    "AuthenticationFailed",
    "UnsupportedSaslMechanism",
    "IllegalSaslState",
    "AuthorizationFailed",
    "TopicAuthorizationFailed",
    "GroupAuthorizationFailed",
    "ClusterAuthorizationFailed",
    "TransactionalIdAuthorizationFailed",
    "SecurityDisabled",
    "UnknownUser",
    "UnacceptableCredential",
]


@attrs.frozen
class KafkaError:
    """A Kafka protocol error: its code on the wire, its name in Kafka's protocol guide, and
    whether Kafka marks it retriable (a client may send the same request again and succeed)."""

    code: int
    name: str
    retriable: bool


def kafka_error(error: BaseException | type[BaseException]) -> KafkaError:
    """The Kafka error of a FlyQ error (or class): the entry in `ERROR_TABLE` of the nearest class
    in its method resolution order. Anything that is not a FlyQError is UNKNOWN_SERVER_ERROR."""
    cls = error if isinstance(error, type) else type(error)
    for base in cls.__mro__:
        entry = ERROR_TABLE.get(base)
        if entry is not None:
            return entry
    return UNKNOWN_SERVER_ERROR


class FlyQError(Exception):
    """Root of every error FlyQ raises on purpose."""

    @property
    def kafka_error(self) -> KafkaError:
        """This error's Kafka protocol error (see `kafka_error`)."""
        return kafka_error(self)

    @property
    def code(self) -> int:
        """The Kafka error code a broker answers with for this error."""
        return kafka_error(self).code

    @property
    def retriable(self) -> bool:
        """Whether a Kafka client retries a request that failed with this error."""
        return kafka_error(self).retriable

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses take keyword arguments, not the message: rebuild from message and attributes
        # so errors survive pickling (process pools, multiprocessing).
        return (_restore, (type(self), str(self), dict(self.__dict__)))


def _restore(cls: type[FlyQError], message: str, state: dict[str, object]) -> FlyQError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


# --- decoding bytes -------------------------------------------------------------------------------


class DecodeError(FlyQError):
    """Bytes could not be decoded: names the field, the byte position and what was expected."""

    def __init__(self, what: str, *, field: str, position: int, source: str | None = None) -> None:
        where = f" in {source}" if source else ""
        super().__init__(f"cannot decode {field} at byte {position}{where}: {what}")
        self.field = field
        self.position = position
        self.source = source


class CorruptRecordBatch(DecodeError):
    """A record batch is malformed (framing, magic, lengths, record fields)."""


class ChecksumMismatch(CorruptRecordBatch):
    """A record batch's CRC-32C does not match the bytes it covers."""

    def __init__(
        self, *, expected: int, actual: int, position: int, source: str | None = None
    ) -> None:
        super().__init__(
            f"CRC-32C stored 0x{expected:08x} but the batch hashes to 0x{actual:08x}",
            field="crc",
            position=position,
            source=source,
        )
        self.expected = expected
        self.actual = actual


class CorruptIndex(DecodeError):
    """An index file holds entries that cannot be right (size, order, positions)."""


class CorruptCheckpoint(DecodeError):
    """A checkpoint or marker file is torn, has a bad checksum or an unknown version."""


class ProtocolError(DecodeError):
    """A Kafka protocol frame or message does not parse (spec/protocol.md "Malformed input"):
    names the API, version and field path (`topics[0].partitions[2].records`) and the byte."""


class UnsupportedVersion(FlyQError):
    """An API version the schema table (or the server's supported range) does not cover."""

    def __init__(self, api: str, kind: str, version: int, versions: tuple[int, int]) -> None:
        super().__init__(
            f"{api} {kind} version {version} is not supported (versions {versions[0]}..{versions[1]})"
        )
        self.api = api
        self.kind = kind
        self.version = version
        self.versions = versions


# --- records and logs -----------------------------------------------------------------------------


class InvalidRecord(FlyQError):
    """A record given to append is not well-formed (types, timestamp range, header keys)."""


class EmptyBatch(InvalidRecord):
    """An append carried no records: a record batch holds at least one record."""

    def __init__(self) -> None:
        super().__init__("a batch must hold at least one record")


class RecordTooLarge(InvalidRecord):
    """An encoded batch is larger than the log accepts."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"batch of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class OffsetOutOfRange(FlyQError):
    """An offset lies outside the range an operation accepts; names the valid range."""

    def __init__(
        self,
        offset: int,
        *,
        log_start_offset: int,
        log_end_offset: int,
        valid: str,
        topic: str | None = None,
        partition: int | None = None,
    ) -> None:
        where = f" in {topic}-{partition}" if topic is not None else ""
        super().__init__(
            f"offset {offset} is out of range{where}: {valid} "
            f"(log_start_offset={log_start_offset}, log_end_offset={log_end_offset})"
        )
        self.offset = offset
        self.log_start_offset = log_start_offset
        self.log_end_offset = log_end_offset
        self.topic = topic
        self.partition = partition


class InvalidOffset(FlyQError):
    """An offset is inside the log but not acceptable for the operation (e.g. mid-batch truncate)."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"offset {offset}: {reason}")
        self.offset = offset


class InvalidArgument(FlyQError):
    """An argument is of the wrong type or out of its range (limits, counts, sizes)."""

    def __init__(self, name: str, value: object, expected: str) -> None:
        super().__init__(f"{name}={value!r}: expected {expected}")
        self.name = name
        self.value = value
        self.expected = expected


class LogClosed(FlyQError):
    """The log was closed by its owner; it cannot be used any more."""


class DirectoryLocked(FlyQError):
    """Another process (or another open log in this one) is using the directory."""

    def __init__(self, directory: str, hint: str | None = None) -> None:
        super().__init__(
            f"{directory} is in use by another FlyQ process; run one command at a time per "
            f"data directory{'; ' + hint if hint else ''}"
        )
        self.directory = directory


class StorageError(FlyQError):
    """The disk refused an operation; the OS error is kept in `__cause__`."""

    def __init__(self, operation: str, path: str) -> None:
        super().__init__(f"{operation} failed on {path}")
        self.operation = operation
        self.path = path


class CorruptSegment(FlyQError):
    """A sealed segment holds bytes that fail their checks: reported, never served silently."""

    def __init__(self, path: str, position: int, reason: str) -> None:
        super().__init__(f"{path} at byte {position}: {reason}")
        self.path = path
        self.position = position
        self.reason = reason


# --- topics and configuration ---------------------------------------------------------------------


class InvalidTopicName(FlyQError):
    """A topic name breaks the naming rules; the message says which rule."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"invalid topic name {name!r}: {reason}")
        self.name = name


class TopicAlreadyExists(FlyQError):
    """A topic with this name already exists."""

    def __init__(self, name: str) -> None:
        super().__init__(f"topic {name!r} already exists")
        self.name = name


class UnknownTopic(FlyQError):
    """No topic with this name exists in the data directory."""

    def __init__(self, name: str) -> None:
        super().__init__(f"topic {name!r} does not exist")
        self.name = name


class UnknownTopicId(FlyQError):
    """No topic has this topic id (TOPIC-6 in flyq/impl/topic.py)."""

    def __init__(self, topic_id: str) -> None:
        super().__init__(f"no topic has id {topic_id}")
        self.topic_id = topic_id


class InvalidPartition(FlyQError):
    """A partition number is not one of the topic's partitions."""

    def __init__(self, topic: str, partition: int, partitions: int) -> None:
        super().__init__(
            f"topic {topic!r} has partitions 0..{partitions - 1}; partition {partition} does not exist"
        )
        self.topic = topic
        self.partition = partition


class InvalidConfig(FlyQError):
    """A configuration value is out of range or of the wrong type."""

    def __init__(self, key: str, value: object, reason: str) -> None:
        super().__init__(f"config {key}={value!r}: {reason}")
        self.key = key
        self.value = value


# --- consumer-group offsets (spec/groups.md) ------------------------------------------------------


class InvalidGroupId(FlyQError):
    """A consumer group id breaks the rules of spec/groups.md GRP-2; the message says which."""

    def __init__(self, group: object, reason: str) -> None:
        super().__init__(f"invalid group id {group!r}: {reason}")
        self.group = group


class UnknownGroup(FlyQError):
    """The group has no committed offsets, so there is nothing to delete."""

    def __init__(self, group: str) -> None:
        super().__init__(f"group {group!r} has no committed offsets")
        self.group = group


class NonEmptyGroup(FlyQError):
    """The group has members, so it cannot be deleted (or its offsets reset) now."""

    def __init__(self, group: str, state: str, reason: str | None = None) -> None:
        super().__init__(reason or f"group {group!r} has members (state {state}); only a group "
                         "without members can be deleted")
        self.group = group
        self.state = state


class GroupSubscribedToTopic(FlyQError):
    """A live group's members subscribe to the topic whose offsets were to be deleted."""

    def __init__(self, group: str, topic: str, partition: int) -> None:
        super().__init__(f"group {group!r} is subscribed to topic {topic!r}: the offset of "
                         f"{topic}-{partition} cannot be deleted while its members read it")
        self.group = group
        self.topic = topic
        self.partition = partition


class IllegalGeneration(FlyQError):
    """A group request named a generation the group is not at (GC-12)."""


class UnknownMemberId(FlyQError):
    """A group request named a member the group does not have (GC-12)."""


class RebalanceInProgress(FlyQError):
    """The group is rebalancing; the request is to be made again after it (GC-12)."""


class RemoteError(FlyQError):
    """A broker answered with a Kafka error code that no FlyQ class stands for; `error_code`
    keeps the code (the class's own entry is UNKNOWN_SERVER_ERROR)."""

    def __init__(self, error_code: int, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code


# --- clients (flyq.client) -----------------------------------------------------------------------


class ConnectionBroken(FlyQError):
    """A connection to a broker broke from outside: refused, reset, closed by the broker, or a
    frame that does not parse; the cause is kept in `__cause__`."""


class ConnectionClosed(FlyQError):
    """The connection was closed by its owner (this client); it cannot be used any more."""


class RequestTimedOut(FlyQError):
    """A broker did not answer (or a connection did not open) within the client's timeout."""


class OffsetMetadataTooLarge(FlyQError):
    """A commit's metadata string is longer, in UTF-8 bytes, than the store keeps."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"offset metadata is {size} UTF-8 bytes, at most {limit} are allowed")
        self.size = size
        self.limit = limit


class CorruptOffsetsFile(DecodeError):
    """The offsets file of a consumer-group store is torn, foreign or damaged: never read as empty."""


class MissingOffsetsFile(FlyQError):
    """The store was created (its marker exists) but its offsets file is gone: reported, never
    silently treated as an empty store."""

    def __init__(self, path: str, marker: str) -> None:
        super().__init__(
            f"{path} is missing although {marker} records that this offset store was created; "
            "the committed offsets are lost (restore the file, or remove the directory to start "
            "over from nothing)"
        )
        self.path = path
        self.marker = marker


class OffsetStoreClosed(FlyQError):
    """The offset store was closed by its owner; it cannot be used any more."""


class LogFailed(FlyQError):
    """The log broke (an I/O error) and refuses work until it is reopened; the cause is kept."""

    def __init__(self, directory: str, cause: BaseException) -> None:
        super().__init__(f"{directory} failed and must be reopened: {cause}")
        self.directory = directory


# --- replication (spec/replication-log.md) ---------------------------------------------------------


class FencedLeaderEpoch(FlyQError):
    """An epoch below one the log already knows: Kafka's FENCED_LEADER_EPOCH (EPOCH-1, EPOCH-2)."""

    def __init__(self, epoch: int, newest_epoch: int, reason: str) -> None:
        super().__init__(
            f"leader epoch {epoch} is fenced: the log already knows epoch {newest_epoch} ({reason})"
        )
        self.epoch = epoch
        self.newest_epoch = newest_epoch


class UnexpectedAppendOffset(FlyQError):
    """A replicated batch does not start at the log end offset (FOLLOW-1)."""

    def __init__(self, base_offset: int, log_end_offset: int) -> None:
        super().__init__(
            f"replicated batch starts at offset {base_offset} but the log ends at {log_end_offset}"
        )
        self.base_offset = base_offset
        self.log_end_offset = log_end_offset


class InvalidProducerEpoch(FlyQError):
    """An idempotent batch's producer epoch is below the one the log holds for its producer: a
    newer incarnation of the producer has fenced this one (IDEM-3)."""

    def __init__(self, producer_id: int, producer_epoch: int, stored_epoch: int) -> None:
        super().__init__(
            f"producer {producer_id} epoch {producer_epoch} is fenced: the log holds epoch "
            f"{stored_epoch} for it"
        )
        self.producer_id = producer_id
        self.producer_epoch = producer_epoch
        self.stored_epoch = stored_epoch


class OutOfOrderSequence(FlyQError):
    """An idempotent batch's base sequence is not the one after its producer's last batch, nor a
    duplicate of one of its last batches (IDEM-4..6)."""

    def __init__(self, producer_id: int, producer_epoch: int, base_sequence: int,
                 expected: int | None) -> None:
        wanted = "0 (a new producer or epoch)" if expected is None else f"{expected}"
        super().__init__(
            f"producer {producer_id} epoch {producer_epoch}: base sequence {base_sequence} is out "
            f"of order, expected {wanted}"
        )
        self.producer_id = producer_id
        self.producer_epoch = producer_epoch
        self.base_sequence = base_sequence
        self.expected = expected


# --- security (spec/security.md, spec/acl.md) ------------------------------------------------------


class AuthenticationFailed(FlyQError):
    """A SASL authentication failed: a wrong password, an unknown user, a malformed exchange, or
    too many failures from one address. Names the mechanism and the user, never the password."""

    def __init__(self, mechanism: str, user: str | None, why: str) -> None:
        who = f" as {user!r}" if user is not None else ""
        super().__init__(f"{mechanism} authentication{who} failed: {why}")
        self.mechanism = mechanism
        self.user = user
        self.why = why


class UnsupportedSaslMechanism(FlyQError):
    """A client asked for a SASL mechanism this listener does not enable."""

    def __init__(self, mechanism: str, enabled: tuple[str, ...]) -> None:
        super().__init__(f"SASL mechanism {mechanism!r} is not enabled; enabled: "
                         f"{', '.join(enabled) or 'none'}")
        self.mechanism = mechanism
        self.enabled = enabled


class IllegalSaslState(FlyQError):
    """A request arrived that the connection's authentication state does not allow (anything but
    ApiVersions and the SASL APIs before authentication; a second handshake after it)."""


class AuthorizationFailed(FlyQError):
    """The principal may not do `operation` on the resource (ACL-1..9); the subclasses carry
    Kafka's code for the resource type."""

    resource_type = "Cluster"

    def __init__(self, principal: str, operation: str, resource: str) -> None:
        super().__init__(f"{principal} may not {operation} {self.resource_type} {resource!r}")
        self.principal = principal
        self.operation = operation
        self.resource = resource


class TopicAuthorizationFailed(AuthorizationFailed):
    """Not authorized on a topic."""

    resource_type = "Topic"


class GroupAuthorizationFailed(AuthorizationFailed):
    """Not authorized on a consumer group."""

    resource_type = "Group"


class ClusterAuthorizationFailed(AuthorizationFailed):
    """Not authorized on the cluster."""

    resource_type = "Cluster"


class TransactionalIdAuthorizationFailed(AuthorizationFailed):
    """Not authorized on a transactional id."""

    resource_type = "TransactionalId"


class SecurityDisabled(FlyQError):
    """An ACL request reached a broker with no authorizer configured."""


class UnknownUser(FlyQError):
    """A user (or one of its SCRAM mechanisms) has no stored credential."""

    def __init__(self, user: str, mechanism: str | None = None) -> None:
        what = f"user {user!r}" + (f" has no {mechanism} credential" if mechanism else
                                   " has no credentials")
        super().__init__(what)
        self.user = user
        self.mechanism = mechanism


class UnacceptableCredential(FlyQError):
    """A credential cannot be stored: an empty user or password, too few or too many
    iterations, a salt that is too short."""


# --- Kafka protocol errors (spec/errors.md) -------------------------------------------------------
# Codes, names and retriable flags as Kafka's protocol guide lists them; each is checked against an
# independent Kafka client library by tests/unit/test_errors.py.

UNKNOWN_SERVER_ERROR = KafkaError(-1, "UNKNOWN_SERVER_ERROR", retriable=False)
OFFSET_OUT_OF_RANGE = KafkaError(1, "OFFSET_OUT_OF_RANGE", retriable=False)
CORRUPT_MESSAGE = KafkaError(2, "CORRUPT_MESSAGE", retriable=True)
UNKNOWN_TOPIC_OR_PARTITION = KafkaError(3, "UNKNOWN_TOPIC_OR_PARTITION", retriable=True)
NOT_LEADER_OR_FOLLOWER = KafkaError(6, "NOT_LEADER_OR_FOLLOWER", retriable=True)
MESSAGE_TOO_LARGE = KafkaError(10, "MESSAGE_TOO_LARGE", retriable=False)
OFFSET_METADATA_TOO_LARGE = KafkaError(12, "OFFSET_METADATA_TOO_LARGE", retriable=False)
COORDINATOR_NOT_AVAILABLE = KafkaError(15, "COORDINATOR_NOT_AVAILABLE", retriable=True)
INVALID_TOPIC_EXCEPTION = KafkaError(17, "INVALID_TOPIC_EXCEPTION", retriable=False)
INVALID_GROUP_ID = KafkaError(24, "INVALID_GROUP_ID", retriable=False)
TOPIC_ALREADY_EXISTS = KafkaError(36, "TOPIC_ALREADY_EXISTS", retriable=False)
INVALID_CONFIG = KafkaError(40, "INVALID_CONFIG", retriable=False)
UNSUPPORTED_VERSION = KafkaError(35, "UNSUPPORTED_VERSION", retriable=False)
INVALID_REQUEST = KafkaError(42, "INVALID_REQUEST", retriable=False)
OUT_OF_ORDER_SEQUENCE_NUMBER = KafkaError(45, "OUT_OF_ORDER_SEQUENCE_NUMBER", retriable=False)
INVALID_PRODUCER_EPOCH = KafkaError(47, "INVALID_PRODUCER_EPOCH", retriable=False)
KAFKA_STORAGE_ERROR = KafkaError(56, "KAFKA_STORAGE_ERROR", retriable=True)
ILLEGAL_GENERATION = KafkaError(22, "ILLEGAL_GENERATION", retriable=False)
UNKNOWN_MEMBER_ID = KafkaError(25, "UNKNOWN_MEMBER_ID", retriable=False)
REBALANCE_IN_PROGRESS = KafkaError(27, "REBALANCE_IN_PROGRESS", retriable=False)
NON_EMPTY_GROUP = KafkaError(68, "NON_EMPTY_GROUP", retriable=False)
REQUEST_TIMED_OUT = KafkaError(7, "REQUEST_TIMED_OUT", retriable=True)
NETWORK_EXCEPTION = KafkaError(13, "NETWORK_EXCEPTION", retriable=True)
GROUP_ID_NOT_FOUND = KafkaError(69, "GROUP_ID_NOT_FOUND", retriable=False)
GROUP_SUBSCRIBED_TO_TOPIC = KafkaError(86, "GROUP_SUBSCRIBED_TO_TOPIC", retriable=False)
FENCED_LEADER_EPOCH = KafkaError(74, "FENCED_LEADER_EPOCH", retriable=True)
INVALID_RECORD = KafkaError(87, "INVALID_RECORD", retriable=False)
UNKNOWN_TOPIC_ID = KafkaError(100, "UNKNOWN_TOPIC_ID", retriable=True)
TOPIC_AUTHORIZATION_FAILED = KafkaError(29, "TOPIC_AUTHORIZATION_FAILED", retriable=False)
GROUP_AUTHORIZATION_FAILED = KafkaError(30, "GROUP_AUTHORIZATION_FAILED", retriable=False)
CLUSTER_AUTHORIZATION_FAILED = KafkaError(31, "CLUSTER_AUTHORIZATION_FAILED", retriable=False)
UNSUPPORTED_SASL_MECHANISM = KafkaError(33, "UNSUPPORTED_SASL_MECHANISM", retriable=False)
ILLEGAL_SASL_STATE = KafkaError(34, "ILLEGAL_SASL_STATE", retriable=False)
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = KafkaError(53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
                                                   retriable=False)
SECURITY_DISABLED = KafkaError(54, "SECURITY_DISABLED", retriable=False)
SASL_AUTHENTICATION_FAILED = KafkaError(58, "SASL_AUTHENTICATION_FAILED", retriable=False)
RESOURCE_NOT_FOUND = KafkaError(91, "RESOURCE_NOT_FOUND", retriable=False)
UNACCEPTABLE_CREDENTIAL = KafkaError(93, "UNACCEPTABLE_CREDENTIAL", retriable=False)

# Every class of this module, with why it maps where it does when Kafka has no exact equivalent.
# Closed by its owner (LogClosed, OffsetStoreClosed: this broker no longer serves the partition or
# group, another may) and broken from outside (LogFailed, StorageError: the disk failed) differ.
ERROR_TABLE: Mapping[type[FlyQError], KafkaError] = {
    # The root: an error with no closer entry is the server's fault, as Kafka treats one.
    FlyQError: UNKNOWN_SERVER_ERROR,
    # Bytes from a peer (a protocol frame) that do not parse; batches and files have their own.
    DecodeError: INVALID_REQUEST,
    # A Kafka protocol frame or message that does not parse: Kafka closes such a connection.
    ProtocolError: INVALID_REQUEST,
    UnsupportedVersion: UNSUPPORTED_VERSION,
    CorruptRecordBatch: CORRUPT_MESSAGE,
    ChecksumMismatch: CORRUPT_MESSAGE,
    # A damaged file in the data directory: the disk, not the request, is at fault.
    CorruptIndex: KAFKA_STORAGE_ERROR,
    CorruptCheckpoint: KAFKA_STORAGE_ERROR,
    InvalidRecord: INVALID_RECORD,
    EmptyBatch: INVALID_RECORD,
    RecordTooLarge: MESSAGE_TOO_LARGE,
    OffsetOutOfRange: OFFSET_OUT_OF_RANGE,
    # Only the broker's own truncation raises it (never a client's offset): a server fault.
    InvalidOffset: UNKNOWN_SERVER_ERROR,
    # A request field out of range that no more specific check caught.
    InvalidArgument: INVALID_REQUEST,
    # Closed by its owner (shutdown, topic deleted): the client refreshes metadata and retries.
    LogClosed: NOT_LEADER_OR_FOLLOWER,
    # A broker holds its directory for life: a lock conflict is a deployment fault, not retriable.
    DirectoryLocked: UNKNOWN_SERVER_ERROR,
    StorageError: KAFKA_STORAGE_ERROR,
    CorruptSegment: KAFKA_STORAGE_ERROR,
    InvalidTopicName: INVALID_TOPIC_EXCEPTION,
    TopicAlreadyExists: TOPIC_ALREADY_EXISTS,
    UnknownTopic: UNKNOWN_TOPIC_OR_PARTITION,
    UnknownTopicId: UNKNOWN_TOPIC_ID,
    # Kafka answers a partition the topic does not have as an unknown topic-partition.
    InvalidPartition: UNKNOWN_TOPIC_OR_PARTITION,
    InvalidConfig: INVALID_CONFIG,
    InvalidGroupId: INVALID_GROUP_ID,
    UnknownGroup: GROUP_ID_NOT_FOUND,
    NonEmptyGroup: NON_EMPTY_GROUP,
    GroupSubscribedToTopic: GROUP_SUBSCRIBED_TO_TOPIC,
    IllegalGeneration: ILLEGAL_GENERATION,
    UnknownMemberId: UNKNOWN_MEMBER_ID,
    RebalanceInProgress: REBALANCE_IN_PROGRESS,
    # Broken from outside: Kafka clients retry on a new connection.
    ConnectionBroken: NETWORK_EXCEPTION,
    # Closed by its owner: the caller's own doing, with no Kafka code and nothing to retry.
    ConnectionClosed: UNKNOWN_SERVER_ERROR,
    RequestTimedOut: REQUEST_TIMED_OUT,
    # A code with no FlyQ class, as a client receives it; the code is kept on the instance.
    RemoteError: UNKNOWN_SERVER_ERROR,
    OffsetMetadataTooLarge: OFFSET_METADATA_TOO_LARGE,
    CorruptOffsetsFile: KAFKA_STORAGE_ERROR,
    MissingOffsetsFile: KAFKA_STORAGE_ERROR,
    # Closed by its owner: Kafka's coordinator answers this while it is not active (shutdown).
    OffsetStoreClosed: COORDINATOR_NOT_AVAILABLE,
    LogFailed: KAFKA_STORAGE_ERROR,
    FencedLeaderEpoch: FENCED_LEADER_EPOCH,
    # A follower's own fault (its fetch position is wrong); Kafka has no code for it either.
    UnexpectedAppendOffset: UNKNOWN_SERVER_ERROR,
    # Idempotent producers (spec/idempotence.md): both fatal to the producer, as in Kafka.
    OutOfOrderSequence: OUT_OF_ORDER_SEQUENCE_NUMBER,
    InvalidProducerEpoch: INVALID_PRODUCER_EPOCH,
    # Security (spec/security.md, spec/acl.md).
    AuthenticationFailed: SASL_AUTHENTICATION_FAILED,
    UnsupportedSaslMechanism: UNSUPPORTED_SASL_MECHANISM,
    IllegalSaslState: ILLEGAL_SASL_STATE,
    # The base stands for the cluster: an operation with no narrower resource.
    AuthorizationFailed: CLUSTER_AUTHORIZATION_FAILED,
    TopicAuthorizationFailed: TOPIC_AUTHORIZATION_FAILED,
    GroupAuthorizationFailed: GROUP_AUTHORIZATION_FAILED,
    ClusterAuthorizationFailed: CLUSTER_AUTHORIZATION_FAILED,
    TransactionalIdAuthorizationFailed: TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    SecurityDisabled: SECURITY_DISABLED,
    UnknownUser: RESOURCE_NOT_FOUND,
    UnacceptableCredential: UNACCEPTABLE_CREDENTIAL,
}


# The class a client raises for a code a broker answered with: the first class of ERROR_TABLE with
# that code, except where a later one says it better (a storage fault, not a damaged index).
_CLASS_OF_CODE: dict[int, type[FlyQError]] = {}
for _cls, _error in ERROR_TABLE.items():
    _CLASS_OF_CODE.setdefault(_error.code, _cls)
_CLASS_OF_CODE.update({
    UNKNOWN_SERVER_ERROR.code: RemoteError,
    KAFKA_STORAGE_ERROR.code: StorageError,
    INVALID_REQUEST.code: InvalidArgument,
    CLUSTER_AUTHORIZATION_FAILED.code: ClusterAuthorizationFailed,
})


def error_from_code(code: int, message: str | None = None, **fields: object) -> FlyQError:
    """The FlyQError a client raises for Kafka error `code` (non-zero) from a broker's answer:
    an instance of the class standing for the code (a `RemoteError` keeping the code if there is
    none), with `message` (or the code's Kafka name) and `fields` as attributes."""
    cls = _CLASS_OF_CODE.get(code, RemoteError)
    name = next((e.name for e in ERROR_TABLE.values() if e.code == code), f"error code {code}")
    text = f"{name}: {message}" if message else name
    if cls is RemoteError:
        return _restore(RemoteError, text, {"error_code": code, **fields})
    return _restore(cls, text, dict(fields))
