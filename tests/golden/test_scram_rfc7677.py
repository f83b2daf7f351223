"""RFC 7677's SCRAM-SHA-256 example exchange, byte for byte (spec/sasl.md SASL-10).

`vectors/scram_rfc7677.json` holds the RFC's four messages (copied by hand from RFC 7677 §3) and
one client-final message with a damaged proof. The server is given the RFC's credential (user,
password, salt, iterations) and its server nonce; fed the RFC's client messages it must answer the
RFC's server messages exactly.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

import flyq.errors
from flyq.auth import SaslServer, SaslStep, make_credential

pytestmark = pytest.mark.golden

VECTORS = {v["name"]: v for v in json.loads(
    (Path(__file__).parent / "vectors" / "scram_rfc7677.json").read_text())}


def rfc_server(params: dict[str, Any]) -> SaslServer:
    credential = make_credential(params["mechanism"], params["password"],
                                 iterations=params["iterations"],
                                 salt=base64.b64decode(params["salt"]))
    server = SaslServer((params["mechanism"],),
                        lambda user, mechanism: credential if user == params["user"] else None,
                        nonce_source=lambda: str(params["server_nonce"]))
    server.handshake(params["mechanism"])
    return server


def message(name: str) -> bytes:
    data = bytes.fromhex(VECTORS[name]["hex"])
    if VECTORS[name]["decoded"] is not None:
        assert data.decode() == VECTORS[name]["decoded"]["text"]
    return data


def test_rfc7677_exchange_is_reproduced_byte_for_byte() -> None:
    """SASL-10: the RFC's client messages get exactly the RFC's server-first and server-final
    messages, and the exchange completes as User:user."""
    server = rfc_server(VECTORS["client_first"]["params"])
    first = server.authenticate(message("client_first"))
    assert first == SaslStep(message("server_first"), False, None)
    final = server.authenticate(message("client_final"))
    assert final == SaslStep(message("server_final"), True, "User:user")


def test_rfc7677_with_a_damaged_proof_is_refused() -> None:
    """SASL-8, SASL-10: the RFC's exchange with its proof changed fails with the vector's error."""
    vector = VECTORS["client_final_wrong_proof"]
    server = rfc_server(vector["params"])
    server.authenticate(message("client_first"))
    with pytest.raises(getattr(flyq.errors, vector["error"])) as info:
        server.authenticate(bytes.fromhex(vector["hex"]))
    assert info.value.user == "user"
    assert "pencil" not in str(info.value)
