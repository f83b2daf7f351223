"""The broker's authorizer at run time: the current ACL set, asked per request (spec/acl.md).

`allowed` reads the sender from the request context (`REQUEST`), asks the pure `AclAuthorizer`,
and logs and counts a denial. With no authorizer configured every request is allowed, as in Kafka.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from flyq.auth import Acl, AclAuthorizer
from flyq.server._context import REQUEST

__all__ = ["Authorization"]

_log = logging.getLogger("flyq.server.authorizer")

# (operation, resource type) -> None: told of every denial (the metrics counter).
DenialHook = Callable[[str, str], None]


class Authorization:
    """The live authorizer; `None` for a broker with no authorizer (everything is allowed)."""

    def __init__(self, authorizer: AclAuthorizer | None = None) -> None:
        self._authorizer = authorizer
        self.on_denied: DenialHook | None = None

    @property
    def enabled(self) -> bool:
        """Whether ACLs are enforced (`authorizer.enabled`)."""
        return self._authorizer is not None

    @property
    def acls(self) -> frozenset[Acl]:
        """The ACL set in force (empty when disabled)."""
        return self._authorizer.acls if self._authorizer is not None else frozenset()

    def replace_acls(self, acls: Iterable[Acl]) -> None:
        """Put `acls` in force (after the ACL store changed); a no-op when disabled."""
        if self._authorizer is not None:
            self._authorizer = AclAuthorizer(frozenset(acls), self._authorizer.super_users,
                                             self._authorizer.allow_everyone_if_no_acl_found)

    def allowed(self, operation: str, resource_type: str, name: str, *,
                log_denial: bool = True) -> bool:
        """Whether the current request's principal may do `operation` on the resource.

        A denial is logged at info and counted unless `log_denial` is false (Kafka does not log
        the topics it silently leaves out of a Metadata or ListGroups answer either).
        """
        authorizer = self._authorizer
        if authorizer is None:
            return True
        sender = REQUEST.get()
        if authorizer.authorize(sender.principal, sender.host, operation, resource_type, name):
            return True
        if log_denial:
            _log.info("denied: principal=%s host=%s operation=%s resource=%s:%s listener=%s",
                      sender.principal, sender.host, operation, resource_type, name,
                      sender.listener)
            if self.on_denied is not None:
                self.on_denied(operation, resource_type)
        return False
