"""`flyq broker`: run the Kafka-protocol network broker on a data directory."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
import click

from flyq.cli._root import cli, data_dir, data_dir_option
from flyq.errors import FlyQError
from flyq.impl.broker_config import default_path

if TYPE_CHECKING:
    from flyq.server._listeners import Listener

__all__ = ["broker"]


@cli.command()
@data_dir_option
@click.option("--listen", metavar="[PROTOCOL://]HOST:PORT", multiple=True,
              help="A listener (repeatable): PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL "
              "(default PLAINTEXT).  [default: [server] listeners, or 127.0.0.1:9092]")
@click.option("--advertised", metavar="[PROTOCOL://]HOST:PORT", multiple=True,
              help="Address clients are told to connect to, per listener (repeatable).  "
              "[default: the listen address]")
@click.option("--ssl-cert", metavar="FILE", default=None,
              help="PEM certificate (chain) of TLS listeners (ssl.certificate.location).")
@click.option("--ssl-key", metavar="FILE", default=None,
              help="PEM private key of TLS listeners (ssl.key.location).")
@click.option("--ssl-ca", metavar="FILE", default=None,
              help="PEM CA that client certificates must chain to (ssl.ca.location).")
@click.option("--ssl-client-auth", type=click.Choice(["none", "requested", "required"]),
              default=None, help="Whether TLS clients must present a certificate (mTLS).  "
              "[default: [server] ssl.client.auth, or none]")
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
def broker(ctx: click.Context, listen: tuple[str, ...], advertised: tuple[str, ...],
           ssl_cert: str | None, ssl_key: str | None, ssl_ca: str | None,
           ssl_client_auth: str | None, config_option: str | None, log_level: str,
           log_format: str, metrics: str | None) -> None:
    """Serve the data directory to Kafka clients (kcat, confluent-kafka, kafka-python, ...).

    Stops cleanly on Ctrl-C or SIGTERM: in-flight requests are answered, the logs flushed and
    closed. The config file's [server] table takes Kafka's broker settings
    (listeners, advertised.listeners, auto.create.topics.enable, num.partitions, ssl.*,
    sasl.enabled.mechanisms, authorizer.enabled, super.users, ...; spec/security.md).

    Example: --listen SASL_SSL://0.0.0.0:9094 --ssl-cert broker.pem --ssl-key broker.key
    """
    # Imported here so that the other commands never load asyncio's server side.
    from flyq.server import ServerSettings, run_broker, server_table  # noqa: PLC0415
    from flyq.server._listeners import parse_address, parse_listeners, with_advertised  # noqa: PLC0415
    from flyq.server._log_format import formatter  # noqa: PLC0415
    from flyq.server._tls import TlsSettings  # noqa: PLC0415

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
    try:
        if listen:
            fields["listeners"] = parse_listeners(listen, option="--listen")
        if advertised:
            fields["listeners"] = with_advertised(
                fields.get("listeners", ServerSettings().listeners), advertised,
                option="--advertised")
        tls_options = {"certfile": ssl_cert, "keyfile": ssl_key, "cafile": ssl_ca,
                       "client_auth": ssl_client_auth}
        if any(value is not None for value in tls_options.values()):
            base = fields.get("tls")
            known = attrs.asdict(base) if base is not None else {}
            known.update({name: value for name, value in tls_options.items() if value is not None})
            if "certfile" not in known or "keyfile" not in known:
                raise click.UsageError("--ssl-cert and --ssl-key go together")
            fields["tls"] = TlsSettings(**known)
        settings = ServerSettings(**fields)
    except FlyQError as exc:
        raise click.ClickException(str(exc)) from exc
    run_broker(directory, settings, config_path=config_file,
               started=lambda server: click.echo(connect_hint(server.settings.listeners)),
               metrics_address=metrics_address)


def connect_hint(listeners: Sequence[Listener]) -> str:
    """What `flyq broker` prints once it listens: how to reach it."""
    host, port = listeners[0].advertised
    address = f"{host}:{port}"
    if len(listeners) > 1 or listeners[0].security_protocol != "PLAINTEXT":
        lines = "\n".join(f"  {listener.security_protocol}://{':'.join(map(str, listener.advertised))}"
                          for listener in listeners)
        return f"FlyQ broker ready on:\n{lines}"
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
