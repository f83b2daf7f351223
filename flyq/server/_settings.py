"""What the network broker is told at start: where it listens and its limits (spec/protocol.md §7).

Settings come from `flyq broker` options and from the `[server]` table of the broker config file,
whose keys are Kafka's broker config names (TOML dotted keys, so `auto.create.topics.enable = false`
is written as in Kafka's server.properties). Options given on the command line win.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

import attrs

from flyq.errors import FlyQError, InvalidArgument, InvalidConfig
from flyq.values import is_int

__all__ = ["DEFAULT_PORT", "ServerSettings", "parse_address", "server_table"]

DEFAULT_PORT = 9092
_SERVER_TABLE = "server"


def _at_least_one(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not is_int(value) or value < 1:
        raise InvalidConfig(attribute.name, value, "must be an integer >= 1")


@attrs.frozen
class ServerSettings:
    """The listener and the limits of one broker process."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    # What Metadata and FindCoordinator tell clients to connect to (None: the listen address).
    advertised_host: str | None = None
    advertised_port: int | None = None
    auto_create_topics: bool = True  # auto.create.topics.enable
    num_partitions: int = attrs.field(default=1, validator=_at_least_one)
    # socket.request.max.bytes: the largest request frame a client may send.
    socket_request_max_bytes: int = attrs.field(default=100 * 1024 * 1024,
                                                validator=_at_least_one)
    max_connections: int = attrs.field(default=1000, validator=_at_least_one)
    connections_max_idle_ms: int = attrs.field(default=600_000, validator=_at_least_one)
    # A connection stops being read while the responses it has not yet been sent exceed this.
    max_unanswered_bytes: int = attrs.field(default=64 * 1024 * 1024, validator=_at_least_one)
    # ... or while this many of its requests are unanswered (each is a task in memory).
    max_in_flight_requests: int = attrs.field(default=1000, validator=_at_least_one)
    # node.id / broker.id: this broker's id in Metadata.
    node_id: int = 0
    # group.consumer.session.timeout.ms / group.consumer.heartbeat.interval.ms: the consumer
    # group protocol's (KIP-848) session and heartbeat interval, Kafka's defaults (CG-17).
    consumer_session_timeout_ms: int = attrs.field(default=45_000, validator=_at_least_one)
    consumer_heartbeat_interval_ms: int = attrs.field(default=5_000, validator=_at_least_one)
    # authorizer.enabled: enforce ACLs (spec/acl.md); off, every request is allowed, as in Kafka
    # with no authorizer.class.name.
    authorizer_enabled: bool = False
    # super.users: principals every operation is allowed to ("User:admin;User:ops" in the file).
    super_users: frozenset[str] = frozenset()
    # allow.everyone.if.no.acl.found: what a resource no ACL matches allows (ACL-7).
    allow_everyone_if_no_acl_found: bool = False

    def __attrs_post_init__(self) -> None:
        if self.consumer_heartbeat_interval_ms >= self.consumer_session_timeout_ms:
            raise InvalidConfig(
                "consumer_heartbeat_interval_ms",
                self.consumer_heartbeat_interval_ms,
                f"less than consumer_session_timeout_ms={self.consumer_session_timeout_ms}",
            )

    @property
    def advertised(self) -> tuple[str, int]:
        """(host, port) clients are told to use."""
        host = self.advertised_host if self.advertised_host is not None else self.host
        port = self.advertised_port if self.advertised_port is not None else self.port
        return host, port


def parse_address(text: str, *, option: str) -> tuple[str, int]:
    """`HOST:PORT` (or `[v6]:PORT`) as a pair; `InvalidArgument` naming `option` otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InvalidArgument(option, text, "HOST:PORT with a port from 0 to 65535")
    return host.strip("[]"), int(port)


# Kafka broker config name -> ServerSettings field.
_KAFKA_NAMES = {
    "auto.create.topics.enable": "auto_create_topics",
    "num.partitions": "num_partitions",
    "socket.request.max.bytes": "socket_request_max_bytes",
    "max.connections": "max_connections",
    "connections.max.idle.ms": "connections_max_idle_ms",
    "node.id": "node_id",
    "broker.id": "node_id",
    "group.consumer.session.timeout.ms": "consumer_session_timeout_ms",
    "group.consumer.heartbeat.interval.ms": "consumer_heartbeat_interval_ms",
    "authorizer.enabled": "authorizer_enabled",
    "super.users": "super_users",
    "allow.everyone.if.no.acl.found": "allow_everyone_if_no_acl_found",
}
_BOOLEANS = frozenset({"auto_create_topics", "authorizer_enabled", "allow_everyone_if_no_acl_found"})


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _principals(key: str, value: Any) -> frozenset[str]:
    """`super.users`: Kafka's "User:a;User:b" string, or a TOML list of principals."""
    items = value.split(";") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise InvalidConfig(key, value, 'expected "User:a;User:b" or a list of principals')
    principals = frozenset(item.strip() for item in items if item.strip())
    for principal in principals:
        kind, sep, name = principal.partition(":")
        if not sep or not kind or not name:
            raise InvalidConfig(key, principal, "a principal TYPE:NAME, e.g. User:admin")
    return principals


def server_table(data: bytes, *, source: str) -> dict[str, Any]:
    """ServerSettings fields from the `[server]` table of a broker config file (may be empty).

    Keys are Kafka's names (`auto.create.topics.enable`, `num.partitions`, ...) plus `listen` and
    `advertised` (HOST:PORT). An unknown key or a value of the wrong type raises `InvalidConfig`
    naming the file and the key.
    """
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidConfig(source, None, f"not a valid TOML file ({exc})") from exc
    table = document.get(_SERVER_TABLE, {})
    if not isinstance(table, Mapping):
        raise InvalidConfig(f"{source}: {_SERVER_TABLE}", table, "expected a table")
    fields: dict[str, Any] = {}
    for name, value in _flatten(table).items():
        key = f"{source}: [{_SERVER_TABLE}] {name}"
        if name in ("listen", "advertised"):
            if not isinstance(value, str):
                raise InvalidConfig(key, value, "expected a string HOST:PORT")
            try:
                host, port = parse_address(value, option=name)
            except FlyQError as exc:
                raise InvalidConfig(key, value, "expected HOST:PORT") from exc
            if name == "listen":
                fields["host"], fields["port"] = host, port
            else:
                fields["advertised_host"], fields["advertised_port"] = host, port
            continue
        field = _KAFKA_NAMES.get(name)
        if field is None:
            known = ", ".join(sorted([*_KAFKA_NAMES, "listen", "advertised"]))
            raise InvalidConfig(key, value, f"unknown key; expected one of {known}")
        if field in _BOOLEANS:
            if not isinstance(value, bool):
                raise InvalidConfig(key, value, "expected true or false")
        elif field == "super_users":
            fields[field] = _principals(key, value)
            continue
        elif not is_int(value):
            raise InvalidConfig(key, value, "expected an integer")
        fields[field] = value
    return fields
