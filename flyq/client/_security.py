"""How the client connects: Kafka's client security settings (spec/client.md CLIENT-50..56).

`Security` holds them, checked when made; `Security.from_properties` reads Kafka's client
property names (what `--command-config` files of Kafka's tools and librdkafka's `-X` use);
`parse_properties` reads a Java .properties text into such a mapping. `ssl_context` turns the
TLS settings into an `ssl.SSLContext` (it reads the PEM files; the rest is pure).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from typing import Final

import attrs

from flyq.auth._protocols import SECURITY_PROTOCOLS, uses_sasl, uses_tls
from flyq.auth._sasl import SASL_MECHANISMS
from flyq.errors import InvalidArgument, InvalidConfig

__all__ = ["PLAINTEXT", "SECURITY_PROTOCOLS", "Security", "parse_properties", "ssl_context"]


# CLIENT-51: Kafka's JAAS login modules and the mechanisms each one serves.
_LOGIN_MODULES: Final = {
    "org.apache.kafka.common.security.plain.PlainLoginModule": ("PLAIN",),
    "org.apache.kafka.common.security.scram.ScramLoginModule": ("SCRAM-SHA-256",
                                                                "SCRAM-SHA-512"),
}
# `Module required key="value" key2=value2;` (Kafka's JaasConfig grammar, options only).
_JAAS: Final = re.compile(r'\s*(?P<module>[\w.$]+)\s+(?P<flag>\w+)(?P<options>.*?);?\s*$', re.S)
_JAAS_OPTION: Final = re.compile(r'\s*(?P<key>[\w.-]+)\s*=\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"'
                                 r"|(?P<bare>[^\s;\"]+))")
_PROPERTY_KEYS: Final = ("security.protocol", "sasl.mechanism", "sasl.username",
                         "sasl.password", "sasl.jaas.config", "ssl.ca.location",
                         "ssl.certificate.location", "ssl.key.location", "ssl.key.password",
                         "ssl.endpoint.identification.algorithm")
_SECURITY_PREFIXES: Final = ("security.", "sasl.", "ssl.")


def _hidden(value: str | None) -> str:
    return "None" if value is None else "'<hidden>'"


@attrs.frozen
class Security:
    """Kafka's client security settings (CLIENT-50). The default is PLAINTEXT: no TLS, no SASL.
    Passwords never appear in `repr`."""

    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = attrs.field(default=None, repr=_hidden)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_key_password: str | None = attrs.field(default=None, repr=_hidden)
    ssl_check_hostname: bool = True

    def __attrs_post_init__(self) -> None:
        protocol = self.security_protocol
        if protocol not in SECURITY_PROTOCOLS:
            raise InvalidArgument("security_protocol", protocol, " | ".join(SECURITY_PROTOCOLS))
        sasl_given = {"sasl_mechanism": self.sasl_mechanism,
                      "sasl_username": self.sasl_username,
                      "sasl_password": self.sasl_password}
        if self.sasl:
            for name, value in sasl_given.items():
                if not value:
                    raise InvalidArgument(name, None if name == "sasl_password" else value,
                                          f"a non-empty value: security_protocol {protocol} "
                                          "authenticates with SASL")
            if self.sasl_mechanism not in SASL_MECHANISMS:
                raise InvalidArgument("sasl_mechanism", self.sasl_mechanism,
                                      " | ".join(SASL_MECHANISMS))
            if self.sasl_mechanism == "PLAIN" and "\x00" in (self.sasl_username or "") + (
                    self.sasl_password or ""):
                raise InvalidArgument("sasl_username/sasl_password", "<contains NUL>",
                                      "no NUL character (PLAIN separates its fields with NUL)")
        else:
            for name, value in sasl_given.items():
                if value is not None:
                    raise InvalidArgument(name, "<hidden>" if name == "sasl_password" else value,
                                          f"unset: security_protocol {protocol} does not use "
                                          "SASL (use SASL_PLAINTEXT or SASL_SSL)")
        tls_given = {"ssl_cafile": self.ssl_cafile, "ssl_certfile": self.ssl_certfile,
                     "ssl_keyfile": self.ssl_keyfile, "ssl_key_password": self.ssl_key_password}
        if not self.tls:
            for name, value in tls_given.items():
                if value is not None:
                    raise InvalidArgument(name, "<hidden>" if "password" in name else value,
                                          f"unset: security_protocol {protocol} does not use "
                                          "TLS (use SSL or SASL_SSL)")
        if self.ssl_certfile is None and (self.ssl_keyfile is not None
                                          or self.ssl_key_password is not None):
            raise InvalidArgument("ssl_keyfile", self.ssl_keyfile,
                                  "a client key only together with ssl_certfile")

    @property
    def tls(self) -> bool:
        """Whether the connection is TLS (SSL, SASL_SSL)."""
        return uses_tls(self.security_protocol)

    @property
    def sasl(self) -> bool:
        """Whether the connection authenticates with SASL (SASL_PLAINTEXT, SASL_SSL)."""
        return uses_sasl(self.security_protocol)

    @classmethod
    def from_properties(cls, properties: Mapping[str, str]) -> Security:
        """The settings named by Kafka's client properties (CLIENT-51); `InvalidConfig` naming
        the key for a value that is wrong or a security key FlyQ does not read. Keys outside
        `security.*`, `sasl.*` and `ssl.*` (other client settings) are ignored."""
        for key in properties:
            if key.startswith(_SECURITY_PREFIXES) and key not in _PROPERTY_KEYS:
                hint = ("JKS and PKCS12 stores are not read; give PEM files with "
                        "ssl.ca.location, ssl.certificate.location and ssl.key.location"
                        if key.startswith(("ssl.truststore.", "ssl.keystore."))
                        else "one of " + ", ".join(_PROPERTY_KEYS))
                shown = "<hidden>" if "password" in key else properties[key]
                raise InvalidConfig(key, shown, f"not a security setting FlyQ reads: {hint}")

        def get(key: str) -> str | None:
            value = properties.get(key)
            return None if value is None else value.strip()

        protocol = (get("security.protocol") or "PLAINTEXT").upper()
        if protocol not in SECURITY_PROTOCOLS:
            raise InvalidConfig("security.protocol", protocol,
                                f"expected one of {', '.join(SECURITY_PROTOCOLS)}")
        mechanism = get("sasl.mechanism")
        username = get("sasl.username")
        # A password is kept as written (spaces may belong to it); only the line ending is not.
        password = properties.get("sasl.password")
        jaas = properties.get("sasl.jaas.config")
        if jaas is not None:
            jaas_user, jaas_password = _jaas_credentials(jaas, mechanism)
            for key, direct, from_jaas in (("sasl.username", username, jaas_user),
                                           ("sasl.password", password, jaas_password)):
                if direct is not None and from_jaas is not None and direct != from_jaas:
                    shown = "<hidden>" if key == "sasl.password" else direct
                    raise InvalidConfig(key, shown, "differs from the one in sasl.jaas.config: "
                                        "give it once")
            username = username if username is not None else jaas_user
            password = password if password is not None else jaas_password
        algorithm = get("ssl.endpoint.identification.algorithm")
        algorithm = "https" if algorithm is None else algorithm.lower()
        if algorithm not in ("https", "none", ""):
            raise InvalidConfig("ssl.endpoint.identification.algorithm", algorithm,
                                "expected 'https' (check the broker's host name) or "
                                "'none'/empty (do not)")
        # Check each setting as the key the user wrote, so errors name that key.
        keys = {"security_protocol": "security.protocol", "sasl_mechanism": "sasl.mechanism",
                "sasl_username": "sasl.username", "sasl_password": "sasl.password",
                "ssl_cafile": "ssl.ca.location", "ssl_certfile": "ssl.certificate.location",
                "ssl_keyfile": "ssl.key.location", "ssl_key_password": "ssl.key.password"}
        try:
            return cls(security_protocol=protocol, sasl_mechanism=mechanism,
                       sasl_username=username, sasl_password=password,
                       ssl_cafile=get("ssl.ca.location"),
                       ssl_certfile=get("ssl.certificate.location"),
                       ssl_keyfile=get("ssl.key.location"),
                       ssl_key_password=properties.get("ssl.key.password"),
                       ssl_check_hostname=algorithm == "https")
        except InvalidArgument as exc:
            key = next((keys[part] for part in exc.name.split("/") if part in keys), exc.name)
            if key in ("sasl.username", "sasl.password") and jaas is not None:
                key += " (or sasl.jaas.config)"
            raise InvalidConfig(key, exc.value, f"expected {exc.expected}") from None


PLAINTEXT: Final = Security()


def _jaas_credentials(jaas: str, mechanism: str | None) -> tuple[str | None, str | None]:
    """The username and password options of a `sasl.jaas.config` value (CLIENT-51)."""
    match = _JAAS.fullmatch(jaas)
    if match is None or match["module"] not in _LOGIN_MODULES:
        raise InvalidConfig("sasl.jaas.config", "<hidden>",
                            "expected '<LoginModule> required username=\"...\" "
                            "password=\"...\";' with LoginModule one of "
                            + ", ".join(_LOGIN_MODULES))
    if match["flag"] != "required":
        raise InvalidConfig("sasl.jaas.config", "<hidden>",
                            f"control flag {match['flag']!r}: expected 'required'")
    if mechanism is not None and mechanism not in _LOGIN_MODULES[match["module"]]:
        raise InvalidConfig("sasl.jaas.config", "<hidden>", f"{match['module']} does not serve "
                            f"sasl.mechanism={mechanism}")
    options: dict[str, str] = {}
    rest = match["options"]
    position = 0
    while rest[position:].strip():
        option = _JAAS_OPTION.match(rest, position)
        if option is None:
            raise InvalidConfig("sasl.jaas.config", "<hidden>",
                                f"cannot read an option at {rest[position:].strip()[:20]!r} "
                                "(expected key=\"value\")")
        quoted = option["quoted"]
        options[option["key"]] = (re.sub(r"\\(.)", r"\1", quoted) if quoted is not None
                                  else option["bare"])
        position = option.end()
    return options.get("username"), options.get("password")


_ESCAPES: Final = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def parse_properties(text: str, *, source: str = "properties") -> dict[str, str]:
    """A Java .properties text as a dict (CLIENT-52): `key=value`, `key: value` or `key value`
    lines; `#` and `!` comment lines; a line ending in an odd number of backslashes continues
    on the next; `\\t \\n \\r \\f \\uXXXX` and `\\` before any other character are Java's
    escapes. `InvalidConfig` naming `source` and the line for a bad `\\u` escape."""
    result: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        number = index + 1
        logical = lines[index].lstrip()
        index += 1
        if not logical or logical[0] in "#!":
            continue
        while _continues(logical) and index < len(lines):
            logical = logical[:-1] + lines[index].lstrip()
            index += 1
        if _continues(logical):
            logical = logical[:-1]
        key, value = _split_property(logical)
        try:
            result[_unescape(key)] = _unescape(value)
        except ValueError as exc:
            raise InvalidConfig(f"{source} line {number}", key, str(exc)) from None
    return result


def _continues(line: str) -> bool:
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


def _split_property(line: str) -> tuple[str, str]:
    position = 0
    while position < len(line):
        char = line[position]
        if char == "\\":
            position += 2
            continue
        if char in "=: \t\f":
            break
        position += 1
    key = line[:position]
    rest = line[position:].lstrip(" \t\f")
    if rest[:1] in ("=", ":") and (position >= len(line) or line[position] in " \t\f=:"):
        rest = rest[1:].lstrip(" \t\f")
    return key, rest


def _unescape(text: str) -> str:
    out: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char != "\\" or position + 1 >= len(text):
            out.append(char)
            position += 1
            continue
        escaped = text[position + 1]
        if escaped == "u":
            digits = text[position + 2:position + 6]
            if not re.fullmatch(r"[0-9a-fA-F]{4}", digits):
                raise ValueError(f"malformed \\u escape {text[position:position + 6]!r}")
            out.append(chr(int(digits, 16)))
            position += 6
            continue
        out.append(_ESCAPES.get(escaped, escaped))
        position += 2
    return "".join(out)


def ssl_context(security: Security) -> ssl.SSLContext:
    """The TLS context of `security` (CLIENT-53): the broker verified against `ssl_cafile` (the
    system's CAs when unset) and, if `ssl_check_hostname`, its name; TLS 1.2 or newer; the
    client certificate and key when given. `InvalidConfig` naming the file that cannot be read."""
    try:
        context = ssl.create_default_context(cafile=security.ssl_cafile)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidConfig("ssl_cafile", security.ssl_cafile, str(exc)) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = security.ssl_check_hostname
    if security.ssl_certfile is not None:
        try:
            context.load_cert_chain(security.ssl_certfile, security.ssl_keyfile,
                                    password=security.ssl_key_password)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidConfig("ssl_certfile/ssl_keyfile",
                                (security.ssl_certfile, security.ssl_keyfile),
                                str(exc)) from None
    return context
