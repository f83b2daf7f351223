"""SCRAM credentials, their store, and whole SCRAM exchanges with scramp's client side
(spec/sasl.md SASL-1..3, SASL-7, SASL-8, SASL-12..16)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path

import pytest
from scramp import ScramClient, ScramException, ScramMechanism

from flyq.auth import (
    SCRAM_MECHANISMS,
    CredentialStore,
    SaslServer,
    ScramCredential,
    check_password,
    credential_from_salted_password,
    credentials_path,
    make_credential,
)
from flyq.broker.layout import check_topic_name
from flyq.errors import (
    AuthenticationFailed,
    CorruptCheckpoint,
    InvalidTopicName,
    UnacceptableCredential,
    UnknownUser,
    UnsupportedSaslMechanism,
)

SALT = bytes(range(16))

# --- credentials ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", SCRAM_MECHANISMS)
@pytest.mark.parametrize("password", ["pencil", "correct horse battery staple", "p@ss=w,rd"])
def test_credential_equals_scramps_for_ascii_passwords(mechanism: str, password: str) -> None:
    """SASL-1, SASL-3: for an ASCII password the stored keys are those scramp's make_auth_info
    derives, salt and iterations kept."""
    salt, stored_key, server_key, iterations = ScramMechanism(mechanism).make_auth_info(
        password, iteration_count=5000, salt=SALT)
    ours = make_credential(mechanism, password, iterations=5000, salt=SALT)
    assert (ours.salt, ours.stored_key, ours.server_key, ours.iterations) == (
        salt, stored_key, server_key, iterations)


@pytest.mark.parametrize("mechanism", SCRAM_MECHANISMS)
def test_a_non_ascii_password_is_hashed_as_utf8_without_saslprep(mechanism: str) -> None:
    """SASL-3: the password enters Hi as UTF-8 bytes as Kafka's ScramFormatter does; SASLprep
    would map U+FB01 (the fi ligature) to "fi" first, and a Kafka client's proof would not match."""
    name = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}[mechanism]
    password = "\ufb01sh"
    salted = hashlib.pbkdf2_hmac(name, password.encode("utf-8"), SALT, 4096)
    expected_stored = hashlib.new(name, hmac.digest(salted, b"Client Key", name)).digest()
    credential = make_credential(mechanism, password, iterations=4096, salt=SALT)
    assert credential.stored_key == expected_stored
    assert credential != make_credential(mechanism, "fish", iterations=4096, salt=SALT)


@pytest.mark.parametrize("mechanism", SCRAM_MECHANISMS)
def test_from_salted_password_is_the_same_credential(mechanism: str) -> None:
    """SASL-19: what AlterUserScramCredentials carries (salt, SaltedPassword) gives the
    credential a password gives."""
    name = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}[mechanism]
    salted = hashlib.pbkdf2_hmac(name, b"secret", SALT, 4096)
    assert credential_from_salted_password(mechanism, SALT, salted, 4096) == make_credential(
        mechanism, "secret", iterations=4096, salt=SALT)


def test_check_password_accepts_only_the_password() -> None:
    """SASL-6: check_password is true for the password and false for any other."""
    credential = make_credential("SCRAM-SHA-512", "right", iterations=4096)
    assert check_password(credential, "right")
    assert not check_password(credential, "Right")
    assert not check_password(credential, "right ")
    assert not check_password(credential, "")


def test_random_salts_differ() -> None:
    """SASL-2: two credentials for one password have different 32-byte salts and keys."""
    first, second = (make_credential("SCRAM-SHA-256", "pw") for _ in range(2))
    assert len(first.salt) == len(second.salt) == 32
    assert first.salt != second.salt and first.stored_key != second.stored_key
    assert first.iterations == 8192


@pytest.mark.parametrize("iterations", [4096, 16384])
def test_iteration_bounds_are_inclusive(iterations: int) -> None:
    """SASL-2: Kafka's bounds 4096 and 16384 themselves are accepted."""
    assert make_credential("SCRAM-SHA-256", "pw", iterations=iterations).iterations == iterations


@pytest.mark.parametrize("iterations", [4095, 16385, 0, -1, True])
def test_iterations_outside_kafkas_bounds_are_unacceptable(iterations: int) -> None:
    """SASL-2: fewer than 4096 or more than 16384 iterations are UnacceptableCredential."""
    with pytest.raises(UnacceptableCredential, match="iterations"):
        make_credential("SCRAM-SHA-256", "pw", iterations=iterations)


def test_unacceptable_credentials() -> None:
    """SASL-2: an empty password, a short salt, keys of the wrong size are refused; a mechanism
    other than the two SCRAM ones is UnsupportedSaslMechanism."""
    with pytest.raises(UnacceptableCredential, match="password is empty"):
        make_credential("SCRAM-SHA-256", "")
    with pytest.raises(UnacceptableCredential, match="salt of 11 bytes"):
        make_credential("SCRAM-SHA-256", "pw", salt=b"x" * 11)
    assert make_credential("SCRAM-SHA-256", "pw", salt=b"x" * 12).salt == b"x" * 12
    good = make_credential("SCRAM-SHA-256", "pw")
    with pytest.raises(UnacceptableCredential, match="stored_key of 64 bytes"):
        ScramCredential("SCRAM-SHA-256", good.salt, b"k" * 64, good.server_key, 4096)
    with pytest.raises(UnacceptableCredential, match="salted password of 32 bytes"):
        credential_from_salted_password("SCRAM-SHA-512", SALT, b"s" * 32, 4096)
    with pytest.raises(UnsupportedSaslMechanism, match="SCRAM-SHA-1"):
        make_credential("SCRAM-SHA-1", "pw")


def test_repr_shows_no_key_material() -> None:
    """SASL-1: a credential's repr (as logs would show it) has no salt or key bytes."""
    credential = make_credential("SCRAM-SHA-256", "pw")
    assert repr(credential) == "ScramCredential(mechanism='SCRAM-SHA-256', iterations=8192)"


# --- whole exchanges with scramp's client ---------------------------------------------------------

STORE = {(user, mechanism): make_credential(mechanism, password, iterations=4096)
         for user, password in (("alice", "wonderland"), ("a,b=c", "odd name"))
         for mechanism in SCRAM_MECHANISMS}


def server_for(mechanism: str) -> SaslServer:
    server = SaslServer(("PLAIN", *SCRAM_MECHANISMS), lambda u, m: STORE.get((u, m)))
    server.handshake(mechanism)
    return server


def exchange(mechanism: str, user: str, password: str) -> tuple[SaslServer, ScramClient]:
    """A whole exchange; scramp's client checks the server's signature at the end."""
    server = server_for(mechanism)
    client = ScramClient([mechanism], user, password)
    first = server.authenticate(client.get_client_first().encode())
    assert not first.complete and first.principal is None
    client.set_server_first(first.challenge.decode())
    final = server.authenticate(client.get_client_final().encode())
    client.set_server_final(final.challenge.decode())  # raises if the signature is wrong
    assert final.complete
    return server, client


@pytest.mark.parametrize("mechanism", SCRAM_MECHANISMS)
def test_scramp_client_logs_in(mechanism: str) -> None:
    """SASL-7: scramp's client completes the exchange with the right password, verifies the
    server's signature, and the principal is User:<name>."""
    server, _ = exchange(mechanism, "alice", "wonderland")
    assert server.complete and server.user == "alice" and server.mechanism == mechanism


@pytest.mark.parametrize("mechanism", SCRAM_MECHANISMS)
def test_a_saslname_is_unescaped(mechanism: str) -> None:
    """SASL-7: the client sends "a=2Cb=3Dc" for user "a,b=c"; the principal is the unescaped
    name."""
    server = server_for(mechanism)
    client = ScramClient([mechanism], "a,b=c", "odd name")
    client_first = client.get_client_first()
    assert "n=a=2Cb=3Dc," in client_first
    client.set_server_first(server.authenticate(client_first.encode()).challenge.decode())
    final = server.authenticate(client.get_client_final().encode())
    assert final.principal == "User:a,b=c"


@pytest.mark.parametrize("mechanism", SCRAM_MECHANISMS)
def test_wrong_password_fails_and_stays_failed(mechanism: str) -> None:
    """SASL-5, SASL-8: a wrong password fails at the client-final message, naming the user and
    the reason, never the password; the exchange then refuses everything."""
    server = server_for(mechanism)
    client = ScramClient([mechanism], "alice", "looking-glass")
    client.set_server_first(server.authenticate(client.get_client_first().encode())
                            .challenge.decode())
    with pytest.raises(AuthenticationFailed) as info:
        server.authenticate(client.get_client_final().encode())
    assert info.value.user == "alice" and info.value.mechanism == mechanism
    assert "wrong password" in info.value.why
    assert "looking-glass" not in str(info.value)
    assert server.failed and not server.complete


@pytest.mark.parametrize("mechanism", SCRAM_MECHANISMS)
def test_unknown_user_fails_at_the_first_message(mechanism: str) -> None:
    """SASL-7: a user with no credential for the mechanism fails at client-first."""
    with pytest.raises(AuthenticationFailed, match="unknown user") as info:
        server_for(mechanism).authenticate(
            ScramClient([mechanism], "mallory", "x").get_client_first().encode())
    assert info.value.user == "mallory"


def test_a_user_without_this_mechanism_is_unknown_to_it() -> None:
    """SASL-7: the credential is looked up for the handshake's mechanism only."""
    only_256 = {("bob", "SCRAM-SHA-256"): make_credential("SCRAM-SHA-256", "pw", iterations=4096)}
    server = SaslServer(SCRAM_MECHANISMS, lambda u, m: only_256.get((u, m)))
    server.handshake("SCRAM-SHA-512")
    with pytest.raises(AuthenticationFailed, match="unknown user"):
        server.authenticate(ScramClient(["SCRAM-SHA-512"], "bob", "pw").get_client_first()
                            .encode())


MALFORMED_FIRST = [
    b"",
    b"\xff\xfe",
    b"n=alice,r=abc",  # no GS2 header
    b"n,a=alice,n=alice,r=abc",  # an authzid
    b"p=tls-unique,,n=alice,r=abc",  # channel binding the server does not offer
    b"n,,n=alice",  # no nonce
    b"n,,r=abc,n=alice",  # attributes out of order
    b"n,,n=al=41ice,r=abc",  # a bad saslname escape
    b"n,,m=ext,n=alice,r=abc",  # a mandatory extension
]


@pytest.mark.parametrize("message", MALFORMED_FIRST)
def test_malformed_client_first_fails(message: bytes) -> None:
    """SASL-7, SASL-8: a client-first message that does not parse fails the exchange."""
    server = server_for("SCRAM-SHA-256")
    with pytest.raises(AuthenticationFailed):
        server.authenticate(message)
    assert server.failed


def _after_first(mechanism: str = "SCRAM-SHA-256") -> tuple[SaslServer, ScramClient, str]:
    server = server_for(mechanism)
    client = ScramClient([mechanism], "alice", "wonderland")
    client.set_server_first(server.authenticate(client.get_client_first().encode())
                            .challenge.decode())
    return server, client, client.get_client_final()


def test_malformed_client_final_fails() -> None:
    """SASL-8: a client-final message that is cut, has another channel binding, another nonce
    or no proof fails the exchange."""
    _, _, good = _after_first()
    channel, nonce, proof = good.split(",")
    for bad in (good[:-10], f"c=eSws,{nonce},{proof}", f"{channel},r=x{nonce[2:]},{proof}",
                f"{channel},{nonce}", f"{channel},{nonce[:-1]},{proof}", "\udcff"):
        server, _, _ = _after_first()
        with pytest.raises(AuthenticationFailed):
            server.authenticate(bad.encode("utf-8", "surrogateescape"))
        assert server.failed


def test_scramp_client_rejects_a_forged_server_signature() -> None:
    """SASL-7: the server-final signature is the one only a holder of ServerKey can make: a
    client checking it refuses the answer of a server with another ServerKey."""
    server, client, final = _after_first()
    answer = server.authenticate(final.encode()).challenge.decode()
    forged = "v=" + base64.b64encode(b"\x00" * 32).decode()
    assert answer != forged
    with pytest.raises(ScramException):
        client.set_server_final(forged)


# --- the store ------------------------------------------------------------------------------------


def test_store_round_trip_and_reopen(tmp_path: Path) -> None:
    """SASL-13, SASL-14: set credentials, reopen the directory: the same users, mechanisms,
    iterations and keys."""
    store = CredentialStore.open(str(tmp_path))
    alice = make_credential("SCRAM-SHA-256", "pw", iterations=4096)
    alice_512 = make_credential("SCRAM-SHA-512", "pw", iterations=5000)
    bob = make_credential("SCRAM-SHA-512", "pw2")
    store.set("alice", alice)
    store.set("alice", alice_512)
    store.set("bob", bob)
    again = CredentialStore.open(str(tmp_path))
    assert again.get("alice", "SCRAM-SHA-256") == alice
    assert again.get("alice", "SCRAM-SHA-512") == alice_512
    assert again.get("bob", "SCRAM-SHA-512") == bob
    assert again.get("bob", "SCRAM-SHA-256") is None and again.get("carol", "SCRAM-SHA-256") is None
    assert again.users() == {"alice": (("SCRAM-SHA-256", 4096), ("SCRAM-SHA-512", 5000)),
                             "bob": (("SCRAM-SHA-512", 8192),)}


def test_store_file_layout(tmp_path: Path) -> None:
    """SASL-12, SASL-13: DATA_DIR/@security/scram-credentials.json, ASCII JSON with base64 keys
    and no password; `@security` can never be a topic's directory."""
    store = CredentialStore.open(str(tmp_path))
    credential = make_credential("SCRAM-SHA-256", "hunter2-password", iterations=4096)
    store.set("alice", credential)
    path = tmp_path / "@security" / "scram-credentials.json"
    assert store.path == str(path) == credentials_path(str(tmp_path))
    data = path.read_bytes()
    data.decode("ascii")
    assert json.loads(data) == {"version": 1, "users": {"alice": {"SCRAM-SHA-256": {
        "iterations": 4096,
        "salt": base64.b64encode(credential.salt).decode(),
        "stored_key": base64.b64encode(credential.stored_key).decode(),
        "server_key": base64.b64encode(credential.server_key).decode()}}}}
    salted = hashlib.pbkdf2_hmac("sha256", b"hunter2-password", credential.salt, 4096)
    assert b"hunter2" not in data and base64.b64encode(salted) not in data
    with pytest.raises(InvalidTopicName):
        check_topic_name("@security")


def test_delete_removes_a_mechanism_then_the_user(tmp_path: Path) -> None:
    """SASL-13, SASL-14: delete removes one mechanism; the user goes with its last one; deleting
    what is not there is UnknownUser and changes nothing."""
    store = CredentialStore.open(str(tmp_path))
    for mechanism in SCRAM_MECHANISMS:
        store.set("alice", make_credential(mechanism, "pw", iterations=4096))
    store.delete("alice", "SCRAM-SHA-256")
    assert store.users() == {"alice": (("SCRAM-SHA-512", 4096),)}
    with pytest.raises(UnknownUser, match="alice"):
        store.delete("alice", "SCRAM-SHA-256")
    store.delete("alice", "SCRAM-SHA-512")
    assert store.users() == {}
    assert json.loads((tmp_path / "@security" / "scram-credentials.json").read_bytes())[
        "users"] == {}
    with pytest.raises(UnknownUser):
        store.delete("nobody", "SCRAM-SHA-512")


def test_alter_is_all_or_nothing(tmp_path: Path) -> None:
    """SASL-14: an alter whose deletion names a missing credential writes nothing, in memory or
    on disk, not even its upsertions."""
    store = CredentialStore.open(str(tmp_path))
    store.set("alice", make_credential("SCRAM-SHA-256", "pw", iterations=4096))
    before = (tmp_path / "@security" / "scram-credentials.json").read_bytes()
    with pytest.raises(UnknownUser):
        store.alter(upsertions=[("bob", make_credential("SCRAM-SHA-256", "pw", iterations=4096))],
                    deletions=[("alice", "SCRAM-SHA-256"), ("alice", "SCRAM-SHA-512")])
    assert (tmp_path / "@security" / "scram-credentials.json").read_bytes() == before
    assert store.users() == {"alice": (("SCRAM-SHA-256", 4096),)}
    assert CredentialStore.open(str(tmp_path)).users() == store.users()


def test_empty_user_name_is_unacceptable(tmp_path: Path) -> None:
    """SASL-2: a credential for an empty user name is refused, nothing written."""
    store = CredentialStore.open(str(tmp_path))
    with pytest.raises(UnacceptableCredential, match="user name"):
        store.set("", make_credential("SCRAM-SHA-256", "pw", iterations=4096))
    assert not (tmp_path / "@security").exists()


def test_a_change_keeps_what_another_process_wrote(tmp_path: Path) -> None:
    """SASL-16: a change re-reads the file, so a credential another store (another process)
    added meanwhile stays; `reload` shows it without a change."""
    first, second = CredentialStore.open(str(tmp_path)), CredentialStore.open(str(tmp_path))
    first.set("alice", make_credential("SCRAM-SHA-256", "pw", iterations=4096))
    assert second.get("alice", "SCRAM-SHA-256") is None
    second.reload()
    assert second.get("alice", "SCRAM-SHA-256") is not None
    first.set("carol", make_credential("SCRAM-SHA-256", "pw", iterations=4096))
    second.set("bob", make_credential("SCRAM-SHA-256", "pw", iterations=4096))
    assert set(CredentialStore.open(str(tmp_path)).users()) == {"alice", "bob", "carol"}


def _write_raw(tmp_path: Path, data: bytes) -> str:
    os.makedirs(tmp_path / "@security", exist_ok=True)
    path = tmp_path / "@security" / "scram-credentials.json"
    path.write_bytes(data)
    return str(path)


def _valid_document() -> dict[str, object]:
    credential = make_credential("SCRAM-SHA-256", "pw", iterations=4096)
    return {"version": 1, "users": {"alice": {"SCRAM-SHA-256": {
        "iterations": 4096, "salt": base64.b64encode(credential.salt).decode(),
        "stored_key": base64.b64encode(credential.stored_key).decode(),
        "server_key": base64.b64encode(credential.server_key).decode()}}}}


def _damaged(change: str) -> bytes:
    document = _valid_document()
    entry = document["users"]["alice"]["SCRAM-SHA-256"]  # type: ignore[index]
    if change == "torn":
        return json.dumps(document).encode()[:40]
    if change == "not utf-8":
        return b"\xff" + json.dumps(document).encode()
    if change == "array":
        return b"[]"
    if change == "version":
        document["version"] = 2
    elif change == "users":
        document["users"] = []
    elif change == "iterations":
        entry["iterations"] = "4096"
    elif change == "few iterations":
        entry["iterations"] = 100
    elif change == "base64":
        entry["salt"] = "not base64!"
    elif change == "key size":
        entry["stored_key"] = base64.b64encode(b"k" * 31).decode()
    elif change == "mechanism":
        document["users"] = {"alice": {"SCRAM-SHA-1": entry}}
    elif change == "no mechanisms":
        document["users"] = {"alice": {}}
    return json.dumps(document).encode()


DAMAGE = ["torn", "not utf-8", "array", "version", "users", "iterations", "few iterations",
          "base64", "key size", "mechanism", "no mechanisms"]


@pytest.mark.parametrize("change", DAMAGE)
def test_a_damaged_file_is_an_error_naming_it(tmp_path: Path, change: str) -> None:
    """SASL-15: a damaged credentials file is CorruptCheckpoint naming the file, never an empty
    store."""
    path = _write_raw(tmp_path, _damaged(change))
    with pytest.raises(CorruptCheckpoint) as info:
        CredentialStore.open(str(tmp_path))
    assert path in str(info.value)


def test_the_undamaged_document_opens(tmp_path: Path) -> None:
    """SASL-15: the document the damage cases start from is itself valid."""
    _write_raw(tmp_path, json.dumps(_valid_document()).encode())
    assert CredentialStore.open(str(tmp_path)).users() == {"alice": (("SCRAM-SHA-256", 4096),)}


def test_a_damaged_file_refuses_changes_too(tmp_path: Path) -> None:
    """SASL-15, SASL-16: a change over a file damaged since the store opened raises and does not
    overwrite the damaged file with a smaller set."""
    store = CredentialStore.open(str(tmp_path))
    store.set("alice", make_credential("SCRAM-SHA-256", "pw", iterations=4096))
    _write_raw(tmp_path, b"{")
    with pytest.raises(CorruptCheckpoint):
        store.set("bob", make_credential("SCRAM-SHA-256", "pw", iterations=4096))
    assert (tmp_path / "@security" / "scram-credentials.json").read_bytes() == b"{"
