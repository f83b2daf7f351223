"""The one home of `--bootstrap HOST:PORT` (or $FLYQ_BOOTSTRAP): commands that can talk to a
running broker over `flyq.client` instead of opening its data directory, and how they choose.

`bootstrap_option` also brings the client's security options (spec/client.md CLIENT-57..59):
`--command-config FILE` (a Kafka tool's .properties file) and `--security-protocol`,
`--sasl-mechanism`, `--sasl-username`, `--ssl-ca`, `--ssl-cert`, `--ssl-key`, with the SASL
password from $FLYQ_SASL_PASSWORD or the file, never from the command line (`ps` shows it).
`client_security()` turns them into a `flyq.client.Security`; `admin_run` uses it.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any, TypeVar

import click

from flyq.cli._root import data_dir_given
from flyq.client import SECURITY_PROTOCOLS, AsyncAdmin, Security, parse_properties
from flyq.errors import InvalidConfig
from flyq.impl.checkpoint_file import read_whole_file
from flyq.impl.filelayer import OsFileLayer

__all__ = ["PASSWORD_ENV", "StopSignals", "admin_run", "bootstrap_option", "chosen_bootstrap",
           "client_security"]

PASSWORD_ENV = "FLYQ_SASL_PASSWORD"
_SECURITY_KEY = "flyq.security_options"
# Each direct option and the Kafka client property it sets (over --command-config's).
_DIRECT_OPTIONS = {"security_protocol": "security.protocol", "sasl_mechanism": "sasl.mechanism",
                   "sasl_username": "sasl.username", "ssl_ca": "ssl.ca.location",
                   "ssl_cert": "ssl.certificate.location", "ssl_key": "ssl.key.location"}

_T = TypeVar("_T")


def _remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None and param.name is not None:
        ctx.meta.setdefault(_SECURITY_KEY, {})[param.name] = value


_SECURITY_OPTIONS = (
    click.option("--command-config", type=click.Path(dir_okay=False), expose_value=False,
                 callback=_remember, metavar="FILE",
                 help="With --bootstrap: Kafka client security properties (security.protocol, "
                 "sasl.mechanism, sasl.username, sasl.password, sasl.jaas.config, "
                 "ssl.ca.location, ssl.certificate.location, ssl.key.location, ...), as Kafka's "
                 "tools read them; the options below override it."),
    click.option("--security-protocol", type=click.Choice(SECURITY_PROTOCOLS,
                                                          case_sensitive=False),
                 expose_value=False, callback=_remember,
                 help="With --bootstrap: PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL."),
    click.option("--sasl-mechanism", expose_value=False, callback=_remember,
                 help="With --bootstrap: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (the password "
                 f"from ${PASSWORD_ENV} or --command-config)."),
    click.option("--sasl-username", expose_value=False, callback=_remember,
                 help="With --bootstrap: the SASL user."),
    click.option("--ssl-ca", type=click.Path(dir_okay=False), expose_value=False,
                 callback=_remember, help="With --bootstrap: PEM CA certificates to verify the "
                 "broker with (default: the system's)."),
    click.option("--ssl-cert", type=click.Path(dir_okay=False), expose_value=False,
                 callback=_remember, help="With --bootstrap: PEM client certificate (mTLS)."),
    click.option("--ssl-key", type=click.Path(dir_okay=False), expose_value=False,
                 callback=_remember, help="With --bootstrap: PEM key of --ssl-cert."),
)


def bootstrap_option(function: Any) -> Any:
    """`--bootstrap HOST:PORT`: talk to a running broker instead of opening the data directory;
    with it the security options `client_security` reads (CLIENT-57)."""
    for option in reversed(_SECURITY_OPTIONS):
        function = option(function)
    return click.option(
        "--bootstrap", envvar="FLYQ_BOOTSTRAP", show_envvar=True, metavar="HOST:PORT",
        help="A running broker to talk to instead of opening the data directory (which the "
        "running broker holds locked).",
    )(function)


def client_security(ctx: click.Context | None = None) -> Security:
    """The `Security` of this command's options (CLIENT-58): the --command-config file's
    properties, then the direct options over them, then $FLYQ_SASL_PASSWORD (when the protocol
    is SASL) over the file's password. PLAINTEXT when nothing is given."""
    ctx = ctx if ctx is not None else click.get_current_context(silent=True)
    given: dict[str, str] = dict(ctx.meta.get(_SECURITY_KEY, {})) if ctx is not None else {}
    properties: dict[str, str] = {}
    path = given.get("command_config")
    if path is not None:
        properties = _read_properties(path)
    for name, key in _DIRECT_OPTIONS.items():
        if name in given:
            properties[key] = given[name]
    password = os.environ.get(PASSWORD_ENV)
    protocol = properties.get("security.protocol", "PLAINTEXT").strip().upper()
    if password is not None and protocol.startswith("SASL_"):
        properties["sasl.password"] = password
    return Security.from_properties(properties)


def _read_properties(path: str) -> dict[str, str]:
    data = read_whole_file(OsFileLayer(), path)
    if data is None:
        raise InvalidConfig("--command-config", path, "no such file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidConfig("--command-config", path,
                            f"not UTF-8 at byte {exc.start}") from None
    return parse_properties(text, source=path)


def chosen_bootstrap(ctx: click.Context, bootstrap: str | None) -> str | None:
    """The broker to talk to, or None to work on the data directory. A `--data-dir` on the
    command line beats $FLYQ_BOOTSTRAP from the environment; naming both on the command line is
    an error, since it is unclear which one the user means."""
    given = sorted(ctx.meta.get(_SECURITY_KEY, {}))
    if bootstrap is None:
        if given:
            names = ", ".join("--" + name.replace("_", "-") for name in given)
            raise click.UsageError(f"{names}: only with --bootstrap (they say how to reach a "
                                   "running broker)")
        return None
    from_command_line = ctx.get_parameter_source("bootstrap") is click.core.ParameterSource.COMMANDLINE
    if data_dir_given(ctx):
        if from_command_line:
            raise click.UsageError("give either --bootstrap (a running broker) or --data-dir "
                                   "(a stopped broker's directory), not both")
        return None
    return bootstrap


def admin_run(bootstrap: str, work: Callable[[AsyncAdmin], Awaitable[_T]]) -> _T:
    """Run `work` with an `AsyncAdmin` connected to `bootstrap` with the command's security
    options (`client_security`), closed after it."""
    security = client_security()
    async def main() -> _T:
        async with await AsyncAdmin.connect(bootstrap, security=security) as admin:
            return await work(admin)
    return asyncio.run(main())


class StopSignals:
    """SIGINT and SIGTERM set `requested` instead of interrupting a request midway, so what was
    done can still be committed or flushed (CLI-NET-4, CLI-NET-8); a second SIGINT interrupts at
    once."""

    def __init__(self) -> None:
        self.requested = False

    def __enter__(self) -> StopSignals:
        self._previous = {number: signal.signal(number, self._handle)
                          for number in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, number: int, frame: FrameType | None) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __exit__(self, *exc_info: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
