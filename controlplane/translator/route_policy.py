"""What a route takes from the services it sends traffic to: timeouts, retries, and the hash
that sticky load balancing picks an endpoint with.

Envoy holds these on the route action, while admins declare them once per service (a route may
override timeouts and retries). A route to one service takes that service's defaults; a split
route waits as long as its most patient backend would, and takes retries and hashing from its
primary backend: the heaviest, the first listed on a tie.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from envoy.extensions.retry.host.previous_hosts.v3 import previous_hosts_pb2

from controlplane.model import (
    CookieHash,
    ForwardAction,
    HeaderHash,
    Retries,
    RouteSpec,
    ServiceSpec,
)
from controlplane.model.balancing import HashKey
from controlplane.translator.protos import duration_fields, packed

# Envoy picks a new endpoint this many times before settling for one tried already.
_HOST_SELECTION_ATTEMPTS = 5
_PREVIOUS_HOSTS = packed(previous_hosts_pb2.PreviousHostsPredicate())


@dataclass(frozen=True, slots=True)
class ServiceDefaults:
    """Everything a route takes from one service; a route is compiled again when it changes."""

    request_timeout: float
    idle_timeout: float | None
    retries: Retries | None
    hash_on: tuple[HashKey, ...]


def service_defaults(service: ServiceSpec) -> ServiceDefaults:
    return ServiceDefaults(
        request_timeout=service.timeouts.request_seconds,
        idle_timeout=service.timeouts.idle_seconds,
        retries=service.retries,
        hash_on=tuple(service.hash_on),
    )


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    timeout: float
    idle_timeout: float | None = None
    retries: Retries | None = None
    hash_on: tuple[HashKey, ...] = ()


def route_policy(route: RouteSpec, defaults: Mapping[str, ServiceDefaults]) -> RoutePolicy | None:
    """None for a route Envoy answers by itself (a redirect, a direct response)."""
    if not isinstance(route.action, ForwardAction):
        return None
    backends = route.action.backends
    primary = defaults[max(backends, key=lambda backend: backend.weight).service]
    timeout = route.timeout_seconds
    if timeout is None:
        timeout = max(defaults[backend.service].request_timeout for backend in backends)
    return RoutePolicy(
        timeout=timeout,
        idle_timeout=(
            route.idle_timeout_seconds
            if route.idle_timeout_seconds is not None
            else primary.idle_timeout
        ),
        retries=route.retries if route.retries is not None else primary.retries,
        hash_on=primary.hash_on,
    )


def policy_fields(policy: RoutePolicy) -> dict[str, Any]:
    """The policy as `RouteAction` constructor fields."""
    fields: dict[str, Any] = {"timeout": duration_fields(policy.timeout)}
    if policy.idle_timeout is not None:
        fields["idle_timeout"] = duration_fields(policy.idle_timeout)
    if policy.retries is not None:
        fields["retry_policy"] = _retry_fields(policy.retries)
    if policy.hash_on:
        fields["hash_policy"] = [_hash_fields(key) for key in policy.hash_on]
    return fields


def _retry_fields(retries: Retries) -> dict[str, Any]:
    backoff = {"base_interval": duration_fields(retries.backoff_base_seconds)}
    if retries.backoff_max_seconds is not None:
        backoff["max_interval"] = duration_fields(retries.backoff_max_seconds)
    fields: dict[str, Any] = {
        # Envoy reads HTTP and gRPC conditions from the same comma-separated list.
        "retry_on": ",".join(retries.on),
        "num_retries": {"value": retries.max_attempts - 1},
        "retry_back_off": backoff,
    }
    if retries.retriable_status_codes:
        fields["retriable_status_codes"] = retries.retriable_status_codes
    if retries.per_try_timeout_seconds is not None:
        fields["per_try_timeout"] = duration_fields(retries.per_try_timeout_seconds)
    if retries.avoid_previous_hosts:
        fields["retry_host_predicate"] = [
            {"name": "envoy.retry_host_predicates.previous_hosts", "typed_config": _PREVIOUS_HOSTS}
        ]
        fields["host_selection_retry_max_attempts"] = _HOST_SELECTION_ATTEMPTS
    return fields


def _hash_fields(key: HashKey) -> dict[str, Any]:
    if isinstance(key, HeaderHash):
        return {"header": {"header_name": key.name.lower()}}
    if isinstance(key, CookieHash):
        # With a TTL, Envoy sets the cookie on the answer to a request that came without it.
        return {
            "cookie": {"name": key.name, "ttl": duration_fields(key.ttl_seconds), "path": key.path}
        }
    return {"connection_properties": {"source_ip": True}}
