"""DescribeUserScramCredentials (key 50) and AlterUserScramCredentials (key 51) over the
CredentialStore (spec/sasl.md SASL-17..20), answered as Kafka answers them.

The client salts and iterates the password itself: an upsertion carries the SaltedPassword,
never the password, and the store keeps only the derived keys. Store writes fsync, so they run
off the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from flyq.auth import (
    CLUSTER_NAME,
    CredentialStore,
    ScramCredential,
    credential_from_salted_password,
)
from flyq.auth._scram import (
    MECHANISM_CODES,
    MECHANISMS_BY_CODE,
    SCRAM_MECHANISMS,
    check_iterations,
)
from flyq.errors import (
    CLUSTER_AUTHORIZATION_FAILED,
    RESOURCE_NOT_FOUND,
    FlyQError,
    UnacceptableCredential,
    UnsupportedSaslMechanism,
    kafka_error,
)
from flyq.server._authorization import Authorization

__all__ = ["UserCredentialHandlers"]

Body = dict[str, Any]

# Kafka's name of the one Cluster resource ACLs are written for.
_NONE = 0
# Kafka's DUPLICATE_RESOURCE: one user named twice in a Describe, or one (user, mechanism) pair
# twice in an Alter (SASL-18, SASL-19).
DUPLICATE_RESOURCE: Final = 92
_UNAUTHORIZED = "the principal may not {operation} the Cluster resource"


def _mechanism_name(code: object) -> str:
    name = MECHANISMS_BY_CODE.get(code) if isinstance(code, int) else None
    if name is None:
        raise UnsupportedSaslMechanism(f"SCRAM mechanism code {code!r}", SCRAM_MECHANISMS)
    return name


class UserCredentialHandlers:
    """The two SCRAM credential APIs over one `CredentialStore`, checked by `authorization`."""

    def __init__(self, store: CredentialStore, authorization: Authorization) -> None:
        self.store = store
        self.authorization = authorization

    async def describe_user_scram_credentials(self, version: int, body: Body) -> Body:
        """SASL-18: Describe on Cluster, else CLUSTER_AUTHORIZATION_FAILED for the request;
        every user when `users` is null or empty; an unknown user is RESOURCE_NOT_FOUND, a user
        named twice DUPLICATE_RESOURCE."""
        if not self.authorization.allowed("Describe", "Cluster", CLUSTER_NAME):
            return {"throttle_time_ms": 0, "error_code": CLUSTER_AUTHORIZATION_FAILED.code,
                    "error_message": _UNAUTHORIZED.format(operation="Describe"), "results": []}
        stored = self.store.users()
        requested = [entry["name"] for entry in body.get("users") or []]
        names = requested or list(stored)
        results: list[Body] = []
        for name in dict.fromkeys(names):
            if requested.count(name) > 1:
                results.append(self._describe_error(
                    name, DUPLICATE_RESOURCE,
                    f"cannot describe the SCRAM credentials of {name!r} twice in one request"))
            elif name not in stored:
                results.append(self._describe_error(
                    name, RESOURCE_NOT_FOUND.code,
                    f"user {name!r} has no SCRAM credentials"))
            else:
                results.append({"user": name, "error_code": _NONE, "error_message": None,
                                "credential_infos": [
                                    {"mechanism": MECHANISM_CODES[mechanism],
                                     "iterations": iterations}
                                    for mechanism, iterations in stored[name]]})
        return {"throttle_time_ms": 0, "error_code": _NONE, "error_message": None,
                "results": results}

    @staticmethod
    def _describe_error(user: str, code: int, message: str) -> Body:
        return {"user": user, "error_code": code, "error_message": message,
                "credential_infos": []}

    async def alter_user_scram_credentials(self, version: int, body: Body) -> Body:
        """SASL-19: Alter on Cluster, else CLUSTER_AUTHORIZATION_FAILED for every user named;
        one result per user, its changes applied all or none (SASL-20)."""
        deletions = body.get("deletions") or []
        upsertions = body.get("upsertions") or []
        users = list(dict.fromkeys(entry["name"] for entry in (*deletions, *upsertions)))
        if not self.authorization.allowed("Alter", "Cluster", CLUSTER_NAME):
            message = _UNAUTHORIZED.format(operation="Alter")
            return {"throttle_time_ms": 0, "results": [
                {"user": user, "error_code": CLUSTER_AUTHORIZATION_FAILED.code,
                 "error_message": message} for user in users]}
        pairs = [(entry["name"], entry["mechanism"]) for entry in (*deletions, *upsertions)]
        results = []
        for user in users:
            if any(pairs.count(pair) > 1 for pair in pairs if pair[0] == user):
                results.append(self._alter_result(
                    user, DUPLICATE_RESOURCE,
                    f"a SCRAM credential of {user!r} is altered twice in one request"))
                continue
            results.append(await self._alter_user(
                user, [entry for entry in deletions if entry["name"] == user],
                [entry for entry in upsertions if entry["name"] == user]))
        return {"throttle_time_ms": 0, "results": results}

    async def _alter_user(self, user: str, deletions: list[Body], upsertions: list[Body]) -> Body:
        try:
            if not user:
                raise UnacceptableCredential("the user name is empty")
            removed = [(user, _mechanism_name(entry["mechanism"])) for entry in deletions]
            added: list[tuple[str, ScramCredential]] = []
            for entry in upsertions:
                mechanism = _mechanism_name(entry["mechanism"])
                check_iterations(mechanism, entry["iterations"])
                added.append((user, credential_from_salted_password(
                    mechanism, entry["salt"], entry["salted_password"], entry["iterations"])))
            await asyncio.to_thread(self.store.alter, added, removed)
        except FlyQError as exc:
            # UnknownUser: RESOURCE_NOT_FOUND; UnacceptableCredential: UNACCEPTABLE_CREDENTIAL;
            # UnsupportedSaslMechanism: UNSUPPORTED_SASL_MECHANISM; the disk: KAFKA_STORAGE_ERROR.
            return self._alter_result(user, kafka_error(exc).code, str(exc))
        return self._alter_result(user, _NONE, None)

    @staticmethod
    def _alter_result(user: str, code: int, message: str | None) -> Body:
        return {"user": user, "error_code": code, "error_message": message}

