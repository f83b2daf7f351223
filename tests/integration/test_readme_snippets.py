"""The README's "Talking to the broker" snippets run as written against a real `flyq broker`
(only the address is changed to the test broker's)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.integration.broker_process import REPO_ROOT, BrokerProcess

pytestmark = pytest.mark.integration

README = REPO_ROOT / "README.md"


def python_snippets() -> list[str]:
    """The ```python blocks of the README's section on talking to the broker."""
    text = README.read_text()
    section = text.split("## Talking to the broker", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def test_the_readme_has_the_client_snippets() -> None:
    """The section shows a confluent-kafka and a kafka-python snippet."""
    snippets = python_snippets()
    assert len(snippets) == 2
    assert "confluent_kafka" in snippets[0]
    assert "from kafka import" in snippets[1]


@pytest.mark.parametrize("index", [0, 1], ids=["confluent-kafka", "kafka-python"])
def test_readme_snippet_runs(broker: BrokerProcess, index: int) -> None:
    """Each snippet produces to `demo` and prints what it read back, which includes b'hi'."""
    code = python_snippets()[index].replace("127.0.0.1:9092", broker.bootstrap)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert b"b'hi'" in done.stdout
