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

from flyq.auth import SASL_MECHANISMS
from flyq.errors import InvalidArgument, InvalidConfig
from flyq.server._listeners import Listener, parse_address, parse_listeners, with_advertised
from flyq.server._tls import TlsSettings
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

    # Where clients connect, each with its security protocol and advertised address (LSN-1..6).
    listeners: tuple[Listener, ...] = (Listener("PLAINTEXT", "127.0.0.1", DEFAULT_PORT),)
    # The certificate, key and client-certificate policy of SSL and SASL_SSL listeners (TLS-1..6).
    tls: TlsSettings | None = None
    # sasl.enabled.mechanisms: what SASL listeners offer (AUTH-3).
    sasl_enabled_mechanisms: tuple[str, ...] = SASL_MECHANISMS
    # sasl.server.max.receive.size: the largest frame before authentication (AUTH-2, Kafka's).
    sasl_max_receive_bytes: int = attrs.field(default=524_288, validator=_at_least_one)
    # connection.failed.authentication.delay.ms: a failed authentication is answered (and its
    # connection closed) this much later, as Kafka does, to slow down guessing (AUTH-5).
    failed_authentication_delay_ms: int = 100
    # At most this many failed authentications per address in the window (AUTH-6).
    failed_authentication_limit: int = attrs.field(default=5, validator=_at_least_one)
    failed_authentication_window_ms: int = attrs.field(default=60_000, validator=_at_least_one)
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
        if not self.listeners:
            raise InvalidConfig("listeners", "", "at least one listener")
        for listener in self.listeners:
            if listener.tls and self.tls is None:
                raise InvalidConfig("listeners", listener.url, "ssl.certificate.location and "
                                    "ssl.key.location (--ssl-cert, --ssl-key) for a TLS listener")
        unknown = [name for name in self.sasl_enabled_mechanisms if name not in SASL_MECHANISMS]
        if unknown or not self.sasl_enabled_mechanisms:
            raise InvalidConfig("sasl.enabled.mechanisms", ",".join(self.sasl_enabled_mechanisms),
                                "one or more of " + ", ".join(SASL_MECHANISMS))
        if self.failed_authentication_delay_ms < 0:
            raise InvalidConfig("connection.failed.authentication.delay.ms",
                                self.failed_authentication_delay_ms, "an integer >= 0")
        if self.consumer_heartbeat_interval_ms >= self.consumer_session_timeout_ms:
            raise InvalidConfig(
                "consumer_heartbeat_interval_ms",
                self.consumer_heartbeat_interval_ms,
                f"less than consumer_session_timeout_ms={self.consumer_session_timeout_ms}",
            )

    def listener(self, name: str) -> Listener:
        """The listener called `name` (its security protocol), or the first one."""
        for listener in self.listeners:
            if listener.name == name:
                return listener
        return self.listeners[0]

    def advertised(self, name: str) -> tuple[str, int]:
        """(host, port) a client that came in on listener `name` is told to use (LSN-4)."""
        return self.listener(name).advertised


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
    "sasl.enabled.mechanisms": "sasl_enabled_mechanisms",
    "sasl.server.max.receive.size": "sasl_max_receive_bytes",
    "connection.failed.authentication.delay.ms": "failed_authentication_delay_ms",
    "connection.failed.authentication.limit": "failed_authentication_limit",
    "connection.failed.authentication.window.ms": "failed_authentication_window_ms",
}
# Kafka's (librdkafka's, for PEM files) ssl.* names -> TlsSettings field.
_TLS_NAMES = {
    "ssl.certificate.location": "certfile",
    "ssl.key.location": "keyfile",
    "ssl.key.password": "key_password",
    "ssl.ca.location": "cafile",
    "ssl.client.auth": "client_auth",
    "ssl.principal.mapping.rules": "principal_mapping_rules",
}
_LISTENER_KEYS = ("listen", "listeners", "advertised", "advertised.listeners")
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


def _strings(key: str, value: Any) -> list[str]:
    """A comma-separated string or a TOML list of strings."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise InvalidConfig(key, value, "expected a comma-separated string or a list of strings")
    return [item.strip() for item in items if item.strip()]


def _listener_fields(addresses: Mapping[str, tuple[str, list[str]]]) -> dict[str, Any]:
    """`listeners` from the legacy `listen`/`advertised` or Kafka's `listeners` /
    `advertised.listeners` keys (LSN-1..4), each error naming its key."""
    if "listen" in addresses and "listeners" in addresses:
        key = addresses["listeners"][0]
        raise InvalidConfig(key, addresses["listeners"][1], "either listen or listeners, not both")
    given = addresses.get("listeners") or addresses.get("listen")
    if given is None and not ("advertised" in addresses or "advertised.listeners" in addresses):
        return {}
    try:
        listeners = (parse_listeners(given[1], option=given[0]) if given is not None
                     else ServerSettings().listeners)
        for name in ("advertised", "advertised.listeners"):
            if name in addresses:
                key, specs = addresses[name]
                listeners = with_advertised(listeners, specs, option=key)
    except InvalidArgument as exc:
        raise InvalidConfig(exc.name, exc.value, exc.expected) from exc
    return {"listeners": listeners}


def _tls_settings(tls: Mapping[str, str], source: str) -> TlsSettings:
    missing = [name for name, field in _TLS_NAMES.items()
               if field in ("certfile", "keyfile") and field not in tls]
    if missing:
        raise InvalidConfig(f"{source}: [{_SERVER_TABLE}] {missing[0]}", None,
                            "both ssl.certificate.location and ssl.key.location for TLS")
    return TlsSettings(**tls)


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
    addresses: dict[str, tuple[str, list[str]]] = {}
    tls: dict[str, str] = {}
    for name, value in _flatten(table).items():
        key = f"{source}: [{_SERVER_TABLE}] {name}"
        if name in _LISTENER_KEYS:
            addresses[name] = (key, _strings(key, value))
            continue
        if name in _TLS_NAMES:
            if not isinstance(value, str):
                raise InvalidConfig(key, value, "expected a string")
            tls[_TLS_NAMES[name]] = value
            continue
        field = _KAFKA_NAMES.get(name)
        if field is None:
            known = ", ".join(sorted([*_KAFKA_NAMES, *_TLS_NAMES, *_LISTENER_KEYS]))
            raise InvalidConfig(key, value, f"unknown key; expected one of {known}")
        if field in _BOOLEANS:
            if not isinstance(value, bool):
                raise InvalidConfig(key, value, "expected true or false")
        elif field == "super_users":
            fields[field] = _principals(key, value)
            continue
        elif field == "sasl_enabled_mechanisms":
            fields[field] = tuple(item.strip().upper() for item in _strings(key, value))
            continue
        elif not is_int(value):
            raise InvalidConfig(key, value, "expected an integer")
        fields[field] = value
    fields.update(_listener_fields(addresses))
    if tls:
        fields["tls"] = _tls_settings(tls, source)
    return fields
