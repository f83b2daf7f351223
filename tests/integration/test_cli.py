"""The real `flyq` command (`python -m flyq`) run as a subprocess against temporary data dirs."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path

import pytest

from flyq.codec.index_entry import encode_offset_entry, encode_time_entry
from flyq.codec.record_batch import encode_batch, iter_batch_headers
from flyq.records import Record

with warnings.catch_warnings():
    # kafka-python 3.x's package import uses the deprecated importlib.resources.read_text.
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.partitioner.default import murmur2 as kafka_python_murmur2

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
LINES = 10_000
KEYS = 97
SEGMENT = "00000000000000000000.log"


def run(
    *args: str,
    data_dir: Path | None = None,
    stdin: bytes | None = None,
    module: str = "flyq",
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m <module> ARGS` with the repository importable; never raises on exit code."""
    environment = dict(os.environ)
    environment.pop("FLYQ_DATA_DIR", None)
    environment.pop("FLYQ_BOOTSTRAP", None)  # the tests say which broker, if any, they mean
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
    )
    environment.update(env or {})
    data_args = ["--data-dir", str(data_dir)] if data_dir is not None else []
    return subprocess.run(
        [sys.executable, "-m", module, *args, *data_args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=environment,
        cwd=str(data_dir.parent) if data_dir is not None else None,
        check=False,
    )


def ok(*args: str, data_dir: Path | None = None, stdin: bytes | None = None) -> str:
    """Run the CLI, require exit code 0, and return its stdout as text."""
    result = run(*args, data_dir=data_dir, stdin=stdin)
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    return result.stdout.decode()


def fails(*args: str, data_dir: Path | None = None, stdin: bytes | None = None) -> str:
    """Run the CLI, require exit code 1 with a one-line `Error:` and no traceback; the message."""
    result = run(*args, data_dir=data_dir, stdin=stdin)
    stderr = result.stderr.decode()
    assert result.returncode == 1, (result.returncode, stderr)
    assert "Traceback" not in stderr
    error_lines = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(error_lines) == 1, stderr
    return error_lines[0]


def json_lines(text: str) -> list[dict[str, object]]:
    """Parse `consume --format json` output."""
    return [json.loads(line) for line in text.splitlines()]


def java_partition(key: bytes, partitions: int) -> int:
    """Kafka's default partition for a key, computed with kafka-python's murmur2."""
    return int(kafka_python_murmur2(key) & 0x7FFFFFFF) % partitions


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A data dir with topic `events` (3 partitions) holding 10,000 keyed lines from stdin."""
    data_dir = tmp_path_factory.mktemp("loaded") / "data"
    ok("topic", "create", "events", "--partitions", "3", data_dir=data_dir)
    lines = b"".join(f"user-{i % KEYS}:{i}\n".encode() for i in range(LINES))
    result = run("produce", "events", "--key-separator", ":", data_dir=data_dir, stdin=lines)
    assert result.returncode == 0, result.stderr.decode()
    return data_dir, result.stderr.decode()


def test_produce_batches_stdin_lines(loaded: tuple[Path, str]) -> None:
    """10,000 stdin lines are appended 1000 per call: 10 calls x 3 partitions = 30 batches."""
    data_dir, summary = loaded
    assert "Produced 10000 record(s) to 'events' in 30 batch(es)" in summary
    batches = 0
    for partition in range(3):
        dump = ok("log", "dump", str(data_dir / "events" / f"events-{partition}" / SEGMENT))
        batches += sum(line.startswith("position: ") for line in dump.splitlines())
    assert batches == 30


def test_consume_everything_as_json(loaded: tuple[Path, str]) -> None:
    """All 10,000 come back; a key stays on Kafka's partition for it and keeps produce order."""
    data_dir, _ = loaded
    records = json_lines(ok("consume", "events", "--format", "json", data_dir=data_dir))
    assert len(records) == LINES
    by_partition: dict[object, list[dict[str, object]]] = {}
    for record in records:
        by_partition.setdefault(record["partition"], []).append(record)
        key = str(record["key"]).encode()
        assert record["partition"] == java_partition(key, 3)
        assert record["key"] == f"user-{int(str(record['value'])) % KEYS}"
        assert record["headers"] == []
    assert sorted(by_partition) == [0, 1, 2]
    for partition_records in by_partition.values():
        assert [r["offset"] for r in partition_records] == list(range(len(partition_records)))
        sequence = [int(str(r["value"])) for r in partition_records]
        assert sequence == sorted(sequence)


def test_consume_tail(loaded: tuple[Path, str]) -> None:
    """--tail 5 prints the last five records of each partition, oldest first."""
    data_dir, _ = loaded
    describe = json.loads(ok("topic", "describe", "events", "--format", "json", data_dir=data_dir))
    ends = {p["partition"]: p["log_end_offset"] for p in describe["partitions"]}
    assert sum(ends.values()) == LINES
    records = json_lines(
        ok("consume", "events", "--tail", "5", "--format", "json", data_dir=data_dir)
    )
    assert [(r["partition"], r["offset"]) for r in records] == [
        (p, offset) for p in range(3) for offset in range(ends[p] - 5, ends[p])
    ]
    backward = json_lines(
        ok("consume", "events", "--tail", "2", "--backward", "--format", "json", data_dir=data_dir)
    )
    assert [(r["partition"], r["offset"]) for r in backward] == [
        (p, offset) for p in range(3) for offset in (ends[p] - 1, ends[p] - 2)
    ]


def test_consume_backward(loaded: tuple[Path, str]) -> None:
    """--backward prints newest first: the same records as forward, reversed per partition."""
    data_dir, _ = loaded
    forward = json_lines(
        ok("consume", "events", "--partition", "1", "--format", "json", data_dir=data_dir)
    )
    backward = json_lines(
        ok(
            "consume",
            "events",
            "--partition",
            "1",
            "--backward",
            "--format",
            "json",
            data_dir=data_dir,
        )
    )
    assert backward == forward[::-1]
    newest = json_lines(
        ok("consume", "events", "--backward", "--max", "7", "--format", "json", data_dir=data_dir)
    )
    first_partition_end = len(
        json_lines(
            ok("consume", "events", "--partition", "0", "--format", "json", data_dir=data_dir)
        )
    )
    assert [(r["partition"], r["offset"]) for r in newest] == [
        (0, first_partition_end - 1 - i) for i in range(7)
    ]


def test_consume_from_offset(loaded: tuple[Path, str]) -> None:
    """--offset N (with --partition) starts at N forward, or reads N and below with --backward."""
    data_dir, _ = loaded
    forward = json_lines(
        ok(
            "consume",
            "events",
            "--partition",
            "2",
            "--offset",
            "10",
            "--max",
            "5",
            "--format",
            "json",
            data_dir=data_dir,
        )
    )
    assert [r["offset"] for r in forward] == [10, 11, 12, 13, 14]
    assert {r["partition"] for r in forward} == {2}
    backward = json_lines(
        ok(
            "consume",
            "events",
            "--partition",
            "2",
            "--offset",
            "3",
            "--backward",
            "--format",
            "json",
            data_dir=data_dir,
        )
    )
    assert [r["offset"] for r in backward] == [3, 2, 1, 0]
    message = fails(
        "consume", "events", "--partition", "2", "--offset", "999999", data_dir=data_dir
    )
    assert "offset 999999 is out of range in events-2" in message
    assert "log_start_offset=0" in message
    usage = run("consume", "events", "--offset", "3", data_dir=data_dir)
    assert usage.returncode == 2
    assert b"--offset needs --partition" in usage.stderr


def test_consume_from_timestamp(tmp_path: Path) -> None:
    """--timestamp T starts at the first record stamped >= T; --backward shows those before it."""
    data_dir = tmp_path / "data"
    ok("topic", "create", "times", data_dir=data_dir)
    for value, timestamp in (("a", 1000), ("b", 3000), ("c", 2000), ("d", 4000)):
        ok("produce", "times", "--value", value, "--timestamp", str(timestamp), data_dir=data_dir)

    def values(*args: str) -> list[object]:
        output = ok("consume", "times", *args, "--format", "json", data_dir=data_dir)
        return [r["value"] for r in json_lines(output)]

    assert values("--timestamp", "1500") == ["b", "c", "d"]  # offset 1 is the first >= 1500
    assert values("--timestamp", "2500") == ["b", "c", "d"]
    assert values("--timestamp", "3500") == ["d"]
    assert values("--timestamp", "9999") == []
    assert values("--timestamp", "3500", "--backward") == ["c", "b", "a"]
    assert values("--timestamp", "0", "--backward") == []
    timestamps = [
        r["timestamp"]
        for r in json_lines(ok("consume", "times", "--format", "json", data_dir=data_dir))
    ]
    assert timestamps == [1000, 3000, 2000, 4000]


def test_text_and_json_formats_for_bytes_and_headers(tmp_path: Path) -> None:
    """Non-UTF-8 bytes become value_b64 in JSON and \\xNN in text; headers are kept in order."""
    data_dir = tmp_path / "data"
    ok("topic", "create", "raw", data_dir=data_dir)
    ok(
        "produce",
        "raw",
        "--key",
        "k",
        "--header",
        "h1=x",
        "--header",
        "h1=y",
        "--partition",
        "0",
        data_dir=data_dir,
        stdin=b"plain\n\xff\xfe\ttab\\\n",
    )
    records = json_lines(ok("consume", "raw", "--format", "json", data_dir=data_dir))
    assert records[0]["value"] == "plain"
    assert records[1]["value_b64"] == "//4JdGFiXA=="
    assert "value" not in records[1]
    assert records[0]["headers"] == [{"key": "h1", "value": "x"}, {"key": "h1", "value": "y"}]
    text = ok("consume", "raw", data_dir=data_dir).splitlines()
    assert text[1].split("\t")[0] == "0:1"
    assert text[1].split("\t")[2:] == ["k", "\\xff\\xfe\\ttab\\\\", "h1=x,h1=y"]


def test_produce_key_separator_missing_names_the_line(tmp_path: Path) -> None:
    """A stdin line without the key separator stops produce with its line number."""
    data_dir = tmp_path / "data"
    ok("topic", "create", "t", data_dir=data_dir)
    message = fails(
        "produce",
        "t",
        "--key-separator",
        "=",
        data_dir=data_dir,
        stdin=b"a=1\nb=2\nno separator\nc=3\n",
    )
    assert "line 3 has no key separator '='" in message
    assert "the 2 record(s) before it were produced" in message
    assert len(json_lines(ok("consume", "t", "--format", "json", data_dir=data_dir))) == 2


def test_topic_commands(tmp_path: Path) -> None:
    """topic create/list/describe/delete work end to end, with FLYQ_DATA_DIR as the default."""
    data_dir = tmp_path / "data"
    env = {"FLYQ_DATA_DIR": str(data_dir)}
    assert run("topic", "create", "b", "--partitions", "2", env=env).returncode == 0
    assert run("topic", "create", "a", "--config", "segment_bytes=4096", env=env).returncode == 0
    assert run("topic", "list", env=env).stdout.decode().split() == ["a", "b"]
    described = json.loads(ok("topic", "describe", "a", "--format", "json", data_dir=data_dir))
    assert described["config"]["segment_bytes"] == 4096
    assert [p["partition"] for p in described["partitions"]] == [0]
    text = ok("topic", "describe", "b", data_dir=data_dir)
    assert "Partitions: 2" in text
    assert "LOG_END_OFFSET" in text
    assert "already exists" in fails("topic", "create", "a", data_dir=data_dir)
    ok("topic", "delete", "a", data_dir=data_dir)
    assert ok("topic", "list", data_dir=data_dir).split() == ["b"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("consume", "nope"), "Error: topic 'nope' does not exist"),
        (("produce", "nope", "--value", "x"), "Error: topic 'nope' does not exist"),
        (("topic", "describe", "nope"), "Error: topic 'nope' does not exist"),
        (("topic", "delete", "nope"), "Error: topic 'nope' does not exist"),
        (("topic", "create", "a/b"), "Error: invalid topic name 'a/b': character '/' at index 1"),
        (("topic", "create", ".."), "Error: invalid topic name '..': '.' and '..' are not allowed"),
        (("consume", "../etc"), "Error: invalid topic name '../etc': character '/'"),
        (("topic", "create", "t", "--partitions", "0"), "Error: partitions=0: expected"),
        (("topic", "create", "t", "--config", "segment_bytes=0"), "Error: config segment_bytes=0"),
    ],
)
def test_errors_are_one_line_without_traceback(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    """Unknown topics, bad names and bad settings exit 1 with a clear one-line message."""
    (tmp_path / "data").mkdir()
    assert fails(*args, data_dir=tmp_path / "data").startswith(expected)


@pytest.mark.parametrize(
    "args",
    [("topic", "list"), ("consume", "t"), ("groups", "list"), ("health",), ("retention", "run")],
)
def test_a_mistyped_data_dir_is_an_error_naming_it(tmp_path: Path, args: tuple[str, ...]) -> None:
    """BRK-1: a data directory that does not exist is named in the error, not read as empty."""
    missing = tmp_path / "typo"
    message = fails(*args, data_dir=missing)
    assert f"data directory '{missing}' does not exist" in message
    assert not missing.exists()


def test_reserved_names_are_not_topics(tmp_path: Path) -> None:
    """BRK-1: `flyq.toml` cannot be created or deleted as a topic; the config file survives."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "flyq.toml").write_text("[log]\n")
    for command in ("create", "delete"):
        message = fails("topic", command, "flyq.toml", data_dir=data_dir)
        assert "invalid topic name 'flyq.toml': is reserved" in message
    assert (data_dir / "flyq.toml").read_text() == "[log]\n"


def test_data_dir_before_or_after_the_subcommand(tmp_path: Path) -> None:
    """--data-dir works before the subcommand and after it; the one after wins."""
    first, second = tmp_path / "first", tmp_path / "second"
    assert run("--data-dir", str(first), "topic", "create", "a").returncode == 0
    ok("topic", "create", "b", data_dir=second)
    assert run("--data-dir", str(first), "topic", "list").stdout.decode().split() == ["a"]
    result = run("--data-dir", str(first), "topic", "list", "--data-dir", str(second))
    assert result.stdout.decode().split() == ["b"]


def test_version() -> None:
    """`flyq --version` prints the package version."""
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.decode().strip() == "flyq 0.1.0"


def test_crash_explorer_is_its_own_program_and_not_imported_by_the_cli() -> None:
    """`python -m flyq.crash` runs the explorer; `flyq` neither lists nor imports it."""
    explorer = run("--states", "20", "--workloads-per-size", "1", module="flyq.crash")
    assert explorer.returncode == 0, explorer.stderr.decode()
    assert "python -m flyq.crash --seed" in explorer.stdout.decode()
    assert "crash-test" not in run("--help").stdout.decode()
    environment = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    imports = subprocess.run([sys.executable, "-X", "importtime", "-m", "flyq", "--help"],
                             capture_output=True, env=environment, check=True)
    assert b"flyq.crash" not in imports.stderr


def test_produce_to_a_missing_partition_fails_cleanly(tmp_path: Path) -> None:
    """--partition outside the topic's partitions exits 1 naming the valid range."""
    data_dir = tmp_path / "data"
    ok("topic", "create", "t", "--partitions", "2", data_dir=data_dir)
    message = fails("produce", "t", "--value", "x", "--partition", "2", data_dir=data_dir)
    assert "has partitions 0..1; partition 2 does not exist" in message


def test_log_dump_segment(loaded: tuple[Path, str]) -> None:
    """log dump prints one line per batch with its fields and, with --records, every record."""
    data_dir, _ = loaded
    segment = data_dir / "events" / "events-0" / SEGMENT
    headers = list(iter_batch_headers(segment.read_bytes()))
    dump = ok("log", "dump", str(segment)).splitlines()
    assert dump[0] == f"Dumping {segment}"
    batch_lines = dump[1:]
    assert len(batch_lines) == len(headers)
    for line, (position, header) in zip(batch_lines, headers, strict=True):
        assert line.startswith(
            f"position: {position} baseOffset: {header.base_offset} "
            f"lastOffset: {header.last_offset} count: {header.records_count} "
            f"size: {header.size} crcValid: true maxTimestamp: {header.max_timestamp}"
        )
    with_records = ok("log", "dump", "--records", str(segment)).splitlines()
    record_lines = [line for line in with_records if line.startswith("| offset: ")]
    assert len(record_lines) == sum(header.records_count for _, header in headers)
    assert record_lines[0].startswith("| offset: 0 timestamp: ")
    assert " key: user-" in record_lines[0]


def test_log_dump_index_files(tmp_path: Path) -> None:
    """log dump of .index/.timeindex prints entries with absolute offsets, not the zero padding."""
    index = tmp_path / "00000000000000000100.index"
    index.write_bytes(encode_offset_entry(0, 0) + encode_offset_entry(7, 4200) + bytes(8 * 3))
    lines = ok("log", "dump", str(index)).splitlines()[1:]
    assert lines == [
        "position: 0 offset: 100 relativeOffset: 0 batchPosition: 0",
        "position: 8 offset: 107 relativeOffset: 7 batchPosition: 4200",
        "3 all-zero entries from byte 16 to the end (preallocated, unused)",
    ]
    time_index = tmp_path / "00000000000000000100.timeindex"
    time_index.write_bytes(encode_time_entry(5000, 3) + encode_time_entry(6000, 9))
    lines = ok("log", "dump", str(time_index)).splitlines()[1:]
    assert lines == [
        "position: 0 timestamp: 5000 offset: 103 relativeOffset: 3",
        "position: 12 timestamp: 6000 offset: 109 relativeOffset: 9",
    ]
    assert ok("log", "verify", str(time_index)).startswith("OK ")
    time_index.write_bytes(encode_time_entry(6000, 3) + encode_time_entry(5000, 9))
    assert "first problem at byte 12" in fails("log", "verify", str(time_index))


def test_log_verify_good_segment(loaded: tuple[Path, str]) -> None:
    """log verify exits 0 on an intact segment and reports its batches and offsets."""
    data_dir, _ = loaded
    segment = data_dir / "events" / "events-1" / SEGMENT
    count = sum(h.records_count for _, h in iter_batch_headers(segment.read_bytes()))
    output = ok("log", "verify", str(segment))
    assert output.startswith(f"OK {segment}: 10 batch(es), {count} record(s), offsets 0..")


def test_log_verify_finds_a_flipped_byte(loaded: tuple[Path, str], tmp_path: Path) -> None:
    """A flipped byte inside the third batch fails verify at that batch's byte position."""
    data_dir, _ = loaded
    segment = tmp_path / SEGMENT
    shutil.copy(data_dir / "events" / "events-1" / SEGMENT, segment)
    data = bytearray(segment.read_bytes())
    position, header = list(iter_batch_headers(data))[2]
    data[position + header.size - 3] ^= 0x40
    segment.write_bytes(bytes(data))
    message = fails("log", "verify", str(segment))
    assert f"first problem at byte {position}" in message
    assert "CRC-32C" in message
    dump = ok("log", "dump", str(segment))
    assert dump.count("crcValid: false") == 1


def test_log_verify_finds_a_torn_tail(loaded: tuple[Path, str], tmp_path: Path) -> None:
    """A segment cut inside its last batch fails verify naming that batch's length field."""
    data_dir, _ = loaded
    original = (data_dir / "events" / "events-2" / SEGMENT).read_bytes()
    last_position, _ = list(iter_batch_headers(original))[-1]
    segment = tmp_path / SEGMENT
    segment.write_bytes(original[: last_position + 100])
    message = fails("log", "verify", str(segment))
    assert f"first problem at byte {last_position + 8} (batch at byte {last_position})" in message
    assert "runs past the end" in message


def test_log_verify_finds_an_offset_gap(tmp_path: Path) -> None:
    """Batches whose offsets are not dense fail verify at the second batch."""
    first = encode_batch(0, [Record(value=b"a"), Record(value=b"b")])
    second = encode_batch(5, [Record(value=b"c")])
    segment = tmp_path / SEGMENT
    segment.write_bytes(first + second)
    message = fails("log", "verify", str(segment))
    assert f"first problem at byte {len(first)}: batch base offset 5, expected 2" in message
    segment.write_bytes(first + encode_batch(2, [Record(value=b"c")]))
    assert ok("log", "verify", str(segment)).startswith(f"OK {segment}: 2 batch(es), 3 record(s)")


def test_log_commands_reject_unknown_files(tmp_path: Path) -> None:
    """log dump/verify refuse a file that is not .log/.index/.timeindex."""
    other = tmp_path / "notes.txt"
    other.write_bytes(b"hello")
    assert "expected a name ending in .log" in fails("log", "verify", str(other))


def test_consume_into_a_closed_pipe_exits_quietly(loaded: tuple[Path, str]) -> None:
    """When the reader of stdout goes away (`| head`), consume stops without a traceback."""
    data_dir, _ = loaded
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with subprocess.Popen(
        [sys.executable, "-m", "flyq", "consume", "events", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        assert process.stdout.readline()
        process.stdout.close()
        stderr = process.stderr.read()
    assert process.returncode == 1
    assert b"Traceback" not in stderr
    assert b"BrokenPipeError" not in stderr


# --- consumer groups (spec/groups.md §7) ----------------------------------------------------------


def produce_values(data_dir: Path, topic: str, partition: int, *values: str) -> None:
    """Append `values` to one partition of `topic` through the CLI."""
    stdin = "".join(f"{value}\n" for value in values).encode()
    ok("produce", topic, "--partition", str(partition), data_dir=data_dir, stdin=stdin)


def consumed(data_dir: Path, topic: str, *args: str) -> list[tuple[int, int, str]]:
    """(partition, offset, value) of each record `consume TOPIC ARGS --format json` prints."""
    records = json_lines(ok("consume", topic, *args, "--format", "json", data_dir=data_dir))
    return [(int(str(r["partition"])), int(str(r["offset"])), str(r["value"])) for r in records]


def group_lags(data_dir: Path, group: str) -> dict[tuple[str, int], tuple[int, int | None]]:
    """(topic, partition) -> (committed_offset, lag) from `groups describe --format json`."""
    document = json.loads(ok("groups", "describe", group, "--format", "json", data_dir=data_dir))
    assert document["group"] == group
    return {
        (row["topic"], row["partition"]): (row["committed_offset"], row["lag"])
        for row in document["partitions"]
    }


def test_consume_group_commits_and_resumes(tmp_path: Path) -> None:
    """consume --group prints everything, commits; the next run prints only newer records."""
    data_dir = tmp_path / "data"
    ok("topic", "create", "t", "--partitions", "2", data_dir=data_dir)
    produce_values(data_dir, "t", 0, "a", "b")
    produce_values(data_dir, "t", 1, "c")
    assert consumed(data_dir, "t", "--group", "g") == [(0, 0, "a"), (0, 1, "b"), (1, 0, "c")]
    assert consumed(data_dir, "t", "--group", "g") == []
    produce_values(data_dir, "t", 1, "d")
    assert consumed(data_dir, "t", "--group", "g") == [(1, 1, "d")]
    assert consumed(data_dir, "t", "--group", "g") == []
    # A plain consume is not affected by, and does not move, the group.
    assert len(consumed(data_dir, "t")) == 4
    assert group_lags(data_dir, "g") == {("t", 0): (2, 0), ("t", 1): (2, 0)}


def test_consume_group_max_commits_only_what_was_printed(tmp_path: Path) -> None:
    """With --max, the commit is the offset after the last printed record; the rest come next."""
    data_dir = tmp_path / "data"
    ok("topic", "create", "t", data_dir=data_dir)
    produce_values(data_dir, "t", 0, "a", "b", "c")
    assert consumed(data_dir, "t", "--group", "g", "--max", "2") == [(0, 0, "a"), (0, 1, "b")]
    assert consumed(data_dir, "t", "--group", "g") == [(0, 2, "c")]


def test_groups_and_topics_are_kept_apart(tmp_path: Path) -> None:
    """Two groups on two topics with the same partition numbers keep separate offsets (GRP-1)."""
    data_dir = tmp_path / "data"
    for topic in ("x", "y"):
        ok("topic", "create", topic, "--partitions", "2", data_dir=data_dir)
        for partition in (0, 1):
            produce_values(data_dir, topic, partition, *(f"{topic}{partition}-{i}" for i in range(3)))
    assert len(consumed(data_dir, "x", "--group", "g1", "--partition", "0")) == 3
    assert len(consumed(data_dir, "y", "--group", "g2", "--partition", "1", "--max", "1")) == 1
    ok("groups", "reset-offsets", "g2", "--topic", "x", "--to-offset", "1", data_dir=data_dir)
    assert ok("groups", "list", data_dir=data_dir).split() == ["g1", "g2"]
    assert json.loads(ok("groups", "list", "--format", "json", data_dir=data_dir)) == ["g1", "g2"]
    assert group_lags(data_dir, "g1") == {("x", 0): (3, 0)}
    assert group_lags(data_dir, "g2") == {("x", 0): (1, 2), ("x", 1): (1, 2), ("y", 1): (1, 2)}
    assert consumed(data_dir, "y", "--group", "g1") == [
        (p, o, f"y{p}-{o}") for p in (0, 1) for o in range(3)
    ]
    assert consumed(data_dir, "x", "--group", "g1", "--partition", "0") == []
    assert consumed(data_dir, "y", "--group", "g2", "--partition", "1") == [
        (1, 1, "y1-1"),
        (1, 2, "y1-2"),
    ]
    # The offset store is not a topic.
    assert ok("topic", "list", data_dir=data_dir).split() == ["x", "y"]
    assert json.loads(ok("topic", "list", "--format", "json", data_dir=data_dir)) == ["x", "y"]


def test_groups_describe_shows_lag(tmp_path: Path) -> None:
    """Lag is 0 once everything is read and 1 with one record left, in text and json."""
    data_dir = tmp_path / "data"
    ok("topic", "create", "t", data_dir=data_dir)
    produce_values(data_dir, "t", 0, "a", "b")
    consumed(data_dir, "t", "--group", "g")
    assert group_lags(data_dir, "g") == {("t", 0): (2, 0)}
    produce_values(data_dir, "t", 0, "c")
    assert group_lags(data_dir, "g") == {("t", 0): (2, 1)}
    lines = ok("groups", "describe", "g", data_dir=data_dir).splitlines()
    assert lines[0] == "Group: g"
    assert lines[1].split() == [
        "TOPIC",
        "PARTITION",
        "COMMITTED_OFFSET",
        "LOG_START_OFFSET",
        "LOG_END_OFFSET",
        "HIGH_WATERMARK",
        "LAG",
    ]
    assert lines[2].split() == ["t", "0", "2", "0", "3", "3", "1"]
    assert "group 'nope' has no committed offsets" in fails(
        "groups", "describe", "nope", data_dir=data_dir
    )


def test_groups_delete_offline(tmp_path: Path) -> None:
    """GRP-CLI-5: `groups delete` removes one group's offsets for good; an unknown one exits 1."""
    data_dir = tmp_path / "data"
    ok("topic", "create", "t", data_dir=data_dir)
    produce_values(data_dir, "t", 0, "a")
    consumed(data_dir, "t", "--group", "g1")
    consumed(data_dir, "t", "--group", "g2")
    ok("groups", "delete", "g1", data_dir=data_dir)
    assert ok("groups", "list", data_dir=data_dir).split() == ["g2"]
    assert "group 'g1' has no committed offsets" in fails("groups", "delete", "g1",
                                                          data_dir=data_dir)


def test_groups_reset_offsets(tmp_path: Path) -> None:
    """reset-offsets --to-earliest/--to-latest/--to-offset/--to-timestamp move the group."""
    data_dir = tmp_path / "data"
    ok("topic", "create", "t", "--partitions", "2", data_dir=data_dir)
    for partition in (0, 1):
        for stamp in (1000, 2000, 3000):
            ok(
                "produce", "t", "--partition", str(partition), "--timestamp", str(stamp),
                "--value", f"{partition}@{stamp}", data_dir=data_dir,
            )  # fmt: skip

    def reset(*args: str) -> str:
        return ok("groups", "reset-offsets", "g", "--topic", "t", *args, data_dir=data_dir)

    assert reset("--to-latest") == "g t-0: - -> 3\ng t-1: - -> 3\n"
    assert consumed(data_dir, "t", "--group", "g") == []
    reset("--to-earliest")
    assert group_lags(data_dir, "g") == {("t", 0): (0, 3), ("t", 1): (0, 3)}
    reset("--to-timestamp", "1500")
    assert group_lags(data_dir, "g") == {("t", 0): (1, 2), ("t", 1): (1, 2)}
    reset("--to-timestamp", "9999")
    assert group_lags(data_dir, "g") == {("t", 0): (3, 0), ("t", 1): (3, 0)}
    assert reset("--partition", "1", "--to-offset", "2") == "g t-1: 3 -> 2\n"
    assert consumed(data_dir, "t", "--group", "g") == [(1, 2, "1@3000")]
    message = fails(
        "groups", "reset-offsets", "g", "--topic", "t", "--to-offset", "4", data_dir=data_dir
    )
    assert "offset 4 is out of range in t-0" in message
    assert "log_start_offset=0, log_end_offset=3" in message
    assert group_lags(data_dir, "g") == {("t", 0): (3, 0), ("t", 1): (3, 0)}
    both = run(
        "groups", "reset-offsets", "g", "--topic", "t", "--to-earliest", "--to-latest",
        data_dir=data_dir,
    )  # fmt: skip
    assert both.returncode == 2
    assert b"choose exactly one" in both.stderr


def test_consume_group_reset_policies(tmp_path: Path) -> None:
    """--reset error exits 1 naming topic, partition and range; latest skips; earliest reads."""
    data_dir = tmp_path / "data"
    ok("topic", "create", "t", data_dir=data_dir)
    produce_values(data_dir, "t", 0, "a", "b")
    message = fails("consume", "t", "--group", "g", "--reset", "error", data_dir=data_dir)
    assert "group 'g' has no committed offset for t-0" in message
    assert "valid offsets are [0, 2]" in message
    assert ok("groups", "list", data_dir=data_dir) == ""
    assert consumed(data_dir, "t", "--group", "late", "--reset", "latest") == []
    produce_values(data_dir, "t", 0, "c")
    assert consumed(data_dir, "t", "--group", "late", "--reset", "latest") == [(0, 2, "c")]
    assert len(consumed(data_dir, "t", "--group", "early", "--reset", "earliest")) == 3
    assert consumed(data_dir, "t", "--group", "early", "--reset", "error") == []


@pytest.mark.parametrize(
    "extra",
    [("--offset", "0", "--partition", "0"), ("--timestamp", "0"), ("--tail", "1"), ("--backward",)],
)
def test_consume_group_refuses_other_start_positions(tmp_path: Path, extra: tuple[str, ...]) -> None:
    """--group with --offset/--timestamp/--tail/--backward is a usage error naming the option."""
    data_dir = tmp_path / "data"
    ok("topic", "create", "t", data_dir=data_dir)
    result = run("consume", "t", "--group", "g", *extra, data_dir=data_dir)
    assert result.returncode == 2
    assert f"cannot be combined with {extra[0]}" in result.stderr.decode()


# --- broker config and topic alter ----------------------------------------------------------------


def topic_config(data_dir: Path, topic: str) -> dict[str, object]:
    """The config `topic describe --format json` reports."""
    described = json.loads(ok("topic", "describe", topic, "--format", "json", data_dir=data_dir))
    config: dict[str, object] = described["config"]
    return config


def test_broker_config_file_gives_topic_defaults(tmp_path: Path) -> None:
    """DATA_DIR/flyq.toml sets new topics' config; --config overrides; FLYQ_CONFIG/--config FILE."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "flyq.toml").write_text("[log]\nsegment_bytes = 4096\nflush_messages = 7\n")
    ok("topic", "create", "a", data_dir=data_dir)
    ok("topic", "create", "b", "--config", "flush_messages=none", data_dir=data_dir)
    assert topic_config(data_dir, "a")["segment_bytes"] == 4096
    assert topic_config(data_dir, "a")["flush_messages"] == 7
    assert topic_config(data_dir, "b")["segment_bytes"] == 4096
    assert topic_config(data_dir, "b")["flush_messages"] is None
    other = tmp_path / "other.toml"
    other.write_text("[log]\nsegment_bytes = 8192\n")
    result = run("topic", "create", "c", data_dir=data_dir, env={"FLYQ_CONFIG": str(other)})
    assert result.returncode == 0, result.stderr.decode()
    assert topic_config(data_dir, "c")["segment_bytes"] == 8192
    assert ok("--config", str(other), "topic", "create", "d", data_dir=data_dir)
    assert topic_config(data_dir, "d")["flush_messages"] is None
    (data_dir / "flyq.toml").write_text("[log]\nsegment_byte = 1\n")
    message = fails("topic", "create", "e", data_dir=data_dir)
    assert "flyq.toml: config log.segment_byte: unknown key" in message
    assert ok("topic", "list", data_dir=data_dir).split() == ["a", "b", "c", "d"]


def test_topic_alter(tmp_path: Path) -> None:
    """topic alter stores the new config (shown by describe); bad values and topics exit 1."""
    data_dir = tmp_path / "data"
    ok("topic", "create", "t", "--config", "segment_bytes=4096", data_dir=data_dir)
    produce_values(data_dir, "t", 0, "a")
    assert ok("topic", "alter", "t", "--config", "segment_ms=5", data_dir=data_dir) == (
        "Altered topic 't': segment_ms=5\n"
    )
    config = topic_config(data_dir, "t")
    assert (config["segment_bytes"], config["segment_ms"]) == (4096, 5)
    assert "segment_ms=5" in ok("topic", "describe", "t", data_dir=data_dir)
    assert "config segment_bytes=0" in fails(
        "topic", "alter", "t", "--config", "segment_bytes=0", data_dir=data_dir
    )
    assert "topic 'nope' does not exist" in fails(
        "topic", "alter", "nope", "--config", "segment_ms=1", data_dir=data_dir
    )
    assert topic_config(data_dir, "t")["segment_bytes"] == 4096
    assert consumed(data_dir, "t") == [(0, 0, "a")]


def test_retention_run_advances_the_log_start(tmp_path: Path) -> None:
    """RET-1..3 through the CLI: tiny segments and retention_bytes; `retention run` deletes whole
    old segments, `topic describe` shows the new log start, a read below it names the range."""
    ok("topic", "create", "logs", "--config", "segment_bytes=300", "--config",
       "retention_bytes=600", data_dir=tmp_path)
    ok("produce", "logs", "--batch-records", "5",
       stdin=b"".join(b"line-%03d\n" % i for i in range(200)), data_dir=tmp_path)
    before = json.loads(ok("topic", "describe", "logs", "--format", "json", data_dir=tmp_path))
    assert before["partitions"][0]["log_start_offset"] == 0
    result = json.loads(ok("retention", "run", "--format", "json", data_dir=tmp_path))
    start = result[0]["log_start_offset"]
    assert result[0]["segments_deleted"] > 0 and 0 < start < 200
    after = json.loads(ok("topic", "describe", "logs", "--format", "json", data_dir=tmp_path))
    partition = after["partitions"][0]
    assert (partition["log_start_offset"], partition["high_watermark"]) == (start, 200)
    assert partition["size_bytes"] >= 600
    error = fails("consume", "logs", "--partition", "0", "--offset", str(start - 1),
                  data_dir=tmp_path)
    assert f"log_start_offset={start}" in error and "log_end_offset=200" in error
    first = json_lines(ok("consume", "logs", "--format", "json", "--max", "1", data_dir=tmp_path))
    assert first[0]["offset"] == start and first[0]["value"] == f"line-{start:03d}"


def test_health_reports_each_partition(tmp_path: Path) -> None:
    """HLT-1..3 through the CLI: state, watermarks and a verified index check per partition."""
    ok("topic", "create", "h", "--partitions", "2", data_dir=tmp_path)
    ok("produce", "h", "--partition", "1", "--value", "x", data_dir=tmp_path)
    rows = json.loads(ok("health", "--verify", "--format", "json", data_dir=tmp_path))
    assert [(r["topic"], r["partition"], r["state"]) for r in rows] == [("h", 0, "online"),
                                                                        ("h", 1, "online")]
    assert [(r["log_end_offset"], r["high_watermark"]) for r in rows] == [(0, 0), (1, 1)]
    assert all(r["index_check"]["mismatches"] == [] for r in rows)
    text = ok("health", "h", data_dir=tmp_path)
    assert "h-1: opened cleanly" in text


def test_log_append_time_topics_stamp_the_broker_clock(tmp_path: Path) -> None:
    """spec/format.md 1.2: a LogAppendTime topic (from --config or flyq.toml) reads back with the
    append time, not the producer's timestamp; a CreateTime topic keeps the producer's."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "flyq.toml").write_text('[log]\nmessage_timestamp_type = "LogAppendTime"\n')
    ok("topic", "create", "stamped", data_dir=data_dir)
    ok("topic", "create", "kept", "--config", "message_timestamp_type=CreateTime",
       data_dir=data_dir)
    assert topic_config(data_dir, "stamped")["message_timestamp_type"] == "LogAppendTime"
    before = int(time.time() * 1000)
    for name in ("stamped", "kept"):
        ok("produce", name, "--value", "v", "--timestamp", "1000", data_dir=data_dir)
    after = int(time.time() * 1000)
    [stamped] = json_lines(ok("consume", "stamped", "--format", "json", data_dir=data_dir))
    [kept] = json_lines(ok("consume", "kept", "--format", "json", data_dir=data_dir))
    assert before <= stamped["timestamp"] <= after
    assert kept["timestamp"] == 1000
    message = fails("topic", "create", "bad", "--config", "message_timestamp_type=Sometimes",
                    data_dir=data_dir)
    assert "message_timestamp_type" in message and "Sometimes" in message


def test_a_damaged_index_is_rebuilt_and_reported_not_read_short(tmp_path: Path) -> None:
    """IDX-5: 13 random bytes in the middle of a cleanly closed segment's `.index` do not make a
    read come back short: consume prints the asked records and exits 0, its stderr and a later
    `flyq health` say the index was found damaged and rebuilt, and `--verify` then agrees."""
    data_dir = tmp_path / "data"
    ok("topic", "create", "i", data_dir=data_dir)
    lines = b"".join(b"record-%04d-" % n + b"x" * 880 + b"\n" for n in range(300))
    ok("produce", "i", "--partition", "0", "--batch-records", "1", data_dir=data_dir, stdin=lines)
    index = data_dir / "i" / "i-0" / "00000000000000000000.index"
    damage = random.Random(13).randbytes(13)
    with index.open("r+b") as handle:
        handle.seek(index.stat().st_size // 2)
        handle.write(damage)
    result = run("consume", "i", "--partition", "0", "--offset", "150", "--max", "3",
                 "--format", "json", data_dir=data_dir)
    assert result.returncode == 0, result.stderr.decode()
    assert [r["offset"] for r in json_lines(result.stdout.decode())] == [150, 151, 152]
    stderr = result.stderr.decode()
    assert "WARNING:" in stderr and str(index) in stderr and "rebuilt" in stderr
    health = ok("health", "i", data_dir=data_dir)
    assert "found damaged" in health and "rebuilt" in health and str(index) in health
    rows = json.loads(ok("health", "i", "--verify", "--format", "json", data_dir=data_dir))
    assert rows[0]["index_check"]["mismatches"] == []
    assert rows[0]["index_repairs"][-1]["path"] == str(index)
