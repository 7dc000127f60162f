"""ETags and If-Match: optimistic concurrency for PUT and DELETE.

An ETag names one version of one resource row: `"<row id>-<version>"`. Row ids are never reused,
so a resource deleted and created again under the same name never matches an old ETag.
"""

from typing import Annotated

from fastapi import Header

from controlplane.api.errors import PreconditionFailed, PreconditionRequired


def etag_for(row_id: int, version: int) -> str:
    return f'"{row_id}-{version}"'


def _tags(header: str) -> set[str]:
    # Lenient about a missing pair of quotes (a hand-typed curl header); weak tags (W/"...")
    # never match, If-Match compares strongly (RFC 9110, 13.1.1).
    tags = set()
    for part in header.split(","):
        tag = part.strip()
        if not tag or tag.startswith("W/"):
            continue
        tags.add(tag if tag.startswith('"') and tag.endswith('"') and len(tag) > 1 else f'"{tag}"')
    return tags


def check_if_match(header: str | None, current: str, *, required: bool) -> None:
    """Raise unless `header` (the request's If-Match) allows changing the version `current`."""
    if header is None or not header.strip():
        if required:
            raise PreconditionRequired(
                "this update needs an If-Match header with the resource's current ETag "
                "(read it with GET), or If-Match: * to overwrite whatever is there"
            )
        return
    if header.strip() == "*":
        return
    if current not in _tags(header):
        raise PreconditionFailed(
            f"the resource changed since you read it: its ETag is now {current}; "
            "GET it again, re-apply your change and retry"
        )


IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag of the version you read (or `*` for any version).",
    ),
]
