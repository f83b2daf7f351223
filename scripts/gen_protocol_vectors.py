"""Regenerate tests/golden/vectors/protocol/*.json from kafka-python's protocol classes.

Run by hand only (`python scripts/gen_protocol_vectors.py`), never by CI. The bytes come from
kafka-python 3 (`kafka.protocol`, generated from Kafka's own JSON schemas), an encoder independent of
FlyQ; FlyQ's schema table only chooses the sample values and their JSON form. Each vector is
`{name, api_key, version, kind, hex, decoded}`.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flyq.protocol import APIS, Field  # noqa: E402
from tests.protocol_values import convert, sample  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka.protocol.admin
    import kafka.protocol.consumer
    import kafka.protocol.metadata
    import kafka.protocol.producer  # noqa: F401
    from kafka.protocol.api_message import ApiMessage
    from kafka.protocol.data_container import DataContainer

OUT = ROOT / "tests" / "golden" / "vectors" / "protocol"
# api_key -> versions to cover (the brief's ranges).
RANGES = {
    18: range(0, 4), 3: range(0, 13), 0: range(0, 12), 1: range(4, 13), 2: range(1, 9),
    19: range(0, 8), 20: range(0, 7), 37: range(0, 4), 32: range(0, 5), 33: range(0, 3),
    44: range(0, 2), 21: range(0, 3), 10: range(0, 5), 8: range(0, 9), 9: range(0, 9),
    22: range(0, 5), 60: range(0, 2),
    11: range(0, 10), 12: range(0, 5), 13: range(0, 6), 14: range(0, 6), 15: range(0, 6),
    16: range(0, 6), 42: range(0, 3), 47: range(0, 1),
}


def kafka_classes() -> dict[str, Any]:
    found: dict[str, Any] = {}
    pending = [ApiMessage]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if getattr(sub, "_class_version", None) is None and getattr(sub, "_json", None):
                found[sub.__name__] = sub
            pending.append(sub)
    return found


def build(
    struct: Any, fields: tuple[Field, ...], version: int, value: dict[str, Any]
) -> dict[str, Any]:
    """kafka-python keyword arguments for `value`, matching fields by position (kafka-python
    renames a few, e.g. MetadataResponse's authorized_operations)."""
    kwargs: dict[str, Any] = {}
    for ours, theirs in zip(fields, struct._fields, strict=True):
        if not ours.present_in(version):
            continue
        item = value[ours.name]
        if ours.type in ("struct", "[]struct") and not theirs.has_data_class():
            # kafka-python makes the data classes of deeper structs only on first use.
            theirs.set_data_class(type(theirs.type_str, (DataContainer,), {"_struct": theirs}))
        if item is not None and ours.type == "struct":
            item = theirs.data_class(**build(theirs, ours.fields, version, item))
        elif item is not None and ours.type == "[]struct":
            item = [theirs.data_class(**build(theirs, ours.fields, version, v)) for v in item]
        elif theirs.type_str == "bitfield" and item is not None:
            item = {bit for bit in range(32) if item >> bit & 1}
        kwargs[theirs.name] = item
    return kwargs


def main() -> None:
    classes = kafka_classes()
    OUT.mkdir(parents=True, exist_ok=True)
    for key, versions in RANGES.items():
        api = APIS[key]
        vectors = []
        for kind, schema in (("request", api.request), ("response", api.response)):
            cls = classes[f"{api.name}{kind.capitalize()}"]
            for version in versions:
                value = sample(schema.fields, version, seed=version + 1)
                message = cls[version](**build(cls._struct, schema.fields, version, value))
                data = bytes(message.encode(version=version))
                vectors.append({
                    "name": f"{api.name}{kind.capitalize()}v{version}",
                    "api_key": key,
                    "version": version,
                    "kind": kind,
                    "hex": data.hex(),
                    "decoded": convert(schema.fields, version, value, to_json=True),
                })
        path = OUT / f"{api.name}.json"
        path.write_text(json.dumps(vectors, indent=1, ensure_ascii=False) + "\n")
        print(f"{path.relative_to(ROOT)}: {len(vectors)} vectors")


if __name__ == "__main__":
    main()
