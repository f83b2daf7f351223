"""Proof that the harness can fail: every deliberately broken recovery is caught (CM-9)."""

from __future__ import annotations

import pytest

from flyq.crash import BROKEN_VARIANTS, BrokenVariant, ExplorationSettings, explore

pytestmark = pytest.mark.crash


@pytest.mark.parametrize("variant", BROKEN_VARIANTS, ids=lambda v: v.name.replace(" ", "-"))
def test_broken_variant_is_caught_with_a_small_reproduction(variant: BrokenVariant) -> None:
    """The explorer reports the broken recovery, on a workload of the smallest size tried."""
    settings = ExplorationSettings(seed=0, max_states=5000, workload_sizes=(2, 4, 7),
                                   stop_at_first_violation=True)
    report = explore(settings, policy=variant.policy, wrap=variant.wrap)
    assert report.violations, f"{variant.name} slipped through {report.distinct_states} states"
    violation = report.violations[0]
    print(f"{variant.name}: {violation.reproduction()}")
    # Workloads run smallest first, so the first violation is already a small reproduction.
    assert "2 batches" in violation.workload
    assert violation.problems


def test_every_variant_is_listed() -> None:
    """The variants the crash model names are all present, so none can be dropped quietly."""
    assert {variant.name for variant in BROKEN_VARIANTS} == {
        "skip the CRC check",
        "trust a stale index",
        "truncate one byte too late",
        "treat a zero-filled tail as valid",
        "forget directory fsyncs",
    }
