"""flyq.client.parse_bootstrap: the HOST:PORT forms the CLI's --bootstrap accepts."""

from __future__ import annotations

import pytest

from flyq.client import parse_bootstrap
from flyq.errors import InvalidArgument


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:9092", ("127.0.0.1", 9092)),
    ("broker.example:1", ("broker.example", 1)),
    ("[::1]:9092", ("::1", 9092)),
    ("a:1,b:2", ("a", 1)),
])
def test_valid_bootstrap(text: str, expected: tuple[str, int]) -> None:
    """CLIENT-1: HOST:PORT, IPv6 in brackets, and the first of a list."""
    assert parse_bootstrap(text) == expected


@pytest.mark.parametrize("text", ["localhost", ":9092", "host:", "host:0", "host:65536", "h:x"])
def test_invalid_bootstrap(text: str) -> None:
    """CLIENT-1: no port, no host, or a port outside 1..65535 is InvalidArgument naming the value."""
    with pytest.raises(InvalidArgument, match="bootstrap"):
        parse_bootstrap(text)
