"""Counter keys: `<prefix>:{<policy>:<value>:...}`, one Redis hash per counter.

The script keeps a counter's sub-windows as fields of that hash (it alone knows the time). The
braces are a Redis Cluster hash tag: the store groups a request's counters by slot with it.
Values come from clients (player ids, IPs, headers): short ones are percent-escaped so that no
`{`, `}` or `:` of theirs can move the tag or merge two counters, long ones are replaced by a
digest so a huge header cannot make a huge key.
"""

import hashlib
import string
from collections.abc import Sequence

_SAFE = frozenset(string.ascii_letters + string.digits + "._-@")
_MAX_ESCAPED = 64


def counter_key(prefix: str, policy: str, values: Sequence[str]) -> str:
    tag = ":".join([_part(policy), *(_part(value) for value in values)])
    return f"{prefix}:{{{tag}}}"


def _part(value: str) -> str:
    if len(value) <= _MAX_ESCAPED and all(char in _SAFE for char in value):
        return value
    escaped = "".join(char if char in _SAFE else _escape(char) for char in value)
    if len(escaped) <= _MAX_ESCAPED:
        return escaped
    # "#" is never in an escaped part, so a digest cannot equal an escaped value.
    return "#" + hashlib.blake2b(value.encode(), digest_size=16).hexdigest()


def _escape(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode())
