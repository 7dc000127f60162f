"""The live state of a service as the Envoys that carry its traffic see it: which endpoints
they route to, which are ejected or failing health checks, which circuit breakers are open.

The control plane asks every connected Envoy of the node groups using the service, through the
admin address the Envoy announced in its node metadata, all at once and each with a short
deadline. An Envoy that does not answer in time is listed as unreachable with the reason, and
the others are still reported: one stuck proxy must not hide the state of the rest.
"""

import asyncio
import re
from typing import Any

import httpx
from pydantic import BaseModel, Field

from controlplane.api.context import AdminContext
from controlplane.api.errors import NotFound
from controlplane.store.repositories import services
from controlplane.xds.nodes import AdminEndpoint

ENVOY_TIMEOUT_SECONDS = 1.0
# Envoy's circuit-breaker gauges (1 while open) for the default routing priority.
_BREAKERS = {
    "connections": "cx_open",
    "pending_requests": "rq_pending_open",
    "requests": "rq_open",
    "retries": "rq_retry_open",
}
_HEALTHY_EDS = {"HEALTHY", "UNKNOWN", "DEGRADED"}


class HostStatus(BaseModel):
    address: str = Field(examples=["10.0.0.1:8080"])
    priority: int
    healthy: bool = Field(description="Envoy sends this endpoint traffic.")
    failed_health_check: bool
    ejected: bool = Field(description="Ejected by outlier detection.")


class EnvoyServiceStatus(BaseModel):
    node_id: str
    group: str
    reachable: bool
    error: str | None = Field(default=None, description="Why the Envoy gave no state.")
    open_circuit_breakers: list[str] = Field(
        default_factory=list, description="Of connections, pending_requests, requests, retries."
    )
    ejections_active: int = 0
    hosts: list[HostStatus] = Field(default_factory=list)


class ServiceStatus(BaseModel):
    service: str
    node_groups: list[str] = Field(description="Groups whose routes send traffic to it.")
    envoys: list[EnvoyServiceStatus] = Field(
        description="Every connected Envoy of those groups that announced its admin address."
    )


def _node_groups(admin: AdminContext, name: str) -> list[str]:
    with admin.read() as session:
        row = services.get(session, name)
        if row is None:
            raise NotFound(f"no service named {name!r}")
        return services.node_groups_using(session, row)


async def service_status(admin: AdminContext, name: str) -> ServiceStatus:
    groups = await asyncio.to_thread(_node_groups, admin, name)
    endpoints = admin.nodes.admin_endpoints(groups)
    async with httpx.AsyncClient(timeout=ENVOY_TIMEOUT_SECONDS) as client:
        envoys = await asyncio.gather(*(_ask(client, envoy, name) for envoy in endpoints))
    return ServiceStatus(service=name, node_groups=groups, envoys=list(envoys))


async def _ask(client: httpx.AsyncClient, envoy: AdminEndpoint, name: str) -> EnvoyServiceStatus:
    pattern = (
        rf"^cluster\.{re.escape(name)}\.(circuit_breakers\.default\.[a-z_]+_open"
        r"|outlier_detection\.ejections_active)$"
    )
    try:
        clusters, stats = await asyncio.gather(
            client.get(f"{envoy.url}/clusters", params={"format": "json"}),
            client.get(f"{envoy.url}/stats", params={"format": "json", "filter": pattern}),
        )
        clusters.raise_for_status()
        stats.raise_for_status()
        hosts = _hosts(clusters.json(), name)
        values = {stat["name"]: stat.get("value", 0) for stat in stats.json().get("stats", [])}
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
        return EnvoyServiceStatus(
            node_id=envoy.node_id,
            group=envoy.group,
            reachable=False,
            error=f"{type(error).__name__}: {error}" if str(error) else type(error).__name__,
        )
    prefix = f"cluster.{name}."
    return EnvoyServiceStatus(
        node_id=envoy.node_id,
        group=envoy.group,
        reachable=True,
        open_circuit_breakers=[
            breaker
            for breaker, gauge in _BREAKERS.items()
            if values.get(f"{prefix}circuit_breakers.default.{gauge}")
        ],
        ejections_active=int(values.get(f"{prefix}outlier_detection.ejections_active", 0)),
        hosts=hosts,
    )


def _hosts(clusters: dict[str, Any], name: str) -> list[HostStatus]:
    cluster = next(
        (entry for entry in clusters.get("cluster_statuses", []) if entry.get("name") == name),
        None,
    )
    if cluster is None:
        return []  # the Envoy has not received the cluster (yet)
    hosts = []
    for host in cluster.get("host_statuses", []):
        socket = host["address"]["socket_address"]
        health = host.get("health_status", {})
        failed_check = bool(health.get("failed_active_health_check"))
        ejected = bool(health.get("failed_outlier_check"))
        flagged = any(value is True for value in health.values())
        hosts.append(
            HostStatus(
                address=f"{socket['address']}:{socket['port_value']}",
                priority=int(host.get("priority", 0)),
                healthy=health.get("eds_health_status", "HEALTHY") in _HEALTHY_EDS and not flagged,
                failed_health_check=failed_check,
                ejected=ejected,
            )
        )
    return hosts
