"""Listeners: where the broker accepts connections and with which security protocol (LSN-1..6).

Kafka's names and forms: `PLAINTEXT://HOST:PORT`, `SSL://...`, `SASL_PLAINTEXT://...`,
`SASL_SSL://...`; a bare `HOST:PORT` is a PLAINTEXT listener. A listener's name is its security
protocol, so a broker has at most one listener of each protocol. Pure parsing, no sockets.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from flyq.auth._protocols import SECURITY_PROTOCOLS, uses_sasl, uses_tls
from flyq.errors import InvalidArgument

__all__ = ["SECURITY_PROTOCOLS", "Listener", "parse_address", "parse_listener", "with_advertised"]

_EVERY_INTERFACE = "0.0.0.0"


def parse_address(text: str, *, option: str) -> tuple[str, int]:
    """`HOST:PORT` (or `[v6]:PORT`) as a pair; `InvalidArgument` naming `option` otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InvalidArgument(option, text, "HOST:PORT with a port from 0 to 65535")
    return host.strip("[]"), int(port)


@attrs.frozen
class Listener:
    """One listening address, its security protocol, and what clients are told to connect to."""

    security_protocol: str
    host: str
    port: int
    advertised_host: str | None = None
    advertised_port: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise InvalidArgument("security protocol", self.security_protocol,
                                  " | ".join(SECURITY_PROTOCOLS))

    @property
    def name(self) -> str:
        """The listener's name: its security protocol (LSN-2)."""
        return self.security_protocol

    @property
    def tls(self) -> bool:
        """Whether connections are TLS (SSL, SASL_SSL)."""
        return uses_tls(self.security_protocol)

    @property
    def sasl(self) -> bool:
        """Whether connections must authenticate with SASL first (SASL_PLAINTEXT, SASL_SSL)."""
        return uses_sasl(self.security_protocol)

    @property
    def advertised(self) -> tuple[str, int]:
        """(host, port) clients are told to use for this listener (LSN-4)."""
        host = self.advertised_host if self.advertised_host is not None else self.host
        port = self.advertised_port if self.advertised_port is not None else self.port
        return host, port

    @property
    def url(self) -> str:
        """`PROTOCOL://HOST:PORT` of the bound address."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.security_protocol}://{host}:{self.port}"


def _split(text: str, *, option: str) -> tuple[str, str, int]:
    protocol, sep, address = text.partition("://")
    if not sep:
        protocol, address = "PLAINTEXT", text
    protocol = protocol.upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise InvalidArgument(option, text, "[PROTOCOL://]HOST:PORT with PROTOCOL one of "
                              + ", ".join(SECURITY_PROTOCOLS))
    if address.startswith(":"):  # Kafka's `PLAINTEXT://:9092`: every interface
        address = _EVERY_INTERFACE + address
    host, port = parse_address(address, option=option)
    return protocol, host, port


def parse_listener(text: str, *, option: str) -> Listener:
    """A listener from `PROTOCOL://HOST:PORT` or `HOST:PORT` (PLAINTEXT) (LSN-1)."""
    protocol, host, port = _split(text.strip(), option=option)
    return Listener(protocol, host, port)


def parse_listeners(specs: Iterable[str], *, option: str) -> tuple[Listener, ...]:
    """Listeners from `--listen` values or Kafka's comma-separated `listeners` (LSN-1..3)."""
    listeners = tuple(parse_listener(part, option=option)
                      for spec in specs for part in spec.split(",") if part.strip())
    if not listeners:
        raise InvalidArgument(option, "", "at least one listener")
    protocols = [listener.security_protocol for listener in listeners]
    for protocol in set(protocols):
        if protocols.count(protocol) > 1:
            raise InvalidArgument(option, ",".join(listener.url for listener in listeners),
                                  f"one listener per security protocol ({protocol} is given "
                                  "twice)")
    addresses = [(listener.host, listener.port) for listener in listeners if listener.port]
    if len(set(addresses)) < len(addresses):
        raise InvalidArgument(option, ",".join(listener.url for listener in listeners),
                              "a different HOST:PORT for each listener")
    return listeners


def with_advertised(listeners: tuple[Listener, ...], specs: Iterable[str], *,
                    option: str) -> tuple[Listener, ...]:
    """`listeners` with the advertised addresses of `specs` (LSN-4): `PROTOCOL://HOST:PORT` names
    its listener; a bare `HOST:PORT` is allowed only when there is a single listener."""
    by_protocol = {listener.security_protocol: listener for listener in listeners}
    for part in (part.strip() for spec in specs for part in spec.split(",") if part.strip()):
        if "://" not in part and len(listeners) == 1:
            protocol = listeners[0].security_protocol
            host, port = parse_address(part, option=option)
        else:
            if "://" not in part:
                raise InvalidArgument(option, part, "PROTOCOL://HOST:PORT naming one of the "
                                      "listeners (there are several)")
            protocol, host, port = _split(part, option=option)
        if protocol not in by_protocol:
            raise InvalidArgument(option, part, "an address for one of the listeners: "
                                  + ", ".join(listener.url for listener in listeners))
        by_protocol[protocol] = attrs.evolve(by_protocol[protocol], advertised_host=host,
                                             advertised_port=port)
    return tuple(by_protocol[listener.security_protocol] for listener in listeners)
