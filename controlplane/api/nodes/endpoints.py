"""Node endpoints: /api/v1/nodes."""

from typing import Annotated

from fastapi import APIRouter, Depends

from controlplane.api.context import Admin
from controlplane.api.pagination import Page, PageParams, page_params
from controlplane.api.paths import API_PREFIX
from controlplane.xds.nodes import NodeStatus

router = APIRouter(prefix=f"{API_PREFIX}/nodes", tags=["nodes"])


class NodePage(Page[NodeStatus]):
    """One page of nodes, by id."""


@router.get(
    "",
    summary="Connected nodes and what they ACKed or NACKed",
    description="Every node seen by this control-plane replica, by id; disconnected nodes stay "
    "listed for an hour, with the last versions sent, ACKed and NACKed per resource type and "
    "the error text of the last NACK. Paginated like every list.",
)
def list_nodes(admin: Admin, params: Annotated[PageParams, Depends(page_params)]) -> NodePage:
    nodes = admin.nodes.describe()
    page = nodes[params.offset : params.offset + params.limit]
    return NodePage.of(page, len(nodes), params)
