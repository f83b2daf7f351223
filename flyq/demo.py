"""`python -m flyq.demo --data-dir DIR`: what `make run` runs until there is a broker.

Creates the topic `demo` (3 partitions) if it is missing, appends a few keyed records, reads back
the records it appended and prints each step. It only adds records, so it can run again and again.
"""

from __future__ import annotations

import time

import click

from flyq.errors import FlyQError
from flyq.impl.topic import TopicStore
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
    """The demo itself; raises `FlyQError` if the data directory is unusable."""
    store = TopicStore(data_dir)
    if TOPIC in store.list():
        click.echo(f"Topic {TOPIC!r} already exists in {data_dir}; appending to it.")
    else:
        store.create(TOPIC, PARTITIONS)
        click.echo(f"Created topic {TOPIC!r} with {PARTITIONS} partitions in {data_dir}.")
    now = time.time_ns() // 1_000_000
    records = [
        Record(value=value, key=key, headers=(("source", b"flyq.demo"),), timestamp=now)
        for key, value in _KEYS_AND_VALUES
    ]
    with store.open(TOPIC) as topic:
        click.echo(
            f"Producing {len(records)} keyed records; a key always maps to one partition "
            "(Kafka's murmur2 partitioner):"
        )
        appended = topic.append(records)
        for partition, result in appended:
            click.echo(
                f"  partition {partition}: one batch, offsets "
                f"{result.base_offset}..{result.last_offset}"
            )
        click.echo("Reading back what was just appended, partition by partition:")
        for partition, result in sorted(appended):
            log = topic.partition(partition)
            count = result.last_offset - result.base_offset + 1
            for record in log.read(result.base_offset, max_records=count):
                key = (record.key or b"").decode()
                value = (record.value or b"").decode()
                click.echo(f"  {TOPIC}-{partition} offset {record.offset}: {key} -> {value}")
        ends = ", ".join(
            f"{partition}: {topic.partition(partition).log_end_offset}"
            for partition in range(topic.partitions)
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
