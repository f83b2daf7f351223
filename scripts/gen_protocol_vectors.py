"""Regenerate tests/golden/vectors/protocol/*.json from kafka-python's protocol classes.

Run by hand only, never by CI. The bytes come from kafka-python 3 (`kafka.protocol`, generated from
Kafka's own JSON schemas), an encoder independent of FlyQ; FlyQ's schema table only chooses the sample
values and their JSON form. Each vector is `{name, api_key, version, kind, hex, decoded}`.

kafka-python 3.0.12 ships no classes for ConsumerGroupHeartbeat (68) and ConsumerGroupDescribe (69).
For those the script builds kafka-python classes at run time, with kafka-python's own metaclass, from
Kafka's JSON message definitions in `--kafka-messages DIR`: ConsumerGroupHeartbeatRequest.json,
ConsumerGroupHeartbeatResponse.json, ConsumerGroupDescribeRequest.json and
ConsumerGroupDescribeResponse.json, as they are in apache/kafka under
`clients/src/main/resources/common/message/`. They are not checked in (Apache-licensed, and only this
script reads them). The vectors in the repository were made from apache/kafka commit
1eb7644349cb07139d6a3c1ad1986979647cac99, the one flyq/protocol/_schemas.py transcribes those two
APIs from:

    git clone --filter=blob:none --no-checkout https://github.com/apache/kafka /tmp/kafka
    commit=1eb7644349cb07139d6a3c1ad1986979647cac99
    dir=clients/src/main/resources/common/message
    mkdir -p /tmp/kafka-messages
    for name in ConsumerGroupHeartbeatRequest ConsumerGroupHeartbeatResponse \
                ConsumerGroupDescribeRequest ConsumerGroupDescribeResponse; do
        git -C /tmp/kafka show $commit:$dir/$name.json > /tmp/kafka-messages/$name.json
    done
    PYTHONPATH=$PWD python scripts/gen_protocol_vectors.py --kafka-messages /tmp/kafka-messages

Only the versions in `RANGES` (what the broker advertises) are written, so a newer Kafka JSON with more
versions gives the same bytes for these as long as it does not change them. Without
`--kafka-messages` the two APIs are skipped and their vector files are left as they are.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import tempfile
import types
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
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
    44: range(0, 2), 21: range(0, 3), 10: range(0, 5), 8: range(0, 10), 9: range(0, 10),
    22: range(0, 5), 60: range(0, 2),
    11: range(0, 10), 12: range(0, 5), 13: range(0, 6), 14: range(0, 6), 15: range(0, 6),
    16: range(0, 6), 42: range(0, 3), 47: range(0, 1), 68: range(0, 2), 69: range(0, 1),
    29: range(1, 4), 30: range(1, 4), 31: range(1, 4),
    50: range(0, 1), 51: range(0, 1), 17: range(0, 2), 36: range(0, 3),
}
# APIs kafka-python does not ship: their classes come from Kafka's JSON in --kafka-messages.
FROM_KAFKA_JSON = (68, 69)
# Where the JSON files are copied for kafka-python's loader, which reads package resources.
TEMP_PACKAGE = "_flyq_kafka_messages"


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


@contextmanager
def kafka_json_classes(directory: Path, names: list[str]) -> Iterator[dict[str, Any]]:
    """kafka-python message classes for `names`, built by its own metaclass from `<name>.json` in
    `directory` (copied into a temporary package, since kafka-python loads package resources)."""
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / TEMP_PACKAGE
        package.mkdir()
        (package / "__init__.py").write_text("")
        for name in names:
            source = directory / f"{name}.json"
            if not source.is_file():
                sys.exit(f"{source}: missing (see this script's docstring)")
            shutil.copy(source, package / source.name)
        sys.path.insert(0, tmp)
        try:
            module = importlib.import_module(TEMP_PACKAGE)
            yield {name: types.new_class(name, (ApiMessage,), {"load_json": module})
                   for name in names}
        finally:
            sys.path.remove(tmp)
            sys.modules.pop(TEMP_PACKAGE, None)


def build(
    struct: Any, fields: tuple[Field, ...], version: int, value: dict[str, Any]
) -> dict[str, Any]:
    """kafka-python keyword arguments for `value`, matching the fields present at `version` by
    position. The names must agree too, or two fields of one type in another order would go
    unnoticed; kafka-python renames only the `*_authorized_operations` it patches into bitfields."""
    kwargs: dict[str, Any] = {}
    present = [theirs for theirs in struct._fields if theirs.for_version_q(version)]
    for ours, theirs in zip((f for f in fields if f.present_in(version)), present, strict=True):
        if ours.name != theirs.name and theirs.type_str != "bitfield":
            sys.exit(f"v{version}: FlyQ's field {ours.name} is kafka-python's {theirs.name}")
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


def write(key: int, classes: dict[str, Any]) -> None:
    api = APIS[key]
    vectors = []
    for kind, schema in (("request", api.request), ("response", api.response)):
        cls = classes[f"{api.name}{kind.capitalize()}"]
        versions = RANGES[key]
        if key != cls.API_KEY:
            sys.exit(f"{cls.__name__} has api key {cls.API_KEY}, not {key}")
        if versions[-1] > cls.max_version:
            sys.exit(f"{cls.__name__} goes up to v{cls.max_version}, FlyQ advertises v{versions[-1]}")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kafka-messages", type=Path, metavar="DIR",
                        help="Kafka's JSON message definitions for the APIs kafka-python lacks")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    classes = kafka_classes()
    for key in RANGES:
        if key not in FROM_KAFKA_JSON:
            write(key, classes)
    if args.kafka_messages is None:
        skipped = ", ".join(APIS[key].name for key in FROM_KAFKA_JSON)
        print(f"skipped {skipped}: no --kafka-messages DIR", file=sys.stderr)
        return
    names = [f"{APIS[key].name}{kind}" for key in FROM_KAFKA_JSON for kind in ("Request", "Response")]
    with kafka_json_classes(args.kafka_messages, names) as extra:
        for key in FROM_KAFKA_JSON:
            write(key, extra)


if __name__ == "__main__":
    main()
