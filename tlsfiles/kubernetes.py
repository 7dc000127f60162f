"""`chaosgw certs kubernetes`: the chart's certgen Job. Keeps a CA and one leaf per identity in
Kubernetes Secrets (the leaves as kubernetes.io/tls Secrets with ca.crt), creating what is
missing and keeping what exists, so upgrades never re-issue and a mounted Secret is a TLS
directory as is."""

import base64
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tlsfiles.directory import CA_FILE, CERT_FILE, KEY_FILE
from tlsfiles.issue import Issued, LeafRequest, issue_leaf, new_ca

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
CA_KEY = "ca.key"
SPIFFE = "spiffe://"


class KubernetesError(Exception):
    """The API server refused a request (the message says which and why)."""


@dataclass(frozen=True)
class Identity:
    """One leaf: the Secret `<prefix>-<name>-tls`, its SAN URIs and DNS names."""

    name: str
    uris: tuple[str, ...]
    hosts: tuple[str, ...]

    @classmethod
    def parse(cls, value: str) -> "Identity":
        """NAME=URI_OR_HOST,URI_OR_HOST,... (the chart's --identity form)."""
        name, _, names = value.partition("=")
        items = [item for item in names.split(",") if item]
        if not name or not items:
            raise ValueError(f"--identity {value!r}: expected NAME=URI,HOST,...")
        uris = tuple(item for item in items if item.startswith(SPIFFE))
        hosts = tuple(item for item in items if not item.startswith(SPIFFE))
        return cls(name, uris, hosts)

    def request(self, days: int) -> LeafRequest:
        # Names it answers on make a server certificate; an identity URI a client one.
        return LeafRequest(
            f"chaosgw {self.name}",
            uris=self.uris,
            hosts=self.hosts,
            server=bool(self.hosts),
            client=bool(self.uris),
            days=days,
        )


class SecretsApi:
    """The Secrets of one namespace, over the Kubernetes REST API."""

    def __init__(self, client: httpx.Client, namespace: str) -> None:
        self._client = client
        self._path = f"/api/v1/namespaces/{namespace}/secrets"

    @classmethod
    def in_cluster(cls, namespace: str) -> "SecretsApi":
        """With the pod's service account, as a Job in the cluster runs."""
        host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
        if not host:
            raise KubernetesError("KUBERNETES_SERVICE_HOST is unset: run this in a pod")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        host = f"[{host}]" if ":" in host else host
        token = (SERVICE_ACCOUNT / "token").read_text().strip()
        client = httpx.Client(
            base_url=f"https://{host}:{port}",
            headers={"Authorization": f"Bearer {token}"},
            verify=str(SERVICE_ACCOUNT / "ca.crt"),
            timeout=10.0,
        )
        return cls(client, namespace)

    def get(self, name: str) -> dict[str, bytes] | None:
        """The Secret's data, decoded; None when there is no such Secret."""
        response = self._client.get(f"{self._path}/{name}")
        if response.status_code == 404:
            return None
        _raise_for(response, f"reading Secret {name}")
        data: Mapping[str, str] = response.json().get("data") or {}
        return {key: base64.b64decode(value) for key, value in data.items()}

    def create(self, name: str, data: Mapping[str, bytes], kind: str) -> bool:
        """Creates the Secret; False when another writer created it first (409)."""
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "chaosgw"}},
            "type": kind,
            "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
        }
        response = self._client.post(self._path, json=body)
        if response.status_code == 409:
            return False
        _raise_for(response, f"creating Secret {name}")
        return True


def _raise_for(response: httpx.Response, doing: str) -> None:
    if response.is_success:
        return
    try:
        reason = response.json().get("message", response.text)
    except ValueError:
        reason = response.text
    raise KubernetesError(f"{doing}: HTTP {response.status_code}: {reason}")


def ensure(
    api: SecretsApi, prefix: str, identities: Sequence[Identity], *, leaf_hours: int
) -> list[str]:
    """Creates the CA Secret and every leaf Secret that is missing; the names created."""
    created = []
    ca_name = f"{prefix}-ca"
    stored = api.get(ca_name)
    if stored is None:
        fresh = new_ca(f"{prefix} CA")
        if api.create(ca_name, {CA_FILE: fresh.certificate, CA_KEY: fresh.key}, "Opaque"):
            created.append(ca_name)
        stored = api.get(ca_name)  # whoever won the race, everyone signs with the stored CA
    if stored is None or CA_FILE not in stored or CA_KEY not in stored:
        raise KubernetesError(f"Secret {ca_name} lacks {CA_FILE} or {CA_KEY}")
    ca = Issued(stored[CA_FILE], stored[CA_KEY])
    days = max(1, math.ceil(leaf_hours / 24))
    for identity in identities:
        name = f"{prefix}-{identity.name}-tls"
        if api.get(name) is not None:
            continue
        leaf = issue_leaf(ca, identity.request(days))
        data = {CA_FILE: ca.certificate, CERT_FILE: leaf.certificate, KEY_FILE: leaf.key}
        if api.create(name, data, "kubernetes.io/tls"):
            created.append(name)
    return created
