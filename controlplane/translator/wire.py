"""Just enough of the protobuf wire format to splice serialized messages together.

A message's serialization followed by more encoded fields parses as the message with those
fields added: that lets a route configuration of 10k routes be assembled from each route's
cached bytes in milliseconds, instead of copying 10k messages into a new one and serializing it.
"""

from google.protobuf.message import Message

_LENGTH_DELIMITED = 2


def field_number(message_type: type[Message], field: str) -> int:
    number: int = message_type.DESCRIPTOR.fields_by_name[field].number
    return number


def length_delimited(number: int, payload: bytes) -> bytes:
    """`payload` encoded as field `number` of type bytes, string or message."""
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def serialize(message: Message) -> bytes:
    """Deterministic bytes: the same message always gives the same bytes, hence versions."""
    return message.SerializeToString(deterministic=True)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
