"""The README's "Talking to the broker" snippets, and its `flyq groups --bootstrap` lines, run as
written against a real `flyq broker` (only the address is changed to the test broker's)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import confluent_kafka
import confluent_kafka.admin
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


def groups_commands() -> list[str]:
    """The README's `flyq groups ... --bootstrap` lines, without their comments."""
    return [line.split("#", 1)[0].strip() for line in README.read_text().splitlines()
            if line.startswith("flyq groups ") and "--bootstrap" in line]


def test_readme_groups_commands_run(broker: BrokerProcess) -> None:
    """The README's network `flyq groups` lines run in order against a broker where `billing`
    committed on `orders`: each exits 0, and after the last `billing` is gone."""
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([confluent_kafka.admin.NewTopic("orders", 1, 1)])["orders"].result(10)
    committer = confluent_kafka.Consumer({"bootstrap.servers": broker.bootstrap,
                                          "group.id": "billing"})
    committer.commit(offsets=[confluent_kafka.TopicPartition("orders", 0, 0)],
                     asynchronous=False)
    committer.close()
    commands = groups_commands()
    assert [shlex.split(command)[2] for command in commands] == [
        "list", "describe", "reset-offsets", "reset-offsets", "delete"]
    environment = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    for command in [*commands, "flyq groups list --format json --bootstrap 127.0.0.1:9092"]:
        argv = shlex.split(command.replace("127.0.0.1:9092", broker.bootstrap))
        done = subprocess.run([sys.executable, "-m", *argv], capture_output=True, timeout=60,
                              check=False, env=environment)
        assert done.returncode == 0, (command, done.stderr.decode())
    assert json.loads(done.stdout) == []
