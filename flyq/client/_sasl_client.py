"""The client side of one SASL exchange, sans-I/O (spec/client.md CLIENT-54, CLIENT-55).

`SaslClient` makes the tokens a client sends in SaslAuthenticate and checks the broker's
answers; `BrokerConnection` moves them. It reads no socket, file or clock.

    PLAIN:  first_token() = NUL user NUL password;  receive(b"") -> None, complete
    SCRAM:  first_token() = client-first;  receive(server-first) -> client-final;
            receive(server-final) -> None, complete (the server's signature checked)

SCRAM is scramp's client (RFC 5802); this module adds Kafka's rules around it: the password
enters Hi as its UTF-8 bytes without SASLprep (SASL-3, as Kafka's clients do), and the broker's
iteration count must be within Kafka's 4096..16384.
"""

from __future__ import annotations

from typing import Any, Final

from scramp import ScramClient, ScramException

from flyq.auth._sasl import SASL_MECHANISMS
from flyq.auth._scram import MAX_ITERATIONS, MIN_ITERATIONS
from flyq.errors import AuthenticationFailed, IllegalSaslState, UnsupportedSaslMechanism

__all__ = ["SaslClient"]

_PLAIN: Final = "PLAIN"
_FIRST, _WAITING, _COMPLETE, _FAILED = "first", "waiting", "complete", "failed"


class _RawPassword:
    """What scramp's client hashes (`bytes(password)`): the UTF-8 bytes as given, no SASLprep."""

    def __init__(self, password: str) -> None:
        self._bytes = password.encode("utf-8")

    def __bytes__(self) -> bytes:
        return self._bytes


class SaslClient:
    """One exchange as `username` with `password` (CLIENT-54); `c_nonce` fixes SCRAM's client
    nonce (tests), random otherwise."""

    def __init__(self, mechanism: str, username: str, password: str, *,
                 c_nonce: str | None = None) -> None:
        if mechanism not in SASL_MECHANISMS:
            raise UnsupportedSaslMechanism(mechanism, SASL_MECHANISMS)
        self.mechanism = mechanism
        self.username = username
        self._password = password
        self._state = _FIRST
        self._scram: Any = None
        self._scram_step = 0
        if mechanism != _PLAIN:
            try:
                # A placeholder password: scramp would SASLprep the real one (and refuse some).
                self._scram = ScramClient([mechanism], username, "x", c_nonce=c_nonce)
            except ScramException as exc:
                raise self._fail(f"the user name cannot be sent: {exc.args[0]}") from None
            self._scram.password = _RawPassword(password)

    @property
    def complete(self) -> bool:
        """Whether the broker accepted the exchange (and, for SCRAM, proved it knows the
        user's credential)."""
        return self._state == _COMPLETE

    def _fail(self, why: str) -> AuthenticationFailed:
        self._state = _FAILED
        return AuthenticationFailed(self.mechanism, self.username, why)

    def first_token(self) -> bytes:
        """The first SaslAuthenticate token; `IllegalSaslState` if asked twice."""
        if self._state != _FIRST:
            raise IllegalSaslState(f"{self.mechanism} client: the first token was already "
                                   f"made (state {self._state})")
        self._state = _WAITING
        if self._scram is None:
            return b"\x00" + f"{self.username}\x00{self._password}".encode()
        return str(self._scram.get_client_first()).encode("utf-8")

    def receive(self, challenge: bytes) -> bytes | None:
        """The broker's answer to the last token: the next token to send, or None when the
        exchange is complete. `AuthenticationFailed` (naming the mechanism and the user) for an
        answer that does not verify; `IllegalSaslState` out of turn."""
        if self._state != _WAITING:
            raise IllegalSaslState(f"{self.mechanism} client: a broker answer in state "
                                   f"{self._state}")
        if self._scram is None:
            if challenge:
                raise self._fail("the broker answered PLAIN with a non-empty challenge")
            self._state = _COMPLETE
            return None
        try:
            message = bytes(challenge).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._fail(f"the broker's SCRAM message is not UTF-8 at byte "
                             f"{exc.start}") from None
        if self._scram_step == 0:
            return self._server_first(message)
        self._server_final(message)
        return None

    def _server_first(self, message: str) -> bytes:
        try:
            self._scram.set_server_first(message)
        except ScramException as exc:
            raise self._fail(f"bad server-first message: {exc.args[0]}") from None
        iterations = int(self._scram.iterations)
        if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
            raise self._fail(f"the broker asks for {iterations} iterations; expected "
                             f"{MIN_ITERATIONS}..{MAX_ITERATIONS}")
        self._scram_step = 1
        return str(self._scram.get_client_final()).encode("utf-8")

    def _server_final(self, message: str) -> None:
        try:
            self._scram.set_server_final(message)
        except ScramException as exc:
            raise self._fail(f"the broker's server-final message does not verify "
                             f"({exc.args[0]}): it does not hold this user's credential") from None
        self._state = _COMPLETE
