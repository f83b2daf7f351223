"""flyq.client.negotiated_version: the version a request goes at, from the broker's ApiVersions
ranges, the schema table and the caller's range (CLIENT-1, CLIENT-40)."""

from __future__ import annotations

import pytest

from flyq.client import negotiated_version
from flyq.errors import UnsupportedVersion
from flyq.protocol import APIS, FLYQ_API_KEYS


def test_the_highest_version_all_three_allow() -> None:
    """CLIENT-1: the highest version in the broker's, the table's and the caller's ranges."""
    assert negotiated_version(3, {3: (0, 9)}) == 9
    assert negotiated_version(3, {3: (0, 12)}, (1, 10)) == 10
    assert negotiated_version(30001, {30001: (0, 0)}, (0, 0)) == 0


@pytest.mark.parametrize("api_key", sorted(FLYQ_API_KEYS))
def test_an_extension_the_broker_does_not_advertise_is_unsupported_by_name(api_key: int) -> None:
    """CLIENT-40: against a broker without a FlyQ extension (a Kafka broker, an older FlyQ) its
    use is UnsupportedVersion naming the API, raised before anything is sent."""
    kafka_like = {key: (0, 9) for key in range(0, 70)}
    with pytest.raises(UnsupportedVersion) as unsupported:
        negotiated_version(api_key, kafka_like)
    assert APIS[api_key].name in str(unsupported.value)
    assert "does not serve" in str(unsupported.value)


def test_disjoint_ranges_are_unsupported() -> None:
    """CLIENT-1: a broker serving only versions the caller cannot read is UnsupportedVersion."""
    with pytest.raises(UnsupportedVersion, match="Metadata"):
        negotiated_version(3, {3: (0, 0)}, (1, 12))
