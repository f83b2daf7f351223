"""Listeners and TLS (spec/security.md LSN-1..6, TLS-1..6): parsing, advertised addresses, the
client-certificate principal and Kafka's principal mapping rules."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from flyq.errors import AuthenticationFailed, InvalidArgument, InvalidConfig
from flyq.server import Listener, ServerSettings, server_table
from flyq.server._listeners import parse_listener, parse_listeners, with_advertised
from flyq.server._tls import PrincipalRules, TlsSettings, server_context, subject_dn
from tests.tls_files import make_tls_files


def test_listener_forms() -> None:
    """LSN-1: PROTOCOL://HOST:PORT, a bare HOST:PORT is PLAINTEXT, `://:PORT` every interface."""
    assert parse_listener("SASL_SSL://broker:9094", option="x") == Listener("SASL_SSL", "broker",
                                                                            9094)
    assert parse_listener("127.0.0.1:9092", option="x") == Listener("PLAINTEXT", "127.0.0.1",
                                                                    9092)
    assert parse_listener("ssl://:9093", option="x") == Listener("SSL", "0.0.0.0", 9093)
    assert parse_listener("SSL://[::1]:9093", option="x").host == "::1"
    listener = parse_listener("SASL_PLAINTEXT://h:1", option="x")
    assert (listener.sasl, listener.tls) == (True, False)
    assert (parse_listener("SASL_SSL://h:1", option="x").tls,
            parse_listener("SSL://h:1", option="x").sasl) == (True, False)


@pytest.mark.parametrize(("specs", "message"), [
    (["KERBEROS://h:1"], "PROTOCOL one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
    (["SSL://h"], "HOST:PORT"),
    (["SSL://h:70000"], "HOST:PORT"),
    (["SSL://h:1,SSL://h:2"], "one listener per security protocol (SSL is given twice)"),
    (["PLAINTEXT://h:1", "SSL://h:1"], "a different HOST:PORT for each listener"),
    ([""], "at least one listener"),
])
def test_bad_listeners_are_refused_by_name(specs: list[str], message: str) -> None:
    """LSN-1..3: a bad listener names the option and what was expected."""
    with pytest.raises(InvalidArgument, match="--listen") as caught:
        parse_listeners(specs, option="--listen")
    assert message in str(caught.value)


def test_advertised_addresses_per_listener() -> None:
    """LSN-4: PROTOCOL://HOST:PORT names its listener; bare HOST:PORT only with one listener."""
    listeners = parse_listeners(["PLAINTEXT://0.0.0.0:9092,SASL_SSL://0.0.0.0:9094"], option="l")
    advertised = with_advertised(listeners, ["SASL_SSL://kafka.example:19094"], option="a")
    assert [listener.advertised for listener in advertised] == [("0.0.0.0", 9092),
                                                                ("kafka.example", 19094)]
    settings = ServerSettings(listeners=advertised,
                              tls=TlsSettings("c.pem", "k.pem"))
    assert settings.advertised("SASL_SSL") == ("kafka.example", 19094)
    assert settings.advertised("PLAINTEXT") == ("0.0.0.0", 9092)
    with pytest.raises(InvalidArgument, match="there are several"):
        with_advertised(listeners, ["h:1"], option="a")
    with pytest.raises(InvalidArgument, match="one of the listeners"):
        with_advertised(listeners, ["SSL://h:1"], option="a")
    (single,) = with_advertised(parse_listeners(["SSL://0.0.0.0:1"], option="l"), ["h:2"],
                                option="a")
    assert single.advertised == ("h", 2)


def test_config_file_listeners_and_tls(tmp_path: Path) -> None:
    """LSN-5, TLS-1: Kafka's `listeners`, `advertised.listeners` and the ssl.* keys."""
    fields = server_table(b"""
[server]
listeners = "PLAINTEXT://127.0.0.1:9092,SASL_SSL://0.0.0.0:9094"
"advertised.listeners" = ["SASL_SSL://kafka.example:9094"]
"ssl.certificate.location" = "/etc/flyq/broker.pem"
"ssl.key.location" = "/etc/flyq/broker.key"
"ssl.ca.location" = "/etc/flyq/ca.pem"
"ssl.client.auth" = "requested"
"sasl.enabled.mechanisms" = "scram-sha-512"
"super.users" = "User:admin"
""", source="b.toml")
    settings = ServerSettings(**fields)
    assert [listener.url for listener in settings.listeners] == [
        "PLAINTEXT://127.0.0.1:9092", "SASL_SSL://0.0.0.0:9094"]
    assert settings.advertised("SASL_SSL") == ("kafka.example", 9094)
    assert settings.tls == TlsSettings("/etc/flyq/broker.pem", "/etc/flyq/broker.key",
                                       "/etc/flyq/ca.pem", "requested")
    assert settings.sasl_enabled_mechanisms == ("SCRAM-SHA-512",)
    with pytest.raises(InvalidConfig, match="either listen or listeners"):
        server_table(b'[server]\nlisten = "h:1"\nlisteners = "SSL://h:2"\n', source="b.toml")
    with pytest.raises(InvalidConfig, match=r"ssl.certificate.location and ssl.key.location"):
        server_table(b'[server]\n"ssl.key.location" = "k"\n', source="b.toml")
    with pytest.raises(InvalidConfig, match="for a TLS listener"):
        ServerSettings(**server_table(b'[server]\nlisteners = "SSL://h:2"\n', source="b.toml"))
    with pytest.raises(InvalidConfig, match=r"sasl.enabled.mechanisms"):
        ServerSettings(sasl_enabled_mechanisms=("GSSAPI",))
    with pytest.raises(InvalidConfig, match=r"ssl.ca.location"):
        TlsSettings("c", "k", client_auth="required")


def test_subject_dn_is_rfc2253_as_openssl_prints_it(tmp_path: Path) -> None:
    """TLS-3: the principal's DN is RFC 2253, most specific first; `openssl x509 -nameopt
    RFC2253` is the independent reference."""
    files = make_tls_files(tmp_path)
    # The dict form Python's ssl module gives for a peer certificate, read from the file.
    decoded = ssl._ssl._test_decode_cert(str(files.client_cert))  # type: ignore[attr-defined]
    expected = subprocess.run(["openssl", "x509", "-in", str(files.client_cert), "-noout",
                               "-subject", "-nameopt", "RFC2253"], capture_output=True,
                              text=True, check=True).stdout.strip().removeprefix("subject=")
    assert subject_dn(decoded) == expected == "CN=alice,OU=eng,O=FlyQ Test"


def test_subject_dn_escapes_rfc2253_specials() -> None:
    """TLS-3: `,+"\\<>;=` are escaped, and a leading `#` or space."""
    cert = {"subject": ((("organizationName", "Acme, Inc"),), (("commonName", "#a+b "),))}
    assert subject_dn(cert) == r"CN=\#a\+b\ ,O=Acme\, Inc"


def test_principal_mapping_rules_as_kafka_documents() -> None:
    """TLS-4: Kafka's documented examples: the first matching rule rewrites, DEFAULT keeps the
    DN, L/U change case, no matching rule refuses the client."""
    rules = PrincipalRules.parse(
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),"
        "ST=(.*?),C=(.*?)$/$1@$2/L,RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT")
    assert rules.principal("CN=kafka-server1,OU=ServiceUsers,O=Org,C=US") == "User:kafka-server1"
    assert rules.principal("CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=Santa Clara,ST=CA,C=US") == (
        "User:duke@javasoft")
    assert rules.principal("cn=Admin.One,dc=example") == "User:admin.one"
    assert rules.principal("O=Only") == "User:O=Only"
    strict = PrincipalRules.parse("RULE:^CN=([a-z]+),.*$/$1/U")
    assert strict.principal("CN=bob,O=x") == "User:BOB"
    with pytest.raises(AuthenticationFailed, match=r"no ssl.principal.mapping.rules rule"):
        strict.principal("O=x")
    with pytest.raises(InvalidConfig):
        PrincipalRules.parse("RULE:^CN=(.*$/$1/")
    with pytest.raises(InvalidConfig):
        PrincipalRules.parse("SOMETHING")
    assert PrincipalRules.parse("").principal("CN=x") == "User:CN=x"


def test_server_context_loads_files_and_names_bad_ones(tmp_path: Path) -> None:
    """TLS-1/2: a context with the broker's certificate; client certificates verified as
    ssl.client.auth says; unreadable files named."""
    files = make_tls_files(tmp_path)
    context = server_context(TlsSettings(str(files.server_cert), str(files.server_key),
                                         str(files.ca), "required"))
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    optional = server_context(TlsSettings(str(files.server_cert), str(files.server_key),
                                          str(files.ca), "requested"))
    assert optional.verify_mode == ssl.CERT_OPTIONAL
    with pytest.raises(InvalidConfig, match=r"server.pem"):
        server_context(TlsSettings(str(files.server_cert), str(files.client_key)))
    with pytest.raises(InvalidConfig, match=r"missing.pem"):
        server_context(TlsSettings(str(files.server_cert), str(files.server_key),
                                   str(tmp_path / "missing.pem")))
