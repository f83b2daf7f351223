"""The SCRAM credential store of a data directory (spec/sasl.md SASL-12..15).

    DATA_DIR/@security/scram-credentials.json

holds, per user and mechanism, the salted and iterated credential (salt, StoredKey, ServerKey,
iterations as RFC 5802 defines them); never a password. Every change replaces the whole file
through `replace_file` (temp file, fsync, rename, directory fsync) before it returns, so a crash
leaves the old set or the new one (SASL-14). A damaged file is an error naming it, never an empty
store: an empty store would lock every user out without saying why (SASL-15).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Final

from flyq.auth._directory import ensure_security_directory
from flyq.auth._scram import ScramCredential
from flyq.broker.layout import security_directory
from flyq.errors import CorruptCheckpoint, FlyQError, UnacceptableCredential, UnknownUser
from flyq.impl.checkpoint_file import read_whole_file, replace_file
from flyq.impl.filelayer import FileLayer, OsFileLayer

__all__ = ["CREDENTIALS_FILE", "CREDENTIALS_VERSION", "CredentialStore", "credentials_path"]

CREDENTIALS_FILE: Final = "scram-credentials.json"
CREDENTIALS_VERSION: Final = 1

Credentials = dict[str, dict[str, ScramCredential]]


def credentials_path(data_dir: str) -> str:
    """Where the SCRAM credentials of `data_dir` live."""
    return os.path.join(security_directory(data_dir), CREDENTIALS_FILE)


def _encode(users: Credentials) -> bytes:
    """SASL-13: ASCII JSON, users and mechanisms sorted, binary fields in base64."""
    document = {
        "version": CREDENTIALS_VERSION,
        "users": {
            user: {
                mechanism: {
                    "iterations": credential.iterations,
                    "salt": base64.b64encode(credential.salt).decode("ascii"),
                    "stored_key": base64.b64encode(credential.stored_key).decode("ascii"),
                    "server_key": base64.b64encode(credential.server_key).decode("ascii"),
                }
                for mechanism, credential in sorted(mechanisms.items())
            }
            for user, mechanisms in sorted(users.items())
        },
    }
    return (json.dumps(document, indent=2, sort_keys=False) + "\n").encode("ascii")


def _bad(field: str, what: str, source: str) -> CorruptCheckpoint:
    return CorruptCheckpoint(what, field=field, position=0, source=source)


def _decode_bytes(value: object, field: str, source: str) -> bytes:
    if not isinstance(value, str):
        raise _bad(field, f"is {value!r}, expected base64 text", source)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad(field, f"is not valid base64 ({exc})", source) from exc


def _decode(data: bytes, source: str) -> Credentials:
    """Parse the credentials file; `CorruptCheckpoint` naming the field if anything is off."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptCheckpoint("not UTF-8 text", field=CREDENTIALS_FILE, position=exc.start,
                                source=source) from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptCheckpoint(f"not valid JSON ({exc.msg})", field=CREDENTIALS_FILE,
                                position=len(text[:exc.pos].encode("utf-8")),
                                source=source) from exc
    if not isinstance(document, dict):
        raise _bad(CREDENTIALS_FILE, "expected a JSON object", source)
    if document.get("version") != CREDENTIALS_VERSION:
        raise _bad("version", f"is {document.get('version')!r}, expected {CREDENTIALS_VERSION}",
                   source)
    users = document.get("users")
    if not isinstance(users, dict):
        raise _bad("users", f"is {users!r}, expected an object", source)
    result: Credentials = {}
    for user, mechanisms in users.items():
        if not user or not isinstance(mechanisms, dict) or not mechanisms:
            raise _bad(f"users.{user}", "expected a non-empty user with an object of mechanisms",
                       source)
        for mechanism, entry in mechanisms.items():
            field = f"users.{user}.{mechanism}"
            if not isinstance(entry, dict):
                raise _bad(field, f"is {entry!r}, expected an object", source)
            iterations = entry.get("iterations")
            if not isinstance(iterations, int) or isinstance(iterations, bool):
                raise _bad(f"{field}.iterations", f"is {iterations!r}, expected an integer",
                           source)
            try:
                credential = ScramCredential(
                    mechanism=mechanism,
                    salt=_decode_bytes(entry.get("salt"), f"{field}.salt", source),
                    stored_key=_decode_bytes(entry.get("stored_key"), f"{field}.stored_key",
                                             source),
                    server_key=_decode_bytes(entry.get("server_key"), f"{field}.server_key",
                                             source),
                    iterations=iterations)
            except CorruptCheckpoint:
                raise
            except FlyQError as exc:  # an unknown mechanism, bad iterations or key sizes
                raise _bad(field, str(exc), source) from exc
            result.setdefault(user, {})[mechanism] = credential
    return result


class CredentialStore:
    """The SCRAM credentials of one data directory; thread-safe, every change durable before it
    returns (SASL-14). `get` answers from memory; a change first re-reads the file, so that it
    keeps what another process (the offline `flyq users`) wrote meanwhile (SASL-16)."""

    def __init__(self, path: str, layer: FileLayer, users: Credentials) -> None:
        """Use `CredentialStore.open`."""
        self.path = path
        self._layer = layer
        self._users = users
        self._lock = threading.Lock()

    @classmethod
    def open(cls, data_dir: str, file_layer: FileLayer | None = None) -> CredentialStore:
        """The store of `data_dir` (empty if it has no credentials file yet);
        `CorruptCheckpoint` naming the file if it is damaged."""
        layer = file_layer if file_layer is not None else OsFileLayer()
        path = credentials_path(data_dir)
        return cls(path, layer, cls._read(layer, path))

    @staticmethod
    def _read(layer: FileLayer, path: str) -> Credentials:
        data = read_whole_file(layer, path)
        return {} if data is None else _decode(data, path)

    def reload(self) -> None:
        """Read the file again (after another process changed it)."""
        with self._lock:
            self._users = self._read(self._layer, self.path)

    def get(self, user: str, mechanism: str) -> ScramCredential | None:
        """`user`'s credential for `mechanism`, or None."""
        with self._lock:
            return self._users.get(user, {}).get(mechanism)

    def users(self) -> dict[str, tuple[tuple[str, int], ...]]:
        """Every user -> its (mechanism, iterations) pairs, sorted."""
        with self._lock:
            return {user: tuple(sorted((mechanism, credential.iterations)
                                       for mechanism, credential in mechanisms.items()))
                    for user, mechanisms in sorted(self._users.items())}

    def set(self, user: str, credential: ScramCredential) -> None:
        """Store (or replace) `user`'s credential for its mechanism, durably (SASL-14).
        `UnacceptableCredential` for an empty user name."""
        self.alter(upsertions=[(user, credential)])

    def delete(self, user: str, mechanism: str) -> None:
        """Remove `user`'s `mechanism` credential durably (the user goes with its last one);
        `UnknownUser` if it has none."""
        self.alter(deletions=[(user, mechanism)])

    def alter(self, upsertions: Sequence[tuple[str, ScramCredential]] = (),
              deletions: Sequence[tuple[str, str]] = ()) -> None:
        """Apply deletions, then upsertions, in one durable write (SASL-14): all or none. A
        deletion of a credential that is not stored raises `UnknownUser` and writes nothing;
        an empty user name raises `UnacceptableCredential`."""
        for user, _ in (*upsertions, *deletions):
            if not isinstance(user, str) or not user:
                raise UnacceptableCredential(f"user name {user!r}: expected a non-empty name")
        with self._lock:
            # What the file holds now (another process may have changed it), then a copy to edit.
            self._users = self._read(self._layer, self.path)
            users = {user: dict(mechanisms) for user, mechanisms in self._users.items()}
            for user, mechanism in deletions:
                mechanisms = users.get(user, {})
                if mechanism not in mechanisms:
                    raise UnknownUser(user, mechanism)
                del mechanisms[mechanism]
                if not mechanisms:
                    del users[user]
            for user, credential in upsertions:
                users.setdefault(user, {})[credential.mechanism] = credential
            self._write(users)

    def _write(self, users: Mapping[str, Mapping[str, ScramCredential]]) -> None:
        copied: Credentials = {user: dict(mechanisms) for user, mechanisms in users.items()}
        ensure_security_directory(self._layer, os.path.dirname(self.path))
        replace_file(self._layer, self.path, _encode(copied))
        self._users = copied
