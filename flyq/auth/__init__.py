"""Who may do what: Kafka's ACL authorizer as a pure function over an ACL set (spec/acl.md),
and who a connection is: SCRAM credentials, their store and the sans-I/O SASL server
(spec/sasl.md).

The broker's wiring of both (listeners, the connection's authentication state) is flyq.server's;
this package is their core.
"""

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
from flyq.auth._credentials import CredentialStore, credentials_path
from flyq.auth._sasl import SASL_MECHANISMS, SaslServer, SaslStep
from flyq.auth._scram import (
    SCRAM_MECHANISMS,
    ScramCredential,
    check_password,
    credential_from_salted_password,
    make_credential,
    salted_password,
)

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
