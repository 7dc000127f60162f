"""Rules about resource names shared by every domain: the path names the resource, and how
error messages list the names of resources in the way."""

from collections.abc import Callable
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session

from controlplane.api.errors import Conflict, ErrorDetail, Invalid
from controlplane.api.paths import resource_path
from controlplane.store.tables import Resource

RowT = TypeVar("RowT", bound=Resource)
RowT_contra = TypeVar("RowT_contra", bound=Resource, contravariant=True)

# How many names an error message lists; it says when there are more.
NAMED_LIMIT = 20


def check_path_name(kind: str, path_name: str, body_name: str) -> None:
    """A PUT body's `name` must equal the path's: renaming is not supported."""
    if path_name != body_name:
        raise Invalid(
            f"the body names {kind} {body_name!r} but the path {path_name!r}; to rename, "
            f"create the new {kind}, move what refers to it, then delete the old one",
            details=[ErrorDetail(field="name", location="body", message="must equal the path's")],
        )


def quoted(names: list[str]) -> str:
    """`'a', 'b'` - at most NAMED_LIMIT names, then "and more"."""
    shown = ", ".join(repr(name) for name in names[:NAMED_LIMIT])
    return shown + (" and more" if len(names) > NAMED_LIMIT else "")


def in_the_way(kind: str, names: list[str], message: str) -> list[ErrorDetail]:
    """Error details for the resources of `kind` (e.g. `routes`) that block a change, at most
    NAMED_LIMIT; `message` is formatted with each one's `name`."""
    return [
        ErrorDetail(resource=resource_path(kind, name), message=message.format(name=name))
        for name in names[:NAMED_LIMIT]
    ]


class NamedByRoutes(Protocol[RowT_contra]):
    """A repository of rows that routes' auth names (providers, roles, introspectors)."""

    def route_names(self, session: Session, row: RowT_contra, *, limit: int) -> list[str]: ...


def unused_by_routes(
    repository: NamedByRoutes[RowT], kind: str, named: str, per_route: str
) -> Callable[[Session, RowT], None]:
    """A deletion check: 409 while routes still name the row, e.g. "role 'gm' is still
    `named` routes ...", each route's detail `per_route` (formatted with its `name`)."""

    def check(session: Session, row: RowT) -> None:
        users = repository.route_names(session, row, limit=NAMED_LIMIT + 1)
        if users:
            raise Conflict(
                f"{kind} {row.name!r} is still {named} routes {quoted(users)}; change or delete "
                "them first",
                details=in_the_way("routes", users, per_route),
            )

    return check
