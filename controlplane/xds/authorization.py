"""Who may read which node group: a client's certificate decides, before anything is sent.

An Envoy's certificate names its node group (a SAN URI, tlsfiles.identities); it reads that
group and no other. The policy group (API-key hashes, client secrets) is for the gateway's own
services only. A refused stream gets PERMISSION_DENIED and not one resource.
"""

import logging
from dataclasses import dataclass
from typing import Any

import grpc

from controlplane.xds import metrics
from controlplane.xds.snapshot import POLICY_GROUP
from tlsfiles.identities import Identity

log = logging.getLogger(__name__)

# gRPC's auth-context property holding the peer's certificate (a verified one: the server
# requires client certificates of its CA).
_PEER_CERTIFICATE = "x509_pem_cert"


class StreamRefused(Exception):
    """A node asked for a group its certificate does not entitle it to."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Peer:
    """What one stream's client may read: everything over plaintext (development, or a mesh
    that authenticates), else what its certificate names."""

    identity: Identity | None

    def check(self, group: str) -> None:
        """Raise StreamRefused unless this peer may read `group`."""
        identity = self.identity
        if identity is None:
            return
        if not identity.groups and not identity.services:
            raise StreamRefused(
                "no_identity", "the client certificate names no node group or service"
            )
        if group == POLICY_GROUP:
            if not identity.services:
                raise StreamRefused(
                    "policy_without_service_identity",
                    f"group {group} is for the gateway's services; this certificate is a node's",
                )
        elif group not in identity.groups:
            raise StreamRefused("other_group", f"this certificate is not for node group {group!r}")


# A plaintext server's peers: nothing to check them by.
UNCHECKED = Peer(None)


class Authorization:
    """Makes each stream's Peer: `tls` says whether the server verifies client certificates."""

    def __init__(self, *, tls: bool) -> None:
        self._tls = tls

    def peer(self, context: grpc.aio.ServicerContext[Any, Any]) -> Peer:
        if not self._tls:
            return UNCHECKED
        certificate = next(iter(context.auth_context().get(_PEER_CERTIFICATE, ())), None)
        if certificate is None:
            return Peer(Identity())
        return Peer(Identity.of_pem(certificate))


def refused(error: StreamRefused, node_id: str, group: str, peer: str) -> None:
    """Count and log a refusal (a client that may be probing, so a warning)."""
    metrics.XDS_REFUSED_STREAMS.labels(reason=error.reason).inc()
    log.warning(
        "xds stream refused",
        extra={"node": node_id, "group": group, "peer": peer, "reason": error.reason},
    )
