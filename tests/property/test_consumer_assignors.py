"""The server-side assignors of the consumer group protocol on random groups (CG-7): every
subscribed partition to exactly one subscribed member, the same answer whatever the input order;
`uniform` balanced and sticky; `range` in contiguous, balanced ranges."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flyq.groups import range_assign, uniform_assign

TOPIC_NAMES = ("t", "u", "v")
Subscriptions = dict[str, tuple[str, ...]]
Target = dict[str, dict[str, frozenset[int]]]
Group = tuple[Subscriptions, dict[str, int], Target]

topics_st = st.dictionaries(st.sampled_from(TOPIC_NAMES), st.integers(0, 12), min_size=1)
members_st = st.lists(st.sampled_from([f"m{i}" for i in range(6)]), min_size=1, max_size=6, unique=True)


@st.composite
def groups(
    draw: st.DrawFn, homogeneous: bool | None = None
) -> tuple[dict[str, tuple[str, ...]], dict[str, int], dict[str, dict[str, frozenset[int]]]]:
    """(subscriptions, topic partition counts, a valid previous target)."""
    topics = draw(topics_st)
    members = draw(members_st)
    names = st.lists(st.sampled_from(TOPIC_NAMES), min_size=1, unique=True).map(tuple)
    same = draw(st.booleans()) if homogeneous is None else homogeneous
    if same:
        subscription = draw(names)
        subscriptions = dict.fromkeys(members, subscription)
    else:
        subscriptions = {m: draw(names) for m in members}
    previous: dict[str, dict[str, set[int]]] = {}
    for topic, count in topics.items():
        for p in range(count):
            owner = draw(st.sampled_from([None, *members]))
            if owner is not None and topic in subscriptions[owner]:
                previous.setdefault(owner, {}).setdefault(topic, set()).add(p)
    frozen = {m: {t: frozenset(ps) for t, ps in a.items()} for m, a in previous.items()}
    return subscriptions, topics, frozen


def flat(assignment: dict[str, frozenset[int]]) -> set[tuple[str, int]]:
    return {(t, p) for t, ps in assignment.items() for p in ps}


def check_exact_cover(subscriptions: Subscriptions, topics: dict[str, int], target: Target) -> None:
    expected = {
        (t, p) for s in subscriptions.values() for t in s if t in topics for p in range(topics[t])
    }
    seen: list[tuple[str, int]] = []
    for member, assignment in target.items():
        for topic in assignment:
            assert topic in subscriptions[member], (member, topic)
        seen.extend(flat(assignment))
    assert sorted(seen) == sorted(expected)


@given(groups())
def test_every_partition_once_to_a_subscriber(group: Group) -> None:
    """CG-7: both assignors give every partition of every subscribed existing topic to exactly
    one member subscribed to its topic, and nothing else."""
    subscriptions, topics, previous = group
    for assign in (uniform_assign, range_assign):
        check_exact_cover(subscriptions, topics, assign(subscriptions, topics, previous))


@given(groups())
def test_deterministic_whatever_the_order(group: Group) -> None:
    """CG-7: the answer does not depend on the order of the input mappings."""
    subscriptions, topics, previous = group
    for assign in (uniform_assign, range_assign):
        once = assign(subscriptions, topics, previous)
        again = assign(
            dict(reversed(list(subscriptions.items()))),
            dict(reversed(list(topics.items()))),
            dict(reversed(list(previous.items()))),
        )
        assert once == again


@given(groups(homogeneous=True))
def test_uniform_homogeneous_is_balanced_and_sticky(group: Group) -> None:
    """CG-7: identical subscriptions: counts differ by at most one, each member keeps as many of
    its previous partitions as its new count allows, and the larger counts go to the members with
    the most to keep."""
    subscriptions, topics, previous = group
    target = uniform_assign(subscriptions, topics, previous)
    counts = [len(flat(target.get(m, {}))) for m in subscriptions]
    assert max(counts) - min(counts) <= 1
    kept = {}
    for member in subscriptions:
        mine = flat(target.get(member, {}))
        before = flat(previous.get(member, {}))
        assert len(mine & before) == min(len(before), len(mine))
        kept[member] = (len(mine), len(before))
    # The larger counts go where they keep more: never a member cut below what it had while a
    # member with a larger count had room to spare (swapping their counts would move fewer).
    for small, (count_small, before_small) in kept.items():
        for large, (count_large, before_large) in kept.items():
            if count_small < count_large:
                assert not (before_small > count_small and before_large < count_large), (
                    small,
                    large,
                )


@given(groups(homogeneous=False))
def test_uniform_no_eligible_move_would_balance(group: Group) -> None:
    """CG-7: any subscriptions: no member holds a partition that an eligible member holding two
    or more fewer could take."""
    subscriptions, topics, previous = group
    target = uniform_assign(subscriptions, topics, previous)
    count = {m: len(flat(target.get(m, {}))) for m in subscriptions}
    for giver, assignment in target.items():
        for topic in assignment:
            if assignment[topic]:
                for taker in subscriptions:
                    if topic in subscriptions[taker]:
                        assert count[taker] + 1 >= count[giver], (giver, taker, topic)


@given(groups(homogeneous=False))
def test_range_contiguous_and_balanced_per_topic(group: Group) -> None:
    """CG-7: range gives each subscriber of a topic one contiguous range, sizes differing by at
    most one, larger ranges first."""
    subscriptions, topics, _ = group
    target = range_assign(subscriptions, topics, {})
    for topic, partitions in topics.items():
        subscribers = sorted(m for m in subscriptions if topic in subscriptions[m])
        ranges = [sorted(target.get(m, {}).get(topic, frozenset())) for m in subscribers]
        if not subscribers:
            continue
        assert all(r == list(range(r[0], r[0] + len(r))) for r in ranges if r)
        sizes = [len(r) for r in ranges]
        assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)
        assert sum(sizes) == partitions
