"""Certificate bodies of the admin API. The private key goes in, and never comes out."""

from typing import Self

from pydantic import Field

from controlplane.api.certificates.keypair import fingerprints
from controlplane.api.metadata import ResourceMetadata, StoredResource, StoredSpecRow
from controlplane.api.pagination import Page
from controlplane.model.common import Name


class CertificateResource(StoredResource):
    """A stored certificate: its chain and fingerprints, without the private key."""

    name: Name
    certificate_chain: str
    fingerprints: list[str] = Field(
        description="SHA-256 of each certificate of the chain, the server's first."
    )

    @classmethod
    def of(cls, row: StoredSpecRow) -> Self:
        chain = row.spec["certificate_chain"]
        return cls(
            name=row.spec["name"],
            certificate_chain=chain,
            fingerprints=fingerprints(chain),
            metadata=ResourceMetadata.of(row),
        )


class CertificatePage(Page[CertificateResource]):
    """One page of certificates."""
