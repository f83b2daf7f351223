"""ACL filters against the model's independent statement of the rule, and the ACL store against
a plain set (spec/acl.md ACL-11, ACL-14, ACL-15)."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from flyq.auth import OPERATIONS, PERMISSIONS, RESOURCE_TYPES, Acl, AclFilter
from flyq.auth._acl_store import AclStore
from flyq.crash.recording import RecordingFileLayer
from flyq.model._acl import model_filter_matches

PRINCIPALS = ("User:alice", "User:bob", "User:*")
HOSTS = ("10.0.0.1", "*")
# Short names over two letters, so that prefixes, equal names and "*" all occur often.
NAMES = st.one_of(st.just("*"), st.text(alphabet="ab", min_size=1, max_size=3))

acls = st.builds(Acl, principal=st.sampled_from(PRINCIPALS), host=st.sampled_from(HOSTS),
                 resource_type=st.sampled_from(RESOURCE_TYPES[:2]),
                 pattern_type=st.sampled_from(("Literal", "Prefixed")), resource_name=NAMES,
                 operation=st.sampled_from(OPERATIONS[:4]), permission=st.sampled_from(PERMISSIONS))
filters = st.builds(
    AclFilter,
    resource_type=st.sampled_from(("Any", *RESOURCE_TYPES[:2])),
    pattern_type=st.sampled_from(("Any", "Match", "Literal", "Prefixed")),
    resource_name=st.one_of(st.none(), NAMES),
    principal=st.one_of(st.none(), st.sampled_from(PRINCIPALS)),
    host=st.one_of(st.none(), st.sampled_from(HOSTS)),
    operation=st.sampled_from(("Any", *OPERATIONS[:4])),
    permission=st.sampled_from(("Any", *PERMISSIONS)))


def model(acl_filter: AclFilter, acl: Acl) -> bool:
    return model_filter_matches(*attrs.astuple(acl_filter), acl=acl)


@given(filters, acls)
def test_the_filter_agrees_with_the_model(acl_filter: AclFilter, acl: Acl) -> None:
    """ACL-11: for any filter and ACL, `AclFilter.matches` and the model agree."""
    assert acl_filter.matches(acl) == model(acl_filter, acl)


@given(acls, st.data())
def test_the_filter_agrees_with_the_model_near_an_acl(acl: Acl, data: st.DataObject) -> None:
    """ACL-11: filters built from the ACL's own values (so that most fields pass) agree with the
    model too; `exactly` passes the ACL."""
    def one_of(value: object, open_value: object) -> st.SearchStrategy[object]:
        return st.sampled_from((value, open_value))

    acl_filter = AclFilter(
        data.draw(one_of(acl.resource_type, "Any")),
        data.draw(st.sampled_from((acl.pattern_type, "Any", "Match"))),
        data.draw(st.one_of(st.none(), st.just(acl.resource_name),
                            st.just(acl.resource_name + "a"), NAMES)),
        data.draw(one_of(acl.principal, None)),
        data.draw(one_of(acl.host, None)),
        data.draw(one_of(acl.operation, "Any")),
        data.draw(one_of(acl.permission, "Any")))
    assert acl_filter.matches(acl) == model(acl_filter, acl)
    assert AclFilter.exactly(acl).matches(acl)


operations = st.lists(st.one_of(
    st.tuples(st.just("add"), st.lists(acls, max_size=4)),
    st.tuples(st.just("remove"), st.lists(filters, max_size=2))), max_size=8)


@given(operations)
def test_the_store_holds_what_a_set_would(steps: list[tuple[str, list[object]]]) -> None:
    """ACL-14, ACL-15: after any adds and removes, the store (and a reopen of its disk) holds
    what a plain set would, and remove returns exactly the ACLs the model's filter passes."""
    layer = RecordingFileLayer(directories={"/d"})
    store = AclStore.open("/d", file_layer=layer)
    expected: set[Acl] = set()
    for kind, values in steps:
        if kind == "add":
            store.add(values)
            expected |= set(values)
        else:
            gone = {acl for acl in expected
                    if any(model(f, acl) for f in values)}
            assert set(store.remove(values)) == gone
            expected -= gone
        assert store.acls() == expected
    assert AclStore.open("/d", file_layer=layer).acls() == expected
