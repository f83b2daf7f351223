"""`flyq health` and `flyq retention run`: thin over `Broker.health` and `Broker.run_retention`."""

from __future__ import annotations

from typing import Any

import attrs
import click

from flyq.cli._render import format_option, print_json, table
from flyq.cli._root import cli, data_dir_option, open_broker

__all__ = ["health", "retention"]

_HEALTH_COLUMNS = ("topic", "partition", "state", "segment_count", "total_bytes",
                   "log_start_offset", "high_watermark", "log_end_offset", "durable_offset",
                   "offset_index_entries", "time_index_entries")
_RETENTION_COLUMNS = ("topic", "partition", "segments_deleted", "bytes_freed", "log_start_offset")


@cli.command()
@click.argument("topic_name", metavar="[TOPIC]", required=False)
@click.option("--verify", is_flag=True, help="Also compare every index with a rebuild from its log.")
@format_option
@data_dir_option
@click.pass_context
def health(ctx: click.Context, topic_name: str | None, verify: bool, output_format: str) -> None:
    """Show each partition's state, watermarks, segments, indexes and last recovery."""
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
