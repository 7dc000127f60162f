"""Who a certificate names: a node group or a service identity, as a SPIFFE-style SAN URI."""

import re
from dataclasses import dataclass

from cryptography import x509

TRUST_DOMAIN = "spiffe://chaosgw"
_GROUP_PREFIX = f"{TRUST_DOMAIN}/group/"
_SERVICE_PREFIX = f"{TRUST_DOMAIN}/service/"
# The gateway's own services; only they may read the policy group's resources.
SERVICES = ("extauthz", "ratelimit")


# What a node group (Envoy's node.cluster) may be called, so that it fits in a URI as is.
_GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


class UnknownServiceError(ValueError):
    """A service identity that is not one of SERVICES."""


class InvalidGroupError(ValueError):
    """A node group name that cannot be put in a certificate."""


def group_uri(group: str) -> str:
    if not _GROUP_NAME.fullmatch(group):
        raise InvalidGroupError(
            f"node group {group!r}: letters, digits, '.', '_' and '-', at most 63 characters"
        )
    return f"{_GROUP_PREFIX}{group}"


def service_uri(service: str) -> str:
    if service not in SERVICES:
        raise UnknownServiceError(f"unknown service {service!r}: one of {', '.join(SERVICES)}")
    return f"{_SERVICE_PREFIX}{service}"


@dataclass(frozen=True)
class Identity:
    """What a client certificate entitles it to: the node groups and services it names."""

    groups: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()

    @classmethod
    def of_uris(cls, uris: list[str]) -> "Identity":
        groups = {uri.removeprefix(_GROUP_PREFIX) for uri in uris if uri.startswith(_GROUP_PREFIX)}
        services = {
            uri.removeprefix(_SERVICE_PREFIX)
            for uri in uris
            if uri.startswith(_SERVICE_PREFIX) and uri.removeprefix(_SERVICE_PREFIX) in SERVICES
        }
        return cls(frozenset(groups - {""}), frozenset(services))

    @classmethod
    def of_certificate(cls, certificate: x509.Certificate) -> "Identity":
        try:
            names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            return cls()
        return cls.of_uris(names.value.get_values_for_type(x509.UniformResourceIdentifier))

    @classmethod
    def of_pem(cls, pem: bytes) -> "Identity":
        return cls.of_certificate(x509.load_pem_x509_certificate(pem))
