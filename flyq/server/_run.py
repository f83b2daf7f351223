"""`flyq broker`: open the data directory, listen, serve until SIGTERM/SIGINT, close cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from flyq.auth._directory import lock_security
from flyq.broker import AsyncBroker
from flyq.impl.filelayer import set_fsync_observer
from flyq.server._metrics import BrokerMetrics
from flyq.server._metrics_http import MetricsEndpoint
from flyq.server._server import BrokerServer
from flyq.server._settings import ServerSettings

__all__ = ["run_broker", "serve"]

_log = logging.getLogger("flyq.server")


async def serve(data_dir: str, settings: ServerSettings, *, config_path: str | None = None,
                started: Callable[[BrokerServer], None] | None = None,
                stop: asyncio.Event | None = None,
                metrics_address: tuple[str, int] | None = None) -> None:
    """Serve `data_dir` until `stop` is set or SIGTERM/SIGINT arrives (SRV-5).

    Every partition log is opened (and recovered if it was not closed cleanly) before the port
    opens, so clients never wait on a recovery and the log says at start what was recovered.
    With `metrics_address`, the Prometheus endpoint listens there once the broker does (MET-12).
    The broker holds the ACL set for its life (ACL-24): offline `flyq acl` waits for it to stop.
    """
    security_lock = lock_security(data_dir)
    try:
        await _serve(data_dir, settings, config_path=config_path, started=started, stop=stop,
                     metrics_address=metrics_address)
    finally:
        security_lock.release()


async def _serve(data_dir: str, settings: ServerSettings, *, config_path: str | None,
                 started: Callable[[BrokerServer], None] | None, stop: asyncio.Event | None,
                 metrics_address: tuple[str, int] | None) -> None:
    broker = await AsyncBroker.open(data_dir, create=True, config_path=config_path)
    metrics = BrokerMetrics(broker) if metrics_address is not None else None
    try:
        statuses = await broker.health()
        recovered = [status for status in statuses
                     if not status.health.recovery_report.clean]
        for status in recovered:
            _log.warning("recovered %s-%d: %s", status.topic, status.partition,
                         status.health.recovery_report)
            if metrics is not None:
                metrics.recovered(status.topic, status.partition, status.health.recovery_report)
        cluster_id = await broker.cluster_id()
    except BaseException:
        await broker.close()
        raise
    server = BrokerServer(broker, settings, cluster_id, metrics=metrics)
    endpoint: MetricsEndpoint | None = None
    if metrics is not None:
        metrics.groups = server.handlers.groups
        set_fsync_observer(metrics.fsync_observed)
    try:
        await server.start()
        broker.start_scheduler()
        if metrics is not None and metrics_address is not None:
            endpoint = MetricsEndpoint(metrics, *metrics_address)
            await endpoint.start()
            _log.info("metrics on http://%s:%d/metrics", *_url_host(endpoint.address))
    except BaseException:
        if metrics is not None:
            set_fsync_observer(None)
        await server.stop()
        raise
    for listener in server.settings.listeners:
        _log.info("FlyQ broker listening on %s:%d (advertised %s:%d) for %s", listener.host,
                  listener.port, *listener.advertised, listener.security_protocol)
    _log.info("FlyQ broker serving data directory %s: %d partitions opened, %d recovered, "
              "cluster id %s", data_dir, len(statuses), len(recovered), cluster_id)
    if started is not None:
        started(server)
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        # A second signal while stopping (a second Ctrl-C, or `timeout` passing its SIGTERM on
        # to a process that already got one) must not kill the broker halfway through closing.
        if stop.is_set():
            _log.warning("already stopping; SIGKILL aborts (the next start recovers)")
        stop.set()
    for number in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(number, on_signal)
    try:
        await stop.wait()
        _log.info("FlyQ broker stopping: finishing in-flight requests")
        if endpoint is not None:
            await endpoint.stop()  # a scrape reads the Broker, which server.stop closes
        await server.stop()
        _log.info("FlyQ broker stopped; logs closed cleanly")
    finally:
        if endpoint is not None:
            await endpoint.stop()
        if not server.stopped:
            await server.stop()
        if metrics is not None:
            set_fsync_observer(None)
        for number in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(number)


def _url_host(address: tuple[str, int]) -> tuple[str, int]:
    host, port = address
    return (f"[{host}]" if ":" in host else host), port


def run_broker(data_dir: str, settings: ServerSettings, *, config_path: str | None = None,
               started: Callable[[BrokerServer], None] | None = None,
               metrics_address: tuple[str, int] | None = None) -> None:
    """`serve` on a new event loop (uvloop's when installed)."""
    main = serve(data_dir, settings, config_path=config_path, started=started,
                 metrics_address=metrics_address)
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
