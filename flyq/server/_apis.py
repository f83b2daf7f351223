"""Kafka APIs as calls on the `AsyncBroker`: a decoded request body in, a response body out.

Each handler reads the request's fields by their snake_case names (spec/protocol.md §3) and returns
a response dict; fields a version lacks are ignored by the encoder, so one handler serves every
version. Errors raised by the Broker are `FlyQError`s whose Kafka code (flyq/errors.py, one table)
goes into the response at the level Kafka puts it: per partition, per topic, or per request.
No storage logic lives here: what a produce, fetch or commit means is the Broker's.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from flyq.auth import CLUSTER_NAME, AclAuthorizer, CredentialStore
from flyq.auth._acl_store import AclStore
from flyq.broker import AsyncBroker, ProduceResult
from flyq.broker.kafka_config import (
    KAFKA_TOPIC_CONFIGS,
    describe_topic_config,
    log_config_changes,
)
from flyq.broker.layout import check_topic_name
from flyq.codec.offsets import validate_group_id
from flyq.errors import (
    ClusterAuthorizationFailed,
    FlyQError,
    GroupAuthorizationFailed,
    GroupSubscribedToTopic,
    InvalidConfig,
    InvalidGroupId,
    InvalidTopicName,
    NonEmptyGroup,
    TopicAlreadyExists,
    TopicAuthorizationFailed,
    TransactionalIdAuthorizationFailed,
    UnknownGroup,
    UnknownTopic,
    UnknownTopicId,
    kafka_error,
)
from flyq.groups import (
    Assignment,
    ConsumerGroupView,
    GroupState,
    HeartbeatResponse,
    JoinGroupResponse,
    LeaveGroupResponse,
    SyncGroupResponse,
    is_subscribed,
)
from flyq.impl.topic import TopicMetadata
from flyq.protocol import CONSUMER_PROTOCOL_TYPE, encode_assignment, encode_subscription
from flyq.server._access import OPERATIONS_OMITTED, Access
from flyq.server._acl_apis import AclHandlers
from flyq.server._authorization import Authorization
from flyq.server._context import REQUEST
from flyq.server._extensions import ExtensionHandlers
from flyq.server._groups import GroupService
from flyq.server._settings import ServerSettings
from flyq.server._user_apis import UserCredentialHandlers
from flyq.server._watch import AppendWatch

__all__ = ["SUPPORTED_VERSIONS", "ApiHandlers", "ApiKey", "CloseConnection"]


_log = logging.getLogger("flyq.server")

Body = dict[str, Any]


class ApiKey:
    """Kafka api keys FlyQ serves (spec/protocol.md §5)."""

    PRODUCE = 0
    FETCH = 1
    LIST_OFFSETS = 2
    METADATA = 3
    OFFSET_COMMIT = 8
    OFFSET_FETCH = 9
    FIND_COORDINATOR = 10
    JOIN_GROUP = 11
    HEARTBEAT = 12
    LEAVE_GROUP = 13
    SYNC_GROUP = 14
    DESCRIBE_GROUPS = 15
    LIST_GROUPS = 16
    SASL_HANDSHAKE = 17
    API_VERSIONS = 18
    CREATE_TOPICS = 19
    DELETE_TOPICS = 20
    DELETE_RECORDS = 21
    INIT_PRODUCER_ID = 22
    DESCRIBE_ACLS = 29
    CREATE_ACLS = 30
    DELETE_ACLS = 31
    DESCRIBE_CONFIGS = 32
    ALTER_CONFIGS = 33
    SASL_AUTHENTICATE = 36
    CREATE_PARTITIONS = 37
    DELETE_GROUPS = 42
    INCREMENTAL_ALTER_CONFIGS = 44
    OFFSET_DELETE = 47
    DESCRIBE_USER_SCRAM_CREDENTIALS = 50
    ALTER_USER_SCRAM_CREDENTIALS = 51
    DESCRIBE_CLUSTER = 60
    CONSUMER_GROUP_HEARTBEAT = 68
    CONSUMER_GROUP_DESCRIBE = 69
    # FlyQ's own, from the private range FLYQ_KEY_RANGE (spec/protocol.md "Extension APIs").
    FLYQ_READ_BACKWARD = 30000
    FLYQ_PARTITION_STATE = 30001
    FLYQ_VERIFY_INDEX = 30002


# api key -> (min, max) version advertised in ApiVersions (spec/protocol.md §5 says why each).
SUPPORTED_VERSIONS: Mapping[int, tuple[int, int]] = {
    ApiKey.PRODUCE: (0, 11),  # v0-2 advertised (librdkafka feature checks), refused if sent
    ApiKey.FETCH: (4, 12),
    ApiKey.LIST_OFFSETS: (1, 7),
    ApiKey.METADATA: (0, 12),
    ApiKey.OFFSET_COMMIT: (0, 9),  # v9: member epochs of consumer-protocol groups (CG-19)
    ApiKey.OFFSET_FETCH: (0, 9),
    ApiKey.FIND_COORDINATOR: (0, 4),
    ApiKey.JOIN_GROUP: (0, 9),
    ApiKey.HEARTBEAT: (0, 4),
    ApiKey.LEAVE_GROUP: (0, 5),
    ApiKey.SYNC_GROUP: (0, 5),
    ApiKey.DESCRIBE_GROUPS: (0, 5),
    ApiKey.LIST_GROUPS: (0, 5),
    # Answered by the connection itself (spec/security.md AUTH-3, AUTH-4). v0 is advertised
    # because librdkafka 2.0.2 enables SASL only when it is in range, and refused if sent.
    ApiKey.SASL_HANDSHAKE: (0, 1),
    ApiKey.API_VERSIONS: (0, 3),
    ApiKey.CREATE_TOPICS: (0, 7),
    ApiKey.DELETE_TOPICS: (0, 6),
    ApiKey.DELETE_RECORDS: (0, 2),
    ApiKey.INIT_PRODUCER_ID: (0, 4),
    ApiKey.DESCRIBE_ACLS: (1, 3),  # v0 (no pattern types) is gone from Kafka 4 too
    ApiKey.CREATE_ACLS: (1, 3),
    ApiKey.DELETE_ACLS: (1, 3),
    ApiKey.DESCRIBE_CONFIGS: (0, 4),
    ApiKey.ALTER_CONFIGS: (0, 2),
    ApiKey.SASL_AUTHENTICATE: (0, 2),
    ApiKey.CREATE_PARTITIONS: (0, 3),
    ApiKey.DELETE_GROUPS: (0, 2),
    ApiKey.INCREMENTAL_ALTER_CONFIGS: (0, 1),
    ApiKey.OFFSET_DELETE: (0, 0),
    ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS: (0, 0),
    ApiKey.ALTER_USER_SCRAM_CREDENTIALS: (0, 0),
    ApiKey.DESCRIBE_CLUSTER: (0, 1),
    ApiKey.CONSUMER_GROUP_HEARTBEAT: (0, 1),
    ApiKey.CONSUMER_GROUP_DESCRIBE: (0, 0),
    # Kafka clients skip keys they do not know (EXT-1).
    ApiKey.FLYQ_READ_BACKWARD: (0, 0),
    ApiKey.FLYQ_PARTITION_STATE: (0, 0),
    ApiKey.FLYQ_VERIFY_INDEX: (0, 0),
}

# Kafka error codes the handlers choose themselves (the rest come from flyq.errors).
NONE = 0
OFFSET_OUT_OF_RANGE = 1
UNKNOWN_TOPIC_OR_PARTITION = 3
COORDINATOR_NOT_AVAILABLE = 15
INVALID_REQUIRED_ACKS = 21
UNSUPPORTED_VERSION = 35
INVALID_PARTITIONS = 37
INVALID_REPLICATION_FACTOR = 38
INVALID_REPLICA_ASSIGNMENT = 39
INVALID_CONFIG = 40
INVALID_REQUEST = 42
INCONSISTENT_GROUP_PROTOCOL = 23
INVALID_GROUP_ID = 24
GROUP_ID_NOT_FOUND = 69
INVALID_RECORD = 87
FETCH_SESSION_ID_NOT_FOUND = 70
UNKNOWN_SERVER_ERROR = -1

_NO_MEMBERS = (GroupState.EMPTY, GroupState.DEAD)

RESOURCE_TOPIC = 2
RESOURCE_BROKER = 4
_OP_SET, _OP_DELETE = 0, 1
_ACKS = (0, 1, -1)
_MAX_PRODUCER_EPOCH = 32767  # int16: past it, a new producer id
_OLDEST_PRODUCE = 3  # v0-2 are advertised for librdkafka's feature checks, refused if sent
_ZERO_ID = uuid.UUID(int=0)  # the topic id of an answer that must not reveal the topic's
_NO_TRANSACTIONS = "transactions are not supported by this broker yet"
_ONE_NODE = "this broker is a single node: replication factor 1 (or -1 for the default) only"


class CloseConnection(Exception):
    """The request cannot be answered, only refused by closing the connection: Kafka's answer to
    a failed Produce with acks=0 (PRODUCE-2), so that the client notices."""


def error_of(exc: BaseException, where: str) -> tuple[int, str]:
    """(Kafka error code, message) for an exception a handler caught; non-FlyQ errors are logged
    with their traceback, as they are bugs."""
    if isinstance(exc, FlyQError):
        return kafka_error(exc).code, str(exc)
    _log.error("unexpected error in %s", where, exc_info=exc)
    return UNKNOWN_SERVER_ERROR, f"unexpected {type(exc).__name__} in {where}"


class ApiHandlers:
    """One handler per api key over one `AsyncBroker`; shared by every connection."""

    def __init__(self, broker: AsyncBroker, settings: ServerSettings, cluster_id: str) -> None:
        self.broker = broker
        self.settings = settings
        self.cluster_id = cluster_id
        self.watch = AppendWatch()
        self.groups = GroupService(
            consumer_session_timeout_ms=settings.consumer_session_timeout_ms,
            consumer_heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms)
        # member id -> the address it joined from (DescribeGroups' client_host).
        self._member_hosts: dict[str, str] = {}
        # Per-API authorization (spec/authorization.md), over whichever authorizer is in force.
        self.access = Access(lambda: self.authorization)
        self.extensions = ExtensionHandlers(broker, error_of, self.access)
        # ACLs in force; the server fills the set from the ACL store at start (spec/acl.md).
        self.authorization = Authorization(
            AclAuthorizer(frozenset(), settings.super_users,
                          settings.allow_everyone_if_no_acl_found)
            if settings.authorizer_enabled else None)
        self.acl_store = AclStore.open(broker.broker.data_dir)
        self.authorization.replace_acls(self.acl_store.acls())
        self.acl_apis = AclHandlers(self.acl_store, self.authorization)
        # SCRAM credentials (spec/sasl.md): the SASL exchange and the two user APIs read them.
        self.credentials = CredentialStore.open(broker.broker.data_dir)
        self.user_apis = UserCredentialHandlers(self.credentials, self.authorization)
        self._handlers: dict[int, Callable[[int, Body], Awaitable[Body | None]]] = {
            ApiKey.PRODUCE: self.produce,
            ApiKey.FETCH: self.fetch,
            ApiKey.LIST_OFFSETS: self.list_offsets,
            ApiKey.METADATA: self.metadata,
            ApiKey.OFFSET_COMMIT: self.offset_commit,
            ApiKey.OFFSET_FETCH: self.offset_fetch,
            ApiKey.FIND_COORDINATOR: self.find_coordinator,
            ApiKey.JOIN_GROUP: self.join_group,
            ApiKey.HEARTBEAT: self.heartbeat,
            ApiKey.LEAVE_GROUP: self.leave_group,
            ApiKey.SYNC_GROUP: self.sync_group,
            ApiKey.DESCRIBE_GROUPS: self.describe_groups,
            ApiKey.LIST_GROUPS: self.list_groups,
            ApiKey.API_VERSIONS: self.api_versions,
            ApiKey.CREATE_TOPICS: self.create_topics,
            ApiKey.DELETE_TOPICS: self.delete_topics,
            ApiKey.DELETE_RECORDS: self.delete_records,
            ApiKey.INIT_PRODUCER_ID: self.init_producer_id,
            ApiKey.DESCRIBE_ACLS: self.acl_apis.describe_acls,
            ApiKey.CREATE_ACLS: self.acl_apis.create_acls,
            ApiKey.DELETE_ACLS: self.acl_apis.delete_acls,
            ApiKey.DESCRIBE_CONFIGS: self.describe_configs,
            ApiKey.ALTER_CONFIGS: self.alter_configs,
            ApiKey.CREATE_PARTITIONS: self.create_partitions,
            ApiKey.DELETE_GROUPS: self.delete_groups,
            ApiKey.INCREMENTAL_ALTER_CONFIGS: self.incremental_alter_configs,
            ApiKey.OFFSET_DELETE: self.offset_delete,
            ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS: self.user_apis.describe_user_scram_credentials,
            ApiKey.ALTER_USER_SCRAM_CREDENTIALS: self.user_apis.alter_user_scram_credentials,
            ApiKey.DESCRIBE_CLUSTER: self.describe_cluster,
            ApiKey.CONSUMER_GROUP_HEARTBEAT: self.consumer_group_heartbeat,
            ApiKey.CONSUMER_GROUP_DESCRIBE: self.consumer_group_describe,
            ApiKey.FLYQ_READ_BACKWARD: self.extensions.read_backward,
            ApiKey.FLYQ_PARTITION_STATE: self.extensions.partition_state,
            ApiKey.FLYQ_VERIFY_INDEX: self.extensions.verify_index,
        }

    async def handle(self, api_key: int, version: int, body: Body) -> Body | None:
        """The response body for one request (None: no response, as for Produce with acks=0)."""
        return await self._handlers[api_key](version, body)

    # --- cluster --------------------------------------------------------------------------------

    async def api_versions(self, version: int, body: Body) -> Body:
        """ApiVersions: the ranges of SUPPORTED_VERSIONS."""
        return {"error_code": NONE, "throttle_time_ms": 0, "api_keys": api_version_entries()}

    def _node(self) -> tuple[int, str, int]:
        host, port = self.settings.advertised(REQUEST.get().listener)
        return self.settings.node_id, host, port

    async def describe_cluster(self, version: int, body: Body) -> Body:
        """DescribeCluster: this one broker, which is also the controller; anyone may ask
        (AUTHZ-2), the cluster's authorized operations only with Describe on it (AUTHZ-20)."""
        node_id, host, port = self._node()
        return {
            "error_code": NONE, "cluster_id": self.cluster_id, "controller_id": node_id,
            "endpoint_type": body.get("endpoint_type", 1),
            "brokers": [{"broker_id": node_id, "host": host, "port": port, "rack": None}],
            "cluster_authorized_operations": self._cluster_operations(
                bool(body.get("include_cluster_authorized_operations"))),
        }

    def _cluster_operations(self, requested: bool) -> int:
        """AUTHZ-20: the cluster's authorized operations if `requested`: 0 without Describe."""
        if not requested:
            return OPERATIONS_OMITTED
        if not self.access.cluster("Describe"):
            return 0
        return self.access.operations("Cluster", CLUSTER_NAME)

    async def metadata(self, version: int, body: Body) -> Body:
        """Metadata: this broker leads every partition; unknown topics are created when
        `auto.create.topics.enable` and the request allows it (v4+, always before v4).
        AUTHZ-3: only topics the principal may describe are listed or named."""
        node_id, host, port = self._node()
        requested = body.get("topics")
        allow_create = self.settings.auto_create_topics and (
            version < 4 or bool(body.get("allow_auto_topic_creation", True)))
        with_operations = version >= 8 and bool(body.get("include_topic_authorized_operations"))
        if requested is None or (version == 0 and not requested):
            names = await self.broker.list_topics()
            # Left out silently, as Kafka does: a listing names no topic the caller asked for.
            visible = self.access.topics("Describe", names, log_denial=False)
            topics = [await self._topic_metadata(name, False, with_operations)
                      for name in names if name in visible]
        else:
            topics = [await self._requested_topic_metadata(topic, allow_create, with_operations)
                      for topic in requested]
        answer: Body = {
            "throttle_time_ms": 0,
            "brokers": [{"node_id": node_id, "host": host, "port": port, "rack": None}],
            "cluster_id": self.cluster_id,
            "controller_id": node_id,
            "topics": topics,
        }
        if 8 <= version <= 10:
            answer["cluster_authorized_operations"] = self._cluster_operations(
                bool(body.get("include_cluster_authorized_operations")))
        return answer

    async def _requested_topic_metadata(self, topic: Body, allow_create: bool,
                                        with_operations: bool) -> Body:
        """A topic asked for by name, or (v10+) by topic id alone (TOPIC-6). Without Describe
        on it, TOPIC_AUTHORIZATION_FAILED, whether it exists or not (AUTHZ-3): by name with the
        zero topic id, by id without the name."""
        name = topic["name"]
        if name is None:
            topic_id = topic.get("topic_id")
            try:
                name = await self._topic_name_by_id(topic_id)
            except FlyQError as exc:
                return {"error_code": kafka_error(exc).code, "name": None, "topic_id": topic_id,
                        "partitions": []}
            if not self.access.allowed("Describe", "Topic", name):
                return {"error_code": kafka_error(TopicAuthorizationFailed).code, "name": None,
                        "topic_id": topic_id, "partitions": []}
            return await self._topic_metadata(name, False, with_operations)
        if not self.access.allowed("Describe", "Topic", name):
            return {"error_code": kafka_error(TopicAuthorizationFailed).code, "name": name,
                    "topic_id": _ZERO_ID, "partitions": []}
        return await self._topic_metadata(name, allow_create, with_operations)

    async def _topic_name_by_id(self, topic_id: uuid.UUID | None) -> str:
        if topic_id is None:
            raise UnknownTopicId("null")
        return (await self.broker.topic_by_id(topic_id)).name  # no topic has the zero id

    async def _topic_metadata(self, name: str, allow_create: bool,
                              with_operations: bool = False) -> Body:
        """A topic the principal may describe (AUTHZ-3); its authorized operations if asked."""
        operations = (self.access.operations("Topic", name) if with_operations
                      else OPERATIONS_OMITTED)
        try:
            try:
                metadata = await self.broker.topic_metadata(name)
            except UnknownTopic:
                if not allow_create:
                    raise
                if not self._may_create(name):  # AUTHZ-3: auto-creation needs Create
                    return {"error_code": kafka_error(TopicAuthorizationFailed).code,
                            "name": name, "topic_id": _ZERO_ID, "partitions": []}
                metadata = await self._auto_create(name)
        except FlyQError as exc:
            return {"error_code": kafka_error(exc).code, "name": name, "partitions": [],
                    "topic_authorized_operations": operations}
        node_id = self.settings.node_id
        return {
            "error_code": NONE, "name": name, "topic_id": metadata.topic_id, "is_internal": False,
            "topic_authorized_operations": operations,
            "partitions": [
                {"error_code": NONE, "partition_index": number, "leader_id": node_id,
                 "leader_epoch": 0, "replica_nodes": [node_id], "isr_nodes": [node_id],
                 "offline_replicas": []}
                for number in range(metadata.partitions)
            ],
        }

    def _may_create(self, name: str) -> bool:
        """AUTHZ-3, AUTHZ-13: Create on the cluster (asked without logging a denial), or on the
        topic."""
        return (self.access.cluster("Create", log_denial=False)
                or self.access.allowed("Create", "Topic", name))

    async def _auto_create(self, name: str) -> TopicMetadata:
        try:
            created = await self.broker.create_topic(name, self.settings.num_partitions)
        except TopicAlreadyExists:  # another connection created it meanwhile
            return await self.broker.topic_metadata(name)
        _log.info("topic %s auto-created with %d partitions", name, created.partitions)
        return created

    async def find_coordinator(self, version: int, body: Body) -> Body:
        """FindCoordinator: this broker coordinates every group; transactions are not served."""
        node_id, host, port = self._node()
        key_type = body.get("key_type", 0)
        if version < 4:
            error, message = self._coordinator_error(key_type, body.get("key", ""))
            return {"throttle_time_ms": 0, "error_code": error, "error_message": message,
                    "node_id": node_id if not error else -1, "host": host if not error else "",
                    "port": port if not error else -1}
        coordinators = []
        for key in body.get("coordinator_keys", []):
            error, message = self._coordinator_error(key_type, key)
            coordinators.append({"key": key, "node_id": node_id if not error else -1,
                                 "host": host if not error else "",
                                 "port": port if not error else -1,
                                 "error_code": error, "error_message": message})
        return {"throttle_time_ms": 0, "coordinators": coordinators}

    def _coordinator_error(self, key_type: int, key: str) -> tuple[int, str | None]:
        """AUTHZ-8: Describe on the group (key type 0) or transactional id (1) comes first."""
        if key_type == 0:
            if not self.access.allowed("Describe", "Group", key):
                return self.access.refusal(GroupAuthorizationFailed, "Describe", key)
            return NONE, None
        if key_type == 1 and not self.access.allowed("Describe", "TransactionalId", key):
            return self.access.refusal(TransactionalIdAuthorizationFailed, "Describe", key)
        return COORDINATOR_NOT_AVAILABLE, _NO_TRANSACTIONS

    # --- produce and fetch ----------------------------------------------------------------------

    async def produce(self, version: int, body: Body) -> Body | None:
        """Produce: each partition's one batch appended by the Broker (validated there, LOG-2);
        acks=-1 on a topic flushing every message waits for the fsync (group commit)."""
        acks = body["acks"]
        transactional_id = body.get("transactional_id")
        names = [topic["name"] for topic in body["topic_data"]]
        refused: dict[str, tuple[int, str | None]] = {}
        if version < _OLDEST_PRODUCE:
            error: tuple[int, str | None] | None = (
                UNSUPPORTED_VERSION, f"Produce v{version} carries message format v0/v1; "
                f"FlyQ accepts Produce v{_OLDEST_PRODUCE}+ (RecordBatch v2), as Kafka 4 does")
        elif transactional_id is not None and not self.access.allowed(
                "Write", "TransactionalId", transactional_id):  # AUTHZ-4
            error = self.access.refusal(TransactionalIdAuthorizationFailed, "Write",
                                        transactional_id)
        else:
            allowed = self.access.topics("Write", names)  # AUTHZ-4, before any append
            refused = {name: self.access.refusal(TopicAuthorizationFailed, "Write", name)
                       for name in names if name not in allowed}
            if acks not in _ACKS:
                error = (INVALID_REQUIRED_ACKS, f"acks must be 0, 1 or -1, not {acks}")
            elif transactional_id is not None:
                error = (INVALID_REQUEST, _NO_TRANSACTIONS)
            else:
                error = None
        jobs = [self._produce_partition(topic["name"], partition["index"], partition["records"],
                                        acks, refused.get(topic["name"], error))
                for topic in body["topic_data"] for partition in topic["partition_data"]]
        # One partition (the common case) is awaited directly: no task per partition.
        answers = [await jobs[0]] if len(jobs) == 1 else await asyncio.gather(*jobs)
        if acks == 0:
            failed = [answer for answer in answers if answer["error_code"] != NONE]
            if failed:
                raise CloseConnection(f"a Produce with acks=0 failed: {failed[0]['error_message']}")
            return None
        responses: list[Body] = []
        position = 0
        for topic in body["topic_data"]:
            count = len(topic["partition_data"])
            responses.append({"name": topic["name"],
                              "partition_responses": answers[position:position + count]})
            position += count
        return {"throttle_time_ms": 0, "responses": responses}

    async def _produce_partition(self, topic: str, partition: int, records: memoryview | None,
                                 acks: int, error: tuple[int, str | None] | None) -> Body:
        answer: Body = {"index": partition, "base_offset": -1, "log_append_time_ms": -1,
                        "log_start_offset": -1}
        if error is not None:
            answer["error_code"], answer["error_message"] = error
            return answer
        if records is None:
            answer["error_code"], answer["error_message"] = INVALID_RECORD, "null records"
            return answer
        try:
            metadata = await self.broker.topic_metadata(topic)
            durable = acks == -1 and metadata.config.flush_messages == 1
            result: ProduceResult = await self.broker.produce(topic, partition, records,
                                                              durable=durable)
        except Exception as exc:  # noqa: BLE001 - answered per partition
            answer["error_code"], answer["error_message"] = error_of(
                exc, f"produce to {topic}-{partition}")
            return answer
        self.watch.appended((topic, partition))
        answer.update(error_code=NONE, base_offset=result.base_offset,
                      log_append_time_ms=result.log_append_time,
                      log_start_offset=result.log_start_offset)
        return answer

    async def fetch(self, version: int, body: Body) -> Body:
        """Fetch with long poll: reads until `min_bytes` are available or `max_wait_ms` passed,
        woken by appends (FETCH-1..4). Each partition's stored batches are returned as read."""
        if body.get("session_epoch", -1) > 0 or body.get("session_id", 0) != 0:
            return {"throttle_time_ms": 0, "error_code": FETCH_SESSION_ID_NOT_FOUND,
                    "session_id": 0, "responses": []}
        requested = [(topic["topic"], partition)
                     for topic in body["topics"] for partition in topic["partitions"]]
        # AUTHZ-5: partitions of topics without Read are answered at once and never read; only
        # the others are waited for.
        readable = self.access.topics("Read", {topic for topic, _ in requested})
        wanted = [(topic, partition) for topic, partition in requested if topic in readable]
        keys = tuple((topic, partition["partition"]) for topic, partition in wanted)
        max_wait = max(body["max_wait_ms"], 0) / 1000
        min_bytes = body["min_bytes"]
        deadline = time.monotonic() + max_wait
        answers: list[Body] = []
        while wanted:
            seen = self.watch.snapshot(keys)
            answers, size, failed = await self._fetch_once(wanted, body.get("max_bytes",
                                                                            0x7FFFFFFF))
            remaining = deadline - time.monotonic()
            if size >= min_bytes or failed or remaining <= 0:
                break
            if not await self.watch.wait(keys, seen, remaining):
                break  # max_wait_ms passed (or the server stops) with nothing new
        read = iter(answers)
        grouped: dict[str, list[Body]] = {}
        for topic, partition in requested:
            grouped.setdefault(topic, []).append(
                next(read) if topic in readable else
                {"partition_index": partition["partition"],
                 "error_code": kafka_error(TopicAuthorizationFailed).code,
                 "high_watermark": -1, "last_stable_offset": -1, "log_start_offset": -1,
                 "aborted_transactions": None, "preferred_read_replica": -1, "records": None})
        return {"throttle_time_ms": 0, "error_code": NONE, "session_id": 0,
                "responses": [{"topic": topic, "partitions": partitions}
                              for topic, partitions in grouped.items()]}

    async def _fetch_once(self, wanted: Sequence[tuple[str, Body]],
                          max_bytes: int) -> tuple[list[Body], int, bool]:
        """One pass over the partitions in request order; the response limit applies after the
        first non-empty partition (KIP-74: that one always returns its first batch whole)."""
        answers: list[Body] = []
        size = 0
        failed = False
        for topic, partition in wanted:
            number = partition["partition"]
            offset = partition["fetch_offset"]
            limit = min(partition["partition_max_bytes"], max(max_bytes - size, 0))
            answer: Body = {"partition_index": number, "aborted_transactions": None,
                            "preferred_read_replica": -1, "records": None}
            try:
                if limit <= 0 and size > 0:
                    start, _, high_watermark = await self.broker.log_offsets(topic, number)
                    data: bytes | memoryview = b""
                else:
                    fetched = await self.broker.fetch(topic, number, offset, max(limit, 1))
                    data, start, high_watermark = (fetched.records, fetched.log_start_offset,
                                                   fetched.high_watermark)
            except Exception as exc:  # noqa: BLE001 - answered per partition
                code, _ = error_of(exc, f"fetch from {topic}-{number}")
                answer.update(error_code=code, high_watermark=-1, last_stable_offset=-1,
                              log_start_offset=-1)
                if code == OFFSET_OUT_OF_RANGE:
                    try:
                        start, _, high_watermark = await self.broker.log_offsets(topic, number)
                        answer.update(high_watermark=high_watermark,
                                      last_stable_offset=high_watermark, log_start_offset=start)
                    except FlyQError:
                        pass
                failed = True
                answers.append(answer)
                continue
            size += len(data)
            answer.update(error_code=NONE, high_watermark=high_watermark,
                          last_stable_offset=high_watermark, log_start_offset=start,
                          records=data)
            answers.append(answer)
        return answers, size, failed

    async def list_offsets(self, version: int, body: Body) -> Body:
        """ListOffsets: -2 earliest, -1 latest, else the first offset at or after a timestamp."""
        described = self.access.topics("Describe", (topic["name"] for topic in body["topics"]))
        topics = []
        for topic in body["topics"]:
            partitions = []
            for partition in topic["partitions"]:
                number = partition["partition_index"]
                answer: Body = {"partition_index": number, "timestamp": -1, "offset": -1,
                                "leader_epoch": 0}
                if topic["name"] not in described:  # AUTHZ-6
                    answer["error_code"] = kafka_error(TopicAuthorizationFailed).code
                    partitions.append(answer)
                    continue
                try:
                    found = await self.broker.list_offsets(topic["name"], number,
                                                           partition["timestamp"])
                    answer["error_code"] = NONE
                    if found.offset is not None:
                        answer["offset"] = found.offset
                    if found.timestamp is not None:
                        answer["timestamp"] = found.timestamp
                except Exception as exc:  # noqa: BLE001 - answered per partition
                    answer["error_code"], _ = error_of(exc, f"list offsets of {topic['name']}")
                partitions.append(answer)
            topics.append({"name": topic["name"], "partitions": partitions})
        return {"throttle_time_ms": 0, "topics": topics}

    async def delete_records(self, version: int, body: Body) -> Body:
        """DeleteRecords: each partition's log start offset moves up (-1: to the high watermark)."""
        deletable = self.access.topics("Delete", (topic["name"] for topic in body["topics"]))
        topics = []
        for topic in body["topics"]:
            partitions = []
            for partition in topic["partitions"]:
                number = partition["partition_index"]
                answer: Body = {"partition_index": number, "low_watermark": -1}
                if topic["name"] not in deletable:  # AUTHZ-7, before any record goes
                    answer["error_code"] = kafka_error(TopicAuthorizationFailed).code
                    partitions.append(answer)
                    continue
                try:
                    answer["low_watermark"] = await self.broker.delete_records(
                        topic["name"], number, partition["offset"])
                    answer["error_code"] = NONE
                    _log.info("records of %s-%d deleted below offset %d", topic["name"], number,
                              answer["low_watermark"])
                except Exception as exc:  # noqa: BLE001 - answered per partition
                    answer["error_code"], _ = error_of(exc, f"delete records of {topic['name']}")
                partitions.append(answer)
            topics.append({"name": topic["name"], "partitions": partitions})
        return {"throttle_time_ms": 0, "topics": topics}

    async def init_producer_id(self, version: int, body: Body) -> Body:
        """InitProducerId for idempotent producers (no transactional id): a new producer id with
        epoch 0, or (v3+, KIP-360) the same id with the next epoch."""
        transactional_id = body.get("transactional_id")
        refused = {"throttle_time_ms": 0, "producer_id": -1, "producer_epoch": -1}
        if transactional_id is not None:  # AUTHZ-17: checked, then refused as not served
            if not self.access.allowed("Write", "TransactionalId", transactional_id):
                code, _ = self.access.refusal(TransactionalIdAuthorizationFailed, "Write",
                                              transactional_id)
                return {**refused, "error_code": code}
            return {**refused, "error_code": INVALID_REQUEST}
        # AUTHZ-17 (KIP-679): IdempotentWrite on the cluster, or Write on some topic.
        if not (self.access.cluster("IdempotentWrite", log_denial=False)
                or self.access.on_some("Write", "Topic")):
            self.access.cluster("IdempotentWrite")  # asked again to log and count the denial
            return {**refused, "error_code": kafka_error(ClusterAuthorizationFailed).code}
        producer_id, epoch = body.get("producer_id", -1), body.get("producer_epoch", -1)
        if producer_id >= 0 and 0 <= epoch < _MAX_PRODUCER_EPOCH:
            # The same producer, next epoch; its batches restart at sequence 0 (IDEM-14).
            return {"throttle_time_ms": 0, "error_code": NONE, "producer_id": producer_id,
                    "producer_epoch": epoch + 1}
        try:
            producer_id, epoch = await self.broker.init_producer_id()
        except Exception as exc:  # noqa: BLE001 - answered in the response
            code, _ = error_of(exc, "init producer id")
            return {"throttle_time_ms": 0, "error_code": code, "producer_id": -1,
                    "producer_epoch": -1}
        return {"throttle_time_ms": 0, "error_code": NONE, "producer_id": producer_id,
                "producer_epoch": epoch}

    # --- consumer offsets (no membership: generation -1, as `assign()` consumers commit) -------

    async def offset_commit(self, version: int, body: Body) -> Body:
        """OffsetCommit: fenced by the group coordinator (GC-12: the current generation and a
        known member, or generation -1 for a group without members, as `assign()` consumers
        commit), then stored durably."""
        group = body["group_id"]
        if not self.access.allowed("Read", "Group", group):  # AUTHZ-9: nothing is committed
            refused = kafka_error(GroupAuthorizationFailed).code
            return {"throttle_time_ms": 0, "topics": [
                {"name": topic["name"], "partitions": [
                    {"partition_index": partition["partition_index"], "error_code": refused}
                    for partition in topic["partitions"]]}
                for topic in body["topics"]]}
        readable = self.access.topics("Read", (topic["name"] for topic in body["topics"]))
        if group in self.groups.consumer.group_ids():  # CG-19: a consumer-protocol group
            fenced = self.groups.consumer.check_commit(
                group, body.get("member_id", ""), body.get("generation_id_or_member_epoch", -1),
                api_version=version)
        else:
            fenced = self.groups.coordinator.check_commit(
                group, body.get("generation_id_or_member_epoch", -1), body.get("member_id", ""),
                body.get("group_instance_id"))
        results: list[Body] = []
        by_metadata: dict[str, dict[tuple[str, int], int]] = {}
        for topic in body["topics"]:
            partitions = []
            for partition in topic["partitions"]:
                key = (topic["name"], partition["partition_index"])
                partitions.append({"partition_index": key[1], "error_code": NONE})
                if topic["name"] not in readable:  # AUTHZ-9
                    partitions[-1]["error_code"] = kafka_error(TopicAuthorizationFailed).code
                    continue
                if fenced != NONE:
                    partitions[-1]["error_code"] = fenced
                    continue
                metadata = partition.get("committed_metadata") or ""
                by_metadata.setdefault(metadata, {})[key] = partition["committed_offset"]
            results.append({"name": topic["name"], "partitions": partitions})
        errors: dict[tuple[str, int], int] = {}
        for metadata, offsets in by_metadata.items():
            try:
                await self.broker.commit_offsets(group, offsets, metadata=metadata)
            except Exception:  # noqa: BLE001 - find which partitions are at fault
                for key, offset in offsets.items():
                    try:
                        await self.broker.commit_offsets(group, {key: offset},
                                                         metadata=metadata)
                    except Exception as exc:  # noqa: BLE001 - answered per partition
                        errors[key], _ = error_of(exc, f"offset commit of {group}")
        for topic in results:
            for partition in topic["partitions"]:
                code = errors.get((topic["name"], partition["partition_index"]))
                if code is not None:
                    partition["error_code"] = code
        return {"throttle_time_ms": 0, "topics": results}

    async def offset_fetch(self, version: int, body: Body) -> Body:
        """OffsetFetch: committed offsets, -1 where none (v8+: several groups at once)."""
        if version >= 8:
            groups = []
            for group in body["groups"]:
                code = NONE
                if not self.access.allowed("Describe", "Group", group["group_id"]):  # AUTHZ-10
                    code = kafka_error(GroupAuthorizationFailed).code
                elif group["group_id"] in self.groups.consumer.group_ids():  # CG-19 (v9+)
                    code = self.groups.consumer.check_fetch(
                        group["group_id"], group.get("member_id"), group.get("member_epoch", -1))
                if code != NONE:
                    groups.append({"group_id": group["group_id"], "topics": [],
                                   "error_code": code})
                    continue
                topics, code = await self._group_offsets(group["group_id"], group.get("topics"),
                                                         "partition_indexes")
                groups.append({"group_id": group["group_id"], "topics": topics,
                               "error_code": code})
            return {"throttle_time_ms": 0, "groups": groups}
        if not self.access.allowed("Describe", "Group", body["group_id"]):  # AUTHZ-10
            return {"throttle_time_ms": 0, "topics": [],
                    "error_code": kafka_error(GroupAuthorizationFailed).code}
        topics, code = await self._group_offsets(body["group_id"], body.get("topics"),
                                                 "partition_indexes")
        return {"throttle_time_ms": 0, "topics": topics, "error_code": code}

    async def _group_offsets(self, group: str, requested: Sequence[Body] | None,
                             field: str) -> tuple[list[Body], int]:
        """AUTHZ-10: named topics without Describe are answered TOPIC_AUTHORIZATION_FAILED
        unread; of all the group's offsets, those of such topics are left out."""
        denied: list[Body] = []
        keys = None
        if requested is not None:
            described = self.access.topics("Describe", (topic["name"] for topic in requested))
            denied = [topic for topic in requested if topic["name"] not in described]
            keys = [(topic["name"], number) for topic in requested
                    if topic["name"] in described for number in topic[field]]
        try:
            committed = await self.broker.fetch_offsets(group, keys)
        except Exception as exc:  # noqa: BLE001 - answered for the group
            return [], error_of(exc, f"offset fetch of {group}")[0]
        topics: dict[str, list[Body]] = {}
        for (topic, number), value in committed.items():
            topics.setdefault(topic, []).append({
                "partition_index": number, "committed_leader_epoch": -1, "error_code": NONE,
                "committed_offset": -1 if value is None else value.offset,
                "metadata": "" if value is None else value.metadata,
            })
        if requested is None:
            described = self.access.topics("Describe", topics)
            topics = {name: partitions for name, partitions in topics.items()
                      if name in described}
        answer = [{"name": name, "partitions": partitions} for name, partitions in topics.items()]
        code = kafka_error(TopicAuthorizationFailed).code
        answer.extend({"name": topic["name"], "partitions": [
            {"partition_index": number, "committed_leader_epoch": -1, "error_code": code,
             "committed_offset": -1, "metadata": ""} for number in topic[field]]}
            for topic in denied)
        return answer, NONE

    # --- consumer groups (the classic protocol, flyq.groups) ----------------------------------

    async def join_group(self, version: int, body: Body) -> Body:
        """JoinGroup: waits until the rebalance completes (or answers at once: errors, a new
        member id for v4+ clients, a rejoin without rebalance)."""
        sender = REQUEST.get()
        client_id, host = sender.client_id, sender.host
        rebalance_timeout = body.get("rebalance_timeout_ms", -1)
        if not self.access.allowed("Read", "Group", body["group_id"]):  # AUTHZ-11
            return {"throttle_time_ms": 0,
                    "error_code": kafka_error(GroupAuthorizationFailed).code,
                    "generation_id": -1, "protocol_type": None,
                    "protocol_name": None if version >= 7 else "", "leader": "",
                    "member_id": "", "members": []}
        # CG-20: a group is of one type at a time; an Empty consumer group becomes classic.
        if self.groups.consumer.has_members(body["group_id"]):
            return {"throttle_time_ms": 0, "error_code": INCONSISTENT_GROUP_PROTOCOL,
                    "generation_id": -1, "protocol_type": None, "protocol_name": None,
                    "leader": "", "member_id": body["member_id"], "members": []}
        self.groups.consumer.delete_group(body["group_id"])
        answer = await self.groups.call(
            "join", group_id=body["group_id"], client_id=client_id,
            session_timeout_ms=body["session_timeout_ms"],
            rebalance_timeout_ms=(body["session_timeout_ms"] if rebalance_timeout < 0
                                  else rebalance_timeout),
            member_id=body["member_id"], group_instance_id=body.get("group_instance_id"),
            protocol_type=body["protocol_type"],
            protocols=[(p["name"], bytes(p["metadata"])) for p in body["protocols"]],
            require_known_member_id=version >= 4, supports_skip_assignment=version >= 9)
        assert isinstance(answer, JoinGroupResponse)
        if answer.member_id:
            self._member_hosts[answer.member_id] = host
        return {
            "throttle_time_ms": 0, "error_code": answer.error_code,
            "generation_id": answer.generation_id, "protocol_type": answer.protocol_type,
            "protocol_name": answer.protocol_name if answer.protocol_name is not None or
            version >= 7 else "",
            "leader": answer.leader, "member_id": answer.member_id,
            "skip_assignment": answer.skip_assignment,
            "members": [{"member_id": m.member_id, "group_instance_id": m.group_instance_id,
                         "metadata": m.metadata} for m in answer.members],
        }

    async def sync_group(self, version: int, body: Body) -> Body:
        """SyncGroup: the leader's assignments reach every member of the generation."""
        if not self.access.allowed("Read", "Group", body["group_id"]):  # AUTHZ-11
            return {"throttle_time_ms": 0,
                    "error_code": kafka_error(GroupAuthorizationFailed).code,
                    "protocol_type": None, "protocol_name": None, "assignment": b""}
        answer = await self.groups.call(
            "sync", group_id=body["group_id"], generation_id=body["generation_id"],
            member_id=body["member_id"], group_instance_id=body.get("group_instance_id"),
            # v5+ carry them; before that the codec's "" would read as a mismatch.
            protocol_type=body["protocol_type"] if version >= 5 else None,
            protocol_name=body["protocol_name"] if version >= 5 else None,
            assignments=[(a["member_id"], bytes(a["assignment"]))
                         for a in body.get("assignments") or []])
        assert isinstance(answer, SyncGroupResponse)
        return {"throttle_time_ms": 0, "error_code": answer.error_code,
                "protocol_type": answer.protocol_type, "protocol_name": answer.protocol_name,
                "assignment": answer.assignment}

    async def heartbeat(self, version: int, body: Body) -> Body:
        """Heartbeat: keeps the member's session; REBALANCE_IN_PROGRESS asks it to rejoin."""
        if not self.access.allowed("Read", "Group", body["group_id"]):  # AUTHZ-11
            return {"throttle_time_ms": 0,
                    "error_code": kafka_error(GroupAuthorizationFailed).code}
        answer = await self.groups.call(
            "heartbeat", group_id=body["group_id"], generation_id=body["generation_id"],
            member_id=body["member_id"], group_instance_id=body.get("group_instance_id"))
        assert isinstance(answer, HeartbeatResponse)
        return {"throttle_time_ms": 0, "error_code": answer.error_code}

    async def leave_group(self, version: int, body: Body) -> Body:
        """LeaveGroup: one member (v0-2) or several (v3+)."""
        if not self.access.allowed("Read", "Group", body["group_id"]):  # AUTHZ-11
            return {"throttle_time_ms": 0,
                    "error_code": kafka_error(GroupAuthorizationFailed).code, "members": []}
        members = ([(body["member_id"], None)] if version < 3 else
                   [(m["member_id"], m.get("group_instance_id")) for m in body["members"]])
        answer = await self.groups.call("leave", group_id=body["group_id"], members=members)
        assert isinstance(answer, LeaveGroupResponse)
        for member_id, _ in members:
            self._member_hosts.pop(member_id, None)
        error = answer.error_code
        if version < 3 and not error and answer.members:
            error = answer.members[0].error_code
        return {"throttle_time_ms": 0, "error_code": error, "members": [
            {"member_id": m.member_id, "group_instance_id": m.group_instance_id,
             "error_code": m.error_code} for m in answer.members]}

    async def list_groups(self, version: int, body: Body) -> Body:
        """ListGroups: groups with members, and groups that only have committed offsets
        (Empty, no protocol type), filtered by state (v4+) and type (v5+)."""
        coordinator = self.groups.coordinator
        rows_classic: dict[str, tuple[str, str]] = {}
        for group_id in await self.broker.list_groups():
            rows_classic[group_id] = ("", GroupState.EMPTY.value)
        rows: dict[str, tuple[str, str, str]] = {
            group_id: (protocol_type, state, "classic")
            for group_id, (protocol_type, state) in rows_classic.items()}
        for group_id in coordinator.group_ids():
            view = coordinator.describe(group_id)
            if view is not None:
                rows[group_id] = (view.protocol_type or "", view.state.value, "classic")
        for group_id in self.groups.consumer.group_ids():  # CG-20
            consumer_view = self.groups.consumer.describe(group_id)
            if consumer_view is not None:
                rows[group_id] = ("consumer", consumer_view.state.value, "consumer")
        # AUTHZ-12: Describe on the cluster lists every group, else those with Describe; what
        # is left out is not logged (nobody asked for it by name).
        if not self.access.cluster("Describe", log_denial=False):
            rows = {group_id: row for group_id, row in rows.items()
                    if self.access.allowed("Describe", "Group", group_id, log_denial=False)}
        states = {state.lower() for state in body.get("states_filter") or []}
        types = {kind.lower() for kind in body.get("types_filter") or []}
        return {"throttle_time_ms": 0, "error_code": NONE, "groups": [
            {"group_id": group_id, "protocol_type": protocol_type, "group_state": state,
             "group_type": kind}
            for group_id, (protocol_type, state, kind) in sorted(rows.items())
            if (not states or state.lower() in states) and (not types or kind in types)]}

    async def describe_groups(self, version: int, body: Body) -> Body:
        """DescribeGroups: state, protocol, and each member's client, host, metadata and
        assignment; a group with only committed offsets is Empty, an unknown one Dead."""
        committed = set(await self.broker.list_groups())
        with_operations = version >= 3 and bool(body.get("include_authorized_operations"))
        groups = []
        for group_id in body["groups"]:
            if not self.access.allowed("Describe", "Group", group_id):  # AUTHZ-12
                groups.append({"error_code": kafka_error(GroupAuthorizationFailed).code,
                               "group_id": group_id, "group_state": "", "protocol_type": "",
                               "protocol_data": "", "members": [],
                               "authorized_operations": OPERATIONS_OMITTED})
                continue
            operations = (self.access.operations("Group", group_id) if with_operations
                          else OPERATIONS_OMITTED)
            consumer_view = self.groups.consumer.describe(group_id)
            if consumer_view is not None:  # CG-20: as a classic "consumer" group would be
                groups.append({
                    "error_code": NONE, "group_id": group_id,
                    "group_state": consumer_view.state.value, "protocol_type": "consumer",
                    "protocol_data": consumer_view.assignor_name,
                    "authorized_operations": operations,
                    "members": [{
                        "member_id": m.member_id, "group_instance_id": m.instance_id,
                        "client_id": m.client_id, "client_host": m.client_host,
                        "member_metadata": encode_subscription(list(m.subscribed_topic_names)),
                        "member_assignment": encode_assignment(
                            {t: sorted(ps) for t, ps in sorted(m.assigned.items()) if ps}),
                    } for m in consumer_view.members]})
                continue
            view = self.groups.coordinator.describe(group_id)
            if view is None:
                state = GroupState.EMPTY if group_id in committed else GroupState.DEAD
                groups.append({"error_code": NONE, "group_id": group_id,
                               "group_state": state.value, "protocol_type": "",
                               "protocol_data": "", "members": [],
                               "authorized_operations": operations})
                continue
            assignments = dict(view.assignments or ())
            groups.append({
                "error_code": NONE, "group_id": group_id, "group_state": view.state.value,
                "protocol_type": view.protocol_type or "",
                "protocol_data": view.protocol_name or "",
                "authorized_operations": operations,
                "members": [{
                    "member_id": member.member_id, "group_instance_id": member.group_instance_id,
                    "client_id": member.client_id,
                    "client_host": self._member_hosts.get(member.member_id, ""),
                    "member_metadata": dict(member.protocols).get(view.protocol_name or "", b""),
                    "member_assignment": assignments.get(member.member_id, b""),
                } for member in view.members]})
        return {"throttle_time_ms": 0, "groups": groups}

    # --- consumer groups (the consumer protocol, KIP-848, flyq.groups.ConsumerCoordinator) ------

    async def consumer_group_heartbeat(self, version: int, body: Body) -> Body:
        """ConsumerGroupHeartbeat (CG-4..18, CG-20): answered at once. Topics are named in the
        coordinator and identified by topic id on the wire; the names are mapped here."""
        sender = REQUEST.get()
        client_id, host = sender.client_id, sender.host
        group_id = body["group_id"]
        epoch = body["member_epoch"]

        def error(code: int, message: str) -> Body:
            return {"throttle_time_ms": 0, "error_code": code, "error_message": message,
                    "member_id": None, "member_epoch": 0, "heartbeat_interval_ms": 0,
                    "assignment": None}

        if not self.access.allowed("Read", "Group", group_id):  # AUTHZ-15
            code, message = self.access.refusal(GroupAuthorizationFailed, "Read", group_id)
            return error(code, message)
        subscribed = body.get("subscribed_topic_names")
        if subscribed:  # AUTHZ-15: every subscribed topic needs Describe
            described = self.access.topics("Describe", subscribed)
            hidden = sorted(set(subscribed) - described)
            if hidden:
                return error(kafka_error(TopicAuthorizationFailed).code,
                             f"{sender.principal} may not Describe the subscribed topics "
                             f"{', '.join(hidden)}")
        if body.get("subscribed_topic_regex"):  # librdkafka sends "" for "no regex"
            return error(INVALID_REQUEST, "SubscribedTopicRegex is not supported yet.")
        classic = self.groups.coordinator.describe(group_id)
        if classic is not None:
            if classic.state is not GroupState.EMPTY:  # CG-20, as Kafka without migration
                return error(GROUP_ID_NOT_FOUND, f"Group {group_id} is not a consumer group.")
            if epoch == 0:
                self.groups.coordinator.delete_group(group_id)
        names = set(subscribed or ())
        view = self.groups.consumer.describe(group_id)
        if view is not None:
            names.update(t for m in view.members for t in m.subscribed_topic_names)
        topics, ids = await self._topic_ids(names)
        owned: dict[str, frozenset[int]] | None = None
        if body.get("topic_partitions") is not None:
            owned = {}
            names_by_id = {topic_id: name for name, topic_id in ids.items()}
            for entry in body["topic_partitions"]:
                name = names_by_id.get(entry["topic_id"])
                if name is None:
                    try:
                        name = await self._topic_name_by_id(entry["topic_id"])
                    except FlyQError:
                        continue  # a deleted topic: nothing of it can be owned any more
                owned[name] = owned.get(name, frozenset()) | frozenset(entry["partitions"])
        answer = self.groups.consumer_heartbeat(
            group_id=group_id, member_id=body["member_id"], member_epoch=epoch, topics=topics,
            instance_id=body.get("instance_id"), rack_id=body.get("rack_id"),
            rebalance_timeout_ms=body.get("rebalance_timeout_ms", -1),
            subscribed_topic_names=subscribed, server_assignor=body.get("server_assignor"),
            owned=owned, client_id=client_id, client_host=host,
            require_member_id=version >= 1)
        assignment = None
        if answer.assignment is not None:
            assignment = {"topic_partitions": await self._wire_assignment(answer.assignment, ids)}
        return {"throttle_time_ms": 0, "error_code": answer.error_code,
                "error_message": answer.error_message, "member_id": answer.member_id,
                "member_epoch": answer.member_epoch,
                "heartbeat_interval_ms": answer.heartbeat_interval_ms, "assignment": assignment}

    async def _topic_ids(self, names: Iterable[str]) -> tuple[dict[str, int], dict[str, uuid.UUID]]:
        """(partition count, topic id) of each existing topic among `names` (TOPIC-6)."""
        counts: dict[str, int] = {}
        ids: dict[str, uuid.UUID] = {}
        for name in sorted(names):
            try:
                metadata = await self.broker.topic_metadata(name)
            except FlyQError:
                continue  # not (yet) a topic: subscribed, but nothing to assign
            counts[name] = metadata.partitions
            ids[name] = metadata.topic_id
        return counts, ids

    async def _wire_assignment(self, assignment: Assignment, ids: dict[str, uuid.UUID],
                               with_names: bool = False) -> list[Body]:
        missing = [name for name in assignment if name not in ids]
        if missing:
            ids = {**ids, **(await self._topic_ids(missing))[1]}
        return [{"topic_id": ids[name], "topic_name": name, "partitions": sorted(partitions)}
                if with_names else {"topic_id": ids[name], "partitions": sorted(partitions)}
                for name, partitions in sorted(assignment.items())
                if partitions and name in ids]

    async def consumer_group_describe(self, version: int, body: Body) -> Body:
        """ConsumerGroupDescribe: epochs, assignor, and each member's assignment and target."""
        groups = []
        for group_id in body["group_ids"]:
            if not self.access.allowed("Describe", "Group", group_id):  # AUTHZ-16
                groups.append({"error_code": kafka_error(GroupAuthorizationFailed).code,
                               "error_message": None, "group_id": group_id, "group_state": "",
                               "group_epoch": 0, "assignment_epoch": 0, "assignor_name": "",
                               "members": []})
                continue
            view = self.groups.consumer.describe(group_id)
            if not group_id:
                groups.append(self._describe_error(group_id, INVALID_GROUP_ID, "Invalid group."))
            elif view is None:
                message = (f"Group {group_id} is not a consumer group."
                           if self.groups.coordinator.describe(group_id) is not None
                           else f"Group {group_id} not found.")
                groups.append(self._describe_error(group_id, GROUP_ID_NOT_FOUND, message))
            else:
                groups.append(self._hide_undescribable_topics(
                    await self._describe_consumer_group(view)))
                if body.get("include_authorized_operations") and (
                        groups[-1]["error_code"] == NONE):
                    groups[-1]["authorized_operations"] = self.access.operations("Group",
                                                                                 group_id)
        return {"throttle_time_ms": 0, "groups": groups}

    def _hide_undescribable_topics(self, described: Body) -> Body:
        """AUTHZ-16: a group whose members' assignments name a topic the principal may not
        describe is answered TOPIC_AUTHORIZATION_FAILED, without its members."""
        names = {entry["topic_name"] for member in described["members"]
                 for assignment in (member["assignment"], member["target_assignment"])
                 for entry in assignment["topic_partitions"]}
        if names <= self.access.topics("Describe", names):
            return described
        return {**described, "error_code": kafka_error(TopicAuthorizationFailed).code,
                "error_message": "The group has described topic(s) that the client is not "
                                 "authorized to describe.", "members": []}

    @staticmethod
    def _describe_error(group_id: str, code: int, message: str) -> Body:
        return {"error_code": code, "error_message": message, "group_id": group_id,
                "group_state": "Dead", "group_epoch": -1, "assignment_epoch": -1,
                "assignor_name": "", "members": []}

    async def _describe_consumer_group(self, view: ConsumerGroupView) -> Body:
        names = {t for m in view.members for a in (m.assigned, m.target) for t in a}
        ids = (await self._topic_ids(names))[1]
        members = []
        for m in view.members:
            members.append({
                "member_id": m.member_id, "instance_id": m.instance_id, "rack_id": m.rack_id,
                "member_epoch": m.member_epoch, "client_id": m.client_id,
                "client_host": m.client_host,
                "subscribed_topic_names": list(m.subscribed_topic_names),
                "subscribed_topic_regex": None,
                "assignment": {"topic_partitions": await self._wire_assignment(
                    m.assigned, ids, with_names=True)},
                "target_assignment": {"topic_partitions": await self._wire_assignment(
                    m.target, ids, with_names=True)},
            })
        return {"error_code": NONE, "error_message": None, "group_id": view.group_id,
                "group_state": view.state.value, "group_epoch": view.group_epoch,
                "assignment_epoch": view.assignment_epoch, "assignor_name": view.assignor_name,
                "members": members}

    # --- group administration (spec/protocol.md "Group administration") ------------------------

    async def delete_groups(self, version: int, body: Body) -> Body:
        """DeleteGroups: a group without members goes, with its committed offsets (durably)."""
        return {"throttle_time_ms": 0, "results": [
            {"group_id": group_id, "error_code": await self._delete_group(group_id)}
            for group_id in body["groups_names"]]}

    async def _delete_group(self, group_id: str) -> int:
        if not self.access.allowed("Delete", "Group", group_id):  # AUTHZ-14
            return kafka_error(GroupAuthorizationFailed).code
        coordinator = self.groups.coordinator
        try:
            validate_group_id(group_id)
        except InvalidGroupId as exc:
            return exc.code
        view = coordinator.describe(group_id)
        if (view is not None and view.state not in _NO_MEMBERS) or (
                self.groups.consumer.has_members(group_id)):  # CG-20: either group type
            return kafka_error(NonEmptyGroup).code
        # The coordinator's group goes first (Empty -> Dead, forgotten): a member joining while
        # the offsets are being deleted starts a new group, which keeps no offset of the old one.
        in_memory = view is not None and coordinator.delete_group(group_id)
        in_memory = self.groups.consumer.delete_group(group_id) or in_memory
        try:
            await self.broker.delete_group(group_id)
        except UnknownGroup as exc:
            if not in_memory:
                return exc.code
        except Exception as exc:  # noqa: BLE001 - answered per group
            return error_of(exc, f"delete group {group_id}")[0]
        _log.info("group %s deleted", group_id)
        return NONE

    async def offset_delete(self, version: int, body: Body) -> Body:
        """OffsetDelete: a group's committed offsets of some partitions go (durably); a live
        consumer group keeps those of topics its members subscribe to (GROUP_SUBSCRIBED_TO_TOPIC)."""
        group_id = body["group_id"]
        if not self.access.allowed("Delete", "Group", group_id):  # AUTHZ-14: nothing deleted
            return {"error_code": kafka_error(GroupAuthorizationFailed).code,
                    "throttle_time_ms": 0, "topics": []}
        readable = self.access.topics("Read", (topic["name"] for topic in body["topics"]))
        counts: dict[str, int] = {}
        try:
            validate_group_id(group_id)
            committed = await self.broker.fetch_offsets(group_id)
            for topic in body["topics"]:
                try:
                    counts[topic["name"]] = (
                        await self.broker.topic_metadata(topic["name"])).partitions
                except (UnknownTopic, InvalidTopicName):
                    counts[topic["name"]] = 0
        except Exception as exc:  # noqa: BLE001 - answered for the group
            return {"error_code": error_of(exc, f"offset delete of {group_id}")[0],
                    "throttle_time_ms": 0, "topics": []}
        # Decided on one snapshot of the group, taken after the awaits above.
        view = self.groups.coordinator.describe(group_id)
        live = view is not None and view.state not in _NO_MEMBERS
        # CG-20: a consumer-protocol group with members keeps its subscribed topics' offsets.
        consumer_view = self.groups.consumer.describe(group_id)
        consumer_topics = ({t for m in consumer_view.members for t in m.subscribed_topic_names}
                           if consumer_view is not None and consumer_view.members else None)
        error = NONE
        if (view is None or view.state is GroupState.DEAD) and not committed and (
                consumer_view is None):
            error = kafka_error(UnknownGroup).code
        elif live and view is not None and view.protocol_type != CONSUMER_PROTOCOL_TYPE:
            error = kafka_error(NonEmptyGroup).code
        if error != NONE:
            return {"error_code": error, "throttle_time_ms": 0, "topics": []}
        topics: list[Body] = []
        doomed: list[tuple[str, int]] = []
        for topic in body["topics"]:
            name = topic["name"]
            count = counts[name]
            partitions = []
            for partition in topic["partitions"]:
                number = partition["partition_index"]
                code = NONE
                if name not in readable:  # AUTHZ-14
                    code = kafka_error(TopicAuthorizationFailed).code
                elif not 0 <= number < count:
                    code = UNKNOWN_TOPIC_OR_PARTITION
                elif (live and view is not None and is_subscribed(view, name)) or (
                        consumer_topics is not None and name in consumer_topics):
                    code = kafka_error(GroupSubscribedToTopic).code
                else:
                    doomed.append((name, number))
                partitions.append({"partition_index": number, "error_code": code})
            topics.append({"name": name, "partitions": partitions})
        if doomed:
            try:
                await self.broker.delete_offsets(group_id, doomed)
            except Exception as exc:  # noqa: BLE001 - answered for the partitions to delete
                failed = error_of(exc, f"offset delete of {group_id}")[0]
                for topic in topics:
                    for partition in topic["partitions"]:
                        if partition["error_code"] == NONE:
                            partition["error_code"] = failed
        return {"error_code": NONE, "throttle_time_ms": 0, "topics": topics}

    # --- topics and configs ---------------------------------------------------------------------

    async def create_topics(self, version: int, body: Body) -> Body:
        """CreateTopics, with Kafka's topic config names (CFG-1..4)."""
        validate_only = bool(body.get("validate_only", False))
        return {"throttle_time_ms": 0, "topics": [
            await self._create_topic(topic, validate_only) for topic in body["topics"]]}

    async def _create_topic(self, topic: Body, validate_only: bool) -> Body:
        name = topic["name"]
        answer: Body = {"name": name, "num_partitions": -1, "replication_factor": -1,
                        "configs": None}
        # AUTHZ-13: without DescribeConfigs on the topic its config, partition count and
        # replication factor are not answered (topic_config_error_code says why).
        describable = self.access.allowed("DescribeConfigs", "Topic", name, log_denial=False)
        if not describable:
            answer["topic_config_error_code"] = kafka_error(TopicAuthorizationFailed).code
        if not self._may_create(name):  # AUTHZ-13, before any validation
            answer["error_code"], answer["error_message"] = self.access.refusal(
                TopicAuthorizationFailed, "Create", name)
            return answer
        assignments = topic.get("assignments") or []
        count = topic["num_partitions"]
        if count == -1:
            count = len(assignments) if assignments else self.settings.num_partitions
        problem: tuple[int, str] | None = None
        if topic["replication_factor"] not in (-1, 1):
            problem = (INVALID_REPLICATION_FACTOR, _ONE_NODE)
        elif assignments and (topic["num_partitions"] != -1 or any(
                list(entry["broker_ids"]) != [self.settings.node_id] for entry in assignments)):
            problem = (INVALID_REPLICA_ASSIGNMENT,
                       f"assignments must name only broker {self.settings.node_id}, with "
                       "num_partitions -1")
        elif count < 1:
            problem = (INVALID_PARTITIONS, f"num_partitions must be >= 1, not {count}")
        if problem is not None:
            answer["error_code"], answer["error_message"] = problem
            return answer
        try:
            changes = log_config_changes(
                (entry["name"], entry["value"]) for entry in topic.get("configs") or [])
            if validate_only:
                await self._check_creatable(name)
                config = None
            else:
                created = await self.broker.create_topic(name, count, changes)
                config = created.config
                _log.info("topic %s created with %d partitions", name, count)
        except Exception as exc:  # noqa: BLE001 - answered per topic
            answer["error_code"], answer["error_message"] = error_of(exc, f"create topic {name}")
            return answer
        answer.update(error_code=NONE, error_message=None)
        if not validate_only:
            answer["topic_id"] = created.topic_id
        if not describable:
            return answer
        answer.update(num_partitions=count, replication_factor=1)
        if config is not None:
            answer["configs"] = [
                {"name": entry.name, "value": entry.value, "read_only": False,
                 "config_source": entry.config_source, "is_sensitive": False}
                for entry in describe_topic_config(config)]
        return answer

    async def _check_creatable(self, name: str) -> None:
        check_topic_name(name)
        if name in await self.broker.list_topics():
            raise TopicAlreadyExists(name)

    async def delete_topics(self, version: int, body: Body) -> Body:
        """DeleteTopics by name, or (v6+) by topic id (TOPIC-6)."""
        if version >= 6:
            wanted = [(topic.get("name"), topic.get("topic_id")) for topic in body["topics"]]
        else:
            wanted = [(name, None) for name in body["topic_names"]]
        responses = []
        for given_name, topic_id in wanted:
            answer: Body = {"name": given_name, "error_code": NONE, "error_message": None}
            try:
                name = given_name
                if name is None:
                    name = await self._topic_name_by_id(topic_id)
                    answer["topic_id"] = topic_id
                    if not self.access.allowed("Describe", "Topic", name):  # AUTHZ-13
                        answer["error_code"], answer["error_message"] = self.access.refusal(
                            TopicAuthorizationFailed, "Describe", str(topic_id))
                        responses.append(answer)
                        continue
                    answer["name"] = name
                if not self.access.allowed("Delete", "Topic", name):  # AUTHZ-13
                    answer["error_code"], answer["error_message"] = self.access.refusal(
                        TopicAuthorizationFailed, "Delete", name)
                    responses.append(answer)
                    continue
                await self.broker.delete_topic(name)
                _log.info("topic %s deleted", name)
            except Exception as exc:  # noqa: BLE001 - answered per topic
                answer["error_code"], answer["error_message"] = error_of(
                    exc, f"delete topic {given_name or topic_id}")
            responses.append(answer)
        return {"throttle_time_ms": 0, "responses": responses}

    async def create_partitions(self, version: int, body: Body) -> Body:
        """CreatePartitions: a topic only grows (TOPIC-5)."""
        results = []
        for topic in body["topics"]:
            name, count = topic["name"], topic["count"]
            answer: Body = {"name": name, "error_code": NONE, "error_message": None}
            if not self.access.allowed("Alter", "Topic", name):  # AUTHZ-13
                answer["error_code"], answer["error_message"] = self.access.refusal(
                    TopicAuthorizationFailed, "Alter", name)
                results.append(answer)
                continue
            try:
                current = (await self.broker.topic_metadata(name)).partitions
                assignments = topic.get("assignments") or []
                if count <= current:
                    answer.update(error_code=INVALID_PARTITIONS, error_message=(
                        f"topic {name!r} has {current} partitions; the count must grow"))
                elif any(list(entry["broker_ids"]) != [self.settings.node_id]
                         for entry in assignments):
                    answer.update(error_code=INVALID_REPLICA_ASSIGNMENT,
                                  error_message=f"only broker {self.settings.node_id} exists")
                elif not body.get("validate_only", False):
                    await self.broker.create_partitions(name, count)
                    _log.info("topic %s grown to %d partitions", name, count)
            except Exception as exc:  # noqa: BLE001 - answered per topic
                answer["error_code"], answer["error_message"] = error_of(
                    exc, f"create partitions of {name}")
            results.append(answer)
        return {"throttle_time_ms": 0, "results": results}

    async def describe_configs(self, version: int, body: Body) -> Body:
        """DescribeConfigs of topics (Kafka's names, CFG-5) and of this broker (read-only)."""
        results = []
        for resource in body["resources"]:
            kind, name = resource["resource_type"], resource["resource_name"]
            keys = resource.get("configuration_keys")
            answer: Body = {"resource_type": kind, "resource_name": name, "error_code": NONE,
                            "error_message": None, "configs": []}
            refusal = self._config_refusal("DescribeConfigs", kind, name)
            if refusal is not None:
                answer["error_code"], answer["error_message"] = refusal
                results.append(answer)
                continue
            try:
                if kind == RESOURCE_TOPIC:
                    metadata = await self.broker.topic_metadata(name)
                    answer["configs"] = [
                        {"name": entry.name, "value": entry.value, "read_only": False,
                         "is_default": entry.is_default, "config_source": entry.config_source,
                         "is_sensitive": False, "synonyms": [], "config_type": entry.config_type,
                         "documentation": None}
                        for entry in describe_topic_config(metadata.config, keys)]
                elif kind == RESOURCE_BROKER:
                    answer["configs"] = [
                        {"name": key, "value": value, "read_only": True, "is_default": False,
                         "config_source": 4, "is_sensitive": False, "synonyms": [],
                         "config_type": 0, "documentation": None}
                        for key, value in self._broker_configs().items()
                        if keys is None or key in keys]
                else:
                    answer.update(error_code=INVALID_REQUEST,
                                  error_message=f"resource type {kind} has no configs here")
            except Exception as exc:  # noqa: BLE001 - answered per resource
                answer["error_code"], answer["error_message"] = error_of(
                    exc, f"describe configs of {name}")
            results.append(answer)
        return {"throttle_time_ms": 0, "results": results}

    def _config_refusal(self, operation: str, kind: int, name: str) -> tuple[int, str] | None:
        """AUTHZ-18: `operation` on a topic's configs needs it on the topic, on a broker's on
        the cluster; None when allowed (or for a resource type that is refused anyway)."""
        if kind == RESOURCE_TOPIC and not self.access.allowed(operation, "Topic", name):
            return self.access.refusal(TopicAuthorizationFailed, operation, name)
        if kind == RESOURCE_BROKER and not self.access.cluster(operation):
            return self.access.refusal(ClusterAuthorizationFailed, operation, CLUSTER_NAME)
        return None

    def _broker_configs(self) -> dict[str, str]:
        settings = self.settings
        return {
            "node.id": str(settings.node_id),
            "auto.create.topics.enable": str(settings.auto_create_topics).lower(),
            "num.partitions": str(settings.num_partitions),
            "socket.request.max.bytes": str(settings.socket_request_max_bytes),
            "max.connections": str(settings.max_connections),
            "connections.max.idle.ms": str(settings.connections_max_idle_ms),
        }

    async def alter_configs(self, version: int, body: Body) -> Body:
        """AlterConfigs: the given set replaces the topic's config (unnamed keys go back to
        their defaults), as Kafka's non-incremental API does."""
        def pairs(configs: Sequence[Body]) -> list[tuple[str, str | None]]:
            given = [(entry["name"], entry["value"]) for entry in configs]
            named = {name for name, _ in given}
            return given + [(name, None) for name in KAFKA_TOPIC_CONFIGS if name not in named]
        return await self._alter(body, pairs)

    async def incremental_alter_configs(self, version: int, body: Body) -> Body:
        """IncrementalAlterConfigs: SET and DELETE (back to the default); no list configs."""
        def pairs(configs: Sequence[Body]) -> list[tuple[str, str | None]]:
            changes: list[tuple[str, str | None]] = []
            for entry in configs:
                operation = entry["config_operation"]
                if operation == _OP_SET:
                    changes.append((entry["name"], entry["value"]))
                elif operation == _OP_DELETE:
                    changes.append((entry["name"], None))
                else:
                    raise InvalidConfig(entry["name"], entry["value"],
                                        f"operation {operation} (APPEND/SUBTRACT) applies to "
                                        "list configs; FlyQ's topic configs take SET or DELETE")
            return changes
        return await self._alter(body, pairs)

    async def _alter(self, body: Body,
                     pairs: Callable[[Sequence[Body]], list[tuple[str, str | None]]]) -> Body:
        responses = []
        for resource in body["resources"]:
            kind, name = resource["resource_type"], resource["resource_name"]
            answer: Body = {"resource_type": kind, "resource_name": name, "error_code": NONE,
                            "error_message": None}
            refusal = self._config_refusal("AlterConfigs", kind, name)
            if refusal is not None:
                answer["error_code"], answer["error_message"] = refusal
                responses.append(answer)
                continue
            try:
                if kind != RESOURCE_TOPIC:
                    answer.update(error_code=INVALID_REQUEST, error_message=(
                        "only topic configs can be altered; broker settings are read at start"))
                else:
                    changes = log_config_changes(pairs(resource["configs"]))
                    await self.broker.topic_metadata(name)
                    if not body.get("validate_only", False):
                        await self.broker.alter_topic_config(name, changes)
                        _log.info("topic %s config altered: %s", name, changes)
            except Exception as exc:  # noqa: BLE001 - answered per resource
                answer["error_code"], answer["error_message"] = error_of(
                    exc, f"alter configs of {name}")
            responses.append(answer)
        return {"throttle_time_ms": 0, "responses": responses}


def api_version_entries() -> list[Body]:
    """The `api_keys` of an ApiVersions response."""
    return [{"api_key": key, "min_version": low, "max_version": high}
            for key, (low, high) in sorted(SUPPORTED_VERSIONS.items())]

