"""What every connected Envoy (or other xDS client) has been sent, has ACKed and has NACKed.

The ADS server writes here from the event loop; the admin API reads a copy from its worker
threads, hence the lock. Entries of disconnected nodes are kept for a while so an operator can
still see why a node went away.
"""

import ipaddress
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

DISCONNECTED_RETENTION_SECONDS = 3600.0
# The node metadata key under which `envoy/bootstrap.yaml` tells where Envoy's admin listens.
ADMIN_METADATA_KEY = "chaosgw_admin"


class TypeStatus(BaseModel):
    """One resource type of one node, as shown by `GET /api/v1/nodes`."""

    type_url: str
    sent_version: str | None = None
    sent_at: datetime | None = None
    acked_version: str | None = None
    acked_at: datetime | None = None
    nacked_version: str | None = None
    nacked_at: datetime | None = None
    nack_error: str | None = None


class NodeStatus(BaseModel):
    id: str
    group: str
    address: str
    user_agent: str
    admin_url: str | None = None
    connected: bool
    connected_at: datetime
    disconnected_at: datetime | None
    types: list[TypeStatus]


@dataclass
class _Type:
    sent_version: str | None = None
    sent_at: float | None = None
    acked_version: str | None = None
    acked_at: float | None = None
    nacked_version: str | None = None
    nacked_at: float | None = None
    nack_error: str | None = None


@dataclass
class _Node:
    id: str
    group: str
    address: str
    user_agent: str
    admin_url: str | None
    connected_at: float
    streams: int = 1
    disconnected_at: float | None = None
    types: dict[str, _Type] = field(default_factory=dict)


@dataclass(frozen=True)
class AdminEndpoint:
    """A connected node's Envoy admin interface."""

    node_id: str
    group: str
    url: str


def admin_url_of(metadata: Any, peer: str) -> str | None:
    """The admin URL a node announces in its metadata (a `Struct`), if any.

    An Envoy whose admin listens on every interface (0.0.0.0) is reached at the address its
    xDS stream comes from.
    """
    entry = metadata.fields.get(ADMIN_METADATA_KEY)
    if entry is None or entry.WhichOneof("kind") != "struct_value":
        return None
    fields = entry.struct_value.fields
    port = fields["port"].number_value if "port" in fields else 0.0
    try:
        address = ipaddress.ip_address(
            fields["address"].string_value if "address" in fields else ""
        )
        if address.is_unspecified:
            address = ipaddress.ip_address(_peer_host(peer))
    except ValueError:
        return None
    if not (port.is_integer() and 0 < port < 65536):
        return None
    host = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{host}:{int(port)}"


def _peer_host(peer: str) -> str:
    # gRPC names peers "ipv4:10.0.0.1:5678" or "ipv6:[::1]:5678".
    kind, _, rest = peer.partition(":")
    if kind not in ("ipv4", "ipv6"):
        return ""
    return rest.rpartition(":")[0].strip("[]")


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


class NodeRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nodes: dict[str, _Node] = {}

    def connected(
        self,
        node_id: str,
        group: str,
        address: str,
        user_agent: str,
        admin_url: str | None = None,
    ) -> None:
        now = time.time()
        with self._lock:
            self._prune(now)
            node = self._nodes.get(node_id)
            if node is None or node.disconnected_at is not None:
                self._nodes[node_id] = _Node(node_id, group, address, user_agent, admin_url, now)
            else:
                node.streams += 1

    def disconnected(self, node_id: str) -> None:
        with self._lock:
            node = self._nodes.get(node_id)
            if node is None:
                return
            node.streams -= 1
            if node.streams <= 0:
                node.disconnected_at = time.time()

    def sent(self, node_id: str, type_url: str, version: str) -> None:
        with self._lock:
            entry = self._type(node_id, type_url)
            if entry is not None:
                entry.sent_version, entry.sent_at = version, time.time()

    def acked(self, node_id: str, type_url: str, version: str) -> None:
        with self._lock:
            entry = self._type(node_id, type_url)
            if entry is not None:
                entry.acked_version, entry.acked_at = version, time.time()

    def nacked(self, node_id: str, type_url: str, version: str, error: str) -> None:
        with self._lock:
            entry = self._type(node_id, type_url)
            if entry is not None:
                entry.nacked_version, entry.nacked_at = version, time.time()
                entry.nack_error = error

    def admin_endpoints(self, groups: Collection[str]) -> list[AdminEndpoint]:
        """The admin interfaces of the connected nodes of `groups` that announced one."""
        with self._lock:
            return [
                AdminEndpoint(node.id, node.group, node.admin_url)
                for node in sorted(self._nodes.values(), key=lambda node: node.id)
                if node.group in groups and node.disconnected_at is None and node.admin_url
            ]

    def describe(self) -> list[NodeStatus]:
        """Every node, by id."""
        with self._lock:
            self._prune(time.time())
            nodes = [
                replace(node, types={url: replace(t) for url, t in node.types.items()})
                for node in sorted(self._nodes.values(), key=lambda node: node.id)
            ]
        return [
            NodeStatus(
                id=node.id,
                group=node.group,
                address=node.address,
                user_agent=node.user_agent,
                admin_url=node.admin_url,
                connected=node.disconnected_at is None,
                connected_at=datetime.fromtimestamp(node.connected_at, UTC),
                disconnected_at=_time(node.disconnected_at),
                types=[
                    TypeStatus(
                        type_url=type_url,
                        sent_version=entry.sent_version,
                        sent_at=_time(entry.sent_at),
                        acked_version=entry.acked_version,
                        acked_at=_time(entry.acked_at),
                        nacked_version=entry.nacked_version,
                        nacked_at=_time(entry.nacked_at),
                        nack_error=entry.nack_error,
                    )
                    for type_url, entry in sorted(node.types.items())
                ],
            )
            for node in sorted(nodes, key=lambda node: node.id)
        ]

    def _type(self, node_id: str, type_url: str) -> _Type | None:
        node = self._nodes.get(node_id)
        if node is None:
            return None
        return node.types.setdefault(type_url, _Type())

    def _prune(self, now: float) -> None:
        stale = [
            node_id
            for node_id, node in self._nodes.items()
            if node.disconnected_at is not None
            and now - node.disconnected_at > DISCONNECTED_RETENTION_SECONDS
        ]
        for node_id in stale:
            del self._nodes[node_id]
