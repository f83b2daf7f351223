"""The [server] table of the broker config file and --listen parsing (flyq/server/_settings.py)."""

from __future__ import annotations

import pytest

from flyq.errors import InvalidArgument, InvalidConfig
from flyq.impl.broker_config import parse_broker_config
from flyq.server import Listener, ServerSettings, parse_address, server_table


def test_kafka_names_as_toml_dotted_keys() -> None:
    """Kafka's broker config names, written as in server.properties, set the settings."""
    fields = server_table(b"""
[server]
listen = "0.0.0.0:9093"
advertised = "broker.example:19093"
auto.create.topics.enable = false
num.partitions = 3
socket.request.max.bytes = 1048576
"max.connections" = 7
node.id = 2
""", source="f.toml")
    settings = ServerSettings(**fields)
    (listener,) = settings.listeners
    assert (listener.security_protocol, listener.host, listener.port) == ("PLAINTEXT", "0.0.0.0",
                                                                          9093)
    assert settings.advertised("PLAINTEXT") == ("broker.example", 19093)
    assert settings.auto_create_topics is False
    assert (settings.num_partitions, settings.socket_request_max_bytes) == (3, 1048576)
    assert (settings.max_connections, settings.node_id) == (7, 2)


@pytest.mark.parametrize(("text", "message"), [
    (b"[server]\nnum.partition = 3\n", "unknown key"),
    (b"[server]\nnum.partitions = \"3\"\n", "expected an integer"),
    (b"[server]\nauto.create.topics.enable = 1\n", "true or false"),
    (b"[server]\nlisten = \"nohost\"\n", "HOST:PORT"),
    (b"[server\n", "not a valid TOML"),
])
def test_bad_server_tables_name_the_key(text: bytes, message: str) -> None:
    """An unknown key or a wrong type raises InvalidConfig naming the file."""
    with pytest.raises(InvalidConfig, match=message) as caught:
        server_table(text, source="f.toml")
    assert "f.toml" in str(caught.value)


def test_server_table_does_not_disturb_the_log_table() -> None:
    """BCFG-2: the [log] reader accepts a file that also has a [server] table."""
    config = parse_broker_config(b"[log]\nsegment_bytes = 4096\n[server]\nnum.partitions = 2\n",
                                 source="f.toml")
    assert config.segment_bytes == 4096


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:9092", ("127.0.0.1", 9092)),
    ("[::1]:0", ("::1", 0)),
    ("localhost:65535", ("localhost", 65535)),
])
def test_parse_address(text: str, expected: tuple[str, int]) -> None:
    """HOST:PORT and [v6]:PORT."""
    assert parse_address(text, option="--listen") == expected


@pytest.mark.parametrize("text", ["9092", ":9092", "host:", "host:70000", "host:port"])
def test_parse_address_refuses(text: str) -> None:
    """Anything else names the option."""
    with pytest.raises(InvalidArgument, match="--listen"):
        parse_address(text, option="--listen")


def test_settings_refuse_nonsense() -> None:
    """Limits must be >= 1."""
    with pytest.raises(InvalidConfig, match="num_partitions"):
        ServerSettings(num_partitions=0)


@pytest.mark.parametrize("field", ["num_partitions", "socket_request_max_bytes",
                                   "max_connections", "connections_max_idle_ms",
                                   "max_unanswered_bytes", "max_in_flight_requests"])
@pytest.mark.parametrize("value", [0, -1, True, "5"])
def test_every_limit_must_be_a_positive_integer(field: str, value: object) -> None:
    """Each limit refuses 0, negatives, booleans and strings, naming the field."""
    with pytest.raises(InvalidConfig, match=f"config {field}=.*must be an integer >= 1"):
        ServerSettings(**{field: value})
    assert getattr(ServerSettings(**{field: 1}), field) == 1


def test_defaults_are_kafkas() -> None:
    """The defaults are Kafka's where Kafka has the setting; advertised falls back to listen."""
    settings = ServerSettings()
    assert [listener.url for listener in settings.listeners] == ["PLAINTEXT://127.0.0.1:9092"]
    assert settings.auto_create_topics is True
    assert (settings.num_partitions, settings.socket_request_max_bytes) == (1, 104857600)
    assert settings.connections_max_idle_ms == 600_000
    assert settings.advertised("PLAINTEXT") == ("127.0.0.1", 9092)
    assert Listener("PLAINTEXT", "127.0.0.1", 1, advertised_port=2).advertised == ("127.0.0.1", 2)
    assert Listener("SSL", "127.0.0.1", 9092, advertised_host="h").advertised == ("h", 9092)


def test_server_table_errors_name_file_table_and_key() -> None:
    """The message says which file, the [server] table, the key and what was expected."""
    with pytest.raises(InvalidConfig) as caught:
        server_table(b"[server]\nmax.connections = \"many\"\n", source="b.toml")
    assert str(caught.value) == (
        "config b.toml: [server] max.connections='many': expected an integer")
    with pytest.raises(InvalidConfig) as caught:
        server_table(b"[server]\nadvertised = 5\n", source="b.toml")
    assert "expected a comma-separated string or a list of strings" in str(caught.value)
    with pytest.raises(InvalidConfig, match="expected a table"):
        server_table(b"server = 1\n", source="b.toml")
    assert server_table(b"[log]\nsegment_bytes = 1\n", source="b.toml") == {}
    assert server_table(b"[server]\nbroker.id = 3\n", source="b.toml") == {"node_id": 3}
    assert server_table(b'[server]\nadvertised = "[::1]:7"\n', source="b.toml") == {
        "listeners": (Listener("PLAINTEXT", "127.0.0.1", 9092, "::1", 7),)}


def test_consumer_group_protocol_settings() -> None:
    """CG-17: group.consumer.session.timeout.ms and group.consumer.heartbeat.interval.ms default to
    Kafka's 45000 and 5000, are read from the [server] table, and the interval must be below the
    session timeout."""
    assert (ServerSettings().consumer_session_timeout_ms,
            ServerSettings().consumer_heartbeat_interval_ms) == (45_000, 5_000)
    fields = server_table(b"""
[server]
group.consumer.session.timeout.ms = 9000
group.consumer.heartbeat.interval.ms = 900
""", source="f.toml")
    settings = ServerSettings(**fields)
    assert (settings.consumer_session_timeout_ms, settings.consumer_heartbeat_interval_ms) == (
        9_000, 900)
    with pytest.raises(InvalidConfig):
        ServerSettings(consumer_session_timeout_ms=1_000, consumer_heartbeat_interval_ms=1_000)
    with pytest.raises(InvalidConfig):
        ServerSettings(consumer_heartbeat_interval_ms=0)
