"""TLS for the SSL and SASL_SSL listeners: the server context and the principal of a client
certificate (TLS-1..6), on the standard `ssl` module.

The principal of a client that presented a certificate is Kafka's: `User:` and the certificate's
subject distinguished name in RFC 2253 form ("CN=alice,OU=eng,O=Example"), rewritten by
`ssl.principal.mapping.rules` (Kafka's syntax: `RULE:pattern/replacement/[LU]`, `DEFAULT`).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from flyq.errors import AuthenticationFailed, InvalidConfig

__all__ = ["CLIENT_AUTH", "PrincipalRules", "TlsSettings", "server_context", "subject_dn"]

CLIENT_AUTH = ("none", "requested", "required")  # Kafka's ssl.client.auth
_VERIFY = {"none": ssl.CERT_NONE, "requested": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
# RFC 2253 keywords for the attribute names Python's `getpeercert` uses; others keep their name.
_KEYWORDS = {
    "commonName": "CN", "localityName": "L", "stateOrProvinceName": "ST",
    "organizationName": "O", "organizationalUnitName": "OU", "countryName": "C",
    "streetAddress": "STREET", "domainComponent": "DC", "userId": "UID",
}
# Kafka's rule grammar (SslPrincipalMapper): RULE:pattern/replacement/ with an optional L or U.
_RULE = re.compile(r"\s*(?:RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?)|(DEFAULT))\s*(?:,|$)")


@attrs.frozen
class TlsSettings:
    """The broker's certificate and key (PEM files), the CA file that client certificates must
    chain to, and whether clients must present one."""

    certfile: str
    keyfile: str
    cafile: str | None = None
    client_auth: str = "none"
    key_password: str | None = attrs.field(default=None, repr=False)
    principal_mapping_rules: str = "DEFAULT"

    def __attrs_post_init__(self) -> None:
        if self.client_auth not in CLIENT_AUTH:
            raise InvalidConfig("ssl.client.auth", self.client_auth, " | ".join(CLIENT_AUTH))
        if self.client_auth != "none" and self.cafile is None:
            raise InvalidConfig("ssl.client.auth", self.client_auth,
                                "ssl.ca.location naming the CA that client certificates chain to")
        PrincipalRules.parse(self.principal_mapping_rules)


def server_context(settings: TlsSettings) -> ssl.SSLContext:
    """A server `SSLContext` (TLS 1.2 or later) with the broker's certificate loaded and client
    certificates verified as `client_auth` says (TLS-1, TLS-2). Unreadable or mismatched files
    raise `InvalidConfig` naming them."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.certfile, settings.keyfile, settings.key_password)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidConfig("ssl.certificate.location / ssl.key.location",
                            f"{settings.certfile}, {settings.keyfile}",
                            f"a readable PEM certificate and its key ({exc})") from exc
    if settings.cafile is not None:
        try:
            context.load_verify_locations(cafile=settings.cafile)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidConfig("ssl.ca.location", settings.cafile,
                                f"a readable PEM CA file ({exc})") from exc
    context.verify_mode = _VERIFY[settings.client_auth]
    return context


def _escape(value: str) -> str:
    escaped = "".join(f"\\{char}" if char in ',+"\\<>;=' else char for char in value)
    if escaped.startswith(("#", " ")):
        escaped = "\\" + escaped
    # A one-space value's space is the leading one, escaped above; never escape it twice.
    if escaped.endswith(" ") and len(value) > 1:
        escaped = escaped[:-1] + "\\ "
    return escaped


def subject_dn(peercert: Mapping[str, Any]) -> str:
    """The certificate subject as an RFC 2253 string, most specific attribute first (as Java's
    `X500Principal.getName()`, which Kafka uses) (TLS-3)."""
    subject: Sequence[Sequence[tuple[str, str]]] = peercert.get("subject", ())
    rdns = ["+".join(f"{_KEYWORDS.get(name, name)}={_escape(value)}" for name, value in rdn)
            for rdn in reversed(subject)]
    return ",".join(rdns)


def _substitute(replacement: str, groups: tuple[str | None, ...]) -> str:
    """Java's `$1` group references, as Kafka's rules write them: a group that did not take part
    is empty; a reference past the last group stays literal (`$2` with one group), as Kafka's
    SslPrincipalMapper treats it."""
    def group(reference: re.Match[str]) -> str:
        number = int(reference.group(1))
        return (groups[number] or "") if number < len(groups) else reference.group(0)
    return re.sub(r"\$(\d)", group, replacement)


@attrs.frozen
class PrincipalRules:
    """Kafka's `ssl.principal.mapping.rules`: the first rule whose pattern matches the whole DN
    rewrites it; DEFAULT keeps the DN (TLS-4)."""

    rules: tuple[tuple[re.Pattern[str], str, str] | None, ...]  # None: DEFAULT

    @classmethod
    def parse(cls, text: str) -> PrincipalRules:
        """Rules from Kafka's syntax; `InvalidConfig` for anything else."""
        rules: list[tuple[re.Pattern[str], str, str] | None] = []
        position = 0
        text = text.strip()
        while position < len(text):
            match = _RULE.match(text, position)
            if match is None or match.end() == position:
                raise InvalidConfig("ssl.principal.mapping.rules", text,
                                    "comma-separated RULE:pattern/replacement/[L|U] or DEFAULT")
            if match.group(4):
                rules.append(None)
            else:
                try:
                    pattern = re.compile(match.group(1))
                except re.error as exc:
                    raise InvalidConfig("ssl.principal.mapping.rules", match.group(1),
                                        f"a valid regular expression ({exc})") from exc
                rules.append((pattern, match.group(2), match.group(3)))
            position = match.end()
        return cls(tuple(rules) or (None,))

    def principal(self, dn: str) -> str:
        """`User:` and the mapped name; `AuthenticationFailed` when no rule applies (Kafka refuses
        such a client)."""
        for rule in self.rules:
            if rule is None:
                return f"User:{dn}"
            pattern, replacement, case = rule
            match = pattern.fullmatch(dn)
            if match is None:
                continue
            # Java's $1 group references, as Kafka's rules write them.
            name = _substitute(replacement, (match.group(0), *match.groups()))
            name = name.lower() if case == "L" else name.upper() if case == "U" else name
            return f"User:{name}"
        raise AuthenticationFailed("SSL", dn, "no ssl.principal.mapping.rules rule applies")
