"""SQL for certificates."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.model import CertificateSpec, ListenerSpec
from controlplane.store.repositories import specs
from controlplane.store.tables import Certificate, Listener


def get(session: Session, name: str) -> Certificate | None:
    return session.execute(select(Certificate).where(Certificate.name == name)).scalar_one_or_none()


def names(session: Session) -> set[str]:
    return set(session.execute(select(Certificate.name)).scalars())


def page(session: Session, *, limit: int, offset: int) -> Sequence[Certificate]:
    return (
        session.execute(select(Certificate).order_by(Certificate.name).limit(limit).offset(offset))
        .scalars()
        .all()
    )


def count(session: Session) -> int:
    return specs.count(session, Certificate)


def presenting_listener_names(session: Session, certificate: Certificate) -> list[str]:
    """Names of the listeners that present the certificate, in name order."""
    # Listeners are few; their TLS settings live in the spec.
    rows = session.execute(select(Listener.spec).order_by(Listener.name)).scalars()
    listeners = (ListenerSpec.model_validate(spec) for spec in rows)
    return [
        listener.name
        for listener in listeners
        if listener.tls is not None and certificate.name in listener.tls.certificates
    ]


def add(session: Session, spec: CertificateSpec) -> Certificate:
    return specs.insert(session, Certificate, spec)


def replace(session: Session, row: Certificate, spec: CertificateSpec) -> Certificate:
    return specs.rewrite(session, row, spec)


def delete(session: Session, row: Certificate) -> None:
    specs.remove(session, row)
