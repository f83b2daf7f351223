"""Kafka's request and response schemas, and FlyQ's extension APIs', as data (spec/protocol.md
"Schemas", "Extension APIs").

Transcribed once from Kafka's JSON message definitions (as kafka-python 3.0.12 ships them; the two
ConsumerGroup APIs, which it does not ship, from apache/kafka at commit 1eb7644). Nothing here reads
those files: tests/unit/test_protocol_schemas.py checks this table against them, field by field.

Each `f(name, type, versions, ...)` row is one Kafka field: its snake_case name (`snake_case`), its
type, the versions it is present in, `nullable=` the versions it may be null in, `tag=`/`tagged=`
its tag and the versions it is a tagged field in, `default=` Kafka's declared default.

The extension APIs at the end (`FLYQ_API_KEYS`, keys from `FLYQ_KEY_RANGE`) are FlyQ's own: no Kafka
JSON describes them; spec/protocol.md "Layouts" is their definition.
"""

from __future__ import annotations

from collections.abc import Mapping

from flyq.protocol._types import ApiSchema, api, f

__all__ = ["APIS", "FLYQ_API_KEYS", "FLYQ_KEY_RANGE"]

PRODUCE = api(0, "Produce", oldest=3, newest=13, flexible=9, request=(
    f("transactional_id", "string", "3+", nullable="3+", default=None),
    f("acks", "int16", "0+"),
    f("timeout_ms", "int32", "0+"),
    f("topic_data", "[]struct", "0+", fields=(
        f("name", "string", "0-12"),
        f("topic_id", "uuid", "13+"),
        f("partition_data", "[]struct", "0+", fields=(
            f("index", "int32", "0+"),
            f("records", "records", "0+", nullable="0+"),
        )),
    )),
), response=(
    f("responses", "[]struct", "0+", fields=(
        f("name", "string", "0-12"),
        f("topic_id", "uuid", "13+"),
        f("partition_responses", "[]struct", "0+", fields=(
            f("index", "int32", "0+"),
            f("error_code", "int16", "0+"),
            f("base_offset", "int64", "0+"),
            f("log_append_time_ms", "int64", "2+", default=-1),
            f("log_start_offset", "int64", "5+", default=-1),
            f("record_errors", "[]struct", "8+", fields=(
                f("batch_index", "int32", "8+"),
                f("batch_index_error_message", "string", "8+", nullable="8+", default=None),
            )),
            f("error_message", "string", "8+", nullable="8+", default=None),
            f("current_leader", "struct", "10+", tag=0, tagged="10+", fields=(
                f("leader_id", "int32", "10+", default=-1),
                f("leader_epoch", "int32", "10+", default=-1),
            )),
        )),
    )),
    f("throttle_time_ms", "int32", "1+", default=0),
    f("node_endpoints", "[]struct", "10+", tag=0, tagged="10+", fields=(
        f("node_id", "int32", "10+"),
        f("host", "string", "10+"),
        f("port", "int32", "10+"),
        f("rack", "string", "10+", nullable="10+", default=None),
    )),
))

FETCH = api(1, "Fetch", oldest=4, newest=18, flexible=12, request=(
    f("cluster_id", "string", "12+", nullable="12+", tag=0, tagged="12+", default=None),
    f("replica_id", "int32", "0-14", default=-1),
    f("replica_state", "struct", "15+", tag=1, tagged="15+", fields=(
        f("replica_id", "int32", "15+", default=-1),
        f("replica_epoch", "int64", "15+", default=-1),
    )),
    f("max_wait_ms", "int32", "0+"),
    f("min_bytes", "int32", "0+"),
    f("max_bytes", "int32", "3+", default=2147483647),
    f("isolation_level", "int8", "4+", default=0),
    f("session_id", "int32", "7+", default=0),
    f("session_epoch", "int32", "7+", default=-1),
    f("topics", "[]struct", "0+", fields=(
        f("topic", "string", "0-12"),
        f("topic_id", "uuid", "13+"),
        f("partitions", "[]struct", "0+", fields=(
            f("partition", "int32", "0+"),
            f("current_leader_epoch", "int32", "9+", default=-1),
            f("fetch_offset", "int64", "0+"),
            f("last_fetched_epoch", "int32", "12+", default=-1),
            f("log_start_offset", "int64", "5+", default=-1),
            f("partition_max_bytes", "int32", "0+"),
            f("replica_directory_id", "uuid", "17+", tag=0, tagged="17+"),
            f("high_watermark", "int64", "18+", tag=1, tagged="18+", default=9223372036854775807),
        )),
    )),
    f("forgotten_topics_data", "[]struct", "7+", fields=(
        f("topic", "string", "7-12"),
        f("topic_id", "uuid", "13+"),
        f("partitions", "[]int32", "7+"),
    )),
    f("rack_id", "string", "11+", default=""),
), response=(
    f("throttle_time_ms", "int32", "1+"),
    f("error_code", "int16", "7+"),
    f("session_id", "int32", "7+", default=0),
    f("responses", "[]struct", "0+", fields=(
        f("topic", "string", "0-12"),
        f("topic_id", "uuid", "13+"),
        f("partitions", "[]struct", "0+", fields=(
            f("partition_index", "int32", "0+"),
            f("error_code", "int16", "0+"),
            f("high_watermark", "int64", "0+"),
            f("last_stable_offset", "int64", "4+", default=-1),
            f("log_start_offset", "int64", "5+", default=-1),
            f("diverging_epoch", "struct", "12+", tag=0, tagged="12+", fields=(
                f("epoch", "int32", "12+", default=-1),
                f("end_offset", "int64", "12+", default=-1),
            )),
            f("current_leader", "struct", "12+", tag=1, tagged="12+", fields=(
                f("leader_id", "int32", "12+", default=-1),
                f("leader_epoch", "int32", "12+", default=-1),
            )),
            f("snapshot_id", "struct", "12+", tag=2, tagged="12+", fields=(
                f("end_offset", "int64", "0+", default=-1),
                f("epoch", "int32", "0+", default=-1),
            )),
            f("aborted_transactions", "[]struct", "4+", nullable="4+", fields=(
                f("producer_id", "int64", "4+"),
                f("first_offset", "int64", "4+"),
            )),
            f("preferred_read_replica", "int32", "11+", default=-1),
            f("records", "records", "0+", nullable="0+"),
        )),
    )),
    f("node_endpoints", "[]struct", "16+", tag=0, tagged="16+", fields=(
        f("node_id", "int32", "16+"),
        f("host", "string", "16+"),
        f("port", "int32", "16+"),
        f("rack", "string", "16+", nullable="16+", default=None),
    )),
))

LIST_OFFSETS = api(2, "ListOffsets", oldest=1, newest=11, flexible=6, request=(
    f("replica_id", "int32", "0+"),
    f("isolation_level", "int8", "2+"),
    f("topics", "[]struct", "0+", fields=(
        f("name", "string", "0+"),
        f("partitions", "[]struct", "0+", fields=(
            f("partition_index", "int32", "0+"),
            f("current_leader_epoch", "int32", "4+", default=-1),
            f("timestamp", "int64", "0+"),
            f("max_num_offsets", "int32", "0", default=1),
        )),
    )),
    f("timeout_ms", "int32", "10+"),
), response=(
    f("throttle_time_ms", "int32", "2+"),
    f("topics", "[]struct", "0+", fields=(
        f("name", "string", "0+"),
        f("partitions", "[]struct", "0+", fields=(
            f("partition_index", "int32", "0+"),
            f("error_code", "int16", "0+"),
            f("old_style_offsets", "[]int64", "0"),
            f("timestamp", "int64", "1+", default=-1),
            f("offset", "int64", "1+", default=-1),
            f("leader_epoch", "int32", "4+", default=-1),
        )),
    )),
))

METADATA = api(3, "Metadata", oldest=0, newest=13, flexible=9, request=(
    f("topics", "[]struct", "0+", nullable="1+", fields=(
        f("topic_id", "uuid", "10+"),
        f("name", "string", "0+", nullable="10+"),
    )),
    f("allow_auto_topic_creation", "bool", "4+", default=True),
    f("include_cluster_authorized_operations", "bool", "8-10"),
    f("include_topic_authorized_operations", "bool", "8+"),
), response=(
    f("throttle_time_ms", "int32", "3+"),
    f("brokers", "[]struct", "0+", fields=(
        f("node_id", "int32", "0+"),
        f("host", "string", "0+"),
        f("port", "int32", "0+"),
        f("rack", "string", "1+", nullable="1+", default=None),
    )),
    f("cluster_id", "string", "2+", nullable="2+", default=None),
    f("controller_id", "int32", "1+", default=-1),
    f("topics", "[]struct", "0+", fields=(
        f("error_code", "int16", "0+"),
        f("name", "string", "0+", nullable="12+"),
        f("topic_id", "uuid", "10+"),
        f("is_internal", "bool", "1+", default=False),
        f("partitions", "[]struct", "0+", fields=(
            f("error_code", "int16", "0+"),
            f("partition_index", "int32", "0+"),
            f("leader_id", "int32", "0+"),
            f("leader_epoch", "int32", "7+", default=-1),
            f("replica_nodes", "[]int32", "0+"),
            f("isr_nodes", "[]int32", "0+"),
            f("offline_replicas", "[]int32", "5+"),
        )),
        f("topic_authorized_operations", "int32", "8+", default=-2147483648),
    )),
    f("cluster_authorized_operations", "int32", "8-10", default=-2147483648),
    f("error_code", "int16", "13+"),
))

OFFSET_COMMIT = api(8, "OffsetCommit", oldest=2, newest=10, flexible=8, request=(
    f("group_id", "string", "0+"),
    f("generation_id_or_member_epoch", "int32", "1+", default=-1),
    f("member_id", "string", "1+"),
    f("group_instance_id", "string", "7+", nullable="7+", default=None),
    f("retention_time_ms", "int64", "2-4", default=-1),
    f("topics", "[]struct", "0+", fields=(
        f("name", "string", "0-9"),
        f("topic_id", "uuid", "10+"),
        f("partitions", "[]struct", "0+", fields=(
            f("partition_index", "int32", "0+"),
            f("committed_offset", "int64", "0+"),
            f("committed_leader_epoch", "int32", "6+", default=-1),
            f("commit_timestamp", "int64", "1", default=-1),
            f("committed_metadata", "string", "0+", nullable="0+"),
        )),
    )),
), response=(
    f("throttle_time_ms", "int32", "3+"),
    f("topics", "[]struct", "0+", fields=(
        f("name", "string", "0-9"),
        f("topic_id", "uuid", "10+"),
        f("partitions", "[]struct", "0+", fields=(
            f("partition_index", "int32", "0+"),
            f("error_code", "int16", "0+"),
        )),
    )),
))

OFFSET_FETCH = api(9, "OffsetFetch", oldest=1, newest=10, flexible=6, request=(
    f("group_id", "string", "0-7"),
    f("topics", "[]struct", "0-7", nullable="2-7", fields=(
        f("name", "string", "0-7"),
        f("partition_indexes", "[]int32", "0-7"),
    )),
    f("groups", "[]struct", "8+", fields=(
        f("group_id", "string", "8+"),
        f("member_id", "string", "9+", nullable="9+", default=None),
        f("member_epoch", "int32", "9+", default=-1),
        f("topics", "[]struct", "8+", nullable="8+", fields=(
            f("name", "string", "8-9"),
            f("topic_id", "uuid", "10+"),
            f("partition_indexes", "[]int32", "8+"),
        )),
    )),
    f("require_stable", "bool", "7+", default=False),
), response=(
    f("throttle_time_ms", "int32", "3+"),
    f("topics", "[]struct", "0-7", fields=(
        f("name", "string", "0-7"),
        f("partitions", "[]struct", "0-7", fields=(
            f("partition_index", "int32", "0-7"),
            f("committed_offset", "int64", "0-7"),
            f("committed_leader_epoch", "int32", "5-7", default=-1),
            f("metadata", "string", "0-7", nullable="0-7"),
            f("error_code", "int16", "0-7"),
        )),
    )),
    f("error_code", "int16", "2-7", default=0),
    f("groups", "[]struct", "8+", fields=(
        f("group_id", "string", "8+"),
        f("topics", "[]struct", "8+", fields=(
            f("name", "string", "8-9"),
            f("topic_id", "uuid", "10+"),
            f("partitions", "[]struct", "8+", fields=(
                f("partition_index", "int32", "8+"),
                f("committed_offset", "int64", "8+"),
                f("committed_leader_epoch", "int32", "8+", default=-1),
                f("metadata", "string", "8+", nullable="8+"),
                f("error_code", "int16", "8+"),
            )),
        )),
        f("error_code", "int16", "8+", default=0),
    )),
))

FIND_COORDINATOR = api(10, "FindCoordinator", oldest=0, newest=6, flexible=3, request=(
    f("key", "string", "0-3"),
    f("key_type", "int8", "1+", default=0),
    f("coordinator_keys", "[]string", "4+"),
), response=(
    f("throttle_time_ms", "int32", "1+"),
    f("error_code", "int16", "0-3"),
    f("error_message", "string", "1-3", nullable="1-3"),
    f("node_id", "int32", "0-3"),
    f("host", "string", "0-3"),
    f("port", "int32", "0-3"),
    f("coordinators", "[]struct", "4+", fields=(
        f("key", "string", "4+"),
        f("node_id", "int32", "4+"),
        f("host", "string", "4+"),
        f("port", "int32", "4+"),
        f("error_code", "int16", "4+"),
        f("error_message", "string", "4+", nullable="4+"),
    )),
))

JOIN_GROUP = api(11, "JoinGroup", oldest=0, newest=9, flexible=6, request=(
    f("group_id", "string", "0+"),
    f("session_timeout_ms", "int32", "0+"),
    f("rebalance_timeout_ms", "int32", "1+", default=-1),
    f("member_id", "string", "0+"),
    f("group_instance_id", "string", "5+", nullable="5+", default=None),
    f("protocol_type", "string", "0+"),
    f("protocols", "[]struct", "0+", fields=(
        f("name", "string", "0+"),
        f("metadata", "bytes", "0+"),
    )),
    f("reason", "string", "8+", nullable="8+", default=None),
), response=(
    f("throttle_time_ms", "int32", "2+"),
    f("error_code", "int16", "0+"),
    f("generation_id", "int32", "0+", default=-1),
    f("protocol_type", "string", "7+", nullable="7+", default=None),
    f("protocol_name", "string", "0+", nullable="7+"),
    f("leader", "string", "0+"),
    f("skip_assignment", "bool", "9+", default=False),
    f("member_id", "string", "0+"),
    f("members", "[]struct", "0+", fields=(
        f("member_id", "string", "0+"),
        f("group_instance_id", "string", "5+", nullable="5+", default=None),
        f("metadata", "bytes", "0+"),
    )),
))

HEARTBEAT = api(12, "Heartbeat", oldest=0, newest=4, flexible=4, request=(
    f("group_id", "string", "0+"),
    f("generation_id", "int32", "0+"),
    f("member_id", "string", "0+"),
    f("group_instance_id", "string", "3+", nullable="3+", default=None),
), response=(
    f("throttle_time_ms", "int32", "1+"),
    f("error_code", "int16", "0+"),
))

LEAVE_GROUP = api(13, "LeaveGroup", oldest=0, newest=5, flexible=4, request=(
    f("group_id", "string", "0+"),
    f("member_id", "string", "0-2"),
    f("members", "[]struct", "3+", fields=(
        f("member_id", "string", "3+"),
        f("group_instance_id", "string", "3+", nullable="3+", default=None),
        f("reason", "string", "5+", nullable="5+", default=None),
    )),
), response=(
    f("throttle_time_ms", "int32", "1+"),
    f("error_code", "int16", "0+"),
    f("members", "[]struct", "3+", fields=(
        f("member_id", "string", "3+"),
        f("group_instance_id", "string", "3+", nullable="3+"),
        f("error_code", "int16", "3+"),
    )),
))

SYNC_GROUP = api(14, "SyncGroup", oldest=0, newest=5, flexible=4, request=(
    f("group_id", "string", "0+"),
    f("generation_id", "int32", "0+"),
    f("member_id", "string", "0+"),
    f("group_instance_id", "string", "3+", nullable="3+", default=None),
    f("protocol_type", "string", "5+", nullable="5+", default=None),
    f("protocol_name", "string", "5+", nullable="5+", default=None),
    f("assignments", "[]struct", "0+", fields=(
        f("member_id", "string", "0+"),
        f("assignment", "bytes", "0+"),
    )),
), response=(
    f("throttle_time_ms", "int32", "1+"),
    f("error_code", "int16", "0+"),
    f("protocol_type", "string", "5+", nullable="5+", default=None),
    f("protocol_name", "string", "5+", nullable="5+", default=None),
    f("assignment", "bytes", "0+"),
))

DESCRIBE_GROUPS = api(15, "DescribeGroups", oldest=0, newest=6, flexible=5, request=(
    f("groups", "[]string", "0+"),
    f("include_authorized_operations", "bool", "3+"),
), response=(
    f("throttle_time_ms", "int32", "1+"),
    f("groups", "[]struct", "0+", fields=(
        f("error_code", "int16", "0+"),
        f("error_message", "string", "6+", nullable="6+", default=None),
        f("group_id", "string", "0+"),
        f("group_state", "string", "0+"),
        f("protocol_type", "string", "0+"),
        f("protocol_data", "string", "0+"),
        f("members", "[]struct", "0+", fields=(
            f("member_id", "string", "0+"),
            f("group_instance_id", "string", "4+", nullable="4+", default=None),
            f("client_id", "string", "0+"),
            f("client_host", "string", "0+"),
            f("member_metadata", "bytes", "0+"),
            f("member_assignment", "bytes", "0+"),
        )),
        f("authorized_operations", "int32", "3+", default=-2147483648),
    )),
))

LIST_GROUPS = api(16, "ListGroups", oldest=0, newest=5, flexible=3, request=(
    f("states_filter", "[]string", "4+"),
    f("types_filter", "[]string", "5+"),
), response=(
    f("throttle_time_ms", "int32", "1+"),
    f("error_code", "int16", "0+"),
    f("groups", "[]struct", "0+", fields=(
        f("group_id", "string", "0+"),
        f("protocol_type", "string", "0+"),
        f("group_state", "string", "4+"),
        f("group_type", "string", "5+"),
    )),
))

SASL_HANDSHAKE = api(17, "SaslHandshake", oldest=0, newest=1, flexible=None, request=(
    f("mechanism", "string", "0+"),
), response=(
    f("error_code", "int16", "0+"),
    f("mechanisms", "[]string", "0+"),
))

API_VERSIONS = api(18, "ApiVersions", oldest=0, newest=4, flexible=3, request=(
    f("client_software_name", "string", "3+"),
    f("client_software_version", "string", "3+"),
), response=(
    f("error_code", "int16", "0+"),
    f("api_keys", "[]struct", "0+", fields=(
        f("api_key", "int16", "0+"),
        f("min_version", "int16", "0+"),
        f("max_version", "int16", "0+"),
    )),
    f("throttle_time_ms", "int32", "1+"),
    f("supported_features", "[]struct", "3+", tag=0, tagged="3+", fields=(
        f("name", "string", "3+"),
        f("min_version", "int16", "3+"),
        f("max_version", "int16", "3+"),
    )),
    f("finalized_features_epoch", "int64", "3+", tag=1, tagged="3+", default=-1),
    f("finalized_features", "[]struct", "3+", tag=2, tagged="3+", fields=(
        f("name", "string", "3+"),
        f("max_version_level", "int16", "3+"),
        f("min_version_level", "int16", "3+"),
    )),
    f("zk_migration_ready", "bool", "3+", tag=3, tagged="3+", default=False),
))

CREATE_TOPICS = api(19, "CreateTopics", oldest=2, newest=7, flexible=5, request=(
    f("topics", "[]struct", "0+", fields=(
        f("name", "string", "0+"),
        f("num_partitions", "int32", "0+"),
        f("replication_factor", "int16", "0+"),
        f("assignments", "[]struct", "0+", fields=(
            f("partition_index", "int32", "0+"),
            f("broker_ids", "[]int32", "0+"),
        )),
        f("configs", "[]struct", "0+", fields=(
            f("name", "string", "0+"),
            f("value", "string", "0+", nullable="0+"),
        )),
    )),
    f("timeout_ms", "int32", "0+", default=60000),
    f("validate_only", "bool", "1+", default=False),
), response=(
    f("throttle_time_ms", "int32", "2+"),
    f("topics", "[]struct", "0+", fields=(
        f("name", "string", "0+"),
        f("topic_id", "uuid", "7+"),
        f("error_code", "int16", "0+"),
        f("error_message", "string", "1+", nullable="0+"),
        f("topic_config_error_code", "int16", "5+", tag=0, tagged="5+"),
        f("num_partitions", "int32", "5+", default=-1),
        f("replication_factor", "int16", "5+", default=-1),
        f("configs", "[]struct", "5+", nullable="5+", fields=(
            f("name", "string", "5+"),
            f("value", "string", "5+", nullable="5+"),
            f("read_only", "bool", "5+"),
            f("config_source", "int8", "5+", default=-1),
            f("is_sensitive", "bool", "5+"),
        )),
    )),
))

DELETE_TOPICS = api(20, "DeleteTopics", oldest=1, newest=6, flexible=4, request=(
    f("topics", "[]struct", "6+", fields=(
        f("name", "string", "6+", nullable="6+", default=None),
        f("topic_id", "uuid", "6+"),
    )),
    f("topic_names", "[]string", "0-5"),
    f("timeout_ms", "int32", "0+"),
), response=(
    f("throttle_time_ms", "int32", "1+"),
    f("responses", "[]struct", "0+", fields=(
        f("name", "string", "0+", nullable="6+"),
        f("topic_id", "uuid", "6+"),
        f("error_code", "int16", "0+"),
        f("error_message", "string", "5+", nullable="5+", default=None),
    )),
))

DELETE_RECORDS = api(21, "DeleteRecords", oldest=0, newest=2, flexible=2, request=(
    f("topics", "[]struct", "0+", fields=(
        f("name", "string", "0+"),
        f("partitions", "[]struct", "0+", fields=(
            f("partition_index", "int32", "0+"),
            f("offset", "int64", "0+"),
        )),
    )),
    f("timeout_ms", "int32", "0+"),
), response=(
    f("throttle_time_ms", "int32", "0+"),
    f("topics", "[]struct", "0+", fields=(
        f("name", "string", "0+"),
        f("partitions", "[]struct", "0+", fields=(
            f("partition_index", "int32", "0+"),
            f("low_watermark", "int64", "0+"),
            f("error_code", "int16", "0+"),
        )),
    )),
))

INIT_PRODUCER_ID = api(22, "InitProducerId", oldest=0, newest=6, flexible=2, request=(
    f("transactional_id", "string", "0+", nullable="0+"),
    f("transaction_timeout_ms", "int32", "0+"),
    f("producer_id", "int64", "3+", default=-1),
    f("producer_epoch", "int16", "3+", default=-1),
    f("enable2_pc", "bool", "6+", default=False),
    f("keep_prepared_txn", "bool", "6+", default=False),
), response=(
    f("throttle_time_ms", "int32", "0+"),
    f("error_code", "int16", "0+"),
    f("producer_id", "int64", "0+", default=-1),
    f("producer_epoch", "int16", "0+"),
    f("ongoing_txn_producer_id", "int64", "6+", default=-1),
    f("ongoing_txn_producer_epoch", "int16", "6+", default=-1),
))

_ACL_FILTER = (
    f("resource_type_filter", "int8", "0+"),
    f("resource_name_filter", "string", "0+", nullable="0+"),
    f("pattern_type_filter", "int8", "1+", default=3),
    f("principal_filter", "string", "0+", nullable="0+"),
    f("host_filter", "string", "0+", nullable="0+"),
    f("operation", "int8", "0+"),
    f("permission_type", "int8", "0+"),
)

DESCRIBE_ACLS = api(29, "DescribeAcls", oldest=1, newest=3, flexible=2, request=_ACL_FILTER,
                    response=(
    f("throttle_time_ms", "int32", "0+"),
    f("error_code", "int16", "0+"),
    f("error_message", "string", "0+", nullable="0+"),
    f("resources", "[]struct", "0+", fields=(
        f("resource_type", "int8", "0+"),
        f("resource_name", "string", "0+"),
        f("pattern_type", "int8", "1+", default=3),
        f("acls", "[]struct", "0+", fields=(
            f("principal", "string", "0+"),
            f("host", "string", "0+"),
            f("operation", "int8", "0+"),
            f("permission_type", "int8", "0+"),
        )),
    )),
))

CREATE_ACLS = api(30, "CreateAcls", oldest=1, newest=3, flexible=2, request=(
    f("creations", "[]struct", "0+", fields=(
        f("resource_type", "int8", "0+"),
        f("resource_name", "string", "0+"),
        f("resource_pattern_type", "int8", "1+", default=3),
        f("principal", "string", "0+"),
        f("host", "string", "0+"),
        f("operation", "int8", "0+"),
        f("permission_type", "int8", "0+"),
    )),
), response=(
    f("throttle_time_ms", "int32", "0+"),
    f("results", "[]struct", "0+", fields=(
        f("error_code", "int16", "0+"),
        f("error_message", "string", "0+", nullable="0+"),
    )),
))

DELETE_ACLS = api(31, "DeleteAcls", oldest=1, newest=3, flexible=2, request=(
    f("filters", "[]struct", "0+", fields=_ACL_FILTER),
), response=(
    f("throttle_time_ms", "int32", "0+"),
    f("filter_results", "[]struct", "0+", fields=(
        f("error_code", "int16", "0+"),
        f("error_message", "string", "0+", nullable="0+"),
        f("matching_acls", "[]struct", "0+", fields=(
            f("error_code", "int16", "0+"),
            f("error_message", "string", "0+", nullable="0+"),
            f("resource_type", "int8", "0+"),
            f("resource_name", "string", "0+"),
            f("pattern_type", "int8", "1+", default=3),
            f("principal", "string", "0+"),
            f("host", "string", "0+"),
            f("operation", "int8", "0+"),
            f("permission_type", "int8", "0+"),
        )),
    )),
))

DESCRIBE_CONFIGS = api(32, "DescribeConfigs", oldest=1, newest=4, flexible=4, request=(
    f("resources", "[]struct", "0+", fields=(
        f("resource_type", "int8", "0+"),
        f("resource_name", "string", "0+"),
        f("configuration_keys", "[]string", "0+", nullable="0+"),
    )),
    f("include_synonyms", "bool", "1+", default=False),
    f("include_documentation", "bool", "3+", default=False),
), response=(
    f("throttle_time_ms", "int32", "0+"),
    f("results", "[]struct", "0+", fields=(
        f("error_code", "int16", "0+"),
        f("error_message", "string", "0+", nullable="0+"),
        f("resource_type", "int8", "0+"),
        f("resource_name", "string", "0+"),
        f("configs", "[]struct", "0+", fields=(
            f("name", "string", "0+"),
            f("value", "string", "0+", nullable="0+"),
            f("read_only", "bool", "0+"),
            f("config_source", "int8", "1+", default=-1),
            f("is_default", "bool", "0"),
            f("is_sensitive", "bool", "0+"),
            f("synonyms", "[]struct", "1+", fields=(
                f("name", "string", "1+"),
                f("value", "string", "1+", nullable="0+"),
                f("source", "int8", "1+"),
            )),
            f("config_type", "int8", "3+", default=0),
            f("documentation", "string", "3+", nullable="0+"),
        )),
    )),
))

ALTER_CONFIGS = api(33, "AlterConfigs", oldest=0, newest=2, flexible=2, request=(
    f("resources", "[]struct", "0+", fields=(
        f("resource_type", "int8", "0+"),
        f("resource_name", "string", "0+"),
        f("configs", "[]struct", "0+", fields=(
            f("name", "string", "0+"),
            f("value", "string", "0+", nullable="0+"),
        )),
    )),
    f("validate_only", "bool", "0+"),
), response=(
    f("throttle_time_ms", "int32", "0+"),
    f("responses", "[]struct", "0+", fields=(
        f("error_code", "int16", "0+"),
        f("error_message", "string", "0+", nullable="0+"),
        f("resource_type", "int8", "0+"),
        f("resource_name", "string", "0+"),
    )),
))

SASL_AUTHENTICATE = api(36, "SaslAuthenticate", oldest=0, newest=2, flexible=2, request=(
    f("auth_bytes", "bytes", "0+"),
), response=(
    f("error_code", "int16", "0+"),
    f("error_message", "string", "0+", nullable="0+"),
    f("auth_bytes", "bytes", "0+"),
    f("session_lifetime_ms", "int64", "1+", default=0),
))

CREATE_PARTITIONS = api(37, "CreatePartitions", oldest=0, newest=3, flexible=2, request=(
    f("topics", "[]struct", "0+", fields=(
        f("name", "string", "0+"),
        f("count", "int32", "0+"),
        f("assignments", "[]struct", "0+", nullable="0+", fields=(
            f("broker_ids", "[]int32", "0+"),
        )),
    )),
    f("timeout_ms", "int32", "0+"),
    f("validate_only", "bool", "0+"),
), response=(
    f("throttle_time_ms", "int32", "0+"),
    f("results", "[]struct", "0+", fields=(
        f("name", "string", "0+"),
        f("error_code", "int16", "0+"),
        f("error_message", "string", "0+", nullable="0+", default=None),
    )),
))

DELETE_GROUPS = api(42, "DeleteGroups", oldest=0, newest=2, flexible=2, request=(
    f("groups_names", "[]string", "0+"),
), response=(
    f("throttle_time_ms", "int32", "0+"),
    f("results", "[]struct", "0+", fields=(
        f("group_id", "string", "0+"),
        f("error_code", "int16", "0+"),
    )),
))

INCREMENTAL_ALTER_CONFIGS = api(44, "IncrementalAlterConfigs", oldest=0, newest=1, flexible=1, request=(
    f("resources", "[]struct", "0+", fields=(
        f("resource_type", "int8", "0+"),
        f("resource_name", "string", "0+"),
        f("configs", "[]struct", "0+", fields=(
            f("name", "string", "0+"),
            f("config_operation", "int8", "0+"),
            f("value", "string", "0+", nullable="0+"),
        )),
    )),
    f("validate_only", "bool", "0+"),
), response=(
    f("throttle_time_ms", "int32", "0+"),
    f("responses", "[]struct", "0+", fields=(
        f("error_code", "int16", "0+"),
        f("error_message", "string", "0+", nullable="0+"),
        f("resource_type", "int8", "0+"),
        f("resource_name", "string", "0+"),
    )),
))

OFFSET_DELETE = api(47, "OffsetDelete", oldest=0, newest=0, flexible=None, request=(
    f("group_id", "string", "0+"),
    f("topics", "[]struct", "0+", fields=(
        f("name", "string", "0+"),
        f("partitions", "[]struct", "0+", fields=(
            f("partition_index", "int32", "0+"),
        )),
    )),
), response=(
    f("error_code", "int16", "0+"),
    f("throttle_time_ms", "int32", "0+"),
    f("topics", "[]struct", "0+", fields=(
        f("name", "string", "0+"),
        f("partitions", "[]struct", "0+", fields=(
            f("partition_index", "int32", "0+"),
            f("error_code", "int16", "0+"),
        )),
    )),
))

DESCRIBE_USER_SCRAM_CREDENTIALS = api(50, "DescribeUserScramCredentials", oldest=0, newest=0,
                                      flexible=0, request=(
    f("users", "[]struct", "0+", nullable="0+", fields=(
        f("name", "string", "0+"),
    )),
), response=(
    f("throttle_time_ms", "int32", "0+"),
    f("error_code", "int16", "0+"),
    f("error_message", "string", "0+", nullable="0+"),
    f("results", "[]struct", "0+", fields=(
        f("user", "string", "0+"),
        f("error_code", "int16", "0+"),
        f("error_message", "string", "0+", nullable="0+"),
        f("credential_infos", "[]struct", "0+", fields=(
            f("mechanism", "int8", "0+"),
            f("iterations", "int32", "0+"),
        )),
    )),
))

ALTER_USER_SCRAM_CREDENTIALS = api(51, "AlterUserScramCredentials", oldest=0, newest=0,
                                   flexible=0, request=(
    f("deletions", "[]struct", "0+", fields=(
        f("name", "string", "0+"),
        f("mechanism", "int8", "0+"),
    )),
    f("upsertions", "[]struct", "0+", fields=(
        f("name", "string", "0+"),
        f("mechanism", "int8", "0+"),
        f("iterations", "int32", "0+"),
        f("salt", "bytes", "0+"),
        f("salted_password", "bytes", "0+"),
    )),
), response=(
    f("throttle_time_ms", "int32", "0+"),
    f("results", "[]struct", "0+", fields=(
        f("user", "string", "0+"),
        f("error_code", "int16", "0+"),
        f("error_message", "string", "0+", nullable="0+"),
    )),
))

DESCRIBE_CLUSTER = api(60, "DescribeCluster", oldest=0, newest=2, flexible=0, request=(
    f("include_cluster_authorized_operations", "bool", "0+"),
    f("endpoint_type", "int8", "1+", default=1),
    f("include_fenced_brokers", "bool", "2+"),
), response=(
    f("throttle_time_ms", "int32", "0+"),
    f("error_code", "int16", "0+"),
    f("error_message", "string", "0+", nullable="0+", default=None),
    f("endpoint_type", "int8", "1+", default=1),
    f("cluster_id", "string", "0+"),
    f("controller_id", "int32", "0+", default=-1),
    f("brokers", "[]struct", "0+", fields=(
        f("broker_id", "int32", "0+"),
        f("host", "string", "0+"),
        f("port", "int32", "0+"),
        f("rack", "string", "0+", nullable="0+", default=None),
        f("is_fenced", "bool", "2+"),
    )),
    f("cluster_authorized_operations", "int32", "0+", default=-2147483648),
))

# From apache/kafka at 1eb7644 (October 2024): kafka-python 3.0.12 does not ship this API.
CONSUMER_GROUP_HEARTBEAT = api(68, "ConsumerGroupHeartbeat", oldest=0, newest=1, flexible=0, request=(
    f("group_id", "string", "0+"),
    f("member_id", "string", "0+"),
    f("member_epoch", "int32", "0+"),
    f("instance_id", "string", "0+", nullable="0+", default=None),
    f("rack_id", "string", "0+", nullable="0+", default=None),
    f("rebalance_timeout_ms", "int32", "0+", default=-1),
    f("subscribed_topic_names", "[]string", "0+", nullable="0+", default=None),
    f("subscribed_topic_regex", "string", "1+", nullable="1+", default=None),
    f("server_assignor", "string", "0+", nullable="0+", default=None),
    f("topic_partitions", "[]struct", "0+", nullable="0+", default=None, fields=(
        f("topic_id", "uuid", "0+"),
        f("partitions", "[]int32", "0+"),
    )),
), response=(
    f("throttle_time_ms", "int32", "0+"),
    f("error_code", "int16", "0+"),
    f("error_message", "string", "0+", nullable="0+", default=None),
    f("member_id", "string", "0+", nullable="0+", default=None),
    f("member_epoch", "int32", "0+"),
    f("heartbeat_interval_ms", "int32", "0+"),
    f("assignment", "struct", "0+", nullable="0+", default=None, fields=(
        f("topic_partitions", "[]struct", "0+", fields=(
            f("topic_id", "uuid", "0+"),
            f("partitions", "[]int32", "0+"),
        )),
    )),
))

# From apache/kafka at 1eb7644 (October 2024): kafka-python 3.0.12 does not ship this API.
CONSUMER_GROUP_DESCRIBE = api(69, "ConsumerGroupDescribe", oldest=0, newest=0, flexible=0, request=(
    f("group_ids", "[]string", "0+"),
    f("include_authorized_operations", "bool", "0+"),
), response=(
    f("throttle_time_ms", "int32", "0+"),
    f("groups", "[]struct", "0+", fields=(
        f("error_code", "int16", "0+"),
        f("error_message", "string", "0+", nullable="0+", default=None),
        f("group_id", "string", "0+"),
        f("group_state", "string", "0+"),
        f("group_epoch", "int32", "0+"),
        f("assignment_epoch", "int32", "0+"),
        f("assignor_name", "string", "0+"),
        f("members", "[]struct", "0+", fields=(
            f("member_id", "string", "0+"),
            f("instance_id", "string", "0+", nullable="0+", default=None),
            f("rack_id", "string", "0+", nullable="0+", default=None),
            f("member_epoch", "int32", "0+"),
            f("client_id", "string", "0+"),
            f("client_host", "string", "0+"),
            f("subscribed_topic_names", "[]string", "0+"),
            f("subscribed_topic_regex", "string", "0+", nullable="0+", default=None),
            f("assignment", "struct", "0+", fields=(
                f("topic_partitions", "[]struct", "0+", fields=(
                    f("topic_id", "uuid", "0+"),
                    f("topic_name", "string", "0+"),
                    f("partitions", "[]int32", "0+"),
                )),
            )),
            f("target_assignment", "struct", "0+", fields=(
                f("topic_partitions", "[]struct", "0+", fields=(
                    f("topic_id", "uuid", "0+"),
                    f("topic_name", "string", "0+"),
                    f("partitions", "[]int32", "0+"),
                )),
            )),
        )),
        f("authorized_operations", "int32", "0+", default=-2147483648),
    )),
))

# --- FlyQ's extension APIs (spec/protocol.md "Extension APIs", EXT-1..6) ----------------------------
# Private api keys from FLYQ_KEY_RANGE: Kafka's keys are allocated sequentially from 0 (under 100
# today), so this range far up the int16 space will not meet one. Not in Kafka's JSON: the golden
# vectors come from the hand encoder in scripts/gen_extension_vectors.py.
FLYQ_KEY_RANGE = range(30000, 30100)

_PARTITION_OFFSETS = (
    f("log_start_offset", "int64", "0+", default=-1),
    f("high_watermark", "int64", "0+", default=-1),
    f("log_end_offset", "int64", "0+", default=-1),
)

FLYQ_READ_BACKWARD = api(30000, "FlyqReadBackward", oldest=0, newest=0, flexible=0, request=(
    f("topic", "string", "0+"),
    f("partition", "int32", "0+"),
    f("from_offset", "int64", "0+", default=-1),
    f("max_records", "int32", "0+"),
    f("max_bytes", "int32", "0+", default=2147483647),
), response=(
    f("throttle_time_ms", "int32", "0+", default=0),
    f("error_code", "int16", "0+"),
    f("error_message", "string", "0+", nullable="0+", default=None),
    *_PARTITION_OFFSETS,
    f("records", "[]struct", "0+", fields=(
        f("offset", "int64", "0+"),
        f("timestamp", "int64", "0+"),
        f("key", "bytes", "0+", nullable="0+"),
        f("value", "bytes", "0+", nullable="0+"),
        f("headers", "[]struct", "0+", fields=(
            f("key", "string", "0+"),
            f("value", "bytes", "0+", nullable="0+"),
        )),
    )),
))

_PARTITIONS_REQUEST = (
    f("topics", "[]struct", "0+", fields=(
        f("name", "string", "0+"),
        f("partitions", "[]int32", "0+"),
    )),
)

FLYQ_PARTITION_STATE = api(30001, "FlyqPartitionState", oldest=0, newest=0, flexible=0,
                           request=_PARTITIONS_REQUEST, response=(
    f("throttle_time_ms", "int32", "0+", default=0),
    f("topics", "[]struct", "0+", fields=(
        f("name", "string", "0+"),
        f("partitions", "[]struct", "0+", fields=(
            f("partition_index", "int32", "0+"),
            f("error_code", "int16", "0+"),
            f("error_message", "string", "0+", nullable="0+", default=None),
            *_PARTITION_OFFSETS,
            f("durable_offset", "int64", "0+", default=-1),
            f("segment_count", "int32", "0+", default=0),
            f("size_bytes", "int64", "0+", default=0),
            f("state", "string", "0+", default=""),
            f("failure", "string", "0+", nullable="0+", default=None),
            f("last_index_check_ms", "int64", "0+", default=-1),
            f("problems", "[]string", "0+"),
        )),
    )),
))

FLYQ_VERIFY_INDEX = api(30002, "FlyqVerifyIndex", oldest=0, newest=0, flexible=0,
                        request=_PARTITIONS_REQUEST, response=(
    f("throttle_time_ms", "int32", "0+", default=0),
    f("topics", "[]struct", "0+", fields=(
        f("name", "string", "0+"),
        f("partitions", "[]struct", "0+", fields=(
            f("partition_index", "int32", "0+"),
            f("error_code", "int16", "0+"),
            f("error_message", "string", "0+", nullable="0+", default=None),
            f("checked_ms", "int64", "0+", default=-1),
            f("problems", "[]string", "0+"),
        )),
    )),
))

FLYQ_API_KEYS = frozenset(
    (FLYQ_READ_BACKWARD.key, FLYQ_PARTITION_STATE.key, FLYQ_VERIFY_INDEX.key))

APIS: Mapping[int, ApiSchema] = {api.key: api for api in (
    PRODUCE,
    FETCH,
    LIST_OFFSETS,
    METADATA,
    OFFSET_COMMIT,
    OFFSET_FETCH,
    FIND_COORDINATOR,
    JOIN_GROUP,
    HEARTBEAT,
    LEAVE_GROUP,
    SYNC_GROUP,
    DESCRIBE_GROUPS,
    LIST_GROUPS,
    SASL_HANDSHAKE,
    API_VERSIONS,
    CREATE_TOPICS,
    DELETE_TOPICS,
    DELETE_RECORDS,
    INIT_PRODUCER_ID,
    DESCRIBE_ACLS,
    CREATE_ACLS,
    DELETE_ACLS,
    DESCRIBE_CONFIGS,
    ALTER_CONFIGS,
    SASL_AUTHENTICATE,
    CREATE_PARTITIONS,
    DELETE_GROUPS,
    INCREMENTAL_ALTER_CONFIGS,
    OFFSET_DELETE,
    DESCRIBE_USER_SCRAM_CREDENTIALS,
    ALTER_USER_SCRAM_CREDENTIALS,
    DESCRIBE_CLUSTER,
    CONSUMER_GROUP_HEARTBEAT,
    CONSUMER_GROUP_DESCRIBE,
    FLYQ_READ_BACKWARD,
    FLYQ_PARTITION_STATE,
    FLYQ_VERIFY_INDEX,
)}
