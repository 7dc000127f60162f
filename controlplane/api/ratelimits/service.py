"""Rate-limit policy rules: unique names, every route a policy names must exist, and a global
policy needs a rate-limit service to decide it."""

from sqlalchemy.orm import Session

from controlplane.api.crud.service import ResourceKind, ResourceService
from controlplane.api.errors import ErrorDetail, Invalid, InvalidReference
from controlplane.api.ratelimits.schemas import RateLimitPolicyPage, RateLimitPolicyResource
from controlplane.model import RateLimitPolicySpec
from controlplane.store.repositories import ratelimits, routes
from controlplane.store.tables import RateLimitPolicy, Route

KIND = ResourceKind(
    "rate-limit policy",
    "rate-limit-policies",
    RateLimitPolicySpec,
    RateLimitPolicyResource,
    RateLimitPolicyPage,
)


def resources(
    *, service_configured: bool
) -> ResourceService[
    RateLimitPolicySpec, RateLimitPolicy, RateLimitPolicyResource, RateLimitPolicyPage
]:
    """The policies' service; `service_configured`: whether a rate-limit service is set up."""

    def add(session: Session, spec: RateLimitPolicySpec) -> RateLimitPolicy:
        _check_enforceable(spec, service_configured)
        return ratelimits.add(session, spec, _named_routes(session, spec))

    def replace(
        session: Session, row: RateLimitPolicy, spec: RateLimitPolicySpec
    ) -> RateLimitPolicy:
        _check_enforceable(spec, service_configured)
        return ratelimits.replace(session, row, spec, _named_routes(session, spec))

    # Deleting a policy is always allowed: nothing refers to policies.
    return ResourceService(KIND, ratelimits, add=add, replace=replace)


def _check_enforceable(spec: RateLimitPolicySpec, service_configured: bool) -> None:
    if spec.enforcement == "global" and not service_configured:
        raise Invalid(
            f"rate-limit policy {spec.name!r} is global, but no rate-limit service is "
            "configured (CHAOSGW_RATELIMIT_ENDPOINTS is empty); configure one, or use "
            "enforcement 'local' for a per-Envoy token bucket",
            details=[
                ErrorDetail(
                    field="enforcement",
                    location="body",
                    message="no rate-limit service is configured",
                    type="no_ratelimit_service",
                )
            ],
        )


def _named_routes(session: Session, spec: RateLimitPolicySpec) -> list[Route]:
    """The routes the policy names; 422 listing every one that is missing."""
    names = spec.routes()
    found = routes.get_many(session, names)
    missing = [
        ErrorDetail(
            field=f"applies_to.routes[{index}]",
            location="body",
            message=f"no route named {name!r}",
            type="unknown_route",
        )
        for index, name in enumerate(names)
        if name not in found
    ]
    if missing:
        raise InvalidReference(
            f"rate-limit policy {spec.name!r} refers to what does not exist: "
            + "; ".join(detail.message for detail in missing),
            details=missing,
        )
    return [found[name] for name in sorted(found)]
