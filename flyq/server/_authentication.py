"""A connection's authentication, sans I/O: which requests it may send, the SASL exchange, and the
per-address limit on failed authentications (spec/security.md AUTH-1..8).

The server feeds SaslHandshake and SaslAuthenticate bodies in and writes the bodies that come out;
it asks `admits` before handling any other request. Nothing here reads a socket or a clock: the
time is passed in. The SASL mechanisms themselves are `flyq.auth.SaslServer`'s.
"""

from __future__ import annotations

import collections
import enum
from collections.abc import Callable
from typing import Any, Protocol

import attrs

from flyq.auth import SaslStep
from flyq.errors import (
    AuthenticationFailed,
    FlyQError,
    IllegalSaslState,
    UnsupportedSaslMechanism,
    kafka_error,
)
from flyq.server._context import ANONYMOUS
from flyq.server._listeners import Listener

__all__ = ["PRE_AUTH_API_KEYS", "AuthOutcome", "ConnectionAuthentication",
           "FailedAuthentications", "SaslExchange"]

SASL_HANDSHAKE_KEY = 17
SASL_AUTHENTICATE_KEY = 36
API_VERSIONS_KEY = 18
# AUTH-2: all a SASL listener's connection may send before it has authenticated.
PRE_AUTH_API_KEYS = frozenset({API_VERSIONS_KEY, SASL_HANDSHAKE_KEY, SASL_AUTHENTICATE_KEY})
# The message a client sees for any credential failure (Kafka's), so that an unknown user and a
# wrong password look alike from outside; the broker's log says which it was.
_INVALID_CREDENTIALS = ("Authentication failed during authentication due to invalid credentials "
                        "with SASL mechanism {mechanism}")

Body = dict[str, Any]


class SaslExchange(Protocol):
    """What `flyq.auth.SaslServer` offers a connection (one exchange)."""

    @property
    def user(self) -> str | None: ...

    @property
    def enabled(self) -> tuple[str, ...]: ...

    def handshake(self, mechanism: str) -> None: ...

    def authenticate(self, token: bytes) -> SaslStep: ...


class AuthOutcome(enum.Enum):
    """What the server does after writing an answer."""

    CONTINUE = "continue"  # go on reading requests
    AUTHENTICATED = "authenticated"  # the connection may now send any request
    FAILED = "failed"  # write the answer after the failure delay, then close (AUTH-5)


@attrs.define
class FailedAuthentications:
    """AUTH-6: at most `limit` failed authentications per address in any `window_ms`; past it,
    the address's attempts fail without their credentials being checked until the window has
    slid past the oldest failure. At most `max_addresses` addresses are remembered (the oldest
    forgotten first), so a flood of addresses cannot grow the broker's memory."""

    limit: int
    window_ms: int
    max_addresses: int = 10_000
    _failures: collections.OrderedDict[str, collections.deque[int]] = attrs.field(
        factory=collections.OrderedDict)

    def blocked_for_ms(self, host: str, now_ms: int) -> int:
        """How long `host` must still wait before its credentials are checked again (0: now)."""
        times = self._failures.get(host)
        if times is None:
            return 0
        while times and times[0] <= now_ms - self.window_ms:
            times.popleft()
        if not times:
            del self._failures[host]
            return 0
        if len(times) < self.limit:
            return 0
        return times[0] + self.window_ms - now_ms

    def record(self, host: str, now_ms: int) -> None:
        """One more failure from `host`."""
        times = self._failures.pop(host, None) or collections.deque()
        times.append(now_ms)
        while len(times) > self.limit:
            times.popleft()
        self._failures[host] = times
        while len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)


class ConnectionAuthentication:
    """One connection's authentication state (AUTH-1..5).

    A PLAINTEXT or SSL connection is authenticated from the start, as `ANONYMOUS` or the principal
    of its client certificate. A SASL connection starts unauthenticated: it may send only
    ApiVersions, SaslHandshake (v1) and SaslAuthenticate until the exchange completes.
    """

    def __init__(self, listener: Listener, *, tls_principal: str | None,
                 exchange: Callable[[], SaslExchange] | None) -> None:
        self.listener = listener
        self.principal = tls_principal if tls_principal is not None else ANONYMOUS
        self.authenticated = not listener.sasl
        self.mechanism: str | None = None
        self.failure: FlyQError | None = None
        self._new_exchange = exchange
        self._exchange: SaslExchange | None = None

    @property
    def user(self) -> str | None:
        """The SASL user named so far (for logs), if any."""
        return self._exchange.user if self._exchange is not None else None

    def admits(self, api_key: int) -> bool:
        """AUTH-2: whether a request with `api_key` may be handled now."""
        return self.authenticated or api_key in PRE_AUTH_API_KEYS

    def handshake(self, body: Body, version: int = 1) -> tuple[Body, AuthOutcome]:
        """The SaslHandshake answer (AUTH-3)."""
        mechanism = str(body.get("mechanism"))
        if (not self.listener.sasl or self.authenticated or self._exchange is not None
                or version < 1):
            why = ("this listener does not use SASL" if not self.listener.sasl
                   else "the connection has already authenticated" if self.authenticated
                   else "a second SaslHandshake" if self._exchange is not None
                   else "version 0 (unframed SASL tokens) is not served; version 1 is")
            self.failure = IllegalSaslState(f"unexpected SaslHandshake on {self.listener.name}: "
                                            f"{why}")
            return self._handshake_answer(self.failure), AuthOutcome.FAILED
        assert self._new_exchange is not None  # a SASL listener always has one
        exchange = self._new_exchange()
        self._exchange = exchange
        self.mechanism = mechanism
        try:
            exchange.handshake(mechanism)
        except UnsupportedSaslMechanism as exc:
            self.failure = exc
            return self._handshake_answer(exc), AuthOutcome.FAILED
        return self._handshake_answer(None), AuthOutcome.CONTINUE

    def _handshake_answer(self, error: FlyQError | None) -> Body:
        enabled = list(self._exchange.enabled) if self._exchange is not None else []
        return {"error_code": kafka_error(error).code if error else 0, "mechanisms": enabled}

    def authenticate(self, body: Body, *, blocked_for_ms: int = 0) -> tuple[Body, AuthOutcome]:
        """The SaslAuthenticate answer (AUTH-4..6). `blocked_for_ms` > 0 (from
        `FailedAuthentications`) fails the attempt without checking its credentials."""
        exchange = self._exchange
        if exchange is None or self.authenticated or self.failure is not None:
            why = ("this listener does not use SASL" if not self.listener.sasl
                   else "the connection has already authenticated" if self.authenticated
                   else "no SaslHandshake came first" if exchange is None
                   else "the exchange has already failed")
            self.failure = IllegalSaslState(f"unexpected SaslAuthenticate on "
                                            f"{self.listener.name}: {why}")
            return self._authenticate_answer(self.failure, str(self.failure)), AuthOutcome.FAILED
        mechanism = self.mechanism or "?"
        if blocked_for_ms > 0:
            self.failure = AuthenticationFailed(
                mechanism, exchange.user,
                f"too many failed authentications from this address; retry in "
                f"{(blocked_for_ms + 999) // 1000} s")
            return self._authenticate_answer(self.failure, str(self.failure)), AuthOutcome.FAILED
        try:
            step = exchange.authenticate(bytes(body.get("auth_bytes") or b""))
        except (AuthenticationFailed, IllegalSaslState) as exc:
            self.failure = exc
            message = (_INVALID_CREDENTIALS.format(mechanism=mechanism)
                       if isinstance(exc, AuthenticationFailed) else str(exc))
            return self._authenticate_answer(exc, message), AuthOutcome.FAILED
        answer = {"error_code": 0, "error_message": None, "auth_bytes": step.challenge,
                  "session_lifetime_ms": 0}
        if not step.complete:
            return answer, AuthOutcome.CONTINUE
        assert step.principal is not None  # a complete exchange names its principal
        self.authenticated = True
        self.principal = step.principal
        return answer, AuthOutcome.AUTHENTICATED

    @staticmethod
    def _authenticate_answer(error: FlyQError, message: str) -> Body:
        return {"error_code": kafka_error(error).code, "error_message": message,
                "auth_bytes": b"", "session_lifetime_ms": 0}
