"""Moving a gradual rollout: only the share changes, and it reaches Envoy over RTDS. The route's
auth is unchanged, so it is not checked again."""

from controlplane.api.context import AdminContext
from controlplane.api.errors import Conflict
from controlplane.api.etag import check_if_match, etag_for
from controlplane.api.routes import service
from controlplane.api.routes.schemas import RolloutShare, RouteResource
from controlplane.api.routes.service import Routes
from controlplane.model import ForwardAction, RouteSpec


def set_rollout(
    resources: Routes, admin: AdminContext, name: str, share: RolloutShare, if_match: str | None
) -> RouteResource:
    with admin.write() as session:
        row = resources.existing(session, name)
        check_if_match(if_match, etag_for(row.id, row.version), required=False)
        spec = RouteSpec.model_validate(row.spec)
        action = spec.action
        if not isinstance(action, ForwardAction) or action.rollout is None:
            raise Conflict(
                f"route {name!r} has no rollout: declare `action.rollout` (service, percent) "
                "with PUT /api/v1/routes/{name} first"
            )
        if action.rollout.percent != share.percent:
            rollout = action.rollout.model_copy(update={"percent": share.percent})
            changed = spec.model_copy(
                update={"action": action.model_copy(update={"rollout": rollout})}
            )
            row = service.replace(session, row, changed)
        return resources.describe(session, row)
