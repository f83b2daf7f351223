"""`flyq groups list|describe|reset-offsets`: thin over the Broker's group operations."""

from __future__ import annotations

import attrs
import click

from flyq.cli._render import format_option, print_json, table
from flyq.cli._root import cli, data_dir_option, open_broker

__all__ = ["groups_group"]

_LAG_COLUMNS = ("topic", "partition", "committed_offset", "log_start_offset", "log_end_offset",
                "high_watermark", "lag")


@cli.group("groups")
def groups_group() -> None:
    """List and describe consumer groups, and move their committed offsets."""


@groups_group.command("list")
@format_option
@data_dir_option
@click.pass_context
def groups_list(ctx: click.Context, output_format: str) -> None:
    """Print every group with a committed offset, one per line (json: an array of ids)."""
    names = open_broker(ctx).list_groups()
    if output_format == "json":
        print_json(names)
        return
    for name in names:
        click.echo(name)


@groups_group.command("describe")
@click.argument("group")
@format_option
@data_dir_option
@click.pass_context
def groups_describe(ctx: click.Context, group: str, output_format: str) -> None:
    """Show GROUP's committed offset, the log end and the lag of each partition it committed.

    lag = high_watermark - committed_offset (on one node the high watermark is the
    log_end_offset). A topic deleted since the commit shows `-` (json: null) for the rest.
    """
    rows = [attrs.asdict(row) for row in open_broker(ctx).describe_group(group)]
    if output_format == "json":
        print_json({"group": group, "partitions": rows})
        return
    click.echo(f"Group: {group}")
    table(_LAG_COLUMNS, rows)


@groups_group.command("reset-offsets")
@click.argument("group")
@click.option("--topic", "topic_name", required=True, help="Topic whose offsets to move.")
@click.option(
    "--partition", type=click.IntRange(min=0),
    help="Only this partition.  [default: every partition of the topic]",
)
@click.option(
    "--to-offset", type=click.IntRange(min=0),
    help="This offset (in [log_start_offset, log_end_offset]).",
)
@click.option("--to-earliest", is_flag=True, help="Each partition's log_start_offset.")
@click.option("--to-latest", is_flag=True, help="Each partition's log_end_offset.")
@click.option(
    "--to-timestamp", type=click.IntRange(min=0), metavar="MS",
    help="The first record with timestamp >= MS (the log_end_offset when there is none).",
)
@data_dir_option
@click.pass_context
def groups_reset_offsets(ctx: click.Context, group: str, topic_name: str, partition: int | None,
                         to_offset: int | None, to_earliest: bool, to_latest: bool,
                         to_timestamp: int | None) -> None:
    """Set GROUP's committed offsets on a topic, durably; prints each old and new offset."""
    chosen = [name for name, given in (("--to-offset", to_offset is not None),
                                       ("--to-earliest", to_earliest),
                                       ("--to-latest", to_latest),
                                       ("--to-timestamp", to_timestamp is not None)) if given]
    if len(chosen) != 1:
        raise click.UsageError(
            "choose exactly one of --to-offset, --to-earliest, --to-latest, --to-timestamp"
            + (f", not {' and '.join(chosen)}" if chosen else "")
        )
    changes = open_broker(ctx).reset_offsets(
        group, topic_name, partition=partition, to_offset=to_offset, to_earliest=to_earliest,
        to_latest=to_latest, to_timestamp=to_timestamp)
    for change in changes:
        shown = "-" if change.old_offset is None else str(change.old_offset)
        click.echo(f"{group} {topic_name}-{change.partition}: {shown} -> {change.new_offset}")
