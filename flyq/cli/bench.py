"""`flyq bench produce|consume`: throughput (and produce latency) through a Kafka client against a
running broker, as kafka-producer-perf-test and kafka-consumer-perf-test measure it. The
measuring is `flyq.perf`'s (spec/client.md CLI-BENCH-1..4); this module only parses and prints.
"""

from __future__ import annotations

import json
from typing import Any, cast

import click

from flyq.cli._network import bootstrap_option, client_security
from flyq.cli._progress import progress
from flyq.cli._root import cli
from flyq.perf import (
    CLIENTS,
    Acks,
    BenchResult,
    ConsumeSettings,
    ProduceSettings,
    run_consume,
    run_produce,
)

__all__ = ["bench"]


def _common(function: Any) -> Any:
    """The options of both commands."""
    for option in reversed((
        bootstrap_option,
        click.option("--topic", required=True, help="The topic to write or read."),
        click.option("--records", required=True, type=click.IntRange(min=1),
                     help="How many records to produce, or to read from the beginning."),
        click.option("--client", type=click.Choice(CLIENTS), default="flyq", show_default=True,
                     help="The Kafka client that does the work (third-party ones must be "
                     "installed)."),
        click.option("--format", "output", type=click.Choice(["text", "json"]), default="text",
                     show_default=True, help="One summary line, or one JSON object."),
    )):
        function = option(function)
    return function


def _bootstrap(bootstrap: str | None) -> str:
    if bootstrap is None:
        raise click.UsageError("--bootstrap HOST:PORT (or FLYQ_BOOTSTRAP) is required: "
                               "bench talks to a running broker")
    return bootstrap


def _print(result: BenchResult, output: str) -> None:
    click.echo(json.dumps(result.to_json()) if output == "json" else result.summary())


@cli.group()
def bench() -> None:
    """Measure produce and consume throughput against a running broker."""


@bench.command()
@_common
@click.option("--record-size", required=True, type=click.IntRange(min=0),
              help="Bytes of each record's value (no key, no headers).")
@click.option("--batch-size", type=click.IntRange(min=1), default=16384, show_default=True,
              help="The producer's batch size in bytes.")
@click.option("--linger-ms", type=click.IntRange(min=0), default=5, show_default=True,
              help="How long the producer waits to fill a batch.")
@click.option("--acks", type=click.Choice(["0", "1", "all"]), default="all", show_default=True)
@click.option("--no-idempotence", is_flag=True,
              help="Turn idempotence off (it is on with --acks all, and off otherwise).")
@click.option("--partitions", type=click.IntRange(min=1), default=1, show_default=True,
              help="Partitions of the topic if it has to be created.")
def produce(bootstrap: str | None, topic: str, records: int, client: str, output: str,
            record_size: int, batch_size: int, linger_ms: int, acks: str,
            no_idempotence: bool, partitions: int) -> None:
    """Produce RECORDS records of RECORD-SIZE bytes to TOPIC (created if absent) and report
    records/s, MB/s and send-to-ack latency percentiles (CLI-BENCH-1, -2)."""
    settings = ProduceSettings(
        bootstrap=_bootstrap(bootstrap), topic=topic, records=records, record_size=record_size,
        batch_size=batch_size, linger_ms=linger_ms, acks=cast(Acks, acks),
        idempotence=acks == "all" and not no_idempotence, partitions=partitions,
        security=client_security())
    with progress(records, f"produce {topic}") as bar:
        result = run_produce(client, settings, on_progress=bar.advance)
    _print(result, output)


@bench.command()
@_common
def consume(bootstrap: str | None, topic: str, records: int, client: str, output: str) -> None:
    """Read RECORDS records of TOPIC from the beginning of its partitions (assigned, no group)
    and report records/s and MB/s (CLI-BENCH-1, -3)."""
    settings = ConsumeSettings(bootstrap=_bootstrap(bootstrap), topic=topic, records=records,
                               security=client_security())
    with progress(records, f"consume {topic}") as bar:
        result = run_consume(client, settings, on_progress=bar.advance)
    _print(result, output)
