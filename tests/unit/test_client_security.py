"""The client's security settings and its side of SASL (spec/client.md CLIENT-50..55): `Security`
validation, Kafka property names and sasl.jaas.config, Java .properties text, and `SaslClient`
driven against the real `flyq.auth.SaslServer` for every mechanism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flyq.auth import SaslServer, ScramCredential, make_credential
from flyq.auth._scram import SCRAM_MECHANISMS
from flyq.client import SaslClient, Security, parse_properties
from flyq.client._security import ssl_context
from flyq.errors import AuthenticationFailed, IllegalSaslState, InvalidArgument, InvalidConfig
from tests.tls_files import make_tls_files

GOLDEN = Path(__file__).parent.parent / "golden" / "vectors" / "scram_rfc7677.json"
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
SCRAM_JAAS = 'org.apache.kafka.common.security.scram.ScramLoginModule required '
PLAIN_JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required '


# --- Security -----------------------------------------------------------------------------------

def test_default_is_plaintext_without_tls_or_sasl() -> None:
    """CLIENT-50: Security() is PLAINTEXT, neither TLS nor SASL, and checks host names."""
    security = Security()
    assert (security.security_protocol, security.tls, security.sasl) == ("PLAINTEXT", False, False)
    assert security.ssl_check_hostname is True


@pytest.mark.parametrize("missing", ["sasl_mechanism", "sasl_username", "sasl_password"])
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_protocol_needs_mechanism_user_and_password(missing: str, protocol: str) -> None:
    """CLIENT-50: a SASL protocol without one of mechanism, username, password names it."""
    settings = {"sasl_mechanism": "PLAIN", "sasl_username": "alice", "sasl_password": "pw"}
    del settings[missing]
    with pytest.raises(InvalidArgument) as error:
        Security(protocol, **settings)  # type: ignore[arg-type]
    assert error.value.name == missing
    assert "pw" not in str(error.value).replace(missing, "")


@pytest.mark.parametrize(("settings", "field"), [
    ({"security_protocol": "TLS"}, "security_protocol"),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI", "sasl_username": "a",
      "sasl_password": "b"}, "sasl_mechanism"),
    ({"sasl_mechanism": "PLAIN"}, "sasl_mechanism"),
    ({"sasl_username": "alice"}, "sasl_username"),
    ({"security_protocol": "SSL", "sasl_password": "x"}, "sasl_password"),
    ({"ssl_cafile": "ca.pem"}, "ssl_cafile"),
    ({"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_username": "a",
      "sasl_password": "b", "ssl_certfile": "c.pem"}, "ssl_certfile"),
    ({"security_protocol": "SSL", "ssl_keyfile": "k.pem"}, "ssl_keyfile"),
])
def test_settings_that_do_not_fit_the_protocol_are_refused(settings: dict[str, str],
                                                          field: str) -> None:
    """CLIENT-50: unknown protocols and mechanisms, SASL settings without SASL, TLS settings
    without TLS and a key without a certificate are InvalidArgument naming the field."""
    with pytest.raises(InvalidArgument) as error:
        Security(**settings)  # type: ignore[arg-type]
    assert error.value.name == field


def test_repr_hides_the_passwords() -> None:
    """CLIENT-50: neither password shows in repr (it ends up in logs and tracebacks)."""
    security = Security("SASL_SSL", "SCRAM-SHA-256", "alice", "s3cr3t-pw",
                        ssl_certfile="c.pem", ssl_key_password="k3y-pw")
    text = repr(security)
    assert "alice" in text
    assert "s3cr3t-pw" not in text and "k3y-pw" not in text


# --- properties ---------------------------------------------------------------------------------

def test_kafka_property_names_map_to_the_settings() -> None:
    """CLIENT-51: librdkafka's names (sasl.username/password, ssl.*.location) set each field;
    ssl.endpoint.identification.algorithm empty turns host name checking off."""
    security = Security.from_properties({
        "security.protocol": "sasl_ssl", "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "alice", "sasl.password": "pw", "ssl.ca.location": "/ca.pem",
        "ssl.certificate.location": "/c.pem", "ssl.key.location": "/c.key",
        "ssl.endpoint.identification.algorithm": "", "client.id": "ignored",
        "request.timeout.ms": "1000"})
    assert security == Security("SASL_SSL", "SCRAM-SHA-512", "alice", "pw", "/ca.pem",
                                "/c.pem", "/c.key", ssl_check_hostname=False)


@pytest.mark.parametrize(("jaas", "mechanism", "user", "password"), [
    (PLAIN_JAAS + 'username="alice" password="alice-secret";', "PLAIN", "alice", "alice-secret"),
    (SCRAM_JAAS + 'username="bob"\n    password="p\\"w;x";', "SCRAM-SHA-256", "bob", 'p"w;x'),
    (SCRAM_JAAS + "username=carol password=plain-word;", "SCRAM-SHA-512", "carol", "plain-word"),
])
def test_jaas_config_gives_username_and_password(jaas: str, mechanism: str, user: str,
                                                 password: str) -> None:
    """CLIENT-51: sasl.jaas.config as Kafka's tools write it (quoted with escapes, or bare) gives
    the username and password."""
    security = Security.from_properties({"security.protocol": "SASL_PLAINTEXT",
                                         "sasl.mechanism": mechanism, "sasl.jaas.config": jaas})
    assert (security.sasl_username, security.sasl_password) == (user, password)


@pytest.mark.parametrize(("properties", "key"), [
    ({"security.protocol": "KERBEROS"}, "security.protocol"),
    ({"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
      "sasl.username": "alice"}, "sasl.password"),
    ({"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
      "sasl.jaas.config": PLAIN_JAAS + 'username="alice";'}, "sasl.password (or sasl.jaas.config)"),
    ({"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
      "sasl.jaas.config": SCRAM_JAAS + 'username="a" password="b";'}, "sasl.jaas.config"),
    ({"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
      "sasl.jaas.config": PLAIN_JAAS + 'username="a" password="b"', "sasl.username": "z"},
     "sasl.username"),
    ({"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
      "sasl.jaas.config": "com.example.Module required username=a;"}, "sasl.jaas.config"),
    ({"security.protocol": "SSL", "ssl.truststore.location": "/t.jks"},
     "ssl.truststore.location"),
    ({"security.protocol": "SSL", "ssl.ca.locaton": "/ca.pem"}, "ssl.ca.locaton"),
    ({"security.protocol": "SSL", "ssl.endpoint.identification.algorithm": "dns"},
     "ssl.endpoint.identification.algorithm"),
    ({"ssl.ca.location": "/ca.pem"}, "ssl.ca.location"),
])
def test_bad_properties_name_their_key(properties: dict[str, str], key: str) -> None:
    """CLIENT-51: a wrong value, a missing one, a misspelt security key or a JKS store is an
    InvalidConfig naming the key; the password never appears in the message."""
    with pytest.raises(InvalidConfig) as error:
        Security.from_properties(properties)
    assert error.value.key == key
    assert '"b"' not in str(error.value)


def test_properties_text_as_kafka_tools_write_it() -> None:
    """CLIENT-52: comments, `=`, `:` and blank separators, continuation lines and Java escapes."""
    text = ("# client.properties\n"
            "! another comment\n"
            "security.protocol=SASL_SSL\n"
            "sasl.mechanism : SCRAM-SHA-256\n"
            "ssl.ca.location /etc/ca.pem\n"
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \\\n"
            "    required username=\"alice\" \\\n"
            "    password=\"caf\\u00e9\";\n"
            "\n"
            "odd\\=key = a\\tb\n")
    properties = parse_properties(text)
    assert properties == {
        "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-256",
        "ssl.ca.location": "/etc/ca.pem",
        "sasl.jaas.config": 'org.apache.kafka.common.security.scram.ScramLoginModule '
                            'required username="alice" password="café";',
        "odd=key": "a\tb"}
    assert Security.from_properties(properties).sasl_password == "café"


def test_bad_unicode_escape_names_the_file_and_line() -> None:
    """CLIENT-52: a malformed \\u escape is InvalidConfig naming the source and the line."""
    with pytest.raises(InvalidConfig) as error:
        parse_properties("a=b\nsasl.username=\\u12x4\n", source="f.properties")
    assert error.value.key == "f.properties line 2"


def test_ssl_context_names_a_file_it_cannot_read(tmp_path: Path) -> None:
    """CLIENT-53: a CA file or client certificate that cannot be loaded is InvalidConfig naming
    it; good files make a context that verifies the broker and its host name."""
    tls = make_tls_files(tmp_path)
    context = ssl_context(Security("SSL", ssl_cafile=str(tls.ca), ssl_certfile=str(tls.client_cert),
                                   ssl_keyfile=str(tls.client_key)))
    assert context.check_hostname
    with pytest.raises(InvalidConfig) as error:
        ssl_context(Security("SSL", ssl_cafile=str(tmp_path / "missing.pem")))
    assert error.value.value == str(tmp_path / "missing.pem")
    with pytest.raises(InvalidConfig) as error:
        ssl_context(Security("SSL", ssl_certfile=str(tls.client_cert),
                             ssl_keyfile=str(tls.server_key)))
    assert error.value.key == "ssl_certfile/ssl_keyfile"


# --- SaslClient against the real SaslServer -----------------------------------------------------

def _server(store: dict[tuple[str, str], ScramCredential], enabled: tuple[str, ...] = MECHANISMS
            ) -> SaslServer:
    return SaslServer(enabled, lambda user, mechanism: store.get((user, mechanism)))


def _store(user: str, password: str) -> dict[tuple[str, str], ScramCredential]:
    return {(user, mechanism): make_credential(mechanism, password, iterations=4096)
            for mechanism in SCRAM_MECHANISMS}


def _exchange(client: SaslClient, server: SaslServer) -> int:
    """Run the exchange as BrokerConnection does; the number of SaslAuthenticate round trips."""
    server.handshake(client.mechanism)
    token: bytes | None = client.first_token()
    trips = 0
    while token is not None:
        step = server.authenticate(token)
        trips += 1
        token = client.receive(step.challenge)
    assert server.complete == client.complete
    return trips


@pytest.mark.parametrize(("mechanism", "trips"), [("PLAIN", 1), ("SCRAM-SHA-256", 2),
                                                  ("SCRAM-SHA-512", 2)])
@pytest.mark.parametrize("user", ["alice", "o'neil,=x"])
def test_sasl_client_authenticates_with_the_real_server(mechanism: str, trips: int,
                                                        user: str) -> None:
    """CLIENT-54: each mechanism completes against flyq.auth.SaslServer in the RFC's number of
    round trips, the server naming the principal; SCRAM escapes ',' and '=' in the user name."""
    server = _server(_store(user, "correct horse"))
    client = SaslClient(mechanism, user, "correct horse")
    assert _exchange(client, server) == trips
    assert client.complete and server.complete
    assert server.user == user


def test_non_ascii_password_is_hashed_without_saslprep() -> None:
    """CLIENT-54, SASL-3: a password SASLprep would change (the 'fi' ligature, a no-break space)
    authenticates against a credential made from its plain UTF-8 bytes, as Kafka's do."""
    password = "\ufb01ne\u00a0day"
    for mechanism in SCRAM_MECHANISMS:
        server = _server(_store("alice", password))
        client = SaslClient(mechanism, "alice", password)
        _exchange(client, server)
        assert client.complete


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_wrong_password_is_refused_by_the_server(mechanism: str) -> None:
    """CLIENT-54: a wrong password fails the exchange at the server; the client never completes."""
    server = _server(_store("alice", "right"))
    client = SaslClient(mechanism, "alice", "wrong")
    with pytest.raises(AuthenticationFailed):
        _exchange(client, server)
    assert not client.complete and server.failed


def test_scram_client_refuses_a_server_that_does_not_know_the_credential() -> None:
    """CLIENT-55: a server-final signature that is not the one the user's keys give (a broker
    that does not hold the credential) is AuthenticationFailed naming the mechanism and the
    user; the genuine server's server-final is accepted."""
    for forged in (False, True):
        server = _server(_store("alice", "pw"))
        server.handshake("SCRAM-SHA-256")
        client = SaslClient("SCRAM-SHA-256", "alice", "pw")
        final = client.receive(server.authenticate(client.first_token()).challenge)
        assert final is not None
        server_final = server.authenticate(final).challenge
        if not forged:
            assert client.receive(server_final) is None and client.complete
            continue
        with pytest.raises(AuthenticationFailed) as error:
            client.receive(b"v=" + bytes(reversed(server_final[2:])))
        assert error.value.mechanism == "SCRAM-SHA-256" and error.value.user == "alice"
        assert not client.complete


@pytest.mark.parametrize("iterations", [16385, 10**6])
def test_scram_client_refuses_an_iteration_count_outside_kafkas_bounds(iterations: int) -> None:
    """CLIENT-55: the broker's iteration count must be 4096..16384 (a huge one would stall the
    client); outside it the exchange fails before any proof is computed."""
    client = SaslClient("SCRAM-SHA-256", "alice", "pw", c_nonce="abc")
    client.first_token()
    with pytest.raises(AuthenticationFailed) as error:
        client.receive(f"r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i={iterations}".encode())
    assert str(iterations) in error.value.why
    assert not client.complete


def test_scram_client_reproduces_rfc_7677() -> None:
    """CLIENT-54: with RFC 7677's nonce and password the client sends the RFC's client-first and
    client-final messages and accepts its server-final (vectors copied from the RFC)."""
    vectors = {entry["name"]: entry for entry in json.loads(GOLDEN.read_text())}
    params = vectors["client_first"]["params"]
    client_nonce = vectors["client_first"]["decoded"]["text"].rsplit("r=", 1)[1]
    client = SaslClient("SCRAM-SHA-256", params["user"], params["password"],
                        c_nonce=client_nonce)
    assert client.first_token() == bytes.fromhex(vectors["client_first"]["hex"])
    assert (client.receive(bytes.fromhex(vectors["server_first"]["hex"]))
            == bytes.fromhex(vectors["client_final"]["hex"]))
    assert client.receive(bytes.fromhex(vectors["server_final"]["hex"])) is None
    assert client.complete


def test_sasl_client_steps_out_of_turn_are_illegal() -> None:
    """CLIENT-54: a second first token, or an answer after completion, is IllegalSaslState."""
    client = SaslClient("PLAIN", "alice", "pw")
    assert client.first_token() == b"\x00alice\x00pw"
    with pytest.raises(IllegalSaslState):
        client.first_token()
    assert client.receive(b"") is None
    with pytest.raises(IllegalSaslState):
        client.receive(b"")
