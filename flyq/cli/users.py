"""`flyq users add|remove|list`: SCRAM users (spec/sasl.md SASL-22..24).

Offline they work on the data directory's credential store (`DATA_DIR/@security/
scram-credentials.json`); with `--bootstrap HOST:PORT` they ask a running broker through
AlterUserScramCredentials and DescribeUserScramCredentials (`flyq.client.AsyncAdmin`). Either way
the password is salted and iterated on this side and never stored or sent in clear.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from flyq.auth import SCRAM_MECHANISMS, CredentialStore, make_credential
from flyq.auth._directory import lock_security
from flyq.auth._scram import DEFAULT_ITERATIONS, MAX_ITERATIONS, MIN_ITERATIONS
from flyq.broker import DataDirectoryNotFound
from flyq.cli._network import admin_run, bootstrap_option, chosen_bootstrap
from flyq.cli._render import format_option, print_json, table
from flyq.cli._root import cli, data_dir, data_dir_option, hint_when_locked
from flyq.client import AsyncAdmin
from flyq.errors import UnknownUser

__all__ = ["users"]

Listing = dict[str, tuple[tuple[str, int], ...]]


def _mechanism_option(help_text: str) -> Callable[[Any], Any]:
    return click.option(
        "--mechanism", "mechanisms", multiple=True, type=click.Choice(SCRAM_MECHANISMS),
        help=help_text)


@cli.group()
def users() -> None:
    """Add, remove and list SCRAM users (SASL/SCRAM and SASL/PLAIN log in with them)."""


def _store(ctx: click.Context, *, create: bool) -> CredentialStore:
    """The data directory's credentials, their lock held for the command (SASL-16): a running
    broker holds it, and the command fails pointing to --bootstrap."""
    directory = data_dir(ctx)
    if not create and not os.path.isdir(directory):
        raise DataDirectoryNotFound(directory)
    hint_when_locked(ctx)
    ctx.call_on_close(lock_security(directory).release)
    return CredentialStore.open(directory)


def _read_password(from_stdin: bool) -> str:
    """SASL-22: one line of stdin (its line ending removed), or a hidden prompt asked twice."""
    if from_stdin:
        line = sys.stdin.readline()
        return line.removesuffix("\n").removesuffix("\r")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users.command("add")
@click.argument("name")
@_mechanism_option("SCRAM mechanism to store a credential for, repeatable.  [default: both]")
@click.option("--iterations", type=click.IntRange(MIN_ITERATIONS, MAX_ITERATIONS),
              default=DEFAULT_ITERATIONS, show_default=True,
              help="PBKDF2 iterations of the stored credential.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin instead of prompting.")
@bootstrap_option
@data_dir_option
@click.pass_context
def users_add(ctx: click.Context, name: str, mechanisms: tuple[str, ...], iterations: int,
              password_stdin: bool, bootstrap: str | None) -> None:
    """Create user NAME, or replace its password (SASL-22)."""
    chosen = tuple(dict.fromkeys(mechanisms)) or SCRAM_MECHANISMS
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    password = _read_password(password_stdin)
    if bootstrap is not None:
        async def alter(admin: AsyncAdmin) -> None:
            for mechanism in chosen:
                await admin.upsert_user(name, password, mechanism, iterations)
        admin_run(bootstrap, alter)
        where = bootstrap
    else:
        credentials = [make_credential(mechanism, password, iterations=iterations)
                       for mechanism in chosen]
        _store(ctx, create=True).alter(upsertions=[(name, c) for c in credentials])
        where = data_dir(ctx)
    click.echo(f"Stored {', '.join(chosen)} credentials of user {name!r} "
               f"({iterations} iterations) in {where}.")


@users.command("remove")
@click.argument("name")
@_mechanism_option("SCRAM mechanism to remove, repeatable.  [default: every one the user has]")
@bootstrap_option
@data_dir_option
@click.pass_context
def users_remove(ctx: click.Context, name: str, mechanisms: tuple[str, ...],
                 bootstrap: str | None) -> None:
    """Remove user NAME's credentials (all of them unless --mechanism); UnknownUser if it has
    none of them (SASL-23)."""
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    if bootstrap is not None:
        async def remove(admin: AsyncAdmin) -> tuple[str, ...]:
            chosen = tuple(dict.fromkeys(mechanisms)) or tuple(
                mechanism for mechanism, _ in
                (await admin.describe_user_scram_credentials([name]))[name])
            errors = await admin.alter_user_scram_credentials(
                deletions=[(name, mechanism) for mechanism in chosen])
            error = errors.get(name)
            if error is not None:
                raise error
            return chosen
        removed = admin_run(bootstrap, remove)
    else:
        store = _store(ctx, create=False)
        removed = tuple(dict.fromkeys(mechanisms)) or tuple(
            mechanism for mechanism, _ in store.users().get(name, ()))
        if not removed:
            raise UnknownUser(name)
        store.alter(deletions=[(name, mechanism) for mechanism in removed])
    click.echo(f"Removed {', '.join(removed)} credentials of user {name!r}.")


@users.command("list")
@format_option
@bootstrap_option
@data_dir_option
@click.pass_context
def users_list(ctx: click.Context, output_format: str, bootstrap: str | None) -> None:
    """Every user with its mechanisms and iterations (never key material) (SASL-24)."""
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    listing: Listing = (admin_run(bootstrap, lambda admin: admin.describe_user_scram_credentials())
                        if bootstrap is not None else _store(ctx, create=False).users())
    if output_format == "json":
        print_json({user: [{"mechanism": mechanism, "iterations": iterations}
                           for mechanism, iterations in entries]
                    for user, entries in listing.items()})
        return
    table(("user", "mechanism", "iterations"),
          [{"user": user, "mechanism": mechanism, "iterations": iterations}
           for user, entries in listing.items() for mechanism, iterations in entries])
