"""Certificate rules: the chain and key must load as a TLS server would load them, and a
certificate a listener presents cannot be deleted."""

from sqlalchemy.orm import Session

from controlplane.api.certificates.keypair import KeyPairError, check_key_pair
from controlplane.api.certificates.schemas import CertificatePage, CertificateResource
from controlplane.api.crud.service import ResourceKind, ResourceService
from controlplane.api.errors import Conflict, ErrorDetail, Invalid
from controlplane.api.resource_names import in_the_way, quoted
from controlplane.model import CertificateSpec
from controlplane.store.repositories import certificates
from controlplane.store.tables import Certificate


def _checked(spec: CertificateSpec) -> CertificateSpec:
    try:
        check_key_pair(spec.certificate_chain, spec.private_key.get_secret_value())
    except KeyPairError as error:
        raise Invalid(
            f"certificate {spec.name!r} cannot serve TLS: {error}",
            details=[ErrorDetail(field="private_key", location="body", message=str(error))],
        ) from None
    return spec


def _add(session: Session, spec: CertificateSpec) -> Certificate:
    return certificates.add(session, _checked(spec))


def _replace(session: Session, row: Certificate, spec: CertificateSpec) -> Certificate:
    return certificates.replace(session, row, _checked(spec))


def _check_not_presented(session: Session, row: Certificate) -> None:
    users = certificates.presenting_listener_names(session, row)
    if users:
        raise Conflict(
            f"certificate {row.name!r} is presented by listeners {quoted(users)}; take it out "
            "of their tls.certificates first",
            details=in_the_way("listeners", users, "listener {name!r} presents this certificate"),
        )


resources = ResourceService(
    ResourceKind(
        "certificate", "certificates", CertificateSpec, CertificateResource, CertificatePage
    ),
    certificates,
    add=_add,
    replace=_replace,
    check_deletable=_check_not_presented,
)
