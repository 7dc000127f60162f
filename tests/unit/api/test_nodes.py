"""/api/v1/nodes: what every connected Envoy was sent, ACKed and NACKed."""

from fastapi.testclient import TestClient

from controlplane.xds.nodes import NodeRegistry

LISTENERS = "type.googleapis.com/envoy.config.listener.v3.Listener"


def test_no_nodes_yet(client: TestClient) -> None:
    assert client.get("/api/v1/nodes").json() == {"items": []}


def test_nodes_show_sent_acked_and_nacked_versions(client: TestClient, nodes: NodeRegistry) -> None:
    nodes.connected("envoy-1", "edge", "10.1.0.5:4411", "envoy/1.40")
    nodes.sent("envoy-1", LISTENERS, "v2")
    nodes.acked("envoy-1", LISTENERS, "v1")
    nodes.nacked("envoy-1", LISTENERS, "v2", "port 80: address already in use")

    response = client.get("/api/v1/nodes")

    assert response.status_code == 200
    [node] = response.json()["items"]
    assert (node["id"], node["group"], node["connected"]) == ("envoy-1", "edge", True)
    [status] = node["types"]
    assert status["type_url"] == LISTENERS
    assert (status["sent_version"], status["acked_version"], status["nacked_version"]) == (
        "v2",
        "v1",
        "v2",
    )
    assert status["nack_error"] == "port 80: address already in use"
