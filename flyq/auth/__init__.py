"""Who may do what: Kafka's ACL authorizer as a pure function over an ACL set (spec/acl.md),
and who a connection is: SCRAM credentials, their store and the sans-I/O SASL server
(spec/sasl.md).

The broker's wiring of both (listeners, the connection's authentication state) is flyq.server's;
this package is their core. The credential store touches files (flyq.impl), so it loads lazily:
the client salts passwords with `flyq.auth._scram` and must not load the broker's layers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flyq.auth._acl import (
    OPERATIONS,
    PATTERN_TYPES,
    PERMISSIONS,
    RESOURCE_TYPES,
    Acl,
    AclAuthorizer,
    implied_by,
    pattern_matches,
)
from flyq.auth._sasl import SASL_MECHANISMS, SaslServer, SaslStep
from flyq.auth._scram import (
    SCRAM_MECHANISMS,
    ScramCredential,
    check_password,
    credential_from_salted_password,
    make_credential,
    salted_password,
)

if TYPE_CHECKING:
    from flyq.auth._credentials import CredentialStore, credentials_path

__all__ = [
    "OPERATIONS",
    "PATTERN_TYPES",
    "PERMISSIONS",
    "RESOURCE_TYPES",
    "SASL_MECHANISMS",
    "SCRAM_MECHANISMS",
    "Acl",
    "AclAuthorizer",
    "CredentialStore",
    "SaslServer",
    "SaslStep",
    "ScramCredential",
    "check_password",
    "credential_from_salted_password",
    "credentials_path",
    "implied_by",
    "make_credential",
    "pattern_matches",
    "salted_password",
]

_LAZY = frozenset({"CredentialStore", "credentials_path"})


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'flyq.auth' has no attribute {name!r}")
    return getattr(importlib.import_module("flyq.auth._credentials"), name)
