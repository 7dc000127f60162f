"""Field types shared by every resource spec."""

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# Names become Envoy resource names, stat prefixes and URL path segments: keep them DNS-label-like.
Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
        description="Lowercase letters, digits and '-', starting and ending alphanumeric.",
        examples=["inventory"],
    ),
]

Port = Annotated[int, Field(ge=1, le=65535)]

# The shortest duration a positive timeout may have. Envoy refuses a zero connect timeout or
# retry back-off, and reads a zero route timeout as "none"; far shorter values than this would
# reach it as zero.
MIN_SECONDS = 0.001


def _off_or_measurable(value: float) -> float:
    if 0 < value < MIN_SECONDS:
        raise ValueError(f"{value:g} s is too short: give 0 (off) or at least {MIN_SECONDS:g} s")
    return value


# A timeout where 0 means "off".
TimeoutSeconds = Annotated[float, AfterValidator(_off_or_measurable)]


def _check_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from None


IPAddress = Annotated[str, AfterValidator(_check_ip)]

_HOSTNAME_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
Hostname = Annotated[
    str,
    Field(
        min_length=1,
        max_length=253,
        pattern=rf"^{_HOSTNAME_LABEL}(\.{_HOSTNAME_LABEL})*\.?$",
        examples=["inventory.game.svc.cluster.local"],
    ),
]


class Spec(BaseModel):
    """Base of every spec: unknown fields are an error, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)
