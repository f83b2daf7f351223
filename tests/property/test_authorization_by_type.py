"""KIP-679's "may write to some topic" (spec/authorization.md AUTHZ-17) against the ACL
authorizer itself: Kafka's shortcut over the ACL set must say yes exactly when some topic name
is authorized."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flyq.auth import Acl, AclAuthorizer
from flyq.server._access import allowed_on_some

NAMES = ("orders", "orders-eu", "ord", "payments", "*", "o")
# A suffix no ACL name contains: a name made with it is covered only by the ACLs that must cover it.
FRESH = "~fresh"
ALICE, HOST = "User:alice", "10.0.0.1"

# Weighted towards ACLs that apply to ALICE at HOST on topics with Write or All: the ones that
# make a difference.
acls = st.builds(Acl, principal=st.sampled_from((ALICE, ALICE, "User:*", "User:bob")),
                 host=st.sampled_from(("*", "*", HOST, "10.0.0.2")),
                 resource_type=st.sampled_from(("Topic", "Topic", "Topic", "Group")),
                 pattern_type=st.sampled_from(("Literal", "Prefixed")),
                 resource_name=st.sampled_from(NAMES),
                 operation=st.sampled_from(("Write", "Write", "All", "Read")),
                 permission=st.sampled_from(("Allow", "Deny")))


def opposite(acl: Acl) -> st.SearchStrategy[Acl]:
    """An ACL of the other permission on the same name or a prefix of it, for the same sender:
    the Deny that may or may not shadow an Allow (or the Allow under a Deny)."""
    other = "Prefixed" if acl.pattern_type == "Literal" else "Literal"
    return st.builds(Acl, principal=st.just(acl.principal), host=st.just(acl.host),
                     resource_type=st.just(acl.resource_type),
                     pattern_type=st.sampled_from((acl.pattern_type, acl.pattern_type, other)),
                     resource_name=st.sampled_from((acl.resource_name, acl.resource_name,
                                                    acl.resource_name[:1],
                                                    acl.resource_name[:3])),
                     operation=st.sampled_from(("Write", "All")),
                     permission=st.just("Deny" if acl.permission == "Allow" else "Allow"))


acl_sets = st.lists(acls, min_size=1, max_size=4).flatmap(
    lambda base: st.lists(st.sampled_from(base).flatmap(opposite), max_size=4).map(
        lambda extra: frozenset(base + extra)))


@given(acl_sets, st.sampled_from((ALICE, ALICE, "User:bob")),
       st.sampled_from((HOST, HOST, "10.0.0.2")), st.sampled_from(("Write", "Write", "Read")))
def test_allowed_on_some_is_some_name_authorized(acl_set: frozenset[Acl], principal: str,
                                                 host: str, operation: str) -> None:
    """AUTHZ-17, ACL-2..8: with no super user and allow.everyone.if.no.acl.found off,
    `allowed_on_some` holds exactly when the authorizer allows the operation on some topic:
    every ACL name, each with a fresh suffix, and a fresh name stand for all names."""
    authorizer = AclAuthorizer(acl_set)
    candidates = {FRESH} | {name for acl in acl_set
                            for name in (acl.resource_name, acl.resource_name + FRESH)}
    some = any(authorizer.authorize(principal, host, operation, "Topic", name)
               for name in candidates)
    assert allowed_on_some(acl_set, principal, host, operation, "Topic") == some
