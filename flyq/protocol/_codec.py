"""The one interpreter of the schema table: message bodies to dicts and back (spec/protocol.md).

Rules this module keeps:

- `decode_message` consumes exactly its buffer: bytes left over after the last field are an error.
- Every malformed input raises `ProtocolError` naming the field path (`topics[0].partitions[2].records`)
  and the byte position; no `struct.error`, `IndexError`, `UnicodeDecodeError` or other exception
  escapes. A length or count is checked against the bytes that remain before anything is allocated.
- A `records` field decodes to a `memoryview` slice of the input (zero copy) or None; encoding takes
  None, bytes, a memoryview or a sequence of them, and puts each buffer into the output list as its
  own element. Scalars between them are gathered into one `bytes` chunk.
- Fields absent from a version are ignored when encoding and get their default when decoding; a key
  missing from the value being encoded gets its default too (`Field.default_at`).
- A value that cannot be encoded (wrong type, out of range, null where not nullable) raises
  `InvalidArgument` naming the field path.

Each (struct, version) pair is compiled once into a `_Plan`: the untagged fields in wire order with
their reader and writer, the tagged fields by tag, and the defaults of the fields the version lacks.
"""

from __future__ import annotations

import functools
import struct
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from flyq.errors import InvalidArgument, ProtocolError, UnsupportedVersion
from flyq.protocol._types import Field, MessageSchema

__all__ = ["decode_message", "decode_message_from", "encode_message", "encoded_size"]

_INT8 = struct.Struct(">b")
_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")
_INT64 = struct.Struct(">q")
_UINT16 = struct.Struct(">H")
_FLOAT64 = struct.Struct(">d")
_UUID_BYTES = 16
# An unsigned varint (lengths, counts, tags) holds at most 32 bits: at most 5 bytes on the wire.
_MAX_UVARINT_BYTES = 5
_MAX_UVARINT = 0xFFFFFFFF

Buffer = bytes | memoryview
Reader = Callable[["_Decoder", int, int, "_Slot"], tuple[Any, int]]
Writer = Callable[["_Encoder", Any, "_Slot"], None]


class _Fail(Exception):
    """A failure deep in a message; each enclosing struct and array adds its step to `path`."""

    def __init__(self, what: str, position: int, value: object = None) -> None:
        super().__init__(what)
        self.what = what
        self.position = position
        self.value = value
        self.path: list[str] = []

    def where(self) -> str:
        return "".join(reversed(self.path)).lstrip(".") or "<message>"


class _Slot(NamedTuple):
    """One field (or array element) at one version, compiled."""

    name: str
    read: Reader
    write: Writer
    nullable: bool
    default: Any
    min_size: int
    plan: _Plan | None  # a struct's fields, for `struct` and `[]struct`
    element: _Slot | None  # an array's element


class _Plan(NamedTuple):
    untagged: tuple[_Slot, ...]
    tagged: dict[int, _Slot]
    absent: tuple[tuple[str, Any], ...]
    flexible: bool
    min_size: int


def _fresh(value: Any) -> Any:
    # Defaults handed out must not share lists or dicts between messages.
    if isinstance(value, list):
        return []
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    return value


# --- decoding ---------------------------------------------------------------------------------------


class _Decoder:
    __slots__ = ("buf", "flexible")

    def __init__(self, buf: memoryview, flexible: bool) -> None:
        self.buf = buf
        self.flexible = flexible


def _need(pos: int, end: int, size: int, what: str) -> None:
    if end - pos < size:
        raise _Fail(f"{what} needs {size} bytes, {max(end - pos, 0)} left", pos)


def _fixed(st: struct.Struct, what: str) -> Reader:
    size = st.size
    unpack = st.unpack_from

    def read(d: _Decoder, pos: int, end: int, slot: _Slot) -> tuple[Any, int]:
        if end - pos < size:
            raise _Fail(f"{what} needs {size} bytes, {max(end - pos, 0)} left", pos)
        return unpack(d.buf, pos)[0], pos + size

    return read


_read_int8 = _fixed(_INT8, "int8")
_read_int16 = _fixed(_INT16, "int16")
_read_int32 = _fixed(_INT32, "int32")
_read_int64 = _fixed(_INT64, "int64")
_read_uint16 = _fixed(_UINT16, "uint16")
_read_float64 = _fixed(_FLOAT64, "float64")


def _read_bool(d: _Decoder, pos: int, end: int, slot: _Slot) -> tuple[Any, int]:
    _need(pos, end, 1, "bool")
    return d.buf[pos] != 0, pos + 1


def _read_uuid(d: _Decoder, pos: int, end: int, slot: _Slot) -> tuple[Any, int]:
    _need(pos, end, _UUID_BYTES, "uuid")
    return uuid.UUID(bytes=bytes(d.buf[pos : pos + _UUID_BYTES])), pos + _UUID_BYTES


def read_uvarint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    """An unsigned varint (at most 5 bytes, 32 bits) at `pos`; raises `_Fail`."""
    result = 0
    shift = 0
    start = pos
    while True:
        if pos >= end:
            raise _Fail("unsigned varint runs past the end", start)
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if pos - start >= _MAX_UVARINT_BYTES:
            raise _Fail("unsigned varint longer than 5 bytes", start)
    if result > _MAX_UVARINT:
        raise _Fail("unsigned varint overflows 32 bits", start)
    return result, pos


def _read_length(d: _Decoder, pos: int, end: int, slot: _Slot, short: bool) -> tuple[int, int]:
    """A length or count: -1 for null. Compact (varint of n+1) when flexible, else int16 or int32."""
    start = pos
    if d.flexible:
        n, pos = read_uvarint(d.buf, pos, end)
        n -= 1
    elif short:
        _need(pos, end, 2, "length")
        n, pos = _INT16.unpack_from(d.buf, pos)[0], pos + 2
    else:
        _need(pos, end, 4, "length")
        n, pos = _INT32.unpack_from(d.buf, pos)[0], pos + 4
    if n < 0:
        if n != -1 or not slot.nullable:
            raise _Fail(f"length {n} (null is not allowed here)" if n == -1 else f"length {n}",
                        start)
    elif n > end - pos:
        raise _Fail(f"length {n} runs past the end ({end - pos} bytes left)", start)
    return n, pos


def _read_string(d: _Decoder, pos: int, end: int, slot: _Slot) -> tuple[Any, int]:
    n, pos = _read_length(d, pos, end, slot, short=True)
    if n < 0:
        return None, pos
    try:
        return str(d.buf[pos : pos + n], "utf-8"), pos + n
    except UnicodeDecodeError as exc:
        raise _Fail(f"invalid UTF-8 ({exc.reason})", pos + exc.start) from None


def _read_bytes(d: _Decoder, pos: int, end: int, slot: _Slot) -> tuple[Any, int]:
    n, pos = _read_length(d, pos, end, slot, short=False)
    if n < 0:
        return None, pos
    return bytes(d.buf[pos : pos + n]), pos + n


def _read_records(d: _Decoder, pos: int, end: int, slot: _Slot) -> tuple[Any, int]:
    n, pos = _read_length(d, pos, end, slot, short=False)
    if n < 0:
        return None, pos
    return d.buf[pos : pos + n], pos + n


def _read_array(d: _Decoder, pos: int, end: int, slot: _Slot) -> tuple[Any, int]:
    start = pos
    n, pos = _read_length(d, pos, end, slot, short=False)
    if n < 0:
        return None, pos
    element = slot.element
    assert element is not None
    if n * max(element.min_size, 1) > end - pos:
        raise _Fail(f"array of {n} elements cannot fit in the {end - pos} bytes left", start)
    read = element.read
    items: list[Any] = []
    for i in range(n):
        try:
            value, pos = read(d, pos, end, element)
        except _Fail as fail:
            fail.path.append(f"[{i}]")
            raise
        items.append(value)
    return items, pos


def _read_struct_body(d: _Decoder, pos: int, end: int, plan: _Plan) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    for slot in plan.untagged:
        try:
            out[slot.name], pos = slot.read(d, pos, end, slot)
        except _Fail as fail:
            fail.path.append("." + slot.name)
            raise
    if plan.flexible:
        pos = _read_tagged(d, pos, end, plan, out)
    for name, default in plan.absent:
        out[name] = _fresh(default)
    return out, pos


def _read_tagged(d: _Decoder, pos: int, end: int, plan: _Plan, out: dict[str, Any]) -> int:
    start = pos
    count, pos = read_uvarint(d.buf, pos, end)
    if count * 2 > end - pos:
        raise _Fail(f"{count} tagged fields cannot fit in the {end - pos} bytes left", start)
    for _ in range(count):
        tag_at = pos
        tag, pos = read_uvarint(d.buf, pos, end)
        size, pos = read_uvarint(d.buf, pos, end)
        if size > end - pos:
            raise _Fail(f"tagged field {tag} of {size} bytes runs past the end", tag_at)
        slot = plan.tagged.get(tag)
        if slot is not None:  # unknown tags are skipped
            try:
                out[slot.name] = _read_tagged_value(d, pos, size, tag, slot)
            except _Fail as fail:
                fail.path.append("." + slot.name)
                raise
        pos += size
    for slot in plan.tagged.values():
        if slot.name not in out:
            out[slot.name] = _fresh(slot.default)
    return pos


def _read_tagged_value(d: _Decoder, pos: int, size: int, tag: int, slot: _Slot) -> Any:
    value, after = slot.read(d, pos, pos + size, slot)
    if after != pos + size:
        raise _Fail(f"tagged field {tag} holds {size} bytes but its value {after - pos}", pos)
    return value


def _read_struct(d: _Decoder, pos: int, end: int, slot: _Slot) -> tuple[Any, int]:
    assert slot.plan is not None
    if slot.nullable:
        _need(pos, end, 1, "struct marker")
        marker = _INT8.unpack_from(d.buf, pos)[0]
        pos += 1
        if marker < 0:
            return None, pos
    return _read_struct_body(d, pos, end, slot.plan)


# --- encoding ---------------------------------------------------------------------------------------


class _Encoder:
    """Scalars accumulate in `buf`; a records buffer first flushes `buf` into `parts`, then goes
    into `parts` itself."""

    __slots__ = ("buf", "flexible", "parts")

    def __init__(self, flexible: bool, prefix: bytes = b"") -> None:
        self.flexible = flexible
        self.buf = bytearray(prefix)
        self.parts: list[Buffer] = []

    def flush(self) -> None:
        if self.buf:
            self.parts.append(bytes(self.buf))
            self.buf.clear()

    def finish(self) -> list[Buffer]:
        self.flush()
        return self.parts


def _put_uvarint(buf: bytearray, value: int) -> None:
    while value > 0x7F:
        buf.append((value & 0x7F) | 0x80)
        value >>= 7
    buf.append(value)


def _put(st: struct.Struct) -> Writer:
    pack = st.pack

    def write(e: _Encoder, value: Any, slot: _Slot) -> None:
        e.buf += pack(value)

    return write


_write_int8 = _put(_INT8)
_write_int16 = _put(_INT16)
_write_int32 = _put(_INT32)
_write_int64 = _put(_INT64)
_write_uint16 = _put(_UINT16)
_write_float64 = _put(_FLOAT64)


def _write_bool(e: _Encoder, value: Any, slot: _Slot) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"expected a bool, got {type(value).__name__}")
    e.buf.append(1 if value else 0)


def _write_uuid(e: _Encoder, value: Any, slot: _Slot) -> None:
    if not isinstance(value, uuid.UUID):
        raise TypeError(f"expected a uuid.UUID, got {type(value).__name__}")
    e.buf += value.bytes


def _write_length(e: _Encoder, n: int, short: bool) -> None:
    """A length or count, -1 for null (see `_read_length`)."""
    if e.flexible:
        _put_uvarint(e.buf, n + 1)
    elif short:
        e.buf += _INT16.pack(n)
    else:
        e.buf += _INT32.pack(n)


def _null(e: _Encoder, slot: _Slot, short: bool) -> None:
    if not slot.nullable:
        raise TypeError("null where the field is not nullable")
    _write_length(e, -1, short)


def _write_string(e: _Encoder, value: Any, slot: _Slot) -> None:
    if value is None:
        _null(e, slot, short=True)
        return
    if not isinstance(value, str):
        raise TypeError(f"expected a str, got {type(value).__name__}")
    data = value.encode("utf-8")
    _write_length(e, len(data), short=True)
    e.buf += data


def _write_bytes(e: _Encoder, value: Any, slot: _Slot) -> None:
    if value is None:
        _null(e, slot, short=False)
        return
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"expected bytes, got {type(value).__name__}")
    data = memoryview(value).cast("B")
    _write_length(e, data.nbytes, short=False)
    e.buf += data


def _write_records(e: _Encoder, value: Any, slot: _Slot) -> None:
    if value is None:
        _null(e, slot, short=False)
        return
    buffers: Sequence[Any] = (
        (value,) if isinstance(value, bytes | bytearray | memoryview) else value
    )
    if not isinstance(buffers, Sequence) or isinstance(buffers, str):
        raise TypeError(f"expected bytes, a memoryview or a sequence of them, got {value!r:.40}")
    size = 0
    for buffer in buffers:
        if isinstance(buffer, bytes):
            size += len(buffer)
        elif isinstance(buffer, memoryview):
            size += buffer.nbytes
        else:
            raise TypeError(f"expected bytes or memoryview buffers, got {type(buffer).__name__}")
    _write_length(e, size, short=False)
    e.flush()
    e.parts.extend(buffers)


def _write_array(e: _Encoder, value: Any, slot: _Slot) -> None:
    if value is None:
        _null(e, slot, short=False)
        return
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    element = slot.element
    assert element is not None
    _write_length(e, len(value), short=False)
    write = element.write
    for i, item in enumerate(value):
        try:
            write(e, item, element)
        except _ENCODE_ERRORS as exc:
            raise _step(exc, f"[{i}]", item) from None


# What a writer raises on a value it cannot encode; each becomes a `_Fail` with the field's path.
_ENCODE_ERRORS = (_Fail, TypeError, ValueError, OverflowError, struct.error)


def _step(exc: Exception, step: str, value: Any) -> _Fail:
    fail = exc if isinstance(exc, _Fail) else _Fail(str(exc), -1, value)
    fail.path.append(step)
    return fail


def _write_struct_body(e: _Encoder, value: Any, plan: _Plan) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a mapping, got {type(value).__name__}")
    get = value.get
    for slot in plan.untagged:
        item = get(slot.name, slot.default)
        try:
            slot.write(e, item, slot)
        except _ENCODE_ERRORS as exc:
            raise _step(exc, "." + slot.name, item) from None
    if plan.flexible:
        _write_tagged(e, value, plan)


def _write_tagged(e: _Encoder, value: Mapping[str, Any], plan: _Plan) -> None:
    # A tagged field is written only when it differs from its default, in ascending tag order.
    present = [
        (tag, slot, value[slot.name])
        for tag, slot in sorted(plan.tagged.items())
        if slot.name in value and value[slot.name] != slot.default
    ]
    _put_uvarint(e.buf, len(present))
    for tag, slot, item in present:
        inner = _Encoder(e.flexible)
        try:
            slot.write(inner, item, slot)
        except _ENCODE_ERRORS as exc:
            raise _step(exc, "." + slot.name, item) from None
        payload = b"".join(inner.finish())
        _put_uvarint(e.buf, tag)
        _put_uvarint(e.buf, len(payload))
        e.buf += payload


def _write_struct(e: _Encoder, value: Any, slot: _Slot) -> None:
    assert slot.plan is not None
    if slot.nullable:
        if value is None:
            e.buf.append(0xFF)
            return
        e.buf.append(1)
    elif value is None:
        raise TypeError("null where the field is not nullable")
    _write_struct_body(e, value, slot.plan)


# --- compiling the table ------------------------------------------------------------------------------

# type -> (reader, writer, fixed size or None for length-prefixed)
_PRIMITIVES: Mapping[str, tuple[Reader, Writer, int | None]] = {
    "int8": (_read_int8, _write_int8, 1),
    "int16": (_read_int16, _write_int16, 2),
    "int32": (_read_int32, _write_int32, 4),
    "int64": (_read_int64, _write_int64, 8),
    "uint16": (_read_uint16, _write_uint16, 2),
    "float64": (_read_float64, _write_float64, 8),
    "bool": (_read_bool, _write_bool, 1),
    "uuid": (_read_uuid, _write_uuid, _UUID_BYTES),
    "string": (_read_string, _write_string, None),
    "bytes": (_read_bytes, _write_bytes, None),
    "records": (_read_records, _write_records, None),
}


def _slot(field: Field, type_name: str, version: int, flexible: bool, nullable: bool) -> _Slot:
    prefix = 1 if flexible else 4  # the least a length-prefixed value takes
    default = field.default_at(version) if type_name == field.type else None
    if type_name.startswith("[]"):
        element = _slot(field, type_name[2:], version, flexible, nullable=False)
        return _Slot(field.name, _read_array, _write_array, nullable, default, prefix, None, element)
    if type_name == "struct":
        plan = _compile(field.fields, version, flexible)
        size = plan.min_size + (1 if nullable else 0)
        return _Slot(field.name, _read_struct, _write_struct, nullable, default, size, plan, None)
    read, write, fixed = _PRIMITIVES[type_name]
    size = fixed if fixed is not None else 1 if flexible else 2 if type_name == "string" else 4
    return _Slot(field.name, read, write, nullable, default, size, None, None)


@functools.cache
def _compile(fields: tuple[Field, ...], version: int, flexible: bool) -> _Plan:
    untagged: list[_Slot] = []
    tagged: dict[int, _Slot] = {}
    absent: list[tuple[str, Any]] = []
    for field in fields:
        if not field.present_in(version):
            absent.append((field.name, field.default_when_absent(version)))
            continue
        slot = _slot(field, field.type, version, flexible, field.nullable_in(version))
        if flexible and field.tagged_in(version):
            assert field.tag is not None
            tagged[field.tag] = slot
        else:
            untagged.append(slot)
    min_size = sum(s.min_size for s in untagged) + (1 if flexible else 0)
    return _Plan(tuple(untagged), tagged, tuple(absent), flexible, min_size)


def _plan(schema: MessageSchema, version: int) -> _Plan:
    low, high = schema.versions
    if not low <= version <= high:
        raise UnsupportedVersion(schema.name, schema.kind, version, schema.versions)
    return _compile(schema.fields, version, schema.flexible(version))


# --- the public functions ---------------------------------------------------------------------------


def decode_message_from(
    schema: MessageSchema, version: int, buf: memoryview, pos: int = 0, end: int | None = None
) -> tuple[dict[str, Any], int]:
    """Decode a message body starting at `pos`; return it and the position after it.

    Byte positions in errors are positions in `buf`. Raises `ProtocolError` on malformed input and
    `UnsupportedVersion` for a version the schema does not define.
    """
    plan = _plan(schema, version)
    buf = buf.cast("B") if buf.format != "B" else buf
    if end is None or end > buf.nbytes:
        end = buf.nbytes
    try:
        return _read_struct_body(_Decoder(buf, plan.flexible), pos, end, plan)
    except _Fail as fail:
        raise ProtocolError(fail.what, field=fail.where(), position=fail.position,
                            source=f"{schema.name} v{version} {schema.kind}") from None


def decode_message(schema: MessageSchema, version: int, buf: memoryview) -> dict[str, Any]:
    """Decode a whole message body: every byte of `buf`, no more, no fewer.

    `records` fields are `memoryview` slices of `buf`. Raises `ProtocolError` on malformed input
    (including trailing bytes) and `UnsupportedVersion` for a version the schema does not define.
    """
    value, pos = decode_message_from(schema, version, buf)
    if pos != buf.nbytes:
        raise ProtocolError(f"{buf.nbytes - pos} bytes left after the last field", field="<message>",
                            position=pos, source=f"{schema.name} v{version} {schema.kind}")
    return value


def encode_message(
    schema: MessageSchema, version: int, value: Mapping[str, Any], *, prefix: bytes = b""
) -> list[Buffer]:
    """Encode a message body as a list of buffers whose concatenation is the wire bytes.

    `prefix` (a frame's size and header, say) is put in front of the first chunk. Records buffers
    are elements of the list as given (never copied or joined); the scalars between them are one
    `bytes` element each. Raises `InvalidArgument` for a value the schema cannot carry.
    """
    plan = _plan(schema, version)
    encoder = _Encoder(plan.flexible, prefix)
    try:
        _write_struct_body(encoder, value, plan)
    except _Fail as fail:
        raise InvalidArgument(fail.where(), fail.value, fail.what) from None
    except (TypeError, ValueError, OverflowError, struct.error) as exc:
        raise InvalidArgument("<message>", value, str(exc)) from None
    return encoder.finish()


def encoded_size(parts: Sequence[Buffer]) -> int:
    """Total bytes of an encoded message, without joining its buffers."""
    return sum(p.nbytes if isinstance(p, memoryview) else len(p) for p in parts)
