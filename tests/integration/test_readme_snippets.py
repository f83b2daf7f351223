"""The README's "Talking to the broker" snippets, and its `flyq groups --bootstrap` lines, run as
written against a real `flyq broker` (only the address is changed to the test broker's)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

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


def client_snippets() -> list[str]:
    """The ```python blocks of the README's `flyq.client` section."""
    text = README.read_text()
    section = text.split("## FlyQ's own client: `flyq.client`", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def test_client_snippets_run_as_written(broker: BrokerProcess) -> None:
    """The README's sync then asyncio `flyq.client` examples run in order against a broker:
    12 records are produced and consumed through a group, and the asyncio one's tail shows
    the record it produced."""
    snippets = client_snippets()
    assert len(snippets) == 2
    outputs = []
    for code in snippets:
        done = subprocess.run([sys.executable, "-c", code.replace("127.0.0.1:9092",
                                                                  broker.bootstrap)],
                              capture_output=True, timeout=90, check=False)
        assert done.returncode == 0, done.stderr.decode()
        outputs.append(done.stdout.decode())
    sync_lines = outputs[0].splitlines()
    assert sync_lines[1].startswith("assigned [('orders', 0), ('orders', 1), ('orders', 2)]")
    consumed = [line for line in sync_lines[2:] if line[0].isdigit()]
    assert sorted(line.split(" ", 2)[2] for line in consumed) == sorted(
        f"b'customer-{n % 4}' b'order {n}'" for n in range(12))
    assert "b'shipped'" in outputs[1].splitlines()[1]


def test_client_snippets_pass_mypy_strict(tmp_path: Path) -> None:
    """mypy --strict finds nothing to say about the README's `flyq.client` examples, checked
    as a user's code against flyq's annotations (the repository on MYPYPATH: mypy cannot see
    through the editable install; an installed wheel carries `py.typed`)."""
    for number, code in enumerate(client_snippets()):
        (tmp_path / f"example_{number}.py").write_text(code)
    # flyq read from MYPYPATH is checked as source, so its own untyped dependency (scramp)
    # needs the override pyproject.toml gives it; an installed flyq is not checked inside.
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\n\n"
                                       "[mypy-scramp,scramp.*]\nignore_missing_imports = True\n")
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                           str(tmp_path)], capture_output=True, timeout=300, check=False,
                          cwd=tmp_path, env={**os.environ, "MYPYPATH": str(REPO_ROOT)})
    assert done.returncode == 0, done.stdout.decode()
