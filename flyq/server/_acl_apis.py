"""DescribeAcls (29), CreateAcls (30) and DeleteAcls (31) over the ACL store (spec/acl.md
ACL-16..19).

As Kafka: a broker without an authorizer answers SECURITY_DISABLED; DescribeAcls needs Describe
on the Cluster and the other two Alter on it (CLUSTER_AUTHORIZATION_FAILED otherwise, where each
API's answer puts errors); an invalid binding or filter fails alone with INVALID_REQUEST and a
message naming the field. Store writes run off the event loop; after each change the ACLs in
force are replaced by the store's set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from flyq.auth import (
    CLUSTER_NAME,
    Acl,
    AclFilter,
    acl_from_codes,
    codes_of_acl,
    filter_from_codes,
)
from flyq.auth._acl_store import AclStore
from flyq.errors import (
    CLUSTER_AUTHORIZATION_FAILED,
    SECURITY_DISABLED,
    FlyQError,
    kafka_error,
)
from flyq.server._authorization import Authorization
from flyq.server._context import REQUEST

__all__ = ["AclHandlers"]

_log = logging.getLogger("flyq.server.acls")

Body = dict[str, Any]

NONE = 0
_NO_AUTHORIZER = "no authorizer is configured on the broker (authorizer.enabled is false)"


def _error(exc: FlyQError) -> tuple[int, str]:
    return kafka_error(exc).code, str(exc)


class AclHandlers:
    """The three ACL APIs over one `AclStore` and the live `Authorization`."""

    def __init__(self, store: AclStore, authorization: Authorization) -> None:
        self.store = store
        self.authorization = authorization

    def _refusal(self, operation: str) -> tuple[int, str] | None:
        """ACL-16, ACL-17: the (code, message) every item of the request fails with, or None."""
        if not self.authorization.enabled:
            return SECURITY_DISABLED.code, _NO_AUTHORIZER
        if not self.authorization.allowed(operation, "Cluster", CLUSTER_NAME):
            return (CLUSTER_AUTHORIZATION_FAILED.code,
                    f"{REQUEST.get().principal} may not {operation} the cluster")
        return None

    async def describe_acls(self, version: int, body: Body) -> Body:
        """DescribeAcls: the ACLs passing the filter, grouped by resource pattern (ACL-18)."""
        answer: Body = {"throttle_time_ms": 0, "error_code": NONE, "error_message": None,
                        "resources": []}
        refusal = self._refusal("Describe")
        if refusal is not None:
            answer["error_code"], answer["error_message"] = refusal
            return answer
        try:
            acl_filter = _filter_of(body)
        except FlyQError as exc:
            answer["error_code"], answer["error_message"] = _error(exc)
            return answer
        answer["resources"] = _by_resource(self.store.describe(acl_filter))
        return answer

    async def create_acls(self, version: int, body: Body) -> Body:
        """CreateAcls: each valid creation added (durably, in one write); an invalid one fails
        alone (ACL-19)."""
        creations = body["creations"]
        refusal = self._refusal("Alter")
        if refusal is not None:
            return _create_answer([refusal] * len(creations))
        results: list[tuple[int, str | None]] = []
        valid: list[Acl] = []
        for creation in creations:
            try:
                acl = acl_from_codes(
                    creation["resource_type"], creation["resource_name"],
                    creation.get("resource_pattern_type", 3), creation["principal"],
                    creation["host"], creation["operation"], creation["permission_type"])
            except FlyQError as exc:
                results.append(_error(exc))
                continue
            valid.append(acl)
            results.append((NONE, None))
        if valid:
            try:
                await asyncio.to_thread(self.store.add, valid)
            except FlyQError as exc:
                failed = _error(exc)
                return _create_answer([failed if code == NONE else (code, message)
                                       for code, message in results])
            self.authorization.replace_acls(self.store.acls())
            _log.info("ACLs created by %s: %s", REQUEST.get().principal,
                      "; ".join(map(describe_acl, valid)))
        return _create_answer(results)

    async def delete_acls(self, version: int, body: Body) -> Body:
        """DeleteAcls: every ACL passing any valid filter removed (durably, in one write); each
        is reported under the first filter it passes; an invalid filter fails alone (ACL-19)."""
        filters = body["filters"]
        refusal = self._refusal("Alter")
        if refusal is not None:
            code, message = refusal
            return _delete_answer([_filter_result(code, message, []) for _ in filters])
        parsed: list[AclFilter | FlyQError] = []
        for entry in filters:
            try:
                parsed.append(_filter_of(entry))
            except FlyQError as exc:
                parsed.append(exc)
        chosen = [one for one in parsed if isinstance(one, AclFilter)]
        try:
            removed = await asyncio.to_thread(self.store.remove, chosen)
        except FlyQError as exc:
            failed = _error(exc)
            return _delete_answer([_filter_result(*(_error(one) if isinstance(one, FlyQError)
                                                    else failed), [])
                                   for one in parsed])
        if removed:
            self.authorization.replace_acls(self.store.acls())
            _log.info("ACLs deleted by %s: %s", REQUEST.get().principal,
                      "; ".join(map(describe_acl, removed)))
        unclaimed = list(removed)
        results = []
        for one in parsed:
            if isinstance(one, FlyQError):
                code, message = _error(one)
                results.append(_filter_result(code, message, []))
                continue
            mine = [acl for acl in unclaimed if one.matches(acl)]
            unclaimed = [acl for acl in unclaimed if not one.matches(acl)]
            results.append(_filter_result(NONE, None, mine))
        return _delete_answer(results)


def describe_acl(acl: Acl) -> str:
    """One line for a log: `Allow User:alice@* Read Topic:Literal:orders`."""
    return (f"{acl.permission} {acl.principal}@{acl.host} {acl.operation} "
            f"{acl.resource_type}:{acl.pattern_type}:{acl.resource_name}")


def _filter_of(body: Body) -> AclFilter:
    return filter_from_codes(
        body["resource_type_filter"], body["resource_name_filter"],
        body.get("pattern_type_filter", 3), body["principal_filter"], body["host_filter"],
        body["operation"], body["permission_type"])


def _wire(acl: Acl) -> Body:
    resource_type, pattern_type, operation, permission = codes_of_acl(acl)
    return {"resource_type": resource_type, "resource_name": acl.resource_name,
            "pattern_type": pattern_type, "principal": acl.principal, "host": acl.host,
            "operation": operation, "permission_type": permission}


def _by_resource(acls: Sequence[Acl]) -> list[Body]:
    resources: dict[tuple[int, str, int], list[Body]] = {}
    for acl in acls:
        wire = _wire(acl)
        key = (wire["resource_type"], wire["resource_name"], wire["pattern_type"])
        resources.setdefault(key, []).append(
            {name: wire[name] for name in ("principal", "host", "operation", "permission_type")})
    return [{"resource_type": resource_type, "resource_name": name, "pattern_type": pattern,
             "acls": entries}
            for (resource_type, name, pattern), entries in resources.items()]


def _create_answer(results: list[tuple[int, str | None]]) -> Body:
    return {"throttle_time_ms": 0,
            "results": [{"error_code": code, "error_message": message}
                        for code, message in results]}


def _filter_result(code: int, message: str | None, acls: list[Acl]) -> Body:
    return {"error_code": code, "error_message": message,
            "matching_acls": [{"error_code": NONE, "error_message": None, **_wire(acl)}
                              for acl in acls]}


def _delete_answer(results: list[Body]) -> Body:
    return {"throttle_time_ms": 0, "filter_results": results}
