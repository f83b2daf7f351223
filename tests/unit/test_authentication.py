"""A connection's authentication state and the per-address failure limit (spec/security.md
AUTH-1..8), driven with the real SASL server and real SCRAM clients (scramp)."""

from __future__ import annotations

import scramp

from flyq.auth import SaslServer, make_credential
from flyq.server._authentication import (
    PRE_AUTH_API_KEYS,
    AuthOutcome,
    ConnectionAuthentication,
    FailedAuthentications,
)
from flyq.server._listeners import Listener

CREDENTIALS = {("alice", mechanism): make_credential(mechanism, "secret", iterations=4096)
               for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512")}
SASL_PLAIN_LISTENER = Listener("SASL_PLAINTEXT", "127.0.0.1", 9093)


def connection(listener: Listener = SASL_PLAIN_LISTENER,
               tls_principal: str | None = None) -> ConnectionAuthentication:
    enabled = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
    return ConnectionAuthentication(
        listener, tls_principal=tls_principal,
        exchange=lambda: SaslServer(enabled, lambda user, mech: CREDENTIALS.get((user, mech))))


def test_plaintext_and_ssl_connections_are_authenticated_from_the_start() -> None:
    """AUTH-1, TLS-6: PLAINTEXT is ANONYMOUS; SSL with a certificate is its principal."""
    plain = connection(Listener("PLAINTEXT", "h", 1))
    assert (plain.authenticated, plain.principal) == (True, "User:ANONYMOUS")
    assert plain.admits(0)
    tls = connection(Listener("SSL", "h", 1), tls_principal="User:CN=alice")
    assert (tls.authenticated, tls.principal) == (True, "User:CN=alice")


def test_before_authentication_only_api_versions_and_sasl() -> None:
    """AUTH-2: an unauthenticated SASL connection admits 18, 17, 36 and nothing else."""
    auth = connection()
    assert {17, 18, 36} == PRE_AUTH_API_KEYS
    assert [key for key in range(0, 70) if auth.admits(key)] == [17, 18, 36]


def scram_login(mechanism: str, password: str) -> tuple[ConnectionAuthentication, AuthOutcome]:
    auth = connection()
    answer, outcome = auth.handshake({"mechanism": mechanism})
    assert (answer["error_code"], outcome) == (0, AuthOutcome.CONTINUE)
    assert answer["mechanisms"] == ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
    client = scramp.ScramClient([mechanism], "alice", password)
    answer, outcome = auth.authenticate({"auth_bytes": client.get_client_first().encode()})
    assert (answer["error_code"], outcome) == (0, AuthOutcome.CONTINUE)
    client.set_server_first(answer["auth_bytes"].decode())
    answer, outcome = auth.authenticate({"auth_bytes": client.get_client_final().encode()})
    if outcome is AuthOutcome.AUTHENTICATED:
        client.set_server_final(answer["auth_bytes"].decode())  # raises if the server is wrong
    return auth, outcome


def test_scram_success_names_the_principal_and_admits_everything() -> None:
    """AUTH-4: after the exchange the connection is User:alice and may send any API."""
    for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        auth, outcome = scram_login(mechanism, "secret")
        assert outcome is AuthOutcome.AUTHENTICATED
        assert (auth.authenticated, auth.principal, auth.mechanism) == (True, "User:alice",
                                                                        mechanism)
        assert auth.admits(0) and auth.admits(3)


def test_a_wrong_password_fails_with_kafkas_generic_message() -> None:
    """AUTH-5: SASL_AUTHENTICATION_FAILED (58); the message does not say which of user or
    password was wrong; the precise reason stays on the connection for the log."""
    auth, outcome = scram_login("SCRAM-SHA-256", "guess")
    assert outcome is AuthOutcome.FAILED
    assert not auth.authenticated and not auth.admits(0)
    assert auth.failure is not None and "alice" in str(auth.failure)
    unknown = connection()
    unknown.handshake({"mechanism": "PLAIN"})
    answer, outcome = unknown.authenticate({"auth_bytes": b"\0mallory\0secret"})
    assert (answer["error_code"], outcome) == (58, AuthOutcome.FAILED)
    assert answer["error_message"] == ("Authentication failed during authentication due to "
                                       "invalid credentials with SASL mechanism PLAIN")
    assert "mallory" in str(unknown.failure)


def test_plain_logs_in_against_the_scram_credentials() -> None:
    """AUTH-4, SASL (PLAIN): PLAIN checks the password against the stored SCRAM credential."""
    auth = connection()
    auth.handshake({"mechanism": "PLAIN"})
    answer, outcome = auth.authenticate({"auth_bytes": b"\0alice\0secret"})
    assert (answer["error_code"], outcome, auth.principal) == (0, AuthOutcome.AUTHENTICATED,
                                                               "User:alice")
    assert answer["session_lifetime_ms"] == 0


def test_an_unsupported_mechanism_is_refused_with_the_enabled_list() -> None:
    """AUTH-3: UNSUPPORTED_SASL_MECHANISM (33) with the enabled mechanisms; then closed."""
    auth = connection()
    answer, outcome = auth.handshake({"mechanism": "GSSAPI"})
    assert answer == {"error_code": 33,
                      "mechanisms": ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]}
    assert outcome is AuthOutcome.FAILED


def test_out_of_order_sasl_requests_are_illegal_sasl_state() -> None:
    """AUTH-7, AUTH-3: Authenticate before Handshake, a second Handshake, SASL on a PLAINTEXT
    listener, Handshake v0 and anything after success: ILLEGAL_SASL_STATE (34)."""
    early = connection()
    answer, outcome = early.authenticate({"auth_bytes": b"\0alice\0secret"})
    assert (answer["error_code"], outcome) == (34, AuthOutcome.FAILED)
    twice = connection()
    twice.handshake({"mechanism": "PLAIN"})
    assert twice.handshake({"mechanism": "PLAIN"})[0]["error_code"] == 34
    plain = connection(Listener("PLAINTEXT", "h", 1))
    assert plain.handshake({"mechanism": "PLAIN"})[0]["error_code"] == 34
    assert plain.authenticate({"auth_bytes": b""})[0]["error_code"] == 34
    old = connection()
    answer, outcome = old.handshake({"mechanism": "PLAIN"}, version=0)
    assert (answer["error_code"], outcome) == (34, AuthOutcome.FAILED)
    assert "version 0" in str(old.failure)
    done, _ = scram_login("SCRAM-SHA-512", "secret")
    assert done.handshake({"mechanism": "PLAIN"})[0]["error_code"] == 34
    failed, _ = scram_login("SCRAM-SHA-256", "guess")
    answer, outcome = failed.authenticate({"auth_bytes": b"more"})
    assert (answer["error_code"], outcome) == (34, AuthOutcome.FAILED)
    assert "the exchange has already failed" in answer["error_message"]


def test_a_blocked_address_fails_without_its_credentials_checked() -> None:
    """AUTH-6: with blocked_for_ms > 0 even the right password fails, saying how long."""
    auth = connection()
    auth.handshake({"mechanism": "PLAIN"})
    answer, outcome = auth.authenticate({"auth_bytes": b"\0alice\0secret"}, blocked_for_ms=1500)
    assert (answer["error_code"], outcome) == (58, AuthOutcome.FAILED)
    assert "too many failed authentications from this address; retry in 2 s" in (
        answer["error_message"])


def test_failure_limit_per_address_slides_with_the_window() -> None:
    """AUTH-6: `limit` failures within `window_ms` block the address until the oldest leaves
    the window; other addresses are unaffected; memory is bounded."""
    limiter = FailedAuthentications(limit=3, window_ms=1000, max_addresses=4)
    for now in (0, 100, 200):
        assert limiter.blocked_for_ms("a", now) == 0
        limiter.record("a", now)
    assert limiter.blocked_for_ms("a", 300) == 700  # until 0 + 1000
    assert limiter.blocked_for_ms("b", 300) == 0
    assert limiter.blocked_for_ms("a", 1000) == 0  # the failure at 0 has left the window
    limiter.record("a", 1000)
    assert limiter.blocked_for_ms("a", 1001) == 99  # 100, 200, 1000: until 1100
    for host in ("h1", "h2", "h3", "h4", "h5"):
        limiter.record(host, 2000)
    assert len(limiter._failures) == 4  # the oldest address was forgotten
    assert limiter.blocked_for_ms("a", 1050) == 0
