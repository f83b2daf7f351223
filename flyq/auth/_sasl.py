"""The server side of one connection's SASL exchange, sans-I/O (spec/sasl.md SASL-4..11).

`SaslServer` takes the mechanism from SaslHandshake and the tokens from SaslAuthenticate and
answers with the bytes to send back; it reads no socket, file or clock. The credentials come
through `lookup(user, mechanism)`, so the broker decides where they live (the CredentialStore).

    fresh --handshake(m)--> authenticating --authenticate(token)*--> complete
      |                          |
      +-- unsupported m ------> failed <-- wrong password, unknown user, malformed token

A failed exchange stays failed (SASL-5): every later call raises IllegalSaslState, so a client
cannot keep guessing on one connection.

SCRAM is scramp's server (RFC 5802); this module adds what Kafka adds around it: usernames are
unescaped saslnames (`=2C` is `,`, `=3D` is `=`), the principal is `User:<name>`, and the
client-final nonce of librdkafka before 2.6.1 is accepted (SASL-9).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, Final

import attrs
from scramp import ScramException, ScramMechanism
from scramp.core import Nonce

from flyq.auth._scram import SCRAM_MECHANISMS, ScramCredential, check_password
from flyq.errors import AuthenticationFailed, IllegalSaslState, UnsupportedSaslMechanism

__all__ = ["SASL_MECHANISMS", "SaslServer", "SaslStep"]

PLAIN: Final = "PLAIN"
SASL_MECHANISMS: Final = (PLAIN, *SCRAM_MECHANISMS)

Lookup = Callable[[str, str], ScramCredential | None]
NonceSource = Callable[[], str]

_FRESH, _AUTHENTICATING, _COMPLETE, _FAILED = "fresh", "authenticating", "complete", "failed"
# SCRAM steps within _AUTHENTICATING.
_CLIENT_FIRST, _CLIENT_FINAL = 0, 1


def _server_nonce() -> str:
    # 32 random bytes as URL-safe base64: printable, no ',' (RFC 5802 "printable").
    return secrets.token_urlsafe(32)


@attrs.frozen
class SaslStep:
    """One answer of the exchange: the bytes to send back in SaslAuthenticate's auth_bytes,
    whether the exchange is over, and (once it is) the authenticated principal."""

    challenge: bytes
    complete: bool
    principal: str | None = None


class SaslServer:
    """One connection's SASL exchange (SASL-4). `enabled` are the listener's mechanisms;
    `lookup(user, mechanism)` returns the stored credential or None; `nonce_source` makes the
    server's SCRAM nonce (random by default; tests inject RFC 7677's)."""

    def __init__(self, enabled: tuple[str, ...], lookup: Lookup, *,
                 nonce_source: NonceSource | None = None) -> None:
        for mechanism in enabled:
            if mechanism not in SASL_MECHANISMS:
                raise UnsupportedSaslMechanism(mechanism, SASL_MECHANISMS)
        self._enabled = tuple(enabled)
        self._lookup = lookup
        self._nonce_source = nonce_source if nonce_source is not None else _server_nonce
        self._state = _FRESH
        self._mechanism: str | None = None
        self._user: str | None = None
        # SCRAM only: scramp's server, our own nonce, and the nonces of the server-first message.
        self._scram: Any = None
        self._scram_step = _CLIENT_FIRST
        self._combined_nonce = ""
        self._client_nonce = ""

    @property
    def enabled(self) -> tuple[str, ...]:
        """The mechanisms this connection may use."""
        return self._enabled

    @property
    def mechanism(self) -> str | None:
        """The mechanism chosen by the handshake (None before it)."""
        return self._mechanism

    @property
    def user(self) -> str | None:
        """The user the client claims to be, once a token named it."""
        return self._user

    @property
    def complete(self) -> bool:
        """Whether the exchange succeeded."""
        return self._state == _COMPLETE

    @property
    def failed(self) -> bool:
        """Whether the exchange failed (and so stays failed)."""
        return self._state == _FAILED

    def handshake(self, mechanism: str) -> None:
        """SaslHandshake: choose `mechanism` (SASL-4). `UnsupportedSaslMechanism` if the listener
        does not enable it (the exchange is then failed); `IllegalSaslState` on a second call."""
        if self._state != _FRESH:
            raise IllegalSaslState(
                f"SaslHandshake for {mechanism!r} after the exchange started "
                f"(state {self._state}, mechanism {self._mechanism})")
        if mechanism not in self._enabled:
            self._state = _FAILED
            raise UnsupportedSaslMechanism(mechanism, self._enabled)
        self._mechanism = mechanism
        self._state = _AUTHENTICATING

    def authenticate(self, token: bytes) -> SaslStep:
        """SaslAuthenticate: the answer to one client token (SASL-5). `IllegalSaslState` before
        the handshake or after the exchange ended; `AuthenticationFailed` on a wrong password, an
        unknown user or a malformed token, after which the exchange stays failed."""
        if self._state != _AUTHENTICATING or self._mechanism is None:
            raise IllegalSaslState(
                f"SaslAuthenticate in state {self._state}: "
                + ("no SaslHandshake yet" if self._state == _FRESH else "the exchange is over"))
        try:
            if self._mechanism == PLAIN:
                step = self._plain(bytes(token))
            else:
                step = self._scram_step_for(bytes(token))
        except AuthenticationFailed:
            self._state = _FAILED
            raise
        if step.complete:
            self._state = _COMPLETE
        return step

    def _fail(self, why: str) -> AuthenticationFailed:
        assert self._mechanism is not None
        return AuthenticationFailed(self._mechanism, self._user, why)

    # --- PLAIN (RFC 4616) -----------------------------------------------------------------------

    def _plain(self, token: bytes) -> SaslStep:
        """SASL-6: `authzid NUL authcid NUL passwd`, checked against the user's stored SCRAM
        credentials of any mechanism."""
        parts = token.split(b"\x00")
        if len(parts) != 3:
            raise self._fail(f"malformed PLAIN token: expected 3 NUL-separated fields, got "
                             f"{len(parts)}")
        try:
            authzid, authcid, password = (part.decode("utf-8") for part in parts)
        except UnicodeDecodeError as exc:
            raise self._fail(f"malformed PLAIN token: not UTF-8 at byte {exc.start}") from None
        if not authcid:
            raise self._fail("PLAIN token names no user (empty authcid)")
        self._user = authcid
        if authzid and authzid != authcid:
            raise self._fail(f"the authorization id {authzid!r} differs from the user "
                             "(Kafka allows none or the same)")
        if not password:
            raise self._fail("PLAIN token has an empty password")
        credentials = [c for c in (self._lookup(authcid, m) for m in SCRAM_MECHANISMS)
                       if c is not None]
        if not credentials:
            raise self._fail("unknown user (no SCRAM credential stored)")
        # Every stored credential is tried, so the time taken does not tell which one matched.
        matches = [check_password(credential, password) for credential in credentials]
        if not any(matches):
            raise self._fail("wrong password")
        return SaslStep(b"", True, f"User:{authcid}")

    # --- SCRAM (RFC 5802, RFC 7677) -------------------------------------------------------------

    def _scram_step_for(self, token: bytes) -> SaslStep:
        try:
            message = token.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._fail(f"malformed SCRAM message: not UTF-8 at byte {exc.start}") from None
        if self._scram_step == _CLIENT_FIRST:
            return self._client_first(message)
        return self._client_final(message)

    def _credential_for_scramp(self, user: str) -> tuple[bytes, bytes, bytes, int] | None:
        assert self._mechanism is not None
        self._user = user
        credential = self._lookup(user, self._mechanism)
        if credential is None:
            return None
        return (credential.salt, credential.stored_key, credential.server_key,
                credential.iterations)

    def _client_first(self, message: str) -> SaslStep:
        nonce = self._nonce_source()
        server = ScramMechanism(self._mechanism).make_server(self._credential_for_scramp,
                                                             s_nonce=nonce)
        try:
            server.set_client_first(message)
            server_first: str = server.get_server_first()
        except ScramException as exc:
            raise self._fail(self._why(exc, "client-first")) from None
        # SASL-9 needs the nonces: server-first is "r=<client nonce><server nonce>,s=...,i=...".
        self._combined_nonce = server_first.split(",", 1)[0][2:]
        self._client_nonce = self._combined_nonce[:-len(nonce)]
        self._scram = server
        self._scram_step = _CLIENT_FINAL
        return SaslStep(server_first.encode("utf-8"), False)

    def _client_final(self, message: str) -> SaslStep:
        server = self._scram
        assert server is not None and self._user is not None
        received = next((part[2:] for part in message.split(",") if part.startswith("r=")), None)
        if received == self._client_nonce + self._combined_nonce:
            # SASL-9: librdkafka before 2.6.1 prepends its client nonce to the combined nonce
            # once more, and computes its proof over the message as sent; Kafka 3.8.1 accepts
            # it. scramp compares the nonce with the one it expects, so it is told this one.
            server.nonce = Nonce(received)
        try:
            server.set_client_final(message)
            server_final: str = server.get_server_final()
        except ScramException as exc:
            raise self._fail(self._why(exc, "client-final")) from None
        return SaslStep(server_final.encode("utf-8"), True, f"User:{self._user}")

    @staticmethod
    def _why(exc: ScramException, message: str) -> str:
        """The broker-log reason for a SCRAM failure; scramp's messages never hold a password."""
        text = str(exc.args[0]) if exc.args else str(exc)
        if text == "Unknown user":
            return "unknown user (no credential for this mechanism)"
        if text == "The client keys don't match.":
            return "wrong password (the client proof does not match)"
        return f"bad {message} message: {text}"
