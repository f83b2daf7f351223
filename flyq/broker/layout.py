"""Every name inside a data directory, decided in this one module (spec/broker.md, BRK-1).

    DATA_DIR/flyq.toml                 broker config file (optional)
    DATA_DIR/cluster.id                the cluster id Kafka clients see, made on first start
    DATA_DIR/@consumer_offsets/        the consumer-group offset store (spec/groups.md)
    DATA_DIR/@producer-ids             end of the reserved producer-id block (IDEM-13)
    DATA_DIR/@security/                SCRAM credentials (spec/sasl.md SASL-12) and other security state
    DATA_DIR/NAME/topic.json           a topic's metadata, its commit point (TOPIC-1)
    DATA_DIR/NAME/NAME-P/              partition P's log directory, like Kafka's

A topic's directory is its name, so a topic name must never equal a name the data directory
reserves for itself: `check_topic_name` refuses those on top of the TOPIC-2 character rule. Pure:
no I/O, only names and path joins.
"""

from __future__ import annotations

import os

from flyq.codec.topic_name import validate_topic_name
from flyq.errors import InvalidTopicName

__all__ = [
    "CLUSTER_ID_FILE",
    "CONFIG_FILE",
    "GROUPS_DIRECTORY",
    "PRODUCER_IDS_FILE",
    "RESERVED_NAMES",
    "SECURITY_DIRECTORY",
    "TOPIC_METADATA_FILE",
    "check_topic_name",
    "cluster_id_path",
    "config_path",
    "groups_directory",
    "producer_ids_path",
    "security_directory",
    "partition_directory",
    "topic_directory",
    "topic_metadata_path",
]

CONFIG_FILE = "flyq.toml"
CLUSTER_ID_FILE = "cluster.id"
# `@` is not a legal topic-name character (TOPIC-2), so this can never be a topic's directory.
GROUPS_DIRECTORY = "@consumer_offsets"
# The end of the reserved block of producer ids (spec/idempotence.md IDEM-13); `@` keeps it apart
# from every topic name (TOPIC-2).
PRODUCER_IDS_FILE = "@producer-ids"
# Security state (SCRAM credentials, spec/sasl.md SASL-12): `@` keeps it apart from every topic
# name (TOPIC-2), so deleting a topic can never remove it.
SECURITY_DIRECTORY = "@security"
TOPIC_METADATA_FILE = "topic.json"
RESERVED_NAMES = frozenset({CONFIG_FILE, CLUSTER_ID_FILE, GROUPS_DIRECTORY, PRODUCER_IDS_FILE,
                            SECURITY_DIRECTORY})


def check_topic_name(name: object) -> str:
    """Return `name` if it may name a topic in a data directory (TOPIC-2 and BRK-1).

    Raises `InvalidTopicName` for a name breaking the character rule or one the data directory
    reserves (`flyq.toml`, `cluster.id`): such a topic's directory would be the config file.
    """
    checked = validate_topic_name(name)
    if checked in RESERVED_NAMES:
        raise InvalidTopicName(checked, "is reserved: the data directory uses that name itself")
    return checked


def topic_directory(data_dir: str, name: str) -> str:
    """Directory of topic `name`; `InvalidTopicName` for a name that may not be a topic."""
    return os.path.join(data_dir, check_topic_name(name))


def topic_metadata_path(data_dir: str, name: str) -> str:
    """Path of topic `name`'s `topic.json`."""
    return os.path.join(topic_directory(data_dir, name), TOPIC_METADATA_FILE)


def partition_directory(data_dir: str, name: str, partition: int) -> str:
    """Directory of partition `partition` of topic `name`: `DATA_DIR/NAME/NAME-P`."""
    return os.path.join(topic_directory(data_dir, name), f"{name}-{partition}")


def groups_directory(data_dir: str) -> str:
    """Directory of the data directory's consumer-group offset store."""
    return os.path.join(data_dir, GROUPS_DIRECTORY)


def producer_ids_path(data_dir: str) -> str:
    """Where the data directory's producer-id block checkpoint lives (IDEM-13)."""
    return os.path.join(data_dir, PRODUCER_IDS_FILE)


def config_path(data_dir: str) -> str:
    """Where the broker config file of `data_dir` lives."""
    return os.path.join(data_dir, CONFIG_FILE)


def cluster_id_path(data_dir: str) -> str:
    """Where the cluster id of `data_dir` is kept."""
    return os.path.join(data_dir, CLUSTER_ID_FILE)


def security_directory(data_dir: str) -> str:
    """Directory of the data directory's security state (SCRAM credentials)."""
    return os.path.join(data_dir, SECURITY_DIRECTORY)
