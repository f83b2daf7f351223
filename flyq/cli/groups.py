"""`flyq groups list|describe|delete|reset-offsets`: thin over the Broker's group operations on a
data directory, or, with `--bootstrap HOST:PORT` (or $FLYQ_BOOTSTRAP), over `flyq.client` talking
to a running broker (which then also knows the groups' members)."""

from __future__ import annotations

from typing import Any

import attrs
import click

from flyq.cli._network import admin_run, bootstrap_option, chosen_bootstrap
from flyq.cli._render import format_option, print_json, table
from flyq.cli._root import cli, data_dir_option, open_broker
from flyq.client import AsyncAdmin, ConsumerGroupDescription, GroupDescription
from flyq.errors import InvalidPartition, NonEmptyGroup, OffsetOutOfRange, UnknownGroup, UnknownTopic

__all__ = ["groups_group"]

_LAG_COLUMNS = ("topic", "partition", "committed_offset", "log_start_offset", "log_end_offset",
                "high_watermark", "lag")
_NETWORK_LAG_COLUMNS = ("topic", "partition", "committed_offset", "log_end_offset", "lag",
                        "member_id")
_MEMBER_COLUMNS = ("member_id", "client_id", "client_host", "assignment")
_CONSUMER_MEMBER_COLUMNS = ("member_id", "member_epoch", "client_id", "client_host",
                            "assignment", "target_assignment")
_INACTIVE = ("Empty", "Dead")


@cli.group("groups")
def groups_group() -> None:
    """List, describe and delete consumer groups, and move their committed offsets."""


@groups_group.command("list")
@format_option
@bootstrap_option
@data_dir_option
@click.pass_context
def groups_list(ctx: click.Context, output_format: str, bootstrap: str | None) -> None:
    """Print every group with a committed offset, one per line (json: an array of ids).

    With --bootstrap: every group the broker knows, with its state, protocol type and group
    type (classic or consumer: the group protocol; `-` from a broker without ListGroups v5)
    (json: an array of objects).
    """
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    if bootstrap is not None:
        listings = admin_run(bootstrap, lambda admin: admin.list_groups())
        rows = [{**attrs.asdict(listing), "group_type": listing.group_type or None}
                for listing in listings]
        if output_format == "json":
            print_json(rows)
        else:
            table(("group_id", "state", "protocol_type", "group_type"), rows)
        return
    names = open_broker(ctx).list_groups()
    if output_format == "json":
        print_json(names)
        return
    for name in names:
        click.echo(name)


@groups_group.command("describe")
@click.argument("group")
@format_option
@bootstrap_option
@data_dir_option
@click.pass_context
def groups_describe(ctx: click.Context, group: str, output_format: str,
                    bootstrap: str | None) -> None:
    """Show GROUP's committed offset, the log end and the lag of each partition it committed.

    lag = high_watermark - committed_offset (on one node the high watermark is the
    log_end_offset). A topic deleted since the commit shows `-` (json: null) for the rest.

    With --bootstrap also its type (classic or consumer), state, protocol and members (client
    id, host, assigned partitions), and the partitions assigned to a member that has not
    committed yet; for a consumer-protocol group also the group and assignment epochs and each
    member's epoch and target assignment.
    """
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    if bootstrap is not None:
        _describe_network(bootstrap, group, output_format)
        return
    rows = [attrs.asdict(row) for row in open_broker(ctx).describe_group(group)]
    if output_format == "json":
        print_json({"group": group, "partitions": rows})
        return
    click.echo(f"Group: {group}")
    table(_LAG_COLUMNS, rows)


_Description = GroupDescription | ConsumerGroupDescription


async def _group_type(admin: AsyncAdmin, group: str) -> str:
    """"consumer" for a consumer-protocol group, else "classic" (also for a broker whose
    ListGroups has no group type: it has no consumer-protocol groups either)."""
    listing = next((g for g in await admin.list_groups() if g.group_id == group), None)
    return "consumer" if listing is not None and listing.group_type == "consumer" else "classic"


async def _description(admin: AsyncAdmin, group: str) -> _Description:
    if await _group_type(admin, group) == "consumer":
        try:
            return (await admin.describe_consumer_groups([group]))[0]
        except UnknownGroup:
            pass  # gone since ListGroups (or now classic): DescribeGroups says what it is now
    return (await admin.describe_groups([group]))[0]


async def _describe(admin: AsyncAdmin, group: str) -> tuple[_Description, list[dict[str, Any]]]:
    """The group and a row per partition it committed or a member holds, with the lag."""
    description = await _description(admin, group)
    committed = await admin.list_group_offsets(group)
    if description.state == "Dead" and not committed:
        raise UnknownGroup(group)
    holders = {partition: member.member_id for member in description.members
               for partition in member.assignment}
    topics = await admin.list_topics()
    partitions = sorted(set(committed) | set(holders))
    ends = await admin.list_end_offsets(
        (topic, number) for topic, number in partitions if number < topics.get(topic, 0))
    rows = []
    for key in partitions:
        offset, end = committed.get(key), ends.get(key)
        rows.append({"topic": key[0], "partition": key[1], "committed_offset": offset,
                     "log_end_offset": end,
                     "lag": None if offset is None or end is None else end - offset,
                     "member_id": holders.get(key)})
    return description, rows


def _partitions_json(partitions: tuple[tuple[str, int], ...]) -> list[dict[str, Any]]:
    return [{"topic": t, "partition": p} for t, p in partitions]


def _partitions_text(partitions: tuple[tuple[str, int], ...]) -> str | None:
    return ",".join(f"{t}-{p}" for t, p in partitions) or None


def _describe_network(bootstrap: str, group: str, output_format: str) -> None:
    description, rows = admin_run(bootstrap, lambda admin: _describe(admin, group))
    # One json shape for both protocols: what only the consumer protocol has is null for a
    # classic group.
    if isinstance(description, ConsumerGroupDescription):
        header: dict[str, Any] = {
            "group_type": "consumer", "state": description.state, "protocol_type": "consumer",
            "protocol": description.assignor, "group_epoch": description.group_epoch,
            "assignment_epoch": description.assignment_epoch}
        members: list[dict[str, Any]] = [
            {"member_id": m.member_id, "group_instance_id": m.instance_id,
             "client_id": m.client_id, "client_host": m.client_host,
             "assignment": _partitions_json(m.assignment), "member_epoch": m.member_epoch,
             "subscribed_topics": list(m.subscribed_topics),
             "target_assignment": _partitions_json(m.target_assignment)}
            for m in description.members]
        member_rows = [
            {"member_id": m.member_id, "member_epoch": m.member_epoch, "client_id": m.client_id,
             "client_host": m.client_host, "assignment": _partitions_text(m.assignment),
             "target_assignment": _partitions_text(m.target_assignment)}
            for m in description.members]
        columns: tuple[str, ...] = _CONSUMER_MEMBER_COLUMNS
    else:
        header = {"group_type": "classic", "state": description.state,
                  "protocol_type": description.protocol_type, "protocol": description.protocol,
                  "group_epoch": None, "assignment_epoch": None}
        members = [
            {"member_id": m.member_id, "group_instance_id": m.group_instance_id,
             "client_id": m.client_id, "client_host": m.client_host,
             "assignment": _partitions_json(m.assignment), "member_epoch": None,
             "subscribed_topics": None, "target_assignment": None}
            for m in description.members]
        member_rows = [
            {"member_id": m.member_id, "client_id": m.client_id, "client_host": m.client_host,
             "assignment": _partitions_text(m.assignment)}
            for m in description.members]
        columns = _MEMBER_COLUMNS
    if output_format == "json":
        print_json({"group": group, **header, "members": members, "partitions": rows})
        return
    click.echo(f"Group: {group}")
    epochs = ("" if header["group_epoch"] is None else
              f"  Group epoch: {header['group_epoch']}"
              f"  Assignment epoch: {header['assignment_epoch']}")
    click.echo(f"Type: {header['group_type']}  State: {header['state']}  "
               f"Protocol type: {header['protocol_type'] or '-'}  "
               f"Protocol: {header['protocol'] or '-'}  Members: {len(members)}{epochs}")
    if members:
        click.echo("")
        table(columns, member_rows)
    click.echo("")
    table(_NETWORK_LAG_COLUMNS, rows)


@groups_group.command("delete")
@click.argument("group")
@bootstrap_option
@data_dir_option
@click.pass_context
def groups_delete(ctx: click.Context, group: str, bootstrap: str | None) -> None:
    """Delete GROUP and its committed offsets, durably. With --bootstrap the broker refuses a
    group that has members."""
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    if bootstrap is not None:
        errors = admin_run(bootstrap, lambda admin: admin.delete_groups([group]))
        error = errors.get(group)
        if error is not None:
            raise error
    else:
        open_broker(ctx).delete_group(group)
    click.echo(f"Deleted group {group}", err=True)


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
@click.option(
    "--execute", is_flag=True,
    help="With --bootstrap: apply the plan (without it only the plan is printed). Offline the "
    "reset is always applied.",
)
@bootstrap_option
@data_dir_option
@click.pass_context
def groups_reset_offsets(ctx: click.Context, group: str, topic_name: str, partition: int | None,
                         to_offset: int | None, to_earliest: bool, to_latest: bool,
                         to_timestamp: int | None, execute: bool, bootstrap: str | None) -> None:
    """Set GROUP's committed offsets on a topic, durably; prints each old and new offset.

    With --bootstrap the group must have no members (as Kafka's kafka-consumer-groups), and
    only the plan is printed unless --execute is given.
    """
    chosen = [name for name, given in (("--to-offset", to_offset is not None),
                                       ("--to-earliest", to_earliest),
                                       ("--to-latest", to_latest),
                                       ("--to-timestamp", to_timestamp is not None)) if given]
    if len(chosen) != 1:
        raise click.UsageError(
            "choose exactly one of --to-offset, --to-earliest, --to-latest, --to-timestamp"
            + (f", not {' and '.join(chosen)}" if chosen else "")
        )
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    if bootstrap is not None:
        target = ("offset", to_offset) if to_offset is not None else (
            ("earliest", None) if to_earliest else ("latest", None) if to_latest
            else ("timestamp", to_timestamp))
        plan = admin_run(bootstrap, lambda admin: _reset_network(
            admin, group, topic_name, partition, target, execute))
        for number, (old, new) in sorted(plan.items()):
            shown = "-" if old is None else str(old)
            click.echo(f"{group} {topic_name}-{number}: {shown} -> {new}")
        if not execute:
            click.echo("Not applied: this is the plan; add --execute to apply it.", err=True)
        return
    changes = open_broker(ctx).reset_offsets(
        group, topic_name, partition=partition, to_offset=to_offset, to_earliest=to_earliest,
        to_latest=to_latest, to_timestamp=to_timestamp)
    for change in changes:
        shown = "-" if change.old_offset is None else str(change.old_offset)
        click.echo(f"{group} {topic_name}-{change.partition}: {shown} -> {change.new_offset}")


async def _reset_network(admin: AsyncAdmin, group: str, topic: str, partition: int | None,
                         target: tuple[str, int | None], execute: bool
                         ) -> dict[int, tuple[int | None, int]]:
    """partition -> (old committed offset, new one); committed only with `execute`. Every
    target is resolved before anything is committed, as the offline reset does."""
    state = (await admin.describe_groups([group]))[0].state
    if state not in _INACTIVE:
        raise NonEmptyGroup(group, state, "Assignments can only be reset if the group is "
                            f"inactive, but the current state is {state}.")
    count = (await admin.list_topics()).get(topic)
    if count is None:
        raise UnknownTopic(topic)
    if partition is not None and partition >= count:
        raise InvalidPartition(topic, partition, count)
    keys = [(topic, number) for number in ([partition] if partition is not None
                                           else range(count))]
    starts = await admin.list_start_offsets(keys)
    ends = await admin.list_end_offsets(keys)
    kind, value = target
    if kind == "offset":
        assert value is not None
        for key in keys:
            if not starts[key] <= value <= ends[key]:
                raise OffsetOutOfRange(
                    value, log_start_offset=starts[key], log_end_offset=ends[key],
                    valid="a committed offset lies in [log_start_offset, log_end_offset]",
                    topic=topic, partition=key[1])
        new = dict.fromkeys(keys, value)
    elif kind == "earliest":
        new = starts
    elif kind == "latest":
        new = ends
    else:
        assert value is not None
        found = await admin.list_offsets(keys, value)
        new = {key: ends[key] if found[key] < 0 else found[key] for key in keys}
    old = await admin.list_group_offsets(group, keys)
    if execute:
        await admin.alter_group_offsets(group, new)
    return {key[1]: (old.get(key), new[key]) for key in keys}
