"""Who sent the request being handled: set by the server in each request's task context.

Handlers read it (`REQUEST.get()`) for DescribeGroups' client host and for authorization; it is a
context variable so that the handlers stay plain calls with a request body in and a body out.
"""

from __future__ import annotations

import contextvars

import attrs

__all__ = ["ANONYMOUS", "REQUEST", "RequestContext"]

# Kafka's principal for a connection that did not authenticate (PLAINTEXT, or SSL without a
# client certificate).
ANONYMOUS = "User:ANONYMOUS"


@attrs.frozen
class RequestContext:
    """The sender of one request: its client id, its address, the principal its connection
    authenticated as, and the name of the listener it came in on."""

    client_id: str = ""
    host: str = ""
    principal: str = ANONYMOUS
    listener: str = "PLAINTEXT"


REQUEST: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "request", default=RequestContext())  # noqa: B039 - frozen, so never mutated
