"""TLS listeners with real clients (spec/security.md TLS-1..6, AUTH-1): mTLS works and names the
principal; expired and untrusted client certificates, a client that does not trust the broker,
and a plaintext client are refused."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration._secure_clients import (
    CLIENTS,
    REFUSED_CLIENT_MARKS,
    Creds,
    Refused,
    consume,
    produce,
)
from tests.integration.broker_process import BrokerProcess
from tests.tls_files import TlsFiles

pytestmark = REFUSED_CLIENT_MARKS


@pytest.fixture(scope="module")
def mtls_broker(tmp_path_factory: pytest.TempPathFactory, tls: TlsFiles
                ) -> Iterator[BrokerProcess]:
    """A broker with a PLAINTEXT and an SSL listener that requires client certificates."""
    directory = tmp_path_factory.mktemp("mtls")
    process = BrokerProcess(directory / "data", listeners=("PLAINTEXT", "SSL"), extra_args=(
        "--ssl-cert", str(tls.server_cert), "--ssl-key", str(tls.server_key),
        "--ssl-ca", str(tls.ca), "--ssl-client-auth", "required")).start()
    try:
        yield process
    finally:
        assert process.stop() == 0


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory, tls: TlsFiles
               ) -> Iterator[BrokerProcess]:
    """A broker with an SSL listener that asks for no client certificate."""
    directory = tmp_path_factory.mktemp("tls-only")
    process = BrokerProcess(directory / "data", listeners=("SSL",), extra_args=(
        "--ssl-cert", str(tls.server_cert), "--ssl-key", str(tls.server_key))).start()
    try:
        yield process
    finally:
        assert process.stop() == 0


@pytest.mark.parametrize("client", CLIENTS)
def test_ssl_without_a_client_certificate(client: str, tls_broker: BrokerProcess,
                                          tls: TlsFiles) -> None:
    """TLS-1, TLS-6, AUTH-1: server-authenticated TLS; the client is User:ANONYMOUS."""
    creds = Creds("SSL", cafile=str(tls.ca))
    address = tls_broker.address("SSL")
    topic = f"ssl-{client}"
    assert produce(client, address, creds, topic, [b"p", b"q"]) == [0, 1]
    assert consume(client, address, creds, topic, 2) == [b"p", b"q"]
    assert "on SSL as User:ANONYMOUS" in tls_broker.stderr_text()


def _mtls(tls: TlsFiles, cert: Path, key: Path, cafile: Path | None = None) -> Creds:
    return Creds("SSL", cafile=str(cafile or tls.ca), certfile=str(cert), keyfile=str(key))


@pytest.mark.parametrize("client", CLIENTS)
def test_mtls_client_produces_and_consumes_as_its_certificate(
        client: str, mtls_broker: BrokerProcess, tls: TlsFiles) -> None:
    """TLS-1, TLS-2, TLS-3: a client certificate from the trusted CA works over SSL, and the
    connection's principal is User: and the certificate's RFC 2253 subject."""
    creds = _mtls(tls, tls.client_cert, tls.client_key)
    address = mtls_broker.address("SSL")
    topic = f"tls-{client}"
    offsets = produce(client, address, creds, topic, [b"a", b"b"])
    assert offsets == [0, 1]
    assert consume(client, address, creds, topic, 2) == [b"a", b"b"]
    assert "on SSL as User:CN=alice,OU=eng,O=FlyQ Test" in mtls_broker.stderr_text()


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize(("certificate", "reason", "alert"), [
    ("expired", "certificate has expired", "alert certificate expired"),
    ("untrusted", "unable to get local issuer certificate", "alert unknown ca"),
])
def test_expired_and_untrusted_client_certificates_are_refused(
        client: str, certificate: str, reason: str, alert: str, mtls_broker: BrokerProcess,
        tls: TlsFiles) -> None:
    """TLS-2, TLS-5: the broker refuses the handshake and logs OpenSSL's reason in one line; the
    client reports a failure, librdkafka with the TLS alert the broker sent (under TLS 1.3 it
    arrives during the client's first request)."""
    cert, key = {"expired": (tls.expired_cert, tls.expired_key),
                 "untrusted": (tls.untrusted_cert, tls.untrusted_key)}[certificate]
    with pytest.raises(Refused) as refused:
        produce(client, mtls_broker.address("SSL"), _mtls(tls, cert, key), "tls-refused", [b"x"])
    assert str(refused.value)
    if client == "confluent-kafka":
        assert alert in str(refused.value)
    assert f"on SSL failed: {reason}" in mtls_broker.stderr_text()


@pytest.mark.parametrize("client", CLIENTS)
def test_client_refuses_a_broker_signed_by_a_ca_it_does_not_trust(
        client: str, mtls_broker: BrokerProcess, tls: TlsFiles,
        caplog: pytest.LogCaptureFixture) -> None:
    """TLS-1: a client verifying the broker against another CA reports the verification
    failure (librdkafka in its error, kafka-python and aiokafka in their log)."""
    creds = _mtls(tls, tls.client_cert, tls.client_key, cafile=tls.other_ca)
    with pytest.raises(Refused) as refused:
        produce(client, mtls_broker.address("SSL"), creds, "tls-distrust", [b"x"])
    reported = str(refused.value) + caplog.text
    assert "certificate verify failed" in reported.lower()


@pytest.mark.parametrize("client", CLIENTS)
def test_plaintext_client_on_an_ssl_listener_is_refused(
        client: str, mtls_broker: BrokerProcess) -> None:
    """TLS-5: a plaintext client on the SSL port gets no answer it can use; nothing is stored."""
    with pytest.raises(Refused):
        produce(client, mtls_broker.address("SSL"), Creds(), "tls-plain", [b"x"])
    with pytest.raises(Refused):
        consume(client, mtls_broker.address("SSL"), Creds(), "tls-plain", 1)


def test_kcat_over_mtls(mtls_broker: BrokerProcess, tls: TlsFiles) -> None:
    """TLS-1..3: kcat (librdkafka from Debian) produces and consumes over mTLS."""
    if shutil.which("kcat") is None:
        pytest.skip("kcat is not installed (optional: apt-get install kcat)")
    settings = ["-X", "security.protocol=SSL", "-X", f"ssl.ca.location={tls.ca}",
                "-X", f"ssl.certificate.location={tls.client_cert}",
                "-X", f"ssl.key.location={tls.client_key}"]
    address = mtls_broker.address("SSL")
    subprocess.run(["kcat", "-b", address, *settings, "-P", "-t", "tls-kcat", "-p", "0"],
                   input=b"one\ntwo\n", check=True, timeout=30)
    out = subprocess.run(["kcat", "-b", address, *settings, "-C", "-t", "tls-kcat", "-p", "0",
                          "-o", "beginning", "-e", "-q"], capture_output=True, check=True,
                         timeout=30)
    assert out.stdout.split() == [b"one", b"two"]
