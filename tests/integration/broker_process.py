"""`flyq broker` as a real subprocess for the client tests: start, stop, kill -9, restart.

The broker is started with `--listen 127.0.0.1:0 --log-level debug`; the port is read from its
`FlyQ broker listening on HOST:PORT` log line, and the debug lines `client 'ID' uses api K vN`
tell which api versions each client used. Every wait is bounded.
"""

from __future__ import annotations

import ast
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

__all__ = ["REPO_ROOT", "BrokerError", "BrokerProcess"]

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0
# The consumer-protocol (KIP-848) timeouts of the `kip848_broker` fixture: short, for speed.
KIP848_HEARTBEAT_INTERVAL_MS = 500
KIP848_SESSION_TIMEOUT_MS = 10_000
_LISTENING = re.compile(r"FlyQ broker listening on (\S+):(\d+) \(advertised \S+\) for (\w+)")
_SERVING = "FlyQ broker serving data directory"
_USES_API = re.compile(r"client (None|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\") uses api (\d+) v(\d+)")


class BrokerError(Exception):
    """The broker process did not start, or did not stop, as expected."""


class BrokerProcess:
    """One `python -m flyq broker` process over `data_dir`; its stderr goes to a file."""

    def __init__(self, data_dir: Path, extra_args: tuple[str, ...] = (),
                 listeners: tuple[str, ...] = ("PLAINTEXT",)) -> None:
        self.data_dir = Path(data_dir)
        self.extra_args = tuple(extra_args)
        self.listeners = tuple(listeners)  # security protocols, one listener each
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None  # the first listener's
        self.ports: dict[str, int] = {}  # security protocol -> port
        self.killed = False
        self.runs = 0
        self.log_paths: list[Path] = []
        self._stderr: IO[bytes] | None = None
        self._stdout: IO[bytes] | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self, port: int = 0, ports: dict[str, int] | None = None) -> BrokerProcess:
        """Start the broker listening on `port` (0: a free one), or with several listeners on
        `ports` (protocol -> port); wait until it serves."""
        if self.process is not None and self.process.poll() is None:
            raise BrokerError("the broker is already running")
        self.runs += 1
        log_dir = self.data_dir.parent
        stderr_path = log_dir / f"broker-{self.data_dir.name}-{self.runs}.stderr"
        stdout_path = log_dir / f"broker-{self.data_dir.name}-{self.runs}.stdout"
        self.log_paths.append(stderr_path)
        self._close_files()
        self._stderr = stderr_path.open("wb")
        self._stdout = stdout_path.open("wb")
        environment = dict(os.environ)
        environment.pop("FLYQ_DATA_DIR", None)
        environment["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        environment["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flyq", "broker", "--data-dir", str(self.data_dir),
             *self._listen_args(port, ports), "--log-level", "debug", *self.extra_args],
            stdin=subprocess.DEVNULL, stdout=self._stdout, stderr=self._stderr,
            env=environment, cwd=str(log_dir))
        self.killed = False
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = self.stderr_text(current_only=True)
            if _SERVING in text:
                self.ports = {match.group(3): int(match.group(2))
                              for match in _LISTENING.finditer(text)}
                self.port = self.ports[self.listeners[0]]
                return self
            if self.process.poll() is not None:
                raise BrokerError(f"the broker exited with {self.process.returncode} before "
                                  f"listening:\n{self.stderr_text(current_only=True)}")
            time.sleep(0.05)
        self.kill()
        raise BrokerError(f"no listening line within {START_TIMEOUT} s:\n"
                          f"{self.stderr_text(current_only=True)}")

    def _listen_args(self, port: int, ports: dict[str, int] | None) -> list[str]:
        if ports is None:
            ports = {self.listeners[0]: port}
        return [argument for protocol in self.listeners
                for argument in ("--listen", f"{protocol}://127.0.0.1:{ports.get(protocol, 0)}")]

    def address(self, protocol: str) -> str:
        """`127.0.0.1:PORT` of the listener for `protocol`."""
        return f"127.0.0.1:{self.ports[protocol]}"

    @property
    def bootstrap(self) -> str:
        """`127.0.0.1:PORT` of the running broker."""
        if self.port is None:
            raise BrokerError("the broker was not started")
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, wait up to `timeout` s, return the exit code (SIGKILL and raise on timeout)."""
        process = self._require_process()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise BrokerError(f"the broker did not stop within {timeout} s after SIGTERM:\n"
                                  f"{self.stderr_text(current_only=True)}") from None
        self._close_files()
        return process.returncode

    def kill(self) -> None:
        """SIGKILL (kill -9): no shutdown at all; the next start recovers the data dir."""
        process = self._require_process()
        if process.poll() is None:
            process.kill()
            self.killed = True
        process.wait(STOP_TIMEOUT)
        self._close_files()

    def restart(self, same_port: bool = True) -> int | None:
        """Stop (if running) and start again on the same data dir; the previous exit code.

        With `same_port`, the broker listens on the port it had, so clients that know only the
        old address reconnect to it.
        """
        code = self.stop() if self.running else None
        port = self.port if same_port and self.port is not None else 0
        ports = dict(self.ports) if same_port else None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.start(port, ports)
            except BrokerError:
                # The old socket may linger a moment after SIGKILL; retry a few times.
                if time.monotonic() >= deadline or port == 0:
                    raise
                time.sleep(0.2)
            else:
                return code

    def _require_process(self) -> subprocess.Popen[bytes]:
        if self.process is None:
            raise BrokerError("the broker was not started")
        return self.process

    def _close_files(self) -> None:
        for file in (self._stderr, self._stdout):
            if file is not None:
                file.close()
        self._stderr = self._stdout = None

    # --- what it logged -------------------------------------------------------------------------

    def stderr_text(self, current_only: bool = False) -> str:
        """The broker's stderr (every run, or only the current one)."""
        paths = self.log_paths[-1:] if current_only else self.log_paths
        return "".join(path.read_text(errors="replace") for path in paths if path.exists())

    def versions_used(self) -> dict[str | None, dict[int, set[int]]]:
        """{client_id: {api_key: {versions}}} from the debug lines of every run so far."""
        used: dict[str | None, dict[int, set[int]]] = {}
        for match in _USES_API.finditer(self.stderr_text()):
            client_id = ast.literal_eval(match.group(1))
            used.setdefault(client_id, {}).setdefault(int(match.group(2)), set()).add(
                int(match.group(3)))
        return used
