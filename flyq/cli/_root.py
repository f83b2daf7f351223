"""The root `flyq` group: error mapping, `--version`, `--config`, and where the data directory is.

A `FlyQError` below the root becomes one line `Error: <message>` on stderr and exit code 1, never a
traceback. `--data-dir` is accepted before the subcommand (`flyq --data-dir D topic list`) or after
it (`flyq topic list --data-dir D`); the one after wins. FLYQ_DATA_DIR is the default of both.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from flyq import __version__
from flyq.broker import Broker
from flyq.errors import DirectoryLocked, FlyQError
from flyq.impl.broker_config import CONFIG_ENV, CONFIG_FILE

__all__ = ["DEFAULT_DATA_DIR", "cli", "data_dir_option", "hint_when_locked", "main",
           "open_broker"]

DEFAULT_DATA_DIR = "./flyq-data"
_DATA_DIR_KEY = "flyq.data_dir"
_LOCKED_HINT_KEY = "flyq.locked_hint"


class _FlyQGroup(click.Group):
    """Root group: any `FlyQError` below it becomes click's one-line `Error: ...`, exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DirectoryLocked as exc:
            # Partitions are locked as they are opened, so this may come from deep in a command.
            hint = ctx.meta.get(_LOCKED_HINT_KEY)
            message = str(exc) if hint is None else str(DirectoryLocked(exc.directory, hint))
            raise click.ClickException(" ".join(message.split())) from exc
        except FlyQError as exc:
            raise click.ClickException(" ".join(str(exc).split())) from exc


def _remember_data_dir(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta[_DATA_DIR_KEY] = value


def data_dir_option(function: Any) -> Any:
    """`--data-dir` after the subcommand; `open_broker` reads it."""
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        expose_value=False,
        callback=_remember_data_dir,
        help="Directory holding the topics (may also come before the subcommand).  "
        f"[default: $FLYQ_DATA_DIR or {DEFAULT_DATA_DIR}]",
    )(function)


def data_dir(ctx: click.Context) -> str:
    """The data directory this command works on."""
    chosen = ctx.meta.get(_DATA_DIR_KEY)
    if chosen is None:
        chosen = ctx.find_root().params.get("data_dir") or DEFAULT_DATA_DIR
    return str(chosen)


def data_dir_given(ctx: click.Context) -> bool:
    """Whether the command line itself named a data directory (before or after the subcommand),
    rather than $FLYQ_DATA_DIR or the default."""
    root = ctx.find_root()
    return (ctx.meta.get(_DATA_DIR_KEY) is not None
            or root.get_parameter_source("data_dir") is click.core.ParameterSource.COMMANDLINE)


def _locked_hint(ctx: click.Context) -> str:
    """What to do when the data directory is locked: the usual holder is a running `flyq
    broker`, so point to --bootstrap where this command has it (CLI-NET-5)."""
    if any(param.name == "bootstrap" for param in ctx.command.params):
        return ("if a broker is running on it, give this command --bootstrap HOST:PORT "
                "(or set FLYQ_BOOTSTRAP) to ask the broker instead")
    command = ctx.command_path.split(" ", 1)[-1]
    return f"if a broker is running on it, stop it first: `flyq {command}` has no --bootstrap"


def hint_when_locked(ctx: click.Context) -> None:
    """From now on, a `DirectoryLocked` from this command says how to reach a running broker."""
    ctx.meta[_LOCKED_HINT_KEY] = _locked_hint(ctx)


def open_broker(ctx: click.Context, *, create: bool = False) -> Broker:
    """The Broker of the chosen data directory, closed when the command ends."""
    config_file = ctx.find_root().params.get("config_file")
    hint_when_locked(ctx)
    broker = Broker.open(data_dir(ctx), config_path=config_file, create=create)
    return ctx.with_resource(broker)


@click.group(cls=_FlyQGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="flyq", message="%(prog)s %(version)s")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar=CONFIG_ENV,
    show_envvar=True,
    help=f"Broker config file (TOML): its [log] table gives the config of new topics.  "
    f"[default: DATA_DIR/{CONFIG_FILE} if it exists]",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    envvar="FLYQ_DATA_DIR",
    default=DEFAULT_DATA_DIR,
    show_default=True,
    show_envvar=True,
    help="Directory holding the topics (also accepted after the subcommand).",
)
def cli(config_file: str | None, data_dir: str) -> None:
    """FlyQ: a Kafka-inspired log. Topics live in a data directory as partition logs."""


def main() -> None:
    """Entry point of the `flyq` command (and `python -m flyq`)."""
    # flyq.impl reports what an unclean open recovered as warnings; show them as one-liners.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        cli.main(prog_name="flyq")
    except BrokenPipeError:
        # The reader went away (`flyq consume ... | head`): stop quietly, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
