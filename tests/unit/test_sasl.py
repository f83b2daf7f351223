"""The SASL exchange's state machine, PLAIN, and librdkafka's client-final nonce
(spec/sasl.md SASL-4..9)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from scramp import ScramClient

from flyq.auth import SASL_MECHANISMS, SCRAM_MECHANISMS, SaslServer, SaslStep, make_credential
from flyq.auth._scram import ScramCredential
from flyq.errors import AuthenticationFailed, IllegalSaslState, UnsupportedSaslMechanism

PASSWORD = "s3cret-p\u00e4ss"
CREDENTIALS = {
    ("both", "SCRAM-SHA-256"): make_credential("SCRAM-SHA-256", PASSWORD, iterations=4096),
    ("both", "SCRAM-SHA-512"): make_credential("SCRAM-SHA-512", PASSWORD, iterations=4096),
    ("only256", "SCRAM-SHA-256"): make_credential("SCRAM-SHA-256", PASSWORD, iterations=4096),
    ("only512", "SCRAM-SHA-512"): make_credential("SCRAM-SHA-512", PASSWORD, iterations=4096),
}


def lookup(user: str, mechanism: str) -> ScramCredential | None:
    return CREDENTIALS.get((user, mechanism))


def server(mechanism: str | None = None, enabled: tuple[str, ...] = SASL_MECHANISMS,
           **options: object) -> SaslServer:
    sasl = SaslServer(enabled, lookup, **options)  # type: ignore[arg-type]
    if mechanism is not None:
        sasl.handshake(mechanism)
    return sasl


# --- the state machine ----------------------------------------------------------------------------


def test_handshake_chooses_an_enabled_mechanism() -> None:
    """SASL-4: the handshake's mechanism is kept; nothing is known of the user yet."""
    sasl = server("PLAIN", ("PLAIN", "SCRAM-SHA-512"))
    assert sasl.mechanism == "PLAIN" and sasl.user is None
    assert sasl.enabled == ("PLAIN", "SCRAM-SHA-512")
    assert not sasl.complete and not sasl.failed


def test_a_mechanism_the_listener_does_not_enable_is_refused() -> None:
    """SASL-4: an enabled-elsewhere or unknown mechanism is UnsupportedSaslMechanism listing the
    enabled ones, and the exchange is failed."""
    for asked in ("SCRAM-SHA-256", "GSSAPI", "plain"):
        sasl = server(enabled=("PLAIN", "SCRAM-SHA-512"))
        with pytest.raises(UnsupportedSaslMechanism) as info:
            sasl.handshake(asked)
        assert info.value.enabled == ("PLAIN", "SCRAM-SHA-512")
        assert sasl.failed and sasl.mechanism is None
        with pytest.raises(IllegalSaslState):
            sasl.handshake("PLAIN")


def test_an_unknown_enabled_mechanism_is_refused() -> None:
    """SASL-4: a listener cannot enable a mechanism FlyQ does not implement."""
    with pytest.raises(UnsupportedSaslMechanism, match="OAUTHBEARER"):
        SaslServer(("PLAIN", "OAUTHBEARER"), lookup)


def test_a_second_handshake_is_illegal() -> None:
    """SASL-4: the mechanism is chosen once."""
    sasl = server("PLAIN")
    with pytest.raises(IllegalSaslState, match="SaslHandshake"):
        sasl.handshake("PLAIN")
    assert sasl.mechanism == "PLAIN"


def test_authenticate_before_the_handshake_is_illegal() -> None:
    """SASL-5: no token before a mechanism is chosen."""
    with pytest.raises(IllegalSaslState, match="no SaslHandshake"):
        server().authenticate(b"\x00both\x00" + PASSWORD.encode())


def test_nothing_is_accepted_after_completion() -> None:
    """SASL-5: after the exchange completed, another token and another handshake are illegal."""
    sasl = server("PLAIN")
    step = sasl.authenticate(b"\x00both\x00" + PASSWORD.encode())
    assert step == SaslStep(b"", True, "User:both")
    assert sasl.complete
    with pytest.raises(IllegalSaslState, match="over"):
        sasl.authenticate(b"\x00both\x00" + PASSWORD.encode())
    with pytest.raises(IllegalSaslState):
        sasl.handshake("PLAIN")


def test_a_failed_exchange_stays_failed() -> None:
    """SASL-5: after a wrong password even the right one is refused on that exchange."""
    sasl = server("PLAIN")
    with pytest.raises(AuthenticationFailed):
        sasl.authenticate(b"\x00both\x00wrong")
    assert sasl.failed
    with pytest.raises(IllegalSaslState):
        sasl.authenticate(b"\x00both\x00" + PASSWORD.encode())
    assert not sasl.complete


# --- PLAIN ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["both", "only256", "only512"])
def test_plain_checks_against_any_scram_credential(user: str) -> None:
    """SASL-6: PLAIN's password is checked against the user's SCRAM credential of either
    mechanism; the principal is User:<authcid>."""
    step = server("PLAIN").authenticate(f"\x00{user}\x00{PASSWORD}".encode())
    assert step == SaslStep(b"", True, f"User:{user}")


def test_plain_with_authzid_equal_to_the_user() -> None:
    """SASL-6: an authzid equal to the authcid is allowed."""
    assert server("PLAIN").authenticate(f"both\x00both\x00{PASSWORD}".encode()).complete


@pytest.mark.parametrize(("token", "why"), [
    (b"\x00both\x00wrong", "wrong password"),
    (f"\x00both\x00{PASSWORD.upper()}".encode(), "wrong password"),
    (f"\x00mallory\x00{PASSWORD}".encode(), "unknown user"),
    (f"other\x00both\x00{PASSWORD}".encode(), "authorization id"),
    (f"\x00\x00{PASSWORD}".encode(), "no user"),
    (b"\x00both\x00", "empty password"),
    (f"both\x00{PASSWORD}".encode(), "3 NUL-separated fields, got 2"),
    (f"\x00both\x00{PASSWORD}\x00".encode(), "got 4"),
    (b"", "got 1"),
    (b"\x00b\xffth\x00pw", "not UTF-8"),
])
def test_plain_failures(token: bytes, why: str) -> None:
    """SASL-5, SASL-6: wrong password, unknown user, impersonation, empty fields and malformed
    tokens fail with a precise reason that never holds the password."""
    sasl = server("PLAIN")
    with pytest.raises(AuthenticationFailed) as info:
        sasl.authenticate(token)
    assert why in info.value.why, info.value.why
    assert info.value.mechanism == "PLAIN"
    assert PASSWORD not in str(info.value) and PASSWORD.upper() not in str(info.value)
    assert sasl.failed


def test_plain_names_the_user_in_its_error() -> None:
    """SASL-5: the failure names the user the token claimed."""
    with pytest.raises(AuthenticationFailed, match="PLAIN authentication as 'both' failed"):
        server("PLAIN").authenticate(b"\x00both\x00wrong")


# --- SCRAM: nonces and librdkafka -----------------------------------------------------------------

HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}


def hand_client_final(mechanism: str, client_first_bare: str, server_first: str, nonce: str,
                      password: str) -> tuple[bytes, bytes]:
    """A client-final message and the server signature expected, computed here with hashlib
    from RFC 5802 (neither scramp nor FlyQ): the proof covers the message as sent."""
    name = HASHES[mechanism]
    fields = dict(part.split("=", 1) for part in server_first.split(","))
    salted = hashlib.pbkdf2_hmac(name, password.encode(), base64.b64decode(fields["s"]),
                                 int(fields["i"]))
    client_key = hmac.digest(salted, b"Client Key", name)
    stored_key = hashlib.new(name, client_key).digest()
    without_proof = f"c=biws,r={nonce}"
    auth_message = f"{client_first_bare},{server_first},{without_proof}".encode()
    signature = hmac.digest(stored_key, auth_message, name)
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    server_signature = hmac.digest(hmac.digest(salted, b"Server Key", name), auth_message, name)
    return (f"{without_proof},p={base64.b64encode(proof).decode()}".encode(),
            b"v=" + base64.b64encode(server_signature))


CLIENT_NONCE = "fyko+d2lbbFgONRv9qkxdawL"


def first_round(mechanism: str) -> tuple[SaslServer, str, str]:
    sasl = server(mechanism, nonce_source=lambda: "3rfcNHYJY1ZVvWVs7j")
    client_first_bare = f"n=both,r={CLIENT_NONCE}"
    server_first = sasl.authenticate(f"n,,{client_first_bare}".encode()).challenge.decode()
    return sasl, client_first_bare, server_first


@pytest.mark.parametrize("mechanism", SCRAM_MECHANISMS)
def test_the_rfc_nonce_is_accepted(mechanism: str) -> None:
    """SASL-7: the server-first nonce is the client's followed by the server's; a client-final
    message echoing it with the right proof completes with the expected server signature."""
    sasl, bare, server_first = first_round(mechanism)
    combined = CLIENT_NONCE + "3rfcNHYJY1ZVvWVs7j"
    assert server_first.startswith(f"r={combined},s=")
    final, signature = hand_client_final(mechanism, bare, server_first, combined, PASSWORD)
    assert sasl.authenticate(final) == SaslStep(signature, True, "User:both")


@pytest.mark.parametrize("mechanism", SCRAM_MECHANISMS)
def test_librdkafkas_repeated_client_nonce_is_accepted(mechanism: str) -> None:
    """SASL-9: librdkafka before 2.6.1 sends r=<client nonce><server-first nonce> and proves
    over that message; it is accepted, with the signature over the message as sent."""
    sasl, bare, server_first = first_round(mechanism)
    doubled = CLIENT_NONCE + CLIENT_NONCE + "3rfcNHYJY1ZVvWVs7j"
    final, signature = hand_client_final(mechanism, bare, server_first, doubled, PASSWORD)
    assert final.startswith(f"c=biws,r={doubled},p=".encode())
    assert sasl.authenticate(final) == SaslStep(signature, True, "User:both")


@pytest.mark.parametrize("prefix", ["x", "fyko", CLIENT_NONCE + "x", CLIENT_NONCE * 2])
def test_other_nonce_prefixes_are_refused(prefix: str) -> None:
    """SASL-9: only the client nonce itself may precede the server-first nonce (Kafka's
    endsWith would take any prefix), even with a proof computed over the message."""
    sasl, bare, server_first = first_round("SCRAM-SHA-256")
    nonce = prefix + CLIENT_NONCE + "3rfcNHYJY1ZVvWVs7j"
    final, _ = hand_client_final("SCRAM-SHA-256", bare, server_first, nonce, PASSWORD)
    with pytest.raises(AuthenticationFailed, match="nonce"):
        sasl.authenticate(final)


def test_librdkafkas_shape_with_a_wrong_password_fails() -> None:
    """SASL-9: accepting the repeated nonce does not skip the proof."""
    sasl, bare, server_first = first_round("SCRAM-SHA-512")
    doubled = CLIENT_NONCE + CLIENT_NONCE + "3rfcNHYJY1ZVvWVs7j"
    final, _ = hand_client_final("SCRAM-SHA-512", bare, server_first, doubled, "guess")
    with pytest.raises(AuthenticationFailed, match="wrong password"):
        sasl.authenticate(final)


def test_server_nonces_are_fresh_and_printable() -> None:
    """SASL-7: the default server nonce differs per exchange, has no comma, is printable and long
    enough (at least 32 characters)."""
    nonces = set()
    for _ in range(20):
        sasl = server("SCRAM-SHA-256")
        client = ScramClient(["SCRAM-SHA-256"], "both", PASSWORD, c_nonce="abc")
        server_first = sasl.authenticate(client.get_client_first().encode()).challenge.decode()
        nonce = server_first.split(",")[0][len("r=abc"):]
        assert len(nonce) >= 32 and all(0x21 <= ord(c) <= 0x7E and c != "," for c in nonce)
        nonces.add(nonce)
    assert len(nonces) == 20


def test_a_scram_failure_names_mechanism_and_user_not_password() -> None:
    """SASL-5: the SCRAM failure message names both, says why, and holds no password."""
    sasl = server("SCRAM-SHA-256")
    client = ScramClient(["SCRAM-SHA-256"], "only256", "not-" + PASSWORD)
    client.set_server_first(sasl.authenticate(client.get_client_first().encode())
                            .challenge.decode())
    with pytest.raises(AuthenticationFailed) as info:
        sasl.authenticate(client.get_client_final().encode())
    assert str(info.value).startswith("SCRAM-SHA-256 authentication as 'only256' failed: wrong")
    assert PASSWORD not in str(info.value)
