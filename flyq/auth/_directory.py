"""The data directory's security directory (`DATA_DIR/@security`), where the SCRAM credentials
and the ACL set live: one place creates it, durably, and private to the broker's user."""

from __future__ import annotations

import os

from flyq.impl.filelayer import FileLayer, OsFileLayer, make_dirs_durably

__all__ = ["ensure_security_directory"]

# Only the broker's user may list or read the credentials and ACLs (SASL-15, ACL-13).
_PRIVATE = 0o700


def ensure_security_directory(layer: FileLayer, directory: str) -> None:
    """Create `directory` (`security_directory(data_dir)`) and its parents if missing, durably;
    on the real disk, mode 0700."""
    if not layer.exists(directory):
        make_dirs_durably(layer, directory)
        if isinstance(layer, OsFileLayer):
            os.chmod(directory, _PRIVATE)
