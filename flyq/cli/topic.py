"""`flyq topic create|alter|list|describe|delete`: thin over the Broker's topic operations; with
`--bootstrap HOST:PORT` over `flyq.client.AsyncAdmin` talking to a running broker
(CLI-NET-7)."""

from __future__ import annotations

import attrs
import click

from flyq.broker.kafka_config import kafka_topic_configs
from flyq.broker.layout import check_topic_name
from flyq.cli._network import admin_run, bootstrap_option, chosen_bootstrap
from flyq.cli._render import format_option, print_json, table
from flyq.cli._root import cli, data_dir, data_dir_option, open_broker
from flyq.client import AsyncAdmin, PartitionState
from flyq.impl.config import TEXT_FIELDS, LogConfig

__all__ = ["topic"]

_CONFIG_FIELDS = tuple(field.name for field in attrs.fields(LogConfig))
_PARTITION_COLUMNS = ("partition", "log_start_offset", "high_watermark", "log_end_offset",
                      "durable_offset", "segments", "size_bytes")


def parse_config(pairs: tuple[str, ...]) -> dict[str, int | str | None]:
    """`--config KEY=VALUE` pairs as LogConfig field -> value; the Broker checks the values."""
    values: dict[str, int | str | None] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        key = key.strip().replace("-", "_").replace(".", "_")
        if not equals or key not in _CONFIG_FIELDS:
            raise click.BadParameter(
                f"{pair!r}: expected KEY=VALUE with KEY one of {', '.join(_CONFIG_FIELDS)}",
                param_hint="--config",
            )
        if key in TEXT_FIELDS:
            values[key] = value.strip()
            continue
        if value.strip().lower() in ("none", "null", ""):
            values[key] = None
            continue
        try:
            values[key] = int(value)
        except ValueError:
            raise click.BadParameter(
                f"{pair!r}: {value!r} is not an integer", param_hint="--config"
            ) from None
    return values


@cli.group()
def topic() -> None:
    """Create, list, describe, alter and delete topics."""


@topic.command("create")
@click.argument("name")
@click.option(
    "--partitions", type=int, default=1, show_default=True, help="Number of partitions (>= 1)."
)
@click.option(
    "--config",
    "config_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Log setting, repeatable: segment_bytes, segment_ms, index_interval_bytes, "
    "index_max_bytes, flush_messages, flush_ms (none to unset), max_batch_bytes, retention_ms, "
    "retention_bytes. Dotted names (segment.bytes) work too.",
)
@bootstrap_option
@data_dir_option
@click.pass_context
def topic_create(ctx: click.Context, name: str, partitions: int,
                 config_pairs: tuple[str, ...], bootstrap: str | None) -> None:
    """Create topic NAME with empty partitions.

    Its config is the broker config file's [log] table (see `flyq --help`) with --config on top;
    the result is stored in the topic's topic.json.
    """
    check_topic_name(name)  # before the data directory is made for it
    changes = parse_config(config_pairs)
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    if bootstrap is not None:
        configs = kafka_topic_configs(changes)
        admin_run(bootstrap, lambda admin: admin.create_topic(name, partitions, configs))
        click.echo(f"Created topic {name!r} with {partitions} partition(s) on {bootstrap}.")
        return
    open_broker(ctx, create=True).create_topic(name, partitions, changes)
    click.echo(f"Created topic {name!r} with {partitions} partition(s) in {data_dir(ctx)}.")


@topic.command("alter")
@click.argument("name")
@click.option(
    "--config",
    "config_pairs",
    multiple=True,
    required=True,
    metavar="KEY=VALUE",
    help="Log setting to change, repeatable; same keys as `topic create`.",
)
@bootstrap_option
@data_dir_option
@click.pass_context
def topic_alter(ctx: click.Context, name: str, config_pairs: tuple[str, ...],
                bootstrap: str | None) -> None:
    """Change the stored config of topic NAME; it applies when its partition logs next open."""
    changes = parse_config(config_pairs)
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    if bootstrap is not None:
        configs = kafka_topic_configs(changes)
        admin_run(bootstrap, lambda admin: admin.alter_topic_config(name, configs))
        click.echo(f"Altered topic {name!r}: "
                   + " ".join(f"{key}={value}" for key, value in changes.items()))
        return
    config = attrs.asdict(open_broker(ctx).alter_topic_config(name, changes).config)
    click.echo(f"Altered topic {name!r}: " + " ".join(f"{key}={config[key]}" for key in changes))


@topic.command("list")
@format_option
@bootstrap_option
@data_dir_option
@click.pass_context
def topic_list(ctx: click.Context, output_format: str, bootstrap: str | None) -> None:
    """Print the name of every topic, one per line (json: an array of names)."""
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    names = (list(admin_run(bootstrap, lambda admin: admin.list_topics()))
             if bootstrap is not None else open_broker(ctx).list_topics())
    if output_format == "json":
        print_json(names)
        return
    for name in names:
        click.echo(name)


@topic.command("describe")
@click.argument("name")
@format_option
@bootstrap_option
@data_dir_option
@click.pass_context
def topic_describe(ctx: click.Context, name: str, output_format: str,
                   bootstrap: str | None) -> None:
    """Show a topic's settings and each partition's offsets and size.

    With --bootstrap: each partition's offsets, segments and size as the running broker reports
    them (FlyqPartitionState); not the settings.
    """
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    if bootstrap is not None:
        _describe_network(bootstrap, name, output_format)
        return
    description = open_broker(ctx).describe_topic(name)
    metadata = description.metadata
    rows = [attrs.asdict(partition) for partition in description.partitions]
    if output_format == "json":
        print_json({"name": metadata.name, "created_ms": metadata.created_ms,
                    "config": attrs.asdict(metadata.config), "partitions": rows})
        return
    click.echo(f"Topic: {metadata.name}  Partitions: {metadata.partitions}  "
               f"CreatedMs: {metadata.created_ms}")
    config = attrs.asdict(metadata.config)
    click.echo("Config: " + " ".join(f"{key}={value}" for key, value in config.items()))
    table(_PARTITION_COLUMNS, rows)


@topic.command("delete")
@click.argument("name")
@bootstrap_option
@data_dir_option
@click.pass_context
def topic_delete(ctx: click.Context, name: str, bootstrap: str | None) -> None:
    """Delete topic NAME and all its records."""
    bootstrap = chosen_bootstrap(ctx, bootstrap)
    if bootstrap is not None:
        admin_run(bootstrap, lambda admin: admin.delete_topic(name))
    else:
        open_broker(ctx).delete_topic(name)
    click.echo(f"Deleted topic {name!r}.")


def _describe_network(bootstrap: str, name: str, output_format: str) -> None:
    async def ask(admin: AsyncAdmin) -> list[PartitionState]:
        return await admin.partition_state(name)

    rows = [{"partition": state.partition, "log_start_offset": state.log_start_offset,
             "high_watermark": state.high_watermark, "log_end_offset": state.log_end_offset,
             "durable_offset": state.durable_offset, "segments": state.segment_count,
             "size_bytes": state.size_bytes} for state in admin_run(bootstrap, ask)]
    if output_format == "json":
        print_json({"name": name, "partitions": rows})
        return
    click.echo(f"Topic: {name}  Partitions: {len(rows)}")
    table(_PARTITION_COLUMNS, rows)
