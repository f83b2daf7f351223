"""The network broker: Kafka's wire protocol over asyncio, an adapter over `AsyncBroker`.

`flyq.protocol` turns bytes into requests and responses into bytes; this package owns the sockets,
back-pressure and timers (`BrokerServer`), and maps each Kafka API onto the Broker (`ApiHandlers`).
No storage logic and no parsing live here (spec/protocol.md).
"""

from flyq.server._apis import SUPPORTED_VERSIONS, ApiHandlers, ApiKey, CloseConnection
from flyq.server._listeners import Listener, parse_address
from flyq.server._metrics import BrokerMetrics
from flyq.server._metrics_http import MetricsEndpoint
from flyq.server._run import run_broker, serve
from flyq.server._server import BrokerServer
from flyq.server._settings import DEFAULT_PORT, ServerSettings, server_table

__all__ = [
    "DEFAULT_PORT",
    "SUPPORTED_VERSIONS",
    "ApiHandlers",
    "ApiKey",
    "BrokerMetrics",
    "BrokerServer",
    "CloseConnection",
    "Listener",
    "MetricsEndpoint",
    "ServerSettings",
    "parse_address",
    "run_broker",
    "serve",
    "server_table",
]
