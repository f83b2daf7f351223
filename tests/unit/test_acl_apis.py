"""DescribeAcls, CreateAcls and DeleteAcls handlers called directly, over a real ACL store and
the live authorizer (spec/acl.md ACL-16..19)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from flyq.auth import Acl, AclAuthorizer
from flyq.auth._acl_store import AclStore
from flyq.broker import AsyncBroker
from flyq.errors import (
    CLUSTER_AUTHORIZATION_FAILED,
    INVALID_REQUEST,
    KAFKA_STORAGE_ERROR,
    SECURITY_DISABLED,
    StorageError,
)
from flyq.impl.filelayer import ForwardingFileLayer, OsFileLayer
from flyq.protocol import APIS, decode_message, encode_message
from flyq.server import SUPPORTED_VERSIONS, ApiHandlers, ApiKey, ServerSettings
from flyq.server._acl_apis import AclHandlers
from flyq.server._authorization import Authorization
from flyq.server._context import REQUEST, RequestContext

_T = TypeVar("_T")
ADMIN, ALICE = "User:admin", "User:alice"
TOPIC, GROUP, CLUSTER = 2, 3, 4
LITERAL, PREFIXED, ANY, MATCH = 3, 4, 1, 2
READ, WRITE, ALTER, DESCRIBE, ALL = 3, 4, 7, 8, 2
DENY, ALLOW = 2, 3


def creation(principal: str = ALICE, name: str = "orders", operation: int = READ, *,
             resource_type: int = TOPIC, pattern: int = LITERAL, permission: int = ALLOW,
             host: str = "*") -> dict[str, Any]:
    return {"resource_type": resource_type, "resource_name": name,
            "resource_pattern_type": pattern, "principal": principal, "host": host,
            "operation": operation, "permission_type": permission}


def acl_filter(*, resource_type: int = ANY, name: str | None = None, pattern: int = ANY,
               principal: str | None = None, host: str | None = None, operation: int = ANY,
               permission: int = ANY) -> dict[str, Any]:
    return {"resource_type_filter": resource_type, "resource_name_filter": name,
            "pattern_type_filter": pattern, "principal_filter": principal,
            "host_filter": host, "operation": operation, "permission_type": permission}


def handlers(tmp_path: Path, *, enabled: bool = True) -> AclHandlers:
    authorizer = AclAuthorizer(frozenset(), frozenset({ADMIN})) if enabled else None
    return AclHandlers(AclStore.open(str(tmp_path)), Authorization(authorizer))


def as_principal(principal: str, call: Callable[[], Awaitable[_T]]) -> _T:
    async def main() -> _T:
        REQUEST.set(RequestContext(principal=principal, host="10.0.0.1"))
        return await call()
    return asyncio.run(main())


def test_create_describe_delete_round_trip(tmp_path: Path) -> None:
    """ACL-18, ACL-19: created ACLs are stored, put in force, described grouped by resource
    pattern, and deleted with each reported under the first filter that passes it."""
    apis = handlers(tmp_path)
    created = as_principal(ADMIN, lambda: apis.create_acls(3, {"creations": [
        creation(), creation(operation=WRITE), creation("User:bob", "ord", pattern=PREFIXED,
                                                        permission=DENY)]}))
    assert [r["error_code"] for r in created["results"]] == [0, 0, 0]
    assert AclStore.open(str(tmp_path)).acls() == apis.authorization.acls
    assert len(apis.authorization.acls) == 3
    described = as_principal(ADMIN, lambda: apis.describe_acls(3, acl_filter(
        resource_type=TOPIC, name="orders", pattern=MATCH)))
    assert described["error_code"] == 0
    resources = {(r["resource_type"], r["resource_name"], r["pattern_type"]):
                 sorted((a["principal"], a["operation"], a["permission_type"]) for a in r["acls"])
                 for r in described["resources"]}
    assert resources == {(TOPIC, "orders", LITERAL): [(ALICE, READ, ALLOW), (ALICE, WRITE, ALLOW)],
                         (TOPIC, "ord", PREFIXED): [("User:bob", READ, DENY)]}
    deleted = as_principal(ADMIN, lambda: apis.delete_acls(3, {"filters": [
        acl_filter(principal=ALICE, operation=READ), acl_filter(principal=ALICE),
        acl_filter(principal="User:nobody")]}))
    matching = [[(m["principal"], m["operation"]) for m in result["matching_acls"]]
                for result in deleted["filter_results"]]
    assert matching == [[(ALICE, READ)], [(ALICE, WRITE)], []]
    assert {acl.principal for acl in apis.authorization.acls} == {"User:bob"}
    assert AclStore.open(str(tmp_path)).acls() == apis.authorization.acls


def test_an_invalid_creation_fails_alone(tmp_path: Path) -> None:
    """ACL-19: a creation with a bad principal, an Any operation or an unknown resource type gets
    INVALID_REQUEST with a message naming the field; the valid one is created."""
    apis = handlers(tmp_path)
    answer = as_principal(ADMIN, lambda: apis.create_acls(2, {"creations": [
        creation("alice"), creation(operation=ANY), creation(resource_type=7), creation()]}))
    codes = [r["error_code"] for r in answer["results"]]
    assert codes == [INVALID_REQUEST.code] * 3 + [0]
    messages = [r["error_message"] for r in answer["results"]]
    assert "principal" in messages[0] and "operation" in messages[1]
    assert "resource_type" in messages[2] and messages[3] is None
    assert apis.store.acls() == {Acl(ALICE, "*", "Topic", "Literal", "orders", "Read", "Allow")}


def test_an_invalid_filter_fails_alone(tmp_path: Path) -> None:
    """ACL-18, ACL-19: an unknown code in a DescribeAcls filter is a top-level INVALID_REQUEST;
    in a DeleteAcls filter it fails that filter only."""
    apis = handlers(tmp_path)
    as_principal(ADMIN, lambda: apis.create_acls(3, {"creations": [creation()]}))
    described = as_principal(ADMIN, lambda: apis.describe_acls(3, acl_filter(permission=0)))
    assert described["error_code"] == INVALID_REQUEST.code
    assert "permission_type" in described["error_message"]
    deleted = as_principal(ADMIN, lambda: apis.delete_acls(3, {"filters": [
        acl_filter(operation=99), acl_filter()]}))
    results = deleted["filter_results"]
    assert results[0]["error_code"] == INVALID_REQUEST.code
    assert "operation" in results[0]["error_message"]
    assert (results[1]["error_code"], len(results[1]["matching_acls"])) == (0, 1)
    assert apis.store.acls() == frozenset()


def test_a_broker_without_an_authorizer_answers_security_disabled(tmp_path: Path) -> None:
    """ACL-16: SECURITY_DISABLED where each API puts errors, and nothing is written."""
    apis = handlers(tmp_path, enabled=False)
    created = as_principal(ADMIN, lambda: apis.create_acls(1, {"creations": [creation()] * 2}))
    assert [r["error_code"] for r in created["results"]] == [SECURITY_DISABLED.code] * 2
    described = as_principal(ADMIN, lambda: apis.describe_acls(1, acl_filter()))
    assert (described["error_code"], described["resources"]) == (SECURITY_DISABLED.code, [])
    deleted = as_principal(ADMIN, lambda: apis.delete_acls(1, {"filters": [acl_filter()]}))
    assert deleted["filter_results"][0]["error_code"] == SECURITY_DISABLED.code
    assert not (tmp_path / "security").exists()


def test_alter_and_describe_on_the_cluster_are_required(tmp_path: Path) -> None:
    """ACL-17: without Alter on the cluster alice can neither create nor delete; with Describe
    only she can describe; with Alter (which implies Describe) she can do all three."""
    apis = handlers(tmp_path)
    refused = as_principal(ALICE, lambda: apis.create_acls(3, {"creations": [creation()]}))
    assert refused["results"][0]["error_code"] == CLUSTER_AUTHORIZATION_FAILED.code
    assert as_principal(ALICE, lambda: apis.describe_acls(3, acl_filter()))["error_code"] == (
        CLUSTER_AUTHORIZATION_FAILED.code)
    as_principal(ADMIN, lambda: apis.create_acls(3, {"creations": [
        creation(ALICE, "kafka-cluster", DESCRIBE, resource_type=CLUSTER)]}))
    assert as_principal(ALICE, lambda: apis.describe_acls(3, acl_filter()))["error_code"] == 0
    deleted = as_principal(ALICE, lambda: apis.delete_acls(3, {"filters": [acl_filter()]}))
    assert deleted["filter_results"][0]["error_code"] == CLUSTER_AUTHORIZATION_FAILED.code
    assert len(apis.store.acls()) == 1
    as_principal(ADMIN, lambda: apis.create_acls(3, {"creations": [
        creation(ALICE, "kafka-cluster", ALTER, resource_type=CLUSTER)]}))
    created = as_principal(ALICE, lambda: apis.create_acls(3, {"creations": [creation()]}))
    assert created["results"][0]["error_code"] == 0
    deleted = as_principal(ALICE, lambda: apis.delete_acls(3, {"filters": [
        acl_filter(resource_type=TOPIC)]}))
    assert len(deleted["filter_results"][0]["matching_acls"]) == 1


class _RefusingRenames(ForwardingFileLayer):
    """The real disk, except that every rename fails as a full or read-only disk would."""

    def rename(self, source: str, target: str) -> None:
        raise StorageError("rename", source)


def test_a_failed_write_reports_the_storage_error_and_changes_nothing(tmp_path: Path) -> None:
    """ACL-19: when the store cannot write, the items to apply carry KAFKA_STORAGE_ERROR and the
    set in force is unchanged; an invalid item keeps its own error."""
    store = AclStore.open(str(tmp_path))
    store.add([Acl(ALICE, "*", "Topic", "Literal", "orders", "Read", "Allow")])
    failing = AclStore.open(str(tmp_path), file_layer=_RefusingRenames(OsFileLayer()))
    authorization = Authorization(AclAuthorizer(frozenset(), frozenset({ADMIN})))
    authorization.replace_acls(failing.acls())
    apis = AclHandlers(failing, authorization)
    created = as_principal(ADMIN, lambda: apis.create_acls(3, {"creations": [
        creation("bad"), creation(operation=WRITE)]}))
    assert [r["error_code"] for r in created["results"]] == [INVALID_REQUEST.code,
                                                             KAFKA_STORAGE_ERROR.code]
    deleted = as_principal(ADMIN, lambda: apis.delete_acls(3, {"filters": [acl_filter()]}))
    assert deleted["filter_results"][0]["error_code"] == KAFKA_STORAGE_ERROR.code
    assert authorization.acls == store.acls() == failing.acls()
    assert AclStore.open(str(tmp_path)).acls() == store.acls()


def test_the_apis_are_registered_and_load_the_stored_set(tmp_path: Path) -> None:
    """ACL-16..19: ApiHandlers advertises versions 1-3 of the three APIs, puts the stored set in
    force at start and routes the requests to the ACL handlers."""
    assert {SUPPORTED_VERSIONS[key] for key in (ApiKey.DESCRIBE_ACLS, ApiKey.CREATE_ACLS,
                                                ApiKey.DELETE_ACLS)} == {(1, 3)}
    stored = Acl(ALICE, "*", "Group", "Literal", "g", "Read", "Allow")
    AclStore.open(str(tmp_path / "data")).add([stored])
    settings = ServerSettings(authorizer_enabled=True, super_users=frozenset({ADMIN}))

    async def main() -> dict[str, Any] | None:
        broker = await AsyncBroker.open(str(tmp_path / "data"), create=True)
        try:
            api = ApiHandlers(broker, settings, "cluster-x")
            assert api.authorization.acls == {stored}
            REQUEST.set(RequestContext(principal=ADMIN))
            return await api.handle(ApiKey.DESCRIBE_ACLS, 3, acl_filter(resource_type=GROUP))
        finally:
            await broker.close()

    answer = asyncio.run(main())
    assert answer is not None
    assert [(r["resource_name"], len(r["acls"])) for r in answer["resources"]] == [("g", 1)]


@pytest.mark.parametrize("version", [1, 2, 3])
def test_every_served_version_encodes(tmp_path: Path, version: int) -> None:
    """ACL-18: the answers of every served version encode with the schema table and decode to
    the same ACLs."""

    apis = handlers(tmp_path)
    created = as_principal(ADMIN, lambda: apis.create_acls(version, {"creations": [creation()]}))
    described = as_principal(ADMIN, lambda: apis.describe_acls(version, acl_filter()))
    deleted = as_principal(ADMIN, lambda: apis.delete_acls(version, {"filters": [acl_filter()]}))
    for key, body in ((ApiKey.CREATE_ACLS, created), (ApiKey.DESCRIBE_ACLS, described),
                      (ApiKey.DELETE_ACLS, deleted)):
        schema = APIS[key].response
        wire = memoryview(b"".join(encode_message(schema, version, body)))
        assert decode_message(schema, version, wire) == body
