"""The broker configuration file (flyq.impl.broker_config, BCFG-1..2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flyq.errors import InvalidConfig
from flyq.impl.broker_config import (
    CONFIG_FILE,
    InvalidBrokerConfig,
    load_broker_config,
)
from flyq.impl.config import LogConfig


def write(tmp_path: Path, text: str | bytes) -> Path:
    """Write `text` as DATA_DIR/flyq.toml and return the data dir."""
    data = text.encode() if isinstance(text, str) else text
    (tmp_path / CONFIG_FILE).write_bytes(data)
    return tmp_path


def test_missing_default_file_gives_log_config_defaults(tmp_path: Path) -> None:
    """Without DATA_DIR/flyq.toml new topics start from LogConfig() (BCFG-1)."""
    assert load_broker_config(str(tmp_path)) == LogConfig()


def test_missing_explicit_file_is_an_error_naming_it(tmp_path: Path) -> None:
    """A file named explicitly must exist (BCFG-1)."""
    missing = str(tmp_path / "nope.toml")
    with pytest.raises(InvalidBrokerConfig, match=r"nope\.toml: the file does not exist"):
        load_broker_config(str(tmp_path), missing)


def test_log_table_sets_defaults(tmp_path: Path) -> None:
    """[log] keys override LogConfig's defaults; other fields keep theirs."""
    data_dir = write(tmp_path, "[log]\nsegment_bytes = 4096\nflush_messages = 10\n")
    config = load_broker_config(str(data_dir))
    assert config == LogConfig(segment_bytes=4096, flush_messages=10)


def test_explicit_file_wins_over_data_dir_file(tmp_path: Path) -> None:
    """An explicit path is read instead of DATA_DIR/flyq.toml."""
    data_dir = write(tmp_path, "[log]\nsegment_bytes = 4096\n")
    other = tmp_path / "other.toml"
    other.write_text("[log]\nsegment_bytes = 8192\n")
    assert load_broker_config(str(data_dir), str(other)).segment_bytes == 8192


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[log\n", "not valid TOML"),
        (b"\xff = 1\n", "not UTF-8 text (byte 0)"),
        ("[log]\nsegment_byte = 1\n", "config log.segment_byte: unknown key"),
        ("[broker]\nport = 1\n", "config broker: unknown table or key"),
        ("log = 3\n", "config log=3: expected a table"),
        ('[log]\nsegment_bytes = "big"\n', "config log.segment_bytes='big': expected an integer"),
        ("[log]\nflush_ms = true\n", "config log.flush_ms=True: expected an integer"),
        ("[log]\nsegment_bytes = 0\n", "config log.segment_bytes=0: must be an integer >= 1"),
        ("[log]\nindex_max_bytes = 8\n", "config log.index_max_bytes=8: must be >= 24"),
    ],
)
def test_bad_files_name_the_file_and_key(tmp_path: Path, text: str | bytes, message: str) -> None:
    """Bad TOML, unknown keys and bad values raise InvalidConfig naming file and key (BCFG-2)."""
    data_dir = write(tmp_path, text)
    with pytest.raises(InvalidConfig) as raised:
        load_broker_config(str(data_dir))
    assert str(raised.value).startswith(str(data_dir / CONFIG_FILE) + ": ")
    assert message in str(raised.value)
