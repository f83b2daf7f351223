"""Kafka wire protocol: message schemas as data, one pure interpreter, sans-I/O connections.

Normative description: spec/protocol.md. `APIS` maps each api_key to its `ApiSchema`;
`decode_message`/`encode_message` read and write message bodies as dicts with snake_case keys;
`ServerConnection` turns bytes into `Request`s and response bodies into frame buffers;
`ClientConnection` is its mirror, request bodies to bytes and bytes to `Response`s.
"""

from flyq.protocol._codec import (
    Buffer,
    decode_message,
    decode_message_from,
    encode_message,
    encoded_size,
)
from flyq.protocol._connection import (
    DEFAULT_MAX_FRAME_BYTES,
    ClientConnection,
    Request,
    Response,
    ServerConnection,
    api_versions_body,
)
from flyq.protocol._consumer import (
    CONSUMER_PROTOCOL_TYPE,
    decode_assignment,
    decode_subscription,
    encode_assignment,
    encode_subscription,
)
from flyq.protocol._header import (
    RequestHeader,
    decode_request_header,
    decode_response_header,
    encode_request_header,
    encode_response_header,
    request_header_version,
    response_header_version,
)
from flyq.protocol._schemas import APIS, FLYQ_API_KEYS, FLYQ_KEY_RANGE
from flyq.protocol._types import ApiSchema, Field, MessageSchema, snake_case

__all__ = [
    "APIS",
    "CONSUMER_PROTOCOL_TYPE",
    "DEFAULT_MAX_FRAME_BYTES",
    "FLYQ_API_KEYS",
    "FLYQ_KEY_RANGE",
    "ApiSchema",
    "Buffer",
    "ClientConnection",
    "Field",
    "MessageSchema",
    "Request",
    "RequestHeader",
    "Response",
    "ServerConnection",
    "api_versions_body",
    "decode_assignment",
    "decode_message",
    "decode_message_from",
    "decode_request_header",
    "decode_response_header",
    "decode_subscription",
    "encode_assignment",
    "encode_message",
    "encode_request_header",
    "encode_response_header",
    "encode_subscription",
    "encoded_size",
    "request_header_version",
    "response_header_version",
    "snake_case",
]
