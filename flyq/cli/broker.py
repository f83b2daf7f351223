"""`flyq broker`: run the Kafka-protocol network broker on a data directory."""

from __future__ import annotations

import logging
import os

import click

from flyq.cli._root import cli, data_dir, data_dir_option
from flyq.errors import FlyQError
from flyq.impl.broker_config import default_path

__all__ = ["broker"]


@cli.command()
@data_dir_option
@click.option("--listen", metavar="HOST:PORT", default=None,
              help="Address to listen on.  [default: [server] listen, or 127.0.0.1:9092]")
@click.option("--advertised", metavar="HOST:PORT", default=None,
              help="Address clients are told to connect to.  [default: the listen address]")
@click.option("--config", "config_option", type=click.Path(dir_okay=False), default=None,
              help="Broker config file (TOML; also `flyq --config FILE broker`): [server] and "
              "[log] tables.  [default: DATA_DIR/flyq.toml if it exists]")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True, help="Lowest level of log lines printed.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Log lines as text, or as one JSON object per line.")
@click.option("--metrics", "metrics", metavar="HOST:PORT", default=None,
              help="Serve Prometheus metrics at http://HOST:PORT/metrics (port 0: a free one).")
@click.pass_context
def broker(ctx: click.Context, listen: str | None, advertised: str | None,
           config_option: str | None, log_level: str, log_format: str,
           metrics: str | None) -> None:
    """Serve the data directory to Kafka clients (kcat, confluent-kafka, kafka-python, ...).

    Stops cleanly on Ctrl-C or SIGTERM: in-flight requests are answered, the logs flushed and
    closed. The config file's [server] table takes Kafka's broker settings
    (auto.create.topics.enable, num.partitions, socket.request.max.bytes, max.connections,
    connections.max.idle.ms, node.id) and `listen` / `advertised`.
    """
    # Imported here so that the other commands never load asyncio's server side.
    from flyq.server import ServerSettings, parse_address, run_broker, server_table  # noqa: PLC0415
    from flyq.server._log_format import formatter  # noqa: PLC0415

    logging.getLogger().setLevel(log_level.upper())
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter(log_format))
    metrics_address = None if metrics is None else parse_address(metrics, option="--metrics")
    directory = data_dir(ctx)
    config_file = config_option or ctx.find_root().params.get("config_file")
    path = config_file if config_file is not None else default_path(directory)
    fields = {}
    if config_file is not None or os.path.exists(path):
        try:
            with open(path, "rb") as file:
                fields = server_table(file.read(), source=path)
        except OSError as exc:
            raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from exc
    if listen is not None:
        fields["host"], fields["port"] = parse_address(listen, option="--listen")
    if advertised is not None:
        fields["advertised_host"], fields["advertised_port"] = parse_address(
            advertised, option="--advertised")
    try:
        settings = ServerSettings(**fields)
    except FlyQError as exc:
        raise click.ClickException(str(exc)) from exc
    run_broker(directory, settings, config_path=config_file,
               started=lambda server: click.echo(connect_hint(*server.settings.advertised)),
               metrics_address=metrics_address)


def connect_hint(host: str, port: int) -> str:
    """What `flyq broker` prints once it listens: how to reach it."""
    address = f"{host}:{port}"
    return f"""FlyQ broker ready on {address}. From another terminal:

  kcat -b {address} -L                      # brokers and topics
  echo hello | kcat -b {address} -P -t demo # produce (the topic is created on first use)
  kcat -b {address} -C -t demo -e           # consume from the start, exit at the end

  python - <<'PY'
  from confluent_kafka import Consumer, Producer, TopicPartition
  p = Producer({{"bootstrap.servers": "{address}"}}); p.produce("demo", b"hi"); p.flush()
  c = Consumer({{"bootstrap.servers": "{address}", "group.id": "demo"}})
  c.assign([TopicPartition("demo", 0, 0)])
  print(c.poll(10).value())
  PY

Ctrl-C stops the broker cleanly."""
