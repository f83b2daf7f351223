"""`flyq consume`: print a topic's records, optionally as a consumer group (GRP-CLI-1..2)."""

from __future__ import annotations

import sys

import click

from flyq.broker import Broker, ReadSpan
from flyq.cli._render import write_record
from flyq.cli._root import cli, data_dir_option, open_broker

__all__ = ["consume"]


@cli.command()
@click.argument("topic_name", metavar="TOPIC")
@click.option(
    "--partition", type=click.IntRange(min=0),
    help="Read only this partition.  [default: all, one after the other]",
)
@click.option(
    "--from-beginning", is_flag=True,
    help="Start at each partition's log_start_offset (the default when reading forward).",
)
@click.option(
    "--offset", type=click.IntRange(min=0),
    help="Start at this offset (needs --partition). With --backward, read it and the "
    "records below it.",
)
@click.option(
    "--timestamp", type=click.IntRange(min=0),
    help="Start at the first record whose timestamp (ms) is >= this. With --backward, "
    "print the records before that one instead.",
)
@click.option(
    "--tail", type=click.IntRange(min=1), help="Only the last N records of each partition."
)
@click.option(
    "--backward", is_flag=True,
    help="Newest first; starts at the newest record unless --offset or --timestamp says otherwise.",
)
@click.option(
    "--max", "max_records", type=click.IntRange(min=1),
    help="Stop after this many records in total.",
)
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text",
    show_default=True,
    help="text: PARTITION:OFFSET, TIMESTAMP, KEY, VALUE[, HEADERS] tab-separated. json: one object "
    "per line with partition, offset, timestamp, key, value, headers; bytes that are not UTF-8 "
    "appear base64-encoded as key_b64 / value_b64.",
)
@click.option(
    "--group",
    help="Consumer group: start each partition at the group's committed offset and commit what "
    "was printed before exiting.",
)
@click.option(
    "--reset", type=click.Choice(["earliest", "latest", "error"]),
    help="With --group, where a partition starts when the group has no committed offset for it "
    "or it lies outside [log_start_offset, log_end_offset]: earliest (log_start_offset), latest "
    "(log_end_offset) or error (exit 1).  [default: earliest]",
)
@data_dir_option
@click.pass_context
def consume(ctx: click.Context, topic_name: str, partition: int | None, from_beginning: bool,
            offset: int | None, timestamp: int | None, tail: int | None, backward: bool,
            max_records: int | None, output_format: str, group: str | None,
            reset: str | None) -> None:
    """Print the records of TOPIC and exit (it does not wait for new ones)."""
    starts = [name for name, given in (("--from-beginning", from_beginning),
                                       ("--offset", offset is not None),
                                       ("--timestamp", timestamp is not None),
                                       ("--tail", tail is not None)) if given]
    if group is not None:
        given = starts + (["--backward"] if backward else [])
        if given:
            raise click.UsageError(
                f"--group starts at the group's committed offsets; it cannot be combined with "
                f"{', '.join(given)} (move the group with `flyq groups reset-offsets`)"
            )
        _consume_group(open_broker(ctx), topic_name, group, reset or "earliest", partition,
                       max_records, output_format)
        return
    if reset is not None:
        raise click.UsageError("--reset applies to --group only")
    if len(starts) > 1:
        raise click.UsageError(f"choose one start position, not {' and '.join(starts)}")
    if from_beginning and backward:
        raise click.UsageError("--from-beginning reads forward; drop it or --backward")
    if offset is not None and partition is None:
        raise click.UsageError("--offset needs --partition: offsets are per partition")
    broker = open_broker(ctx)
    partitions = _partitions(broker, topic_name, partition)
    out = sys.stdout.buffer
    printed = 0
    for number in partitions:
        span = broker.plan_read(topic_name, number, offset=offset, timestamp=timestamp,
                                tail=tail, backward=backward)
        if span is None:
            continue
        remaining = None if max_records is None else max_records - printed
        for record in broker.read_span(topic_name, number, span, remaining):
            write_record(out, number, record, output_format)
            printed += 1
        if max_records is not None and printed >= max_records:
            break
    out.flush()
    click.echo(f"Consumed {printed} record(s) from {topic_name!r}.", err=True)


def _partitions(broker: Broker, topic_name: str, partition: int | None) -> list[int]:
    if partition is not None:
        broker.check_partition(topic_name, partition)
        return [partition]
    return list(range(broker.metadata(topic_name).partitions))


def _consume_group(broker: Broker, topic_name: str, group: str, reset: str,
                   partition: int | None, max_records: int | None, output_format: str) -> None:
    """Print from the group's committed offsets, then commit what was printed, durably."""
    partitions = _partitions(broker, topic_name, partition)
    # Every start is resolved before anything is printed, so --reset error prints nothing.
    starts = broker.group_start_offsets(group, topic_name, partitions,
                                        reset)  # type: ignore[arg-type]
    out = sys.stdout.buffer
    printed = 0
    positions: dict[int, int] = {}
    for number, start in starts.items():
        if max_records is not None and printed >= max_records:
            break
        position = start
        remaining = None if max_records is None else max_records - printed
        for record in broker.read_span(topic_name, number, ReadSpan(start, backward=False),
                                       remaining):
            write_record(out, number, record, output_format)
            printed += 1
            position = record.offset + 1
        positions[number] = position
    out.flush()
    committed = broker.fetch_offsets(group, [(topic_name, number) for number in positions])
    changed = {(topic_name, number): position for number, position in positions.items()
               if (value := committed[(topic_name, number)]) is None or value.offset != position}
    if changed:
        broker.commit_offsets(group, changed)
    click.echo(
        f"Consumed {printed} record(s) from {topic_name!r}; committed group {group!r}.", err=True
    )
