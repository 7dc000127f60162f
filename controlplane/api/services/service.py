"""Service rules: unique names, and no deleting a service routes still send traffic to."""

from sqlalchemy.orm import Session

from controlplane.api.context import AdminContext
from controlplane.api.errors import Conflict, ErrorDetail, NotFound
from controlplane.api.etag import check_if_match, etag_for
from controlplane.api.pagination import PageParams
from controlplane.api.paths import resource_path
from controlplane.api.resource_names import NAMED_LIMIT, check_path_name, quoted
from controlplane.api.services.schemas import ServicePage, ServiceResource
from controlplane.model import ServiceSpec
from controlplane.store.repositories import services
from controlplane.store.tables import Service


def create(admin: AdminContext, spec: ServiceSpec) -> ServiceResource:
    with admin.write() as session:
        if services.get(session, spec.name) is not None:
            raise Conflict(
                f"a service named {spec.name!r} already exists; PUT "
                f"{resource_path('services', spec.name)} to change it",
                details=[ErrorDetail(field="name", location="body", message="already taken")],
            )
        return ServiceResource.of(services.add(session, spec))


def get(admin: AdminContext, name: str) -> ServiceResource:
    with admin.read() as session:
        return ServiceResource.of(_existing(session, name))


def list_page(admin: AdminContext, params: PageParams) -> ServicePage:
    with admin.read() as session:
        rows = services.page(session, limit=params.limit, offset=params.offset)
        return ServicePage.of(
            [ServiceResource.of(row) for row in rows], services.count(session), params
        )


def replace(
    admin: AdminContext, name: str, spec: ServiceSpec, if_match: str | None
) -> ServiceResource:
    check_path_name("service", name, spec.name)
    with admin.write() as session:
        row = _existing(session, name)
        check_if_match(if_match, etag_for(row.id, row.version), required=True)
        if row.spec == spec.model_dump(mode="json"):
            return ServiceResource.of(row)  # nothing to change, nothing to push
        return ServiceResource.of(services.replace(session, row, spec))


def delete(admin: AdminContext, name: str, if_match: str | None) -> None:
    with admin.write() as session:
        row = _existing(session, name)
        check_if_match(if_match, etag_for(row.id, row.version), required=False)
        users = services.referencing_route_names(session, row, limit=NAMED_LIMIT + 1)
        if users:
            raise Conflict(
                f"service {name!r} is still used by routes {quoted(users)}; change or delete "
                "them first",
                details=[
                    ErrorDetail(
                        resource=resource_path("routes", route),
                        message=f"route {route!r} sends traffic to this service",
                    )
                    for route in users[:NAMED_LIMIT]
                ],
            )
        services.delete(session, row)


def _existing(session: Session, name: str) -> Service:
    row = services.get(session, name)
    if row is None:
        raise NotFound(f"no service named {name!r}")
    return row
