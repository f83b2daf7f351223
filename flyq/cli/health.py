"""`flyq health` and `flyq retention run`: thin over `Broker.health` and `Broker.run_retention`;
`flyq health --bootstrap` asks a running broker (FlyqPartitionState, FlyqVerifyIndex)."""

from __future__ import annotations

from typing import Any

import attrs
import click

from flyq.cli._network import admin_run, bootstrap_option, chosen_bootstrap
from flyq.cli._render import format_option, print_json, table
from flyq.cli._root import cli, data_dir_option, open_broker
from flyq.client import AsyncAdmin, IndexCheck, PartitionState

__all__ = ["health", "retention"]

_HEALTH_COLUMNS = ("topic", "partition", "state", "segment_count", "total_bytes",
                   "log_start_offset", "high_watermark", "log_end_offset", "durable_offset",
                   "offset_index_entries", "time_index_entries")
_NETWORK_HEALTH_COLUMNS = ("topic", "partition", "state", "segment_count", "total_bytes",
                           "log_start_offset", "high_watermark", "log_end_offset",
                           "durable_offset", "last_index_check_ms")
_RETENTION_COLUMNS = ("topic", "partition", "segments_deleted", "bytes_freed", "log_start_offset")


@cli.command()
@click.argument("topic_name", metavar="[TOPIC]", required=False)
@click.option("--verify", is_flag=True, help="Also compare every index with a rebuild from its log.")
@format_option
@bootstrap_option
@data_dir_option
@click.pass_context
def health(ctx: click.Context, topic_name: str | None, verify: bool, output_format: str,
           bootstrap: str | None) -> None:
    """Show each partition's state, watermarks, segments, indexes and last recovery.

    With --bootstrap: what the running broker reports (no index entry counts or recovery
    report; `total_bytes` is the partition's size on disk, `last_index_check_ms` when its
    indexes were last verified, -1 never).
    """
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    if bootstrap is not None:
        _health_network(bootstrap, topic_name, verify, output_format)
        return
    rows: list[dict[str, Any]] = [
        {"topic": status.topic, "partition": status.partition, **attrs.asdict(status.health)}
        for status in open_broker(ctx).health(topic_name, verify=verify)
    ]
    if output_format == "json":
        print_json(rows)
        return
    table(_HEALTH_COLUMNS, [{key: row.get(key) for key in _HEALTH_COLUMNS} for row in rows])
    for row in rows:
        recovery = row["recovery_report"]
        problems = "; ".join(recovery["problems"]) if recovery["problems"] else "none"
        check = row["index_check"]
        index_state = ("not verified" if check is None else
                       "match a rebuild" if not check["mismatches"] else
                       "DIFFER: " + "; ".join(check["mismatches"]))
        repairs = row["index_repairs"]
        repaired = "" if not repairs else (
            f"; {len(repairs)} index repair(s), last: {repairs[-1]['path']} found damaged "
            f"({repairs[-1]['reason']}) and rebuilt")
        click.echo(f"{row['topic']}-{row['partition']}: opened "
                   f"{'cleanly' if recovery['clean'] else 'after recovery'}, problems: {problems}; "
                   f"indexes {index_state}{repaired}")


def _health_network(bootstrap: str, topic_name: str | None, verify: bool,
                    output_format: str) -> None:
    async def ask(admin: AsyncAdmin) -> list[tuple[PartitionState, IndexCheck | None]]:
        topics = ([topic_name] if topic_name is not None else list(await admin.list_topics()))
        rows: list[tuple[PartitionState, IndexCheck | None]] = []
        for name in topics:
            states = await admin.partition_state(name)
            checks = ({check.partition: check for check in await admin.verify_indexes(
                name, [state.partition for state in states if state.state == "online"])}
                if verify else {})
            rows.extend((state, checks.get(state.partition)) for state in states)
        return rows

    answered = admin_run(bootstrap, ask)
    rows: list[dict[str, Any]] = [
        {**attrs.asdict(state), "total_bytes": state.size_bytes,
         "index_check": None if check is None else {"checked_ms": check.checked_ms,
                                                    "problems": list(check.problems)}}
        for state, check in answered]
    for row in rows:
        del row["size_bytes"]
        row["problems"] = list(row["problems"])
    if output_format == "json":
        print_json(rows)
        return
    table(_NETWORK_HEALTH_COLUMNS,
          [{key: row.get(key) for key in _NETWORK_HEALTH_COLUMNS} for row in rows])
    for row in rows:
        check = row["index_check"]
        index_state = ("not verified now" if check is None else
                       "match a rebuild" if not check["problems"] else
                       "DIFFER: " + "; ".join(check["problems"]))
        failure = f"failed: {row['failure']}; " if row["failure"] else ""
        last = ("; last check found: " + "; ".join(row["problems"])) if row["problems"] else ""
        click.echo(f"{row['topic']}-{row['partition']}: {failure}indexes {index_state}{last}")


@cli.group()
def retention() -> None:
    """Delete whole old segments by each topic's retention_ms and retention_bytes."""


@retention.command("run")
@click.argument("topic_name", metavar="[TOPIC]", required=False)
@format_option
@data_dir_option
@click.pass_context
def retention_run(ctx: click.Context, topic_name: str | None, output_format: str) -> None:
    """Apply retention now to one topic or all of them."""
    rows = [{"topic": run.topic, "partition": run.partition, **attrs.asdict(run.result)}
            for run in open_broker(ctx).run_retention(topic_name)]
    if output_format == "json":
        print_json(rows)
        return
    table(_RETENTION_COLUMNS, rows)
