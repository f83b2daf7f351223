"""The broker's ACL set on disk: `DATA_DIR/security/acls.json` (spec/acl.md ACL-13..15).

Every change is durable before it returns: the whole set is written through
`flyq.impl.checkpoint_file.replace_file` (temp file, fsync, rename, directory fsync), so a crash
leaves the old set or the new one, never a mix (ACL-14). A file that does not parse is
`CorruptCheckpoint` naming it, never read as an empty set (which would open every resource when
`allow.everyone.if.no.acl.found` is on, or lock everyone out).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from typing import Final

import attrs

from flyq.auth._acl import Acl
from flyq.auth._acl_filter import AclFilter
from flyq.auth._directory import ensure_security_directory
from flyq.broker.layout import SECURITY_DIRECTORY
from flyq.errors import CorruptCheckpoint, FlyQError
from flyq.impl.checkpoint_file import TEMP_SUFFIX, read_whole_file, replace_file
from flyq.impl.filelayer import FileLayer, OsFileLayer

__all__ = ["ACL_FILE", "FORMAT_VERSION", "AclStore", "decode_acls", "encode_acls"]

# In the data directory's security directory, beside the SCRAM credentials; "@" keeps it apart
# from every topic's directory (no topic name has one).
ACL_FILE: Final = os.path.join(SECURITY_DIRECTORY, "acls.json")
FORMAT_VERSION: Final = 1
_FIELDS: Final = tuple(field.name for field in attrs.fields(Acl))


def _sorted(acls: Iterable[Acl]) -> list[Acl]:
    return sorted(acls, key=attrs.astuple)


def encode_acls(acls: Iterable[Acl]) -> bytes:
    """ACL-13: the file's bytes: UTF-8 JSON `{"version": 1, "acls": [...]}`, each ACL an object
    of its seven fields, sorted, so one set always has one encoding."""
    document = {"version": FORMAT_VERSION,
                "acls": [attrs.asdict(acl) for acl in _sorted(acls)]}
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode()


def decode_acls(data: bytes, source: str) -> frozenset[Acl]:
    """ACL-13: the set held in `data`; `CorruptCheckpoint` naming `source`, the field and what
    is wrong."""
    def corrupt(what: str, field: str, position: int = 0) -> CorruptCheckpoint:
        return CorruptCheckpoint(what, field=field, position=position, source=source)

    try:
        document = json.loads(data.decode())
    except UnicodeDecodeError as exc:
        raise corrupt(f"not UTF-8 ({exc.reason})", "document", exc.start) from exc
    except json.JSONDecodeError as exc:
        raise corrupt(f"not JSON ({exc.msg})", "document", exc.pos) from exc
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
        raise corrupt(f"expected an object with \"version\": {FORMAT_VERSION}", "version")
    entries = document.get("acls")
    if not isinstance(entries, list):
        raise corrupt("expected a list", "acls")
    acls = set()
    for index, entry in enumerate(entries):
        if (not isinstance(entry, dict) or set(entry) != set(_FIELDS)
                or not all(isinstance(entry[name], str) for name in _FIELDS)):
            raise corrupt(f"expected an object of the string fields {', '.join(_FIELDS)}",
                          f"acls[{index}]")
        try:
            acls.add(Acl(**entry))
        except FlyQError as exc:
            raise corrupt(str(exc), f"acls[{index}]") from exc
    return frozenset(acls)


class AclStore:
    """The ACL set of one data directory. Thread-safe: each change reads, writes and swaps the set
    under one lock, and is durable when it returns (ACL-14)."""

    def __init__(self, path: str, layer: FileLayer, acls: frozenset[Acl]) -> None:
        self.path = path
        self._layer = layer
        self._acls = acls
        self._lock = threading.Lock()

    @classmethod
    def open(cls, data_dir: str, file_layer: FileLayer | None = None) -> AclStore:
        """The store of `data_dir`: empty when the file does not exist yet; a stray temp file of
        an interrupted write is removed (the file itself is then the old set, ACL-14)."""
        layer = file_layer if file_layer is not None else OsFileLayer()
        path = os.path.join(data_dir, ACL_FILE)
        if layer.exists(path + TEMP_SUFFIX):
            layer.remove(path + TEMP_SUFFIX)
        data = read_whole_file(layer, path)
        return cls(path, layer, frozenset() if data is None else decode_acls(data, path))

    def acls(self) -> frozenset[Acl]:
        """The ACL set."""
        return self._acls

    def describe(self, acl_filter: AclFilter) -> list[Acl]:
        """ACL-11: the ACLs passing `acl_filter`, sorted."""
        return _sorted(acl for acl in self._acls if acl_filter.matches(acl))

    def add(self, acls: Iterable[Acl]) -> None:
        """Add `acls` (ACL-9: adding one already held changes nothing); durable on return."""
        with self._lock:
            new = self._acls | frozenset(acls)
            if new != self._acls:
                self._write(new)

    def remove(self, filters: Iterable[AclFilter]) -> list[Acl]:
        """ACL-15: remove every ACL passing any of `filters`; the ACLs removed, sorted. Durable
        on return."""
        chosen = list(filters)
        with self._lock:
            removed = frozenset(acl for acl in self._acls
                                if any(f.matches(acl) for f in chosen))
            if removed:
                self._write(self._acls - removed)
        return _sorted(removed)

    def _write(self, acls: frozenset[Acl]) -> None:
        ensure_security_directory(self._layer, os.path.dirname(self.path))
        replace_file(self._layer, self.path, encode_acls(acls))
        self._acls = acls
