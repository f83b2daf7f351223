"""Who may do what: Kafka's ACL authorizer as a pure function over an ACL set (spec/acl.md),
and who a connection is: SCRAM credentials, their store and the sans-I/O SASL server
(spec/sasl.md).

The broker's wiring (listeners, the connection's authentication state, the authorizer in
force) is flyq.server's; this package is the core. The stores touch files (flyq.impl): the
credential store loads lazily, and the ACL store (`flyq.auth._acl_store.AclStore`) is imported
from its module, because the client imports this package and must not load `flyq.impl`
(tests/unit/test_client_layering.py).
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
from flyq.auth._acl_filter import (
    ANY,
    CLUSTER_NAME,
    MATCH,
    OPERATION_CODES,
    PATTERN_TYPE_CODES,
    PERMISSION_CODES,
    RESOURCE_TYPE_CODES,
    AclFilter,
    acl_from_codes,
    codes_of_acl,
    filter_from_codes,
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
    "ANY",
    "CLUSTER_NAME",
    "MATCH",
    "OPERATION_CODES",
    "PATTERN_TYPE_CODES",
    "PERMISSION_CODES",
    "RESOURCE_TYPE_CODES",
    "AclFilter",
    "acl_from_codes",
    "codes_of_acl",
    "filter_from_codes",
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
