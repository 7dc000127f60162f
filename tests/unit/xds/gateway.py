"""A declared gateway state that tests edit and publish into a SnapshotCache.

Publishing does what the SnapshotPublisher does (translate, build a snapshot per group, set
it), without the store. Every group has a `marker` route whose timeout `touch()` changes: a
routes-only change that tests use as a barrier ("everything pushed before this has arrived").
"""

from collections.abc import Iterable

from controlplane.model import (
    Backend,
    Endpoint,
    ForwardAction,
    GatewayState,
    ListenerSpec,
    PathMatch,
    RouteMatch,
    RouteSpec,
    ServiceSpec,
    Timeouts,
)
from controlplane.translator import translate
from controlplane.xds.cache import SnapshotCache
from controlplane.xds.snapshot import PUSH_ORDER, Snapshot

Spec = ListenerSpec | ServiceSpec | RouteSpec


def service(name: str, *ips: str, connect_seconds: float = 1.0, port: int = 8080) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        endpoints=[Endpoint(host=ip, port=port) for ip in ips],
        timeouts=Timeouts(connect_seconds=connect_seconds),
    )


def route(
    name: str,
    *services: str,
    listener: str = "public",
    prefix: str | None = None,
    timeout: float | None = None,
) -> RouteSpec:
    return RouteSpec(
        name=name,
        listener=listener,
        match=RouteMatch(path=PathMatch(type="prefix", value=prefix or f"/{name}")),
        action=ForwardAction(backends=[Backend(service=s) for s in services]),
        timeout_seconds=timeout,
    )


def listener(name: str, port: int, group: str) -> ListenerSpec:
    return ListenerSpec(name=name, port=port, node_group=group)


def marker(listener_name: str, service_name: str) -> RouteSpec:
    return route(f"marker-{listener_name}", service_name, listener=listener_name, timeout=1.0)


class Gateway:
    def __init__(self, cache: SnapshotCache, specs: Iterable[Spec] = ()) -> None:
        self.cache = cache
        self._specs: dict[tuple[str, str], Spec] = {}
        self.put(*specs)

    def put(self, *specs: Spec) -> None:
        for spec in specs:
            self._specs[type(spec).__name__, spec.name] = spec

    def delete(self, kind: type[Spec], name: str) -> None:
        del self._specs[kind.__name__, name]

    def state(self) -> GatewayState:
        specs = list(self._specs.values())
        return GatewayState(
            listeners=tuple(s for s in specs if isinstance(s, ListenerSpec)),
            services=tuple(s for s in specs if isinstance(s, ServiceSpec)),
            routes=tuple(s for s in specs if isinstance(s, RouteSpec)),
        )

    def publish(self) -> dict[str, bool]:
        """Build and set every group's snapshot; tell for each whether it changed."""
        return {
            group: self.cache.set(group, Snapshot.of_group(resources))
            for group, resources in translate(self.state()).items()
        }

    def versions(self, group: str) -> dict[str, str]:
        snapshot = self.cache.get(group)
        return {type_url: snapshot.of_type(type_url).version for type_url in PUSH_ORDER}

    def version(self, group: str, type_url: str) -> str:
        return self.cache.get(group).of_type(type_url).version

    def touch(self, listener_name: str) -> None:
        """Change the listener's marker route (routes only) and publish."""
        key = (RouteSpec.__name__, f"marker-{listener_name}")
        current = self._specs[key]
        assert isinstance(current, RouteSpec)
        assert current.timeout_seconds is not None
        self.put(current.model_copy(update={"timeout_seconds": current.timeout_seconds + 1}))
        self.publish()
