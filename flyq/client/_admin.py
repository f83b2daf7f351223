"""`AsyncAdmin`: topics, configs, partitions, records, consumer groups and their offsets, and
ACLs over one `BrokerConnection`; `Admin`, its synchronous facade on its own event-loop thread.

Each method is one Kafka request (or one per call of it; `describe_consumer_groups` adds a
Metadata to name topic ids), sent at the highest version both sides know within the range its
body and answer are written for. A non-zero error code in an answer is raised as the `FlyQError`
of `flyq.errors.error_from_code` (spec/errors.md ERR-6), with the group, topic or partition it
concerns (and the broker's error message where the answer has one); `delete_groups` answers per
group instead, as Kafka's AdminClient does. FlyQ is one node that coordinates every group, so
no FindCoordinator is sent.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from uuid import UUID

import attrs

from flyq.auth import (
    OPERATION_CODES,
    PATTERN_TYPE_CODES,
    PERMISSION_CODES,
    RESOURCE_TYPE_CODES,
    Acl,
    AclFilter,
    acl_from_codes,
    codes_of_acl,
)
from flyq.auth._scram import (
    DEFAULT_ITERATIONS,
    MECHANISM_CODES,
    MECHANISMS_BY_CODE,
    hash_name,
    salted_password,
)
from flyq.client._connection import DEFAULT_TIMEOUT, BrokerConnection
from flyq.client._security import PLAINTEXT, Security
from flyq.client._sync import LoopThread
from flyq.errors import FlyQError, ProtocolError, error_from_code
from flyq.protocol import CONSUMER_PROTOCOL_TYPE, decode_assignment

__all__ = [
    "EARLIEST",
    "LATEST",
    "Admin",
    "AsyncAdmin",
    "ConsumerGroupDescription",
    "ConsumerMemberDescription",
    "GroupDescription",
    "GroupListing",
    "IndexCheck",
    "MemberDescription",
    "PartitionState",
]

_LIST_OFFSETS, _METADATA, _OFFSET_COMMIT, _OFFSET_FETCH = 2, 3, 8, 9
_DESCRIBE_GROUPS, _LIST_GROUPS, _DELETE_GROUPS, _OFFSET_DELETE = 15, 16, 42, 47
_CONSUMER_GROUP_DESCRIBE = 69
_DESCRIBE_ACLS, _CREATE_ACLS, _DELETE_ACLS = 29, 30, 31
_ACL_VERSIONS = (1, 3)
_CREATE_TOPICS, _DELETE_TOPICS, _INCREMENTAL_ALTER_CONFIGS = 19, 20, 44
_DELETE_RECORDS, _DESCRIBE_CONFIGS, _CREATE_PARTITIONS = 21, 32, 37
_RESOURCE_TOPIC, _CONFIG_SET, _CONFIG_DELETE = 2, 0, 1
_FLYQ_PARTITION_STATE, _FLYQ_VERIFY_INDEX = 30001, 30002
_DESCRIBE_USER_SCRAM_CREDENTIALS, _ALTER_USER_SCRAM_CREDENTIALS = 50, 51
LATEST, EARLIEST = -1, -2
TopicPartition = tuple[str, int]


@attrs.frozen
class GroupListing:
    """One group as ListGroups names it; `state` is "" from a broker older than ListGroups v4,
    `group_type` ("classic" or "consumer", the group protocol) "" from one older than v5."""

    group_id: str
    state: str
    protocol_type: str
    group_type: str = ""


@attrs.frozen
class MemberDescription:
    """One member of a group. `assignment` is its partitions, decoded from the classic consumer
    protocol's ConsumerProtocolAssignment (empty for another protocol type, or before a sync)."""

    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    assignment: tuple[TopicPartition, ...]


@attrs.frozen
class GroupDescription:
    """A group as DescribeGroups describes it: `protocol` is the chosen assignor ("" if none)."""

    group_id: str
    state: str
    protocol_type: str
    protocol: str
    members: tuple[MemberDescription, ...]


@attrs.frozen
class ConsumerMemberDescription:
    """One member of a consumer-protocol (KIP-848) group: `assignment` is what it holds now,
    `target_assignment` what the assignor gave it; they differ while it reconciles."""

    member_id: str
    instance_id: str | None
    rack_id: str | None
    client_id: str
    client_host: str
    member_epoch: int
    subscribed_topics: tuple[str, ...]
    assignment: tuple[TopicPartition, ...]
    target_assignment: tuple[TopicPartition, ...]


@attrs.frozen
class ConsumerGroupDescription:
    """A consumer-protocol group as ConsumerGroupDescribe describes it: the group epoch (bumped
    by every change of membership or subscription), the epoch of the target assignment, and the
    server-side assignor that computed it."""

    group_id: str
    state: str
    group_epoch: int
    assignment_epoch: int
    assignor: str
    members: tuple[ConsumerMemberDescription, ...]


@attrs.frozen
class PartitionState:
    """One partition's state as FlyqPartitionState answers it (EXT-4, CLIENT-40): its offsets
    with the durable offset (`durable_offset <= high_watermark`), segments and size on disk,
    `state` "online" or "failed" (`failure` says why), when its indexes were last verified
    (`last_index_check_ms`, -1 never) and the `problems` that check found."""

    topic: str
    partition: int
    log_start_offset: int
    high_watermark: int
    log_end_offset: int
    durable_offset: int
    segment_count: int
    size_bytes: int
    state: str
    failure: str | None
    last_index_check_ms: int
    problems: tuple[str, ...]


@attrs.frozen
class IndexCheck:
    """One partition's index verification as FlyqVerifyIndex answers it (EXT-5, CLIENT-41):
    when it ran (`checked_ms`, the broker's clock) and one line per index that differs from a
    rebuild (none: every index agrees)."""

    topic: str
    partition: int
    checked_ms: int
    problems: tuple[str, ...]


def _raise_for(code: int, message: str | None = None, **fields: object) -> None:
    if code:
        raise error_from_code(code, message, **fields)


def _assigned(protocol_type: str, data: bytes) -> tuple[TopicPartition, ...]:
    if protocol_type != CONSUMER_PROTOCOL_TYPE or not data:
        return ()
    try:
        decoded = decode_assignment(data)
    except ProtocolError:
        return ()
    return tuple(sorted((entry["topic"], number) for entry in decoded["assigned_partitions"]
                        for number in entry["partitions"]))


def _by_topic(partitions: Iterable[TopicPartition]) -> dict[str, list[int]]:
    topics: dict[str, list[int]] = {}
    for topic, number in partitions:
        topics.setdefault(topic, []).append(number)
    return topics


def _named(topic_partitions: Iterable[Mapping[str, Any]], names: Mapping[UUID, str]
           ) -> tuple[TopicPartition, ...]:
    """(topic, partition) pairs of a ConsumerGroupDescribe assignment. The name is Metadata's for
    the topic id; for an id Metadata does not know (a topic deleted since) the name the answer
    carries, else the id itself."""
    return tuple(sorted(
        (names.get(entry["topic_id"]) or entry.get("topic_name") or str(entry["topic_id"]), number)
        for entry in topic_partitions for number in entry["partitions"]))


def _answered_partitions(body: Mapping[str, Any], what: str
                         ) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    """(topic, partition, entry) of an extension answer's partitions; the first partition error
    is raised, naming the partition and what was asked (`what`)."""
    for entry in body["topics"]:
        for partition in entry["partitions"]:
            number = partition["partition_index"]
            _raise_for(partition["error_code"],
                       partition["error_message"] or f"{what} {entry['name']}-{number}",
                       topic=entry["name"], partition=number)
            yield entry["name"], number, partition


class AsyncAdmin:
    """Admin operations on one broker; `await AsyncAdmin.connect("HOST:PORT")`, then `close()`
    (or `async with`)."""

    def __init__(self, connection: BrokerConnection) -> None:
        self.connection = connection

    @classmethod
    async def connect(cls, bootstrap: str, *, client_id: str = "flyq-admin",
                      timeout: float = DEFAULT_TIMEOUT,
                      security: Security = PLAINTEXT) -> AsyncAdmin:
        """Connect to `bootstrap` (HOST:PORT) with `security` (CLIENT-56) and negotiate api
        versions."""
        return cls(await BrokerConnection.open(bootstrap, client_id=client_id, timeout=timeout,
                                               security=security))

    async def close(self) -> None:
        """Close the connection."""
        await self.connection.close()

    async def __aenter__(self) -> AsyncAdmin:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _call(self, api_key: int, body: Mapping[str, Any],
                    versions: tuple[int, int]) -> dict[str, Any]:
        return (await self.connection.request(api_key, body, versions)).body

    # --- topics -------------------------------------------------------------------------------

    async def _all_topics(self, versions: tuple[int, int]) -> list[dict[str, Any]]:
        body = await self._call(_METADATA, {"topics": None, "allow_auto_topic_creation": False},
                                versions)
        for topic in body["topics"]:
            _raise_for(topic["error_code"], f"metadata of {topic['name']}", name=topic["name"])
        topics: list[dict[str, Any]] = body["topics"]
        return topics

    async def list_topics(self) -> dict[str, int]:
        """Topic name -> partition count, for every topic (Metadata)."""
        return dict(sorted((topic["name"], len(topic["partitions"]))
                           for topic in await self._all_topics((1, 12))))

    async def list_topic_ids(self) -> dict[str, UUID]:
        """Topic name -> topic id, for every topic (Metadata v10+, which carries the ids)."""
        return dict(sorted((topic["name"], topic["topic_id"])
                           for topic in await self._all_topics((10, 12))))

    async def create_topic(self, name: str, partitions: int,
                           configs: Mapping[str, str] | None = None) -> None:
        """Create topic `name` with `partitions` partitions and Kafka-named `configs`
        (`retention.ms`, ...: CFG-1..4) on top of the broker's defaults (CreateTopics)."""
        body = await self._call(_CREATE_TOPICS, {"topics": [{
            "name": name, "num_partitions": partitions, "replication_factor": -1,
            "assignments": [], "configs": [{"name": key, "value": value}
                                           for key, value in (configs or {}).items()]}],
            "timeout_ms": int(self.connection.timeout * 1000)}, (2, 7))
        for topic in body["topics"]:
            _raise_for(topic["error_code"], topic.get("error_message")
                       or f"create topic {topic['name']}", name=topic["name"])

    async def alter_topic_config(self, name: str, configs: Mapping[str, str]) -> None:
        """Set Kafka-named `configs` of topic `name` (IncrementalAlterConfigs, SET; CFG-1..4)."""
        await self._alter_topic_config(name, [
            {"name": key, "config_operation": _CONFIG_SET, "value": value}
            for key, value in configs.items()])

    async def reset_topic_config(self, name: str, keys: Iterable[str]) -> None:
        """Return Kafka-named config `keys` of topic `name` to the broker's defaults
        (IncrementalAlterConfigs, DELETE)."""
        await self._alter_topic_config(name, [
            {"name": key, "config_operation": _CONFIG_DELETE, "value": None} for key in keys])

    async def _alter_topic_config(self, name: str, configs: list[dict[str, Any]]) -> None:
        body = await self._call(_INCREMENTAL_ALTER_CONFIGS, {"resources": [{
            "resource_type": _RESOURCE_TOPIC, "resource_name": name, "configs": configs}],
            "validate_only": False}, (0, 1))
        for resource in body["responses"]:
            _raise_for(resource["error_code"], resource["error_message"]
                       or f"alter config of {resource['resource_name']}",
                       name=resource["resource_name"])

    async def describe_topic_config(self, name: str) -> dict[str, str]:
        """Topic `name`'s config by Kafka's names, defaults included (DescribeConfigs). A config
        the broker answers without a value (a sensitive one, as Kafka hides them) is left out."""
        body = await self._call(_DESCRIBE_CONFIGS, {
            "resources": [{"resource_type": _RESOURCE_TOPIC, "resource_name": name,
                           "configuration_keys": None}],
            "include_synonyms": False, "include_documentation": False}, (1, 4))
        configs: dict[str, str] = {}
        for result in body["results"]:
            _raise_for(result["error_code"], result["error_message"]
                       or f"describe config of {result['resource_name']}",
                       name=result["resource_name"])
            configs.update((config["name"], config["value"]) for config in result["configs"]
                           if config["value"] is not None)
        return dict(sorted(configs.items()))

    async def create_partitions(self, name: str, total_count: int) -> None:
        """Grow topic `name` to `total_count` partitions (CreatePartitions); a count not above
        the current one is refused by the broker (INVALID_PARTITIONS), as Kafka refuses it."""
        body = await self._call(_CREATE_PARTITIONS, {
            "topics": [{"name": name, "count": total_count, "assignments": None}],
            "timeout_ms": int(self.connection.timeout * 1000), "validate_only": False}, (0, 3))
        for result in body["results"]:
            _raise_for(result["error_code"], result["error_message"]
                       or f"create partitions of {result['name']}", name=result["name"])

    async def delete_records(self, offsets: Mapping[TopicPartition, int]
                             ) -> dict[TopicPartition, int]:
        """Delete each partition's records below its offset (`LATEST`, -1: the high watermark)
        by moving its log start offset there (DeleteRecords): (topic, partition) -> the new
        low watermark. An offset beyond the high watermark is `OffsetOutOfRange`."""
        if not offsets:
            return {}
        body = await self._call(_DELETE_RECORDS, {"topics": [
            {"name": topic, "partitions": [{"partition_index": number,
                                            "offset": offsets[(topic, number)]}
                                           for number in numbers]}
            for topic, numbers in _by_topic(offsets).items()],
            "timeout_ms": int(self.connection.timeout * 1000)}, (0, 2))
        low_watermarks = {}
        for topic in body["topics"]:
            for partition in topic["partitions"]:
                number = partition["partition_index"]
                _raise_for(partition["error_code"], f"delete records of {topic['name']}-{number}",
                           topic=topic["name"], partition=number)
                low_watermarks[(topic["name"], number)] = partition["low_watermark"]
        return dict(sorted(low_watermarks.items()))

    async def delete_topic(self, name: str) -> None:
        """Delete topic `name` with all its records (DeleteTopics, by name)."""
        body = await self._call(_DELETE_TOPICS, {
            "topic_names": [name], "timeout_ms": int(self.connection.timeout * 1000)}, (1, 5))
        for topic in body["responses"]:
            _raise_for(topic["error_code"], topic.get("error_message")
                       or f"delete topic {topic['name']}", name=topic["name"])

    async def list_end_offsets(self, partitions: Iterable[TopicPartition]
                               ) -> dict[TopicPartition, int]:
        """Each partition's log end offset (ListOffsets, timestamp -1: latest)."""
        return await self.list_offsets(partitions, LATEST)

    async def list_start_offsets(self, partitions: Iterable[TopicPartition]
                                 ) -> dict[TopicPartition, int]:
        """Each partition's log start offset (ListOffsets, timestamp -2: earliest)."""
        return await self.list_offsets(partitions, EARLIEST)

    async def list_offsets(self, partitions: Iterable[TopicPartition], timestamp: int
                           ) -> dict[TopicPartition, int]:
        """ListOffsets: per partition the first offset with a timestamp at or after `timestamp`
        (-1 where there is none), or the log end (`LATEST`) or start (`EARLIEST`) offset."""
        wanted = list(partitions)
        if not wanted:
            return {}
        body = await self._call(_LIST_OFFSETS, {"replica_id": -1, "isolation_level": 0, "topics": [
            {"name": topic, "partitions": [{"partition_index": n, "timestamp": timestamp}
                                           for n in numbers]}
            for topic, numbers in _by_topic(wanted).items()]}, (1, 7))
        ends = {}
        for topic in body["topics"]:
            for partition in topic["partitions"]:
                _raise_for(partition["error_code"],
                           f"offsets of {topic['name']}-{partition['partition_index']}",
                           topic=topic["name"], partition=partition["partition_index"])
                ends[(topic["name"], partition["partition_index"])] = partition["offset"]
        return ends

    # --- groups -------------------------------------------------------------------------------

    async def list_groups(self) -> list[GroupListing]:
        """Every group the broker knows, with its state (ListGroups)."""
        body = await self._call(_LIST_GROUPS, {}, (0, 5))
        _raise_for(body["error_code"], "list groups")
        return sorted((GroupListing(group["group_id"], group.get("group_state", ""),
                                    group["protocol_type"], group.get("group_type", ""))
                       for group in body["groups"]),
                      key=lambda listing: listing.group_id)

    async def describe_groups(self, group_ids: Sequence[str]) -> list[GroupDescription]:
        """State, protocol and members of each group (DescribeGroups); an unknown group is Dead."""
        body = await self._call(_DESCRIBE_GROUPS, {"groups": list(group_ids)}, (0, 5))
        described = []
        for group in body["groups"]:
            _raise_for(group["error_code"], f"describe group {group['group_id']}",
                       group=group["group_id"])
            kind = group["protocol_type"]
            described.append(GroupDescription(
                group["group_id"], group["group_state"], kind, group["protocol_data"],
                tuple(MemberDescription(
                    member["member_id"], member["group_instance_id"], member["client_id"],
                    member["client_host"], _assigned(kind, member["member_assignment"]))
                    for member in group["members"])))
        return described

    async def describe_consumer_groups(self, group_ids: Sequence[str]
                                       ) -> list[ConsumerGroupDescription]:
        """Epochs, assignor and members of each consumer-protocol group (ConsumerGroupDescribe);
        assignments are named through Metadata's topic ids. A group that does not exist, or is
        a classic group, is `UnknownGroup` (GROUP_ID_NOT_FOUND)."""
        body = await self._call(_CONSUMER_GROUP_DESCRIBE,
                                {"group_ids": list(group_ids),
                                 "include_authorized_operations": False}, (0, 0))
        for group in body["groups"]:
            _raise_for(group["error_code"],
                       group["error_message"] or f"describe consumer group {group['group_id']}",
                       group=group["group_id"])
        held = any(assignment["topic_partitions"] for group in body["groups"]
                   for member in group["members"]
                   for assignment in (member["assignment"], member["target_assignment"]))
        names = ({topic_id: name for name, topic_id in (await self.list_topic_ids()).items()}
                 if held else {})
        return [ConsumerGroupDescription(
            group["group_id"], group["group_state"], group["group_epoch"],
            group["assignment_epoch"], group["assignor_name"],
            tuple(ConsumerMemberDescription(
                member["member_id"], member["instance_id"], member["rack_id"],
                member["client_id"], member["client_host"], member["member_epoch"],
                tuple(member["subscribed_topic_names"]),
                _named(member["assignment"]["topic_partitions"], names),
                _named(member["target_assignment"]["topic_partitions"], names))
                for member in group["members"]))
            for group in body["groups"]]

    async def delete_groups(self, group_ids: Sequence[str]) -> dict[str, FlyQError | None]:
        """Delete groups without members, with their committed offsets (DeleteGroups): group id
        -> None if deleted, else the error (NonEmptyGroup, UnknownGroup, InvalidGroupId, ...)."""
        body = await self._call(_DELETE_GROUPS, {"groups_names": list(group_ids)}, (0, 2))
        return {result["group_id"]: (error_from_code(result["error_code"],
                                                     f"delete group {result['group_id']}",
                                                     group=result["group_id"])
                                     if result["error_code"] else None)
                for result in body["results"]}

    async def list_group_offsets(self, group: str,
                                 partitions: Iterable[TopicPartition] | None = None
                                 ) -> dict[TopicPartition, int]:
        """`group`'s committed offsets (OffsetFetch): of `partitions`, or of every partition it
        committed; a partition without a committed offset is left out."""
        topics = None if partitions is None else [
            {"name": topic, "partition_indexes": numbers}
            for topic, numbers in _by_topic(partitions).items()]
        body = await self._call(_OFFSET_FETCH, {"group_id": group, "topics": topics}, (2, 7))
        _raise_for(body["error_code"], f"committed offsets of {group}", group=group)
        committed = {}
        for topic in body["topics"]:
            for partition in topic["partitions"]:
                where = (topic["name"], partition["partition_index"])
                _raise_for(partition["error_code"], f"committed offset of {where}", group=group)
                if partition["committed_offset"] >= 0:
                    committed[where] = partition["committed_offset"]
        return dict(sorted(committed.items()))

    async def alter_group_offsets(self, group: str,
                                  offsets: Mapping[TopicPartition, int]) -> None:
        """Set `group`'s committed offsets (OffsetCommit with generation -1 and no member, as an
        `assign()` consumer commits): the broker refuses it for a group with members (GC-12)."""
        body = await self._call(_OFFSET_COMMIT, {
            "group_id": group, "generation_id_or_member_epoch": -1, "member_id": "",
            "topics": [{"name": topic, "partitions": [
                {"partition_index": number, "committed_offset": offsets[(topic, number)],
                 "committed_metadata": ""} for number in numbers]}
                for topic, numbers in _by_topic(offsets).items()]}, (2, 8))
        for topic in body["topics"]:
            for partition in topic["partitions"]:
                _raise_for(partition["error_code"],
                           f"commit of {group} {topic['name']}-{partition['partition_index']}",
                           group=group, topic=topic["name"],
                           partition=partition["partition_index"])

    async def delete_group_offsets(self, group: str,
                                   partitions: Iterable[TopicPartition]) -> None:
        """Delete `group`'s committed offsets of `partitions` (OffsetDelete); a live group keeps
        those of topics it subscribes to (GroupSubscribedToTopic)."""
        body = await self._call(_OFFSET_DELETE, {"group_id": group, "topics": [
            {"name": topic, "partitions": [{"partition_index": n} for n in numbers]}
            for topic, numbers in _by_topic(partitions).items()]}, (0, 0))
        _raise_for(body["error_code"], f"delete offsets of {group}", group=group)
        for topic in body["topics"]:
            for partition in topic["partitions"]:
                _raise_for(partition["error_code"],
                           f"delete offset of {group} {topic['name']}-{partition['partition_index']}",
                           group=group, topic=topic["name"],
                           partition=partition["partition_index"])

    # --- FlyQ's extension APIs (spec/protocol.md EXT-4, EXT-5; spec/client.md CLIENT-40..41) ---

    async def _extension_body(self, api_key: int, topic: str,
                              partitions: Iterable[int] | None) -> dict[str, Any]:
        # Checked before the Metadata that `partitions=None` needs: a broker without the API is
        # told so whatever else it lacks.
        self.connection.version_for(api_key)
        numbers = (list(range((await self.partition_counts([topic]))[topic]))
                   if partitions is None else list(partitions))
        return await self._call(api_key, {"topics": [{"name": topic, "partitions": numbers}]},
                                (0, 0))

    async def partition_counts(self, topics: Sequence[str]) -> dict[str, int]:
        """Topic name -> partition count of `topics` (Metadata); an unknown topic is raised
        (`UnknownTopicOrPartition`)."""
        body = await self._call(_METADATA, {
            "topics": [{"name": name} for name in topics],
            "allow_auto_topic_creation": False}, (1, 12))
        counts = {}
        for entry in body["topics"]:
            _raise_for(entry["error_code"], f"metadata of {entry['name']}", name=entry["name"])
            counts[entry["name"]] = len(entry["partitions"])
        return counts

    async def partition_state(self, topic: str, partitions: Iterable[int] | None = None
                              ) -> list[PartitionState]:
        """The state of `topic`'s `partitions` (all by default), in partition order
        (FlyqPartitionState, CLIENT-40). A partition's error is raised, naming it."""
        body = await self._extension_body(_FLYQ_PARTITION_STATE, topic, partitions)
        states = [
            PartitionState(
                name, number, partition["log_start_offset"], partition["high_watermark"],
                partition["log_end_offset"], partition["durable_offset"],
                partition["segment_count"], partition["size_bytes"], partition["state"],
                partition["failure"], partition["last_index_check_ms"],
                tuple(partition["problems"]))
            for name, number, partition in _answered_partitions(body, "state of")]
        return sorted(states, key=lambda state: state.partition)

    async def verify_indexes(self, topic: str, partitions: Iterable[int] | None = None
                             ) -> list[IndexCheck]:
        """Verify each index of `topic`'s `partitions` (all by default) against a rebuild now,
        in partition order (FlyqVerifyIndex, CLIENT-41); it repairs nothing. A partition's
        error (`LogFailed` for a failed log) is raised, naming it."""
        body = await self._extension_body(_FLYQ_VERIFY_INDEX, topic, partitions)
        checks = [IndexCheck(name, number, partition["checked_ms"], tuple(partition["problems"]))
                  for name, number, partition in _answered_partitions(body, "verify")]
        return sorted(checks, key=lambda check: check.partition)


    # --- ACLs (spec/acl.md ACL-20) --------------------------------------------------------------

    async def create_acls(self, acls: Iterable[Acl]) -> None:
        """Add `acls` to the broker's ACL set (CreateAcls); the broker adds every valid one, and
        the first refused one is raised (InvalidArgument for an invalid binding,
        ClusterAuthorizationFailed, SecurityDisabled on a broker without an authorizer)."""
        chosen = list(acls)
        creations = []
        for acl in chosen:
            resource_type, pattern_type, operation, permission = codes_of_acl(acl)
            creations.append({"resource_type": resource_type, "resource_name": acl.resource_name,
                              "resource_pattern_type": pattern_type, "principal": acl.principal,
                              "host": acl.host, "operation": operation,
                              "permission_type": permission})
        body = await self._call(_CREATE_ACLS, {"creations": creations}, _ACL_VERSIONS)
        for acl, result in zip(chosen, body["results"], strict=True):
            _raise_for(result["error_code"], result["error_message"] or f"create ACL {acl}")

    async def describe_acls(self, acl_filter: AclFilter | None = None) -> list[Acl]:
        """The broker's ACLs passing `acl_filter` (every ACL by default; DescribeAcls)."""
        body = await self._call(_DESCRIBE_ACLS, _filter_body(acl_filter or AclFilter()),
                                _ACL_VERSIONS)
        _raise_for(body["error_code"], body["error_message"] or "describe ACLs")
        return sorted((acl_from_codes(resource["resource_type"], resource["resource_name"],
                                      resource["pattern_type"], entry["principal"],
                                      entry["host"], entry["operation"],
                                      entry["permission_type"])
                       for resource in body["resources"] for entry in resource["acls"]),
                      key=attrs.astuple)

    async def delete_acls(self, filters: Iterable[AclFilter]) -> list[Acl]:
        """Remove every ACL passing any of `filters` (DeleteAcls); the ACLs removed. The first
        refused filter is raised (the others were still applied)."""
        body = await self._call(_DELETE_ACLS, {"filters": [_filter_body(f) for f in filters]},
                                _ACL_VERSIONS)
        removed = []
        for result in body["filter_results"]:
            _raise_for(result["error_code"], result["error_message"] or "delete ACLs")
            for entry in result["matching_acls"]:
                _raise_for(entry["error_code"], entry["error_message"] or "delete an ACL")
                removed.append(acl_from_codes(
                    entry["resource_type"], entry["resource_name"], entry["pattern_type"],
                    entry["principal"], entry["host"], entry["operation"],
                    entry["permission_type"]))
        return sorted(removed, key=attrs.astuple)

    # --- SCRAM users (spec/sasl.md SASL-21) ---------------------------------------------------

    async def describe_user_scram_credentials(self, users: Sequence[str] | None = None
                                              ) -> dict[str, tuple[tuple[str, int], ...]]:
        """User -> its (mechanism, iterations) pairs (DescribeUserScramCredentials): of `users`,
        or of every user. An error of the request (ClusterAuthorizationFailed) or of a user named
        (UnknownUser for one without credentials) is raised, naming the user."""
        body = await self._call(
            _DESCRIBE_USER_SCRAM_CREDENTIALS,
            {"users": None if users is None else [{"name": name} for name in users]}, (0, 0))
        _raise_for(body["error_code"], body["error_message"] or "describe SCRAM users")
        described: dict[str, tuple[tuple[str, int], ...]] = {}
        for result in body["results"]:
            _raise_for(result["error_code"],
                       result["error_message"] or f"describe user {result['user']}",
                       user=result["user"])
            described[result["user"]] = tuple(sorted(
                (MECHANISMS_BY_CODE.get(info["mechanism"], f"mechanism {info['mechanism']}"),
                 info["iterations"]) for info in result["credential_infos"]))
        return dict(sorted(described.items()))

    async def alter_user_scram_credentials(
            self, upsertions: Iterable[tuple[str, str, str, int]] = (),
            deletions: Iterable[tuple[str, str]] = ()) -> dict[str, FlyQError | None]:
        """Upsert (user, mechanism, password, iterations) and delete (user, mechanism) SCRAM
        credentials (AlterUserScramCredentials): user -> None if its changes were applied, else
        the error (UnknownUser, UnacceptableCredential, UnsupportedSaslMechanism, ...). The
        password is salted and iterated here with a random salt; only the salted password is
        sent (SASL-21)."""
        wire_upsertions = []
        for user, mechanism, password, iterations in upsertions:
            hash_name(mechanism)  # UnsupportedSaslMechanism before anything is sent
            salt = secrets.token_bytes(32)
            wire_upsertions.append({
                "name": user, "mechanism": MECHANISM_CODES[mechanism], "iterations": iterations,
                "salt": salt,
                "salted_password": salted_password(mechanism, password, salt, iterations)})
        wire_deletions = [{"name": user, "mechanism": MECHANISM_CODES.get(mechanism, 0)}
                          for user, mechanism in deletions]
        body = await self._call(_ALTER_USER_SCRAM_CREDENTIALS,
                                {"deletions": wire_deletions, "upsertions": wire_upsertions},
                                (0, 0))
        return {result["user"]: (error_from_code(result["error_code"],
                                                 result["error_message"]
                                                 or f"alter user {result['user']}",
                                                 user=result["user"])
                                 if result["error_code"] else None)
                for result in body["results"]}

    async def upsert_user(self, name: str, password: str, mechanism: str = "SCRAM-SHA-256",
                          iterations: int = DEFAULT_ITERATIONS) -> None:
        """Create or replace `name`'s `mechanism` credential for `password`; raises its error."""
        error = (await self.alter_user_scram_credentials(
            [(name, mechanism, password, iterations)])).get(name)
        if error is not None:
            raise error

    async def delete_user(self, name: str, mechanism: str) -> None:
        """Delete `name`'s `mechanism` credential; UnknownUser if it has none."""
        error = (await self.alter_user_scram_credentials(deletions=[(name, mechanism)])).get(name)
        if error is not None:
            raise error

    async def describe_users(self, users: Sequence[str] | None = None
                             ) -> dict[str, tuple[tuple[str, int], ...]]:
        """See `describe_user_scram_credentials`."""
        return await self.describe_user_scram_credentials(users)


def _filter_body(acl_filter: AclFilter) -> dict[str, Any]:
    """The wire fields of a DescribeAcls request or a DeleteAcls filter."""
    return {"resource_type_filter": RESOURCE_TYPE_CODES[acl_filter.resource_type],
            "resource_name_filter": acl_filter.resource_name,
            "pattern_type_filter": PATTERN_TYPE_CODES[acl_filter.pattern_type],
            "principal_filter": acl_filter.principal, "host_filter": acl_filter.host,
            "operation": OPERATION_CODES[acl_filter.operation],
            "permission_type": PERMISSION_CODES[acl_filter.permission]}


class Admin:
    """The synchronous facade of `AsyncAdmin`: the same methods, each run on the admin's own
    event loop thread and waited for. `Admin("HOST:PORT")`, then `close()` (or `with`)."""

    def __init__(self, bootstrap: str, *, client_id: str = "flyq-admin",
                 timeout: float = DEFAULT_TIMEOUT, security: Security = PLAINTEXT) -> None:
        self._thread = LoopThread("flyq-admin")
        try:
            self._admin = self._thread.run(
                AsyncAdmin.connect(bootstrap, client_id=client_id, timeout=timeout,
                                   security=security))
        except BaseException:
            self._thread.stop()
            raise

    def close(self) -> None:
        """Close the connection and stop the loop thread; closing twice does nothing."""
        if self._thread.closed:
            return
        try:
            self._thread.run(self._admin.close())
        finally:
            self._thread.stop()

    def __enter__(self) -> Admin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- topics -------------------------------------------------------------------------------

    def list_topics(self) -> dict[str, int]:
        """See `AsyncAdmin.list_topics`."""
        return self._thread.run(self._admin.list_topics())

    def list_topic_ids(self) -> dict[str, UUID]:
        """See `AsyncAdmin.list_topic_ids`."""
        return self._thread.run(self._admin.list_topic_ids())

    def partition_counts(self, topics: Sequence[str]) -> dict[str, int]:
        """See `AsyncAdmin.partition_counts`."""
        return self._thread.run(self._admin.partition_counts(topics))

    def create_topic(self, name: str, partitions: int,
                     configs: Mapping[str, str] | None = None) -> None:
        """See `AsyncAdmin.create_topic`."""
        self._thread.run(self._admin.create_topic(name, partitions, configs))

    def delete_topic(self, name: str) -> None:
        """See `AsyncAdmin.delete_topic`."""
        self._thread.run(self._admin.delete_topic(name))

    def describe_topic_config(self, name: str) -> dict[str, str]:
        """See `AsyncAdmin.describe_topic_config`."""
        return self._thread.run(self._admin.describe_topic_config(name))

    def alter_topic_config(self, name: str, configs: Mapping[str, str]) -> None:
        """See `AsyncAdmin.alter_topic_config`."""
        self._thread.run(self._admin.alter_topic_config(name, configs))

    def reset_topic_config(self, name: str, keys: Iterable[str]) -> None:
        """See `AsyncAdmin.reset_topic_config`."""
        self._thread.run(self._admin.reset_topic_config(name, list(keys)))

    def create_partitions(self, name: str, total_count: int) -> None:
        """See `AsyncAdmin.create_partitions`."""
        self._thread.run(self._admin.create_partitions(name, total_count))

    def delete_records(self, offsets: Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
        """See `AsyncAdmin.delete_records`."""
        return self._thread.run(self._admin.delete_records(offsets))

    def list_offsets(self, partitions: Iterable[TopicPartition], timestamp: int
                     ) -> dict[TopicPartition, int]:
        """See `AsyncAdmin.list_offsets`."""
        return self._thread.run(self._admin.list_offsets(list(partitions), timestamp))

    def list_start_offsets(self, partitions: Iterable[TopicPartition]
                           ) -> dict[TopicPartition, int]:
        """See `AsyncAdmin.list_start_offsets`."""
        return self._thread.run(self._admin.list_start_offsets(list(partitions)))

    def list_end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """See `AsyncAdmin.list_end_offsets`."""
        return self._thread.run(self._admin.list_end_offsets(list(partitions)))

    # --- groups -------------------------------------------------------------------------------

    def list_groups(self) -> list[GroupListing]:
        """See `AsyncAdmin.list_groups`."""
        return self._thread.run(self._admin.list_groups())

    def describe_groups(self, group_ids: Sequence[str]) -> list[GroupDescription]:
        """See `AsyncAdmin.describe_groups`."""
        return self._thread.run(self._admin.describe_groups(group_ids))

    def describe_consumer_groups(self, group_ids: Sequence[str]
                                 ) -> list[ConsumerGroupDescription]:
        """See `AsyncAdmin.describe_consumer_groups`."""
        return self._thread.run(self._admin.describe_consumer_groups(group_ids))

    def delete_groups(self, group_ids: Sequence[str]) -> dict[str, FlyQError | None]:
        """See `AsyncAdmin.delete_groups`."""
        return self._thread.run(self._admin.delete_groups(group_ids))

    def list_group_offsets(self, group: str, partitions: Iterable[TopicPartition] | None = None
                           ) -> dict[TopicPartition, int]:
        """See `AsyncAdmin.list_group_offsets`."""
        return self._thread.run(self._admin.list_group_offsets(
            group, None if partitions is None else list(partitions)))

    def alter_group_offsets(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        """See `AsyncAdmin.alter_group_offsets`."""
        self._thread.run(self._admin.alter_group_offsets(group, offsets))

    def delete_group_offsets(self, group: str, partitions: Iterable[TopicPartition]) -> None:
        """See `AsyncAdmin.delete_group_offsets`."""
        self._thread.run(self._admin.delete_group_offsets(group, list(partitions)))

    # --- FlyQ's extension APIs ----------------------------------------------------------------

    def partition_state(self, topic: str, partitions: Iterable[int] | None = None
                        ) -> list[PartitionState]:
        """See `AsyncAdmin.partition_state`."""
        return self._thread.run(self._admin.partition_state(
            topic, None if partitions is None else list(partitions)))

    def verify_indexes(self, topic: str, partitions: Iterable[int] | None = None
                       ) -> list[IndexCheck]:
        """See `AsyncAdmin.verify_indexes`."""
        return self._thread.run(self._admin.verify_indexes(
            topic, None if partitions is None else list(partitions)))

    # --- ACLs ---------------------------------------------------------------------------------

    def create_acls(self, acls: Iterable[Acl]) -> None:
        """See `AsyncAdmin.create_acls`."""
        self._thread.run(self._admin.create_acls(list(acls)))

    def describe_acls(self, acl_filter: AclFilter | None = None) -> list[Acl]:
        """See `AsyncAdmin.describe_acls`."""
        return self._thread.run(self._admin.describe_acls(acl_filter))

    def delete_acls(self, filters: Iterable[AclFilter]) -> list[Acl]:
        """See `AsyncAdmin.delete_acls`."""
        return self._thread.run(self._admin.delete_acls(list(filters)))

    # --- SCRAM users --------------------------------------------------------------------------

    def describe_user_scram_credentials(self, users: Sequence[str] | None = None
                                        ) -> dict[str, tuple[tuple[str, int], ...]]:
        """See `AsyncAdmin.describe_user_scram_credentials`."""
        return self._thread.run(self._admin.describe_user_scram_credentials(
            None if users is None else list(users)))

    def alter_user_scram_credentials(self, upsertions: Iterable[tuple[str, str, str, int]] = (),
                                     deletions: Iterable[tuple[str, str]] = ()
                                     ) -> dict[str, FlyQError | None]:
        """See `AsyncAdmin.alter_user_scram_credentials`."""
        return self._thread.run(self._admin.alter_user_scram_credentials(
            list(upsertions), list(deletions)))

    def upsert_user(self, name: str, password: str, mechanism: str = "SCRAM-SHA-256",
                    iterations: int = DEFAULT_ITERATIONS) -> None:
        """See `AsyncAdmin.upsert_user`."""
        self._thread.run(self._admin.upsert_user(name, password, mechanism, iterations))

    def delete_user(self, name: str, mechanism: str) -> None:
        """See `AsyncAdmin.delete_user`."""
        self._thread.run(self._admin.delete_user(name, mechanism))

    def describe_users(self, users: Sequence[str] | None = None
                       ) -> dict[str, tuple[tuple[str, int], ...]]:
        """See `AsyncAdmin.describe_users`."""
        return self.describe_user_scram_credentials(users)
