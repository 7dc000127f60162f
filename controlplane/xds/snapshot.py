"""Versioned, serialized resources of one node group, ready to send.

Every resource is serialized once, deterministically, when its snapshot is built; its digest
and each type's version are content hashes. The same gateway state therefore always yields the
same versions, across restarts and replicas, and an Envoy that reconnects with the version it
already holds is sent nothing.
"""

import hashlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2

from controlplane.translator import GroupResources, Serialized
from controlplane.translator.wire import field_number, length_delimited

_PREFIX = "type.googleapis.com/"
CLUSTER = _PREFIX + "envoy.config.cluster.v3.Cluster"
ENDPOINT = _PREFIX + "envoy.config.endpoint.v3.ClusterLoadAssignment"
LISTENER = _PREFIX + "envoy.config.listener.v3.Listener"
ROUTE = _PREFIX + "envoy.config.route.v3.RouteConfiguration"
# Requested by name (the bootstrap's RTDS layer), pushed after the staged types.
RUNTIME = _PREFIX + "envoy.service.runtime.v3.Runtime"
# TLS certificates (SDS). Listeners name them and Envoy asks for them by name, like routes;
# being outside the stages, they go right after listeners and routes in the same push, and a
# new listener warms until its secrets arrive. A rotation changes only the secret.
SECRET = _PREFIX + "envoy.extensions.transport_sockets.tls.v3.Secret"
# ECDS: filter configurations listeners discover by name (jwt_authn), so that they change
# without a listener change. Pushed after the stages below, like any other type.
EXTENSION_CONFIG = _PREFIX + "envoy.config.core.v3.TypedExtensionConfig"
# The project's own types (proto/), for the rate-limit and auth services.
RATELIMIT_POLICY = _PREFIX + "chaosgw.ratelimit.v1.RateLimitPolicy"
API_KEY = _PREFIX + "chaosgw.auth.v1.ApiKey"
AUTH_ROUTE_POLICY = _PREFIX + "chaosgw.auth.v1.RoutePolicy"
JWT_PROVIDER = _PREFIX + "chaosgw.auth.v1.JwtProvider"
# With client secrets: the ADS channel already carries TLS private keys to Envoy (SDS).
OAUTH2_INTROSPECTOR = _PREFIX + "chaosgw.auth.v1.OAuth2Introspector"
# The node group (ADS `node.cluster`) the Python services join to get their policies. No
# listener's group can be named so: names have no dots.
POLICY_GROUP = "chaosgw.policy"

# Make before break: a listener's routes must name clusters that are already warm. Each stage
# is a parent type and the type its resources fetch by name; any other type is pushed after.
PUSH_STAGES = ((CLUSTER, ENDPOINT), (LISTENER, ROUTE))
PUSH_ORDER = tuple(type_url for stage in PUSH_STAGES for type_url in stage)
STAGED_TYPES = frozenset(PUSH_ORDER)
_REMEMBERED_DIFFERENCES = 4
_ANY_TYPE_URL = field_number(any_pb2.Any, "type_url")
_ANY_VALUE = field_number(any_pb2.Any, "value")
_RESPONSE_RESOURCES = field_number(discovery_pb2.DiscoveryResponse, "resources")
# Subscribed by wildcard: every response carries the full set, and absence means deletion.
WILDCARD_TYPES = frozenset(
    {
        CLUSTER,
        LISTENER,
        RATELIMIT_POLICY,
        API_KEY,
        AUTH_ROUTE_POLICY,
        JWT_PROVIDER,
        OAUTH2_INTROSPECTOR,
    }
)


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    # The resource as a `DiscoveryResponse.resources` entry (an Any), encoded once for every
    # node and every response that carries it.
    encoded: bytes
    digest: str
    # The translator's bytes, by identity: lets the next build reuse this resource as it is.
    payload: bytes


@dataclass(frozen=True)
class TypeSnapshot:
    type_url: str
    version: str
    resources: Mapping[str, Resource]
    names: frozenset[str]
    # Differences from earlier contents (by version, so no earlier snapshot is kept alive),
    # worked out once for all the nodes that held them.
    _differences: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, type_url: str, resources: Iterable[Resource]) -> "TypeSnapshot":
        by_name = {resource.name: resource for resource in sorted(resources, key=_by_name)}
        version = hashlib.sha256()
        for resource in by_name.values():
            version.update(resource.name.encode())
            version.update(b"\0")
            version.update(resource.digest.encode())
            version.update(b"\n")
        return cls(type_url, version.hexdigest()[:16], by_name, frozenset(by_name))

    def digest(self, name: str) -> str | None:
        resource = self.resources.get(name)
        return None if resource is None else resource.digest

    def changed_since(self, earlier: "TypeSnapshot") -> frozenset[str]:
        """Names whose content here differs from `earlier`'s, or that `earlier` lacks.

        A thousand nodes of a group hold the same earlier snapshot: the comparison is made
        once, not once per node. Only the last few earlier snapshots are remembered.
        """
        known = self._differences.get(earlier.version)
        if known is not None:
            return known
        changed = frozenset(
            name
            for name, resource in self.resources.items()
            if earlier.digest(name) != resource.digest
        )
        if len(self._differences) >= _REMEMBERED_DIFFERENCES:
            self._differences.pop(next(iter(self._differences)))
        self._differences[earlier.version] = changed
        return changed


@dataclass(frozen=True)
class Snapshot:
    types: Mapping[str, TypeSnapshot]
    # When this snapshot was built (monotonic): measures how long config takes to reach nodes.
    built_at: float = field(default_factory=time.monotonic, compare=False)

    @property
    def version(self) -> str:
        combined = hashlib.sha256()
        for type_url in sorted(self.types):
            combined.update(f"{type_url}={self.types[type_url].version};".encode())
        return combined.hexdigest()[:16]

    def of_type(self, type_url: str) -> TypeSnapshot:
        found = self.types.get(type_url)
        return found if found is not None else _empty(type_url)

    @classmethod
    def build(
        cls, resources: Mapping[str, Iterable[Serialized]], previous: "Snapshot | None" = None
    ) -> "Snapshot":
        """Pack and hash resources by type URL; those `previous` holds unchanged are reused."""
        return cls(
            {
                type_url: TypeSnapshot.of(
                    type_url,
                    (
                        _pack(
                            type_url,
                            item,
                            None if previous is None else previous.types.get(type_url),
                        )
                        for item in items
                    ),
                )
                for type_url, items in resources.items()
            }
        )

    @classmethod
    def of_group(cls, group: GroupResources, previous: "Snapshot | None" = None) -> "Snapshot":
        """The snapshot of one node group's Envoy resources."""
        return cls.build(
            {
                CLUSTER: group.clusters,
                ENDPOINT: group.endpoints,
                LISTENER: group.listeners,
                ROUTE: group.routes,
                RUNTIME: group.runtime,
                SECRET: group.secrets,
                EXTENSION_CONFIG: group.extension_configs,
            },
            previous,
        )

    @classmethod
    def empty(cls) -> "Snapshot":
        # Still serves the runtime layer: Envoy waits for it before asking for anything else.
        return cls.of_group(GroupResources.empty())


def _pack(type_url: str, item: Serialized, previous: TypeSnapshot | None) -> Resource:
    if previous is not None:
        known = previous.resources.get(item.name)
        if known is not None and known.payload is item.payload:
            return known
    packed = length_delimited(_ANY_TYPE_URL, type_url.encode()) + length_delimited(
        _ANY_VALUE, item.payload
    )
    return Resource(
        name=item.name,
        encoded=length_delimited(_RESPONSE_RESOURCES, packed),
        digest=hashlib.sha256(item.payload).hexdigest()[:16],
        payload=item.payload,
    )


def _by_name(resource: Resource) -> str:
    return resource.name


def _empty(type_url: str) -> TypeSnapshot:
    return TypeSnapshot.of(type_url, ())
