"""Hypothesis settings profiles and the `--run-slow` option.

Profiles (STYLE.md, after Hypothesis's own tests/common/setup.py), chosen by `HYPOTHESIS_PROFILE`:

- `dev` (the default): 100 examples, Hypothesis's usual checks.
- `ci`: bounded for the CI time budget; no deadline, as a loaded 2-core machine has noisy timings.
- `crosshair`: Hypothesis's CrossHair backend, registered only if `hypothesis-crosshair` is
  installed.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.errors import InvalidArgument

settings.register_profile("dev", max_examples=100)
settings.register_profile(
    "ci",
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Mutation testing runs the suites once per mutant: fewer examples, same rules.
settings.register_profile(
    "mutation",
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
if importlib.util.find_spec("hypothesis_crosshair_provider") is not None:
    settings.register_profile(
        "crosshair",
        backend="crosshair",
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )

_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
try:
    settings.load_profile(_PROFILE)
except InvalidArgument as exc:
    raise pytest.UsageError(
        f"HYPOTHESIS_PROFILE={_PROFILE!r} is not a registered profile (dev, ci, and crosshair "
        "when hypothesis-crosshair is installed)"
    ) from exc


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add `--run-slow`: without it, tests marked `slow` are skipped."""
    parser.addoption("--run-slow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `slow` tests unless `--run-slow` was given."""
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(autouse=True)
def _fresh_protocol_plans() -> None:
    """The protocol codec caches each (schema, version) plan for the life of the process. Under
    `make mutation` every mutant runs in a process forked after the plans were compiled, so
    without this the compiler's mutants would never run and would count as survivors."""
    codec = sys.modules.get("flyq.protocol._codec")
    if codec is not None:
        codec._compile.cache_clear()
