"""Per-API authorization (spec/authorization.md AUTHZ-1..21): the handlers over a real AsyncBroker
on real files, with the ACL authorizer on, each request sent as a principal through the request
context, each answer encoded and decoded with the version's schema. Kafka's error names and
AclOperation codes come from kafka-python, not from FlyQ."""

from __future__ import annotations

import asyncio
import contextvars
import re
import uuid
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from flyq.auth import RESOURCE_TYPES, Acl
from flyq.broker import AsyncBroker
from flyq.codec.record_batch import encode_batch
from flyq.protocol import APIS, decode_message, encode_message
from flyq.records import Record
from flyq.server import ApiHandlers, ApiKey, CloseConnection, ServerSettings
from flyq.server._access import allowed_on_some
from flyq.server._context import REQUEST, RequestContext

with warnings.catch_warnings():
    # kafka-python 3.x's package import uses the deprecated importlib.resources.read_text.
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka.errors
    from kafka.admin import ACLOperation

_T = TypeVar("_T")
Body = dict[str, Any]
SPEC = Path(__file__).resolve().parents[2] / "spec" / "authorization.md"

ADMIN, ALICE, BOB = "User:admin", "User:alice", "User:bob"
HOST = "10.1.2.3"
CLUSTER = "kafka-cluster"  # Kafka's name of the one Cluster resource
ZERO_ID = uuid.UUID(int=0)
OMITTED = -(2**31)  # Kafka's "authorized operations not requested" (Integer.MIN_VALUE)


def name_of(code: int) -> str:
    """Kafka's name of error `code` (kafka-python's table); NONE for 0."""
    return "NONE" if code == 0 else str(kafka.errors.for_code(code).message)


def code_of(name: str) -> int:
    """Kafka's code of the error called `name` (kafka-python's table)."""
    found = [cls.errno for cls in vars(kafka.errors).values()
             if isinstance(cls, type) and issubclass(cls, kafka.errors.BrokerResponseError)
             and cls.message == name]
    assert len(found) == 1, name
    return int(found[0])


def bits(*operations: str) -> int:
    """The authorized-operations bit set of `operations`, by kafka-python's AclOperation codes."""
    return sum(1 << ACLOperation[operation].value for operation in operations)


# Kafka's AclEntry.supportedOperations, written out from Kafka's source.
TOPIC_OPERATIONS = ("READ", "WRITE", "CREATE", "DESCRIBE", "DELETE", "ALTER", "DESCRIBE_CONFIGS",
                    "ALTER_CONFIGS")
GROUP_OPERATIONS = ("READ", "DESCRIBE", "DELETE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS")
CLUSTER_OPERATIONS = ("CREATE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS",
                      "IDEMPOTENT_WRITE", "ALTER", "DESCRIBE")


def acl(principal: str, operation: str, resource_type: str, name: str = "*", *,
        permission: str = "Allow", pattern: str = "Literal", host: str = "*") -> Acl:
    return Acl(principal, host, resource_type, pattern, name, operation, permission)


def allow_all(principal: str) -> set[Acl]:
    """`principal` allowed every operation on every resource."""
    return {acl(principal, "All", kind, CLUSTER if kind == "Cluster" else "*")
            for kind in RESOURCE_TYPES}


def settings(**changes: Any) -> ServerSettings:
    return ServerSettings(**{"authorizer_enabled": True, "super_users": frozenset({ADMIN}),
                             **changes})


def run(tmp_path: Path, scenario: Callable[[ApiHandlers], Awaitable[_T]],
        acls: Iterable[Acl] = (), config: ServerSettings | None = None) -> _T:
    """Run `scenario` against handlers (with their group timer) over a fresh AsyncBroker with
    topic "t" (2 partitions), the authorizer on with `acls` and ADMIN a super user."""
    async def main() -> _T:
        broker = await AsyncBroker.open(str(tmp_path / "data"), create=True)
        api = ApiHandlers(broker, config or settings(), "cluster-x")
        api.authorization.replace_acls(acls)
        api.groups.start()
        try:
            await broker.create_topic("t", 2)
            return await scenario(api)
        finally:
            await api.groups.stop()
            await broker.close()
    return asyncio.run(main())


async def as_user(principal: str, work: Coroutine[Any, Any, _T]) -> _T:
    """`work` run in a copy of the context where REQUEST names `principal` from HOST."""
    context = contextvars.copy_context()
    context.run(REQUEST.set, RequestContext(client_id="test", host=HOST, principal=principal))
    return await asyncio.wait_for(asyncio.create_task(work, context=context), 10)


async def call(api: ApiHandlers, principal: str, key: int, version: int, body: Body) -> Body:
    """The handler's answer as a client reads it: encoded and decoded with the version's schema."""
    answer = await as_user(principal, api.handle(key, version, body))
    assert answer is not None
    schema = APIS[key].response
    decoded: Body = decode_message(schema, version,
                                   memoryview(b"".join(encode_message(schema, version, answer))))
    return decoded


def batch(*values: bytes) -> bytes:
    return encode_batch(0, [Record(value=value, timestamp=1000) for value in values])


def produce_body(topic: str, records: bytes, *, acks: int = -1,
                 transactional_id: str | None = None) -> Body:
    return {"acks": acks, "timeout_ms": 1000, "transactional_id": transactional_id,
            "topic_data": [{"name": topic, "partition_data": [
                {"index": 0, "records": memoryview(records)}]}]}


def fetch_body(*topics: str, max_wait_ms: int = 0) -> Body:
    return {"replica_id": -1, "max_wait_ms": max_wait_ms, "min_bytes": 1, "max_bytes": 1 << 20,
            "isolation_level": 0, "session_id": 0, "session_epoch": -1, "topics": [
                {"topic": topic, "partitions": [
                    {"partition": 0, "fetch_offset": 0, "partition_max_bytes": 1 << 20,
                     "current_leader_epoch": -1, "log_start_offset": -1}]}
                for topic in topics], "forgotten_topics_data": [], "rack_id": ""}


def commit_body(group: str, *topics: str) -> Body:
    return {"group_id": group, "generation_id_or_member_epoch": -1, "member_id": "",
            "group_instance_id": None, "topics": [
                {"name": topic, "partitions": [
                    {"partition_index": 0, "committed_offset": 7, "committed_leader_epoch": -1,
                     "committed_metadata": "m"}]} for topic in topics]}


def offset_fetch_body(group: str, topics: list[str] | None) -> Body:
    return {"groups": [{"group_id": group, "topics": None if topics is None else [
        {"name": topic, "partition_indexes": [0]} for topic in topics]}],
        "require_stable": False}


def heartbeat_body(group: str, topics: list[str], member_id: str = "member-1") -> Body:
    return {"group_id": group, "member_id": member_id, "member_epoch": 0, "instance_id": None,
            "rack_id": None, "rebalance_timeout_ms": 30_000, "subscribed_topic_names": topics,
            "subscribed_topic_regex": None, "server_assignor": None, "topic_partitions": []}


def create_body(name: str) -> Body:
    return {"topics": [{"name": name, "num_partitions": 1, "replication_factor": 1,
                        "assignments": [], "configs": []}],
            "timeout_ms": 1000, "validate_only": False}


def delete_topics_body(*, name: str | None = None, topic_id: uuid.UUID = ZERO_ID) -> Body:
    return {"topics": [{"name": name, "topic_id": topic_id}], "timeout_ms": 1000}


def init_producer_body(transactional_id: str | None = None) -> Body:
    return {"transactional_id": transactional_id, "transaction_timeout_ms": 60_000,
            "producer_id": -1, "producer_epoch": -1}


def partitions_body(topic: str) -> Body:
    return {"topics": [{"name": topic, "partitions": [0]}]}


def config_resource(kind: int, name: str, configs: list[Body] | None = None) -> Body:
    resource: Body = {"resource_type": kind, "resource_name": name}
    if configs is None:
        resource["configuration_keys"] = None
    else:
        resource["configs"] = configs
    return resource


TOPIC, BROKER = 2, 4


async def topic_id(api: ApiHandlers, name: str) -> uuid.UUID:
    return (await api.broker.topic_metadata(name)).topic_id


async def metadata(api: ApiHandlers, principal: str, topics: list[Body] | None, *,
                   version: int = 9, create: bool = False, **extra: Any) -> Body:
    return await call(api, principal, ApiKey.METADATA, version, {
        "topics": topics, "allow_auto_topic_creation": create, **extra})


def first_partition_code(answer: Body, topics: str = "topics", partitions: str = "partitions",
                         ) -> str:
    return name_of(answer[topics][0][partitions][0]["error_code"])


# --- the table of spec/authorization.md §2, row by row --------------------------------------------

Scenario = Callable[[ApiHandlers], Awaitable[str]]


async def s_produce(api: ApiHandlers) -> str:
    answer = await call(api, ALICE, ApiKey.PRODUCE, 9, produce_body("t", batch(b"x")))
    return first_partition_code(answer, "responses", "partition_responses")


async def s_produce_transactional(api: ApiHandlers) -> str:
    answer = await call(api, ALICE, ApiKey.PRODUCE, 9,
                        produce_body("t", batch(b"x"), transactional_id="tx"))
    return first_partition_code(answer, "responses", "partition_responses")


async def s_fetch(api: ApiHandlers) -> str:
    return first_partition_code(await call(api, ALICE, ApiKey.FETCH, 12, fetch_body("t")),
                                "responses")


async def s_list_offsets(api: ApiHandlers) -> str:
    return first_partition_code(await call(api, ALICE, ApiKey.LIST_OFFSETS, 7, {
        "replica_id": -1, "isolation_level": 0, "topics": [
            {"name": "t", "partitions": [{"partition_index": 0, "timestamp": -1}]}]}))


async def s_metadata_named(api: ApiHandlers) -> str:
    return name_of((await metadata(api, ALICE, [{"name": "t"}]))["topics"][0]["error_code"])


async def s_metadata_by_id(api: ApiHandlers) -> str:
    answer = await metadata(api, ALICE, [{"name": None, "topic_id": await topic_id(api, "t")}],
                            version=12)
    return name_of(answer["topics"][0]["error_code"])


async def s_metadata_all(api: ApiHandlers) -> str:
    answer = await metadata(api, ALICE, None)
    return "listed" if [t["name"] for t in answer["topics"]] == ["t"] else "left out"


async def s_metadata_auto_create(api: ApiHandlers) -> str:
    answer = await metadata(api, ALICE, [{"name": "fresh"}], create=True)
    return name_of(answer["topics"][0]["error_code"])


async def s_offset_commit(api: ApiHandlers) -> str:
    return first_partition_code(await call(api, ALICE, ApiKey.OFFSET_COMMIT, 8,
                                           commit_body("g", "t")))


async def s_offset_fetch_group(api: ApiHandlers) -> str:
    answer = await call(api, ALICE, ApiKey.OFFSET_FETCH, 8, offset_fetch_body("g", ["t"]))
    return name_of(answer["groups"][0]["error_code"])


async def s_offset_fetch_named(api: ApiHandlers) -> str:
    answer = await call(api, ALICE, ApiKey.OFFSET_FETCH, 8, offset_fetch_body("g", ["t"]))
    return first_partition_code(answer["groups"][0])


async def s_offset_fetch_all(api: ApiHandlers) -> str:
    await api.broker.commit_offsets("g", {("t", 0): 5})
    answer = await call(api, ALICE, ApiKey.OFFSET_FETCH, 8, offset_fetch_body("g", None))
    return "listed" if [t["name"] for t in answer["groups"][0]["topics"]] == ["t"] else "left out"


async def s_find_coordinator(api: ApiHandlers, key_type: int) -> str:
    answer = await call(api, ALICE, ApiKey.FIND_COORDINATOR, 4,
                        {"key_type": key_type, "coordinator_keys": ["g"]})
    return name_of(answer["coordinators"][0]["error_code"])


async def s_join(api: ApiHandlers) -> str:
    answer = await call(api, ALICE, ApiKey.JOIN_GROUP, 5, {
        "group_id": "g", "session_timeout_ms": 30_000, "rebalance_timeout_ms": 30_000,
        "member_id": "", "group_instance_id": None, "protocol_type": "consumer",
        "protocols": [{"name": "range", "metadata": b""}]})
    return name_of(answer["error_code"])


async def s_sync(api: ApiHandlers) -> str:
    return name_of((await call(api, ALICE, ApiKey.SYNC_GROUP, 3, {
        "group_id": "g", "generation_id": 1, "member_id": "m", "group_instance_id": None,
        "assignments": []}))["error_code"])


async def s_heartbeat(api: ApiHandlers) -> str:
    return name_of((await call(api, ALICE, ApiKey.HEARTBEAT, 3, {
        "group_id": "g", "generation_id": 1, "member_id": "m",
        "group_instance_id": None}))["error_code"])


async def s_leave(api: ApiHandlers) -> str:
    return name_of((await call(api, ALICE, ApiKey.LEAVE_GROUP, 3, {
        "group_id": "g", "members": [{"member_id": "m", "group_instance_id": None}]}))[
        "error_code"])


async def s_describe_groups(api: ApiHandlers) -> str:
    answer = await call(api, ALICE, ApiKey.DESCRIBE_GROUPS, 5,
                        {"groups": ["g"], "include_authorized_operations": False})
    return name_of(answer["groups"][0]["error_code"])


async def s_list_groups(api: ApiHandlers) -> str:
    await api.broker.commit_offsets("g", {("t", 0): 5})
    answer = await call(api, ALICE, ApiKey.LIST_GROUPS, 4, {"states_filter": []})
    return "listed" if [g["group_id"] for g in answer["groups"]] == ["g"] else "left out"


async def s_delete_groups(api: ApiHandlers) -> str:
    await api.broker.commit_offsets("g", {("t", 0): 5})
    answer = await call(api, ALICE, ApiKey.DELETE_GROUPS, 2, {"groups_names": ["g"]})
    return name_of(answer["results"][0]["error_code"])


async def s_offset_delete(api: ApiHandlers) -> str:
    await api.broker.commit_offsets("g", {("t", 0): 5})
    answer = await call(api, ALICE, ApiKey.OFFSET_DELETE, 0, {"group_id": "g", "topics": [
        {"name": "t", "partitions": [{"partition_index": 0}]}]})
    return name_of(answer["error_code"]) if answer["error_code"] else first_partition_code(answer)


async def s_consumer_heartbeat(api: ApiHandlers) -> str:
    answer = await call(api, ALICE, ApiKey.CONSUMER_GROUP_HEARTBEAT, 1,
                        heartbeat_body("cg", ["t"]))
    return name_of(answer["error_code"])


async def s_consumer_describe(api: ApiHandlers) -> str:
    joined = await call(api, ADMIN, ApiKey.CONSUMER_GROUP_HEARTBEAT, 1,
                        heartbeat_body("cg", ["t"]))
    assert joined["error_code"] == 0
    answer = await call(api, ALICE, ApiKey.CONSUMER_GROUP_DESCRIBE, 0,
                        {"group_ids": ["cg"], "include_authorized_operations": False})
    return name_of(answer["groups"][0]["error_code"])


async def s_create_topics(api: ApiHandlers) -> str:
    answer = await call(api, ALICE, ApiKey.CREATE_TOPICS, 5, create_body("n"))
    return name_of(answer["topics"][0]["error_code"])


async def s_create_topics_config(api: ApiHandlers) -> str:
    answer = await call(api, ALICE, ApiKey.CREATE_TOPICS, 5, create_body("n"))
    return name_of(answer["topics"][0]["topic_config_error_code"])


async def s_delete_topics(api: ApiHandlers) -> str:
    answer = await call(api, ALICE, ApiKey.DELETE_TOPICS, 6, delete_topics_body(name="t"))
    return name_of(answer["responses"][0]["error_code"])


async def s_delete_topics_by_id(api: ApiHandlers) -> str:
    answer = await call(api, ALICE, ApiKey.DELETE_TOPICS, 6,
                        delete_topics_body(topic_id=await topic_id(api, "t")))
    return name_of(answer["responses"][0]["error_code"])


async def s_delete_records(api: ApiHandlers) -> str:
    return first_partition_code(await call(api, ALICE, ApiKey.DELETE_RECORDS, 2, {
        "topics": [{"name": "t", "partitions": [{"partition_index": 0, "offset": 0}]}],
        "timeout_ms": 1000}))


async def s_create_partitions(api: ApiHandlers) -> str:
    answer = await call(api, ALICE, ApiKey.CREATE_PARTITIONS, 3, {
        "topics": [{"name": "t", "count": 3, "assignments": None}], "timeout_ms": 1000,
        "validate_only": False})
    return name_of(answer["results"][0]["error_code"])


async def s_init_producer_id(api: ApiHandlers, transactional_id: str | None) -> str:
    answer = await call(api, ALICE, ApiKey.INIT_PRODUCER_ID, 4,
                        init_producer_body(transactional_id))
    return name_of(answer["error_code"])


async def s_describe_configs(api: ApiHandlers, kind: int) -> str:
    answer = await call(api, ALICE, ApiKey.DESCRIBE_CONFIGS, 4, {
        "resources": [config_resource(kind, "t" if kind == TOPIC else "0")],
        "include_synonyms": False, "include_documentation": False})
    return name_of(answer["results"][0]["error_code"])


async def s_alter_configs(api: ApiHandlers, kind: int, incremental: bool) -> str:
    entry: Body = {"name": "retention.ms", "value": "1000"}
    if incremental:
        entry["config_operation"] = 0
    key = ApiKey.INCREMENTAL_ALTER_CONFIGS if incremental else ApiKey.ALTER_CONFIGS
    answer = await call(api, ALICE, key, 1, {
        "resources": [config_resource(kind, "t" if kind == TOPIC else "0", [entry])],
        "validate_only": False})
    return name_of(answer["responses"][0]["error_code"])


async def s_describe_cluster(api: ApiHandlers) -> str:
    answer = await call(api, ALICE, ApiKey.DESCRIBE_CLUSTER, 1,
                        {"include_cluster_authorized_operations": True, "endpoint_type": 1})
    assert answer["error_code"] == 0
    return f"operations {answer['cluster_authorized_operations']}"


async def s_read_backward(api: ApiHandlers) -> str:
    answer = await call(api, ALICE, ApiKey.FLYQ_READ_BACKWARD, 0, {
        "topic": "t", "partition": 0, "from_offset": -1, "max_records": 10,
        "max_bytes": 1 << 20})
    return name_of(answer["error_code"])


async def s_partition_state(api: ApiHandlers, key: int) -> str:
    return first_partition_code(await call(api, ALICE, key, 0, partitions_body("t")))


SCENARIOS: dict[tuple[str, str, str], Scenario] = {
    ("Produce", "", "Topic"): s_produce,
    ("Produce", "transactional", "TransactionalId"): s_produce_transactional,
    ("Fetch", "", "Topic"): s_fetch,
    ("ListOffsets", "", "Topic"): s_list_offsets,
    ("Metadata", "named", "Topic"): s_metadata_named,
    ("Metadata", "by id", "Topic"): s_metadata_by_id,
    ("Metadata", "all", "Topic"): s_metadata_all,
    ("Metadata", "auto-create", "Cluster or Topic"): s_metadata_auto_create,
    ("OffsetCommit", "", "Group"): s_offset_commit,
    ("OffsetCommit", "", "Topic"): s_offset_commit,
    ("OffsetFetch", "", "Group"): s_offset_fetch_group,
    ("OffsetFetch", "named", "Topic"): s_offset_fetch_named,
    ("OffsetFetch", "all", "Topic"): s_offset_fetch_all,
    ("FindCoordinator", "group", "Group"): lambda api: s_find_coordinator(api, 0),
    ("FindCoordinator", "transaction", "TransactionalId"): lambda api: s_find_coordinator(api, 1),
    ("JoinGroup", "", "Group"): s_join,
    ("SyncGroup", "", "Group"): s_sync,
    ("Heartbeat", "", "Group"): s_heartbeat,
    ("LeaveGroup", "", "Group"): s_leave,
    ("DescribeGroups", "", "Group"): s_describe_groups,
    ("ListGroups", "", "Cluster or Group"): s_list_groups,
    ("DeleteGroups", "", "Group"): s_delete_groups,
    ("OffsetDelete", "", "Group"): s_offset_delete,
    ("OffsetDelete", "", "Topic"): s_offset_delete,
    ("ConsumerGroupHeartbeat", "", "Group"): s_consumer_heartbeat,
    ("ConsumerGroupHeartbeat", "", "Topic"): s_consumer_heartbeat,
    ("ConsumerGroupDescribe", "", "Group"): s_consumer_describe,
    ("ConsumerGroupDescribe", "", "Topic"): s_consumer_describe,
    ("CreateTopics", "", "Cluster or Topic"): s_create_topics,
    ("CreateTopics", "config", "Topic"): s_create_topics_config,
    ("DeleteTopics", "", "Topic"): s_delete_topics,
    ("DeleteTopics", "by id", "Topic"): s_delete_topics_by_id,
    ("DeleteRecords", "", "Topic"): s_delete_records,
    ("CreatePartitions", "", "Topic"): s_create_partitions,
    ("InitProducerId", "", "Cluster or Topic"): lambda api: s_init_producer_id(api, None),
    ("InitProducerId", "transactional", "TransactionalId"):
        lambda api: s_init_producer_id(api, "tx"),
    ("DescribeConfigs", "topic", "Topic"): lambda api: s_describe_configs(api, TOPIC),
    ("DescribeConfigs", "broker", "Cluster"): lambda api: s_describe_configs(api, BROKER),
    ("AlterConfigs", "topic", "Topic"): lambda api: s_alter_configs(api, TOPIC, False),
    ("AlterConfigs", "broker", "Cluster"): lambda api: s_alter_configs(api, BROKER, False),
    ("IncrementalAlterConfigs", "topic", "Topic"): lambda api: s_alter_configs(api, TOPIC, True),
    ("IncrementalAlterConfigs", "broker", "Cluster"):
        lambda api: s_alter_configs(api, BROKER, True),
    ("DescribeCluster", "", "Cluster"): s_describe_cluster,
    ("FlyqReadBackward", "", "Topic"): s_read_backward,
    ("FlyqPartitionState", "", "Topic"):
        lambda api: s_partition_state(api, ApiKey.FLYQ_PARTITION_STATE),
    ("FlyqVerifyIndex", "", "Topic"): lambda api: s_partition_state(api, ApiKey.FLYQ_VERIFY_INDEX),
}


def spec_rows() -> list[tuple[str, str, str, str, str]]:
    """(API, case, operation, resource, answer) of each row of the table in §2."""
    section = SPEC.read_text().split("## 2. The table", 1)[1].split("## 3.", 1)[0]
    rows = re.findall(r"^\| (\w+) \| ([^|]*?) ?\| ([^|]+?) \| ([^|]+?) \| ([^|]+?) \| AUTHZ",
                      section, re.MULTILINE)
    return [(api, case.strip(), operation, resource, answer)
            for api, case, operation, resource, answer in rows]


# APIs whose questions are stated with them, not in this table (AUTHZ-2): ApiVersions and the
# SASL exchange ask nothing; the ACL and SCRAM credential APIs ask about the cluster in their own
# handlers (spec/acl.md, spec/sasl.md).
ASKED_ELSEWHERE = {"ApiVersions", "SaslHandshake", "SaslAuthenticate", "DescribeAcls",
                   "CreateAcls", "DeleteAcls", "DescribeUserScramCredentials",
                   "AlterUserScramCredentials"}


def test_spec_table_names_every_scenario_once() -> None:
    """AUTHZ-1..20: the table of spec/authorization.md §2 has one row per scenario of this file
    and every API FlyQ serves appears in it, but those that ask elsewhere (AUTHZ-2)."""
    rows = spec_rows()
    keys = [(api, case, resource) for api, case, _, resource, _ in rows]
    assert sorted(keys) == sorted(SCENARIOS)
    served = {APIS[key].name for key in api_keys()} - ASKED_ELSEWHERE
    assert {api for api, *_ in rows} == served


def api_keys() -> list[int]:
    return [value for name, value in vars(ApiKey).items() if name.isupper()]


def deny_row(operation: str, resource: str) -> set[Acl]:
    """Denies of the row's operation(s) on every resource of its type(s), for ALICE."""
    operations = operation.split(" or ")
    kinds = resource.split(" or ")
    if len(operations) == 1:
        operations = operations * len(kinds)
    return {acl(ALICE, op, kind, CLUSTER if kind == "Cluster" else "*", permission="Deny")
            for op, kind in zip(operations, kinds, strict=True)}


@pytest.mark.parametrize("row", spec_rows(), ids=lambda row: "-".join(filter(None, row[:2]))
                         + f"-{row[3]}")
def test_spec_table_rows_hold(tmp_path: Path, row: tuple[str, str, str, str, str]) -> None:
    """AUTHZ-1..20, ACL-4: a principal allowed All on every resource but denied the row's
    operation gets the row's answer; without the Deny it gets another one."""
    api_name, case, operation, resource, answer = row
    scenario = SCENARIOS[(api_name, case, resource)]
    denied = run(tmp_path / "deny", scenario, allow_all(ALICE) | deny_row(operation, resource))
    allowed = run(tmp_path / "allow", scenario, allow_all(ALICE))
    assert (denied, allowed != answer) == (answer, True), (denied, allowed)


@pytest.mark.parametrize("key", sorted(SCENARIOS), ids=lambda key: "-".join(filter(None, key)))
def test_the_authorizer_off_allows_every_row(tmp_path: Path, key: tuple[str, str, str]) -> None:
    """AUTHZ-1: with the authorizer disabled the same Denies refuse nothing."""
    answers = {answer for api, case, _, resource, answer in spec_rows()
               if (api, case, resource) == key}
    outcome = run(tmp_path, SCENARIOS[key], {acl(ALICE, "All", kind, permission="Deny")
                                             for kind in ("Topic", "Group")},
                  ServerSettings(authorizer_enabled=False))
    assert outcome not in answers
    assert not outcome.endswith("AUTHORIZATION_FAILED")


# --- side effects: a refused request changes nothing -----------------------------------------------


def test_refused_produce_appends_nothing_and_hides_unknown_topics(tmp_path: Path) -> None:
    """AUTHZ-1, AUTHZ-4: BOB (no ACL) is refused on "t" and nothing is appended; on a topic that
    does not exist he gets TOPIC_AUTHORIZATION_FAILED too, not UNKNOWN_TOPIC_OR_PARTITION; with
    acks=0 the refusal closes the connection; ALICE with Write appends."""
    async def scenario(api: ApiHandlers) -> None:
        for topic in ("t", "nowhere"):
            answer = await call(api, BOB, ApiKey.PRODUCE, 9, produce_body(topic, batch(b"x")))
            assert first_partition_code(answer, "responses", "partition_responses") == (
                "TOPIC_AUTHORIZATION_FAILED")
        with pytest.raises(CloseConnection):
            await as_user(BOB, api.handle(ApiKey.PRODUCE, 9,
                                          produce_body("t", batch(b"x"), acks=0)))
        assert (await api.broker.log_offsets("t", 0))[1] == 0
        answer = await call(api, ALICE, ApiKey.PRODUCE, 9, produce_body("t", batch(b"a", b"b")))
        assert first_partition_code(answer, "responses", "partition_responses") == "NONE"
        assert (await api.broker.log_offsets("t", 0))[1] == 2
    run(tmp_path, scenario, {acl(ALICE, "Write", "Topic", "t")})


def test_fetch_answers_refused_partitions_beside_readable_ones(tmp_path: Path) -> None:
    """AUTHZ-5: one Fetch of a readable and an unreadable topic returns the readable one's
    records and TOPIC_AUTHORIZATION_FAILED with -1 watermarks for the other."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.create_topic("secret", 1)
        await api.broker.produce("t", 0, batch(b"open"))
        await api.broker.produce("secret", 0, batch(b"hidden"))
        answer = await call(api, ALICE, ApiKey.FETCH, 12,
                            fetch_body("secret", "t", max_wait_ms=5_000))
        by_topic = {r["topic"]: r["partitions"][0] for r in answer["responses"]}
        assert [r["topic"] for r in answer["responses"]] == ["secret", "t"]
        assert by_topic["secret"]["error_code"] == code_of("TOPIC_AUTHORIZATION_FAILED")
        assert (by_topic["secret"]["high_watermark"], by_topic["secret"]["records"]) == (-1, None)
        assert by_topic["t"]["error_code"] == 0
        assert bytes(by_topic["t"]["records"]) == batch(b"open")
        only_refused = await call(api, ALICE, ApiKey.FETCH, 12,
                                  fetch_body("secret", max_wait_ms=60_000))
        assert first_partition_code(only_refused, "responses") == "TOPIC_AUTHORIZATION_FAILED"
    run(tmp_path, scenario, {acl(ALICE, "Read", "Topic", "t")})


def test_refused_commit_commits_nothing(tmp_path: Path) -> None:
    """AUTHZ-9: without Read on the group nothing is committed; with it, only the partitions of
    readable topics are, the others TOPIC_AUTHORIZATION_FAILED."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.create_topic("u", 1)
        answer = await call(api, BOB, ApiKey.OFFSET_COMMIT, 8, commit_body("g", "t", "u"))
        assert [name_of(t["partitions"][0]["error_code"]) for t in answer["topics"]] == [
            "GROUP_AUTHORIZATION_FAILED"] * 2
        assert await api.broker.fetch_offsets("g") == {}
        answer = await call(api, ALICE, ApiKey.OFFSET_COMMIT, 8, commit_body("g", "t", "u"))
        assert [name_of(t["partitions"][0]["error_code"]) for t in answer["topics"]] == [
            "NONE", "TOPIC_AUTHORIZATION_FAILED"]
        assert {key: value.offset for key, value in
                (await api.broker.fetch_offsets("g")).items() if value} == {("t", 0): 7}
    run(tmp_path, scenario, {acl(ALICE, "Read", "Group", "g"), acl(ALICE, "Read", "Topic", "t"),
                             acl(BOB, "Read", "Topic")})


def test_offset_fetch_leaves_out_and_names_undescribable_topics(tmp_path: Path) -> None:
    """AUTHZ-10: of all offsets only describable topics' are answered; a named undescribable
    topic is TOPIC_AUTHORIZATION_FAILED with offset -1; before v8 a refused group is the
    top-level GROUP_AUTHORIZATION_FAILED."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.create_topic("u", 1)
        await api.broker.commit_offsets("g", {("t", 0): 5, ("u", 0): 6})
        every = await call(api, ALICE, ApiKey.OFFSET_FETCH, 8, offset_fetch_body("g", None))
        assert [(t["name"], t["partitions"][0]["committed_offset"])
                for t in every["groups"][0]["topics"]] == [("t", 5)]
        named = await call(api, ALICE, ApiKey.OFFSET_FETCH, 8,
                           offset_fetch_body("g", ["t", "u"]))
        assert {t["name"]: (name_of(t["partitions"][0]["error_code"]),
                            t["partitions"][0]["committed_offset"])
                for t in named["groups"][0]["topics"]} == {
            "t": ("NONE", 5), "u": ("TOPIC_AUTHORIZATION_FAILED", -1)}
        old = await call(api, BOB, ApiKey.OFFSET_FETCH, 3, {"group_id": "g", "topics": None})
        assert (name_of(old["error_code"]), old["topics"]) == ("GROUP_AUTHORIZATION_FAILED", [])
    run(tmp_path, scenario, {acl(ALICE, "Describe", "Group", "g"),
                             acl(ALICE, "Describe", "Topic", "t")})


def test_refused_group_requests_change_no_group(tmp_path: Path) -> None:
    """AUTHZ-11, AUTHZ-14: a refused JoinGroup creates no group, a refused DeleteGroups and
    OffsetDelete keep the offsets, a refused ConsumerGroupHeartbeat adds no member."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.commit_offsets("g", {("t", 0): 5})
        joined = await call(api, BOB, ApiKey.JOIN_GROUP, 7, {
            "group_id": "fresh", "session_timeout_ms": 30_000, "rebalance_timeout_ms": 30_000,
            "member_id": "", "group_instance_id": None, "protocol_type": "consumer",
            "protocols": [{"name": "range", "metadata": b""}]})
        assert (name_of(joined["error_code"]), joined["generation_id"], joined["protocol_name"],
                joined["members"]) == ("GROUP_AUTHORIZATION_FAILED", -1, None, [])
        assert api.groups.coordinator.describe("fresh") is None
        deleted = await call(api, BOB, ApiKey.DELETE_GROUPS, 2, {"groups_names": ["g"]})
        assert name_of(deleted["results"][0]["error_code"]) == "GROUP_AUTHORIZATION_FAILED"
        removed = await call(api, BOB, ApiKey.OFFSET_DELETE, 0, {"group_id": "g", "topics": [
            {"name": "t", "partitions": [{"partition_index": 0}]}]})
        assert name_of(removed["error_code"]) == "GROUP_AUTHORIZATION_FAILED"
        assert (await api.broker.fetch_offsets("g"))[("t", 0)] is not None
        beat = await call(api, BOB, ApiKey.CONSUMER_GROUP_HEARTBEAT, 1,
                          heartbeat_body("cg", ["t"]))
        assert name_of(beat["error_code"]) == "GROUP_AUTHORIZATION_FAILED"
        assert api.groups.consumer.describe("cg") is None
    run(tmp_path, scenario, {acl(BOB, "Describe", "Group")})


def test_consumer_heartbeat_names_the_undescribable_topics(tmp_path: Path) -> None:
    """AUTHZ-15: a subscription to a topic without Describe is refused with a message naming
    it (and no member joins); one to describable topics joins."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.create_topic("u", 1)
        refused = await call(api, ALICE, ApiKey.CONSUMER_GROUP_HEARTBEAT, 1,
                             heartbeat_body("cg", ["t", "u", "zz"]))
        assert name_of(refused["error_code"]) == "TOPIC_AUTHORIZATION_FAILED"
        assert "u, zz" in refused["error_message"] and "t," not in refused["error_message"]
        assert api.groups.consumer.describe("cg") is None
        joined = await call(api, ALICE, ApiKey.CONSUMER_GROUP_HEARTBEAT, 1,
                            heartbeat_body("cg", ["t"]))
        assert joined["error_code"] == 0 and joined["member_id"]
    run(tmp_path, scenario, {acl(ALICE, "Read", "Group", "cg"),
                             acl(ALICE, "Describe", "Topic", "t")})


def test_refused_topic_administration_changes_no_topic(tmp_path: Path) -> None:
    """AUTHZ-13: refused CreateTopics, DeleteTopics (by name and by id: then without the name)
    and CreatePartitions leave the topics as they were."""
    async def scenario(api: ApiHandlers) -> None:
        tid = await topic_id(api, "t")
        created = await call(api, BOB, ApiKey.CREATE_TOPICS, 5, create_body("n"))
        assert name_of(created["topics"][0]["error_code"]) == "TOPIC_AUTHORIZATION_FAILED"
        by_name = await call(api, BOB, ApiKey.DELETE_TOPICS, 6, delete_topics_body(name="t"))
        assert name_of(by_name["responses"][0]["error_code"]) == "TOPIC_AUTHORIZATION_FAILED"
        by_id = await call(api, BOB, ApiKey.DELETE_TOPICS, 6, delete_topics_body(topic_id=tid))
        assert (name_of(by_id["responses"][0]["error_code"]), by_id["responses"][0]["name"],
                by_id["responses"][0]["topic_id"]) == ("TOPIC_AUTHORIZATION_FAILED", None, tid)
        grown = await call(api, BOB, ApiKey.CREATE_PARTITIONS, 3, {
            "topics": [{"name": "t", "count": 5, "assignments": None}], "timeout_ms": 1000,
            "validate_only": False})
        assert name_of(grown["results"][0]["error_code"]) == "TOPIC_AUTHORIZATION_FAILED"
        assert await api.broker.list_topics() == ["t"]
        assert (await api.broker.topic_metadata("t")).partitions == 2
    run(tmp_path, scenario, {acl(BOB, "Create", "Topic", "t")})  # Create implies no Describe


def test_refused_record_and_config_changes_change_nothing(tmp_path: Path) -> None:
    """AUTHZ-7, AUTHZ-18: a refused DeleteRecords keeps the log start offset, refused
    AlterConfigs and IncrementalAlterConfigs keep the topic's config, on disk."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.produce("t", 0, batch(b"a", b"b", b"c"))
        config = (await api.broker.topic_metadata("t")).config
        deleted = await call(api, BOB, ApiKey.DELETE_RECORDS, 2, {
            "topics": [{"name": "t", "partitions": [{"partition_index": 0, "offset": 2}]}],
            "timeout_ms": 1000})
        assert first_partition_code(deleted) == "TOPIC_AUTHORIZATION_FAILED"
        assert deleted["topics"][0]["partitions"][0]["low_watermark"] == -1
        entry = {"name": "retention.ms", "value": "1000"}
        altered = await call(api, BOB, ApiKey.ALTER_CONFIGS, 1, {
            "resources": [config_resource(TOPIC, "t", [entry])], "validate_only": False})
        stepped = await call(api, BOB, ApiKey.INCREMENTAL_ALTER_CONFIGS, 1, {
            "resources": [config_resource(TOPIC, "t", [{**entry, "config_operation": 0}])],
            "validate_only": False})
        assert [name_of(altered["responses"][0]["error_code"]),
                name_of(stepped["responses"][0]["error_code"])] == [
            "TOPIC_AUTHORIZATION_FAILED"] * 2
        assert (await api.broker.log_offsets("t", 0))[0] == 0
        assert (await api.broker.topic_metadata("t")).config == config
        allowed = await call(api, ALICE, ApiKey.DELETE_RECORDS, 2, {
            "topics": [{"name": "t", "partitions": [{"partition_index": 0, "offset": 2}]}],
            "timeout_ms": 1000})
        assert allowed["topics"][0]["partitions"][0]["low_watermark"] == 2
        assert (await api.broker.log_offsets("t", 0))[0] == 2
    run(tmp_path, scenario, {acl(BOB, "Describe", "Topic"), acl(BOB, "DescribeConfigs", "Topic"),
                             acl(ALICE, "Delete", "Topic", "t")})


def test_create_topics_answers_config_only_with_describe_configs(tmp_path: Path) -> None:
    """AUTHZ-13: Create on a prefix creates; without DescribeConfigs the answer has
    topic_config_error_code TOPIC_AUTHORIZATION_FAILED, no configs, -1 partitions and
    replication factor; with it, all three."""
    async def scenario(api: ApiHandlers) -> None:
        plain = (await call(api, ALICE, ApiKey.CREATE_TOPICS, 5, create_body("new-a")))[
            "topics"][0]
        assert (plain["error_code"], name_of(plain["topic_config_error_code"]),
                plain["num_partitions"], plain["replication_factor"], plain["configs"]) == (
            0, "TOPIC_AUTHORIZATION_FAILED", -1, -1, None)
        full = (await call(api, ALICE, ApiKey.CREATE_TOPICS, 5, create_body("new-b")))[
            "topics"][0]
        assert (full["error_code"], full["topic_config_error_code"], full["num_partitions"],
                full["replication_factor"]) == (0, 0, 1, 1)
        assert full["configs"]
        assert await api.broker.list_topics() == ["new-a", "new-b", "t"]
    run(tmp_path, scenario, {acl(ALICE, "Create", "Topic", "new-", pattern="Prefixed"),
                             acl(ALICE, "DescribeConfigs", "Topic", "new-b")})


# --- Metadata ---------------------------------------------------------------------------------------


def test_metadata_hides_and_names_topics(tmp_path: Path) -> None:
    """AUTHZ-3, AUTHZ-21: the listing of all topics has only the describable ones and logs no
    denial; a named undescribable topic, existing or not, is TOPIC_AUTHORIZATION_FAILED with
    the zero id; by id, with the id and no name; an unknown id stays UNKNOWN_TOPIC_ID."""
    denials: list[tuple[str, str]] = []

    async def scenario(api: ApiHandlers) -> None:
        api.authorization.on_denied = lambda operation, kind: denials.append((operation, kind))
        for name in ("a-1", "a-2", "b-1"):
            await api.broker.create_topic(name, 1)
        listing = await metadata(api, ALICE, None)
        assert [t["name"] for t in listing["topics"]] == ["a-1", "a-2"]
        assert denials == []
        named = await metadata(api, ALICE, [{"name": "a-1"}, {"name": "b-1"}, {"name": "zz"}],
                               version=12)
        assert [(t["name"], name_of(t["error_code"]), t["topic_id"], len(t["partitions"]))
                for t in named["topics"]] == [
            ("a-1", "NONE", await topic_id(api, "a-1"), 1),
            ("b-1", "TOPIC_AUTHORIZATION_FAILED", ZERO_ID, 0),
            ("zz", "TOPIC_AUTHORIZATION_FAILED", ZERO_ID, 0)]
        assert denials == [("Describe", "Topic")] * 2
        stranger = uuid.uuid4()
        by_id = await metadata(api, ALICE, [{"name": None, "topic_id": await topic_id(api, "b-1")},
                                            {"name": None, "topic_id": stranger}], version=12)
        assert [(t["name"], name_of(t["error_code"]), t["topic_id"]) for t in by_id["topics"]] == [
            (None, "TOPIC_AUTHORIZATION_FAILED", await topic_id(api, "b-1")),
            (None, "UNKNOWN_TOPIC_ID", stranger)]
        v0 = await metadata(api, ALICE, [], version=0)
        assert [t["name"] for t in v0["topics"]] == ["a-1", "a-2"]
    run(tmp_path, scenario, {acl(ALICE, "Read", "Topic", "a-", pattern="Prefixed"),
                             acl(ALICE, "Write", "Topic", "zzz")})


def test_metadata_auto_creates_only_with_create(tmp_path: Path) -> None:
    """AUTHZ-3: an unknown describable topic is auto-created with Create on the topic or on the
    cluster; without either it is TOPIC_AUTHORIZATION_FAILED and not created; without Describe
    it is not even considered."""
    async def scenario(api: ApiHandlers) -> None:
        refused = await metadata(api, ALICE, [{"name": "x-new"}], create=True)
        assert name_of(refused["topics"][0]["error_code"]) == "TOPIC_AUTHORIZATION_FAILED"
        hidden = await metadata(api, ALICE, [{"name": "y-new"}], create=True)
        assert name_of(hidden["topics"][0]["error_code"]) == "TOPIC_AUTHORIZATION_FAILED"
        assert await api.broker.list_topics() == ["t"]
        by_topic = await metadata(api, BOB, [{"name": "x-new"}], create=True)
        by_cluster = await metadata(api, ADMIN, [{"name": "y-new"}], create=True)
        assert [by_topic["topics"][0]["error_code"], by_cluster["topics"][0]["error_code"]] == [
            0, 0]
        assert await api.broker.list_topics() == ["t", "x-new", "y-new"]
        unknown = await metadata(api, ALICE, [{"name": "x-other"}], create=False)
        assert name_of(unknown["topics"][0]["error_code"]) == "UNKNOWN_TOPIC_OR_PARTITION"
    run(tmp_path, scenario, {acl(ALICE, "Describe", "Topic", "x-", pattern="Prefixed"),
                             acl(BOB, "Create", "Topic", "x-new"),
                             acl(BOB, "Describe", "Topic", "x-new")})


# --- authorized operations ------------------------------------------------------------------------


def test_metadata_authorized_operations(tmp_path: Path) -> None:
    """AUTHZ-20: topic bits are the allowed supported operations (Read implies Describe); the
    cluster's need Describe on it, else 0; -2147483648 when not asked, for refused topics, and
    for the cluster after v10."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.create_topic("u", 1)
        asked = await metadata(api, ALICE, [{"name": "t"}, {"name": "u"}], version=10,
                               include_cluster_authorized_operations=True,
                               include_topic_authorized_operations=True)
        assert [t["topic_authorized_operations"] for t in asked["topics"]] == [
            bits("READ", "DESCRIBE"), OMITTED]
        assert asked["cluster_authorized_operations"] == 0
        not_asked = await metadata(api, ALICE, [{"name": "t"}], version=10)
        assert not_asked["topics"][0]["topic_authorized_operations"] == OMITTED
        assert not_asked["cluster_authorized_operations"] == OMITTED
        bob = await metadata(api, BOB, None, version=10, include_cluster_authorized_operations=True,
                             include_topic_authorized_operations=True)
        assert bob["cluster_authorized_operations"] == bits("DESCRIBE", "IDEMPOTENT_WRITE")
        assert [t["topic_authorized_operations"] for t in bob["topics"]] == [
            bits(*TOPIC_OPERATIONS)] * 2
        admin = await metadata(api, ADMIN, None, version=8,
                               include_cluster_authorized_operations=True)
        assert admin["cluster_authorized_operations"] == bits(*CLUSTER_OPERATIONS)
    run(tmp_path, scenario, {acl(ALICE, "Read", "Topic", "t"),
                             acl(BOB, "Describe", "Cluster", CLUSTER),
                             acl(BOB, "IdempotentWrite", "Cluster", CLUSTER),
                             acl(BOB, "All", "Topic")})


def test_authorized_operations_with_the_authorizer_off_are_every_supported_one(
        tmp_path: Path) -> None:
    """AUTHZ-20, AUTHZ-1: without an authorizer every supported operation's bit is set, as
    Kafka answers: Metadata's topics and cluster, DescribeCluster, DescribeGroups."""
    async def scenario(api: ApiHandlers) -> None:
        answer = await metadata(api, BOB, None, version=10,
                                include_cluster_authorized_operations=True,
                                include_topic_authorized_operations=True)
        assert answer["topics"][0]["topic_authorized_operations"] == bits(*TOPIC_OPERATIONS)
        assert answer["cluster_authorized_operations"] == bits(*CLUSTER_OPERATIONS)
        cluster = await call(api, BOB, ApiKey.DESCRIBE_CLUSTER, 1, {
            "include_cluster_authorized_operations": True, "endpoint_type": 1})
        assert cluster["cluster_authorized_operations"] == bits(*CLUSTER_OPERATIONS)
        groups = await call(api, BOB, ApiKey.DESCRIBE_GROUPS, 5,
                            {"groups": ["g"], "include_authorized_operations": True})
        assert groups["groups"][0]["authorized_operations"] == bits(*GROUP_OPERATIONS)
    run(tmp_path, scenario, config=ServerSettings())


def test_group_authorized_operations(tmp_path: Path) -> None:
    """AUTHZ-12, AUTHZ-16, AUTHZ-20: DescribeGroups (v3+) and ConsumerGroupDescribe give the
    group's allowed operations when asked; a refused group keeps -2147483648 and empty fields."""
    async def scenario(api: ApiHandlers) -> None:
        joined = await call(api, ADMIN, ApiKey.CONSUMER_GROUP_HEARTBEAT, 1,
                            heartbeat_body("cg", ["t"]))
        assert joined["error_code"] == 0
        described = await call(api, ALICE, ApiKey.DESCRIBE_GROUPS, 5, {
            "groups": ["g", "cg", "other"], "include_authorized_operations": True})
        assert [(g["group_id"], name_of(g["error_code"]), g["group_state"],
                 g["authorized_operations"]) for g in described["groups"]] == [
            ("g", "NONE", "Dead", bits("DELETE", "DESCRIBE")),
            ("cg", "NONE", "Stable", bits("READ", "DESCRIBE")),
            ("other", "GROUP_AUTHORIZATION_FAILED", "", OMITTED)]
        consumer = await call(api, ALICE, ApiKey.CONSUMER_GROUP_DESCRIBE, 0, {
            "group_ids": ["cg"], "include_authorized_operations": True})
        assert consumer["groups"][0]["authorized_operations"] == bits("READ", "DESCRIBE")
        assert len(consumer["groups"][0]["members"]) == 1
    run(tmp_path, scenario, {acl(ALICE, "Delete", "Group", "g"), acl(ALICE, "Read", "Group", "cg"),
                             acl(ALICE, "Describe", "Topic", "t")})


def test_consumer_group_describe_hides_groups_with_undescribable_topics(tmp_path: Path) -> None:
    """AUTHZ-16: a described group assigned a topic the principal may not describe is
    TOPIC_AUTHORIZATION_FAILED without members."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.create_topic("u", 1)
        await call(api, ADMIN, ApiKey.CONSUMER_GROUP_HEARTBEAT, 1, heartbeat_body("cg", ["t", "u"]))
        answer = (await call(api, ALICE, ApiKey.CONSUMER_GROUP_DESCRIBE, 0, {
            "group_ids": ["cg"], "include_authorized_operations": True}))["groups"][0]
        assert (name_of(answer["error_code"]), answer["members"],
                answer["authorized_operations"]) == ("TOPIC_AUTHORIZATION_FAILED", [], OMITTED)
    run(tmp_path, scenario, {acl(ALICE, "Describe", "Group", "cg"),
                             acl(ALICE, "Describe", "Topic", "t")})


# --- ListGroups, InitProducerId ---------------------------------------------------------------------


def test_list_groups_with_and_without_cluster_describe(tmp_path: Path) -> None:
    """AUTHZ-12, AUTHZ-21: Describe on the cluster lists every group; otherwise only the groups
    with Describe, and what is left out is not logged."""
    denials: list[tuple[str, str]] = []

    async def scenario(api: ApiHandlers) -> None:
        api.authorization.on_denied = lambda operation, kind: denials.append((operation, kind))
        for group in ("app-1", "app-2", "other"):
            await api.broker.commit_offsets(group, {("t", 0): 1})

        async def listed(principal: str) -> list[str]:
            answer = await call(api, principal, ApiKey.LIST_GROUPS, 4, {"states_filter": []})
            return [group["group_id"] for group in answer["groups"]]
        assert await listed(ALICE) == ["app-1", "app-2"]
        assert await listed(BOB) == ["app-1", "app-2", "other"]
        assert denials == []
    run(tmp_path, scenario, {acl(ALICE, "Read", "Group", "app-", pattern="Prefixed"),
                             acl(BOB, "Describe", "Cluster", CLUSTER)})


@pytest.mark.parametrize(("acls", "expected"), [
    ([], "CLUSTER_AUTHORIZATION_FAILED"),
    ([acl(ALICE, "IdempotentWrite", "Cluster", CLUSTER)], "NONE"),
    ([acl(ALICE, "Write", "Topic", "orders-", pattern="Prefixed")], "NONE"),
    ([acl(ALICE, "All", "Topic", "orders")], "NONE"),
    ([acl(ALICE, "Read", "Topic")], "CLUSTER_AUTHORIZATION_FAILED"),
    ([acl(ALICE, "Write", "Topic", "orders"), acl(ALICE, "Write", "Topic", "orders",
                                                    permission="Deny")],
     "CLUSTER_AUTHORIZATION_FAILED"),
    ([acl(ALICE, "Write", "Topic", "orders-eu", pattern="Prefixed"),
      acl(ALICE, "Write", "Topic", "orders-", pattern="Prefixed", permission="Deny")],
     "CLUSTER_AUTHORIZATION_FAILED"),
    ([acl(ALICE, "Write", "Topic", "orders-", pattern="Prefixed"),
      acl(ALICE, "Write", "Topic", "orders-eu", pattern="Prefixed", permission="Deny")], "NONE"),
    ([acl(ALICE, "Write", "Topic", "orders"), acl(ALICE, "All", "Topic", permission="Deny")],
     "CLUSTER_AUTHORIZATION_FAILED"),
    ([acl(ALICE, "Write", "Topic", "orders", host="10.9.9.9")], "CLUSTER_AUTHORIZATION_FAILED"),
    ([acl("User:*", "Write", "Topic", "orders", host=HOST)], "NONE"),
    ([acl(BOB, "Write", "Topic", "orders")], "CLUSTER_AUTHORIZATION_FAILED"),
])
def test_init_producer_id_kip_679(tmp_path: Path, acls: list[Acl], expected: str) -> None:
    """AUTHZ-17, AUTHZ-21: an idempotent producer needs IdempotentWrite on the cluster or Write
    on some topic no Deny covers as a whole (Kafka's authorizeByResourceType cases); a refusal
    is logged and counted once, as a denial of IdempotentWrite on the cluster."""
    denials: list[tuple[str, str]] = []

    async def scenario(api: ApiHandlers) -> str:
        api.authorization.on_denied = lambda operation, kind: denials.append((operation, kind))
        answer = await call(api, ALICE, ApiKey.INIT_PRODUCER_ID, 4, init_producer_body())
        assert (answer["producer_id"] >= 0) == (answer["error_code"] == 0)
        return name_of(answer["error_code"])
    assert run(tmp_path, scenario, acls) == expected
    assert denials == ([] if expected == "NONE" else [("IdempotentWrite", "Cluster")])


def test_kip_679_probe_lets_super_users_and_allow_everyone_through(tmp_path: Path) -> None:
    """AUTHZ-17, ACL-6, ACL-7: a super user, and anyone under allow.everyone.if.no.acl.found
    with no ACL on topics, get a producer id without any ACL."""
    async def scenario(api: ApiHandlers) -> list[str]:
        return [name_of((await call(api, who, ApiKey.INIT_PRODUCER_ID, 4,
                                    init_producer_body()))["error_code"]) for who in (ADMIN, BOB)]
    assert run(tmp_path / "strict", scenario) == ["NONE", "CLUSTER_AUTHORIZATION_FAILED"]
    assert run(tmp_path / "open", scenario,
               config=settings(allow_everyone_if_no_acl_found=True)) == ["NONE", "NONE"]


def test_allowed_on_some_is_per_principal_and_host() -> None:
    """AUTHZ-17: only ACLs applying to the sender count, Denies of other operations do not."""
    acls = [acl(ALICE, "Write", "Topic", "a"), acl(ALICE, "Read", "Topic", "a", permission="Deny"),
            acl(BOB, "Write", "Topic", "*", permission="Deny")]
    assert allowed_on_some(acls, ALICE, HOST, "Write", "Topic")
    assert not allowed_on_some(acls, BOB, HOST, "Write", "Topic")
    assert not allowed_on_some(acls, ALICE, HOST, "Write", "Group")
    assert not allowed_on_some(acls, ALICE, HOST, "Read", "Topic")


# --- super users, deny beats allow, extensions -------------------------------------------------------


def test_super_user_passes_every_deny(tmp_path: Path) -> None:
    """ACL-6, AUTHZ-1: a super user denied All everywhere produces, reads, commits and creates."""
    async def scenario(api: ApiHandlers) -> list[int]:
        produced = await call(api, ADMIN, ApiKey.PRODUCE, 9, produce_body("t", batch(b"x")))
        fetched = await call(api, ADMIN, ApiKey.FETCH, 12, fetch_body("t"))
        committed = await call(api, ADMIN, ApiKey.OFFSET_COMMIT, 8, commit_body("g", "t"))
        created = await call(api, ADMIN, ApiKey.CREATE_TOPICS, 5, create_body("n"))
        return [produced["responses"][0]["partition_responses"][0]["error_code"],
                fetched["responses"][0]["partitions"][0]["error_code"],
                committed["topics"][0]["partitions"][0]["error_code"],
                created["topics"][0]["error_code"]]
    denies = {acl(ADMIN, "All", kind, CLUSTER if kind == "Cluster" else "*", permission="Deny")
              for kind in RESOURCE_TYPES}
    assert run(tmp_path, scenario, denies) == [0, 0, 0, 0]


def test_extensions_need_read_and_describe(tmp_path: Path) -> None:
    """AUTHZ-19: FlyqReadBackward needs Read (Describe is not enough); the partition state needs
    Describe (Read implies it); the refusal names principal, operation and topic."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.produce("t", 0, batch(b"x"))
        back = {"topic": "t", "partition": 0, "from_offset": -1, "max_records": 10,
                "max_bytes": 1 << 20}
        refused = await call(api, BOB, ApiKey.FLYQ_READ_BACKWARD, 0, back)
        assert name_of(refused["error_code"]) == "TOPIC_AUTHORIZATION_FAILED"
        assert (refused["records"], refused["high_watermark"]) == ([], -1)
        assert refused["error_message"] == "User:bob may not Read Topic 't'"
        assert len((await call(api, ALICE, ApiKey.FLYQ_READ_BACKWARD, 0, back))["records"]) == 1
        for principal, code in ((BOB, 0), (ALICE, 0), (ADMIN, 0), ("User:eve", 29)):
            state = await call(api, principal, ApiKey.FLYQ_PARTITION_STATE, 0,
                               partitions_body("t"))
            assert state["topics"][0]["partitions"][0]["error_code"] == code, principal
    run(tmp_path, scenario, {acl(BOB, "Describe", "Topic", "t"), acl(ALICE, "Read", "Topic", "t")})


def test_api_versions_asks_nothing(tmp_path: Path) -> None:
    """AUTHZ-2: ApiVersions answers a principal with no ACL at all."""
    async def scenario(api: ApiHandlers) -> int:
        return int((await call(api, "User:eve", ApiKey.API_VERSIONS, 3, {}))["error_code"])
    assert run(tmp_path, scenario) == 0
