"""The ACL authorizer against its reference model, and the properties spec/acl.md promises:
deny beats allow, super users, prefixed patterns, an added Allow never takes a right away."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flyq.auth import OPERATIONS, PERMISSIONS, RESOURCE_TYPES, Acl, AclAuthorizer
from flyq.model._acl import model_authorize

PRINCIPALS = ("User:alice", "User:bob", "User:*")
HOSTS = ("10.0.0.1", "10.0.0.2", "*")
NAMES = ("orders", "orders-eu", "ord", "payments", "*", "o")
CONCRETE = [operation for operation in OPERATIONS if operation != "All"]

acls = st.builds(Acl, principal=st.sampled_from(PRINCIPALS), host=st.sampled_from(HOSTS),
                 resource_type=st.sampled_from(RESOURCE_TYPES[:2]),
                 pattern_type=st.sampled_from(("Literal", "Prefixed")),
                 resource_name=st.sampled_from(NAMES), operation=st.sampled_from(OPERATIONS),
                 permission=st.sampled_from(PERMISSIONS))
requests = st.tuples(st.sampled_from(("User:alice", "User:bob", "User:carol")),
                     st.sampled_from(("10.0.0.1", "10.0.0.2")), st.sampled_from(CONCRETE),
                     st.sampled_from(RESOURCE_TYPES[:2]),
                     st.sampled_from(("orders", "orders-eu", "payments", "ord")))
authorizers = st.builds(AclAuthorizer, acls=st.frozensets(acls, max_size=8),
                        super_users=st.frozensets(st.sampled_from(("User:carol",)), max_size=1),
                        allow_everyone_if_no_acl_found=st.booleans())


def near(acl: Acl) -> st.SearchStrategy[tuple[str, str, str, str, str]]:
    """Requests an ACL is about: its principal (or anyone, for User:*), host, resource type and
    a name its pattern covers, with any concrete operation."""
    principal = (st.sampled_from(("User:alice", "User:bob", "User:carol"))
                 if acl.principal == "User:*" else st.just(acl.principal))
    host = st.sampled_from(("10.0.0.1", "10.0.0.2")) if acl.host == "*" else st.just(acl.host)
    name = (st.just("payments") if acl.resource_name == "*"
            else st.sampled_from((acl.resource_name, acl.resource_name + "-x")))
    # Describe and DescribeConfigs half the time: the operations other ones imply (ACL-5).
    operation = st.one_of(st.sampled_from(("Describe", "DescribeConfigs")),
                          st.sampled_from(CONCRETE))
    return st.tuples(principal, host, operation, st.just(acl.resource_type), name)


@given(authorizers, st.data())
def test_the_authorizer_agrees_with_the_model(authorizer: AclAuthorizer,
                                              data: st.DataObject) -> None:
    """ACL-1..9: for any ACL set and request (random, or one an ACL of the set is about), the
    implementation and the model agree."""
    chosen = sorted(authorizer.acls, key=repr)
    request = data.draw(requests if not chosen or data.draw(st.booleans())
                        else st.sampled_from(chosen).flatmap(near))
    assert authorizer.authorize(*request) == model_authorize(
        authorizer.acls, authorizer.super_users, authorizer.allow_everyone_if_no_acl_found,
        *request)


@given(authorizers, requests)
def test_a_matching_deny_always_wins(authorizer: AclAuthorizer,
                                     request: tuple[str, str, str, str, str]) -> None:
    """ACL-4: adding a Deny of the very request makes it refused, unless by a super user."""
    principal, host, operation, resource_type, name = request
    deny = Acl(principal, host, resource_type, "Literal", name, operation, "Deny")
    verdict = authorizer.with_acls([deny]).authorize(*request)
    assert verdict == (principal in authorizer.super_users)


@given(authorizers, requests)
def test_an_added_allow_never_takes_a_right_away(authorizer: AclAuthorizer,
                                                 request: tuple[str, str, str, str, str]
                                                 ) -> None:
    """ACL-3, ACL-8: adding an Allow of the request makes it authorized unless a Deny applies;
    a request authorized before stays authorized."""
    principal, host, operation, resource_type, name = request
    allow = Acl(principal, host, resource_type, "Prefixed", name[:2], operation, "Allow")
    before = authorizer.authorize(*request)
    after = authorizer.with_acls([allow]).authorize(*request)
    if before:
        assert after
    denied = any(acl.permission == "Deny" and acl.operation in (operation, "All")
                 and acl.principal in (principal, "User:*") and acl.host in (host, "*")
                 and acl.resource_type == resource_type
                 and (name.startswith(acl.resource_name) if acl.pattern_type == "Prefixed"
                      else acl.resource_name in (name, "*"))
                 for acl in authorizer.acls)
    assert after == (principal in authorizer.super_users or not denied)
