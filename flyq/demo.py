"""`python -m flyq.demo --data-dir DIR`: what `make run` runs, a few calls to the Broker.

Creates the topic `demo` (3 partitions) if it is missing, appends a few keyed records, reads back
the records it appended and prints each step. It only adds records, so it can run again and again.
"""

from __future__ import annotations

import click

from flyq.broker import LATEST_TIMESTAMP, Broker, ReadSpan
from flyq.clock import wall_clock_ms
from flyq.errors import FlyQError
from flyq.records import Record

__all__ = ["main"]

TOPIC = "demo"
PARTITIONS = 3
_KEYS_AND_VALUES = (
    (b"alice", b"signed up"),
    (b"bob", b"signed up"),
    (b"alice", b"added 2 books to the cart"),
    (b"carol", b"signed up"),
    (b"bob", b"paid order 17"),
    (b"alice", b"paid order 18"),
)


def run(data_dir: str) -> None:
    """The demo itself, over the Broker; raises `FlyQError` if the data directory is unusable."""
    with Broker.open(data_dir, create=True) as broker:
        if TOPIC in broker.list_topics():
            click.echo(f"Topic {TOPIC!r} already exists in {data_dir}; appending to it.")
        else:
            broker.create_topic(TOPIC, PARTITIONS)
            click.echo(f"Created topic {TOPIC!r} with {PARTITIONS} partitions in {data_dir}.")
        now = wall_clock_ms()
        records = [
            Record(value=value, key=key, headers=(("source", b"flyq.demo"),), timestamp=now)
            for key, value in _KEYS_AND_VALUES
        ]
        click.echo(
            f"Producing {len(records)} keyed records; a key always maps to one partition "
            "(Kafka's murmur2 partitioner):"
        )
        appended = broker.produce_records(TOPIC, records, durable=True)
        for result in appended:
            click.echo(
                f"  partition {result.partition}: one batch, offsets "
                f"{result.base_offset}..{result.last_offset}"
            )
        click.echo("Reading back what was just appended, partition by partition:")
        for result in sorted(appended, key=lambda result: result.partition):
            span = ReadSpan(result.base_offset, backward=False)
            for record in broker.read_span(TOPIC, result.partition, span, result.record_count):
                key = (record.key or b"").decode()
                value = (record.value or b"").decode()
                click.echo(f"  {TOPIC}-{result.partition} offset {record.offset}: {key} -> {value}")
        ends = ", ".join(
            f"{partition}: {broker.list_offsets(TOPIC, partition, LATEST_TIMESTAMP).offset}"
            for partition in range(PARTITIONS)
        )
        click.echo(f"log_end_offset of each partition now: {ends}.")
    click.echo(f"Try: flyq consume {TOPIC} --data-dir {data_dir} --format json")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    envvar="FLYQ_DATA_DIR",
    default="./flyq-data",
    show_default=True,
    show_envvar=True,
    help="Directory holding the topics.",
)
def main(data_dir: str) -> None:
    """Create a topic, produce a few keyed records, read them back."""
    try:
        run(data_dir)
    except FlyQError as exc:
        raise click.ClickException(str(exc)) from exc


if __name__ == "__main__":
    main()
