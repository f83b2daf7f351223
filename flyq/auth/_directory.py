"""The data directory's security directory (`DATA_DIR/@security`), where the SCRAM credentials
and the ACL set live: one place creates it, durably, and private to the broker's user."""

from __future__ import annotations

import os

from flyq.broker.layout import security_directory
from flyq.impl.filelayer import FileLayer, FileLock, OsFileLayer, make_dirs_durably

__all__ = ["LOCK_FILE", "ensure_security_directory", "lock_security"]

# In the security directory: held by whoever may change the credentials or the ACLs.
LOCK_FILE = ".lock"

# Only the broker's user may list or read the credentials and ACLs (SASL-15, ACL-13).
_PRIVATE = 0o700


def ensure_security_directory(layer: FileLayer, directory: str) -> None:
    """Create `directory` (`security_directory(data_dir)`) and its parents if missing, durably;
    on the real disk, mode 0700."""
    if not layer.exists(directory):
        make_dirs_durably(layer, directory)
        if isinstance(layer, OsFileLayer):
            os.chmod(directory, _PRIVATE)


def lock_security(data_dir: str, file_layer: FileLayer | None = None) -> FileLock:
    """ACL-24, SASL-16: hold `data_dir`'s credentials and ACL set for this process (the broker
    for its life, an offline `flyq users` or `flyq acl` for one command); `DirectoryLocked`
    while another process holds them."""
    layer = file_layer if file_layer is not None else OsFileLayer()
    directory = security_directory(data_dir)
    ensure_security_directory(layer, directory)
    return layer.lock(os.path.join(directory, LOCK_FILE))
