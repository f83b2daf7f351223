"""The `flyq` command line: click commands, one module per command group, thin over the Broker.

`_root` holds the root group and error mapping, `_render` everything printed; `topic`, `produce`,
`consume`, `groups`, `acl` (ACLs), `users` (SCRAM users), `health` (health and retention), `log`
(the offline segment inspector), `broker` (the network broker) and `bench` (client throughput)
register their commands on the root group when imported here. The crash explorer is a separate
program, `python -m flyq.crash`, so the harness is never imported at CLI start.
"""

from flyq.cli import acl, bench, broker, consume, groups, health, log, produce, topic, users
from flyq.cli._root import cli, main

__all__ = ["acl", "bench", "broker", "cli", "consume", "groups", "health", "log", "main", "produce",
           "topic", "users"]
