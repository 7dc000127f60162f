"""Header and query-parameter changes a route (or a listener) makes on the way through.

Header values may carry a few of Envoy's substitution formatters, such as the client's address
or a request header. Only a documented, side-effect-free subset is accepted; any other `%` is
refused, because Envoy would either reject it or expand it into something nobody intended.
"""

import re
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from controlplane.model.common import Spec

# Formatters a header value may use, with what each expands to (shown in the error message).
HEADER_FORMATTERS = {
    "DOWNSTREAM_REMOTE_ADDRESS": "the client's address and port",
    "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": "the client's address",
    "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT": "the address of the peer that connected",
    "DOWNSTREAM_LOCAL_ADDRESS": "the address and port the request arrived on",
    "PROTOCOL": "HTTP/1.1, HTTP/2 or HTTP/3",
    "REQUESTED_SERVER_NAME": "the TLS SNI the client sent",
    "START_TIME": "when the request started",
    "REQ(header)": "the value of a request header",
}
_HEADER_NAME_CHARS = r"[A-Za-z0-9!#$&'*+.^_`|~-]"
_FORMATTER = re.compile(rf"%([A-Z_]+)(?:\(({_HEADER_NAME_CHARS}+)\))?%")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_header_value(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("a header value cannot contain control characters or line breaks")
    rest = _FORMATTER.sub(_checked_formatter, value)
    if "%" in rest:
        raise ValueError(
            f"{value!r}: '%' only starts a formatter; allowed: "
            + ", ".join(f"%{name}%" for name in HEADER_FORMATTERS)
        )
    return value


def _checked_formatter(found: re.Match[str]) -> str:
    name, argument = found.group(1), found.group(2)
    key = f"{name}(header)" if argument is not None else name
    if key not in HEADER_FORMATTERS:
        raise ValueError(
            f"formatter {found.group(0)} is not allowed; use one of "
            + ", ".join(f"%{allowed}%" for allowed in HEADER_FORMATTERS)
        )
    return ""


def _check_mutable(name: str) -> str:
    lowered = name.lower()
    if lowered == "host":
        raise ValueError("the host header cannot be changed here")
    return lowered


# Pseudo-headers (":path") and Host cannot be changed by header rules: Envoy refuses them.
MutableHeaderName = Annotated[
    str,
    Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"),
    AfterValidator(_check_mutable),
]
HeaderValueText = Annotated[str, Field(max_length=4096), AfterValidator(check_header_value)]


class HeaderValue(Spec):
    name: MutableHeaderName
    value: HeaderValueText


class HeaderChanges(Spec):
    """Applied in this order: remove, then set, then add."""

    remove: list[MutableHeaderName] = Field(default_factory=list, max_length=64)
    set: list[HeaderValue] = Field(
        default_factory=list, max_length=64, description="Replace any value the header has."
    )
    add: list[HeaderValue] = Field(
        default_factory=list, max_length=64, description="Add a value, keeping existing ones."
    )

    @model_validator(mode="after")
    def _no_contradiction(self) -> Self:
        set_names = [header.name for header in self.set]
        if len(set(set_names)) != len(set_names):
            raise ValueError("set names a header twice")
        clash = sorted(set(self.remove) & (set(set_names) | {h.name for h in self.add}))
        if clash:
            raise ValueError(f"{', '.join(clash)}: a header is either removed or given a value")
        return self


# Query names and values go into the URL as they are: unreserved and a few safe characters only.
QueryName = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9._~-]+$")]
QueryValueText = Annotated[str, Field(max_length=1024, pattern=r"^[A-Za-z0-9._~!$'()*+,;:@/-]*$")]


class QueryParam(Spec):
    name: QueryName
    value: QueryValueText


class QueryChanges(Spec):
    """Query parameters changed before the request goes upstream."""

    remove: list[QueryName] = Field(default_factory=list, max_length=64)
    set: list[QueryParam] = Field(
        default_factory=list, max_length=64, description="Replace the parameter's values."
    )
    add: list[QueryParam] = Field(
        default_factory=list, max_length=64, description="Append a value, keeping others."
    )

    @model_validator(mode="after")
    def _no_contradiction(self) -> Self:
        clash = sorted(set(self.remove) & {p.name for p in (*self.set, *self.add)})
        if clash:
            raise ValueError(f"{', '.join(clash)}: a parameter is either removed or given a value")
        return self


class Transform(Spec):
    request_headers: HeaderChanges | None = None
    response_headers: HeaderChanges | None = None
    query: QueryChanges | None = None
