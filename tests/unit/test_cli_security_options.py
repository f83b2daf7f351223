"""The CLI's security options (spec/client.md CLIENT-57, CLIENT-58): what `client_security`
makes of --command-config, the direct options and $FLYQ_SASL_PASSWORD, through a real click
command decorated with `bootstrap_option` (no broker: the settings are only printed)."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

from flyq.cli._network import bootstrap_option, client_security
from flyq.client import Security
from flyq.errors import FlyQError


@click.command()
@bootstrap_option
def show(bootstrap: str | None) -> None:
    try:
        security = client_security()
    except FlyQError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(repr(security))
    click.echo(f"password={security.sasl_password}")


def _show(args: list[str], password: str | None = None) -> tuple[int, str]:
    env = {"FLYQ_SASL_PASSWORD": password, "FLYQ_BOOTSTRAP": None}
    result = CliRunner().invoke(show, ["--bootstrap", "h:1", *args], env=env)
    return result.exit_code, result.output


def _file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "client.properties"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_nothing_given_is_plaintext_even_with_a_password_exported() -> None:
    """CLIENT-58: no options is PLAINTEXT; $FLYQ_SASL_PASSWORD alone does not turn SASL on (and
    does not make a PLAINTEXT command fail)."""
    code, output = _show([], password="exported")
    assert code == 0, output
    assert output.splitlines()[0] == repr(Security())


def test_direct_options_override_the_file_and_the_environment_the_password(
        tmp_path: Path) -> None:
    """CLIENT-58: the file first, each direct option over its key, $FLYQ_SASL_PASSWORD over
    the file's password."""
    config = _file(tmp_path, "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
                             "sasl.username=alice\nsasl.password=from-file\n")
    code, output = _show(["--command-config", config, "--sasl-mechanism", "SCRAM-SHA-512"])
    assert code == 0, output
    assert "sasl_mechanism='SCRAM-SHA-512'" in output and "password=from-file" in output
    code, output = _show(["--command-config", config], password="from-env")
    assert code == 0, output
    assert "password=from-env" in output


def test_direct_options_alone(tmp_path: Path) -> None:
    """CLIENT-57: --security-protocol (any case), --sasl-*, --ssl-* and the password from the
    environment make a SASL_SSL setting."""
    code, output = _show(["--security-protocol", "sasl_ssl", "--sasl-mechanism", "PLAIN",
                          "--sasl-username", "bob", "--ssl-ca", "/ca.pem"], password="pw")
    assert code == 0, output
    assert output.splitlines()[0] == repr(Security("SASL_SSL", "PLAIN", "bob", "pw",
                                                   ssl_cafile="/ca.pem"))


def test_no_password_anywhere_names_the_keys(tmp_path: Path) -> None:
    """CLIENT-57, CLIENT-51: SASL without a password (no file, no environment) is an error
    naming sasl.password; there is no --sasl-password option to put it in `ps`."""
    code, output = _show(["--security-protocol", "SASL_SSL", "--sasl-mechanism", "PLAIN",
                          "--sasl-username", "bob"])
    assert code == 1
    assert "sasl.password" in output
    code, output = _show(["--sasl-password", "x"])
    assert code == 2 and "No such option" in output


def test_a_missing_or_bad_file_is_named(tmp_path: Path) -> None:
    """CLIENT-58: a missing --command-config file, or a misspelt key in it, is an error naming
    the file or the key."""
    missing = str(tmp_path / "nope.properties")
    code, output = _show(["--command-config", missing])
    assert code == 1 and missing in output
    code, output = _show(["--command-config", _file(tmp_path, "sasl.mechanisms=PLAIN\n")])
    assert code == 1 and "sasl.mechanisms" in output
