"""Certificates made at test time (TLS-1..6): a CA, the broker's certificate, client
certificates that are valid, expired, or signed by a CA the broker does not trust.

Made with `cryptography` (a dev dependency); nothing is stored in the repository.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["TlsFiles", "make_tls_files"]

_DAY = datetime.timedelta(days=1)


@attrs.frozen
class TlsFiles:
    """Paths of PEM files; `*_cert` and `*_key` pairs."""

    ca: Path  # the CA the broker trusts and whose certificates clients trust
    server_cert: Path
    server_key: Path
    client_cert: Path  # CN=alice,OU=eng,O=FlyQ Test, signed by `ca`
    client_key: Path
    expired_cert: Path  # CN=alice, signed by `ca`, expired yesterday
    expired_key: Path
    untrusted_cert: Path  # CN=mallory, signed by another CA
    untrusted_key: Path
    other_ca: Path  # a CA that signed neither the broker nor `client_cert`


def _name(**parts: str) -> x509.Name:
    oids = {"O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
            "CN": NameOID.COMMON_NAME}
    return x509.Name([x509.NameAttribute(oids[key], value) for key, value in parts.items()])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def _write_cert(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _ca(name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    subject = _name(O="FlyQ Test", CN=name)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY).not_valid_after(now + 30 * _DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def _leaf(subject: x509.Name, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], *,
          server: bool, expired: bool = False
          ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    begin, end = ((now - 10 * _DAY, now - _DAY) if expired else (now - _DAY, now + 30 * _DAY))
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer[0].subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(begin).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return builder.sign(issuer[1], hashes.SHA256()), key


def make_tls_files(directory: Path) -> TlsFiles:
    """A fresh set of certificates and keys under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = _ca("FlyQ Test CA")
    other = _ca("Some Other CA")
    server = _leaf(_name(O="FlyQ Test", CN="localhost"), ca, server=True)
    client = _leaf(_name(O="FlyQ Test", OU="eng", CN="alice"), ca, server=False)
    expired = _leaf(_name(O="FlyQ Test", OU="eng", CN="alice"), ca, server=False, expired=True)
    untrusted = _leaf(_name(O="FlyQ Test", OU="eng", CN="mallory"), other, server=False)
    return TlsFiles(
        ca=_write_cert(ca[0], directory / "ca.pem"),
        server_cert=_write_cert(server[0], directory / "server.pem"),
        server_key=_write_key(server[1], directory / "server.key"),
        client_cert=_write_cert(client[0], directory / "client.pem"),
        client_key=_write_key(client[1], directory / "client.key"),
        expired_cert=_write_cert(expired[0], directory / "expired.pem"),
        expired_key=_write_key(expired[1], directory / "expired.key"),
        untrusted_cert=_write_cert(untrusted[0], directory / "untrusted.pem"),
        untrusted_key=_write_key(untrusted[1], directory / "untrusted.key"),
        other_ca=_write_cert(other[0], directory / "other-ca.pem"),
    )
