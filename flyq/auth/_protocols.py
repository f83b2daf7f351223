"""Kafka's security protocols and what each asks of a connection (spec/security.md LSN-1): the
one statement of it, for the broker's listeners and the client's settings alike."""

from __future__ import annotations

from typing import Final

__all__ = ["SECURITY_PROTOCOLS", "uses_sasl", "uses_tls"]

SECURITY_PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


def uses_tls(protocol: str) -> bool:
    """Whether connections of `protocol` are TLS (SSL, SASL_SSL)."""
    return protocol in ("SSL", "SASL_SSL")


def uses_sasl(protocol: str) -> bool:
    """Whether connections of `protocol` authenticate with SASL first (SASL_PLAINTEXT,
    SASL_SSL)."""
    return protocol in ("SASL_PLAINTEXT", "SASL_SSL")
