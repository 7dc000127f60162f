"""The service layer of a named resource kind: unique names, read by name (404), list a page,
replace under If-Match where an identical spec changes nothing, delete under an optional
If-Match. The kind's own rules come in as hooks: checks before storing, and what may keep a
resource from being deleted."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.orm import Session

from controlplane.api.context import AdminContext
from controlplane.api.errors import Conflict, ErrorDetail, NotFound
from controlplane.api.etag import check_if_match, etag_for
from controlplane.api.metadata import StoredResource
from controlplane.api.pagination import Page, PageParams
from controlplane.api.paths import resource_path
from controlplane.api.resource_names import check_path_name
from controlplane.store.tables import Resource


class NamedSpec(Protocol):
    @property
    def name(self) -> str: ...

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


SpecT = TypeVar("SpecT", bound=NamedSpec)
RowT = TypeVar("RowT", bound=Resource)
ResourceT = TypeVar("ResourceT", bound=StoredResource)
PageT = TypeVar("PageT", bound=Page[Any])


@dataclass(frozen=True)
class ResourceKind(Generic[SpecT, ResourceT, PageT]):
    """A kind of named resource: what to call it, and the types of its bodies."""

    singular: str  # "listener": error messages, summaries, operation ids
    plural: str  # "listeners": the URL path segment and the OpenAPI tag
    spec: type[SpecT]
    resource: type[ResourceT]
    page: type[PageT]
    article: str = "a"  # "an" for "an API key"

    @property
    def one(self) -> str:
        return f"{self.article} {self.singular}"


class Repository(Protocol[RowT]):
    """The functions of the kind's store repository module that every kind has."""

    def get(self, session: Session, name: str) -> RowT | None: ...

    def page(self, session: Session, *, limit: int, offset: int) -> Sequence[RowT]: ...

    def count(self, session: Session) -> int: ...

    def delete(self, session: Session, row: RowT) -> None: ...


class ResourceService(Generic[SpecT, RowT, ResourceT, PageT]):
    """Create, read, list, replace and delete resources of one kind.

    `add` stores a new spec and `replace` a changed one, each after the kind's own checks
    (references, conflicts with other resources); `check_deletable` raises while something
    still needs the resource. Each runs in the request's write transaction. `describe`, when
    given, renders a single resource (create, read, replace answers) with what the kind adds,
    such as warnings; list pages use the stored fields only. `check_outside` runs before that
    transaction, for checks too slow to hold it (fetching from the network).
    """

    def __init__(
        self,
        kind: ResourceKind[SpecT, ResourceT, PageT],
        repository: Repository[RowT],
        *,
        add: Callable[[Session, SpecT], RowT],
        replace: Callable[[Session, RowT, SpecT], RowT],
        check_deletable: Callable[[Session, RowT], None] | None = None,
        describe: Callable[[Session, RowT], ResourceT] | None = None,
        check_outside: Callable[[SpecT], None] | None = None,
    ) -> None:
        self.kind = kind
        self._repository = repository
        self._add = add
        self._replace = replace
        self._check_deletable = check_deletable
        self._describe = describe
        self._check_outside = check_outside

    def create(self, admin: AdminContext, spec: SpecT) -> ResourceT:
        if self._check_outside is not None:
            self._check_outside(spec)
        with admin.write() as session:
            if self._repository.get(session, spec.name) is not None:
                raise Conflict(
                    f"{self.kind.one} named {spec.name!r} already exists; PUT "
                    f"{resource_path(self.kind.plural, spec.name)} to change it",
                    details=[ErrorDetail(field="name", location="body", message="already taken")],
                )
            return self.describe(session, self._add(session, spec))

    def get(self, admin: AdminContext, name: str) -> ResourceT:
        with admin.read() as session:
            return self.describe(session, self.existing(session, name))

    def list_page(self, admin: AdminContext, params: PageParams) -> PageT:
        with admin.read() as session:
            rows = self._repository.page(session, limit=params.limit, offset=params.offset)
            return self.kind.page.of(
                [self.kind.resource.of(row) for row in rows],
                self._repository.count(session),
                params,
            )

    def replace(
        self, admin: AdminContext, name: str, spec: SpecT, if_match: str | None
    ) -> ResourceT:
        check_path_name(self.kind.singular, name, spec.name)
        if self._check_outside is not None:
            self._check_outside(spec)
        with admin.write() as session:
            row = self.existing(session, name)
            check_if_match(if_match, etag_for(row.id, row.version), required=True)
            if row.spec == spec.model_dump(mode="json"):
                return self.describe(session, row)  # nothing to change, nothing to push
            return self.describe(session, self._replace(session, row, spec))

    def delete(self, admin: AdminContext, name: str, if_match: str | None) -> None:
        with admin.write() as session:
            row = self.existing(session, name)
            check_if_match(if_match, etag_for(row.id, row.version), required=False)
            if self._check_deletable is not None:
                self._check_deletable(session, row)
            self._repository.delete(session, row)

    def describe(self, session: Session, row: RowT) -> ResourceT:
        if self._describe is not None:
            return self._describe(session, row)
        return self.kind.resource.of(row)

    def existing(self, session: Session, name: str) -> RowT:
        row = self._repository.get(session, name)
        if row is None:
            raise NotFound(f"no {self.kind.singular} named {name!r}")
        return row
