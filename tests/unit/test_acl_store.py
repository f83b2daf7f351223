"""The ACL store on real files (spec/acl.md ACL-13..15)."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from flyq.auth import Acl, AclFilter
from flyq.auth._acl_store import AclStore
from flyq.auth._directory import lock_security
from flyq.errors import CorruptCheckpoint, DirectoryLocked

ALICE, BOB = "User:alice", "User:bob"


def acl(principal: str = ALICE, name: str = "orders", operation: str = "Read",
        permission: str = "Allow", pattern: str = "Literal") -> Acl:
    return Acl(principal, "*", "Topic", pattern, name, operation, permission)


def test_a_new_store_is_empty_and_writes_nothing(tmp_path: Path) -> None:
    """ACL-13: a data directory without acls.json holds no ACL; opening it creates no file."""
    store = AclStore.open(str(tmp_path))
    assert store.acls() == frozenset()
    assert store.describe(AclFilter()) == []
    assert not (tmp_path / "@security").exists()


def test_changes_survive_a_reopen(tmp_path: Path) -> None:
    """ACL-14, ACL-15: what add and remove leave is what a new open reads; remove returns what
    it removed, sorted; adding an ACL twice keeps one."""
    store = AclStore.open(str(tmp_path))
    store.add([acl(), acl(BOB), acl(operation="Write")])
    store.add([acl()])
    assert AclStore.open(str(tmp_path)).acls() == {acl(), acl(BOB), acl(operation="Write")}
    removed = store.remove([AclFilter(principal=ALICE)])
    assert removed == [acl(), acl(operation="Write")]
    assert store.acls() == {acl(BOB)}
    assert AclStore.open(str(tmp_path)).acls() == {acl(BOB)}
    assert store.remove([AclFilter(principal="User:carol")]) == []


def test_the_file_is_the_documented_json(tmp_path: Path) -> None:
    """ACL-13: acls.json is {"version": 1, "acls": [...]} with the seven fields, sorted."""
    store = AclStore.open(str(tmp_path))
    store.add([acl(BOB), acl(ALICE, "pay", pattern="Prefixed", permission="Deny")])
    document = json.loads((tmp_path / "@security" / "acls.json").read_text())
    assert document == {"version": 1, "acls": [
        {"principal": ALICE, "host": "*", "resource_type": "Topic", "pattern_type": "Prefixed",
         "resource_name": "pay", "operation": "Read", "permission": "Deny"},
        {"principal": BOB, "host": "*", "resource_type": "Topic", "pattern_type": "Literal",
         "resource_name": "orders", "operation": "Read", "permission": "Allow"},
    ]}


def test_describe_filters_and_sorts(tmp_path: Path) -> None:
    """ACL-15: describe returns the ACLs passing the filter, in ACL-13's order."""
    store = AclStore.open(str(tmp_path))
    store.add([acl(BOB), acl(ALICE, "ord", pattern="Prefixed"), acl(ALICE, "other")])
    assert store.describe(AclFilter("Topic", "Match", "orders")) == [
        acl(ALICE, "ord", pattern="Prefixed"), acl(BOB)]


@pytest.mark.parametrize(("content", "field"), [
    (b"{\"version\": 1, \"acls\": [", "document"),
    (b"\xff\xfe", "document"),
    (b"[]", "version"),
    (b"{\"version\": 2, \"acls\": []}", "version"),
    (b"{\"version\": 1, \"acls\": {}}", "acls"),
    (b"{\"version\": 1, \"acls\": [{\"principal\": \"User:a\"}]}", "acls[0]"),
    (b"{\"version\": 1, \"acls\": [{\"principal\": \"alice\", \"host\": \"*\", "
     b"\"resource_type\": \"Topic\", \"pattern_type\": \"Literal\", \"resource_name\": \"t\", "
     b"\"operation\": \"Read\", \"permission\": \"Allow\"}]}", "acls[0]"),
])
def test_a_damaged_file_is_an_error_naming_it(tmp_path: Path, content: bytes, field: str) -> None:
    """ACL-13: a file that does not parse, or holds an invalid ACL, is CorruptCheckpoint naming
    the file and the field, never an empty set."""
    (tmp_path / "@security").mkdir()
    path = tmp_path / "@security" / "acls.json"
    path.write_bytes(content)
    with pytest.raises(CorruptCheckpoint) as raised:
        AclStore.open(str(tmp_path))
    assert str(path) in str(raised.value)
    assert raised.value.field == field


def test_open_removes_a_stray_temp_file(tmp_path: Path) -> None:
    """ACL-14: a temp file left by an interrupted write is removed at open; the set is the
    file's."""
    AclStore.open(str(tmp_path)).add([acl()])
    stray = tmp_path / "@security" / "acls.json.tmp"
    stray.write_bytes(b"{\"version\": 1, \"ac")
    assert AclStore.open(str(tmp_path)).acls() == {acl()}
    assert not stray.exists()


def test_concurrent_changes_all_take_effect(tmp_path: Path) -> None:
    """ACL-14: adds and removes from many threads at once are serialised: every add not removed
    is held, in memory and on disk."""
    store = AclStore.open(str(tmp_path))
    store.add([acl(f"User:gone{number}") for number in range(8)])

    def work(number: int) -> None:
        store.add([acl(f"User:u{number}", operation=op) for op in ("Read", "Write")])
        store.remove([AclFilter(principal=f"User:gone{number}")])

    threads = [threading.Thread(target=work, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = {acl(f"User:u{number}", operation=op) for number in range(8)
                for op in ("Read", "Write")}
    assert store.acls() == expected
    assert AclStore.open(str(tmp_path)).acls() == expected


def test_the_lock_admits_one_holder(tmp_path: Path) -> None:
    """ACL-24: while the ACL lock is held a second holder gets DirectoryLocked naming the
    directory; after release it can be taken again."""
    held = lock_security(str(tmp_path))
    try:
        with pytest.raises(DirectoryLocked, match="security"):
            lock_security(str(tmp_path))
    finally:
        held.release()
    lock_security(str(tmp_path)).release()


def test_the_security_directory_is_created_private(tmp_path: Path) -> None:
    """ACL-13, SASL-12: DATA_DIR/@security is made mode 0700, so the ACLs and the SCRAM
    credentials beside them are the broker's user's alone."""
    AclStore.open(str(tmp_path)).add([acl()])
    assert stat.S_IMODE(os.stat(tmp_path / "@security").st_mode) == 0o700
