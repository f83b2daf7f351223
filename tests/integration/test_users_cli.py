"""`flyq users add|remove|list`, offline on a data directory and with `--bootstrap` against a real
`flyq broker` (spec/sasl.md SASL-22..25), cross-checked with kafka-python's admin client (an
independent implementation of DescribeUserScramCredentials and AlterUserScramCredentials) and with
a log-in through the broker's own credential file."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from scramp import ScramClient

from flyq.auth import CredentialStore, SaslServer
from flyq.cli import cli
from flyq.client import Admin
from flyq.errors import UnacceptableCredential, UnknownUser, UnsupportedSaslMechanism
from tests.integration.broker_process import BrokerProcess
from tests.integration.test_cli import fails, ok

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka.admin
    from kafka.admin._users import UserScramCredentialDeletion, UserScramCredentialUpsertion

pytestmark = pytest.mark.integration

PASSWORD = "open sesame"


def logs_in(data_dir: Path, user: str, password: str, mechanism: str) -> bool:
    """Whether `user` logs in with `password` through `mechanism` against the credentials stored
    in `data_dir` (scramp's client for SCRAM)."""
    store = CredentialStore.open(str(data_dir))
    sasl = SaslServer(("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"), store.get)
    sasl.handshake(mechanism)
    try:
        if mechanism == "PLAIN":
            return sasl.authenticate(f"\x00{user}\x00{password}".encode()).complete
        client = ScramClient([mechanism], user, password)
        client.set_server_first(sasl.authenticate(client.get_client_first().encode())
                                .challenge.decode())
        final = sasl.authenticate(client.get_client_final().encode())
        client.set_server_final(final.challenge.decode())
        return final.complete
    except Exception:  # noqa: BLE001 - any refusal means "does not log in"
        return False


def listing(*args: str, data_dir: Path | None = None) -> dict[str, list[dict[str, object]]]:
    document: dict[str, list[dict[str, object]]] = json.loads(
        ok("users", "list", "--format", "json", *args, data_dir=data_dir))
    return document


# --- offline --------------------------------------------------------------------------------------


def test_offline_add_list_remove(tmp_path: Path) -> None:
    """SASL-22..25: add (both mechanisms by default, the data directory made), list as a table
    and as json, log in with the password, remove one mechanism, then the user."""
    data = tmp_path / "data"
    out = ok("users", "add", "alice", "--password-stdin", "--iterations", "4096",
             data_dir=data, stdin=f"{PASSWORD}\n".encode())
    assert "SCRAM-SHA-256, SCRAM-SHA-512" in out and PASSWORD not in out
    ok("users", "add", "bob", "--mechanism", "SCRAM-SHA-512", "--password-stdin",
       data_dir=data, stdin=b"bobs password")
    assert ok("users", "list", data_dir=data).splitlines() == [
        "USER   MECHANISM      ITERATIONS",
        "alice  SCRAM-SHA-256  4096",
        "alice  SCRAM-SHA-512  4096",
        "bob    SCRAM-SHA-512  8192",
    ]
    for mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
        assert logs_in(data, "alice", PASSWORD, mechanism)
        assert not logs_in(data, "alice", PASSWORD + "\n", mechanism)
    assert logs_in(data, "bob", "bobs password", "SCRAM-SHA-512")
    assert not logs_in(data, "bob", "bobs password", "SCRAM-SHA-256")
    assert PASSWORD.encode() not in (data / "@security" / "scram-credentials.json").read_bytes()
    ok("users", "remove", "alice", "--mechanism", "SCRAM-SHA-256", data_dir=data)
    assert listing(data_dir=data) == {
        "alice": [{"mechanism": "SCRAM-SHA-512", "iterations": 4096}],
        "bob": [{"mechanism": "SCRAM-SHA-512", "iterations": 8192}]}
    ok("users", "remove", "alice", data_dir=data)
    assert list(listing(data_dir=data)) == ["bob"]
    assert "user 'alice' has no credentials" in fails("users", "remove", "alice", data_dir=data)


def test_offline_refusals(tmp_path: Path) -> None:
    """SASL-2, SASL-22, SASL-25: too few iterations, an unknown mechanism, an empty password and
    a missing data directory (for list and remove) are one-line errors; nothing is stored."""
    data = tmp_path / "data"
    result = CliRunner().invoke(cli, ["users", "add", "alice", "--iterations", "100",
                                      "--password-stdin", "--data-dir", str(data)], input="pw\n")
    assert result.exit_code == 2 and "4096" in result.output
    result = CliRunner().invoke(cli, ["users", "add", "alice", "--mechanism", "SCRAM-SHA-1",
                                      "--password-stdin", "--data-dir", str(data)], input="pw\n")
    assert result.exit_code == 2
    assert "password is empty" in fails("users", "add", "alice", "--password-stdin",
                                        data_dir=data, stdin=b"\n")
    assert "does not exist" in fails("users", "list", data_dir=data)
    assert "does not exist" in fails("users", "remove", "alice", data_dir=data)


def test_the_password_prompt_asks_twice_and_hides(tmp_path: Path) -> None:
    """SASL-22: without --password-stdin the password is prompted for twice, hidden; a mismatch
    asks again."""
    data = tmp_path / "data"
    result = CliRunner().invoke(cli, ["users", "add", "carol", "--data-dir", str(data)],
                                input="first\nsecond\nright\nright\n")
    assert result.exit_code == 0, result.output
    assert "first" not in result.output and "right" not in result.output
    assert "do not match" in result.output
    assert logs_in(data, "carol", "right", "PLAIN")
    assert not logs_in(data, "carol", "first", "PLAIN")


# --- over the network -----------------------------------------------------------------------------


def test_bootstrap_add_list_remove(broker: BrokerProcess) -> None:
    """SASL-21, SASL-25: the same commands over a running broker; kafka-python's admin sees what
    the CLI stored, and the broker's credential file lets the user log in."""
    out = ok("users", "add", "alice", "--bootstrap", broker.bootstrap, "--password-stdin",
             "--iterations", "5000", stdin=f"{PASSWORD}\n".encode())
    assert broker.bootstrap in out
    assert listing("--bootstrap", broker.bootstrap) == {"alice": [
        {"mechanism": "SCRAM-SHA-256", "iterations": 5000},
        {"mechanism": "SCRAM-SHA-512", "iterations": 5000}]}
    admin = kafka.admin.KafkaAdminClient(bootstrap_servers=broker.bootstrap,
                                         client_id="kafka-python", request_timeout_ms=30_000)
    try:
        described = admin.describe_user_scram_credentials(["alice"])
        assert described["alice"]["error"] is None
        assert sorted((int(info["mechanism"]), info["iterations"])
                      for info in described["alice"]["credential_infos"]) == [(1, 5000),
                                                                             (2, 5000)]
        for mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            assert logs_in(broker.data_dir, "alice", PASSWORD, mechanism)
        ok("users", "remove", "alice", "--mechanism", "SCRAM-SHA-512", "--bootstrap",
           broker.bootstrap)
        assert listing("--bootstrap", broker.bootstrap) == {"alice": [
            {"mechanism": "SCRAM-SHA-256", "iterations": 5000}]}
        ok("users", "remove", "alice", "--bootstrap", broker.bootstrap)
        assert listing("--bootstrap", broker.bootstrap) == {}
        assert admin.describe_user_scram_credentials() == {}
        assert "alice" in fails("users", "remove", "alice", "--bootstrap", broker.bootstrap)
    finally:
        admin.close()


def test_kafka_python_upserts_flyq_lists(broker: BrokerProcess) -> None:
    """SASL-19, SASL-21: credentials kafka-python's admin upserts (its own salt and hashing) are
    listed by `flyq users list --bootstrap`, log the user in, and survive a broker restart;
    its deletion of a missing credential is refused."""
    admin = kafka.admin.KafkaAdminClient(bootstrap_servers=broker.bootstrap,
                                         client_id="kafka-python", request_timeout_ms=30_000)
    try:
        answer = admin.alter_user_scram_credentials([
            UserScramCredentialUpsertion("dave", "SCRAM-SHA-256", "d4ve", iterations=6000),
            UserScramCredentialUpsertion("erin", "SCRAM-SHA-512", "3rin"),
            UserScramCredentialDeletion("frank", "SCRAM-SHA-256")])
        assert answer["dave"] is None and answer["erin"] is None
        assert "frank" in answer["frank"]
    finally:
        admin.close()
    assert logs_in(broker.data_dir, "dave", "d4ve", "SCRAM-SHA-256")
    assert logs_in(broker.data_dir, "erin", "3rin", "PLAIN")
    broker.restart()
    assert listing("--bootstrap", broker.bootstrap) == {
        "dave": [{"mechanism": "SCRAM-SHA-256", "iterations": 6000}],
        "erin": [{"mechanism": "SCRAM-SHA-512", "iterations": 4096}]}


def test_admin_user_methods(broker: BrokerProcess) -> None:
    """SASL-19, SASL-21: the synchronous Admin's user methods: upsert and describe, errors
    raised as FlyQ's classes, per-user results of a mixed alter."""
    with Admin(broker.bootstrap) as admin:
        admin.upsert_user("gina", "g1na", "SCRAM-SHA-512", iterations=4100)
        assert admin.describe_users() == {"gina": (("SCRAM-SHA-512", 4100),)}
        assert admin.describe_user_scram_credentials(["gina"]) == admin.describe_users()
        with pytest.raises(UnknownUser, match="hank"):
            admin.describe_users(["hank"])
        with pytest.raises(UnknownUser, match="gina"):
            admin.delete_user("gina", "SCRAM-SHA-256")
        with pytest.raises(UnacceptableCredential):
            admin.upsert_user("", "pw")
        with pytest.raises(UnsupportedSaslMechanism):
            admin.upsert_user("gina", "pw", "SCRAM-SHA-1")
        errors = admin.alter_user_scram_credentials(
            [("ivan", "SCRAM-SHA-256", "1van", 4096)], [("gina", "SCRAM-SHA-512"),
                                                        ("judy", "SCRAM-SHA-256")])
        assert errors["ivan"] is None and errors["gina"] is None
        assert isinstance(errors["judy"], UnknownUser)
        assert admin.describe_users() == {"ivan": (("SCRAM-SHA-256", 4096),)}
    assert logs_in(broker.data_dir, "ivan", "1van", "SCRAM-SHA-256")


def test_offline_users_refused_while_a_broker_runs(broker: BrokerProcess) -> None:
    """SASL-16, ACL-24: the broker holds the security lock, so an offline change of its users
    fails, pointing to --bootstrap, and changes nothing."""
    message = fails("users", "add", "mallory", "--password-stdin", data_dir=broker.data_dir,
                    stdin=b"x-secret\n")
    assert "--bootstrap" in message
    assert "mallory" not in listing("--bootstrap", broker.bootstrap)
