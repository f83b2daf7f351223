"""Field descriptors: what one schema row says about a field (spec/protocol.md "Schemas").

A `Field` is pure data: a snake_case name, a type name, the versions it is present in, the versions
it may be null in, its tag if it is a tagged field, its declared default, and for a struct (or an
array of structs) its own fields. `ApiSchema` groups one API's request and response field lists.
Only `flyq.protocol._codec` interprets them.

Type names are Kafka's: `int8 int16 int32 int64 uint16 float64 bool uuid string bytes records`,
`struct` for a nested struct, and `[]T` for an array of `T` (`[]struct` for an array of structs).
Version ranges are Kafka's notation: `"3+"`, `"0-9"`, `"1"`, or `"none"`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

import attrs

__all__ = [
    "PRIMITIVE_TYPES",
    "ApiSchema",
    "Field",
    "MessageSchema",
    "VersionRange",
    "api",
    "f",
    "parse_versions",
    "snake_case",
]

# The highest version number Kafka's open-ended ranges ("3+") reach: an int16.
MAX_VERSION = 0x7FFF
PRIMITIVE_TYPES = frozenset(
    {"int8", "int16", "int32", "int64", "uint16", "float64", "bool", "uuid", "string", "bytes",
     "records"}
)
_FIELD_TYPES = PRIMITIVE_TYPES | {"struct"} | {f"[]{t}" for t in PRIMITIVE_TYPES - {"records"}} | {
    "[]struct"
}
_CAPITAL = re.compile(r"(?<!^)(?=[A-Z])")

VersionRange = tuple[int, int]
# The `default` of a field that declares none: the codec then uses its type's zero (see `Field`).
_NO_DEFAULT = "<no default>"


def snake_case(kafka_name: str) -> str:
    """The dict key of a Kafka field name: an underscore before every capital letter except the
    first, then lower case ("ThrottleTimeMs" -> "throttle_time_ms", "TopicId" -> "topic_id")."""
    return _CAPITAL.sub("_", kafka_name).lower()


def parse_versions(text: str | None) -> VersionRange | None:
    """Kafka's version-range notation as an inclusive (low, high); None for absent or "none"."""
    if text is None or text == "none":
        return None
    if text.endswith("+"):
        return (int(text[:-1]), MAX_VERSION)
    low, _, high = text.partition("-")
    return (int(low), int(high or low))


def _in(version: int, versions: VersionRange | None) -> bool:
    return versions is not None and versions[0] <= version <= versions[1]


@attrs.frozen(cache_hash=True)
class Field:
    """One field of a message or struct.

    `default` is the field's declared Kafka default, or `_NO_DEFAULT`; `default_at(version)` gives
    the value the codec uses when a field is absent (see spec/protocol.md "Nulls and defaults").
    """

    name: str
    type: str
    versions: VersionRange
    nullable: VersionRange | None = None
    tag: int | None = None
    tagged: VersionRange | None = None
    default: object = _NO_DEFAULT
    fields: tuple[Field, ...] = ()

    def present_in(self, version: int) -> bool:
        """Whether the field is on the wire (untagged or tagged) at `version`."""
        return _in(version, self.versions)

    def nullable_in(self, version: int) -> bool:
        """Whether null is a valid value at `version`."""
        return _in(version, self.nullable)

    def tagged_in(self, version: int) -> bool:
        """Whether the field is a tagged field (in the tagged-fields section) at `version`."""
        return self.tag is not None and _in(version, self.tagged)

    @property
    def has_default(self) -> bool:
        """Whether Kafka declares a default for the field."""
        return self.default != _NO_DEFAULT

    def default_at(self, version: int) -> object:
        """The value of the field when a message leaves it out: the declared default (its null
        only where the field is nullable), else None where nullable, else the type's zero."""
        nullable = self.nullable_in(version)
        if self.has_default and (self.default is not None or nullable):
            return self.default
        if nullable:
            return None
        if self.type.startswith("[]"):
            return []
        if self.type == "struct":
            return {f.name: f.default_at(version) for f in self.fields}
        return _ZEROS[self.type]

    def default_when_absent(self, version: int) -> object:
        """The value of a field `version` lacks (PROTO-7): a declared null default stays None,
        since no null has to be encoded (JoinGroup v4's missing group_instance_id is None)."""
        if self.has_default and self.default is None:
            return None
        return self.default_at(version)


_ZEROS: Mapping[str, object] = {
    "int8": 0, "int16": 0, "int32": 0, "int64": 0, "uint16": 0, "float64": 0.0, "bool": False,
    "uuid": uuid.UUID(int=0), "string": "", "bytes": b"", "records": b"",
}


@attrs.frozen
class MessageSchema:
    """A request or a response of one API: its fields, and from which version it is flexible."""

    api_key: int
    name: str
    kind: str  # "request" or "response"
    versions: VersionRange
    flexible_from: int | None
    fields: tuple[Field, ...]

    def flexible(self, version: int) -> bool:
        """Whether `version` uses compact lengths and tagged fields (KIP-482)."""
        return self.flexible_from is not None and version >= self.flexible_from


@attrs.frozen
class ApiSchema:
    """One Kafka API. `versions` is what the codec reads and writes: (0, newest), as Kafka's field
    ranges still describe versions older than `oldest`, the oldest one Kafka itself still serves."""

    key: int
    name: str
    oldest: int
    versions: VersionRange
    flexible_from: int | None
    request: MessageSchema
    response: MessageSchema


def f(
    name: str,
    type: str,
    versions: str,
    *,
    nullable: str | None = None,
    tag: int | None = None,
    tagged: str | None = None,
    default: object = _NO_DEFAULT,
    fields: tuple[Field, ...] = (),
) -> Field:
    """A `Field` from a schema-table row written in Kafka's version notation."""
    present = parse_versions(versions)
    if present is None or type not in _FIELD_TYPES:
        raise ValueError(f"field {name}: bad versions {versions!r} or type {type!r}")
    if (type in ("struct", "[]struct")) != bool(fields):
        raise ValueError(f"field {name}: a struct type needs fields, and only a struct has them")
    return Field(name, type, present, parse_versions(nullable), tag, parse_versions(tagged),
                 default, fields)


def api(
    key: int,
    name: str,
    *,
    oldest: int,
    newest: int,
    flexible: int | None,
    request: tuple[Field, ...],
    response: tuple[Field, ...],
) -> ApiSchema:
    """An `ApiSchema` from a schema-table entry."""
    versions = (0, newest)
    return ApiSchema(
        key, name, oldest, versions, flexible,
        MessageSchema(key, name, "request", versions, flexible, request),
        MessageSchema(key, name, "response", versions, flexible, response),
    )
