"""SASL listeners and ACLs with real clients (spec/security.md AUTH-1..7, spec/sasl.md,
spec/authorization.md): the right credentials work with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512
over SASL_PLAINTEXT and SASL_SSL; a wrong password, an unknown user and a plaintext client are
refused with the client reporting it; a principal without Write cannot produce, without Read
cannot fetch or commit, and does not see a topic it may not describe; an oversized frame before
authentication closes the connection without the broker growing its memory."""

from __future__ import annotations

import contextlib
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration._secure_clients import (
    CLIENTS,
    REFUSED_CLIENT_MARKS,
    Creds,
    Refused,
    commit,
    consume,
    produce,
    topics,
)
from tests.integration.broker_process import REPO_ROOT, BrokerProcess
from tests.tls_files import TlsFiles

pytestmark = REFUSED_CLIENT_MARKS

MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
PASSWORDS = {"admin": "admin-secret", "alice": "alice-secret", "carol": "carol-secret",
             "dave": "dave-secret", "eve": "eve-secret"}
# An authentication failure in each client's words (librdkafka, kafka-python, aiokafka).
AUTH_REPORTED = ("SASL authentication error", "SaslAuthenticationFailed",
                 "Authentication failed")


def flyq(*args: str, stdin: str | None = None) -> str:
    """Run the `flyq` CLI; its stdout (it must succeed)."""
    done = subprocess.run([sys.executable, "-m", "flyq", *args], input=stdin, text=True,
                          capture_output=True, cwd=REPO_ROOT, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def prepare(data_dir: Path) -> None:
    """Users and ACLs, offline, before the broker starts (as a new user would)."""
    for user, password in PASSWORDS.items():
        flyq("users", "add", user, "--data-dir", str(data_dir), "--password-stdin",
             stdin=password + "\n")
    acl = ("acl", "add", "--data-dir", str(data_dir))
    flyq(*acl, "--allow-principal", "User:alice", "--operation", "write", "--operation", "read",
         "--operation", "create", "--topic", "sasl-", "--resource-pattern-type", "prefixed")
    flyq(*acl, "--allow-principal", "User:alice", "--operation", "read", "--group", "g-",
         "--resource-pattern-type", "prefixed")
    # carol may read "secret" but not write it; dave may write it but not read it; eve has
    # nothing on it. All three may use any group.
    flyq(*acl, "--allow-principal", "User:carol", "--operation", "read", "--topic", "secret")
    flyq(*acl, "--allow-principal", "User:dave", "--operation", "write", "--topic", "secret")
    for user in ("carol", "dave", "eve"):
        flyq(*acl, "--allow-principal", f"User:{user}", "--operation", "read", "--group", "*")


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory, tls: TlsFiles
                  ) -> Iterator[BrokerProcess]:
    """SASL_PLAINTEXT and SASL_SSL listeners (and PLAINTEXT), ACLs enforced, User:admin a super
    user; the failure limit raised so that the refusal tests do not lock each other out."""
    directory = tmp_path_factory.mktemp("sasl")
    prepare(directory / "data")
    config = directory / "broker.toml"
    config.write_text('[server]\n"authorizer.enabled" = true\n"super.users" = "User:admin"\n'
                      '"connection.failed.authentication.limit" = 100000\n')
    process = BrokerProcess(directory / "data", listeners=("SASL_PLAINTEXT", "SASL_SSL"),
                            extra_args=("--config", str(config), "--ssl-cert",
                                        str(tls.server_cert), "--ssl-key", str(tls.server_key)))
    process.start()
    try:
        admin = Creds("SASL_PLAINTEXT", "SCRAM-SHA-256", "admin", PASSWORDS["admin"])
        produce("confluent-kafka", process.address("SASL_PLAINTEXT"), admin, "secret",
                [b"classified"])
        yield process
    finally:
        assert process.stop() == 0


def sasl(user: str, mechanism: str = "SCRAM-SHA-256", password: str | None = None,
         protocol: str = "SASL_PLAINTEXT", cafile: Path | None = None) -> Creds:
    return Creds(protocol, mechanism, user, PASSWORDS.get(user, "x") if password is None
                 else password, cafile=None if cafile is None else str(cafile))


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("client", CLIENTS)
def test_right_credentials_produce_consume_and_commit(
        client: str, mechanism: str, secure_broker: BrokerProcess) -> None:
    """AUTH-3, AUTH-4, SASL-*: each client logs in with each mechanism, produces, consumes and
    commits as User:alice within her ACLs."""
    address = secure_broker.address("SASL_PLAINTEXT")
    topic = f"sasl-{client}-{mechanism}"
    creds = sasl("alice", mechanism)
    assert produce(client, address, creds, topic, [b"one", b"two"]) == [0, 1]
    assert consume(client, address, creds, topic, 2, group=f"g-{topic}",
                   commit=True) == [b"one", b"two"]
    assert f"authenticated as User:alice with {mechanism} on SASL_PLAINTEXT" in (
        secure_broker.stderr_text())


@pytest.mark.parametrize("client", CLIENTS)
def test_sasl_ssl_with_scram_sha_512(client: str, secure_broker: BrokerProcess,
                                     tls: TlsFiles) -> None:
    """TLS-6, AUTH-4: SASL over TLS; the principal is the SASL user's."""
    creds = sasl("alice", "SCRAM-SHA-512", protocol="SASL_SSL", cafile=tls.ca)
    address = secure_broker.address("SASL_SSL")
    topic = f"sasl-ssl-{client}"
    assert produce(client, address, creds, topic, [b"x"]) == [0]
    assert consume(client, address, creds, topic, 1, group=f"g-{topic}") == [b"x"]
    assert "authenticated as User:alice with SCRAM-SHA-512 on SASL_SSL" in (
        secure_broker.stderr_text())


# In CI: a wrong password with every mechanism, an unknown user with SCRAM-SHA-256; the rest of
# the matrix with --run-slow (kafka-python and aiokafka give up only at their timeout).
REFUSALS = [pytest.param(who, mechanism, marks=() if who == "wrong password"
                         or mechanism == "SCRAM-SHA-256" else pytest.mark.slow)
            for who in ("wrong password", "unknown user") for mechanism in MECHANISMS]


@pytest.mark.parametrize(("who", "mechanism"), REFUSALS)
@pytest.mark.parametrize("client", CLIENTS)
def test_wrong_password_and_unknown_user_are_refused(
        client: str, mechanism: str, who: str, secure_broker: BrokerProcess,
        caplog: pytest.LogCaptureFixture) -> None:
    """AUTH-5: refused with SASL_AUTHENTICATION_FAILED, which each client reports as an
    authentication failure (librdkafka in its error, kafka-python and aiokafka in their log);
    the broker's log says which it was."""
    creds = (sasl("alice", mechanism, password="not-her-password") if who == "wrong password"
             else sasl("mallory", mechanism))
    with pytest.raises(Refused) as refused:
        produce(client, secure_broker.address("SASL_PLAINTEXT"), creds, "sasl-refused", [b"x"])
    reported = f"{refused.value}\n{caplog.text}".lower()
    assert any(words.lower() in reported for words in AUTH_REPORTED), reported
    log = secure_broker.stderr_text()
    assert "authentication failed for" in log
    assert ("wrong password" in log) if who == "wrong password" else ("mallory" in log)


@pytest.mark.parametrize("client", CLIENTS)
def test_plaintext_client_on_a_sasl_listener_is_refused(
        client: str, secure_broker: BrokerProcess) -> None:
    """AUTH-2: a client that does not authenticate gets nothing but ApiVersions; its first
    other request closes the connection, as Kafka does (the client reports a disconnect)."""
    with pytest.raises(Refused):
        produce(client, secure_broker.address("SASL_PLAINTEXT"), Creds(), "sasl-plain", [b"x"])
    assert "before authentication on the SASL_PLAINTEXT listener" in secure_broker.stderr_text()


@pytest.mark.parametrize("client", CLIENTS)
def test_without_write_a_principal_cannot_produce(client: str,
                                                  secure_broker: BrokerProcess) -> None:
    """AUTHZ (Produce): carol may read "secret" but not write it: TOPIC_AUTHORIZATION_FAILED."""
    # kafka-python first asks for a producer id: without Write anywhere, Cluster is refused
    # (KIP-679), as Kafka refuses it.
    with pytest.raises(Refused, match=r"(?i)(topic|cluster).?authorization"):
        produce(client, secure_broker.address("SASL_PLAINTEXT"), sasl("carol"), "secret",
                [b"leak"])
    admin = sasl("admin")
    assert consume(client, secure_broker.address("SASL_PLAINTEXT"), admin, "secret", 5) == [
        b"classified"]


@pytest.mark.parametrize("client", CLIENTS)
def test_without_read_a_principal_cannot_fetch_or_commit(client: str,
                                                         secure_broker: BrokerProcess) -> None:
    """AUTHZ-5, AUTHZ-9: dave may write "secret" but not read it: his fetch gets no record and
    his commit is refused with TOPIC_AUTHORIZATION_FAILED; carol, who may read it, commits."""
    address = secure_broker.address("SASL_PLAINTEXT")
    try:
        got = consume(client, address, sasl("dave"), "secret", 1)
    except Refused as refused:
        assert "authoriz" in str(refused).lower(), str(refused)
    else:
        assert got == [], got
    with pytest.raises(Refused, match=r"(?i)topic.?authorization"):
        commit(client, address, sasl("dave"), "secret", f"g-dave-{client}", 1)
    commit(client, address, sasl("carol"), "secret", f"g-carol-{client}", 1)
    assert produce(client, address, sasl("dave"), "secret", [b"dave's"]) != []


@pytest.mark.parametrize("client", CLIENTS)
def test_metadata_hides_a_topic_the_principal_may_not_describe(
        client: str, secure_broker: BrokerProcess) -> None:
    """AUTHZ (Metadata): eve does not see "secret"; carol (Read implies Describe) and the super
    user do."""
    address = secure_broker.address("SASL_PLAINTEXT")
    assert "secret" not in topics(client, address, sasl("eve"))
    assert "secret" in topics(client, address, sasl("carol"))
    assert "secret" in topics(client, address, sasl("admin"))


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_an_oversized_frame_before_authentication_closes_the_connection(
        secure_broker: BrokerProcess) -> None:
    """AUTH-2: before authentication a frame larger than sasl.server.max.receive.size closes
    the connection as soon as its size arrives; the broker does not allocate it."""
    assert secure_broker.process is not None
    pid = secure_broker.process.pid
    host, port = secure_broker.address("SASL_PLAINTEXT").split(":")
    before = _rss_kib(pid)
    for _ in range(20):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(struct.pack(">i", 512 * 1024 * 1024) + b"\0" * 65536)
            sock.settimeout(5)
            with contextlib.suppress(ConnectionResetError):  # closed with data unread
                assert sock.recv(1) == b""  # closed by the broker, nothing answered
    time.sleep(0.2)
    grown = _rss_kib(pid) - before
    assert grown < 16 * 1024, f"the broker grew by {grown} KiB"
    assert "outside 0..524288" in secure_broker.stderr_text()


def test_after_authentication_large_frames_are_accepted(secure_broker: BrokerProcess) -> None:
    """AUTH-2: once authenticated, frames up to socket.request.max.bytes: a 700 KB record (a
    Produce frame above the 512 KiB pre-authentication limit) is stored and read back."""
    address = secure_broker.address("SASL_PLAINTEXT")
    value = bytes(range(256)) * 2735  # 700,160 bytes
    assert produce("confluent-kafka", address, sasl("alice"), "sasl-large", [value]) == [0]
    assert consume("confluent-kafka", address, sasl("alice"), "sasl-large", 1,
                   group="g-large") == [value]


def test_kcat_with_scram_despite_old_librdkafkas_nonce(secure_broker: BrokerProcess) -> None:
    """SASL (librdkafka < 2.6.1 nonce): kcat 1.7.1 (librdkafka 2.0.2) logs in with SCRAM."""
    if shutil.which("kcat") is None:
        pytest.skip("kcat is not installed (optional: apt-get install kcat)")
    settings = ["-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=SCRAM-SHA-256",
                "-X", "sasl.username=alice", "-X", f"sasl.password={PASSWORDS['alice']}"]
    address = secure_broker.address("SASL_PLAINTEXT")
    subprocess.run(["kcat", "-b", address, *settings, "-P", "-t", "sasl-kcat", "-p", "0"],
                   input=b"k1\nk2\n", check=True, timeout=30)
    out = subprocess.run(["kcat", "-b", address, *settings, "-C", "-t", "sasl-kcat", "-p", "0",
                          "-o", "beginning", "-e", "-q"], capture_output=True, check=True,
                         timeout=30)
    assert out.stdout.split() == [b"k1", b"k2"]


def test_failed_authentications_are_limited_per_address(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """AUTH-6: past the limit, even the right password is refused until the window passes;
    the client is told so (aiokafka logs the broker's message)."""
    prepare(tmp_path / "data")
    config = tmp_path / "broker.toml"
    config.write_text('[server]\n"connection.failed.authentication.limit" = 2\n'
                      '"connection.failed.authentication.delay.ms" = 0\n')
    process = BrokerProcess(tmp_path / "data", listeners=("SASL_PLAINTEXT",),
                            extra_args=("--config", str(config))).start()
    try:
        address = process.address("SASL_PLAINTEXT")
        for _ in range(2):
            with pytest.raises(Refused):
                produce("aiokafka", address, sasl("alice", password="guess"), "sasl-x", [b"x"])
        caplog.clear()
        with pytest.raises(Refused):
            produce("aiokafka", address, sasl("alice"), "sasl-x", [b"x"])
        assert "too many failed authentications from this address" in caplog.text
    finally:
        assert process.stop() == 0
