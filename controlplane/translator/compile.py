"""The entry point: a whole gateway state in, Envoy resources per node group out."""

from dataclasses import dataclass
from typing import Any

from controlplane.model import GatewayState, RouteSpec
from controlplane.translator.clusters import build_cluster, build_load_assignment
from controlplane.translator.listeners import build_listener, route_config_name
from controlplane.translator.routes import build_route_configuration


@dataclass(frozen=True)
class GroupResources:
    """Everything one node group's Envoys need, each list sorted by resource name."""

    clusters: list[Any]
    endpoints: list[Any]
    listeners: list[Any]
    routes: list[Any]


def translate(state: GatewayState) -> dict[str, GroupResources]:
    services = {service.name: service for service in state.services}
    routes_by_listener: dict[str, list[RouteSpec]] = {}
    for route in state.routes:
        routes_by_listener.setdefault(route.listener, []).append(route)

    groups: dict[str, GroupResources] = {}
    for group in state.node_groups():
        listeners = sorted(
            (listener for listener in state.listeners if listener.node_group == group),
            key=lambda listener: listener.name,
        )
        group_routes = [
            r for listener in listeners for r in routes_by_listener.get(listener.name, [])
        ]
        # A group receives only the services its routes use.
        used = sorted({name for route in group_routes for name in route.services()})
        used_services = [services[name] for name in used]
        groups[group] = GroupResources(
            clusters=[build_cluster(service) for service in used_services],
            endpoints=[
                build_load_assignment(service)
                for service in used_services
                if service.discovery == "static"
            ],
            listeners=[build_listener(listener) for listener in listeners],
            routes=[
                build_route_configuration(
                    route_config_name(listener),
                    routes_by_listener.get(listener.name, []),
                    services,
                )
                for listener in listeners
            ],
        )
    return groups
