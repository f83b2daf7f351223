"""Protocol message values <-> JSON, and deterministic sample values, guided by the schema table.

Shared by tests/golden/test_protocol_vectors.py and scripts/gen_protocol_vectors.py. JSON carries a
uuid as its canonical string and `bytes`/`records` as lowercase hex; everything else as itself.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

from flyq.protocol import Field

_INT_BITS = {"int8": 7, "int16": 15, "int32": 31, "int64": 63, "uint16": 16}


def _convert(field: Field, type_name: str, value: Any, version: int, to_json: bool) -> Any:
    if value is None:
        return None
    if type_name.startswith("[]"):
        return [_convert(field, type_name[2:], v, version, to_json) for v in value]
    if type_name == "struct":
        return convert(field.fields, version, value, to_json)
    if type_name == "uuid":
        return str(value) if to_json else uuid.UUID(value)
    if type_name in ("bytes", "records"):
        return bytes(value).hex() if to_json else bytes.fromhex(value)
    return value


def convert(fields: tuple[Field, ...], version: int, value: dict[str, Any], to_json: bool
            ) -> dict[str, Any]:
    """The fields of `value` present at `version`, converted to (or from) their JSON form."""
    return {
        f.name: _convert(f, f.type, value[f.name], version, to_json)
        for f in fields
        if f.present_in(version)
    }


def project(fields: tuple[Field, ...], version: int, value: dict[str, Any]) -> dict[str, Any]:
    """`value` with only the fields present at `version` (recursively); records as bytes."""
    return convert(fields, version, convert(fields, version, value, True), False)


def sample(fields: tuple[Field, ...], version: int, seed: int = 1) -> dict[str, Any]:
    """A deterministic value with non-default contents: two elements per array, distinct numbers
    and strings, null for every other nullable field, every tagged field set."""
    return _sample_struct(fields, version, itertools.count(seed))


def _sample_struct(fields: tuple[Field, ...], version: int, counter: Iterator[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields:
        if not f.present_in(version):
            continue
        n = next(counter)
        if f.nullable_in(version) and n % 2 == 0:
            out[f.name] = None
        else:
            out[f.name] = _sample(f, f.type, version, counter, n)
    return out


def _sample(f: Field, type_name: str, version: int, counter: Iterator[int], n: int) -> Any:
    if type_name.startswith("[]"):
        return [_sample(f, type_name[2:], version, counter, next(counter)) for _ in range(2)]
    if type_name == "struct":
        return _sample_struct(f.fields, version, counter)
    if type_name in _INT_BITS:
        return (n * 7919) % (1 << _INT_BITS[type_name]) or 1
    if type_name == "float64":
        return n + 0.5
    if type_name == "bool":
        return n % 3 != 0
    if type_name == "uuid":
        return uuid.UUID(int=n * 0x1F1F1F1F1F1F1F1F1F1F1F1F1F + 1)
    if type_name == "string":
        return f"{f.name}-{n}é"
    if type_name == "bytes":
        return bytes([n % 256, 1, 2])
    if type_name == "records":
        return b"opaque-records-" + str(n).encode()
    raise ValueError(type_name)


def values(fields: tuple[Field, ...], version: int, flexible: bool) -> Any:
    """A Hypothesis strategy for any value the schema carries at `version` (all keys present)."""
    def of(field: Field, type_name: str, nullable: bool) -> Any:
        if type_name.startswith("[]"):
            inner = st.lists(of(field, type_name[2:], False), max_size=3)
            return st.one_of(st.none(), inner) if nullable else inner
        if type_name == "struct":
            inner = values(field.fields, version, flexible)
        elif type_name in _INT_BITS:
            bits = _INT_BITS[type_name]
            low = 0 if type_name == "uint16" else -(1 << bits)
            inner = st.integers(low, (1 << bits) - 1)
        elif type_name == "float64":
            inner = st.floats(allow_nan=False)
        elif type_name == "bool":
            inner = st.booleans()
        elif type_name == "uuid":
            inner = st.uuids()
        elif type_name == "string":
            inner = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
        else:
            inner = st.binary(max_size=12)
        return st.one_of(st.none(), inner) if nullable else inner

    return st.fixed_dictionaries({
        f.name: of(f, f.type, f.nullable_in(version)) for f in fields if f.present_in(version)
    })
