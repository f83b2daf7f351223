"""SCRAM credentials: what the broker stores instead of a password (spec/sasl.md SASL-1..5).

Pure: no file, no clock. A credential is RFC 5802's (salt, StoredKey, ServerKey, iterations) for
one mechanism; the password itself is never kept. `credential_from_salted_password` is what
AlterUserScramCredentials carries (the client salts and iterates); `make_credential` is the same
from a password, for the offline CLI and the admin client.

The password is hashed as its UTF-8 bytes, without SASLprep, as Kafka's ScramFormatter does
(SASL-3): scramp's `make_auth_info` SASLpreps it, which would give a non-ASCII password a
credential no Kafka client's proof matches. The tests hold the two equal for ASCII passwords.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

import attrs

from flyq.errors import UnacceptableCredential, UnsupportedSaslMechanism

__all__ = [
    "DEFAULT_ITERATIONS",
    "MAX_ITERATIONS",
    "MECHANISMS_BY_CODE",
    "MECHANISM_CODES",
    "MIN_ITERATIONS",
    "MIN_SALT_BYTES",
    "SCRAM_MECHANISMS",
    "ScramCredential",
    "check_iterations",
    "check_password",
    "credential_from_salted_password",
    "hash_name",
    "make_credential",
    "salted_password",
]

SCRAM_MECHANISMS: Final = ("SCRAM-SHA-256", "SCRAM-SHA-512")
# SASL-17: Kafka's ScramMechanism type codes on the wire (0 is UNKNOWN).
MECHANISM_CODES: Final = {"SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2}
MECHANISMS_BY_CODE: Final = {code: name for name, code in MECHANISM_CODES.items()}
_HASHES: Final = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
# SASL-2: Kafka's ScramMechanism bounds, the same for both mechanisms.
MIN_ITERATIONS: Final = 4096
MAX_ITERATIONS: Final = 16384
DEFAULT_ITERATIONS: Final = 8192
# SASL-2: scramp (the broker's SCRAM server) refuses shorter salts at authentication time, so a
# shorter one is refused when stored rather than leaving a user who can never log in.
MIN_SALT_BYTES: Final = 12
_SALT_BYTES: Final = 32


def hash_name(mechanism: str) -> str:
    """hashlib's name of `mechanism`'s hash; `UnsupportedSaslMechanism` for a non-SCRAM one."""
    try:
        return _HASHES[mechanism]
    except KeyError:
        raise UnsupportedSaslMechanism(mechanism, SCRAM_MECHANISMS) from None


def _digest_size(mechanism: str) -> int:
    return hashlib.new(hash_name(mechanism)).digest_size


def check_iterations(mechanism: str, iterations: int) -> int:
    """`iterations` if Kafka would store it (SASL-2), else `UnacceptableCredential`."""
    if isinstance(iterations, bool) or not isinstance(iterations, int) or not (
            MIN_ITERATIONS <= iterations <= MAX_ITERATIONS):
        raise UnacceptableCredential(
            f"{mechanism} iterations={iterations!r}: expected {MIN_ITERATIONS}..{MAX_ITERATIONS}")
    return iterations


@attrs.frozen
class ScramCredential:
    """RFC 5802's stored form of one user's password for one mechanism (SASL-1)."""

    mechanism: str
    salt: bytes = attrs.field(repr=False)
    stored_key: bytes = attrs.field(repr=False)
    server_key: bytes = attrs.field(repr=False)
    iterations: int

    def __attrs_post_init__(self) -> None:
        size = _digest_size(self.mechanism)
        check_iterations(self.mechanism, self.iterations)
        if len(self.salt) < MIN_SALT_BYTES:
            raise UnacceptableCredential(
                f"{self.mechanism} salt of {len(self.salt)} bytes: expected at least "
                f"{MIN_SALT_BYTES}")
        for name, key in (("stored_key", self.stored_key), ("server_key", self.server_key)):
            if len(key) != size:
                raise UnacceptableCredential(
                    f"{self.mechanism} {name} of {len(key)} bytes: expected {size}")


def salted_password(mechanism: str, password: str, salt: bytes, iterations: int) -> bytes:
    """RFC 5802 SaltedPassword := Hi(password, salt, i), the password as UTF-8 (SASL-3)."""
    if not password:
        raise UnacceptableCredential(f"{mechanism}: the password is empty")
    check_iterations(mechanism, iterations)
    return hashlib.pbkdf2_hmac(hash_name(mechanism), password.encode("utf-8"), salt, iterations)


def credential_from_salted_password(mechanism: str, salt: bytes, salted_password: bytes,
                                    iterations: int) -> ScramCredential:
    """The credential for a SaltedPassword the client computed (AlterUserScramCredentials):
    StoredKey := H(HMAC(SaltedPassword, "Client Key")), ServerKey := HMAC(SaltedPassword,
    "Server Key")."""
    name = hash_name(mechanism)
    if len(salted_password) != _digest_size(mechanism):
        raise UnacceptableCredential(
            f"{mechanism} salted password of {len(salted_password)} bytes: expected "
            f"{_digest_size(mechanism)}")
    client_key = hmac.digest(salted_password, b"Client Key", name)
    return ScramCredential(
        mechanism=mechanism,
        salt=bytes(salt),
        stored_key=hashlib.new(name, client_key).digest(),
        server_key=hmac.digest(salted_password, b"Server Key", name),
        iterations=iterations,
    )


def make_credential(mechanism: str, password: str, *, iterations: int = DEFAULT_ITERATIONS,
                    salt: bytes | None = None) -> ScramCredential:
    """A credential for `password` with a random 32-byte salt (or `salt`)."""
    chosen = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    return credential_from_salted_password(
        mechanism, chosen, salted_password(mechanism, password, chosen, iterations), iterations)


def check_password(credential: ScramCredential, password: str) -> bool:
    """Whether `password` is the one `credential` was made from (SASL-6, for PLAIN); the keys
    are compared in constant time."""
    if not password:
        return False
    name = hash_name(credential.mechanism)
    salted = hashlib.pbkdf2_hmac(name, password.encode("utf-8"), credential.salt,
                                 credential.iterations)
    client_key = hmac.digest(salted, b"Client Key", name)
    return hmac.compare_digest(hashlib.new(name, client_key).digest(), credential.stored_key)
