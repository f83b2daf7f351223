"""The one home of `--bootstrap HOST:PORT` (or $FLYQ_BOOTSTRAP): commands that can talk to a
running broker over `flyq.client` instead of opening its data directory, and how they choose."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any, TypeVar

import click

from flyq.cli._root import data_dir_given
from flyq.client import AsyncAdmin

__all__ = ["StopSignals", "admin_run", "bootstrap_option", "chosen_bootstrap"]

_T = TypeVar("_T")


def bootstrap_option(function: Any) -> Any:
    """`--bootstrap HOST:PORT`: talk to a running broker instead of opening the data directory."""
    return click.option(
        "--bootstrap", envvar="FLYQ_BOOTSTRAP", show_envvar=True, metavar="HOST:PORT",
        help="A running broker to talk to instead of opening the data directory (which the "
        "running broker holds locked).",
    )(function)


def chosen_bootstrap(ctx: click.Context, bootstrap: str | None) -> str | None:
    """The broker to talk to, or None to work on the data directory. A `--data-dir` on the
    command line beats $FLYQ_BOOTSTRAP from the environment; naming both on the command line is
    an error, since it is unclear which one the user means."""
    if bootstrap is None:
        return None
    from_command_line = ctx.get_parameter_source("bootstrap") is click.core.ParameterSource.COMMANDLINE
    if data_dir_given(ctx):
        if from_command_line:
            raise click.UsageError("give either --bootstrap (a running broker) or --data-dir "
                                   "(a stopped broker's directory), not both")
        return None
    return bootstrap


def admin_run(bootstrap: str, work: Callable[[AsyncAdmin], Awaitable[_T]]) -> _T:
    """Run `work` with an `AsyncAdmin` connected to `bootstrap`, closed after it."""
    async def main() -> _T:
        async with await AsyncAdmin.connect(bootstrap) as admin:
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
