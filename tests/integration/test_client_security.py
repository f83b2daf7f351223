"""flyq.client and the CLI against a real secured `flyq broker` (spec/client.md CLIENT-50..59):
Producer, Consumer (assigned and in a group) and Admin over SSL with a client certificate,
SASL_PLAINTEXT with each mechanism and SASL_SSL; a wrong password; `flyq users list` and
`flyq topic list`, `flyq produce` and `flyq consume` with --command-config or the direct options.

The broker authorizes (authorizer.enabled) with super users `User:admin` and the client
certificate's subject only, so an operation that succeeds shows the connection really is that
principal and not User:ANONYMOUS."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from flyq.cli import cli
from flyq.client import Admin, Consumer, Producer, Security
from flyq.errors import (
    AuthenticationFailed,
    ClusterAuthorizationFailed,
    ConnectionBroken,
    UnsupportedSaslMechanism,
)
from tests.integration.broker_process import BrokerProcess
from tests.tls_files import TlsFiles

pytestmark = pytest.mark.integration

ADMIN_PASSWORD = "admin-pw-\u00e9t\u00e9"  # non-ASCII: hashed as UTF-8, no SASLprep (SASL-3)
BOB_PASSWORD = "bob-pw"
CERT_PRINCIPAL = "User:CN=alice,OU=eng,O=FlyQ Test"
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
WAIT = 15.0


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, tls: TlsFiles) -> Iterator[BrokerProcess]:
    """All four listeners, client certificates requested, users admin and bob added offline."""
    directory = tmp_path_factory.mktemp("secured")
    data = directory / "data"
    for user, password in (("admin", ADMIN_PASSWORD), ("bob", BOB_PASSWORD)):
        result = CliRunner().invoke(cli, ["users", "add", user, "--password-stdin",
                                          "--iterations", "4096", "--data-dir", str(data)],
                                    input=password + "\n")
        assert result.exit_code == 0, result.output
    config = directory / "broker.toml"
    config.write_text('[server]\n"authorizer.enabled" = true\n'
                      f'"super.users" = "User:admin;{CERT_PRINCIPAL}"\n')
    process = BrokerProcess(data, listeners=("PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL"),
                            extra_args=("--config", str(config),
                                        "--ssl-cert", str(tls.server_cert),
                                        "--ssl-key", str(tls.server_key),
                                        "--ssl-ca", str(tls.ca),
                                        "--ssl-client-auth", "requested")).start()
    try:
        yield process
    finally:
        assert process.stop() == 0


def _sasl(protocol: str, mechanism: str, tls: TlsFiles, user: str = "admin",
          password: str = ADMIN_PASSWORD) -> Security:
    return Security(protocol, mechanism, user, password,
                    ssl_cafile=str(tls.ca) if protocol == "SASL_SSL" else None)


def _round_trip(address: str, security: Security, topic: str, *, group: str | None = None
                ) -> list[bytes]:
    """Create `topic` (Admin), produce three records (Producer) and read them back (Consumer:
    assigned, or subscribed in `group`, which opens a connection to the coordinator)."""
    with Admin(address, security=security) as admin:
        admin.create_topic(topic, 1)
        assert topic in admin.list_topics()
    producer = Producer(address, security=security)
    try:
        futures = [producer.send(topic, value, partition=0) for value in (b"a", b"b", b"c")]
        producer.flush()
        assert [future.result(WAIT).offset for future in futures] == [0, 1, 2]
    finally:
        producer.close()
    consumer = Consumer(address, security=security, group_id=group,
                        auto_offset_reset="earliest", fetch_max_wait_ms=100)
    try:
        if group is None:
            consumer.assign([(topic, 0)])
        else:
            consumer.subscribe([topic])
        values: list[bytes] = []
        deadline = time.monotonic() + WAIT
        while len(values) < 3 and time.monotonic() < deadline:
            values.extend(record.value or b"" for record in consumer.poll(0.5))
        if group is not None:
            consumer.commit()
        return values
    finally:
        consumer.close()


def test_ssl_with_a_client_certificate(broker: BrokerProcess, tls: TlsFiles) -> None:
    """CLIENT-53, CLIENT-56: over SSL with a client certificate the client is the certificate's
    principal (a super user here): it creates, produces and consumes."""
    security = Security("SSL", ssl_cafile=str(tls.ca), ssl_certfile=str(tls.client_cert),
                        ssl_keyfile=str(tls.client_key))
    assert _round_trip(broker.address("SSL"), security, "sec-mtls") == [b"a", b"b", b"c"]
    assert f"on SSL as {CERT_PRINCIPAL}" in broker.stderr_text()


def test_ssl_verifies_the_broker(broker: BrokerProcess, tls: TlsFiles) -> None:
    """CLIENT-53: a broker certificate from a CA the client does not trust is refused by the
    client (ConnectionBroken naming the protocol and OpenSSL's reason)."""
    with pytest.raises(ConnectionBroken, match=r"\(SSL\).*certificate verify failed"):
        Admin(broker.address("SSL"), security=Security("SSL", ssl_cafile=str(tls.other_ca)))


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_sasl_plaintext_with_each_mechanism(broker: BrokerProcess, tls: TlsFiles,
                                            mechanism: str) -> None:
    """CLIENT-54, CLIENT-56: Admin, Producer and Consumer authenticate as admin with PLAIN,
    SCRAM-SHA-256 and SCRAM-SHA-512 over SASL_PLAINTEXT (a non-ASCII password)."""
    security = _sasl("SASL_PLAINTEXT", mechanism, tls)
    topic = f"sec-plain-{mechanism.lower()}"
    assert _round_trip(broker.address("SASL_PLAINTEXT"), security, topic) == [b"a", b"b", b"c"]


def test_sasl_ssl_consumer_group(broker: BrokerProcess, tls: TlsFiles) -> None:
    """CLIENT-56: over SASL_SSL a subscribed consumer reaches its coordinator with the same
    security (the coordinator connection authenticates too) and commits."""
    security = _sasl("SASL_SSL", "SCRAM-SHA-512", tls)
    address = broker.address("SASL_SSL")
    values = _round_trip(address, security, "sec-sasl-ssl", group="sec-readers")
    assert values == [b"a", b"b", b"c"]
    with Admin(address, security=security) as admin:
        assert admin.list_group_offsets("sec-readers") == {("sec-sasl-ssl", 0): 3}


def test_the_principal_is_the_sasl_user(broker: BrokerProcess, tls: TlsFiles) -> None:
    """CLIENT-54: the super user admin may describe the users; bob (SASL) and User:ANONYMOUS
    (PLAINTEXT) may not, so the connection is authorized as the SASL user it logged in as."""
    with Admin(broker.address("SASL_SSL"), security=_sasl("SASL_SSL", "PLAIN", tls)) as admin:
        assert set(admin.describe_user_scram_credentials()) == {"admin", "bob"}
    bob = _sasl("SASL_PLAINTEXT", "SCRAM-SHA-256", tls, "bob", BOB_PASSWORD)
    for address, security in ((broker.address("SASL_PLAINTEXT"), bob),
                              (broker.address("PLAINTEXT"), Security())):
        with Admin(address, security=security) as admin, \
                pytest.raises(ClusterAuthorizationFailed):
            admin.describe_user_scram_credentials()


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_wrong_password_is_authentication_failed(broker: BrokerProcess, tls: TlsFiles,
                                                 mechanism: str) -> None:
    """CLIENT-54: a refused login is AuthenticationFailed naming the mechanism and the user,
    never the password."""
    security = _sasl("SASL_PLAINTEXT", mechanism, tls, "admin", "not-the-password")
    with pytest.raises(AuthenticationFailed) as error:
        Admin(broker.address("SASL_PLAINTEXT"), security=security)
    assert (error.value.mechanism, error.value.user) == (mechanism, "admin")
    assert "not-the-password" not in str(error.value)


# --- the CLI ------------------------------------------------------------------------------------

def _cli(args: list[str], password: str | None = None) -> tuple[int, str]:
    env = {"FLYQ_SASL_PASSWORD": password} if password is not None else {}
    result = CliRunner().invoke(cli, args, env={"FLYQ_BOOTSTRAP": None, **env})
    return result.exit_code, result.output


def test_cli_users_list_with_a_command_config_file(broker: BrokerProcess, tls: TlsFiles,
                                                   tmp_path: Path) -> None:
    """CLIENT-57, CLIENT-58: `flyq users list --bootstrap --command-config f.properties` with
    Kafka's sasl.jaas.config reaches the SASL_SSL listener as admin."""
    config = tmp_path / "client.properties"
    config.write_text(
        "# as for kafka-configs.sh --command-config\n"
        "security.protocol=SASL_SSL\n"
        "sasl.mechanism=SCRAM-SHA-256\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n"
        '    username="admin" password="admin-pw-\\u00e9t\\u00e9";\n'
        f"ssl.ca.location={tls.ca}\n", encoding="utf-8")
    code, output = _cli(["users", "list", "--bootstrap", broker.address("SASL_SSL"),
                         "--command-config", str(config)])
    assert code == 0, output
    users = {line.split()[0] for line in output.splitlines()[1:] if line.strip()}
    assert users == {"admin", "bob"}


def test_cli_topic_list_produce_consume_with_direct_options(broker: BrokerProcess,
                                                            tls: TlsFiles) -> None:
    """CLIENT-57, CLIENT-58: `flyq produce`, `flyq consume` and `flyq topic list` with
    --security-protocol, --sasl-mechanism, --sasl-username, --ssl-ca and the password from
    $FLYQ_SASL_PASSWORD."""
    options = ["--bootstrap", broker.address("SASL_SSL"), "--security-protocol", "SASL_SSL",
               "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-username", "admin",
               "--ssl-ca", str(tls.ca)]
    with Admin(broker.address("SASL_SSL"), security=_sasl("SASL_SSL", "PLAIN", tls)) as admin:
        admin.create_topic("sec-cli", 1)
    code, output = _cli(["produce", "sec-cli", "--value", "hello", *options], ADMIN_PASSWORD)
    assert code == 0, output
    code, output = _cli(["consume", "sec-cli", *options], ADMIN_PASSWORD)
    assert code == 0, output
    assert "hello" in output
    code, output = _cli(["topic", "list", *options], ADMIN_PASSWORD)
    assert code == 0, output
    assert "sec-cli" in output.split()


def test_cli_wrong_password_and_options_without_bootstrap(broker: BrokerProcess,
                                                          tls: TlsFiles) -> None:
    """CLIENT-57, CLIENT-59: a wrong password is one error line naming the mechanism and the
    user (exit 1, no password shown); security options without --bootstrap are a usage error."""
    code, output = _cli(["topic", "list", "--bootstrap", broker.address("SASL_PLAINTEXT"),
                         "--security-protocol", "SASL_PLAINTEXT", "--sasl-mechanism", "PLAIN",
                         "--sasl-username", "admin"], "wrong-pw-123")
    assert code == 1
    assert "PLAIN authentication as 'admin' failed" in output
    assert "wrong-pw-123" not in output
    code, output = _cli(["topic", "list", "--data-dir", "/nonexistent",
                         "--security-protocol", "SSL"])
    assert code == 2
    assert "--security-protocol: only with --bootstrap" in output


def test_cli_bench_over_sasl_ssl(broker: BrokerProcess, tls: TlsFiles) -> None:
    """CLIENT-57, CLIENT-56: `flyq bench produce` and `consume` with flyq's client work over
    SASL_SSL; a third-party client is refused the security settings rather than run without."""
    options = ["--bootstrap", broker.address("SASL_SSL"), "--security-protocol", "SASL_SSL",
               "--sasl-mechanism", "SCRAM-SHA-256", "--sasl-username", "admin",
               "--ssl-ca", str(tls.ca), "--topic", "sec-bench", "--records", "40",
               "--format", "json"]
    code, output = _cli(["bench", "produce", *options, "--record-size", "10"], ADMIN_PASSWORD)
    assert code == 0, output
    assert json.loads(output.strip().splitlines()[-1])["records"] == 40
    code, output = _cli(["bench", "consume", *options], ADMIN_PASSWORD)
    assert code == 0, output
    assert json.loads(output.strip().splitlines()[-1])["records"] == 40
    code, output = _cli(["bench", "consume", *options, "--client", "kafka-python"],
                        ADMIN_PASSWORD)
    assert code == 1
    assert "only flyq's own client takes the security settings" in output


def test_a_mechanism_the_listener_does_not_enable(tmp_path: Path) -> None:
    """CLIENT-54: UNSUPPORTED_SASL_MECHANISM is UnsupportedSaslMechanism carrying the broker's
    list of enabled mechanisms; an enabled one on the same broker works."""
    data = tmp_path / "data"
    result = CliRunner().invoke(cli, ["users", "add", "admin", "--password-stdin",
                                      "--iterations", "4096", "--data-dir", str(data)],
                                input=ADMIN_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    config = tmp_path / "broker.toml"
    config.write_text('[server]\n"sasl.enabled.mechanisms" = "SCRAM-SHA-512"\n')
    process = BrokerProcess(data, listeners=("SASL_PLAINTEXT",),
                            extra_args=("--config", str(config))).start()
    try:
        address = process.address("SASL_PLAINTEXT")
        with pytest.raises(UnsupportedSaslMechanism) as error:
            Admin(address, security=Security("SASL_PLAINTEXT", "PLAIN", "admin", ADMIN_PASSWORD))
        assert (error.value.mechanism, error.value.enabled) == ("PLAIN", ("SCRAM-SHA-512",))
        security = Security("SASL_PLAINTEXT", "SCRAM-SHA-512", "admin", ADMIN_PASSWORD)
        with Admin(address, security=security) as admin:
            assert admin.list_topics() == {}
    finally:
        assert process.stop() == 0
