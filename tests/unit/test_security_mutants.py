"""Issue 11's pure security parts: what callers rely on beyond the happy path (spec/security.md
LSN-1..4, TLS-1..5, AUTH-2..7; spec/acl.md ACL-10..12).

Each test closes a gap that mutation testing (`scripts/mutation.py security`) showed. Expected
values come from the spec, Kafka (its config keys, wire field names and SslPrincipalMapper), the
TCP port range, RFC 2253 as `openssl x509 -nameopt RFC2253` prints it, and Python's own `re` and
`ssl` errors; never from the output of the code under test.
"""

from __future__ import annotations

import errno
import os
import re
import ssl
import subprocess
from pathlib import Path

import pytest
import scramp

from flyq.auth import AclFilter, SaslServer, acl_from_codes, filter_from_codes, make_credential
from flyq.errors import (
    AuthenticationFailed,
    InvalidArgument,
    InvalidConfig,
    UnsupportedSaslMechanism,
)
from flyq.server._authentication import AuthOutcome, ConnectionAuthentication, FailedAuthentications
from flyq.server._listeners import (
    SECURITY_PROTOCOLS,
    Listener,
    parse_address,
    parse_listeners,
    with_advertised,
)
from flyq.server._tls import CLIENT_AUTH, PrincipalRules, TlsSettings, server_context, subject_dn
from tests.tls_files import make_tls_files

# Kafka's SaslAuthenticateResponse fields (SaslAuthenticateResponse.json), snake_case.
SASL_AUTHENTICATE_FIELDS = {"error_code", "error_message", "auth_bytes", "session_lifetime_ms"}
CREDENTIALS = {("alice", "SCRAM-SHA-256"): make_credential("SCRAM-SHA-256", "secret",
                                                           iterations=4096)}


def connection(listener: Listener | None = None) -> ConnectionAuthentication:
    return ConnectionAuthentication(
        listener or Listener("SASL_PLAINTEXT", "127.0.0.1", 9093), tls_principal=None,
        exchange=lambda: SaslServer(("PLAIN", "SCRAM-SHA-256"),
                                    lambda user, mech: CREDENTIALS.get((user, mech))))


def plain_login() -> ConnectionAuthentication:
    auth = connection()
    auth.handshake({"mechanism": "PLAIN"})
    _, outcome = auth.authenticate({"auth_bytes": b"\0alice\0secret"})
    assert outcome is AuthOutcome.AUTHENTICATED
    return auth


# --- AUTH: a connection's authentication ------------------------------------------------------


def test_every_sasl_authenticate_answer_has_kafkas_fields_and_no_session_lifetime() -> None:
    """AUTH-4/5: success and failure answers carry exactly SaslAuthenticateResponse's fields;
    a failure sends no auth bytes; session_lifetime_ms is 0 either way."""
    auth = connection()
    auth.handshake({"mechanism": "PLAIN"})
    ok, _ = auth.authenticate({"auth_bytes": b"\0alice\0secret"})
    assert set(ok) == SASL_AUTHENTICATE_FIELDS
    assert (ok["error_message"], ok["session_lifetime_ms"]) == (None, 0)
    for failed in (plain_login().authenticate({"auth_bytes": b""})[0],
                   connection().authenticate({"auth_bytes": b"x"})[0]):
        assert set(failed) == SASL_AUTHENTICATE_FIELDS
        assert (failed["auth_bytes"], failed["session_lifetime_ms"]) == (b"", 0)
    wrong = connection()
    wrong.handshake({"mechanism": "PLAIN"})
    answer, _ = wrong.authenticate({"auth_bytes": b"\0alice\0guess"})
    assert set(answer) == SASL_AUTHENTICATE_FIELDS
    assert (answer["error_code"], answer["auth_bytes"], answer["session_lifetime_ms"]) == (58, b"",
                                                                                          0)


def test_each_illegal_sasl_authenticate_says_which_case_and_where() -> None:
    """AUTH-7: SaslAuthenticate on a PLAINTEXT listener, before SaslHandshake and after success
    are each ILLEGAL_SASL_STATE (34) with a message naming the listener and telling the three
    cases apart."""
    cases = {
        "PLAINTEXT": connection(Listener("PLAINTEXT", "h", 1)),
        "SASL_PLAINTEXT": connection(),
    }
    messages = []
    for name, auth in cases.items():
        answer, outcome = auth.authenticate({"auth_bytes": b"\0alice\0secret"})
        assert (answer["error_code"], outcome) == (34, AuthOutcome.FAILED)
        assert name in answer["error_message"]
        assert answer["error_message"] == str(auth.failure)
        messages.append(answer["error_message"].replace(name, "L"))
    done = plain_login()
    answer, outcome = done.authenticate({"auth_bytes": b"\0alice\0secret"})
    assert (answer["error_code"], outcome) == (34, AuthOutcome.FAILED)
    assert "SASL_PLAINTEXT" in answer["error_message"]
    messages.append(answer["error_message"].replace("SASL_PLAINTEXT", "L"))
    assert len(set(messages)) == 3  # the reasons differ, not just the listeners


def test_each_illegal_sasl_handshake_says_which_case() -> None:
    """AUTH-7, AUTH-3: a SaslHandshake on a PLAINTEXT listener, after success, a second one and a
    v0 one are refused (34) each with its own reason, naming the listener."""
    second = connection()
    second.handshake({"mechanism": "PLAIN"})
    cases = [(connection(Listener("PLAINTEXT", "h", 1)), 1), (plain_login(), 1), (second, 1),
             (connection(), 0)]
    messages = []
    for auth, version in cases:
        answer, outcome = auth.handshake({"mechanism": "PLAIN"}, version)
        assert (answer["error_code"], outcome) == (34, AuthOutcome.FAILED)
        assert auth.listener.name in str(auth.failure)
        messages.append(str(auth.failure).replace(auth.listener.name, "L"))
    assert len(set(messages)) == 4  # the reasons differ, not just the listeners


def test_an_unsupported_mechanism_is_kept_as_the_failure() -> None:
    """AUTH-5: the refused handshake's failure (what the broker logs) is the unsupported
    mechanism, named; a later SaslAuthenticate is refused (34) without authenticating."""
    auth = connection()
    auth.handshake({"mechanism": "GSSAPI"})
    assert isinstance(auth.failure, UnsupportedSaslMechanism)
    assert "GSSAPI" in str(auth.failure)
    answer, outcome = auth.authenticate({"auth_bytes": b"\0alice\0secret"})
    assert (answer["error_code"], outcome, auth.authenticated) == (34, AuthOutcome.FAILED, False)


@pytest.mark.parametrize(("blocked_ms", "seconds"), [(1, 1), (999, 1), (1000, 1), (1001, 2),
                                                     (60_000, 60)])
def test_a_blocked_attempt_says_the_whole_seconds_that_remain(blocked_ms: int,
                                                              seconds: int) -> None:
    """AUTH-6: the message says how many seconds remain, rounded up (1 ms is 1 s, not 0 s)."""
    auth = connection()
    auth.handshake({"mechanism": "PLAIN"})
    answer, outcome = auth.authenticate({"auth_bytes": b"\0alice\0secret"},
                                        blocked_for_ms=blocked_ms)
    assert (answer["error_code"], outcome, auth.authenticated) == (58, AuthOutcome.FAILED, False)
    assert answer["error_message"].endswith(f"retry in {seconds} s")


def test_a_blocked_attempt_names_the_mechanism_and_user_for_the_log() -> None:
    """AUTH-5/6: a SCRAM exchange blocked at its second message fails naming the mechanism and
    the user the client gave (the broker's log line), and does not authenticate."""
    auth = connection()
    auth.handshake({"mechanism": "SCRAM-SHA-256"})
    client = scramp.ScramClient(["SCRAM-SHA-256"], "alice", "secret")
    answer, _ = auth.authenticate({"auth_bytes": client.get_client_first().encode()})
    client.set_server_first(answer["auth_bytes"].decode())
    answer, outcome = auth.authenticate({"auth_bytes": client.get_client_final().encode()},
                                        blocked_for_ms=5)
    assert (answer["error_code"], outcome) == (58, AuthOutcome.FAILED)
    assert isinstance(auth.failure, AuthenticationFailed)
    assert (auth.failure.mechanism, auth.failure.user) == ("SCRAM-SHA-256", "alice")


def test_an_address_is_free_again_once_its_failures_left_the_window() -> None:
    """AUTH-6: below the limit, or once every failure is older than the window, nothing blocks."""
    limiter = FailedAuthentications(limit=2, window_ms=1000)
    limiter.record("a", 0)
    assert limiter.blocked_for_ms("a", 10) == 0  # one failure, limit 2
    assert limiter.blocked_for_ms("a", 5000) == 0  # and it has left the window
    limiter.record("a", 5000)
    limiter.record("a", 5001)
    assert limiter.blocked_for_ms("a", 5500) == 500  # until 5000 + 1000
    assert limiter.blocked_for_ms("a", 9000) == 0


# --- LSN: listeners ---------------------------------------------------------------------------


def test_ports_are_tcp_ports_and_hosts_are_kept_as_written() -> None:
    """LSN-1: a port is 0..65535 (TCP's range); the host is kept whatever letters it has; a
    refused address names the option and the text given."""
    assert parse_address("Xenon:65535", option="o") == ("Xenon", 65535)
    assert parse_address("[::1]:0", option="o") == ("::1", 0)
    for bad in ("h:65536", "h:-1", "h:", ":1", "h"):
        with pytest.raises(InvalidArgument) as caught:
            parse_address(bad, option="--listen")
        assert (caught.value.name, caught.value.value) == ("--listen", bad)


def test_an_unknown_security_protocol_is_refused_naming_the_four() -> None:
    """LSN-1: a Listener of another protocol is InvalidArgument giving the value and Kafka's
    four protocols; so is such a listener string, which names the option and the text."""
    with pytest.raises(InvalidArgument) as caught:
        Listener("KERBEROS", "h", 1)
    assert "protocol" in str(caught.value.name) and caught.value.value == "KERBEROS"
    assert all(protocol in str(caught.value) for protocol in SECURITY_PROTOCOLS)
    with pytest.raises(InvalidArgument) as caught:
        parse_listeners(["GSS://h:1"], option="--listen")
    assert (caught.value.name, caught.value.value) == ("--listen", "GSS://h:1")


def test_refused_listener_sets_show_the_listeners_as_kafka_writes_them() -> None:
    """LSN-1..3: no listener, two of one protocol, or two on one HOST:PORT are refused naming
    the option and the listeners given, in Kafka's comma-separated `listeners` form."""
    with pytest.raises(InvalidArgument) as caught:
        parse_listeners([" , "], option="--listen")
    assert (caught.value.name, caught.value.value) == ("--listen", "")
    with pytest.raises(InvalidArgument) as caught:
        parse_listeners(["SSL://h:1", "ssl://h:2"], option="--listen")
    assert (caught.value.name, caught.value.value) == ("--listen", "SSL://h:1,SSL://h:2")
    with pytest.raises(InvalidArgument) as caught:
        parse_listeners(["PLAINTEXT://h:1,SSL://h:1"], option="--listen")
    assert (caught.value.name, caught.value.value) == ("--listen",
                                                       "PLAINTEXT://h:1,SSL://h:1")
    # LSN-3: port 0 ("any free port") may be shared.
    assert len(parse_listeners(["PLAINTEXT://h:0,SSL://h:0"], option="l")) == 2


def test_advertised_listeners_in_kafkas_comma_separated_form() -> None:
    """LSN-4: `advertised.listeners` is comma-separated like `listeners`; each names its
    listener; a single listener takes PROTOCOL://HOST:PORT as well as a bare HOST:PORT."""
    listeners = parse_listeners(["PLAINTEXT://0.0.0.0:9092,SSL://0.0.0.0:9093"], option="l")
    advertised = with_advertised(listeners, ["SSL://b.example:19093, PLAINTEXT://a.example:19092"],
                                 option="a")
    assert [listener.advertised for listener in advertised] == [("a.example", 19092),
                                                                ("b.example", 19093)]
    (single,) = with_advertised(parse_listeners(["SSL://0.0.0.0:1"], option="l"),
                                ["SSL://h.example:2"], option="a")
    assert single.advertised == ("h.example", 2)


def test_refused_advertised_addresses_name_the_option_and_the_part() -> None:
    """LSN-4: each refused advertised address is InvalidArgument naming the option and the
    address given (for a bad port, its HOST:PORT): a bad port (one listener or several), a bare
    address among several listeners, a protocol with no listener."""
    single = parse_listeners(["SSL://0.0.0.0:1"], option="l")
    several = parse_listeners(["PLAINTEXT://0.0.0.0:2,SSL://0.0.0.0:1"], option="l")
    for listeners, part, named in ((single, "h:x", "h:x"), (several, "SSL://h:x", "h:x"),
                                   (several, "h:1", "h:1"),
                                   (several, "SASL_SSL://h:1", "SASL_SSL://h:1"),
                                   (single, "PLAINTEXT://h:1", "PLAINTEXT://h:1")):
        with pytest.raises(InvalidArgument) as caught:
            with_advertised(listeners, [part], option="--advertised")
        assert (caught.value.name, caught.value.value) == ("--advertised", named)


# --- TLS --------------------------------------------------------------------------------------


def _openssl_cert(directory: Path, subject: str) -> Path:
    """A self-signed certificate with `subject` (openssl's `/A=v/B=w` form, `+` joining a
    multi-valued RDN), made by the openssl command, not by FlyQ or Python."""
    cert, key = directory / "c.pem", directory / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-multivalue-rdn", "-subj", subject],
                   check=True, capture_output=True)
    return cert


def _openssl_rfc2253(cert: Path) -> str:
    return subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-subject", "-nameopt",
                           "RFC2253"], capture_output=True, text=True,
                          check=True).stdout.rstrip("\n").removeprefix("subject=")


def _rdn_sets(dn: str) -> list[frozenset[str]]:
    """A DN's RDNs in order, each as its set of attributes: RFC 2253 section 2.2 lets a
    multi-valued RDN's attributes come in any order (openssl reverses them, Java does not)."""
    return [frozenset(rdn.split("+")) for rdn in dn.split(",")]


@pytest.mark.parametrize("subject", [
    "/CN= ",  # a value that is one space: escaped once (it is both leading and trailing)
    "/CN=a ",  # a trailing space
    "/O=Xavier/CN= lead",  # a leading space; X is no special character
    "/O=x/CN=alice+UID=a1",  # a multi-valued RDN joined with `+`
])
def test_subject_dn_matches_openssl_rfc2253(tmp_path: Path, subject: str) -> None:
    """TLS-3: the subject as RFC 2253 for leading, trailing and lone spaces, ordinary letters and
    multi-valued RDNs, as `openssl x509 -nameopt RFC2253` prints it."""
    cert = _openssl_cert(tmp_path, subject)
    decoded = ssl._ssl._test_decode_cert(str(cert))  # type: ignore[attr-defined]
    assert _rdn_sets(subject_dn(decoded)) == _rdn_sets(_openssl_rfc2253(cert))


def test_a_bad_client_auth_names_kafkas_key_and_values() -> None:
    """TLS-2: ssl.client.auth other than none/requested/required, or requested/required without
    a CA, is InvalidConfig naming Kafka's key, the value and what would do."""
    with pytest.raises(InvalidConfig) as caught:
        TlsSettings("c", "k", client_auth="sometimes")
    assert (caught.value.key, caught.value.value) == ("ssl.client.auth", "sometimes")
    assert all(value in str(caught.value) for value in ("none", "requested", "required"))
    assert set(CLIENT_AUTH) == {"none", "requested", "required"}
    for value in ("requested", "required"):
        with pytest.raises(InvalidConfig) as caught:
            TlsSettings("c", "k", client_auth=value)
        assert (caught.value.key, caught.value.value) == ("ssl.client.auth", value)
        assert "ssl.ca.location" in str(caught.value)


def test_an_encrypted_key_is_opened_with_ssl_key_password(tmp_path: Path) -> None:
    """TLS-1: a key encrypted by openssl loads with its `ssl.key.password`; a wrong password is
    InvalidConfig naming Kafka's keys and the files."""
    files = make_tls_files(tmp_path)
    encrypted = tmp_path / "encrypted.key"
    subprocess.run(["openssl", "pkey", "-in", str(files.server_key), "-aes256", "-passout",
                    "pass:s3cret", "-out", str(encrypted)], check=True, capture_output=True)
    context = server_context(TlsSettings(str(files.server_cert), str(encrypted),
                                         key_password="s3cret"))
    assert context.verify_mode == ssl.CERT_NONE
    with pytest.raises(InvalidConfig) as caught:
        server_context(TlsSettings(str(files.server_cert), str(encrypted),
                                   key_password="wrong"))
    assert "ssl.certificate.location" in caught.value.key
    assert "ssl.key.location" in caught.value.key
    assert str(encrypted) in str(caught.value)


def test_unreadable_tls_files_name_kafkas_key_and_the_reason(tmp_path: Path) -> None:
    """TLS-1: a missing CA file is InvalidConfig on `ssl.ca.location` with the OS's reason; a
    certificate with another key's file gives OpenSSL's reason."""
    files = make_tls_files(tmp_path)
    missing = str(tmp_path / "missing.pem")
    with pytest.raises(InvalidConfig) as caught:
        server_context(TlsSettings(str(files.server_cert), str(files.server_key), missing))
    assert (caught.value.key, caught.value.value) == ("ssl.ca.location", missing)
    assert os.strerror(errno.ENOENT) in str(caught.value)
    with pytest.raises(InvalidConfig) as caught:
        server_context(TlsSettings(str(files.server_cert), str(files.client_key)))
    assert "ssl.key.location" in caught.value.key
    assert "key values mismatch" in str(caught.value).lower()


def test_bad_mapping_rules_name_kafkas_key_and_the_bad_part() -> None:
    """TLS-4: rules that are not Kafka's syntax name `ssl.principal.mapping.rules`, the text
    and the syntax; a bad pattern names the pattern and `re`'s reason."""
    with pytest.raises(InvalidConfig) as caught:
        PrincipalRules.parse("SOMETHING")
    assert (caught.value.key, caught.value.value) == ("ssl.principal.mapping.rules", "SOMETHING")
    assert "RULE:" in str(caught.value) and "DEFAULT" in str(caught.value)
    with pytest.raises(InvalidConfig) as caught:
        PrincipalRules.parse("RULE:^CN=(.*$/$1/")
    assert (caught.value.key, caught.value.value) == ("ssl.principal.mapping.rules", "^CN=(.*$")
    with pytest.raises(re.error) as python:
        re.compile("^CN=(.*$")
    assert str(python.value) in str(caught.value)


def test_group_references_as_kafkas_sslprincipalmapper() -> None:
    """TLS-4: `$0` is the whole DN, `$n` the n-th group, a group that did not take part is
    empty, and a reference past the last group stays literal (Kafka's SslPrincipalMapper)."""
    dn = "CN=bob,OU=eng,O=x"
    assert PrincipalRules.parse("RULE:^CN=([a-z]+),.*$/$0/").principal(dn) == f"User:{dn}"
    assert PrincipalRules.parse("RULE:^CN=([a-z]+),OU=(\\w+),.*$/$2-$1/").principal(dn) == (
        "User:eng-bob")
    assert PrincipalRules.parse("RULE:^CN=([a-z]+),(OX=)?.*$/$1[$2]/").principal(dn) == (
        "User:bob[]")
    assert PrincipalRules.parse("RULE:^CN=([a-z]+),.*$/$1@$2/").principal(dn) == "User:bob@$2"


def test_no_matching_rule_is_a_failed_ssl_authentication_of_the_dn() -> None:
    """TLS-4/5: a DN no rule maps fails authentication with mechanism SSL, naming the DN."""
    with pytest.raises(AuthenticationFailed) as caught:
        PrincipalRules.parse("RULE:^CN=([a-z]+)$/$1/").principal("O=x")
    assert (caught.value.mechanism, caught.value.user) == ("SSL", "O=x")


# --- ACL-10..12: filters and codes ------------------------------------------------------------


def test_a_filter_from_codes_keeps_every_field() -> None:
    """ACL-12: DescribeAcls/DeleteAcls codes (ACL-10: 2 Topic, 3 Literal, 3 Read, 3 Allow) and
    the name, principal and host decode to the one filter with those values."""
    assert filter_from_codes(2, "payments", 3, "User:alice", "10.0.0.1", 3, 3) == AclFilter(
        "Topic", "Literal", "payments", "User:alice", "10.0.0.1", "Read", "Allow")
    assert filter_from_codes(3, None, 4, None, "*", 12, 2) == AclFilter(
        "Group", "Prefixed", None, None, "*", "IdempotentWrite", "Deny")


@pytest.mark.parametrize(("codes", "field"), [
    ((0, 1, 1, 1), "resource_type_filter"),
    ((1, 0, 1, 1), "pattern_type_filter"),
    ((1, 1, 13, 1), "operation"),
    ((1, 1, 1, 4), "permission_type"),
])
def test_an_unknown_filter_code_names_kafkas_field(codes: tuple[int, int, int, int],
                                                   field: str) -> None:
    """ACL-12: an unknown code in a filter names the DescribeAcls/DeleteAcls field as Kafka's
    schema spells it and the code given."""
    resource_type, pattern_type, operation, permission = codes
    with pytest.raises(InvalidArgument) as caught:
        filter_from_codes(resource_type, None, pattern_type, None, None, operation, permission)
    assert caught.value.name == field
    assert caught.value.value in codes and caught.value.value in (0, 4, 13)


@pytest.mark.parametrize(("codes", "fields", "value", "choice"), [
    ((9, 3, 3, 3), {"resource_type"}, 9, "Topic"),
    ((2, 9, 3, 3), {"pattern_type", "resource_pattern_type"}, 9, "Prefixed"),
    ((2, 3, 13, 3), {"operation"}, 13, "IdempotentWrite"),
    ((2, 3, 3, 0), {"permission", "permission_type"}, 0, "Deny"),
])
def test_an_acl_code_a_creation_cannot_take_names_its_field(
        codes: tuple[int, int, int, int], fields: set[str], value: int, choice: str) -> None:
    """ACL-12: an unknown code in an ACL to create names the field (ACL-13's name or
    CreateAcls's), the code given, and the values that would do."""
    resource_type, pattern_type, operation, permission = codes
    with pytest.raises(InvalidArgument) as caught:
        acl_from_codes(resource_type, "t", pattern_type, "User:a", "*", operation, permission)
    assert caught.value.name in fields
    assert caught.value.value == value
    assert choice in str(caught.value)


def test_a_filter_value_outside_the_table_names_the_value_and_the_choices() -> None:
    """ACL-11: a filter field outside its values is refused naming the value and the choices."""
    with pytest.raises(InvalidArgument) as caught:
        AclFilter(pattern_type="Glob")
    assert caught.value.value == "Glob"
    assert all(value in str(caught.value) for value in ("Any", "Match", "Literal", "Prefixed"))
