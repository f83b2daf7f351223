"""Fixtures for the integration tests: a real `flyq broker` process per test, or Tansu."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration._timings import summary_lines
from tests.integration.broker_process import (
    KIP848_HEARTBEAT_INTERVAL_MS,
    KIP848_SESSION_TIMEOUT_MS,
    BrokerProcess,
)
from tests.integration.tansu_process import running_tansu
from tests.tls_files import TlsFiles, make_tls_files


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    """A started broker on a fresh data dir; at teardown it must stop cleanly (exit 0) unless the
    test killed it, and it is killed whatever happens."""
    process = BrokerProcess(tmp_path / "data").start()
    try:
        yield process
    finally:
        code = None
        if process.running:
            try:
                code = process.stop()
            finally:
                if process.running:
                    process.kill()
    if not process.killed and code is not None:
        assert code == 0, f"broker exited with {code}:\n{process.stderr_text(current_only=True)}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the timings the tests recorded with `tests.integration._timings.record_timing`."""
    lines = summary_lines()
    if lines:
        terminalreporter.section("timings")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def kip848_broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    """A broker with short consumer-protocol (KIP-848) heartbeat and session timeouts, so those
    tests run in seconds; it must stop cleanly."""
    config = tmp_path / "broker.toml"
    config.write_text(
        "[server]\n"
        f'"group.consumer.heartbeat.interval.ms" = {KIP848_HEARTBEAT_INTERVAL_MS}\n'
        f'"group.consumer.session.timeout.ms" = {KIP848_SESSION_TIMEOUT_MS}\n'
    )
    process = BrokerProcess(tmp_path / "data", extra_args=("--config", str(config))).start()
    try:
        yield process
    finally:
        code = process.stop() if process.running else 0
        if process.running:
            process.kill()
        assert code == 0, process.stderr_text(current_only=True)


@pytest.fixture
def tansu(tmp_path: Path) -> Iterator[str]:
    """A Tansu broker (memory storage, tests/integration/tansu_process.py) on a free port: its
    bootstrap. The test is skipped, with the reason, when the binary is missing."""
    with running_tansu(tmp_path) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A CA, the broker's certificate, and valid, expired and untrusted client certificates,
    made once per run (tests/tls_files.py)."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def collect_refused_clients() -> Iterator[None]:
    """After the test, collect the sockets refused clients left (see REFUSED_CLIENT_MARKS)."""
    yield
    gc.collect()
