"""Consumer groups over the classic protocol (spec/group-coordinator.md) with real clients against
a real `flyq broker` on 127.0.0.1: members that die, members removed but still committing (a raw
client driven through FlyQ's codec), the group flow with each Python client, cooperative-sticky
rounds, heartbeats and commits through the fault proxy, and the time a rebalance takes.

FlyQ's smallest session timeout is 6000 ms (Kafka's default `group.min.session.timeout.ms`), so
the tests that wait for a session to expire take about that long each.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import confluent_kafka
import confluent_kafka.admin
import pytest

with warnings.catch_warnings():
    # kafka-python 3.x's package import uses the deprecated importlib.resources.read_text.
    warnings.simplefilter("ignore", DeprecationWarning)
    import aiokafka
    import aiokafka.errors
    import kafka
    import kafka.errors

from tests.integration._raw_client import RawClient
from tests.integration._timings import record_timing
from tests.integration.broker_process import REPO_ROOT, BrokerProcess
from tests.integration.fault_proxy import FaultProxy

pytestmark = pytest.mark.integration

SESSION_MS = 6000  # FlyQ's min session timeout
HEARTBEAT_MS = 300
ILLEGAL_GENERATION = 22
UNKNOWN_MEMBER_ID = 25
REBALANCE_IN_PROGRESS = 27
TIMEOUT = 30.0
GENERATION = re.compile(r"JoinGroup response: GenerationId (-?\d+)")
HEARTBEAT, OFFSET_COMMIT = 12, 8
MEMBER_SCRIPT = Path(__file__).with_name("_group_member.py")


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.02) -> float:
    """Poll `condition` until it holds; the monotonic time it did. Fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return time.monotonic()
        if time.monotonic() >= deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(interval)


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([confluent_kafka.admin.NewTopic(name, partitions, 1)])[name].result(15)


def produce(bootstrap: str, topic: str, partitions: int, values: range) -> None:
    """Records `str(v)` for v in `values`, round robin over the partitions."""
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                                         "enable.idempotence": False})
    for value in values:
        producer.produce(topic, str(value).encode(), partition=value % partitions)
    assert producer.flush(15) == 0


def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "probe"})
    try:
        return {partition: consumer.get_watermark_offsets(
            confluent_kafka.TopicPartition(topic, partition), timeout=15)[1]
            for partition in range(partitions)}
    finally:
        consumer.close()


def all_offsets(ends: dict[int, int]) -> set[tuple[int, int]]:
    return {(partition, offset) for partition, end in ends.items() for offset in range(end)}


class Member:
    """One `_group_member.py` process: its events, each stamped with the parent's monotonic clock
    when its line arrived; stderr (librdkafka's debug lines, if asked for) goes to a file."""

    def __init__(self, log_dir: Path, **settings: Any) -> None:
        self.name = str(settings["client_id"])
        self.stderr_path = log_dir / f"{self.name}.stderr"
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._lock = threading.Lock()
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(MEMBER_SCRIPT), json.dumps(settings)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                env=environment)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            event = json.loads(line)
            with self._lock:
                self.events.append((time.monotonic(), event))

    def snapshot(self) -> list[tuple[float, dict[str, Any]]]:
        with self._lock:
            return list(self.events)

    def owned(self) -> set[int]:
        """The partitions it holds now: assigns add, revokes and losses take away (eager
        callbacks give whole sets, cooperative ones increments; both read right this way)."""
        owned: set[int] = set()
        for _, event in self.snapshot():
            if event["event"] == "assign":
                owned |= set(event["partitions"])
            elif event["event"] in ("revoke", "lost"):
                owned -= set(event["partitions"])
        return owned

    def records(self) -> set[tuple[int, int]]:
        return {(event["partition"], event["offset"]) for _, event in self.snapshot()
                if event["event"] == "record"}

    def assigned_at(self, partition: int) -> list[float]:
        """When each assign event naming `partition` arrived."""
        return [stamp for stamp, event in self.snapshot()
                if event["event"] == "assign" and partition in event["partitions"]]

    def stop(self) -> None:
        """SIGTERM (a clean close: LeaveGroup), or SIGKILL if it does not end in time."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)
        self._reader.join(5)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def kill(self) -> float:
        """SIGKILL; the monotonic time it was sent."""
        killed = time.monotonic()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(15)
        return killed

    def describe(self) -> str:
        """Its events and the tail of its stderr, for a failure message."""
        lines = [f"{stamp:.3f} {event}" for stamp, event in self.snapshot()
                 if event["event"] != "record"]
        tail = self.stderr_path.read_text(errors="replace")[-3000:]
        return f"--- {self.name}\n" + "\n".join(lines) + f"\n{tail}"


def disjoint_cover(owned: list[set[int]], partitions: int) -> bool:
    """Whether the members' partitions are pairwise disjoint and cover 0..partitions-1."""
    return (sum(map(len, owned)) == partitions
            and set().union(*owned) == set(range(partitions)))


# --- a removed member's commit is fenced (GC-12, GC-13) ---------------------------------------


def test_a_removed_members_commit_is_refused(broker: BrokerProcess) -> None:
    """GC-12/GC-13 with a raw client: a current member's commit with its previous generation gets
    22; after it stops heartbeating past its session it is removed, and its commit with its last
    generation and member id gets 25; neither changes the committed offset, while the live
    member's commit with the current generation is applied."""
    create_topic(broker.bootstrap, "fenced", 1)
    group, topics = "zombies", ["fenced"]
    zombie, live = RawClient(broker.bootstrap, "zombie"), RawClient(broker.bootstrap, "live")
    try:
        zombie_id = zombie.join_new(group, topics)
        joined = zombie.receive()
        assert joined["error_code"] == 0 and joined["leader"] == zombie_id
        first = joined["generation_id"]
        assert zombie.sync(group, first, zombie_id, {zombie_id: {"fenced": [0]}})[
            "error_code"] == 0
        assert zombie.commit(group, first, zombie_id, "fenced", 0, 5) == 0
        # A second member joins; the zombie rejoins too, so both are in the next generation.
        live_id = live.join_new(group, topics)
        assert zombie.heartbeat(group, first, zombie_id) == REBALANCE_IN_PROGRESS
        zombie.join(group, topics, member_id=zombie_id)
        answers = [zombie.receive(), live.receive()]
        assert [answer["error_code"] for answer in answers] == [0, 0]
        second = answers[0]["generation_id"]
        assert second == first + 1 == answers[1]["generation_id"]
        assert zombie.sync(group, second, zombie_id,
                           {zombie_id: {"fenced": [0]}, live_id: {}})["error_code"] == 0
        assert live.sync(group, second, live_id)["error_code"] == 0
        assert zombie.commit(group, first, zombie_id, "fenced", 0, 7) == ILLEGAL_GENERATION
        assert zombie.committed(group, "fenced", 0) == 5
        # The zombie stops heartbeating; the live member goes on, and rejoins when told to.
        stopped = time.monotonic()
        generation = second
        deadline = stopped + SESSION_MS / 1000 + 10
        while zombie_id in zombie.describe(group)["members"] or generation == second:
            assert time.monotonic() < deadline, "the silent member was never removed"
            code = live.heartbeat(group, generation, live_id)
            if code == REBALANCE_IN_PROGRESS:
                live.join(group, topics, member_id=live_id)
                rejoined = live.receive()
                assert rejoined["error_code"] == 0, rejoined
                generation = rejoined["generation_id"]
                assert live.sync(group, generation, live_id, {live_id: {"fenced": [0]}})[
                    "error_code"] == 0
            else:
                assert code == 0, code
            time.sleep(0.2)
        removed_after = time.monotonic() - stopped
        assert removed_after >= SESSION_MS / 1000 - 0.5, "removed before its session expired"
        described = zombie.describe(group)
        assert described["state"] == "Stable"
        assert set(described["members"]) == {live_id}
        assert generation == second + 1
        assert zombie.commit(group, second, zombie_id, "fenced", 0, 9) == UNKNOWN_MEMBER_ID
        assert zombie.committed(group, "fenced", 0) == 5
        assert live.commit(group, generation, live_id, "fenced", 0, 11) == 0
        assert live.committed(group, "fenced", 0) == 11
    finally:
        zombie.close()
        live.close()


# --- members that die: their partitions move, nothing is skipped ------------------------------


def test_a_killed_members_partitions_move_to_the_survivors(broker: BrokerProcess,
                                                           tmp_path: Path) -> None:
    """GC-10/GC-11 with three confluent-kafka members, each its own process: SIGKILL one
    mid-stream; its partitions move to the two survivors after the kill and within its session
    timeout plus a margin, and the union of what the three consumed covers every record."""
    create_topic(broker.bootstrap, "six", 6)
    members = [Member(tmp_path, bootstrap=broker.bootstrap, group="killers", topic="six",
                      client_id=f"member-{number}", session_ms=SESSION_MS,
                      heartbeat_ms=HEARTBEAT_MS, debug="cgrp")
               for number in range(3)]
    victim, survivors = members[0], members[1:]

    def report() -> str:
        return "\n".join(member.describe() for member in members)

    try:
        wait_until(lambda: all(member.owned() for member in members)
                   and disjoint_cover([member.owned() for member in members], 6), TIMEOUT,
                   "three members sharing six partitions")
        produce(broker.bootstrap, "six", 6, range(0, 300))
        wait_until(lambda: len(victim.records()) >= 10, TIMEOUT, "the victim consuming")
        lost = victim.owned()
        killed = victim.kill()
        produce(broker.bootstrap, "six", 6, range(300, 600))
        moved = wait_until(
            lambda: disjoint_cover([member.owned() for member in survivors], 6),
            SESSION_MS / 1000 + 15, "the survivors owning all six partitions")
        ends = end_offsets(broker.bootstrap, "six", 6)
        assert sum(ends.values()) == 600
        wait_until(lambda: set().union(*(member.records() for member in members))
                   >= all_offsets(ends), TIMEOUT, "every record consumed")
    except BaseException:
        print(report())
        raise
    finally:
        for member in members:
            member.stop()
    took = moved - killed
    record_timing("partitions of a SIGKILLed member reach the survivors (session 6000 ms)",
                  [took])
    # Each lost partition was given to a survivor again after the kill (before it, the victim
    # held it in a disjoint cover), no sooner than the session allows (GC-10) and not much later.
    assert lost and all(max(stamp for member in survivors for stamp in member.assigned_at(p))
                        > killed for p in lost), report()
    assert SESSION_MS / 1000 - 2 <= took <= SESSION_MS / 1000 + 5, (
        f"moved {took:.2f} s after the kill\n{report()}")
    consumed = set().union(*(member.records() for member in members))
    assert consumed == all_offsets(ends)


# --- the same flow with kafka-python and aiokafka ----------------------------------------------


class ThreadMember:
    """A kafka-python or aiokafka group member in a thread of the test (aiokafka on its own event
    loop there): it records what it consumed, commits synchronously after each batch, and keeps
    `owned` up to date from the client's own assignment. `leave()` closes it (LeaveGroup)."""

    def __init__(self, client: str, bootstrap: str, group: str, topic: str, name: str) -> None:
        self.client, self.bootstrap, self.group, self.topic, self.name = (
            client, bootstrap, group, topic, name)
        self.owned: set[int] = set()
        self.consumed: set[tuple[int, int]] = set()
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name)
        self.thread.start()

    def snapshot(self) -> tuple[set[int], set[tuple[int, int]]]:
        with self.lock:
            return set(self.owned), set(self.consumed)

    def leave(self) -> None:
        self.stopping.set()
        self.thread.join(20)
        assert not self.thread.is_alive(), f"{self.name} did not close"

    def _note(self, owned: set[int], batch: list[tuple[int, int]]) -> None:
        with self.lock:
            self.owned = owned
            self.consumed.update(batch)

    def _run(self) -> None:
        try:
            if self.client == "kafka-python":
                self._kafka_python()
            else:
                asyncio.run(self._aiokafka())
        except Exception as exc:  # noqa: BLE001 - the test checks `errors` is empty
            self.errors.append(repr(exc))
        finally:
            with self.lock:
                self.owned = set()

    def _kafka_python(self) -> None:
        consumer = kafka.KafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=self.group, client_id=self.name,
            auto_offset_reset="earliest", enable_auto_commit=False,
            session_timeout_ms=SESSION_MS, heartbeat_interval_ms=HEARTBEAT_MS,
            fetch_max_wait_ms=100, retry_backoff_ms=50)
        try:
            # kafka-python 3.0.12 can hang a leader whose first assignment was made before its
            # metadata snapshot held the topic: the metadata then asks for a rejoin, the leader's
            # new assignment makes need_rejoin() False while that join is in flight, the join is
            # never completed, heartbeats stay disabled and the session expires. With a pattern
            # subscription it fetches metadata before its first join (KAFKA-3949's guard), so that
            # rejoin is never asked for.
            consumer.subscribe(pattern=f"^{self.topic}$")
            while not self.stopping.is_set():
                batches = consumer.poll(timeout_ms=100)
                batch = [(tp.partition, message.offset)
                         for tp, messages in batches.items() for message in messages]
                self._note({tp.partition for tp in consumer.assignment()}, batch)
                if batch:
                    # Refused in a rebalance: the next owner starts from the last commit.
                    with contextlib.suppress(kafka.errors.CommitFailedError):
                        consumer.commit()
        finally:
            consumer.close()

    async def _aiokafka(self) -> None:
        consumer = aiokafka.AIOKafkaConsumer(
            self.topic, bootstrap_servers=self.bootstrap, group_id=self.group,
            client_id=self.name, auto_offset_reset="earliest", enable_auto_commit=False,
            session_timeout_ms=SESSION_MS, heartbeat_interval_ms=HEARTBEAT_MS,
            fetch_max_wait_ms=100, retry_backoff_ms=50)
        await consumer.start()
        try:
            while not self.stopping.is_set():
                batches = await consumer.getmany(timeout_ms=100)
                batch = [(tp.partition, message.offset)
                         for tp, messages in batches.items() for message in messages]
                self._note({tp.partition for tp in consumer.assignment()}, batch)
                if batch:
                    with contextlib.suppress(aiokafka.errors.CommitFailedError):
                        await consumer.commit()
        finally:
            await consumer.stop()


@pytest.mark.parametrize("client", ["kafka-python", "aiokafka"])
def test_group_flow_with_python_clients(broker: BrokerProcess, client: str) -> None:
    """Three kafka-python / aiokafka members share six partitions disjointly; one leaves
    (LeaveGroup) mid-stream and the other two take its partitions over well before a session
    timeout would have; every record is consumed."""
    create_topic(broker.bootstrap, "flow", 6)
    members = [ThreadMember(client, broker.bootstrap, f"flow-{client}", "flow", f"{client}-{n}")
               for n in range(3)]
    leaver, stayers = members[0], members[1:]
    try:
        wait_until(lambda: disjoint_cover([member.snapshot()[0] for member in members], 6)
                   and all(member.snapshot()[0] for member in members), TIMEOUT,
                   "three members sharing six partitions")
        produce(broker.bootstrap, "flow", 6, range(0, 300))
        wait_until(lambda: len(leaver.snapshot()[1]) >= 10, TIMEOUT, "the leaver consuming")
        left = time.monotonic()
        leaver.leave()
        produce(broker.bootstrap, "flow", 6, range(300, 600))
        moved = wait_until(
            lambda: disjoint_cover([member.snapshot()[0] for member in stayers], 6), TIMEOUT,
            "the two others owning all six partitions")
        ends = end_offsets(broker.bootstrap, "flow", 6)
        assert sum(ends.values()) == 600
        wait_until(lambda: set().union(*(member.snapshot()[1] for member in members))
                   >= all_offsets(ends), TIMEOUT, "every record consumed")
    finally:
        for member in members:
            member.leave()
    assert [member.errors for member in members] == [[], [], []]
    assert moved - left < SESSION_MS / 1000, "the leave was not honoured: a session expired"
    assert set().union(*(member.snapshot()[1] for member in members)) == all_offsets(ends)


# --- cooperative-sticky: retained partitions are never revoked ---------------------------------


def test_cooperative_sticky_members_keep_what_they_retain(broker: BrokerProcess,
                                                          tmp_path: Path) -> None:
    """confluent-kafka with `cooperative-sticky` over the classic protocol: three members join one
    by one; in the incremental rounds each member is revoked only the partitions that move away
    from it (never one it keeps), nothing is lost, and every record is consumed."""
    create_topic(broker.bootstrap, "sticky", 6)
    settings = {"bootstrap": broker.bootstrap, "group": "sticky", "topic": "sticky",
                "session_ms": SESSION_MS, "heartbeat_ms": HEARTBEAT_MS,
                "strategy": "cooperative-sticky"}
    members: list[Member] = []
    describer = RawClient(broker.bootstrap, "describer")

    def report() -> str:
        return "\n".join(member.describe() for member in members)

    try:
        for number in range(3):
            members.append(Member(tmp_path, client_id=f"sticky-{number}", **settings))
            produce(broker.bootstrap, "sticky", 6, range(200 * number, 200 * (number + 1)))
            wait_until(lambda: all(member.owned() for member in members)
                       and disjoint_cover([member.owned() for member in members], 6), TIMEOUT,
                       f"{len(members)} members sharing six partitions")
        ends = end_offsets(broker.bootstrap, "sticky", 6)
        assert sum(ends.values()) == 600
        wait_until(lambda: set().union(*(member.records() for member in members))
                   >= all_offsets(ends), TIMEOUT, "every record consumed")
        described = describer.describe("sticky")
        final = [member.owned() for member in members]
        histories = [member.snapshot() for member in members]  # before close() revokes all
    except BaseException:
        print(report())
        raise
    finally:
        describer.close()
        for member in members:
            member.stop()
    assert described["state"] == "Stable" and described["protocol"] == "cooperative-sticky"
    assert disjoint_cover(final, 6) and all(len(owned) == 2 for owned in final), final
    for member, owned, history in zip(members, final, histories, strict=True):
        events = [event for _, event in history if event["event"] != "record"]
        revoked = [p for event in events if event["event"] == "revoke"
                   for p in event["partitions"]]
        assert not any(event["event"] == "lost" for event in events), report()
        # Eager rebalancing would revoke everything each round, the kept partitions included.
        assert not set(revoked) & owned, f"{member.name} was revoked a partition it kept\n{report()}"
        assigned = [p for event in events if event["event"] == "assign"
                    for p in event["partitions"]]
        assert len(assigned) == len(set(assigned)), f"{member.name} reassigned\n{report()}"
        assert sorted(revoked) == sorted(set(assigned) - owned), report()


# --- heartbeats and commits through the fault proxy --------------------------------------------


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[FaultProxy, BrokerProcess]]:
    """A broker that advertises a fault proxy in front of it, so clients talk only through it."""
    broker: BrokerProcess | None = None

    def upstream() -> tuple[str, int]:
        assert broker is not None and broker.port is not None
        return "127.0.0.1", broker.port

    with FaultProxy(upstream) as proxy:
        broker = BrokerProcess(tmp_path / "data", ("--advertised", proxy.address)).start()
        try:
            yield proxy, broker
        finally:
            if broker.running:
                try:
                    assert broker.stop() == 0
                finally:
                    if broker.running:
                        broker.kill()


def generations(member: Member) -> list[int]:
    """The generations librdkafka's JoinGroup answers gave the member (its `cgrp` debug log)."""
    return [int(found) for found in GENERATION.findall(
        member.stderr_path.read_text(errors="replace"))]


def committed_offsets(client: RawClient, group: str, topic: str, partitions: int) -> dict[int, int]:
    return {partition: client.committed(group, topic, partition)
            for partition in range(partitions)}


def test_lost_heartbeat_and_commit_answers(proxied: tuple[FaultProxy, BrokerProcess],
                                           tmp_path: Path) -> None:
    """Two confluent-kafka members behind the proxy: the connection is cut right after a Heartbeat
    is forwarded, later right after an OffsetCommit is, and later still in the middle of an
    OffsetCommit frame; the clients reconnect, the group keeps the same two members owning
    disjoint partitions, every record is consumed, and the committed offsets end at the log end
    (a lost commit was applied, or retried by a later one)."""
    proxy, broker = proxied
    create_topic(broker.bootstrap, "cut", 4)
    members = [Member(tmp_path, bootstrap=proxy.address, group="cut", topic="cut",
                      client_id=f"cut-{number}", session_ms=SESSION_MS,
                      heartbeat_ms=HEARTBEAT_MS, debug="cgrp") for number in range(2)]
    describer = RawClient(broker.bootstrap, "describer")  # straight to the broker

    def report() -> str:
        return "\n".join(member.describe() for member in members)

    try:
        wait_until(lambda: all(member.owned() for member in members)
                   and disjoint_cover([member.owned() for member in members], 4), TIMEOUT,
                   "two members sharing four partitions")
        before = describer.describe("cut")
        connections = proxy.connections
        produce(broker.bootstrap, "cut", 4, range(0, 200))
        proxy.drop_answer(HEARTBEAT, 2)
        assert proxy.wait_for(lambda relay: len(relay.dropped) == 1, TIMEOUT), "no heartbeat cut"
        produce(broker.bootstrap, "cut", 4, range(200, 400))
        proxy.drop_answer(OFFSET_COMMIT, 10)
        assert proxy.wait_for(lambda relay: len(relay.dropped) == 2, TIMEOUT), "no commit cut"
        produce(broker.bootstrap, "cut", 4, range(400, 600))
        proxy.cut_frame(OFFSET_COMMIT, 10)  # the broker reads half a commit, then end of stream
        assert proxy.wait_for(lambda relay: len(relay.cut) == 1, TIMEOUT), "no commit halved"
        produce(broker.bootstrap, "cut", 4, range(600, 800))
        ends = end_offsets(broker.bootstrap, "cut", 4)
        assert sum(ends.values()) == 800
        wait_until(lambda: set().union(*(member.records() for member in members))
                   >= all_offsets(ends), TIMEOUT, "every record consumed")
        wait_until(lambda: committed_offsets(describer, "cut", "cut", 4) == ends, TIMEOUT,
                   "the commits reaching the log end")
        wait_until(lambda: disjoint_cover([member.owned() for member in members], 4), TIMEOUT,
                   "two members sharing four partitions again")
        after = describer.describe("cut")
    except BaseException:
        print(report())
        raise
    finally:
        describer.close()
        for member in members:
            member.stop()
    assert proxy.connections > connections, "nobody reconnected"
    assert after["state"] == "Stable"
    assert set(after["members"]) == set(before["members"]), report()
    assert sorted(p for _, owned in after["members"].values() for p in owned.get("cut", [])) == [
        0, 1, 2, 3]


def test_slow_heartbeat_answers_do_not_rebalance(proxied: tuple[FaultProxy, BrokerProcess],
                                                 tmp_path: Path) -> None:
    """Heartbeat answers held 2.5 s (under the 6 s session) for several heartbeats: no rebalance
    (no member's generation changes, no partition is revoked or assigned), the same members."""
    proxy, broker = proxied
    create_topic(broker.bootstrap, "slow", 4)
    members = [Member(tmp_path, bootstrap=proxy.address, group="slow", topic="slow",
                      client_id=f"slow-{number}", session_ms=SESSION_MS,
                      heartbeat_ms=HEARTBEAT_MS, debug="cgrp") for number in range(2)]
    describer = RawClient(broker.bootstrap, "describer")

    def report() -> str:
        return "\n".join(member.describe() for member in members)

    def rebalance_events(member: Member) -> list[dict[str, Any]]:
        return [event for _, event in member.snapshot()
                if event["event"] in ("assign", "revoke", "lost")]

    try:
        wait_until(lambda: all(member.owned() for member in members)
                   and disjoint_cover([member.owned() for member in members], 4)
                   and describer.describe("slow")["state"] == "Stable", TIMEOUT,
                   "two members sharing four partitions")
        before = describer.describe("slow")
        events = [rebalance_events(member) for member in members]
        joined = [generations(member) for member in members]
        assert all(joined), "no JoinGroup answer in the cgrp debug log"
        heartbeats = proxy.requests.get(HEARTBEAT, 0)
        proxy.delay(HEARTBEAT, 2.5)
        assert proxy.wait_for(
            lambda relay: relay.requests.get(HEARTBEAT, 0) >= heartbeats + 4, TIMEOUT)
        proxy.delay(HEARTBEAT, 0)
        after = describer.describe("slow")
        assert [rebalance_events(member) for member in members] == events, report()
        assert [generations(member) for member in members] == joined, report()
    except BaseException:
        print(report())
        raise
    finally:
        describer.close()
        for member in members:
            member.stop()
    assert after["state"] == "Stable"
    assert after["members"] == before["members"]


# --- how long a classic rebalance takes -----------------------------------------------------------


class ConfluentThreadMember:
    """A confluent-kafka member in a thread of the test, for timing: `owned` from its eager
    callbacks and when each assignment arrived (the test's monotonic clock)."""

    def __init__(self, bootstrap: str, group: str, topic: str, name: str) -> None:
        self.name = name
        self.owned: set[int] = set()
        self.assigned: list[float] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.consumer = confluent_kafka.Consumer({
            "bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "session.timeout.ms": SESSION_MS, "heartbeat.interval.ms": 100,
            "fetch.wait.max.ms": 100,
            "error_cb": lambda error: self.errors.append(str(error))})
        self.consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        self.thread = threading.Thread(target=self._run, name=name)
        self.thread.start()

    def _on_assign(self, _consumer: confluent_kafka.Consumer, partitions: list[Any]) -> None:
        with self.lock:
            self.owned = {tp.partition for tp in partitions}
            self.assigned.append(time.monotonic())

    def _on_revoke(self, _consumer: confluent_kafka.Consumer, partitions: list[Any]) -> None:
        with self.lock:
            self.owned -= {tp.partition for tp in partitions}

    def _run(self) -> None:
        try:
            while not self.stopping.is_set():
                self.consumer.poll(0.02)
        finally:
            self.consumer.close()

    def state(self) -> tuple[set[int], float]:
        """What it owns and when its last assignment arrived (-inf: never)."""
        with self.lock:
            return set(self.owned), self.assigned[-1] if self.assigned else float("-inf")

    def leave(self) -> None:
        self.stopping.set()
        self.thread.join(20)
        assert not self.thread.is_alive(), f"{self.name} did not close"


def settled_since(members: list[ConfluentThreadMember], since: float, partitions: int) -> bool:
    """Every member got an assignment after `since`, and together they own a disjoint cover."""
    states = [member.state() for member in members]
    return (all(owned and assigned > since for owned, assigned in states)
            and disjoint_cover([owned for owned, _ in states], partitions))


def test_rebalance_time_when_a_third_member_joins(broker: BrokerProcess) -> None:
    """Two confluent-kafka members are Stable; a third joins (eager, classic protocol): each round
    ends with all three holding a disjoint cover of the partitions, every one of them assigned
    in that round, the group Stable with the two first members never replaced; then the third
    leaves and the two cover everything again. Times the join and the leave rounds."""
    rounds = 10
    create_topic(broker.bootstrap, "timed", 6)
    describer = RawClient(broker.bootstrap, "describer")
    stayers = [ConfluentThreadMember(broker.bootstrap, "timed", "timed", f"timer-{number}")
               for number in range(2)]
    joins: list[float] = []
    leaves: list[float] = []
    stayer_ids: list[set[str]] = []
    try:
        wait_until(lambda: settled_since(stayers, float("-inf"), 6), TIMEOUT, "two members")
        for number in range(rounds):
            started = time.monotonic()
            third = ConfluentThreadMember(broker.bootstrap, "timed", "timed", f"third-{number}")
            try:
                members = [*stayers, third]
                wait_until(lambda members=members, started=started: settled_since(
                    members, started, 6), TIMEOUT, f"round {number}: three members settled")
                joins.append(max(member.state()[1] for member in members) - started)
                described = describer.describe("timed")
                assert described["state"] == "Stable", described
                assert sorted(client for client, _ in described["members"].values()) == [
                    f"third-{number}", "timer-0", "timer-1"], described
                stayer_ids.append({member for member, (client, _) in described["members"].items()
                                   if client.startswith("timer-")})
            finally:
                left = time.monotonic()
                third.leave()
            wait_until(lambda left=left: settled_since(stayers, left, 6), TIMEOUT,
                       f"round {number}: two members settled after the leave")
            leaves.append(max(member.state()[1] for member in stayers) - left)
    finally:
        describer.close()
        for member in stayers:
            member.leave()
    assert [member.errors for member in stayers] == [[], []]
    assert len(joins) == rounds and all(ids == stayer_ids[0] for ids in stayer_ids), stayer_ids
    record_timing("classic rebalance: a third member joins two Stable ones (confluent-kafka)",
                  joins)
    record_timing("classic rebalance: the third leaves (LeaveGroup) until two cover all", leaves)
