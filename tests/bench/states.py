"""Generated gateway states of a given size, in memory or in a database.

The shape is a game API's: one public listener whose routes spread over the services, mostly
prefix routes, some exact paths and RE2 regexes, some restricted by method or header, and one
in ten a 90/10 canary split over two services. All routes share the host `*` (one virtual
host): the size of the route table is the number of routes, not a multiple of it.
Everything is deterministic, so every run measures the same state.
"""

import shutil
from pathlib import Path
from typing import Any

from controlplane.model import GatewayState, ListenerSpec, RouteSpec, ServiceSpec
from controlplane.store import Database
from controlplane.store.repositories import listeners, routes, services

LISTENER = "public"
GROUP = "default"


def listener_spec() -> ListenerSpec:
    return ListenerSpec(name=LISTENER, address="127.0.0.1", port=10000, node_group=GROUP)


def service_name(index: int) -> str:
    return f"svc-{index:05d}"


def route_name(index: int) -> str:
    return f"route-{index:05d}"


def service_spec(index: int) -> ServiceSpec:
    # Documentation addresses (RFC 5737): nothing is ever sent to them, Envoy is not started.
    return ServiceSpec.model_validate(
        {
            "name": service_name(index),
            "protocol": ("http1", "http2", "grpc")[index % 3],
            "load_balancing": ("round_robin", "least_request")[index % 2],
            "endpoints": [
                {"host": f"192.0.2.{1 + index % 250}", "port": 8000 + index % 1000},
                {"host": f"198.51.100.{1 + index % 250}", "port": 8000 + index % 1000},
            ],
        }
    )


def route_spec(index: int, service_count: int, variant: int = 0) -> RouteSpec:
    """Route `index`; another `variant` changes its path only (what a benchmark write does)."""
    service = index % service_count
    base = f"/api/{service_name(service)}/r{index}" + (f"-v{variant}" if variant else "")
    match: dict[str, Any]
    if index % 50 == 7:
        match = {"path": {"type": "regex", "value": f"^{base}/[0-9]+$"}}
    elif index % 10 == 3:
        match = {"path": {"type": "exact", "value": base}}
    else:
        match = {"path": {"type": "prefix", "value": base}}
    if index % 3 == 1:
        match["methods"] = ["GET", "POST"]
    if index % 7 == 2:
        match["headers"] = [{"name": "x-client", "type": "exact", "value": "mobile"}]
    backends: list[dict[str, Any]] = [{"service": service_name(service)}]
    if index % 10 == 9 and service_count > 1:
        backends = [
            {"service": service_name(service), "weight": 90},
            {"service": service_name((service + 1) % service_count), "weight": 10},
        ]
    return RouteSpec.model_validate(
        {
            "name": route_name(index),
            "listener": LISTENER,
            "order": index,
            "match": match,
            "action": {"type": "forward", "backends": backends},
        }
    )


def gateway_state(route_count: int, service_count: int) -> GatewayState:
    return GatewayState(
        listeners=(listener_spec(),),
        services=tuple(service_spec(i) for i in range(service_count)),
        routes=tuple(route_spec(i, service_count) for i in range(route_count)),
    )


def write_database(path: Path, route_count: int, service_count: int) -> None:
    """A SQLite store holding the state, written through the store's own repositories."""
    database = Database(f"sqlite:///{path}")
    try:
        database.migrate()
        with database.session() as session:
            listener = listeners.add(session, listener_spec())
            rows = {
                row.name: row
                for row in (services.add(session, service_spec(i)) for i in range(service_count))
            }
            for index in range(route_count):
                spec = route_spec(index, service_count)
                targets = [rows[name] for name in sorted(spec.services())]
                routes.add(session, spec, listener, targets)
    finally:
        # Closing every connection checkpoints the WAL into the file, so copying it is enough.
        database.dispose()


def database_copy(cache: dict[str, object], workdir: Path, routes: int, services: int) -> Path:
    """A fresh SQLite file holding the state; the first call per size writes a template."""
    key = f"database-{routes}-{services}"
    template = cache.get(key)
    if not isinstance(template, Path):
        template = workdir / f"template-{routes}-routes.db"
        write_database(template, routes, services)
        cache[key] = template
    copies = sorted(workdir.glob(f"copy-*-{routes}-routes.db"))
    copy = workdir / f"copy-{len(copies):03d}-{routes}-routes.db"
    shutil.copyfile(template, copy)
    return copy
