"""What the xDS side reads: the whole declared state, and the revision to poll for changes."""

from sqlalchemy.orm import Session

from controlplane.model import GatewayState
from controlplane.store.repositories import listeners, revision, routes, services


def load_gateway_state(session: Session) -> GatewayState:
    """Every spec in the store: one query per table, each ordered like the admin API lists it.

    Use a `Database.snapshot()` session, so the tables and the revision agree with each other.
    """
    return GatewayState(
        listeners=tuple(listeners.all_specs(session)),
        services=tuple(services.all_specs(session)),
        routes=tuple(routes.all_specs(session)),
        revision=revision.current(session),
    )


def current_revision(session: Session) -> int:
    """The number of committed writes so far; grows with every write, never goes back."""
    return revision.current(session)
