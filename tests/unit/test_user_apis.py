"""DescribeUserScramCredentials and AlterUserScramCredentials over a real broker's handlers
(flyq/server/_user_apis.py; spec/sasl.md SASL-17..20): bodies through the wire schema, the
credential store on real files, ACLs from a real authorizer."""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from flyq.auth import Acl, CredentialStore, SaslServer
from flyq.broker import AsyncBroker
from flyq.errors import (
    CLUSTER_AUTHORIZATION_FAILED,
    RESOURCE_NOT_FOUND,
    UNACCEPTABLE_CREDENTIAL,
    UNSUPPORTED_SASL_MECHANISM,
)
from flyq.protocol import APIS, decode_message, encode_message
from flyq.server import SUPPORTED_VERSIONS, ApiHandlers, ApiKey, ServerSettings
from flyq.server._context import REQUEST, RequestContext

_T = TypeVar("_T")
SALT = b"0123456789abcdef"
SHA256, SHA512 = 1, 2


def run(tmp_path: Path, scenario: Callable[[ApiHandlers], Awaitable[_T]],
        settings: ServerSettings | None = None) -> _T:
    async def main() -> _T:
        broker = await AsyncBroker.open(str(tmp_path / "data"), create=True)
        try:
            return await scenario(ApiHandlers(broker, settings or ServerSettings(), "cluster-x"))
        finally:
            await broker.close()
    return asyncio.run(main())


def wire(key: int, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """`body` encoded with Kafka's schema at v0 and decoded again."""
    schema = APIS[key].request if kind == "request" else APIS[key].response
    data = b"".join(encode_message(schema, 0, body))
    decoded: dict[str, Any] = decode_message(schema, 0, memoryview(data))
    return decoded


async def call(api: ApiHandlers, key: int, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.handle(key, 0, wire(key, "request", body))
    assert response is not None
    return wire(key, "response", response)


def upsertion(name: str, mechanism: int, password: str, iterations: int = 4096,
              salt: bytes = SALT) -> dict[str, Any]:
    """What a Kafka client sends: it salts and iterates the password itself (hashlib here)."""
    hash_name = {SHA256: "sha256", SHA512: "sha512"}.get(mechanism, "sha256")
    return {"name": name, "mechanism": mechanism, "iterations": iterations, "salt": salt,
            "salted_password": hashlib.pbkdf2_hmac(hash_name, password.encode(), salt,
                                                   max(iterations, 1))}


def alter(upsertions: list[dict[str, Any]] = [],  # noqa: B006 - never mutated
          deletions: list[tuple[str, int]] = []) -> dict[str, Any]:  # noqa: B006
    return {"upsertions": upsertions,
            "deletions": [{"name": name, "mechanism": m} for name, m in deletions]}


def results(response: dict[str, Any]) -> dict[str, int]:
    return {result["user"]: result["error_code"] for result in response["results"]}


def test_the_two_apis_are_advertised_at_v0() -> None:
    """SASL-17: keys 50 and 51 at version 0."""
    assert SUPPORTED_VERSIONS[ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS] == (0, 0)
    assert SUPPORTED_VERSIONS[ApiKey.ALTER_USER_SCRAM_CREDENTIALS] == (0, 0)


def test_upsert_describe_and_log_in(tmp_path: Path) -> None:
    """SASL-18, SASL-19: upserted credentials are described with mechanism codes and
    iterations, persist in the data directory, and let the user log in with the password."""
    async def scenario(api: ApiHandlers) -> dict[str, Any]:
        changed = await call(api, 51, alter([upsertion("alice", SHA256, "pw-a", 5000),
                                            upsertion("alice", SHA512, "pw-a"),
                                            upsertion("bob", SHA512, "pw-b")]))
        assert changed["results"] == [
            {"user": "alice", "error_code": 0, "error_message": None},
            {"user": "bob", "error_code": 0, "error_message": None}]
        return await call(api, 50, {"users": None})

    described = run(tmp_path, scenario)
    assert described == {"throttle_time_ms": 0, "error_code": 0, "error_message": None,
                         "results": [
                             {"user": "alice", "error_code": 0, "error_message": None,
                              "credential_infos": [{"mechanism": SHA256, "iterations": 5000},
                                                   {"mechanism": SHA512, "iterations": 4096}]},
                             {"user": "bob", "error_code": 0, "error_message": None,
                              "credential_infos": [{"mechanism": SHA512, "iterations": 4096}]}]}
    store = CredentialStore.open(str(tmp_path / "data"))
    sasl = SaslServer(("PLAIN",), store.get)
    sasl.handshake("PLAIN")
    assert sasl.authenticate(b"\x00alice\x00pw-a").principal == "User:alice"
    assert b"pw-a" not in Path(store.path).read_bytes()


def test_describe_named_unknown_and_duplicate_users(tmp_path: Path) -> None:
    """SASL-18: named users are described in order; an unknown one is RESOURCE_NOT_FOUND, one
    named twice DUPLICATE_RESOURCE (92); an empty list describes everyone."""
    async def scenario(api: ApiHandlers) -> tuple[dict[str, Any], ...]:
        await call(api, 51, alter([upsertion("alice", SHA256, "pw"),
                                   upsertion("bob", SHA256, "pw")]))
        named = await call(api, 50, {"users": [{"name": "bob"}, {"name": "zed"},
                                               {"name": "alice"}, {"name": "alice"}]})
        every = await call(api, 50, {"users": []})
        return named, every

    named, every = run(tmp_path, scenario)
    assert [(r["user"], r["error_code"], len(r["credential_infos"]))
            for r in named["results"]] == [("bob", 0, 1), ("zed", RESOURCE_NOT_FOUND.code, 0),
                                          ("alice", 92, 0)]
    assert "zed" in named["results"][1]["error_message"]
    assert [r["user"] for r in every["results"]] == ["alice", "bob"]


def test_alter_errors_per_user(tmp_path: Path) -> None:
    """SASL-19, SASL-20: unknown mechanism, bad iterations, a short salt, an empty name, a
    missing deletion and a duplicate pair each fail their own user only; a failing user keeps
    none of its changes."""
    async def scenario(api: ApiHandlers) -> tuple[dict[str, int], dict[str, Any]]:
        await call(api, 51, alter([upsertion("keep", SHA256, "pw")]))
        answer = await call(api, 51, alter(
            [upsertion("mech", 3, "pw"), upsertion("few", SHA256, "pw", iterations=4095),
             upsertion("many", SHA512, "pw", iterations=16385),
             upsertion("salty", SHA256, "pw", salt=b"short"), upsertion("", SHA256, "pw"),
             upsertion("good", SHA256, "pw"), upsertion("half", SHA256, "pw"),
             upsertion("twice", SHA256, "pw")],
            [("keep", SHA512), ("half", SHA512), ("twice", SHA256)]))
        return results(answer), await call(api, 50, {"users": None})

    codes, described = run(tmp_path, scenario)
    assert codes == {"keep": RESOURCE_NOT_FOUND.code, "half": RESOURCE_NOT_FOUND.code,
                     "twice": 92, "mech": UNSUPPORTED_SASL_MECHANISM.code,
                     "few": UNACCEPTABLE_CREDENTIAL.code, "many": UNACCEPTABLE_CREDENTIAL.code,
                     "salty": UNACCEPTABLE_CREDENTIAL.code, "": UNACCEPTABLE_CREDENTIAL.code,
                     "good": 0}
    assert [r["user"] for r in described["results"]] == ["good", "keep"]


def test_delete_then_describe(tmp_path: Path) -> None:
    """SASL-19: deleting a user's last mechanism removes the user."""
    async def scenario(api: ApiHandlers) -> tuple[dict[str, int], dict[str, Any]]:
        await call(api, 51, alter([upsertion("alice", SHA256, "pw"),
                                   upsertion("alice", SHA512, "pw")]))
        first = results(await call(api, 51, alter(deletions=[("alice", SHA256)])))
        assert first == {"alice": 0}
        second = results(await call(api, 51, alter(deletions=[("alice", SHA512)])))
        return second, await call(api, 50, {"users": [{"name": "alice"}]})

    second, described = run(tmp_path, scenario)
    assert second == {"alice": 0}
    assert described["results"][0]["error_code"] == RESOURCE_NOT_FOUND.code


def _as(principal: str, work: Awaitable[_T]) -> Awaitable[_T]:
    async def inner() -> _T:
        REQUEST.set(RequestContext(principal=principal, host="10.0.0.1"))
        return await work
    return asyncio.create_task(inner(), context=contextvars.copy_context())


def test_cluster_acls_guard_both_apis(tmp_path: Path) -> None:
    """SASL-18, SASL-19: without Describe/Alter on the Cluster, Describe answers
    CLUSTER_AUTHORIZATION_FAILED for the request and Alter for every user, changing nothing;
    with them (Alter implies Describe, ACL-5; or as a super user) both work."""
    settings = ServerSettings(authorizer_enabled=True, super_users=frozenset({"User:admin"}))

    async def scenario(api: ApiHandlers) -> None:
        api.authorization.replace_acls({
            Acl("User:reader", "*", "Cluster", "Literal", "kafka-cluster", "Describe", "Allow"),
            Acl("User:writer", "*", "Cluster", "Literal", "kafka-cluster", "Alter", "Allow")})
        denied = await _as("User:reader", call(api, 51, alter(
            [upsertion("alice", SHA256, "pw")], [("bob", SHA256)])))
        assert denied["results"] == [
            {"user": name, "error_code": CLUSTER_AUTHORIZATION_FAILED.code,
             "error_message": "the principal may not Alter the Cluster resource"}
            for name in ("bob", "alice")]
        assert api.credentials.users() == {}
        hidden = await _as("User:nobody", call(api, 50, {"users": None}))
        assert (hidden["error_code"], hidden["results"]) == (CLUSTER_AUTHORIZATION_FAILED.code, [])
        assert results(await _as("User:writer", call(
            api, 51, alter([upsertion("alice", SHA256, "pw")])))) == {"alice": 0}
        assert results(await _as("User:admin", call(
            api, 51, alter([upsertion("bob", SHA256, "pw")])))) == {"bob": 0}
        for principal in ("User:reader", "User:writer"):
            shown = await _as(principal, call(api, 50, {"users": None}))
            assert [r["user"] for r in shown["results"]] == ["alice", "bob"]

    run(tmp_path, scenario, settings)
