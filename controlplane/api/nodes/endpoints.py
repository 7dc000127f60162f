"""Node endpoints: /api/v1/nodes."""

from fastapi import APIRouter
from pydantic import BaseModel

from controlplane.api.context import Admin
from controlplane.api.paths import API_PREFIX
from controlplane.xds.nodes import NodeStatus

router = APIRouter(prefix=f"{API_PREFIX}/nodes", tags=["nodes"])


class NodeList(BaseModel):
    items: list[NodeStatus]


@router.get(
    "",
    summary="Connected nodes and what they ACKed or NACKed",
    description="Every node seen by this control-plane replica, by id; disconnected nodes stay "
    "listed for an hour, with the last versions sent, ACKed and NACKed per resource type and "
    "the error text of the last NACK.",
)
def list_nodes(admin: Admin) -> NodeList:
    return NodeList(items=admin.nodes.describe())
