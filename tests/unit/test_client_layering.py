"""The client is a layer of its own (STYLE.md, spec/client.md): importing `flyq.client` loads
nothing of the broker's storage or server."""

from __future__ import annotations

import subprocess
import sys

from tests.integration.broker_process import REPO_ROOT


def test_the_client_imports_no_broker_layer() -> None:
    """`import flyq.client` loads no `flyq.impl`, `flyq.broker` or `flyq.server` module (the
    producer's murmur2 placement comes from `flyq.codec.partition`)."""
    code = ("import sys, flyq.client; print(sorted(m for m in sys.modules if "
            "m.split('.')[:2] in (['flyq', 'impl'], ['flyq', 'broker'], ['flyq', 'server'])))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO_ROOT, check=True, timeout=60)
    assert result.stdout.strip() == "[]"
